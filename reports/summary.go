package reports

import (
	"fmt"
	"slices"
	"strings"
	"time"

	"github.com/zconform/zconform/fixtures/zoho"
)

// noCaseRun marks a seed ID that no case of the run covered.
const noCaseRun = "no case run"

// summary is what both certification summaries show.
type summary struct {
	Title string
	// PageTitle is the HTML page's <title>.
	PageTitle string
	Results   Results
	// Certificate is the run's certificate, if it is one: then the cases
	// are scenarios, and Words say so.
	Certificate *Certificate
	Words       wording
	Date        string
	Verdict     string
	Pass        bool
	// BreaksText lists the rules the fake broke ("" when none).
	BreaksText string
	// JudgedBy is the build that wrote the summary without its catalogue
	// ("v0.3.0, commit abc123def456, go1.26.8"), or a certificate's own
	// Zconform; Catalogue is the build's catalogue digest.
	JudgedBy  string
	Catalogue string
	// Sections follow the Kaizen #4 post, then "Other seed IDs" and
	// "Cases without a seed ID" when needed.
	Sections      []summarySection
	SeedsTotal    int
	SeedsRun      int
	SeedsPassed   int
	SeedsFailed   int
	SeedsDeviated int
	Failures      []summaryCase
	Skipped       []summaryCase
	RunFailures   []RunFailure
	// Deviations is the run's deviations file, if any; Deviated are the
	// cases that deviated as it says, Stopped the passed cases it lists,
	// Mismatched the failed cases it lists that failed otherwise.
	Deviations     *Deviations
	DeviationsText string
	Deviated       []summaryCase
	Stopped        []summaryCase
	Mismatched     []summaryCase
}

// wording is what the summaries call things: a conformance run has cases
// that pass, fail or are skipped; a certificate has scenarios that pass,
// fail or do not apply.
type wording struct {
	Case, Cases string // "case", "cases"; "scenario", "scenarios"
	// CaseColumn heads the coverage table's case column.
	CaseColumn string
	// marks are the outcome marks by outcome (and noCaseRun).
	marks map[string]string
	// NoSeedGroup heads the coverage group of the cases without a seed ID.
	NoSeedGroup     string
	FailuresHeading string
	NoFailures      string
	SkippedHeading  string
	NoSkipped       string
	// SeedRun says a seed ID had a case run ("with a case run").
	SeedRun string
}

var (
	conformanceWords = wording{
		Case: "case", Cases: "cases", CaseColumn: "Case",
		marks: map[string]string{
			string(Passed): "✅ passed", string(Failed): "❌ failed", string(Skipped): "⏭️ skipped",
			string(Deviated): "🔶 deviated", noCaseRun: "— " + noCaseRun,
		},
		NoSeedGroup:     "Cases without a seed ID",
		FailuresHeading: "Failures", NoFailures: "No case failed.",
		SkippedHeading: "Skipped", NoSkipped: "No case was skipped.",
		SeedRun: "with a case run",
	}
	certificateWords = wording{
		Case: "scenario", Cases: "scenarios", CaseColumn: "Scenario",
		marks: map[string]string{
			string(Passed): "✅ pass", string(Failed): "❌ fail", string(Skipped): "⏭️ not applicable",
			string(Deviated): "🔶 deviated", noCaseRun: "— no scenario",
		},
		NoSeedGroup:     "Faults on the wire and other rules (no seed ID)",
		FailuresHeading: "Failed scenarios", NoFailures: "No scenario failed.",
		SkippedHeading: "Not applicable", NoSkipped: "Every scenario applied.",
		SeedRun: "exercised by a scenario",
	}
)

// Mark is an outcome (or noCaseRun) with a symbol that survives printing
// in black and white, in the summary's words.
func (s summary) Mark(outcome string) string {
	if m, ok := s.Words.marks[outcome]; ok {
		return m
	}
	return outcome
}

// CountsText counts the cases by outcome: "5: 2 passed, 1 failed, 2
// skipped", or for a certificate "3 scenarios: 1 pass, 1 fail, 1 not
// applicable". The deviated only when there are.
func (s summary) CountsText() string {
	t := s.Results.Totals
	if s.Certificate == nil {
		return casesText(t)
	}
	text := fmt.Sprintf("%d %s: %d pass, %d fail, %d not applicable", t.Cases, plural(t.Cases, "scenario", "scenarios"), t.Passed, t.Failed, t.Skipped)
	if t.Deviated > 0 {
		text += fmt.Sprintf(", %d deviated as expected", t.Deviated)
	}
	return text
}

// AssumedText counts the cases that rest on an assumption.
func (s summary) AssumedText() string {
	t := s.Results.Totals
	return fmt.Sprintf("%d of %d %s (basis ⚠️ assumed)", t.Assumed, t.Cases, plural(t.Cases, s.Words.Case, s.Words.Cases))
}

// ShowDeviations says whether the summary has a deviations section.
func (s summary) ShowDeviations() bool {
	return s.Deviations != nil || len(s.Deviated) > 0 || len(s.Stopped) > 0 || len(s.Mismatched) > 0
}

type summarySection struct {
	Name  string
	Seeds []summarySeed
}

type summarySeed struct {
	ID   string
	Rule string
	// Status is failed (a case failed), deviated (none failed, one
	// deviated as expected), passed (every other case that ran passed, one
	// at least), skipped (every case skipped) or noCaseRun.
	Status string
	Cases  []summaryCase
}

type summaryCase struct {
	CaseResult
	// Anchor is the id of the case's entry under Failures, if it failed,
	// or under the deviations, if it deviated or stopped deviating.
	Anchor string
	mark   string
}

// Mark is the case's outcome for the coverage table.
func (c summaryCase) Mark() string { return c.mark }

func newSummary(r Results) summary {
	s := summary{
		Results:     r,
		Certificate: r.Run.Certificate,
		Words:       conformanceWords,
		Verdict:     r.Verdict(),
		Pass:        r.Pass(),
		Date:        dateText(r.Run.Started),
		BreaksText:  strings.Join(r.Run.Breaks, ", "),
		JudgedBy:    buildText(r.Run.Build),
		Catalogue:   r.Run.Build.Catalogue,
	}
	word := "FAIL"
	if s.Pass {
		word = "PASS"
	}
	if c := s.Certificate; c != nil {
		if c.Zconform != "" {
			s.JudgedBy = c.Zconform
		}
		s.Words = certificateWords
		s.Title = "zconform integration certificate"
		s.PageTitle = s.Title + ": " + strings.TrimSpace(orDash(c.Integration)+" "+c.Version) + ": " + word
	} else {
		s.Title = "zconform certification summary"
		if r.Run.Target != "" {
			s.Title += ": " + r.Run.Target
		}
		s.PageTitle = "zconform " + orDash(r.Run.Target) + ": " + word
	}

	s.Deviations = r.Run.Deviations
	if s.Deviations != nil {
		s.DeviationsText = deviationsText(s.Deviations)
	}
	cases := make([]summaryCase, len(r.Cases))
	for i, c := range r.Cases {
		cases[i] = summaryCase{CaseResult: c, mark: s.Mark(string(c.Outcome))}
		if c.NoLongerDeviates {
			cases[i].mark += " (stopped deviating)"
		}
		switch c.Outcome {
		case Failed:
			cases[i].Anchor = fmt.Sprintf("failure-%d", len(s.Failures)+1)
			s.Failures = append(s.Failures, cases[i])
			if c.Deviation != nil {
				s.Mismatched = append(s.Mismatched, cases[i])
			}
		case Skipped:
			s.Skipped = append(s.Skipped, cases[i])
		case Deviated:
			cases[i].Anchor = fmt.Sprintf("deviation-%d", len(s.Deviated)+1)
			s.Deviated = append(s.Deviated, cases[i])
		case Passed:
			if c.NoLongerDeviates {
				cases[i].Anchor = fmt.Sprintf("stopped-%d", len(s.Stopped)+1)
				s.Stopped = append(s.Stopped, cases[i])
			}
		}
	}
	s.RunFailures = r.RunFailures

	bySeed := map[string][]summaryCase{}
	var noSeed []summaryCase
	for _, c := range cases {
		if len(c.Seeds) == 0 {
			noSeed = append(noSeed, c)
		}
		for _, id := range c.Seeds {
			bySeed[id] = append(bySeed[id], c)
		}
	}
	known := map[string]bool{}
	index := map[zoho.Section]int{}
	for _, seed := range zoho.Seeds() {
		id := string(seed.ID)
		known[id] = true
		i, ok := index[seed.Section]
		if !ok {
			i = len(s.Sections)
			index[seed.Section] = i
			s.Sections = append(s.Sections, summarySection{Name: string(seed.Section)})
		}
		ss := newSummarySeed(id, seed.Rule, bySeed[id])
		s.Sections[i].Seeds = append(s.Sections[i].Seeds, ss)
		s.SeedsTotal++
		switch ss.Status {
		case string(Passed):
			s.SeedsPassed++
		case string(Failed):
			s.SeedsFailed++
		case string(Deviated):
			s.SeedsDeviated++
		}
		if ss.Status != noCaseRun {
			s.SeedsRun++
		}
	}
	var other []string
	for id := range bySeed {
		if !known[id] {
			other = append(other, id)
		}
	}
	if len(other) > 0 {
		slices.Sort(other)
		sec := summarySection{Name: "Other seed IDs (not in the Kaizen #4 post)"}
		for _, id := range other {
			sec.Seeds = append(sec.Seeds, newSummarySeed(id, "", bySeed[id]))
		}
		s.Sections = append(s.Sections, sec)
	}
	if len(noSeed) > 0 {
		s.Sections = append(s.Sections, summarySection{
			Name:  s.Words.NoSeedGroup,
			Seeds: []summarySeed{newSummarySeed("", "", noSeed)},
		})
	}
	return s
}

func newSummarySeed(id, rule string, cases []summaryCase) summarySeed {
	ss := summarySeed{ID: id, Rule: rule, Cases: cases, Status: noCaseRun}
	if len(cases) == 0 {
		return ss
	}
	ss.Status = string(Skipped)
	for _, c := range cases {
		switch {
		case c.Outcome == Failed:
			ss.Status = string(Failed)
		case c.Outcome == Deviated && ss.Status != string(Failed):
			ss.Status = string(Deviated)
		case c.Outcome == Passed && ss.Status == string(Skipped):
			ss.Status = string(Passed)
		}
	}
	return ss
}

func dateText(t time.Time) string {
	if t.IsZero() {
		return "unknown"
	}
	return t.UTC().Format("2006-01-02 15:04:05 UTC")
}

// basisMark shows a case's basis; an assumed one stands out.
func basisMark(basis string) string {
	if basis == "assumed" {
		return "⚠️ assumed"
	}
	return basis
}

// --- Markdown ---------------------------------------------------------

// mdEscaper escapes the characters that Markdown (CommonMark, GFM tables)
// would read as syntax or HTML in inline text.
var mdEscaper = strings.NewReplacer(
	`\`, `\\`, "`", "\\`", `*`, `\*`, `_`, `\_`, `[`, `\[`, `]`, `\]`,
	`<`, `\<`, `>`, `\>`, `|`, `\|`, "\r\n", " ", "\n", " ", "\r", " ",
)

func md(s string) string { return mdEscaper.Replace(s) }

// mdFence returns a code fence longer than any run of backticks in s.
func mdFence(s string) string {
	longest, run := 0, 0
	for _, r := range s {
		if r == '`' {
			run++
			longest = max(longest, run)
		} else {
			run = 0
		}
	}
	return strings.Repeat("`", max(3, longest+1))
}

func summaryMarkdown(r Results) []byte {
	s := newSummary(r)
	var b strings.Builder
	p := func(format string, args ...any) { fmt.Fprintf(&b, format, args...) }
	p("# %s\n\n", md(s.Title))
	p("| | |\n|---|---|\n")
	p("| Verdict | **%s** |\n", md(s.Verdict))
	if c := s.Certificate; c != nil {
		p("| Integration | %s |\n", md(orDash(c.Integration)))
		p("| Version | %s |\n", md(orDash(c.Version)))
		p("| Adapter | %s |\n", md(orDash(c.Adapter)))
		if c.ScenarioSet != "" {
			p("| Scenario set | %s |\n", md(c.ScenarioSet))
		}
		if c.Fake != "" {
			p("| Fake | %s |\n", md(c.Fake))
		}
	} else {
		p("| Target | %s |\n", md(orDash(r.Run.Target)))
	}
	p("| Expected profile | %s |\n", md(orDash(r.Run.Profile)))
	p("| Date | %s |\n", md(s.Date))
	if r.Run.LabelFilter != "" {
		p("| Label filter | `%s` |\n", strings.ReplaceAll(r.Run.LabelFilter, "`", "'"))
	}
	if s.BreaksText != "" {
		p("| Fake breaks | %s |\n", md(s.BreaksText))
	}
	if r.Run.OffContract != "" {
		p("| Off contract | %s |\n", md(r.Run.OffContract))
	}
	if s.Deviations != nil {
		p("| Deviations file | %s |\n", md(s.DeviationsText))
	}
	if s.Certificate != nil {
		p("| Scenarios | %s |\n", md(s.CountsText()))
		p("| Evidence | %s |\n", md(EvidenceWhere))
	} else {
		p("| Cases | %s |\n", md(s.CountsText()))
	}
	p("| Resting on an assumption | %s |\n", s.AssumedText())
	p("| Seed IDs | %s |\n", md(s.SeedsText()))
	if len(r.RunFailures) > 0 {
		p("| Run failures | %d (see below) |\n", len(r.RunFailures))
	}
	p("| Duration | %s |\n", r.Duration)
	if s.JudgedBy != "" {
		p("| %s | %s |\n", s.JudgedByLabel(), md(s.JudgedBy))
	}
	if s.Catalogue != "" {
		p("| Catalogue | %s |\n", md(s.Catalogue))
	}
	for _, n := range r.Notes {
		p("| Note | %s |\n", md(n))
	}

	p("\n## Coverage by seed ID: the Kaizen #4 post (K4-) and Zoho's published protocol (ZA-)\n")
	for _, sec := range s.Sections {
		p("\n### %s\n\n", md(sec.Name))
		p("| Seed ID | Rule | %s | Outcome | Basis |\n|---|---|---|---|---|\n", s.Words.CaseColumn)
		for _, seed := range sec.Seeds {
			id := md(orDash(seed.ID))
			if seed.ID != "" {
				id = "**" + id + "**"
			}
			if len(seed.Cases) == 0 {
				p("| %s | %s | | %s | |\n", id, md(seed.Rule), s.Mark(noCaseRun))
				continue
			}
			for i, c := range seed.Cases {
				first, rule := id, md(seed.Rule)
				if i > 0 {
					first, rule = "", ""
				}
				name := md(c.Name())
				outcome := c.Mark()
				if c.Anchor != "" {
					outcome = "[" + outcome + "](#" + c.Anchor + ")"
				}
				p("| %s | %s | %s | %s | %s |\n", first, rule, name, outcome, md(basisMark(c.Basis)))
			}
		}
	}

	if len(r.RunFailures) > 0 {
		p("\n## Run failures (%d)\n\nThese failed outside any case and fail the run.\n", len(r.RunFailures))
		for _, f := range r.RunFailures {
			p("\n### %s\n\n", md(f.Name()))
			if f.Location != "" {
				p("At `%s`.\n\n", strings.ReplaceAll(f.Location, "`", "'"))
			}
			fence := mdFence(f.Message)
			p("%s\n%s\n%s\n", fence, f.Message, fence)
		}
	}

	if s.ShowDeviations() {
		summaryMarkdownDeviations(p, s)
	}

	p("\n## %s (%d)\n", s.Words.FailuresHeading, len(s.Failures))
	if len(s.Failures) == 0 {
		p("\n%s\n", s.Words.NoFailures)
	}
	for _, c := range s.Failures {
		p("\n<a id=\"%s\"></a>\n\n### %s\n\n", c.Anchor, md(c.Name()))
		p("%s\n\n", md(caseLine(c.CaseResult)))
		fence := mdFence(c.Message)
		p("%s\n%s\n%s\n", fence, c.Message, fence)
	}

	p("\n## %s (%d)\n", s.Words.SkippedHeading, len(s.Skipped))
	if len(s.Skipped) == 0 {
		p("\n%s\n", s.Words.NoSkipped)
	} else {
		p("\n| %s | Reason |\n|---|---|\n", s.Words.CaseColumn)
		for _, c := range s.Skipped {
			p("| %s | %s |\n", md(c.Name()), md(orDash(c.Reason)))
		}
	}
	return []byte(b.String())
}

func summaryMarkdownDeviations(p func(string, ...any), s summary) {
	p("\n## Expected deviations (%d)\n\n", len(s.Deviated))
	if s.Deviations != nil {
		p("Deviations file: %s. ", md(s.DeviationsText))
	}
	p("These cases differ from the documented contract the way the deviations file says: they do not fail the run.\n")
	if len(s.Deviated) == 0 {
		p("\nNo case deviated.\n")
	}
	for _, c := range s.Deviated {
		p("\n<a id=\"%s\"></a>\n\n### %s\n\n", c.Anchor, md(c.Name()))
		p("%s\n\n", md(caseLine(c.CaseResult)))
		p("- Reason: %s\n", md(c.Deviation.Reason))
		p("- Link: %s\n", mdLink(c.Deviation.Link))
		p("- Listed at: `%s`\n", strings.ReplaceAll(c.Deviation.Where(), "`", "'"))
		fence := mdFence(c.Message)
		p("\n%s\n%s\n%s\n", fence, c.Message, fence)
	}
	if len(s.Stopped) > 0 {
		p("\n## Stopped deviating (%d)\n\nThese cases passed, but the deviations file lists them as deviating: remove them from the deviations file.\n\n", len(s.Stopped))
		p("| Case | Reason it was listed | Link | Listed at |\n|---|---|---|---|\n")
		for _, c := range s.Stopped {
			p("| <a id=\"%s\"></a>%s | %s | %s | `%s` |\n", c.Anchor, md(c.Name()), md(c.Deviation.Reason), mdLink(c.Deviation.Link),
				strings.ReplaceAll(c.Deviation.Where(), "`", "'"))
		}
	}
	if len(s.Mismatched) > 0 {
		p("\n## Deviating differently (%d)\n\nThe deviations file lists these cases, but they failed in another way than it says: they are failures (see below).\n\n", len(s.Mismatched))
		p("| Case | How | Listed at |\n|---|---|---|\n")
		for _, c := range s.Mismatched {
			p("| [%s](#%s) | %s | `%s` |\n", md(c.Name()), c.Anchor, md(c.DeviationMismatch), strings.ReplaceAll(c.Deviation.Where(), "`", "'"))
		}
	}
}

// mdLink is a link to url, with the characters that would end a Markdown
// link destination escaped.
func mdLink(u string) string {
	if u == "" {
		return "—"
	}
	dest := strings.NewReplacer(" ", "%20", "(", "%28", ")", "%29", "<", "%3C", ">", "%3E", "[", "%5B", "]", "%5D", "`", "%60", "|", "%7C").Replace(u)
	return "[" + md(u) + "](" + dest + ")"
}

// casesText counts the cases by outcome; the deviated only when there
// are.
func casesText(t Totals) string {
	if t.Deviated == 0 {
		return fmt.Sprintf("%d: %d passed, %d failed, %d skipped", t.Cases, t.Passed, t.Failed, t.Skipped)
	}
	return fmt.Sprintf("%d: %d passed, %d deviated as expected, %d failed, %d skipped", t.Cases, t.Passed, t.Deviated, t.Failed, t.Skipped)
}

func (s summary) SeedsText() string {
	text := fmt.Sprintf("%d of %d %s; %d all passed, %d with a failure", s.SeedsRun, s.SeedsTotal, s.Words.SeedRun, s.SeedsPassed, s.SeedsFailed)
	if s.SeedsDeviated > 0 {
		text += fmt.Sprintf(", %d with an expected deviation", s.SeedsDeviated)
	}
	return text
}

// caseLine is a case's metadata in one line.
func caseLine(c CaseResult) string {
	parts := []string{"area " + orDash(c.Area)}
	if len(c.Seeds) > 0 {
		parts = append(parts, "seeds "+strings.Join(c.Seeds, ", "))
	}
	parts = append(parts, "basis "+orDash(c.Basis))
	if c.DC != "" {
		parts = append(parts, "DC "+c.DC)
	}
	if c.State != "" {
		parts = append(parts, "state "+c.State)
	}
	if c.Observed != nil {
		parts = append(parts, "observed: "+observedText(*c.Observed))
	}
	if c.Catalogue != "" {
		parts = append(parts, "catalogue "+c.Catalogue)
	}
	if c.MetaSource != "" {
		parts = append(parts, "metadata from "+c.MetaSource)
	}
	return strings.Join(parts, " · ")
}

// EvidenceWhere says where a certificate keeps each scenario's evidence.
const EvidenceWhere = "each scenario's requests, answers and the integration's reports, whatever its verdict: " +
	"evidence in results.json, each testcase's system-out in junit.xml"

// JudgedByLabel heads the row of the build: "Judged by" on a
// certificate, "zconform build" otherwise.
func (s summary) JudgedByLabel() string {
	if s.Certificate != nil {
		return "Judged by"
	}
	return "zconform build"
}

// buildText is a build without its catalogue: "v0.3.0, commit
// abc123def456, go1.26.8"; "" for a zero Build.
func buildText(b Build) string {
	if b.Version == "" && b.Commit == "" && b.Go == "" {
		return ""
	}
	return orDash(b.Version) + ", commit " + orDash(b.Commit) + ", " + orDash(b.Go)
}

func orDash(s string) string {
	if s == "" {
		return "—"
	}
	return s
}

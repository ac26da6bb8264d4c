package reports

import (
	"fmt"
	"slices"
	"strconv"
	"strings"
	"time"
)

// Differences is what changed from one run (Old) to another (New), case
// by case: the document `zconform diff OLD NEW` prints, made for nightly
// runs against the same target.
//
// Cases are matched by ID; an ID that occurs more than once in a run (one
// case run at several DCs) is matched by ID and DC. Each changed case
// lands in exactly one group:
//
//   - NewlyFailing: passed, deviated or skipped → failed;
//   - NewlyPassing: failed → passed;
//   - ObservationChanged: the same outcome, but the error code or HTTP
//     status the target last answered differs (the step alone does not
//     count);
//   - OutcomeChanged: every other outcome change, each involving skipped
//     or deviated (failed → deviated, passed → skipped, deviated → passed,
//     ...);
//   - Appeared: only in New; Disappeared: only in Old.
//
// A regression (Regressed, exit status 1 of `zconform diff`) is
//
//   - a newly failing case;
//   - a case that failed in both runs with a different error code or
//     HTTP status: it fails differently;
//   - a case that disappeared: New no longer checks it;
//   - a run failure of New (BeforeSuite, interrupted, ...) that Old did
//     not have, by name.
//
// Nothing else is: newly passing cases, appeared cases, observation
// changes of cases that did not fail in both runs, outcome changes among
// passed, deviated and skipped, and failed → deviated or skipped. Runs set
// up differently (target, expected profile, label filter, deviations
// file, the fake's breaks, the catalogue) are listed in Setup but are no
// regression in themselves.
type Differences struct {
	Old RunSummary `json:"old"`
	New RunSummary `json:"new"`
	// Setup lists how the runs were set up differently.
	Setup              []SetupChange `json:"setup,omitempty"`
	NewlyFailing       []CaseChange  `json:"newly_failing,omitempty"`
	NewlyPassing       []CaseChange  `json:"newly_passing,omitempty"`
	ObservationChanged []CaseChange  `json:"observation_changed,omitempty"`
	OutcomeChanged     []CaseChange  `json:"outcome_changed,omitempty"`
	Appeared           []CaseChange  `json:"appeared,omitempty"`
	Disappeared        []CaseChange  `json:"disappeared,omitempty"`
	// NewRunFailures are New's run failures that Old did not have (by
	// name); GoneRunFailures Old's that New does not have.
	NewRunFailures  []RunFailure `json:"new_run_failures,omitempty"`
	GoneRunFailures []RunFailure `json:"gone_run_failures,omitempty"`
	// Unchanged counts the cases in both runs with nothing to report.
	Unchanged int `json:"unchanged"`
	// Regressed is true when something regressed (see above).
	Regressed bool `json:"regressed"`
	// Verdict says the same in one line.
	Verdict string `json:"verdict"`

	// dup holds the IDs that occur more than once in a run.
	dup map[string]bool
}

// RunSummary describes one of the two runs.
type RunSummary struct {
	// Path is the results.json read, when the caller sets it.
	Path        string    `json:"path,omitempty"`
	Target      string    `json:"target"`
	Profile     string    `json:"profile"`
	LabelFilter string    `json:"label_filter,omitempty"`
	Started     time.Time `json:"started"`
	// Deviations is the deviations file the run applied, if any.
	Deviations string `json:"deviations,omitempty"`
	Verdict    string `json:"verdict"`
	Totals     Totals `json:"totals"`
}

// SetupChange is a way the two runs were set up differently.
type SetupChange struct {
	// What is "target", "profile", "label filter", "deviations", "fake
	// breaks" or "catalogue" (the digest of the cases and contract the
	// build judged by, when both runs recorded one).
	What string `json:"what"`
	Old  string `json:"old"`
	New  string `json:"new"`
}

// CaseChange is a case that changed between the runs.
type CaseChange struct {
	ID    string `json:"id"`
	DC    string `json:"dc,omitempty"`
	Title string `json:"title,omitempty"`
	// Old and New are the case in each run; nil when it is not in it.
	Old *CaseState `json:"old,omitempty"`
	New *CaseState `json:"new,omitempty"`
	// Change says what changed, e.g. "passed → failed" or "error
	// invalid_client → invalid_client_secret".
	Change string `json:"change"`
	// Regression is true when the change is a regression.
	Regression bool `json:"regression"`
}

// CaseState is a case in one run.
type CaseState struct {
	Outcome  Outcome   `json:"outcome"`
	Reason   string    `json:"reason,omitempty"`
	Observed *Observed `json:"observed,omitempty"`
}

// Diff compares two runs case by case, see Differences.
func Diff(old, new Results) Differences {
	d := Differences{Old: runSummary(old), New: runSummary(new)}
	for _, s := range []SetupChange{
		{"target", old.Run.Target, new.Run.Target},
		{"profile", old.Run.Profile, new.Run.Profile},
		{"label filter", old.Run.LabelFilter, new.Run.LabelFilter},
		{"deviations", d.Old.Deviations, d.New.Deviations},
		{"fake breaks", strings.Join(old.Run.Breaks, ", "), strings.Join(new.Run.Breaks, ", ")},
	} {
		if s.Old != s.New {
			d.Setup = append(d.Setup, s)
		}
	}
	// A run recorded before builds were is not a change of catalogue.
	if o, n := old.Run.Build.Catalogue, new.Run.Build.Catalogue; o != "" && n != "" && o != n {
		d.Setup = append(d.Setup, SetupChange{"catalogue", o, n})
	}

	// Pair the cases: by ID, or by ID and DC for an ID that is not unique.
	oldByID, newByID := casesByID(old.Cases), casesByID(new.Cases)
	d.dup = map[string]bool{}
	for _, m := range []map[string][]*CaseResult{oldByID, newByID} {
		for id, cs := range m {
			if len(cs) > 1 {
				d.dup[id] = true
			}
		}
	}
	paired := map[*CaseResult]bool{}
	for i := range new.Cases {
		n := &new.Cases[i]
		var o *CaseResult
		olds, news := oldByID[n.ID], newByID[n.ID]
		if len(olds) == 1 && len(news) == 1 {
			o = olds[0]
		} else {
			for _, c := range olds {
				if c.DC == n.DC && !paired[c] {
					o = c
					break
				}
			}
		}
		if o == nil {
			d.Appeared = append(d.Appeared, CaseChange{ID: n.ID, DC: n.DC, Title: n.Title, New: caseState(*n),
				Change: "new: " + outcomeText(*n)})
			continue
		}
		paired[o] = true
		d.compare(*o, *n)
	}
	for i := range old.Cases {
		o := &old.Cases[i]
		if !paired[o] {
			d.Disappeared = append(d.Disappeared, CaseChange{ID: o.ID, DC: o.DC, Title: o.Title, Old: caseState(*o),
				Change: "gone (was " + outcomeText(*o) + ")", Regression: true})
		}
	}

	oldNames, newNames := runFailureNames(old.RunFailures), runFailureNames(new.RunFailures)
	for _, f := range new.RunFailures {
		if !oldNames[f.Name()] {
			d.NewRunFailures = append(d.NewRunFailures, f)
		}
	}
	for _, f := range old.RunFailures {
		if !newNames[f.Name()] {
			d.GoneRunFailures = append(d.GoneRunFailures, f)
		}
	}
	d.Regressed = len(d.NewRunFailures) > 0
	for _, group := range d.caseGroups() {
		for _, c := range *group.changes {
			d.Regressed = d.Regressed || c.Regression
		}
	}
	d.Verdict = d.verdict()
	return d
}

func runSummary(r Results) RunSummary {
	s := RunSummary{
		Target: r.Run.Target, Profile: r.Run.Profile, LabelFilter: r.Run.LabelFilter, Started: r.Run.Started,
		Verdict: r.Verdict(), Totals: r.countTotals(),
	}
	if dv := r.Run.Deviations; dv != nil {
		s.Deviations = dv.File
		if s.Deviations == "" {
			s.Deviations = "(unnamed, target " + dv.Target + ")"
		}
	}
	return s
}

func casesByID(cases []CaseResult) map[string][]*CaseResult {
	m := map[string][]*CaseResult{}
	for i := range cases {
		m[cases[i].ID] = append(m[cases[i].ID], &cases[i])
	}
	return m
}

func runFailureNames(fs []RunFailure) map[string]bool {
	m := map[string]bool{}
	for _, f := range fs {
		m[f.Name()] = true
	}
	return m
}

func caseState(c CaseResult) *CaseState {
	s := &CaseState{Outcome: c.Outcome, Reason: c.Reason}
	if c.Observed != nil {
		o := *c.Observed
		s.Observed = &o
	}
	return s
}

// compare files a pair of cases under its group, or counts it unchanged.
func (d *Differences) compare(o, n CaseResult) {
	ch := CaseChange{ID: n.ID, DC: n.DC, Title: n.Title, Old: caseState(o), New: caseState(n)}
	obs := observationChange(o, n)
	switch {
	case o.Outcome == n.Outcome && obs == "":
		d.Unchanged++
		return
	case o.Outcome == n.Outcome:
		ch.Change = obs + " (" + string(n.Outcome) + " in both)"
		ch.Regression = n.Outcome == Failed
		d.ObservationChanged = append(d.ObservationChanged, ch)
		return
	}
	ch.Change = string(o.Outcome) + " → " + string(n.Outcome)
	if n.Reason != "" && n.Outcome != Passed {
		ch.Change += ": " + n.Reason
	}
	if obs != "" {
		ch.Change += " (" + obs + ")"
	}
	if n.DeviationMismatch != "" {
		ch.Change += "; " + n.DeviationMismatch
	}
	switch {
	case n.Outcome == Failed:
		ch.Regression = true
		d.NewlyFailing = append(d.NewlyFailing, ch)
	case o.Outcome == Failed && n.Outcome == Passed:
		d.NewlyPassing = append(d.NewlyPassing, ch)
	default:
		d.OutcomeChanged = append(d.OutcomeChanged, ch)
	}
}

// observationChange says how the error code and HTTP status the target
// last answered differ between two runs of a case, or "".
func observationChange(o, n CaseResult) string {
	var a, b Observed
	if o.Observed != nil {
		a = *o.Observed
	}
	if n.Observed != nil {
		b = *n.Observed
	}
	var parts []string
	if a.Error != b.Error {
		parts = append(parts, "error "+orNone(a.Error)+" → "+orNone(b.Error))
	}
	if a.Status != b.Status {
		parts = append(parts, "HTTP "+statusText(a.Status)+" → "+statusText(b.Status))
	}
	return strings.Join(parts, ", ")
}

func orNone(s string) string {
	if s == "" {
		return "none"
	}
	return s
}

func outcomeText(c CaseResult) string {
	s := string(c.Outcome)
	if c.Observed != nil {
		if o := observedText(*c.Observed); o != "" {
			s += ", observed " + o
		}
	}
	return s
}

type caseGroup struct {
	title   string
	changes *[]CaseChange
}

func (d *Differences) caseGroups() []caseGroup {
	return []caseGroup{
		{"Newly failing", &d.NewlyFailing},
		{"Newly passing", &d.NewlyPassing},
		{"Changed observation", &d.ObservationChanged},
		{"Other outcome changes", &d.OutcomeChanged},
		{"Appeared, only in NEW", &d.Appeared},
		{"Disappeared, only in OLD", &d.Disappeared},
	}
}

func (d *Differences) verdict() string {
	var reg []string
	count := func(n int, what string) {
		if n > 0 {
			reg = append(reg, strconv.Itoa(n)+" "+what)
		}
	}
	failingDifferently := 0
	for _, c := range d.ObservationChanged {
		if c.Regression {
			failingDifferently++
		}
	}
	count(len(d.NewlyFailing), "newly failing")
	count(failingDifferently, "failing differently")
	count(len(d.Disappeared), "disappeared")
	count(len(d.NewRunFailures), "new run "+plural(len(d.NewRunFailures), "failure", "failures"))
	if len(reg) > 0 {
		return "REGRESSED: " + strings.Join(reg, ", ")
	}
	var other []string
	count = func(n int, what string) {
		if n > 0 {
			other = append(other, strconv.Itoa(n)+" "+what)
		}
	}
	count(len(d.NewlyPassing), "newly passing")
	count(len(d.ObservationChanged), "changed observation")
	count(len(d.OutcomeChanged), "other outcome "+plural(len(d.OutcomeChanged), "change", "changes"))
	count(len(d.Appeared), "appeared")
	count(len(d.GoneRunFailures), "run "+plural(len(d.GoneRunFailures), "failure", "failures")+" gone")
	if len(other) == 0 {
		return fmt.Sprintf("NO REGRESSION: no change in %d %s", d.Unchanged, plural(d.Unchanged, "case", "cases"))
	}
	return "NO REGRESSION: " + strings.Join(other, ", ")
}

// Text is the differences as the command prints them: the two runs, how
// their set-ups differ, each non-empty group with one line per case
// (regressions marked), then Verdict.
func (d Differences) Text() string {
	var b strings.Builder
	p := func(format string, args ...any) { fmt.Fprintf(&b, format, args...) }
	for _, r := range []struct {
		label string
		s     RunSummary
	}{{"OLD", d.Old}, {"NEW", d.New}} {
		p("%s %s: target %s, profile %s, started %s", r.label, orDash(r.s.Path), orDash(r.s.Target), orDash(r.s.Profile), dateText(r.s.Started))
		if r.s.LabelFilter != "" {
			p(", label filter %q", r.s.LabelFilter)
		}
		if r.s.Deviations != "" {
			p(", deviations %s", r.s.Deviations)
		}
		p("\n    %s\n", r.s.Verdict)
	}
	if len(d.Setup) > 0 {
		p("\nThe runs were set up differently (changes below may come from that):\n")
		for _, s := range d.Setup {
			p("  %s: %s → %s\n", s.What, orNone(s.Old), orNone(s.New))
			if s.What == "profile" {
				p("    the runs expected different profiles\n")
			}
			if s.What == "target" {
				p("    the runs ran against different targets\n")
			}
			if s.What == "catalogue" {
				p("    the runs judged by different catalogues or contracts\n")
			}
		}
	}
	for _, g := range d.caseGroups() {
		if len(*g.changes) == 0 {
			continue
		}
		p("\n%s (%d):\n", g.title, len(*g.changes))
		for _, c := range *g.changes {
			id := c.ID
			if c.DC != "" && (d.dup[c.ID] || d.dcMatters(c.ID)) {
				id += " [" + c.DC + "]"
			}
			mark := ""
			if c.Regression {
				mark = "  ← regression"
			}
			p("  %s: %s%s\n", id, firstLine(c.Change), mark)
		}
	}
	if len(d.NewRunFailures) > 0 {
		p("\nNew run failures (%d):\n", len(d.NewRunFailures))
		for _, f := range d.NewRunFailures {
			p("  %s: %s  ← regression\n", f.Name(), firstLine(f.Message))
		}
	}
	if len(d.GoneRunFailures) > 0 {
		p("\nRun failures gone (%d):\n", len(d.GoneRunFailures))
		for _, f := range d.GoneRunFailures {
			p("  %s\n", f.Name())
		}
	}
	p("\n%s\n", d.Verdict)
	return b.String()
}

// dcMatters says whether id occurs with several DCs among the changes,
// so that a line must name its DC.
func (d Differences) dcMatters(id string) bool {
	var dcs []string
	for _, g := range d.caseGroups() {
		for _, c := range *g.changes {
			if c.ID == id && !slices.Contains(dcs, c.DC) {
				dcs = append(dcs, c.DC)
			}
		}
	}
	return len(dcs) > 1
}

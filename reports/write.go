package reports

import (
	"bytes"
	"encoding/json"
	"fmt"
	"os"
	"path/filepath"
	"slices"
	"strings"

	"github.com/onsi/ginkgo/v2/types"

	"github.com/zconform/zconform/fixtures/zoho"
)

// The names of the files Write writes in its directory.
const (
	JUnitFile       = "junit.xml"
	GinkgoJSONFile  = "ginkgo.json"
	ResultsFile     = "results.json"
	SummaryMDFile   = "summary.md"
	SummaryHTMLFile = "summary.html"
)

// Files are the paths of the files Write wrote.
type Files struct {
	JUnit       string `json:"junit"`
	GinkgoJSON  string `json:"ginkgo_json"`
	Results     string `json:"results"`
	SummaryMD   string `json:"summary_md"`
	SummaryHTML string `json:"summary_html"`
}

// All returns every path, in the order above, leaving out empty ones.
func (f Files) All() []string {
	var out []string
	for _, p := range []string{f.JUnit, f.GinkgoJSON, f.Results, f.SummaryMD, f.SummaryHTML} {
		if p != "" {
			out = append(out, p)
		}
	}
	return out
}

// Write turns a Ginkgo report into the run's files in dir (created if
// needed): junit.xml, ginkgo.json, results.json, summary.md and
// summary.html, see the package documentation. Every file passes through
// zoho.Redact. It is meant for the suite's ReportAfterSuite, where report
// is the whole run's report (under ginkgo -p, the aggregated one). On an
// error, Files holds the files written so far.
func Write(dir string, report types.Report, run RunMeta) (Files, error) {
	if err := os.MkdirAll(dir, 0o755); err != nil {
		return Files{}, err
	}
	ginkgo, err := ginkgoJSON(report)
	if err != nil {
		return Files{}, err
	}
	return writeFiles(dir, FromReport(report, run), ginkgo)
}

// WriteResults writes Results built without a Ginkgo report (such as a
// certification's, see RunMeta.Certificate) into dir (created if needed):
// junit.xml, results.json, summary.md and summary.html, as Write does, but
// no ginkgo.json (Files.GinkgoJSON stays empty). It sets Format, recounts
// Totals from Cases and RunFailures, gives Run.Target and Run.Profile the
// first case's when they are empty, and cleans every string as FromReport
// does (secrets redacted, terminal escapes dropped, what XML cannot hold
// replaced), without changing the caller's r. The cases keep their order
// and outcomes; r.Run.Deviations are not applied. On an error, Files holds
// the files written so far.
func WriteResults(dir string, r Results) (Files, error) {
	if err := os.MkdirAll(dir, 0o755); err != nil {
		return Files{}, err
	}
	return writeFiles(dir, prepared(r), nil)
}

// writeFiles renders r and writes the files, ginkgo.json only when
// ginkgo is not nil.
func writeFiles(dir string, r Results, ginkgo []byte) (Files, error) {
	var files Files
	junit, err := junitXML(r)
	if err != nil {
		return files, err
	}
	results, err := json.MarshalIndent(r, "", "  ")
	if err != nil {
		return files, fmt.Errorf("results.json: %v", err)
	}
	html, err := summaryHTML(r)
	if err != nil {
		return files, err
	}
	for _, f := range []struct {
		name string
		data []byte
		path *string
	}{
		{JUnitFile, junit, &files.JUnit},
		{GinkgoJSONFile, ginkgo, &files.GinkgoJSON},
		{ResultsFile, append(results, '\n'), &files.Results},
		{SummaryMDFile, summaryMarkdown(r), &files.SummaryMD},
		{SummaryHTMLFile, html, &files.SummaryHTML},
	} {
		if f.data == nil {
			continue
		}
		path := filepath.Join(dir, f.name)
		// Everything was redacted field by field; this catches what a
		// format might have put together from pieces.
		if err := os.WriteFile(path, redactBytes(f.data), 0o644); err != nil {
			return files, err
		}
		*f.path = path
	}
	return files, nil
}

// prepared is a copy of hand-built Results ready to write: every string
// cleaned, Format set, Totals recounted, Run.Target and Run.Profile
// filled in from the first case when empty.
func prepared(r Results) Results {
	r.Format = ResultsFormat
	r.Run = cleanRun(r.Run)
	r.Suite = clean(r.Suite)
	r.Notes = cleanAll(r.Notes)
	cases := make([]CaseResult, len(r.Cases))
	for i, c := range r.Cases {
		cases[i] = cleanCase(c)
	}
	r.Cases = cases
	failures := make([]RunFailure, len(r.RunFailures))
	for i, f := range r.RunFailures {
		failures[i] = RunFailure{Node: clean(f.Node), Text: clean(f.Text), State: clean(f.State),
			Message: clean(f.Message), Location: clean(f.Location)}
	}
	r.RunFailures = failures
	if len(r.RunFailures) == 0 {
		r.RunFailures = nil
	}
	if r.Run.Target == "" && len(r.Cases) > 0 {
		r.Run.Target = r.Cases[0].Target
	}
	if r.Run.Profile == "" && len(r.Cases) > 0 {
		r.Run.Profile = r.Cases[0].Profile
	}
	r.Totals = r.countTotals()
	return r
}

// cleanRun cleans the run's strings and records the build that writes
// the reports (CurrentBuild), whatever the caller passed.
func cleanRun(run RunMeta) RunMeta {
	run.Target, run.Profile, run.LabelFilter, run.OffContract = clean(run.Target), clean(run.Profile), clean(run.LabelFilter), clean(run.OffContract)
	run.Breaks = cleanAll(ParseBreaks(strings.Join(run.Breaks, ",")))
	run.Build = CurrentBuild()
	if c := run.Certificate; c != nil {
		run.Certificate = &Certificate{Integration: clean(c.Integration), Version: clean(c.Version), Adapter: clean(c.Adapter),
			Zconform: clean(c.Zconform), ScenarioSet: clean(c.ScenarioSet), Fake: clean(c.Fake)}
	}
	if d := run.Deviations; d != nil {
		cd := &Deviations{File: clean(d.File), Target: clean(d.Target), Deviations: make([]Deviation, len(d.Deviations))}
		for i, e := range d.Deviations {
			cd.Deviations[i] = cleanDeviation(e)
		}
		run.Deviations = cd
	}
	return run
}

func cleanDeviation(d Deviation) Deviation {
	d.Case, d.Profile, d.DC = clean(d.Case), clean(d.Profile), clean(d.DC)
	d.Reason, d.Link, d.File = clean(d.Reason), clean(d.Link), clean(d.File)
	d.Observed = cleanObserved(d.Observed)
	return d
}

func cleanObserved(o *Observed) *Observed {
	if o == nil {
		return nil
	}
	return &Observed{Step: clean(o.Step), Status: o.Status, Error: clean(o.Error), Waited: clean(o.Waited)}
}

func cleanCase(c CaseResult) CaseResult {
	c.ID, c.Title, c.Area, c.Basis = clean(c.ID), clean(c.Title), clean(c.Area), clean(c.Basis)
	c.Seeds, c.Needs, c.Evidence = cleanAll(c.Seeds), cleanAll(c.Needs), cleanAll(c.Evidence)
	if c.Seeds == nil {
		c.Seeds = []string{}
	}
	c.Target, c.DC, c.Profile, c.Catalogue = clean(c.Target), clean(c.DC), clean(c.Profile), clean(c.Catalogue)
	c.State, c.Reason, c.Message = clean(c.State), clean(c.Reason), clean(c.Message)
	c.MetaSource, c.DeviationMismatch = clean(c.MetaSource), clean(c.DeviationMismatch)
	if c.Outcome == Failed && c.Message == "" {
		c.Message = c.Reason
	}
	if c.Outcome == Failed && c.Reason == "" {
		c.Reason = firstLine(c.Message)
	}
	c.Observed = cleanObserved(c.Observed)
	if c.Deviation != nil {
		d := cleanDeviation(*c.Deviation)
		c.Deviation = &d
	}
	c.failureLocation, c.failureNode, c.output = clean(c.failureLocation), clean(c.failureNode), clean(c.output)
	return c
}

// redactBytes redacts a whole file. The redacted forms ("1000.8cb9…",
// "3f2a…") contain nothing that JSON, XML, HTML or Markdown would read
// as syntax, so a valid file stays valid.
func redactBytes(data []byte) []byte {
	return []byte(zoho.Redact(string(data)))
}

// ginkgoJSON is Ginkgo's own JSON report (as --json-report writes it: an
// array of one report), redacted. Report entries whose raw value is gone
// but whose AsJSON is set get their value back first, since Ginkgo would
// otherwise write them as null.
func ginkgoJSON(report types.Report) ([]byte, error) {
	report.SpecReports = slices.Clone(report.SpecReports)
	for i := range report.SpecReports {
		entries := report.SpecReports[i].ReportEntries
		if !slices.ContainsFunc(entries, lostRaw) {
			continue
		}
		entries = slices.Clone(entries)
		for j := range entries {
			if lostRaw(entries[j]) {
				entries[j].Value = rehydrate(entries[j].Value)
			}
		}
		report.SpecReports[i].ReportEntries = entries
	}
	var buf bytes.Buffer
	enc := json.NewEncoder(&buf)
	enc.SetIndent("", "  ")
	if err := enc.Encode([]types.Report{report}); err != nil {
		return nil, fmt.Errorf("ginkgo.json: %v", err)
	}
	return buf.Bytes(), nil
}

func lostRaw(e types.ReportEntry) bool {
	return e.Value.GetRawValue() == nil && e.Value.AsJSON != "" && e.Value.AsJSON != "null"
}

// rehydrate rebuilds a ReportEntryValue from its AsJSON the way Ginkgo
// does when it reads a report.
func rehydrate(v types.ReportEntryValue) types.ReportEntryValue {
	data, err := json.Marshal(struct{ AsJSON, Representation string }{v.AsJSON, v.Representation})
	if err != nil {
		return v
	}
	var out types.ReportEntryValue
	if err := out.UnmarshalJSON(data); err != nil {
		return v
	}
	return out
}

package reports

import (
	"bytes"
	"encoding/json"
	"fmt"
	"os"
	"path/filepath"
	"slices"

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
	var files Files
	if err := os.MkdirAll(dir, 0o755); err != nil {
		return files, err
	}
	r := FromReport(report, run)

	junit, err := junitXML(r)
	if err != nil {
		return files, err
	}
	ginkgo, err := ginkgoJSON(report)
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

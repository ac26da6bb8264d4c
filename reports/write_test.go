package reports_test

import (
	"bytes"
	"encoding/json"
	"encoding/xml"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"regexp"
	"strings"
	"testing"

	junit "github.com/joshdk/go-junit"
	"github.com/onsi/ginkgo/v2/types"
	"golang.org/x/net/html"
	"golang.org/x/net/html/atom"

	"github.com/zconform/zconform/fixtures/zoho"
	"github.com/zconform/zconform/reports"
)

func writeMain(t *testing.T) (reports.Files, string) {
	t.Helper()
	dir := filepath.Join(t.TempDir(), "out", "run-1") // Write creates it
	files, err := reports.Write(dir, mainReport(t), testRun)
	if err != nil {
		t.Fatalf("Write: %v", err)
	}
	return files, dir
}

func readFile(t *testing.T, path string) []byte {
	t.Helper()
	data, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	return data
}

func TestWriteWritesEveryFile(t *testing.T) {
	files, dir := writeMain(t)
	want := reports.Files{
		JUnit:       filepath.Join(dir, "junit.xml"),
		GinkgoJSON:  filepath.Join(dir, "ginkgo.json"),
		Results:     filepath.Join(dir, "results.json"),
		SummaryMD:   filepath.Join(dir, "summary.md"),
		SummaryHTML: filepath.Join(dir, "summary.html"),
	}
	if files != want {
		t.Errorf("Files = %+v, want %+v", files, want)
	}
	entries, _ := os.ReadDir(dir)
	if len(entries) != 5 || len(files.All()) != 5 {
		t.Errorf("dir holds %d files, All() %d paths; want 5", len(entries), len(files.All()))
	}
	for _, p := range files.All() {
		if fi, err := os.Stat(p); err != nil || fi.Size() == 0 {
			t.Errorf("%s: %v (empty?)", p, err)
		}
	}
}

// No file written holds a code, token or secret of the report whole.
func TestNoSecretInAnyFile(t *testing.T) {
	for name, report := range map[string]types.Report{"main": mainReport(t), "before suite failed": beforeSuiteFailedReport(t)} {
		dir := t.TempDir()
		files, err := reports.Write(dir, report, testRun)
		if err != nil {
			t.Fatal(err)
		}
		entries, _ := os.ReadDir(dir)
		if len(entries) != len(files.All()) {
			t.Errorf("%s: %d files in dir, %d reported", name, len(entries), len(files.All()))
		}
		for _, e := range entries {
			data := readFile(t, filepath.Join(dir, e.Name()))
			for _, secret := range testSecrets {
				// Also the halves of a token: a file must not hold one in pieces.
				parts := []string{secret}
				if strings.HasPrefix(secret, "1000.") {
					parts = append(parts, strings.Split(secret, ".")[1:]...)
				}
				for _, p := range parts {
					if bytes.Contains(data, []byte(p)) {
						t.Errorf("%s: %s contains %s", name, e.Name(), p)
					}
				}
			}
		}
	}
	// The redacted forms are there: the report still says what was sent.
	files, _ := writeMain(t)
	for _, p := range []string{files.JUnit, files.GinkgoJSON, files.Results, files.SummaryMD, files.SummaryHTML} {
		data := readFile(t, p)
		if !bytes.Contains(data, []byte("client_secret="+zoho.RedactValue(testSecret))) || !bytes.Contains(data, []byte(zoho.RedactValue(testGrant))) {
			t.Errorf("%s lacks the redacted secret or code", filepath.Base(p))
		}
	}
}

// ginkgo.json is Ginkgo's own report, entries and all.
func TestGinkgoJSON(t *testing.T) {
	files, _ := writeMain(t)
	var got []types.Report
	if err := json.Unmarshal(readFile(t, files.GinkgoJSON), &got); err != nil {
		t.Fatalf("ginkgo.json does not decode as []types.Report: %v", err)
	}
	if len(got) != 1 || len(got[0].SpecReports) != len(mainReport(t).SpecReports) {
		t.Fatalf("ginkgo.json: %d reports", len(got))
	}
	// Every CaseMeta entry, whatever its form in the report, is written
	// with its value (an AsJSON-only entry would otherwise become null).
	n := 0
	for _, sr := range got[0].SpecReports {
		for _, e := range sr.ReportEntries {
			if e.Name != reports.EntryName {
				continue
			}
			n++
			var m reports.CaseMeta
			if err := json.Unmarshal([]byte(e.Value.AsJSON), &m); err != nil || m.ID == "" || !strings.HasPrefix(sr.LeafNodeText, m.ID+": ") {
				t.Errorf("%s: CaseMeta entry written as %q (%v)", sr.LeafNodeText, e.Value.AsJSON, err)
			}
		}
	}
	if n != 4 {
		t.Errorf("ginkgo.json has %d CaseMeta entries, want 4", n)
	}
	// Write leaves the caller's report alone.
	rep := mainReport(t)
	if _, err := reports.Write(t.TempDir(), rep, testRun); err != nil {
		t.Fatal(err)
	}
	if v := rep.SpecReports[2].ReportEntries[0].Value; v.GetRawValue() != nil {
		t.Errorf("Write changed the report it was given: raw value %v", v.GetRawValue())
	}
}

// junitCounts reads the counts off junit.xml with encoding/xml, apart from
// the package's own types.
type junitCounts struct {
	XMLName  xml.Name `xml:"testsuites"`
	Tests    int      `xml:"tests,attr"`
	Failures int      `xml:"failures,attr"`
	Errors   int      `xml:"errors,attr"`
	Suites   []struct {
		Name       string `xml:"name,attr"`
		Tests      int    `xml:"tests,attr"`
		Failures   int    `xml:"failures,attr"`
		Errors     int    `xml:"errors,attr"`
		Skipped    int    `xml:"skipped,attr"`
		Time       string `xml:"time,attr"`
		Properties []struct {
			Name  string `xml:"name,attr"`
			Value string `xml:"value,attr"`
		} `xml:"properties>property"`
		Cases []struct {
			Name       string `xml:"name,attr"`
			Classname  string `xml:"classname,attr"`
			Status     string `xml:"status,attr"`
			Properties []struct {
				Name  string `xml:"name,attr"`
				Value string `xml:"value,attr"`
			} `xml:"properties>property"`
			Skipped *string `xml:"skipped"`
			Failure []struct {
				Message string `xml:"message,attr"`
				Type    string `xml:"type,attr"`
				Body    string `xml:",chardata"`
			} `xml:"failure"`
			Error []struct {
				Message string `xml:"message,attr"`
			} `xml:"error"`
			SystemOut string `xml:"system-out"`
		} `xml:"testcase"`
	} `xml:"testsuite"`
}

func TestCountsAgreeAcrossFiles(t *testing.T) {
	for name, tc := range map[string]struct {
		report                                   types.Report
		tests, failures, errors, skipped, passed int
	}{
		"main":                {mainReport(t), 6, 2, 1, 1, 2},
		"passing":             {passingReport(t), 3, 0, 0, 1, 2},
		"before suite failed": {beforeSuiteFailedReport(t), 1, 0, 1, 0, 0},
	} {
		t.Run(name, func(t *testing.T) {
			dir := t.TempDir()
			files, err := reports.Write(dir, tc.report, testRun)
			if err != nil {
				t.Fatal(err)
			}
			// junit.xml
			var j junitCounts
			if err := xml.Unmarshal(readFile(t, files.JUnit), &j); err != nil {
				t.Fatal(err)
			}
			if j.Tests != tc.tests || j.Failures != tc.failures || j.Errors != tc.errors || len(j.Suites) != 1 {
				t.Errorf("<testsuites> tests=%d failures=%d errors=%d suites=%d", j.Tests, j.Failures, j.Errors, len(j.Suites))
			}
			s := j.Suites[0]
			if s.Name != "zconform conformance" || s.Tests != tc.tests || s.Failures != tc.failures || s.Errors != tc.errors || s.Skipped != tc.skipped {
				t.Errorf("<testsuite> %s tests=%d failures=%d errors=%d skipped=%d", s.Name, s.Tests, s.Failures, s.Errors, s.Skipped)
			}
			var nFail, nErr, nSkip, nPass int
			for _, c := range s.Cases {
				switch {
				case len(c.Failure) > 0:
					nFail++
				case len(c.Error) > 0:
					nErr++
				case c.Skipped != nil:
					nSkip++
				default:
					nPass++
				}
			}
			if len(s.Cases) != tc.tests || nFail != tc.failures || nErr != tc.errors || nSkip != tc.skipped || nPass != tc.passed {
				t.Errorf("testcases: %d, failed %d, errors %d, skipped %d, passed %d", len(s.Cases), nFail, nErr, nSkip, nPass)
			}

			// results.json
			r, err := reports.ReadResults(files.Results)
			if err != nil {
				t.Fatal(err)
			}
			cases := tc.tests - tc.errors
			if r.Totals.Cases != cases || r.Totals.Passed != tc.passed || r.Totals.Failed != tc.failures ||
				r.Totals.Skipped != tc.skipped || r.Totals.RunFailures != tc.errors || len(r.Cases) != cases {
				t.Errorf("results.json totals %+v, %d cases", r.Totals, len(r.Cases))
			}

			// summary.md
			md := string(readFile(t, files.SummaryMD))
			for _, want := range []string{
				fmt.Sprintf("| Cases | %d: %d passed, %d failed, %d skipped |", cases, tc.passed, tc.failures, tc.skipped),
				fmt.Sprintf("| Verdict | **%s** |", strings.NewReplacer("[", `\[`, "]", `\]`).Replace(r.Verdict())),
				fmt.Sprintf("## Failures (%d)", tc.failures),
				fmt.Sprintf("## Skipped (%d)", tc.skipped),
			} {
				if !strings.Contains(md, want) {
					t.Errorf("summary.md lacks %q", want)
				}
			}
			if tc.errors > 0 && !strings.Contains(md, fmt.Sprintf("## Run failures (%d)", tc.errors)) {
				t.Errorf("summary.md lacks its run failures")
			}
			if got := strings.Count(md, "❌ failed"); got < tc.failures {
				t.Errorf("summary.md marks %d failed cases, want at least %d", got, tc.failures)
			}
		})
	}
}

func TestJUnitShape(t *testing.T) {
	files, _ := writeMain(t)
	var j junitCounts
	if err := xml.Unmarshal(readFile(t, files.JUnit), &j); err != nil {
		t.Fatal(err)
	}
	s := j.Suites[0]
	suiteProps := map[string]string{}
	for _, p := range s.Properties {
		suiteProps[p.Name] = p.Value
	}
	wantSuite := map[string]string{"target": "fake", "profile": "kaizen4", "label_filter": "!destructive", "started": "2026-11-28T17:00:00Z"}
	for k, v := range wantSuite {
		if suiteProps[k] != v {
			t.Errorf("suite property %s = %q, want %q", k, suiteProps[k], v)
		}
	}
	if !strings.HasPrefix(suiteProps["verdict"], "FAIL: ") || s.Time != "2.000" {
		t.Errorf("suite verdict %q, time %q", suiteProps["verdict"], s.Time)
	}

	byName := map[string]int{}
	for i, c := range s.Cases {
		byName[c.Name] = i
	}
	reused := s.Cases[byName["TOKEN-CODE-REUSED: a used grant token gets invalid_code"]]
	if len(reused.Properties) > 0 {
		t.Errorf("testcase properties = %v, want none (jenkins-junit.xsd has none)", reused.Properties)
	}
	if reused.Classname != "token-exchange" || reused.Status != "failed" || len(reused.Failure) != 1 {
		t.Fatalf("failed testcase: %+v", reused)
	}
	f := reused.Failure[0]
	if f.Type != "failed" || f.Message != zoho.Redact(reusedFailure) ||
		!strings.Contains(f.Body, "at /src/suites/conformance/token_test.go:77") || !strings.Contains(f.Body, "catalogue row: fixtures/catalogue/cases.yaml:20") {
		t.Errorf("failure: type %q message %q body %q", f.Type, f.Message, f.Body)
	}
	for _, line := range []string{"case: TOKEN-CODE-REUSED", "seeds: K4-TOKEN-CODE-b, K4-NOTE-3", "area: token-exchange", "basis: seed",
		"target: fake", "dc: us", "profile: kaizen4",
		"catalogue: fixtures/catalogue/cases.yaml:20", "outcome: failed", "observed: step second exchange of code 1000.0123…, HTTP 200"} {
		if !strings.Contains(reused.SystemOut, line+"\n") {
			t.Errorf("failed testcase system-out lacks %q:\n%s", line, reused.SystemOut)
		}
	}

	skipped := s.Cases[byName["NOTE-GRANT-EXPIRY: a grant token dies after one minute"]]
	if skipped.Skipped == nil || *skipped.Skipped != skipReason || !strings.Contains(skipped.SystemOut, "skip reason: "+skipReason+"\n") {
		t.Errorf("skipped testcase: %+v", skipped)
	}
	otherDC := s.Cases[byName["DC-GRANT-OTHER-DC: a grant presented at another DC gets invalid_client"]]
	if len(otherDC.Failure) != 1 || !strings.Contains(otherDC.Failure[0].Body, "(in BeforeEach)") || !strings.Contains(otherDC.SystemOut, "metadata from: labels\n") {
		t.Errorf("testcase failed in BeforeEach: %+v", otherDC)
	}
	setup := s.Cases[len(s.Cases)-1]
	if setup.Name != "[SynchronizedBeforeSuite]" || setup.Classname != "setup" || len(setup.Error) != 1 || len(setup.Properties) != 0 {
		t.Errorf("setup testcase: %+v", setup)
	}
}

func TestSummaryListsEverySeed(t *testing.T) {
	for name, report := range map[string]types.Report{"main": mainReport(t), "before suite failed": beforeSuiteFailedReport(t)} {
		t.Run(name, func(t *testing.T) {
			files, err := reports.Write(t.TempDir(), report, testRun)
			if err != nil {
				t.Fatal(err)
			}
			md := string(readFile(t, files.SummaryMD))
			page := string(readFile(t, files.SummaryHTML))
			r := reports.FromReport(report, testRun)
			covered := map[string]bool{}
			for _, c := range r.Cases {
				for _, s := range c.Seeds {
					covered[s] = true
				}
			}
			seeds := zoho.Seeds()
			if len(seeds) != 55 {
				t.Fatalf("zoho.Seeds() has %d seeds, want 55 (30 K4, 25 ZA)", len(seeds))
			}
			// Sections in the post's order, each seed in its section.
			lastSection, lastAt := -1, -1
			for _, seed := range seeds {
				id := string(seed.ID)
				row := regexp.MustCompile(`(?m)^\| \*\*` + regexp.QuoteMeta(id) + `\*\* \|.*$`).FindString(md)
				if row == "" {
					t.Errorf("summary.md has no row for %s", id)
					continue
				}
				if !covered[id] && !strings.Contains(row, "no case run") {
					t.Errorf("summary.md row for %s (no case) lacks \"no case run\": %s", id, row)
				}
				if covered[id] && strings.Contains(row, "no case run") {
					t.Errorf("summary.md row for %s says no case run: %s", id, row)
				}
				if !strings.Contains(page, ">"+id+"</td>") {
					t.Errorf("summary.html has no cell for %s", id)
				}
				sec := strings.Index(md, "### "+string(seed.Section)+"\n")
				at := strings.Index(md, row)
				if sec < 0 || sec < lastSection || at < sec || at < lastAt {
					t.Errorf("%s (section %q) out of the post's order", id, seed.Section)
				}
				lastSection, lastAt = sec, at
			}
			if want := len(seeds) - len(covered); strings.Count(md, "— no case run") != want {
				t.Errorf("summary.md marks %d seeds \"no case run\", want %d", strings.Count(md, "— no case run"), want)
			}
		})
	}
}

func TestSummaryMarkdownContent(t *testing.T) {
	files, _ := writeMain(t)
	md := string(readFile(t, files.SummaryMD))
	for _, want := range []string{
		"# zconform certification summary: fake\n",
		"| Target | fake |", "| Expected profile | kaizen4 |", "| Date | 2026-11-28 17:00:00 UTC |", "| Label filter | `!destructive` |",
		"| Resting on an assumption | 1 of 5 cases (basis ⚠️ assumed) |",
		// One row per case of a seed; a case appears under each seed it covers.
		"| **K4-TOKEN-CODE-b** | grant token already used: invalid\\_code | TOKEN-CODE-REUSED: a used grant token gets invalid\\_code | [❌ failed](#failure-1) | seed |",
		"| **K4-NOTE-3** | a failed exchange invalidates the grant token | TOKEN-CODE-REUSED: a used grant token gets invalid\\_code | [❌ failed](#failure-1) | seed |",
		"| **K4-NOTE-1** | a redirect-flow grant token is valid for one minute | NOTE-GRANT-EXPIRY: a grant token dies after one minute | ⏭️ skipped | seed |",
		"| **K4-NOTE-5** | an access token is valid for one hour | TOKEN-EXCHANGE-OK: a fresh grant token gets an access and a refresh token | ✅ passed | seed |",
		"### Cases without a seed ID",
		"| — |  | TOKEN-MISSING-PARAMS: missing parameters get invalid\\_request \\<with\\> \"odd\" \\| characters & \\*marks\\* | ✅ passed | ⚠️ assumed |",
		"## Run failures (1)", "### \\[SynchronizedBeforeSuite\\]",
		"<a id=\"failure-1\"></a>\n\n### TOKEN-CODE-REUSED: a used grant token gets invalid\\_code\n",
		"```\n" + zoho.Redact(reusedFailure) + "\n```\n",
		"| NOTE-GRANT-EXPIRY: a grant token dies after one minute | " + skipReason + " |",
	} {
		if !strings.Contains(md, want) {
			t.Errorf("summary.md lacks %q", want)
		}
	}
}

func TestSummaryMarkdownOtherSeedsAndFences(t *testing.T) {
	m := metaExchangeOK
	m.ID, m.Seeds = "ODD", []string{"K4-NEW-SEED"}
	spec := caseSpec(m, types.SpecStateFailed, 0)
	spec.ReportEntries = types.ReportEntries{entry(t, inProcess, reports.EntryName, m)}
	spec.Failure.Message = "got ``` and ```` in the body"
	files, err := reports.Write(t.TempDir(), types.Report{SpecReports: types.SpecReports{spec}}, reports.RunMeta{})
	if err != nil {
		t.Fatal(err)
	}
	md := string(readFile(t, files.SummaryMD))
	for _, want := range []string{"### Other seed IDs (not in the Kaizen #4 post)", "| **K4-NEW-SEED** |",
		"`````\ngot ``` and ```` in the body\n`````", "# zconform certification summary: fake\n"} {
		if !strings.Contains(md, want) {
			t.Errorf("summary.md lacks %q", want)
		}
	}
}

// voidElements never have an end tag in HTML.
var voidElements = map[string]bool{"area": true, "base": true, "br": true, "col": true, "embed": true, "hr": true, "img": true,
	"input": true, "link": true, "meta": true, "source": true, "track": true, "wbr": true}

func TestSummaryHTML(t *testing.T) {
	files, _ := writeMain(t)
	page := readFile(t, files.SummaryHTML)

	// Well formed: a doctype first, every element closed in order, no
	// external resource, no script.
	if !bytes.HasPrefix(page, []byte("<!DOCTYPE html>\n<html lang=\"en\">")) {
		t.Errorf("summary.html does not start with the HTML5 doctype: %.40q", page)
	}
	z := html.NewTokenizer(bytes.NewReader(page))
	var stack []string
	for {
		tt := z.Next()
		if tt == html.ErrorToken {
			if z.Err() != io.EOF {
				t.Fatalf("tokenizer: %v", z.Err())
			}
			break
		}
		tok := z.Token()
		switch tt {
		case html.StartTagToken:
			if !voidElements[tok.Data] {
				stack = append(stack, tok.Data)
			}
			for _, a := range tok.Attr {
				if a.Key == "src" || (a.Key == "href" && !strings.HasPrefix(a.Val, "#")) {
					t.Errorf("external reference <%s %s=%q>", tok.Data, a.Key, a.Val)
				}
			}
			if tok.Data == "script" || tok.Data == "link" {
				t.Errorf("<%s> in a self-contained page", tok.Data)
			}
		case html.EndTagToken:
			if len(stack) == 0 || stack[len(stack)-1] != tok.Data {
				t.Fatalf("</%s> closes %v", tok.Data, stack)
			}
			stack = stack[:len(stack)-1]
		case html.SelfClosingTagToken:
			if !voidElements[tok.Data] {
				t.Errorf("<%s/> is not a void element", tok.Data)
			}
		}
	}
	if len(stack) != 0 {
		t.Errorf("unclosed elements: %v", stack)
	}

	doc, err := html.Parse(bytes.NewReader(page))
	if err != nil {
		t.Fatal(err)
	}
	var cells = map[string][]string{} // class -> texts
	var ids []string
	var walk func(*html.Node)
	walk = func(n *html.Node) {
		if n.Type == html.ElementNode {
			for _, a := range n.Attr {
				if a.Key == "id" {
					ids = append(ids, a.Val)
				}
				if a.Key == "class" && n.DataAtom == atom.Td {
					cells[a.Val] = append(cells[a.Val], textOf(n))
				}
			}
		}
		for c := n.FirstChild; c != nil; c = c.NextSibling {
			walk(c)
		}
	}
	walk(doc)
	if len(cells["o-failed"]) != 3 || len(cells["o-passed"]) != 2 || len(cells["o-skipped"]) != 2 {
		// reused covers 2 seeds, the other DC case 1; expiry 2 seeds; OK 1 seed, assumed case under "no seed".
		t.Errorf("outcome cells: failed %d, passed %d, skipped %d", len(cells["o-failed"]), len(cells["o-passed"]), len(cells["o-skipped"]))
	}
	if n := len(cells["o-none"]); n != len(zoho.Seeds())-6 {
		t.Errorf("%d seeds marked no case run, want %d", n, len(zoho.Seeds())-6)
	}
	seen := map[string]bool{}
	for _, id := range ids {
		if seen[id] {
			t.Errorf("duplicate id %q", id)
		}
		seen[id] = true
	}
	for _, want := range []string{"coverage", "failures", "skipped", "run-failures", "failure-1", "failure-2"} {
		if !seen[want] {
			t.Errorf("no element with id %q", want)
		}
	}
	text := textOf(doc)
	for _, want := range []string{"FAIL: 1 run failure", "missing parameters get invalid_request <with> \"odd\" | characters & *marks*",
		"client_secret=0123…", skipReason, "1 of 5 cases", "⚠️ assumed"} {
		if !strings.Contains(text, want) {
			t.Errorf("summary.html text lacks %q", want)
		}
	}
	if !bytes.Contains(page, []byte("&lt;with&gt; &#34;odd&#34;")) {
		t.Errorf("summary.html does not escape the case title")
	}
}

func textOf(n *html.Node) string {
	var b strings.Builder
	var walk func(*html.Node)
	walk = func(n *html.Node) {
		if n.Type == html.TextNode {
			b.WriteString(n.Data)
		}
		for c := n.FirstChild; c != nil; c = c.NextSibling {
			walk(c)
		}
	}
	walk(n)
	return b.String()
}

// Text that XML, HTML or Markdown would choke on stays valid and readable.
func TestOddTextStaysValid(t *testing.T) {
	m := metaExchangeOK
	m.Title = "title with ]]> and <b>bold</b>"
	spec := caseSpec(m, types.SpecStateFailed, 0)
	spec.ReportEntries = types.ReportEntries{entry(t, crossed, reports.EntryName, m)}
	spec.Failure.Message = "first line ]]> <script>alert(1)</script>\x00\x1b[31mred\x1b[0m \xff\r\nsecond line"
	spec.CapturedGinkgoWriterOutput = "out ]]]]>> \x07bell"
	files, err := reports.Write(t.TempDir(), types.Report{SuiteSucceeded: false, SpecReports: types.SpecReports{spec}}, testRun)
	if err != nil {
		t.Fatal(err)
	}
	var j junitCounts
	if err := xml.Unmarshal(readFile(t, files.JUnit), &j); err != nil {
		t.Fatalf("junit.xml: %v", err)
	}
	c := j.Suites[0].Cases[0]
	wantMsg := "first line ]]> <script>alert(1)</script>\ufffdred \ufffd\nsecond line"
	if c.Name != "TOKEN-EXCHANGE-OK: "+m.Title || c.Failure[0].Message != wantMsg || !strings.HasPrefix(c.Failure[0].Body, wantMsg+"\ncatalogue row: ") {
		t.Errorf("junit.xml: name %q message %q body %q", c.Name, c.Failure[0].Message, c.Failure[0].Body)
	}
	suites, err := junit.IngestFile(files.JUnit)
	if err != nil || len(suites) != 1 || suites[0].Tests[0].Message != wantMsg || suites[0].Tests[0].SystemErr != "out ]]]]>> \ufffdbell" {
		t.Errorf("go-junit: %v %+v", err, suites)
	}
	page := readFile(t, files.SummaryHTML)
	if bytes.Contains(page, []byte("<script>")) || bytes.Contains(page, []byte("<b>")) {
		t.Error("summary.html lets markup through")
	}
	if md := readFile(t, files.SummaryMD); !bytes.Contains(md, []byte("```\n"+wantMsg+"\n```")) || bytes.Contains(md, []byte("<b>")) {
		t.Errorf("summary.md:\n%s", md)
	}
}

package reports_test

import (
	"bytes"
	"encoding/xml"
	"os"
	"path/filepath"
	"reflect"
	"strings"
	"testing"
	"time"

	junit "github.com/joshdk/go-junit"
	"golang.org/x/net/html"
	"golang.org/x/net/html/atom"

	"github.com/zconform/zconform/fixtures"
	"github.com/zconform/zconform/fixtures/zoho"
	"github.com/zconform/zconform/reports"
)

// A certification's results, as `zconform certify` builds them from its
// verdicts: one scenario passed, one failed with evidence (holding a token
// and a client secret whole, and a terminal escape), one did not apply.
const (
	certFailReason = "it refreshed before every call: 3 refresh requests for 3 API calls, where an access token lasts an hour"
	certNAReason   = "not applicable: the integration cannot take a redirect: no browser flow"
)

var certEvidence = []string{
	"browser: back at the redirect URI with code=1000.0123… location=us accounts-server=https://accounts.zoho.com",
	"wire: POST us accounts /oauth/v2/token grant_type=refresh_token refresh_token=" + testRefresh + " -> 200",
	"wire: POST us accounts /oauth/v2/token grant_type=refresh_token refresh_token=" + testRefresh + " -> 200",
	"integration: call the API -> ok=false error=\x1b[31mrefused\x1b[0m client_secret=" + testSecret + " <b>",
}

// certPassEvidence is a passed scenario's proof: the stimulus arrived
// (the used code's answer) and the integration said it failed.
var certPassEvidence = []string{
	"wire: POST us accounts /oauth/v2/token grant_type=authorization_code code=" + testRefresh + " -> 200 invalid_code",
	"integration: redirect -> ok=false error=invalid_code needs_authorization",
}

var certificate = reports.Certificate{Integration: "acme-zoho-sync", Version: "2.3.1", Adapter: "certify/adapters/nodesdk/adapter.js"}

func certResults() reports.Results {
	cert := certificate
	return reports.Results{
		Run: reports.RunMeta{Target: cert.Integration, Profile: "kaizen4", Started: testStart, Certificate: &cert},
		Cases: []reports.CaseResult{
			{ID: "EXCHANGE-AT-ACCOUNTS-SERVER", Title: "exchanges a fresh grant once, within its lifetime, at the accounts-server the redirect named",
				Area: "certification", Seeds: []string{"K4-TOKEN-CLIENT-b", "K4-NOTE-1", "K4-TOKEN-CODE-b"}, Basis: "seed",
				Outcome: reports.Passed, Evidence: certPassEvidence, Duration: reports.Duration(120 * time.Millisecond), Target: cert.Integration, Profile: "kaizen4"},
			{ID: "ACCESS-TOKEN-REUSED", Title: "reuses its access token until it expires, then refreshes once",
				Area: "certification", Seeds: []string{"K4-NOTE-5", "K4-NOTE-7"}, Basis: "seed",
				Outcome: reports.Failed, Reason: certFailReason, Message: certFailReason + "\n" + strings.Join(certEvidence, "\n"), Evidence: certEvidence,
				Duration: reports.Duration(250 * time.Millisecond), Target: cert.Integration, Profile: "kaizen4"},
			{ID: "BACKS-OFF", Title: "on the throttle answer and on 5xx, backs off instead of hammering",
				Area: "certification", Basis: "assumed", Outcome: reports.Skipped, Reason: certNAReason,
				Duration: reports.Duration(5 * time.Millisecond), Target: cert.Integration, Profile: "kaizen4"},
		},
		Duration: reports.Duration(time.Second),
	}
}

// The failure message as the reports hold it: redacted, the escape gone.
func certMessage() string {
	return zoho.Redact(certFailReason + "\n" + strings.ReplaceAll(strings.ReplaceAll(strings.Join(certEvidence, "\n"), "\x1b[31m", ""), "\x1b[0m", ""))
}

const certVerdict = "FAIL: 1 of 3 scenarios failed (ACCESS-TOKEN-REUSED), 1 not applicable"

func writeCert(t *testing.T) (reports.Files, string) {
	t.Helper()
	dir := filepath.Join(t.TempDir(), "certificate") // WriteResults creates it
	files, err := reports.WriteResults(dir, certResults())
	if err != nil {
		t.Fatalf("WriteResults: %v", err)
	}
	return files, dir
}

func TestWriteResultsFiles(t *testing.T) {
	in := certResults()
	before := certResults()
	files, dir := writeCert(t)
	want := reports.Files{
		JUnit:       filepath.Join(dir, "junit.xml"),
		Results:     filepath.Join(dir, "results.json"),
		SummaryMD:   filepath.Join(dir, "summary.md"),
		SummaryHTML: filepath.Join(dir, "summary.html"),
	}
	if files != want {
		t.Errorf("Files = %+v, want %+v", files, want)
	}
	entries, _ := os.ReadDir(dir)
	if len(entries) != 4 || len(files.All()) != 4 {
		t.Errorf("dir holds %d files, All() %d paths; want 4 (no ginkgo.json)", len(entries), len(files.All()))
	}
	if !reflect.DeepEqual(in, before) {
		t.Error("WriteResults changed the Results it was given")
	}

	r, err := reports.ReadResults(files.Results)
	if err != nil {
		t.Fatal(err)
	}
	wantTotals := reports.Totals{Cases: 3, Passed: 1, Failed: 1, Skipped: 1, Assumed: 1}
	if r.Format != reports.ResultsFormat || r.Totals != wantTotals {
		t.Errorf("results.json format %d totals %+v, want %+v", r.Format, r.Totals, wantTotals)
	}
	if r.Run.Certificate == nil || *r.Run.Certificate != certificate {
		t.Errorf("results.json certificate %+v", r.Run.Certificate)
	}
	if len(r.Cases) != 3 || r.Cases[0].ID != "EXCHANGE-AT-ACCOUNTS-SERVER" || r.Cases[2].Seeds == nil {
		t.Errorf("results.json cases (order, seeds []): %+v", r.Cases)
	}
	if r.Cases[1].Message != certMessage() || r.Cases[2].Reason != certNAReason {
		t.Errorf("results.json failure %q, n/a reason %q", r.Cases[1].Message, r.Cases[2].Reason)
	}
	if got, want := strings.Join(r.Cases[0].Evidence, "\n"), zoho.Redact(strings.Join(certPassEvidence, "\n")); got != want {
		t.Errorf("results.json: a passed scenario's evidence %q, want %q", got, want)
	}
	if r.Verdict() != certVerdict || r.Pass() {
		t.Errorf("read back: verdict %q pass %v", r.Verdict(), r.Pass())
	}
}

func TestCertificateVerdict(t *testing.T) {
	outcomes := func(os ...reports.Outcome) reports.Results {
		r := reports.Results{Run: reports.RunMeta{Certificate: &reports.Certificate{Integration: "x"}}}
		for i, o := range os {
			r.Cases = append(r.Cases, reports.CaseResult{ID: string(rune('A' + i)), Outcome: o})
		}
		return r
	}
	p, f, s := reports.Passed, reports.Failed, reports.Skipped
	interrupted := outcomes(p, p)
	interrupted.RunFailures = []reports.RunFailure{{Node: "suite", Message: "interrupted"}}
	for _, tc := range []struct {
		r    reports.Results
		want string
		pass bool
	}{
		{outcomes(p, p, p, p, p, p, p, p, p), "PASS: 9 scenarios passed", true},
		{outcomes(p), "PASS: 1 scenario passed", true},
		{outcomes(p, s, p), "PASS: 2 scenarios passed, 1 not applicable", true},
		{outcomes(f, p, f, p, p, p, f, p, s), "FAIL: 3 of 9 scenarios failed (A, C, G), 1 not applicable", false},
		{outcomes(f), "FAIL: 1 of 1 scenario failed (A)", false},
		{outcomes(f, f, f, f, f, f, f), "FAIL: 7 of 7 scenarios failed (A, B, C, D, E, +2 more)", false},
		{outcomes(s, s, s), "FAIL: no scenario applied (3 not applicable)", false},
		{outcomes(), "FAIL: no scenario ran", false},
		{interrupted, "FAIL: 1 run failure ([suite] interrupted), 0 of 2 scenarios failed", false},
	} {
		if got := tc.r.CertificateVerdict(); got != tc.want {
			t.Errorf("CertificateVerdict() = %q, want %q", got, tc.want)
		}
		if got := tc.r.Verdict(); got != tc.want {
			t.Errorf("Verdict() of a certificate = %q, want %q", got, tc.want)
		}
		if tc.r.Pass() != tc.pass {
			t.Errorf("%q: Pass() = %v", tc.want, tc.r.Pass())
		}
	}
	// Without a certificate, Verdict keeps its words.
	plain := outcomes(p, s)
	plain.Run.Certificate = nil
	if got := plain.Verdict(); got != "PASS: 1 passed, 0 failed, 1 skipped" {
		t.Errorf("Verdict() of a conformance run = %q", got)
	}
}

func TestCertificateMarkdown(t *testing.T) {
	files, _ := writeCert(t)
	md := string(readFile(t, files.SummaryMD))
	for _, want := range []string{
		"# zconform integration certificate\n",
		"| Verdict | **" + certVerdict + "** |",
		"| Integration | acme-zoho-sync |", "| Version | 2.3.1 |", "| Adapter | certify/adapters/nodesdk/adapter.js |",
		"| Expected profile | kaizen4 |", "| Date | 2026-11-28 17:00:00 UTC |",
		"| Scenarios | 3 scenarios: 1 pass, 1 fail, 1 not applicable |",
		"| Evidence | each scenario's requests, answers and the integration's reports, whatever its verdict: evidence in results.json, each testcase's system-out in junit.xml |",
		"| Resting on an assumption | 1 of 3 scenarios (basis ⚠️ assumed) |",
		"| Seed ID | Rule | Scenario | Outcome | Basis |",
		"| **K4-NOTE-1** | a redirect-flow grant token is valid for one minute | EXCHANGE-AT-ACCOUNTS-SERVER: exchanges a fresh grant once, within its lifetime, at the accounts-server the redirect named | ✅ pass | seed |",
		"| **K4-NOTE-5** | an access token is valid for one hour | ACCESS-TOKEN-REUSED: reuses its access token until it expires, then refreshes once | [❌ fail](#failure-1) | seed |",
		"| **K4-NOTE-8** |", "— no scenario",
		"### Faults on the wire and other rules (no seed ID)\n",
		"| — |  | BACKS-OFF: on the throttle answer and on 5xx, backs off instead of hammering | ⏭️ not applicable | ⚠️ assumed |",
		"## Failed scenarios (1)\n",
		"<a id=\"failure-1\"></a>\n\n### ACCESS-TOKEN-REUSED: reuses its access token until it expires, then refreshes once\n\narea certification · seeds K4-NOTE-5, K4-NOTE-7 · basis seed\n",
		"```\n" + certMessage() + "\n```\n",
		"## Not applicable (1)\n",
		"| Scenario | Reason |",
		"| BACKS-OFF: on the throttle answer and on 5xx, backs off instead of hammering | " + certNAReason + " |",
	} {
		if !strings.Contains(md, want) {
			t.Errorf("summary.md lacks %q", want)
		}
	}
	for _, not := range []string{"| Target |", "| Cases |", "certification summary", "Cases without a seed ID", "## Skipped", "## Failures", "skipped", "no case run"} {
		if strings.Contains(md, not) {
			t.Errorf("summary.md of a certificate holds %q", not)
		}
	}
	if !strings.Contains(certMessage(), "refresh_token=1000.9f8e…") || !strings.Contains(certMessage(), "client_secret=0123…") {
		t.Fatalf("the evidence is not redacted as expected: %q", certMessage())
	}
}

func TestCertificateHTML(t *testing.T) {
	files, _ := writeCert(t)
	page := readFile(t, files.SummaryHTML)
	doc, err := html.Parse(bytes.NewReader(page))
	if err != nil {
		t.Fatal(err)
	}
	var title, h1, verdict, pre string
	header := map[string]string{} // header table: th -> td
	var naRows, seedCells []string
	var walk func(n *html.Node, in string)
	walk = func(n *html.Node, in string) {
		if n.Type == html.ElementNode {
			switch n.DataAtom {
			case atom.Title:
				title = textOf(n)
			case atom.H1:
				h1 = textOf(n)
			case atom.Header:
				in = "header"
			case atom.Section:
				in = attr(n, "id")
			case atom.P:
				if strings.HasPrefix(attr(n, "class"), "verdict") {
					verdict = attr(n, "class") + ": " + textOf(n)
				}
			case atom.Pre:
				if in == "failures" {
					pre = textOf(n)
				}
			case atom.Tr:
				if th := child(n, atom.Th); in == "header" && th != nil {
					header[textOf(th)] = textOf(child(n, atom.Td))
				}
				if in == "skipped" && child(n, atom.Td) != nil {
					naRows = append(naRows, textOf(n))
				}
			case atom.Td:
				if strings.HasPrefix(attr(n, "class"), "seed ") {
					seedCells = append(seedCells, textOf(n))
				}
			}
		}
		for c := n.FirstChild; c != nil; c = c.NextSibling {
			walk(c, in)
		}
	}
	walk(doc, "")
	if title != "zconform integration certificate: acme-zoho-sync 2.3.1: FAIL" || h1 != "zconform integration certificate" {
		t.Errorf("title %q, h1 %q", title, h1)
	}
	if verdict != "verdict fail: "+certVerdict {
		t.Errorf("verdict %q", verdict)
	}
	b := reports.CurrentBuild()
	wantHeader := map[string]string{
		"Integration": "acme-zoho-sync", "Version": "2.3.1", "Adapter": "certify/adapters/nodesdk/adapter.js",
		"Expected profile": "kaizen4", "Date": "2026-11-28 17:00:00 UTC",
		"Scenarios":                "3 scenarios: 1 pass, 1 fail, 1 not applicable",
		"Evidence":                 reports.EvidenceWhere,
		"Resting on an assumption": "1 of 3 scenarios (basis ⚠️ assumed)",
		"Seed IDs":                 "5 of 55 exercised by a scenario; 3 all passed, 2 with a failure",
		"Duration":                 "1s",
		"Judged by":                b.Version + ", commit " + b.Commit + ", " + b.Go,
		"Catalogue":                fixtures.CatalogueDigest(),
	}
	if !reflect.DeepEqual(header, wantHeader) {
		t.Errorf("header\n got %v\nwant %v", header, wantHeader)
	}
	if pre != certMessage() {
		t.Errorf("failure <pre> = %q, want %q", pre, certMessage())
	}
	if len(naRows) != 1 || naRows[0] != "BACKS-OFF: on the throttle answer and on 5xx, backs off instead of hammering"+certNAReason {
		t.Errorf("not applicable rows: %q", naRows)
	}
	if len(seedCells) != 56 || seedCells[55] != "—" { // the 55 seeds (30 K4, 25 ZA), then the group without one
		t.Errorf("%d seed cells, last %q", len(seedCells), seedCells[len(seedCells)-1])
	}
	text := textOf(doc)
	for _, want := range []string{"Failed scenarios (1)", "Not applicable (1)", "Faults on the wire and other rules (no seed ID)",
		"✅ pass", "❌ fail", "⏭️ not applicable", "— no scenario"} {
		if !strings.Contains(text, want) {
			t.Errorf("summary.html text lacks %q", want)
		}
	}
	if bytes.Contains(page, []byte("<b>")) || !bytes.Contains(page, []byte("&lt;b&gt;")) {
		t.Error("summary.html does not escape the evidence")
	}
}

func attr(n *html.Node, key string) string {
	for _, a := range n.Attr {
		if a.Key == key {
			return a.Val
		}
	}
	return ""
}

func child(n *html.Node, a atom.Atom) *html.Node {
	for c := n.FirstChild; c != nil; c = c.NextSibling {
		if c.DataAtom == a {
			return c
		}
	}
	return nil
}

func TestCertificateJUnit(t *testing.T) {
	files, _ := writeCert(t)
	var j junitCounts
	if err := xml.Unmarshal(readFile(t, files.JUnit), &j); err != nil {
		t.Fatal(err)
	}
	if len(j.Suites) != 1 || j.Tests != 3 || j.Failures != 1 || j.Errors != 0 {
		t.Fatalf("<testsuites> tests=%d failures=%d errors=%d suites=%d", j.Tests, j.Failures, j.Errors, len(j.Suites))
	}
	s := j.Suites[0]
	if s.Name != "zconform certification: acme-zoho-sync" || s.Tests != 3 || s.Failures != 1 || s.Skipped != 1 || s.Time != "1.000" {
		t.Errorf("<testsuite> %q tests=%d failures=%d skipped=%d time=%s", s.Name, s.Tests, s.Failures, s.Skipped, s.Time)
	}
	props := map[string]string{}
	for _, p := range s.Properties {
		props[p.Name] = p.Value
	}
	for k, v := range map[string]string{"integration": "acme-zoho-sync", "version": "2.3.1", "adapter": "certify/adapters/nodesdk/adapter.js",
		"profile": "kaizen4", "started": "2026-11-28T17:00:00Z", "verdict": certVerdict} {
		if props[k] != v {
			t.Errorf("suite property %s = %q, want %q", k, props[k], v)
		}
	}
	for i, c := range s.Cases {
		if c.Classname != "certification" || c.Name != certResults().Cases[i].Name() {
			t.Errorf("testcase %d: name %q classname %q", i, c.Name, c.Classname)
		}
	}
	failed, na := s.Cases[1], s.Cases[2]
	if failed.Status != "failed" || len(failed.Failure) != 1 || failed.Failure[0].Message != certMessage() || !strings.HasPrefix(failed.Failure[0].Body, certMessage()) {
		t.Errorf("failed testcase: %+v", failed)
	}
	if !strings.Contains(failed.SystemOut, "failure: "+certFailReason+"\n") {
		t.Errorf("failed testcase system-out:\n%s", failed.SystemOut)
	}
	// a passed scenario's evidence is its system-out; a failed one's is in
	// its failure message, not twice
	passed := s.Cases[0]
	if want := "evidence:\n  " + zoho.Redact(strings.Join(certPassEvidence, "\n  ")) + "\n"; !strings.Contains(passed.SystemOut, want) {
		t.Errorf("passed testcase system-out lacks its evidence %q:\n%s", want, passed.SystemOut)
	}
	if strings.Contains(failed.SystemOut, "evidence:") {
		t.Errorf("failed testcase system-out repeats the failure's evidence:\n%s", failed.SystemOut)
	}
	if na.Status != "skipped" || na.Skipped == nil || *na.Skipped != certNAReason {
		t.Errorf("not applicable testcase: %+v", na)
	}

	// A second reader agrees.
	suites, err := junit.IngestFile(files.JUnit)
	if err != nil || len(suites) != 1 {
		t.Fatalf("go-junit: %v, %d suites", err, len(suites))
	}
	if got, want := suites[0].Totals, (junit.Totals{Tests: 3, Passed: 1, Skipped: 1, Failed: 1, Duration: 375 * time.Millisecond}); got != want {
		t.Errorf("go-junit totals %+v, want %+v", got, want)
	}
	if suites[0].Tests[1].Message != certMessage() || suites[0].Properties["integration"] != "acme-zoho-sync" {
		t.Errorf("go-junit: message %q, properties %v", suites[0].Tests[1].Message, suites[0].Properties)
	}
}

// No file holds the token or the secret whole, nor a half of the token.
func TestCertificateHoldsNoSecret(t *testing.T) {
	files, dir := writeCert(t)
	entries, _ := os.ReadDir(dir)
	if len(entries) != len(files.All()) {
		t.Errorf("%d files in dir, %d reported", len(entries), len(files.All()))
	}
	parts := append([]string{testRefresh, testSecret}, strings.Split(testRefresh, ".")[1:]...)
	for _, e := range entries {
		data := readFile(t, filepath.Join(dir, e.Name()))
		for _, p := range parts {
			if bytes.Contains(data, []byte(p)) {
				t.Errorf("%s contains %s", e.Name(), p)
			}
		}
		// The redacted forms are there: the evidence still says what was sent.
		if !bytes.Contains(data, []byte("refresh_token="+zoho.RedactValue(testRefresh))) || !bytes.Contains(data, []byte("client_secret="+zoho.RedactValue(testSecret))) {
			t.Errorf("%s lacks the redacted evidence", e.Name())
		}
		if bytes.Contains(data, []byte("\x1b")) {
			t.Errorf("%s holds a terminal escape", e.Name())
		}
	}
}

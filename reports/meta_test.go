package reports_test

import (
	"bytes"
	"context"
	"encoding/json"
	"encoding/xml"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/onsi/ginkgo/v2/types"
	"golang.org/x/net/html"

	"github.com/zconform/zconform/fixtures"
	"github.com/zconform/zconform/internal/version"
	"github.com/zconform/zconform/reports"
	"github.com/zconform/zconform/suites/target"
)

func TestBreaksFromEnv(t *testing.T) {
	if reports.EnvFakeBreaks != target.EnvFakeBreaks {
		t.Errorf("reports.EnvFakeBreaks = %q, the fake reads %q", reports.EnvFakeBreaks, target.EnvFakeBreaks)
	}
	t.Setenv(target.EnvFakeBreaks, " K4-NOTE-8, ,DEV-TOKEN-ERROR-HTTP-400,K4-NOTE-8,")
	if got, want := reports.BreaksFromEnv(), []string{"K4-NOTE-8", "DEV-TOKEN-ERROR-HTTP-400"}; !slices.Equal(got, want) {
		t.Errorf("BreaksFromEnv() = %q, want %q", got, want)
	}
	t.Setenv(target.EnvFakeBreaks, "")
	if got := reports.BreaksFromEnv(); got != nil {
		t.Errorf("BreaksFromEnv() without breaks = %q, want nil", got)
	}
}

func TestCurrentBuild(t *testing.T) {
	b, v := reports.CurrentBuild(), version.Get()
	if b.Version != v.Version || b.Commit != v.Commit || b.Go != v.Go || b.Catalogue != fixtures.CatalogueDigest() || b.Catalogue == "" {
		t.Errorf("CurrentBuild() = %+v; version.Get() = %+v, catalogue %s", b, v, fixtures.CatalogueDigest())
	}
	if want := "zconform " + v.Version + ", commit " + v.Commit + ", " + v.Go + ", catalogue " + b.Catalogue; b.String() != want {
		t.Errorf("String() = %q, want %q", b.String(), want)
	}
	if s := (reports.Build{}).String(); s != "" {
		t.Errorf("zero Build: %q", s)
	}
}

var testBreaks = []string{"K4-TOKEN-CODE-b", "DEV-TOKEN-ERROR-HTTP-400"}

// Every file records the fake's breaks and the build that wrote it, the
// build whatever the caller passed: Write and WriteResults alike.
func TestBreaksAndBuildInEveryReport(t *testing.T) {
	b := reports.CurrentBuild()
	forged := reports.Build{Version: "v9.9.9", Commit: "forged", Go: "go0", Catalogue: "sha256:forged"}
	run := testRun
	run.Breaks = append(slices.Clone(testBreaks), " ", testBreaks[0]) // blanks and repeats go
	run.Build = forged
	written := map[string]reports.Files{}
	var err error
	if written["Write"], err = reports.Write(t.TempDir(), mainReport(t), run); err != nil {
		t.Fatal(err)
	}
	hand := reports.FromReport(passingReport(t), testRun)
	hand.Run.Breaks, hand.Run.Build = run.Breaks, forged
	if written["WriteResults"], err = reports.WriteResults(t.TempDir(), hand); err != nil {
		t.Fatal(err)
	}
	cert, _ := writeCert(t)
	written["certificate"] = cert

	for name, files := range written {
		t.Run(name, func(t *testing.T) {
			wantBreaks := testBreaks
			if name == "certificate" {
				wantBreaks = nil
			}
			r, err := reports.ReadResults(files.Results)
			if err != nil {
				t.Fatal(err)
			}
			if r.Run.Build != b || !slices.Equal(r.Run.Breaks, wantBreaks) {
				t.Errorf("results.json: build %+v breaks %q; want %+v %q", r.Run.Build, r.Run.Breaks, b, wantBreaks)
			}
			var raw struct {
				Run struct {
					Build  map[string]string `json:"build"`
					Breaks []string          `json:"breaks"`
				} `json:"run"`
			}
			if err := json.Unmarshal(readFile(t, files.Results), &raw); err != nil {
				t.Fatal(err)
			}
			if raw.Run.Build["catalogue"] != fixtures.CatalogueDigest() || raw.Run.Build["version"] != b.Version ||
				raw.Run.Build["commit"] != b.Commit || raw.Run.Build["go"] != b.Go {
				t.Errorf("results.json run.build = %v", raw.Run.Build)
			}

			var j junitCounts
			if err := xml.Unmarshal(readFile(t, files.JUnit), &j); err != nil {
				t.Fatal(err)
			}
			props := map[string]string{}
			for _, p := range j.Suites[0].Properties {
				props[p.Name] = p.Value
			}
			want := map[string]string{"zconform_version": b.Version, "zconform_commit": b.Commit, "go_version": b.Go,
				"catalogue_digest": b.Catalogue, "breaks": strings.Join(wantBreaks, ",")}
			for k, v := range want {
				if props[k] != v {
					t.Errorf("junit.xml suite property %s = %q, want %q", k, props[k], v)
				}
			}
			if _, ok := props["breaks"]; ok != (len(wantBreaks) > 0) {
				t.Errorf("junit.xml suite property breaks present: %v, want %v", ok, len(wantBreaks) > 0)
			}
			suiteOut := string(readFile(t, files.JUnit))
			if !strings.Contains(suiteOut, "build: "+b.String()+"\n") ||
				(len(wantBreaks) > 0 && !strings.Contains(suiteOut, "breaks: "+strings.Join(wantBreaks, ", ")+"\n")) {
				t.Errorf("junit.xml suite system-out lacks the build or the breaks")
			}

			label := "zconform build"
			if name == "certificate" {
				label = "Judged by"
			}
			md := string(readFile(t, files.SummaryMD))
			rows := []string{"| " + label + " | " + b.Version + ", commit " + b.Commit + ", " + b.Go + " |", "| Catalogue | " + b.Catalogue + " |"}
			if len(wantBreaks) > 0 {
				rows = append(rows, "| Fake breaks | K4-TOKEN-CODE-b, DEV-TOKEN-ERROR-HTTP-400 |")
			} else if strings.Contains(md, "Fake breaks") {
				t.Error("summary.md names breaks the run did not have")
			}
			for _, row := range rows {
				if !strings.Contains(md, row+"\n") {
					t.Errorf("summary.md lacks %q", row)
				}
			}
			doc, err := html.Parse(bytes.NewReader(readFile(t, files.SummaryHTML)))
			if err != nil {
				t.Fatal(err)
			}
			text := textOf(doc)
			for _, s := range []string{label + b.Version + ", commit " + b.Commit + ", " + b.Go, "Catalogue" + b.Catalogue} {
				if !strings.Contains(text, s) {
					t.Errorf("summary.html lacks %q", s)
				}
			}
			if (len(wantBreaks) > 0) != strings.Contains(text, "Fake breaksK4-TOKEN-CODE-b, DEV-TOKEN-ERROR-HTTP-400") {
				t.Errorf("summary.html: breaks shown %v, want %v", !(len(wantBreaks) > 0), len(wantBreaks) > 0)
			}
			for _, f := range files.All() {
				if bytes.Contains(readFile(t, f), []byte("forged")) {
					t.Errorf("%s holds the build the caller passed", filepath.Base(f))
				}
			}
		})
	}
}

// noCaseReport is a run whose label filter matched none of its 3 specs:
// Ginkgo reports them skipped, and says that none was to run.
func noCaseReport(t *testing.T) types.Report {
	t.Helper()
	var specs types.SpecReports
	for _, m := range []reports.CaseMeta{metaExchangeOK, metaCodeReused, metaGrantExpiry} {
		specs = append(specs, caseSpec(m, types.SpecStateSkipped, 0))
	}
	return types.Report{
		SuiteDescription: "zconform conformance",
		SuiteSucceeded:   true,
		StartTime:        testStart,
		PreRunStats:      types.PreRunStats{TotalSpecs: 3, SpecsThatWillRun: 0},
		SpecReports:      specs,
	}
}

func TestNoCaseMatched(t *testing.T) {
	run := testRun
	run.LabelFilter = "case:NOPE"
	r := reports.FromReport(noCaseReport(t), run)
	const verdict = "NO CASES: the label filter 'case:NOPE' matched none of the 3 cases"
	if !r.NoCaseMatched() || r.Pass() || r.Verdict() != verdict {
		t.Errorf("NoCaseMatched %v, Pass %v, Verdict %q; want true, false, %q", r.NoCaseMatched(), r.Pass(), r.Verdict(), verdict)
	}
	if r.Selection == nil || *r.Selection != (reports.Selection{Specs: 3, Matched: 0}) {
		t.Errorf("Selection = %+v", r.Selection)
	}

	files, err := reports.Write(t.TempDir(), noCaseReport(t), run)
	if err != nil {
		t.Fatal(err)
	}
	back, err := reports.ReadResults(files.Results)
	if err != nil {
		t.Fatal(err)
	}
	if !back.NoCaseMatched() || back.Verdict() != verdict {
		t.Errorf("results.json read back: NoCaseMatched %v, verdict %q", back.NoCaseMatched(), back.Verdict())
	}
	var j junitCounts
	if err := xml.Unmarshal(readFile(t, files.JUnit), &j); err != nil {
		t.Fatal(err)
	}
	props := map[string]string{}
	for _, p := range j.Suites[0].Properties {
		props[p.Name] = p.Value
	}
	if props["verdict"] != verdict || props["no_cases"] != "true" || props["label_filter"] != "case:NOPE" {
		t.Errorf("junit.xml suite properties %v", props)
	}
	if md := string(readFile(t, files.SummaryMD)); !strings.Contains(md, "| Verdict | **"+verdict+"** |") {
		t.Errorf("summary.md lacks the verdict:\n%s", md)
	}
	if page := string(readFile(t, files.SummaryHTML)); !strings.Contains(page, `<p class="verdict fail">NO CASES: the label filter &#39;case:NOPE&#39; matched none of the 3 cases</p>`) {
		t.Errorf("summary.html lacks the verdict")
	}

	// Filters other than the label filter.
	r = reports.FromReport(noCaseReport(t), testRun)
	r.Run.LabelFilter = ""
	if want := "NO CASES: the run's filters (--focus, --skip) matched none of the 3 cases"; r.Verdict() != want {
		t.Errorf("verdict without a label filter %q, want %q", r.Verdict(), want)
	}
}

// A run whose cases were to run but did not (a failed BeforeSuite, every
// case skipped) matched its cases: it is no "NO CASES" run. Nor are
// results without a Selection (built by hand, or read from an older
// results.json).
func TestNoCaseMatchedOnlyWhenTheFilterMatchedNone(t *testing.T) {
	bs := beforeSuiteFailedReport(t)
	bs.PreRunStats = types.PreRunStats{TotalSpecs: 3, SpecsThatWillRun: 3}
	if r := reports.FromReport(bs, testRun); r.NoCaseMatched() || !strings.HasPrefix(r.Verdict(), "FAIL: 1 run failure") {
		t.Errorf("failed BeforeSuite: NoCaseMatched %v, verdict %q", r.NoCaseMatched(), r.Verdict())
	}
	empty := reports.Results{Format: reports.ResultsFormat}
	if empty.NoCaseMatched() || empty.Verdict() != "FAIL: no case ran" {
		t.Errorf("no Selection: NoCaseMatched %v, verdict %q", empty.NoCaseMatched(), empty.Verdict())
	}
	p := passingReport(t)
	p.PreRunStats = types.PreRunStats{TotalSpecs: 3, SpecsThatWillRun: 3}
	if r := reports.FromReport(p, testRun); r.NoCaseMatched() || !r.Pass() {
		t.Errorf("passing run: NoCaseMatched %v, Pass %v", r.NoCaseMatched(), r.Pass())
	}
}

// A real Ginkgo run whose label filter matches nothing: Ginkgo says
// "Test Suite Passed", the reports say NO CASES, and they record the
// fake's breaks from the environment.
func TestNoCaseMatchedUnderGinkgo(t *testing.T) {
	if testing.Short() {
		t.Skip("-short: skipping the ginkgo run")
	}
	goBin, err := exec.LookPath("go")
	if err != nil {
		t.Skipf("no go command on PATH (%v)", err)
	}
	out := filepath.Join(t.TempDir(), "reports")
	ctx, cancel := context.WithTimeout(t.Context(), 5*time.Minute)
	defer cancel()
	cmd := exec.CommandContext(ctx, goBin, "tool", "ginkgo", "--no-color", "--succinct", "--label-filter=case:NOPE", "./testdata/_parallel")
	cmd.Env = append(os.Environ(), "ZCONFORM_E2E_OUT="+out, target.EnvFakeBreaks+"="+strings.Join(testBreaks, ","))
	var log bytes.Buffer
	cmd.Stdout, cmd.Stderr = &log, &log
	if err := cmd.Run(); err != nil {
		t.Fatalf("ginkgo: %v (want exit status 0: Ginkgo passes a suite that ran nothing)\n%s", err, log.String())
	}
	r, err := reports.ReadResults(filepath.Join(out, reports.ResultsFile))
	if err != nil {
		t.Fatalf("%v\nginkgo output:\n%s", err, log.String())
	}
	const verdict = "NO CASES: the label filter 'case:NOPE' matched none of the 8 cases"
	if !r.NoCaseMatched() || r.Pass() || r.Verdict() != verdict {
		t.Errorf("NoCaseMatched %v, Pass %v, verdict %q; want true, false, %q", r.NoCaseMatched(), r.Pass(), r.Verdict(), verdict)
	}
	if !slices.Equal(r.Run.Breaks, testBreaks) || r.Run.Build != reports.CurrentBuild() {
		t.Errorf("run: breaks %q, build %+v", r.Run.Breaks, r.Run.Build)
	}
}

// zconform diff says when two runs had the fake break other rules, or
// judged by other catalogues.
func TestDiffNamesBreaksAndCatalogue(t *testing.T) {
	old := results(reports.RunMeta{Target: "fake", Profile: "kaizen4", Build: reports.Build{Catalogue: "sha256:aaaaaaaaaaaa"}},
		cr("A", reports.Passed, obs(200, "")))
	new := results(reports.RunMeta{Target: "fake", Profile: "kaizen4", Breaks: testBreaks, Build: reports.Build{Catalogue: "sha256:bbbbbbbbbbbb"}},
		cr("A", reports.Passed, obs(200, "")))
	d := reports.Diff(old, new)
	want := []reports.SetupChange{
		{What: "fake breaks", Old: "", New: "K4-TOKEN-CODE-b, DEV-TOKEN-ERROR-HTTP-400"},
		{What: "catalogue", Old: "sha256:aaaaaaaaaaaa", New: "sha256:bbbbbbbbbbbb"},
	}
	if !slices.Equal(d.Setup, want) || d.Regressed {
		t.Errorf("setup %+v, regressed %v; want %+v", d.Setup, d.Regressed, want)
	}
	text := d.Text()
	for _, line := range []string{"  fake breaks: none → K4-TOKEN-CODE-b, DEV-TOKEN-ERROR-HTTP-400\n",
		"  catalogue: sha256:aaaaaaaaaaaa → sha256:bbbbbbbbbbbb\n    the runs judged by different catalogues or contracts\n"} {
		if !strings.Contains(text, line) {
			t.Errorf("diff text lacks %q:\n%s", line, text)
		}
	}
	// A results.json from before builds were recorded has no catalogue:
	// no change.
	old.Run.Build = reports.Build{}
	if d := reports.Diff(old, new); len(d.Setup) != 1 {
		t.Errorf("setup %+v, want the breaks only", d.Setup)
	}
}

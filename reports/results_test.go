package reports_test

import (
	"bytes"
	"encoding/json"
	"fmt"
	"os"
	"path/filepath"
	"reflect"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/onsi/ginkgo/v2/types"

	"github.com/zconform/zconform/reports"
)

func caseByID(t *testing.T, r reports.Results, id string) reports.CaseResult {
	t.Helper()
	for _, c := range r.Cases {
		if c.ID == id {
			return c
		}
	}
	t.Fatalf("no case %s in results (cases: %v)", id, caseIDs(r))
	return reports.CaseResult{}
}

func caseIDs(r reports.Results) []string {
	var ids []string
	for _, c := range r.Cases {
		ids = append(ids, c.ID)
	}
	return ids
}

func TestFromReportSortsCasesOut(t *testing.T) {
	r := reports.FromReport(mainReport(t), testRun)

	// The filtered-out case and the spec that names no case are no cases;
	// the case failed in its BeforeEach is one.
	wantIDs := []string{"TOKEN-EXCHANGE-OK", "TOKEN-CODE-REUSED", "NOTE-GRANT-EXPIRY", "TOKEN-MISSING-PARAMS", "DC-GRANT-OTHER-DC"}
	if got := caseIDs(r); !slices.Equal(got, wantIDs) {
		t.Errorf("cases = %v, want %v (catalogue order)", got, wantIDs)
	}
	wantTotals := reports.Totals{Cases: 5, Passed: 2, Failed: 2, Skipped: 1, Assumed: 1, RunFailures: 1}
	if r.Totals != wantTotals {
		t.Errorf("totals = %+v, want %+v", r.Totals, wantTotals)
	}
	wantRun := testRun
	wantRun.Build = reports.CurrentBuild()
	if r.Format != reports.ResultsFormat || !reflect.DeepEqual(r.Run, wantRun) || r.Duration.D() != 2*time.Second || r.Suite != "zconform conformance" {
		t.Errorf("run: format %d, run %+v, duration %v, suite %q", r.Format, r.Run, r.Duration, r.Suite)
	}

	ok := caseByID(t, r, "TOKEN-EXCHANGE-OK")
	if ok.Outcome != reports.Passed || ok.Reason != "" || ok.Message != "" || ok.MetaSource != "" ||
		ok.Catalogue != catalogueFile+":10" || ok.DC != "us" || ok.Duration.D() != 120*time.Millisecond ||
		!slices.Equal(ok.Seeds, []string{"K4-NOTE-5"}) || ok.Observed == nil || *ok.Observed != (reports.Observed{Step: "exchange", Status: 200}) {
		t.Errorf("passed case (raw entry value): %+v", ok)
	}

	reused := caseByID(t, r, "TOKEN-CODE-REUSED")
	if reused.Outcome != reports.Failed || reused.State != "" || reused.MetaSource != "" ||
		!slices.Equal(reused.Seeds, metaCodeReused.Seeds) || reused.Title != metaCodeReused.Title || reused.Area != "token-exchange" {
		t.Errorf("failed case (AsJSON-only entry): %+v", reused)
	}
	if want := "K4-TOKEN-CODE-b: a used grant token must get invalid_code"; reused.Reason != want {
		t.Errorf("failed case reason = %q, want the message's first line %q", reused.Reason, want)
	}
	if !strings.Contains(reused.Message, "came back: HTTP 200") || !strings.Contains(reused.Message, "client_secret=0123…") ||
		!strings.Contains(reused.Message, "code=1000.0123…") {
		t.Errorf("failed case message not whole or not redacted: %q", reused.Message)
	}
	if reused.Observed == nil || reused.Observed.Step != "second exchange of code 1000.0123…" || reused.Observed.Status != 200 {
		t.Errorf("failed case observed (AsJSON only, redacted): %+v", reused.Observed)
	}

	skipped := caseByID(t, r, "NOTE-GRANT-EXPIRY")
	if skipped.Outcome != reports.Skipped || skipped.Reason != skipReason || skipped.DC != "eu" ||
		!slices.Equal(skipped.Needs, []string{"clock"}) || skipped.Observed != nil {
		t.Errorf("skipped case (crossed entry): %+v", skipped)
	}

	assumed := caseByID(t, r, "TOKEN-MISSING-PARAMS")
	if !assumed.Assumed() || assumed.Outcome != reports.Passed || len(assumed.Seeds) != 0 || assumed.Seeds == nil ||
		assumed.Observed == nil || assumed.Observed.Error != "invalid_request" {
		t.Errorf("assumed case: %+v", assumed)
	}

	otherDC := caseByID(t, r, "DC-GRANT-OTHER-DC")
	if otherDC.MetaSource != "labels" || otherDC.Outcome != reports.Failed || otherDC.Title != metaOtherDC.Title ||
		otherDC.Area != "data-centres" || otherDC.Basis != "seed" || !slices.Equal(otherDC.Seeds, []string{"K4-TOKEN-CLIENT-b"}) ||
		!slices.Equal(otherDC.Needs, []string{"slow"}) || otherDC.Target != "fake" || otherDC.Profile != "kaizen4" || otherDC.DC != "" ||
		otherDC.Catalogue != catalogueFile+":50" || !strings.HasPrefix(otherDC.Reason, "could not register the EU client") {
		t.Errorf("case failed before its body (from labels): %+v", otherDC)
	}

	if len(r.RunFailures) != 1 {
		t.Fatalf("run failures = %+v, want the SynchronizedBeforeSuite", r.RunFailures)
	}
	f := r.RunFailures[0]
	if f.Node != "SynchronizedBeforeSuite" || f.State != "failed" || f.Name() != "[SynchronizedBeforeSuite]" ||
		!strings.HasPrefix(f.Message, "target fake is not reachable") || strings.Contains(f.Message, testRefresh) ||
		f.Location != "/src/suites/conformance/conformance_suite_test.go:33" {
		t.Errorf("run failure: %+v", f)
	}
}

// The three forms an entry's value takes (raw in process, JSON-decoded
// map after crossing processes, AsJSON only) give the same case.
func TestEntryFormsDecodeAlike(t *testing.T) {
	var got []reports.CaseResult
	for _, form := range []entryForm{inProcess, crossed, asJSONOnly} {
		spec := caseSpec(metaGrantExpiry, types.SpecStatePassed, time.Second)
		spec.ReportEntries = types.ReportEntries{
			entry(t, form, "unrelated", map[string]int{"id": 3}),
			entry(t, form, reports.EntryName, metaGrantExpiry),
			entry(t, form, reports.ObservedEntryName, reports.Observed{Step: "first", Status: 302}),
			entry(t, form, reports.ObservedEntryName, reports.Observed{Step: "last", Status: 200, Error: "invalid_code"}),
		}
		r := reports.FromReport(types.Report{SuiteSucceeded: true, SpecReports: types.SpecReports{spec}}, testRun)
		if len(r.Cases) != 1 {
			t.Fatalf("form %d: %d cases", form, len(r.Cases))
		}
		got = append(got, r.Cases[0])
	}
	for i, c := range got {
		if c.ID != metaGrantExpiry.ID || c.DC != "eu" || c.MetaSource != "" || !slices.Equal(c.Seeds, metaGrantExpiry.Seeds) {
			t.Errorf("form %d: %+v", i, c)
		}
		if c.Observed == nil || *c.Observed != (reports.Observed{Step: "last", Status: 200, Error: "invalid_code"}) {
			t.Errorf("form %d: observed %+v, want the last one", i, c.Observed)
		}
		if !reflect.DeepEqual(c, got[0]) {
			t.Errorf("form %d decodes to %+v, form 0 to %+v", i, c, got[0])
		}
	}
}

// A report sent through Ginkgo's JSON encoding whole (as between parallel
// processes) gives the same results as the report it came from.
func TestReportThroughJSONGivesSameResults(t *testing.T) {
	report := mainReport(t)
	// Ginkgo encodes an entry value from its raw value: it only ever
	// encodes values that have one (in the process that added them, or
	// decoded from JSON). Give the fixture's AsJSON-only values theirs.
	for i, sr := range report.SpecReports {
		for j, e := range sr.ReportEntries {
			if e.Value.GetRawValue() == nil {
				var v types.ReportEntryValue
				data, _ := json.Marshal(map[string]string{"AsJSON": e.Value.AsJSON})
				if err := v.UnmarshalJSON(data); err != nil {
					t.Fatal(err)
				}
				report.SpecReports[i].ReportEntries[j].Value = v
			}
		}
	}
	data, err := json.Marshal(report)
	if err != nil {
		t.Fatal(err)
	}
	var back types.Report
	if err := json.Unmarshal(data, &back); err != nil {
		t.Fatal(err)
	}
	want, _ := json.Marshal(reports.FromReport(report, testRun))
	got, _ := json.Marshal(reports.FromReport(back, testRun))
	if !bytes.Equal(want, got) {
		t.Errorf("results differ after a JSON round trip of the report:\nbefore %s\nafter  %s", want, got)
	}
}

func TestVerdictAndFailed(t *testing.T) {
	for _, tc := range []struct {
		name    string
		report  types.Report
		verdict string
		failed  []string
		pass    bool
	}{
		{"passing", passingReport(t), "PASS: 2 passed, 0 failed, 1 skipped", nil, true},
		{"main", mainReport(t),
			"FAIL: 1 run failure ([SynchronizedBeforeSuite]), 2 failed (TOKEN-CODE-REUSED, DC-GRANT-OTHER-DC), 2 passed, 1 skipped",
			[]string{"TOKEN-CODE-REUSED", "DC-GRANT-OTHER-DC"}, false},
		{"before suite failed", beforeSuiteFailedReport(t), "FAIL: 1 run failure ([BeforeSuite]), no case ran", nil, false},
		{"empty", types.Report{SuiteSucceeded: true}, "FAIL: no case ran", nil, false},
	} {
		t.Run(tc.name, func(t *testing.T) {
			r := reports.FromReport(tc.report, testRun)
			if got := r.Verdict(); got != tc.verdict {
				t.Errorf("Verdict() = %q, want %q", got, tc.verdict)
			}
			if got := r.Failed(); !slices.Equal(got, tc.failed) {
				t.Errorf("Failed() = %q, want %q", got, tc.failed)
			}
			if r.Pass() != tc.pass {
				t.Errorf("Pass() = %v, want %v", r.Pass(), tc.pass)
			}
		})
	}
}

func TestVerdictListsFiveNamesThenCounts(t *testing.T) {
	var r reports.Results
	for i := range 8 {
		r.Cases = append(r.Cases, reports.CaseResult{ID: fmt.Sprintf("C-%d", i), Outcome: reports.Failed})
	}
	r.Cases = append(r.Cases, reports.CaseResult{ID: "C-1", Outcome: reports.Failed, DC: "eu"}, reports.CaseResult{ID: "OK", Outcome: reports.Passed})
	want := "FAIL: 9 failed (C-0, C-1, C-2, C-3, C-4, +3 more), 1 passed, 0 skipped"
	if got := r.Verdict(); got != want {
		t.Errorf("Verdict() = %q, want %q", got, want)
	}
	if got := r.Failed(); len(got) != 8 {
		t.Errorf("Failed() = %v: want each ID once", got)
	}
}

func TestSuiteLevelFailures(t *testing.T) {
	pass := passingReport(t)

	t.Run("interrupted", func(t *testing.T) {
		rep := pass
		rep.SuiteSucceeded = false
		rep.SpecialSuiteFailureReasons = []string{"Interrupted by User"}
		r := reports.FromReport(rep, testRun)
		if len(r.RunFailures) != 1 || r.RunFailures[0].Node != "suite" || r.RunFailures[0].Message != "Interrupted by User" {
			t.Fatalf("run failures = %+v", r.RunFailures)
		}
		if want := "FAIL: 1 run failure ([suite] Interrupted by User), 0 failed, 2 passed, 1 skipped"; r.Verdict() != want {
			t.Errorf("Verdict() = %q, want %q", r.Verdict(), want)
		}
	})
	t.Run("failed without a reason", func(t *testing.T) {
		rep := pass
		rep.SuiteSucceeded = false
		r := reports.FromReport(rep, testRun)
		if len(r.RunFailures) != 1 || r.Pass() {
			t.Errorf("a suite Ginkgo calls failed must not pass: %+v", r.RunFailures)
		}
	})
	t.Run("note when the suite succeeded", func(t *testing.T) {
		rep := pass
		rep.SpecialSuiteFailureReasons = []string{"Suite skipped in BeforeSuite"}
		r := reports.FromReport(rep, testRun)
		if len(r.RunFailures) != 0 || !slices.Equal(r.Notes, []string{"Suite skipped in BeforeSuite"}) || !r.Pass() {
			t.Errorf("notes %v, run failures %+v", r.Notes, r.RunFailures)
		}
	})
	t.Run("failed spec that is no case", func(t *testing.T) {
		rep := pass
		rep.SuiteSucceeded = false
		rep.SpecReports = append(slices.Clone(rep.SpecReports), types.SpecReport{
			LeafNodeType: types.NodeTypeIt, LeafNodeText: "has one spec per case", ContainerHierarchyTexts: []string{"catalogue"},
			State: types.SpecStatePanicked, Failure: types.Failure{Message: "Test Panicked", ForwardedPanic: "runtime error: index out of range"},
		})
		r := reports.FromReport(rep, testRun)
		if len(r.RunFailures) != 1 || r.RunFailures[0].Name() != "[It] catalogue has one spec per case" ||
			r.RunFailures[0].State != "panicked" || !strings.Contains(r.RunFailures[0].Message, "index out of range") {
			t.Errorf("run failures = %+v", r.RunFailures)
		}
	})
}

func TestPanickedCaseKeepsItsState(t *testing.T) {
	spec := caseSpec(metaExchangeOK, types.SpecStatePanicked, time.Second)
	spec.ReportEntries = types.ReportEntries{entry(t, crossed, reports.EntryName, metaExchangeOK)}
	spec.Failure = types.Failure{Message: "Test Panicked", ForwardedPanic: "nil map write with token " + testAccess}
	r := reports.FromReport(types.Report{SpecReports: types.SpecReports{spec}}, testRun)
	c := r.Cases[0]
	if c.Outcome != reports.Failed || c.State != "panicked" || c.Reason != "Test Panicked" ||
		!strings.Contains(c.Message, "nil map write with token 1000.aaaa…") || strings.Contains(c.Message, testAccess) {
		t.Errorf("panicked case: %+v", c)
	}
}

func TestReadResultsRoundTrips(t *testing.T) {
	dir := t.TempDir()
	files, err := reports.Write(dir, mainReport(t), testRun)
	if err != nil {
		t.Fatal(err)
	}
	got, err := reports.ReadResults(files.Results)
	if err != nil {
		t.Fatal(err)
	}
	want := reports.FromReport(mainReport(t), testRun)
	wantJSON, _ := json.Marshal(want)
	gotJSON, _ := json.Marshal(got)
	if !bytes.Equal(wantJSON, gotJSON) {
		t.Errorf("ReadResults changed the results:\nwritten %s\nread    %s", wantJSON, gotJSON)
	}
	if got.Verdict() != want.Verdict() || !slices.Equal(got.Failed(), want.Failed()) || got.Totals != want.Totals ||
		!got.Run.Started.Equal(testStart) || got.Duration != want.Duration || !reflect.DeepEqual(got.RunFailures, want.RunFailures) {
		t.Errorf("read back: verdict %q, failed %v, totals %+v, run %+v", got.Verdict(), got.Failed(), got.Totals, got.Run)
	}
	for i := range want.Cases {
		w, g := want.Cases[i], got.Cases[i]
		if g.ID != w.ID || g.Outcome != w.Outcome || g.Reason != w.Reason || g.Message != w.Message ||
			!reflect.DeepEqual(g.Observed, w.Observed) || g.Duration != w.Duration || !slices.Equal(g.Seeds, w.Seeds) {
			t.Errorf("case %d read back as %+v, written %+v", i, g, w)
		}
	}

	// The document's shape, for a later `zconform diff`.
	raw, _ := os.ReadFile(files.Results)
	for _, key := range []string{`"format": 1`, `"run": {`, `"target": "fake"`, `"label_filter": "!destructive"`, `"started": "2026-11-28T17:00:00Z"`,
		`"totals": {`, `"cases": [`, `"id": "TOKEN-CODE-REUSED"`, `"outcome": "failed"`, `"observed": {`, `"http_status": 200`,
		`"duration": "250ms"`, `"meta_source": "labels"`, `"run_failures": [`, `"catalogue": "fixtures/catalogue/cases.yaml:20"`} {
		if !bytes.Contains(raw, []byte(key)) {
			t.Errorf("results.json lacks %s", key)
		}
	}

	if _, err := reports.ReadResults(filepath.Join(dir, "missing.json")); err == nil {
		t.Error("ReadResults of a missing file: no error")
	}
	bad := filepath.Join(dir, "future.json")
	os.WriteFile(bad, []byte(`{"format": 99, "cases": []}`), 0o644)
	if _, err := reports.ReadResults(bad); err == nil || !strings.Contains(err.Error(), "format 99") {
		t.Errorf("ReadResults of a future format: %v", err)
	}
}

func TestDurationJSON(t *testing.T) {
	for in, want := range map[string]time.Duration{`"1.5s"`: 1500 * time.Millisecond, `2.25`: 2250 * time.Millisecond, `"0s"`: 0} {
		var d reports.Duration
		if err := json.Unmarshal([]byte(in), &d); err != nil || d.D() != want {
			t.Errorf("unmarshal %s = %v, %v; want %v", in, d.D(), err, want)
		}
	}
	out, _ := json.Marshal(reports.Duration(1234567 * time.Microsecond))
	if string(out) != `"1.235s"` {
		t.Errorf("marshal = %s, want \"1.235s\"", out)
	}
	var d reports.Duration
	if err := json.Unmarshal([]byte(`"soon"`), &d); err == nil {
		t.Error("unmarshal \"soon\": no error")
	}
}

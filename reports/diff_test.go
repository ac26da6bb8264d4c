package reports_test

import (
	"encoding/json"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/zconform/zconform/reports"
)

func obs(status int, err string) *reports.Observed {
	return &reports.Observed{Step: "exchange", Status: status, Error: err}
}

func cr(id string, o reports.Outcome, observed *reports.Observed) reports.CaseResult {
	c := reports.CaseResult{ID: id, Title: strings.ToLower(id), DC: "us", Outcome: o, Observed: observed, Seeds: []string{}}
	switch o {
	case reports.Failed, reports.Deviated:
		c.Reason = id + " fails the contract"
		c.Message = c.Reason
	case reports.Skipped:
		c.Reason = "needs a virtual clock"
	}
	return c
}

func results(run reports.RunMeta, cases ...reports.CaseResult) reports.Results {
	return reports.Results{Format: reports.ResultsFormat, Run: run, Cases: cases}
}

// diffRuns are two nightly runs with a change of every kind.
func diffRuns() (old, new reports.Results) {
	oldRun := reports.RunMeta{Target: "staging-eu", Profile: "kaizen4", Started: testStart, LabelFilter: "!destructive"}
	newRun := reports.RunMeta{Target: "staging-us", Profile: "accounts-2025", Started: testStart.Add(24 * time.Hour), LabelFilter: "!destructive",
		Deviations: &reports.Deviations{File: "staging.yaml", Target: "*"}}
	mismatch := cr("DEVIATED-THEN-FAILED", reports.Failed, obs(400, "invalid_token"))
	mismatch.DeviationMismatch = "listed as an expected deviation at staging.yaml:4 (r), but it deviates differently: the file says error invalid_code, the target answered error invalid_token"
	dupEUOld, dupEUNew := cr("DUP", reports.Passed, obs(200, "")), cr("DUP", reports.Failed, obs(200, ""))
	dupEUOld.DC, dupEUNew.DC = "eu", "eu"
	labelsOld, labelsNew := cr("FROM-LABELS", reports.Failed, nil), cr("FROM-LABELS", reports.Failed, nil)
	labelsNew.DC, labelsNew.MetaSource = "", "labels"
	old = results(oldRun,
		cr("PASSED-THEN-FAILED", reports.Passed, obs(200, "")),
		cr("DEVIATED-THEN-FAILED", reports.Deviated, obs(400, "invalid_code")),
		cr("SKIPPED-THEN-FAILED", reports.Skipped, nil),
		cr("FAILED-THEN-PASSED", reports.Failed, obs(400, "invalid_code")),
		cr("TOKEN-CLIENT-WRONG-SECRET", reports.Failed, obs(400, "invalid_client")),
		cr("PASSED-OTHER-STATUS", reports.Passed, obs(400, "invalid_code")),
		cr("FAILED-OTHER-STEP", reports.Failed, &reports.Observed{Step: "first", Status: 400, Error: "invalid_code"}),
		cr("PASSED-THEN-SKIPPED", reports.Passed, obs(200, "")),
		cr("FAILED-THEN-DEVIATED", reports.Failed, obs(200, "")),
		cr("DEVIATED-THEN-PASSED", reports.Deviated, obs(200, "")),
		cr("UNCHANGED", reports.Passed, obs(200, "")),
		cr("GONE", reports.Passed, nil),
		cr("DUP", reports.Passed, obs(200, "")), dupEUOld,
		labelsOld,
	)
	new = results(newRun,
		cr("PASSED-THEN-FAILED", reports.Failed, obs(200, "")),
		mismatch,
		cr("SKIPPED-THEN-FAILED", reports.Failed, obs(500, "")),
		cr("FAILED-THEN-PASSED", reports.Passed, obs(400, "invalid_code")),
		cr("TOKEN-CLIENT-WRONG-SECRET", reports.Failed, obs(400, "invalid_client_secret")),
		cr("PASSED-OTHER-STATUS", reports.Passed, obs(200, "invalid_code")),
		cr("FAILED-OTHER-STEP", reports.Failed, &reports.Observed{Step: "second", Status: 400, Error: "invalid_code"}),
		cr("PASSED-THEN-SKIPPED", reports.Skipped, nil),
		cr("FAILED-THEN-DEVIATED", reports.Deviated, obs(200, "")),
		cr("DEVIATED-THEN-PASSED", reports.Passed, obs(200, "")),
		cr("UNCHANGED", reports.Passed, obs(200, "")),
		cr("APPEARED", reports.Passed, nil),
		cr("DUP", reports.Passed, obs(200, "")), dupEUNew,
		labelsNew,
	)
	new.RunFailures = []reports.RunFailure{{Node: "AfterSuite", State: "failed", Message: "could not revoke the run's tokens"}}
	old.RunFailures = []reports.RunFailure{{Node: "suite", State: "failed", Message: "Interrupted by User"}}
	return old, new
}

func changeIDs(cs []reports.CaseChange) []string {
	var ids []string
	for _, c := range cs {
		id := c.ID
		if c.Regression {
			id += "!"
		}
		ids = append(ids, id)
	}
	return ids
}

func TestDiffGroupsEveryChange(t *testing.T) {
	d := reports.Diff(diffRuns())
	for _, g := range []struct {
		name string
		got  []reports.CaseChange
		want []string // "!" marks a regression
	}{
		{"newly failing", d.NewlyFailing, []string{"PASSED-THEN-FAILED!", "DEVIATED-THEN-FAILED!", "SKIPPED-THEN-FAILED!", "DUP!"}},
		{"newly passing", d.NewlyPassing, []string{"FAILED-THEN-PASSED"}},
		{"observation changed", d.ObservationChanged, []string{"TOKEN-CLIENT-WRONG-SECRET!", "PASSED-OTHER-STATUS"}},
		{"outcome changed", d.OutcomeChanged, []string{"PASSED-THEN-SKIPPED", "FAILED-THEN-DEVIATED", "DEVIATED-THEN-PASSED"}},
		{"appeared", d.Appeared, []string{"APPEARED"}},
		{"disappeared", d.Disappeared, []string{"GONE!"}},
	} {
		if got := changeIDs(g.got); !slices.Equal(got, g.want) {
			t.Errorf("%s = %v, want %v", g.name, got, g.want)
		}
	}
	// UNCHANGED, FAILED-OTHER-STEP (the step alone), DUP at us, FROM-LABELS
	// (DC unknown in NEW, but its ID is unique).
	if d.Unchanged != 4 {
		t.Errorf("unchanged = %d, want 4", d.Unchanged)
	}
	if !d.Regressed {
		t.Error("not regressed")
	}
	wantVerdict := "REGRESSED: 4 newly failing, 1 failing differently, 1 disappeared, 1 new run failure"
	if d.Verdict != wantVerdict {
		t.Errorf("verdict %q, want %q", d.Verdict, wantVerdict)
	}

	byID := func(cs []reports.CaseChange, id string) reports.CaseChange {
		for _, c := range cs {
			if c.ID == id {
				return c
			}
		}
		t.Fatalf("no change for %s", id)
		return reports.CaseChange{}
	}
	for _, tc := range []struct {
		change reports.CaseChange
		want   string
	}{
		{byID(d.NewlyFailing, "PASSED-THEN-FAILED"), "passed → failed: PASSED-THEN-FAILED fails the contract"},
		{byID(d.NewlyFailing, "DEVIATED-THEN-FAILED"), "deviated → failed: DEVIATED-THEN-FAILED fails the contract (error invalid_code → invalid_token); listed as an expected deviation at staging.yaml:4 (r), but it deviates differently: the file says error invalid_code, the target answered error invalid_token"},
		{byID(d.NewlyFailing, "SKIPPED-THEN-FAILED"), "skipped → failed: SKIPPED-THEN-FAILED fails the contract (HTTP none → 500)"},
		{byID(d.NewlyPassing, "FAILED-THEN-PASSED"), "failed → passed"},
		{byID(d.ObservationChanged, "TOKEN-CLIENT-WRONG-SECRET"), "error invalid_client → invalid_client_secret (failed in both)"},
		{byID(d.ObservationChanged, "PASSED-OTHER-STATUS"), "HTTP 400 → 200 (passed in both)"},
		{byID(d.OutcomeChanged, "PASSED-THEN-SKIPPED"), "passed → skipped: needs a virtual clock (HTTP 200 → none)"},
		{byID(d.OutcomeChanged, "FAILED-THEN-DEVIATED"), "failed → deviated: FAILED-THEN-DEVIATED fails the contract"},
		{byID(d.Appeared, "APPEARED"), "new: passed"},
		{byID(d.Disappeared, "GONE"), "gone (was passed)"},
	} {
		if tc.change.Change != tc.want {
			t.Errorf("%s: change %q, want %q", tc.change.ID, tc.change.Change, tc.want)
		}
	}
	dup := byID(d.NewlyFailing, "DUP")
	if dup.DC != "eu" || dup.Old.Outcome != reports.Passed || dup.New.Outcome != reports.Failed {
		t.Errorf("DUP: %+v", dup)
	}
	tok := byID(d.ObservationChanged, "TOKEN-CLIENT-WRONG-SECRET")
	if tok.Old.Observed.Error != "invalid_client" || tok.New.Observed.Error != "invalid_client_secret" || tok.Old.Outcome != reports.Failed {
		t.Errorf("states: %+v %+v", tok.Old, tok.New)
	}
	if a := byID(d.Appeared, "APPEARED"); a.Old != nil || a.New == nil {
		t.Errorf("appeared: %+v", a)
	}
	if g := byID(d.Disappeared, "GONE"); g.New != nil || g.Old == nil {
		t.Errorf("disappeared: %+v", g)
	}

	wantSetup := []reports.SetupChange{
		{What: "target", Old: "staging-eu", New: "staging-us"},
		{What: "profile", Old: "kaizen4", New: "accounts-2025"},
		{What: "deviations", Old: "", New: "staging.yaml"},
	}
	if !slices.Equal(d.Setup, wantSetup) {
		t.Errorf("setup = %+v, want %+v", d.Setup, wantSetup)
	}
	if len(d.NewRunFailures) != 1 || d.NewRunFailures[0].Name() != "[AfterSuite]" ||
		len(d.GoneRunFailures) != 1 || d.GoneRunFailures[0].Name() != "[suite] Interrupted by User" {
		t.Errorf("run failures: new %+v, gone %+v", d.NewRunFailures, d.GoneRunFailures)
	}
	if d.Old.Target != "staging-eu" || d.New.Profile != "accounts-2025" || d.New.Deviations != "staging.yaml" ||
		!strings.HasPrefix(d.New.Verdict, "FAIL: 1 run failure ([AfterSuite]), 7 failed") || d.New.Totals.Deviated != 1 {
		t.Errorf("run summaries: %+v / %+v", d.Old, d.New)
	}
}

func TestDiffText(t *testing.T) {
	old, new := diffRuns()
	d := reports.Diff(old, new)
	d.Old.Path, d.New.Path = "nightly/1/results.json", "nightly/2/results.json"
	text := d.Text()
	for _, want := range []string{
		"OLD nightly/1/results.json: target staging-eu, profile kaizen4, started 2026-11-28 17:00:00 UTC, label filter \"!destructive\"\n    FAIL: 1 run failure",
		"NEW nightly/2/results.json: target staging-us, profile accounts-2025, started 2026-11-29 17:00:00 UTC, label filter \"!destructive\", deviations staging.yaml\n",
		"\nThe runs were set up differently (changes below may come from that):\n" +
			"  target: staging-eu → staging-us\n    the runs ran against different targets\n" +
			"  profile: kaizen4 → accounts-2025\n    the runs expected different profiles\n" +
			"  deviations: none → staging.yaml\n",
		"\nNewly failing (4):\n  PASSED-THEN-FAILED: passed → failed: PASSED-THEN-FAILED fails the contract  ← regression\n",
		"  DUP [eu]: passed → failed: DUP fails the contract  ← regression\n",
		"\nNewly passing (1):\n  FAILED-THEN-PASSED: failed → passed\n",
		"\nChanged observation (2):\n  TOKEN-CLIENT-WRONG-SECRET: error invalid_client → invalid_client_secret (failed in both)  ← regression\n  PASSED-OTHER-STATUS: HTTP 400 → 200 (passed in both)\n",
		"\nOther outcome changes (3):\n  PASSED-THEN-SKIPPED: passed → skipped: needs a virtual clock (HTTP 200 → none)\n",
		"\nAppeared, only in NEW (1):\n  APPEARED: new: passed\n",
		"\nDisappeared, only in OLD (1):\n  GONE: gone (was passed)  ← regression\n",
		"\nNew run failures (1):\n  [AfterSuite]: could not revoke the run's tokens  ← regression\n",
		"\nRun failures gone (1):\n  [suite] Interrupted by User\n",
	} {
		if !strings.Contains(text, want) {
			t.Errorf("text lacks %q\n%s", want, text)
		}
	}
	if !strings.HasSuffix(text, "\nREGRESSED: 4 newly failing, 1 failing differently, 1 disappeared, 1 new run failure\n") {
		t.Errorf("text does not end with the verdict:\n%s", text)
	}
	groups := text[strings.Index(text, "\nNewly failing"):]
	if strings.Contains(groups, "UNCHANGED") || strings.Contains(groups, "FAILED-OTHER-STEP") || strings.Contains(groups, "FROM-LABELS") {
		t.Errorf("text lists unchanged cases:\n%s", text)
	}
}

func TestDiffJSON(t *testing.T) {
	d := reports.Diff(diffRuns())
	data, err := json.Marshal(d)
	if err != nil {
		t.Fatal(err)
	}
	var back reports.Differences
	if err := json.Unmarshal(data, &back); err != nil {
		t.Fatal(err)
	}
	if !back.Regressed || back.Verdict != d.Verdict || len(back.NewlyFailing) != 4 || back.NewlyFailing[0].New.Outcome != reports.Failed ||
		len(back.Setup) != 3 || back.Unchanged != 4 {
		t.Errorf("JSON round trip: %s", data)
	}
	for _, key := range []string{`"newly_failing":[`, `"newly_passing":[`, `"observation_changed":[`, `"outcome_changed":[`, `"appeared":[`,
		`"disappeared":[`, `"new_run_failures":[`, `"regressed":true`, `"regression":true`, `"setup":[`, `"what":"profile"`} {
		if !strings.Contains(string(data), key) {
			t.Errorf("JSON lacks %s", key)
		}
	}
}

func TestDiffWhatRegresses(t *testing.T) {
	run := reports.RunMeta{Target: "staging", Profile: "kaizen4"}
	base := []reports.CaseResult{cr("A", reports.Passed, obs(200, "")), cr("B", reports.Failed, obs(400, "invalid_code")), cr("C", reports.Skipped, nil)}
	with := func(i int, c reports.CaseResult) []reports.CaseResult {
		cs := slices.Clone(base)
		cs[i] = c
		return cs
	}
	for _, tc := range []struct {
		name      string
		new       []reports.CaseResult
		runFail   bool
		regressed bool
		verdict   string
	}{
		{"nothing changed", base, false, false, "NO REGRESSION: no change in 3 cases"},
		{"newly failing", with(0, cr("A", reports.Failed, obs(200, ""))), false, true, "REGRESSED: 1 newly failing"},
		{"skipped then failed", with(2, cr("C", reports.Failed, nil)), false, true, "REGRESSED: 1 newly failing"},
		{"fails differently", with(1, cr("B", reports.Failed, obs(400, "invalid_client"))), false, true, "REGRESSED: 1 failing differently"},
		{"fails with another status", with(1, cr("B", reports.Failed, obs(500, "invalid_code"))), false, true, "REGRESSED: 1 failing differently"},
		{"fails at another step", with(1, cr("B", reports.Failed, &reports.Observed{Step: "other", Status: 400, Error: "invalid_code"})), false, false, "NO REGRESSION: no change in 3 cases"},
		{"disappeared", base[:2], false, true, "REGRESSED: 1 disappeared"},
		{"new run failure", base, true, true, "REGRESSED: 1 new run failure"},
		{"newly passing", with(1, cr("B", reports.Passed, obs(200, ""))), false, false, "NO REGRESSION: 1 newly passing"},
		{"appeared", append(slices.Clone(base), cr("D", reports.Failed, nil)), false, false, "NO REGRESSION: 1 appeared"},
		{"passed with another answer", with(0, cr("A", reports.Passed, obs(201, ""))), false, false, "NO REGRESSION: 1 changed observation"},
		{"passed then skipped", with(0, cr("A", reports.Skipped, nil)), false, false, "NO REGRESSION: 1 other outcome change"},
		{"failed then deviated", with(1, cr("B", reports.Deviated, obs(400, "invalid_code"))), false, false, "NO REGRESSION: 1 other outcome change"},
		{"passed then deviated", with(0, cr("A", reports.Deviated, obs(200, ""))), false, false, "NO REGRESSION: 1 other outcome change"},
		{"failed then skipped", with(1, cr("B", reports.Skipped, nil)), false, false, "NO REGRESSION: 1 other outcome change"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			n := results(run, tc.new...)
			if tc.runFail {
				n.RunFailures = []reports.RunFailure{{Node: "BeforeSuite", Message: "target unreachable"}}
			}
			d := reports.Diff(results(run, base...), n)
			if d.Regressed != tc.regressed || d.Verdict != tc.verdict {
				t.Errorf("regressed %v, verdict %q; want %v, %q", d.Regressed, d.Verdict, tc.regressed, tc.verdict)
			}
			if len(d.Setup) != 0 {
				t.Errorf("setup changes %+v for runs set up alike", d.Setup)
			}
		})
	}
}

// An ID run at several DCs is matched by DC; the same ID in one run only
// once is matched whatever its DC.
func TestDiffMatchesDuplicatesByDC(t *testing.T) {
	run := reports.RunMeta{Target: "staging"}
	at := func(c reports.CaseResult, dc string) reports.CaseResult { c.DC = dc; return c }
	old := results(run, at(cr("X", reports.Passed, nil), "us"), at(cr("X", reports.Passed, nil), "eu"), at(cr("Y", reports.Passed, nil), "us"))
	new := results(run, at(cr("X", reports.Passed, nil), "eu"), at(cr("X", reports.Failed, nil), "in"), at(cr("Y", reports.Passed, nil), "eu"))
	d := reports.Diff(old, new)
	if got := changeIDs(d.Appeared); !slices.Equal(got, []string{"X"}) || d.Appeared[0].DC != "in" {
		t.Errorf("appeared %+v", d.Appeared)
	}
	if got := changeIDs(d.Disappeared); !slices.Equal(got, []string{"X!"}) || d.Disappeared[0].DC != "us" {
		t.Errorf("disappeared %+v", d.Disappeared)
	}
	if d.Unchanged != 2 || len(d.NewlyFailing) != 0 {
		t.Errorf("unchanged %d, newly failing %+v", d.Unchanged, d.NewlyFailing)
	}
	text := d.Text()
	if !strings.Contains(text, "  X [in]: new: failed\n") || !strings.Contains(text, "  X [us]: gone (was passed)  ← regression\n") {
		t.Errorf("text does not name the DCs of a duplicated ID:\n%s", text)
	}
}

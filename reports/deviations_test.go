package reports_test

import (
	"bytes"
	"encoding/json"
	"encoding/xml"
	"errors"
	"os"
	"path/filepath"
	"regexp"
	"slices"
	"strings"
	"testing"
	"time"

	junit "github.com/joshdk/go-junit"
	"github.com/onsi/ginkgo/v2/types"
	"golang.org/x/net/html"

	"github.com/zconform/zconform/reports"
)

const deviationsYAML = `# staging's known differences
target: staging-eu
deviations:
  - case: TOKEN-CLIENT-WRONG-SECRET
    profile: kaizen4
    observed: {error: invalid_client_secret, http_status: 200}
    reason: staging already answers the accounts-2025 error
    link: https://example.com/ticket/123
  - case: TOKEN-CODE-REUSED
    reason: staging lets a grant token be used twice
    link: https://example.com/ticket/124
  - case: REFRESH-REVOKED
    observed:
      error: invalid_code
    reason: staging answers invalid_code for a revoked refresh token
    link: https://example.com/ticket/125
  - case: TOKEN-EXCHANGE-OK
    reason: staging used to refuse the first exchange
    link: https://example.com/ticket/126
  - case: NOTE-GRANT-EXPIRY
    reason: staging's grant tokens live five minutes
    link: https://example.com/ticket/127
  - case: REG-CONSOLE-MESSAGE
    observed: {error: "Enter a valid Homepage URL", step: register}
    reason: staging's console words it differently
    link: http://example.com/ticket/128
  - case: DC-OTHER
    dc: eu
    reason: only the EU DC of staging differs
    link: https://example.com/ticket/129
  - case: TOKEN-PANICS
    reason: listed, but a panic is never a deviation
    link: https://example.com/ticket/130
  - case: ACCOUNTS-ONLY
    profile: accounts-2025
    reason: only under accounts-2025
    link: https://example.com/ticket/131
`

func parseDeviations(t *testing.T, src string) *reports.Deviations {
	t.Helper()
	d, err := reports.ParseDeviations("deviations.yaml", []byte(src))
	if err != nil {
		t.Fatalf("ParseDeviations: %v", err)
	}
	return d
}

func TestParseDeviations(t *testing.T) {
	d := parseDeviations(t, deviationsYAML)
	if d.File != "deviations.yaml" || d.Target != "staging-eu" || len(d.Deviations) != 9 {
		t.Fatalf("deviations: file %q target %q, %d entries", d.File, d.Target, len(d.Deviations))
	}
	first := d.Deviations[0]
	want := reports.Deviation{
		Case: "TOKEN-CLIENT-WRONG-SECRET", Profile: "kaizen4",
		Observed: &reports.Observed{Error: "invalid_client_secret", Status: 200},
		Reason:   "staging already answers the accounts-2025 error", Link: "https://example.com/ticket/123",
		File: "deviations.yaml", Line: 4,
	}
	if first.Case != want.Case || first.Profile != want.Profile || *first.Observed != *want.Observed || first.Reason != want.Reason ||
		first.Link != want.Link || first.File != want.File || first.Line != want.Line {
		t.Errorf("first entry = %+v, want %+v", first, want)
	}
	if first.Where() != "deviations.yaml:4" || first.Text() != "staging already answers the accounts-2025 error (https://example.com/ticket/123)" {
		t.Errorf("Where %q, Text %q", first.Where(), first.Text())
	}
	if d.Deviations[1].Observed != nil || d.Deviations[1].Line != 9 {
		t.Errorf("second entry: %+v", d.Deviations[1])
	}
	if o := d.Deviations[5].Observed; o == nil || *o != (reports.Observed{Step: "register", Error: "Enter a valid Homepage URL"}) {
		t.Errorf("console entry observed: %+v", o)
	}
	if d.Deviations[6].DC != "eu" {
		t.Errorf("dc: %q", d.Deviations[6].DC)
	}

	if !d.AppliesTo("staging-eu") || d.AppliesTo("fake") {
		t.Error("AppliesTo: a file for staging-eu")
	}
	anyTarget := parseDeviations(t, "target: '*'\ndeviations: []\n")
	if !anyTarget.AppliesTo("fake") || !anyTarget.AppliesTo("staging-eu") {
		t.Error(`AppliesTo: a file for "*"`)
	}
	var none *reports.Deviations
	if none.AppliesTo("fake") || none.Check([]string{"X"}) != nil {
		t.Error("a nil *Deviations applies to nothing and checks fine")
	}
}

func TestLoadDeviationsReportsFileAndLine(t *testing.T) {
	for _, tc := range []struct {
		name, src string
		want      []string // each a whole line of the error
	}{
		{"empty", "", []string{"deviations.yaml: the file is empty: write target: (the run's target, or \"*\") and deviations: (a list of cases)"}},
		{"comment only", "# nothing\n", []string{"deviations.yaml: the file is empty"}},
		{"not a mapping", "- case: X\n", []string{"deviations.yaml:1: cannot unmarshal !!seq into reports.Deviations: the file must be a mapping with target: and deviations:"}},
		{"syntax", "target: x\n\tdeviations: []\n", []string{"deviations.yaml:2: found a tab character that violates indentation"}},
		{"unknown top field", "target: x\ndeviation: []\n", []string{`deviations.yaml:2: unknown field "deviation": a deviations file has target and deviations`}},
		{"unknown entry field", "target: x\ndeviations:\n  - case: X\n    reasons: r\n    link: https://x.example\n",
			[]string{`deviations.yaml:4: unknown field "reasons": a deviation has case, profile, dc, observed, reason and link`}},
		{"unknown observed field", "target: x\ndeviations:\n  - case: X\n    observed: {status: 400}\n    reason: r\n    link: https://x.example\n",
			[]string{`deviations.yaml:4: unknown field "status": observed has step, http_status and error`}},
		{"status not a number", "target: x\ndeviations:\n  - case: X\n    observed:\n      http_status: four hundred\n    reason: r\n    link: https://x.example\n",
			[]string{"deviations.yaml:5: cannot unmarshal !!str `four hu...` into int: http_status must be a number such as 400"}},
		{"deviations not a list", "target: x\ndeviations: {case: X}\n", []string{"deviations.yaml:2: cannot unmarshal !!map into []reports.Deviation: deviations must be a list (- case: ...)"}},
		{"entry not a mapping", "target: x\ndeviations:\n  - X\n", []string{"deviations.yaml:3: cannot unmarshal !!str `X` into reports.Deviation: each deviation must be a mapping (case:, reason:, link:, ...)"}},
		{"two documents", "target: x\n---\ntarget: y\n", []string{"deviations.yaml: the file holds more than one YAML document (---): keep one"}},
		{"missing everything", "target: ''\ndeviations:\n  - profile: kaizen4\n", []string{
			`deviations.yaml:1: target is missing: name the target these deviations apply to (the run's target, e.g. staging-eu), or "*" for any`,
			"deviations.yaml:3: deviation without case: give the catalogue case ID (zconform catalogue lists them)",
			"deviations.yaml:3: deviation: reason is missing: say why the target differs from the documented contract",
			"deviations.yaml:3: deviation: link is missing: point at the ticket or page that tracks the deviation",
		}},
		{"no target key", "deviations: []\n", []string{"deviations.yaml:1: target is missing"}},
		{"bad values", `target: staging
deviations:
  - case: TOKEN X
    profile: kaizen5
    dc: mars
    observed: {http_status: 42}
    reason: r
    link: ftp://example.com/x
  - case: Y
    observed: {}
    reason: r
    link: example.com/ticket
`, []string{
			`deviations.yaml:3: deviation TOKEN X: "TOKEN X" is no case ID (IDs have no spaces or & | ! , ( ) / :)`,
			`deviations.yaml:4: deviation TOKEN X: unknown profile "kaizen5": use one of kaizen4, accounts-2025, or leave profile out for any`,
			`deviations.yaml:5: deviation TOKEN X: unknown data centre "mars": use one of us, eu, in, au, jp, ca, sa, uk, cn, or leave dc out for any`,
			"deviations.yaml:6: deviation TOKEN X: http_status 42 is no HTTP status (100-599)",
			`deviations.yaml:8: deviation TOKEN X: link "ftp://example.com/x" is not an http(s) URL`,
			"deviations.yaml:10: deviation Y: observed is empty: give any of step, http_status and error, or leave observed out to accept any failure",
			`deviations.yaml:12: deviation Y: link "example.com/ticket" is not an http(s) URL`,
		}},
		{"overlapping entries", `target: staging
deviations:
  - case: X
    reason: r
    link: https://example.com/1
  - case: X
    profile: kaizen4
    reason: r
    link: https://example.com/2
  - case: Y
    profile: kaizen4
    reason: r
    link: https://example.com/3
  - case: Y
    profile: accounts-2025
    reason: r
    link: https://example.com/4
  - case: Z
    dc: eu
    reason: r
    link: https://example.com/5
  - case: Z
    dc: us
    reason: r
    link: https://example.com/6
  - case: Z
    dc: EU
    profile: kaizen4
    reason: r
    link: https://example.com/7
`, []string{
			"deviations.yaml:6: deviation X: the case is already listed at line 3 for profile kaizen4 and every DC: one entry per case, profile and DC (give each a different profile or dc)",
			"deviations.yaml:26: deviation Z: the case is already listed at line 18 for profile kaizen4 and DC eu: one entry per case, profile and DC (give each a different profile or dc)",
		}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			d, err := reports.ParseDeviations("deviations.yaml", []byte(tc.src))
			if err == nil {
				t.Fatalf("no error; parsed %+v", d)
			}
			if d != nil {
				t.Errorf("a broken file gave deviations %+v", d)
			}
			lines := strings.Split(err.Error(), "\n")
			if len(lines) != len(tc.want) {
				t.Errorf("%d problems, want %d:\n%v", len(lines), len(tc.want), err)
			}
			for i, want := range tc.want {
				if i < len(lines) && !strings.HasPrefix(lines[i], want) {
					t.Errorf("problem %d:\n got %s\nwant %s", i, lines[i], want)
				}
			}
			var de *reports.DeviationsError
			if !errors.As(err, &de) || de.File != "deviations.yaml" {
				t.Errorf("error %T is no *DeviationsError", err)
			}
		})
	}
}

func TestLoadDeviationsFromFileAndEnv(t *testing.T) {
	dir := t.TempDir()
	path := filepath.Join(dir, "staging.yaml")
	if err := os.WriteFile(path, []byte(deviationsYAML), 0o644); err != nil {
		t.Fatal(err)
	}
	d, err := reports.LoadDeviations(path)
	if err != nil || d.File != path || len(d.Deviations) != 9 || d.Deviations[3].File != path {
		t.Fatalf("LoadDeviations: %+v, %v", d, err)
	}
	if _, err := reports.LoadDeviations(filepath.Join(dir, "missing.yaml")); err == nil || !strings.Contains(err.Error(), "missing.yaml") {
		t.Errorf("missing file: %v", err)
	}

	t.Setenv(reports.EnvDeviations, "")
	if d, err := reports.DeviationsFromEnv(); d != nil || err != nil {
		t.Errorf("unset: %+v, %v", d, err)
	}
	t.Setenv(reports.EnvDeviations, path)
	if d, err := reports.DeviationsFromEnv(); err != nil || d == nil || d.Target != "staging-eu" {
		t.Errorf("set: %+v, %v", d, err)
	}
	bad := filepath.Join(dir, "bad.yaml")
	os.WriteFile(bad, []byte("target: x\nnope: 1\n"), 0o644)
	t.Setenv(reports.EnvDeviations, bad)
	if _, err := reports.DeviationsFromEnv(); err == nil || !strings.HasPrefix(err.Error(), "ZCONFORM_DEVIATIONS="+bad+": "+bad+":2: unknown field \"nope\"") {
		t.Errorf("bad file: %v", err)
	}
	if reports.EnvDeviations != "ZCONFORM_DEVIATIONS" {
		t.Errorf("EnvDeviations = %q", reports.EnvDeviations)
	}
}

func TestDeviationsCheck(t *testing.T) {
	d := parseDeviations(t, deviationsYAML)
	known := []string{"TOKEN-CLIENT-WRONG-SECRET", "TOKEN-CODE-REUSED", "REFRESH-REVOKED", "TOKEN-EXCHANGE-OK", "NOTE-GRANT-EXPIRY",
		"REG-CONSOLE-MESSAGE", "DC-OTHER", "TOKEN-PANICS", "ACCOUNTS-ONLY"}
	if err := d.Check(known); err != nil {
		t.Errorf("Check with every ID known: %v", err)
	}
	err := d.Check([]string{"TOKEN-CLIENT-WRONG-SECRET", "TOKEN-CODE-REUSE", "REFRESH-REVOKED", "TOKEN-EXCHANGE-OK", "NOTE-GRANT-EXPIRY",
		"REG-CONSOLE-MESSAGE", "DC-OTHER", "ACCOUNTS-ONLY"})
	want := "deviations.yaml:9: unknown case \"TOKEN-CODE-REUSED\": no catalogue case has that ID (zconform catalogue lists them); did you mean TOKEN-CODE-REUSE?\n" +
		"deviations.yaml:31: unknown case \"TOKEN-PANICS\": no catalogue case has that ID (zconform catalogue lists them)"
	if err == nil || err.Error() != want {
		t.Errorf("Check:\n got %v\nwant %s", err, want)
	}
}

// The cases of the deviations fixture: run against staging-eu under
// kaizen4.
func stagingMeta(id string, line int) reports.CaseMeta {
	return reports.CaseMeta{
		ID: id, Title: strings.ToLower(id), Area: "token-exchange", Seeds: []string{"K4-TOKEN-CLIENT-a"}, Basis: "seed",
		Target: "staging-eu", DC: "us", Profile: "kaizen4", File: catalogueFile, Line: line,
	}
}

type stagingCase struct {
	id       string
	state    types.SpecState
	observed *reports.Observed
	dc       string
}

// stagingReport is a run against staging-eu in which the deviations
// fixture's cases (and one it does not list) end in every way.
func stagingReport(t *testing.T) types.Report {
	t.Helper()
	var specs types.SpecReports
	for i, c := range []stagingCase{
		// deviates as written (error and status)
		{"TOKEN-CLIENT-WRONG-SECRET", types.SpecStateFailed, &reports.Observed{Step: "exchange", Status: 200, Error: "invalid_client_secret"}, ""},
		// listed without observed: any plain failure
		{"TOKEN-CODE-REUSED", types.SpecStateFailed, &reports.Observed{Step: "second exchange", Status: 200}, ""},
		// listed with an error, the target answers another
		{"REFRESH-REVOKED", types.SpecStateFailed, &reports.Observed{Step: "refresh", Status: 400, Error: "invalid_token"}, ""},
		// listed, passes: stopped deviating
		{"TOKEN-EXCHANGE-OK", types.SpecStatePassed, &reports.Observed{Step: "exchange", Status: 200}, ""},
		// listed, skipped: unchanged
		{"NOTE-GRANT-EXPIRY", types.SpecStateSkipped, nil, ""},
		// a console message with detail, and the step
		{"REG-CONSOLE-MESSAGE", types.SpecStateFailed, &reports.Observed{Step: "register", Status: 200, Error: "Enter a valid Homepage URL: got ftp://x"}, ""},
		// listed for the EU DC only; runs at US
		{"DC-OTHER", types.SpecStateFailed, &reports.Observed{Step: "exchange", Status: 400, Error: "invalid_client"}, "us"},
		// listed, but panicked
		{"TOKEN-PANICS", types.SpecStatePanicked, nil, ""},
		// listed only for accounts-2025
		{"ACCOUNTS-ONLY", types.SpecStateFailed, &reports.Observed{Step: "exchange", Status: 400, Error: "invalid_code"}, ""},
		// not listed
		{"PLAIN-FAIL", types.SpecStateFailed, &reports.Observed{Step: "exchange", Status: 400, Error: "invalid_code"}, ""},
	} {
		m := stagingMeta(c.id, 100+10*i)
		if c.dc != "" {
			m.DC = c.dc
		}
		spec := caseSpec(m, c.state, 10*time.Millisecond)
		spec.ReportEntries = types.ReportEntries{entry(t, crossed, reports.EntryName, m)}
		if c.observed != nil {
			spec.ReportEntries = append(spec.ReportEntries, entry(t, crossed, reports.ObservedEntryName, *c.observed))
		}
		switch c.state {
		case types.SpecStateFailed:
			spec.Failure = types.Failure{Message: c.id + ": the contract says otherwise\nsent: POST /oauth/v2/token client_secret=" + testSecret + "\ncame back: HTTP 200"}
		case types.SpecStatePanicked:
			spec.Failure = types.Failure{Message: "Test Panicked", ForwardedPanic: "nil map"}
		case types.SpecStateSkipped:
			spec.Failure = types.Failure{Message: skipReason}
		}
		specs = append(specs, spec)
	}
	return types.Report{
		SuiteDescription: "zconform conformance",
		SuiteSucceeded:   false, // Ginkgo failed the specs that deviate
		StartTime:        testStart,
		RunTime:          time.Second,
		SpecReports:      specs,
	}
}

func stagingRun(t *testing.T) reports.RunMeta {
	return reports.RunMeta{Target: "staging-eu", Profile: "kaizen4", Started: testStart, Deviations: parseDeviations(t, deviationsYAML)}
}

func TestDeviationsApplied(t *testing.T) {
	r := reports.FromReport(stagingReport(t), stagingRun(t))
	outcome := map[string]reports.Outcome{}
	for _, c := range r.Cases {
		outcome[c.ID] = c.Outcome
	}
	want := map[string]reports.Outcome{
		"TOKEN-CLIENT-WRONG-SECRET": reports.Deviated, "TOKEN-CODE-REUSED": reports.Deviated, "REFRESH-REVOKED": reports.Failed,
		"TOKEN-EXCHANGE-OK": reports.Passed, "NOTE-GRANT-EXPIRY": reports.Skipped, "REG-CONSOLE-MESSAGE": reports.Deviated,
		"DC-OTHER": reports.Failed, "TOKEN-PANICS": reports.Failed, "ACCOUNTS-ONLY": reports.Failed, "PLAIN-FAIL": reports.Failed,
	}
	for id, o := range want {
		if outcome[id] != o {
			t.Errorf("%s: outcome %q, want %q", id, outcome[id], o)
		}
	}

	dev := caseByID(t, r, "TOKEN-CLIENT-WRONG-SECRET")
	if dev.Deviation == nil || dev.Deviation.Reason != "staging already answers the accounts-2025 error" || dev.Deviation.Link != "https://example.com/ticket/123" ||
		dev.Deviation.Where() != "deviations.yaml:4" || dev.NoLongerDeviates || dev.DeviationMismatch != "" ||
		!strings.HasPrefix(dev.Message, "TOKEN-CLIENT-WRONG-SECRET: the contract says otherwise") || dev.Reason != "TOKEN-CLIENT-WRONG-SECRET: the contract says otherwise" {
		t.Errorf("deviated case: %+v", dev)
	}

	mismatch := caseByID(t, r, "REFRESH-REVOKED")
	wantWhy := "listed as an expected deviation at deviations.yaml:12 (staging answers invalid_code for a revoked refresh token), but it deviates differently: " +
		"the file says error invalid_code, the target answered error invalid_token"
	if mismatch.DeviationMismatch != wantWhy || !strings.HasSuffix(mismatch.Message, "\n\n"+wantWhy) || mismatch.Deviation == nil {
		t.Errorf("mismatched case: why %q\nmessage %q", mismatch.DeviationMismatch, mismatch.Message)
	}
	panicked := caseByID(t, r, "TOKEN-PANICS")
	if !strings.Contains(panicked.DeviationMismatch, "but the case panicked: only a plain failure can be an expected deviation") {
		t.Errorf("panicked case: %q", panicked.DeviationMismatch)
	}
	stopped := caseByID(t, r, "TOKEN-EXCHANGE-OK")
	if !stopped.NoLongerDeviates || stopped.Deviation == nil || stopped.Deviation.Line != 17 {
		t.Errorf("passed listed case: %+v", stopped)
	}
	skipped := caseByID(t, r, "NOTE-GRANT-EXPIRY")
	if skipped.Deviation == nil || skipped.NoLongerDeviates || skipped.DeviationMismatch != "" {
		t.Errorf("skipped listed case: %+v", skipped)
	}
	for _, id := range []string{"DC-OTHER", "ACCOUNTS-ONLY", "PLAIN-FAIL"} {
		if c := caseByID(t, r, id); c.Deviation != nil || c.DeviationMismatch != "" || strings.Contains(c.Message, "deviation") {
			t.Errorf("%s: not listed for this DC or profile, got deviation %+v, %q", id, c.Deviation, c.DeviationMismatch)
		}
	}

	wantTotals := reports.Totals{Cases: 10, Passed: 1, Failed: 5, Skipped: 1, Deviated: 3, NoLongerDeviating: 1}
	if r.Totals != wantTotals {
		t.Errorf("totals %+v, want %+v", r.Totals, wantTotals)
	}
	if got, want := r.Failed(), []string{"REFRESH-REVOKED", "DC-OTHER", "TOKEN-PANICS", "ACCOUNTS-ONLY", "PLAIN-FAIL"}; !slices.Equal(got, want) {
		t.Errorf("Failed() = %v, want %v", got, want)
	}
	if got, want := r.Deviated(), []string{"TOKEN-CLIENT-WRONG-SECRET", "TOKEN-CODE-REUSED", "REG-CONSOLE-MESSAGE"}; !slices.Equal(got, want) {
		t.Errorf("Deviated() = %v, want %v", got, want)
	}
	if got := r.StoppedDeviating(); !slices.Equal(got, []string{"TOKEN-EXCHANGE-OK"}) {
		t.Errorf("StoppedDeviating() = %v", got)
	}
	wantVerdict := "FAIL: 5 failed (REFRESH-REVOKED, DC-OTHER, TOKEN-PANICS, ACCOUNTS-ONLY, PLAIN-FAIL), 1 passed, 3 deviated as expected, 1 skipped, 1 stopped deviating (TOKEN-EXCHANGE-OK)"
	if r.Verdict() != wantVerdict {
		t.Errorf("Verdict() =\n %q\nwant %q", r.Verdict(), wantVerdict)
	}
	if len(r.RunFailures) != 0 || len(r.Notes) != 0 {
		t.Errorf("run failures %+v, notes %v", r.RunFailures, r.Notes)
	}
}

// A run whose only failures deviate as expected passes, though Ginkgo
// failed the suite.
func TestOnlyDeviationsPass(t *testing.T) {
	rep := stagingReport(t)
	keep := map[string]bool{"TOKEN-CLIENT-WRONG-SECRET": true, "TOKEN-CODE-REUSED": true, "TOKEN-EXCHANGE-OK": true, "NOTE-GRANT-EXPIRY": true}
	rep.SpecReports = slices.DeleteFunc(slices.Clone(rep.SpecReports), func(sr types.SpecReport) bool {
		return !keep[strings.SplitN(sr.LeafNodeText, ":", 2)[0]]
	})
	r := reports.FromReport(rep, stagingRun(t))
	want := "PASS: 1 passed, 2 deviated as expected, 0 failed, 1 skipped, 1 stopped deviating (TOKEN-EXCHANGE-OK)"
	if !r.Pass() || r.Verdict() != want || len(r.Failed()) != 0 || len(r.RunFailures) != 0 {
		t.Errorf("pass %v, verdict %q, failed %v, run failures %+v", r.Pass(), r.Verdict(), r.Failed(), r.RunFailures)
	}
	rep.SpecReports = rep.SpecReports[:2] // the two deviating cases
	r = reports.FromReport(rep, stagingRun(t))
	if want := "PASS: 0 passed, 2 deviated as expected, 0 failed, 0 skipped"; r.Verdict() != want || !r.Pass() {
		t.Errorf("verdict %q, want %q", r.Verdict(), want)
	}
	// Without the file, the same run fails.
	run := stagingRun(t)
	run.Deviations = nil
	if r := reports.FromReport(rep, run); r.Pass() || len(r.Failed()) != 2 {
		t.Errorf("without deviations: %s", r.Verdict())
	}
}

func TestDeviationsForAnotherTarget(t *testing.T) {
	run := stagingRun(t)
	run.Target = "fake"
	r := reports.FromReport(stagingReport(t), run)
	if r.Totals.Deviated != 0 || r.Totals.NoLongerDeviating != 0 || len(r.Failed()) != 8 {
		t.Errorf("a file for staging-eu applied to fake: %+v", r.Totals)
	}
	want := "the deviations file deviations.yaml is for target staging-eu, not fake: none of its 9 entries applied"
	if !slices.Equal(r.Notes, []string{want}) {
		t.Errorf("notes %q, want %q", r.Notes, want)
	}
	for _, c := range r.Cases {
		if c.Deviation != nil {
			t.Errorf("%s got a deviation", c.ID)
		}
	}

	run.Deviations = parseDeviations(t, strings.Replace(deviationsYAML, "target: staging-eu", `target: "*"`, 1))
	if r := reports.FromReport(stagingReport(t), run); r.Totals.Deviated != 3 || len(r.Notes) != 0 {
		t.Errorf(`a file for "*": totals %+v, notes %v`, r.Totals, r.Notes)
	}
}

func writeStaging(t *testing.T) reports.Files {
	t.Helper()
	files, err := reports.Write(t.TempDir(), stagingReport(t), stagingRun(t))
	if err != nil {
		t.Fatal(err)
	}
	return files
}

func TestDeviationsInResultsJSON(t *testing.T) {
	files := writeStaging(t)
	raw := readFile(t, files.Results)
	for _, key := range []string{`"outcome": "deviated"`, `"deviation": {`, `"reason": "staging already answers the accounts-2025 error"`,
		`"link": "https://example.com/ticket/123"`, `"no_longer_deviates": true`, `"deviation_mismatch": "listed as an expected deviation at deviations.yaml:12`,
		`"deviated": 3`, `"no_longer_deviating": 1`, `"deviations": {`, `"file": "deviations.yaml"`, `"target": "staging-eu"`, `"line": 4`} {
		if !bytes.Contains(raw, []byte(key)) {
			t.Errorf("results.json lacks %s", key)
		}
	}
	r, err := reports.ReadResults(files.Results)
	if err != nil {
		t.Fatal(err)
	}
	want := reports.FromReport(stagingReport(t), stagingRun(t))
	wantJSON, _ := json.Marshal(want)
	gotJSON, _ := json.Marshal(r)
	if !bytes.Equal(wantJSON, gotJSON) {
		t.Errorf("read back differently:\nwritten %s\nread    %s", wantJSON, gotJSON)
	}
	if r.Verdict() != want.Verdict() || r.Run.Deviations == nil || len(r.Run.Deviations.Deviations) != 9 {
		t.Errorf("read back: %q, %+v", r.Verdict(), r.Run.Deviations)
	}
	for _, secret := range testSecrets {
		for _, p := range files.All() {
			if bytes.Contains(readFile(t, p), []byte(secret)) {
				t.Errorf("%s holds a secret", filepath.Base(p))
			}
		}
	}
}

func TestDeviationsInJUnit(t *testing.T) {
	files := writeStaging(t)
	doc := readFile(t, files.JUnit)
	var j junitCounts
	if err := xml.Unmarshal(doc, &j); err != nil {
		t.Fatal(err)
	}
	s := j.Suites[0]
	if j.Failures != 5 || s.Failures != 5 || s.Skipped != 1 || s.Tests != 10 || j.Errors != 0 {
		t.Errorf("counts: failures %d/%d skipped %d tests %d errors %d", j.Failures, s.Failures, s.Skipped, s.Tests, j.Errors)
	}
	suiteProps := map[string]string{}
	for _, p := range s.Properties {
		suiteProps[p.Name] = p.Value
	}
	if suiteProps["deviations"] != "deviations.yaml (target staging-eu, 9 entries)" || !strings.Contains(suiteProps["verdict"], "3 deviated as expected") {
		t.Errorf("suite properties %v", suiteProps)
	}
	byID := map[string]int{}
	for i, c := range s.Cases {
		byID[strings.SplitN(c.Name, ":", 2)[0]] = i
	}

	dev := s.Cases[byID["TOKEN-CLIENT-WRONG-SECRET"]]
	if dev.Status != "deviated" || len(dev.Failure) != 0 || len(dev.Error) != 0 || dev.Skipped != nil || strings.Contains(dev.SystemOut, "no longer deviates") {
		t.Errorf("deviated testcase: %+v", dev)
	}
	for _, line := range []string{"outcome: deviated", "differs from the contract: TOKEN-CLIENT-WRONG-SECRET: the contract says otherwise",
		"deviation: staging already answers the accounts-2025 error", "deviation link: https://example.com/ticket/123",
		"deviation observed: HTTP 200, error invalid_client_secret", "deviation listed at: deviations.yaml:4",
		"observed: step exchange, HTTP 200, error invalid_client_secret", "came back: HTTP 200", "client_secret=0123…"} {
		if !strings.Contains(dev.SystemOut, line+"\n") {
			t.Errorf("deviated testcase system-out lacks %q:\n%s", line, dev.SystemOut)
		}
	}

	stopped := s.Cases[byID["TOKEN-EXCHANGE-OK"]]
	if stopped.Status != "passed" || !strings.Contains(stopped.SystemOut, "deviation: staging used to refuse the first exchange\n") ||
		!strings.Contains(stopped.SystemOut, "no longer deviates: remove it from the deviations file (deviations.yaml:17)\n") {
		t.Errorf("stopped deviating testcase: %s\n%s", stopped.Status, stopped.SystemOut)
	}
	mismatch := s.Cases[byID["REFRESH-REVOKED"]]
	if len(mismatch.Failure) != 1 || !strings.Contains(mismatch.Failure[0].Message, "it deviates differently") ||
		!strings.Contains(mismatch.SystemOut, "deviation mismatch: listed as an expected deviation at deviations.yaml:12") {
		t.Errorf("mismatched testcase: %+v", mismatch)
	}

	// go-junit sees a deviated case as passed, the others as they are.
	suites, err := junit.IngestFile(files.JUnit)
	if err != nil {
		t.Fatal(err)
	}
	if want := (junit.Totals{Tests: 10, Passed: 4, Skipped: 1, Failed: 5, Duration: 100 * time.Millisecond}); suites[0].Totals != want {
		t.Errorf("go-junit totals %+v, want %+v", suites[0].Totals, want)
	}
}

func TestDeviationsInSummaryMarkdown(t *testing.T) {
	md := string(readFile(t, writeStaging(t).SummaryMD))
	for _, want := range []string{
		"| Expected profile | kaizen4 |",
		"| Deviations file | deviations.yaml (target staging-eu, 9 entries) |",
		"| Cases | 10: 1 passed, 3 deviated as expected, 5 failed, 1 skipped |",
		"| Verdict | **FAIL: 5 failed (REFRESH-REVOKED, DC-OTHER, TOKEN-PANICS, ACCOUNTS-ONLY, PLAIN-FAIL), 1 passed, 3 deviated as expected, 1 skipped, 1 stopped deviating (TOKEN-EXCHANGE-OK)** |",
		"| TOKEN-CLIENT-WRONG-SECRET: token-client-wrong-secret | [🔶 deviated](#deviation-1) | seed |",
		"| TOKEN-EXCHANGE-OK: token-exchange-ok | [✅ passed (stopped deviating)](#stopped-1) | seed |",
		"## Expected deviations (3)\n\nDeviations file: deviations.yaml (target staging-eu, 9 entries). These cases differ from the documented contract the way the deviations file says: they do not fail the run.\n",
		"<a id=\"deviation-1\"></a>\n\n### TOKEN-CLIENT-WRONG-SECRET: token-client-wrong-secret\n",
		"- Reason: staging already answers the accounts-2025 error\n- Link: [https://example.com/ticket/123](https://example.com/ticket/123)\n- Listed at: `deviations.yaml:4`\n",
		"## Stopped deviating (1)\n\nThese cases passed, but the deviations file lists them as deviating: remove them from the deviations file.\n",
		"| <a id=\"stopped-1\"></a>TOKEN-EXCHANGE-OK: token-exchange-ok | staging used to refuse the first exchange | [https://example.com/ticket/126](https://example.com/ticket/126) | `deviations.yaml:17` |",
		"## Deviating differently (2)\n",
		"| [REFRESH-REVOKED: refresh-revoked](#failure-1) | listed as an expected deviation at deviations.yaml:12",
		"## Failures (5)",
	} {
		if !strings.Contains(md, want) {
			t.Errorf("summary.md lacks %q", want)
		}
	}
	// Deviations come before the failures; the mismatch is in the failure's message.
	if strings.Index(md, "## Expected deviations") > strings.Index(md, "## Failures") {
		t.Error("deviations after the failures")
	}
	if !regexp.MustCompile("(?s)### REFRESH-REVOKED.*it deviates differently: the file says error invalid_code, the target answered error invalid_token\n```").MatchString(md) {
		t.Error("the failure of REFRESH-REVOKED does not say how it deviates differently")
	}

	// A run without a deviations file has no such sections.
	plain := string(readFile(t, func() reports.Files { f, _ := writeMain(t); return f }().SummaryMD))
	for _, absent := range []string{"Expected deviations", "Stopped deviating", "Deviations file", "deviated"} {
		if strings.Contains(plain, absent) {
			t.Errorf("summary.md of a run without deviations mentions %q", absent)
		}
	}
}

func TestDeviationsInSummaryHTML(t *testing.T) {
	page := readFile(t, writeStaging(t).SummaryHTML)
	doc, err := html.Parse(bytes.NewReader(page))
	if err != nil {
		t.Fatal(err)
	}
	ids := map[string]bool{}
	cells := map[string]int{}
	var hrefs []string
	var walk func(*html.Node)
	walk = func(n *html.Node) {
		if n.Type == html.ElementNode {
			for _, a := range n.Attr {
				switch {
				case a.Key == "id":
					if ids[a.Val] {
						t.Errorf("duplicate id %q", a.Val)
					}
					ids[a.Val] = true
				case a.Key == "class" && n.Data == "td":
					cells[a.Val]++
				case a.Key == "href":
					hrefs = append(hrefs, a.Val)
				}
			}
		}
		for c := n.FirstChild; c != nil; c = c.NextSibling {
			walk(c)
		}
	}
	walk(doc)
	for _, id := range []string{"deviations", "deviation-1", "deviation-2", "deviation-3", "stopped-deviating", "stopped-1", "deviating-differently", "failures", "failure-5"} {
		if !ids[id] {
			t.Errorf("no element with id %q", id)
		}
	}
	// TOKEN-CLIENT-WRONG-SECRET, TOKEN-CODE-REUSED and REG-CONSOLE-MESSAGE
	// share one seed: three deviated cells, and the seed marked deviated?
	// No: the seed also has failed cases, so it is failed.
	if cells["o-deviated"] != 3 || cells["seed s-failed"] != 1 {
		t.Errorf("cells: %v", cells)
	}
	for _, h := range hrefs {
		if !strings.HasPrefix(h, "#") && !strings.HasPrefix(h, "https://example.com/ticket/") && !strings.HasPrefix(h, "http://example.com/ticket/") {
			t.Errorf("unexpected link %q", h)
		}
	}
	if !slices.Contains(hrefs, "https://example.com/ticket/123") || !slices.Contains(hrefs, "#deviation-1") || !slices.Contains(hrefs, "#stopped-1") {
		t.Errorf("links %v", hrefs)
	}
	text := textOf(doc)
	for _, want := range []string{"Expected profile", "kaizen4", "deviations.yaml (target staging-eu, 9 entries)", "10: 1 passed, 3 deviated as expected, 5 failed, 1 skipped",
		"🔶 deviated", "✅ passed (stopped deviating)", "Expected deviations (3)", "Stopped deviating (1)", "remove them from the deviations file",
		"staging already answers the accounts-2025 error", "Deviating differently (2)", "it deviates differently"} {
		if !strings.Contains(text, want) {
			t.Errorf("summary.html lacks %q", want)
		}
	}
}

// A seed whose cases all passed or deviated is marked deviated, and
// counted as such in the header.
func TestSeedWithDeviationOnly(t *testing.T) {
	rep := stagingReport(t)
	rep.SpecReports = rep.SpecReports[:2]
	files, err := reports.Write(t.TempDir(), rep, stagingRun(t))
	if err != nil {
		t.Fatal(err)
	}
	md := string(readFile(t, files.SummaryMD))
	if !strings.Contains(md, "| Seed IDs | 1 of 55 with a case run; 0 all passed, 0 with a failure, 1 with an expected deviation |") {
		t.Errorf("summary.md seed line:\n%s", md)
	}
	page := string(readFile(t, files.SummaryHTML))
	if !strings.Contains(page, `class="seed s-deviated"`) {
		t.Error("summary.html does not mark the seed deviated")
	}
}

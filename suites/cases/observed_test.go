package cases_test

import (
	"context"
	"errors"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/onsi/ginkgo/v2/types"

	"github.com/zconform/zconform/fakeserver"
	"github.com/zconform/zconform/fixtures"
	"github.com/zconform/zconform/fixtures/zoho"
	"github.com/zconform/zconform/reports"
	"github.com/zconform/zconform/suites/cases"
)

// runReport runs one case against a fake with the given breaks, and
// reports it the way the conformance suite does: its CaseMeta entry, the
// Observed entry when the case observed an answer, and the failure.
func runReport(t *testing.T, c fixtures.Case, breaks ...zoho.SeedID) (types.Report, error) {
	t.Helper()
	f := fake(t, zoho.Kaizen4, breaks...)
	res, err := cases.Run(context.Background(), f, c)
	seeds := make([]string, len(c.Seeds))
	for i, s := range c.Seeds {
		seeds[i] = string(s)
	}
	labels := []string{"case:" + c.ID, "area:" + string(c.Area), "basis:" + string(c.Basis)}
	sr := types.SpecReport{
		LeafNodeType:     types.NodeTypeIt,
		LeafNodeText:     c.ID + ": " + c.Title,
		LeafNodeLabels:   labels,
		LeafNodeLocation: types.CodeLocation{FileName: c.File, LineNumber: c.Line},
		State:            types.SpecStatePassed,
		RunTime:          time.Millisecond,
		ReportEntries: types.ReportEntries{{Name: reports.EntryName, Value: types.WrapEntryValue(reports.CaseMeta{
			ID: c.ID, Title: c.Title, Area: string(c.Area), Seeds: seeds, Basis: string(c.Basis),
			Target: f.Name(), DC: string(c.Stimulus.DC), Profile: f.Profile(), File: c.File, Line: c.Line,
		})}},
	}
	if res.Observed != nil {
		sr.ReportEntries = append(sr.ReportEntries, types.ReportEntry{Name: reports.ObservedEntryName, Value: types.WrapEntryValue(*res.Observed)})
	}
	if err != nil {
		sr.State = types.SpecStateFailed
		sr.Failure = types.Failure{Message: err.Error(), FailureNodeType: types.NodeTypeIt}
	}
	return types.Report{
		SuiteDescription: "zconform conformance",
		SuiteSucceeded:   err == nil,
		StartTime:        time.Now(),
		PreRunStats:      types.PreRunStats{TotalSpecs: 1, SpecsThatWillRun: 1},
		SpecReports:      types.SpecReports{sr},
	}, err
}

// A case that fails at a step other than its checked one (here the first,
// failing exchange that must burn the code, answered with HTTP 400 by a
// fake that sends token errors so) keeps what the target answered there:
// results.json holds it, and `zconform diff` compares it with the passing
// run's answer instead of "→ none".
func TestFailedCaseKeepsWhatTheTargetAnswered(t *testing.T) {
	c, ok := fixtures.Load().ByID("TOKEN-FAILED-EXCHANGE-BURNS-WRONG-SECRET")
	if !ok {
		t.Fatal("no case TOKEN-FAILED-EXCHANGE-BURNS-WRONG-SECRET in the catalogue")
	}
	good, err := runReport(t, c)
	if err != nil {
		t.Fatalf("against the fake: %v", err)
	}
	bad, err := runReport(t, c, fakeserver.DevTokenErrorHTTP400)
	var fail *cases.Failure
	if !errors.As(err, &fail) || fail.Step != "failed exchange" {
		t.Fatalf("with %s: err = %v, want a failure at step \"failed exchange\"", fakeserver.DevTokenErrorHTTP400, err)
	}

	dir := t.TempDir()
	oldDir, newDir := filepath.Join(dir, "old"), filepath.Join(dir, "new")
	if _, err := reports.Write(oldDir, good, reports.RunMeta{}); err != nil {
		t.Fatal(err)
	}
	if _, err := reports.Write(newDir, bad, reports.RunMeta{Breaks: []string{string(fakeserver.DevTokenErrorHTTP400)}}); err != nil {
		t.Fatal(err)
	}
	oldRes, err := reports.ReadResults(filepath.Join(oldDir, reports.ResultsFile))
	if err != nil {
		t.Fatal(err)
	}
	newRes, err := reports.ReadResults(filepath.Join(newDir, reports.ResultsFile))
	if err != nil {
		t.Fatal(err)
	}
	got := newRes.Cases[0]
	want := reports.Observed{Step: "failed exchange", Status: 400, Error: zoho.ErrInvalidClient}
	if got.Outcome != reports.Failed || got.Observed == nil || *got.Observed != want {
		t.Fatalf("results.json: outcome %s, observed %+v; want failed, %+v", got.Outcome, got.Observed, want)
	}

	d := reports.Diff(oldRes, newRes)
	if len(d.NewlyFailing) != 1 || d.NewlyFailing[0].New.Observed == nil || *d.NewlyFailing[0].New.Observed != want {
		t.Fatalf("diff: newly failing %+v", d.NewlyFailing)
	}
	text := d.Text()
	line := c.ID + ": passed → failed: " + got.Reason + " (error invalid_code → invalid_client, HTTP 200 → 400)  ← regression\n"
	if !strings.Contains(text, line) || strings.Contains(text, "→ none") {
		t.Errorf("zconform diff says:\n%s\nwant the line\n%s", text, line)
	}
}

// A case whose setup the target refuses (the console will not register
// the self client the case needs) keeps the console's answer too.
func TestCaseWhoseSetupFailsKeepsTheConsolesAnswer(t *testing.T) {
	c, ok := fixtures.Load().ByID("SELF-SCOPE-INVALID")
	if !ok {
		t.Fatal("no case SELF-SCOPE-INVALID in the catalogue")
	}
	res, err := cases.Run(context.Background(), fake(t, zoho.Kaizen4, zoho.RegMandatorySelf), c)
	var rerr *fakeserver.RegistrationError
	if !errors.As(err, &rerr) {
		t.Fatalf("with %s: err = %v, want the console's refusal", zoho.RegMandatorySelf, err)
	}
	if want := (reports.Observed{Step: "console", Error: rerr.Message}); res.Observed == nil || *res.Observed != want {
		t.Errorf("Observed = %+v, want %+v", res.Observed, want)
	}
}

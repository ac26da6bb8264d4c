package reports_test

import (
	"encoding/json"
	"testing"
	"time"

	"github.com/onsi/ginkgo/v2/types"

	"github.com/zconform/zconform/reports"
)

// Real-looking secrets that must never reach a report file whole.
const (
	testGrant   = "1000.0123456789abcdef0123456789abcdef.fedcba9876543210fedcba9876543210"
	testAccess  = "1000.aaaabbbbccccddddeeeeffff00001111.22223333444455556666777788889999"
	testRefresh = "1000.9f8e7d6c5b4a39281706f5e4d3c2b1a0.0a1b2c3d4e5f60718293a4b5c6d7e8f9"
	testSecret  = "0123456789abcdef0123456789abcdef0123456789"
)

var testSecrets = []string{testGrant, testAccess, testRefresh, testSecret}

var (
	testStart = time.Date(2026, 11, 28, 17, 0, 0, 0, time.UTC)
	testRun   = reports.RunMeta{
		Target:      "fake",
		Profile:     "kaizen4",
		Started:     testStart,
		LabelFilter: "!destructive",
	}
)

// How an entry's value looks in a report.
type entryForm int

const (
	// inProcess: the raw value is the struct itself and AsJSON is empty, as
	// in the process that called AddReportEntry.
	inProcess entryForm = iota
	// crossed: what Ginkgo's parallel support hands the ReportAfterSuite on
	// process 1 for another process's spec: the value went through
	// ReportEntryValue's JSON (or gob) encoding, so the raw value is a
	// map[string]any and AsJSON holds the JSON.
	crossed
	// asJSONOnly: only AsJSON (and Representation) set, no raw value.
	asJSONOnly
)

func entry(t *testing.T, form entryForm, name string, v any) types.ReportEntry {
	t.Helper()
	e := types.ReportEntry{
		Name:       name,
		Time:       testStart,
		Visibility: types.ReportEntryVisibilityFailureOrVerbose,
		Location:   types.CodeLocation{FileName: "/src/suites/conformance/conformance_test.go", LineNumber: 42},
	}
	wrapped := types.WrapEntryValue(v)
	switch form {
	case inProcess:
		e.Value = wrapped
	case crossed:
		data, err := json.Marshal(wrapped)
		if err != nil {
			t.Fatal(err)
		}
		if err := json.Unmarshal(data, &e.Value); err != nil {
			t.Fatal(err)
		}
		if e.Value.AsJSON == "" {
			t.Fatal("crossed entry without AsJSON")
		}
		if _, isMap := e.Value.GetRawValue().(map[string]any); !isMap {
			t.Fatalf("crossed entry's raw value is %T, want map[string]any", e.Value.GetRawValue())
		}
	case asJSONOnly:
		data, err := json.Marshal(v)
		if err != nil {
			t.Fatal(err)
		}
		e.Value = types.ReportEntryValue{AsJSON: string(data), Representation: "{...}"}
	}
	return e
}

func caseLabels(m reports.CaseMeta) []string {
	ls := []string{"case:" + m.ID, "area:" + m.Area, "basis:" + m.Basis}
	for _, s := range m.Seeds {
		ls = append(ls, "seed:"+s)
	}
	// As the conformance suite does: needs:X for every need, and the plain
	// destructive and slow too.
	for _, n := range m.Needs {
		ls = append(ls, "needs:"+n)
		if n == "destructive" || n == "slow" {
			ls = append(ls, n)
		}
	}
	return ls
}

const catalogueFile = "fixtures/catalogue/cases.yaml"

// caseSpec is a spec report for a catalogue case, as the conformance suite's
// DescribeTable entry makes it.
func caseSpec(m reports.CaseMeta, state types.SpecState, runTime time.Duration) types.SpecReport {
	return types.SpecReport{
		ContainerHierarchyTexts:     []string{"conformance"},
		ContainerHierarchyLocations: []types.CodeLocation{{FileName: "/src/suites/conformance/conformance_test.go", LineNumber: 20}},
		ContainerHierarchyLabels:    [][]string{{}},
		LeafNodeType:                types.NodeTypeIt,
		LeafNodeLocation:            types.CodeLocation{FileName: m.File, LineNumber: m.Line},
		LeafNodeLabels:              caseLabels(m),
		LeafNodeText:                m.ID + ": " + m.Title,
		State:                       state,
		StartTime:                   testStart,
		EndTime:                     testStart.Add(runTime),
		RunTime:                     runTime,
		ParallelProcess:             1,
		NumAttempts:                 1,
	}
}

// The cases of the main fixture.
var (
	metaExchangeOK = reports.CaseMeta{
		ID: "TOKEN-EXCHANGE-OK", Title: "a fresh grant token gets an access and a refresh token",
		Area: "token-exchange", Seeds: []string{"K4-NOTE-5"}, Basis: "seed",
		Target: "fake", DC: "us", Profile: "kaizen4", File: catalogueFile, Line: 10,
	}
	metaCodeReused = reports.CaseMeta{
		ID: "TOKEN-CODE-REUSED", Title: "a used grant token gets invalid_code",
		Area: "token-exchange", Seeds: []string{"K4-TOKEN-CODE-b", "K4-NOTE-3"}, Basis: "seed",
		Target: "fake", DC: "us", Profile: "kaizen4", File: catalogueFile, Line: 20,
	}
	metaGrantExpiry = reports.CaseMeta{
		ID: "NOTE-GRANT-EXPIRY", Title: "a grant token dies after one minute",
		Area: "token-exchange", Seeds: []string{"K4-NOTE-1", "K4-TOKEN-CODE-a"}, Basis: "seed",
		Needs: []string{"clock"}, Target: "fake", DC: "eu", Profile: "kaizen4", File: catalogueFile, Line: 30,
	}
	metaMissingParams = reports.CaseMeta{
		ID: "TOKEN-MISSING-PARAMS", Title: "missing parameters get invalid_request <with> \"odd\" | characters & *marks*",
		Area: "token-exchange", Seeds: nil, Basis: "assumed",
		Target: "fake", DC: "us", Profile: "kaizen4", File: catalogueFile, Line: 40,
	}
	// metaOtherDC's spec fails in a BeforeEach, before its body adds the
	// CaseMeta: the report knows it only from its labels.
	metaOtherDC = reports.CaseMeta{
		ID: "DC-GRANT-OTHER-DC", Title: "a grant presented at another DC gets invalid_client",
		Area: "data-centres", Seeds: []string{"K4-TOKEN-CLIENT-b"}, Basis: "seed",
		Needs: []string{"slow"}, File: catalogueFile, Line: 50,
	}
	// metaFiltered is filtered out by the label filter: never run.
	metaFiltered = reports.CaseMeta{
		ID: "NOTE-CAPS-EVICT", Title: "the 31st access token deletes the first",
		Area: "caps-rate-limits", Seeds: []string{"K4-NOTE-8"}, Basis: "seed",
		Needs: []string{"destructive"}, File: catalogueFile, Line: 60,
	}
)

const (
	reusedFailure = "K4-TOKEN-CODE-b: a used grant token must get invalid_code\n" +
		"sent: POST /accounts.zoho.com/oauth/v2/token grant_type=authorization_code client_id=1000.CICLIENT0000000000000000000001 client_secret=" + testSecret + " code=" + testGrant + "\n" +
		"came back: HTTP 200 {\"access_token\":\"" + testAccess + "\",\"refresh_token\":\"" + testRefresh + "\",\"expires_in\":3600}\n" +
		"Expected\n    <string>: \"\"\nto equal\n    <string>: invalid_code"
	skipReason     = "needs a virtual clock: target staging has none"
	otherDCFail    = "could not register the EU client: HTTP 500 from the control API (secret " + testSecret + ")"
	beforeSuiteMsg = "target fake is not reachable: dial tcp 127.0.0.1:8080: connect: connection refused (token " + testRefresh + ")"
)

// mainReport is a run with every kind of spec: a passed case (entry in
// process), a failed one (entries with only AsJSON, secrets in the message
// and output), a skipped one (entries that crossed processes), an assumed
// passed one, a case failed in its BeforeEach (labels only), a case
// filtered out, a spec that is no case, and a failed BeforeSuite.
func mainReport(t *testing.T) types.Report {
	t.Helper()
	ok := caseSpec(metaExchangeOK, types.SpecStatePassed, 120*time.Millisecond)
	ok.ReportEntries = types.ReportEntries{entry(t, inProcess, reports.EntryName, metaExchangeOK),
		entry(t, inProcess, reports.ObservedEntryName, reports.Observed{Step: "exchange", Status: 200})}

	reused := caseSpec(metaCodeReused, types.SpecStateFailed, 250*time.Millisecond)
	reused.ParallelProcess = 2
	reused.RunningInParallel = true
	reused.ReportEntries = types.ReportEntries{entry(t, asJSONOnly, reports.EntryName, metaCodeReused),
		entry(t, asJSONOnly, reports.ObservedEntryName, reports.Observed{Step: "second exchange of code " + testGrant, Status: 200})}
	reused.Failure = types.Failure{
		Message:             reusedFailure,
		Location:            types.CodeLocation{FileName: "/src/suites/conformance/token_test.go", LineNumber: 77},
		FailureNodeType:     types.NodeTypeIt,
		FailureNodeLocation: reused.LeafNodeLocation,
	}
	reused.CapturedGinkgoWriterOutput = "\x1b[1mPOST\x1b[0m token code=" + testGrant + " secret=" + testSecret + "\n"

	skipped := caseSpec(metaGrantExpiry, types.SpecStateSkipped, 3*time.Millisecond)
	skipped.ParallelProcess = 2
	skipped.ReportEntries = types.ReportEntries{entry(t, crossed, reports.EntryName, metaGrantExpiry)}
	skipped.Failure = types.Failure{Message: skipReason, FailureNodeType: types.NodeTypeIt}

	assumed := caseSpec(metaMissingParams, types.SpecStatePassed, 40*time.Millisecond)
	assumed.ReportEntries = types.ReportEntries{entry(t, crossed, reports.EntryName, metaMissingParams),
		entry(t, crossed, reports.ObservedEntryName, reports.Observed{Step: "exchange without code", Status: 200, Error: "invalid_request"})}

	otherDC := caseSpec(metaOtherDC, types.SpecStateFailed, 15*time.Millisecond)
	otherDC.Failure = types.Failure{
		Message:         otherDCFail,
		Location:        types.CodeLocation{FileName: "/src/suites/conformance/setup_test.go", LineNumber: 12},
		FailureNodeType: types.NodeTypeBeforeEach,
	}

	filtered := caseSpec(metaFiltered, types.SpecStateSkipped, 0)

	helper := types.SpecReport{
		LeafNodeType: types.NodeTypeIt, LeafNodeText: "has one spec per catalogue case",
		LeafNodeLocation: types.CodeLocation{FileName: "/src/suites/conformance/conformance_test.go", LineNumber: 90},
		State:            types.SpecStatePassed, RunTime: time.Millisecond,
	}

	beforeSuite := types.SpecReport{
		LeafNodeType:     types.NodeTypeSynchronizedBeforeSuite,
		LeafNodeLocation: types.CodeLocation{FileName: "/src/suites/conformance/conformance_suite_test.go", LineNumber: 30},
		State:            types.SpecStateFailed,
		RunTime:          5 * time.Millisecond,
		Failure: types.Failure{
			Message:         beforeSuiteMsg,
			Location:        types.CodeLocation{FileName: "/src/suites/conformance/conformance_suite_test.go", LineNumber: 33},
			FailureNodeType: types.NodeTypeSynchronizedBeforeSuite,
		},
	}

	return types.Report{
		SuitePath:        "/src/suites/conformance",
		SuiteDescription: "zconform conformance",
		SuiteSucceeded:   false,
		StartTime:        testStart,
		EndTime:          testStart.Add(2 * time.Second),
		RunTime:          2 * time.Second,
		SpecReports:      types.SpecReports{beforeSuite, ok, reused, skipped, assumed, otherDC, filtered, helper},
	}
}

// passingReport is a clean run: two passed cases, one skipped.
func passingReport(t *testing.T) types.Report {
	t.Helper()
	ok := caseSpec(metaExchangeOK, types.SpecStatePassed, 100*time.Millisecond)
	ok.ReportEntries = types.ReportEntries{entry(t, crossed, reports.EntryName, metaExchangeOK)}
	assumed := caseSpec(metaMissingParams, types.SpecStatePassed, 10*time.Millisecond)
	assumed.ReportEntries = types.ReportEntries{entry(t, inProcess, reports.EntryName, metaMissingParams)}
	skipped := caseSpec(metaGrantExpiry, types.SpecStateSkipped, 0)
	skipped.ReportEntries = types.ReportEntries{entry(t, asJSONOnly, reports.EntryName, metaGrantExpiry)}
	skipped.Failure = types.Failure{Message: skipReason}
	return types.Report{
		SuiteDescription: "zconform conformance",
		SuiteSucceeded:   true,
		StartTime:        testStart,
		RunTime:          time.Second,
		SpecReports:      types.SpecReports{ok, assumed, skipped},
	}
}

// beforeSuiteFailedReport is what Ginkgo reports when the BeforeSuite
// fails: the failed node, and every spec skipped without running.
func beforeSuiteFailedReport(t *testing.T) types.Report {
	t.Helper()
	bs := types.SpecReport{
		LeafNodeType:     types.NodeTypeBeforeSuite,
		LeafNodeLocation: types.CodeLocation{FileName: "/src/suites/conformance/conformance_suite_test.go", LineNumber: 30},
		State:            types.SpecStateFailed,
		Failure:          types.Failure{Message: beforeSuiteMsg, FailureNodeType: types.NodeTypeBeforeSuite},
	}
	specs := types.SpecReports{bs}
	for _, m := range []reports.CaseMeta{metaExchangeOK, metaCodeReused, metaGrantExpiry} {
		specs = append(specs, caseSpec(m, types.SpecStateSkipped, 0))
	}
	return types.Report{
		SuiteDescription: "zconform conformance",
		SuiteSucceeded:   false,
		StartTime:        testStart,
		SpecReports:      specs,
	}
}

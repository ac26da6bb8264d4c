package reports_test

import (
	"bytes"
	"context"
	"encoding/json"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/onsi/ginkgo/v2/types"

	"github.com/zconform/zconform/reports"
)

// A real Ginkgo run under `ginkgo -p`: testdata/_parallel is a small
// table of cases whose ReportAfterSuite calls Write with the aggregated
// report, in which the other process's entries have lost their raw values.
func TestWriteUnderGinkgoParallel(t *testing.T) {
	if testing.Short() {
		t.Skip("-short: skipping the ginkgo -p run")
	}
	goBin, err := exec.LookPath("go")
	if err != nil {
		t.Skipf("no go command on PATH (%v)", err)
	}
	out := filepath.Join(t.TempDir(), "reports")
	ctx, cancel := context.WithTimeout(t.Context(), 5*time.Minute)
	defer cancel()
	cmd := exec.CommandContext(ctx, goBin, "tool", "ginkgo", "-p", "--procs=2", "--no-color", "--succinct", "./testdata/_parallel")
	cmd.Env = append(os.Environ(), "ZCONFORM_E2E_OUT="+out)
	var log bytes.Buffer
	cmd.Stdout, cmd.Stderr = &log, &log
	err = cmd.Run()
	if _, ok := err.(*exec.ExitError); !ok || cmd.ProcessState.ExitCode() != 1 {
		t.Fatalf("ginkgo -p: %v (want exit status 1: the suite has a failing case)\n%s", err, log.String())
	}

	r, err := reports.ReadResults(filepath.Join(out, reports.ResultsFile))
	if err != nil {
		t.Fatalf("%v\nginkgo output:\n%s", err, log.String())
	}
	want := reports.Totals{Cases: 8, Passed: 6, Failed: 1, Skipped: 1, Assumed: 1}
	if r.Totals != want {
		t.Errorf("totals %+v, want %+v", r.Totals, want)
	}
	if v := r.Verdict(); v != "FAIL: 1 failed (E2E-2), 6 passed, 1 skipped" {
		t.Errorf("verdict %q", v)
	}
	for _, c := range r.Cases {
		if c.MetaSource != "" || c.DC != "us" || c.Catalogue == "" || len(c.Seeds) != 1 {
			t.Errorf("%s: metadata not read from its CaseMeta entry: %+v", c.ID, c)
		}
	}
	failed := r.Cases[2]
	if failed.ID != "E2E-2" || failed.Observed == nil || failed.Observed.Step != "second exchange" ||
		failed.Reason != "K4-NOTE-3: a used grant token must get invalid_code" || failed.Catalogue != "fixtures/catalogue/e2e.yaml:30" {
		t.Errorf("failed case: %+v", failed)
	}
	if skipped := r.Cases[5]; skipped.Reason != "needs a virtual clock: target staging has none" {
		t.Errorf("skipped case: %+v", skipped)
	}

	// The run did cross processes: some cases ran on process 2.
	var ginkgoReports []types.Report
	if err := json.Unmarshal(readFile(t, filepath.Join(out, reports.GinkgoJSONFile)), &ginkgoReports); err != nil {
		t.Fatal(err)
	}
	procs := map[int]int{}
	for _, sr := range ginkgoReports[0].SpecReports {
		if sr.LeafNodeType == types.NodeTypeIt {
			procs[sr.ParallelProcess]++
		}
	}
	if procs[1] == 0 || procs[2] == 0 {
		t.Errorf("specs per process %v: the run did not use both processes", procs)
	}

	for _, name := range []string{reports.JUnitFile, reports.GinkgoJSONFile, reports.ResultsFile, reports.SummaryMDFile, reports.SummaryHTMLFile} {
		data := readFile(t, filepath.Join(out, name))
		for _, s := range []string{testGrant, testSecret} {
			if bytes.Contains(data, []byte(s)) {
				t.Errorf("%s holds a secret whole", name)
			}
		}
		if name != reports.ResultsFile && !strings.Contains(string(data), "E2E-7") {
			t.Errorf("%s lacks a case", name)
		}
	}
}

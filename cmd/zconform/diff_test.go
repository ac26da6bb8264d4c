package main

import (
	"bytes"
	"encoding/json"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/zconform/zconform/reports"
)

var diffStart = time.Date(2026, 11, 28, 2, 0, 0, 0, time.UTC)

func diffCase(id string, o reports.Outcome, status int, errCode string) reports.CaseResult {
	c := reports.CaseResult{ID: id, Title: strings.ToLower(id), Seeds: []string{}, DC: "us", Outcome: o,
		Observed: &reports.Observed{Step: "exchange", Status: status, Error: errCode}}
	if o == reports.Failed || o == reports.Deviated {
		c.Reason = id + ": the contract says otherwise"
		c.Message = c.Reason
	}
	return c
}

// writeResults writes a results.json as a run would, in its own folder,
// and returns the folder.
func writeResults(t *testing.T, run reports.RunMeta, cases ...reports.CaseResult) string {
	t.Helper()
	r := reports.Results{Format: reports.ResultsFormat, Run: run, Cases: cases}
	r.Totals = reports.Totals{Cases: len(cases)}
	data, err := json.MarshalIndent(r, "", "  ")
	if err != nil {
		t.Fatal(err)
	}
	dir := t.TempDir()
	if err := os.WriteFile(filepath.Join(dir, "results.json"), data, 0o644); err != nil {
		t.Fatal(err)
	}
	return dir
}

func runCmd(args ...string) (code int, stdout, stderr string) {
	var out, errOut bytes.Buffer
	code = run(args, &out, &errOut)
	return code, out.String(), errOut.String()
}

var nightly = reports.RunMeta{Target: "staging-eu", Profile: "kaizen4", Started: diffStart}

func TestDiffCommandExitStatus(t *testing.T) {
	base := []reports.CaseResult{
		diffCase("TOKEN-EXCHANGE-OK", reports.Passed, 200, ""),
		diffCase("TOKEN-CLIENT-WRONG-SECRET", reports.Failed, 400, "invalid_client"),
		diffCase("TOKEN-CODE-REUSED", reports.Deviated, 200, ""),
	}
	old := writeResults(t, nightly, base...)
	tomorrow := nightly
	tomorrow.Started = diffStart.Add(24 * time.Hour)

	t.Run("no change", func(t *testing.T) {
		code, out, errOut := runCmd("diff", old, writeResults(t, tomorrow, base...))
		if code != 0 || errOut != "" || !strings.HasSuffix(out, "\nNO REGRESSION: no change in 3 cases\n") {
			t.Errorf("exit %d\n%s%s", code, out, errOut)
		}
	})
	t.Run("improvements only", func(t *testing.T) {
		better := writeResults(t, tomorrow,
			diffCase("TOKEN-EXCHANGE-OK", reports.Passed, 200, ""),
			diffCase("TOKEN-CLIENT-WRONG-SECRET", reports.Passed, 401, "invalid_client"),
			diffCase("TOKEN-CODE-REUSED", reports.Deviated, 200, ""),
			diffCase("NEW-CASE", reports.Passed, 200, ""))
		code, out, _ := runCmd("diff", old, better)
		if code != 0 || !strings.Contains(out, "Newly passing (1):\n  TOKEN-CLIENT-WRONG-SECRET: failed → passed (HTTP 400 → 401)\n") ||
			!strings.Contains(out, "Appeared, only in NEW (1):\n  NEW-CASE: new: passed") || !strings.HasSuffix(out, "NO REGRESSION: 1 newly passing, 1 appeared\n") {
			t.Errorf("exit %d\n%s", code, out)
		}
	})
	t.Run("the error code changed", func(t *testing.T) {
		changed := writeResults(t, tomorrow,
			diffCase("TOKEN-EXCHANGE-OK", reports.Passed, 200, ""),
			diffCase("TOKEN-CLIENT-WRONG-SECRET", reports.Failed, 400, "invalid_client_secret"),
			diffCase("TOKEN-CODE-REUSED", reports.Deviated, 200, ""))
		code, out, _ := runCmd("diff", filepath.Join(old, "results.json"), filepath.Join(changed, "results.json"))
		want := "Changed observation (1):\n  TOKEN-CLIENT-WRONG-SECRET: error invalid_client → invalid_client_secret (failed in both)  ← regression\n"
		if code != 1 || !strings.Contains(out, want) || !strings.HasSuffix(out, "REGRESSED: 1 failing differently\n") {
			t.Errorf("exit %d, want 1\n%s", code, out)
		}
	})
	t.Run("newly failing and disappeared", func(t *testing.T) {
		worse := writeResults(t, tomorrow,
			diffCase("TOKEN-EXCHANGE-OK", reports.Failed, 400, "invalid_code"),
			diffCase("TOKEN-CLIENT-WRONG-SECRET", reports.Failed, 400, "invalid_client"))
		code, out, _ := runCmd("diff", old, worse)
		for _, want := range []string{
			"Newly failing (1):\n  TOKEN-EXCHANGE-OK: passed → failed: TOKEN-EXCHANGE-OK: the contract says otherwise (error none → invalid_code, HTTP 200 → 400)  ← regression\n",
			"Disappeared, only in OLD (1):\n  TOKEN-CODE-REUSED: gone (was deviated, observed step exchange, HTTP 200)  ← regression\n",
			"REGRESSED: 1 newly failing, 1 disappeared\n",
		} {
			if !strings.Contains(out, want) {
				t.Errorf("output lacks %q", want)
			}
		}
		if code != 1 {
			t.Errorf("exit %d, want 1\n%s", code, out)
		}
	})
	t.Run("runs set up differently", func(t *testing.T) {
		other := tomorrow
		other.Profile, other.Target = "accounts-2025", "staging-us"
		code, out, _ := runCmd("diff", old, writeResults(t, other, base...))
		for _, want := range []string{
			"  target: staging-eu → staging-us\n    the runs ran against different targets\n",
			"  profile: kaizen4 → accounts-2025\n    the runs expected different profiles\n",
		} {
			if !strings.Contains(out, want) {
				t.Errorf("output lacks %q:\n%s", want, out)
			}
		}
		if code != 0 {
			t.Errorf("exit %d: a different set-up alone is no regression", code)
		}
	})
	t.Run("json", func(t *testing.T) {
		worse := writeResults(t, tomorrow,
			diffCase("TOKEN-EXCHANGE-OK", reports.Failed, 400, "invalid_code"),
			diffCase("TOKEN-CLIENT-WRONG-SECRET", reports.Failed, 400, "invalid_client"),
			diffCase("TOKEN-CODE-REUSED", reports.Deviated, 200, ""))
		// Flags go before, between or after the paths.
		for _, args := range [][]string{{"diff", "-json", old, worse}, {"diff", old, worse, "-json"}, {"diff", old, "-json", worse}} {
			code, out, errOut := runCmd(args...)
			var d reports.Differences
			if err := json.Unmarshal([]byte(out), &d); err != nil {
				t.Fatalf("%v: output is no JSON (%v):\n%s%s", args, err, out, errOut)
			}
			if code != 1 || !d.Regressed || len(d.NewlyFailing) != 1 || d.NewlyFailing[0].ID != "TOKEN-EXCHANGE-OK" ||
				d.Old.Path != filepath.Join(old, "results.json") || d.New.Path != filepath.Join(worse, "results.json") || d.Verdict != "REGRESSED: 1 newly failing" {
				t.Errorf("%v: exit %d, %+v", args, code, d)
			}
		}
	})
}

func TestDiffCommandBadInput(t *testing.T) {
	good := writeResults(t, nightly, diffCase("A", reports.Passed, 200, ""))
	dir := t.TempDir()
	write := func(name, content string) string {
		p := filepath.Join(dir, name)
		if err := os.WriteFile(p, []byte(content), 0o644); err != nil {
			t.Fatal(err)
		}
		return p
	}
	empty := t.TempDir()
	for _, tc := range []struct {
		name string
		args []string
		want string
	}{
		{"no argument", []string{"diff"}, "want two runs, OLD and NEW (results.json files or report folders), got 0 argument(s)"},
		{"one argument", []string{"diff", good}, "got 1 argument(s)"},
		{"three arguments", []string{"diff", good, good, good}, "got 3 argument(s)"},
		{"unknown flag", []string{"diff", "-yaml", good, good}, "flag provided but not defined: -yaml"},
		{"missing file", []string{"diff", filepath.Join(dir, "nope.json"), good}, "zconform diff: OLD: " + filepath.Join(dir, "nope.json") + ": no such file or folder: give a results.json or the report folder holding it"},
		{"folder without results", []string{"diff", good, empty}, "zconform diff: NEW: the folder " + empty + " holds no results.json: give a run's report folder (zconform run -out) or its results.json"},
		{"ginkgo.json", []string{"diff", write("ginkgo.json", `[{"SuitePath": "/x"}]`), good}, "ginkgo.json is not a zconform results.json: it holds a JSON array, not an object"},
		{"junit.xml", []string{"diff", good, write("junit.xml", `<?xml version="1.0"?><testsuites/>`)}, "junit.xml is not a zconform results.json: it is not JSON (invalid character '<'"},
		{"other JSON", []string{"diff", write("other.json", `{"name": "x"}`), good}, `other.json is not a zconform results.json: it has no "format" field`},
		{"no cases", []string{"diff", write("nocases.json", `{"format": 1}`), good}, `nocases.json is not a zconform results.json: it has no "cases" field`},
		{"future format", []string{"diff", good, write("future.json", `{"format": 2, "cases": []}`)}, "results format 2, this zconform reads format 1"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			code, out, errOut := runCmd(tc.args...)
			if code != 2 || !strings.Contains(errOut, tc.want) || out != "" {
				t.Errorf("exit %d (want 2), stdout %q, stderr:\n%s\nwant %q", code, out, errOut, tc.want)
			}
		})
	}
	code, _, errOut := runCmd("diff", "-h")
	if code != 0 || !strings.Contains(errOut, "Usage: zconform diff [-json] OLD NEW") || !strings.Contains(errOut, "Exit status: 0 nothing regressed, 1 something regressed, 2 bad input.") {
		t.Errorf("-h: exit %d\n%s", code, errOut)
	}
	code, out, _ := runCmd("help")
	if code != 0 || !strings.Contains(out, "zconform diff OLD NEW") {
		t.Errorf("help does not list diff:\n%s", out)
	}
}

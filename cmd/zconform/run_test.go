package main

import (
	"encoding/json"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"

	"github.com/zconform/zconform/fixtures"
	"github.com/zconform/zconform/reports"
	"github.com/zconform/zconform/suites/target"
)

// The main job end to end: build the suite, run it in parallel against the
// fake, read the verdict; then against a fake that breaks two rules, where
// it must fail with the failing IDs on the last lines, and no report may
// hold a secret the run used.
func TestRunEndToEnd(t *testing.T) {
	if testing.Short() {
		t.Skip("builds and runs the conformance suite")
	}
	out := t.TempDir()
	var stdout, stderr syncBuffer
	code := run([]string{"run", "-out", out, "-procs", "2"}, &stdout, &stderr)
	if code != 0 {
		t.Fatalf("exit %d\nstdout:\n%s\nstderr:\n%s", code, stdout.String(), stderr.String())
	}
	r, err := reports.ReadResults(filepath.Join(out, "results.json"))
	if err != nil {
		t.Fatal(err)
	}
	if r.Totals.Passed == 0 || r.Totals.Failed != 0 || !strings.Contains(lastLines(stdout.String(), 1), "PASS") {
		t.Fatalf("totals %+v, last line %q", r.Totals, lastLines(stdout.String(), 1))
	}
	for _, f := range []string{"junit.xml", "ginkgo.json", "results.json", "summary.md", "summary.html"} {
		if _, err := os.Stat(filepath.Join(out, f)); err != nil {
			t.Errorf("no %s: %v", f, err)
		}
	}

	// A prebuilt go test -c binary, run serially without the ginkgo CLI.
	prebuilt := filepath.Join(t.TempDir(), "conformance.test")
	root, err := moduleRoot()
	if err != nil {
		t.Fatal(err)
	}
	build := exec.Command("go", "test", "-c", "-o", prebuilt, suitePackage)
	build.Dir = root
	if msg, err := build.CombinedOutput(); err != nil {
		t.Fatalf("go test -c: %v\n%s", err, msg)
	}
	serial := t.TempDir()
	stdout, stderr = syncBuffer{}, syncBuffer{}
	code = run([]string{"run", "-suite", prebuilt, "-procs", "1", "-out", serial, "-profile", "accounts-2025", "-label-filter", "area:registration"}, &stdout, &stderr)
	if code != 0 {
		t.Fatalf("prebuilt serial run: exit %d\n%s%s", code, stdout.String(), stderr.String())
	}
	if r, err = reports.ReadResults(filepath.Join(serial, "results.json")); err != nil || r.Totals.Cases != len(fixtures.Load().InArea(fixtures.AreaRegistration)) || r.Run.Profile != "accounts-2025" {
		t.Fatalf("prebuilt serial run: %+v %+v, %v", r.Totals, r.Run, err)
	}

	broken := t.TempDir()
	journal := filepath.Join(t.TempDir(), "secrets")
	t.Setenv(target.EnvSecretsJournal, journal)
	stdout, stderr = syncBuffer{}, syncBuffer{}
	code = run([]string{"run", "-out", broken, "-procs", "2", "-break", "K4-TOKEN-CODE-b,K4-NOTE-5"}, &stdout, &stderr)
	if code == 0 {
		t.Fatalf("a fake with broken rules passed:\n%s", stdout.String())
	}
	// the run ends with the failing cases, one a line, however many
	_, tail, _ := strings.Cut(stdout.String(), "\nfailing cases:\n")
	for _, id := range []string{"TOKEN-CODE-REUSED", "ACCESS-TOKEN-ONE-HOUR"} {
		if !strings.Contains(tail, "  "+id) {
			t.Errorf("the last lines do not name %s:\n%s", id, tail)
		}
	}
	data, err := os.ReadFile(journal)
	if err != nil {
		t.Fatal(err)
	}
	secrets := strings.Fields(string(data))
	if len(secrets) < 100 {
		t.Fatalf("the journal holds only %d secrets", len(secrets))
	}
	files, _ := filepath.Glob(filepath.Join(broken, "*"))
	for _, f := range files {
		content, err := os.ReadFile(f)
		if err != nil {
			t.Fatal(err)
		}
		for _, s := range secrets {
			if strings.Contains(string(content), s) {
				t.Fatalf("%s holds the secret %s…", filepath.Base(f), s[:9])
			}
		}
	}
	t.Logf("%d report files free of %d secrets", len(files), len(secrets))

	// A fake off its contract: the run says so, and the case its
	// difference touches fails.
	off := t.TempDir()
	stdout, stderr = syncBuffer{}, syncBuffer{}
	code = run([]string{"run", "-out", off, "-procs", "1", "-suite", prebuilt, "-label-filter", "area:token-exchange", "-fake-limits", "{grant_lifetime: 61s}"}, &stdout, &stderr)
	if code != 1 || !strings.Contains(stderr.String(), "off contract: the fake runs limits apart from the kaizen4 contract: grant_lifetime 1m1s (contract 1m0s)") ||
		!strings.Contains(lastLines(stdout.String(), 3), "  TOKEN-CODE-LIFETIME-EDGES") {
		t.Fatalf("off-contract run: exit %d\nstdout:\n%s\nstderr:\n%s", code, lastLines(stdout.String(), 5), stderr.String())
	}
	if r, err = reports.ReadResults(filepath.Join(off, "results.json")); err != nil || !strings.Contains(r.Run.OffContract, "grant_lifetime 1m1s") {
		t.Fatalf("the results do not say the fake was off its contract: %+v, %v", r.Run, err)
	}
}

func TestRunRefusesBadFlags(t *testing.T) {
	for _, c := range []struct {
		args []string
		want string
	}{
		{[]string{"run", "-profile", "k9"}, `unknown profile "k9"`},
		{[]string{"run", "-break", "K4-NOPE"}, `no break for "K4-NOPE"`},
		{[]string{"run", "-procs", "0"}, "at least 1"},
		{[]string{"run", "-suite", "/nonexistent/conformance.test", "-procs", "1"}, "-suite"},
		{[]string{"run", "extra"}, "unexpected argument"},
		{[]string{"run", "-fake-limits", "{grant_lifetimes: 61s}"}, `-fake-limits: limits: unknown limit "grant_lifetimes": the limits are grant_lifetime,`},
		{[]string{"run", "-fake-limits", "{grant_lifetime: -1s}"}, "grant_lifetime must be positive"},
		{[]string{"run", "-target", "t.yaml", "-fake-limits", "{grant_lifetime: 61s}"}, "apply to the bundled fake"},
		{[]string{"run", "-grace", "0s"}, "-grace must be positive"},
		{[]string{"run", "-label-filter", "area:registration &&"}, `-label-filter "area:registration &&" does not parse`},
		{[]string{"run", "-label-filter", "case:NO-SUCH-CASE"}, `-label-filter "case:NO-SUCH-CASE" matches none of the`},
		{[]string{"run", "-via", "tunnel"}, `-via "tunnel": use direct or proxy`},
		{[]string{"run", "-via", "proxy", "-target", "t.yaml"}, "a -target is reached at the URLs its file names"},
	} {
		var stdout, stderr syncBuffer
		if code := run(c.args, &stdout, &stderr); code == 0 || !strings.Contains(stderr.String(), c.want) {
			t.Errorf("%v: exit %d, stderr %q, want %q", c.args, code, stderr.String(), c.want)
		}
	}
}

func TestCatalogueCommand(t *testing.T) {
	var stdout, stderr syncBuffer
	if code := run([]string{"catalogue"}, &stdout, &stderr); code != 0 || !strings.Contains(stdout.String(), "TOKEN-CODE-REUSED") || !strings.Contains(stdout.String(), "by switching their fault off, 3 without one") {
		t.Fatalf("exit %d\n%s%s", code, stdout.String(), stderr.String())
	}
	stdout = syncBuffer{}
	if code := run([]string{"catalogue", "-json", "-area", "data-centres"}, &stdout, &stderr); code != 0 || !strings.Contains(stdout.String(), `"id": "DC-GRANT-AT-OTHER-DC"`) || strings.Contains(stdout.String(), "REG-NAME") {
		t.Fatalf("exit %d\n%s", code, stdout.String())
	}
}

func lastLines(s string, n int) string {
	lines := strings.Split(strings.TrimRight(s, "\n"), "\n")
	if len(lines) > n {
		lines = lines[len(lines)-n:]
	}
	return strings.Join(lines, "\n")
}

// The progress lines replace Ginkgo's line of marks; everything else,
// failure reports included, passes whole.
func TestDotLineFilter(t *testing.T) {
	var out strings.Builder
	f := &dotLineFilter{w: &out}
	for _, chunk := range []string{"Will run 3 of 3 specs\n", "\x1b[38;5;10m•\x1b[0m", "•SS", "\n", "------\n• [FAILED] [0.001 seconds]\n", "S•\n\nRan 3 of 3 Specs\n", "tail"} {
		if _, err := f.Write([]byte(chunk)); err != nil {
			t.Fatal(err)
		}
	}
	f.Flush()
	if want := "Will run 3 of 3 specs\n------\n• [FAILED] [0.001 seconds]\n\nRan 3 of 3 Specs\ntail"; out.String() != want {
		t.Fatalf("filtered:\n%q\nwant:\n%q", out.String(), want)
	}
}

func TestVersionCommand(t *testing.T) {
	var stdout, stderr syncBuffer
	if code := run([]string{"--version"}, &stdout, &stderr); code != 0 || !strings.Contains(stdout.String(), "catalogue:    "+fixtures.CatalogueDigest()) {
		t.Fatalf("--version: exit %d\n%s%s", code, stdout.String(), stderr.String())
	}
	stdout = syncBuffer{}
	var id struct {
		Version, Commit, Go, Catalogue string
		Cases                          int
	}
	if code := run([]string{"version", "-json"}, &stdout, &stderr); code != 0 {
		t.Fatalf("version -json: exit %d %s", code, stderr.String())
	}
	if err := json.Unmarshal([]byte(stdout.String()), &id); err != nil || id.Catalogue != fixtures.CatalogueDigest() || id.Cases != len(fixtures.Load().Cases) || id.Go == "" {
		t.Fatalf("version -json: %+v %v\n%s", id, err, stdout.String())
	}
}

// zconform run -via proxy: the whole catalogue on Zoho's real host names
// through the fake's proxy, named so in the reports; a break is caught
// there as directly.
func TestRunViaProxy(t *testing.T) {
	out := t.TempDir()
	var stdout, stderr syncBuffer
	if code := run([]string{"run", "-via", "proxy", "-out", out}, &stdout, &stderr); code != 0 {
		t.Fatalf("exit %d\n%s%s", code, stdout.String(), stderr.String())
	}
	r, err := reports.ReadResults(filepath.Join(out, "results.json"))
	if err != nil {
		t.Fatal(err)
	}
	if r.Run.Target != "fake via proxy" || r.Totals.Passed != len(fixtures.Load().Cases) || r.Totals.Failed != 0 {
		t.Errorf("via proxy: target %q, totals %+v", r.Run.Target, r.Totals)
	}
	broken := t.TempDir()
	stdout, stderr = syncBuffer{}, syncBuffer{}
	code := run([]string{"run", "-via", "proxy", "-break", "K4-TOKEN-CODE-b", "-label-filter", "seed: containsAny {K4-TOKEN-CODE-b}", "-out", broken}, &stdout, &stderr)
	if code != 1 || !strings.Contains(stdout.String(), "TOKEN-CODE-REUSED") {
		t.Errorf("a break via proxy: exit %d\n%s", code, stdout.String())
	}
}

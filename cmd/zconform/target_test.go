package main

import (
	"encoding/json"
	"errors"
	"fmt"
	"net/http"
	"net/url"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/zconform/zconform/fakeserver"
	"github.com/zconform/zconform/fixtures/zoho"
	"github.com/zconform/zconform/reports"
	"github.com/zconform/zconform/suites/target"
)

const (
	stagingClient = "1000.STAGINGCLIENT00000000000000000"
	stagingSecret = "5a5a5a5a5a5a5a5a5a5a5a5a5a5a5a5a5a5a5a5a5a"
	stagingUser   = "ci@staging.example"
)

// fakeProcess is the fake served by the zconform binary as a separate
// process: to the suite it is a real endpoint (no clock, no console, no
// breaks).
type fakeProcess struct {
	bin  string
	info readyInfo
	cmd  *exec.Cmd
}

// buildZconform builds the command once per test binary.
func buildZconform(t *testing.T) string {
	t.Helper()
	bin := filepath.Join(t.TempDir(), "zconform")
	build := exec.Command("go", "build", "-o", bin, ".")
	if out, err := build.CombinedOutput(); err != nil {
		t.Fatalf("go build: %v\n%s", err, out)
	}
	return bin
}

func startFakeProcess(t *testing.T, bin, profile string, extra ...string) *fakeProcess {
	t.Helper()
	dir := t.TempDir()
	seed := filepath.Join(dir, "seed.yaml")
	// A staging deployment configured for CI: the grant-token rate limit
	// raised, so that the run need not wait a minute per five grants.
	if err := os.WriteFile(seed, []byte(fmt.Sprintf(`profile: %s
limits: {grant_rate: {limit: 1000, window: 1m}}
users:
  - {email: %s, dc: us}
clients:
  - {id: %s, secret: %s, type: web, name: Staging CI, homepage: https://www.example.com, redirect_uris: [https://www.example.com/callback], user: %s}
`, profile, stagingUser, stagingClient, stagingSecret, stagingUser)), 0o644); err != nil {
		t.Fatal(err)
	}
	ready := filepath.Join(dir, "ready.json")
	cmd := exec.Command(bin, append([]string{"fake", "-addr", "127.0.0.1:0", "-seed", seed, "-ready-file", ready, "-log", "off"}, extra...)...)
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = cmd.Process.Kill(); _ = cmd.Wait() })
	p := &fakeProcess{bin: bin, cmd: cmd}
	deadline := time.Now().Add(10 * time.Second)
	for {
		if data, err := os.ReadFile(ready); err == nil && json.Unmarshal(data, &p.info) == nil {
			return p
		}
		if time.Now().After(deadline) {
			t.Fatal("the fake process did not get ready")
		}
		time.Sleep(20 * time.Millisecond)
	}
}

// targetFile writes a target file for the fake process, as a staging
// endpoint would be described, naming the URLs of the DCs given (us and eu
// when none are).
func (p *fakeProcess) targetFile(t *testing.T, name, profile string, dcs ...zoho.DC) string {
	t.Helper()
	if len(dcs) == 0 {
		dcs = []zoho.DC{zoho.US, zoho.EU}
	}
	var named strings.Builder
	for _, dc := range dcs {
		u := p.info.DataCentres[dc]
		fmt.Fprintf(&named, "  %s: {accounts: %s, api: %s}\n", dc, u["accounts_server"], u["api_domain"])
	}
	body := fmt.Sprintf(`name: %s
profile: %s
user_dc: us
allow_http: true
data_centres:
%sclient:
  id: %s
  secret_env: ZCONFORM_TEST_SECRET
  redirect_uri: https://www.example.com/callback
grants:
  rate: {limit: 0}
  command: [%s, grant, -accounts, %s, -client-id, %s, -redirect-uri, "https://www.example.com/callback"]
`, name, profile, named.String(), stagingClient, p.bin, p.info.DataCentres[zoho.US]["accounts_server"], stagingClient)
	path := filepath.Join(t.TempDir(), "target.yaml")
	if err := os.WriteFile(path, []byte(body), 0o644); err != nil {
		t.Fatal(err)
	}
	return path
}

// liveTokens counts the staging user's live tokens through the control API.
func (p *fakeProcess) liveTokens(t *testing.T) int {
	t.Helper()
	resp, err := http.Get(p.info.Control + "/users/" + stagingUser + "/tokens")
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	var tok struct {
		RefreshTokens []json.RawMessage `json:"refresh_tokens"`
		AccessTokens  []json.RawMessage `json:"access_tokens"`
	}
	if err := json.NewDecoder(resp.Body).Decode(&tok); err != nil {
		t.Fatal(err)
	}
	return len(tok.RefreshTokens) + len(tok.AccessTokens)
}

// The real-target path, proven against the fake served as a separate
// process: the non-destructive, non-slow cases pass, the rest are skipped
// with reasons, and every token the run created is revoked.
func TestRunAgainstARealTarget(t *testing.T) {
	if testing.Short() {
		t.Skip("builds zconform and the suite, starts the fake as a process")
	}
	bin := buildZconform(t)
	t.Setenv("ZCONFORM_TEST_SECRET", stagingSecret)
	fake := startFakeProcess(t, bin, "kaizen4")
	file := fake.targetFile(t, "fake-as-staging", "kaizen4")

	out := t.TempDir()
	var stdout, stderr syncBuffer
	if code := run([]string{"run", "-target", file, "-out", out}, &stdout, &stderr); code != 0 {
		t.Fatalf("exit %d\n%s\n%s", code, lastLines(stdout.String(), 40), stderr.String())
	}
	r, err := reports.ReadResults(filepath.Join(out, "results.json"))
	if err != nil {
		t.Fatal(err)
	}
	if r.Run.Target != "fake-as-staging" || r.Totals.Failed != 0 || r.Totals.Passed < 15 || r.Totals.Skipped < 15 {
		t.Fatalf("run %+v totals %+v", r.Run, r.Totals)
	}
	for _, c := range r.Cases {
		if c.Outcome == "skipped" && c.Reason == "" {
			t.Errorf("%s skipped without a reason", c.ID)
		}
		destructive := false
		for _, n := range c.Needs {
			destructive = destructive || n == "destructive"
		}
		if destructive && c.Outcome != "skipped" {
			t.Errorf("%s is destructive and ran without --destructive", c.ID)
		}
	}
	// The file names eu as well: the cross-DC cases a real endpoint can
	// run, run.
	for _, c := range r.Cases {
		if (c.ID == "DC-GRANT-AT-OTHER-DC" || c.ID == "API-TOKEN-AT-OTHER-DC") && c.Outcome != reports.Passed {
			t.Errorf("%s with eu named: %s (%s)", c.ID, c.Outcome, c.Reason)
		}
	}
	if n := fake.liveTokens(t); n != 0 {
		t.Errorf("%d tokens of the run are still live on the target", n)
	}
	if strings.Contains(stdout.String()+stderr.String(), stagingSecret) {
		t.Error("the client secret reached the output")
	}
	t.Logf("real-target run: %s", r.Verdict())
}

// requests reads the fake's whole request log through the control API.
func (p *fakeProcess) requests(t *testing.T) []fakeserver.Request {
	t.Helper()
	var all []fakeserver.Request
	next := p.info.Control + "/requests?limit=10000"
	for next != "" {
		resp, err := http.Get(next)
		if err != nil {
			t.Fatal(err)
		}
		var page struct {
			Requests []fakeserver.Request `json:"requests"`
			More     bool                 `json:"more"`
			Next     string               `json:"next"`
		}
		err = json.NewDecoder(resp.Body).Decode(&page)
		resp.Body.Close()
		if err != nil {
			t.Fatal(err)
		}
		all = append(all, page.Requests...)
		next = ""
		if page.More && page.Next != "" {
			u, err := url.Parse(p.info.Control)
			if err != nil {
				t.Fatal(err)
			}
			next = u.Scheme + "://" + u.Host + page.Next
		}
	}
	return all
}

// A staging file that names only the user's DC: the run sends nothing to
// any other DC (the fake serves them all, and logs every request with its
// DC), and the cases that need another DC are skipped, saying which DC to
// add. Before, the other DCs kept Zoho's production URLs.
func TestRunReachesOnlyTheDCsTheFileNames(t *testing.T) {
	if testing.Short() {
		t.Skip("builds zconform and the suite, starts the fake as a process")
	}
	bin := buildZconform(t)
	t.Setenv("ZCONFORM_TEST_SECRET", stagingSecret)
	fake := startFakeProcess(t, bin, "kaizen4")
	file := fake.targetFile(t, "staging-us-only", "kaizen4", zoho.US)

	out := t.TempDir()
	var stdout, stderr syncBuffer
	if code := run([]string{"run", "-target", file, "-out", out}, &stdout, &stderr); code != 0 {
		t.Fatalf("exit %d\n%s\n%s", code, lastLines(stdout.String(), 40), lastLines(stderr.String(), 40))
	}
	r, err := reports.ReadResults(filepath.Join(out, "results.json"))
	if err != nil {
		t.Fatal(err)
	}
	const reason = "needs the EU DC: the target file names no URLs for eu (add it under data_centres to include this case)"
	skippedForDC := map[string]bool{}
	for _, c := range r.Cases {
		if strings.Contains(c.Reason, "the target file names no URLs for") {
			skippedForDC[c.ID] = true
			if c.Outcome != reports.Skipped || c.Reason != reason {
				t.Errorf("%s: %s %q, want skipped %q", c.ID, c.Outcome, c.Reason, reason)
			}
		}
	}
	if len(skippedForDC) != 3 || !skippedForDC["DC-GRANT-AT-OTHER-DC"] || !skippedForDC["API-TOKEN-AT-OTHER-DC"] || !skippedForDC["SERVERINFO-AT-ANOTHER-DC"] {
		t.Errorf("skipped for a DC the file does not name: %v, want DC-GRANT-AT-OTHER-DC, API-TOKEN-AT-OTHER-DC and SERVERINFO-AT-ANOTHER-DC", skippedForDC)
	}
	if r.Totals.Failed != 0 || r.Totals.Passed < 15 {
		t.Errorf("totals %+v", r.Totals)
	}
	summary, _ := os.ReadFile(filepath.Join(out, "summary.md"))
	if !strings.Contains(string(summary), "the target file names no URLs for eu") {
		t.Error("the summary does not give the reason")
	}
	log := fake.requests(t)
	if len(log) < 50 || log[0].Seq != 1 {
		t.Fatalf("the fake's request log holds %d requests from #%d: want the whole run's", len(log), log[0].Seq)
	}
	byDC := map[zoho.DC]int{}
	for _, q := range log {
		byDC[q.DC]++
		if q.DC != zoho.US {
			t.Errorf("request #%d went to the %s DC (%s %s %s): the file names only us", q.Seq, q.DC, q.Role, q.Method, q.Path)
		}
	}
	if n := fake.liveTokens(t); n != 0 {
		t.Errorf("%d tokens of the run are still live on the target", n)
	}
	t.Logf("us-only run: %s; the fake logged %v requests by DC", r.Verdict(), byDC)
}

// A target that cannot be reached, or refuses the credentials, gets one
// clear message and no wall of failed cases.
func TestRunRefusesABrokenTargetUpFront(t *testing.T) {
	if testing.Short() {
		t.Skip("builds the suite")
	}
	bin := buildZconform(t)
	fake := startFakeProcess(t, bin, "kaizen4")
	file := fake.targetFile(t, "fake-as-staging", "kaizen4")
	for _, c := range []struct {
		name, secret, want string
	}{
		{"wrong secret", "0000000000000000000000000000000000000000aa", "refuses the client (invalid_client)"},
		{"no secret", "", "$ZCONFORM_TEST_SECRET is empty"},
	} {
		t.Run(c.name, func(t *testing.T) {
			t.Setenv("ZCONFORM_TEST_SECRET", c.secret)
			var stdout, stderr syncBuffer
			code := run([]string{"run", "-target", file, "-out", t.TempDir()}, &stdout, &stderr)
			all := stdout.String() + stderr.String()
			if code == 0 || !strings.Contains(all, c.want) {
				t.Fatalf("exit %d, want a message with %q:\n%s", code, c.want, lastLines(all, 30))
			}
			if strings.Count(all, "[FAIL]") > 1 {
				t.Errorf("a wall of failures instead of one message:\n%s", lastLines(all, 30))
			}
		})
	}
	fake.cmd.Process.Kill()
	_ = fake.cmd.Wait()
	t.Setenv("ZCONFORM_TEST_SECRET", stagingSecret)
	var stdout, stderr syncBuffer
	code := run([]string{"run", "-target", file, "-out", t.TempDir()}, &stdout, &stderr)
	if all := stdout.String() + stderr.String(); code == 0 || !strings.Contains(all, "cannot reach the US Accounts server") {
		t.Fatalf("unreachable target: exit %d:\n%s", code, lastLines(all, 30))
	}
}

// Interrupting a run revokes what it created.
func TestInterruptedRunRevokesItsTokens(t *testing.T) {
	if testing.Short() {
		t.Skip("builds the suite")
	}
	bin := buildZconform(t)
	t.Setenv("ZCONFORM_TEST_SECRET", stagingSecret)
	fake := startFakeProcess(t, bin, "kaizen4")
	file := fake.targetFile(t, "fake-as-staging", "kaizen4")
	suite := filepath.Join(t.TempDir(), "conformance.test")
	root, err := moduleRoot()
	if err != nil {
		t.Fatal(err)
	}
	build := exec.Command("go", "test", "-c", "-o", suite, suitePackage)
	build.Dir = root
	if out, err := build.CombinedOutput(); err != nil {
		t.Fatalf("%v\n%s", err, out)
	}
	// ACCESS-TOKEN-ONE-HOUR gets tokens, then waits for real (-slow) for
	// most of an hour: interrupt it there.
	cmd := exec.Command(suite, "-ginkgo.label-filter=case:ACCESS-TOKEN-ONE-HOUR")
	cmd.Env = append(os.Environ(), target.EnvTarget+"="+file, target.EnvSlow+"=1", target.EnvOut+"="+t.TempDir())
	var out syncBuffer
	cmd.Stdout, cmd.Stderr = &out, &out
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	deadline := time.Now().Add(30 * time.Second)
	for fake.liveTokens(t) == 0 {
		if time.Now().After(deadline) {
			_ = cmd.Process.Kill()
			t.Fatalf("the run created no tokens:\n%s", out.String())
		}
		time.Sleep(50 * time.Millisecond)
	}
	if err := cmd.Process.Signal(syscall.SIGINT); err != nil {
		t.Fatal(err)
	}
	done := make(chan error, 1)
	go func() { done <- cmd.Wait() }()
	select {
	case <-done:
	case <-time.After(60 * time.Second):
		_ = cmd.Process.Kill()
		t.Fatalf("the interrupted run did not stop:\n%s", out.String())
	}
	if n := fake.liveTokens(t); n != 0 {
		t.Fatalf("%d tokens still live after the interrupt:\n%s", n, lastLines(out.String(), 30))
	}
	if !strings.Contains(out.String(), "revoked the") {
		t.Errorf("the run did not say it revoked its tokens:\n%s", lastLines(out.String(), 30))
	}
}

// A nightly "staging" run: staging moved to the accounts-2025 limits while
// the run still expects the seed's contract. The deviations file names the
// one known difference, which is then reported as a deviation, not a
// failure; zconform diff against the kaizen4 run lists exactly that case.
func TestStagingRunWithDeviationsAndDiff(t *testing.T) {
	if testing.Short() {
		t.Skip("builds zconform and the suite, starts the fake as a process")
	}
	bin := buildZconform(t)
	t.Setenv("ZCONFORM_TEST_SECRET", stagingSecret)

	before := t.TempDir()
	seedRun := startFakeProcess(t, bin, "kaizen4")
	var stdout, stderr syncBuffer
	if code := run([]string{"run", "-target", seedRun.targetFile(t, "staging", "kaizen4"), "-out", before}, &stdout, &stderr); code != 0 {
		t.Fatalf("kaizen4 staging run: exit %d\n%s", code, lastLines(stdout.String()+stderr.String(), 30))
	}

	moved := startFakeProcess(t, bin, "accounts-2025")
	devs := filepath.Join(t.TempDir(), "deviations.yaml")
	if err := os.WriteFile(devs, []byte(`target: staging
deviations:
  - case: TOKEN-CLIENT-WRONG-SECRET
    profile: kaizen4
    observed: {error: invalid_client_secret}
    reason: staging answers a wrong secret with the accounts-2025 error
    link: https://example.com/tickets/4711
`), 0o644); err != nil {
		t.Fatal(err)
	}
	after := t.TempDir()
	stdout, stderr = syncBuffer{}, syncBuffer{}
	code := run([]string{"run", "-target", moved.targetFile(t, "staging", "kaizen4"), "-deviations", devs, "-out", after}, &stdout, &stderr)
	if code != 0 {
		t.Fatalf("accounts-2025 staging run with deviations: exit %d\n%s", code, lastLines(stdout.String()+stderr.String(), 40))
	}
	r, err := reports.ReadResults(filepath.Join(after, "results.json"))
	if err != nil {
		t.Fatal(err)
	}
	var deviated []string
	for _, c := range r.Cases {
		if c.Outcome == reports.Deviated {
			deviated = append(deviated, c.ID)
		}
	}
	if strings.Join(deviated, ",") != "TOKEN-CLIENT-WRONG-SECRET" || r.Totals.Failed != 0 {
		t.Fatalf("deviated %v, totals %+v", deviated, r.Totals)
	}
	summary, _ := os.ReadFile(filepath.Join(after, "summary.md"))
	if !strings.Contains(string(summary), "https://example.com/tickets/4711") {
		t.Error("the summary does not show the deviation's link")
	}

	stdout, stderr = syncBuffer{}, syncBuffer{}
	run([]string{"diff", "-json", before, after}, &stdout, &stderr)
	raw := stdout.String()
	var d map[string]json.RawMessage
	if err := json.Unmarshal([]byte(raw), &d); err != nil {
		t.Fatalf("diff -json: %v\n%s%s", err, raw, stderr.String())
	}
	ids := map[string]bool{}
	for key, v := range d {
		var changes []struct {
			ID string `json:"id"`
		}
		if json.Unmarshal(v, &changes) == nil && key != "setup" {
			for _, c := range changes {
				ids[c.ID] = true
			}
		}
	}
	if len(ids) != 1 || !ids["TOKEN-CLIENT-WRONG-SECRET"] {
		t.Fatalf("diff lists %v, want exactly TOKEN-CLIENT-WRONG-SECRET:\n%s", ids, raw)
	}
}

// A staging endpoint with its own certificate authority: refused with a
// clear message until the target file trusts it with tls_ca.
func TestRunOverTLSWithTheTargetsCA(t *testing.T) {
	if testing.Short() {
		t.Skip("builds zconform and the suite, starts the fake as a process")
	}
	bin := buildZconform(t)
	t.Setenv("ZCONFORM_TEST_SECRET", stagingSecret)
	cert := filepath.Join(t.TempDir(), "staging-ca.pem")
	fake := startFakeProcess(t, bin, "kaizen4", "-tls", "-cert", cert)
	file := fake.targetFile(t, "tls-staging", "kaizen4")
	body, _ := os.ReadFile(file)
	body = []byte(strings.Replace(string(body), "allow_http: true\n", "", 1))
	if err := os.WriteFile(file, body, 0o644); err != nil {
		t.Fatal(err)
	}
	var stdout, stderr syncBuffer
	code := run([]string{"run", "-target", file, "-label-filter", "case:TOKEN-CODE-REUSED", "-out", t.TempDir()}, &stdout, &stderr)
	if all := stdout.String() + stderr.String(); code == 0 || !strings.Contains(all, "cannot reach the US Accounts server") || !strings.Contains(all, "certificate") {
		t.Fatalf("untrusted certificate: exit %d:\n%s", code, lastLines(all, 20))
	}
	body = []byte(strings.Replace(string(body), ", grant, ", ", grant, -cacert, "+cert+", ", 1))
	if err := os.WriteFile(file, append(body, []byte("tls_ca: "+cert+"\n")...), 0o644); err != nil {
		t.Fatal(err)
	}
	stdout, stderr = syncBuffer{}, syncBuffer{}
	if code := run([]string{"run", "-target", file, "-label-filter", "case:TOKEN-CODE-REUSED", "-out", t.TempDir()}, &stdout, &stderr); code != 0 {
		t.Fatalf("trusted certificate: exit %d:\n%s", code, lastLines(stdout.String()+stderr.String(), 30))
	}
}

// buildSuite builds the conformance suite as a go test -c binary.
func buildSuite(t *testing.T) string {
	t.Helper()
	suite := filepath.Join(t.TempDir(), "conformance.test")
	root, err := moduleRoot()
	if err != nil {
		t.Fatal(err)
	}
	build := exec.Command("go", "test", "-c", "-o", suite, suitePackage)
	build.Dir = root
	if out, err := build.CombinedOutput(); err != nil {
		t.Fatalf("%v\n%s", err, out)
	}
	return suite
}

// processesOf lists the live processes ("pid: command line") whose
// command line holds s, or (when pgid is not 0) that are pgid, its
// children or its process group, from /proc.
func processesOf(t *testing.T, s string, pgid int) []string {
	t.Helper()
	dirs, err := filepath.Glob("/proc/[0-9]*")
	if err != nil || len(dirs) == 0 {
		t.Skip("no /proc to list processes")
	}
	var out []string
	for _, d := range dirs {
		stat, err := os.ReadFile(filepath.Join(d, "stat"))
		if err != nil {
			continue
		}
		// pid (comm) state ppid pgrp ...
		rest := string(stat)
		if i := strings.LastIndexByte(rest, ')'); i >= 0 {
			rest = rest[i+1:]
		}
		f := strings.Fields(rest)
		if len(f) < 3 || f[0] == "Z" {
			continue // a zombie is dead, waiting for its parent
		}
		cmdline, _ := os.ReadFile(filepath.Join(d, "cmdline"))
		line := strings.ReplaceAll(string(cmdline), "\x00", " ")
		pid, ppid, pgrp := filepath.Base(d), f[1], f[2]
		inGroup := pgid != 0 && (pid == fmt.Sprint(pgid) || ppid == fmt.Sprint(pgid) || pgrp == fmt.Sprint(pgid))
		if (s != "" && strings.Contains(line, s)) || inGroup {
			out = append(out, pid+": "+strings.TrimSpace(line))
		}
	}
	return out
}

// killLeftovers kills the processes a failed test left running: those of
// the binary at path, or of the process group pgid.
func killLeftovers(t *testing.T, path string, pgid int) {
	for _, p := range processesOf(t, path, pgid) {
		var pid int
		if _, err := fmt.Sscanf(p, "%d:", &pid); err == nil {
			if proc, err := os.FindProcess(pid); err == nil {
				_ = proc.Kill()
			}
		}
	}
}

// waitInsideAWait waits until the run has live tokens on the fake and has
// sent nothing for a second: it is then inside a case's real-time wait.
func (p *fakeProcess) waitInsideAWait(t *testing.T, out *syncBuffer) {
	t.Helper()
	deadline := time.Now().Add(60 * time.Second)
	last, since := -1, time.Now()
	for {
		if n := len(p.requests(t)); n != last {
			last, since = n, time.Now()
		} else if p.liveTokens(t) > 0 && time.Since(since) > time.Second {
			return
		}
		if time.Now().After(deadline) {
			t.Fatalf("the run did not reach a real-time wait with live tokens:\n%s", lastLines(out.String(), 30))
		}
		time.Sleep(100 * time.Millisecond)
	}
}

// Stopping `zconform run` itself, by its PID, as CI runners and timeout do
// (SIGTERM) and as a terminal's Ctrl-C does (SIGINT, which a terminal
// sends to zconform's process group; the suite is in a group of its own).
// zconform forwards the signal once, the suite revokes what the run created
// and writes its reports, and zconform ends with a one-line verdict and
// the status of a process the signal stopped. Before, zconform died at once
// and left conformance.test running with the run's tokens live.
func TestStoppingZconformRunRevokesItsTokens(t *testing.T) {
	if testing.Short() {
		t.Skip("builds zconform and the suite, starts the fake as a process")
	}
	bin := buildZconform(t)
	suite := buildSuite(t)
	t.Setenv("ZCONFORM_TEST_SECRET", stagingSecret)
	for _, c := range []struct {
		sig  syscall.Signal
		name string
	}{{syscall.SIGTERM, "SIGTERM"}, {syscall.SIGINT, "SIGINT"}} {
		t.Run(c.name, func(t *testing.T) {
			fake := startFakeProcess(t, bin, "kaizen4")
			file := fake.targetFile(t, "fake-as-staging", "kaizen4", zoho.US)
			out := t.TempDir()
			// Two cases pass and one is skipped (it needs a console); then
			// ACCESS-TOKEN-ONE-HOUR gets tokens and waits for real (-slow)
			// for most of an hour: stop the run there.
			cmd := exec.Command(bin, "run", "-target", file, "-slow", "-suite", suite, "-out", out,
				"-label-filter", "case:TOKEN-CODE-REUSED || case:TOKEN-CLIENT-WRONG-SECRET || case:TOKEN-CODE-OTHER-CLIENT || case:ACCESS-TOKEN-ONE-HOUR")
			var stdout, stderr syncBuffer
			cmd.Stdout, cmd.Stderr = &stdout, &stderr
			// A suite left running holds zconform's output open: do not
			// wait for it once zconform has exited.
			cmd.WaitDelay = 5 * time.Second
			if err := cmd.Start(); err != nil {
				t.Fatal(err)
			}
			done := make(chan error, 1)
			go func() { done <- cmd.Wait() }()
			t.Cleanup(func() {
				if cmd.ProcessState == nil {
					_ = cmd.Process.Kill()
					<-done
				}
				killLeftovers(t, suite, 0)
			})
			fake.waitInsideAWait(t, &stderr)
			if n := fake.liveTokens(t); n == 0 {
				t.Fatal("no live token to revoke")
			}
			stopped := time.Now()
			if err := cmd.Process.Signal(c.sig); err != nil {
				t.Fatal(err)
			}
			if c.sig == syscall.SIGINT {
				// a person presses Ctrl-C twice: the second must not make
				// the suite skip its cleanup
				time.Sleep(5 * time.Millisecond)
				_ = cmd.Process.Signal(c.sig)
			}
			var err error
			select {
			case err = <-done:
			case <-time.After(90 * time.Second):
				t.Fatalf("zconform run did not stop:\n%s\n%s", lastLines(stdout.String(), 20), lastLines(stderr.String(), 20))
			}
			t.Logf("zconform run stopped %s after the %s; it ended:\n%s\nstderr:\n%s", time.Since(stopped).Round(time.Millisecond), c.name, lastLines(stdout.String(), 3), lastLines(stderr.String(), 4))
			all := lastLines(stdout.String(), 20) + "\n--- stderr:\n" + lastLines(stderr.String(), 30)
			var exit *exec.ExitError
			if !errors.As(err, &exit) || exit.ExitCode() != 128+int(c.sig) {
				t.Errorf("exit: %v, want status %d\n%s", err, 128+int(c.sig), all)
			}
			last := lastLines(stdout.String(), 1)
			want := "INTERRUPTED: the run was stopped by " + c.name + " after 3 cases (2 passed, 0 failed, 1 skipped); its "
			if !strings.HasPrefix(last, want) || !strings.Contains(last, " tokens on fake-as-staging were revoked") || strings.Contains(last, "WARNING") {
				t.Errorf("last line %q,\nwant %q… tokens on fake-as-staging were revoked\n%s", last, want, all)
			}
			if n := fake.liveTokens(t); n != 0 {
				t.Errorf("%d tokens of the run still live on the target\n%s", n, all)
			}
			if ps := processesOf(t, suite, 0); len(ps) > 0 {
				t.Errorf("conformance.test still runs: %v", ps)
			}
			r, rerr := reports.ReadResults(filepath.Join(out, "results.json"))
			if rerr != nil {
				t.Fatalf("no results: %v\n%s", rerr, all)
			}
			says := false
			for _, f := range r.RunFailures {
				says = says || strings.Contains(f.Message, "Interrupted")
			}
			for _, cr := range r.Cases {
				if cr.ID == "ACCESS-TOKEN-ONE-HOUR" && cr.State != "interrupted" {
					t.Errorf("ACCESS-TOKEN-ONE-HOUR: %s/%s, want interrupted", cr.Outcome, cr.State)
				}
			}
			if !says || r.Pass() {
				t.Errorf("the results do not say the run was interrupted: %+v %v", r.RunFailures, r.Verdict())
			}
			for _, f := range []string{"junit.xml", "ginkgo.json", "summary.md", "summary.html"} {
				data, err := os.ReadFile(filepath.Join(out, f))
				if err != nil || !strings.Contains(strings.ToLower(string(data)), "interrupted") {
					t.Errorf("%s does not say interrupted (%v)", f, err)
				}
			}
			if !strings.Contains(stderr.String(), "zconform run: "+c.name+": stopping the suite") {
				t.Errorf("zconform did not say it stops the suite:\n%s", all)
			}
			if strings.Contains(stdout.String()+stderr.String(), stagingSecret) {
				t.Error("the client secret reached the output")
			}
		})
	}
}

// A suite that does not stop within -grace is killed with its process
// group; zconform then writes reports saying the run was interrupted, and
// its verdict does not pretend the tokens were revoked.
func TestStoppedRunKillsASuiteThatDoesNotStop(t *testing.T) {
	if testing.Short() {
		t.Skip("builds zconform")
	}
	if _, err := exec.LookPath("sh"); err != nil {
		t.Skip("no sh")
	}
	bin := buildZconform(t)
	dir := t.TempDir()
	pidFile := filepath.Join(dir, "suite.pid")
	// A "suite" that opens the target (as the cleanup report says), then
	// ignores SIGINT and SIGTERM, as does the child it waits for.
	suite := filepath.Join(dir, "stubborn.test")
	if err := os.WriteFile(suite, []byte(`#!/bin/sh
printf '{"target":"stubborn","opened":true}' > "$ZCONFORM_CLEANUP_REPORT"
trap '' INT TERM
echo $$ > "`+pidFile+`"
sleep 300
`), 0o755); err != nil {
		t.Fatal(err)
	}
	file := filepath.Join(dir, "target.yaml")
	if err := os.WriteFile(file, []byte(`name: stubborn
allow_http: true
data_centres:
  us: {accounts: http://127.0.0.1:9/accounts, api: http://127.0.0.1:9/api}
client:
  id: `+stagingClient+`
  secret_env: ZCONFORM_TEST_SECRET
  redirect_uri: https://www.example.com/callback
`), 0o644); err != nil {
		t.Fatal(err)
	}
	out := filepath.Join(dir, "out")
	cmd := exec.Command(bin, "run", "-target", file, "-suite", suite, "-grace", "2s", "-out", out)
	cmd.Env = append(os.Environ(), "ZCONFORM_TEST_SECRET="+stagingSecret)
	var stdout, stderr syncBuffer
	cmd.Stdout, cmd.Stderr = &stdout, &stderr
	cmd.WaitDelay = 5 * time.Second
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	done := make(chan error, 1)
	go func() { done <- cmd.Wait() }()
	var pid int
	t.Cleanup(func() {
		if cmd.ProcessState == nil {
			_ = cmd.Process.Kill()
			<-done
		}
		if pid != 0 {
			killLeftovers(t, suite, pid)
		}
	})
	for deadline := time.Now().Add(10 * time.Second); pid == 0; time.Sleep(20 * time.Millisecond) {
		if data, err := os.ReadFile(pidFile); err == nil {
			fmt.Sscan(string(data), &pid)
		}
		if time.Now().After(deadline) {
			t.Fatalf("the suite did not start:\n%s", stderr.String())
		}
	}
	time.Sleep(100 * time.Millisecond) // the script reaches its sleep
	stopped := time.Now()
	if err := cmd.Process.Signal(syscall.SIGTERM); err != nil {
		t.Fatal(err)
	}
	var err error
	select {
	case err = <-done:
	case <-time.After(30 * time.Second):
		t.Fatalf("zconform run did not stop:\n%s", stderr.String())
	}
	took := time.Since(stopped)
	all := stdout.String() + "\n--- stderr:\n" + stderr.String()
	var exit *exec.ExitError
	if !errors.As(err, &exit) || exit.ExitCode() != 143 {
		t.Errorf("exit: %v, want 143\n%s", err, all)
	}
	if took < 2*time.Second || took > 10*time.Second {
		t.Errorf("stopped after %s, want the 2s grace", took)
	}
	if ps := processesOf(t, suite, pid); len(ps) > 0 {
		t.Errorf("the suite or its child lives on: %v", ps)
	}
	last := lastLines(stdout.String(), 1)
	if want := "INTERRUPTED: the run was stopped by SIGTERM; the suite wrote no reports; WARNING: the suite was killed before it revoked its tokens: tokens it created on stubborn may still be live"; last != want {
		t.Errorf("last line %q\nwant      %q\n%s", last, want, all)
	}
	r, rerr := reports.ReadResults(filepath.Join(out, "results.json"))
	if rerr != nil {
		t.Fatalf("zconform wrote no results: %v\n%s", rerr, all)
	}
	if len(r.RunFailures) != 1 || r.RunFailures[0].State != "interrupted" || !strings.Contains(r.RunFailures[0].Message, "did not finish within 2s and was killed") || r.Run.Target != "stubborn" || r.Pass() {
		t.Errorf("results: %+v", r)
	}
	if data, err := os.ReadFile(filepath.Join(out, "summary.md")); err != nil || !strings.Contains(string(data), "Interrupted by SIGTERM") {
		t.Errorf("summary.md: %v\n%s", err, data)
	}
	t.Logf("killed after %s; verdict: %s", took.Round(time.Millisecond), last)
}

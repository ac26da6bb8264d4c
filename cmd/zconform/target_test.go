package main

import (
	"encoding/json"
	"fmt"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"syscall"
	"testing"
	"time"

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
// endpoint would be described.
func (p *fakeProcess) targetFile(t *testing.T, name, profile string) string {
	t.Helper()
	us, eu := p.info.DataCentres["us"], p.info.DataCentres["eu"]
	body := fmt.Sprintf(`name: %s
profile: %s
user_dc: us
allow_http: true
data_centres:
  us: {accounts: %s, api: %s}
  eu: {accounts: %s, api: %s}
client:
  id: %s
  secret_env: ZCONFORM_TEST_SECRET
  redirect_uri: https://www.example.com/callback
grants:
  rate: {limit: 0}
  command: [%s, grant, -accounts, %s, -client-id, %s, -redirect-uri, "https://www.example.com/callback"]
`, name, profile, us["accounts_server"], us["api_domain"], eu["accounts_server"], eu["api_domain"], stagingClient, p.bin, us["accounts_server"], stagingClient)
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
	if n := fake.liveTokens(t); n != 0 {
		t.Errorf("%d tokens of the run are still live on the target", n)
	}
	if strings.Contains(stdout.String()+stderr.String(), stagingSecret) {
		t.Error("the client secret reached the output")
	}
	t.Logf("real-target run: %s", r.Verdict())
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

package main

import (
	"bytes"
	"encoding/json"
	"fmt"
	"net/http"
	"net/http/httptest"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/zconform/zconform/fakeserver"
	"github.com/zconform/zconform/fixtures/zoho"
)

const (
	grantClient   = "1000.GRANTTEST000000000000000000001"
	grantSecret   = "0123456789abcdef0123456789abcdef0123456789"
	grantRedirect = "http://localhost:3000/callback"
)

// grantFake is an in-process fake with one Web client, seeded as the
// README's seed file does.
func grantFake(t *testing.T, seedLimits string, opts ...fakeserver.Option) *fakeserver.Server {
	t.Helper()
	srv := fakeserver.New(opts...)
	t.Cleanup(srv.Close)
	seed := fmt.Sprintf("limits: %s\nusers:\n  - {email: alice@example.com, dc: us}\nclients:\n  - {id: %s, secret: %s, type: web, name: CI app, homepage: https://example.com, redirect_uris: [%s], user: alice@example.com}\n",
		seedLimits, grantClient, grantSecret, grantRedirect)
	f, err := fakeserver.ParseSeed("seed.yaml", []byte(seed))
	if err != nil {
		t.Fatal(err)
	}
	if err := srv.ApplySeed(f); err != nil {
		t.Fatal(err)
	}
	return srv
}

func grantOnce(accounts, clientID, redirect string) (code int, stdout, stderr string) {
	var out, errb bytes.Buffer
	code = runGrant([]string{"-accounts", accounts, "-client-id", clientID, "-redirect-uri", redirect}, &out, &errb)
	return code, out.String(), errb.String()
}

// The old failure: against "zconform fake" as the README starts it (a
// virtual clock), the sixth code in a minute is refused by the grant-token
// rate limit, and zconform grant said "it needs a person's consent". It
// must say it is the rate limit, which one, and what to do: on a virtual
// clock no wait helps.
func TestGrantNamesTheRateLimitOnAVirtualClock(t *testing.T) {
	t.Setenv(controlTokenEnv, "")
	srv := grantFake(t, "{}")
	accounts := srv.AccountsURL(zoho.US)
	for i := range 5 {
		if code, out, errs := grantOnce(accounts, grantClient, grantRedirect); code != 0 || !zoho.TokenPattern.MatchString(strings.TrimSpace(out)) {
			t.Fatalf("code %d: exit %d, %q %s", i+1, code, out, errs)
		}
	}
	code, out, errs := grantOnce(accounts, grantClient, grantRedirect)
	if code != 1 || out != "" {
		t.Fatalf("the sixth code: exit %d, stdout %q", code, out)
	}
	for _, want := range []string{"grant-token rate limit", "K4-NOTE-4", "at most 5 grant tokens per 1m0s per client", "profile kaizen4", grantClient,
		"virtual clock", "-real-clock", "grants.rate", "limits.grant_rate", srv.ControlURL() + "/clock/advance"} {
		if !strings.Contains(errs, want) {
			t.Errorf("stderr lacks %q:\n%s", want, errs)
		}
	}
	if strings.Contains(errs, "needs a person's consent") || strings.Contains(errs, "client ID or redirect URI is wrong") {
		t.Errorf("a rate limit blamed on consent or the client:\n%s", errs)
	}
	// moving the fake's clock on by the window, as the message says, works
	if err := srv.Advance(time.Minute); err != nil {
		t.Fatal(err)
	}
	if code, _, errs := grantOnce(accounts, grantClient, grantRedirect); code != 0 {
		t.Errorf("after the window: exit %d %s", code, errs)
	}
}

// On a real clock the refusal says when to retry, and a retry then works.
func TestGrantRateLimitOnARealClockSaysWhenToRetry(t *testing.T) {
	t.Setenv(controlTokenEnv, "")
	srv := grantFake(t, "{grant_rate: {limit: 2, window: 1500ms}}", fakeserver.WithRealClock())
	accounts := srv.AccountsURL(zoho.US)
	for range 2 {
		if code, _, errs := grantOnce(accounts, grantClient, grantRedirect); code != 0 {
			t.Fatalf("exit %d %s", code, errs)
		}
	}
	code, _, errs := grantOnce(accounts, grantClient, grantRedirect)
	if code != 1 || !strings.Contains(errs, "grant-token rate limit") || !strings.Contains(errs, "at most 2 grant tokens per 1.5s per client") || !strings.Contains(errs, "retry within 1.5s") {
		t.Fatalf("exit %d:\n%s", code, errs)
	}
	if strings.Contains(errs, "virtual") || strings.Contains(errs, "consent") && !strings.Contains(errs, "not a consent problem") {
		t.Errorf("on a real clock:\n%s", errs)
	}
	time.Sleep(1600 * time.Millisecond)
	if code, _, errs := grantOnce(accounts, grantClient, grantRedirect); code != 0 {
		t.Errorf("retried after the window: exit %d %s", code, errs)
	}
}

// Without the fake's control API (another server, or one that refuses the
// caller), the refusal still names the limit, with the contract's numbers.
func TestGrantRateLimitWithoutTheControlAPI(t *testing.T) {
	page := http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Content-Type", "text/html;charset=UTF-8")
		w.WriteHeader(http.StatusBadRequest)
		fmt.Fprint(w, `<html><body><p>Error code: <code id="error-code">access_denied</code></p></body></html>`)
	})
	ts := httptest.NewServer(page)
	defer ts.Close()
	code, _, errs := grantOnce(ts.URL+"/accounts.zoho.com", grantClient, grantRedirect)
	if code != 1 || !strings.Contains(errs, "grant-token rate limit") || !strings.Contains(errs, "5 per 1m0s under kaizen4") || !strings.Contains(errs, "10 per 10m0s under accounts-2025") {
		t.Errorf("exit %d:\n%s", code, errs)
	}
}

// The other refusals say what they are, and none is blamed on the rate
// limit.
func TestGrantOtherRefusals(t *testing.T) {
	t.Setenv(controlTokenEnv, "")
	srv := grantFake(t, "{}")
	accounts := srv.AccountsURL(zoho.US)
	if err := srv.ScriptConsent(grantClient, fakeserver.Consent{Deny: true}); err != nil {
		t.Fatal(err)
	}
	for _, c := range []struct {
		name, accounts, client, redirect, want string
	}{
		{"denied", accounts, grantClient, grantRedirect, "the user refused consent"},
		{"unknown client", accounts, "1000.NOSUCHCLIENT0000000000000000000", grantRedirect, "is not registered, or not enabled"},
		{"wrong redirect URI", accounts, grantClient, grantRedirect + "/", "-redirect-uri must equal one the client registered"},
		{"not an Accounts server", srv.URL + "/nowhere", grantClient, grantRedirect, "no code"},
	} {
		code, _, errs := grantOnce(c.accounts, c.client, c.redirect)
		if code != 1 || !strings.Contains(errs, c.want) || strings.Contains(errs, "rate limit") {
			t.Errorf("%s: exit %d:\n%s", c.name, code, errs)
		}
	}
	cp := grantFake(t, "{}", fakeserver.WithConsentPage())
	if code, _, errs := grantOnce(cp.AccountsURL(zoho.US), grantClient, grantRedirect); code != 1 || !strings.Contains(errs, "-consent-page") {
		t.Errorf("a consent page: exit %d:\n%s", code, errs)
	}
}

func TestGrantControlURL(t *testing.T) {
	for in, want := range map[string]string{
		"http://127.0.0.1:8080/accounts.zoho.com":          "http://127.0.0.1:8080/_zconform/v1",
		"http://127.0.0.1:8080/accounts.zoho.eu/":          "http://127.0.0.1:8080/_zconform/v1",
		"http://127.0.0.1:8080/t/abc123/accounts.zoho.com": "http://127.0.0.1:8080/t/abc123/_zconform/v1",
		"https://accounts.zoho.com":                        "",
		"https://accounts.staging.example":                 "",
		"http://127.0.0.1:8080/www.zohoapis.com":           "",
	} {
		if got := controlURL(in); got != want {
			t.Errorf("controlURL(%q) = %q, want %q", in, got, want)
		}
	}
}

// grantREADMERun is the README's real-target example, as a user runs it: a
// seed file, "zconform fake" served as a process, a target file whose
// grants.command is "zconform grant", and "zconform run -target". The
// grant-rate window is shortened (on both sides alike) so that the test
// waits seconds, not minutes.
func grantREADMERun(t *testing.T, fakeArgs []string, fakeRate, targetRate string) (code int, results []byte, stdout string) {
	t.Helper()
	dir := t.TempDir()
	bin := filepath.Join(dir, "zconform")
	if out, err := exec.Command("go", "build", "-o", bin, ".").CombinedOutput(); err != nil {
		t.Fatalf("go build: %v\n%s", err, out)
	}
	seed := filepath.Join(dir, "seed.yaml")
	if err := os.WriteFile(seed, []byte(fmt.Sprintf(`profile: kaizen4
limits: {grant_rate: %s}
users:
  - {email: alice@example.com, dc: us, first_name: Alice}
clients:
  - id: %s
    secret: %s
    type: web
    name: CI app
    homepage: https://example.com
    redirect_uris: [%s]
    user: alice@example.com
`, fakeRate, grantClient, grantSecret, grantRedirect)), 0o644); err != nil {
		t.Fatal(err)
	}
	ready := filepath.Join(dir, "ready.json")
	fake := exec.Command(bin, append([]string{"fake", "-addr", "127.0.0.1:0", "-seed", seed, "-ready-file", ready, "-log", "off"}, fakeArgs...)...)
	if err := fake.Start(); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = fake.Process.Kill(); _ = fake.Wait() })
	var info struct {
		DataCentres map[zoho.DC]map[string]string `json:"data_centres"`
	}
	for deadline := time.Now().Add(10 * time.Second); ; time.Sleep(20 * time.Millisecond) {
		if data, err := os.ReadFile(ready); err == nil && json.Unmarshal(data, &info) == nil {
			break
		}
		if time.Now().After(deadline) {
			t.Fatal("the fake did not get ready")
		}
	}
	us := info.DataCentres[zoho.US]
	target := filepath.Join(dir, "target.yaml")
	if err := os.WriteFile(target, []byte(fmt.Sprintf(`name: fake-local
profile: kaizen4
user_dc: us
allow_http: true
data_centres:
  us: {accounts: %s, api: %s}
client:
  id: %s
  secret_env: ZCONFORM_CLIENT_SECRET
  redirect_uri: %s
  scope: ZohoCRM.users.ALL
grants:
  command: [%s, grant, -accounts, %s, -client-id, %s, -redirect-uri, %s]
  rate: %s
`, us["accounts_server"], us["api_domain"], grantClient, grantRedirect, bin, us["accounts_server"], grantClient, grantRedirect, targetRate)), 0o644); err != nil {
		t.Fatal(err)
	}
	t.Setenv("ZCONFORM_CLIENT_SECRET", grantSecret)
	t.Setenv(controlTokenEnv, "")
	out := filepath.Join(dir, "out")
	var so, se syncBuffer
	code = run([]string{"run", "-target", target, "-out", out}, &so, &se)
	results, err := os.ReadFile(filepath.Join(out, "results.json"))
	if err != nil {
		t.Fatalf("no results.json (exit %d): %v\n%s\n%s", code, err, so.String(), se.String())
	}
	return code, results, so.String() + se.String()
}

type grantRunResults struct {
	Cases []struct {
		ID      string `json:"id"`
		Outcome string `json:"outcome"`
		Reason  string `json:"reason"`
	} `json:"cases"`
}

// The README's example against a fake on its default virtual clock: the
// run's pacing cannot help (the fake's window never passes), and the cases
// past the fifth code fail; each failure names the rate limit and the way
// out (-real-clock), never consent.
func TestGrantREADMEExampleOnAVirtualClockNamesTheLimit(t *testing.T) {
	if testing.Short() {
		t.Skip("builds zconform, serves the fake as a process and runs the suite against it")
	}
	code, data, out := grantREADMERun(t, nil, "{limit: 5, window: 1m}", "{limit: 5, window: 1s}")
	var res grantRunResults
	if err := json.Unmarshal(data, &res); err != nil {
		t.Fatal(err)
	}
	failed := 0
	for _, c := range res.Cases {
		if c.Outcome != "failed" {
			continue
		}
		failed++
		if !strings.Contains(c.Reason, "grant-token rate limit") || !strings.Contains(c.Reason, "-real-clock") || strings.Contains(c.Reason, "needs a person's consent") {
			t.Errorf("%s failed for: %s", c.ID, c.Reason)
		}
	}
	if code == 0 || failed == 0 {
		t.Errorf("exit %d, %d failed: the virtual clock's window passed?\n%s", code, failed, lastLines(out, 20))
	}
}

// The README's example as corrected: the fake on a real clock, the target
// file's grants.rate equal to the fake's limit. The run paces its codes
// (waiting for the window, more than once) and every case that ran passed.
func TestGrantREADMEExampleOnARealClockPasses(t *testing.T) {
	if testing.Short() {
		t.Skip("builds zconform, serves the fake as a process and runs the suite against it")
	}
	const rate = "{limit: 5, window: 2s}"
	code, data, out := grantREADMERun(t, []string{"-real-clock"}, rate, rate)
	var res grantRunResults
	if err := json.Unmarshal(data, &res); err != nil {
		t.Fatal(err)
	}
	passed := 0
	for _, c := range res.Cases {
		switch c.Outcome {
		case "failed":
			t.Errorf("%s failed: %s", c.ID, c.Reason)
		case "passed":
			passed++
		}
	}
	// more than 5 of them needed a grant: the pacing kept the run within
	// the fake's limit across windows
	if code != 0 || passed < 30 {
		t.Errorf("exit %d, %d passed\n%s", code, passed, lastLines(out, 30))
	}
}

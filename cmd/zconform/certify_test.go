package main

import (
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/zconform/zconform/certify"
	"github.com/zconform/zconform/reports"
)

// The careful reference passes every scenario; the careless one fails those
// it breaks, with the IDs on the last lines; both write a certificate.
func TestCertifyReferences(t *testing.T) {
	out := t.TempDir()
	var stdout, stderr syncBuffer
	if code := run([]string{"certify", "-adapter", "go:careful", "-out", out}, &stdout, &stderr); code != 0 {
		t.Fatalf("careful: exit %d\n%s%s", code, stdout.String(), stderr.String())
	}
	r, err := reports.ReadResults(filepath.Join(out, "results.json"))
	if err != nil {
		t.Fatal(err)
	}
	if r.Run.Certificate == nil || r.Run.Certificate.Integration != "zconform careful reference integration" || r.Totals.Failed != 0 || r.Totals.Passed != len(certify.Scenarios()) {
		t.Fatalf("careful certificate: %+v %+v", r.Run, r.Totals)
	}
	// a pass shows its proof too: its positive control and the wire
	for _, c := range r.Cases {
		ev := strings.Join(c.Evidence, "\n")
		if !strings.Contains(ev, "control: passed") || !strings.Contains(ev, "wire: ") {
			t.Errorf("%s passed without its evidence in the certificate:\n%s", c.ID, ev)
		}
	}
	for _, f := range []string{"junit.xml", "results.json", "summary.md", "summary.html"} {
		if _, err := os.Stat(filepath.Join(out, f)); err != nil {
			t.Error(err)
		}
	}

	out = t.TempDir()
	stdout, stderr = syncBuffer{}, syncBuffer{}
	if code := run([]string{"certify", "-adapter", "go:careless", "-out", out}, &stdout, &stderr); code != 1 {
		t.Fatalf("careless: exit %d, want 1\n%s%s", code, stdout.String(), stderr.String())
	}
	tail := lastLines(stdout.String(), 14) // the failed scenarios, one a line
	for _, id := range []string{"EXCHANGE-AT-ACCOUNTS-SERVER", "DEAD-GRANT-NOT-RETRIED", "BACKS-OFF"} {
		if !strings.Contains(tail, "  "+id) {
			t.Errorf("the last lines do not name %s:\n%s", id, tail)
		}
	}
	summary, _ := os.ReadFile(filepath.Join(out, "summary.md"))
	for _, w := range []string{"wire: POST", "| Scenario set | v3 (18 scenarios, digest ", "| Judged by | zconform ", "| Fake | profile kaizen4, virtual clock"} {
		if !strings.Contains(string(summary), w) {
			t.Errorf("the certificate lacks %q", w)
		}
	}
	if r, err := reports.ReadResults(filepath.Join(out, "results.json")); err != nil || r.Duration.D() <= 0 {
		t.Errorf("the certificate's duration is %v (%v)", r.Duration, err)
	}
	// one progress line per scenario as it ends
	if n := strings.Count(stderr.String(), "\n  "); n != len(certify.Scenarios()) {
		t.Errorf("%d progress lines, want %d:\n%s", n, len(certify.Scenarios()), stderr.String())
	}
}

// Any language: the certifier drives a process over the protocol. Here the
// careful and careless references speak it as processes, and the verdicts
// are the same as in-process.
func TestCertifyOverTheProtocol(t *testing.T) {
	if testing.Short() {
		t.Skip("builds zconform")
	}
	bin := buildZconform(t)
	for kind, want := range map[string]int{"careful": 0, "careless": 1, "dies": 1, "complainer": 1, "liar": 1, "deaf": 1} {
		t.Run(kind, func(t *testing.T) {
			var stdout, stderr syncBuffer
			out := t.TempDir()
			code := run([]string{"certify", "-adapter", "cmd", "-cmd", bin + " adapter -kind " + kind, "-name", kind + " over the protocol", "-out", out}, &stdout, &stderr)
			if code != want {
				t.Errorf("%s over the protocol: exit %d, want %d\n%s%s", kind, code, want, stdout.String(), stderr.String())
			}
			if kind == "careless" {
				return
			}
			r, err := reports.ReadResults(filepath.Join(out, "results.json"))
			if err != nil {
				t.Fatal(err)
			}
			if kind == "careful" {
				// every op of the protocol reaches the integration: no n/a
				if r.Totals.Passed != len(certify.Scenarios()) {
					t.Errorf("careful over the protocol: %+v, want all %d passed", r.Totals, len(certify.Scenarios()))
				}
				return
			}
			// an adversarial reference fails every scenario at its control
			for _, c := range r.Cases {
				if c.Outcome != reports.Failed || !strings.HasPrefix(c.Reason, "the integration never worked: ") {
					t.Errorf("%s %s: %s (%s)", kind, c.ID, c.Outcome, c.Reason)
				}
			}
		})
	}
}

// A new user's mistake: an adapter that dies at start. Every scenario
// fails (none passes, none is n/a), saying why, and the certificate is
// written.
func TestCertifyAnAdapterThatDies(t *testing.T) {
	out := t.TempDir()
	var stdout, stderr syncBuffer
	code := run([]string{"certify", "-adapter", "cmd", "-cmd", "sh -c exit", "-out", out}, &stdout, &stderr)
	r, err := reports.ReadResults(filepath.Join(out, "results.json"))
	if code != 1 || err != nil || r.Totals.Failed != len(certify.Scenarios()) {
		t.Fatalf("exit %d, %v, %+v\n%s", code, err, r.Totals, stdout.String())
	}
}

func TestCertifyRefusesBadFlags(t *testing.T) {
	for _, c := range []struct {
		args []string
		want string
	}{
		{[]string{"certify", "-adapter", "go:sloppy"}, `-adapter "go:sloppy"`},
		{[]string{"certify", "-adapter", "cmd"}, "needs -cmd"},
		{[]string{"certify", "-adapter", "go:careful", "-profile", "x"}, `unknown profile "x"`},
		{[]string{"certify", "-adapter", "go:careful", "-only", "NOPE", "-out", "/tmp/zc-nope"}, `no scenario "NOPE"`},
		{[]string{"certify", "-adapter", "go:careful", "-timeout", "0s"}, "-timeout must be positive"},
		{[]string{"certify", "-adapter", "go:careful", "extra"}, "unexpected argument"},
		{[]string{"certify", "-adapter", "node-sdk-9"}, "use one of go:"},
	} {
		var stdout, stderr syncBuffer
		if code := run(c.args, &stdout, &stderr); code == 0 || !strings.Contains(stderr.String(), c.want) {
			t.Errorf("%v: exit %d, stderr %q, want %q", c.args, code, stderr.String(), c.want)
		}
	}
}

// The reference adapters of real integrations, certified: their findings
// are facts about the libraries, pinned here (every scenario) so that a
// change in them is noticed. Each adapter's README says what each finding
// rests on.
func TestCertifyReferenceAdapters(t *testing.T) {
	if testing.Short() {
		t.Skip("certifies real libraries as processes")
	}
	const pass, fail, na = "passed", "failed", "skipped"
	for _, c := range []struct {
		adapter string
		node    bool
		want    map[string]string
	}{
		{"node-sdk", true, map[string]string{
			// it exchanges at the token URL it was set up with, whatever
			// the redirect's accounts-server says
			"EXCHANGE-AT-ACCOUNTS-SERVER": fail, "REFRESH-AT-USER-DC": fail,
			// a 401 INVALID_TOKEN is returned as is: no refresh, no retry
			"TOKEN-DIES-EARLY": fail,
			// on an answer cut mid-body its HTTP library throws an uncaught
			// TypeError and the process dies
			"SURVIVES-NETWORK-FAULTS": fail,
			// every one of concurrent calls refreshes on its own
			"ONE-REFRESH-FOR-PARALLEL-CALLS": fail,
			// the SDK only takes grant tokens: no authorization URL
			"GRANT-RATE-LIMITED": na,
		}},
		{"ts-sdk", true, map[string]string{
			"EXCHANGE-AT-ACCOUNTS-SERVER": fail, "REFRESH-AT-USER-DC": fail, "TOKEN-DIES-EARLY": fail,
			// every one of concurrent calls refreshes on its own
			"ONE-REFRESH-FOR-PARALLEL-CALLS": fail,
			// the SDK only takes grant tokens: no authorization URL
			"GRANT-RATE-LIMITED": na,
		}},
		{"simple-oauth2", true, map[string]string{
			"EXCHANGE-AT-ACCOUNTS-SERVER": fail, "REFRESH-AT-USER-DC": fail, "TOKEN-DIES-EARLY": fail,
			// an HTTP 200 {"error":...} becomes a token
			"ERROR-WITH-HTTP-200": fail, "DEAD-GRANT-NOT-RETRIED": fail,
			"REVOKED-REFRESH-STOPS": fail, "EVICTED-REFRESH-STOPS": fail,
			// expires_in taken as is; no recovery on a 401
			"MILLISECOND-EXPIRY":             fail,
			"ONE-REFRESH-FOR-PARALLEL-CALLS": fail,
			// 5.1.0 loses the refresh token after the first refresh
			"SURVIVES-NETWORK-FAULTS": fail,
		}},
		{"python-requests-oauthlib", false, map[string]string{
			// a fixed token URL: the EU user's grant goes to the US server
			"EXCHANGE-AT-ACCOUNTS-SERVER": fail, "REFRESH-AT-USER-DC": fail,
			// a 401 is returned as is; expires_in taken as seconds
			"TOKEN-DIES-EARLY": fail, "MILLISECOND-EXPIRY": fail,
			// each of concurrent calls refreshes on its own
			"ONE-REFRESH-FOR-PARALLEL-CALLS": fail,
		}},
		// the documented example adapter, standard library only: it
		// passes every scenario, the device flow's and the backend job's too
		{"python-stdlib", false, map[string]string{
			"DEVICE-POLLS-PATIENTLY": pass, "DEVICE-FOLLOWS-OTHER-DC": pass, "DEVICE-STOPS-WHEN-REFUSED": pass,
			"CC-BACKEND-JOB": pass,
		}},
	} {
		t.Run(c.adapter, func(t *testing.T) {
			if c.node && os.Getenv("ZCONFORM_SKIP_NODE") != "" {
				t.Skip("ZCONFORM_SKIP_NODE is set")
			}
			if ra := repoAdapters[c.adapter]; ra.check != nil && !c.node {
				if err := ra.check(""); err != nil {
					t.Skipf("%v: run %s", err, ra.install)
				}
			}
			// the adapters mostly wait on their processes: side by side
			// they take about a third of the time
			t.Parallel()
			out := t.TempDir()
			var stdout, stderr syncBuffer
			run([]string{"certify", "-adapter", c.adapter, "-out", out}, &stdout, &stderr)
			r, err := reports.ReadResults(filepath.Join(out, "results.json"))
			if err != nil {
				t.Fatalf("%v\n%s%s", err, stdout.String(), stderr.String())
			}
			if len(r.Cases) != len(certify.Scenarios()) {
				t.Fatalf("%d scenarios, want %d\n%s", len(r.Cases), len(certify.Scenarios()), stderr.String())
			}
			for _, cr := range r.Cases {
				want := c.want[cr.ID]
				if want == "" && strings.HasPrefix(cr.ID, "DEVICE-") {
					want = na // no library adapter signs in with the device flow (certify/device.go)
				}
				if want == "" && cr.ID == "CC-BACKEND-JOB" {
					want = na // no library adapter runs a backend job on client credentials (certify/clientcreds.go)
				}
				if want == "" {
					want = pass
				}
				if string(cr.Outcome) != want {
					t.Errorf("%s %s: %s (%s), pinned %s: the library's behaviour (or the adapter) changed", c.adapter, cr.ID, cr.Outcome, cr.Reason, want)
				}
			}
		})
	}
}

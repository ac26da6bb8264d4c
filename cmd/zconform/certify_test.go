package main

import (
	"os"
	"path/filepath"
	"strings"
	"testing"

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
	if r.Run.Certificate == nil || r.Run.Certificate.Integration != "zconform careful reference integration" || r.Totals.Failed != 0 || r.Totals.Passed < 9 {
		t.Fatalf("careful certificate: %+v %+v", r.Run, r.Totals)
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
	tail := lastLines(stdout.String(), 10)
	for _, id := range []string{"EXCHANGE-AT-ACCOUNTS-SERVER", "DEAD-GRANT-NOT-RETRIED", "BACKS-OFF"} {
		if !strings.Contains(tail, "  "+id) {
			t.Errorf("the last lines do not name %s:\n%s", id, tail)
		}
	}
	summary, _ := os.ReadFile(filepath.Join(out, "summary.md"))
	if !strings.Contains(string(summary), "wire: POST") {
		t.Error("the certificate shows no evidence from the wire")
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
	for kind, want := range map[string]int{"careful": 0, "careless": 1} {
		var stdout, stderr syncBuffer
		code := run([]string{"certify", "-adapter", "cmd", "-cmd", bin + " adapter -kind " + kind, "-name", kind + " over the protocol", "-out", t.TempDir()}, &stdout, &stderr)
		if code != want {
			t.Errorf("%s over the protocol: exit %d, want %d\n%s%s", kind, code, want, stdout.String(), stderr.String())
		}
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
		{[]string{"certify", "-adapter", "go:careful", "-only", "NOPE", "-out", "/tmp/zc-nope"}, "no scenario selected"},
	} {
		var stdout, stderr syncBuffer
		if code := run(c.args, &stdout, &stderr); code == 0 || !strings.Contains(stderr.String(), c.want) {
			t.Errorf("%v: exit %d, stderr %q, want %q", c.args, code, stderr.String(), c.want)
		}
	}
}

// The official Zoho CRM Node SDK, certified through its reference adapter:
// its findings are facts about the SDK, written down so a change is noticed.
func TestCertifyNodeSDK(t *testing.T) {
	if os.Getenv("ZCONFORM_SKIP_NODE") != "" {
		t.Skip("ZCONFORM_SKIP_NODE is set")
	}
	root, err := moduleRoot()
	if err != nil {
		t.Fatal(err)
	}
	if _, err := os.Stat(filepath.Join(root, nodeSDKAdapter, "node_modules")); err != nil {
		t.Fatalf("the Node SDK adapter is not installed: run make deps (or npm ci --prefix %s); set ZCONFORM_SKIP_NODE=1 to skip", nodeSDKAdapter)
	}
	out := t.TempDir()
	var stdout, stderr syncBuffer
	run([]string{"certify", "-adapter", "node-sdk", "-out", out}, &stdout, &stderr)
	r, err := reports.ReadResults(filepath.Join(out, "results.json"))
	if err != nil {
		t.Fatalf("%v\n%s%s", err, stdout.String(), stderr.String())
	}
	got := map[string]string{}
	for _, c := range r.Cases {
		got[c.ID] = string(c.Outcome)
		t.Logf("%-28s %-7s %s", c.ID, c.Outcome, c.Reason)
	}
	// The SDK posts the code to the token URL it was set up with, whatever
	// the redirect's accounts-server says.
	if got["EXCHANGE-AT-ACCOUNTS-SERVER"] != string(reports.Failed) {
		t.Errorf("EXCHANGE-AT-ACCOUNTS-SERVER: %s; the SDK was known to ignore accounts-server", got["EXCHANGE-AT-ACCOUNTS-SERVER"])
	}
	// On an answer cut mid-body, the SDK's HTTP library (got) throws an
	// uncaught TypeError and the process dies.
	if got["SURVIVES-NETWORK-FAULTS"] != string(reports.Failed) {
		t.Errorf("SURVIVES-NETWORK-FAULTS: %s; the SDK was known to crash on a connection closed mid-body", got["SURVIVES-NETWORK-FAULTS"])
	}
	if len(r.Cases) != 9 {
		t.Errorf("%d scenarios, want 9", len(r.Cases))
	}
}

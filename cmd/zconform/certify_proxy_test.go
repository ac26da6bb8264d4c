package main

import (
	"os"
	"path/filepath"
	"regexp"
	"strings"
	"testing"

	"github.com/zconform/zconform/certify"
	"github.com/zconform/zconform/reports"
)

// -via proxy: the careful reference, in-process with an http.Client
// through the proxy and as a process with HTTPS_PROXY and SSL_CERT_FILE,
// passes everything; the certificate records the mode; the CA certificate
// is left in the output folder.
func TestCertifyViaProxy(t *testing.T) {
	out := t.TempDir()
	var stdout, stderr syncBuffer
	if code := run([]string{"certify", "-adapter", "go:careful", "-via", "proxy", "-out", out}, &stdout, &stderr); code != 0 {
		t.Fatalf("careful via proxy: exit %d\n%s%s", code, stdout.String(), stderr.String())
	}
	r, err := reports.ReadResults(filepath.Join(out, "results.json"))
	if err != nil {
		t.Fatal(err)
	}
	if r.Totals.Passed != len(certify.Scenarios()) || r.Run.Certificate == nil || !strings.HasSuffix(r.Run.Certificate.Fake, ", "+certify.ViaProxyTransport) {
		t.Fatalf("careful via proxy: %+v, certificate %+v", r.Totals, r.Run.Certificate)
	}
	summary, _ := os.ReadFile(filepath.Join(out, "summary.md"))
	if !strings.Contains(string(summary), "via proxy: the integration given Zoho's real URLs") {
		t.Errorf("summary.md does not record the mode:\n%s", summary)
	}
	if _, err := os.Stat(filepath.Join(out, certify.ProxyCAFileName)); err != nil {
		t.Errorf("the CA certificate: %v", err)
	}
	if !strings.Contains(stderr.String(), "(proxy)") || !strings.Contains(stderr.String(), "the proxy's CA is ") {
		t.Errorf("stderr does not say the mode and the CA file:\n%s", stderr.String())
	}

	// direct, the certificate says so
	out = t.TempDir()
	stdout, stderr = syncBuffer{}, syncBuffer{}
	if code := run([]string{"certify", "-adapter", "go:careful", "-only", "ACCESS-TOKEN-REUSED", "-out", out}, &stdout, &stderr); code != 0 {
		t.Fatalf("careful direct: exit %d\n%s%s", code, stdout.String(), stderr.String())
	}
	if r, err := reports.ReadResults(filepath.Join(out, "results.json")); err != nil || strings.Contains(r.Run.Certificate.Fake, "via proxy") {
		t.Errorf("direct: %v, fake %q", err, r.Run.Certificate.Fake)
	}
	if _, err := os.Stat(filepath.Join(out, certify.ProxyCAFileName)); err == nil {
		t.Error("direct: a CA certificate was written")
	}

	if testing.Short() {
		return
	}
	// a Go process over the protocol: HTTPS_PROXY and SSL_CERT_FILE alone
	bin := buildZconform(t)
	out = t.TempDir()
	stdout, stderr = syncBuffer{}, syncBuffer{}
	if code := run([]string{"certify", "-adapter", "cmd", "-cmd", bin + " adapter -kind careful", "-via", "proxy", "-out", out}, &stdout, &stderr); code != 0 {
		t.Fatalf("careful as a process via proxy: exit %d\n%s%s", code, stdout.String(), stderr.String())
	}
}

func TestCertifyRefusesBadVia(t *testing.T) {
	var stdout, stderr syncBuffer
	if code := run([]string{"certify", "-adapter", "go:careful", "-via", "socks"}, &stdout, &stderr); code != 2 || !strings.Contains(stderr.String(), `-via "socks": use direct or proxy`) {
		t.Errorf("exit %d, stderr %q", code, stderr.String())
	}
}

// zohoHostsOnly matches the evidence line that names the hosts of a
// scenario's requests, when they are all Zoho's.
var zohoHostsOnly = regexp.MustCompile(`(?m)^  proxy: the scenario's requests named (?:(?:accounts\.zoho\.(?:com|eu)|www\.zohoapis\.(?:com|eu)) ×\d+(?:, |$))+$`)

// The reference adapters via the proxy, given Zoho's real URLs: the SDKs
// configure USDataCenter.PRODUCTION() (EUDataCenter for the EU scenarios)
// and reach the fake by their environment alone. Every verdict is the one
// TestCertifyReferenceAdapters pins directly (the reasons are the same too,
// compared by hand when this was written): the proxy changes the path the
// requests take, not what the libraries do.
func TestCertifyReferenceAdaptersViaProxy(t *testing.T) {
	if testing.Short() {
		t.Skip("certifies real libraries as processes")
	}
	const fail, na = "failed", "skipped"
	for _, c := range []struct {
		adapter string
		node    bool
		want    map[string]string
	}{
		{"node-sdk", true, map[string]string{
			"EXCHANGE-AT-ACCOUNTS-SERVER": fail, "REFRESH-AT-USER-DC": fail, "TOKEN-DIES-EARLY": fail,
			"SURVIVES-NETWORK-FAULTS": fail, "ONE-REFRESH-FOR-PARALLEL-CALLS": fail, "GRANT-RATE-LIMITED": na,
		}},
		{"ts-sdk", true, map[string]string{
			"EXCHANGE-AT-ACCOUNTS-SERVER": fail, "REFRESH-AT-USER-DC": fail, "TOKEN-DIES-EARLY": fail,
			"ONE-REFRESH-FOR-PARALLEL-CALLS": fail, "GRANT-RATE-LIMITED": na,
		}},
		// its token requests go through global-agent, its fetch through
		// undici's EnvHttpProxyAgent (the adapter sets it when HTTPS_PROXY is)
		{"simple-oauth2", true, map[string]string{
			"EXCHANGE-AT-ACCOUNTS-SERVER": fail, "REFRESH-AT-USER-DC": fail, "TOKEN-DIES-EARLY": fail,
			"ERROR-WITH-HTTP-200": fail, "DEAD-GRANT-NOT-RETRIED": fail,
			"REVOKED-REFRESH-STOPS": fail, "EVICTED-REFRESH-STOPS": fail,
			"MILLISECOND-EXPIRY": fail, "ONE-REFRESH-FOR-PARALLEL-CALLS": fail, "SURVIVES-NETWORK-FAULTS": fail,
		}},
		// requests: HTTPS_PROXY and REQUESTS_CA_BUNDLE
		{"python-requests-oauthlib", false, map[string]string{
			"EXCHANGE-AT-ACCOUNTS-SERVER": fail, "REFRESH-AT-USER-DC": fail,
			"TOKEN-DIES-EARLY": fail, "MILLISECOND-EXPIRY": fail, "ONE-REFRESH-FOR-PARALLEL-CALLS": fail,
		}},
		// urllib: https_proxy and SSL_CERT_FILE; it passes every scenario,
		// the device flow's and the backend job's too
		{"python-stdlib", false, map[string]string{
			"DEVICE-POLLS-PATIENTLY": "passed", "DEVICE-FOLLOWS-OTHER-DC": "passed", "DEVICE-STOPS-WHEN-REFUSED": "passed",
			"CC-BACKEND-JOB": "passed",
		}},
	} {
		t.Run(c.adapter, func(t *testing.T) {
			t.Parallel()
			if c.node && os.Getenv("ZCONFORM_SKIP_NODE") != "" {
				t.Skip("ZCONFORM_SKIP_NODE is set")
			}
			if ra := repoAdapters[c.adapter]; ra.check != nil && !c.node {
				if err := ra.check(""); err != nil {
					t.Skipf("%v: run %s", err, ra.install)
				}
			}
			out := t.TempDir()
			var stdout, stderr syncBuffer
			run([]string{"certify", "-adapter", c.adapter, "-via", "proxy", "-out", out}, &stdout, &stderr)
			r, err := reports.ReadResults(filepath.Join(out, "results.json"))
			if err != nil {
				t.Fatalf("%v\n%s%s", err, stdout.String(), stderr.String())
			}
			if len(r.Cases) != len(certify.Scenarios()) {
				t.Fatalf("%d scenarios, want %d\n%s", len(r.Cases), len(certify.Scenarios()), stderr.String())
			}
			if !strings.HasSuffix(r.Run.Certificate.Fake, certify.ViaProxyTransport) {
				t.Errorf("the certificate does not record the mode: %q", r.Run.Certificate.Fake)
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
					want = "passed"
				}
				if string(cr.Outcome) != want {
					t.Errorf("%s via proxy %s: %s (%s), pinned %s (as direct)", c.adapter, cr.ID, cr.Outcome, cr.Reason, want)
				}
				// a failure's evidence: the real URL given, Zoho's hosts named
				if cr.Outcome == reports.Failed {
					if !strings.Contains(cr.Message, "setup: via the fake's proxy http://127.0.0.1:") || !zohoHostsOnly.MatchString(cr.Message) {
						t.Errorf("%s via proxy %s: the evidence does not show the proxy and Zoho's hosts only:\n%s", c.adapter, cr.ID, cr.Message)
					}
				}
			}
		})
	}
}

package reference_test

import (
	"context"
	"testing"

	"github.com/zconform/zconform/certify"
	"github.com/zconform/zconform/certify/reference"
)

// Via the fake's proxy (Options.Proxy) the Go references get Zoho's real
// URLs and an http.Client through the proxy: the careful one still passes
// everything, and the careless one gets the very verdicts, with the very
// reasons, it gets in-process. The request log is the same log.
func TestReferencesViaProxy(t *testing.T) {
	setup, err := certify.NewProxySetup(t.TempDir())
	if err != nil {
		t.Fatal(err)
	}
	run := func(mk func() certify.Integration, opts certify.Options) map[string]certify.Verdict {
		t.Helper()
		vs, err := certify.Run(context.Background(), factory(mk), opts)
		if err != nil {
			t.Fatal(err)
		}
		out := map[string]certify.Verdict{}
		for _, v := range vs {
			out[v.Scenario.ID] = v
		}
		if len(out) != len(certify.Scenarios()) {
			t.Fatalf("%d verdicts for %d scenarios", len(out), len(certify.Scenarios()))
		}
		return out
	}

	for id, v := range run(func() certify.Integration { return &reference.Careful{} }, certify.Options{Proxy: setup}) {
		if v.Outcome != certify.Pass {
			t.Errorf("via proxy: careful failed %s: %s\n%v", id, v.Reason, v.Evidence)
		}
	}

	careless := func() certify.Integration { return &reference.Careless{} }
	direct := run(careless, certify.Options{InProcess: true})
	proxied := run(careless, certify.Options{Proxy: setup})
	failed := 0
	for id, d := range direct {
		p := proxied[id]
		if p.Outcome != d.Outcome || p.Reason != d.Reason {
			t.Errorf("careless %s: in-process %s (%s), via proxy %s (%s)", id, d.Outcome, d.Reason, p.Outcome, p.Reason)
		}
		if p.Outcome == certify.Fail {
			failed++
		}
		if len(p.Evidence) == 0 || p.Evidence[0] == "" || p.Evidence[len(p.Evidence)-1][:6] != "proxy:" {
			t.Errorf("careless %s via proxy: the evidence does not end with the hosts the requests named: %q", id, p.Evidence)
		}
	}
	if failed == 0 {
		t.Error("careless failed nothing via proxy")
	}
}

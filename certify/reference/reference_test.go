package reference_test

import (
	"context"
	"slices"
	"strings"
	"testing"

	"github.com/zconform/zconform/certify"
	"github.com/zconform/zconform/certify/reference"
)

func verdicts(t *testing.T, f certify.Factory, inProcess bool) map[string]certify.Verdict {
	t.Helper()
	vs, err := certify.Run(context.Background(), f, certify.Options{InProcess: inProcess})
	if err != nil {
		t.Fatal(err)
	}
	out := map[string]certify.Verdict{}
	for _, v := range vs {
		out[v.Scenario.ID] = v
		t.Logf("%-31s %-4s %s", v.Scenario.ID, v.Outcome, v.Reason)
	}
	if len(out) != len(certify.Scenarios()) {
		t.Fatalf("%d verdicts for %d scenarios", len(out), len(certify.Scenarios()))
	}
	return out
}

func factory(mk func() certify.Integration) certify.Factory {
	return func() (certify.Integration, error) { return mk(), nil }
}

// The careful reference passes every scenario, in-process and over
// loopback: the certifier's checks do not fail good behaviour.
func TestCarefulPassesEverything(t *testing.T) {
	for _, inProcess := range []bool{true, false} {
		for id, v := range verdicts(t, factory(func() certify.Integration { return &reference.Careful{} }), inProcess) {
			if v.Outcome != certify.Pass {
				t.Errorf("in-process=%v: careful failed %s: %s\n%v", inProcess, id, v.Reason, v.Evidence)
			}
		}
	}
}

// Each flaw of the careful reference fails its scenario and nothing else:
// every scenario it names is proven able to fail by an integration that
// differs from a passing one in that one mistake.
func TestEveryFlawFailsItsScenarioOnly(t *testing.T) {
	also := map[reference.Flaw][]string{
		// trusting its own expiry, it does not recover from 41-day tokens either
		reference.FlawNoRefreshOn401: {"MILLISECOND-EXPIRY"},
	}
	proven := map[string]bool{}
	for flaw, scenario := range reference.Flaws {
		t.Run(string(flaw), func(t *testing.T) {
			fails := append([]string{scenario}, also[flaw]...)
			for id, v := range verdicts(t, factory(func() certify.Integration { return reference.Flawed(flaw) }), true) {
				want := certify.Pass
				if slices.Contains(fails, id) {
					want = certify.Fail
					proven[id] = true
				}
				if v.Outcome != want {
					t.Errorf("flawed %s: %s %s (%s), want %s", flaw, id, v.Outcome, v.Reason, want)
				}
			}
		})
	}
	for _, id := range []string{"REFRESH-AT-USER-DC", "TOKEN-DIES-EARLY", "GRANT-RATE-LIMITED", "MILLISECOND-EXPIRY", "ONE-REFRESH-FOR-PARALLEL-CALLS",
		"DEVICE-POLLS-PATIENTLY", "DEVICE-FOLLOWS-OTHER-DC", "DEVICE-STOPS-WHEN-REFUSED"} {
		if !proven[id] {
			t.Errorf("the new scenario %s is failed by no flawed reference", id)
		}
	}
}

// The careless reference fails every scenario whose rule it breaks, each
// for its own rule: the certifier's checks can fail.
func TestCarelessFailsWhatItBreaks(t *testing.T) {
	vs := verdicts(t, factory(func() certify.Integration { return &reference.Careless{} }), true)
	want := map[string]string{
		"EXCHANGE-AT-ACCOUNTS-SERVER": "not at the accounts-server the redirect named",
		"API-DOMAIN-AND-HEADER":       "not the api_domain it was given",
		"ERROR-WITH-HTTP-200":         "took an error for a token",
		"DEAD-GRANT-NOT-RETRIED":      "reported success with an expired grant",
		"ACCESS-TOKEN-REUSED":         "token requests for 5 API calls within the hour",
		"REFRESH-AT-USER-DC":          "could not get the EU user's tokens",
		"TOKEN-DIES-EARLY":            "the stimulus never reached the fake",
		"REVOKED-REFRESH-STOPS":       "a retry storm",
		"EVICTED-REFRESH-STOPS":       "a retry storm",
		"BACKS-OFF":                   "hammers",
		"MILLISECOND-EXPIRY":          "", // it refreshes before every call: no expiry to misread
		"SURVIVES-NETWORK-FAULTS":     "",
		"CC-BACKEND-JOB":              "client-credentials token requests for 3 API calls within the hour",
		// the device flow: it polls at every moment, where it was set up,
		// and never stops
		"DEVICE-POLLS-PATIENTLY":    "polled faster than once per 30 s",
		"DEVICE-FOLLOWS-OTHER-DC":   "never polled the EU server",
		"DEVICE-STOPS-WHEN-REFUSED": "after access_denied the device polled the code",
	}
	for id, reason := range want {
		v := vs[id]
		switch {
		case reason == "" && v.Outcome != certify.Pass:
			t.Errorf("careless %s: %s (%s), want pass", id, v.Outcome, v.Reason)
		case reason != "" && (v.Outcome != certify.Fail || !strings.Contains(v.Reason, reason) || len(v.Evidence) == 0):
			t.Errorf("careless %s: %s (%s), want a failure saying %q", id, v.Outcome, v.Reason, reason)
		}
	}
	for _, id := range []string{"GRANT-RATE-LIMITED", "ONE-REFRESH-FOR-PARALLEL-CALLS"} {
		if v := vs[id]; v.Outcome != certify.NotApplicable {
			t.Errorf("careless %s: %s, want n/a (it starts no authorizations and takes no calls at once)", id, v.Outcome)
		}
	}
}

// The adversarial references fail every scenario, at the positive
// control, each saying why: a verdict never rests on what an integration
// did not do.
func TestAdversarialReferencesFailEverything(t *testing.T) {
	for _, c := range []struct {
		name string
		mk   func() certify.Integration
		why  string
	}{
		{"dies", func() certify.Integration { return reference.Dies{} }, "it did not start: the integration exits at start"},
		{"complainer", func() certify.Integration { return reference.Complainer{} }, "it did not exchange a fresh grant token: something went wrong"},
		{"liar", func() certify.Integration { return reference.Liar{} }, "it reported the exchange a success, but no exchange of the code succeeded on the wire"},
		{"deaf", func() certify.Integration { return &reference.Deaf{} }, "it reported an API call a success, but no API request of it succeeded on the wire"},
	} {
		t.Run(c.name, func(t *testing.T) {
			for _, inProcess := range []bool{true, false} {
				for id, v := range verdicts(t, factory(c.mk), inProcess) {
					if v.Outcome != certify.Fail || v.Reason != "the integration never worked: "+c.why {
						t.Errorf("in-process=%v: %s %s: %s (%s)", inProcess, c.name, id, v.Outcome, v.Reason)
					}
				}
			}
		})
	}
}

// golang.org/x/oauth2 as most Go code uses it: its findings are facts about
// the library, written down here so that a change in them is noticed.
func TestOAuth2Findings(t *testing.T) {
	vs := verdicts(t, factory(func() certify.Integration { return &reference.OAuth2{} }), true)
	want := map[string]string{
		// a fixed TokenURL: the EU user's grant goes to the US server
		"EXCHANGE-AT-ACCOUNTS-SERVER": certify.Fail,
		// ... and so it never holds the EU user's tokens to refresh
		"REFRESH-AT-USER-DC": certify.Fail,
		// AuthStyleAutoDetect sends a failing code a second time
		"DEAD-GRANT-NOT-RETRIED": certify.Fail,
		// oauth2.Transport does not refresh on a 401, and trusts expires_in
		"TOKEN-DIES-EARLY":   certify.Fail,
		"MILLISECOND-EXPIRY": certify.Fail,
		// it has no device flow
		"DEVICE-POLLS-PATIENTLY": certify.NotApplicable, "DEVICE-FOLLOWS-OTHER-DC": certify.NotApplicable,
		"DEVICE-STOPS-WHEN-REFUSED": certify.NotApplicable,
	}
	for id, v := range vs {
		w := want[id]
		if w == "" {
			w = certify.Pass
		}
		if v.Outcome != w {
			t.Errorf("x/oauth2 %s: %s (%s), expected %s: the library's behaviour changed", id, v.Outcome, v.Reason, w)
		}
	}
}

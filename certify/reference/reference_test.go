package reference_test

import (
	"context"
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
		t.Logf("%-28s %-4s %s", v.Scenario.ID, v.Outcome, v.Reason)
	}
	return out
}

// The careful reference passes every scenario, in-process and over
// loopback: the certifier's checks do not fail good behaviour.
func TestCarefulPassesEverything(t *testing.T) {
	for _, inProcess := range []bool{true, false} {
		for id, v := range verdicts(t, func() (certify.Integration, error) { return &reference.Careful{}, nil }, inProcess) {
			if v.Outcome != certify.Pass {
				t.Errorf("in-process=%v: careful failed %s: %s\n%v", inProcess, id, v.Reason, v.Evidence)
			}
		}
	}
}

// The careless reference fails every scenario whose rule it breaks: the
// certifier's checks can fail.
func TestCarelessFailsWhatItBreaks(t *testing.T) {
	vs := verdicts(t, func() (certify.Integration, error) { return &reference.Careless{}, nil }, true)
	for _, id := range []string{"EXCHANGE-AT-ACCOUNTS-SERVER", "API-DOMAIN-AND-HEADER", "ERROR-WITH-HTTP-200",
		"DEAD-GRANT-NOT-RETRIED", "ACCESS-TOKEN-REUSED", "REVOKED-REFRESH-STOPS", "EVICTED-REFRESH-STOPS", "BACKS-OFF"} {
		if v := vs[id]; v.Outcome != certify.Fail || v.Reason == "" || len(v.Evidence) == 0 {
			t.Errorf("careless passed %s (%s): the check cannot catch it", id, v.Outcome)
		}
	}
}

// golang.org/x/oauth2 as most Go code uses it: its findings are facts about
// the library, written down here so that a change in them is noticed.
func TestOAuth2Findings(t *testing.T) {
	vs := verdicts(t, func() (certify.Integration, error) { return &reference.OAuth2{}, nil }, true)
	want := map[string]string{
		// a fixed TokenURL: the EU user's grant goes to the US server
		"EXCHANGE-AT-ACCOUNTS-SERVER": certify.Fail,
		"API-DOMAIN-AND-HEADER":       certify.Fail,
		// AuthStyleAutoDetect sends a failing code a second time
		"DEAD-GRANT-NOT-RETRIED": certify.Fail,
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

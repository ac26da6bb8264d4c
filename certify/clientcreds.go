package certify

// The client-credentials scenario (docs/zoho-oauth-beyond.md section 2,
// ZA-CC-*): a backend job (a nightly sync, a migration) authenticates as a
// Self Client, with no user and no refresh token. It must name the org
// (soid), keep its access token for the hour it lives, ask again only once
// it has expired, and never look for a refresh token. The verdict reads
// the token requests on the wire.

import (
	"context"
	"fmt"
	"time"

	"github.com/zconform/zconform/fakeserver"
	"github.com/zconform/zconform/fixtures/zoho"
)

// ClientCredentialsJob is an integration that can run as a backend job on
// client credentials. ClientCredentials switches it to the grant: from
// then on each Call makes its API call with a client-credentials token for
// the org soid (<Service>.<org id>), asked at its Accounts server with its
// client ID and secret (a Self Client's, in Env) and Env.Scope. Without it
// (or with an Unsupported answer; over the protocol
// {"op":"client_credentials","soid":"ZohoCRM.…"}) the scenario is not
// applicable.
type ClientCredentialsJob interface {
	ClientCredentials(ctx context.Context, soid string) Report
}

// ClientCredentials sends {"op":"client_credentials","soid":soid}.
func (p *Process) ClientCredentials(ctx context.Context, soid string) Report {
	return p.send(ctx, map[string]any{"op": "client_credentials", "soid": soid})
}

// ccCalls is how many API calls the job makes within the hour, ccStep the
// time between two of them.
const (
	ccCalls = 3
	ccStep  = 20 * time.Minute
)

// jobEnv is the environment of an instance that runs the backend job: the
// run's, with the job's Self Client's credentials; and the org the job is
// for. The Self Client and org are registered once (a user has one Self
// Client), for the control and the scenario alike.
func (h *harness) jobEnv() (Env, fakeserver.Org, error) {
	if h.self == nil {
		self, err := h.srv.RegisterClient(fakeserver.ClientSpec{Type: fakeserver.SelfClient})
		if err != nil {
			return Env{}, fakeserver.Org{}, err
		}
		org, err := h.srv.AddOrg(fakeserver.OrgSpec{Name: "Org of the job under certification"})
		if err != nil {
			return Env{}, fakeserver.Org{}, err
		}
		h.self, h.org = &self, org
	}
	env := h.env
	env.ClientID, env.ClientSecret = h.self.ID, h.self.Secret
	return env, h.org, nil
}

// startJob switches integ to a backend job for org, the step named so in
// the evidence: a *notApplicable when it runs no such job.
func (h *harness) startJob(integ Integration, org fakeserver.Org, step string) error {
	job, ok := integ.(ClientCredentialsJob)
	if !ok {
		return &notApplicable{"the integration does not run as a backend job on client credentials (a Go integration implements certify.ClientCredentialsJob; a process answers {\"op\":\"client_credentials\"})"}
	}
	if r := h.report(step, job.ClientCredentials(h.ctx, org.SOID)); r.Unsupported != "" {
		return &notApplicable{"the integration does not run as a backend job on client credentials: " + r.Unsupported}
	}
	return nil
}

// ccControl is the backend-job scenario's positive control: a fresh
// instance of the integration, given a Self Client's credentials, runs as
// a job for an org and makes one API call, with a client-credentials token
// seen on the wire. An integration that is no such job makes the scenario
// not applicable; one that cannot do this never worked.
func (h *harness) ccControl() error {
	h.note("control: a fresh instance of the integration runs as a backend job on client credentials and calls the API")
	env, org, err := h.jobEnv()
	if err != nil {
		return err
	}
	integ, cleanup, err := h.newInstance(env)
	if err != nil {
		return neverWorked("it did not start: %v", err)
	}
	defer cleanup()
	if err := h.startJob(integ, org, "control: client credentials"); err != nil {
		return err
	}
	c := h.report("control: call the API", integ.Call(h.ctx))
	reqs := h.wire()
	got, called := false, false
	for _, q := range tokenRequests(reqs, "client_credentials") {
		got = got || succeeded(q)
	}
	for _, a := range apiRequests(reqs) {
		called = called || a.Status == 200
	}
	switch {
	case !got && c.OK:
		return neverWorked("it reported an API call a success, but no client-credentials token request of it succeeded on the wire")
	case !got:
		return neverWorked("it got no client-credentials token: %s", orNone(c.Error))
	case !called:
		return neverWorked("its API call failed: %s", orNone(c.Error))
	case !c.OK:
		return neverWorked("its API call succeeded on the wire, but it reported: %s", orNone(c.Error))
	}
	h.note("control: passed")
	return nil
}

// ccBackendJob: a fresh instance of the integration, given a Self Client's
// credentials, runs as a backend job for an org. Three API calls within
// the hour ask for one token; a call past the hour asks for one more. Every
// token request sends the org's soid, at the client's home DC, and none is
// a refresh (there is no refresh token to use).
func ccBackendJob(h *harness) error {
	env, org, err := h.jobEnv()
	if err != nil {
		return err
	}
	integ, cleanup, err := h.newInstance(env)
	if err != nil {
		return failf("the job's instance of the integration did not start: %v", err)
	}
	defer cleanup()
	h.integ = integ
	h.note("setup: a fresh instance is given a Self Client's credentials; the job is for the org %s (soid %s)", org.ID, org.SOID)
	if err := h.startJob(integ, org, "client credentials: start"); err != nil {
		return err
	}
	var asked []fakeserver.Request
	check := func(reqs []fakeserver.Request, when string) error {
		for _, q := range reqs {
			if q.Role == "accounts" && q.Path == "/oauth/v2/token" {
				if gt := q.Params["grant_type"]; gt != "client_credentials" {
					return failf("%s it asked the token endpoint for grant_type=%s: a backend job on client credentials has no refresh token or code to use", when, orNone(gt))
				}
			}
		}
		for _, q := range tokenRequests(reqs, "client_credentials") {
			switch {
			case q.Params["soid"] == "":
				return failf("%s it asked for a client-credentials token without soid (Zoho answers missing_org_info): it must name the org, %s", when, org.SOID)
			case q.Params["soid"] != org.SOID:
				return failf("%s it asked for a token for soid %s, not for the job's org %s", when, q.Params["soid"], org.SOID)
			case q.DC != zoho.US:
				return failf("%s it asked for a token at the %s Accounts server, not at the client's home DC (US)", when, q.DC)
			}
			h.note("wire: a client-credentials token request, soid %s -> %d %s", q.Params["soid"], q.Status, q.Error)
			if succeeded(q) {
				asked = append(asked, q)
			}
		}
		return nil
	}
	for i := 1; i <= ccCalls; i++ {
		c := h.call()
		if err := check(h.wire(), fmt.Sprintf("for API call %d,", i)); err != nil {
			return err
		}
		if !c.OK {
			return failf("API call %d of the job failed: %s", i, orNone(c.Error))
		}
		if i < ccCalls {
			h.advance(ccStep)
		}
	}
	switch n := len(asked); {
	case n == 0:
		return failf("its %d API calls succeeded, but no client-credentials token request succeeded on the wire", ccCalls)
	case n > 1:
		return failf("%d client-credentials token requests for %d API calls within the hour: it must keep its token for the hour it lives (expires_in)", n, ccCalls)
	}
	lifetime := h.srv.Limits().AccessTokenLifetime
	h.advance(lifetime - time.Duration(ccCalls-1)*ccStep + time.Minute) // a minute past the first token's hour
	asked = nil
	c := h.call()
	if err := check(h.wire(), "past the hour,"); err != nil {
		return err
	}
	switch {
	case !c.OK:
		return failf("past the token's hour, the job's API call failed: %s", orNone(c.Error))
	case len(asked) != 1:
		return failf("past the token's hour, %d client-credentials token requests for one API call: it must ask for one new token", len(asked))
	}
	return nil
}

package certify

import (
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"fmt"
	"net/url"
	"strings"
	"time"

	"github.com/zconform/zconform/fakeserver"
	"github.com/zconform/zconform/fixtures/zoho"
)

// ScenarioSetVersion is the version of the scenario set: it changes when a
// scenario is added, removed, or judges differently, so that two
// certificates of the same version judged the same things.
const ScenarioSetVersion = 3

// Scenario is one judged behaviour of an integration.
type Scenario struct {
	ID    string
	Title string
	// Seeds are the IDs it exercises: seed IDs (K4-...) of
	// docs/zoho-oauth.md and, as strings, ZA- IDs of
	// docs/zoho-oauth-beyond.md.
	Seeds []zoho.SeedID
	// Faults are the faults on the wire it injects.
	Faults []fakeserver.FaultKind
	// Basis is seed, doc, seen or assumed, as in the catalogue.
	Basis string
	// DC is the data centre the integration is set up for (default US).
	DC zoho.DC
	// EU makes an EU user, with the client enabled in the EU (multi-DC).
	EU bool
	// Device gives the scenario's instance a device client (the device
	// flow, device.go); its positive control is a device sign-in.
	Device bool
	// control is the scenario's own positive control (nil: the usual
	// authorization, exchange and API call), of the flow it names.
	control func(*harness) error
	flow    string
	run     func(h *harness) error
}

func (s Scenario) dc() zoho.DC {
	if s.DC == "" {
		return zoho.US
	}
	return s.DC
}

func (s Scenario) needsEU() bool { return s.EU || s.dc() == zoho.EU }

// Scenarios lists the certification scenarios, in the order they run.
func Scenarios() []Scenario {
	return []Scenario{
		{ID: "EXCHANGE-AT-ACCOUNTS-SERVER", Basis: "seed", EU: true,
			Title: "exchanges a fresh grant once, within its lifetime, at the accounts-server the redirect named",
			Seeds: []zoho.SeedID{zoho.TokenClientB, zoho.Note1, zoho.TokenCodeB}, run: exchangeAtAccountsServer},
		{ID: "API-DOMAIN-AND-HEADER", Basis: "doc", DC: zoho.EU,
			Title: "calls the API at the api_domain it was given (the EU's, for an integration set up for the EU), with a token header Zoho takes (Zoho-oauthtoken or Bearer)",
			Seeds: []zoho.SeedID{zoho.TokenClientB, "ZA-API-HEADER"}, run: apiDomainAndHeader},
		{ID: "ERROR-WITH-HTTP-200", Basis: "seen",
			Title: "treats HTTP 200 with {\"error\":…} as an error, never as a token",
			Seeds: []zoho.SeedID{zoho.TokenCodeA}, run: errorWithHTTP200},
		{ID: "DEAD-GRANT-NOT-RETRIED", Basis: "seed",
			Title: "on invalid_code for a grant, does not retry it and asks for a new authorization",
			Seeds: []zoho.SeedID{zoho.TokenCodeA, zoho.TokenCodeB, zoho.Note3}, run: deadGrantNotRetried},
		{ID: "ACCESS-TOKEN-REUSED", Basis: "seed",
			Title: "reuses its access token until it expires, then refreshes once; never a new token per call or a new refresh token",
			Seeds: []zoho.SeedID{zoho.Note5, zoho.Note7}, run: accessTokenReused},
		{ID: "REFRESH-AT-USER-DC", Basis: "doc", EU: true,
			Title: "refreshes an EU user's token at the EU accounts server, not at the one it was set up for",
			Seeds: []zoho.SeedID{zoho.TokenClientB}, run: refreshAtUserDC},
		{ID: "TOKEN-DIES-EARLY", Basis: "seed",
			Title: "on 401 INVALID_TOKEN for an access token revoked or evicted mid-hour, refreshes once and retries once: not in a loop, and not never",
			Seeds: []zoho.SeedID{zoho.Note7, zoho.Note8, zoho.TokenCodeC}, run: tokenDiesEarly},
		{ID: "MILLISECOND-EXPIRY", Basis: "doc", Faults: []fakeserver.FaultKind{fakeserver.FaultMillisecondExpiry},
			Title: "with token answers in the older shape (expires_in in milliseconds, expires_in_sec), still refreshes after the hour, or at least recovers on the 401",
			Seeds: []zoho.SeedID{zoho.Note5}, run: millisecondExpiry},
		{ID: "ONE-REFRESH-FOR-PARALLEL-CALLS", Basis: "seed",
			Title: "five API calls at once with an expired access token cause one refresh, not five",
			Seeds: []zoho.SeedID{zoho.Note5, zoho.Note7}, run: oneRefreshForParallelCalls},
		{ID: "REVOKED-REFRESH-STOPS", Basis: "seed",
			Title: "on a revoked refresh token, stops and asks for re-authorization without a retry storm",
			Seeds: []zoho.SeedID{zoho.TokenCodeC, zoho.Note6}, run: revokedRefreshStops},
		{ID: "EVICTED-REFRESH-STOPS", Basis: "seed",
			Title: "on a refresh token evicted by the 21st, stops and asks for re-authorization",
			Seeds: []zoho.SeedID{zoho.Note7, zoho.Note8}, run: evictedRefreshStops},
		{ID: "GRANT-RATE-LIMITED", Basis: "assumed",
			Title: "when the Accounts server refuses an authorization over the grant-token limit (access_denied), reports it and does not hammer; works again after the window",
			Seeds: []zoho.SeedID{zoho.Note4}, run: grantRateLimited},
		{ID: "BACKS-OFF", Basis: "assumed",
			Title:  "on the throttle answer and on 5xx, backs off instead of hammering",
			Faults: []fakeserver.FaultKind{fakeserver.FaultThrottle, fakeserver.FaultStatus}, run: backsOff},
		{ID: "SURVIVES-NETWORK-FAULTS", Basis: "assumed",
			Title:  "survives a reset connection and an answer cut mid-body with a clear error, and loses no refresh token",
			Faults: []fakeserver.FaultKind{fakeserver.FaultReset, fakeserver.FaultCloseMidBody}, run: survivesNetworkFaults},
		// the device flow of limited-input apps (device.go)
		{ID: "DEVICE-POLLS-PATIENTLY", Basis: "doc", Device: true, control: (*harness).deviceControl, flow: "device",
			Title: "a device signing in polls while the user takes two minutes (interval in milliseconds), never twice within 30 s, and gets its tokens once the user approves",
			Seeds: []zoho.SeedID{zoho.DevInit, zoho.DevPending, zoho.DevSlowDown, zoho.DevTokens}, run: devicePollsPatiently},
		{ID: "DEVICE-FOLLOWS-OTHER-DC", Basis: "doc", Device: true, EU: true, control: (*harness).deviceControl, flow: "device",
			Title: "a device approved by a user of another DC follows other_dc: it polls the same code at that DC's server, and calls that DC's API",
			Seeds: []zoho.SeedID{zoho.DevOtherDC, zoho.DevTokens}, run: deviceFollowsOtherDC},
		{ID: "DEVICE-STOPS-WHEN-REFUSED", Basis: "doc", Device: true, control: (*harness).deviceControl, flow: "device",
			Title: "a device stops polling and asks for a new sign-in once told access_denied (the user denied) or expired (nobody acted)",
			Seeds: []zoho.SeedID{zoho.DevDenied, zoho.DevExpired}, run: deviceStopsWhenRefused},
		// backend jobs on client credentials (clientcreds.go)
		{ID: "CC-BACKEND-JOB", Basis: "doc", control: (*harness).ccControl, flow: "client-credentials",
			Title: "a backend job on client credentials names its org (soid), keeps its token for the hour, asks for one new token after it, and never looks for a refresh token",
			Seeds: []zoho.SeedID{zoho.CCToken, zoho.CCSoid}, run: ccBackendJob},
	}
}

// ScenarioSet names the scenario set: its version and a digest of what
// each scenario is (ID, title, basis, seeds, faults, data centre).
func ScenarioSet() string {
	h := sha256.New()
	for _, s := range Scenarios() {
		fmt.Fprintf(h, "%s|%s|%s|%v|%v|%s|%v\n", s.ID, s.Title, s.Basis, s.Seeds, s.Faults, s.dc(), s.EU)
	}
	return fmt.Sprintf("v%d (%d scenarios, digest %s)", ScenarioSetVersion, len(Scenarios()), hex.EncodeToString(h.Sum(nil))[:12])
}

func exchangeAtAccountsServer(h *harness) error {
	q, err := h.authorize(euUser)
	if err != nil {
		return err
	}
	code := zoho.RedactValue(q.Get("code"))
	r := h.report("redirect", h.integ.Redirect(h.ctx, q))
	if r.Unsupported != "" {
		return &notApplicable{"the integration cannot take a redirect: " + r.Unsupported}
	}
	var uses []fakeserver.Request
	for _, t := range tokenRequests(h.wire(), "authorization_code") {
		if t.Params["code"] == code {
			uses = append(uses, t)
		}
	}
	switch {
	case len(uses) == 0:
		return failf("it never exchanged the EU user's grant token: no request with it reached any Accounts server")
	case uses[0].DC != zoho.EU:
		return failf("it exchanged the EU user's grant at the %s Accounts server, not at the accounts-server the redirect named (EU): the K4-TOKEN-CLIENT-b mistake", strings.ToUpper(string(uses[0].DC)))
	case len(uses) > 1:
		return failf("it sent the grant token %d times: a grant works once (K4-TOKEN-CODE-b)", len(uses))
	case !succeeded(uses[0]):
		return failf("its exchange at the EU server failed: %s", uses[0].Error)
	case !r.OK:
		return failf("the exchange at the EU server worked, but the integration reported: %s", orNone(r.Error))
	}
	return nil
}

func apiDomainAndHeader(h *harness) error {
	if err := h.connect(euUser); err != nil {
		return err
	}
	h.wire()
	r := h.call()
	calls := apiRequests(h.wire())
	if len(calls) == 0 {
		return failf("it made no API call")
	}
	for _, c := range calls {
		auth := c.Params["authorization"]
		scheme, _, _ := strings.Cut(auth, " ")
		switch {
		case c.Role != "api":
			return failf("it called the %s Accounts server's %s, not the api_domain it was given (the EU's API domain)", strings.ToUpper(string(c.DC)), c.Path)
		case c.DC != zoho.EU:
			return failf("it called the %s API domain, not the api_domain it was given (EU)", strings.ToUpper(string(c.DC)))
		case !strings.EqualFold(scheme, "Zoho-oauthtoken") && !strings.EqualFold(scheme, "Bearer"):
			if scheme == "" {
				scheme = "none"
			}
			return failf("it sent the access token with the %q scheme: Zoho takes Zoho-oauthtoken (or Bearer)", scheme)
		}
	}
	switch {
	case count(calls, succeeded) == 0:
		return failf("its API call at the EU API domain did not succeed: %s", calls[len(calls)-1].Error)
	case !r.OK:
		return failf("its API call succeeded on the wire, but it reported: %s", orNone(r.Error))
	}
	return nil
}

func errorWithHTTP200(h *harness) error {
	q, err := h.authorize("")
	if err != nil {
		return err
	}
	code := zoho.RedactValue(q.Get("code"))
	h.advance(61 * time.Second) // the grant is dead: the answer is 200 {"error":"invalid_code"}
	r := h.report("redirect", h.integ.Redirect(h.ctx, q))
	delivered := count(tokenRequests(h.wire(), "authorization_code"), func(t fakeserver.Request) bool {
		return t.Params["code"] == code && t.Status == 200 && t.Error == zoho.ErrInvalidCode
	})
	switch {
	case delivered == 0:
		return failf("the stimulus never reached the fake: it sent no exchange of the expired grant, so it never saw the HTTP 200 {\"error\":\"invalid_code\"} answer (integration: %s)", describe(r))
	case r.OK:
		return failf("the token endpoint answered HTTP 200 {\"error\":\"invalid_code\"} and the integration reported success: it took an error for a token")
	}
	c := h.call()
	if n := count(apiRequests(h.wire()), succeeded); n > 0 {
		return failf("after an error answer it still reached the API (%d successful calls)", n)
	}
	if c.OK {
		return failf("after an error answer it reported a successful API call")
	}
	return nil
}

// describe is a report in a few words, for a failure's reason.
func describe(r Report) string {
	switch {
	case r.Unsupported != "":
		return "unsupported: " + r.Unsupported
	case r.OK:
		return "reported ok"
	}
	return "reported " + orNone(r.Error)
}

func deadGrantNotRetried(h *harness) error {
	q, err := h.authorize("")
	if err != nil {
		return err
	}
	code := zoho.RedactValue(q.Get("code"))
	h.advance(61 * time.Second)
	r := h.report("redirect", h.integ.Redirect(h.ctx, q))
	uses := tokenRequests(h.wire(), "authorization_code")
	n := count(uses, func(t fakeserver.Request) bool { return t.Params["code"] == code })
	refused := count(uses, func(t fakeserver.Request) bool { return t.Params["code"] == code && t.Error == zoho.ErrInvalidCode })
	switch {
	case refused == 0:
		return failf("the stimulus never reached the fake: it never sent the expired grant token (%s)", describe(r))
	case n > 1:
		return failf("it sent the expired grant token %d times: after invalid_code a grant is dead (K4-NOTE-3)", n)
	case r.OK:
		return failf("it reported success with an expired grant")
	case !r.NeedsAuthorization:
		return failf("it did not ask for a new authorization after invalid_code (%s)", describe(r))
	}
	return nil
}

func accessTokenReused(h *harness) error {
	if err := h.connect(""); err != nil {
		return err
	}
	h.wire()
	for i := 0; i < 5; i++ {
		if r := h.call(); !r.OK {
			return failf("API call %d failed: %s", i+1, orNone(r.Error))
		}
	}
	reqs := h.wire()
	if n := len(tokenRequests(reqs, "")); n > 0 {
		return failf("it made %d token requests for 5 API calls within the hour: the 30-per-refresh-token cap evicts tokens still in use (K4-NOTE-7)", n)
	}
	if n := count(apiRequests(reqs), succeeded); n < 5 {
		return failf("it reported 5 API calls a success, but only %d API requests succeeded on the wire", n)
	}
	h.advance(61 * time.Minute)
	for i := 0; i < 3; i++ {
		if r := h.call(); !r.OK {
			return failf("API call %d after the hour failed: %s", i+1, orNone(r.Error))
		}
	}
	reqs = h.wire()
	refreshes, exchanges := tokenRequests(reqs, "refresh_token"), len(tokenRequests(reqs, "authorization_code"))
	switch {
	case exchanges > 0:
		return failf("it asked for a new refresh token after the hour: the 20-per-user cap evicts other installations' tokens (K4-NOTE-7)")
	case len(refreshes) == 0:
		return failf("it reported 3 API calls after the hour a success, but it never refreshed its expired access token")
	case len(refreshes) != 1:
		return failf("it refreshed %d times for 3 calls after the access token expired: once is enough (K4-NOTE-5)", len(refreshes))
	case !succeeded(refreshes[0]):
		return failf("its refresh failed: %s", refreshes[0].Error)
	case count(apiRequests(reqs), succeeded) < 3:
		return failf("it reported 3 API calls after the hour a success, but fewer succeeded on the wire")
	}
	return nil
}

func refreshAtUserDC(h *harness) error {
	if err := h.connect(euUser); err != nil {
		return failf("it could not get the EU user's tokens, so where it refreshes cannot be judged (see EXCHANGE-AT-ACCOUNTS-SERVER): %v", err)
	}
	if r := h.call(); !r.OK {
		return failf("the EU user's API call failed: %s", orNone(r.Error))
	}
	h.wire()
	h.advance(61 * time.Minute)
	r := h.call()
	refreshes := tokenRequests(h.wire(), "refresh_token")
	switch {
	case len(refreshes) == 0:
		return failf("its access token expired and it made no refresh (%s)", describe(r))
	case refreshes[0].DC != zoho.EU:
		return failf("it refreshed the EU user's token at the %s Accounts server (the one it was set up for), not the EU's: Zoho answers %s", strings.ToUpper(string(refreshes[0].DC)), orNone(refreshes[0].Error))
	case !succeeded(refreshes[0]):
		return failf("its refresh at the EU server failed: %s", refreshes[0].Error)
	case !r.OK:
		return failf("it refreshed at the EU server, but its API call failed: %s", orNone(r.Error))
	}
	return nil
}

// theUsersTokens returns the user's refresh token (the integration's).
func (h *harness) theUsersRefreshToken() (fakeserver.RefreshTokenState, error) {
	toks, err := h.srv.Tokens(h.user)
	if err != nil {
		return fakeserver.RefreshTokenState{}, err
	}
	if len(toks.RefreshTokens) != 1 {
		return fakeserver.RefreshTokenState{}, failf("the user should hold the integration's one refresh token, and holds %d", len(toks.RefreshTokens))
	}
	return toks.RefreshTokens[0], nil
}

// judgeDeadAccessToken judges one call after the integration's access
// token died: the stimulus (a 401 INVALID_TOKEN to its call) must be
// seen, then exactly one refresh and one more API call, which works.
func (h *harness) judgeDeadAccessToken(how string) error {
	r := h.call()
	reqs := h.wire()
	calls, refreshes := apiRequests(reqs), tokenRequests(reqs, "refresh_token")
	dead := count(calls, func(c fakeserver.Request) bool { return c.Status == 401 && c.Error == zoho.CodeInvalidToken })
	switch {
	case dead == 0:
		return failf("the stimulus never reached the fake: its call never presented the %s access token (%d API requests, %d refreshes; %s)", how, len(calls), len(refreshes), describe(r))
	case len(refreshes) == 0:
		return failf("on 401 INVALID_TOKEN for its %s access token it never refreshed (%s)", how, describe(r))
	case len(refreshes) > 1:
		return failf("on 401 INVALID_TOKEN it refreshed %d times for one call: once is enough", len(refreshes))
	case len(calls) > 2:
		return failf("on 401 INVALID_TOKEN it sent the call %d times: it retries in a loop (once is enough)", len(calls))
	case count(calls, succeeded) == 0:
		return failf("it refreshed once, but never retried the call with the new token (%s)", describe(r))
	case !r.OK:
		return failf("it refreshed and retried, and the retry worked on the wire, but it reported: %s", orNone(r.Error))
	}
	return nil
}

func tokenDiesEarly(h *harness) error {
	if err := h.connect(""); err != nil {
		return err
	}
	if r := h.call(); !r.OK {
		return failf("its first API call failed: %s", orNone(r.Error))
	}
	h.wire()
	// revoked: the user (or an admin) revokes the access token mid-hour
	rt, err := h.theUsersRefreshToken()
	if err != nil {
		return err
	}
	for _, a := range rt.AccessTokens {
		h.srv.Revoke(a.Token)
	}
	h.note("account: the integration's access token was revoked mid-hour (its refresh token lives)")
	if err := h.judgeDeadAccessToken("revoked"); err != nil {
		return err
	}
	// evicted: other copies of the app refresh the same token over the cap
	if rt, err = h.theUsersRefreshToken(); err != nil {
		return err
	}
	limit, throttle := h.srv.Limits().AccessTokensPerRefreshToken, h.srv.Limits().RefreshThrottle
	hc := h.srv.HTTPClient()
	for i := 0; i < limit; i++ {
		if throttle.Limit > 0 && i%throttle.Limit == 0 { // a fresh throttle window (accounts-2025)
			h.advance(throttle.Window + time.Second)
		}
		resp, err := hc.PostForm("https://accounts.zoho.com/oauth/v2/token", url.Values{"grant_type": {"refresh_token"},
			"client_id": {h.client.ID}, "client_secret": {h.client.Secret}, "refresh_token": {rt.Token}})
		if err != nil {
			return err
		}
		var a struct {
			AccessToken string `json:"access_token"`
		}
		err = json.NewDecoder(resp.Body).Decode(&a)
		resp.Body.Close()
		if err != nil || a.AccessToken == "" {
			return fmt.Errorf("minting access token %d of %d to evict the integration's failed", i+1, limit)
		}
	}
	h.skipWire() // not the integration's requests
	h.note("account: %d more access tokens of the same refresh token evicted the integration's (K4-NOTE-8)", limit)
	return h.judgeDeadAccessToken("evicted")
}

// skipWire moves the evidence window past requests that are not the
// integration's, without adding them.
func (h *harness) skipWire() {
	if reqs := h.srv.RequestsSince(h.seq); len(reqs) > 0 {
		h.seq = reqs[len(reqs)-1].Seq
	}
}

func millisecondExpiry(h *harness) error {
	id, err := h.srv.InjectFault(fakeserver.Fault{Kind: fakeserver.FaultMillisecondExpiry, Endpoint: fakeserver.EndpointToken})
	if err != nil {
		return err
	}
	h.note("fault: every token answer in the older shape: expires_in 3600000 (ms), expires_in_sec 3600")
	if err := h.connect(""); err != nil {
		return err
	}
	if !fired(h.srv, id) {
		return failf("the stimulus never reached the fake: its exchange did not go through the token endpoint")
	}
	if r := h.call(); !r.OK {
		return failf("with expires_in in milliseconds its first API call failed: %s", orNone(r.Error))
	}
	h.wire()
	h.advance(61 * time.Minute)
	r := h.call()
	reqs := h.wire()
	refreshes := tokenRequests(reqs, "refresh_token")
	switch {
	case len(refreshes) == 0:
		return failf("an hour on, it never refreshed: it took expires_in 3600000 for seconds (41 days) and did not recover on the 401 (%s)", describe(r))
	case !succeeded(refreshes[0]):
		return failf("its refresh failed: %s", refreshes[0].Error)
	case !r.OK:
		return failf("it refreshed, but its API call failed: %s", orNone(r.Error))
	case count(apiRequests(reqs), succeeded) == 0:
		return failf("it reported the API call a success, but none succeeded on the wire")
	}
	return nil
}

// fired reports whether the fault fired.
func fired(srv *fakeserver.Server, id int) bool {
	for _, f := range srv.Faults() {
		if f.ID == id {
			return f.Fired > 0
		}
	}
	return false
}

func oneRefreshForParallelCalls(h *harness) error {
	pc, ok := h.integ.(ParallelCaller)
	if !ok {
		return &notApplicable{"the integration does not take calls at once (a Go integration implements certify.ParallelCaller; a process answers {\"op\":\"calls\"})"}
	}
	if err := h.connect(""); err != nil {
		return err
	}
	if r := h.call(); !r.OK {
		return failf("its first API call failed: %s", orNone(r.Error))
	}
	h.wire()
	h.advance(61 * time.Minute)
	const n = 5
	r := h.report(fmt.Sprintf("%d API calls at once", n), pc.Calls(h.ctx, n))
	if r.Unsupported != "" {
		return &notApplicable{"the integration cannot take calls at once: " + r.Unsupported}
	}
	reqs := h.wire()
	refreshes := tokenRequests(reqs, "refresh_token")
	switch {
	case len(refreshes) == 0:
		return failf("its access token had expired and it never refreshed (%s)", describe(r))
	case len(refreshes) > 1:
		return failf("%d calls at once with an expired access token caused %d refreshes: one is enough, and each extra one counts against the 30-per-refresh-token cap (K4-NOTE-7)", n, len(refreshes))
	case !r.OK:
		return failf("it refreshed once, but the calls failed: %s", orNone(r.Error))
	case count(apiRequests(reqs), succeeded) < n:
		return failf("it reported %d calls a success, but only %d API requests succeeded on the wire", n, count(apiRequests(reqs), succeeded))
	}
	return nil
}

// expectReauthorization makes calls after the refresh token died.
func (h *harness) expectReauthorization(why string) error {
	h.advance(61 * time.Minute)
	h.wire()
	asked := true
	for i := 0; i < 3; i++ {
		r := h.call()
		if r.OK {
			return failf("an API call succeeded with the %s refresh token", why)
		}
		asked = asked && r.NeedsAuthorization
	}
	refreshes := tokenRequests(h.wire(), "refresh_token")
	refused := count(refreshes, func(t fakeserver.Request) bool { return t.Error == zoho.ErrInvalidCode })
	switch {
	case refused == 0:
		return failf("the stimulus never reached the fake: it sent no refresh with the %s refresh token, so it never saw invalid_code", why)
	case len(refreshes) > 3:
		return failf("it sent the %s refresh token %d times for 3 calls: a retry storm (invalid_code is final)", why, len(refreshes))
	case !asked:
		return failf("it did not ask for re-authorization after invalid_code on the %s refresh token", why)
	}
	return nil
}

// connectAndCall is where the refresh-side scenarios start: tokens, and
// one API call that works.
func (h *harness) connectAndCall() error {
	if err := h.connect(""); err != nil {
		return err
	}
	if r := h.call(); !r.OK {
		return failf("its first API call failed: %s", orNone(r.Error))
	}
	return nil
}

func revokedRefreshStops(h *harness) error {
	if err := h.connectAndCall(); err != nil {
		return err
	}
	toks, _ := h.srv.Tokens(h.user)
	for _, rt := range toks.RefreshTokens {
		h.srv.Revoke(rt.Token)
	}
	h.note("account: the user revoked the integration's refresh token")
	return h.expectReauthorization("revoked")
}

func evictedRefreshStops(h *harness) error {
	if err := h.connectAndCall(); err != nil {
		return err
	}
	h.wire()
	// 20 more installations of the same app sign the user in: the 21st
	// refresh token deletes the first (K4-NOTE-8).
	limit := h.srv.Limits().RefreshTokensPerUser
	rate := h.srv.Limits().GrantRate
	hc := h.srv.HTTPClient()
	for i := 0; i < limit; i++ {
		if rate.Limit > 0 && i%rate.Limit == 0 { // the integration's own grant counted too
			_ = h.srv.Advance(rate.Window + time.Second)
		}
		q, err := h.srv.Authorize(zoho.US, map[string][]string{"client_id": {h.client.ID}, "response_type": {"code"},
			"redirect_uri": {redirectURI}, "scope": {harnessScope}, "access_type": {"offline"}, "prompt": {"consent"}})
		if err != nil {
			return err
		}
		resp, err := hc.PostForm("https://accounts.zoho.com/oauth/v2/token", map[string][]string{"grant_type": {"authorization_code"},
			"client_id": {h.client.ID}, "client_secret": {h.client.Secret}, "redirect_uri": {redirectURI}, "code": {q.Code}})
		if err != nil {
			return err
		}
		resp.Body.Close()
	}
	h.skipWire() // not the integration's requests
	h.note("account: %d other installations signed the user in; the integration's refresh token was evicted", limit)
	return h.expectReauthorization("evicted")
}

func grantRateLimited(h *harness) error {
	a, ok := h.integ.(Authorizer)
	if !ok {
		return &notApplicable{"the integration does not start authorizations (a Go integration implements certify.Authorizer; a process answers {\"op\":\"authorize\"})"}
	}
	// other installations of the app use up the client's grant tokens
	rate := h.srv.Limits().GrantRate
	for i := 0; i < rate.Limit; i++ {
		if _, err := h.srv.Authorize(zoho.US, url.Values{"client_id": {h.client.ID}, "response_type": {"code"},
			"redirect_uri": {redirectURI}, "scope": {harnessScope}}); err != nil {
			return err
		}
	}
	h.skipWire()
	h.note("account: other installations used up the client's %d grant tokens of the window (K4-NOTE-4)", rate.Limit)
	r := h.report("authorize", a.Authorize(h.ctx))
	if r.Unsupported != "" {
		return &notApplicable{"the integration does not start authorizations: " + r.Unsupported}
	}
	if err := h.checkAuthorizeURL(r); err != nil {
		return err
	}
	h.wire()
	back, err := h.browse(r.AuthorizeURL, false)
	if err != nil {
		return failf("its authorization URL could not be opened: %v", err)
	}
	if back.Get("error") != zoho.ErrAccessDenied {
		return failf("the stimulus never reached the fake: its authorization URL was not refused (%v)", back)
	}
	// [assumed] the user comes back to the app with error=access_denied, as
	// OAuth 2.0 answers a refused authorization (the fake shows a page)
	h.note("browser: the user goes back to the app with error=access_denied")
	d := h.report("redirect", h.integ.Redirect(h.ctx, url.Values{"error": {zoho.ErrAccessDenied}, "state": {stateOf(r.AuthorizeURL)}}))
	for i := 0; i < 2; i++ {
		h.call()
	}
	reqs := h.wire()
	auths := count(reqs, func(q fakeserver.Request) bool { return q.Path == "/oauth/v2/auth" })
	tokens := len(tokenRequests(reqs, ""))
	switch {
	case d.OK:
		return failf("the authorization was refused (access_denied) and it reported success")
	case auths > 0 || tokens > 0:
		return failf("after the refusal it sent %d authorization and %d token requests of its own: it hammers (the limit is %d grant tokens per %s)", auths, tokens, rate.Limit, rate.Window)
	case !d.NeedsAuthorization && !strings.Contains(d.Error, zoho.ErrAccessDenied):
		return failf("it did not report the refusal: neither needs_authorization nor access_denied in its answer (%s)", describe(d))
	}
	// after the window, authorization works again
	h.advance(rate.Window + time.Second)
	r = h.report("authorize", a.Authorize(h.ctx))
	if err := h.checkAuthorizeURL(r); err != nil {
		return err
	}
	back, err = h.browse(r.AuthorizeURL, true)
	if err != nil {
		return failf("after the window its authorization URL was refused: %v", err)
	}
	if ok := h.report("redirect", h.integ.Redirect(h.ctx, back)); !ok.OK {
		return failf("after the window the authorization worked, but the integration reported: %s", orNone(ok.Error))
	}
	if c := h.call(); !c.OK {
		return failf("after the window its API call failed: %s", orNone(c.Error))
	}
	return nil
}

// checkAuthorizeURL checks that an authorization URL is one for this
// client at the integration's Accounts server.
func (h *harness) checkAuthorizeURL(r Report) error {
	if !r.OK || r.AuthorizeURL == "" {
		return failf("asked to authorize, it gave no authorization URL (%s)", describe(r))
	}
	u, err := url.Parse(r.AuthorizeURL)
	if err != nil {
		return failf("its authorization URL is not a URL: %v", err)
	}
	q := u.Query()
	switch {
	case !strings.HasPrefix(r.AuthorizeURL, h.env.AccountsURL+"/oauth/v2/auth"):
		return failf("its authorization URL %s is not at the Accounts server it was set up for (%s/oauth/v2/auth)", zoho.Redact(r.AuthorizeURL), h.env.AccountsURL)
	case q.Get("client_id") != h.client.ID || q.Get("response_type") != "code" || q.Get("redirect_uri") != redirectURI || q.Get("scope") == "":
		return failf("its authorization URL lacks the client_id, response_type=code, redirect_uri or scope: %s", zoho.Redact(r.AuthorizeURL))
	}
	return nil
}

func stateOf(authURL string) string {
	u, err := url.Parse(authURL)
	if err != nil {
		return ""
	}
	return u.Query().Get("state")
}

func backsOff(h *harness) error {
	if err := h.connectAndCall(); err != nil {
		return err
	}
	h.advance(61 * time.Minute)
	h.wire()
	for i, f := range []fakeserver.Fault{
		{Kind: fakeserver.FaultThrottle, Endpoint: fakeserver.EndpointToken},
		{Kind: fakeserver.FaultStatus, Endpoint: fakeserver.EndpointToken, Status: 503,
			Body: "<html><body>Service Unavailable</body></html>", Header: map[string]string{"Retry-After": "30"}},
	} {
		if i > 0 {
			h.advance(61 * time.Minute) // past any back-off of the first fault, and the token expired again
			h.wire()
		}
		id, err := h.srv.InjectFault(f)
		if err != nil {
			return err
		}
		what := "the throttle answer"
		if f.Kind == fakeserver.FaultStatus {
			what = "HTTP 503 with Retry-After: 30"
		}
		h.note("fault: every token request gets %s", what)
		h.call()
		n := len(tokenRequests(h.wire(), ""))
		delivered := fired(h.srv, id)
		h.srv.RemoveFault(id)
		switch {
		case !delivered:
			return failf("the stimulus never reached the fake: with its access token expired it made no token request, so it never got %s", what)
		case n > 2:
			return failf("on %s it sent %d token requests for one API call: it hammers instead of backing off", what, n)
		}
	}
	return nil
}

func survivesNetworkFaults(h *harness) error {
	if err := h.connectAndCall(); err != nil {
		return err
	}
	for _, kind := range []fakeserver.FaultKind{fakeserver.FaultReset, fakeserver.FaultCloseMidBody} {
		h.advance(61 * time.Minute)
		id, err := h.srv.InjectFault(fakeserver.Fault{Kind: kind, Endpoint: fakeserver.EndpointToken, Times: 1})
		if err != nil {
			return err
		}
		h.note("fault: the next token request gets %s", kind)
		r := h.call()
		if !fired(h.srv, id) {
			h.srv.ClearFaults()
			return failf("the stimulus never reached the fake: with its access token expired it made no token request, so it never met the %s", kind)
		}
		if !r.OK && r.Error == "" {
			return failf("after %s it failed without saying why", kind)
		}
		h.srv.ClearFaults()
		r = h.call()
		switch {
		case r.NeedsAuthorization:
			return failf("after %s it asked for re-authorization: it lost its refresh token", kind)
		case !r.OK:
			return failf("after %s, once the network was back, the API call still failed: %s", kind, orNone(r.Error))
		}
	}
	return nil
}

// Describe is the scenario's one-line description with its seeds.
func (s Scenario) Describe() string {
	var seeds []string
	for _, id := range s.Seeds {
		seeds = append(seeds, string(id))
	}
	for _, f := range s.Faults {
		seeds = append(seeds, "fault:"+string(f))
	}
	return fmt.Sprintf("%s: %s [%s]", s.ID, s.Title, strings.Join(seeds, ", "))
}

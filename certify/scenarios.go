package certify

import (
	"fmt"
	"strings"
	"time"

	"github.com/zconform/zconform/fakeserver"
	"github.com/zconform/zconform/fixtures/zoho"
)

// Scenario is one judged behaviour of an integration.
type Scenario struct {
	ID    string
	Title string
	// Seeds are the seed IDs (K4-...) it exercises.
	Seeds []zoho.SeedID
	// Faults are the faults on the wire it injects.
	Faults []fakeserver.FaultKind
	// Basis is seed, doc, seen or assumed, as in the catalogue.
	Basis string
	run   func(h *harness) error
}

// Scenarios lists the certification scenarios, in the order they run.
func Scenarios() []Scenario {
	return []Scenario{
		{ID: "EXCHANGE-AT-ACCOUNTS-SERVER", Basis: "seed",
			Title: "exchanges a fresh grant once, within its lifetime, at the accounts-server the redirect named",
			Seeds: []zoho.SeedID{zoho.TokenClientB, zoho.Note1, zoho.TokenCodeB}, run: exchangeAtAccountsServer},
		{ID: "API-DOMAIN-AND-HEADER", Basis: "doc",
			Title: "calls the API at the api_domain it was given, with the Zoho-oauthtoken header",
			Seeds: []zoho.SeedID{zoho.TokenClientB}, run: apiDomainAndHeader},
		{ID: "ERROR-WITH-HTTP-200", Basis: "seen",
			Title: "treats HTTP 200 with {\"error\":…} as an error, never as a token",
			Seeds: []zoho.SeedID{zoho.TokenCodeA}, run: errorWithHTTP200},
		{ID: "DEAD-GRANT-NOT-RETRIED", Basis: "seed",
			Title: "on invalid_code for a grant, does not retry it and asks for a new authorization",
			Seeds: []zoho.SeedID{zoho.TokenCodeA, zoho.TokenCodeB, zoho.Note3}, run: deadGrantNotRetried},
		{ID: "ACCESS-TOKEN-REUSED", Basis: "seed",
			Title: "reuses its access token until it expires, then refreshes once; never a new token per call or a new refresh token",
			Seeds: []zoho.SeedID{zoho.Note5, zoho.Note7}, run: accessTokenReused},
		{ID: "REVOKED-REFRESH-STOPS", Basis: "seed",
			Title: "on a revoked refresh token, stops and asks for re-authorization without a retry storm",
			Seeds: []zoho.SeedID{zoho.TokenCodeC, zoho.Note6}, run: revokedRefreshStops},
		{ID: "EVICTED-REFRESH-STOPS", Basis: "seed",
			Title: "on a refresh token evicted by the 21st, stops and asks for re-authorization",
			Seeds: []zoho.SeedID{zoho.Note7, zoho.Note8}, run: evictedRefreshStops},
		{ID: "BACKS-OFF", Basis: "assumed",
			Title:  "on the throttle answer and on 5xx, backs off instead of hammering",
			Faults: []fakeserver.FaultKind{fakeserver.FaultThrottle, fakeserver.FaultStatus}, run: backsOff},
		{ID: "SURVIVES-NETWORK-FAULTS", Basis: "assumed",
			Title:  "survives a reset connection and an answer cut mid-body with a clear error, and loses no refresh token",
			Faults: []fakeserver.FaultKind{fakeserver.FaultReset, fakeserver.FaultCloseMidBody}, run: survivesNetworkFaults},
	}
}

// The EU user of the DC scenarios.
const euUser = "user@eu.example"

// euSetup makes an EU user and enables the client in the EU (one secret).
func (h *harness) euSetup() error {
	if _, err := h.srv.AddUser(fakeserver.UserSpec{Email: euUser, DC: zoho.EU}); err != nil {
		return err
	}
	_, err := h.srv.EnableMultiDC(h.client.ID, zoho.EU, fakeserver.MultiDC{})
	return err
}

func exchangeAtAccountsServer(h *harness) error {
	if err := h.euSetup(); err != nil {
		return err
	}
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
		return failf("it never exchanged the grant token")
	case uses[0].DC != zoho.EU:
		return failf("it exchanged the EU user's grant at the %s Accounts server, not at the accounts-server the redirect named (EU): the K4-TOKEN-CLIENT-b mistake", strings.ToUpper(string(uses[0].DC)))
	case len(uses) > 1:
		return failf("it sent the grant token %d times: a grant works once (K4-TOKEN-CODE-b)", len(uses))
	case uses[0].Error != "":
		return failf("its exchange failed: %s", uses[0].Error)
	case !r.OK:
		return failf("the exchange worked, but the integration reported: %s", r.Error)
	}
	return nil
}

func apiDomainAndHeader(h *harness) error {
	if err := h.euSetup(); err != nil {
		return err
	}
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
		switch {
		case c.DC != zoho.EU:
			return failf("it called the %s API domain, not the api_domain it was given (EU)", strings.ToUpper(string(c.DC)))
		case !strings.HasPrefix(auth, "Zoho-oauthtoken "):
			scheme, _, _ := strings.Cut(auth, " ")
			if scheme == "" {
				scheme = "none"
			}
			return failf("it sent the access token with the %q scheme, not Zoho-oauthtoken", scheme)
		}
	}
	if !r.OK {
		return failf("the API call failed: %s", r.Error)
	}
	return nil
}

func errorWithHTTP200(h *harness) error {
	q, err := h.authorize("")
	if err != nil {
		return err
	}
	h.advance(61 * time.Second) // the grant is dead: the answer is 200 {"error":"invalid_code"}
	r := h.report("redirect", h.integ.Redirect(h.ctx, q))
	h.wire()
	if r.OK {
		return failf("the token endpoint answered HTTP 200 {\"error\":\"invalid_code\"} and the integration reported success: it took an error for a token")
	}
	c := h.call()
	for _, a := range apiRequests(h.wire()) {
		if a.Status == 200 {
			return failf("after an error answer it still reached the API")
		}
		_ = a
	}
	if c.OK {
		return failf("after an error answer it reported a successful API call")
	}
	return nil
}

func deadGrantNotRetried(h *harness) error {
	q, err := h.authorize("")
	if err != nil {
		return err
	}
	code := zoho.RedactValue(q.Get("code"))
	h.advance(61 * time.Second)
	r := h.report("redirect", h.integ.Redirect(h.ctx, q))
	uses := 0
	for _, t := range tokenRequests(h.wire(), "authorization_code") {
		if t.Params["code"] == code {
			uses++
		}
	}
	switch {
	case uses > 1:
		return failf("it sent the expired grant token %d times: after invalid_code a grant is dead (K4-NOTE-3)", uses)
	case r.OK:
		return failf("it reported success with an expired grant")
	case !r.NeedsAuthorization:
		return failf("it did not ask for a new authorization after invalid_code (error: %s)", r.Error)
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
			return failf("API call %d failed: %s", i+1, r.Error)
		}
	}
	if n := len(tokenRequests(h.wire(), "")); n > 0 {
		return failf("it made %d token requests for 5 API calls within the hour: the 30-per-refresh-token cap evicts tokens still in use (K4-NOTE-7)", n)
	}
	h.advance(61 * time.Minute)
	for i := 0; i < 3; i++ {
		if r := h.call(); !r.OK {
			return failf("API call %d after the hour failed: %s", i+1, r.Error)
		}
	}
	reqs := h.wire()
	refreshes, exchanges := len(tokenRequests(reqs, "refresh_token")), len(tokenRequests(reqs, "authorization_code"))
	switch {
	case exchanges > 0:
		return failf("it asked for a new refresh token after the hour: the 20-per-user cap evicts other installations' tokens (K4-NOTE-7)")
	case refreshes != 1:
		return failf("it refreshed %d times for 3 calls after the access token expired: once is enough (K4-NOTE-5)", refreshes)
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
			return failf("an API call succeeded with a %s refresh token", why)
		}
		asked = asked && r.NeedsAuthorization
	}
	refreshes := len(tokenRequests(h.wire(), "refresh_token"))
	switch {
	case refreshes > 3:
		return failf("it sent the %s refresh token %d times for 3 calls: a retry storm (invalid_code is final)", why, refreshes)
	case !asked:
		return failf("it did not ask for re-authorization after invalid_code on a %s refresh token", why)
	}
	return nil
}

func revokedRefreshStops(h *harness) error {
	if err := h.connect(""); err != nil {
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
	if err := h.connect(""); err != nil {
		return err
	}
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
			"redirect_uri": {redirectURI}, "scope": {"ZohoCRM.users.ALL"}, "access_type": {"offline"}, "prompt": {"consent"}})
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
	h.seq = h.srv.RequestsSince(0)[len(h.srv.RequestsSince(0))-1].Seq // not the integration's requests
	h.note("account: %d other installations signed the user in; the integration's refresh token was evicted", limit)
	return h.expectReauthorization("evicted")
}

func backsOff(h *harness) error {
	if err := h.connect(""); err != nil {
		return err
	}
	h.advance(61 * time.Minute)
	h.wire()
	for _, f := range []fakeserver.Fault{
		{Kind: fakeserver.FaultThrottle, Endpoint: fakeserver.EndpointToken},
		{Kind: fakeserver.FaultStatus, Endpoint: fakeserver.EndpointToken, Status: 503,
			Body: "<html><body>Service Unavailable</body></html>", Header: map[string]string{"Retry-After": "30"}},
	} {
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
		if n := len(tokenRequests(h.wire(), "")); n > 2 {
			h.srv.RemoveFault(id)
			return failf("on %s it sent %d token requests for one API call: it hammers instead of backing off", what, n)
		}
		h.srv.RemoveFault(id)
	}
	return nil
}

func survivesNetworkFaults(h *harness) error {
	if err := h.connect(""); err != nil {
		return err
	}
	for _, kind := range []fakeserver.FaultKind{fakeserver.FaultReset, fakeserver.FaultCloseMidBody} {
		h.advance(61 * time.Minute)
		if _, err := h.srv.InjectFault(fakeserver.Fault{Kind: kind, Endpoint: fakeserver.EndpointToken, Times: 1}); err != nil {
			return err
		}
		h.note("fault: the next token request gets %s", kind)
		r := h.call()
		if !r.OK && r.Error == "" {
			return failf("after %s it failed without saying why", kind)
		}
		h.srv.ClearFaults()
		r = h.call()
		switch {
		case r.NeedsAuthorization:
			return failf("after %s it asked for re-authorization: it lost its refresh token", kind)
		case !r.OK:
			return failf("after %s, once the network was back, the API call still failed: %s", kind, r.Error)
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

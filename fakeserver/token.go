package fakeserver

import (
	"net/http"
	"slices"
	"time"

	"github.com/zconform/zconform/fixtures/zoho"
)

// tokenResponse is Zoho's success body, fields in Zoho's order. expires_in
// is in seconds; expires_in_sec is never sent.
type tokenResponse struct {
	AccessToken  string `json:"access_token"`
	RefreshToken string `json:"refresh_token,omitempty"`
	// Scope is sent only with the token_answer_scope setting (settings.go),
	// and in a client-credentials answer where the profile says
	// (clientcreds.go).
	Scope     string `json:"scope,omitempty"`
	APIDomain string `json:"api_domain"`
	TokenType string `json:"token_type"`
	ExpiresIn int    `json:"expires_in"`
	// ExpiresInSec is sent only with the expires_in_milliseconds setting.
	ExpiresInSec int `json:"expires_in_sec,omitempty"`
}

// token serves POST {AS}/oauth/v2/token.
func (s *Server) token(x *exchange) {
	if !x.paramsOf("POST for /oauth/v2/token", http.MethodPost) {
		return
	}
	mergeBasic(x) // credentials may come as HTTP Basic; parameters win
	now := s.clock.Now()
	s.mu.Lock()
	defer s.mu.Unlock()
	switch gt := x.param("grant_type"); gt {
	case "authorization_code":
		s.exchangeCodeLocked(x, now)
	case "refresh_token":
		s.refreshLocked(x, now)
	case "client_credentials":
		s.clientCredentialsLocked(x, now, false) // ZA-CC-TOKEN (clientcreds.go)
	case "":
		s.tokenErrorLocked(x, zoho.ErrInvalidRequest) // [assumed] grant_type is missing
	default:
		s.tokenErrorLocked(x, zoho.ErrUnsupportedGrantType) // [assumed]
	}
}

// mergeBasic takes client_id and client_secret from HTTP Basic when the
// parameters lack them: the token endpoint, client credentials at
// /oauth/v2/auth and the device poll take either.
func mergeBasic(x *exchange) {
	if id, secret, ok := x.r.BasicAuth(); ok {
		if !x.has("client_id") {
			x.params.Set("client_id", id)
		}
		if !x.has("client_secret") {
			x.params.Set("client_secret", secret)
		}
	}
}

// checkClientLocked checks client_id and client_secret for the DC the
// request came to (K4-TOKEN-CLIENT-a/c). It returns the client, or "" and
// the error to send.
func (s *Server) checkClientLocked(x *exchange, owner *client) (*client, string) {
	c := s.clients[x.param("client_id")]
	if c == nil {
		c = s.standInLocked(owner) // nil unless a break lets a wrong ID through
	}
	if c == nil {
		return nil, zoho.ErrInvalidClient
	}
	if !c.enabledIn(x.t.dc) && !s.brokenLocked(zoho.TokenClientB) {
		return nil, zoho.ErrInvalidClient // K4-TOKEN-CLIENT-b: not registered or enabled here
	}
	secret := x.param("client_secret")
	want, ok := c.Secrets[x.t.dc]
	if !ok {
		want = c.Secret // only with TokenClientB broken
	}
	switch {
	case secret == want:
		return c, ""
	case s.brokenLocked(zoho.TokenClientA):
		return c, ""
	case s.brokenLocked(zoho.TokenClientC) && slices.Contains(secretsOf(c), secret):
		return c, ""
	}
	return nil, s.limits.WrongSecretError
}

func secretsOf(c *client) []string {
	out := make([]string, 0, len(c.Secrets))
	for _, v := range c.Secrets {
		out = append(out, v)
	}
	return out
}

func (s *Server) exchangeCodeLocked(x *exchange, now time.Time) {
	code := x.param("code")
	if code == "" {
		s.tokenErrorLocked(x, zoho.ErrInvalidRequest) // [assumed] code is missing
		return
	}
	g := s.grants[code]
	if g != nil && g.dc != x.t.dc && !s.brokenLocked(zoho.TokenClientB) {
		// K4-TOKEN-CLIENT-b: the grant was made in another DC. That DC's
		// grant is out of this one's reach, so it is not burnt. [assumed]
		s.tokenErrorLocked(x, zoho.ErrInvalidClient)
		return
	}
	fail := func(code string) {
		// K4-NOTE-3: a failed exchange invalidates the grant.
		if g != nil && s.limits.FailedExchangeBurnsGrant && !s.brokenLocked(zoho.Note3) {
			g.used = true
		}
		s.tokenErrorLocked(x, code)
	}
	var owner *client
	if g != nil {
		owner = g.client
	}
	c, errCode := s.checkClientLocked(x, owner)
	if errCode != "" {
		fail(errCode)
		return
	}
	switch {
	case g == nil:
		unknown := zoho.ErrInvalidCode // [assumed] an unknown code is answered like a dead one
		if s.brokenLocked(DevUnknownCodeInvalidClient) {
			unknown = zoho.ErrInvalidClient
		}
		fail(unknown)
		return
	case g.client != c && !s.brokenLocked(DevCodeAnyClient):
		fail(zoho.ErrInvalidCode) // [assumed] a code of another client is unknown to this one
		return
	case g.used && !s.brokenLocked(zoho.TokenCodeB):
		fail(zoho.ErrInvalidCode) // K4-TOKEN-CODE-b
		return
	case s.expiredLocked(g.expires, now) && !s.brokenLocked(zoho.TokenCodeA):
		fail(zoho.ErrInvalidCode) // K4-TOKEN-CODE-a, K4-NOTE-1, K4-NOTE-2
		return
	}
	if !g.selfClient && !s.redirectRegisteredLocked(c, x.params.Get("redirect_uri")) && !s.brokenLocked(zoho.TokenRedirect) {
		fail(zoho.ErrInvalidRedirectURI) // K4-TOKEN-REDIRECT
		return
	}
	if code := s.pkceVerifyLocked(x, g); code != "" {
		fail(code) // ZA-PKCE-TOKEN: a missing or wrong code_verifier (pkce.go)
		return
	}
	g.used = true
	resp := tokenResponse{APIDomain: x.t.apiURL(g.dc), TokenType: "Bearer", ExpiresIn: int(s.limits.AccessTokenLifetime.Seconds())}
	var rt *refreshToken
	if g.offline {
		rt = s.mintRefreshLocked(g, now)
		resp.RefreshToken = rt.value
	}
	a := s.mintAccessLocked(rt, c, g.user, g.dc, now)
	a.scopes = g.scopes // what the user granted (ZA-API-SCOPE)
	resp.AccessToken = a.value
	x.reply(http.StatusOK, s.tokenAnswerLocked(resp, g.scopes)) // section 7's answer shape (settings.go)
}

func (s *Server) refreshLocked(x *exchange, now time.Time) {
	value := x.param("refresh_token")
	if value == "" {
		s.tokenErrorLocked(x, zoho.ErrInvalidRequest) // [assumed] refresh_token is missing
		return
	}
	rt := s.refresh[value]
	if rt != nil && rt.dc != x.t.dc && !s.brokenLocked(zoho.TokenClientB) {
		s.tokenErrorLocked(x, zoho.ErrInvalidClient) // the token lives in another DC [assumed]
		return
	}
	var owner *client
	if rt != nil {
		owner = rt.client
	}
	c, errCode := s.checkClientLocked(x, owner)
	if errCode != "" {
		s.tokenErrorLocked(x, errCode)
		return
	}
	if rt == nil || rt.client != c || !s.refreshLive(rt, now) {
		s.tokenErrorLocked(x, zoho.ErrInvalidCode) // K4-TOKEN-CODE-c, K4-NOTE-6
		return
	}
	if r := s.limits.RefreshThrottle; r.Limit > 0 {
		rt.mints = pruneTimes(rt.mints, now.Add(-r.Window))
		if len(rt.mints) >= r.Limit {
			s.throttledLocked(x) // its status and body are section 7 settings (settings.go)
			return
		}
		rt.mints = append(rt.mints, now)
	}
	a := s.mintAccessLocked(rt, c, rt.user, rt.dc, now)
	resp := tokenResponse{
		AccessToken: a.value, APIDomain: x.t.apiURL(rt.dc), TokenType: "Bearer",
		ExpiresIn: int(s.limits.AccessTokenLifetime.Seconds()),
	}
	if s.brokenLocked(DevRefreshIssuesRefresh) {
		resp.RefreshToken = rt.value
	}
	x.reply(http.StatusOK, s.tokenAnswerLocked(resp, rt.scopes))
}

// revoke serves POST {AS}/oauth/v2/token/revoke?token=… (also as a form
// field). Revoking a refresh token revokes its access tokens; an unknown
// token gets HTTP 400.
func (s *Server) revoke(x *exchange) {
	if !x.paramsOf("POST for /oauth/v2/token/revoke", http.MethodPost) {
		return
	}
	value := x.param("token")
	s.mu.Lock()
	defer s.mu.Unlock()
	if rt := s.refresh[value]; rt != nil && rt.dc == x.t.dc && !rt.revoked {
		s.revokeRefreshLocked(rt)
		x.reply(http.StatusOK, map[string]string{"status": "success"})
		return
	}
	if a := s.access[value]; a != nil && a.dc == x.t.dc {
		s.revokeAccessLocked(a)
		x.reply(http.StatusOK, map[string]string{"status": "success"})
		return
	}
	if s.brokenLocked(DevRevokeUnknownSuccess) {
		x.reply(http.StatusOK, map[string]string{"status": "success"})
		return
	}
	x.errStr = zoho.ErrInvalidToken
	x.reply(http.StatusBadRequest, map[string]string{"status": "failure", "error": zoho.ErrInvalidToken})
}

// revokeAccessLocked revokes an access token at a revoke endpoint (and,
// with DEV-REVOKE-ACCESS-KILLS-REFRESH, its refresh token too).
func (s *Server) revokeAccessLocked(a *accessToken) {
	s.dropAccessLocked(a)
	s.revokeAccessByBreakLocked(a)
}

func (s *Server) dropAccessLocked(a *accessToken) {
	delete(s.access, a.value)
	if a.rt != nil && !s.brokenLocked(DevCapCountsRevoked) {
		a.rt.access = slices.DeleteFunc(a.rt.access, func(o *accessToken) bool { return o == a })
	}
}

// redirectRegisteredLocked says whether a redirect URI is one of the
// client's, compared exactly: no trimming, no case folding, no trailing
// slash or query ignored (K4-AUTH-REDIRECT, K4-TOKEN-REDIRECT).
func (s *Server) redirectRegisteredLocked(c *client, uri string) bool {
	if !s.brokenLocked(DevRedirectNearMiss) {
		return slices.Contains(c.RedirectURIs, uri)
	}
	return looselyRegistered(c, uri)
}

// expiredLocked says whether something that expires at expires is dead at
// now: it lives until just before that instant.
func (s *Server) expiredLocked(expires, now time.Time) bool {
	if s.brokenLocked(DevExpiryInclusive) {
		return now.After(expires)
	}
	return !now.Before(expires)
}

package fakeserver

import (
	"net/http"
	"strings"
	"time"

	"github.com/zconform/zconform/fixtures/zoho"
)

// Client credentials (docs/zoho-oauth-beyond.md section 2, ZA-CC-*): a
// Self Client asks for an access token with its own credentials, for an
// org of a Zoho service named by soid (<Service>.<org id>). The answer has
// no refresh token; the client asks again when the hour is over.
//
// The choices the pages leave open, each [assumed]:
//   - Only a Self Client may use the grant; another client that names its
//     right credentials gets unauthorized_client (RFC 6749's code for a
//     grant type the client may not use). Wrong credentials are
//     invalid_client (or the profile's wrong-secret error) first.
//   - soid is needed by every service the fake knows (they all keep
//     several orgs): without it, missing_org_info [doc]; with one that is
//     not <Service>.<digits>, or that names no org of this DC (or an org
//     of another service), invalid_org_info.
//   - A missing scope is invalid_request, an unknown one invalid_scope.
//   - The fake keeps no org membership: any Self Client of the org's DC
//     may name it.
//   - The token acts as the Self Client's developer, whom Zoho's
//     self-client page calls the resource owner: /oauth/user/info and the
//     CRM current-user API answer that user; GET /crm/v8/org answers the
//     org the soid named.
//   - The same request at /oauth/v2/auth (the CRM pages' variant) is taken
//     by GET or POST, its parameters in the query or the body; its errors
//     are the token endpoint's (JSON, HTTP 200), not error pages.
//   - Which of the two answers carries scope (space-separated, the scopes
//     asked) is the profile's client_credentials_scope.

// ccGrant is what a client-credentials access token was issued for.
type ccGrant struct {
	org    *Org // nil only with ZA-CC-SOID broken
	scopes []string
}

// DevCCAnyOrg is a deviation (breaks.go): client credentials take a soid
// that names no org.
const DevCCAnyOrg zoho.SeedID = "DEV-CC-ANY-ORG"

// orgBySOIDLocked finds the org a soid names in a DC (nil for none).
func (s *Server) orgBySOIDLocked(soid string, dc zoho.DC) *Org {
	service, id, ok := strings.Cut(soid, ".")
	if !ok {
		return nil
	}
	o := s.cc.orgs[id]
	if o == nil || o.Service != service || (o.DC != dc && !s.brokenLocked(zoho.TokenClientB)) {
		return nil
	}
	return o
}

// clientCredentialsLocked serves grant_type=client_credentials at the
// token endpoint or, atAuth, at the authorization endpoint (ZA-CC-*).
// The parameters are parsed, HTTP Basic merged in.
func (s *Server) clientCredentialsLocked(x *exchange, now time.Time, atAuth bool) {
	c, errCode := s.checkClientLocked(x, nil)
	if errCode != "" {
		s.tokenErrorLocked(x, errCode)
		return
	}
	if c.Type != SelfClient && !s.brokenLocked(zoho.CCClient) {
		s.tokenErrorLocked(x, zoho.ErrUnauthorizedClient) // ZA-CC-CLIENT [assumed code]
		return
	}
	var o *Org
	switch soid := x.param("soid"); {
	case soid == "":
		if !s.brokenLocked(zoho.CCSoid) { // broken: a token for no org
			s.tokenErrorLocked(x, zoho.ErrMissingOrgInfo) // ZA-CC-SOID
			return
		}
	default:
		if o = s.orgBySOIDLocked(soid, x.t.dc); o == nil && !s.brokenLocked(DevCCAnyOrg) {
			s.tokenErrorLocked(x, zoho.ErrInvalidOrgInfo) // [assumed]
			return
		}
	}
	scopes := zoho.SplitScopes(x.param("scope"))
	if len(scopes) == 0 {
		s.tokenErrorLocked(x, zoho.ErrInvalidRequest) // [assumed] scope is missing
		return
	}
	if bad := s.unknownScopeLocked(scopes); bad != "" {
		s.tokenErrorLocked(x, zoho.ErrInvalidScope) // [assumed]
		return
	}
	a := s.mintAccessLocked(nil, c, c.owner, x.t.dc, now)
	a.cc = &ccGrant{org: o, scopes: scopes}
	resp := tokenResponse{ // no refresh token; scope where the profile says; expires_in in seconds
		AccessToken: a.value, APIDomain: x.t.apiURL(x.t.dc), TokenType: "Bearer",
		ExpiresIn: int(s.limits.AccessTokenLifetime.Seconds()),
	}
	if zoho.CCScopeAnswered(s.limits.ClientCredentialsScope, atAuth) {
		resp.Scope = strings.Join(scopes, " ")
	}
	if s.brokenLocked(zoho.CCToken) {
		resp.RefreshToken = s.newSecret(zoho.NewToken()) // broken ZA-CC-TOKEN
	}
	x.reply(http.StatusOK, resp)
}

// authorizeOrClientCredentials serves {AS}/oauth/v2/auth: a
// client-credentials request (grant_type=client_credentials, the CRM
// pages' variant, ZA-CC-AUTH) gets a token answer; anything else is an
// authorization request.
func (s *Server) authorizeOrClientCredentials(x *exchange) {
	if x.r.Method == http.MethodGet || x.r.Method == http.MethodPost {
		if !x.parseParams() {
			return
		}
		if x.param("grant_type") == "client_credentials" && !s.isBroken(zoho.CCAuth) {
			mergeBasic(x)
			now := s.clock.Now()
			s.mu.Lock()
			defer s.mu.Unlock()
			s.clientCredentialsLocked(x, now, true)
			return
		}
	}
	s.authorize(x) // parses again: a parsed request keeps its values
}

// isBroken is brokenLocked for callers that do not hold the lock.
func (s *Server) isBroken(id zoho.SeedID) bool {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.brokenLocked(id)
}

// orgAnswer is GET /crm/v8/org for a client-credentials token: the org its
// soid named (ok false for any other token).
func orgAnswer(a *accessToken) (map[string]any, bool) {
	if a.cc == nil || a.cc.org == nil {
		return nil, false
	}
	o := a.cc.org
	return map[string]any{"org": []map[string]any{{
		"id": o.ID, "zgid": o.ID, "company_name": o.Name, "primary_email": a.user.Email,
		"primary_zuid": a.user.ZUID, "country_code": strings.ToUpper(string(o.DC)),
		"currency": "USD", "time_zone": "UTC",
	}}}, true
}

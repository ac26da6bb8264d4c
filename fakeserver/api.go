package fakeserver

import (
	"encoding/json"
	"net/http"
	"regexp"
	"strings"

	"github.com/zconform/zconform/fixtures/zoho"
)

var crmPath = regexp.MustCompile(`^/crm/v\d+/(users|org)$`)

// bearer reads the access token of "Zoho-oauthtoken X" or "Bearer X"
// (ZA-API-HEADER); scheme names are case-insensitive, as in HTTP. With
// anyScheme (a deviation), any scheme or none will do; with zohoOnly
// (another), Bearer will not.
func bearer(r *http.Request, anyScheme, zohoOnly bool) string {
	h := strings.TrimSpace(r.Header.Get("Authorization"))
	scheme, tok, ok := strings.Cut(h, " ")
	if anyScheme {
		if !ok {
			return h
		}
		return strings.TrimSpace(tok)
	}
	if !ok || (!strings.EqualFold(scheme, "Zoho-oauthtoken") && (!strings.EqualFold(scheme, "Bearer") || zohoOnly)) {
		return ""
	}
	return strings.TrimSpace(tok)
}

// authenticate finds the live access token of a request to the DC, or
// answers 401 as Zoho's APIs do.
func (s *Server) authenticateLocked(x *exchange) *accessToken {
	tok := bearer(x.r, s.brokenLocked(DevAPIAnyScheme), s.brokenLocked(zoho.APIHeader)) // ZA-API-HEADER
	if tok == "" {
		tok = s.tokenFromQueryLocked(x) // never, unless broken (apiscope.go)
	}
	if tok == "" {
		s.apiErrorLocked(x, zoho.CodeAuthenticationFailure, "Authentication failed") // ZA-API-401
		return nil
	}
	a := s.access[tok]
	otherDC := a != nil && a.dc != x.t.dc && !s.brokenLocked(zoho.TokenClientB) && !s.brokenLocked(zoho.APIOtherDC) // ZA-API-OTHERDC
	if a == nil || otherDC || !s.accessLive(a, s.clock.Now()) {
		s.apiErrorLocked(x, zoho.CodeInvalidToken, "invalid oauth token") // ZA-API-401
		return nil
	}
	return a
}

// api serves the token checks of a DC's API domain:
// GET /crm/v8/users?type=CurrentUser and GET /crm/v8/org.
func (s *Server) api(x *exchange) {
	m := crmPath.FindStringSubmatch(x.t.path)
	if m == nil || x.r.Method != http.MethodGet {
		x.jsonError(http.StatusNotFound, "not_found", "the fake API domain serves GET /crm/v8/users?type=CurrentUser and GET /crm/v8/org, to check access tokens")
		return
	}
	x.params = x.r.URL.Query()
	s.mu.Lock()
	defer s.mu.Unlock()
	a := s.authenticateLocked(x)
	if a == nil || !s.scopeAllowedLocked(x, a, m[1]) { // ZA-API-SCOPE (apiscope.go)
		return
	}
	u := a.user
	switch m[1] {
	case "users":
		x.reply(http.StatusOK, map[string]any{
			"users": []map[string]any{{
				"id": u.ZUID, "zuid": u.ZUID, "first_name": u.FirstName, "last_name": u.LastName,
				"full_name": u.FirstName + " " + u.LastName, "email": u.Email, "status": "active",
				"role":    map[string]string{"name": "Administrator", "id": "1"},
				"profile": map[string]string{"name": "Administrator", "id": "1"},
			}},
			"info": map[string]any{"per_page": 200, "count": 1, "page": 1, "more_records": false},
		})
	case "org":
		if body, ok := orgAnswer(a); ok { // a client-credentials token's org (clientcreds.go)
			x.reply(http.StatusOK, body)
			return
		}
		x.reply(http.StatusOK, map[string]any{"org": []map[string]any{{
			"id": "org" + u.ZUID, "company_name": "zconform fake org", "primary_email": u.Email,
			"primary_zuid": u.ZUID, "zgid": "org" + u.ZUID, "country_code": strings.ToUpper(string(u.DC)),
			"currency": "USD", "time_zone": "UTC",
		}}})
	}
}

// userInfo serves GET {AS}/oauth/user/info.
func (s *Server) userInfo(x *exchange) {
	x.params = x.r.URL.Query()
	s.mu.Lock()
	defer s.mu.Unlock()
	a := s.authenticateLocked(x)
	if a == nil {
		return
	}
	u := a.user
	x.reply(http.StatusOK, map[string]any{
		"First_Name": u.FirstName, "Last_Name": u.LastName, "Display_Name": u.FirstName + " " + u.LastName,
		"Email": u.Email, "ZUID": json.Number(u.ZUID),
	})
}

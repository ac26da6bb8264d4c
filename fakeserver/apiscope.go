package fakeserver

import (
	"net/http"
	"strings"

	"github.com/zconform/zconform/fixtures/zoho"
)

// The API side (docs/zoho-oauth-beyond.md section 6): which tokens reach
// which API, and the exact 401 bodies.

// apiError sends one of the API's 401 answers: {"code", "details",
// "message", "status"} (ZA-API-401) [seen: zoho/crm-oas v8.0]. With
// ZA-API-401 broken, details and status are left out.
func (s *Server) apiErrorLocked(x *exchange, code, message string) {
	x.errStr = code
	body := map[string]any{"code": code, "details": map[string]any{}, "message": message, "status": "error"}
	if s.brokenLocked(zoho.API401) {
		delete(body, "details")
		delete(body, "status")
	}
	x.reply(http.StatusUnauthorized, body)
}

// tokenScopesLocked lists the scopes an access token was granted: its own
// (the implicit flow, an online exchange), else its refresh token's, else
// its client-credentials grant's. ok is false for a token whose scopes the
// fake did not record; the scope check lets such a token through.
func (s *Server) tokenScopesLocked(a *accessToken) (scopes []string, ok bool) {
	switch {
	case a.scopes != nil:
		return a.scopes, true
	case a.rt != nil:
		return a.rt.scopes, true
	case a.cc != nil:
		return a.cc.scopes, true
	}
	return nil, false
}

// scopeAllowedLocked checks that an access token holds a scope the API
// takes (ZA-API-SCOPE): GET /crm/v8/users needs ZohoCRM.users.READ or
// .ALL, GET /crm/v8/org ZohoCRM.org.READ or .ALL (zoho.APIScopes). Without
// one it answers HTTP 401 OAUTH_SCOPE_MISMATCH [seen] and returns false.
func (s *Server) scopeAllowedLocked(x *exchange, a *accessToken, api string) bool {
	need := zoho.APIScopes["/"+api]
	if len(need) == 0 || s.brokenLocked(zoho.APIScope) {
		return true
	}
	granted, ok := s.tokenScopesLocked(a)
	if !ok {
		return true
	}
	for _, n := range need {
		if s.brokenLocked(DevAPIScopeAllOnly) && !strings.HasSuffix(n, ".ALL") {
			continue
		}
		if zoho.ScopeCovers(granted, n) {
			return true
		}
	}
	s.apiErrorLocked(x, zoho.CodeOAuthScopeMismatch, zoho.MsgOAuthScopeMismatch)
	return false
}

package fakeserver

import (
	"encoding/base64"
	"net/http"
	"slices"
	"strings"

	"github.com/zconform/zconform/fixtures/zoho"
)

// The newer revoke endpoint (ZA-REVOKE-V2, docs/zoho-oauth-beyond.md
// section 5): POST {AS}/oauth/v2/revoke/token?token=…&token_type=… with
// Authorization: Basic base64(client_id:client_secret); a client-based
// (JavaScript) app sends no secret. The older /oauth/v2/token/revoke
// (token.go) stays as it was.
//
// The choices the page leaves open, each [assumed]:
//   - The client authenticates with HTTP Basic only (the page marks the
//     header required): no header, a header that is not Basic, an unknown
//     client, a client not enabled in this DC or a wrong secret get HTTP
//     401 {"status":"failure","error":"invalid_client"} with a
//     WWW-Authenticate challenge (RFC 6749 section 5.2), under every
//     profile. A JavaScript client may send base64(client_id:),
//     base64(client_id) or its secret.
//   - token and token_type are both needed: one missing is HTTP 400
//     invalid_request; a token_type other than refresh_token or
//     access_token is HTTP 400 unsupported_token_type (RFC 7009).
//   - A token that is unknown, of another client, of another type than
//     token_type says, or already revoked gets HTTP 400
//     {"status":"failure","error":"invalid_token"}, as at the older
//     endpoint.
//   - The app's home DC revokes the app's tokens of every DC (the page:
//     revoke goes to the app's home DC); another DC where the app is
//     enabled (multi-DC) revokes the tokens it issued.

// Deviations of the newer revoke endpoint (breaks.go).
const (
	// DevRevokeV2SecretRequired: a client-based (JavaScript) app must
	// send a secret too.
	DevRevokeV2SecretRequired zoho.SeedID = "DEV-REVOKE-V2-SECRET-REQUIRED"
	// DevRevokeV2TypeIgnored: token_type is not read: any value, or none,
	// will do.
	DevRevokeV2TypeIgnored zoho.SeedID = "DEV-REVOKE-V2-TYPE-IGNORED"
	// DevRevokeV2KeepsAccess: revoking a refresh token leaves its access
	// tokens alive.
	DevRevokeV2KeepsAccess zoho.SeedID = "DEV-REVOKE-V2-KEEPS-ACCESS"
	// DevRevokeV2IssuingDCOnly: the app's home DC revokes only the tokens
	// it issued, not the app's tokens of its other DCs.
	DevRevokeV2IssuingDCOnly zoho.SeedID = "DEV-REVOKE-V2-ISSUING-DC-ONLY"
	// DevRevokeV2HomeOnly: only the app's home DC revokes: another DC of
	// a multi-DC app refuses even the tokens it issued.
	DevRevokeV2HomeOnly zoho.SeedID = "DEV-REVOKE-V2-HOME-ONLY"
)

// revokeV2 serves POST {AS}/oauth/v2/revoke/token.
func (s *Server) revokeV2(x *exchange) {
	if !x.paramsOf("POST for /oauth/v2/revoke/token", http.MethodPost) {
		return
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	fail := func(status int, code string) {
		x.errStr = code
		x.reply(status, map[string]string{"status": "failure", "error": code})
	}
	broken := s.brokenLocked(zoho.RevokeV2) // any client, or none, will do
	c := s.revokeClientLocked(x)
	if c == nil && !broken {
		x.w.Header().Set("WWW-Authenticate", `Basic realm="Zoho Accounts"`)
		fail(http.StatusUnauthorized, zoho.ErrInvalidClient)
		return
	}
	value, tokenType := x.param("token"), x.param("token_type")
	anyType := s.brokenLocked(DevRevokeV2TypeIgnored)
	switch {
	case value == "" || tokenType == "" && !anyType:
		fail(http.StatusBadRequest, zoho.ErrInvalidRequest)
		return
	case tokenType != "refresh_token" && tokenType != "access_token" && !anyType:
		fail(http.StatusBadRequest, zoho.ErrUnsupportedTokenType)
		return
	case anyType: // the deviation: whatever the token is
		tokenType = "access_token"
		if s.refresh[value] != nil {
			tokenType = "refresh_token"
		}
	}
	// mine says whether the client may revoke a token of owner issued in dc
	mine := func(owner *client, dc zoho.DC) bool {
		switch {
		case broken:
			return true
		case owner != c:
			return false
		case c.home == x.t.dc: // revoke goes to the app's home DC: every DC's tokens
			return s.homeRevokesLocked(dc, x.t.dc)
		default: // [assumed] another DC of a multi-DC app: the tokens it issued
			return dc == x.t.dc && !s.brokenLocked(DevRevokeV2HomeOnly)
		}
	}
	switch tokenType {
	case "refresh_token":
		if rt := s.refresh[value]; rt != nil && !rt.revoked && mine(rt.client, rt.dc) {
			s.revokeRefreshV2Locked(rt)
			x.reply(http.StatusOK, map[string]string{"status": "success"})
			return
		}
	case "access_token":
		if a := s.access[value]; a != nil && mine(a.client, a.dc) {
			s.revokeAccessLocked(a)
			x.reply(http.StatusOK, map[string]string{"status": "success"})
			return
		}
	}
	if s.brokenLocked(DevRevokeUnknownSuccess) {
		x.reply(http.StatusOK, map[string]string{"status": "success"})
		return
	}
	fail(http.StatusBadRequest, zoho.ErrInvalidToken)
}

// revokeClientLocked authenticates the client of a revoke by HTTP Basic in
// the request's DC; nil when it cannot.
func (s *Server) revokeClientLocked(x *exchange) *client {
	id, secret, ok := basicCredentials(x.r.Header.Get("Authorization"))
	if !ok {
		return nil
	}
	c := s.clients[id]
	if c == nil || !c.enabledIn(x.t.dc) {
		return nil
	}
	switch want := c.Secrets[x.t.dc]; {
	case secret == want:
		return c
	case secret == "" && c.Type == JavaScript && !s.brokenLocked(DevRevokeV2SecretRequired): // a client-based app has no secret to send
		return c
	}
	return nil
}

// basicCredentials reads "Basic base64(id:secret)" (the scheme in any
// letter case); base64(id) without a colon is an ID without a secret.
func basicCredentials(h string) (id, secret string, ok bool) {
	scheme, enc, found := strings.Cut(strings.TrimSpace(h), " ")
	if !found || !strings.EqualFold(scheme, "Basic") {
		return "", "", false
	}
	// padded (RFC 7617) or not, as clients send it
	raw, err := base64.RawStdEncoding.DecodeString(strings.TrimRight(strings.TrimSpace(enc), "="))
	if err != nil {
		return "", "", false
	}
	id, secret, _ = strings.Cut(string(raw), ":")
	return id, secret, id != ""
}

// revokeRefreshV2Locked revokes a refresh token and its access tokens;
// with DEV-REVOKE-V2-KEEPS-ACCESS on, its access tokens live on.
func (s *Server) revokeRefreshV2Locked(rt *refreshToken) {
	kept := slices.Clone(rt.access)
	s.revokeRefreshLocked(rt)
	if s.brokenLocked(DevRevokeV2KeepsAccess) {
		for _, a := range kept {
			s.access[a.value] = a
		}
	}
}

package fakeserver

import (
	"fmt"
	"net/url"
	"slices"
	"strings"
	"time"

	"github.com/zconform/zconform/fixtures/zoho"
)

// Deviations are breaks of rules that have no seed ID of their own, or of a
// narrower part of a seed's rule: each is a plausible bug of a
// Zoho-compatible server that a near-miss or edge case of the catalogue must
// catch. Their IDs start with DEV-; Break takes them like seed IDs.
const (
	DevTokenErrorHTTP400        zoho.SeedID = "DEV-TOKEN-ERROR-HTTP-400"
	DevRedirectNearMiss         zoho.SeedID = "DEV-REDIRECT-NEAR-MISS"
	DevUnknownCodeInvalidClient zoho.SeedID = "DEV-UNKNOWN-CODE-INVALID-CLIENT"
	DevCodeAnyClient            zoho.SeedID = "DEV-CODE-ANY-CLIENT"
	DevAPIAnyScheme             zoho.SeedID = "DEV-API-ANY-SCHEME"
	DevRevokeUnknownSuccess     zoho.SeedID = "DEV-REVOKE-UNKNOWN-SUCCESS"
	DevCapEvictsOnce            zoho.SeedID = "DEV-CAP-EVICTS-ONCE"
	DevCapCountsRevoked         zoho.SeedID = "DEV-CAP-COUNTS-REVOKED"
	DevExpiryInclusive          zoho.SeedID = "DEV-EXPIRY-INCLUSIVE"
	DevJSDomainHTTPSOnly        zoho.SeedID = "DEV-JS-DOMAIN-HTTPS-ONLY"
	DevImplicitAsCode           zoho.SeedID = "DEV-IMPLICIT-AS-CODE"
	DevRefreshIssuesRefresh     zoho.SeedID = "DEV-REFRESH-ISSUES-REFRESH-TOKEN"
	DevPromptConsentIgnored     zoho.SeedID = "DEV-PROMPT-CONSENT-IGNORED"
	DevDenialDropsState         zoho.SeedID = "DEV-DENIAL-DROPS-STATE"
	DevRevokeAccessKillsRefresh zoho.SeedID = "DEV-REVOKE-ACCESS-KILLS-REFRESH"
)

// Deviations of docs/zoho-oauth-beyond.md sections 4 and 6 (jsapps.go,
// apiscope.go).
const (
	DevJSRefreshNewScopes zoho.SeedID = "DEV-JS-REFRESH-NEW-SCOPES"
	DevAPITokenInQuery    zoho.SeedID = "DEV-API-TOKEN-IN-QUERY"
	DevAPIScopeAllOnly    zoho.SeedID = "DEV-API-SCOPE-ALL-ONLY"
)

// Deviations lists the DEV- breaks, sorted.
func Deviations() []zoho.SeedID {
	var out []zoho.SeedID
	for id := range breakEffects {
		if strings.HasPrefix(string(id), "DEV-") {
			out = append(out, id)
		}
	}
	slices.Sort(out)
	return out
}

// What each break does: it violates exactly the rule of its seed ID (or,
// for a DEV- deviation, the part of a rule it names). The suites switch one
// on to show that the case for that rule fails.
var breakEffects = map[zoho.SeedID]string{
	// docs/zoho-oauth-beyond.md sections 4, 5 (refresh-token issuance) and 6
	// (jsapps.go, apiscope.go, authorize.go, api.go)
	zoho.JSToken:          "the implicit flow's fragment carries a refresh_token too, and no id_token for the email scope",
	zoho.JSRefresh:        "/oauth/v2/auth/refresh re-issues a token without a session grant, also after the session ended",
	zoho.RTOnline:         "access_type=online (the default) issues a refresh token too",
	zoho.RTFirst:          "every offline consent issues a refresh token, not only the first (or one with prompt=consent)",
	zoho.APIHeader:        "the API takes only Zoho-oauthtoken, not Bearer",
	zoho.API401:           "the API's 401 answers lack their details and status members",
	zoho.APIScope:         "scopes are not enforced: any live access token reaches every API",
	zoho.APIOtherDC:       "an access token works at every DC's API",
	DevJSRefreshNewScopes: "/oauth/v2/auth/refresh grants scopes the user never granted instead of answering prompt_required",
	DevAPITokenInQuery:    "the API takes an access token from the query string (access_token= or authtoken=) when no Authorization header comes",
	DevAPIScopeAllOnly:    "the API's scope check takes only a scope's ALL operation: ZohoCRM.users.READ is refused at GET /crm/v8/users",

	DevTokenErrorHTTP400:        "token-endpoint errors are sent with HTTP 400 instead of 200",
	DevRedirectNearMiss:         "redirect URIs are compared loosely at both endpoints: surrounding whitespace, a trailing slash, letter case and an extra query are ignored",
	DevUnknownCodeInvalidClient: "an unknown grant token is answered invalid_client instead of invalid_code",
	DevCodeAnyClient:            "a grant token can be exchanged by any client with its own credentials",
	DevAPIAnyScheme:             "the API takes an access token under any Authorization scheme, or none",
	DevRevokeUnknownSuccess:     "revoking an unknown token answers success",
	DevCapEvictsOnce:            "a cap evicts the oldest token only the first time it overflows; later the newest goes",
	DevCapCountsRevoked:         "revoked refresh tokens and access tokens still count against their caps",
	DevExpiryInclusive:          "a grant token or access token is still accepted at the exact instant it expires",
	DevJSDomainHTTPSOnly:        "JavaScript domains must start with https (http ones are refused)",
	DevImplicitAsCode:           "the implicit flow (response_type=token) redirects with a code instead of a token",
	DevRefreshIssuesRefresh:     "a refresh answer carries the refresh token again",
	DevPromptConsentIgnored:     "prompt=consent is ignored: a later offline consent never issues a refresh token",
	DevDenialDropsState:         "a denied consent's redirect drops the client's state",
	DevRevokeAccessKillsRefresh: "revoking an access token revokes its refresh token too",

	zoho.RegName:            "client names with special characters are accepted",
	zoho.RegJSDomain:        "JavaScript domains are not checked",
	zoho.RegRedirect:        "redirect URIs are not checked",
	zoho.RegHomepage:        "homepage URLs are not checked",
	zoho.RegMandatoryJS:     "JavaScript clients register without JS domains",
	zoho.RegMandatoryWeb:    "web-based clients register without redirect URIs",
	zoho.RegMandatoryMobile: "mobile clients register without redirect URIs",
	zoho.RegMandatorySelf:   "self clients need a name",
	zoho.RegMandatoryDevice: "device clients need redirect URIs",
	zoho.AuthResponseTypeA:  "any response_type is taken as code",
	zoho.AuthResponseTypeB:  "a missing mandatory key shows ERROR_invalid_request",
	zoho.AuthClient:         "a wrong or empty client ID shows ERROR_invalid_request",
	zoho.AuthRedirect:       "any redirect_uri is accepted and redirected to",
	zoho.AuthScope:          "unknown scopes are accepted",
	zoho.SelfScope:          "self-client codes are issued for unknown scopes",
	zoho.TokenClientA:       "any client secret is accepted, and a wrong client ID stands for the code's own client",
	zoho.TokenClientB:       "every DC accepts every client and every DC's grants and tokens",
	zoho.TokenClientC:       "with multi-DC, any DC's secret is accepted in every DC",
	zoho.TokenCodeA:         "expired grant tokens are accepted",
	zoho.TokenCodeB:         "grant tokens can be used again",
	zoho.TokenCodeC:         "revoked refresh tokens are accepted",
	zoho.TokenRedirect:      "the token call's redirect_uri is not checked",
	zoho.Note1:              "redirect-flow grant tokens live 30 s instead of 60 s (the profile's lifetime halved)",
	zoho.Note2:              "self-client grant tokens live the redirect-flow lifetime, not the selected one",
	zoho.Note3:              "a failed exchange leaves the grant token usable",
	zoho.Note4:              "there is no grant-token rate limit",
	zoho.Note5:              "access tokens never expire (expires_in still says 3600)",
	zoho.Note6:              "refresh tokens expire after 90 days",
	zoho.Note7:              "no caps: refresh tokens per user and access tokens per refresh token are unbounded",
	zoho.Note8:              "past a cap, the newest token is deleted instead of the oldest",

	// the device flow (device.go)
	zoho.DevInit:                "the device-code answer gives interval and expires_in in seconds (RFC 8628), not milliseconds",
	zoho.DevPoll:                "the poll reads the device code from device_code (RFC 8628), not from code",
	zoho.DevPending:             "a poll before the user acts is answered invalid_code, as if the device code were unknown",
	zoho.DevSlowDown:            "polling is never slowed down",
	zoho.DevDenied:              "a denied device authorization keeps answering authorization_pending",
	zoho.DevExpired:             "device codes never expire",
	zoho.DevOtherDC:             "the app's DC hands out the tokens of a user of another DC itself instead of answering other_dc",
	zoho.DevTokens:              "an online device authorization (the default) gets a refresh token too",
	zoho.DevUnits:               "verification_uri_complete is sent when the profile's switch is off, and left out when it is on",
	DevDeviceVerificationURI:    "the device-code answer names verification_uri (RFC 8628) instead of verification_url",
	DevDeviceSlowDownForgives:   "a poll refused with slow_down does not count: the polling window runs from the last poll answered otherwise",
	DevDeviceOfflineIgnored:     "the device flow ignores access_type=offline: no refresh token",
	DevDeviceCodeReused:         "a device code that gave its tokens gives tokens again",
	DevDeviceUnknownCodePending: "a device code nobody issued is answered authorization_pending instead of invalid_code",

	// docs/zoho-oauth-beyond.md sections 2, 3 and 5 (clientcreds.go, pkce.go,
	// revokev2.go, serverinfo.go)
	zoho.CCToken:              "a client-credentials answer carries a refresh token",
	zoho.CCSoid:               "client credentials without soid get a token (for no org) instead of missing_org_info",
	zoho.CCAuth:               "client credentials at /oauth/v2/auth are taken as an authorization request (an error page)",
	zoho.CCClient:             "any client type may use client credentials, not only a Self Client",
	zoho.PKCEAuth:             "a mobile client that must use PKCE gets a code without code_challenge, and an S256 challenge is taken as plain",
	zoho.PKCEToken:            "the code_verifier is not checked: a missing or wrong one is accepted",
	zoho.RevokeV2:             "POST /oauth/v2/revoke/token checks no client: no, a wrong or another client's Basic credentials will do",
	zoho.ServerInfo:           "GET /oauth/serverinfo leaves out the newer DCs (ca, sa, uk)",
	DevCCAnyOrg:               "client credentials take a soid that names no org (a token for no org)",
	DevPKCEDefaultS256:        "a code_challenge without code_challenge_method is taken as S256, not plain",
	DevPKCEOptionalRequired:   "mobile apps registered before PKCE was required are refused without a code_challenge too",
	DevRevokeV2SecretRequired: "POST /oauth/v2/revoke/token wants a secret from a client-based (JavaScript) app too",
	DevRevokeV2TypeIgnored:    "POST /oauth/v2/revoke/token ignores token_type: any value, or none, will do",
	DevRevokeV2KeepsAccess:    "revoking a refresh token at /oauth/v2/revoke/token leaves its access tokens alive",
	DevRevokeV2IssuingDCOnly:  "the app's home DC revokes only the tokens it issued, not those of the app's other DCs",
	DevRevokeV2HomeOnly:       "another DC of a multi-DC app refuses to revoke even the tokens it issued: only the home DC revokes",
}

func deviationNames() []string {
	var out []string
	for _, id := range Deviations() {
		out = append(out, string(id))
	}
	return out
}

// Where a break needs more than a switch, its code is here, apart from the
// rule code: with no break on, each of these leaves the rule as it is.

// evictionIndexLocked picks the token a cap evicts among n (oldest first)
// and counts the cap's evictions in count: the oldest, 0 (K4-NOTE-8),
// unless K4-NOTE-8 is broken (the newest goes) or DEV-CAP-EVICTS-ONCE is
// (the newest goes from the second eviction on).
func (s *Server) evictionIndexLocked(n int, count *int) int {
	*count++
	if s.brokenLocked(zoho.Note8) || (*count > 1 && s.brokenLocked(DevCapEvictsOnce)) {
		return n - 1
	}
	return 0
}

// refreshExpiredByBreakLocked: with K4-NOTE-6 broken, refresh tokens expire
// after 90 days.
func (s *Server) refreshExpiredByBreakLocked(rt *refreshToken, now time.Time) bool {
	return s.brokenLocked(zoho.Note6) && now.Sub(rt.issued) >= 90*24*time.Hour
}

// standInLocked: with K4-TOKEN-CLIENT-a broken, the code's or token's own
// client (owner) stands in for a wrong client ID.
func (s *Server) standInLocked(owner *client) *client {
	if s.brokenLocked(zoho.TokenClientA) {
		return owner
	}
	return nil
}

// revokeAccessByBreakLocked: with DEV-REVOKE-ACCESS-KILLS-REFRESH, revoking
// an access token revokes its refresh token too.
func (s *Server) revokeAccessByBreakLocked(a *accessToken) {
	if s.brokenLocked(DevRevokeAccessKillsRefresh) && a.rt != nil {
		s.revokeRefreshLocked(a.rt)
	}
}

// looselyRegistered is how DEV-REDIRECT-NEAR-MISS compares redirect URIs:
// trimmed, without the query and a trailing slash, in lower case.
func looselyRegistered(c *client, uri string) bool {
	return slices.ContainsFunc(c.RedirectURIs, func(r string) bool { return looseRedirect(r) == looseRedirect(uri) })
}

func looseRedirect(u string) string {
	u = strings.TrimSpace(u)
	if p, err := url.Parse(u); err == nil {
		p.RawQuery = ""
		u = p.String()
	}
	return strings.ToLower(strings.TrimSuffix(u, "/"))
}

// BreakEffect says what the break of a seed ID does.
func BreakEffect(id zoho.SeedID) (string, bool) {
	e, ok := breakEffects[id]
	return e, ok
}

// Break switches on the breaks of the given seed IDs: the fake then violates
// exactly those rules. An unknown ID is an error and changes nothing.
func (s *Server) Break(ids ...zoho.SeedID) error {
	for _, id := range ids {
		if _, ok := breakEffects[id]; !ok {
			return fmt.Errorf("no break for %q: breaks exist for the seed IDs of docs/zoho-oauth.md (K4-...) and the deviations %s", id, strings.Join(deviationNames(), ", "))
		}
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	for _, id := range ids {
		s.breaks[id] = true
	}
	return nil
}

// Unbreak switches breaks off again; with no IDs, all of them.
func (s *Server) Unbreak(ids ...zoho.SeedID) {
	s.mu.Lock()
	defer s.mu.Unlock()
	if len(ids) == 0 {
		clear(s.breaks)
	}
	for _, id := range ids {
		delete(s.breaks, id)
	}
}

// Breaks lists the breaks that are on, sorted.
func (s *Server) Breaks() []zoho.SeedID {
	s.mu.Lock()
	defer s.mu.Unlock()
	out := make([]zoho.SeedID, 0, len(s.breaks))
	for id := range s.breaks {
		out = append(out, id)
	}
	slices.Sort(out)
	return out
}

// tokenFromQueryLocked is where a broken fake (DEV-API-TOKEN-IN-QUERY) finds an
// access token when no Authorization header came: the query's
// access_token or authtoken. Zoho never reads one there (ZA-API-HEADER).
func (s *Server) tokenFromQueryLocked(x *exchange) string {
	if !s.brokenLocked(DevAPITokenInQuery) || x.r.Header.Get("Authorization") != "" {
		return ""
	}
	q := x.r.URL.Query()
	if t := q.Get("access_token"); t != "" {
		return t
	}
	return q.Get("authtoken")
}

// homeRevokesLocked says whether the app's home DC (here) revokes the
// app's token issued in dc: always, unless DEV-REVOKE-V2-ISSUING-DC-ONLY
// is on (then only the tokens here issued).
func (s *Server) homeRevokesLocked(dc, here zoho.DC) bool {
	return !s.brokenLocked(DevRevokeV2IssuingDCOnly) || dc == here
}

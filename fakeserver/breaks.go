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
	DevRefreshTokenEveryConsent zoho.SeedID = "DEV-REFRESH-TOKEN-EVERY-CONSENT"
	DevCapEvictsOnce            zoho.SeedID = "DEV-CAP-EVICTS-ONCE"
	DevCapCountsRevoked         zoho.SeedID = "DEV-CAP-COUNTS-REVOKED"
	DevExpiryInclusive          zoho.SeedID = "DEV-EXPIRY-INCLUSIVE"
	DevJSDomainHTTPSOnly        zoho.SeedID = "DEV-JS-DOMAIN-HTTPS-ONLY"
	DevImplicitAsCode           zoho.SeedID = "DEV-IMPLICIT-AS-CODE"
	DevRefreshIssuesRefresh     zoho.SeedID = "DEV-REFRESH-ISSUES-REFRESH-TOKEN"
	DevPromptConsentIgnored     zoho.SeedID = "DEV-PROMPT-CONSENT-IGNORED"
	DevOnlineRefreshToken       zoho.SeedID = "DEV-ONLINE-REFRESH-TOKEN"
	DevAPIBearerRefused         zoho.SeedID = "DEV-API-BEARER-REFUSED"
	DevDenialDropsState         zoho.SeedID = "DEV-DENIAL-DROPS-STATE"
	DevRevokeAccessKillsRefresh zoho.SeedID = "DEV-REVOKE-ACCESS-KILLS-REFRESH"
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
	DevTokenErrorHTTP400:        "token-endpoint errors are sent with HTTP 400 instead of 200",
	DevRedirectNearMiss:         "redirect URIs are compared loosely at both endpoints: surrounding whitespace, a trailing slash, letter case and an extra query are ignored",
	DevUnknownCodeInvalidClient: "an unknown grant token is answered invalid_client instead of invalid_code",
	DevCodeAnyClient:            "a grant token can be exchanged by any client with its own credentials",
	DevAPIAnyScheme:             "the API takes an access token under any Authorization scheme, or none",
	DevRevokeUnknownSuccess:     "revoking an unknown token answers success",
	DevRefreshTokenEveryConsent: "every offline consent issues a refresh token, not only the first (or one with prompt=consent)",
	DevCapEvictsOnce:            "a cap evicts the oldest token only the first time it overflows; later the newest goes",
	DevCapCountsRevoked:         "revoked refresh tokens and access tokens still count against their caps",
	DevExpiryInclusive:          "a grant token or access token is still accepted at the exact instant it expires",
	DevJSDomainHTTPSOnly:        "JavaScript domains must start with https (http ones are refused)",
	DevImplicitAsCode:           "the implicit flow (response_type=token) redirects with a code instead of a token",
	DevRefreshIssuesRefresh:     "a refresh answer carries the refresh token again",
	DevPromptConsentIgnored:     "prompt=consent is ignored: a later offline consent never issues a refresh token",
	DevOnlineRefreshToken:       "access_type=online (the default) issues a refresh token too",
	DevAPIBearerRefused:         "the API takes only Zoho-oauthtoken, not Bearer",
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

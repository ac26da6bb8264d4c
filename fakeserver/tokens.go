package fakeserver

import (
	"slices"
	"time"

	"github.com/zconform/zconform/fixtures/zoho"
)

// grant is a grant token (authorization code).
type grant struct {
	code        string
	client      *client
	user        *user
	dc          zoho.DC
	scopes      []string
	redirectURI string // empty for self-client codes
	selfClient  bool
	offline     bool // the exchange issues a refresh token
	expires     time.Time
	used        bool // exchanged or burnt by a failed exchange
	// pkce is the code_challenge the authorization took (ZA-PKCE-AUTH);
	// nil without one (pkce.go)
	pkce *pkceChallenge
}

type refreshToken struct {
	value   string
	client  *client
	user    *user
	dc      zoho.DC
	scopes  []string
	issued  time.Time
	revoked bool
	// access are the refresh token's access tokens, oldest first; expired
	// ones are pruned when the next is minted (with no cap, a few at a
	// time: sweep.go).
	access []*accessToken
	// mints are the times of recent refreshes (the accounts-2025 throttle).
	mints []time.Time
	// evictions counts the access tokens the cap deleted (for a deviation).
	evictions int
}

type accessToken struct {
	value   string
	rt      *refreshToken // nil for online and implicit tokens
	user    *user
	client  *client
	dc      zoho.DC
	expires time.Time
	// cc is what a client-credentials token was issued for (its org and
	// scopes); nil for every other token (clientcreds.go)
	cc *ccGrant
	// scopes are the scopes the token was granted, for the API's scope
	// check (ZA-API-SCOPE, apiscope.go); nil: those of rt (or cc)
	scopes []string
}

// grantAllowedLocked applies the grant-token rate limit (K4-NOTE-4): it
// reports whether the client may have one more grant token now.
func (s *Server) grantAllowedLocked(c *client, now time.Time) bool {
	r := s.limits.GrantRate
	if r.Limit == 0 || s.brokenLocked(zoho.Note4) { // 0: no limit (limits are never negative)
		return true
	}
	if s.grantBlockedLocked(c, now) { // section 7's block after the limit (settings.go)
		return false
	}
	c.grantTimes = pruneTimes(c.grantTimes, now.Add(-r.Window))
	if len(c.grantTimes) >= r.Limit {
		s.blockGrantsLocked(c, now)
		return false
	}
	return true
}

// pruneTimes drops the times before since (times are ascending).
func pruneTimes(ts []time.Time, since time.Time) []time.Time {
	i := 0
	for i < len(ts) && !ts[i].After(since) {
		i++
	}
	return append(ts[:0], ts[i:]...)
}

func (s *Server) newGrantLocked(c *client, u *user, dc zoho.DC, scopes []string, redirectURI string, self, offline bool, now time.Time, lifetime time.Duration) *grant {
	g := &grant{
		code: s.newSecret(zoho.NewToken()), client: c, user: u, dc: dc, scopes: scopes, redirectURI: redirectURI,
		selfClient: self, offline: offline, expires: now.Add(lifetime),
	}
	s.grants[g.code] = g
	c.grantTimes = append(c.grantTimes, now)
	s.grantIssuedLocked(g, now) // housekeeping (sweep.go)
	return g
}

// accessLive says whether an access token is still accepted.
func (s *Server) accessLive(a *accessToken, now time.Time) bool {
	return !s.expiredLocked(a.expires, now) || s.brokenLocked(zoho.Note5)
}

// mintRefreshLocked issues a refresh token, evicting the user's oldest one
// (with its access tokens) past the cap (K4-NOTE-7, K4-NOTE-8).
func (s *Server) mintRefreshLocked(g *grant, now time.Time) *refreshToken {
	rt := &refreshToken{value: s.newSecret(zoho.NewToken()), client: g.client, user: g.user, dc: g.dc, scopes: g.scopes, issued: now}
	if cap := s.limits.RefreshTokensPerUser; cap != 0 && !s.brokenLocked(zoho.Note7) { // 0: no cap
		var mine []*refreshToken
		for _, t := range s.userRTs[g.user] {
			if !s.limits.RefreshTokensPerClient || t.client == g.client {
				mine = append(mine, t)
			}
		}
		for len(mine) >= cap {
			i := s.evictionIndexLocked(len(mine), &g.user.evictions) // the oldest
			s.evictRefreshLocked(mine[i])
			mine = slices.Delete(mine, i, i+1)
		}
	}
	s.refresh[rt.value] = rt
	s.userRTs[g.user] = append(s.userRTs[g.user], rt)
	return rt
}

// evictRefreshLocked deletes a refresh token and its access tokens.
func (s *Server) evictRefreshLocked(rt *refreshToken) {
	for _, a := range rt.access {
		delete(s.access, a.value)
	}
	rt.access = nil
	delete(s.refresh, rt.value)
	s.userRTs[rt.user] = slices.DeleteFunc(s.userRTs[rt.user], func(t *refreshToken) bool { return t == rt })
	if len(s.userRTs[rt.user]) == 0 {
		delete(s.userRTs, rt.user)
	}
}

// revokeRefreshLocked revokes a refresh token and its access tokens. The
// record is forgotten unless a break keeps accepting it (sweep.go).
func (s *Server) revokeRefreshLocked(rt *refreshToken) {
	for _, a := range rt.access {
		delete(s.access, a.value)
	}
	rt.access = nil
	rt.revoked = true
	s.forgetRevokedLocked(rt) // housekeeping (sweep.go)
	if s.brokenLocked(DevCapCountsRevoked) {
		return // the revoked token keeps its place under the cap
	}
	s.userRTs[rt.user] = slices.DeleteFunc(s.userRTs[rt.user], func(t *refreshToken) bool { return t == rt })
	if len(s.userRTs[rt.user]) == 0 {
		delete(s.userRTs, rt.user)
	}
}

// mintAccessLocked issues an access token, under rt when rt is not nil,
// evicting rt's oldest active access token past the cap (K4-NOTE-7, K4-NOTE-8).
func (s *Server) mintAccessLocked(rt *refreshToken, c *client, u *user, dc zoho.DC, now time.Time) *accessToken {
	lifetime := s.limits.AccessTokenLifetime
	a := &accessToken{value: s.newSecret(zoho.NewToken()), rt: rt, user: u, client: c, dc: dc, expires: now.Add(lifetime)}
	if rt != nil {
		if cap := s.limits.AccessTokensPerRefreshToken; cap != 0 && !s.brokenLocked(zoho.Note7) { // 0: no cap
			// prune expired ones: only active tokens count against the cap
			rt.access = slices.DeleteFunc(rt.access, func(old *accessToken) bool {
				if !s.accessLive(old, now) {
					delete(s.access, old.value)
					return true
				}
				return false
			})
			for len(rt.access) >= cap {
				i := s.evictionIndexLocked(len(rt.access), &rt.evictions) // the oldest
				delete(s.access, rt.access[i].value)
				rt.access = slices.Delete(rt.access, i, i+1)
			}
		}
		rt.access = append(rt.access, a)
	}
	s.access[a.value] = a
	s.accessIssuedLocked(a, now) // housekeeping (sweep.go): without a cap, expired ones are forgotten there
	return a
}

// refreshLive says whether a refresh token is accepted at now.
func (s *Server) refreshLive(rt *refreshToken, now time.Time) bool {
	if rt.revoked && !s.brokenLocked(zoho.TokenCodeC) {
		return false
	}
	return !s.refreshExpiredByBreakLocked(rt, now) // K4-NOTE-6: a refresh token never expires
}

package fakeserver

import (
	"time"

	"github.com/zconform/zconform/fixtures/zoho"
)

// Housekeeping: the fake forgets what can no longer be used, so that memory
// stays bounded on long runs. None of it shows on the wire: a forgotten
// code is answered invalid_code, as a used or expired one is; a forgotten
// access token INVALID_TOKEN, as an expired one is; a forgotten refresh
// token invalid_code, as a revoked one is. The fake's own tests (memory and
// load) prove it.
//
// No request pays for what the fake holds: the sweeps are rotations (queues
// in index.go) from which each grant or token issued takes at most
// sweepStep items, keeping those still in use (pushed back) and forgetting
// the rest. As every issue examines sweepStep items and adds one, a
// rotation passes every item at least once per (n / (sweepStep-1)) issues:
// what can be forgotten is, and a queue holds at most about
// sweepStep/(sweepStep-1) times what is still in use, or sweepFloor items.

// sweepStep is how many items a grant or token issued makes the sweep
// examine.
const sweepStep = 4

// sweepFloor is how many grants (or tokens without a refresh token) the
// fake holds before it starts forgetting: a small fake keeps everything.
const sweepFloor = 1024

// grantTimesKept is how many grant times a client keeps when the
// grant-token rate limit does not need them (no limit, or a limit below
// this): enough for a limit set later to see recent grants.
const grantTimesKept = 64

// grantIssuedLocked sweeps a few grants as one is issued: it forgets used
// grants, and unused ones that expired an hour ago, unless a break keeps
// such grants usable. It also bounds the client's grant times.
func (s *Server) grantIssuedLocked(g *grant, now time.Time) {
	s.trimGrantTimesLocked(g.client, now)
	s.grantQ.push(g)
	keepUsed := s.brokenLocked(zoho.TokenCodeB)
	keepExpired := s.brokenLocked(zoho.TokenCodeA) || s.brokenLocked(zoho.Note1) || s.brokenLocked(zoho.Note2)
	for range min(sweepStep, s.grantQ.len()-sweepFloor) {
		old, _ := s.grantQ.pop()
		s.swept++
		if (old.used && !keepUsed) || (!keepExpired && now.Sub(old.expires) > time.Hour) {
			delete(s.grants, old.code)
			continue
		}
		s.grantQ.push(old)
	}
}

// trimGrantTimesLocked bounds a client's grant times (the rate limit's
// record, K4-NOTE-4): those out of the window no longer count, and only the
// newest Limit can decide an answer (the limit refuses a grant once Limit
// of them are in the window). With no limit, the newest grantTimesKept
// stay, so that a limit set later sees the recent ones.
func (s *Server) trimGrantTimesLocked(c *client, now time.Time) {
	r := s.limits.GrantRate
	if r.Window > 0 && len(c.grantTimes) > 0 && !c.grantTimes[0].After(now.Add(-r.Window)) {
		c.grantTimes = pruneTimes(c.grantTimes, now.Add(-r.Window))
	}
	if keep := max(r.Limit, grantTimesKept); len(c.grantTimes) > keep {
		n := copy(c.grantTimes, c.grantTimes[len(c.grantTimes)-keep:])
		c.grantTimes = c.grantTimes[:n]
	}
}

// accessIssuedLocked is the housekeeping of an access token just issued.
func (s *Server) accessIssuedLocked(a *accessToken, now time.Time) {
	if a.rt != nil {
		s.pruneUncappedLocked(a.rt, now)
		return
	}
	s.standaloneIssuedLocked(a, now)
}

// pruneUncappedLocked forgets the expired access tokens of a refresh token
// that no cap bounds (no cap set, or K4-NOTE-7 broken). Under a cap the
// rule code prunes them all as it counts the active ones (tokens.go); with
// none, it keeps them all, and they are forgotten here, the oldest first,
// at most sweepStep for each token issued.
func (s *Server) pruneUncappedLocked(rt *refreshToken, now time.Time) {
	if s.limits.AccessTokensPerRefreshToken != 0 && !s.brokenLocked(zoho.Note7) {
		return
	}
	i := 0
	for i < sweepStep && i < len(rt.access) && !s.accessLive(rt.access[i], now) {
		s.swept++
		delete(s.access, rt.access[i].value)
		i++
	}
	if i < sweepStep && i < len(rt.access) {
		s.swept++ // the live one that stopped it
	}
	clear(rt.access[:i]) // the array keeps its front until append moves it
	rt.access = rt.access[i:]
}

// standaloneIssuedLocked indexes an access token without a refresh token
// (online or implicit) and sweeps a few: revoked ones leave the index, and
// expired ones are forgotten, as they no longer work.
func (s *Server) standaloneIssuedLocked(a *accessToken, now time.Time) {
	s.indexStandaloneLocked(a)
	s.standaloneQ.push(a)
	for range min(sweepStep, s.standaloneQ.len()-sweepFloor) {
		old, _ := s.standaloneQ.pop()
		s.swept++
		switch {
		case s.access[old.value] != old: // revoked
			s.unindexStandaloneLocked(old)
		case !s.accessLive(old, now):
			delete(s.access, old.value)
			s.unindexStandaloneLocked(old)
		default:
			s.standaloneQ.push(old)
		}
	}
}

// forgetRevokedLocked forgets a revoked refresh token: it is answered
// invalid_code, as a revoked one is. With K4-TOKEN-CODE-c broken a revoked
// token stays accepted, so the fake keeps it.
func (s *Server) forgetRevokedLocked(rt *refreshToken) {
	if !s.brokenLocked(zoho.TokenCodeC) {
		delete(s.refresh, rt.value)
	}
}

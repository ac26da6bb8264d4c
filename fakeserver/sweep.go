package fakeserver

import (
	"time"

	"github.com/zconform/zconform/fixtures/zoho"
)

// Housekeeping: the fake forgets what can no longer be used, so that memory
// stays bounded on long runs. None of it shows on the wire: a forgotten
// code is answered invalid_code, as a used or expired one is; a forgotten
// access token INVALID_TOKEN, as an expired one is. The fake's own tests
// (memory and load) prove it.

// sweepEvery is how many grants or standalone tokens are issued between
// sweeps of expired ones.
const sweepEvery = 1024

// grantIssuedLocked counts a grant and sweeps the grants every sweepEvery.
func (s *Server) grantIssuedLocked(now time.Time) {
	s.grantsIssued++
	if s.grantsIssued%sweepEvery == 0 {
		s.sweepGrantsLocked(now)
	}
}

// standaloneIssuedLocked counts an access token without a refresh token
// (online or implicit) and sweeps the expired ones every sweepEvery.
func (s *Server) standaloneIssuedLocked(now time.Time) {
	s.standaloneIssued++
	if s.standaloneIssued%sweepEvery == 0 {
		for v, old := range s.access {
			if old.rt == nil && !s.accessLive(old, now) {
				delete(s.access, v)
			}
		}
	}
}

// sweepGrantsLocked forgets used grants, and unused ones that expired an
// hour ago, unless a break keeps such grants usable. A forgotten code is
// answered invalid_code, as a used or expired one is.
func (s *Server) sweepGrantsLocked(now time.Time) {
	keepUsed := s.brokenLocked(zoho.TokenCodeB)
	keepExpired := s.brokenLocked(zoho.TokenCodeA) || s.brokenLocked(zoho.Note1) || s.brokenLocked(zoho.Note2)
	for code, g := range s.grants {
		if (g.used && !keepUsed) || (!keepExpired && now.Sub(g.expires) > time.Hour) {
			delete(s.grants, code)
		}
	}
}

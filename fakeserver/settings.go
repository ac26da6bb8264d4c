package fakeserver

import (
	"net/http"
	"strings"
	"time"

	"github.com/zconform/zconform/fixtures/zoho"
)

// The settings of docs/zoho-oauth-beyond.md section 7, where Zoho's own
// pages disagree: each is a limit (zoho.Limits) a profile fixes and a user
// may set (limits: in a seed file, -fake-limits, PUT /limits). With every
// setting at its zero value the fake answers as docs/zoho-oauth.md says.

// grantBlockedLocked says whether the client is blocked from grant tokens
// at now (grant_rate.block: the Projects FAQ's "blocked for the next ten
// minutes"); a block that has run out is dropped.
func (s *Server) grantBlockedLocked(c *client, now time.Time) bool {
	until, ok := s.za.grantBlocked[c]
	if !ok {
		return false
	}
	if now.Before(until) {
		return true
	}
	delete(s.za.grantBlocked, c)
	return false
}

// blockGrantsLocked starts a grant-rate block for the client at a refusal
// over the limit, when the limits have one. [assumed] The block runs from
// the first refusal; the refusals during it do not extend it.
func (s *Server) blockGrantsLocked(c *client, now time.Time) {
	b := s.limits.GrantRate.Block
	if b <= 0 {
		return
	}
	if s.za.grantBlocked == nil {
		s.za.grantBlocked = map[*client]time.Time{}
	}
	s.za.grantBlocked[c] = now.Add(b)
}

// tokenAnswerLocked gives a success answer of the token endpoint (a code
// exchange or a refresh) the shape the limits say: scope (the granted
// scopes, space-separated) with token_answer_scope, and expires_in in
// milliseconds with expires_in_sec in seconds with expires_in_milliseconds.
// By default it is the seed's answer.
func (s *Server) tokenAnswerLocked(resp tokenResponse, scopes []string) tokenResponse {
	if s.limits.TokenAnswerScope {
		resp.Scope = strings.Join(scopes, " ")
	}
	if s.limits.ExpiresInMilliseconds {
		resp.ExpiresInSec = resp.ExpiresIn
		resp.ExpiresIn *= 1000
	}
	return resp
}

// throttledLocked answers a refresh over the refresh throttle: HTTP 400
// {"error":"Access Denied","error_description":…} [seen], or as the
// limits say: HTTP 200 (refresh_throttle_http_200) and "status":"failure"
// in the body (refresh_throttle_status_failure), as Kaizen #43 shows it.
func (s *Server) throttledLocked(x *exchange) {
	status := http.StatusBadRequest
	if s.limits.RefreshThrottleHTTP200 {
		status = http.StatusOK
	}
	body := map[string]string{"error": zoho.ErrThrottled, "error_description": zoho.ThrottleDescription}
	if s.limits.RefreshThrottleStatusFailure {
		body["status"] = "failure"
	}
	x.errStr = zoho.ErrThrottled
	x.reply(status, body)
}

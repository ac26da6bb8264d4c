package fakeserver

import (
	"slices"
	"strings"
	"time"

	"github.com/zconform/zconform/fixtures/zoho"
)

// AccessTokenState is a live access token.
type AccessTokenState struct {
	Token   string    `json:"token"`
	Expires time.Time `json:"expires"`
}

// RefreshTokenState is a live refresh token and its active access tokens,
// oldest first.
type RefreshTokenState struct {
	Token        string             `json:"token"`
	ClientID     string             `json:"client_id"`
	DC           zoho.DC            `json:"dc"`
	Issued       time.Time          `json:"issued"`
	AccessTokens []AccessTokenState `json:"access_tokens"`
}

// UserTokens is what a user holds: live refresh tokens, oldest first, and
// live access tokens that have no refresh token (online or implicit).
type UserTokens struct {
	User          string              `json:"user"`
	RefreshTokens []RefreshTokenState `json:"refresh_tokens"`
	AccessTokens  []AccessTokenState  `json:"access_tokens"`
}

// Tokens returns the user's live tokens.
func (s *Server) Tokens(email string) (UserTokens, error) {
	now := s.clock.Now()
	s.mu.Lock()
	defer s.mu.Unlock()
	u, err := s.userLocked(email)
	if err != nil {
		return UserTokens{}, err
	}
	out := UserTokens{User: u.Email, RefreshTokens: []RefreshTokenState{}, AccessTokens: []AccessTokenState{}}
	for _, rt := range s.userRTs[u] {
		if !s.refreshLive(rt, now) {
			continue
		}
		st := RefreshTokenState{Token: rt.value, ClientID: rt.client.ID, DC: rt.dc, Issued: rt.issued, AccessTokens: []AccessTokenState{}}
		for _, a := range rt.access {
			if s.accessLive(a, now) {
				st.AccessTokens = append(st.AccessTokens, AccessTokenState{a.value, a.expires})
			}
		}
		out.RefreshTokens = append(out.RefreshTokens, st)
	}
	for _, a := range s.standaloneOfLocked(u) { // the user's own, not every token (index.go)
		if s.accessLive(a, now) {
			out.AccessTokens = append(out.AccessTokens, AccessTokenState{a.value, a.expires})
		}
	}
	slices.SortFunc(out.AccessTokens, func(a, b AccessTokenState) int {
		if c := a.Expires.Compare(b.Expires); c != 0 {
			return c
		}
		return strings.Compare(a.Token, b.Token)
	})
	return out, nil
}

// LiveAccessTokens returns the active access tokens of a refresh token,
// oldest first (nil for an unknown, revoked or evicted one).
func (s *Server) LiveAccessTokens(refreshToken string) []string {
	now := s.clock.Now()
	s.mu.Lock()
	defer s.mu.Unlock()
	rt := s.refresh[refreshToken]
	if rt == nil || !s.refreshLive(rt, now) {
		return nil
	}
	var out []string
	for _, a := range rt.access {
		if s.accessLive(a, now) {
			out = append(out, a.value)
		}
	}
	return out
}

// Users lists the users, sorted by email.
func (s *Server) Users() []User {
	s.mu.Lock()
	defer s.mu.Unlock()
	out := make([]User, 0, len(s.users))
	for _, u := range s.users {
		out = append(out, u.User)
	}
	slices.SortFunc(out, func(a, b User) int { return strings.Compare(a.Email, b.Email) })
	return out
}

// Clients lists the registered clients, sorted by ID.
func (s *Server) Clients() []Client {
	s.mu.Lock()
	defer s.mu.Unlock()
	out := make([]Client, 0, len(s.clients))
	for _, c := range s.clients {
		out = append(out, c.snapshot())
	}
	slices.SortFunc(out, func(a, b Client) int { return strings.Compare(a.ID, b.ID) })
	return out
}

// Revoke revokes a refresh or access token, as the revoke endpoint would,
// and reports whether it knew the token.
func (s *Server) Revoke(token string) bool {
	s.mu.Lock()
	defer s.mu.Unlock()
	if rt := s.refresh[token]; rt != nil && !rt.revoked {
		s.revokeRefreshLocked(rt)
		return true
	}
	if a := s.access[token]; a != nil {
		s.dropAccessLocked(a)
		return true
	}
	return false
}

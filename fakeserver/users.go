package fakeserver

import (
	"fmt"
	"strings"

	"github.com/zconform/zconform/fixtures/zoho"
)

// Users: the people who sign in and consent. In Zoho they sign up at the
// Accounts server; the fake makes them on demand (AddUser, a seed file, or
// a DC's default user), with the names and ZUIDs it chooses.

// UserSpec describes a user to create.
type UserSpec struct {
	Email     string  `json:"email" yaml:"email"`
	DC        zoho.DC `json:"dc" yaml:"dc"`
	FirstName string  `json:"first_name,omitempty" yaml:"first_name"`
	LastName  string  `json:"last_name,omitempty" yaml:"last_name"`
}

// User is a Zoho user of one DC.
type User struct {
	ZUID      string  `json:"zuid"`
	Email     string  `json:"email"`
	DC        zoho.DC `json:"dc"`
	FirstName string  `json:"first_name"`
	LastName  string  `json:"last_name"`
}

type user struct {
	User
	selfClient *client
	// evictions counts the refresh tokens the cap deleted (for a deviation).
	evictions int
}

// AddUser creates a user in a DC. Emails are unique across DCs.
func (s *Server) AddUser(spec UserSpec) (User, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	u, err := s.addUserLocked(spec)
	if err != nil {
		return User{}, err
	}
	return u.User, nil
}

func (s *Server) addUserLocked(spec UserSpec) (*user, error) {
	spec.Email = strings.TrimSpace(spec.Email)
	if spec.Email == "" || !strings.Contains(spec.Email, "@") {
		return nil, fmt.Errorf("user email %q is not an email address: give one like dev@example.com", spec.Email)
	}
	if spec.DC == "" {
		spec.DC = zoho.US
	}
	dc, err := zoho.ParseDC(string(spec.DC))
	if err != nil {
		return nil, err
	}
	key := strings.ToLower(spec.Email)
	if _, dup := s.users[key]; dup {
		return nil, fmt.Errorf("user %s already exists: emails are unique across DCs", spec.Email)
	}
	s.nextZUID++
	first, last := spec.FirstName, spec.LastName
	if first == "" {
		first, _, _ = strings.Cut(spec.Email, "@")
	}
	if last == "" {
		last = "Tester"
	}
	u := &user{User: User{ZUID: fmt.Sprint(s.nextZUID), Email: spec.Email, DC: dc, FirstName: first, LastName: last}}
	s.users[key] = u
	return u, nil
}

// DefaultUser returns the DC's default user (dev@<dc>.zconform.test),
// creating it on first use.
func (s *Server) DefaultUser(dc zoho.DC) (User, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	u, err := s.defaultUserLocked(dc)
	if err != nil {
		return User{}, err
	}
	return u.User, nil
}

func (s *Server) defaultUserLocked(dc zoho.DC) (*user, error) {
	dc, err := zoho.ParseDC(string(dc))
	if err != nil {
		return nil, err
	}
	email := "dev@" + string(dc) + ".zconform.test"
	if u, ok := s.users[email]; ok {
		return u, nil
	}
	return s.addUserLocked(UserSpec{Email: email, DC: dc, FirstName: "Default", LastName: strings.ToUpper(string(dc))})
}

func (s *Server) userLocked(email string) (*user, error) {
	u, ok := s.users[strings.ToLower(strings.TrimSpace(email))]
	if !ok {
		return nil, fmt.Errorf("no user %q: create it first with AddUser (or the seed file's users)", email)
	}
	return u, nil
}

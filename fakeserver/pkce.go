package fakeserver

import (
	"crypto/sha256"
	"crypto/subtle"
	"encoding/base64"
	"fmt"
	"regexp"

	"github.com/zconform/zconform/fixtures/zoho"
)

// PKCE for mobile and desktop apps (ZA-PKCE-*, docs/zoho-oauth-beyond.md
// section 3, RFC 7636): the authorization takes code_challenge and
// code_challenge_method (S256 or plain, default plain); the exchange
// sends code_verifier. Mobile apps registered before Zoho required PKCE
// still work without it.
//
// The choices the pages leave open, each [assumed]:
//   - A mobile client says whether it must use PKCE (ClientSpec.PKCE,
//     `pkce:` in a seed file): required (the default: a client registered
//     in the fake is a new one) or optional (an app registered before PKCE
//     was required). Other client types take no such setting.
//   - A required client's authorization without code_challenge, a method
//     other than S256 or plain (case-sensitive), or a malformed challenge
//     (S256: 43 base64url characters; plain: 43 to 128 of RFC 7636's
//     unreserved characters) shows the error page
//     ERROR_invalid_code_challenge.
//   - A challenge sent by any client for a code binds that code, as RFC
//     7636 servers do; a code_verifier sent for a code without a challenge
//     is ignored.
//   - A missing, malformed or wrong code_verifier is answered invalid_code
//     (HTTP 200) and burns the code, like any failed exchange (K4-NOTE-3).
//   - The exchange still authenticates the client with its secret, as for
//     every other client type.

// The PKCE settings of a mobile client (ClientSpec.PKCE).
const (
	// PKCERequired: the authorization must send code_challenge.
	PKCERequired = "required"
	// PKCEOptional: an app registered before PKCE was required; a
	// challenge is honoured when sent.
	PKCEOptional = "optional"
)

// Deviations of PKCE (breaks.go).
const (
	// DevPKCEDefaultS256: a challenge without a method is taken as S256.
	DevPKCEDefaultS256 zoho.SeedID = "DEV-PKCE-DEFAULT-S256"
	// DevPKCEOptionalRequired: apps registered before PKCE was required
	// are refused without a challenge too.
	DevPKCEOptionalRequired zoho.SeedID = "DEV-PKCE-OPTIONAL-REQUIRED"
)

// pkceChallenge is a code_challenge an authorization took.
type pkceChallenge struct {
	challenge string
	method    string // S256 or plain
}

var (
	// pkceVerifier: RFC 7636's code_verifier (and plain challenge), 43 to
	// 128 unreserved characters.
	pkceVerifier = regexp.MustCompile(`^[A-Za-z0-9._~-]{43,128}$`)
	// pkceS256: an S256 challenge, base64url of 32 bytes without padding.
	pkceS256 = regexp.MustCompile(`^[A-Za-z0-9_-]{43}$`)
)

// normalizePKCE applies the console's rule for the PKCE setting: a mobile
// client's is required unless it says optional; other types take none.
func normalizePKCE(spec *ClientSpec) *RegistrationError {
	switch {
	case spec.Type == Mobile && spec.PKCE == "":
		spec.PKCE = PKCERequired
	case spec.Type == Mobile && (spec.PKCE == PKCERequired || spec.PKCE == PKCEOptional):
	case spec.Type == Mobile:
		return &RegistrationError{Field: "pkce", Message: fmt.Sprintf("pkce %q is not a PKCE setting: use required (the default) or optional (an app registered before Zoho required PKCE)", spec.PKCE)}
	case spec.PKCE != "":
		return &RegistrationError{Field: "pkce", Message: fmt.Sprintf("pkce applies to mobile clients, not to a %s client: leave it out", spec.Type)}
	}
	return nil
}

// pkceChallengeLocked reads an authorization's code_challenge for client
// c (ZA-PKCE-AUTH): the challenge to bind the code to (nil for none), or
// the error page's code.
func (s *Server) pkceChallengeLocked(x *exchange, c *client, implicit bool) (*pkceChallenge, string) {
	if implicit {
		return nil, "" // no code to bind
	}
	broken := s.brokenLocked(zoho.PKCEAuth)
	challenge, method := x.params.Get("code_challenge"), x.params.Get("code_challenge_method")
	if challenge == "" {
		required := c.PKCE == PKCERequired || s.brokenLocked(DevPKCEOptionalRequired)
		if c.Type == Mobile && required && !broken {
			return nil, zoho.ErrAuthCodeChallenge
		}
		return nil, ""
	}
	if method == "" {
		method = "plain" // the page's default
		if s.brokenLocked(DevPKCEDefaultS256) {
			method = "S256"
		}
	}
	switch {
	case method == "S256" && pkceS256.MatchString(challenge):
	case method == "plain" && pkceVerifier.MatchString(challenge):
	default:
		return nil, zoho.ErrAuthCodeChallenge
	}
	if broken {
		method = "plain" // broken ZA-PKCE-AUTH: S256 is taken as plain
	}
	return &pkceChallenge{challenge: challenge, method: method}, ""
}

// pkceVerifyLocked checks an exchange's code_verifier against the code's
// challenge (ZA-PKCE-TOKEN): "" when it matches or the code has none,
// else the error to answer.
func (s *Server) pkceVerifyLocked(x *exchange, g *grant) string {
	if g.pkce == nil || s.brokenLocked(zoho.PKCEToken) {
		return ""
	}
	v := x.params.Get("code_verifier")
	if !pkceVerifier.MatchString(v) {
		return zoho.ErrInvalidCode // missing or malformed [assumed code]
	}
	got := v
	if g.pkce.method == "S256" {
		sum := sha256.Sum256([]byte(v))
		got = base64.RawURLEncoding.EncodeToString(sum[:])
	}
	if subtle.ConstantTimeCompare([]byte(got), []byte(g.pkce.challenge)) != 1 {
		return zoho.ErrInvalidCode // wrong [assumed code]
	}
	return ""
}

// PKCEChallenge is the S256 code_challenge of a code_verifier: base64url
// (no padding) of its SHA-256, for tests and clients.
func PKCEChallenge(verifier string) string {
	sum := sha256.Sum256([]byte(verifier))
	return base64.RawURLEncoding.EncodeToString(sum[:])
}

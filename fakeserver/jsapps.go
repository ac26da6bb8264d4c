package fakeserver

import (
	"crypto"
	"crypto/rand"
	"crypto/rsa"
	"crypto/sha256"
	"encoding/base64"
	"encoding/json"
	"math/big"
	"net/http"
	"net/url"
	"slices"
	"strconv"
	"strings"
	"sync"
	"time"

	"github.com/zconform/zconform/fixtures/zoho"
)

// JavaScript apps (docs/zoho-oauth-beyond.md section 4): the implicit
// flow's fragment (ZA-JS-TOKEN) and its silent refresh at
// GET {AS}/oauth/v2/auth/refresh (ZA-JS-REFRESH), which works while the
// user's browser session lives and the user granted the client access for
// that session.
//
// The fake has no browser cookies [assumed]: a user's session starts when
// they consent to a JavaScript client's implicit flow and lives until
// EndSession (or DELETE /_zconform/v1/users/{email}/session) ends it; it
// has no lifetime of its own [assumed]. /oauth/v2/auth/refresh acts for the
// user who last consented to the client in the implicit flow (the browser
// that comes back) [assumed].

// JSRefreshPath is the JavaScript apps' silent refresh (ZA-JS-REFRESH).
const JSRefreshPath = "/oauth/v2/auth/refresh"

// JWKSPath serves the public key that signs the implicit flow's id_token,
// as a JSON Web Key Set [assumed: the path of Zoho's OIDC jwks_uri].
const JWKSPath = "/oauth/v2/keys"

// idTokenKeyID names the id_token's signing key in its header and the JWKS.
const idTokenKeyID = "zconform-1"

// zaState is the state of docs/zoho-oauth-beyond.md's behaviours that the
// K4 records have no place for. It is guarded by the server's mu.
type zaState struct {
	// sessions are the users' live browser sessions.
	sessions map[*user]*browserSession
	// lastJS is the user who last consented to a JavaScript client in the
	// implicit flow: the browser /oauth/v2/auth/refresh acts for.
	lastJS map[*client]*user
	// idKey signs the id_token (RS256): the process's key (idKeyLocked).
	idKey *rsa.PrivateKey
	// grantBlocked holds, per client, the end of a grant-rate block
	// (grant_rate.block, settings.go).
	grantBlocked map[*client]time.Time
}

// browserSession is a user's signed-in session at Zoho Accounts.
type browserSession struct {
	started time.Time
	// granted are the clients the user granted access for the whole
	// session, each with the scopes granted so (the union of the session's
	// consents).
	granted map[*client][]string
}

// sessionLocked returns the user's live session, signing them in (a new
// session) when they have none.
func (s *Server) sessionLocked(u *user, now time.Time) *browserSession {
	if s.za.sessions == nil {
		s.za.sessions = map[*user]*browserSession{}
	}
	b := s.za.sessions[u]
	if b == nil {
		b = &browserSession{started: now, granted: map[*client][]string{}}
		s.za.sessions[u] = b
	}
	return b
}

// EndSession signs the user out of Zoho Accounts: the browser session ends,
// and with it every access the user granted for the session
// (ZA-JS-REFRESH: /oauth/v2/auth/refresh then answers client_not_granted).
// It reports whether the user had a session.
func (s *Server) EndSession(email string) (bool, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	u, err := s.userLocked(email)
	if err != nil {
		return false, err
	}
	_, had := s.za.sessions[u]
	delete(s.za.sessions, u)
	return had, nil
}

// implicitTokenLocked mints the implicit flow's access token for u and
// returns the redirect fragment's members (ZA-JS-TOKEN): access_token,
// token_type, expires_in (seconds), api_domain (unless the profile follows
// the older page), location, an id_token when the email scope is granted,
// and granted_for_session when the user granted access for the session
// (the newer access-expiry page); never a refresh token.
func (s *Server) implicitTokenLocked(x *exchange, c *client, u *user, scopes []string, forSession bool, now time.Time) url.Values {
	b := s.sessionLocked(u, now)
	if s.za.lastJS == nil {
		s.za.lastJS = map[*client]*user{}
	}
	s.za.lastJS[c] = u
	if forSession {
		granted := b.granted[c]
		for _, sc := range scopes {
			if !slices.ContainsFunc(granted, func(g string) bool { return strings.EqualFold(g, sc) }) {
				granted = append(granted, sc)
			}
		}
		b.granted[c] = granted
	}
	q := s.implicitFragmentLocked(x, c, u, scopes, now)
	if forSession {
		q.Set("granted_for_session", "true")
	}
	return q
}

// implicitFragmentLocked mints an access token of the implicit flow (or
// its silent refresh) for u with the scopes and returns the fragment.
func (s *Server) implicitFragmentLocked(x *exchange, c *client, u *user, scopes []string, now time.Time) url.Values {
	a := s.mintAccessLocked(nil, c, u, u.DC, now)
	a.scopes = slices.Clone(scopes) // ZA-API-SCOPE
	q := url.Values{
		"access_token": {a.value}, "token_type": {"Bearer"},
		"expires_in": {strconv.Itoa(int(s.limits.AccessTokenLifetime.Seconds()))},
		"location":   {string(u.DC)},
	}
	if !s.limits.ImplicitWithoutAPIDomain {
		q.Set("api_domain", x.t.apiURL(u.DC))
	}
	broken := s.brokenLocked(zoho.JSToken)
	if slices.ContainsFunc(scopes, func(sc string) bool { return strings.EqualFold(sc, zoho.ScopeEmail) }) && !broken {
		if tok, err := s.idTokenLocked(x, c, u, now); err == nil {
			q.Set("id_token", tok)
		}
	}
	if broken {
		q.Set("refresh_token", s.newSecret(zoho.NewToken()))
	}
	return q
}

// idTokenLocked makes the implicit flow's id_token (ZA-JS-TOKEN): a JWT
// whose payload the page says to base64-decode. [assumed] It is signed
// RS256 with the fake's key (idKeyLocked), published at {AS}/oauth/v2/keys
// (kid zconform-1), and carries iss (the user's DC's Accounts server),
// sub (the ZUID), aud (the client ID), email, email_verified, iat and exp
// (the access token's lifetime).
func (s *Server) idTokenLocked(x *exchange, c *client, u *user, now time.Time) (string, error) {
	key, err := s.idKeyLocked()
	if err != nil {
		return "", err
	}
	header, _ := json.Marshal(map[string]string{"alg": "RS256", "typ": "JWT", "kid": idTokenKeyID})
	claims, _ := json.Marshal(map[string]any{
		"iss": x.t.accountsURL(u.DC), "sub": u.ZUID, "aud": c.ID, "email": u.Email, "email_verified": true,
		"iat": now.Unix(), "exp": now.Add(s.limits.AccessTokenLifetime).Unix(),
	})
	enc := base64.RawURLEncoding
	signing := enc.EncodeToString(header) + "." + enc.EncodeToString(claims)
	sum := sha256.Sum256([]byte(signing))
	sig, err := rsa.SignPKCS1v15(rand.Reader, key, crypto.SHA256, sum[:])
	if err != nil {
		return "", err
	}
	return signing + "." + enc.EncodeToString(sig), nil
}

// idKeyLocked returns the id_token's signing key. [assumed] One RSA key,
// made on first use, serves every server of the process: making one takes
// a noticeable fraction of a second, and an id_token grants nothing at the
// fake, so servers need not tell each other's apart.
func (s *Server) idKeyLocked() (*rsa.PrivateKey, error) {
	if s.za.idKey == nil {
		k, err := processIDKey()
		if err != nil {
			return nil, err
		}
		s.za.idKey = k
	}
	return s.za.idKey, nil
}

// processIDKey is the process's id_token key, made once.
var processIDKey = sync.OnceValues(func() (*rsa.PrivateKey, error) { return rsa.GenerateKey(rand.Reader, 2048) })

// IDTokenKey is the public key that signs the implicit flow's id_token.
func (s *Server) IDTokenKey() (*rsa.PublicKey, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	k, err := s.idKeyLocked()
	if err != nil {
		return nil, err
	}
	return &k.PublicKey, nil
}

// jwks serves GET {AS}/oauth/v2/keys: the id_token's key as a JWK Set.
func (s *Server) jwks(x *exchange) {
	if x.r.Method != http.MethodGet {
		x.jsonError(http.StatusMethodNotAllowed, zoho.ErrInvalidRequest, "use GET for "+JWKSPath)
		return
	}
	k, err := s.IDTokenKey()
	if err != nil {
		x.jsonError(http.StatusInternalServerError, "internal", "the fake could not make its signing key")
		return
	}
	enc := base64.RawURLEncoding
	x.reply(http.StatusOK, map[string]any{"keys": []map[string]string{{
		"kty": "RSA", "alg": "RS256", "use": "sig", "kid": idTokenKeyID,
		"n": enc.EncodeToString(k.N.Bytes()), "e": enc.EncodeToString(big.NewInt(int64(k.E)).Bytes()),
	}}})
}

// authRefresh serves GET {AS}/oauth/v2/auth/refresh (ZA-JS-REFRESH): a new
// implicit-flow token, in the fragment, while the user's session lives and
// they granted the client access for it; else the redirect's fragment
// carries error=client_not_granted; scopes the session grant does not hold
// give error=prompt_required. A malformed request gets the authorization
// endpoint's error pages [assumed], and its refusals come in the fragment
// with the state, as the implicit flow's denial does [assumed].
func (s *Server) authRefresh(x *exchange) {
	if !x.paramsOf("GET for "+JSRefreshPath, http.MethodGet) {
		return
	}
	now := s.clock.Now()
	s.mu.Lock()
	defer s.mu.Unlock()
	c, ok := s.authParamsLocked(x) // as at /oauth/v2/auth (authorize.go)
	if !ok {
		return
	}
	if c == nil {
		x.authError(zoho.ErrAuthClient)
		return
	}
	if x.param("response_type") != "token" || c.Type != JavaScript {
		x.authError(zoho.ErrAuthResponseType) // only JavaScript clients refresh so
		return
	}
	redirectURI := x.params.Get("redirect_uri")
	target, err := url.Parse(redirectURI)
	if !s.redirectRegisteredLocked(c, redirectURI) || err != nil || target.Scheme == "" {
		x.authError(zoho.ErrAuthRedirectURI)
		return
	}
	scopes := zoho.SplitScopes(x.param("scope"))
	if bad := s.unknownScopeLocked(scopes); bad != "" || len(scopes) == 0 {
		x.authError(zoho.ErrAuthScope)
		return
	}
	answer := func(q url.Values) {
		if state, ok := x.params["state"]; ok {
			q.Set("state", state[0])
		}
		target.Fragment, target.RawFragment = "", ""
		x.w.Header().Set("Location", target.String()+"#"+q.Encode())
		x.status = http.StatusFound
		x.w.WriteHeader(http.StatusFound)
	}
	refuse := func(code string) {
		x.errStr = code
		answer(url.Values{"error": {code}})
	}
	u := s.za.lastJS[c]
	var granted []string
	if b := s.za.sessions[u]; u != nil && b != nil {
		granted = b.granted[c]
	}
	if granted == nil {
		if !s.brokenLocked(zoho.JSRefresh) {
			refuse(zoho.ErrClientNotGranted)
			return
		}
		if u == nil {
			u = c.owner
		}
		granted = scopes
	}
	for _, sc := range scopes {
		if !slices.ContainsFunc(granted, func(g string) bool { return strings.EqualFold(g, sc) }) && !s.brokenLocked(DevJSRefreshNewScopes) {
			refuse(zoho.ErrPromptRequired)
			return
		}
	}
	answer(s.implicitFragmentLocked(x, c, u, scopes, now))
}

// ctlEndSession serves DELETE /_zconform/v1/users/{email}/session.
func (s *Server) ctlEndSession(r *http.Request) (int, any) {
	had, err := s.EndSession(r.PathValue("email"))
	if err != nil {
		return http.StatusNotFound, controlError{Error: err.Error()}
	}
	return http.StatusOK, map[string]any{"user": r.PathValue("email"), "ended": had}
}

package fakeserver

import (
	"fmt"
	"html/template"
	"net/http"
	"net/url"
	"slices"
	"strings"

	"github.com/zconform/zconform/fixtures/zoho"
)

// brokenAuthCode is what a broken authorization check shows instead of the
// documented code: a plausible, wrong one.
const brokenAuthCode = "ERROR_invalid_request"

// authError shows Zoho's error page for an authorization request: no
// redirect, the ERROR_ code in the page. The status (400) is [assumed].
func (x *exchange) authError(code string) {
	x.errStr = code
	x.status = http.StatusBadRequest
	x.w.Header().Set("Content-Type", "text/html;charset=UTF-8")
	x.w.WriteHeader(x.status)
	_ = errorPage.Execute(x.w, code)
}

var errorPage = template.Must(template.New("error").Parse(`<!DOCTYPE html>
<html><head><meta charset="utf-8"><title>Zoho Accounts - Error</title></head>
<body><h1>An error occurred</h1><p>Error code: <code id="error-code">{{.}}</code></p></body></html>
`))

func (s *Server) brokenLocked(id zoho.SeedID) bool { return s.breaks[id] }

// authParamsLocked applies the rules the authorization endpoint and the
// JavaScript apps' silent refresh (/oauth/v2/auth/refresh, jsapps.go)
// share: a mandatory key missing is K4-AUTH-RESPONSE-TYPE-b (the error
// page is answered here, and ok is false), and the client is looked up in
// the request's DC: nil when it is not registered or enabled there
// ("Invalid Client" [seen]). A client_id that is present but empty is an
// unknown client (K4-AUTH-CLIENT), not a missing key.
func (s *Server) authParamsLocked(x *exchange) (c *client, ok bool) {
	for _, k := range []string{"scope", "client_id", "response_type", "redirect_uri"} {
		if _, present := x.params[k]; !present || (k != "client_id" && !x.has(k)) {
			if s.brokenLocked(zoho.AuthResponseTypeB) {
				x.authError(brokenAuthCode)
			} else {
				x.authError(zoho.ErrAuthResponseType)
			}
			return nil, false
		}
	}
	c = s.clients[x.param("client_id")]
	if c != nil && !c.enabledIn(x.t.dc) && !s.brokenLocked(zoho.TokenClientB) {
		c = nil
	}
	return c, true
}

// authorize serves GET (and the consent page's POST) {AS}/oauth/v2/auth.
func (s *Server) authorize(x *exchange) {
	if !x.paramsOf("GET for /oauth/v2/auth", http.MethodGet, http.MethodPost) {
		return
	}
	now := s.clock.Now()
	s.mu.Lock()
	defer s.mu.Unlock()

	c, ok := s.authParamsLocked(x)
	if !ok {
		return
	}
	responseType := x.param("response_type")
	implicit := responseType == "token" && c != nil && c.Type == JavaScript
	if responseType != "code" && !implicit && !s.brokenLocked(zoho.AuthResponseTypeA) {
		x.authError(zoho.ErrAuthResponseType) // K4-AUTH-RESPONSE-TYPE-a
		return
	}
	if s.brokenLocked(DevImplicitAsCode) {
		implicit = false
	}
	if c == nil {
		if s.brokenLocked(zoho.AuthClient) {
			x.authError(brokenAuthCode)
		} else {
			x.authError(zoho.ErrAuthClient) // K4-AUTH-CLIENT
		}
		return
	}
	// The redirect URI must match a registered one exactly: no trimming,
	// so that whitespace or a CRLF around it is refused.
	redirectURI := x.params.Get("redirect_uri")
	if !s.redirectRegisteredLocked(c, redirectURI) && !s.brokenLocked(zoho.AuthRedirect) {
		x.authError(zoho.ErrAuthRedirectURI) // K4-AUTH-REDIRECT
		return
	}
	target, err := url.Parse(redirectURI)
	if err != nil || target.Scheme == "" {
		x.authError(zoho.ErrAuthRedirectURI)
		return
	}
	scopes := zoho.SplitScopes(x.param("scope"))
	if bad := s.unknownScopeLocked(scopes); (bad != "" || len(scopes) == 0) && !s.brokenLocked(zoho.AuthScope) {
		x.authError(zoho.ErrAuthScope) // K4-AUTH-SCOPE
		return
	}
	challenge, pkceErr := s.pkceChallengeLocked(x, c, implicit) // ZA-PKCE-AUTH (pkce.go)
	if pkceErr != "" {
		x.authError(pkceErr)
		return
	}

	if !implicit && !s.grantAllowedLocked(c, now) {
		x.authError(zoho.ErrAccessDenied) // K4-NOTE-4 [assumed page]
		return
	}

	// Consent: a scripted answer, a person on the consent page, or the
	// client's user approving.
	var answer Consent
	switch {
	case x.r.Method == http.MethodPost && x.params.Has("zconform_decision"):
		answer = Consent{Deny: x.param("zconform_decision") != "approve", User: x.param("zconform_user"), ForSession: x.has("zconform_session")}
	case len(c.consent) > 0:
		answer, c.consent = c.consent[0], c.consent[1:]
	case s.opts.consentPage:
		s.consentPageLocked(x, c, scopes, implicit)
		return
	}
	state, hasState := x.params["state"]
	redirect := func(q url.Values, fragment bool) {
		if hasState {
			q.Set("state", state[0])
		}
		if fragment {
			target.Fragment = ""
			target.RawFragment = ""
			x.w.Header().Set("Location", target.String()+"#"+q.Encode())
		} else {
			orig := target.Query()
			for k, vs := range q {
				orig[k] = vs
			}
			target.RawQuery = orig.Encode()
			x.w.Header().Set("Location", target.String())
		}
		x.status = http.StatusFound
		x.w.WriteHeader(http.StatusFound)
	}
	if answer.Deny {
		hasState = hasState && !s.brokenLocked(DevDenialDropsState)
		x.errStr = zoho.ErrAccessDenied
		redirect(url.Values{"error": {zoho.ErrAccessDenied}}, implicit)
		return
	}
	u := c.owner
	if answer.User != "" {
		if u, err = s.userLocked(answer.User); err == nil {
			err = signInCheck(c, u)
		}
		if err != nil {
			x.jsonError(http.StatusBadRequest, zoho.ErrInvalidRequest, err.Error())
			return
		}
	}
	if implicit {
		// ZA-JS-TOKEN: the token in the fragment; the consent may grant the
		// client access for the session (ZA-JS-REFRESH, jsapps.go)
		redirect(s.implicitTokenLocked(x, c, u, scopes, answer.ForSession, now), true)
		return
	}
	// ZA-RT-ONLINE, ZA-RT-FIRST: a refresh token for access_type=offline,
	// on the first consent or with prompt=consent.
	offline := (strings.EqualFold(x.param("access_type"), "offline") || s.brokenLocked(zoho.RTOnline)) &&
		(!c.consented[u.Email] || (strings.EqualFold(x.param("prompt"), "consent") && !s.brokenLocked(DevPromptConsentIgnored)) ||
			s.brokenLocked(zoho.RTFirst))
	c.consented[u.Email] = true
	lifetime := s.limits.GrantLifetime
	if s.brokenLocked(zoho.Note1) {
		lifetime /= 2 // broken K4-NOTE-1: the grant dies early
	}
	g := s.newGrantLocked(c, u, u.DC, scopes, redirectURI, false, offline, now, lifetime)
	g.pkce = challenge
	redirect(url.Values{
		"code": {g.code}, "location": {string(u.DC)}, "accounts-server": {x.t.accountsURL(u.DC)},
	}, false)
}

var consentPage = template.Must(template.New("consent").Parse(`<!DOCTYPE html>
<html><head><meta charset="utf-8"><title>Zoho Accounts - Consent (zconform fake)</title></head>
<body>
<h1>{{.Client}} would like to access your Zoho account</h1>
<p>Scopes:</p><ul>{{range .Scopes}}<li><code>{{.}}</code></li>{{end}}</ul>
<form method="post">
{{range .Hidden}}<input type="hidden" name="{{.Name}}" value="{{.Value}}">
{{end}}{{if .Session}}<label><input type="checkbox" name="zconform_session" value="on"> Grant access for the entire session</label>
{{end}}<label>Sign in as <select name="zconform_user">{{range .Users}}<option value="{{.Email}}"{{if .Selected}} selected{{end}}>{{.Email}} ({{.DC}})</option>{{end}}</select></label>
<button type="submit" name="zconform_decision" value="approve">Accept</button>
<button type="submit" name="zconform_decision" value="deny">Reject</button>
</form></body></html>
`))

func (s *Server) consentPageLocked(x *exchange, c *client, scopes []string, implicit bool) {
	type hidden struct{ Name, Value string }
	type option struct {
		Email    string
		DC       zoho.DC
		Selected bool
	}
	data := struct {
		Client  string
		Scopes  []string
		Hidden  []hidden
		Users   []option
		Session bool // the implicit flow offers to grant access for the session (ZA-JS-REFRESH)
	}{Client: c.Name, Scopes: scopes, Session: implicit}
	if data.Client == "" {
		data.Client = c.ID
	}
	for k, vs := range x.params {
		if !strings.HasPrefix(k, "zconform_") && len(vs) > 0 {
			data.Hidden = append(data.Hidden, hidden{k, vs[0]})
		}
	}
	slices.SortFunc(data.Hidden, func(a, b hidden) int { return strings.Compare(a.Name, b.Name) })
	for _, u := range s.users {
		data.Users = append(data.Users, option{u.Email, u.DC, u == c.owner})
	}
	slices.SortFunc(data.Users, func(a, b option) int { return strings.Compare(a.Email, b.Email) })
	x.w.Header().Set("Content-Type", "text/html;charset=UTF-8")
	x.status = http.StatusOK
	x.w.WriteHeader(http.StatusOK)
	if err := consentPage.Execute(x.w, data); err != nil {
		fmt.Fprintln(x.w, "<!-- template error -->")
	}
}

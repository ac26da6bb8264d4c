package fakeserver_test

// JavaScript apps (docs/zoho-oauth-beyond.md section 4): the implicit
// flow's fragment and id_token (ZA-JS-TOKEN), the silent refresh at
// /oauth/v2/auth/refresh (ZA-JS-REFRESH), and the refresh-token issuance
// rules of section 5 (ZA-RT-ONLINE, ZA-RT-FIRST).

import (
	"crypto"
	"crypto/rsa"
	"crypto/sha256"
	"encoding/base64"
	"encoding/json"
	"net/http"
	"net/url"
	"strings"
	"time"

	. "github.com/onsi/ginkgo/v2"
	. "github.com/onsi/gomega"

	"github.com/zconform/zconform/fakeserver"
	"github.com/zconform/zconform/fixtures/zoho"
)

// implicitParams is a complete implicit-flow request of a JavaScript client.
func implicitParams(js fakeserver.Client, scope string) url.Values {
	return url.Values{
		"response_type": {"token"}, "client_id": {js.ID}, "scope": {scope},
		"redirect_uri": {js.RedirectURIs[0]}, "state": {testState},
	}
}

// jsRefresh sends GET {AS}/oauth/v2/auth/refresh for the client.
func (f *fake) jsRefresh(dc zoho.DC, js fakeserver.Client, scope string) authResult {
	GinkgoHelper()
	return f.authorizeRequest(newRequest(http.MethodGet, f.AccountsURL(dc)+fakeserver.JSRefreshPath+"?"+implicitParams(js, scope).Encode(), nil))
}

// expectImplicitToken asserts a redirect whose fragment carries exactly
// the implicit flow's members (extra ones named) and returns the fragment.
func (f *fake) expectImplicitToken(a authResult, dc zoho.DC, extra ...string) url.Values {
	GinkgoHelper()
	Expect(a.Status).To(Equal(http.StatusFound), "page: %s", a.Body)
	Expect(a.Location).NotTo(BeNil())
	Expect(a.Location.Scheme + "://" + a.Location.Host + a.Location.Path).To(Equal(testRedirectURI))
	Expect(a.Location.RawQuery).To(BeEmpty())
	keys := []string{"access_token", "api_domain", "expires_in", "location", "state", "token_type"}
	keys = append(keys, extra...)
	var got []string
	for k := range a.Fragment {
		got = append(got, k)
	}
	Expect(got).To(ConsistOf(keys), "fragment %v", a.Fragment)
	Expect(a.Fragment.Get("access_token")).To(MatchRegexp(zoho.TokenPattern.String()))
	Expect(a.Fragment.Get("token_type")).To(Equal("Bearer"))
	Expect(a.Fragment.Get("expires_in")).To(Equal("3600"))
	Expect(a.Fragment.Get("location")).To(Equal(string(dc)))
	Expect(a.Fragment.Get("api_domain")).To(Equal(f.APIURL(dc)))
	Expect(a.Fragment.Get("state")).To(Equal(testState))
	return a.Fragment
}

// expectFragmentError asserts a refusal redirect with the error and the
// state in the fragment.
func expectFragmentError(a authResult, code string) {
	GinkgoHelper()
	Expect(a.Status).To(Equal(http.StatusFound), "page: %s", a.Body)
	Expect(a.Fragment).To(Equal(url.Values{"error": {code}, "state": {testState}}), "redirect %s", a.Location)
}

// idClaims verifies an id_token's RS256 signature with the fake's key and
// returns its header and claims.
func (f *fake) idClaims(tok string) (header, claims map[string]any) {
	GinkgoHelper()
	parts := strings.Split(tok, ".")
	Expect(parts).To(HaveLen(3), "id_token %q is no JWT", tok)
	dec := func(s string, v any) {
		data, err := base64.RawURLEncoding.DecodeString(s)
		Expect(err).NotTo(HaveOccurred())
		Expect(json.Unmarshal(data, v)).To(Succeed())
	}
	dec(parts[0], &header)
	dec(parts[1], &claims)
	sig, err := base64.RawURLEncoding.DecodeString(parts[2])
	Expect(err).NotTo(HaveOccurred())
	key, err := f.IDTokenKey()
	Expect(err).NotTo(HaveOccurred())
	sum := sha256.Sum256([]byte(parts[0] + "." + parts[1]))
	Expect(rsa.VerifyPKCS1v15(key, crypto.SHA256, sum[:], sig)).To(Succeed(), "the id_token's signature")
	return header, claims
}

// exchangeWith authorizes the web client with q's changes and exchanges
// the code.
func (f *fake) consentAndExchange(web fakeserver.Client, set url.Values, del ...string) tokenResult {
	GinkgoHelper()
	q := authParams(web)
	for _, k := range del {
		q.Del(k)
	}
	for k, v := range set {
		q[k] = v
	}
	return expectTokens(f.exchange(zoho.US, web, f.grantQ(zoho.US, q)))
}

var (
	_ = registerSeedCheck(zoho.JSToken, func(f *fake) {
		js := f.jsClient(zoho.US)
		a := f.authorize(zoho.US, implicitParams(js, "ZohoCRM.users.ALL"))
		frag := f.expectImplicitToken(a, zoho.US)
		f.expectTokenWorks(zoho.US, frag.Get("access_token"))

		// with the email scope, an id_token signed by the fake's key
		before := f.Now()
		a = f.authorize(zoho.US, implicitParams(js, "ZohoCRM.users.ALL,email"))
		frag = f.expectImplicitToken(a, zoho.US, "id_token")
		header, claims := f.idClaims(frag.Get("id_token"))
		Expect(header).To(Equal(map[string]any{"alg": "RS256", "typ": "JWT", "kid": "zconform-1"}))
		u, err := f.DefaultUser(zoho.US)
		Expect(err).NotTo(HaveOccurred())
		Expect(claims).To(Equal(map[string]any{
			"iss": f.AccountsURL(zoho.US), "sub": u.ZUID, "aud": js.ID, "email": u.Email, "email_verified": true,
			"iat": float64(before.Unix()), "exp": float64(before.Add(time.Hour).Unix()),
		}))
		f.expectTokenWorks(zoho.US, frag.Get("access_token"))
		// the key is published as a JWK Set
		keys := f.get(f.AccountsURL(zoho.US) + fakeserver.JWKSPath)
		Expect(keys.Status).To(Equal(http.StatusOK))
		Expect(keys.JSON()["keys"]).To(ConsistOf(HaveKeyWithValue("kid", "zconform-1")))

		// a user of another DC: that DC's token, api_domain and issuer
		eu := f.addUser("js-eu@example.com", zoho.EU)
		Expect(f.ScriptConsent(js.ID, fakeserver.Consent{User: eu.Email})).To(Succeed())
		frag = f.expectImplicitToken(f.authorize(zoho.US, implicitParams(js, "email")), zoho.EU, "id_token")
		_, claims = f.idClaims(frag.Get("id_token"))
		Expect(claims).To(HaveKeyWithValue("iss", f.AccountsURL(zoho.EU)))
		Expect(claims).To(HaveKeyWithValue("email", eu.Email))
		toks, err := f.Tokens(u.Email)
		Expect(err).NotTo(HaveOccurred())
		Expect(toks.RefreshTokens).To(BeEmpty(), "the implicit flow never issues a refresh token")
	})

	_ = registerSeedCheck(zoho.JSRefresh, func(f *fake) {
		js := f.jsClient(zoho.US)
		u, err := f.DefaultUser(zoho.US)
		Expect(err).NotTo(HaveOccurred())
		// no consent yet, then a consent for this token only
		expectFragmentError(f.jsRefresh(zoho.US, js, testScope), zoho.ErrClientNotGranted)
		f.expectImplicitToken(f.authorize(zoho.US, implicitParams(js, testScope)), zoho.US)
		expectFragmentError(f.jsRefresh(zoho.US, js, testScope), zoho.ErrClientNotGranted)

		// the user grants access for the session
		Expect(f.ScriptConsent(js.ID, fakeserver.Consent{ForSession: true})).To(Succeed())
		frag := f.expectImplicitToken(f.authorize(zoho.US, implicitParams(js, testScope)), zoho.US, "granted_for_session")
		Expect(frag.Get("granted_for_session")).To(Equal("true"))
		f.advance(2 * time.Hour) // the first token is dead; the session lives
		f.expectTokenRejected(zoho.US, frag.Get("access_token"))
		for _, scope := range []string{testScope, "ZohoCRM.users.ALL", "ZohoCRM.org.READ"} {
			again := f.expectImplicitToken(f.jsRefresh(zoho.US, js, scope), zoho.US)
			Expect(again.Get("access_token")).NotTo(Equal(frag.Get("access_token")))
		}
		f.expectTokenWorks(zoho.US, f.expectImplicitToken(f.jsRefresh(zoho.US, js, "ZohoCRM.users.ALL"), zoho.US).Get("access_token"))

		// scopes never granted: prompt_required
		expectFragmentError(f.jsRefresh(zoho.US, js, "ZohoCRM.users.ALL,ZohoCRM.settings.ALL"), zoho.ErrPromptRequired)
		// another JavaScript client of the user was never granted
		other := f.jsClient(zoho.US)
		expectFragmentError(f.jsRefresh(zoho.US, other, testScope), zoho.ErrClientNotGranted)

		// the user signs out: the session and its grants end
		ended, err := f.EndSession(u.Email)
		Expect(err).NotTo(HaveOccurred())
		Expect(ended).To(BeTrue())
		expectFragmentError(f.jsRefresh(zoho.US, js, testScope), zoho.ErrClientNotGranted)
		// a new sign-in starts a new session, without the old grant
		f.expectImplicitToken(f.authorize(zoho.US, implicitParams(js, testScope)), zoho.US)
		expectFragmentError(f.jsRefresh(zoho.US, js, testScope), zoho.ErrClientNotGranted)
	})

	_ = registerSeedCheck(zoho.RTOnline, func(f *fake) {
		web := f.webClient(zoho.US)
		for _, q := range []url.Values{{"access_type": {"online"}}, {"access_type": {"ONLINE"}}, {}} {
			t := f.consentAndExchange(web, q, "access_type", "prompt")
			Expect(t.Body).NotTo(HaveKey("refresh_token"), "access_type %q: %s", q.Get("access_type"), t.Raw())
			f.expectTokenWorks(zoho.US, t.AccessToken())
		}
		// and online with prompt=consent
		t := f.consentAndExchange(web, url.Values{"access_type": {"online"}, "prompt": {"consent"}})
		Expect(t.Body).NotTo(HaveKey("refresh_token"), "%s", t.Raw())
	})

	_ = registerSeedCheck(zoho.RTFirst, func(f *fake) {
		web := f.webClient(zoho.US)
		offline := url.Values{"access_type": {"offline"}}
		first := f.consentAndExchange(web, offline, "prompt")
		Expect(first.RefreshToken()).To(MatchRegexp(zoho.TokenPattern.String()), "the first offline consent: %s", first.Raw())
		for range 2 {
			later := f.consentAndExchange(web, offline, "prompt")
			Expect(later.Body).NotTo(HaveKey("refresh_token"), "a later offline consent: %s", later.Raw())
		}
		again := f.consentAndExchange(web, url.Values{"access_type": {"offline"}, "prompt": {"consent"}})
		Expect(again.RefreshToken()).To(MatchRegexp(zoho.TokenPattern.String()), "prompt=consent: %s", again.Raw())
		// another user of the same client has a first consent of their own
		bob := f.addUser("rt-first@example.com", zoho.US)
		Expect(f.ScriptConsent(web.ID, fakeserver.Consent{User: bob.Email})).To(Succeed())
		theirs := f.consentAndExchange(web, offline, "prompt")
		Expect(theirs.RefreshToken()).To(MatchRegexp(zoho.TokenPattern.String()), "another user's first consent: %s", theirs.Raw())
	})
)

var _ = Describe("JavaScript apps", func() {
	var (
		f  *fake
		js fakeserver.Client
	)
	BeforeEach(func() {
		f = newFake(profileKaizen4)
		js = f.jsClient(zoho.US)
	})

	It("offers to grant access for the session on the consent page", func() {
		f = newFake(profileKaizen4, fakeserver.WithConsentPage())
		js = f.jsClient(zoho.US)
		page := f.authorize(zoho.US, implicitParams(js, testScope))
		Expect(page.Status).To(Equal(http.StatusOK))
		Expect(string(page.Body)).To(ContainSubstring(`name="zconform_session"`))
		form := implicitParams(js, testScope)
		form.Set("zconform_decision", "approve")
		form.Set("zconform_session", "on")
		a := f.authorizeRequest(func() *http.Request {
			req := newRequest(http.MethodPost, f.AccountsURL(zoho.US)+"/oauth/v2/auth", strings.NewReader(form.Encode()))
			req.Header.Set("Content-Type", "application/x-www-form-urlencoded")
			return req
		}())
		f.expectImplicitToken(a, zoho.US, "granted_for_session")
		f.expectImplicitToken(f.jsRefresh(zoho.US, js, testScope), zoho.US)
		// a code flow's page has no such box
		web := f.webClient(zoho.US)
		Expect(string(f.authorize(zoho.US, authParams(web)).Body)).NotTo(ContainSubstring("zconform_session"))
	})

	It("refuses malformed silent refreshes with the authorization endpoint's error pages", func() {
		web := f.webClient(zoho.US)
		q := implicitParams(js, testScope)
		for key, code := range map[string]string{"scope": zoho.ErrAuthResponseType, "redirect_uri": zoho.ErrAuthResponseType, "response_type": zoho.ErrAuthResponseType} {
			bad := url.Values{}
			for k, v := range q {
				bad[k] = v
			}
			bad.Del(key)
			expectAuthError(f.authorizeRequest(newRequest(http.MethodGet, f.AccountsURL(zoho.US)+fakeserver.JSRefreshPath+"?"+bad.Encode(), nil)), code)
		}
		for _, c := range []struct {
			key, value, code string
		}{
			{"client_id", "1000.NOSUCHCLIENT000000000000000000", zoho.ErrAuthClient},
			{"client_id", web.ID, zoho.ErrAuthResponseType}, // not a JavaScript client
			{"response_type", "code", zoho.ErrAuthResponseType},
			{"redirect_uri", "https://evil.example.com/callback", zoho.ErrAuthRedirectURI},
			{"scope", "ZohoCRM.user.ALL", zoho.ErrAuthScope},
		} {
			bad := implicitParams(js, testScope)
			bad.Set(c.key, c.value)
			if c.key == "client_id" && c.value == web.ID {
				bad.Set("redirect_uri", web.RedirectURIs[0])
			}
			expectAuthError(f.authorizeRequest(newRequest(http.MethodGet, f.AccountsURL(zoho.US)+fakeserver.JSRefreshPath+"?"+bad.Encode(), nil)), c.code)
		}
		r := f.do(newRequest(http.MethodPost, f.AccountsURL(zoho.US)+fakeserver.JSRefreshPath, nil))
		Expect(r.Status).To(Equal(http.StatusMethodNotAllowed))
	})

	It("ends a session through the control API", func() {
		u, err := f.DefaultUser(zoho.US)
		Expect(err).NotTo(HaveOccurred())
		Expect(f.ScriptConsent(js.ID, fakeserver.Consent{ForSession: true})).To(Succeed())
		f.expectImplicitToken(f.authorize(zoho.US, implicitParams(js, testScope)), zoho.US, "granted_for_session")
		var out map[string]any
		f.ctlOK(http.MethodDelete, "/users/"+u.Email+"/session", "", &out)
		Expect(out).To(Equal(map[string]any{"user": u.Email, "ended": true}))
		expectFragmentError(f.jsRefresh(zoho.US, js, testScope), zoho.ErrClientNotGranted)
		f.ctlOK(http.MethodDelete, "/users/"+u.Email+"/session", "", &out)
		Expect(out).To(HaveKeyWithValue("ended", false))
		r := f.ctl(http.MethodDelete, "/users/nobody@example.com/session", "")
		Expect(r.Status).To(Equal(http.StatusNotFound))
	})

	It("sends no api_domain in the fragment under the older page's setting", func() {
		f = newFake(profileKaizen4, fakeserver.WithLimits(func(l *zoho.Limits) { l.ImplicitWithoutAPIDomain = true }))
		js = f.jsClient(zoho.US)
		a := f.authorize(zoho.US, implicitParams(js, testScope))
		Expect(a.Status).To(Equal(http.StatusFound))
		Expect(a.Fragment).NotTo(HaveKey("api_domain"))
		Expect(a.Fragment).To(HaveKey("access_token"))
	})

	It("grants nothing new without prompt_required under DEV-JS-REFRESH-NEW-SCOPES only when broken", func() {
		Expect(f.ScriptConsent(js.ID, fakeserver.Consent{ForSession: true})).To(Succeed())
		f.expectImplicitToken(f.authorize(zoho.US, implicitParams(js, "ZohoCRM.users.ALL")), zoho.US, "granted_for_session")
		expectFragmentError(f.jsRefresh(zoho.US, js, testScope), zoho.ErrPromptRequired)
		Expect(f.Break(fakeserver.DevJSRefreshNewScopes)).To(Succeed())
		f.expectImplicitToken(f.jsRefresh(zoho.US, js, testScope), zoho.US)
	})
})

package fakeserver_test

import (
	"net/http"
	"net/url"
	"strings"

	. "github.com/onsi/ginkgo/v2"
	. "github.com/onsi/gomega"

	"github.com/zconform/zconform/fakeserver"
	"github.com/zconform/zconform/fixtures/zoho"
)

var (
	_ = registerSeedCheck(zoho.AuthResponseTypeA, func(f *fake) {
		web := f.webClient(zoho.US)
		for _, rt := range []string{"token", "codes", "id_token", "code token", "CODE"} {
			q := authParams(web)
			q.Set("response_type", rt)
			expectAuthError(f.authorize(zoho.US, q), zoho.ErrAuthResponseType)
		}
		// a JavaScript client may use the implicit flow, but nothing else
		js := f.jsClient(zoho.US)
		for _, rt := range []string{"id_token", "codes"} {
			q := authParams(js)
			q.Set("response_type", rt)
			expectAuthError(f.authorize(zoho.US, q), zoho.ErrAuthResponseType)
		}
		f.grant(zoho.US, web)
	})

	_ = registerSeedCheck(zoho.AuthResponseTypeB, func(f *fake) {
		web := f.webClient(zoho.US)
		for _, key := range []string{"scope", "client_id", "response_type", "redirect_uri"} {
			q := authParams(web)
			q.Del(key)
			expectAuthError(f.authorize(zoho.US, q), zoho.ErrAuthResponseType)
			if key != "client_id" { // an empty client ID is K4-AUTH-CLIENT
				q.Set(key, "")
				expectAuthError(f.authorize(zoho.US, q), zoho.ErrAuthResponseType)
			}
		}
		expectAuthError(f.authorize(zoho.US, url.Values{}), zoho.ErrAuthResponseType)
		f.grant(zoho.US, web)
	})

	_ = registerSeedCheck(zoho.AuthClient, func(f *fake) {
		web := f.webClient(zoho.US)
		for _, id := range []string{"", "1000.NOSUCHCLIENT000000000000000000", "nonsense", strings.ToLower(web.ID)} {
			q := authParams(web)
			q.Set("client_id", id)
			expectAuthError(f.authorize(zoho.US, q), zoho.ErrAuthClient)
		}
		f.grant(zoho.US, web)
	})

	_ = registerSeedCheck(zoho.AuthRedirect, func(f *fake) {
		web := f.webClient(zoho.US)
		for _, uri := range []string{
			"https://evil.example.com/callback", testRedirectURI + "/", testRedirectURI + "?x=1",
			"http://app.example.com/callback", "https://APP.example.com/callback",
		} {
			q := authParams(web)
			q.Set("redirect_uri", uri)
			a := f.authorize(zoho.US, q)
			expectAuthError(a, zoho.ErrAuthRedirectURI)
			Expect(a.Header.Get("Location")).To(BeEmpty())
		}
		f.grant(zoho.US, web)
	})

	_ = registerSeedCheck(zoho.AuthScope, func(f *fake) {
		web := f.webClient(zoho.US)
		for _, scope := range []string{"ZohoCRM.user.ALL", "ZohoCRM.users.ALL,ZohoCRM.user.ALL", "ZohoCRM.users.ALL ZohoCRM.user.ALL", "ZohoCRM.users.EVERYTHING", ","} {
			q := authParams(web)
			q.Set("scope", scope)
			expectAuthError(f.authorize(zoho.US, q), zoho.ErrAuthScope)
		}
		f.grant(zoho.US, web)
	})
)

var _ = Describe("The authorization endpoint", func() {
	for _, p := range allProfiles {
		Context("under "+p.Name, Label("profile:"+p.Name), func() {
			var (
				f   *fake
				web fakeserver.Client
			)
			BeforeEach(func() {
				f = newFake(p)
				web = f.webClient(zoho.US)
			})

			It("redirects with the code, location, accounts-server and state", func() {
				a := f.authorize(zoho.US, authParams(web))
				code := expectCodeRedirect(a)
				Expect(a.Location.Scheme + "://" + a.Location.Host + a.Location.Path).To(Equal(testRedirectURI))
				Expect(a.Query).To(Equal(url.Values{
					"code": {code}, "location": {"us"}, "accounts-server": {f.AccountsURL(zoho.US)}, "state": {testState},
				}))
				// the raw query carries accounts-server percent-encoded, as Zoho sends it
				Expect(a.Location.RawQuery).To(ContainSubstring("accounts-server=" + url.QueryEscape(f.AccountsURL(zoho.US))))
				Expect(a.Body).NotTo(ContainSubstring(code[5:]))
			})

			It("sends no state when none was asked for and keeps the redirect URI's own query", func() {
				c := f.register(fakeserver.ClientSpec{
					Type: fakeserver.WebBased, Name: "App", Homepage: testHomepage,
					RedirectURIs: []string{"https://app.example.com/cb?tenant=7"},
				})
				q := authParams(c)
				q.Del("state")
				a := f.authorize(zoho.US, q)
				expectCodeRedirect(a)
				Expect(a.Query).NotTo(HaveKey("state"))
				Expect(a.Query.Get("tenant")).To(Equal("7"))
			})

			It("accepts scopes separated by commas or spaces", func() {
				for _, scope := range []string{
					"ZohoCRM.users.ALL,ZohoCRM.org.READ", "ZohoCRM.users.ALL ZohoCRM.org.READ",
					"ZohoCRM.users.ALL, ZohoCRM.org.READ", "AaaServer.profile.READ",
				} {
					q := authParams(web)
					q.Set("scope", scope)
					expectTokens(f.exchange(zoho.US, web, expectCodeRedirect(f.authorize(zoho.US, q))))
				}
				// also with spaces encoded as "+" by a form encoder
				req := newRequest(http.MethodGet, f.AccountsURL(zoho.US)+"/oauth/v2/auth?response_type=code&client_id="+web.ID+
					"&redirect_uri="+url.QueryEscape(testRedirectURI)+"&scope=ZohoCRM.users.ALL+ZohoCRM.org.READ", nil)
				expectCodeRedirect(f.authorizeRequest(req))
			})

			It("issues a refresh token for access_type=offline on the first consent only, unless prompt=consent", func() {
				run := func(c fakeserver.Client, kv ...string) tokenResult {
					GinkgoHelper()
					q := authParams(c)
					q.Del("access_type")
					q.Del("prompt")
					for i := 0; i < len(kv); i += 2 {
						q.Set(kv[i], kv[i+1])
					}
					return expectTokens(f.exchange(zoho.US, c, f.grantQ(zoho.US, q)))
				}
				Expect(run(web, "access_type", "offline").RefreshToken()).To(MatchRegexp(zoho.TokenPattern.String()))
				Expect(run(web, "access_type", "offline").Has("refresh_token")).To(BeFalse())
				Expect(run(web, "access_type", "offline", "prompt", "consent").RefreshToken()).To(MatchRegexp(zoho.TokenPattern.String()))
				Expect(run(web, "access_type", "online", "prompt", "consent").Has("refresh_token")).To(BeFalse())
				Expect(run(web).Has("refresh_token")).To(BeFalse()) // online is the default

				other := f.webClient(zoho.US)
				Expect(run(other).Has("refresh_token")).To(BeFalse())
				Expect(run(other, "access_type", "online").Has("refresh_token")).To(BeFalse())

				// consent is per user: another user's first consent gives one
				alice := f.addUser("alice@example.com", zoho.US)
				Expect(f.ScriptConsent(web.ID, fakeserver.Consent{User: alice.Email})).To(Succeed())
				t := run(web, "access_type", "offline")
				Expect(t.RefreshToken()).To(MatchRegexp(zoho.TokenPattern.String()))
				toks, err := f.Tokens(alice.Email)
				Expect(err).NotTo(HaveOccurred())
				Expect(toks.RefreshTokens).To(HaveLen(1))
				Expect(toks.RefreshTokens[0].Token).To(Equal(t.RefreshToken()))
			})

			It("lets scripted consent deny, with error=access_denied and the state", func() {
				Expect(f.ScriptConsent(web.ID, fakeserver.Consent{Deny: true})).To(Succeed())
				a := f.authorize(zoho.US, authParams(web))
				Expect(a.Status).To(Equal(http.StatusFound))
				Expect(a.Location.Scheme + "://" + a.Location.Host + a.Location.Path).To(Equal(testRedirectURI))
				Expect(a.Query).To(Equal(url.Values{"error": {zoho.ErrAccessDenied}, "state": {testState}}))
				// the answer is used up: the next request is approved
				f.grant(zoho.US, web)

				js := f.jsClient(zoho.US)
				Expect(f.ScriptConsent(js.ID, fakeserver.Consent{Deny: true})).To(Succeed())
				q := authParams(js)
				q.Set("response_type", "token")
				a = f.authorize(zoho.US, q)
				Expect(a.Status).To(Equal(http.StatusFound))
				Expect(a.Fragment).To(Equal(url.Values{"error": {zoho.ErrAccessDenied}, "state": {testState}}))
			})

			It("lets scripted consent sign in another user, also of another DC", func() {
				alice := f.addUser("alice@example.com", zoho.US)
				bob := f.addUser("bob@example.com", zoho.EU)
				Expect(f.ScriptConsent(web.ID, fakeserver.Consent{User: alice.Email}, fakeserver.Consent{User: bob.Email})).To(Succeed())

				t := expectTokens(f.exchange(zoho.US, web, f.grant(zoho.US, web)))
				info := f.userInfo(zoho.US, "Zoho-oauthtoken", t.AccessToken())
				Expect(info.Status).To(Equal(http.StatusOK))
				Expect(info.JSON()).To(HaveKeyWithValue("Email", alice.Email))
				users := f.crmUsers(zoho.US, t.AccessToken())
				Expect(users.Status).To(Equal(http.StatusOK))
				Expect(string(users.Body)).To(ContainSubstring(alice.Email))

				a := f.authorize(zoho.US, authParams(web))
				expectCodeRedirect(a)
				Expect(a.Query.Get("location")).To(Equal("eu"))
				Expect(a.Query.Get("accounts-server")).To(Equal(f.AccountsURL(zoho.EU)))

				Expect(f.ScriptConsent(web.ID, fakeserver.Consent{User: "nobody@example.com"})).To(MatchError(ContainSubstring("no user")))
				Expect(f.ScriptConsent("1000.NOSUCHCLIENT000000000000000000")).To(MatchError(ContainSubstring("no client")))
			})

			It("serves the implicit flow to JavaScript clients only", func() {
				js := f.jsClient(zoho.US)
				q := authParams(js)
				q.Set("response_type", "token")
				a := f.authorize(zoho.US, q)
				Expect(a.Status).To(Equal(http.StatusFound))
				Expect(a.Location.Scheme + "://" + a.Location.Host + a.Location.Path).To(Equal(testRedirectURI))
				Expect(a.Location.RawQuery).To(BeEmpty())
				Expect(a.Fragment.Get("access_token")).To(MatchRegexp(zoho.TokenPattern.String()))
				Expect(a.Fragment.Get("expires_in")).To(Equal("3600"))
				Expect(a.Fragment.Get("api_domain")).To(Equal(f.APIURL(zoho.US)))
				Expect(a.Fragment.Get("location")).To(Equal("us"))
				Expect(a.Fragment.Get("state")).To(Equal(testState))
				Expect(a.Fragment).NotTo(HaveKey("refresh_token"))
				Expect(a.Fragment).NotTo(HaveKey("code"))
				f.expectTokenWorks(zoho.US, a.Fragment.Get("access_token"))
				toks, err := f.Tokens("dev@us.zconform.test")
				Expect(err).NotTo(HaveOccurred())
				Expect(toks.RefreshTokens).To(BeEmpty())
				Expect(toks.AccessTokens).To(HaveLen(1))

				q = authParams(web)
				q.Set("response_type", "token")
				expectAuthError(f.authorize(zoho.US, q), zoho.ErrAuthResponseType)
			})

			It("answers PUT and DELETE with a JSON error", func() {
				for _, m := range []string{http.MethodPut, http.MethodDelete} {
					r := f.do(newRequest(m, f.AccountsURL(zoho.US)+"/oauth/v2/auth?"+authParams(web).Encode(), nil))
					Expect(r.Status).To(Equal(http.StatusMethodNotAllowed))
					Expect(r.JSON()).To(HaveKeyWithValue("error", zoho.ErrInvalidRequest))
				}
			})
		})
	}
})

var _ = Describe("The consent page (WithConsentPage)", func() {
	var (
		f     *fake
		web   fakeserver.Client
		alice fakeserver.User
	)
	BeforeEach(func() {
		f = newFake(profileKaizen4, fakeserver.WithConsentPage())
		web = f.webClient(zoho.US)
		alice = f.addUser("alice@example.com", zoho.US)
	})

	post := func(q url.Values) authResult {
		GinkgoHelper()
		req := newRequest(http.MethodPost, f.AccountsURL(zoho.US)+"/oauth/v2/auth", strings.NewReader(q.Encode()))
		req.Header.Set("Content-Type", "application/x-www-form-urlencoded")
		return f.authorizeRequest(req)
	}

	It("shows a form with the client, the scopes, the request and the users", func() {
		a := f.authorize(zoho.US, authParams(web))
		Expect(a.Status).To(Equal(http.StatusOK))
		Expect(a.ContentType()).To(HavePrefix("text/html"))
		body := string(a.Body)
		Expect(body).To(ContainSubstring("zconform web"))
		Expect(body).To(ContainSubstring("<code>ZohoCRM.users.ALL</code>"))
		Expect(body).To(ContainSubstring(`name="client_id" value="` + web.ID + `"`))
		Expect(body).To(ContainSubstring(`name="state" value="` + testState + `"`))
		Expect(body).To(ContainSubstring(alice.Email))
		Expect(body).To(ContainSubstring(`value="dev@us.zconform.test" selected`))
	})

	It("approves as the chosen user and denies with error=access_denied", func() {
		q := authParams(web)
		q.Set("zconform_decision", "approve")
		q.Set("zconform_user", alice.Email)
		t := expectTokens(f.exchange(zoho.US, web, expectCodeRedirect(post(q))))
		Expect(f.userInfo(zoho.US, "Bearer", t.AccessToken()).JSON()).To(HaveKeyWithValue("Email", alice.Email))

		q.Set("zconform_decision", "deny")
		a := post(q)
		Expect(a.Status).To(Equal(http.StatusFound))
		Expect(a.Query).To(Equal(url.Values{"error": {zoho.ErrAccessDenied}, "state": {testState}}))
	})

	It("still checks the request on the form's POST", func() {
		q := authParams(web)
		q.Set("redirect_uri", "https://evil.example.com/cb")
		q.Set("zconform_decision", "approve")
		expectAuthError(post(q), zoho.ErrAuthRedirectURI)
	})

	It("lets a scripted answer go first", func() {
		Expect(f.ScriptConsent(web.ID, fakeserver.Consent{})).To(Succeed())
		f.grant(zoho.US, web)
		Expect(f.authorize(zoho.US, authParams(web)).Status).To(Equal(http.StatusOK))
	})
})

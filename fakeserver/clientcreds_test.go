package fakeserver_test

// Client credentials (ZA-CC-*, docs/zoho-oauth-beyond.md section 2): the
// seed checks and the endpoint's treatment of bad input.

import (
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

const (
	ccOrgID = "600000000001"
	ccSOID  = "ZohoCRM." + ccOrgID
	ccScope = "ZohoCRM.org.READ,ZohoCRM.users.READ"
)

// ccScopeAnswered: which client-credentials answer carries scope under each
// profile (client_credentials_scope), written out by hand as in
// profileFacts: true for the /oauth/v2/auth answer, the token endpoint's.
var ccScopeAnswered = map[string]struct{ auth, token bool }{
	zoho.Kaizen4:      {auth: true, token: false},
	zoho.Accounts2025: {auth: true, token: true},
}

// ccOrg creates the org ccOrgID in dc.
func (f *fake) ccOrg(dc zoho.DC) fakeserver.Org {
	GinkgoHelper()
	o, err := f.AddOrg(fakeserver.OrgSpec{ID: ccOrgID, DC: dc, Name: "Zylker"})
	Expect(err).NotTo(HaveOccurred())
	Expect(o.SOID).To(Equal(ccSOID))
	return o
}

// ccForm is a correct client-credentials request of c at dc.
func ccForm(c fakeserver.Client, dc zoho.DC) url.Values {
	return url.Values{
		"grant_type": {"client_credentials"}, "client_id": {c.ID}, "client_secret": {secretFor(c, dc)},
		"scope": {ccScope}, "soid": {ccSOID},
	}
}

// ccToken posts client credentials to dc's token endpoint.
func (f *fake) ccToken(dc zoho.DC, form url.Values) tokenResult {
	GinkgoHelper()
	return f.tokenCall(dc, form)
}

// ccAuth sends client credentials to dc's authorization endpoint, in the
// query string (GET, as the CRM pages show it) or as a form (POST).
func (f *fake) ccAuth(dc zoho.DC, method string, form url.Values) tokenResult {
	GinkgoHelper()
	u := f.AccountsURL(dc) + "/oauth/v2/auth"
	if method == http.MethodGet {
		return toTokenResult(f.get(u + "?" + form.Encode()))
	}
	return toTokenResult(f.postForm(u, form))
}

// expectCCAnswer asserts a whole client-credentials answer: exactly
// access_token, api_domain (dc's), token_type, expires_in and, when
// withScope, scope (the scopes asked, space-separated); never a refresh
// token.
func (f *fake) expectCCAnswer(t tokenResult, dc zoho.DC, withScope bool) string {
	GinkgoHelper()
	expectTokens(t)
	keys := []string{"access_token", "api_domain", "token_type", "expires_in"}
	if withScope {
		keys = []string{"access_token", "scope", "api_domain", "token_type", "expires_in"}
		Expect(t.Body).To(HaveKeyWithValue("scope", "ZohoCRM.org.READ ZohoCRM.users.READ"))
	}
	Expect(jsonKeys(t.response.Body)).To(Equal(keys), "body: %s", t.Raw())
	Expect(t.Body).NotTo(HaveKey("refresh_token"))
	Expect(t.APIDomain()).To(Equal(f.APIURL(dc)))
	Expect(t.Body).To(HaveKeyWithValue("token_type", "Bearer"))
	Expect(t.Body["expires_in"]).To(Equal(json.Number("3600")))
	return t.AccessToken()
}

// crmOrg calls GET {api}/crm/v8/org with a token.
func (f *fake) crmOrg(dc zoho.DC, token string) response {
	GinkgoHelper()
	req := newRequest(http.MethodGet, f.APIURL(dc)+"/crm/v8/org", nil)
	req.Header.Set("Authorization", "Zoho-oauthtoken "+token)
	return f.do(req)
}

var (
	_ = registerSeedCheck(zoho.CCToken, func(f *fake) {
		sc := f.selfClient(zoho.US, "")
		f.ccOrg(zoho.US)
		tok := f.expectCCAnswer(f.ccToken(zoho.US, ccForm(sc, zoho.US)), zoho.US, ccScopeAnswered[f.p.Name].token)
		// the token works at the API, for the org its soid named
		r := f.crmOrg(zoho.US, tok)
		Expect(r.Status).To(Equal(http.StatusOK), "%s", r.Body)
		orgs, _ := r.JSON()["org"].([]any)
		Expect(orgs).To(HaveLen(1))
		Expect(orgs[0]).To(HaveKeyWithValue("id", ccOrgID))
		f.expectTokenWorks(zoho.US, tok)
		// for the hour: asking again within it gives another token, the
		// first still works; past the hour the first is dead
		f.advance(59 * time.Minute)
		again := f.expectCCAnswer(f.ccToken(zoho.US, ccForm(sc, zoho.US)), zoho.US, ccScopeAnswered[f.p.Name].token)
		Expect(again).NotTo(Equal(tok))
		f.expectTokenWorks(zoho.US, tok)
		f.advance(2 * time.Minute)
		f.expectTokenRejected(zoho.US, tok)
		f.expectTokenWorks(zoho.US, again)
	})

	_ = registerSeedCheck(zoho.CCSoid, func(f *fake) {
		sc := f.selfClient(zoho.US, "")
		f.ccOrg(zoho.US)
		for _, soid := range []string{"-", ""} {
			form := ccForm(sc, zoho.US)
			if soid == "-" {
				form.Del("soid")
			} else {
				form.Set("soid", soid)
			}
			expectTokenError(f.ccToken(zoho.US, form), zoho.ErrMissingOrgInfo)
			expectTokenError(f.ccAuth(zoho.US, http.MethodGet, form), zoho.ErrMissingOrgInfo)
		}
		// a soid that names no org here [assumed]
		for _, soid := range []string{"ZohoCRM.600000000002", "ZohoBooks." + ccOrgID, ccOrgID, "ZohoCRM.", "ZohoCRM.6000x"} {
			form := ccForm(sc, zoho.US)
			form.Set("soid", soid)
			expectTokenError(f.ccToken(zoho.US, form), zoho.ErrInvalidOrgInfo)
		}
		expectTokens(f.ccToken(zoho.US, ccForm(sc, zoho.US)))
	})

	_ = registerSeedCheck(zoho.CCAuth, func(f *fake) {
		sc := f.selfClient(zoho.US, "")
		f.ccOrg(zoho.US)
		for _, method := range []string{http.MethodGet, http.MethodPost} {
			tok := f.expectCCAnswer(f.ccAuth(zoho.US, method, ccForm(sc, zoho.US)), zoho.US, ccScopeAnswered[f.p.Name].auth)
			f.expectTokenWorks(zoho.US, tok)
		}
		// with HTTP Basic instead of the parameters
		form := ccForm(sc, zoho.US)
		form.Del("client_id")
		form.Del("client_secret")
		req := newRequest(http.MethodPost, f.AccountsURL(zoho.US)+"/oauth/v2/auth", strings.NewReader(form.Encode()))
		req.Header.Set("Content-Type", "application/x-www-form-urlencoded")
		req.SetBasicAuth(sc.ID, sc.Secret)
		f.expectCCAnswer(toTokenResult(f.do(req)), zoho.US, ccScopeAnswered[f.p.Name].auth)
		// its errors are the token endpoint's
		form = ccForm(sc, zoho.US)
		form.Set("client_secret", zoho.NewClientSecret())
		expectTokenError(f.ccAuth(zoho.US, http.MethodGet, form), f.p.WrongSecret)
	})

	_ = registerSeedCheck(zoho.CCClient, func(f *fake) {
		f.ccOrg(zoho.US)
		for _, c := range []fakeserver.Client{f.webClient(zoho.US), f.jsClient(zoho.US), f.pkceMobileClient(zoho.US, "")} {
			expectTokenError(f.ccToken(zoho.US, ccForm(c, zoho.US)), zoho.ErrUnauthorizedClient)
			expectTokenError(f.ccAuth(zoho.US, http.MethodGet, ccForm(c, zoho.US)), zoho.ErrUnauthorizedClient)
		}
		expectTokens(f.ccToken(zoho.US, ccForm(f.selfClient(zoho.US, ""), zoho.US)))
	})
)

var _ = Describe("Client credentials", func() {
	for _, p := range allProfiles {
		Context("under "+p.Name, Label("profile:"+p.Name), func() {
			var (
				f  *fake
				sc fakeserver.Client
			)
			BeforeEach(func() {
				f = newFake(p)
				sc = f.selfClient(zoho.US, "")
				f.ccOrg(zoho.US)
			})

			It("checks the client first: an unknown client, a wrong secret, another DC", func() {
				form := ccForm(sc, zoho.US)
				form.Set("client_id", "1000.NOSUCHCLIENT000000000000000000")
				expectTokenError(f.ccToken(zoho.US, form), zoho.ErrInvalidClient)
				form = ccForm(sc, zoho.US)
				form.Set("client_secret", zoho.NewClientSecret())
				expectTokenError(f.ccToken(zoho.US, form), p.WrongSecret)
				form.Del("client_secret")
				expectTokenError(f.ccToken(zoho.US, form), p.WrongSecret)
				// the client's home DC only: the EU knows neither it nor the org
				expectTokenError(f.ccToken(zoho.EU, ccForm(sc, zoho.US)), zoho.ErrInvalidClient)
			})

			It("asks for a scope it knows", func() {
				form := ccForm(sc, zoho.US)
				form.Del("scope")
				expectTokenError(f.ccToken(zoho.US, form), zoho.ErrInvalidRequest)
				form.Set("scope", "ZohoCRM.user.ALL")
				expectTokenError(f.ccToken(zoho.US, form), zoho.ErrInvalidScope)
			})

			It("names an org of the client's DC", func() {
				eu := f.selfClient(zoho.EU, "")
				expectTokenError(f.ccToken(zoho.EU, ccForm(eu, zoho.EU)), zoho.ErrInvalidOrgInfo)
				o, err := f.AddOrg(fakeserver.OrgSpec{DC: zoho.EU})
				Expect(err).NotTo(HaveOccurred())
				form := ccForm(eu, zoho.EU)
				form.Set("soid", o.SOID)
				tok := f.expectCCAnswer(f.ccToken(zoho.EU, form), zoho.EU, ccScopeAnswered[p.Name].token)
				f.expectTokenWorks(zoho.EU, tok)
				f.expectTokenRejected(zoho.US, tok)
			})

			It("takes the parameters in the query string, a form, multipart or HTTP Basic", func() {
				tokenURL := f.AccountsURL(zoho.US) + "/oauth/v2/token"
				expectTokens(toTokenResult(f.do(newRequest(http.MethodPost, tokenURL+"?"+ccForm(sc, zoho.US).Encode(), nil))))
				body, ctype := multipartBody(ccForm(sc, zoho.US))
				req := newRequest(http.MethodPost, tokenURL, body)
				req.Header.Set("Content-Type", ctype)
				expectTokens(toTokenResult(f.do(req)))
				form := ccForm(sc, zoho.US)
				form.Del("client_secret")
				req = newRequest(http.MethodPost, tokenURL, strings.NewReader(form.Encode()))
				req.Header.Set("Content-Type", "application/x-www-form-urlencoded")
				req.SetBasicAuth(sc.ID, sc.Secret)
				expectTokens(toTokenResult(f.do(req)))
			})

			It("answers bad input as the token endpoint does: wrong method, duplicates, oversized bodies, never 5xx", func() {
				tokenURL := f.AccountsURL(zoho.US) + "/oauth/v2/token"
				r := f.get(tokenURL + "?" + ccForm(sc, zoho.US).Encode())
				Expect(r.Status).To(Equal(http.StatusMethodNotAllowed))
				Expect(r.JSON()).To(HaveKeyWithValue("error", zoho.ErrInvalidRequest))
				// /oauth/v2/auth takes GET and POST only
				req := newRequest(http.MethodPut, f.AccountsURL(zoho.US)+"/oauth/v2/auth?"+ccForm(sc, zoho.US).Encode(), nil)
				Expect(f.do(req).Status).To(Equal(http.StatusMethodNotAllowed))
				// the first value of a duplicated parameter counts
				dup := ccForm(sc, zoho.US).Encode() + "&soid=ZohoCRM.1&client_id=1000.BOGUS"
				req = newRequest(http.MethodPost, tokenURL, strings.NewReader(dup))
				req.Header.Set("Content-Type", "application/x-www-form-urlencoded")
				expectTokens(toTokenResult(f.do(req)))
				dup = "soid=ZohoCRM.1&" + ccForm(sc, zoho.US).Encode()
				req = newRequest(http.MethodPost, tokenURL, strings.NewReader(dup))
				req.Header.Set("Content-Type", "application/x-www-form-urlencoded")
				expectTokenError(toTokenResult(f.do(req)), zoho.ErrInvalidOrgInfo)
				// over 64 KiB
				big := ccForm(sc, zoho.US)
				big.Set("pad", strings.Repeat("x", 70<<10))
				for _, u := range []string{tokenURL, f.AccountsURL(zoho.US) + "/oauth/v2/auth"} {
					r := f.postForm(u, big)
					Expect(r.Status).To(Equal(http.StatusRequestEntityTooLarge), "%s", u)
					Expect(r.JSON()).To(HaveKeyWithValue("error", zoho.ErrInvalidRequest))
				}
				// garbage values: Zoho-shaped errors
				for _, kv := range [][2]string{{"client_id", "\xff"}, {"soid", "ZohoCRM.\xff"}, {"scope", "\x00"}, {"soid", strings.Repeat("9", 40)}} {
					form := ccForm(sc, zoho.US)
					form.Set(kv[0], kv[1])
					t := f.ccToken(zoho.US, form)
					Expect(t.Status).To(Equal(http.StatusOK))
					Expect(t.Err()).NotTo(BeEmpty(), "%s=%q: %s", kv[0], kv[1], t.Raw())
				}
			})

			It("keeps the authorization endpoint an authorization endpoint for everything else", func() {
				web := f.webClient(zoho.US)
				q := authParams(web)
				q.Set("grant_type", "authorization_code")
				expectCodeRedirect(f.authorize(zoho.US, q))
				expectAuthError(f.authorize(zoho.US, url.Values{"grant_type": {"client_credentials_x"}}), zoho.ErrAuthResponseType)
			})

			It("lists its tokens as the developer's tokens without a refresh token", func() {
				tok := f.expectCCAnswer(f.ccToken(zoho.US, ccForm(sc, zoho.US)), zoho.US, ccScopeAnswered[p.Name].token)
				ut, err := f.Tokens(sc.User)
				Expect(err).NotTo(HaveOccurred())
				Expect(ut.AccessTokens).To(HaveLen(1))
				Expect(ut.AccessTokens[0].Token).To(Equal(tok))
				Expect(f.userInfo(zoho.US, "Bearer", tok).Status).To(Equal(http.StatusOK))
			})
		})
	}
})

var _ = Describe("Orgs", func() {
	var f *fake
	BeforeEach(func() { f = newFake(profileKaizen4) })

	It("are made in Go, with defaults and refusals that say what to do", func() {
		o, err := f.AddOrg(fakeserver.OrgSpec{})
		Expect(err).NotTo(HaveOccurred())
		Expect(o.Service).To(Equal("ZohoCRM"))
		Expect(o.DC).To(Equal(zoho.US))
		Expect(o.SOID).To(Equal("ZohoCRM." + o.ID))
		Expect(o.ID).To(MatchRegexp(`^[1-9][0-9]+$`))
		for spec, msg := range map[fakeserver.OrgSpec]string{
			{ID: "0123"}:            "digits only",
			{ID: "12ab"}:            "digits only",
			{ID: o.ID}:              "exists already",
			{Service: "Zoho CRM"}:   "service",
			{DC: "mars"}:            "unknown data centre",
			{ID: "1", Service: "."}: "service",
		} {
			_, err := f.AddOrg(spec)
			Expect(err).To(MatchError(ContainSubstring(msg)), "%+v", spec)
		}
		Expect(f.Orgs()).To(Equal([]fakeserver.Org{o}))
	})

	It("are made by the control API", func() {
		var o fakeserver.Org
		f.ctlOK(http.MethodPost, "/orgs", `{"id":"600000000007","service":"ZohoCRM","dc":"eu","name":"Zylker EU"}`, &o)
		Expect(o).To(Equal(fakeserver.Org{ID: "600000000007", Service: "ZohoCRM", DC: zoho.EU, Name: "Zylker EU", SOID: "ZohoCRM.600000000007"}))
		var all []fakeserver.Org
		f.ctlOK(http.MethodGet, "/orgs", "", &all)
		Expect(all).To(Equal([]fakeserver.Org{o}))
		r := f.ctl(http.MethodPost, "/orgs", `{"id":"600000000007"}`)
		Expect(r.Status).To(Equal(http.StatusBadRequest))
		Expect(r.JSON()["error"]).To(ContainSubstring("exists already"))
		r = f.ctl(http.MethodPost, "/orgs", `{"org":"x"}`)
		Expect(r.Status).To(Equal(http.StatusBadRequest))
	})

	It("are made by a seed file, each problem at its line", func() {
		seed := "orgs:\n  - {id: \"600000000001\", service: ZohoCRM, dc: us}\n  - {id: 600000000002, dc: eu, name: Zylker EU}\n"
		s, err := fakeserver.ParseSeed("seed.yaml", []byte(seed))
		Expect(err).NotTo(HaveOccurred())
		Expect(f.ApplySeed(s)).To(Succeed())
		Expect(f.Orgs()).To(HaveLen(2))
		Expect(f.Orgs()[1]).To(Equal(fakeserver.Org{ID: "600000000002", Service: "ZohoCRM", DC: zoho.EU, Name: "Zylker EU", SOID: "ZohoCRM.600000000002"}))

		_, err = fakeserver.ParseSeed("bad.yaml", []byte("orgs:\n  - {id: \"x1\"}\n  - {dc: mars}\n  - {service: [a]}\n"))
		Expect(err).To(HaveOccurred())
		msg := err.Error()
		Expect(msg).To(ContainSubstring("bad.yaml:2: org 1: org ID \"x1\" is not an org ID"))
		Expect(msg).To(ContainSubstring("bad.yaml:3: org 2"))
		Expect(msg).To(ContainSubstring("bad.yaml:4: org 3"))
		// a clash with the server's own orgs is refused whole
		s, err = fakeserver.ParseSeed("again.yaml", []byte("users: [{email: x@example.com}]\norgs: [{id: \"600000000001\"}]\n"))
		Expect(err).NotTo(HaveOccurred())
		Expect(f.ApplySeed(s)).To(MatchError(ContainSubstring("again.yaml:2: org 1: org 600000000001 exists already")))
		Expect(f.Users()).To(BeEmpty())
	})
})

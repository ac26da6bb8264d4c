package fakeserver_test

// The API side (docs/zoho-oauth-beyond.md section 6): both Authorization
// schemes and never the query (ZA-API-HEADER), the exact 401 bodies
// (ZA-API-401), scopes per endpoint (ZA-API-SCOPE), another DC's token
// (ZA-API-OTHERDC).

import (
	"net/http"
	"net/url"

	. "github.com/onsi/ginkgo/v2"
	. "github.com/onsi/gomega"

	"github.com/zconform/zconform/fakeserver"
	"github.com/zconform/zconform/fixtures/zoho"
)

var (
	authenticationFailureBody = map[string]any{"code": "AUTHENTICATION_FAILURE", "details": map[string]any{}, "message": "Authentication failed", "status": "error"}
	scopeMismatchBody         = map[string]any{"code": "OAUTH_SCOPE_MISMATCH", "details": map[string]any{}, "message": "invalid oauth scope to access this URL", "status": "error"}
)

// callAPI calls GET {api}{path} at dc's API domain with an Authorization
// header ("" for none).
func (f *fake) callAPI(dc zoho.DC, path, authorization string) response {
	GinkgoHelper()
	req := newRequest(http.MethodGet, f.APIURL(dc)+path, nil)
	if authorization != "" {
		req.Header.Set("Authorization", authorization)
	}
	return f.do(req)
}

// expectAPIError asserts HTTP 401 with exactly body.
func expectAPIError(r response, body map[string]any) {
	GinkgoHelper()
	Expect(r.Status).To(Equal(http.StatusUnauthorized), "body: %s", r.Body)
	Expect(r.ContentType()).To(Equal("application/json;charset=UTF-8"))
	Expect(r.JSON()).To(Equal(body))
}

// scopedToken runs a code flow for web with the scope and returns the
// access token (offline: the refresh token's scopes; online: the token's own).
func (f *fake) scopedToken(web fakeserver.Client, scope string, offline bool) tokenResult {
	GinkgoHelper()
	q := authParams(web)
	q.Set("scope", scope)
	if !offline {
		q.Set("access_type", "online")
	}
	return expectTokens(f.exchange(zoho.US, web, f.grantQ(zoho.US, q)))
}

const (
	usersPath = "/crm/v8/users?type=CurrentUser"
	orgPath   = "/crm/v8/org"
)

var (
	_ = registerSeedCheck(zoho.APIHeader, func(f *fake) {
		web := f.webClient(zoho.US)
		t := f.offlineTokens(zoho.US, web)
		for _, scheme := range []string{"Zoho-oauthtoken", "Bearer", "bearer", "zoho-oauthtoken"} {
			r := f.callAPI(zoho.US, usersPath, scheme+" "+t.AccessToken())
			Expect(r.Status).To(Equal(http.StatusOK), "%s: %s", scheme, r.Body)
			Expect(f.userInfo(zoho.US, scheme, t.AccessToken()).Status).To(Equal(http.StatusOK), scheme)
		}
		// a token in the query string is never read
		for _, key := range []string{"access_token", "authtoken"} {
			expectAPIError(f.callAPI(zoho.US, usersPath+"&"+url.Values{key: {t.AccessToken()}}.Encode(), ""), authenticationFailureBody)
			expectAPIError(f.callAPI(zoho.US, orgPath+"?"+url.Values{key: {t.AccessToken()}}.Encode(), ""), authenticationFailureBody)
		}
	})

	_ = registerSeedCheck(zoho.API401, func(f *fake) {
		web := f.webClient(zoho.US)
		t := f.offlineTokens(zoho.US, web)
		expectAPIError(f.callAPI(zoho.US, usersPath, ""), authenticationFailureBody)
		expectAPIError(f.callAPI(zoho.US, orgPath, "Basic "+t.AccessToken()), authenticationFailureBody)
		expectAPIError(f.callAPI(zoho.US, usersPath, "Zoho-oauthtoken "+zoho.NewToken()), invalidTokenBody)
		expectAPIError(f.callAPI(zoho.US, orgPath, "Bearer "+t.RefreshToken()), invalidTokenBody)
		r := f.userInfo(zoho.US, "Zoho-oauthtoken", "nonsense")
		expectAPIError(r, invalidTokenBody)
		f.expectTokenWorks(zoho.US, t.AccessToken())
	})

	_ = registerSeedCheck(zoho.APIScope, func(f *fake) {
		web := f.webClient(zoho.US)
		works := func(path, token string) {
			GinkgoHelper()
			r := f.callAPI(zoho.US, path, "Zoho-oauthtoken "+token)
			Expect(r.Status).To(Equal(http.StatusOK), "%s: %s", path, r.Body)
		}
		for _, offline := range []bool{true, false} {
			users := f.scopedToken(web, "ZohoCRM.users.ALL", offline).AccessToken()
			works(usersPath, users)
			expectAPIError(f.callAPI(zoho.US, orgPath, "Zoho-oauthtoken "+users), scopeMismatchBody)
			org := f.scopedToken(web, "ZohoCRM.org.READ", offline).AccessToken()
			works(orgPath, org)
			expectAPIError(f.callAPI(zoho.US, usersPath, "Bearer "+org), scopeMismatchBody)
		}
		// READ is enough; ALL covers READ; a scope of another name is not enough
		works(usersPath, f.scopedToken(web, "ZohoCRM.users.READ", true).AccessToken())
		works(orgPath, f.scopedToken(web, "ZohoCRM.org.ALL", true).AccessToken())
		t := f.scopedToken(web, "ZohoCRM.settings.ALL,ZohoCRM.modules.ALL", true)
		expectAPIError(f.callAPI(zoho.US, usersPath, "Zoho-oauthtoken "+t.AccessToken()), scopeMismatchBody)
		expectAPIError(f.callAPI(zoho.US, orgPath, "Zoho-oauthtoken "+t.AccessToken()), scopeMismatchBody)
		// a refresh keeps the refresh token's scopes
		works(usersPath, f.mintAccess(zoho.US, web, f.scopedToken(web, "ZohoCRM.users.READ", true).RefreshToken(), 1)[0])
		// the implicit flow's and a self client's tokens, likewise
		js := f.jsClient(zoho.US)
		frag := f.authorize(zoho.US, implicitParams(js, "AaaServer.profile.READ")).Fragment
		expectAPIError(f.callAPI(zoho.US, usersPath, "Zoho-oauthtoken "+frag.Get("access_token")), scopeMismatchBody)
		sc := f.selfClient(zoho.US, "")
		self := expectTokens(f.exchange(zoho.US, sc, f.selfCode(sc, 0, "ZohoCRM.org.ALL")))
		works(orgPath, self.AccessToken())
		expectAPIError(f.callAPI(zoho.US, usersPath, "Zoho-oauthtoken "+self.AccessToken()), scopeMismatchBody)
		// a bad token is INVALID_TOKEN before any scope is looked at
		expectAPIError(f.callAPI(zoho.US, orgPath, "Zoho-oauthtoken "+zoho.NewToken()), invalidTokenBody)
	})

	_ = registerSeedCheck(zoho.APIOtherDC, func(f *fake) {
		web := f.webClient(zoho.US)
		t := f.offlineTokens(zoho.US, web)
		f.expectTokenWorks(zoho.US, t.AccessToken())
		for _, dc := range []zoho.DC{zoho.EU, zoho.IN, zoho.CN} {
			f.expectTokenRejected(dc, t.AccessToken())
		}
		// an EU user's token, through the US client: the EU API only
		eu := f.addUser("api-eu@example.com", zoho.EU)
		Expect(f.ScriptConsent(web.ID, fakeserver.Consent{User: eu.Email})).To(Succeed())
		g := f.grantPatiently(zoho.US, web)
		_, err := f.EnableMultiDC(web.ID, zoho.EU, fakeserver.MultiDC{})
		Expect(err).NotTo(HaveOccurred())
		et := expectTokens(f.exchange(zoho.EU, web, g))
		Expect(et.APIDomain()).To(Equal(f.APIURL(zoho.EU)))
		f.expectTokenWorks(zoho.EU, et.AccessToken())
		f.expectTokenRejected(zoho.US, et.AccessToken())
	})
)

var _ = Describe("The API's scope check", func() {
	It("takes scopes in any letter case", func() {
		f := newFake(profileKaizen4)
		web := f.webClient(zoho.US)
		f.AddScopes("ZohoCRM.Users.read")
		t := f.scopedToken(web, "ZohoCRM.Users.read", true)
		Expect(f.callAPI(zoho.US, usersPath, "Zoho-oauthtoken "+t.AccessToken()).Status).To(Equal(http.StatusOK))
	})
})

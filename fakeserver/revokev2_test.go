package fakeserver_test

// The newer revoke endpoint (ZA-REVOKE-V2) and serverinfo (ZA-SERVERINFO),
// docs/zoho-oauth-beyond.md section 5: the seed checks and the endpoints'
// treatment of bad input.

import (
	"encoding/base64"
	"encoding/json"
	"net/http"
	"net/url"
	"strings"

	. "github.com/onsi/ginkgo/v2"
	. "github.com/onsi/gomega"

	"github.com/zconform/zconform/fakeserver"
	"github.com/zconform/zconform/fixtures/zoho"
)

// basicOf is an Authorization header of HTTP Basic for id and secret.
func basicOf(id, secret string) string {
	return "Basic " + base64.StdEncoding.EncodeToString([]byte(id+":"+secret))
}

// revokeV2Call posts {AS}/oauth/v2/revoke/token?token=…&token_type=… with
// the Authorization header auth ("" for none).
func (f *fake) revokeV2Call(dc zoho.DC, token, tokenType, auth string) tokenResult {
	GinkgoHelper()
	q := url.Values{"token": {token}, "token_type": {tokenType}}
	req := newRequest(http.MethodPost, f.AccountsURL(dc)+"/oauth/v2/revoke/token?"+q.Encode(), nil)
	if auth != "" {
		req.Header.Set("Authorization", auth)
	}
	return toTokenResult(f.do(req))
}

// expectRevokeFailure asserts HTTP status and {"status":"failure","error":code}.
func expectRevokeFailure(t tokenResult, status int, code string) {
	GinkgoHelper()
	Expect(t.Status).To(Equal(status), "body: %s", t.Raw())
	Expect(t.Body).To(Equal(map[string]any{"status": "failure", "error": code}), "body: %s", t.Raw())
}

func expectRevoked(t tokenResult) {
	GinkgoHelper()
	Expect(t.Status).To(Equal(http.StatusOK), "body: %s", t.Raw())
	Expect(t.Body).To(Equal(map[string]any{"status": "success"}))
}

// implicitToken runs the implicit flow for a JavaScript client at US.
func (f *fake) implicitToken(js fakeserver.Client) string {
	GinkgoHelper()
	q := authParams(js)
	q.Set("response_type", "token")
	a := f.authorize(zoho.US, q)
	Expect(a.Status).To(Equal(http.StatusFound), "page: %s", a.Body)
	tok := a.Fragment.Get("access_token")
	Expect(tok).To(MatchRegexp(zoho.TokenPattern.String()))
	return tok
}

// serverInfo calls GET {AS}/oauth/serverinfo at dc.
func (f *fake) serverInfo(dc zoho.DC) response {
	GinkgoHelper()
	return f.get(f.AccountsURL(dc) + "/oauth/serverinfo")
}

// wantServerInfo is the whole serverinfo answer as the listener serves it.
func (f *fake) wantServerInfo() map[string]any {
	locations := map[string]any{}
	for _, d := range zoho.DataCentres() {
		locations[string(d.DC)] = f.AccountsURL(d.DC)
	}
	return map[string]any{"result": "success", "locations": locations}
}

var (
	_ = registerSeedCheck(zoho.RevokeV2, func(f *fake) {
		web := f.webClient(zoho.US)
		basic := basicOf(web.ID, web.Secret)
		// a refresh token, with its access tokens
		t := f.offlineTokens(zoho.US, web)
		expectRevoked(f.revokeV2Call(zoho.US, t.RefreshToken(), "refresh_token", basic))
		expectTokenError(f.refresh(zoho.US, web, t.RefreshToken()), zoho.ErrInvalidCode)
		f.expectTokenRejected(zoho.US, t.AccessToken())
		// an access token alone: its refresh token lives on
		t = f.offlineTokens(zoho.US, web)
		expectRevoked(f.revokeV2Call(zoho.US, t.AccessToken(), "access_token", basic))
		f.expectTokenRejected(zoho.US, t.AccessToken())
		expectTokens(f.refresh(zoho.US, web, t.RefreshToken()))
		// the client must authenticate: none, a wrong secret, another client
		other := f.webClient(zoho.US)
		for _, auth := range []string{"", basicOf(web.ID, zoho.NewClientSecret()), basicOf(web.ID, ""), basicOf("1000.NOSUCHCLIENT000000000000000000", web.Secret), "Bearer " + t.AccessToken(), "Basic %%%"} {
			expectRevokeFailure(f.revokeV2Call(zoho.US, t.RefreshToken(), "refresh_token", auth), http.StatusUnauthorized, zoho.ErrInvalidClient)
		}
		expectRevokeFailure(f.revokeV2Call(zoho.US, t.RefreshToken(), "refresh_token", basicOf(other.ID, other.Secret)), http.StatusBadRequest, zoho.ErrInvalidToken)
		expectTokens(f.refresh(zoho.US, web, t.RefreshToken()))
		// a client-based (JavaScript) app sends no secret
		js := f.jsClient(zoho.US)
		tok := f.implicitToken(js)
		expectRevoked(f.revokeV2Call(zoho.US, tok, "access_token", basicOf(js.ID, "")))
		f.expectTokenRejected(zoho.US, tok)
		tok = f.implicitToken(js)
		expectRevoked(f.revokeV2Call(zoho.US, tok, "access_token", "Basic "+base64.StdEncoding.EncodeToString([]byte(js.ID))))
		// the older endpoint stays
		t = f.offlineTokens(zoho.US, web)
		r := f.revoke(zoho.US, t.RefreshToken())
		expectRevoked(r)
	})

	_ = registerSeedCheck(zoho.ServerInfo, func(f *fake) {
		for _, dc := range []zoho.DC{zoho.US, zoho.EU, zoho.CN} {
			r := f.serverInfo(dc)
			Expect(r.Status).To(Equal(http.StatusOK))
			Expect(r.ContentType()).To(Equal("application/json;charset=UTF-8"))
			Expect(r.JSON()).To(Equal(f.wantServerInfo()), "at %s", dc)
		}
	})
)

var _ = Describe("The newer revoke endpoint", func() {
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

			It("needs token and token_type, and knows two token types", func() {
				t := f.offlineTokens(zoho.US, web)
				basic := basicOf(web.ID, web.Secret)
				expectRevokeFailure(f.revokeV2Call(zoho.US, "", "refresh_token", basic), http.StatusBadRequest, zoho.ErrInvalidRequest)
				expectRevokeFailure(f.revokeV2Call(zoho.US, t.RefreshToken(), "", basic), http.StatusBadRequest, zoho.ErrInvalidRequest)
				expectRevokeFailure(f.revokeV2Call(zoho.US, t.RefreshToken(), "id_token", basic), http.StatusBadRequest, zoho.ErrUnsupportedTokenType)
				// the token must be of the type named
				expectRevokeFailure(f.revokeV2Call(zoho.US, t.RefreshToken(), "access_token", basic), http.StatusBadRequest, zoho.ErrInvalidToken)
				expectRevokeFailure(f.revokeV2Call(zoho.US, t.AccessToken(), "refresh_token", basic), http.StatusBadRequest, zoho.ErrInvalidToken)
				expectRevokeFailure(f.revokeV2Call(zoho.US, zoho.NewToken(), "refresh_token", basic), http.StatusBadRequest, zoho.ErrInvalidToken)
				expectRevoked(f.revokeV2Call(zoho.US, t.RefreshToken(), "refresh_token", basic))
				// twice: the second time it is unknown
				expectRevokeFailure(f.revokeV2Call(zoho.US, t.RefreshToken(), "refresh_token", basic), http.StatusBadRequest, zoho.ErrInvalidToken)
			})

			It("revokes at the app's home DC, or the DC that issued the token", func() {
				eve := f.addUser("eve@example.eu", zoho.EU)
				secret, err := f.EnableMultiDC(web.ID, zoho.EU, fakeserver.MultiDC{SeparateSecret: true})
				Expect(err).NotTo(HaveOccurred())
				Expect(f.ScriptConsent(web.ID, fakeserver.Consent{User: eve.Email}, fakeserver.Consent{User: eve.Email})).To(Succeed())
				var rts []string
				for range 2 {
					a := f.authorize(zoho.US, authParams(web))
					Expect(a.Query.Get("location")).To(Equal("eu"))
					form := exchangeForm(web, zoho.EU, a.Code())
					form.Set("client_secret", secret)
					rts = append(rts, expectTokens(f.tokenCall(zoho.EU, form)).RefreshToken())
				}
				// the home DC (US) revokes the EU user's token
				expectRevoked(f.revokeV2Call(zoho.US, rts[0], "refresh_token", basicOf(web.ID, web.Secret)))
				// the EU, where the app is enabled, revokes what it issued, with its own secret
				expectRevokeFailure(f.revokeV2Call(zoho.EU, rts[1], "refresh_token", basicOf(web.ID, web.Secret)), http.StatusUnauthorized, zoho.ErrInvalidClient)
				expectRevoked(f.revokeV2Call(zoho.EU, rts[1], "refresh_token", basicOf(web.ID, secret)))
				// a DC where the app is not enabled knows no such client
				t := f.offlineTokens(zoho.US, web)
				expectRevokeFailure(f.revokeV2Call(zoho.IN, t.RefreshToken(), "refresh_token", basicOf(web.ID, web.Secret)), http.StatusUnauthorized, zoho.ErrInvalidClient)
				// the EU cannot revoke what the US issued
				expectRevokeFailure(f.revokeV2Call(zoho.EU, t.RefreshToken(), "refresh_token", basicOf(web.ID, secret)), http.StatusBadRequest, zoho.ErrInvalidToken)
			})

			It("revokes a client-credentials token", func() {
				sc := f.selfClient(zoho.US, "")
				f.ccOrg(zoho.US)
				tok := expectTokens(f.ccToken(zoho.US, ccForm(sc, zoho.US))).AccessToken()
				expectRevoked(f.revokeV2Call(zoho.US, tok, "access_token", basicOf(sc.ID, sc.Secret)))
				f.expectTokenRejected(zoho.US, tok)
			})

			It("answers bad input with Zoho-shaped errors, never 5xx", func() {
				t := f.offlineTokens(zoho.US, web)
				u := f.AccountsURL(zoho.US) + "/oauth/v2/revoke/token"
				r := f.get(u + "?token=" + t.RefreshToken() + "&token_type=refresh_token")
				Expect(r.Status).To(Equal(http.StatusMethodNotAllowed))
				Expect(r.JSON()).To(HaveKeyWithValue("error", zoho.ErrInvalidRequest))
				// parameters in a form body; the first of duplicates counts
				form := url.Values{"token": {t.AccessToken(), t.RefreshToken()}, "token_type": {"access_token", "refresh_token"}}
				req := newRequest(http.MethodPost, u, strings.NewReader(form.Encode()))
				req.Header.Set("Content-Type", "application/x-www-form-urlencoded")
				req.Header.Set("Authorization", basicOf(web.ID, web.Secret))
				expectRevoked(toTokenResult(f.do(req)))
				f.expectTokenRejected(zoho.US, t.AccessToken())
				expectTokens(f.refresh(zoho.US, web, t.RefreshToken()))
				// over 64 KiB
				big := url.Values{"token": {t.RefreshToken()}, "token_type": {"refresh_token"}, "pad": {strings.Repeat("x", 70<<10)}}
				req = newRequest(http.MethodPost, u, strings.NewReader(big.Encode()))
				req.Header.Set("Content-Type", "application/x-www-form-urlencoded")
				req.Header.Set("Authorization", basicOf(web.ID, web.Secret))
				r = f.do(req)
				Expect(r.Status).To(Equal(http.StatusRequestEntityTooLarge))
				Expect(r.JSON()).To(HaveKeyWithValue("error", zoho.ErrInvalidRequest))
				// garbage
				for _, auth := range []string{"Basic", "Basic  ", "basic " + base64.StdEncoding.EncodeToString([]byte(":")), "Basic " + base64.StdEncoding.EncodeToString([]byte("\xff:\xfe"))} {
					expectRevokeFailure(f.revokeV2Call(zoho.US, t.RefreshToken(), "refresh_token", auth), http.StatusUnauthorized, zoho.ErrInvalidClient)
				}
				expectRevokeFailure(f.revokeV2Call(zoho.US, "\xff", "refresh_token\x00", basicOf(web.ID, web.Secret)), http.StatusBadRequest, zoho.ErrUnsupportedTokenType)
				// the scheme in any letter case, unpadded base64 too
				raw := base64.RawStdEncoding.EncodeToString([]byte(web.ID + ":" + web.Secret))
				expectRevoked(f.revokeV2Call(zoho.US, t.RefreshToken(), "refresh_token", "basic "+raw))
			})
		})
	}
})

var _ = Describe("Server info", func() {
	It("answers GET (and HEAD) only, on the real hosts through the in-process transport", func() {
		f := newFake(profileKaizen4)
		req := newRequest(http.MethodPost, f.AccountsURL(zoho.US)+"/oauth/serverinfo", nil)
		r := f.do(req)
		Expect(r.Status).To(Equal(http.StatusMethodNotAllowed))
		Expect(r.JSON()).To(HaveKeyWithValue("error", zoho.ErrInvalidRequest))
		Expect(f.do(newRequest(http.MethodHead, f.AccountsURL(zoho.US)+"/oauth/serverinfo", nil)).Status).To(Equal(http.StatusOK))

		hc := f.HTTPClient()
		resp, err := hc.Get("https://accounts.zoho.eu/oauth/serverinfo")
		Expect(err).NotTo(HaveOccurred())
		defer resp.Body.Close()
		Expect(resp.StatusCode).To(Equal(http.StatusOK))
		var body struct {
			Result    string            `json:"result"`
			Locations map[string]string `json:"locations"`
		}
		Expect(json.NewDecoder(resp.Body).Decode(&body)).To(Succeed())
		Expect(body.Result).To(Equal("success"))
		Expect(body.Locations).To(HaveLen(len(zoho.DataCentres())))
		for _, d := range zoho.DataCentres() {
			Expect(body.Locations).To(HaveKeyWithValue(string(d.DC), d.AccountsURL()))
		}
	})
})

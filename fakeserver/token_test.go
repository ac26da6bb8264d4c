package fakeserver_test

import (
	"bytes"
	"encoding/json"
	"mime/multipart"
	"net/http"
	"net/url"
	"strings"
	"time"

	. "github.com/onsi/ginkgo/v2"
	. "github.com/onsi/gomega"

	"github.com/zconform/zconform/fakeserver"
	"github.com/zconform/zconform/fixtures/zoho"
)

var (
	_ = registerSeedCheck(zoho.TokenClientA, func(f *fake) {
		web := f.webClient(zoho.US)
		for _, id := range []string{"1000.NOSUCHCLIENT000000000000000000", "", "garbage"} {
			form := exchangeForm(web, zoho.US, f.grant(zoho.US, web))
			form.Set("client_id", id)
			expectTokenError(f.tokenCall(zoho.US, form), zoho.ErrInvalidClient)
		}
		for _, secret := range []string{zoho.NewClientSecret(), "", strings.ToUpper(web.Secret)} {
			form := exchangeForm(web, zoho.US, f.grantPatiently(zoho.US, web))
			form.Set("client_secret", secret)
			expectTokenError(f.tokenCall(zoho.US, form), f.p.WrongSecret)
		}
		// the same at the refresh
		t := f.offlineTokens(zoho.US, web)
		form := refreshForm(web, zoho.US, t.RefreshToken())
		form.Set("client_secret", zoho.NewClientSecret())
		expectTokenError(f.tokenCall(zoho.US, form), f.p.WrongSecret)
		form.Set("client_id", "1000.NOSUCHCLIENT000000000000000000")
		expectTokenError(f.tokenCall(zoho.US, form), zoho.ErrInvalidClient)
		expectTokens(f.refresh(zoho.US, web, t.RefreshToken()))
	})

	_ = registerSeedCheck(zoho.TokenCodeA, func(f *fake) {
		web := f.webClient(zoho.US)
		code := f.grant(zoho.US, web)
		f.advance(f.p.GrantLifetime + time.Second)
		expectTokenError(f.exchange(zoho.US, web, code), zoho.ErrInvalidCode)
		sc := f.selfClient(zoho.US, "")
		code = f.selfCode(sc, 3*time.Minute)
		f.advance(3*time.Minute + time.Second)
		expectTokenError(f.exchange(zoho.US, sc, code), zoho.ErrInvalidCode)
		// a day later, the same
		code = f.grant(zoho.US, web)
		f.advance(24 * time.Hour)
		expectTokenError(f.exchange(zoho.US, web, code), zoho.ErrInvalidCode)
	})

	_ = registerSeedCheck(zoho.TokenCodeB, func(f *fake) {
		web := f.webClient(zoho.US)
		code := f.grant(zoho.US, web)
		first := expectTokens(f.exchange(zoho.US, web, code))
		expectTokenError(f.exchange(zoho.US, web, code), zoho.ErrInvalidCode)
		expectTokenError(f.exchange(zoho.US, web, code), zoho.ErrInvalidCode)
		// the failed reuse does not touch the tokens of the first exchange
		f.expectTokenWorks(zoho.US, first.AccessToken())
		expectTokens(f.refresh(zoho.US, web, first.RefreshToken()))
		sc := f.selfClient(zoho.US, "")
		code = f.selfCode(sc, 0)
		expectTokens(f.exchange(zoho.US, sc, code))
		expectTokenError(f.exchange(zoho.US, sc, code), zoho.ErrInvalidCode)
	})

	_ = registerSeedCheck(zoho.TokenCodeC, func(f *fake) {
		web := f.webClient(zoho.US)
		t := f.offlineTokens(zoho.US, web)
		for _, wrong := range []string{zoho.NewToken(), t.AccessToken(), t.RefreshToken() + "x", "nonsense"} {
			expectTokenError(f.refresh(zoho.US, web, wrong), zoho.ErrInvalidCode)
		}
		// another client's refresh token is wrong for this one
		other := f.webClient(zoho.US)
		expectTokenError(f.refresh(zoho.US, other, t.RefreshToken()), zoho.ErrInvalidCode)
		expectTokens(f.refresh(zoho.US, web, t.RefreshToken()))
		// revoked over HTTP
		r := f.revoke(zoho.US, t.RefreshToken())
		Expect(r.Status).To(Equal(http.StatusOK))
		expectTokenError(f.refresh(zoho.US, web, t.RefreshToken()), zoho.ErrInvalidCode)
		// revoked through the Go API
		t2 := f.offlineTokens(zoho.US, web)
		Expect(f.Revoke(t2.RefreshToken())).To(BeTrue())
		expectTokenError(f.refresh(zoho.US, web, t2.RefreshToken()), zoho.ErrInvalidCode)
	})

	_ = registerSeedCheck(zoho.TokenRedirect, func(f *fake) {
		web := f.webClient(zoho.US)
		for _, uri := range []string{"https://app.example.com/other", testRedirectURI + "/", "", "https://evil.example.com/callback"} {
			form := exchangeForm(web, zoho.US, f.grantPatiently(zoho.US, web))
			if uri == "" {
				form.Del("redirect_uri")
			} else {
				form.Set("redirect_uri", uri)
			}
			expectTokenError(f.tokenCall(zoho.US, form), zoho.ErrInvalidRedirectURI)
		}
		expectTokens(f.exchange(zoho.US, web, f.grantPatiently(zoho.US, web)))
	})

	_ = registerSeedCheck(zoho.Note1, func(f *fake) {
		web := f.webClient(zoho.US)
		early, late := f.grant(zoho.US, web), f.grant(zoho.US, web)
		f.advance(f.p.GrantLifetime - time.Second) // 59 s (kaizen4), 119 s (accounts-2025)
		expectTokens(f.exchange(zoho.US, web, early))
		f.advance(2 * time.Second) // 61 s, 121 s
		expectTokenError(f.exchange(zoho.US, web, late), zoho.ErrInvalidCode)
	})

	_ = registerSeedCheck(zoho.Note2, func(f *fake) {
		sc := f.selfClient(zoho.US, "")
		def1, def2 := f.selfCode(sc, 0), f.selfCode(sc, 0) // the default, 3 min
		ten1, ten2 := f.selfCode(sc, 10*time.Minute), f.selfCode(sc, 10*time.Minute)
		f.advance(3*time.Minute - time.Second)
		expectTokens(f.exchange(zoho.US, sc, def1))
		f.advance(2 * time.Second)
		expectTokenError(f.exchange(zoho.US, sc, def2), zoho.ErrInvalidCode)
		f.advance(7*time.Minute - 2*time.Second) // 9:59
		expectTokens(f.exchange(zoho.US, sc, ten1))
		f.advance(2 * time.Second) // 10:01
		expectTokenError(f.exchange(zoho.US, sc, ten2), zoho.ErrInvalidCode)
	})

	_ = registerSeedCheck(zoho.Note3, func(f *fake) {
		web := f.webClient(zoho.US)
		other := f.webClient(zoho.US)
		failures := map[string]func(url.Values){
			"wrong secret":       func(v url.Values) { v.Set("client_secret", zoho.NewClientSecret()) },
			"wrong redirect_uri": func(v url.Values) { v.Set("redirect_uri", "https://app.example.com/other") },
			"unknown client_id":  func(v url.Values) { v.Set("client_id", "1000.NOSUCHCLIENT000000000000000000") },
			"another client":     func(v url.Values) { v.Set("client_id", other.ID); v.Set("client_secret", other.Secret) },
		}
		for name, spoil := range failures {
			code := f.grantPatiently(zoho.US, web)
			form := exchangeForm(web, zoho.US, code)
			spoil(form)
			bad := f.tokenCall(zoho.US, form)
			Expect(bad.Err()).NotTo(BeEmpty(), "%s: %s", name, bad.Raw())
			expectTokenError(f.exchange(zoho.US, web, code), zoho.ErrInvalidCode)
		}
	})

	_ = registerSeedCheck(zoho.Note5, func(f *fake) {
		web := f.webClient(zoho.US)
		t := f.offlineTokens(zoho.US, web)
		Expect(t.Number("expires_in")).To(BeEquivalentTo(3600))
		f.advance(59 * time.Minute)
		f.expectTokenWorks(zoho.US, t.AccessToken())
		f.advance(2 * time.Minute)
		f.expectTokenRejected(zoho.US, t.AccessToken())
		Expect(f.userInfo(zoho.US, "Bearer", t.AccessToken()).Status).To(Equal(http.StatusUnauthorized))
		r := expectTokens(f.refresh(zoho.US, web, t.RefreshToken()))
		Expect(r.Number("expires_in")).To(BeEquivalentTo(3600))
		Expect(r.AccessToken()).NotTo(Equal(t.AccessToken()))
		f.expectTokenWorks(zoho.US, r.AccessToken())
		f.expectTokenRejected(zoho.US, t.AccessToken())
		f.advance(59 * time.Minute)
		f.expectTokenWorks(zoho.US, r.AccessToken())
		f.advance(2 * time.Minute)
		f.expectTokenRejected(zoho.US, r.AccessToken())
	})

	_ = registerSeedCheck(zoho.Note6, func(f *fake) {
		web := f.webClient(zoho.US)
		t := f.offlineTokens(zoho.US, web)
		f.advance(365 * 24 * time.Hour)
		r := expectTokens(f.refresh(zoho.US, web, t.RefreshToken()))
		f.expectTokenWorks(zoho.US, r.AccessToken())
		f.advance(365 * 24 * time.Hour)
		r = expectTokens(f.refresh(zoho.US, web, t.RefreshToken()))
		rv := f.revoke(zoho.US, t.RefreshToken())
		Expect(rv.Status).To(Equal(http.StatusOK))
		Expect(rv.Body).To(Equal(map[string]any{"status": "success"}))
		expectTokenError(f.refresh(zoho.US, web, t.RefreshToken()), zoho.ErrInvalidCode)
		f.expectTokenRejected(zoho.US, r.AccessToken())
	})
)

// multipartBody encodes form as multipart/form-data.
func multipartBody(form url.Values) (*bytes.Buffer, string) {
	GinkgoHelper()
	var buf bytes.Buffer
	w := multipart.NewWriter(&buf)
	for k, vs := range form {
		for _, v := range vs {
			Expect(w.WriteField(k, v)).To(Succeed())
		}
	}
	Expect(w.Close()).To(Succeed())
	return &buf, w.FormDataContentType()
}

// jsonKeys lists an object's keys in wire order.
func jsonKeys(data []byte) []string {
	GinkgoHelper()
	dec := json.NewDecoder(bytes.NewReader(data))
	tok, err := dec.Token()
	Expect(err).NotTo(HaveOccurred())
	Expect(tok).To(Equal(json.Delim('{')))
	var keys []string
	for dec.More() {
		k, err := dec.Token()
		Expect(err).NotTo(HaveOccurred())
		keys = append(keys, k.(string))
		var v json.RawMessage
		Expect(dec.Decode(&v)).To(Succeed())
	}
	return keys
}

var _ = Describe("The token endpoint", func() {
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
			tokenURL := func() string { return f.AccountsURL(zoho.US) + "/oauth/v2/token" }

			It("answers Zoho's success body: fields, order, formats, content type, no expires_in_sec", func() {
				t := f.exchange(zoho.US, web, f.grant(zoho.US, web))
				Expect(t.Status).To(Equal(http.StatusOK))
				Expect(t.ContentType()).To(Equal("application/json;charset=UTF-8"))
				Expect(jsonKeys(t.response.Body)).To(Equal([]string{"access_token", "refresh_token", "api_domain", "token_type", "expires_in"}))
				Expect(t.AccessToken()).To(MatchRegexp(zoho.TokenPattern.String()))
				Expect(t.RefreshToken()).To(MatchRegexp(zoho.TokenPattern.String()))
				Expect(t.APIDomain()).To(Equal(f.APIURL(zoho.US)))
				Expect(t.Body).To(HaveKeyWithValue("token_type", "Bearer"))
				Expect(t.Body["expires_in"]).To(Equal(json.Number("3600")))
				Expect(t.Body).NotTo(HaveKey("expires_in_sec"))

				r := f.refresh(zoho.US, web, t.RefreshToken())
				Expect(r.ContentType()).To(Equal("application/json;charset=UTF-8"))
				Expect(jsonKeys(r.response.Body)).To(Equal([]string{"access_token", "api_domain", "token_type", "expires_in"}))
				Expect(r.Body["expires_in"]).To(Equal(json.Number("3600")))
			})

			It("answers errors with HTTP 200, the JSON content type and a bare body", func() {
				r := f.exchange(zoho.US, web, zoho.NewToken())
				Expect(r.Status).To(Equal(http.StatusOK))
				Expect(r.ContentType()).To(Equal("application/json;charset=UTF-8"))
				Expect(r.Raw()).To(Equal(`{"error":"invalid_code"}`))
			})

			It("reads the parameters from the query string with an empty body", func() {
				req := newRequest(http.MethodPost, tokenURL()+"?"+exchangeForm(web, zoho.US, f.grant(zoho.US, web)).Encode(), nil)
				expectTokens(toTokenResult(f.do(req)))
				req = newRequest(http.MethodPost, tokenURL()+"?"+exchangeForm(web, zoho.US, f.grant(zoho.US, web)).Encode(), strings.NewReader(""))
				req.Header.Set("Content-Type", "application/x-www-form-urlencoded")
				t := expectTokens(toTokenResult(f.do(req)))
				req = newRequest(http.MethodPost, tokenURL()+"?"+refreshForm(web, zoho.US, t.RefreshToken()).Encode(), nil)
				expectTokens(toTokenResult(f.do(req)))
			})

			It("reads a multipart body", func() {
				body, ct := multipartBody(exchangeForm(web, zoho.US, f.grant(zoho.US, web)))
				req := newRequest(http.MethodPost, tokenURL(), body)
				req.Header.Set("Content-Type", ct)
				t := expectTokens(toTokenResult(f.do(req)))
				body, ct = multipartBody(refreshForm(web, zoho.US, t.RefreshToken()))
				req = newRequest(http.MethodPost, tokenURL(), body)
				req.Header.Set("Content-Type", ct)
				expectTokens(toTokenResult(f.do(req)))
			})

			It("takes client credentials as HTTP Basic", func() {
				form := exchangeForm(web, zoho.US, f.grant(zoho.US, web))
				form.Del("client_id")
				form.Del("client_secret")
				req := newRequest(http.MethodPost, tokenURL(), strings.NewReader(form.Encode()))
				req.Header.Set("Content-Type", "application/x-www-form-urlencoded")
				req.SetBasicAuth(web.ID, web.Secret)
				t := expectTokens(toTokenResult(f.do(req)))

				rf := refreshForm(web, zoho.US, t.RefreshToken())
				rf.Del("client_id")
				rf.Del("client_secret")
				req = newRequest(http.MethodPost, tokenURL(), strings.NewReader(rf.Encode()))
				req.Header.Set("Content-Type", "application/x-www-form-urlencoded")
				req.SetBasicAuth(web.ID, web.Secret)
				expectTokens(toTokenResult(f.do(req)))

				req = newRequest(http.MethodPost, tokenURL(), strings.NewReader(rf.Encode()))
				req.Header.Set("Content-Type", "application/x-www-form-urlencoded")
				req.SetBasicAuth(web.ID, zoho.NewClientSecret())
				expectTokenError(toTokenResult(f.do(req)), f.p.WrongSecret)

				// parameters win over the header
				req = newRequest(http.MethodPost, tokenURL(), strings.NewReader(refreshForm(web, zoho.US, t.RefreshToken()).Encode()))
				req.Header.Set("Content-Type", "application/x-www-form-urlencoded")
				req.SetBasicAuth(web.ID, zoho.NewClientSecret())
				expectTokens(toTokenResult(f.do(req)))
			})

			It("answers missing parameters and unknown grant types with a bare error, as the doc shows [assumed]", func() {
				for _, c := range []struct {
					form url.Values
					code string
				}{
					{url.Values{}, zoho.ErrInvalidRequest},
					{url.Values{"grant_type": {"password"}}, zoho.ErrUnsupportedGrantType},
					{url.Values{"grant_type": {"client_credentials"}, "client_id": {web.ID}, "client_secret": {web.Secret}}, zoho.ErrUnauthorizedClient}, // ZA-CC-CLIENT
					{url.Values{"grant_type": {"authorization_code"}, "client_id": {web.ID}, "client_secret": {web.Secret}}, zoho.ErrInvalidRequest},
					{url.Values{"grant_type": {"refresh_token"}, "client_id": {web.ID}, "client_secret": {web.Secret}}, zoho.ErrInvalidRequest},
				} {
					r := f.tokenCall(zoho.US, c.form)
					Expect(r.Status).To(Equal(http.StatusOK))
					Expect(r.Err()).To(Equal(c.code), "%v", c.form)
					Expect(r.Body).To(HaveLen(1), "only the error member: %v", c.form)
				}
			})

			It("serves /oauth/user/info with Bearer and Zoho-oauthtoken", func() {
				t := f.offlineTokens(zoho.US, web)
				u, err := f.DefaultUser(zoho.US)
				Expect(err).NotTo(HaveOccurred())
				for _, scheme := range []string{"Bearer", "Zoho-oauthtoken", "bearer"} {
					r := f.userInfo(zoho.US, scheme, t.AccessToken())
					Expect(r.Status).To(Equal(http.StatusOK))
					Expect(r.ContentType()).To(Equal("application/json;charset=UTF-8"))
					Expect(r.JSON()).To(Equal(map[string]any{
						"First_Name": u.FirstName, "Last_Name": u.LastName, "Display_Name": u.FirstName + " " + u.LastName,
						"Email": u.Email, "ZUID": json.Number(u.ZUID),
					}))
				}
				r := f.userInfo(zoho.US, "Bearer", zoho.NewToken())
				Expect(r.Status).To(Equal(http.StatusUnauthorized))
				Expect(r.JSON()).To(Equal(invalidTokenBody))
				r = f.do(newRequest(http.MethodGet, f.AccountsURL(zoho.US)+"/oauth/user/info", nil))
				Expect(r.Status).To(Equal(http.StatusUnauthorized))
				Expect(r.JSON()).To(HaveKeyWithValue("code", zoho.CodeAuthenticationFailure))
				r = f.userInfo(zoho.US, "Basic", t.AccessToken())
				Expect(r.Status).To(Equal(http.StatusUnauthorized))
			})

			It("checks tokens on /crm/v8/users and /crm/v8/org", func() {
				t := f.offlineTokens(zoho.US, web)
				f.expectTokenWorks(zoho.US, t.AccessToken())
				users := f.crmUsers(zoho.US, t.AccessToken()).JSON()
				Expect(users["users"]).To(HaveLen(1))
				req := newRequest(http.MethodGet, f.APIURL(zoho.US)+"/crm/v8/org", nil)
				req.Header.Set("Authorization", "Zoho-oauthtoken "+t.AccessToken())
				org := f.do(req)
				Expect(org.Status).To(Equal(http.StatusOK))
				Expect(org.JSON()).To(HaveKey("org"))
				// a refresh token is not an access token
				f.expectTokenRejected(zoho.US, t.RefreshToken())
				req = newRequest(http.MethodGet, f.APIURL(zoho.US)+"/crm/v8/users", nil)
				r := f.do(req)
				Expect(r.Status).To(Equal(http.StatusUnauthorized))
				Expect(r.JSON()).To(Equal(map[string]any{"code": "AUTHENTICATION_FAILURE", "details": map[string]any{}, "message": "Authentication failed", "status": "error"}))
			})

			Describe("revoke", func() {
				It("revokes a refresh token with its access tokens", func() {
					t := f.offlineTokens(zoho.US, web)
					more := f.mintAccess(zoho.US, web, t.RefreshToken(), 3)
					r := f.revoke(zoho.US, t.RefreshToken())
					Expect(r.Status).To(Equal(http.StatusOK))
					Expect(r.Raw()).To(Equal(`{"status":"success"}`))
					for _, a := range append(more, t.AccessToken()) {
						f.expectTokenRejected(zoho.US, a)
					}
					Expect(f.LiveAccessTokens(t.RefreshToken())).To(BeEmpty())
					expectTokenError(f.refresh(zoho.US, web, t.RefreshToken()), zoho.ErrInvalidCode)
					// a second revoke knows the token no more
					Expect(f.revoke(zoho.US, t.RefreshToken()).Status).To(Equal(http.StatusBadRequest))
				})

				It("revokes a single access token, leaving the refresh token", func() {
					t := f.offlineTokens(zoho.US, web)
					more := f.mintAccess(zoho.US, web, t.RefreshToken(), 1)
					Expect(f.revoke(zoho.US, t.AccessToken()).Body).To(Equal(map[string]any{"status": "success"}))
					f.expectTokenRejected(zoho.US, t.AccessToken())
					f.expectTokenWorks(zoho.US, more[0])
					Expect(f.LiveAccessTokens(t.RefreshToken())).To(Equal(more))
					expectTokens(f.refresh(zoho.US, web, t.RefreshToken()))
				})

				It("takes the token as a form field too, at the alternative path", func() {
					t := f.offlineTokens(zoho.US, web)
					r := f.postForm(f.AccountsURL(zoho.US)+"/oauth/v2/token/revoke", url.Values{"token": {t.RefreshToken()}})
					Expect(r.Status).To(Equal(http.StatusOK))
					// the newer path wants token_type and the client's Basic credentials (ZA-REVOKE-V2)
					t = f.offlineTokens(zoho.US, web)
					r = f.postForm(f.AccountsURL(zoho.US)+"/oauth/v2/revoke/token", url.Values{"token": {t.RefreshToken()}})
					Expect(r.Status).To(Equal(http.StatusUnauthorized))
					req := newRequest(http.MethodPost, f.AccountsURL(zoho.US)+"/oauth/v2/revoke/token", strings.NewReader(url.Values{"token": {t.RefreshToken()}, "token_type": {"refresh_token"}}.Encode()))
					req.Header.Set("Content-Type", "application/x-www-form-urlencoded")
					req.SetBasicAuth(web.ID, web.Secret)
					Expect(f.do(req).Status).To(Equal(http.StatusOK))
					expectTokenError(f.refresh(zoho.US, web, t.RefreshToken()), zoho.ErrInvalidCode)
				})

				It("answers an unknown token with HTTP 400 and GET with 405", func() {
					for _, tok := range []string{zoho.NewToken(), "", "nonsense"} {
						r := f.revoke(zoho.US, tok)
						Expect(r.Status).To(Equal(http.StatusBadRequest))
						Expect(r.Body).To(HaveKeyWithValue("error", zoho.ErrInvalidToken))
					}
					r := f.get(f.AccountsURL(zoho.US) + "/oauth/v2/token/revoke?token=" + zoho.NewToken())
					Expect(r.Status).To(Equal(http.StatusMethodNotAllowed))
					Expect(r.JSON()).To(HaveKey("error_description"))
				})
			})
		})
	}
})

var _ = Describe("Grant bookkeeping", func() {
	It("forgets long-expired grants without changing any answer", func() {
		for _, broken := range []bool{false, true} {
			f := newFake(profileKaizen4, fakeserver.WithLimits(func(l *zoho.Limits) { l.GrantRate = zoho.Rate{} }))
			if broken {
				Expect(f.Break(zoho.TokenCodeA)).To(Succeed())
			}
			sc := f.selfClient(zoho.US, "")
			old := f.selfCode(sc, 0)
			f.advance(2 * time.Hour)
			var last string
			for i := 0; i < 1100; i++ { // past a sweep of the grant table
				last = f.selfCode(sc, 0)
			}
			if broken {
				expectTokens(f.exchange(zoho.US, sc, old))
			} else {
				expectTokenError(f.exchange(zoho.US, sc, old), zoho.ErrInvalidCode)
			}
			expectTokens(f.exchange(zoho.US, sc, last))
		}
	})
})

var _ = Describe("Bad input", func() {
	var (
		f   *fake
		web fakeserver.Client
	)
	BeforeEach(func() {
		f = newFake(profileKaizen4)
		web = f.webClient(zoho.US)
	})
	tokenURL := func() string { return f.AccountsURL(zoho.US) + "/oauth/v2/token" }

	expectJSONError := func(r response, status int) map[string]any {
		GinkgoHelper()
		Expect(r.Status).To(Equal(status), "%s", r.Body)
		Expect(r.ContentType()).To(Equal("application/json;charset=UTF-8"))
		m := r.JSON()
		Expect(m).To(HaveKey("error"))
		return m
	}
	post := func(u, ct string, body []byte) response {
		GinkgoHelper()
		req := newRequest(http.MethodPost, u, bytes.NewReader(body))
		if ct != "" {
			req.Header.Set("Content-Type", ct)
		}
		return f.do(req)
	}

	It("answers malformed bodies with HTTP 400 JSON", func() {
		for _, c := range []struct{ ct, body string }{
			{"application/x-www-form-urlencoded", "grant_type=authorization_code&code=%zz"},
			{"application/x-www-form-urlencoded", "grant_type=%"},
			{"multipart/form-data", "grant_type=authorization_code"},
			{"multipart/form-data; boundary=xyz", "not multipart at all"},
			{"multipart/form-data; boundary=xyz", "--xyz\r\nContent-Disposition: form-data; name=\"code\"\r\n\r\nabc"},
		} {
			m := expectJSONError(post(tokenURL(), c.ct, []byte(c.body)), http.StatusBadRequest)
			Expect(m).To(HaveKeyWithValue("error", zoho.ErrInvalidRequest))
			Expect(m["error_description"]).To(ContainSubstring("could not be parsed"))
		}
		expectJSONError(f.get(f.AccountsURL(zoho.US)+"/oauth/v2/auth?client_id=%zz"), http.StatusBadRequest)
		expectJSONError(f.get(tokenURL()+"x?%zz"), http.StatusNotFound)
	})

	It("ignores a body of an unknown content type", func() {
		r := toTokenResult(post(tokenURL(), "application/json", []byte(`{"grant_type":"authorization_code"}`)))
		Expect(r.Err()).To(Equal(zoho.ErrInvalidRequest))
	})

	It("answers bodies over 64 KiB with HTTP 413 JSON", func() {
		big := exchangeForm(web, zoho.US, f.grant(zoho.US, web))
		big.Set("padding", strings.Repeat("a", 65<<10))
		m := expectJSONError(post(tokenURL(), "application/x-www-form-urlencoded", []byte(big.Encode())), http.StatusRequestEntityTooLarge)
		Expect(m["error_description"]).To(ContainSubstring("64 KiB"))
		body, ct := multipartBody(big)
		expectJSONError(post(tokenURL(), ct, body.Bytes()), http.StatusRequestEntityTooLarge)
		expectJSONError(post(f.AccountsURL(zoho.US)+"/oauth/v2/token/revoke", "application/x-www-form-urlencoded", []byte(big.Encode())), http.StatusRequestEntityTooLarge)
		// just under the limit is fine
		ok := exchangeForm(web, zoho.US, f.grant(zoho.US, web))
		ok.Set("padding", strings.Repeat("a", 60<<10))
		expectTokens(toTokenResult(post(tokenURL(), "application/x-www-form-urlencoded", []byte(ok.Encode()))))
	})

	It("answers GET on the token endpoint with HTTP 405 JSON", func() {
		m := expectJSONError(f.get(tokenURL()+"?"+exchangeForm(web, zoho.US, f.grant(zoho.US, web)).Encode()), http.StatusMethodNotAllowed)
		Expect(m["error_description"]).To(ContainSubstring("POST"))
	})

	It("answers unknown paths and unknown DCs with HTTP 404 JSON", func() {
		for _, u := range []string{
			f.AccountsURL(zoho.US) + "/oauth/v2/nothing",
			f.AccountsURL(zoho.US) + "/",
			f.AccountsURL(zoho.US),
			f.APIURL(zoho.US) + "/crm/v8/leads",
			f.APIURL(zoho.US) + "/oauth/v2/token",
		} {
			m := expectJSONError(f.get(u), http.StatusNotFound)
			Expect(m).To(HaveKey("error_description"))
		}
		// outside every DC, the answer lists the DCs
		for _, u := range []string{f.URL + "/accounts.zoho.xx/oauth/v2/token", f.URL + "/oauth/v2/token", f.URL + "/nonsense"} {
			r := f.get(u)
			Expect(r.Status).To(Equal(http.StatusNotFound))
			Expect(r.ContentType()).To(Equal("application/json;charset=UTF-8"))
			Expect(r.JSON()["message"]).To(ContainSubstring("prefix the path with a DC's Accounts or API host name"))
			Expect(r.JSON()["data_centres"]).To(HaveLen(len(zoho.DataCentres())))
		}
		r := f.get(f.URL + "/accounts.zoho.xx/oauth/v2/token")
		Expect(r.JSON()["message"]).To(ContainSubstring("no DC at /accounts.zoho.xx/oauth/v2/token"))
		r = f.postForm(f.APIURL(zoho.US)+"/crm/v8/users", url.Values{})
		expectJSONError(r, http.StatusNotFound)
	})

	It("lists the DCs at the root", func() {
		r := f.get(f.URL + "/")
		Expect(r.Status).To(Equal(http.StatusOK))
		m := r.JSON()
		Expect(m["data_centres"]).To(HaveLen(len(zoho.DataCentres())))
		Expect(m["control_api"]).To(Equal(f.ControlURL()))
	})

	It("never answers 5xx to odd requests", func() {
		paths := []string{
			"/oauth/v2/auth", "/oauth/v2/token", "/oauth/v2/token/revoke", "/oauth/user/info", "/crm/v8/users",
		}
		queries := []string{"", "?", "?a", "?scope=&client_id=&redirect_uri=&response_type=", "?state=%E2%98%83&scope=,,,", "?token=" + strings.Repeat("1000.", 200),
			"?client_id=" + web.ID + "&response_type=code&scope=ZohoCRM.users.ALL&redirect_uri=%00"}
		for _, base := range []string{f.AccountsURL(zoho.US), f.APIURL(zoho.EU), f.AccountsURL(zoho.CN)} {
			for _, p := range paths {
				for _, q := range queries {
					for _, m := range []string{http.MethodGet, http.MethodPost, http.MethodHead, http.MethodPatch} {
						r := f.do(newRequest(m, base+p+q, nil))
						Expect(r.Status).To(BeNumerically("<", 500), "%s %s%s%s: %s", m, base, p, q, r.Body)
					}
				}
			}
		}
	})
})

package fakeserver_test

import (
	"fmt"
	"net/http"
	"strings"

	. "github.com/onsi/ginkgo/v2"
	. "github.com/onsi/gomega"

	"github.com/zconform/zconform/fakeserver"
	"github.com/zconform/zconform/fixtures/zoho"
)

// docDCs is the table of zoho-oauth.md section 2: Accounts server and API
// domain of each DC.
var docDCs = map[zoho.DC][2]string{
	zoho.US: {"https://accounts.zoho.com", "https://www.zohoapis.com"},
	zoho.EU: {"https://accounts.zoho.eu", "https://www.zohoapis.eu"},
	zoho.IN: {"https://accounts.zoho.in", "https://www.zohoapis.in"},
	zoho.AU: {"https://accounts.zoho.com.au", "https://www.zohoapis.com.au"},
	zoho.JP: {"https://accounts.zoho.jp", "https://www.zohoapis.jp"},
	zoho.CA: {"https://accounts.zohocloud.ca", "https://www.zohoapis.ca"},
	zoho.SA: {"https://accounts.zoho.sa", "https://www.zohoapis.sa"},
	zoho.UK: {"https://accounts.zoho.uk", "https://www.zohoapis.uk"},
	zoho.CN: {"https://accounts.zoho.com.cn", "https://www.zohoapis.com.cn"},
}

// anotherDC is a DC other than dc (and not CN, unless dc is CN).
func anotherDC(dc zoho.DC) zoho.DC {
	if dc == zoho.US {
		return zoho.EU
	}
	return zoho.US
}

var (
	_ = registerSeedCheck(zoho.TokenClientB, func(f *fake) {
		web := f.webClient(zoho.US)
		// a US grant asked for at EU: invalid_client, and the grant survives
		code := f.grant(zoho.US, web)
		expectTokenError(f.tokenCall(zoho.EU, exchangeForm(web, zoho.US, code)), zoho.ErrInvalidClient)
		us := expectTokens(f.exchange(zoho.US, web, code))
		expectTokenError(f.refresh(zoho.EU, web, us.RefreshToken()), zoho.ErrInvalidClient)
		f.expectTokenRejected(zoho.EU, us.AccessToken())
		// EU does not know the client
		expectAuthError(f.authorize(zoho.EU, authParams(web)), zoho.ErrAuthClient)

		// an EU user's grant, made through accounts.zoho.com, is EU's
		bob := f.addUser("bob@example.com", zoho.EU)
		Expect(f.ScriptConsent(web.ID, fakeserver.Consent{User: bob.Email}, fakeserver.Consent{User: bob.Email})).To(Succeed())
		a := f.authorize(zoho.US, authParams(web))
		code = expectCodeRedirect(a)
		Expect(a.Query.Get("location")).To(Equal("eu"))
		Expect(a.Query.Get("accounts-server")).To(Equal(f.AccountsURL(zoho.EU)))
		expectTokenError(f.exchange(zoho.US, web, code), zoho.ErrInvalidClient)
		expectTokenError(f.exchange(zoho.EU, web, code), zoho.ErrInvalidClient)

		// with multi-DC enabled in EU, the EU grant is exchanged at EU
		secret, err := f.EnableMultiDC(web.ID, zoho.EU, fakeserver.MultiDC{})
		Expect(err).NotTo(HaveOccurred())
		Expect(secret).To(Equal(web.Secret))
		code = f.grant(zoho.US, web)
		eu := expectTokens(f.exchange(zoho.EU, web, code))
		Expect(eu.APIDomain()).To(Equal(f.APIURL(zoho.EU)))
		f.expectTokenWorks(zoho.EU, eu.AccessToken())
		f.expectTokenRejected(zoho.US, eu.AccessToken())
		expectTokens(f.refresh(zoho.EU, web, eu.RefreshToken()))
		expectTokenError(f.refresh(zoho.US, web, eu.RefreshToken()), zoho.ErrInvalidClient)
		// and a US grant still is not, and still survives
		code = f.grant(zoho.US, web)
		expectTokenError(f.tokenCall(zoho.EU, exchangeForm(web, zoho.EU, code)), zoho.ErrInvalidClient)
		expectTokens(f.exchange(zoho.US, web, code))
	})

	_ = registerSeedCheck(zoho.TokenClientC, func(f *fake) {
		web := f.webClient(zoho.US)
		euSecret, err := f.EnableMultiDC(web.ID, zoho.EU, fakeserver.MultiDC{SeparateSecret: true})
		Expect(err).NotTo(HaveOccurred())
		Expect(euSecret).To(MatchRegexp(zoho.ClientSecretPattern.String()))
		Expect(euSecret).NotTo(Equal(web.Secret))
		got, err := f.RegisteredClient(web.ID)
		Expect(err).NotTo(HaveOccurred())
		Expect(got.Secrets).To(Equal(map[zoho.DC]string{zoho.US: web.Secret, zoho.EU: euSecret}))

		bob := f.addUser("bob@example.com", zoho.EU)
		Expect(f.ScriptConsent(web.ID, fakeserver.Consent{User: bob.Email}, fakeserver.Consent{User: bob.Email})).To(Succeed())
		// the US secret at EU is refused
		form := exchangeForm(got, zoho.EU, f.grant(zoho.US, web))
		form.Set("client_secret", web.Secret)
		expectTokenError(f.tokenCall(zoho.EU, form), f.p.WrongSecret)
		// the EU secret works at EU
		t := expectTokens(f.exchange(zoho.EU, got, f.grant(zoho.US, web)))
		rf := refreshForm(got, zoho.EU, t.RefreshToken())
		rf.Set("client_secret", web.Secret)
		expectTokenError(f.tokenCall(zoho.EU, rf), f.p.WrongSecret)
		expectTokens(f.refresh(zoho.EU, got, t.RefreshToken()))
		// the EU secret at US is refused
		form = exchangeForm(got, zoho.US, f.grant(zoho.US, web))
		form.Set("client_secret", euSecret)
		expectTokenError(f.tokenCall(zoho.US, form), f.p.WrongSecret)

		// a shared secret works in both DCs
		shared := f.webClient(zoho.US)
		s, err := f.EnableMultiDC(shared.ID, zoho.EU, fakeserver.MultiDC{})
		Expect(err).NotTo(HaveOccurred())
		Expect(s).To(Equal(shared.Secret))
		Expect(f.ScriptConsent(shared.ID, fakeserver.Consent{User: bob.Email})).To(Succeed())
		expectTokens(f.exchange(zoho.EU, shared, f.grant(zoho.US, shared)))
		expectTokens(f.exchange(zoho.US, shared, f.grant(zoho.US, shared)))
	})
)

var _ = Describe("Data centres", func() {
	It("are the table of section 2", func() {
		Expect(zoho.DataCentres()).To(HaveLen(len(docDCs)))
		for _, d := range zoho.DataCentres() {
			Expect(docDCs).To(HaveKey(d.DC))
			Expect(d.AccountsURL()).To(Equal(docDCs[d.DC][0]))
			Expect(d.APIURL()).To(Equal(docDCs[d.DC][1]))
			Expect(d.Isolated).To(Equal(d.DC == zoho.CN))
		}
	})

	for _, d := range zoho.DataCentres() {
		Context(strings.ToUpper(string(d.DC)), Label("dc:"+string(d.DC)), func() {
			var f *fake
			BeforeEach(func() { f = newFake(profileKaizen4) })

			It("serves a client registered there under the fake's own URLs of the DC", func() {
				Expect(f.AccountsURL(d.DC)).To(Equal(f.URL + "/" + d.AccountsHost))
				Expect(f.APIURL(d.DC)).To(Equal(f.URL + "/" + d.APIHost))
				c := f.webClient(d.DC)
				Expect(c.DC).To(Equal(d.DC))
				Expect(c.User).To(Equal(fmt.Sprintf("dev@%s.zconform.test", d.DC)))

				a := f.authorize(d.DC, authParams(c))
				code := expectCodeRedirect(a)
				Expect(a.Query.Get("location")).To(Equal(string(d.DC)))
				Expect(a.Query.Get("accounts-server")).To(Equal(f.AccountsURL(d.DC)))

				t := expectTokens(f.exchange(d.DC, c, code))
				Expect(t.APIDomain()).To(Equal(f.APIURL(d.DC)))
				f.expectTokenWorks(d.DC, t.AccessToken())
				Expect(f.userInfo(d.DC, "Bearer", t.AccessToken()).Status).To(Equal(http.StatusOK))
				r := expectTokens(f.refresh(d.DC, c, t.RefreshToken()))
				Expect(r.APIDomain()).To(Equal(f.APIURL(d.DC)))
				Expect(f.revoke(d.DC, r.AccessToken()).Status).To(Equal(http.StatusOK))

				// another DC knows neither the client nor its tokens
				other := anotherDC(d.DC)
				expectAuthError(f.authorize(other, authParams(c)), zoho.ErrAuthClient)
				f.expectTokenRejected(other, t.AccessToken())
				expectTokenError(f.refresh(other, c, t.RefreshToken()), zoho.ErrInvalidClient)
				Expect(f.revoke(other, t.RefreshToken()).Status).To(Equal(http.StatusBadRequest))
				f.expectTokenWorks(d.DC, t.AccessToken())
			})

			It("answers with the real Zoho URLs when called by the real host name", func() {
				c := f.webClient(d.DC)
				req := newRequest(http.MethodGet, f.URL+"/oauth/v2/auth?"+authParams(c).Encode(), nil)
				req.Host = d.AccountsHost
				a := f.authorizeRequest(req)
				code := expectCodeRedirect(a)
				Expect(a.Query.Get("location")).To(Equal(string(d.DC)))
				Expect(a.Query.Get("accounts-server")).To(Equal(docDCs[d.DC][0]))

				req = newRequest(http.MethodPost, f.URL+"/oauth/v2/token", strings.NewReader(exchangeForm(c, d.DC, code).Encode()))
				req.Header.Set("Content-Type", "application/x-www-form-urlencoded")
				req.Host = d.AccountsHost + ":443" // a port does not matter
				t := expectTokens(toTokenResult(f.do(req)))
				Expect(t.APIDomain()).To(Equal(docDCs[d.DC][1]))

				req = newRequest(http.MethodGet, f.URL+"/crm/v8/users?type=CurrentUser", nil)
				req.Host = d.APIHost
				req.Header.Set("Authorization", "Zoho-oauthtoken "+t.AccessToken())
				Expect(f.do(req).Status).To(Equal(http.StatusOK))
				// the same token on the path-prefixed URL of the DC
				f.expectTokenWorks(d.DC, t.AccessToken())
			})

			if d.DC != zoho.US && !d.Isolated {
				It("tells a US client where a user of this DC lives", func() {
					web := f.webClient(zoho.US)
					u := f.addUser("user@"+string(d.DC)+".example.com", d.DC)
					Expect(f.ScriptConsent(web.ID, fakeserver.Consent{User: u.Email})).To(Succeed())
					a := f.authorize(zoho.US, authParams(web))
					expectCodeRedirect(a)
					Expect(a.Query.Get("location")).To(Equal(string(d.DC)))
					Expect(a.Query.Get("accounts-server")).To(Equal(f.AccountsURL(d.DC)))
				})
			}
		})
	}

	Describe("multi-DC", func() {
		var f *fake
		BeforeEach(func() { f = newFake(profileKaizen4) })

		It("enables every DC but CN, with shared or separate secrets", func() {
			web := f.webClient(zoho.US)
			seen := map[string]bool{web.Secret: true}
			for _, d := range zoho.DataCentres() {
				if d.DC == zoho.US || d.Isolated {
					continue
				}
				s, err := f.EnableMultiDC(web.ID, d.DC, fakeserver.MultiDC{SeparateSecret: true})
				Expect(err).NotTo(HaveOccurred())
				Expect(s).To(MatchRegexp(zoho.ClientSecretPattern.String()))
				Expect(seen).NotTo(HaveKey(s))
				seen[s] = true
				// and the client is now known there
				got, err := f.RegisteredClient(web.ID)
				Expect(err).NotTo(HaveOccurred())
				f.grantQ(d.DC, authParams(got))
			}
			got, err := f.RegisteredClient(web.ID)
			Expect(err).NotTo(HaveOccurred())
			Expect(got.Secrets).To(HaveLen(len(zoho.DataCentres()) - 1))
			Expect(got.ID).To(Equal(web.ID))
		})

		It("keeps CN outside multi-DC, both ways", func() {
			us := f.webClient(zoho.US)
			_, err := f.EnableMultiDC(us.ID, zoho.CN, fakeserver.MultiDC{})
			Expect(err).To(MatchError(ContainSubstring("CN DC is a separate instance")))
			cn := f.webClient(zoho.CN)
			_, err = f.EnableMultiDC(cn.ID, zoho.EU, fakeserver.MultiDC{SeparateSecret: true})
			Expect(err).To(MatchError(ContainSubstring("CN DC is a separate instance")))
			r := f.ctl(http.MethodPost, "/clients/"+us.ID+"/multi-dc", `{"dc":"cn"}`)
			Expect(r.Status).To(Equal(http.StatusBadRequest))
			Expect(r.JSON()["error"]).To(ContainSubstring("separate instance"))
			got, err := f.RegisteredClient(us.ID)
			Expect(err).NotTo(HaveOccurred())
			Expect(got.Secrets).To(HaveLen(1))
			expectAuthError(f.authorize(zoho.CN, authParams(us)), zoho.ErrAuthClient)
		})

		It("refuses the home DC, unknown DCs and clients, and badly formed secrets", func() {
			web := f.webClient(zoho.US)
			_, err := f.EnableMultiDC(web.ID, zoho.US, fakeserver.MultiDC{})
			Expect(err).To(MatchError(ContainSubstring("registered in us already")))
			_, err = f.EnableMultiDC(web.ID, "xx", fakeserver.MultiDC{})
			Expect(err).To(MatchError(ContainSubstring("unknown data centre")))
			_, err = f.EnableMultiDC("1000.NOSUCHCLIENT000000000000000000", zoho.EU, fakeserver.MultiDC{})
			Expect(err).To(MatchError(ContainSubstring("no client")))
			_, err = f.EnableMultiDC(web.ID, zoho.EU, fakeserver.MultiDC{SeparateSecret: true, Secret: "short"})
			Expect(err).To(MatchError(ContainSubstring("Zoho's format")))
			_, err = f.EnableMultiDC(web.ID, zoho.EU, fakeserver.MultiDC{Secret: zoho.NewClientSecret()})
			Expect(err).To(MatchError(ContainSubstring("separate_secret is off")))
			fixed := zoho.NewClientSecret()
			s, err := f.EnableMultiDC(web.ID, "EU", fakeserver.MultiDC{SeparateSecret: true, Secret: fixed})
			Expect(err).NotTo(HaveOccurred())
			Expect(s).To(Equal(fixed))
		})
	})

	It("serves every DC over TLS too", func() {
		srv := fakeserver.NewUnstarted()
		Expect(srv.StartTLS()).To(Succeed())
		f := &fake{Server: srv, p: profileKaizen4, hc: srv.Client()}
		DeferCleanup(srv.Close)
		Expect(srv.URL).To(HavePrefix("https://127.0.0.1:"))
		Expect(srv.Certificate()).NotTo(BeNil())
		Expect(srv.Certificate().DNSNames).To(ContainElements("accounts.zoho.eu", "www.zohoapis.com.cn", "localhost"))
		c := f.webClient(zoho.EU)
		a := f.authorize(zoho.EU, authParams(c))
		Expect(a.Query.Get("accounts-server")).To(Equal(srv.URL + "/accounts.zoho.eu"))
		t := expectTokens(f.exchange(zoho.EU, c, expectCodeRedirect(a)))
		Expect(t.APIDomain()).To(Equal(srv.URL + "/www.zohoapis.eu"))
		f.expectTokenWorks(zoho.EU, t.AccessToken())
		Expect(srv.StartTLS()).To(MatchError(ContainSubstring("already started")))
	})
})

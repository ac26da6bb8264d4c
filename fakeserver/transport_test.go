package fakeserver_test

// The fake as a go test library on Zoho's real host names: the in-process
// transport (httpmock's MockTransport, per client), PassThrough, every DC,
// golang.org/x/oauth2 with Zoho's real endpoints, Authorize, cleanup.

import (
	"context"
	"errors"
	"io"
	"net/http"
	"net/http/httptest"
	"net/url"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/jarcoal/httpmock"
	. "github.com/onsi/ginkgo/v2"
	. "github.com/onsi/gomega"
	"golang.org/x/oauth2"

	"github.com/zconform/zconform/fakeserver"
	"github.com/zconform/zconform/fixtures/zoho"
)

// rtFunc is a RoundTripper made of a function.
type rtFunc func(*http.Request) (*http.Response, error)

func (f rtFunc) RoundTrip(r *http.Request) (*http.Response, error) { return f(r) }

// inProcess returns an unstarted fake (no listener) and its in-process
// client, which does not follow redirects; both end with the spec.
func inProcess(opts ...fakeserver.TransportOption) (*fakeserver.Server, *fxFake) {
	GinkgoHelper()
	srv := fakeserver.NewUnstarted()
	DeferCleanup(srv.Close)
	hc := srv.HTTPClient(opts...)
	hc.CheckRedirect = noFollow
	return srv, &fxFake{srv: srv, hc: hc, inProcess: true}
}

func fxGet(hc *http.Client, u string) fxResult {
	req, err := http.NewRequest(http.MethodGet, u, nil)
	if err != nil {
		panic(err)
	}
	return fxSend(hc, req)
}

// zohoOAuth2 is an x/oauth2 Config on Zoho's real endpoints of dc.
func zohoOAuth2(c fakeserver.Client, dc zoho.DC) *oauth2.Config {
	d, _ := zoho.Lookup(dc)
	return &oauth2.Config{
		ClientID: c.ID, ClientSecret: secretFor(c, dc), RedirectURL: testRedirectURI,
		Scopes: []string{"ZohoCRM.users.ALL", "ZohoCRM.org.READ"},
		Endpoint: oauth2.Endpoint{
			AuthURL: d.AccountsURL() + "/oauth/v2/auth", TokenURL: d.AccountsURL() + "/oauth/v2/token",
			AuthStyle: oauth2.AuthStyleInParams, // one request per call (AutoDetect retries failures)
		},
	}
}

// authCodeParams are the parameters of cfg's authorization URL.
func authCodeParams(cfg *oauth2.Config) url.Values {
	GinkgoHelper()
	u, err := url.Parse(cfg.AuthCodeURL(testState, oauth2.AccessTypeOffline, oauth2.SetAuthURLParam("prompt", "consent")))
	Expect(err).NotTo(HaveOccurred())
	return u.Query()
}

func expectRetrieveError(err error, status int, code string) *oauth2.RetrieveError {
	GinkgoHelper()
	var re *oauth2.RetrieveError
	Expect(errors.As(err, &re)).To(BeTrue(), "want *oauth2.RetrieveError, got %T: %v", err, err)
	Expect(re.Response.StatusCode).To(Equal(status))
	Expect(re.ErrorCode).To(Equal(code), "body: %s", re.Body)
	return re
}

var _ = Describe("The in-process transport", func() {
	It("fails loudly for hosts that are not Zoho's, and logs nothing", func() {
		srv, f := inProcess()
		for _, u := range []string{
			"https://example.com/",
			"http://127.0.0.1:1/accounts.zoho.com/oauth/v2/token",
			"https://accounts.zoho.com.evil.example/oauth/v2/token",
			"https://accounts.zoho.community/oauth/v2/token",
			"https://zoho.com/oauth/v2/token",
			"https://accountsxzoho.com/oauth/v2/token",
		} {
			r := fxGet(f.hc, u)
			Expect(r.err).To(HaveOccurred(), u)
			Expect(errors.Is(r.err, fakeserver.ErrUnmatchedHost)).To(BeTrue(), "%s: %v", u, r.err)
			Expect(r.err.Error()).To(ContainSubstring(strings.TrimPrefix(strings.TrimPrefix(u, "https://"), "http://")))
			Expect(r.err.Error()).To(ContainSubstring("fakeserver.PassThrough"))
		}
		Expect(srv.Requests()).To(BeEmpty())
	})

	It("answers Zoho's host names with any scheme and an explicit port", func() {
		_, f := inProcess()
		for _, u := range []string{
			"https://www.zohoapis.eu/crm/v8/users?type=CurrentUser",
			"https://www.zohoapis.eu:443/crm/v8/users?type=CurrentUser",
			"http://www.zohoapis.eu/crm/v8/users?type=CurrentUser",
		} {
			r := fxGet(f.hc, u)
			Expect(r.err).NotTo(HaveOccurred(), u)
			Expect(r.status).To(Equal(http.StatusUnauthorized), u)
			Expect(r.json()).To(HaveKeyWithValue("code", "AUTHENTICATION_FAILURE"), u)
		}
	})

	It("sends other hosts to PassThrough(next), a loopback server here, and Zoho's to the fake", func() {
		next := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
			_, _ = io.WriteString(w, "next:"+r.URL.Path)
		}))
		DeferCleanup(next.Close)
		srv, f := inProcess(fakeserver.PassThrough(next.Client().Transport))
		r := fxGet(f.hc, next.URL+"/hello")
		fxExpectOK(r)
		Expect(string(r.body)).To(Equal("next:/hello"))

		web := f.webClient(zoho.US)
		at, _ := f.tokens(zoho.US, web)
		fxExpectOK(f.users(zoho.US, at))
		Expect(srv.Requests()).To(HaveLen(3), "authorize, exchange, users: the pass-through request is not the fake's")
	})

	It("sends other hosts to a RoundTripper func, and never Zoho's", func() {
		var seen []string
		next := rtFunc(func(r *http.Request) (*http.Response, error) {
			seen = append(seen, r.URL.String())
			return &http.Response{StatusCode: http.StatusTeapot, Header: http.Header{}, Body: io.NopCloser(strings.NewReader("tea")), Request: r}, nil
		})
		_, f := inProcess(fakeserver.PassThrough(next))
		r := fxGet(f.hc, "https://example.com/pot")
		Expect(r.err).NotTo(HaveOccurred())
		Expect(r.status).To(Equal(http.StatusTeapot))
		Expect(string(r.body)).To(Equal("tea"))
		Expect(fxGet(f.hc, "https://www.zohoapis.eu/crm/v8/org").status).To(Equal(http.StatusUnauthorized)) // the fake's answer
		Expect(seen).To(Equal([]string{"https://example.com/pot"}))
	})

	It("PassThrough(nil) lets other hosts through on http.DefaultTransport", func() {
		next := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
			_, _ = io.WriteString(w, "default")
		}))
		DeferCleanup(next.Close)
		_, f := inProcess(fakeserver.PassThrough(nil))
		r := fxGet(f.hc, next.URL)
		fxExpectOK(r)
		Expect(string(r.body)).To(Equal("default"))
	})

	It("replaces nothing process-wide, and each client is its own MockTransport", func() {
		before := http.DefaultTransport
		srv := fakeserver.NewUnstarted()
		DeferCleanup(srv.Close)
		mt := srv.Transport()
		_ = srv.HTTPClient()
		_ = srv.OAuth2Context(context.Background())
		Expect(http.DefaultTransport).To(BeIdenticalTo(before))
		Expect(http.DefaultTransport).To(BeAssignableToTypeOf(&http.Transport{}))
		Expect(http.DefaultClient.Transport).To(BeNil())
		hc := &http.Client{Transport: mt}
		fxGet(hc, "https://www.zohoapis.com/crm/v8/org")
		fxGet(hc, "https://accounts.zoho.com/oauth/v2/token")
		Expect(mt.GetTotalCallCount()).To(Equal(2))
		Expect(srv.Transport().GetTotalCallCount()).To(BeZero(), "a new transport has its own counts")
		Expect(http.DefaultTransport).To(BeIdenticalTo(before))
		var _ *httpmock.MockTransport = mt
	})

	It("keeps two fakes apart in one process: a token of one is unknown to the other", func() {
		_, a := inProcess()
		_, b := inProcess()
		at, _ := a.tokens(zoho.US, a.webClient(zoho.US))
		fxExpectOK(a.users(zoho.US, at))
		r := b.users(zoho.US, at)
		Expect(r.status).To(Equal(http.StatusUnauthorized))
		Expect(r.json()).To(Equal(invalidTokenBody))
	})

	It("serves every DC on its real Accounts and API host names, and the answers name those URLs", func() {
		Expect(docDCs).To(HaveLen(len(zoho.DataCentres())))
		srv, f := inProcess()
		for _, d := range zoho.DataCentres() {
			dc := d.DC
			accounts, api := docDCs[dc][0], docDCs[dc][1]
			Expect(f.accounts(dc)).To(Equal(accounts))
			Expect(f.api(dc)).To(Equal(api))
			c := f.webClient(dc)

			req, err := http.NewRequest(http.MethodGet, accounts+"/oauth/v2/auth?"+authParams(c).Encode(), nil)
			Expect(err).NotTo(HaveOccurred())
			r := fxSend(f.hc, req)
			Expect(r.status).To(Equal(http.StatusFound), "%s: %s", dc, r)
			loc, err := url.Parse(r.header.Get("Location"))
			Expect(err).NotTo(HaveOccurred())
			Expect(loc.Scheme + "://" + loc.Host + loc.Path).To(Equal(testRedirectURI))
			Expect(loc.Query().Get("location")).To(Equal(string(dc)))
			Expect(loc.Query().Get("accounts-server")).To(Equal(accounts))
			Expect(loc.Query().Get("state")).To(Equal(testState))

			red, err := srv.Authorize(dc, authParams(c))
			Expect(err).NotTo(HaveOccurred())
			Expect(red.Location).To(Equal(string(dc)))
			Expect(red.AccountsServer).To(Equal(accounts))
			Expect(red.State).To(Equal(testState))
			Expect(red.Error).To(BeEmpty())
			Expect(red.Code).To(MatchRegexp(zoho.TokenPattern.String()))
			Expect(red.URL.Query().Get("code")).To(Equal(red.Code))

			t := f.exchange(dc, c, red.Code)
			at, rt := fxExpectTokens(t)
			Expect(rt).NotTo(BeEmpty())
			Expect(t.json()).To(HaveKeyWithValue("api_domain", api))
			fxExpectOK(f.users(dc, at))
			ui := fxSend(f.hc, func() *http.Request {
				req := newRequest(http.MethodGet, accounts+"/oauth/user/info", nil)
				req.Header.Set("Authorization", "Zoho-oauthtoken "+at)
				return req
			}())
			fxExpectOK(ui)
			other := anotherDC(dc)
			Expect(f.users(other, at).status).To(Equal(http.StatusUnauthorized), "a %s token at %s", dc, other)
			fxExpectOK(f.refresh(dc, c, rt))

			var dcs []zoho.DC
			for _, l := range srv.Requests() {
				if l.DC == dc {
					dcs = append(dcs, l.DC)
				}
			}
			Expect(len(dcs)).To(BeNumerically(">=", 5), "the log names %s", dc)
		}
	})

	It("works for golang.org/x/oauth2 on Zoho's real endpoints: exchange, use, refresh, RetrieveError codes", func(ctx SpecContext) {
		srv, f := inProcess()
		web := f.webClient(zoho.EU)
		cfg := zohoOAuth2(web, zoho.EU)
		Expect(cfg.Endpoint.TokenURL).To(Equal("https://accounts.zoho.eu/oauth/v2/token"))
		octx := srv.OAuth2Context(ctx)

		red, err := srv.Authorize(zoho.EU, authCodeParams(cfg))
		Expect(err).NotTo(HaveOccurred())
		Expect(red.AccountsServer).To(Equal("https://accounts.zoho.eu"))
		tok, err := cfg.Exchange(octx, red.Code)
		Expect(err).NotTo(HaveOccurred())
		Expect(tok.AccessToken).To(MatchRegexp(zoho.TokenPattern.String()))
		Expect(tok.RefreshToken).To(MatchRegexp(zoho.TokenPattern.String()))
		Expect(tok.Extra("api_domain")).To(Equal("https://www.zohoapis.eu"))

		_, err = cfg.Exchange(octx, red.Code)
		expectRetrieveError(err, http.StatusOK, zoho.ErrInvalidCode)

		// cfg.Client wraps the fake's transport (Authorization: Bearer)
		resp, err := cfg.Client(octx, tok).Get("https://www.zohoapis.eu/crm/v8/users?type=CurrentUser")
		Expect(err).NotTo(HaveOccurred())
		_ = resp.Body.Close()
		Expect(resp.StatusCode).To(Equal(http.StatusOK))

		nt, err := cfg.TokenSource(octx, &oauth2.Token{RefreshToken: tok.RefreshToken}).Token()
		Expect(err).NotTo(HaveOccurred())
		Expect(nt.AccessToken).NotTo(Equal(tok.AccessToken))
		fxExpectOK(f.users(zoho.EU, nt.AccessToken))

		// a wrong secret at the right DC, and the right client at the wrong DC
		bad := *cfg
		bad.ClientSecret = strings.Repeat("0", 42)
		_, err = bad.TokenSource(octx, &oauth2.Token{RefreshToken: tok.RefreshToken}).Token()
		expectRetrieveError(err, http.StatusOK, zoho.ErrInvalidClient)
		us := zohoOAuth2(web, zoho.US)
		_, err = us.TokenSource(octx, &oauth2.Token{RefreshToken: tok.RefreshToken}).Token()
		expectRetrieveError(err, http.StatusOK, zoho.ErrInvalidClient)

		// faults as x/oauth2 sees them
		f.inject(fakeserver.Fault{Kind: fakeserver.FaultThrottle, Endpoint: fakeserver.EndpointToken, Times: 1})
		_, err = cfg.TokenSource(octx, &oauth2.Token{RefreshToken: tok.RefreshToken}).Token()
		expectRetrieveError(err, http.StatusBadRequest, zoho.ErrThrottled)

		f.inject(fakeserver.Fault{Kind: fakeserver.FaultStatus, Status: 200, Body: `{"error":"invalid_code"}`, Endpoint: fakeserver.EndpointToken, Times: 1})
		_, err = cfg.TokenSource(octx, &oauth2.Token{RefreshToken: tok.RefreshToken}).Token()
		expectRetrieveError(err, http.StatusOK, zoho.ErrInvalidCode)

		f.inject(fakeserver.Fault{Kind: fakeserver.FaultReset, Endpoint: fakeserver.EndpointToken, Times: 1})
		_, err = cfg.TokenSource(octx, &oauth2.Token{RefreshToken: tok.RefreshToken}).Token()
		Expect(errors.Is(err, syscall.ECONNRESET)).To(BeTrue(), "%v", err)

		hctx, cancel := context.WithTimeout(octx, 50*time.Millisecond)
		defer cancel()
		f.inject(fakeserver.Fault{Kind: fakeserver.FaultHang, Endpoint: fakeserver.EndpointToken, Times: 1})
		_, err = cfg.TokenSource(hctx, &oauth2.Token{RefreshToken: tok.RefreshToken}).Token()
		Expect(errors.Is(err, context.DeadlineExceeded)).To(BeTrue(), "%v", err)

		// the lost token through a real client: the refresh fails for it,
		// the fake minted the access token all the same
		live := len(srv.LiveAccessTokens(tok.RefreshToken))
		f.inject(fakeserver.Fault{Kind: fakeserver.FaultTruncated, Endpoint: fakeserver.EndpointToken, Times: 1})
		_, err = cfg.TokenSource(octx, &oauth2.Token{RefreshToken: tok.RefreshToken}).Token()
		Expect(err).To(MatchError(ContainSubstring("cannot parse json")))
		Expect(srv.LiveAccessTokens(tok.RefreshToken)).To(HaveLen(live + 1))

		// a code exchange answered as text/plain: x/oauth2 parses it as a
		// query string and finds no token; the code is burnt
		red, err = srv.Authorize(zoho.EU, authCodeParams(cfg))
		Expect(err).NotTo(HaveOccurred())
		f.inject(fakeserver.Fault{Kind: fakeserver.FaultWrongContentType, Endpoint: fakeserver.EndpointToken, Times: 1})
		_, err = cfg.Exchange(octx, red.Code)
		Expect(err).To(MatchError(ContainSubstring("missing access_token")))
		_, err = cfg.Exchange(octx, red.Code)
		expectRetrieveError(err, http.StatusOK, zoho.ErrInvalidCode)
	}, SpecTimeout(5*time.Second))

	Describe("Authorize", func() {
		var (
			srv *fakeserver.Server
			f   *fxFake
			web fakeserver.Client
		)
		BeforeEach(func() {
			srv, f = inProcess()
			web = f.webClient(zoho.US)
		})

		It("returns the redirect with the code", func() {
			red, err := srv.Authorize(zoho.US, authParams(web))
			Expect(err).NotTo(HaveOccurred())
			Expect(red.Code).To(MatchRegexp(zoho.TokenPattern.String()))
			Expect(red.Location).To(Equal("us"))
			Expect(red.AccountsServer).To(Equal("https://accounts.zoho.com"))
			Expect(red.State).To(Equal(testState))
			Expect(red.URL.String()).To(HavePrefix(testRedirectURI + "?"))
			fxExpectTokens(f.exchange(zoho.US, web, red.Code))
		})

		It("returns a denial as the redirect's error", func() {
			Expect(srv.ScriptConsent(web.ID, fakeserver.Consent{Deny: true})).To(Succeed())
			red, err := srv.Authorize(zoho.US, authParams(web))
			Expect(err).NotTo(HaveOccurred())
			Expect(red.Error).To(Equal(zoho.ErrAccessDenied))
			Expect(red.Code).To(BeEmpty())
		})

		It("returns an error naming the error page's code", func() {
			q := authParams(web)
			q.Set("client_id", "1000.NOSUCHCLIENT000000000000000000")
			_, err := srv.Authorize(zoho.US, q)
			Expect(err).To(MatchError(ContainSubstring(zoho.ErrAuthClient)))
			Expect(err).To(MatchError(ContainSubstring("HTTP 400")))

			_, err = srv.Authorize(zoho.EU, authParams(web)) // a US client at EU
			Expect(err).To(MatchError(ContainSubstring(zoho.ErrAuthClient)))

			q = authParams(web)
			q.Set("redirect_uri", "https://elsewhere.example/cb")
			_, err = srv.Authorize(zoho.US, q)
			Expect(err).To(MatchError(ContainSubstring(zoho.ErrAuthRedirectURI)))

			_, err = srv.Authorize("mars", authParams(web))
			Expect(err).To(MatchError(ContainSubstring(`unknown DC "mars"`)))
		})

		It("is not subject to faults (it is the test's helper, not the client under test)", func() {
			id := f.inject(fakeserver.Fault{Kind: fakeserver.FaultReset})
			red, err := srv.Authorize(zoho.US, authParams(web))
			Expect(err).NotTo(HaveOccurred())
			Expect(red.Code).NotTo(BeEmpty())
			Expect(f.fault(id).Matched).To(BeZero())
		})

		It("works on a started server too, and is logged with the real host's DC", func() {
			started := fakeserver.New()
			DeferCleanup(started.Close)
			c, err := started.RegisterClient(fakeserver.ClientSpec{Type: fakeserver.WebBased, Name: "started", Homepage: testHomepage, RedirectURIs: []string{testRedirectURI}, DC: zoho.EU})
			Expect(err).NotTo(HaveOccurred())
			red, err := started.Authorize(zoho.EU, authParams(c))
			Expect(err).NotTo(HaveOccurred())
			Expect(red.AccountsServer).To(Equal("https://accounts.zoho.eu"), "Authorize always uses the real host name")
			rs := started.Requests()
			Expect(rs).To(HaveLen(1))
			Expect(rs[0].DC).To(Equal(zoho.EU))
			Expect(rs[0].Path).To(Equal("/oauth/v2/auth"))
		})
	})

	It("works on a server that never listens (NewUnstarted)", func() {
		srv, f := inProcess()
		Expect(srv.URL).To(BeEmpty())
		web := f.webClient(zoho.US)
		at, rt := f.tokens(zoho.US, web)
		fxExpectOK(f.users(zoho.US, at))
		fxExpectOK(f.refresh(zoho.US, web, rt))
	})

	It("answers connection refused once the server is closed, started or not", func() {
		for _, srv := range []*fakeserver.Server{fakeserver.NewUnstarted(), fakeserver.New()} {
			hc := srv.HTTPClient()
			r := fxGet(hc, "https://accounts.zoho.com/oauth/v2/token")
			Expect(r.err).NotTo(HaveOccurred())
			srv.Close()
			srv.Close() // twice is fine
			for _, u := range []string{"https://accounts.zoho.com/oauth/v2/token", "https://www.zohoapis.eu/crm/v8/org"} {
				r = fxGet(hc, u)
				Expect(errors.Is(r.err, syscall.ECONNREFUSED)).To(BeTrue(), "%v", r.err)
			}
			r = fxGet(srv.HTTPClient(), "https://accounts.zoho.com/oauth/v2/token")
			Expect(errors.Is(r.err, syscall.ECONNREFUSED)).To(BeTrue(), "a transport made after Close: %v", r.err)
			if srv.URL != "" {
				r = fxGet(srv.Client(), srv.AccountsURL(zoho.US)+"/oauth/v2/token")
				Expect(errors.Is(r.err, syscall.ECONNREFUSED)).To(BeTrue(), "the listener: %v", r.err)
			}
		}
	})
})

// TestTransportCleanup uses the fake the plain go test way: a server per
// test, closed by t.Cleanup; once the cleanup ran, the transport refuses.
func TestTransportCleanup(t *testing.T) {
	t.Parallel()
	var (
		srv *fakeserver.Server
		hc  *http.Client
	)
	t.Run("use", func(t *testing.T) {
		g := NewWithT(t)
		srv = fakeserver.NewUnstarted()
		t.Cleanup(srv.Close)
		hc = srv.HTTPClient()
		web, err := srv.RegisterClient(fakeserver.ClientSpec{Type: fakeserver.WebBased, Name: "cleanup", Homepage: testHomepage, RedirectURIs: []string{testRedirectURI}})
		g.Expect(err).NotTo(HaveOccurred())
		cfg := zohoOAuth2(web, zoho.US)
		u, err := url.Parse(cfg.AuthCodeURL(testState, oauth2.AccessTypeOffline))
		g.Expect(err).NotTo(HaveOccurred())
		red, err := srv.Authorize(zoho.US, u.Query())
		g.Expect(err).NotTo(HaveOccurred())
		tok, err := cfg.Exchange(srv.OAuth2Context(t.Context()), red.Code)
		g.Expect(err).NotTo(HaveOccurred())
		g.Expect(tok.Extra("api_domain")).To(Equal("https://www.zohoapis.com"))
	})
	_, err := hc.Get("https://accounts.zoho.com/oauth/v2/token")
	if !errors.Is(err, syscall.ECONNREFUSED) {
		t.Fatalf("after t.Cleanup closed the fake: got %v, want connection refused", err)
	}
}

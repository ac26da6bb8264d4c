package fakeserver_test

// Faults on the wire: what a client sees for each kind, over loopback HTTP
// and in-process on Zoho's real host names; targeting and counting; the
// effects a broken answer still has (the "lost token"); the control API.

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"net/url"
	"slices"
	"strings"
	"sync"
	"syscall"
	"time"

	. "github.com/onsi/ginkgo/v2"
	. "github.com/onsi/gomega"

	"github.com/zconform/zconform/fakeserver"
	"github.com/zconform/zconform/fixtures/zoho"
)

// fxWire is one way of reaching a fake.
type fxWire struct {
	name      string
	inProcess bool
}

// fxWires: over loopback HTTP (srv.Client(), the path-prefix URLs), and
// in-process (srv.HTTPClient() on an unstarted server, Zoho's https URLs).
var fxWires = []fxWire{
	{name: "over loopback HTTP"},
	{name: "in-process on Zoho's host names", inProcess: true},
}

// fxFake is a fake reached over one wire, with a client that does not
// follow redirects. It is closed when the spec ends.
type fxFake struct {
	srv       *fakeserver.Server
	hc        *http.Client
	inProcess bool
}

func noFollow(*http.Request, []*http.Request) error { return http.ErrUseLastResponse }

func (w fxWire) start(opts ...fakeserver.Option) *fxFake {
	GinkgoHelper()
	var f *fxFake
	if w.inProcess {
		srv := fakeserver.NewUnstarted(opts...)
		hc := srv.HTTPClient()
		hc.CheckRedirect = noFollow
		f = &fxFake{srv: srv, hc: hc, inProcess: true}
	} else {
		srv := fakeserver.New(opts...)
		f = &fxFake{srv: srv, hc: srv.Client()}
	}
	DeferCleanup(func() {
		f.hc.CloseIdleConnections()
		f.srv.Close()
	})
	return f
}

func (f *fxFake) accounts(dc zoho.DC) string {
	if f.inProcess {
		d, _ := zoho.Lookup(dc)
		return d.AccountsURL()
	}
	return f.srv.AccountsURL(dc)
}

func (f *fxFake) api(dc zoho.DC) string {
	if f.inProcess {
		d, _ := zoho.Lookup(dc)
		return d.APIURL()
	}
	return f.srv.APIURL(dc)
}

// fxResult is what a client saw. Sending never asserts, so it can run in
// goroutines.
type fxResult struct {
	status  int
	header  http.Header
	length  int64 // the response's ContentLength
	body    []byte
	err     error // the round trip's error
	readErr error // the error reading the body
	elapsed time.Duration
}

func (r fxResult) String() string {
	return fmt.Sprintf("status %d, err %v, read err %v, body %q", r.status, r.err, r.readErr, r.body)
}

func (r fxResult) json() map[string]any {
	GinkgoHelper()
	var m map[string]any
	Expect(json.Unmarshal(r.body, &m)).To(Succeed(), "%s", r)
	return m
}

func fxSend(hc *http.Client, req *http.Request) fxResult {
	start := time.Now()
	resp, err := hc.Do(req)
	if err != nil {
		return fxResult{err: err, elapsed: time.Since(start)}
	}
	defer resp.Body.Close()
	body, readErr := io.ReadAll(resp.Body)
	return fxResult{status: resp.StatusCode, header: resp.Header, length: resp.ContentLength, body: body,
		readErr: readErr, elapsed: time.Since(start)}
}

func fxTokenRequest(ctx context.Context, u string, form url.Values) *http.Request {
	req, err := http.NewRequestWithContext(ctx, http.MethodPost, u, strings.NewReader(form.Encode()))
	if err != nil {
		panic(err)
	}
	req.Header.Set("Content-Type", "application/x-www-form-urlencoded")
	return req
}

func fxUsersRequest(ctx context.Context, api, token string) *http.Request {
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, api+"/crm/v8/users?type=CurrentUser", nil)
	if err != nil {
		panic(err)
	}
	req.Header.Set("Authorization", "Zoho-oauthtoken "+token)
	return req
}

func (f *fxFake) webClient(dc zoho.DC) fakeserver.Client {
	GinkgoHelper()
	c, err := f.srv.RegisterClient(fakeserver.ClientSpec{
		Type: fakeserver.WebBased, Name: "zconform web", Homepage: testHomepage,
		RedirectURIs: []string{testRedirectURI}, DC: dc,
	})
	Expect(err).NotTo(HaveOccurred())
	return c
}

// grant runs an authorization at dc over the wire and returns the code.
func (f *fxFake) grant(dc zoho.DC, c fakeserver.Client) string {
	GinkgoHelper()
	req, err := http.NewRequest(http.MethodGet, f.accounts(dc)+"/oauth/v2/auth?"+authParams(c).Encode(), nil)
	Expect(err).NotTo(HaveOccurred())
	r := fxSend(f.hc, req)
	Expect(r.err).NotTo(HaveOccurred())
	Expect(r.status).To(Equal(http.StatusFound), "%s", r)
	loc, err := url.Parse(r.header.Get("Location"))
	Expect(err).NotTo(HaveOccurred())
	Expect(loc.Query().Get("accounts-server")).To(Equal(f.accounts(dc)))
	code := loc.Query().Get("code")
	Expect(code).To(MatchRegexp(zoho.TokenPattern.String()))
	return code
}

func (f *fxFake) exchangeCtx(ctx context.Context, dc zoho.DC, c fakeserver.Client, code string) fxResult {
	return fxSend(f.hc, fxTokenRequest(ctx, f.accounts(dc)+"/oauth/v2/token", exchangeForm(c, dc, code)))
}

func (f *fxFake) exchange(dc zoho.DC, c fakeserver.Client, code string) fxResult {
	return f.exchangeCtx(context.Background(), dc, c, code)
}

func (f *fxFake) refresh(dc zoho.DC, c fakeserver.Client, rt string) fxResult {
	return fxSend(f.hc, fxTokenRequest(context.Background(), f.accounts(dc)+"/oauth/v2/token", refreshForm(c, dc, rt)))
}

func (f *fxFake) usersCtx(ctx context.Context, dc zoho.DC, token string) fxResult {
	return fxSend(f.hc, fxUsersRequest(ctx, f.api(dc), token))
}

func (f *fxFake) users(dc zoho.DC, token string) fxResult {
	return f.usersCtx(context.Background(), dc, token)
}

// fxExpectTokens asserts a success answer of the token endpoint and returns
// the access and refresh tokens.
func fxExpectTokens(r fxResult) (access, refresh string) {
	GinkgoHelper()
	Expect(r.err).NotTo(HaveOccurred())
	Expect(r.readErr).NotTo(HaveOccurred())
	Expect(r.status).To(Equal(http.StatusOK), "%s", r)
	Expect(r.header.Get("Content-Type")).To(Equal("application/json;charset=UTF-8"))
	m := r.json()
	Expect(m).NotTo(HaveKey("error"), "%s", r)
	access, _ = m["access_token"].(string)
	refresh, _ = m["refresh_token"].(string)
	Expect(access).To(MatchRegexp(zoho.TokenPattern.String()), "%s", r)
	return access, refresh
}

// fxExpectTokenError asserts Zoho's bare token error.
func fxExpectTokenError(r fxResult, code string) {
	GinkgoHelper()
	Expect(r.err).NotTo(HaveOccurred())
	Expect(r.status).To(Equal(http.StatusOK), "%s", r)
	Expect(r.json()).To(Equal(map[string]any{"error": code}))
}

// fxExpectOK asserts a normal 200 answer with no error.
func fxExpectOK(r fxResult) {
	GinkgoHelper()
	Expect(r.err).NotTo(HaveOccurred())
	Expect(r.readErr).NotTo(HaveOccurred())
	Expect(r.status).To(Equal(http.StatusOK), "%s", r)
}

// tokens runs a whole flow at dc and returns an access and a refresh token.
func (f *fxFake) tokens(dc zoho.DC, c fakeserver.Client) (access, refresh string) {
	GinkgoHelper()
	access, refresh = fxExpectTokens(f.exchange(dc, c, f.grant(dc, c)))
	Expect(refresh).To(MatchRegexp(zoho.TokenPattern.String()))
	return access, refresh
}

func (f *fxFake) inject(flt fakeserver.Fault) int {
	GinkgoHelper()
	id, err := f.srv.InjectFault(flt)
	Expect(err).NotTo(HaveOccurred())
	return id
}

func (f *fxFake) fault(id int) fakeserver.FaultState {
	GinkgoHelper()
	for _, s := range f.srv.Faults() {
		if s.ID == id {
			return s
		}
	}
	Fail(fmt.Sprintf("no fault %d", id))
	return fakeserver.FaultState{}
}

// loggedError is the Error of the last request on path in the log. A fault
// that breaks the connection over loopback reaches the client before the
// fake logs the request, hence Eventually.
func (f *fxFake) loggedError(path string) func() string {
	return func() string {
		rs := f.srv.Requests()
		for i := len(rs) - 1; i >= 0; i-- {
			if rs[i].Path == path {
				return rs[i].Error
			}
		}
		return "(no request on " + path + ")"
	}
}

const maintenancePage = "<html><body><h1>Down for maintenance</h1></body></html>"

// fxKindCase is what one fault kind looks like to a client calling the API
// domain: normal is the same call's normal answer.
type fxKindCase struct {
	name   string
	kind   fakeserver.FaultKind
	fault  fakeserver.Fault
	ctx    time.Duration // a deadline on the faulted request; 0: none
	expect func(f *fxFake, r fxResult, normal []byte)
}

var fxKindCases = []fxKindCase{
	{name: "status 503 with Retry-After and an HTML page", kind: fakeserver.FaultStatus,
		fault: fakeserver.Fault{Kind: fakeserver.FaultStatus, Status: 503, Header: map[string]string{"Retry-After": "120"}, Body: maintenancePage},
		expect: func(f *fxFake, r fxResult, _ []byte) {
			Expect(r.err).NotTo(HaveOccurred())
			Expect(r.readErr).NotTo(HaveOccurred())
			Expect(r.status).To(Equal(http.StatusServiceUnavailable))
			Expect(r.header.Get("Retry-After")).To(Equal("120"))
			Expect(r.header.Get("Content-Type")).To(Equal("text/html;charset=UTF-8"))
			Expect(string(r.body)).To(Equal(maintenancePage))
			Expect(r.length).To(BeEquivalentTo(len(maintenancePage)))
		}},
	{name: "status 200 with a JSON error body", kind: fakeserver.FaultStatus,
		fault: fakeserver.Fault{Kind: fakeserver.FaultStatus, Status: 200, Body: `{"error":"invalid_code"}`},
		expect: func(f *fxFake, r fxResult, _ []byte) {
			fxExpectOK(r)
			Expect(r.header.Get("Content-Type")).To(Equal("application/json;charset=UTF-8"))
			Expect(r.json()).To(Equal(map[string]any{"error": "invalid_code"}))
		}},
	{name: "status 500 with the fault's own Content-Type", kind: fakeserver.FaultStatus,
		fault: fakeserver.Fault{Kind: fakeserver.FaultStatus, Status: 500, Body: `{"x":1}`, Header: map[string]string{"Content-Type": "text/plain"}},
		expect: func(f *fxFake, r fxResult, _ []byte) {
			Expect(r.err).NotTo(HaveOccurred())
			Expect(r.status).To(Equal(http.StatusInternalServerError))
			Expect(r.header.Get("Content-Type")).To(Equal("text/plain"), "the fault's header wins")
			Expect(string(r.body)).To(Equal(`{"x":1}`))
		}},
	{name: "throttle: HTTP 400 Access Denied JSON", kind: fakeserver.FaultThrottle,
		fault: fakeserver.Fault{Kind: fakeserver.FaultThrottle},
		expect: func(f *fxFake, r fxResult, _ []byte) {
			Expect(r.err).NotTo(HaveOccurred())
			Expect(r.status).To(Equal(http.StatusBadRequest))
			Expect(r.header.Get("Content-Type")).To(Equal("application/json;charset=UTF-8"))
			Expect(r.json()).To(Equal(map[string]any{"error": "Access Denied", "error_description": zoho.ThrottleDescription}))
		}},
	{name: "not-json: 200 text/html", kind: fakeserver.FaultNotJSON,
		fault: fakeserver.Fault{Kind: fakeserver.FaultNotJSON},
		expect: func(f *fxFake, r fxResult, _ []byte) {
			fxExpectOK(r)
			Expect(r.header.Get("Content-Type")).To(Equal("text/html;charset=UTF-8"))
			Expect(string(r.body)).To(HavePrefix("<html>"))
			Expect(json.Valid(r.body)).To(BeFalse())
		}},
	{name: "wrong-content-type: the normal JSON as text/plain", kind: fakeserver.FaultWrongContentType,
		fault: fakeserver.Fault{Kind: fakeserver.FaultWrongContentType},
		expect: func(f *fxFake, r fxResult, normal []byte) {
			fxExpectOK(r)
			Expect(r.header.Get("Content-Type")).To(Equal("text/plain;charset=UTF-8"))
			Expect(string(r.body)).To(Equal(string(normal)), "the normal JSON")
		}},
	{name: "truncated: valid HTTP, the first half of the body, JSON that does not parse", kind: fakeserver.FaultTruncated,
		fault: fakeserver.Fault{Kind: fakeserver.FaultTruncated},
		expect: func(f *fxFake, r fxResult, normal []byte) {
			fxExpectOK(r) // valid HTTP: the body is whole as far as HTTP goes
			Expect(r.header.Get("Content-Type")).To(Equal("application/json;charset=UTF-8"))
			Expect(string(r.body)).To(Equal(string(normal[:len(normal)/2])), "the first half")
			Expect(r.length).To(BeEquivalentTo(len(normal) / 2))
			Expect(json.Valid(r.body)).To(BeFalse())
		}},
	{name: "empty: 200 with no body", kind: fakeserver.FaultEmpty,
		fault: fakeserver.Fault{Kind: fakeserver.FaultEmpty},
		expect: func(f *fxFake, r fxResult, _ []byte) {
			fxExpectOK(r)
			Expect(r.body).To(BeEmpty())
			Expect(r.length).To(BeZero())
		}},
	{name: "latency: the normal answer, 30ms late", kind: fakeserver.FaultLatency,
		fault: fakeserver.Fault{Kind: fakeserver.FaultLatency, Latency: 30 * time.Millisecond},
		expect: func(f *fxFake, r fxResult, normal []byte) {
			fxExpectOK(r)
			Expect(string(r.body)).To(Equal(string(normal)))
			Expect(r.elapsed).To(BeNumerically(">=", 30*time.Millisecond))
		}},
	{name: "hang: the context's deadline error", kind: fakeserver.FaultHang,
		fault: fakeserver.Fault{Kind: fakeserver.FaultHang},
		ctx:   80 * time.Millisecond,
		expect: func(f *fxFake, r fxResult, _ []byte) {
			Expect(r.err).To(HaveOccurred())
			Expect(errors.Is(r.err, context.DeadlineExceeded)).To(BeTrue(), "%v", r.err)
			Expect(r.elapsed).To(BeNumerically("<", time.Second))
		}},
	{name: "reset: a transport error that is ECONNRESET", kind: fakeserver.FaultReset,
		fault: fakeserver.Fault{Kind: fakeserver.FaultReset},
		expect: func(f *fxFake, r fxResult, _ []byte) {
			Expect(r.err).To(HaveOccurred())
			Expect(errors.Is(r.err, syscall.ECONNRESET)).To(BeTrue(), "%T %v", r.err, r.err)
		}},
	{name: "close-mid-body: the headers, half the body, then io.ErrUnexpectedEOF", kind: fakeserver.FaultCloseMidBody,
		fault: fakeserver.Fault{Kind: fakeserver.FaultCloseMidBody},
		expect: func(f *fxFake, r fxResult, normal []byte) {
			Expect(r.err).NotTo(HaveOccurred(), "the headers arrive")
			Expect(r.status).To(Equal(http.StatusOK))
			Expect(r.header.Get("Content-Type")).To(Equal("application/json;charset=UTF-8"))
			Expect(r.length).To(BeEquivalentTo(len(normal)), "the whole body is promised")
			Expect(errors.Is(r.readErr, io.ErrUnexpectedEOF)).To(BeTrue(), "%v", r.readErr)
			Expect(string(r.body)).To(Equal(string(normal[:len(normal)/2])))
		}},
	{name: "millisecond-expiry: an answer without expires_in (the API's) passes unchanged", kind: fakeserver.FaultMillisecondExpiry,
		fault: fakeserver.Fault{Kind: fakeserver.FaultMillisecondExpiry},
		expect: func(f *fxFake, r fxResult, normal []byte) {
			fxExpectOK(r)
			Expect(string(r.body)).To(Equal(string(normal)))
		}},
}

var _ = Describe("Faults on the wire", func() {
	It("has a case for every fault kind", func() {
		var kinds []fakeserver.FaultKind
		for _, c := range fxKindCases {
			if !slices.Contains(kinds, c.kind) {
				kinds = append(kinds, c.kind)
			}
			Expect(c.fault.Kind).To(Equal(c.kind))
		}
		Expect(kinds).To(ConsistOf(fakeserver.FaultKinds))
		Expect(fakeserver.FaultKinds).To(HaveLen(11))
	})

	for _, w := range fxWires {
		Context(w.name, func() {
			var (
				f      *fxFake
				web    fakeserver.Client
				access string
				normal []byte
			)
			BeforeEach(func() {
				f = w.start()
				web = f.webClient(zoho.US)
				access, _ = f.tokens(zoho.US, web)
				r := f.users(zoho.US, access)
				fxExpectOK(r)
				normal = r.body
				Expect(r.json()).To(HaveKey("users"))
			})

			for _, c := range fxKindCases {
				It(c.name+"; once, then the normal answer", func() {
					id := f.inject(withTimes(c.fault, 1, fakeserver.EndpointAPI))
					ctx := context.Background()
					if c.ctx > 0 {
						var cancel context.CancelFunc
						ctx, cancel = context.WithTimeout(ctx, c.ctx)
						defer cancel()
					}
					// a fresh connection: Go retries a GET that fails on a
					// reused one (see below)
					f.hc.CloseIdleConnections()
					c.expect(f, f.usersCtx(ctx, zoho.US, access), normal)
					st := f.fault(id)
					Expect(st.Matched).To(Equal(1))
					Expect(st.Fired).To(Equal(1))
					Expect(st.Done).To(BeTrue())
					// the N+1-th request is served normally
					r := f.users(zoho.US, access)
					fxExpectOK(r)
					Expect(string(r.body)).To(Equal(string(normal)))
					Expect(f.fault(id).Matched).To(Equal(1), "a done fault matches nothing more")
				})
			}

			It("millisecond-expiry: a token answer in the older shape, the same tokens", func() {
				_, rt := f.tokens(zoho.US, web)
				id := f.inject(fakeserver.Fault{Kind: fakeserver.FaultMillisecondExpiry, Endpoint: fakeserver.EndpointToken})
				r := f.refresh(zoho.US, web, rt)
				fxExpectOK(r)
				m := r.json()
				Expect(m).To(HaveKeyWithValue("expires_in", 3600000.0))
				Expect(m).To(HaveKeyWithValue("expires_in_sec", 3600.0))
				Expect(m).To(HaveKey("access_token"))
				Expect(m).To(HaveLen(5), "access_token, api_domain, token_type, expires_in, expires_in_sec")
				Expect(r.length).To(BeEquivalentTo(len(r.body)))
				Expect(f.fault(id).Fired).To(Equal(1))
				// the token is a real one
				fxExpectOK(f.users(zoho.US, m["access_token"].(string)))
			})

			It("hang: the client's timeout is the error, and the fake's Close does not wait for the hung request", func() {
				id := f.inject(fakeserver.Fault{Kind: fakeserver.FaultHang, Endpoint: fakeserver.EndpointAPI})
				hc := *f.hc
				hc.Timeout = 80 * time.Millisecond
				r := fxSend(&hc, fxUsersRequest(context.Background(), f.api(zoho.US), access))
				Expect(r.err).To(HaveOccurred())
				var ne net.Error
				Expect(errors.As(r.err, &ne)).To(BeTrue(), "%T %v", r.err, r.err)
				Expect(ne.Timeout()).To(BeTrue(), "%v", r.err)
				Expect(r.elapsed).To(BeNumerically("<", time.Second))

				// a request without any deadline hangs until Close
				done := make(chan fxResult, 1)
				req := fxUsersRequest(context.Background(), f.api(zoho.US), access)
				go func() { done <- fxSend(f.hc, req) }()
				Eventually(func() int { return f.fault(id).Fired }).Should(Equal(2))
				Consistently(done, 20*time.Millisecond).ShouldNot(Receive())
				start := time.Now()
				f.srv.Close()
				Expect(time.Since(start)).To(BeNumerically("<", 100*time.Millisecond))
				var got fxResult
				Eventually(done).Within(time.Second).Should(Receive(&got))
				Expect(got.err).To(HaveOccurred(), "the hung request fails when the fake closes")
			})

			It("a latency longer than the client's deadline: the deadline error, and the request is never served", func() {
				code := f.grant(zoho.US, web)
				f.inject(fakeserver.Fault{Kind: fakeserver.FaultLatency, Latency: 150 * time.Millisecond, Endpoint: fakeserver.EndpointToken, Times: 1})
				ctx, cancel := context.WithTimeout(context.Background(), 20*time.Millisecond)
				defer cancel()
				r := f.exchangeCtx(ctx, zoho.US, web, code)
				Expect(errors.Is(r.err, context.DeadlineExceeded)).To(BeTrue(), "%v", r.err)
				Expect(r.elapsed).To(BeNumerically("<", 150*time.Millisecond))
				fxExpectTokens(f.exchange(zoho.US, web, code)) // the code was not burnt
			})

			if !w.inProcess {
				It("reset on a reused connection: Go's transport retries an idempotent GET once, so the client sees the normal answer", func() {
					id := f.inject(fakeserver.Fault{Kind: fakeserver.FaultReset, Endpoint: fakeserver.EndpointAPI, Times: 1})
					r := f.users(zoho.US, access) // the connection of BeforeEach's requests
					fxExpectOK(r)
					Expect(string(r.body)).To(Equal(string(normal)))
					Expect(f.fault(id).Fired).To(Equal(1))
					// a POST is not retried
					f.inject(fakeserver.Fault{Kind: fakeserver.FaultReset, Endpoint: fakeserver.EndpointToken, Times: 1})
					r = f.exchange(zoho.US, web, f.grant(zoho.US, web))
					Expect(errors.Is(r.err, syscall.ECONNRESET)).To(BeTrue(), "%v", r.err)
				})

				It("over TLS too: reset and close-mid-body break the connection", func() {
					srv := fakeserver.NewUnstarted()
					Expect(srv.StartTLS()).To(Succeed())
					DeferCleanup(srv.Close)
					hc := srv.Client()
					hc.Transport.(*http.Transport).DisableKeepAlives = true
					c, err := srv.RegisterClient(fakeserver.ClientSpec{Type: fakeserver.WebBased, Name: "tls", Homepage: testHomepage, RedirectURIs: []string{testRedirectURI}})
					Expect(err).NotTo(HaveOccurred())
					tf := &fxFake{srv: srv, hc: hc}
					at, _ := tf.tokens(zoho.US, c)
					tf.inject(fakeserver.Fault{Kind: fakeserver.FaultReset, Times: 1})
					r := tf.users(zoho.US, at)
					Expect(errors.Is(r.err, syscall.ECONNRESET)).To(BeTrue(), "%T %v", r.err, r.err)
					tf.inject(fakeserver.Fault{Kind: fakeserver.FaultCloseMidBody, Times: 1})
					r = tf.users(zoho.US, at)
					Expect(r.err).NotTo(HaveOccurred())
					Expect(errors.Is(r.readErr, io.ErrUnexpectedEOF)).To(BeTrue(), "%v", r.readErr)
					fxExpectOK(tf.users(zoho.US, at))
				})
			}
		})
	}
})

// withTimes targets a fault at one endpoint and lets it fire n times.
func withTimes(f fakeserver.Fault, n int, ep fakeserver.Endpoint) fakeserver.Fault {
	f.Times, f.Endpoint = n, ep
	return f
}

var _ = Describe("Fault targeting and counting", func() {
	for _, w := range fxWires {
		Context(w.name, func() {
			var (
				f      *fxFake
				web    fakeserver.Client
				access string
			)
			BeforeEach(func() {
				f = w.start()
				web = f.webClient(zoho.US)
				access, _ = f.tokens(zoho.US, web)
			})
			status := func(r fxResult) int {
				GinkgoHelper()
				Expect(r.err).NotTo(HaveOccurred())
				return r.status
			}

			It("fires a fault with Times N exactly N times, then serves normally", func() {
				id := f.inject(fakeserver.Fault{Kind: fakeserver.FaultStatus, Status: 503, Times: 3})
				var got []int
				for range 5 {
					got = append(got, status(f.users(zoho.US, access)))
				}
				Expect(got).To(Equal([]int{503, 503, 503, 200, 200}))
				Expect(f.srv.Faults()).To(Equal([]fakeserver.FaultState{{ID: id, Fault: fakeserver.Fault{Kind: fakeserver.FaultStatus, Status: 503, Times: 3}, Matched: 3, Fired: 3, Done: true}}))
			})

			It("fires a fault with Share 0.25 on exactly one in four matching requests, evenly", func() {
				id := f.inject(fakeserver.Fault{Kind: fakeserver.FaultStatus, Status: 503, Share: 0.25, Endpoint: fakeserver.EndpointAPI})
				var got []int
				for range 12 {
					got = append(got, status(f.users(zoho.US, access)))
				}
				Expect(got).To(Equal([]int{200, 200, 200, 503, 200, 200, 200, 503, 200, 200, 200, 503}))
				st := f.fault(id)
				Expect([]any{st.Matched, st.Fired, st.Done}).To(Equal([]any{12, 3, false}))
			})

			It("combines Share and Times: one in two, twice, then done", func() {
				id := f.inject(fakeserver.Fault{Kind: fakeserver.FaultThrottle, Share: 0.5, Times: 2})
				var got []int
				for range 6 {
					got = append(got, status(f.users(zoho.US, access)))
				}
				Expect(got).To(Equal([]int{200, 400, 200, 400, 200, 200}))
				st := f.fault(id)
				Expect([]any{st.Matched, st.Fired, st.Done}).To(Equal([]any{4, 2, true}))
			})

			It("targets an endpoint: a token fault does not touch the API, user info or authorization", func() {
				id := f.inject(fakeserver.Fault{Kind: fakeserver.FaultStatus, Status: 502, Endpoint: fakeserver.EndpointToken})
				fxExpectOK(f.users(zoho.US, access))
				req, err := http.NewRequest(http.MethodGet, f.accounts(zoho.US)+"/oauth/user/info", nil)
				Expect(err).NotTo(HaveOccurred())
				req.Header.Set("Authorization", "Zoho-oauthtoken "+access)
				fxExpectOK(fxSend(f.hc, req))
				code := f.grant(zoho.US, web)
				Expect(f.fault(id).Matched).To(BeZero())
				Expect(status(f.exchange(zoho.US, web, code))).To(Equal(502))
				Expect(f.fault(id).Matched).To(Equal(1))
				Expect(f.srv.RemoveFault(id)).To(BeTrue())
				fxExpectTokens(f.exchange(zoho.US, web, code)) // a status fault never served the request
			})

			It("targets a DC: an EU fault does not touch US", func() {
				eu := f.webClient(zoho.EU)
				euAccess, _ := f.tokens(zoho.EU, eu)
				id := f.inject(fakeserver.Fault{Kind: fakeserver.FaultNotJSON, DC: zoho.EU})
				fxExpectOK(f.users(zoho.US, access))
				fxExpectTokens(f.exchange(zoho.US, web, f.grant(zoho.US, web)))
				Expect(f.fault(id).Matched).To(BeZero())
				r := f.users(zoho.EU, euAccess)
				Expect(r.header.Get("Content-Type")).To(HavePrefix("text/html"))
				Expect(f.fault(id).Fired).To(Equal(1))
			})

			It("applies the first matching fault in the order they were added", func() {
				a := f.inject(fakeserver.Fault{Kind: fakeserver.FaultStatus, Status: 501, Endpoint: fakeserver.EndpointAPI, Times: 1})
				b := f.inject(fakeserver.Fault{Kind: fakeserver.FaultStatus, Status: 502, Endpoint: fakeserver.EndpointAPI, Times: 1})
				Expect(b).To(BeNumerically(">", a))
				got := []int{status(f.users(zoho.US, access)), status(f.users(zoho.US, access)), status(f.users(zoho.US, access))}
				Expect(got).To(Equal([]int{501, 502, 200}))
			})

			It("removes one fault, or all", func() {
				a := f.inject(fakeserver.Fault{Kind: fakeserver.FaultStatus, Status: 501, Endpoint: fakeserver.EndpointAPI})
				b := f.inject(fakeserver.Fault{Kind: fakeserver.FaultStatus, Status: 502})
				Expect(status(f.users(zoho.US, access))).To(Equal(501))
				Expect(f.srv.RemoveFault(a)).To(BeTrue())
				Expect(f.srv.RemoveFault(a)).To(BeFalse(), "already gone")
				Expect(f.srv.Faults()).To(HaveLen(1))
				Expect(f.srv.Faults()[0].ID).To(Equal(b))
				Expect(status(f.users(zoho.US, access))).To(Equal(502))
				f.srv.ClearFaults()
				Expect(f.srv.Faults()).To(BeEmpty())
				Expect(status(f.users(zoho.US, access))).To(Equal(200))
				c := f.inject(fakeserver.Fault{Kind: fakeserver.FaultEmpty})
				Expect(c).To(BeNumerically(">", b), "IDs are not reused")
			})

			It("normalises the DC it is given", func() {
				eu := f.webClient(zoho.EU)
				euAccess, _ := f.tokens(zoho.EU, eu)
				id := f.inject(fakeserver.Fault{Kind: fakeserver.FaultStatus, Status: 503, DC: " EU"})
				Expect(f.fault(id).DC).To(Equal(zoho.EU))
				Expect(status(f.users(zoho.EU, euAccess))).To(Equal(503))
			})

			It("refuses bad faults with a clear message", func() {
				for _, c := range []struct {
					fault fakeserver.Fault
					msg   string
				}{
					{fakeserver.Fault{Kind: "teapot"}, `unknown fault kind "teapot": use one of status, throttle`},
					{fakeserver.Fault{}, `unknown fault kind ""`},
					{fakeserver.Fault{Kind: fakeserver.FaultEmpty, Times: -1}, "times must be 0"},
					{fakeserver.Fault{Kind: fakeserver.FaultEmpty, Share: 1.5}, "share must be between 0 and 1"},
					{fakeserver.Fault{Kind: fakeserver.FaultEmpty, Share: -0.5}, "share must be between 0 and 1"},
					{fakeserver.Fault{Kind: fakeserver.FaultStatus}, "a status fault needs a status"},
					{fakeserver.Fault{Kind: fakeserver.FaultStatus, Status: 600}, "a status fault needs a status"},
					{fakeserver.Fault{Kind: fakeserver.FaultLatency}, "a latency fault needs a positive latency"},
					{fakeserver.Fault{Kind: fakeserver.FaultLatency, Latency: -time.Second}, "a latency fault needs a positive latency"},
					{fakeserver.Fault{Kind: fakeserver.FaultEmpty, Endpoint: "tokens"}, `unknown endpoint "tokens": use one of auth, token, revoke, userinfo, api`},
					{fakeserver.Fault{Kind: fakeserver.FaultEmpty, DC: "mars"}, `unknown data centre "mars"`},
				} {
					_, err := f.srv.InjectFault(c.fault)
					Expect(err).To(MatchError(ContainSubstring(c.msg)), "%+v", c.fault)
				}
				Expect(f.srv.Faults()).To(BeEmpty())
			})

			It("applies faults of one server only: another server in the same process is untouched, also concurrently", func() {
				g := w.start()
				gWeb := g.webClient(zoho.US)
				gAccess, _ := g.tokens(zoho.US, gWeb)
				id := f.inject(fakeserver.Fault{Kind: fakeserver.FaultStatus, Status: 503, Share: 0.5, Endpoint: fakeserver.EndpointAPI})
				const n = 40
				results := make([]fxResult, 2*n)
				var wg sync.WaitGroup
				for i := range 2 * n {
					wg.Add(1)
					go func() {
						defer wg.Done()
						if i%2 == 0 {
							results[i] = fxSend(f.hc, fxUsersRequest(context.Background(), f.api(zoho.US), access))
						} else {
							results[i] = fxSend(g.hc, fxUsersRequest(context.Background(), g.api(zoho.US), gAccess))
						}
					}()
				}
				wg.Wait()
				counts := map[string]int{}
				for i, r := range results {
					Expect(r.err).NotTo(HaveOccurred())
					counts[fmt.Sprintf("%s %d", map[bool]string{true: "f", false: "g"}[i%2 == 0], r.status)]++
				}
				Expect(counts).To(Equal(map[string]int{"f 200": n / 2, "f 503": n / 2, "g 200": n}))
				st := f.fault(id)
				Expect([]int{st.Matched, st.Fired}).To(Equal([]int{n, n / 2}))
				Expect(g.srv.Faults()).To(BeEmpty())
			})
		})
	}

	It("shares one fault list between the listener and the in-process transport of a server", func() {
		srv := fakeserver.New()
		DeferCleanup(srv.Close)
		loop := &fxFake{srv: srv, hc: srv.Client()}
		inproc := &fxFake{srv: srv, hc: srv.HTTPClient(), inProcess: true}
		inproc.hc.CheckRedirect = noFollow
		web := loop.webClient(zoho.US)
		access, _ := loop.tokens(zoho.US, web)
		id := loop.inject(fakeserver.Fault{Kind: fakeserver.FaultStatus, Status: 503, Times: 2, Endpoint: fakeserver.EndpointAPI})
		Expect(inproc.users(zoho.US, access).status).To(Equal(503))
		Expect(loop.users(zoho.US, access).status).To(Equal(503))
		fxExpectOK(inproc.users(zoho.US, access))
		fxExpectOK(loop.users(zoho.US, access))
		Expect(loop.fault(id).Done).To(BeTrue())
	})
})

var _ = Describe("Faults that change the normal answer keep its effect (the lost token)", func() {
	for _, w := range fxWires {
		Context(w.name, func() {
			var (
				f   *fxFake
				web fakeserver.Client
				me  fakeserver.User
			)
			BeforeEach(func() {
				f = w.start()
				web = f.webClient(zoho.US)
				var err error
				me, err = f.srv.DefaultUser(zoho.US)
				Expect(err).NotTo(HaveOccurred())
			})
			liveRTs := func() int {
				GinkgoHelper()
				t, err := f.srv.Tokens(me.Email)
				Expect(err).NotTo(HaveOccurred())
				return len(t.RefreshTokens)
			}

			It("truncated answer to a code exchange: the JSON does not parse, the code is burnt, a refresh token was issued", func() {
				code := f.grant(zoho.US, web)
				f.inject(fakeserver.Fault{Kind: fakeserver.FaultTruncated, Endpoint: fakeserver.EndpointToken, Times: 1})
				r := f.exchange(zoho.US, web, code)
				fxExpectOK(r)
				Expect(string(r.body)).To(HavePrefix(`{"access_token":"`))
				Expect(json.Valid(r.body)).To(BeFalse())
				Eventually(f.loggedError("/oauth/v2/token")).Should(HavePrefix("fault:truncated"))
				fxExpectTokenError(f.exchange(zoho.US, web, code), zoho.ErrInvalidCode)
				Expect(liveRTs()).To(Equal(1), "the lost refresh token is alive")
			})

			It("wrong content type on a code exchange: the tokens are all there, as text/plain, and the code is burnt", func() {
				code := f.grant(zoho.US, web)
				f.inject(fakeserver.Fault{Kind: fakeserver.FaultWrongContentType, Endpoint: fakeserver.EndpointToken, Times: 1})
				r := f.exchange(zoho.US, web, code)
				Expect(r.header.Get("Content-Type")).To(Equal("text/plain;charset=UTF-8"))
				Expect(r.json()).To(HaveKey("refresh_token"))
				fxExpectTokenError(f.exchange(zoho.US, web, code), zoho.ErrInvalidCode)
			})

			It("reset on a code exchange: no answer, but the code is burnt (the server did the work)", func() {
				code := f.grant(zoho.US, web)
				f.inject(fakeserver.Fault{Kind: fakeserver.FaultReset, Endpoint: fakeserver.EndpointToken, Times: 1})
				r := f.exchange(zoho.US, web, code)
				Expect(errors.Is(r.err, syscall.ECONNRESET)).To(BeTrue(), "%v", r.err)
				Eventually(f.loggedError("/oauth/v2/token")).Should(HavePrefix("fault:reset"))
				fxExpectTokenError(f.exchange(zoho.US, web, code), zoho.ErrInvalidCode)
				Expect(liveRTs()).To(Equal(1))
			})

			It("close-mid-body on a refresh: reading fails, yet the access token was minted and works", func() {
				_, rt := f.tokens(zoho.US, web)
				before := f.srv.LiveAccessTokens(rt)
				Expect(before).To(HaveLen(1))
				f.inject(fakeserver.Fault{Kind: fakeserver.FaultCloseMidBody, Endpoint: fakeserver.EndpointToken, Times: 1})
				r := f.refresh(zoho.US, web, rt)
				Expect(r.err).NotTo(HaveOccurred())
				Expect(r.status).To(Equal(http.StatusOK))
				Expect(errors.Is(r.readErr, io.ErrUnexpectedEOF)).To(BeTrue(), "%v", r.readErr)
				Expect(string(r.body)).To(HavePrefix(`{"access_token":"`))
				Eventually(f.loggedError("/oauth/v2/token")).Should(HavePrefix("fault:close-mid-body"))
				after := f.srv.LiveAccessTokens(rt)
				Expect(after).To(HaveLen(2))
				var lost string
				for _, t := range after {
					if !slices.Contains(before, t) {
						lost = t
					}
				}
				Expect(lost).NotTo(BeEmpty())
				part, _, _ := strings.Cut(strings.TrimPrefix(string(r.body), `{"access_token":"`), `"`)
				Expect(part).NotTo(BeEmpty())
				Expect(lost).To(HavePrefix(part), "the half that arrived starts the lost token")
				fxExpectOK(f.users(zoho.US, lost))
			})

			for _, flt := range []fakeserver.Fault{
				{Kind: fakeserver.FaultStatus, Status: 503, Body: maintenancePage},
				{Kind: fakeserver.FaultThrottle},
				{Kind: fakeserver.FaultNotJSON},
				{Kind: fakeserver.FaultEmpty},
				{Kind: fakeserver.FaultHang},
			} {
				It(fmt.Sprintf("%s on a code exchange: the request is never served, the code survives", flt.Kind), func() {
					code := f.grant(zoho.US, web)
					f.inject(withTimes(flt, 1, fakeserver.EndpointToken))
					ctx, cancel := context.WithTimeout(context.Background(), 100*time.Millisecond)
					defer cancel()
					r := f.exchangeCtx(ctx, zoho.US, web, code)
					if flt.Kind == fakeserver.FaultHang {
						Expect(errors.Is(r.err, context.DeadlineExceeded)).To(BeTrue(), "%v", r.err)
					} else {
						Expect(r.err).NotTo(HaveOccurred())
						Expect(string(r.body)).NotTo(ContainSubstring("access_token"))
					}
					Expect(liveRTs()).To(BeZero())
					fxExpectTokens(f.exchange(zoho.US, web, code))
				})
			}
		})
	}
})

var _ = Describe("The control API for faults", func() {
	var f *fake
	BeforeEach(func() { f = newFake(profileKaizen4) })

	type view struct {
		ID       int               `json:"id"`
		Kind     string            `json:"kind"`
		DC       string            `json:"dc"`
		Endpoint string            `json:"endpoint"`
		Times    int               `json:"times"`
		Share    float64           `json:"share"`
		Status   int               `json:"status"`
		Body     string            `json:"body"`
		Header   map[string]string `json:"header"`
		Latency  string            `json:"latency"`
		Matched  int               `json:"matched"`
		Fired    int               `json:"fired"`
		Done     bool              `json:"done"`
	}
	list := func() []view {
		GinkgoHelper()
		var out struct {
			Faults []view `json:"faults"`
		}
		f.ctlOK(http.MethodGet, "/faults", "", &out)
		Expect(out.Faults).NotTo(BeNil(), "faults is a list, never null")
		return out.Faults
	}
	inject := func(body string) int {
		GinkgoHelper()
		var out struct {
			ID int `json:"id"`
		}
		f.ctlOK(http.MethodPost, "/faults", body, &out)
		Expect(out.ID).To(BeNumerically(">", 0))
		return out.ID
	}

	It("injects faults, lists them with their counters, removes one and clears all", func() {
		Expect(list()).To(BeEmpty())
		web := f.webClient(zoho.US)
		at := f.offlineTokens(zoho.US, web).AccessToken()

		lat := inject(`{"kind":"latency","latency":"50ms","endpoint":"api","times":1}`)
		st := inject(`{"kind":"status","status":503,"body":"<p>down</p>","header":{"Retry-After":"7"},"dc":"eu","share":0.5}`)
		Expect(list()).To(Equal([]view{
			{ID: lat, Kind: "latency", Endpoint: "api", Times: 1, Latency: "50ms"},
			{ID: st, Kind: "status", DC: "eu", Share: 0.5, Status: 503, Body: "<p>down</p>", Header: map[string]string{"Retry-After": "7"}},
		}))

		start := time.Now()
		f.expectTokenWorks(zoho.US, at)
		Expect(time.Since(start)).To(BeNumerically(">=", 50*time.Millisecond))
		f.expectTokenWorks(zoho.US, at)
		l := list()
		Expect([]any{l[0].Matched, l[0].Fired, l[0].Done}).To(Equal([]any{1, 1, true}))
		Expect([]any{l[1].Matched, l[1].Fired, l[1].Done}).To(Equal([]any{0, 0, false}), "a US request is not an EU one")

		var after struct {
			Faults []view `json:"faults"`
		}
		f.ctlOK(http.MethodDelete, fmt.Sprintf("/faults/%d", lat), "", &after)
		Expect(after.Faults).To(HaveLen(1))
		Expect(after.Faults[0].ID).To(Equal(st))
		r := f.ctl(http.MethodDelete, fmt.Sprintf("/faults/%d", lat), "")
		Expect(r.Status).To(Equal(http.StatusNotFound))
		Expect(r.JSON()["error"]).To(ContainSubstring(fmt.Sprintf(`no fault "%d"`, lat)))
		r = f.ctl(http.MethodDelete, "/faults/abc", "")
		Expect(r.Status).To(Equal(http.StatusNotFound))

		f.ctlOK(http.MethodDelete, "/faults", "", &after)
		Expect(after.Faults).To(BeEmpty())
		Expect(list()).To(BeEmpty())
		Expect(f.Faults()).To(BeEmpty())
	})

	It("injects the same faults as the Go API (the effect shows on the wire)", func() {
		inject(`{"kind":"throttle","endpoint":"token","times":1}`)
		web := f.webClient(zoho.US)
		code := f.grant(zoho.US, web)
		r := f.postForm(f.AccountsURL(zoho.US)+"/oauth/v2/token", exchangeForm(web, zoho.US, code))
		Expect(r.Status).To(Equal(http.StatusBadRequest))
		Expect(r.JSON()).To(HaveKeyWithValue("error", zoho.ErrThrottled))
		expectTokens(f.exchange(zoho.US, web, code))
		Expect(f.Faults()[0].Fired).To(Equal(1))
	})

	It("is never itself faulted", func() {
		inject(`{"kind":"reset"}`)
		inject(`{"kind":"status","status":500}`)
		Expect(list()).To(HaveLen(2))
		Expect(f.get(f.URL + "/").Status).To(Equal(http.StatusOK))
		for _, st := range f.Faults() {
			Expect(st.Matched).To(BeZero())
		}
	})

	It("lists the fault endpoints in its index", func() {
		var idx struct {
			Endpoints []string `json:"endpoints"`
		}
		f.ctlOK(http.MethodGet, "", "", &idx)
		Expect(idx.Endpoints).To(ContainElements("POST /faults", "GET /faults", "DELETE /faults", "DELETE /faults/{id}"))
	})

	DescribeTable("refuses bad faults with HTTP 400 and a clear message",
		func(body, msg string) {
			r := f.ctl(http.MethodPost, "/faults", body)
			Expect(r.Status).To(Equal(http.StatusBadRequest), "%s: %s", body, r.Body)
			Expect(r.JSON()["error"]).To(ContainSubstring(msg))
			Expect(f.Faults()).To(BeEmpty())
		},
		Entry("unknown kind", `{"kind":"explode"}`, `unknown fault kind "explode": use one of status, throttle, not-json, wrong-content-type, truncated, empty, latency, hang, reset, close-mid-body`),
		Entry("no kind", `{}`, `unknown fault kind ""`),
		Entry("times < 0", `{"kind":"empty","times":-1}`, "times must be 0 (until removed) or more"),
		Entry("share > 1", `{"kind":"empty","share":1.01}`, "share must be between 0 and 1"),
		Entry("share < 0", `{"kind":"empty","share":-1}`, "share must be between 0 and 1"),
		Entry("status fault without a status", `{"kind":"status","body":"x"}`, "a status fault needs a status between 200 and 599"),
		Entry("status out of range", `{"kind":"status","status":99}`, "a status fault needs a status"),
		Entry("unknown endpoint", `{"kind":"empty","endpoint":"/oauth/v2/token"}`, `unknown endpoint "/oauth/v2/token": use one of auth, token, revoke, userinfo, api`),
		Entry("unknown DC", `{"kind":"empty","dc":"xx"}`, `unknown data centre "xx": use one of`),
		Entry("bad latency string", `{"kind":"latency","latency":"fast"}`, `latency "fast" is not a duration: write it like "250ms"`),
		Entry("latency as a number", `{"kind":"latency","latency":50}`, "invalid JSON body"),
		Entry("latency fault without a latency", `{"kind":"latency"}`, "a latency fault needs a positive latency"),
		Entry("negative latency", `{"kind":"latency","latency":"-1s"}`, "a latency fault needs a positive latency"),
		Entry("unknown field", `{"kind":"empty","count":3}`, `unknown field "count"`),
		Entry("not JSON", `kind=empty`, "invalid JSON body"),
	)
})

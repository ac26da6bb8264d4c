package fakeserver_test

// A small HTTP test client for the fake: authorize, exchange, refresh,
// revoke, call /crm/v8/users, read the error page's code. Everything goes
// over real HTTP to a server started per spec; time moves only with Advance.

import (
	"bytes"
	"encoding/json"
	"io"
	"net/http"
	"net/url"
	"regexp"
	"strings"
	"time"

	. "github.com/onsi/ginkgo/v2"
	. "github.com/onsi/gomega"

	"github.com/zconform/zconform/fakeserver"
	"github.com/zconform/zconform/fixtures/zoho"
)

const (
	testRedirectURI = "https://app.example.com/callback"
	testHomepage    = "https://app.example.com"
	testScope       = "ZohoCRM.users.ALL,ZohoCRM.org.READ"
	testState       = "st-4711"
)

// profileFacts are the numbers of zoho-oauth.md section 4, written out here
// (not read from profiles.yaml) so that a wrong profile is caught as well.
type profileFacts struct {
	Name                string
	GrantLifetime       time.Duration // redirect-flow grant token
	GrantLimit          int           // grant tokens per client per GrantWindow
	GrantWindow         time.Duration
	AccessCap           int  // active access tokens per refresh token
	RefreshCap          int  // refresh tokens per user (per client too when RefreshCapPerClient)
	RefreshCapPerClient bool //
	ThrottleLimit       int  // access tokens per refresh token per ThrottleWindow; 0: none
	ThrottleWindow      time.Duration
	WrongSecret         string // error for a right client ID with a wrong secret
}

var (
	profileKaizen4 = profileFacts{
		Name: zoho.Kaizen4, GrantLifetime: 60 * time.Second, GrantLimit: 5, GrantWindow: time.Minute,
		AccessCap: 30, RefreshCap: 20, RefreshCapPerClient: false, WrongSecret: zoho.ErrInvalidClient,
	}
	profileAccounts2025 = profileFacts{
		Name: zoho.Accounts2025, GrantLifetime: 120 * time.Second, GrantLimit: 10, GrantWindow: 10 * time.Minute,
		AccessCap: 15, RefreshCap: 20, RefreshCapPerClient: true,
		ThrottleLimit: 10, ThrottleWindow: 10 * time.Minute, WrongSecret: zoho.ErrInvalidClientSecret,
	}
	allProfiles = []profileFacts{profileKaizen4, profileAccounts2025}
)

// fake is a started server, the profile it runs and an HTTP client that
// does not follow redirects.
type fake struct {
	*fakeserver.Server
	p  profileFacts
	hc *http.Client
}

// newFake starts a server with the profile; it is closed when the spec ends.
func newFake(p profileFacts, opts ...fakeserver.Option) *fake {
	GinkgoHelper()
	srv := fakeserver.New(append([]fakeserver.Option{fakeserver.WithProfile(p.Name)}, opts...)...)
	hc := srv.Client()
	DeferCleanup(func() {
		hc.CloseIdleConnections()
		srv.Close()
	})
	return &fake{Server: srv, p: p, hc: hc}
}

func (f *fake) advance(d time.Duration) {
	GinkgoHelper()
	Expect(f.Advance(d)).To(Succeed())
}

// ---- console ----

func (f *fake) register(spec fakeserver.ClientSpec) fakeserver.Client {
	GinkgoHelper()
	c, err := f.RegisterClient(spec)
	Expect(err).NotTo(HaveOccurred())
	return c
}

// webClient registers a web-based client in dc for the DC's default user.
func (f *fake) webClient(dc zoho.DC) fakeserver.Client {
	GinkgoHelper()
	return f.register(fakeserver.ClientSpec{
		Type: fakeserver.WebBased, Name: "zconform web", Homepage: testHomepage,
		RedirectURIs: []string{testRedirectURI}, DC: dc,
	})
}

func (f *fake) jsClient(dc zoho.DC) fakeserver.Client {
	GinkgoHelper()
	return f.register(fakeserver.ClientSpec{
		Type: fakeserver.JavaScript, Name: "zconform js", Homepage: testHomepage,
		RedirectURIs: []string{testRedirectURI}, JSDomains: []string{testHomepage}, DC: dc,
	})
}

func (f *fake) selfClient(dc zoho.DC, user string) fakeserver.Client {
	GinkgoHelper()
	return f.register(fakeserver.ClientSpec{Type: fakeserver.SelfClient, DC: dc, User: user})
}

func (f *fake) addUser(email string, dc zoho.DC) fakeserver.User {
	GinkgoHelper()
	u, err := f.AddUser(fakeserver.UserSpec{Email: email, DC: dc})
	Expect(err).NotTo(HaveOccurred())
	return u
}

func (f *fake) selfCode(c fakeserver.Client, lifetime time.Duration, scopes ...string) string {
	GinkgoHelper()
	if len(scopes) == 0 {
		scopes = []string{testScope}
	}
	code, err := f.SelfClientCode(c.ID, fakeserver.SelfClientCodeRequest{Scopes: scopes, Lifetime: lifetime})
	Expect(err).NotTo(HaveOccurred())
	Expect(code).To(MatchRegexp(zoho.TokenPattern.String()))
	return code
}

// ---- HTTP ----

type response struct {
	Status int
	Header http.Header
	Body   []byte
}

func (r response) ContentType() string { return r.Header.Get("Content-Type") }

// JSON decodes the body into a map (numbers as json.Number).
func (r response) JSON() map[string]any {
	GinkgoHelper()
	var m map[string]any
	dec := json.NewDecoder(bytes.NewReader(r.Body))
	dec.UseNumber()
	Expect(dec.Decode(&m)).To(Succeed(), "body is not a JSON object: %s", r.Body)
	return m
}

func (f *fake) do(req *http.Request) response {
	GinkgoHelper()
	resp, err := f.hc.Do(req)
	Expect(err).NotTo(HaveOccurred())
	defer resp.Body.Close()
	body, err := io.ReadAll(resp.Body)
	Expect(err).NotTo(HaveOccurred())
	return response{Status: resp.StatusCode, Header: resp.Header, Body: body}
}

func newRequest(method, u string, body io.Reader) *http.Request {
	GinkgoHelper()
	req, err := http.NewRequest(method, u, body)
	Expect(err).NotTo(HaveOccurred())
	return req
}

func (f *fake) get(u string) response {
	GinkgoHelper()
	return f.do(newRequest(http.MethodGet, u, nil))
}

func (f *fake) postForm(u string, form url.Values) response {
	GinkgoHelper()
	req := newRequest(http.MethodPost, u, strings.NewReader(form.Encode()))
	req.Header.Set("Content-Type", "application/x-www-form-urlencoded")
	return f.do(req)
}

// ---- authorization endpoint ----

// authResult is an answer of /oauth/v2/auth.
type authResult struct {
	response
	Location *url.URL   // nil without a redirect
	Query    url.Values // the redirect's query
	Fragment url.Values // the redirect's fragment (implicit flow)
}

var errorCodeElement = regexp.MustCompile(`<code id="error-code">([^<]*)</code>`)

// errorPageCode reads the code an authorization error page shows.
func errorPageCode(body []byte) string {
	if m := errorCodeElement.FindSubmatch(body); m != nil {
		return string(m[1])
	}
	return ""
}

// PageCode is the code of the error page, "" when there is none.
func (a authResult) PageCode() string { return errorPageCode(a.Body) }

// Code is the grant token of a success redirect.
func (a authResult) Code() string { return a.Query.Get("code") }

// authParams are a complete, valid authorization request for c: offline
// access with consent asked again, so that every exchange gives a refresh
// token.
func authParams(c fakeserver.Client) url.Values {
	q := url.Values{
		"response_type": {"code"}, "client_id": {c.ID}, "scope": {testScope},
		"access_type": {"offline"}, "prompt": {"consent"}, "state": {testState},
	}
	if len(c.RedirectURIs) > 0 {
		q.Set("redirect_uri", c.RedirectURIs[0])
	}
	return q
}

func (f *fake) authorizeRequest(req *http.Request) authResult {
	GinkgoHelper()
	a := authResult{response: f.do(req)}
	if loc := a.Header.Get("Location"); loc != "" {
		u, err := url.Parse(loc)
		Expect(err).NotTo(HaveOccurred())
		a.Location = u
		a.Query = u.Query()
		a.Fragment, err = url.ParseQuery(u.Fragment)
		Expect(err).NotTo(HaveOccurred())
	}
	return a
}

// authorize sends GET {AS}/oauth/v2/auth at dc's Accounts server.
func (f *fake) authorize(dc zoho.DC, q url.Values) authResult {
	GinkgoHelper()
	return f.authorizeRequest(newRequest(http.MethodGet, f.AccountsURL(dc)+"/oauth/v2/auth?"+q.Encode(), nil))
}

// expectAuthError asserts an error page with the code and no redirect.
func expectAuthError(a authResult, code string) {
	GinkgoHelper()
	Expect(a.Location).To(BeNil(), "expected the %s error page, got a redirect", code)
	Expect(a.Status).NotTo(Equal(http.StatusFound))
	Expect(a.ContentType()).To(HavePrefix("text/html"))
	Expect(a.PageCode()).To(Equal(code), "page: %s", a.Body)
}

// expectRedirect asserts a success redirect to redirectURI with a code.
func expectCodeRedirect(a authResult) string {
	GinkgoHelper()
	Expect(a.Status).To(Equal(http.StatusFound), "page: %s", a.Body)
	Expect(a.Location).NotTo(BeNil())
	Expect(a.Query.Get("error")).To(BeEmpty())
	Expect(a.Code()).To(MatchRegexp(zoho.TokenPattern.String()))
	return a.Code()
}

// grant runs an authorization at dc and returns the grant token.
func (f *fake) grant(dc zoho.DC, c fakeserver.Client) string {
	GinkgoHelper()
	return expectCodeRedirect(f.authorize(dc, authParams(c)))
}

// grantPatiently is grant, waiting out the grant-token rate limit (on the
// virtual clock) when it is hit.
func (f *fake) grantPatiently(dc zoho.DC, c fakeserver.Client) string {
	GinkgoHelper()
	return f.grantQ(dc, authParams(c))
}

// ---- token endpoint ----

// tokenResult is an answer of /oauth/v2/token.
type tokenResult struct {
	response
	Body map[string]any
}

func (t tokenResult) str(key string) string {
	s, _ := t.Body[key].(string)
	return s
}

// Err is the error member, "" on success.
func (t tokenResult) Err() string           { return t.str("error") }
func (t tokenResult) AccessToken() string   { return t.str("access_token") }
func (t tokenResult) RefreshToken() string  { return t.str("refresh_token") }
func (t tokenResult) APIDomain() string     { return t.str("api_domain") }
func (t tokenResult) Raw() string           { return string(t.response.Body) }
func (t tokenResult) Has(key string) bool   { _, ok := t.Body[key]; return ok }
func (t tokenResult) Number(k string) int64 { n, _ := t.Body[k].(json.Number).Int64(); return n }

func toTokenResult(r response) tokenResult {
	GinkgoHelper()
	Expect(r.ContentType()).To(Equal("application/json;charset=UTF-8"), "body: %s", r.Body)
	return tokenResult{response: r, Body: r.JSON()}
}

// tokenCall posts an urlencoded form to dc's token endpoint.
func (f *fake) tokenCall(dc zoho.DC, form url.Values) tokenResult {
	GinkgoHelper()
	return toTokenResult(f.postForm(f.AccountsURL(dc)+"/oauth/v2/token", form))
}

func secretFor(c fakeserver.Client, dc zoho.DC) string {
	if s, ok := c.Secrets[dc]; ok {
		return s
	}
	return c.Secret
}

// exchangeForm is a correct authorization_code request for c at dc.
func exchangeForm(c fakeserver.Client, dc zoho.DC, code string) url.Values {
	form := url.Values{
		"grant_type": {"authorization_code"}, "client_id": {c.ID}, "client_secret": {secretFor(c, dc)},
		"code": {code},
	}
	if len(c.RedirectURIs) > 0 {
		form.Set("redirect_uri", c.RedirectURIs[0])
	}
	return form
}

func (f *fake) exchange(dc zoho.DC, c fakeserver.Client, code string) tokenResult {
	GinkgoHelper()
	return f.tokenCall(dc, exchangeForm(c, dc, code))
}

func refreshForm(c fakeserver.Client, dc zoho.DC, rt string) url.Values {
	return url.Values{
		"grant_type": {"refresh_token"}, "client_id": {c.ID}, "client_secret": {secretFor(c, dc)},
		"refresh_token": {rt},
	}
}

func (f *fake) refresh(dc zoho.DC, c fakeserver.Client, rt string) tokenResult {
	GinkgoHelper()
	return f.tokenCall(dc, refreshForm(c, dc, rt))
}

// expectTokens asserts a success answer and returns it.
func expectTokens(t tokenResult) tokenResult {
	GinkgoHelper()
	Expect(t.Status).To(Equal(http.StatusOK))
	Expect(t.Body).NotTo(HaveKey("error"), "body: %s", t.Raw())
	Expect(t.AccessToken()).To(MatchRegexp(zoho.TokenPattern.String()), "body: %s", t.Raw())
	return t
}

// expectTokenError asserts Zoho's bare error: HTTP 200, {"error": code}.
func expectTokenError(t tokenResult, code string) {
	GinkgoHelper()
	Expect(t.Status).To(Equal(http.StatusOK), "body: %s", t.Raw())
	Expect(t.Body).To(Equal(map[string]any{"error": code}), "body: %s", t.Raw())
}

// offlineTokens runs a whole redirect flow at dc and returns the answer
// with a refresh token.
func (f *fake) offlineTokens(dc zoho.DC, c fakeserver.Client) tokenResult {
	GinkgoHelper()
	t := expectTokens(f.exchange(dc, c, f.grantPatiently(dc, c)))
	Expect(t.RefreshToken()).To(MatchRegexp(zoho.TokenPattern.String()))
	return t
}

// mintAccess refreshes n times and returns the new access tokens, waiting
// out the refresh throttle (on the virtual clock) when the profile has one.
func (f *fake) mintAccess(dc zoho.DC, c fakeserver.Client, rt string, n int) []string {
	GinkgoHelper()
	var out []string
	throttled := false
	for len(out) < n {
		t := f.refresh(dc, c, rt)
		if t.Status == http.StatusBadRequest && t.Err() == zoho.ErrThrottled && !throttled {
			throttled = true
			f.advance(f.p.ThrottleWindow)
			continue
		}
		throttled = false
		out = append(out, expectTokens(t).AccessToken())
	}
	return out
}

// revoke posts {AS}/oauth/v2/token/revoke?token=….
func (f *fake) revoke(dc zoho.DC, token string) tokenResult {
	GinkgoHelper()
	req := newRequest(http.MethodPost, f.AccountsURL(dc)+"/oauth/v2/token/revoke?"+url.Values{"token": {token}}.Encode(), nil)
	return toTokenResult(f.do(req))
}

// ---- token checks ----

// crmUsers calls GET {api}/crm/v8/users?type=CurrentUser at dc's API domain.
func (f *fake) crmUsers(dc zoho.DC, token string) response {
	GinkgoHelper()
	req := newRequest(http.MethodGet, f.APIURL(dc)+"/crm/v8/users?type=CurrentUser", nil)
	req.Header.Set("Authorization", "Zoho-oauthtoken "+token)
	return f.do(req)
}

func (f *fake) expectTokenWorks(dc zoho.DC, token string) {
	GinkgoHelper()
	r := f.crmUsers(dc, token)
	Expect(r.Status).To(Equal(http.StatusOK), "token %s at %s: %s", token, dc, r.Body)
}

var invalidTokenBody = map[string]any{"code": "INVALID_TOKEN", "details": map[string]any{}, "message": "invalid oauth token", "status": "error"}

func (f *fake) expectTokenRejected(dc zoho.DC, token string) {
	GinkgoHelper()
	r := f.crmUsers(dc, token)
	Expect(r.Status).To(Equal(http.StatusUnauthorized), "token %s at %s: %s", token, dc, r.Body)
	Expect(r.JSON()).To(Equal(invalidTokenBody))
}

// userInfo calls GET {AS}/oauth/user/info with the given Authorization scheme.
func (f *fake) userInfo(dc zoho.DC, scheme, token string) response {
	GinkgoHelper()
	req := newRequest(http.MethodGet, f.AccountsURL(dc)+"/oauth/user/info", nil)
	req.Header.Set("Authorization", scheme+" "+token)
	return f.do(req)
}

// ---- control API ----

// ctl calls the control API with a raw JSON body ("" for none).
func (f *fake) ctl(method, path, body string) response {
	GinkgoHelper()
	var rd io.Reader
	if body != "" {
		rd = strings.NewReader(body)
	}
	req := newRequest(method, f.ControlURL()+path, rd)
	if body != "" {
		req.Header.Set("Content-Type", "application/json")
	}
	r := f.do(req)
	Expect(r.ContentType()).To(Equal("application/json;charset=UTF-8"), "%s %s: %s", method, path, r.Body)
	return r
}

// ctlOK calls the control API, expects HTTP 200 and decodes the answer
// into out (if not nil).
func (f *fake) ctlOK(method, path, body string, out any) {
	GinkgoHelper()
	r := f.ctl(method, path, body)
	Expect(r.Status).To(Equal(http.StatusOK), "%s %s: %s", method, path, r.Body)
	if out != nil {
		Expect(json.Unmarshal(r.Body, out)).To(Succeed(), "%s", r.Body)
	}
}

func mustJSON(v any) string {
	GinkgoHelper()
	data, err := json.Marshal(v)
	Expect(err).NotTo(HaveOccurred())
	return string(data)
}

// grantQ authorizes with q at dc, waiting out the grant-token rate limit
// once, and returns the grant token.
func (f *fake) grantQ(dc zoho.DC, q url.Values) string {
	GinkgoHelper()
	a := f.authorize(dc, q)
	if a.PageCode() == zoho.ErrAccessDenied {
		f.advance(f.p.GrantWindow)
		a = f.authorize(dc, q)
	}
	return expectCodeRedirect(a)
}

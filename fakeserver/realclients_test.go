package fakeserver_test

// Real clients against the fake, unchanged: golang.org/x/oauth2 with each
// AuthStyle, and the official Zoho CRM Node SDK (@zohocrm/nodejs-sdk-8.0).
// See ../shared/docs/real-clients.md for what each sends and reads.

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"mime"
	"mime/multipart"
	"net/http"
	"net/http/httptest"
	"net/url"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	. "github.com/onsi/gomega"
	"golang.org/x/oauth2"

	"github.com/zconform/zconform/fakeserver"
	"github.com/zconform/zconform/fixtures/zoho"
)

const (
	rcRedirect = "https://app.example.com/callback"
	rcHomepage = "https://app.example.com"
)

var rcAuthStyles = []struct {
	name  string
	style oauth2.AuthStyle
}{
	{"AutoDetect", oauth2.AuthStyleAutoDetect},
	{"InParams", oauth2.AuthStyleInParams},
	{"InHeader", oauth2.AuthStyleInHeader},
}

// rcWebClient registers a web-based client in US.
func rcWebClient(t *testing.T, srv *fakeserver.Server) fakeserver.Client {
	t.Helper()
	c, err := srv.RegisterClient(fakeserver.ClientSpec{
		Type: fakeserver.WebBased, Name: "zconform real client", Homepage: rcHomepage,
		RedirectURIs: []string{rcRedirect},
	})
	if err != nil {
		t.Fatalf("register web client: %v", err)
	}
	return c
}

// rcOAuth2Config points an x/oauth2 Config at the fake's US Accounts server.
func rcOAuth2Config(srv *fakeserver.Server, c fakeserver.Client, style oauth2.AuthStyle) *oauth2.Config {
	as := srv.AccountsURL(zoho.US)
	return &oauth2.Config{
		ClientID: c.ID, ClientSecret: c.Secret, RedirectURL: rcRedirect,
		Scopes: []string{"ZohoCRM.users.ALL", "ZohoCRM.org.READ"},
		Endpoint: oauth2.Endpoint{
			AuthURL: as + "/oauth/v2/auth", TokenURL: as + "/oauth/v2/token", AuthStyle: style,
		},
	}
}

// rcAuthorize GETs an authorization URL (without following the redirect)
// and returns the redirect's query.
func rcAuthorize(t *testing.T, hc *http.Client, authURL string) url.Values {
	t.Helper()
	resp, err := hc.Get(authURL)
	if err != nil {
		t.Fatalf("GET %s: %v", authURL, err)
	}
	body, _ := io.ReadAll(resp.Body)
	resp.Body.Close()
	if resp.StatusCode != http.StatusFound {
		t.Fatalf("GET %s: status %d, want 302; body: %s", authURL, resp.StatusCode, body)
	}
	loc, err := url.Parse(resp.Header.Get("Location"))
	if err != nil {
		t.Fatalf("bad Location %q: %v", resp.Header.Get("Location"), err)
	}
	if got := loc.Scheme + "://" + loc.Host + loc.Path; got != rcRedirect {
		t.Fatalf("redirected to %s, want %s", got, rcRedirect)
	}
	return loc.Query()
}

// rcCurrentUser calls GET {api}/crm/v8/users?type=CurrentUser with the
// Zoho-oauthtoken header and returns the status and decoded body.
func rcCurrentUser(t *testing.T, hc *http.Client, api, token string) (int, map[string]any) {
	t.Helper()
	req, err := http.NewRequest(http.MethodGet, api+"/crm/v8/users?type=CurrentUser", nil)
	if err != nil {
		t.Fatal(err)
	}
	req.Header.Set("Authorization", "Zoho-oauthtoken "+token)
	resp, err := hc.Do(req)
	if err != nil {
		t.Fatalf("GET users: %v", err)
	}
	defer resp.Body.Close()
	var body map[string]any
	if err := json.NewDecoder(resp.Body).Decode(&body); err != nil {
		t.Fatalf("GET users: decode: %v", err)
	}
	return resp.StatusCode, body
}

func rcUserEmail(body map[string]any) string {
	users, _ := body["users"].([]any)
	if len(users) == 0 {
		return ""
	}
	u, _ := users[0].(map[string]any)
	s, _ := u["email"].(string)
	return s
}

func rcLastSeq(srv *fakeserver.Server) int64 {
	rs := srv.Requests()
	if len(rs) == 0 {
		return 0
	}
	return rs[len(rs)-1].Seq
}

// rcTokenCalls are the token-endpoint requests after seq.
func rcTokenCalls(srv *fakeserver.Server, seq int64) []fakeserver.Request {
	var out []fakeserver.Request
	for _, r := range srv.RequestsSince(seq) {
		if r.Path == "/oauth/v2/token" {
			out = append(out, r)
		}
	}
	return out
}

// rcRetrieveError asserts err is an *oauth2.RetrieveError with code.
func rcRetrieveError(g Gomega, err error, code string) {
	var re *oauth2.RetrieveError
	g.Expect(errors.As(err, &re)).To(BeTrue(), "want *oauth2.RetrieveError, got %T: %v", err, err)
	g.Expect(re.ErrorCode).To(Equal(code), "body: %s", re.Body)
	g.Expect(re.Response.StatusCode).To(Equal(http.StatusOK), "Zoho sends token errors with HTTP 200")
}

// rcCheckCredentials asserts how the client credentials came: HTTP Basic
// (InHeader) or form fields (InParams).
func rcCheckCredentials(g Gomega, r fakeserver.Request, basic bool) {
	if basic {
		g.Expect(r.Params).To(HaveKeyWithValue("authorization", "Basic …"), "seq %d", r.Seq)
	} else {
		g.Expect(r.Params).NotTo(HaveKey("authorization"), "seq %d", r.Seq)
		g.Expect(r.Params).To(HaveKey("client_secret"), "seq %d", r.Seq)
	}
}

// TestOAuth2RealClient runs the whole life of a token through
// golang.org/x/oauth2 with each AuthStyle: authorization, exchange, use,
// reuse of the code, refresh after the hour, revocation.
func TestOAuth2RealClient(t *testing.T) {
	for _, st := range rcAuthStyles {
		t.Run(st.name, func(t *testing.T) {
			t.Parallel()
			g := NewWithT(t)
			srv := fakeserver.New()
			defer srv.Close()
			c := rcWebClient(t, srv)
			me, err := srv.DefaultUser(zoho.US)
			g.Expect(err).NotTo(HaveOccurred())
			cfg := rcOAuth2Config(srv, c, st.style)
			hc := srv.Client()
			ctx := context.WithValue(t.Context(), oauth2.HTTPClient, hc)
			api := srv.APIURL(zoho.US)
			// Basic comes first with AutoDetect, and is then cached.
			basic := st.style != oauth2.AuthStyleInParams

			// Authorization: offline, with state.
			q := rcAuthorize(t, hc, cfg.AuthCodeURL("st-42", oauth2.AccessTypeOffline))
			code := q.Get("code")
			g.Expect(code).To(MatchRegexp(zoho.TokenPattern.String()))
			g.Expect(q.Get("state")).To(Equal("st-42"))
			g.Expect(q.Get("location")).To(Equal("us"))
			g.Expect(q.Get("accounts-server")).To(Equal(srv.AccountsURL(zoho.US)))

			// Exchange: one request.
			seq := rcLastSeq(srv)
			tok, err := cfg.Exchange(ctx, code)
			g.Expect(err).NotTo(HaveOccurred())
			g.Expect(tok.AccessToken).To(MatchRegexp(zoho.TokenPattern.String()))
			g.Expect(tok.RefreshToken).To(MatchRegexp(zoho.TokenPattern.String()))
			g.Expect(tok.TokenType).To(Equal("Bearer"))
			g.Expect(tok.ExpiresIn).To(BeEquivalentTo(3600))
			g.Expect(time.Until(tok.Expiry)).To(BeNumerically("~", time.Hour, time.Minute))
			g.Expect(tok.Extra("api_domain")).To(Equal(api))
			g.Expect(tok.Extra("expires_in_sec")).To(BeNil())
			calls := rcTokenCalls(srv, seq)
			g.Expect(calls).To(HaveLen(1))
			g.Expect(calls[0].Params).To(HaveKeyWithValue("grant_type", "authorization_code"))
			g.Expect(calls[0].Params).To(HaveKeyWithValue("redirect_uri", rcRedirect))
			g.Expect(calls[0].Params).To(HaveKeyWithValue("client_id", c.ID))
			g.Expect(calls[0].Error).To(BeEmpty())
			rcCheckCredentials(g, calls[0], basic)

			// Use.
			status, body := rcCurrentUser(t, hc, api, tok.AccessToken)
			g.Expect(status).To(Equal(http.StatusOK), "%v", body)
			g.Expect(rcUserEmail(body)).To(Equal(me.Email))

			// Reuse of the code (K4-TOKEN-CODE-b): one request even with
			// AutoDetect, whose style is cached after the success.
			seq = rcLastSeq(srv)
			_, err = cfg.Exchange(ctx, code)
			rcRetrieveError(g, err, zoho.ErrInvalidCode)
			calls = rcTokenCalls(srv, seq)
			g.Expect(calls).To(HaveLen(1))
			g.Expect(calls[0].Error).To(Equal(zoho.ErrInvalidCode))
			rcCheckCredentials(g, calls[0], basic)

			// An hour later the access token is dead (K4-NOTE-5) and a
			// refresh gives a new one. x/oauth2 judges expiry by the wall
			// clock, so the stale token is handed to it already expired.
			g.Expect(srv.Advance(61 * time.Minute)).To(Succeed())
			status, body = rcCurrentUser(t, hc, api, tok.AccessToken)
			g.Expect(status).To(Equal(http.StatusUnauthorized))
			g.Expect(body).To(HaveKeyWithValue("code", "INVALID_TOKEN"))
			stale := *tok
			stale.Expiry = time.Now().Add(-time.Second)
			seq = rcLastSeq(srv)
			nt, err := cfg.TokenSource(ctx, &stale).Token()
			g.Expect(err).NotTo(HaveOccurred())
			g.Expect(nt.AccessToken).To(MatchRegexp(zoho.TokenPattern.String()))
			g.Expect(nt.AccessToken).NotTo(Equal(tok.AccessToken))
			g.Expect(nt.Extra("refresh_token")).To(BeNil(), "a refresh answers without refresh_token")
			g.Expect(nt.RefreshToken).To(Equal(tok.RefreshToken), "x/oauth2 keeps the old refresh token")
			g.Expect(nt.ExpiresIn).To(BeEquivalentTo(3600))
			calls = rcTokenCalls(srv, seq)
			g.Expect(calls).To(HaveLen(1))
			g.Expect(calls[0].Params).To(HaveKeyWithValue("grant_type", "refresh_token"))
			g.Expect(calls[0].Params).To(HaveKey("refresh_token"))
			g.Expect(calls[0].Error).To(BeEmpty())
			rcCheckCredentials(g, calls[0], basic)
			status, body = rcCurrentUser(t, hc, api, nt.AccessToken)
			g.Expect(status).To(Equal(http.StatusOK), "%v", body)
			g.Expect(rcUserEmail(body)).To(Equal(me.Email))

			// Revoked refresh token (K4-TOKEN-CODE-c): invalid_code, and
			// its access tokens die with it. One request: style cached.
			g.Expect(srv.Revoke(tok.RefreshToken)).To(BeTrue())
			status, _ = rcCurrentUser(t, hc, api, nt.AccessToken)
			g.Expect(status).To(Equal(http.StatusUnauthorized))
			seq = rcLastSeq(srv)
			_, err = cfg.TokenSource(ctx, &oauth2.Token{RefreshToken: tok.RefreshToken}).Token()
			rcRetrieveError(g, err, zoho.ErrInvalidCode)
			g.Expect(rcTokenCalls(srv, seq)).To(HaveLen(1))
		})
	}
}

// TestOAuth2Errors checks the documented token errors as x/oauth2 reports
// them, each with a fresh Config: AutoDetect then probes, sending a failed
// request a second time with the other credential style.
func TestOAuth2Errors(t *testing.T) {
	for _, st := range rcAuthStyles {
		autodetect := st.style == oauth2.AuthStyleAutoDetect
		// checkCalls asserts the token requests after seq: one, or two with
		// AutoDetect (Basic first, then the same parameters with the
		// credentials in the body), each answered errCode.
		checkCalls := func(g Gomega, srv *fakeserver.Server, seq int64, errCode string) {
			calls := rcTokenCalls(srv, seq)
			if autodetect {
				g.Expect(calls).To(HaveLen(2))
				rcCheckCredentials(g, calls[0], true)
				rcCheckCredentials(g, calls[1], false)
			} else {
				g.Expect(calls).To(HaveLen(1))
				rcCheckCredentials(g, calls[0], st.style == oauth2.AuthStyleInHeader)
			}
			for _, r := range calls {
				g.Expect(r.Error).To(Equal(errCode), "seq %d", r.Seq)
				g.Expect(r.Status).To(Equal(http.StatusOK))
			}
		}

		t.Run(st.name+"/ExpiredCode", func(t *testing.T) {
			t.Parallel()
			g := NewWithT(t)
			srv := fakeserver.New()
			defer srv.Close()
			cfg := rcOAuth2Config(srv, rcWebClient(t, srv), st.style)
			hc := srv.Client()
			ctx := context.WithValue(t.Context(), oauth2.HTTPClient, hc)
			code := rcAuthorize(t, hc, cfg.AuthCodeURL("s", oauth2.AccessTypeOffline)).Get("code")
			g.Expect(srv.Advance(61 * time.Second)).To(Succeed()) // K4-NOTE-1, K4-TOKEN-CODE-a
			seq := rcLastSeq(srv)
			_, err := cfg.Exchange(ctx, code)
			rcRetrieveError(g, err, zoho.ErrInvalidCode)
			checkCalls(g, srv, seq, zoho.ErrInvalidCode)
		})

		t.Run(st.name+"/WrongSecret", func(t *testing.T) {
			t.Parallel()
			g := NewWithT(t)
			srv := fakeserver.New()
			defer srv.Close()
			c := rcWebClient(t, srv)
			good := rcOAuth2Config(srv, c, st.style)
			bad := rcOAuth2Config(srv, c, st.style)
			bad.ClientSecret = zoho.NewClientSecret()
			hc := srv.Client()
			ctx := context.WithValue(t.Context(), oauth2.HTTPClient, hc)
			code := rcAuthorize(t, hc, good.AuthCodeURL("s", oauth2.AccessTypeOffline)).Get("code")
			seq := rcLastSeq(srv)
			_, err := bad.Exchange(ctx, code) // K4-TOKEN-CLIENT-a
			rcRetrieveError(g, err, zoho.ErrInvalidClient)
			checkCalls(g, srv, seq, zoho.ErrInvalidClient)
			// The failed exchange burnt the code (K4-NOTE-3): the right
			// secret now gets invalid_code.
			seq = rcLastSeq(srv)
			_, err = good.Exchange(ctx, code)
			rcRetrieveError(g, err, zoho.ErrInvalidCode)
			checkCalls(g, srv, seq, zoho.ErrInvalidCode)
		})

		t.Run(st.name+"/RevokedRefreshToken", func(t *testing.T) {
			t.Parallel()
			g := NewWithT(t)
			srv := fakeserver.New()
			defer srv.Close()
			c := rcWebClient(t, srv)
			hc := srv.Client()
			ctx := context.WithValue(t.Context(), oauth2.HTTPClient, hc)
			minter := rcOAuth2Config(srv, c, oauth2.AuthStyleInParams)
			code := rcAuthorize(t, hc, minter.AuthCodeURL("s", oauth2.AccessTypeOffline)).Get("code")
			tok, err := minter.Exchange(ctx, code)
			g.Expect(err).NotTo(HaveOccurred())
			g.Expect(srv.Revoke(tok.RefreshToken)).To(BeTrue())
			cfg := rcOAuth2Config(srv, c, st.style)
			seq := rcLastSeq(srv)
			_, err = cfg.TokenSource(ctx, &oauth2.Token{RefreshToken: tok.RefreshToken}).Token() // K4-TOKEN-CODE-c
			rcRetrieveError(g, err, zoho.ErrInvalidCode)
			checkCalls(g, srv, seq, zoho.ErrInvalidCode)
		})

		t.Run(st.name+"/ReusedCode", func(t *testing.T) {
			t.Parallel()
			g := NewWithT(t)
			srv := fakeserver.New()
			defer srv.Close()
			c := rcWebClient(t, srv)
			hc := srv.Client()
			ctx := context.WithValue(t.Context(), oauth2.HTTPClient, hc)
			first := rcOAuth2Config(srv, c, oauth2.AuthStyleInParams)
			code := rcAuthorize(t, hc, first.AuthCodeURL("s", oauth2.AccessTypeOffline)).Get("code")
			_, err := first.Exchange(ctx, code)
			g.Expect(err).NotTo(HaveOccurred())
			cfg := rcOAuth2Config(srv, c, st.style) // fresh: AutoDetect probes
			seq := rcLastSeq(srv)
			_, err = cfg.Exchange(ctx, code) // K4-TOKEN-CODE-b
			rcRetrieveError(g, err, zoho.ErrInvalidCode)
			checkCalls(g, srv, seq, zoho.ErrInvalidCode)
		})
	}
}

// ---------------------------------------------------------------------------
// The official Zoho CRM Node SDK.

// rcWireEntry is one request as it came over the wire, before the fake.
type rcWireEntry struct {
	Method, Path, ContentType string
	// Fields are the body's field names in order (multipart or urlencoded).
	Fields []string
	// Auth is the Authorization header's scheme, if any.
	Auth string
}

// rcWire records what the client sends that the fake's log does not keep:
// the body's content type and field order.
type rcWire struct {
	mu      sync.Mutex
	entries []rcWireEntry
}

func (w *rcWire) wrap(next http.Handler) http.Handler {
	return http.HandlerFunc(func(rw http.ResponseWriter, r *http.Request) {
		e := rcWireEntry{Method: r.Method, Path: r.URL.Path, ContentType: r.Header.Get("Content-Type")}
		if a := r.Header.Get("Authorization"); a != "" {
			e.Auth, _, _ = strings.Cut(a, " ")
		}
		if r.Body != nil && r.Method == http.MethodPost {
			data, _ := io.ReadAll(io.LimitReader(r.Body, 1<<20))
			r.Body.Close()
			r.Body = io.NopCloser(bytes.NewReader(data))
			e.Fields = rcFieldNames(e.ContentType, data)
		}
		w.mu.Lock()
		w.entries = append(w.entries, e)
		w.mu.Unlock()
		next.ServeHTTP(rw, r)
	})
}

func (w *rcWire) all() []rcWireEntry {
	w.mu.Lock()
	defer w.mu.Unlock()
	return append([]rcWireEntry(nil), w.entries...)
}

func rcFieldNames(contentType string, body []byte) []string {
	mt, params, _ := mime.ParseMediaType(contentType)
	var names []string
	switch mt {
	case "multipart/form-data":
		mr := multipart.NewReader(bytes.NewReader(body), params["boundary"])
		for {
			p, err := mr.NextPart()
			if err != nil {
				break
			}
			names = append(names, p.FormName())
		}
	case "application/x-www-form-urlencoded":
		for kv := range strings.SplitSeq(string(body), "&") {
			k, _, _ := strings.Cut(kv, "=")
			if k, err := url.QueryUnescape(k); err == nil && k != "" {
				names = append(names, k)
			}
		}
	}
	return names
}

// rcNodeResult is what testdata/nodesdk/script.js writes.
type rcNodeResult struct {
	OK    bool   `json:"ok"`
	Stage string `json:"stage"`
	Error *struct {
		Code    string `json:"code"`
		Message string `json:"message"`
		Cause   string `json:"cause"`
	} `json:"error"`
	Token *struct {
		AccessToken    string `json:"access_token"`
		RefreshToken   string `json:"refresh_token"`
		ExpiresIn      string `json:"expires_in"`
		APIDomain      string `json:"api_domain"`
		User           string `json:"user"`
		EnvironmentURL string `json:"environment_url"`
		AccountsURL    string `json:"accounts_url"`
	} `json:"token"`
	Users *struct {
		Status    int `json:"status"`
		Exception *struct {
			Code, Message string
		} `json:"exception"`
		Users []struct {
			ID    string `json:"id"`
			Email string `json:"email"`
		} `json:"users"`
	} `json:"users"`
	Org *struct {
		Status int `json:"status"`
		Org    []struct {
			ID           string `json:"id"`
			PrimaryEmail string `json:"primary_email"`
			ZGID         string `json:"zgid"`
		} `json:"org"`
	} `json:"org"`
}

// rcNodeDir is testdata/nodesdk with its node_modules installed, or the
// test fails (or skips with ZCONFORM_SKIP_NODE=1) saying how to install it.
func rcNodeDir(t *testing.T) string {
	t.Helper()
	dir, err := filepath.Abs(filepath.Join("testdata", "nodesdk"))
	if err != nil {
		t.Fatal(err)
	}
	const install = "run `make deps` (or `npm ci --prefix fakeserver/testdata/nodesdk`)"
	var problem string
	if _, err := exec.LookPath("node"); err != nil {
		problem = fmt.Sprintf("node is not on PATH (%v): install Node.js 18 or newer, then %s", err, install)
	} else if _, err := os.Stat(filepath.Join(dir, "node_modules", "@zohocrm", "nodejs-sdk-8.0", "package.json")); err != nil {
		problem = fmt.Sprintf("the Zoho CRM Node SDK is not installed in %s: %s", filepath.Join(dir, "node_modules"), install)
	}
	if os.Getenv("ZCONFORM_SKIP_NODE") == "1" {
		if problem == "" {
			problem = "the SDK is installed"
		}
		t.Skipf("ZCONFORM_SKIP_NODE=1: skipping the Node SDK tests (%s)", problem)
	}
	if problem != "" {
		t.Fatalf("%s; or set ZCONFORM_SKIP_NODE=1 to skip these tests", problem)
	}
	return dir
}

// rcNodeFake is a fake served through a wire recorder.
type rcNodeFake struct {
	srv           *fakeserver.Server
	wire          *rcWire
	accounts, api string
	hc            *http.Client
}

func rcStartNodeFake(t *testing.T) *rcNodeFake {
	t.Helper()
	srv := fakeserver.NewUnstarted()
	wire := &rcWire{}
	ts := httptest.NewServer(wire.wrap(srv.Handler()))
	t.Cleanup(ts.Close)
	us, _ := zoho.Lookup(zoho.US)
	hc := ts.Client()
	hc.CheckRedirect = func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse }
	return &rcNodeFake{srv: srv, wire: wire, accounts: ts.URL + "/" + us.AccountsHost, api: ts.URL + "/" + us.APIHost, hc: hc}
}

// run runs script.js with the given credentials and grant or refresh token.
func (f *rcNodeFake) run(t *testing.T, dir string, env map[string]string) rcNodeResult {
	t.Helper()
	work := t.TempDir()
	out := filepath.Join(work, "result.json")
	ctx, cancel := context.WithTimeout(t.Context(), 2*time.Minute)
	defer cancel()
	cmd := exec.CommandContext(ctx, "node", "script.js")
	cmd.Dir = dir
	cmd.Env = append(os.Environ(),
		"ZC_API_BASE="+f.api, "ZC_TOKEN_URL="+f.accounts+"/oauth/v2/token",
		"ZC_WORK_DIR="+work, "ZC_OUT="+out)
	for k, v := range env {
		cmd.Env = append(cmd.Env, k+"="+v)
	}
	var stderr bytes.Buffer
	cmd.Stdout, cmd.Stderr = &stderr, &stderr
	if err := cmd.Run(); err != nil {
		t.Fatalf("node script.js: %v\n%s", err, zoho.Redact(stderr.String()))
	}
	data, err := os.ReadFile(out)
	if err != nil {
		t.Fatalf("node script.js wrote no result (%v)\noutput: %s", err, zoho.Redact(stderr.String()))
	}
	var res rcNodeResult
	if err := json.Unmarshal(data, &res); err != nil {
		t.Fatalf("node script.js result %s: %v", zoho.Redact(string(data)), err)
	}
	t.Logf("node result: %s", zoho.Redact(string(bytes.TrimSpace(data))))
	if log, err := os.ReadFile(filepath.Join(work, "sdk.log")); err == nil && !res.OK {
		t.Logf("SDK log:\n%s", zoho.Redact(string(log)))
	}
	return res
}

func rcNodeEnv(c fakeserver.Client, kv ...string) map[string]string {
	env := map[string]string{"ZC_CLIENT_ID": c.ID, "ZC_CLIENT_SECRET": c.Secret}
	for i := 0; i+1 < len(kv); i += 2 {
		env[kv[i]] = kv[i+1]
	}
	return env
}

// rcWireTokenCalls are the recorded token requests.
func rcWireTokenCalls(w *rcWire) []rcWireEntry {
	var out []rcWireEntry
	for _, e := range w.all() {
		if strings.HasSuffix(e.Path, "/oauth/v2/token") {
			out = append(out, e)
		}
	}
	return out
}

// rcCheckNodeSuccess asserts a successful run: tokens, the user and org
// calls, all through the fake.
func rcCheckNodeSuccess(g Gomega, f *rcNodeFake, res rcNodeResult, email string) {
	g.Expect(res.OK).To(BeTrue(), "stage %s error %+v", res.Stage, res.Error)
	g.Expect(res.Token).NotTo(BeNil())
	g.Expect(res.Token.AccessToken).To(MatchRegexp(zoho.TokenPattern.String()))
	g.Expect(res.Token.EnvironmentURL).To(Equal(f.api), "the SDK must stay on the fake's API domain")
	g.Expect(res.Token.AccountsURL).To(Equal(f.accounts + "/oauth/v2/token"))
	g.Expect(res.Token.APIDomain).To(Equal(f.api), "api_domain as the fake sent it")
	// expires_in read as seconds: the SDK stores now+3600*1000 ms.
	var expiry int64
	_, err := fmt.Sscan(res.Token.ExpiresIn, &expiry)
	g.Expect(err).NotTo(HaveOccurred())
	g.Expect(time.Until(time.UnixMilli(expiry))).To(BeNumerically("~", time.Hour, 5*time.Minute))
	g.Expect(res.Users).NotTo(BeNil())
	g.Expect(res.Users.Status).To(Equal(http.StatusOK), "%+v", res.Users.Exception)
	g.Expect(res.Users.Users).To(HaveLen(1))
	g.Expect(res.Users.Users[0].Email).To(Equal(email))
	g.Expect(res.Org).NotTo(BeNil())
	g.Expect(res.Org.Status).To(Equal(http.StatusOK))
	g.Expect(res.Org.Org).To(HaveLen(1))
	g.Expect(res.Org.Org[0].PrimaryEmail).To(Equal(email))
	g.Expect(res.Org.Org[0].ZGID).NotTo(BeEmpty())
	g.Expect(res.Token.User).To(Equal(email+":"+res.Org.Org[0].ZGID),
		"the SDK names the token's user <email>:<zgid> from /crm/v8/users?type=CurrentUser and /crm/v8/org")

	// The fake's view: the token call succeeded and every API call was
	// authenticated with the Zoho-oauthtoken header and answered 200.
	var token, users, org int
	for _, r := range f.srv.Requests() {
		switch {
		case r.Path == "/oauth/v2/token":
			token++
		case r.Path == "/crm/v8/users":
			users++
			g.Expect(r.Params).To(HaveKeyWithValue("type", "CurrentUser"))
			g.Expect(r.Params["authorization"]).To(HavePrefix("Zoho-oauthtoken 1000."))
			g.Expect(r.Status).To(Equal(http.StatusOK))
		case r.Path == "/crm/v8/org":
			org++
			g.Expect(r.Params["authorization"]).To(HavePrefix("Zoho-oauthtoken 1000."))
			g.Expect(r.Status).To(Equal(http.StatusOK))
		}
	}
	g.Expect(token).To(Equal(1))
	g.Expect(users).To(Equal(2), "one from initialize (user lookup), one from the script")
	g.Expect(org).To(Equal(2), "one from initialize (org lookup), one from the script")
	for _, e := range f.wire.all() {
		if strings.Contains(e.Path, "/crm/") {
			g.Expect(e.Auth).To(Equal("Zoho-oauthtoken"))
		}
	}
}

// TestNodeSDK runs @zohocrm/nodejs-sdk-8.0 2.0.0 against the fake: a self
// client's code, a web client's code with redirect_uri, a refresh token, and
// the errors for a used and an expired code.
func TestNodeSDK(t *testing.T) {
	dir := rcNodeDir(t)

	t.Run("SelfClientCodeThenRefresh", func(t *testing.T) {
		t.Parallel()
		g := NewWithT(t)
		f := rcStartNodeFake(t)
		c, err := f.srv.RegisterClient(fakeserver.ClientSpec{Type: fakeserver.SelfClient})
		g.Expect(err).NotTo(HaveOccurred())
		me, _ := f.srv.DefaultUser(zoho.US)
		code, err := f.srv.SelfClientCode(c.ID, fakeserver.SelfClientCodeRequest{Scopes: []string{"ZohoCRM.users.ALL", "ZohoCRM.org.ALL"}})
		g.Expect(err).NotTo(HaveOccurred())

		res := f.run(t, dir, rcNodeEnv(c, "ZC_GRANT_TOKEN", code))
		rcCheckNodeSuccess(g, f, res, me.Email)
		g.Expect(res.Token.RefreshToken).To(MatchRegexp(zoho.TokenPattern.String()))
		// The exchange: multipart, client_id, client_secret, grant_type,
		// code (no redirect_uri for a self client); no Basic.
		calls := rcWireTokenCalls(f.wire)
		g.Expect(calls).To(HaveLen(1))
		g.Expect(calls[0].ContentType).To(HavePrefix("multipart/form-data; boundary="))
		g.Expect(calls[0].Fields).To(Equal([]string{"client_id", "client_secret", "grant_type", "code"}))
		g.Expect(calls[0].Auth).To(BeEmpty())
		fr := f.srv.Requests()
		g.Expect(fr[0].Path).To(Equal("/oauth/v2/token"))
		g.Expect(fr[0].Params).To(HaveKeyWithValue("grant_type", "authorization_code"))
		g.Expect(fr[0].Params).To(HaveKeyWithValue("code", zoho.RedactValue(code)))
		g.Expect(fr[0].Error).To(BeEmpty())
		live, err := f.srv.Tokens(me.Email)
		g.Expect(err).NotTo(HaveOccurred())
		g.Expect(live.RefreshTokens).To(HaveLen(1))
		g.Expect(live.RefreshTokens[0].Token).To(Equal(res.Token.RefreshToken))
		g.Expect(live.RefreshTokens[0].AccessTokens).To(HaveLen(1))
		g.Expect(live.RefreshTokens[0].AccessTokens[0].Token).To(Equal(res.Token.AccessToken))

		// An hour later the access token is dead; the SDK, given the
		// refresh token, gets a new one.
		g.Expect(f.srv.Advance(61 * time.Minute)).To(Succeed())
		status, _ := rcCurrentUser(t, f.hc, f.api, res.Token.AccessToken)
		g.Expect(status).To(Equal(http.StatusUnauthorized))
		seq := rcLastSeq(f.srv)
		before := len(f.wire.all())
		res2 := f.run(t, dir, rcNodeEnv(c, "ZC_REFRESH_TOKEN", res.Token.RefreshToken))
		g.Expect(res2.OK).To(BeTrue(), "stage %s error %+v", res2.Stage, res2.Error)
		g.Expect(res2.Token.AccessToken).To(MatchRegexp(zoho.TokenPattern.String()))
		g.Expect(res2.Token.AccessToken).NotTo(Equal(res.Token.AccessToken))
		g.Expect(res2.Token.RefreshToken).To(Equal(res.Token.RefreshToken))
		g.Expect(res2.Users.Status).To(Equal(http.StatusOK))
		g.Expect(res2.Org.Status).To(Equal(http.StatusOK))
		refresh := f.wire.all()[before]
		g.Expect(refresh.Path).To(HaveSuffix("/oauth/v2/token"))
		g.Expect(refresh.ContentType).To(HavePrefix("multipart/form-data; boundary="))
		g.Expect(refresh.Fields).To(Equal([]string{"client_id", "client_secret", "grant_type", "refresh_token"}))
		rr := f.srv.RequestsSince(seq)
		g.Expect(rr[0].Params).To(HaveKeyWithValue("grant_type", "refresh_token"))
		g.Expect(rr[0].Error).To(BeEmpty())
	})

	t.Run("WebClientCodeWithRedirectURI", func(t *testing.T) {
		t.Parallel()
		g := NewWithT(t)
		f := rcStartNodeFake(t)
		c, err := f.srv.RegisterClient(fakeserver.ClientSpec{
			Type: fakeserver.WebBased, Name: "zconform node", Homepage: rcHomepage, RedirectURIs: []string{rcRedirect},
		})
		g.Expect(err).NotTo(HaveOccurred())
		me, _ := f.srv.DefaultUser(zoho.US)
		q := rcAuthorize(t, f.hc, f.accounts+"/oauth/v2/auth?"+url.Values{
			"client_id": {c.ID}, "response_type": {"code"}, "redirect_uri": {rcRedirect},
			"scope": {"ZohoCRM.users.ALL,ZohoCRM.org.ALL"}, "access_type": {"offline"},
		}.Encode())
		g.Expect(q.Get("accounts-server")).To(Equal(f.accounts))
		res := f.run(t, dir, rcNodeEnv(c, "ZC_GRANT_TOKEN", q.Get("code"), "ZC_REDIRECT_URL", rcRedirect))
		rcCheckNodeSuccess(g, f, res, me.Email)
		calls := rcWireTokenCalls(f.wire)
		g.Expect(calls).To(HaveLen(1))
		g.Expect(calls[0].ContentType).To(HavePrefix("multipart/form-data; boundary="))
		g.Expect(calls[0].Fields).To(Equal([]string{"client_id", "client_secret", "redirect_uri", "grant_type", "code"}))
	})

	for _, tc := range []struct {
		name    string
		prepare func(f *rcNodeFake, c fakeserver.Client, code string) error
	}{
		{"UsedCode", func(f *rcNodeFake, c fakeserver.Client, code string) error {
			// exchange it once, as another client library would
			resp, err := f.hc.PostForm(f.accounts+"/oauth/v2/token", url.Values{
				"grant_type": {"authorization_code"}, "client_id": {c.ID}, "client_secret": {c.Secret}, "code": {code},
			})
			if err != nil {
				return err
			}
			defer resp.Body.Close()
			var body map[string]any
			if err := json.NewDecoder(resp.Body).Decode(&body); err != nil {
				return err
			}
			if _, ok := body["access_token"]; !ok {
				return fmt.Errorf("first exchange failed: %v", body)
			}
			return nil
		}},
		{"ExpiredCode", func(f *rcNodeFake, _ fakeserver.Client, _ string) error {
			// the self-client default lifetime is 3 minutes (K4-NOTE-2)
			return f.srv.Advance(3*time.Minute + time.Second)
		}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			g := NewWithT(t)
			f := rcStartNodeFake(t)
			c, err := f.srv.RegisterClient(fakeserver.ClientSpec{Type: fakeserver.SelfClient})
			g.Expect(err).NotTo(HaveOccurred())
			code, err := f.srv.SelfClientCode(c.ID, fakeserver.SelfClientCodeRequest{Scopes: []string{"ZohoCRM.users.ALL"}})
			g.Expect(err).NotTo(HaveOccurred())
			g.Expect(tc.prepare(f, c, code)).To(Succeed())
			seq := rcLastSeq(f.srv)

			res := f.run(t, dir, rcNodeEnv(c, "ZC_GRANT_TOKEN", code))
			g.Expect(res.OK).To(BeFalse())
			g.Expect(res.Stage).To(Equal("initialize"))
			g.Expect(res.Error).NotTo(BeNil())
			g.Expect(res.Error.Code).To(Equal("INVALID TOKEN ERROR"))
			g.Expect(res.Error.Message).To(ContainSubstring(zoho.ErrInvalidCode))
			rr := f.srv.RequestsSince(seq)
			g.Expect(rr).To(HaveLen(1), "one token call and no API call")
			g.Expect(rr[0].Path).To(Equal("/oauth/v2/token"))
			g.Expect(rr[0].Error).To(Equal(zoho.ErrInvalidCode))
			g.Expect(rr[0].Status).To(Equal(http.StatusOK))
		})
	}
}

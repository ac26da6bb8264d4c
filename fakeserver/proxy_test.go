package fakeserver_test

import (
	"bufio"
	"bytes"
	"crypto/tls"
	"crypto/x509"
	"encoding/json"
	"encoding/pem"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net"
	"net/http"
	"net/http/httptest"
	"net/url"
	"os"
	"path/filepath"
	"regexp"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/zconform/zconform/fakeserver"
	"github.com/zconform/zconform/fixtures/zoho"
)

// ptLog is a concurrency-safe buffer for a fake's structured log.
type ptLog struct {
	mu  sync.Mutex
	buf bytes.Buffer
}

func (l *ptLog) Write(p []byte) (int, error) {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.buf.Write(p)
}

func (l *ptLog) String() string {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.buf.String()
}

// ptStart is a fake with its proxy on loopback, both closed with the test.
func ptStart(t testing.TB, popts []fakeserver.ProxyOption, opts ...fakeserver.Option) (*fakeserver.Server, *fakeserver.Proxy) {
	t.Helper()
	srv := fakeserver.New(opts...)
	t.Cleanup(srv.Close)
	p, err := srv.StartProxy("127.0.0.1:0", popts...)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(p.Close)
	return srv, p
}

// ptWebClient registers a web client and returns it with a function that
// gets a fresh grant code for it (consent given, offline).
func ptWebClient(t testing.TB, srv *fakeserver.Server, dc zoho.DC) (fakeserver.Client, func() string) {
	t.Helper()
	app, err := srv.RegisterClient(fakeserver.ClientSpec{
		Type: fakeserver.WebBased, Name: "Proxy check", Homepage: "https://app.example",
		RedirectURIs: []string{"https://app.example/callback"}, DC: dc,
	})
	if err != nil {
		t.Fatal(err)
	}
	return app, func() string {
		r, err := srv.Authorize(dc, url.Values{
			"client_id": {app.ID}, "response_type": {"code"}, "redirect_uri": {"https://app.example/callback"},
			"scope": {"ZohoCRM.users.ALL"}, "access_type": {"offline"}, "prompt": {"consent"},
		})
		if err != nil {
			t.Fatal(err)
		}
		return r.Code
	}
}

func ptToken(t testing.TB, hc *http.Client, tokenURL string, form url.Values) (int, map[string]any) {
	t.Helper()
	resp, err := hc.PostForm(tokenURL, form)
	if err != nil {
		t.Fatalf("POST %s: %v", tokenURL, err)
	}
	defer resp.Body.Close()
	var body map[string]any
	if err := json.NewDecoder(resp.Body).Decode(&body); err != nil {
		t.Fatalf("POST %s: %v", tokenURL, err)
	}
	return resp.StatusCode, body
}

// Through the proxy, Zoho's real URLs reach the fake, which answers as
// Zoho does: api_domain, location and accounts-server name the real
// https:// hosts, and the request log names the host each request named.
func TestProxyAnswersOnRealHostNames(t *testing.T) {
	srv, p := ptStart(t, nil)
	hc := p.HTTPClient()
	app, code := ptWebClient(t, srv, zoho.US)
	status, body := ptToken(t, hc, "https://accounts.zoho.com/oauth/v2/token", url.Values{
		"grant_type": {"authorization_code"}, "code": {code()}, "client_id": {app.ID}, "client_secret": {app.Secret},
		"redirect_uri": {"https://app.example/callback"}})
	if status != 200 || body["api_domain"] != "https://www.zohoapis.com" || body["refresh_token"] == nil {
		t.Fatalf("exchange through the proxy: %d %v", status, body)
	}
	req, _ := http.NewRequest(http.MethodGet, "https://www.zohoapis.com/crm/v8/users?type=CurrentUser", nil)
	req.Header.Set("Authorization", "Zoho-oauthtoken "+body["access_token"].(string))
	resp, err := hc.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	if resp.StatusCode != 200 {
		t.Errorf("the API through the proxy: %d", resp.StatusCode)
	}
	// the authorization endpoint's redirect names the real hosts
	noFollow := &http.Client{Transport: p.Transport(), CheckRedirect: func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse }}
	resp, err = noFollow.Get("https://accounts.zoho.com/oauth/v2/auth?" + url.Values{
		"client_id": {app.ID}, "response_type": {"code"}, "redirect_uri": {"https://app.example/callback"},
		"scope": {"ZohoCRM.users.ALL"}, "access_type": {"offline"}}.Encode())
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	loc, _ := url.Parse(resp.Header.Get("Location"))
	if resp.StatusCode != http.StatusFound || loc.Query().Get("accounts-server") != "https://accounts.zoho.com" || loc.Query().Get("location") != "us" {
		t.Errorf("the authorization redirect through the proxy: %d %s", resp.StatusCode, loc)
	}
	var hosts []string
	for _, r := range srv.Requests() {
		hosts = append(hosts, r.Host+" "+r.Path)
	}
	// the first: the code, got in-process on the real host name
	want := []string{"accounts.zoho.com /oauth/v2/auth", "accounts.zoho.com /oauth/v2/token", "www.zohoapis.com /crm/v8/users", "accounts.zoho.com /oauth/v2/auth"}
	if strings.Join(hosts, ", ") != strings.Join(want, ", ") {
		t.Errorf("the request log names %q, want %q", hosts, want)
	}
	// the proxy's own address is the fake's: its control API moves the
	// clock the proxied requests see, and health answers
	before := srv.Now()
	resp, err = http.Post(p.URL+"/_zconform/v1/clock/advance", "application/json", strings.NewReader(`{"by": "61s"}`))
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	if resp.StatusCode != 200 || srv.Now().Sub(before) < 61*time.Second {
		t.Errorf("the control API on the proxy's address: %d, clock moved %s", resp.StatusCode, srv.Now().Sub(before))
	}
	if resp, err = http.Get(p.URL + fakeserver.ReadyPath); err != nil || resp.StatusCode != 200 {
		t.Errorf("readiness on the proxy's address: %v %v", resp, err)
	}
	// every DC's hosts are served, each with its own certificate
	for _, d := range zoho.DataCentres() {
		for _, host := range []string{d.AccountsHost, d.APIHost} {
			conn, err := tls.Dial("tcp", p.URL[len("http://"):], &tls.Config{ServerName: host, RootCAs: p.CA().CertPool()})
			if err == nil { // a TLS hello to the proxy itself is no tunnel
				conn.Close()
				t.Errorf("the proxy's own port spoke TLS for %s", host)
			}
			resp, err := hc.Get("https://" + host + "/oauth/v2/token")
			if err != nil {
				t.Errorf("%s through the proxy: %v", host, err)
				continue
			}
			resp.Body.Close()
			if resp.TLS == nil || resp.TLS.PeerCertificates[0].DNSNames[0] != host {
				t.Errorf("%s: served with %v", host, resp.TLS.PeerCertificates[0].DNSNames)
			}
		}
	}
}

// tokenish matches the values that differ between two fakes: tokens,
// client IDs and secrets, grant codes.
var tokenish = regexp.MustCompile(`1000\.[A-Za-z0-9.]+|[0-9a-f]{40,}`)

// ptTranscript runs one integration's life against a fake through hc and
// writes down every answer (status, content type, location, body), with
// the values that differ between two fakes replaced.
func ptTranscript(t *testing.T, srv *fakeserver.Server, hc *http.Client) []string {
	t.Helper()
	hc.CheckRedirect = func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse }
	app, code := ptWebClient(t, srv, zoho.US)
	var out []string
	do := func(method, u, auth string, form url.Values) string {
		var body io.Reader
		if form != nil {
			body = strings.NewReader(form.Encode())
		}
		req, _ := http.NewRequest(method, u, body)
		if form != nil {
			req.Header.Set("Content-Type", "application/x-www-form-urlencoded")
		}
		if auth != "" {
			req.Header.Set("Authorization", auth)
		}
		resp, err := hc.Do(req)
		if err != nil {
			out = append(out, fmt.Sprintf("%s %s: error %v", method, u, errors.Unwrap(err) != nil))
			return ""
		}
		defer resp.Body.Close()
		b, _ := io.ReadAll(resp.Body)
		out = append(out, tokenish.ReplaceAllString(fmt.Sprintf("%s %s → %d %s retry-after=%q location=%q %s", method, u,
			resp.StatusCode, resp.Header.Get("Content-Type"), resp.Header.Get("Retry-After"), resp.Header.Get("Location"), b), "…"))
		return string(b)
	}
	tokenURL := "https://accounts.zoho.com/oauth/v2/token"
	exchange := func(c string) url.Values {
		return url.Values{"grant_type": {"authorization_code"}, "code": {c}, "client_id": {app.ID}, "client_secret": {app.Secret}, "redirect_uri": {"https://app.example/callback"}}
	}
	stale := code()
	_ = srv.Advance(61 * time.Second)
	do("POST", tokenURL, "", exchange(stale))
	c := code()
	var tok map[string]string
	_ = json.Unmarshal([]byte(do("POST", tokenURL, "", exchange(c))), &tok)
	do("POST", tokenURL, "", exchange(c))
	do("POST", "https://accounts.zoho.eu/oauth/v2/token", "", url.Values{"grant_type": {"refresh_token"}, "refresh_token": {tok["refresh_token"]}, "client_id": {app.ID}, "client_secret": {app.Secret}})
	do("POST", tokenURL, "", url.Values{"grant_type": {"password"}, "client_id": {app.ID}, "client_secret": {app.Secret}})
	do("GET", "https://www.zohoapis.com/crm/v8/users?type=CurrentUser", "Zoho-oauthtoken "+tok["access_token"], nil)
	do("GET", "https://www.zohoapis.com/crm/v8/users?type=CurrentUser", "Zoho-oauthtoken 1000.nope", nil)
	do("GET", "https://www.zohoapis.com/crm/v8/users?type=CurrentUser", "", nil)
	do("GET", "https://www.zohoapis.eu/crm/v8/users?type=CurrentUser", "Zoho-oauthtoken "+tok["access_token"], nil)
	do("GET", "https://accounts.zoho.com/oauth/v2/auth?"+url.Values{"client_id": {app.ID}, "response_type": {"code"},
		"redirect_uri": {"https://app.example/callback"}, "scope": {"ZohoCRM.users.ALL"}, "access_type": {"offline"}}.Encode(), "", nil)
	do("GET", "https://accounts.zoho.com/oauth/v2/auth?client_id=1000.unknown&response_type=code&scope=ZohoCRM.users.ALL&redirect_uri=https://app.example/callback", "", nil)
	_, _ = srv.InjectFault(fakeserver.Fault{Kind: fakeserver.FaultStatus, Endpoint: fakeserver.EndpointToken, Times: 1,
		Status: http.StatusServiceUnavailable, Body: "<html>Service Unavailable</html>", Header: map[string]string{"Retry-After": "30"}})
	refresh := url.Values{"grant_type": {"refresh_token"}, "refresh_token": {tok["refresh_token"]}, "client_id": {app.ID}, "client_secret": {app.Secret}}
	do("POST", tokenURL, "", refresh)
	do("POST", tokenURL, "", refresh)
	_, _ = srv.InjectFault(fakeserver.Fault{Kind: fakeserver.FaultReset, Endpoint: fakeserver.EndpointToken, Times: 1})
	do("POST", tokenURL, "", refresh)
	do("POST", "https://accounts.zoho.com/oauth/v2/token/revoke?token="+tok["refresh_token"], "", url.Values{})
	do("POST", tokenURL, "", refresh)
	do("GET", "https://accounts.zoho.com/no/such/path", "", nil)
	for _, r := range srv.Requests() {
		out = append(out, tokenish.ReplaceAllString(fmt.Sprintf("log: %s %s %s %s %d %s", r.DC, r.Host, r.Method, r.Path, r.Status, r.Error), "…"))
	}
	return out
}

// The in-process transport and the proxy answer identically: the same
// integration's life, run once through each against two like fakes, gives
// the same transcript (statuses, content types, redirects, bodies, faults,
// the request log), because both serve the fake's one handler.
func TestProxyAnswersAsTheInProcessTransport(t *testing.T) {
	inProc := fakeserver.NewUnstarted()
	defer inProc.Close()
	viaTransport := ptTranscript(t, inProc, inProc.HTTPClient())

	srv, p := ptStart(t, nil)
	viaProxy := ptTranscript(t, srv, p.HTTPClient())

	if len(viaTransport) != len(viaProxy) {
		t.Fatalf("%d answers in-process, %d through the proxy:\n%s\n---\n%s", len(viaTransport), len(viaProxy),
			strings.Join(viaTransport, "\n"), strings.Join(viaProxy, "\n"))
	}
	for i := range viaTransport {
		if viaTransport[i] != viaProxy[i] {
			t.Errorf("answer %d differs:\n  in-process: %s\n  proxy:      %s", i+1, viaTransport[i], viaProxy[i])
		}
	}
	// the transcript is worth comparing: it holds each kind of answer
	joined := strings.Join(viaProxy, "\n")
	for _, want := range []string{`{"error":"invalid_code"}`, `"api_domain":"https://www.zohoapis.com"`, `{"error":"invalid_client"}`,
		`{"error":"unsupported_grant_type"}`, "→ 401", "→ 302", "accounts-server=https%3A%2F%2Faccounts.zoho.com", "→ 503", `retry-after="30"`, ": error true",
		"log: us www.zohoapis.com GET /crm/v8/users", "log: eu accounts.zoho.eu POST /oauth/v2/token"} {
		if !strings.Contains(joined, want) {
			t.Errorf("the transcript lacks %q:\n%s", want, joined)
		}
	}
}

// Hosts other than Zoho's are refused, by CONNECT and by plain proxy
// request, with HTTP 403 naming the host and the flag; the refusal is
// logged.
func TestProxyRefusesNonZohoHosts(t *testing.T) {
	var logs ptLog
	_, p := ptStart(t, nil, fakeserver.WithLogger(slog.New(slog.NewTextHandler(&logs, nil))))
	for _, u := range []string{"https://example.com/", "http://example.com/x", "https://accounts.zoho.com.evil.example/", "https://127.0.0.1:1/"} {
		resp, err := p.HTTPClient().Get(u)
		if strings.HasPrefix(u, "http://") {
			if err != nil {
				t.Fatal(err)
			}
			b, _ := io.ReadAll(resp.Body)
			resp.Body.Close()
			if resp.StatusCode != http.StatusForbidden || !strings.Contains(string(b), "refusing to reach example.com") || !strings.Contains(string(b), "-pass-through") {
				t.Errorf("%s: %d %s", u, resp.StatusCode, b)
			}
			continue
		}
		if err == nil || !strings.Contains(err.Error(), "Forbidden") {
			t.Errorf("%s: %v, want the CONNECT refused (403)", u, err)
		}
	}
	// the 403's body, as a CONNECT client sees it
	conn, err := net.Dial("tcp", p.URL[len("http://"):])
	if err != nil {
		t.Fatal(err)
	}
	defer conn.Close()
	fmt.Fprintf(conn, "CONNECT example.org:443 HTTP/1.1\r\nHost: example.org:443\r\n\r\n")
	resp, err := http.ReadResponse(bufio.NewReader(conn), nil)
	if err != nil {
		t.Fatal(err)
	}
	b, _ := io.ReadAll(resp.Body)
	if resp.StatusCode != http.StatusForbidden || !strings.Contains(string(b), "example.org") || !strings.Contains(string(b), "-pass-through") {
		t.Errorf("CONNECT example.org: %d %s", resp.StatusCode, b)
	}
	if l := logs.String(); !strings.Contains(l, "refused a CONNECT") || !strings.Contains(l, "host=example.org:443") || !strings.Contains(l, "refused a proxy request") {
		t.Errorf("the refusals are not logged:\n%s", l)
	}
}

// With pass-through, other hosts are tunnelled (CONNECT) and forwarded
// (plain) unchanged; Zoho's are still the fake's.
func TestProxyPassThrough(t *testing.T) {
	upstream := httptest.NewTLSServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) { fmt.Fprint(w, "upstream TLS "+r.URL.Path) }))
	defer upstream.Close()
	plain := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) { fmt.Fprint(w, "upstream plain "+r.URL.Path) }))
	defer plain.Close()
	_, p := ptStart(t, []fakeserver.ProxyOption{fakeserver.ProxyPassThrough()})
	tr := p.Transport()
	pool := p.CA().CertPool()
	pool.AddCert(upstream.Certificate())
	tr.TLSClientConfig.RootCAs = pool
	hc := &http.Client{Transport: tr}
	for u, want := range map[string]string{upstream.URL + "/a": "upstream TLS /a", plain.URL + "/b": "upstream plain /b"} {
		resp, err := hc.Get(u)
		if err != nil {
			t.Fatalf("%s: %v", u, err)
		}
		b, _ := io.ReadAll(resp.Body)
		resp.Body.Close()
		if string(b) != want {
			t.Errorf("%s: %q, want %q", u, b, want)
		}
	}
	resp, err := hc.PostForm("https://accounts.zoho.com/oauth/v2/token", url.Values{"grant_type": {"refresh_token"}, "refresh_token": {"x"}, "client_id": {"y"}, "client_secret": {"z"}})
	if err != nil {
		t.Fatal(err)
	}
	b, _ := io.ReadAll(resp.Body)
	resp.Body.Close()
	if string(b) != `{"error":"invalid_client"}` {
		t.Errorf("Zoho through a pass-through proxy: %s", b)
	}
}

// A client that does not trust the CA fails its handshake, and the proxy
// logs why and which file to trust.
func TestProxyNamesTheCAToAnUntrustingClient(t *testing.T) {
	var logs ptLog
	_, p := ptStart(t, []fakeserver.ProxyOption{fakeserver.ProxyCAFile("/tmp/the-ca.pem")}, fakeserver.WithLogger(slog.New(slog.NewTextHandler(&logs, nil))))
	tr := p.Transport()
	tr.TLSClientConfig.RootCAs = x509.NewCertPool() // trusts nothing
	_, err := (&http.Client{Transport: tr}).Get("https://accounts.zoho.com/oauth/v2/token")
	var unknown x509.UnknownAuthorityError
	if !errors.As(err, &unknown) {
		t.Fatalf("an untrusting client: %v, want an unknown authority", err)
	}
	deadline := time.Now().Add(5 * time.Second)
	for !strings.Contains(logs.String(), "does not trust the zconform CA: point it at /tmp/the-ca.pem") {
		if time.Now().After(deadline) {
			t.Fatalf("no hint in the log:\n%s", logs.String())
		}
		time.Sleep(5 * time.Millisecond)
	}
}

// The proxy holds its connections to the fake's time limits: a tunnel
// whose client never says hello is closed, and others are served
// meanwhile; a body over the limit gets 413 as on the listener.
func TestProxyLimits(t *testing.T) {
	srv, p := ptStart(t, []fakeserver.ProxyOption{fakeserver.ProxyHTTPLimits(fakeserver.HTTPLimits{ReadHeader: 300 * time.Millisecond, Read: time.Second})})
	_ = srv
	conn, err := net.Dial("tcp", p.URL[len("http://"):])
	if err != nil {
		t.Fatal(err)
	}
	defer conn.Close()
	fmt.Fprintf(conn, "CONNECT accounts.zoho.com:443 HTTP/1.1\r\nHost: accounts.zoho.com:443\r\n\r\n")
	br := bufio.NewReader(conn)
	resp, err := http.ReadResponse(br, nil)
	if err != nil || resp.StatusCode != 200 {
		t.Fatalf("CONNECT: %v %v", resp, err)
	}
	// silence: no ClientHello; meanwhile another client is served
	r2, err := p.HTTPClient().PostForm("https://accounts.zoho.com/oauth/v2/token", url.Values{"grant_type": {"x"}})
	if err != nil {
		t.Fatal(err)
	}
	r2.Body.Close()
	_ = conn.SetReadDeadline(time.Now().Add(5 * time.Second))
	start := time.Now()
	if _, err := br.ReadByte(); err == nil || errors.Is(err, os.ErrDeadlineExceeded) {
		t.Errorf("a silent tunnel is kept open: %v", err)
	}
	if waited := time.Since(start); waited > 3*time.Second {
		t.Errorf("a silent tunnel was closed after %s", waited)
	}
	big := url.Values{"grant_type": {strings.Repeat("x", 70<<10)}}
	resp, err = p.HTTPClient().PostForm("https://accounts.zoho.com/oauth/v2/token", big)
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	if resp.StatusCode != http.StatusRequestEntityTooLarge {
		t.Errorf("a 70 KiB body through the proxy: %d, want 413", resp.StatusCode)
	}
}

// A CA kept across runs: the key written 0600 and never over another
// file, loaded back, and refused with the file's name when it is not a
// CA's.
func TestCAFiles(t *testing.T) {
	dir := t.TempDir()
	ca, err := fakeserver.NewCA()
	if err != nil {
		t.Fatal(err)
	}
	certFile, keyFile := filepath.Join(dir, "ca.pem"), filepath.Join(dir, "ca-key.pem")
	if err := ca.WriteCert(certFile); err != nil {
		t.Fatal(err)
	}
	if err := ca.WriteKey(keyFile); err != nil {
		t.Fatal(err)
	}
	if fi, _ := os.Stat(keyFile); fi.Mode().Perm() != 0o600 {
		t.Errorf("the key's mode is %v, want 0600", fi.Mode().Perm())
	}
	if err := ca.WriteKey(keyFile); err == nil {
		t.Error("WriteKey replaced a file")
	}
	back, err := fakeserver.LoadCA(certFile, keyFile)
	if err != nil {
		t.Fatal(err)
	}
	if !back.Certificate().Equal(ca.Certificate()) {
		t.Error("LoadCA gave another certificate")
	}
	// a proxy on the loaded CA is trusted by a client of the first
	srv := fakeserver.New()
	defer srv.Close()
	p, err := srv.StartProxy("127.0.0.1:0", fakeserver.ProxyCA(back))
	if err != nil {
		t.Fatal(err)
	}
	defer p.Close()
	tr := p.Transport()
	tr.TLSClientConfig.RootCAs = ca.CertPool()
	resp, err := (&http.Client{Transport: tr}).Get("https://www.zohoapis.eu/crm/v8/users")
	if err != nil {
		t.Fatalf("a client trusting the first CA: %v", err)
	}
	resp.Body.Close()
	served := resp.TLS.PeerCertificates[0]
	if served.IsCA || served.DNSNames[0] != "www.zohoapis.eu" {
		t.Errorf("the leaf served: CA %v, names %v", served.IsCA, served.DNSNames)
	}

	other, _ := fakeserver.NewCA()
	otherKey := filepath.Join(dir, "other-key.pem")
	_ = other.WriteKey(otherKey)
	garbage := filepath.Join(dir, "garbage.pem")
	_ = os.WriteFile(garbage, []byte("not PEM"), 0o600)
	leaf := filepath.Join(dir, "leaf.pem")
	_ = os.WriteFile(leaf, pemOf(served.Raw), 0o600)
	for _, c := range []struct{ cert, key, want string }{
		{certFile, otherKey, "other-key.pem is not the key of " + certFile},
		{garbage, keyFile, "garbage.pem: no PEM CERTIFICATE block"},
		{certFile, garbage, "garbage.pem: no PEM PRIVATE KEY block"},
		{leaf, keyFile, "leaf.pem: not a CA certificate"},
		{filepath.Join(dir, "missing.pem"), keyFile, "missing.pem"},
	} {
		if _, err := fakeserver.LoadCA(c.cert, c.key); err == nil || !strings.Contains(err.Error(), c.want) {
			t.Errorf("LoadCA(%s, %s): %v, want %q", filepath.Base(c.cert), filepath.Base(c.key), err, c.want)
		}
	}
}

func pemOf(der []byte) []byte {
	return pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: der})
}

// A shared fake's proxy picks the run from the proxy credentials: a run's
// requests reach its fake alone; without them, or with another run's
// token, a CONNECT is refused with 407 before any tunnel opens.
func TestTenantsProxy(t *testing.T) {
	ts := fakeserver.NewTenants(fakeserver.TenantsConfig{})
	if err := ts.Start("127.0.0.1:0"); err != nil {
		t.Fatal(err)
	}
	defer ts.Close()
	p, err := ts.StartProxy("127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer p.Close()
	a, _ := ts.Create()
	b, _ := ts.Create()
	via := func(user *url.Userinfo) *http.Client {
		tr := p.Transport()
		pu, _ := url.Parse(p.URL)
		pu.User = user
		tr.Proxy = http.ProxyURL(pu)
		return &http.Client{Transport: tr}
	}
	resp, err := via(url.UserPassword(a.ID, a.Token)).PostForm("https://accounts.zoho.com/oauth/v2/token", url.Values{"grant_type": {"x"}})
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	runA, _ := ts.Tenant(a.ID)
	runB, _ := ts.Tenant(b.ID)
	if len(runA.Requests()) != 1 || runA.Requests()[0].Host != "accounts.zoho.com" || len(runB.Requests()) != 0 {
		t.Errorf("run a logged %v, run b %v", runA.Requests(), runB.Requests())
	}
	for name, user := range map[string]*url.Userinfo{"none": nil, "b's id, a's token": url.UserPassword(b.ID, a.Token), "unknown": url.UserPassword("nope", "x")} {
		_, err := via(user).Get("https://accounts.zoho.com/oauth/v2/token")
		if err == nil || !strings.Contains(err.Error(), "Proxy Authentication Required") {
			t.Errorf("%s: %v, want 407", name, err)
		}
	}
	// the plain proxy request too
	resp, err = via(nil).Get("http://accounts.zoho.com/oauth/v2/token")
	if err != nil {
		t.Fatal(err)
	}
	body, _ := io.ReadAll(resp.Body)
	resp.Body.Close()
	if resp.StatusCode != http.StatusProxyAuthRequired || !strings.Contains(string(body), "{id}:{token}") {
		t.Errorf("plain, without credentials: %d %s", resp.StatusCode, body)
	}
	if len(runA.Requests()) != 1 || len(runB.Requests()) != 0 {
		t.Error("a refused request reached a run")
	}
}

// A fault that breaks the connection (reset, close mid-body) is in the
// request log before the client can see the break, over loopback HTTP and
// through the proxy: a client that sees the error and asks the log at once
// finds the request there (found as a flaky transcript comparison under
// load: the entry came after the next requests').
func TestABrokenConnectionIsLoggedBeforeTheClientSeesIt(t *testing.T) {
	srv, p := ptStart(t, nil)
	app, _ := ptWebClient(t, srv, zoho.US)
	wires := map[string]struct {
		hc  *http.Client
		url string
	}{
		"over loopback HTTP": {srv.Client(), srv.AccountsURL(zoho.US) + "/oauth/v2/token"},
		"through the proxy":  {p.HTTPClient(), "https://accounts.zoho.com/oauth/v2/token"},
	}
	form := url.Values{"grant_type": {"refresh_token"}, "refresh_token": {"1000.unknown"}, "client_id": {app.ID}, "client_secret": {app.Secret}}
	for name, w := range wires {
		for _, kind := range []fakeserver.FaultKind{fakeserver.FaultReset, fakeserver.FaultCloseMidBody} {
			for i := range 100 {
				if _, err := srv.InjectFault(fakeserver.Fault{Kind: kind, Endpoint: fakeserver.EndpointToken, Times: 1}); err != nil {
					t.Fatal(err)
				}
				resp, err := w.hc.PostForm(w.url, form)
				if err == nil {
					_, err = io.ReadAll(resp.Body)
					resp.Body.Close()
				}
				if err == nil {
					t.Fatalf("%s, %s: the client saw no break", name, kind)
				}
				log := srv.Requests()
				if last := log[len(log)-1]; last.Error != "fault:"+string(kind) && !strings.HasPrefix(last.Error, "fault:"+string(kind)+" ") {
					t.Fatalf("%s, %s, try %d: the client saw the break before the log had it: the last entry is %s %s %q", name, kind, i+1, last.Method, last.Path, last.Error)
				}
			}
		}
	}
}

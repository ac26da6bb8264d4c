package fakeserver_test

// Real clients, unchanged, pointed at the fake only by their environment
// or standard configuration, against Zoho's real URLs, through the
// intercepting proxy (issue 14): curl, Go net/http and golang.org/x/oauth2
// (in a child process, so that HTTPS_PROXY and SSL_CERT_FILE are read as a
// program reads them), Python requests, Java's java.net.http.HttpClient.
// Each exchanges a grant token at https://accounts.zoho.com/oauth/v2/token,
// calls the API at the api_domain it was given with Zoho-oauthtoken and
// refreshes once; the fake's request log must show those requests on the
// real host names (they came through the proxy), and each client's
// findings are pinned. Negative controls show each check can fail: a client
// that does not trust the CA fails TLS and the proxy logs the hint; a
// CONNECT to another host is refused, naming the host and -pass-through.
// The clients live in testdata/proxyclients.

import (
	"bufio"
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net"
	"net/http"
	"net/url"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	"golang.org/x/oauth2"

	"github.com/zconform/zconform/fakeserver"
	"github.com/zconform/zconform/fixtures/zoho"
)

const (
	pcTokenURL = "https://accounts.zoho.com/oauth/v2/token"
	pcAPI      = "https://www.zohoapis.com"
	pcRedirect = "https://app.example.com/callback"
	// pcHelperEnv marks the child process TestHelperProcessProxyGo runs in;
	// its value chooses what the child does.
	pcHelperEnv = "ZCONFORM_PROXY_HELPER"
	// pcFindingsMark starts the line the Go child prints its findings on.
	pcFindingsMark  = "ZCONFORM-FINDINGS "
	pcUntrustedHint = "does not trust the zconform CA"
	pcClientTimeout = 2 * time.Minute // one client's whole run (a JVM compiling its source included)
)

// pcFindings is what a client saw, as each client prints it (JSON).
type pcFindings struct {
	Client         string `json:"client"`
	ExchangeStatus int    `json:"exchange_status"`
	ExchangeError  string `json:"exchange_error"`
	// HTTPVersion is the protocol of the token answer: HTTP/1.1 when the
	// client accepted the proxy's ALPN (http/1.1 only).
	HTTPVersion  string `json:"http_version"`
	AccessToken  string `json:"access_token"`
	RefreshToken string `json:"refresh_token"`
	APIDomain    string `json:"api_domain"`
	TokenType    string `json:"token_type"`
	APIStatus    int    `json:"api_status"`
	Email        string `json:"email"`

	RefreshStatus               int    `json:"refresh_status"`
	RefreshError                string `json:"refresh_error"`
	RefreshedAccessToken        string `json:"refreshed_access_token"`
	RefreshReturnedRefreshToken bool   `json:"refresh_returned_refresh_token"`

	// PeerIssuer is the issuer of the certificate the client was shown,
	// where the client can tell.
	PeerIssuer string `json:"peer_issuer"`
}

// pcLog is a slog sink the fake and its proxy write JSON lines to.
type pcLog struct {
	mu  sync.Mutex
	buf bytes.Buffer
}

func (l *pcLog) Write(p []byte) (int, error) {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.buf.Write(p)
}

func (l *pcLog) records() []map[string]any {
	l.mu.Lock()
	defer l.mu.Unlock()
	var out []map[string]any
	for line := range strings.Lines(l.buf.String()) {
		var m map[string]any
		if json.Unmarshal([]byte(line), &m) == nil {
			out = append(out, m)
		}
	}
	return out
}

// wait polls the log until a record satisfies ok, or fails the test.
func (l *pcLog) wait(t *testing.T, what string, ok func(map[string]any) bool) map[string]any {
	t.Helper()
	ctx, cancel := context.WithTimeout(t.Context(), 10*time.Second)
	defer cancel()
	tick := time.NewTicker(10 * time.Millisecond)
	defer tick.Stop()
	for {
		for _, r := range l.records() {
			if ok(r) {
				return r
			}
		}
		select {
		case <-ctx.Done():
			t.Fatalf("the proxy never logged %s; log:\n%s", what, l.String())
		case <-tick.C:
		}
	}
}

func (l *pcLog) String() string {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.buf.String()
}

// pcFake is a fake with its proxy, the CA written to a file, a registered
// web client and the user who consents.
type pcFake struct {
	srv    *fakeserver.Server
	proxy  *fakeserver.Proxy
	log    *pcLog
	dir    string
	caFile string
	client fakeserver.Client
	user   fakeserver.User
}

func pcStart(t *testing.T) *pcFake {
	t.Helper()
	f := &pcFake{log: &pcLog{}, dir: t.TempDir()}
	f.caFile = filepath.Join(f.dir, "zconform-ca.pem")
	f.srv = fakeserver.New(fakeserver.WithLogger(slog.New(slog.NewJSONHandler(f.log, nil))))
	t.Cleanup(f.srv.Close)
	p, err := f.srv.StartProxy("127.0.0.1:0", fakeserver.ProxyCAFile(f.caFile))
	if err != nil {
		t.Fatalf("start the proxy: %v", err)
	}
	t.Cleanup(p.Close)
	f.proxy = p
	if err := p.CA().WriteCert(f.caFile); err != nil {
		t.Fatal(err)
	}
	f.client, err = f.srv.RegisterClient(fakeserver.ClientSpec{
		Type: fakeserver.WebBased, Name: "zconform proxy client", Homepage: "https://app.example.com",
		RedirectURIs: []string{pcRedirect},
	})
	if err != nil {
		t.Fatalf("register a web client: %v", err)
	}
	if f.user, err = f.srv.DefaultUser(zoho.US); err != nil {
		t.Fatal(err)
	}
	return f
}

// code is a fresh grant token of the client, authorized in-process.
func (f *pcFake) code(t *testing.T) string {
	t.Helper()
	r, err := f.srv.Authorize(zoho.US, url.Values{
		"client_id": {f.client.ID}, "response_type": {"code"}, "redirect_uri": {pcRedirect},
		"scope": {"ZohoCRM.users.ALL"}, "access_type": {"offline"}, "prompt": {"consent"},
	})
	if err != nil || r.Code == "" {
		t.Fatalf("authorize: %v (redirect %+v)", err, r)
	}
	return r.Code
}

// proxyHostPort is the proxy's host and port.
func (f *pcFake) proxyHostPort(t *testing.T) (string, string) {
	t.Helper()
	u, err := url.Parse(f.proxy.URL)
	if err != nil {
		t.Fatal(err)
	}
	return u.Hostname(), u.Port()
}

func (f *pcFake) lastSeq() int64 {
	rs := f.srv.Requests()
	if len(rs) == 0 {
		return 0
	}
	return rs[len(rs)-1].Seq
}

// appEnv is the application's own configuration (not how it reaches Zoho).
func (f *pcFake) appEnv(code string) []string {
	return []string{"ZC_CLIENT_ID=" + f.client.ID, "ZC_CLIENT_SECRET=" + f.client.Secret,
		"ZC_REDIRECT_URI=" + pcRedirect, "ZC_CODE=" + code}
}

// pcEnv is this process's environment without anything that points a
// client at a proxy or a CA bundle (this machine sets SSL_CERT_FILE,
// REQUESTS_CA_BUNDLE, CURL_CA_BUNDLE, ...), plus extra.
func pcEnv(extra ...string) []string {
	drop := map[string]bool{
		"HTTP_PROXY": true, "HTTPS_PROXY": true, "ALL_PROXY": true, "NO_PROXY": true,
		"SSL_CERT_FILE": true, "SSL_CERT_DIR": true, "REQUESTS_CA_BUNDLE": true, "CURL_CA_BUNDLE": true,
		"NODE_EXTRA_CA_CERTS": true, "JAVA_TOOL_OPTIONS": true, "JDK_JAVA_OPTIONS": true, pcHelperEnv: true,
	}
	var env []string
	for _, kv := range os.Environ() {
		k, _, _ := strings.Cut(kv, "=")
		if !drop[strings.ToUpper(k)] {
			env = append(env, kv)
		}
	}
	return append(env, extra...)
}

// pcRun runs a client and returns its stdout and stderr.
func pcRun(ctx context.Context, env []string, name string, args ...string) (stdout, stderr string, err error) {
	cmd := exec.CommandContext(ctx, name, args...)
	cmd.Env = env
	cmd.WaitDelay = 5 * time.Second
	var o, e bytes.Buffer
	cmd.Stdout, cmd.Stderr = &o, &e
	err = cmd.Run()
	return o.String(), e.String(), err
}

// pcNeed skips the test when a tool is missing, saying how to install it.
func pcNeed(t *testing.T, tool, install string) string {
	t.Helper()
	p, err := exec.LookPath(tool)
	if err != nil {
		t.Skipf("%s is not installed (%v): %s", tool, err, install)
	}
	return p
}

// check asserts a client's findings of one exchange-call-refresh run and
// that the fake's log shows that run, on Zoho's real host names, after
// seq; it returns the log entries it checked.
func (f *pcFake) check(t *testing.T, seq int64, got pcFindings) []fakeserver.Request {
	t.Helper()
	tokenRe := zoho.TokenPattern
	switch {
	case got.ExchangeStatus != http.StatusOK || got.ExchangeError != "":
		t.Errorf("%s: exchange: HTTP %d, error %q", got.Client, got.ExchangeStatus, got.ExchangeError)
	case !tokenRe.MatchString(got.AccessToken) || !tokenRe.MatchString(got.RefreshToken):
		t.Errorf("%s: exchange: tokens %q, %q do not look like Zoho's", got.Client, got.AccessToken, got.RefreshToken)
	}
	if got.APIDomain != pcAPI {
		t.Errorf("%s: api_domain %q, want %q: the fake must name the real API host through the proxy", got.Client, got.APIDomain, pcAPI)
	}
	if got.TokenType != "Bearer" {
		t.Errorf("%s: token_type %q, want Bearer", got.Client, got.TokenType)
	}
	if got.APIStatus != http.StatusOK || got.Email != f.user.Email {
		t.Errorf("%s: API: HTTP %d, email %q; want 200, %q", got.Client, got.APIStatus, got.Email, f.user.Email)
	}
	if got.RefreshStatus != http.StatusOK || got.RefreshError != "" || !tokenRe.MatchString(got.RefreshedAccessToken) ||
		got.RefreshedAccessToken == got.AccessToken {
		t.Errorf("%s: refresh: HTTP %d, error %q, access token %q (was %q)", got.Client, got.RefreshStatus, got.RefreshError,
			got.RefreshedAccessToken, got.AccessToken)
	}
	if got.RefreshReturnedRefreshToken {
		t.Errorf("%s: the refresh answer carried a refresh_token; Zoho's does not", got.Client)
	}
	// Every client offers h2 (or may); the proxy's ALPN says http/1.1.
	if got.HTTPVersion != "HTTP/1.1" {
		t.Errorf("%s: answered over %q, want HTTP/1.1 (the proxy offers http/1.1 alone)", got.Client, got.HTTPVersion)
	}

	type want struct{ method, host, path, role, grant, auth string }
	wants := []want{
		{http.MethodPost, "accounts.zoho.com", "/oauth/v2/token", "accounts", "authorization_code", ""},
		{http.MethodGet, "www.zohoapis.com", "/crm/v8/users", "api", "", "Zoho-oauthtoken "},
		{http.MethodPost, "accounts.zoho.com", "/oauth/v2/token", "accounts", "refresh_token", ""},
	}
	rs := f.srv.RequestsSince(seq)
	if len(rs) < len(wants) {
		t.Fatalf("%s: the fake logged %d requests, want at least %d: %+v", got.Client, len(rs), len(wants), rs)
	}
	for i, w := range wants {
		r := rs[i]
		if r.Method != w.method || r.Host != w.host || r.Path != w.path || r.Role != w.role || r.DC != zoho.US ||
			r.Status != http.StatusOK || r.Error != "" {
			t.Errorf("%s: request %d: %s %s%s (%s %s) HTTP %d %q; want %s %s%s (%s us) HTTP 200", got.Client, i,
				r.Method, r.Host, r.Path, r.Role, r.DC, r.Status, r.Error, w.method, w.host, w.path, w.role)
		}
		if w.grant != "" && (r.Params["grant_type"] != w.grant || r.Params["client_id"] != f.client.ID) {
			t.Errorf("%s: request %d: grant_type %q client_id %q, want %q %q", got.Client, i, r.Params["grant_type"],
				r.Params["client_id"], w.grant, f.client.ID)
		}
		if w.auth != "" && !strings.HasPrefix(r.Params["authorization"], w.auth) {
			t.Errorf("%s: request %d: authorization %q, want %q…", got.Client, i, r.Params["authorization"], w.auth)
		}
	}
	return rs[:len(wants)]
}

// untrusted waits for the proxy's hint that a client did not trust the CA
// and returns the TLS error the proxy saw. Nothing may have reached the
// fake after seq.
func (f *pcFake) untrusted(t *testing.T, seq int64) string {
	t.Helper()
	rec := f.log.wait(t, "the untrusted-CA hint", func(r map[string]any) bool {
		msg, _ := r["msg"].(string)
		return strings.Contains(msg, pcUntrustedHint)
	})
	msg, _ := rec["msg"].(string)
	if !strings.Contains(msg, f.caFile) {
		t.Errorf("the hint does not name the CA file %s: %q", f.caFile, msg)
	}
	if rec["host"] != "accounts.zoho.com" || rec["source"] != "proxy" {
		t.Errorf("the hint names host %v, source %v; want accounts.zoho.com, proxy", rec["host"], rec["source"])
	}
	if rs := f.srv.RequestsSince(seq); len(rs) != 0 {
		t.Errorf("a client that failed TLS reached the fake: %+v", rs)
	}
	e, _ := rec["error"].(string)
	return e
}

// TestProxyCurl: curl, pointed by --proxy and --cacert.
func TestProxyCurl(t *testing.T) {
	t.Parallel()
	curl := pcNeed(t, "curl", "apt-get install -y curl")
	f := pcStart(t)
	ctx, cancel := context.WithTimeout(t.Context(), pcClientTimeout)
	defer cancel()
	env := pcEnv()
	// -q: no ~/.curlrc; --proxy and --cacert: the only pointing.
	pointing := []string{"-q", "-sS", "--max-time", "20", "--proxy", f.proxy.URL, "--cacert", f.caFile}
	base := append(slices.Clone(pointing), "-w", `\n%{http_code} %{http_version} %{ssl_verify_result}`)
	exchange := func(code string) []string {
		return []string{"--data-urlencode", "grant_type=authorization_code", "--data-urlencode", "client_id=" + f.client.ID,
			"--data-urlencode", "client_secret=" + f.client.Secret, "--data-urlencode", "redirect_uri=" + pcRedirect,
			"--data-urlencode", "code=" + code, pcTokenURL}
	}
	do := func(args ...string) (map[string]any, int, string) {
		t.Helper()
		out, errOut, err := pcRun(ctx, env, curl, append(slices.Clone(base), args...)...)
		if err != nil {
			t.Fatalf("curl %s: %v\n%s", strings.Join(args, " "), err, errOut)
		}
		i := strings.LastIndex(out, "\n") // the -w line follows the body
		var code int
		var version, verify string
		if _, err := fmt.Sscan(out[i+1:], &code, &version, &verify); err != nil {
			t.Fatalf("curl -w: %q: %v", out[i+1:], err)
		}
		if verify != "0" {
			t.Errorf("curl: ssl_verify_result %s, want 0 (verified)", verify)
		}
		var m map[string]any
		if err := json.Unmarshal([]byte(out[:i]), &m); err != nil {
			t.Fatalf("curl: body %q: %v", out[:i], err)
		}
		return m, code, "HTTP/" + version
	}
	str := func(m map[string]any, k string) string { s, _ := m[k].(string); return s }

	grant := f.code(t)
	seq := f.lastSeq()
	got := pcFindings{Client: "curl"}
	tok, code, version := do(exchange(grant)...)
	got.ExchangeStatus, got.HTTPVersion, got.ExchangeError = code, version, str(tok, "error")
	got.AccessToken, got.RefreshToken = str(tok, "access_token"), str(tok, "refresh_token")
	got.APIDomain, got.TokenType = str(tok, "api_domain"), str(tok, "token_type")

	users, code, _ := do("-H", "Authorization: Zoho-oauthtoken "+got.AccessToken, got.APIDomain+"/crm/v8/users?type=CurrentUser")
	got.APIStatus, got.Email = code, rcUserEmail(users)

	ref, code, _ := do("--data-urlencode", "grant_type=refresh_token", "--data-urlencode", "client_id="+f.client.ID,
		"--data-urlencode", "client_secret="+f.client.Secret, "--data-urlencode", "refresh_token="+got.RefreshToken, pcTokenURL)
	got.RefreshStatus, got.RefreshError, got.RefreshedAccessToken = code, str(ref, "error"), str(ref, "access_token")
	_, got.RefreshReturnedRefreshToken = ref["refresh_token"]
	f.check(t, seq, got)

	// Negative control: the same curl without --cacert does not trust the
	// proxy (exit 60) and the proxy logs the hint.
	grant = f.code(t)
	seq = f.lastSeq()
	without := slices.DeleteFunc(slices.Clone(pointing), func(a string) bool { return a == "--cacert" || a == f.caFile })
	_, errOut, err := pcRun(ctx, env, curl, append(without, exchange(grant)...)...)
	var ee *exec.ExitError
	if !errors.As(err, &ee) || ee.ExitCode() != 60 {
		t.Errorf("curl without --cacert: %v, want exit status 60 (peer certificate cannot be authenticated)\n%s", err, errOut)
	}
	if !strings.Contains(errOut, "SSL certificate problem") {
		t.Errorf("curl without --cacert: stderr %q, want an SSL certificate problem", errOut)
	}
	tlsErr := f.untrusted(t, seq)
	// curl (OpenSSL 3) sends the alert unknown_ca, under TLS 1.3 in
	// plaintext, which Go's server cannot decrypt.
	if tlsErr != "local error: tls: bad record MAC" {
		t.Errorf("curl's TLS failure as the proxy saw it: %q", tlsErr)
	}
	first, _, _ := strings.Cut(errOut, "\n")
	t.Logf("curl without --cacert: %s; the proxy saw %q", first, tlsErr)
}

// TestProxyRefusesOtherHosts: a CONNECT to a host that is not Zoho's gets
// 403, naming the host and -pass-through; curl reports it; nothing reaches
// the fake.
func TestProxyRefusesOtherHosts(t *testing.T) {
	t.Parallel()
	f := pcStart(t)
	ctx, cancel := context.WithTimeout(t.Context(), pcClientTimeout)
	defer cancel()
	seq := f.lastSeq()

	host, port := f.proxyHostPort(t)
	var d net.Dialer
	conn, err := d.DialContext(ctx, "tcp", net.JoinHostPort(host, port))
	if err != nil {
		t.Fatal(err)
	}
	defer conn.Close()
	_ = conn.SetDeadline(time.Now().Add(20 * time.Second))
	if _, err := io.WriteString(conn, "CONNECT example.com:443 HTTP/1.1\r\nHost: example.com:443\r\n\r\n"); err != nil {
		t.Fatal(err)
	}
	resp, err := http.ReadResponse(bufio.NewReader(conn), &http.Request{Method: http.MethodConnect})
	if err != nil {
		t.Fatal(err)
	}
	body, _ := io.ReadAll(resp.Body)
	resp.Body.Close()
	if resp.StatusCode != http.StatusForbidden || !strings.Contains(string(body), "example.com:443") ||
		!strings.Contains(string(body), "-pass-through") {
		t.Errorf("CONNECT example.com:443: HTTP %d %q; want 403 naming the host and -pass-through", resp.StatusCode, body)
	}
	f.log.wait(t, "the refused CONNECT", func(r map[string]any) bool {
		return r["msg"] == "refused a CONNECT" && r["host"] == "example.com:443"
	})

	if curl, err := exec.LookPath("curl"); err == nil {
		_, errOut, err := pcRun(ctx, pcEnv(), curl, "-q", "-sS", "--max-time", "20", "--proxy", f.proxy.URL, "--cacert", f.caFile,
			"https://example.com/")
		var ee *exec.ExitError
		if !errors.As(err, &ee) || ee.ExitCode() != 56 || !strings.Contains(errOut, "403") {
			t.Errorf("curl to example.com through the proxy: %v %q; want exit status 56, CONNECT tunnel failed, response 403", err, errOut)
		}
	}
	if rs := f.srv.RequestsSince(seq); len(rs) != 0 {
		t.Errorf("a refused CONNECT reached the fake: %+v", rs)
	}
}

// TestProxyGoNetHTTP: Go's net/http (http.DefaultClient, as it comes) and
// golang.org/x/oauth2 (no client in the context), in a child process whose
// environment alone points them: HTTPS_PROXY and SSL_CERT_FILE.
func TestProxyGoNetHTTP(t *testing.T) {
	t.Parallel()
	f := pcStart(t)
	ctx, cancel := context.WithTimeout(t.Context(), pcClientTimeout)
	defer cancel()
	env := pcEnv(append(f.appEnv(f.code(t)), "ZC_CODE_OAUTH2="+f.code(t),
		pcHelperEnv+"=flows", "HTTPS_PROXY="+f.proxy.URL, "SSL_CERT_FILE="+f.caFile)...)
	seq := f.lastSeq()
	out, errOut, err := pcRun(ctx, env, os.Args[0], "-test.run=^TestHelperProcessProxyGo$", "-test.count=1")
	if err != nil {
		t.Fatalf("the Go child: %v\nstdout:\n%s\nstderr:\n%s", err, out, errOut)
	}
	var got struct {
		NetHTTP pcFindings `json:"nethttp"`
		OAuth2  pcFindings `json:"oauth2"`
		// what the x/oauth2 run saw besides
		OAuth2Extra struct {
			ExtraAPIDomain       any    `json:"extra_api_domain"`
			ExpiresIn            int64  `json:"expires_in"`
			RefreshKept          bool   `json:"refresh_token_kept"`
			RefreshedExtraDomain any    `json:"refreshed_extra_api_domain"`
			BearerStatus         int    `json:"bearer_status"`
			BearerProto          string `json:"bearer_proto"`
		} `json:"oauth2_extra"`
		ProxyFor string `json:"proxy_for_token_url"`
	}
	line := pcFindingsLine(t, out)
	if err := json.Unmarshal([]byte(line), &got); err != nil {
		t.Fatalf("the Go child's findings %q: %v", line, err)
	}

	// net/http: HTTPS_PROXY read by http.ProxyFromEnvironment, the CA by
	// SSL_CERT_FILE; DefaultTransport offers h2 and gets http/1.1.
	if got.ProxyFor != f.proxy.URL {
		t.Errorf("http.ProxyFromEnvironment chose %q for %s, want %s", got.ProxyFor, pcTokenURL, f.proxy.URL)
	}
	if got.NetHTTP.PeerIssuer != "zconform proxy CA" {
		t.Errorf("net/http was shown a certificate issued by %q, want the zconform proxy CA", got.NetHTTP.PeerIssuer)
	}
	nh := f.check(t, seq, got.NetHTTP)

	// x/oauth2: the same, with the default client; api_domain only through
	// Token.Extra; it keeps the refresh token Zoho's refresh answer lacks;
	// its own client sends Bearer, which the fake (as Zoho) accepts.
	if got.OAuth2Extra.ExtraAPIDomain != pcAPI {
		t.Errorf("x/oauth2: Token.Extra(\"api_domain\") = %v, want %s", got.OAuth2Extra.ExtraAPIDomain, pcAPI)
	}
	if got.OAuth2Extra.ExpiresIn != 3600 || !got.OAuth2Extra.RefreshKept {
		t.Errorf("x/oauth2: expires_in %d, refresh token kept %v; want 3600, true", got.OAuth2Extra.ExpiresIn, got.OAuth2Extra.RefreshKept)
	}
	if got.OAuth2Extra.RefreshedExtraDomain != pcAPI {
		t.Errorf("x/oauth2: refreshed Token.Extra(\"api_domain\") = %v, want %s", got.OAuth2Extra.RefreshedExtraDomain, pcAPI)
	}
	if got.OAuth2Extra.BearerStatus != http.StatusOK || got.OAuth2Extra.BearerProto != "HTTP/1.1" {
		t.Errorf("x/oauth2 Config.Client: HTTP %d over %s, want 200 over HTTP/1.1", got.OAuth2Extra.BearerStatus, got.OAuth2Extra.BearerProto)
	}
	o2 := f.check(t, nh[len(nh)-1].Seq, got.OAuth2)
	rs := f.srv.RequestsSince(o2[len(o2)-1].Seq)
	if len(rs) != 1 || rs[0].Host != "www.zohoapis.com" || !strings.HasPrefix(rs[0].Params["authorization"], "Bearer ") ||
		rs[0].Status != http.StatusOK {
		t.Errorf("x/oauth2 Config.Client's call: %+v; want one GET on www.zohoapis.com with Bearer, 200", rs)
	}

	// Negative control: the same child without SSL_CERT_FILE does not
	// trust the proxy.
	seq = f.lastSeq()
	env = pcEnv(append(f.appEnv("unused"), pcHelperEnv+"=untrusted", "HTTPS_PROXY="+f.proxy.URL)...)
	out, errOut, err = pcRun(ctx, env, os.Args[0], "-test.run=^TestHelperProcessProxyGo$", "-test.count=1")
	if err != nil {
		t.Fatalf("the Go child: %v\nstdout:\n%s\nstderr:\n%s", err, out, errOut)
	}
	var neg struct {
		Error string `json:"error"`
	}
	if err := json.Unmarshal([]byte(pcFindingsLine(t, out)), &neg); err != nil {
		t.Fatal(err)
	}
	if !strings.Contains(neg.Error, "x509: certificate signed by unknown authority") {
		t.Errorf("net/http without SSL_CERT_FILE: %q, want x509: certificate signed by unknown authority", neg.Error)
	}
	tlsErr := f.untrusted(t, seq)
	// Go's client sends the alert bad_certificate.
	if tlsErr != "remote error: tls: bad certificate" {
		t.Errorf("Go's TLS failure as the proxy saw it: %q", tlsErr)
	}
	t.Logf("net/http without SSL_CERT_FILE: %s; the proxy saw %q", neg.Error, tlsErr)
}

func pcFindingsLine(t *testing.T, out string) string {
	t.Helper()
	for line := range strings.Lines(out) {
		if rest, ok := strings.CutPrefix(line, pcFindingsMark); ok {
			return strings.TrimSpace(rest)
		}
	}
	t.Fatalf("no findings in the child's output:\n%s", out)
	return ""
}

// TestHelperProcessProxyGo is the child TestProxyGoNetHTTP runs: a plain
// Go program as far as HTTP goes, with http.DefaultClient and x/oauth2 as
// they come, configured by HTTPS_PROXY and SSL_CERT_FILE alone.
func TestHelperProcessProxyGo(t *testing.T) {
	mode := os.Getenv(pcHelperEnv)
	if mode == "" {
		t.Skip("the child process of TestProxyGoNetHTTP; runs only there")
	}
	ctx, cancel := context.WithTimeout(context.Background(), pcClientTimeout)
	defer cancel()
	var out any
	switch mode {
	case "untrusted":
		_, err := http.PostForm(pcTokenURL, url.Values{"grant_type": {"authorization_code"}})
		if err == nil {
			t.Fatal("reached the token endpoint without trusting the proxy's CA")
		}
		out = map[string]string{"error": err.Error()}
	case "flows":
		out = pcGoFlows(ctx, t)
	default:
		t.Fatalf("%s=%q: want flows or untrusted", pcHelperEnv, mode)
	}
	b, err := json.Marshal(out)
	if err != nil {
		t.Fatal(err)
	}
	fmt.Printf("\n%s%s\n", pcFindingsMark, b)
}

func pcGoFlows(ctx context.Context, t *testing.T) map[string]any {
	id, secret, redirect := os.Getenv("ZC_CLIENT_ID"), os.Getenv("ZC_CLIENT_SECRET"), os.Getenv("ZC_REDIRECT_URI")
	hc := http.DefaultClient // as it comes: DefaultTransport, ProxyFromEnvironment, system roots
	res := map[string]any{}
	req, _ := http.NewRequest(http.MethodPost, pcTokenURL, nil)
	if u, err := http.ProxyFromEnvironment(req); err == nil && u != nil {
		res["proxy_for_token_url"] = u.String()
	}

	// net/http, by hand.
	token := func(form url.Values) (map[string]any, *http.Response) {
		form.Set("client_id", id)
		form.Set("client_secret", secret)
		req, _ := http.NewRequestWithContext(ctx, http.MethodPost, pcTokenURL, strings.NewReader(form.Encode()))
		req.Header.Set("Content-Type", "application/x-www-form-urlencoded")
		resp, err := hc.Do(req)
		if err != nil {
			t.Fatalf("POST %s: %v", pcTokenURL, err)
		}
		defer resp.Body.Close()
		var m map[string]any
		if err := json.NewDecoder(resp.Body).Decode(&m); err != nil {
			t.Fatalf("POST %s: %v", pcTokenURL, err)
		}
		return m, resp
	}
	users := func(api, header string) (int, string, string) {
		req, _ := http.NewRequestWithContext(ctx, http.MethodGet, api+"/crm/v8/users?type=CurrentUser", nil)
		req.Header.Set("Authorization", header)
		resp, err := hc.Do(req)
		if err != nil {
			t.Fatalf("GET users: %v", err)
		}
		defer resp.Body.Close()
		var m map[string]any
		_ = json.NewDecoder(resp.Body).Decode(&m)
		return resp.StatusCode, rcUserEmail(m), resp.Proto
	}
	str := func(m map[string]any, k string) string { s, _ := m[k].(string); return s }

	n := pcFindings{Client: "go-net/http"}
	tok, resp := token(url.Values{"grant_type": {"authorization_code"}, "code": {os.Getenv("ZC_CODE")}, "redirect_uri": {redirect}})
	n.ExchangeStatus, n.HTTPVersion, n.ExchangeError = resp.StatusCode, resp.Proto, str(tok, "error")
	if resp.TLS != nil && len(resp.TLS.PeerCertificates) > 0 {
		n.PeerIssuer = resp.TLS.PeerCertificates[0].Issuer.CommonName
	}
	n.AccessToken, n.RefreshToken, n.APIDomain, n.TokenType = str(tok, "access_token"), str(tok, "refresh_token"),
		str(tok, "api_domain"), str(tok, "token_type")
	n.APIStatus, n.Email, _ = users(n.APIDomain, "Zoho-oauthtoken "+n.AccessToken)
	ref, resp := token(url.Values{"grant_type": {"refresh_token"}, "refresh_token": {n.RefreshToken}})
	n.RefreshStatus, n.RefreshError, n.RefreshedAccessToken = resp.StatusCode, str(ref, "error"), str(ref, "access_token")
	_, n.RefreshReturnedRefreshToken = ref["refresh_token"]
	res["nethttp"] = n

	// x/oauth2, with no client in the context: it uses http.DefaultClient.
	cfg := oauth2.Config{ClientID: id, ClientSecret: secret, RedirectURL: redirect, Scopes: []string{"ZohoCRM.users.ALL"},
		Endpoint: oauth2.Endpoint{AuthURL: "https://accounts.zoho.com/oauth/v2/auth", TokenURL: pcTokenURL,
			AuthStyle: oauth2.AuthStyleInParams}}
	o := pcFindings{Client: "golang.org/x/oauth2", HTTPVersion: "HTTP/1.1"}
	otok, err := cfg.Exchange(ctx, os.Getenv("ZC_CODE_OAUTH2"))
	if err != nil {
		t.Fatalf("x/oauth2 Exchange: %v", err)
	}
	o.ExchangeStatus = http.StatusOK
	o.AccessToken, o.RefreshToken, o.TokenType = otok.AccessToken, otok.RefreshToken, otok.TokenType
	o.APIDomain, _ = otok.Extra("api_domain").(string)
	// x/oauth2 hides the token answer's protocol; the API call's stands in
	o.APIStatus, o.Email, o.HTTPVersion = users(o.APIDomain, "Zoho-oauthtoken "+otok.AccessToken)
	rtok, err := cfg.TokenSource(ctx, &oauth2.Token{RefreshToken: otok.RefreshToken}).Token()
	if err != nil {
		t.Fatalf("x/oauth2 refresh: %v", err)
	}
	o.RefreshStatus, o.RefreshedAccessToken = http.StatusOK, rtok.AccessToken
	res["oauth2"] = o
	extra := map[string]any{"extra_api_domain": otok.Extra("api_domain"), "expires_in": otok.ExpiresIn,
		"refresh_token_kept": rtok.RefreshToken == otok.RefreshToken, "refreshed_extra_api_domain": rtok.Extra("api_domain")}
	bresp, err := cfg.Client(ctx, rtok).Get(o.APIDomain + "/crm/v8/users?type=CurrentUser")
	if err != nil {
		t.Fatalf("x/oauth2 Config.Client: %v", err)
	}
	bresp.Body.Close()
	extra["bearer_status"], extra["bearer_proto"] = bresp.StatusCode, bresp.Proto
	res["oauth2_extra"] = extra
	return res
}

// TestProxyPythonRequests: Python requests, pointed by HTTPS_PROXY and
// REQUESTS_CA_BUNDLE.
func TestProxyPythonRequests(t *testing.T) {
	t.Parallel()
	const python = "/usr/bin/python3" // Debian's, where python3-requests installs; not a pyenv one
	if _, err := os.Stat(python); err != nil {
		t.Skipf("%s is missing: apt-get install -y python3 python3-requests", python)
	}
	f := pcStart(t)
	ctx, cancel := context.WithTimeout(t.Context(), pcClientTimeout)
	defer cancel()
	if _, errOut, err := pcRun(ctx, pcEnv(), python, "-c", "import requests"); err != nil {
		t.Skipf("Python requests is missing for %s (%v: %s): apt-get install -y python3-requests", python, err, strings.TrimSpace(errOut))
	}
	script, err := filepath.Abs(filepath.Join("testdata", "proxyclients", "requests_client.py"))
	if err != nil {
		t.Fatal(err)
	}

	env := pcEnv(append(f.appEnv(f.code(t)), "HTTPS_PROXY="+f.proxy.URL, "REQUESTS_CA_BUNDLE="+f.caFile)...)
	seq := f.lastSeq()
	out, errOut, err := pcRun(ctx, env, python, script)
	if err != nil {
		t.Fatalf("python requests: %v\nstdout:\n%s\nstderr:\n%s", err, out, errOut)
	}
	var got pcFindings
	if err := json.Unmarshal([]byte(out), &got); err != nil {
		t.Fatalf("python requests' findings %q: %v", out, err)
	}
	f.check(t, seq, got)

	// Negative control: without REQUESTS_CA_BUNDLE, requests trusts its
	// default bundle alone and fails.
	seq = f.lastSeq()
	env = pcEnv(append(f.appEnv("unused"), "HTTPS_PROXY="+f.proxy.URL)...)
	_, errOut, err = pcRun(ctx, env, python, script)
	if err == nil || !strings.Contains(errOut, "CERTIFICATE_VERIFY_FAILED") {
		t.Errorf("python requests without REQUESTS_CA_BUNDLE: %v, stderr %q; want CERTIFICATE_VERIFY_FAILED", err, errOut)
	}
	tlsErr := f.untrusted(t, seq)
	// requests (urllib3, OpenSSL 3) sends the alert unknown_ca, under TLS
	// 1.3 in plaintext, which Go's server cannot decrypt.
	if tlsErr != "local error: tls: bad record MAC" {
		t.Errorf("python's TLS failure as the proxy saw it: %q", tlsErr)
	}
	t.Logf("python requests without REQUESTS_CA_BUNDLE: the proxy saw %q", tlsErr)
}

// TestProxyJavaHttpClient: java.net.http.HttpClient, pointed by the system
// properties https.proxyHost, https.proxyPort, javax.net.ssl.trustStore
// and javax.net.ssl.trustStorePassword (a PKCS12 trust store keytool makes
// from the CA), with the builder's proxy set to ProxySelector.getDefault()
// and without it.
func TestProxyJavaHttpClient(t *testing.T) {
	t.Parallel()
	const install = "apt-get install -y openjdk-17-jdk-headless (java ZohoClient.java needs the JDK's compiler)"
	java := pcNeed(t, "java", install)
	keytool := pcNeed(t, "keytool", install)
	pcNeed(t, "javac", install)
	source, err := filepath.Abs(filepath.Join("testdata", "proxyclients", "ZohoClient.java"))
	if err != nil {
		t.Fatal(err)
	}

	for _, mode := range []string{"selector", "default"} {
		t.Run(mode, func(t *testing.T) {
			t.Parallel()
			f := pcStart(t)
			ctx, cancel := context.WithTimeout(t.Context(), pcClientTimeout)
			defer cancel()
			store := filepath.Join(f.dir, "truststore.p12")
			if _, errOut, err := pcRun(ctx, pcEnv(), keytool, "-importcert", "-noprompt", "-storetype", "PKCS12",
				"-keystore", store, "-storepass", "zconform", "-alias", "zconform", "-file", f.caFile); err != nil {
				t.Fatalf("keytool: %v\n%s", err, errOut)
			}
			host, port := f.proxyHostPort(t)
			props := []string{"-Dhttps.proxyHost=" + host, "-Dhttps.proxyPort=" + port}
			trust := []string{"-Djavax.net.ssl.trustStore=" + store, "-Djavax.net.ssl.trustStorePassword=zconform"}

			env := pcEnv(f.appEnv(f.code(t))...)
			seq := f.lastSeq()
			args := append(append(append(slices.Clone(props), trust...), source), mode)
			out, errOut, err := pcRun(ctx, env, java, args...)
			if err != nil {
				t.Fatalf("java %s: %v\nstdout:\n%s\nstderr:\n%s", strings.Join(args, " "), err, out, errOut)
			}
			var got pcFindings
			var extra struct {
				ClientVersion    string `json:"client_version"`
				HasProxySelector bool   `json:"client_has_proxy_selector"`
				TLSProtocol      string `json:"tls_protocol"`
				JavaVersion      string `json:"java_version"`
			}
			if err := errors.Join(json.Unmarshal([]byte(out), &got), json.Unmarshal([]byte(out), &extra)); err != nil {
				t.Fatalf("java's findings %q: %v", out, err)
			}
			// HttpClient asks for HTTP/2 (its default version) and, told
			// http/1.1 by ALPN, speaks HTTP/1.1 (check pins it).
			if extra.ClientVersion != "HTTP_2" {
				t.Errorf("java: the client's version is %s, want its default HTTP_2", extra.ClientVersion)
			}
			// Without .proxy(...), HttpClient.proxy() is empty yet the
			// client uses the default ProxySelector all the same, which
			// reads https.proxyHost/https.proxyPort: both modes go through
			// the proxy (check proves it by the log's host names).
			if extra.HasProxySelector != (mode == "selector") {
				t.Errorf("java %s: HttpClient.proxy().isPresent() = %v", mode, extra.HasProxySelector)
			}
			if !strings.Contains(got.PeerIssuer, "CN=zconform proxy CA") {
				t.Errorf("java was shown a certificate issued by %q, want the zconform proxy CA", got.PeerIssuer)
			}
			f.check(t, seq, got)
			t.Logf("java %s (%s) %s, TLS %s: %s", extra.JavaVersion, mode, got.HTTPVersion, extra.TLSProtocol, got.PeerIssuer)

			if mode != "selector" {
				return
			}
			// Negative control: without the trust store, the JDK's cacerts
			// alone: PKIX fails and the proxy logs the hint.
			seq = f.lastSeq()
			args = append(append(slices.Clone(props), source), mode)
			_, errOut, err = pcRun(ctx, pcEnv(f.appEnv("unused")...), java, args...)
			if err == nil || !strings.Contains(errOut, "PKIX path building failed") {
				t.Errorf("java without the trust store: %v, stderr %q; want PKIX path building failed", err, errOut)
			}
			tlsErr := f.untrusted(t, seq)
			// HttpClient usually closes the connection before its alert
			// certificate_unknown is out (EOF); when it is slower (with
			// -Djavax.net.debug, say) the alert arrives, encrypted, and Go
			// reads it.
			if tlsErr != "EOF" && tlsErr != "remote error: tls: unknown certificate" {
				t.Errorf("java's TLS failure as the proxy saw it: %q", tlsErr)
			}
			t.Logf("java without the trust store: the proxy saw %q", tlsErr)
		})
	}
}

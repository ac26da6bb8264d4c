package fakeserver_test

// The official Zoho CRM Node SDK (@zohocrm/nodejs-sdk-8.0) through the
// fake's intercepting proxy, configured exactly as production code is:
// USDataCenter.PRODUCTION() or EUDataCenter.PRODUCTION(), Zoho's real
// https:// hosts, no URL of the fake. The environment alone points it at
// the fake: node --require global-agent/bootstrap (Node 20 ignores
// HTTPS_PROXY; the SDK's got 11 calls https.request, whose agent
// global-agent replaces), GLOBAL_AGENT_HTTPS_PROXY and NODE_EXTRA_CA_CERTS.
// The script is testdata/nodesdk/proxy.js.

import (
	"bytes"
	"context"
	"encoding/csv"
	"encoding/json"
	"fmt"
	"net/http"
	"net/url"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"testing"
	"time"

	. "github.com/onsi/gomega"

	"github.com/zconform/zconform/fakeserver"
	"github.com/zconform/zconform/fixtures/zoho"
)

// pxNodeResult is what testdata/nodesdk/proxy.js writes.
type pxNodeResult struct {
	OK          bool   `json:"ok"`
	Stage       string `json:"stage"`
	GlobalAgent bool   `json:"global_agent"`
	Error       *struct {
		Code    string `json:"code"`
		Message string `json:"message"`
		Cause   string `json:"cause"`
	} `json:"error"`
	// Configured is the Environment the app gave the SDK; AfterInit and
	// AfterCalls the one the SDK uses after initialize and after the calls.
	Configured *pxEnvironment `json:"configured"`
	AfterInit  *pxEnvironment `json:"after_init"`
	AfterCalls *pxEnvironment `json:"after_calls"`
	Token      *struct {
		AccessToken  string `json:"access_token"`
		RefreshToken string `json:"refresh_token"`
		ExpiresIn    string `json:"expires_in"`
		APIDomain    string `json:"api_domain"`
		User         string `json:"user"`
	} `json:"token"`
	Users *struct {
		Status    int `json:"status"`
		Exception *struct {
			Code, Message string
		} `json:"exception"`
		Users []struct {
			Email string `json:"email"`
		} `json:"users"`
	} `json:"users"`
	Org *struct {
		Status int `json:"status"`
		Org    []struct {
			PrimaryEmail string `json:"primary_email"`
			ZGID         string `json:"zgid"`
		} `json:"org"`
	} `json:"org"`
}

type pxEnvironment struct {
	URL         string `json:"url"`
	AccountsURL string `json:"accounts_url"`
}

// The production environments of the SDK, as it names them.
var (
	pxUS = &pxEnvironment{URL: "https://www.zohoapis.com", AccountsURL: "https://accounts.zoho.com/oauth/v2/token"}
	pxEU = &pxEnvironment{URL: "https://www.zohoapis.eu", AccountsURL: "https://accounts.zoho.eu/oauth/v2/token"}
)

// pxNodeDir is testdata/nodesdk with the SDK and global-agent installed,
// or the test fails (or skips with ZCONFORM_SKIP_NODE=1) saying how to
// install them, as rcNodeDir does.
func pxNodeDir(t *testing.T) string {
	t.Helper()
	dir := rcNodeDir(t)
	if _, err := os.Stat(filepath.Join(dir, "node_modules", "global-agent", "bootstrap.js")); err != nil {
		t.Fatalf("global-agent (which routes the SDK through the proxy) is not installed in %s: run `make deps` (or `npm ci --prefix fakeserver/testdata/nodesdk`); or set ZCONFORM_SKIP_NODE=1 to skip these tests",
			filepath.Join(dir, "node_modules"))
	}
	return dir
}

// pxFake is a fake with its proxy and the proxy's CA in a file.
type pxFake struct {
	srv    *fakeserver.Server
	proxy  *fakeserver.Proxy
	caFile string
	hc     *http.Client // through the proxy, redirects not followed
}

func pxStart(t *testing.T) *pxFake {
	t.Helper()
	srv := fakeserver.New()
	t.Cleanup(srv.Close)
	caFile := filepath.Join(t.TempDir(), "zconform-ca.pem")
	p, err := srv.StartProxy("127.0.0.1:0", fakeserver.ProxyCAFile(caFile))
	if err != nil {
		t.Fatalf("start the proxy: %v", err)
	}
	t.Cleanup(p.Close)
	if err := p.CA().WriteCert(caFile); err != nil {
		t.Fatal(err)
	}
	hc := p.HTTPClient()
	hc.CheckRedirect = func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse }
	t.Cleanup(hc.CloseIdleConnections)
	return &pxFake{srv: srv, proxy: p, caFile: caFile, hc: hc}
}

// run runs proxy.js as production would, plus the environment that puts
// the proxy in front: work is the app's state (its token store), kept
// across runs when the caller passes the same directory.
func (f *pxFake) run(t *testing.T, dir, work string, env map[string]string) pxNodeResult {
	t.Helper()
	out := filepath.Join(work, "result.json")
	_ = os.Remove(out)
	ctx, cancel := context.WithTimeout(t.Context(), 2*time.Minute)
	defer cancel()
	cmd := exec.CommandContext(ctx, "node", "--require", "global-agent/bootstrap", "proxy.js")
	cmd.Dir = dir
	for _, kv := range os.Environ() {
		if !strings.HasPrefix(kv, "GLOBAL_AGENT_") && !strings.HasPrefix(kv, "NODE_EXTRA_CA_CERTS=") {
			cmd.Env = append(cmd.Env, kv)
		}
	}
	cmd.Env = append(cmd.Env,
		"GLOBAL_AGENT_HTTPS_PROXY="+f.proxy.URL, "GLOBAL_AGENT_HTTP_PROXY="+f.proxy.URL,
		"NODE_EXTRA_CA_CERTS="+f.caFile, "ZC_WORK_DIR="+work, "ZC_OUT="+out)
	for k, v := range env {
		cmd.Env = append(cmd.Env, k+"="+v)
	}
	var stderr bytes.Buffer
	cmd.Stdout, cmd.Stderr = &stderr, &stderr
	if err := cmd.Run(); err != nil {
		t.Fatalf("node --require global-agent/bootstrap proxy.js: %v\n%s", err, zoho.Redact(stderr.String()))
	}
	data, err := os.ReadFile(out)
	if err != nil {
		t.Fatalf("node proxy.js wrote no result (%v)\noutput: %s", err, zoho.Redact(stderr.String()))
	}
	var res pxNodeResult
	if err := json.Unmarshal(data, &res); err != nil {
		t.Fatalf("node proxy.js result %s: %v", zoho.Redact(string(data)), err)
	}
	t.Logf("node result: %s", zoho.Redact(string(bytes.TrimSpace(data))))
	if !res.OK {
		if log, err := os.ReadFile(filepath.Join(work, "sdk.log")); err == nil {
			t.Logf("SDK log:\n%s", zoho.Redact(string(log)))
		}
	}
	return res
}

// pxCalls are the requests after seq as "METHOD host path status [error]".
func pxCalls(srv *fakeserver.Server, seq int64) []string {
	var out []string
	for _, r := range srv.RequestsSince(seq) {
		s := fmt.Sprintf("%s %s%s %d", r.Method, r.Host, r.Path, r.Status)
		if r.Error != "" {
			s += " " + r.Error
		}
		out = append(out, s)
	}
	return out
}

// pxExpireStored marks the token in the app's store (tokens.csv) expired,
// as the wall clock would an hour later: the SDK judges expiry by it.
func pxExpireStored(t *testing.T, work string) {
	t.Helper()
	file := filepath.Join(work, "tokens.csv")
	data, err := os.ReadFile(file)
	if err != nil {
		t.Fatalf("the SDK's token store: %v", err)
	}
	rows, err := csv.NewReader(bytes.NewReader(data)).ReadAll()
	if err != nil || len(rows) != 2 || len(rows[0]) < 8 || rows[0][7] != "expiry_time" {
		t.Fatalf("the SDK's token store %s is not one token under the header id,...,expiry_time,... (%v): %s", file, err, zoho.Redact(string(data)))
	}
	rows[1][7] = strconv.FormatInt(time.Now().Add(-time.Minute).UnixMilli(), 10)
	var buf bytes.Buffer
	w := csv.NewWriter(&buf)
	if err := w.WriteAll(rows); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(file, buf.Bytes(), 0o600); err != nil {
		t.Fatal(err)
	}
}

// pxCheckUser asserts a run that signed in and called the users and org
// APIs as email.
func pxCheckUser(g Gomega, res pxNodeResult, email string) {
	g.Expect(res.OK).To(BeTrue(), "stage %s error %+v", res.Stage, res.Error)
	g.Expect(res.GlobalAgent).To(BeTrue())
	g.Expect(res.Token).NotTo(BeNil())
	g.Expect(res.Token.AccessToken).To(MatchRegexp(zoho.TokenPattern.String()))
	g.Expect(res.Users).NotTo(BeNil())
	g.Expect(res.Users.Status).To(Equal(http.StatusOK), "%+v", res.Users.Exception)
	g.Expect(res.Users.Users).To(HaveLen(1))
	g.Expect(res.Users.Users[0].Email).To(Equal(email))
	g.Expect(res.Org).NotTo(BeNil())
	g.Expect(res.Org.Status).To(Equal(http.StatusOK))
	g.Expect(res.Org.Org).To(HaveLen(1))
	g.Expect(res.Token.User).To(Equal(email + ":" + res.Org.Org[0].ZGID))
}

// TestNodeSDKViaProxy runs @zohocrm/nodejs-sdk-8.0 2.0.0 configured for
// production through the fake's proxy: a US user's code, the API, a
// refresh; and an EU user who signs in to an app configured with
// USDataCenter.PRODUCTION(). The fake's request log proves which real
// host each request went to.
func TestNodeSDKViaProxy(t *testing.T) {
	dir := pxNodeDir(t)

	t.Run("USUserCodeAPIRefresh", func(t *testing.T) {
		t.Parallel()
		g := NewWithT(t)
		f := pxStart(t)
		c, err := f.srv.RegisterClient(fakeserver.ClientSpec{Type: fakeserver.SelfClient})
		g.Expect(err).NotTo(HaveOccurred())
		me, _ := f.srv.DefaultUser(zoho.US)
		code, err := f.srv.SelfClientCode(c.ID, fakeserver.SelfClientCodeRequest{Scopes: []string{"ZohoCRM.users.ALL", "ZohoCRM.org.ALL"}})
		g.Expect(err).NotTo(HaveOccurred())

		// The grant-code exchange and the API: all on the US hosts the
		// SDK's USDataCenter.PRODUCTION() names.
		seq := rcLastSeq(f.srv)
		res := f.run(t, dir, t.TempDir(), rcNodeEnv(c, "ZC_DC", "us", "ZC_GRANT_TOKEN", code))
		pxCheckUser(g, res, me.Email)
		g.Expect(res.Configured).To(Equal(pxUS))
		g.Expect(res.Token.APIDomain).To(Equal("https://www.zohoapis.com"), "api_domain names the real host through the proxy")
		g.Expect(res.Token.RefreshToken).To(MatchRegexp(zoho.TokenPattern.String()))
		g.Expect(res.AfterInit).To(Equal(pxUS))
		g.Expect(res.AfterCalls).To(Equal(pxUS))
		g.Expect(pxCalls(f.srv, seq)).To(Equal([]string{
			"POST accounts.zoho.com/oauth/v2/token 200",
			"GET www.zohoapis.com/crm/v8/users 200", // initialize: the token's user
			"GET www.zohoapis.com/crm/v8/org 200",   // initialize: the org's zgid
			"GET www.zohoapis.com/crm/v8/users 200",
			"GET www.zohoapis.com/crm/v8/org 200",
		}))
		rr := f.srv.RequestsSince(seq)
		g.Expect(rr[0].Params).To(HaveKeyWithValue("grant_type", "authorization_code"))
		g.Expect(rr[0].DC).To(Equal(zoho.US))
		for _, r := range rr[1:] {
			g.Expect(r.Params["authorization"]).To(HavePrefix("Zoho-oauthtoken 1000."))
			g.Expect(r.Role).To(Equal("api"))
		}

		// An hour later the access token is dead; the app, restarted with
		// the refresh token, refreshes at accounts.zoho.com.
		g.Expect(f.srv.Advance(61 * time.Minute)).To(Succeed())
		seq = rcLastSeq(f.srv)
		res2 := f.run(t, dir, t.TempDir(), rcNodeEnv(c, "ZC_DC", "us", "ZC_REFRESH_TOKEN", res.Token.RefreshToken))
		pxCheckUser(g, res2, me.Email)
		g.Expect(res2.Token.AccessToken).NotTo(Equal(res.Token.AccessToken))
		g.Expect(res2.Token.RefreshToken).To(Equal(res.Token.RefreshToken))
		g.Expect(res2.AfterCalls).To(Equal(pxUS))
		g.Expect(pxCalls(f.srv, seq)).To(Equal([]string{
			"POST accounts.zoho.com/oauth/v2/token 200",
			"GET www.zohoapis.com/crm/v8/users 200",
			"GET www.zohoapis.com/crm/v8/org 200",
			"GET www.zohoapis.com/crm/v8/users 200",
			"GET www.zohoapis.com/crm/v8/org 200",
		}))
		g.Expect(f.srv.RequestsSince(seq)[0].Params).To(HaveKeyWithValue("grant_type", "refresh_token"))
	})

	t.Run("EUUserOfUSConfiguredApp", func(t *testing.T) {
		t.Parallel()
		g := NewWithT(t)
		f := pxStart(t)
		web, err := f.srv.RegisterClient(fakeserver.ClientSpec{
			Type: fakeserver.WebBased, Name: "zconform node", Homepage: rcHomepage, RedirectURIs: []string{rcRedirect},
		})
		g.Expect(err).NotTo(HaveOccurred())
		_, err = f.srv.EnableMultiDC(web.ID, zoho.EU, fakeserver.MultiDC{})
		g.Expect(err).NotTo(HaveOccurred())
		bob, err := f.srv.AddUser(fakeserver.UserSpec{Email: "bob@example.com", DC: zoho.EU})
		g.Expect(err).NotTo(HaveOccurred())
		g.Expect(f.srv.ScriptConsent(web.ID, fakeserver.Consent{User: bob.Email})).To(Succeed())

		// Bob signs in through accounts.zoho.com (the US app's sign-in
		// link); Zoho sends him back with location=eu and accounts-server.
		q := rcAuthorize(t, f.hc, "https://accounts.zoho.com/oauth/v2/auth?"+url.Values{
			"client_id": {web.ID}, "response_type": {"code"}, "redirect_uri": {rcRedirect},
			"scope": {"ZohoCRM.users.ALL,ZohoCRM.org.ALL"}, "access_type": {"offline"},
		}.Encode())
		g.Expect(q.Get("location")).To(Equal("eu"))
		g.Expect(q.Get("accounts-server")).To(Equal("https://accounts.zoho.eu"), "the real host, through the proxy")
		code := q.Get("code")
		g.Expect(code).To(MatchRegexp(zoho.TokenPattern.String()))
		work := t.TempDir() // the app's token store, kept across its runs
		env := func(dc string, kv ...string) map[string]string {
			return rcNodeEnv(web, append([]string{"ZC_DC", dc, "ZC_REDIRECT_URL", rcRedirect}, kv...)...)
		}

		// 1. The app keeps USDataCenter.PRODUCTION(): the SDK never sees
		// the redirect's location or accounts-server, and before it has a
		// token it has no api_domain to switch by, so it posts Bob's EU
		// code to accounts.zoho.com, which answers invalid_client
		// (K4-TOKEN-CLIENT-b). One request; no API call; the grant, out of
		// US's reach, survives.
		seq := rcLastSeq(f.srv)
		res := f.run(t, dir, work, env("us", "ZC_GRANT_TOKEN", code))
		g.Expect(res.OK).To(BeFalse())
		g.Expect(res.GlobalAgent).To(BeTrue())
		g.Expect(res.Configured).To(Equal(pxUS))
		g.Expect(res.Stage).To(Equal("initialize"))
		g.Expect(res.Error).NotTo(BeNil())
		g.Expect(res.Error.Code).To(Equal("INVALID TOKEN ERROR"))
		g.Expect(res.Error.Message).To(Equal(zoho.ErrInvalidClient))
		g.Expect(pxCalls(f.srv, seq)).To(Equal([]string{"POST accounts.zoho.com/oauth/v2/token 200 invalid_client"}))

		// 2. Production code follows location=eu (Zoho's multi-DC
		// guidance): EUDataCenter.PRODUCTION(). The same code is exchanged
		// at accounts.zoho.eu, api_domain names www.zohoapis.eu, and every
		// API call goes there.
		seq = rcLastSeq(f.srv)
		res = f.run(t, dir, work, env("eu", "ZC_GRANT_TOKEN", code))
		pxCheckUser(g, res, bob.Email)
		g.Expect(res.Configured).To(Equal(pxEU))
		g.Expect(res.Token.APIDomain).To(Equal("https://www.zohoapis.eu"))
		g.Expect(res.AfterCalls).To(Equal(pxEU))
		g.Expect(pxCalls(f.srv, seq)).To(Equal([]string{
			"POST accounts.zoho.eu/oauth/v2/token 200",
			"GET www.zohoapis.eu/crm/v8/users 200",
			"GET www.zohoapis.eu/crm/v8/org 200",
			"GET www.zohoapis.eu/crm/v8/users 200",
			"GET www.zohoapis.eu/crm/v8/org 200",
		}))
		for _, r := range f.srv.RequestsSince(seq) {
			g.Expect(r.DC).To(Equal(zoho.EU), "seq %d", r.Seq)
		}
		refresh := res.Token.RefreshToken
		g.Expect(refresh).To(MatchRegexp(zoho.TokenPattern.String()))

		// 3. The SDK's own data-centre switch: the app, configured with
		// USDataCenter.PRODUCTION() again, finds Bob's token in its store;
		// the stored api_domain (https://www.zohoapis.eu) makes the SDK
		// replace the environment with EUDataCenter.PRODUCTION() during
		// initialize, before any request: the API calls go to EU.
		seq = rcLastSeq(f.srv)
		res = f.run(t, dir, work, env("us", "ZC_REFRESH_TOKEN", refresh))
		pxCheckUser(g, res, bob.Email)
		g.Expect(res.Configured).To(Equal(pxUS))
		g.Expect(res.AfterInit).To(Equal(pxEU), "the stored api_domain switches the SDK to EU")
		g.Expect(res.AfterCalls).To(Equal(pxEU))
		g.Expect(pxCalls(f.srv, seq)).To(Equal([]string{
			"GET www.zohoapis.eu/crm/v8/users 200",
			"GET www.zohoapis.eu/crm/v8/org 200",
		}), "the stored access token is used as is: no token call")

		// 4. An hour later, same US configuration: the switch also picks
		// the Accounts server, so the refresh goes to accounts.zoho.eu.
		g.Expect(f.srv.Advance(61 * time.Minute)).To(Succeed())
		pxExpireStored(t, work)
		seq = rcLastSeq(f.srv)
		res = f.run(t, dir, work, env("us", "ZC_REFRESH_TOKEN", refresh))
		pxCheckUser(g, res, bob.Email)
		g.Expect(res.Configured).To(Equal(pxUS))
		g.Expect(res.AfterInit).To(Equal(pxEU))
		g.Expect(pxCalls(f.srv, seq)).To(Equal([]string{
			"POST accounts.zoho.eu/oauth/v2/token 200",
			"GET www.zohoapis.eu/crm/v8/users 200",
			"GET www.zohoapis.eu/crm/v8/org 200",
		}), "the user is known from the store: no lookup after the refresh")
		g.Expect(f.srv.RequestsSince(seq)[0].Params).To(HaveKeyWithValue("grant_type", "refresh_token"))

		// 5. Without the stored api_domain there is nothing to switch by:
		// a fresh store, US configuration and Bob's refresh token post to
		// accounts.zoho.com, which answers invalid_client.
		seq = rcLastSeq(f.srv)
		res = f.run(t, dir, t.TempDir(), env("us", "ZC_REFRESH_TOKEN", refresh))
		g.Expect(res.OK).To(BeFalse())
		g.Expect(res.Stage).To(Equal("initialize"))
		g.Expect(res.Error).NotTo(BeNil())
		g.Expect(res.Error.Code).To(Equal("INVALID TOKEN ERROR"))
		g.Expect(res.Error.Message).To(Equal(zoho.ErrInvalidClient))
		g.Expect(pxCalls(f.srv, seq)).To(Equal([]string{"POST accounts.zoho.com/oauth/v2/token 200 invalid_client"}))
	})
}

// Package certify drives a third-party Zoho integration (an SDK, an app's
// token manager, a connector) against the fake while it injects Zoho's
// documented failures (expired and reused grants, DC mismatches, cap
// overflows, throttles, network faults), and judges how it reacts from
// what the fake saw on the wire and what the integration reported.
//
// Every verdict rests on positive evidence. Each scenario first runs a
// positive control: a fresh instance of the integration must complete a
// normal authorization, exchange and API call, seen on the wire; if it
// cannot, the scenario fails with "the integration never worked". Each
// judgement that the integration did not do the wrong thing also needs
// wire evidence that the stimulus reached the fake from the integration.
//
// A Go integration implements Integration (or is wrapped in one) and runs
// in-process on Zoho's real host names; any other language speaks a small
// JSON-lines protocol (see Process).
package certify

import (
	"context"
	"errors"
	"fmt"
	"io"
	"net/http"
	"net/url"
	"os"
	"regexp"
	"slices"
	"strings"
	"sync"
	"time"

	"github.com/zconform/zconform/fakeserver"
	"github.com/zconform/zconform/fixtures/zoho"
)

// Verdict outcomes.
const (
	Pass          = "pass"
	Fail          = "fail"
	NotApplicable = "n/a"
)

// Verdict is a scenario's outcome with its evidence.
type Verdict struct {
	Scenario Scenario
	Outcome  string
	// Reason says why it failed or did not apply.
	Reason string
	// Evidence lists what the fake saw on the wire and what the
	// integration reported, secrets redacted.
	Evidence []string
	Duration time.Duration
}

// Factory makes a fresh integration; a scenario makes two, one for its
// positive control and one for the scenario itself.
type Factory func() (Integration, error)

// Options configure a certification.
type Options struct {
	// Profile is the fake's limit profile (default kaizen4).
	Profile string
	// lacks remembers, for one Run, the flows the integration said it
	// cannot do (flow → the n/a reason), so that later scenarios of that
	// flow start no instance to ask again.
	lacks *sync.Map
	// InProcess mounts the fake on Zoho's real host names in-process (Go
	// integrations); otherwise it listens on loopback and Env names its URLs.
	InProcess bool
	// Only runs the scenarios with these IDs (default: all).
	Only []string
	// Progress, if set, is called with each verdict as its scenario ends.
	Progress func(Verdict)
	// Proxy, if set, certifies via the fake's intercepting proxy: each
	// scenario's fake is also served by a proxy with the setup's CA, and
	// the integration is given Zoho's real URLs and an HTTP client (Go) or
	// an environment (a process: HTTPS_PROXY, the CA; ProxyEnv.Environ)
	// that reach the fake through it. The judgements are the same.
	Proxy *ProxySetup
}

const redirectURI = "https://app.example/callback"

// The users of the scenarios: the default user of the US DC, and a user of
// another DC for the DC scenarios.
const (
	usUser = "dev@us.zconform.test"
	euUser = "user@eu.example"
)

// harness is one scenario's world: a fresh fake, the integration's
// configuration, and the integration under judgement.
type harness struct {
	ctx    context.Context
	srv    *fakeserver.Server
	opts   Options
	sc     Scenario
	client fakeserver.Client
	env    Env
	// proxy serves the fake on Zoho's real host names (Options.Proxy),
	// proxyClient goes through it
	proxy       *fakeserver.Proxy
	proxyClient *http.Client
	factory     Factory
	integ       Integration
	// usEnv is the configuration of the positive control: the US DC.
	usEnv Env
	// device is a device scenario's device client (device.go).
	device fakeserver.Client
	// self and org are a backend job's Self Client and org, once the
	// control registered them (a user has one Self Client: clientcreds.go).
	self *fakeserver.Client
	org  fakeserver.Org
	// user is the user of the integration's DC (who consents by default).
	user     string
	seq      int64
	evidence []string
}

// failure stops a scenario with a failing verdict.
type failure struct{ reason string }

func (f *failure) Error() string { return f.reason }

func failf(format string, args ...any) error { return &failure{fmt.Sprintf(format, args...)} }

// neverWorked is the failure of a positive control.
// controlCall is the last step of a positive control: the instance calls
// the API, which must succeed on the wire and in its report.
func (h *harness) controlCall(integ Integration) error {
	c := h.report("control: call the API", integ.Call(h.ctx))
	called := false
	for _, a := range apiRequests(h.wire()) {
		called = called || a.Status == 200
	}
	switch {
	case !called && c.OK:
		return neverWorked("it reported an API call a success, but no API request of it succeeded on the wire")
	case !called:
		return neverWorked("its API call failed: %s", orNone(c.Error))
	case !c.OK:
		return neverWorked("its API call succeeded on the wire, but it reported: %s", orNone(c.Error))
	}
	return nil
}

// lacking is the n/a an earlier scenario of this Run got for the flow, or
// nil.
func (h *harness) lacking(flow string) error {
	if h.opts.lacks == nil || flow == "" {
		return nil
	}
	if na, ok := h.opts.lacks.Load(flow); ok {
		return na.(*notApplicable)
	}
	return nil
}

func neverWorked(format string, args ...any) error {
	return &failure{"the integration never worked: " + fmt.Sprintf(format, args...)}
}

type notApplicable struct{ reason string }

func (n *notApplicable) Error() string { return n.reason }

// Run certifies an integration: every scenario, each against a fresh fake,
// with a fresh instance of the integration for its positive control and
// another for the scenario.
func Run(ctx context.Context, newIntegration Factory, opts Options) ([]Verdict, error) {
	if opts.Profile == "" {
		opts.Profile = zoho.Kaizen4
	}
	if _, err := zoho.Profile(opts.Profile); err != nil {
		return nil, err
	}
	for _, id := range opts.Only {
		if !slices.ContainsFunc(Scenarios(), func(s Scenario) bool { return s.ID == id }) {
			return nil, fmt.Errorf("no scenario %q: zconform certify -list lists them", id)
		}
	}
	opts.lacks = &sync.Map{}
	var out []Verdict
	for _, sc := range Scenarios() {
		if len(opts.Only) > 0 && !slices.Contains(opts.Only, sc.ID) {
			continue
		}
		if ctx.Err() != nil {
			break
		}
		start := time.Now()
		v := runScenario(ctx, sc, newIntegration, opts)
		v.Duration = time.Since(start)
		out = append(out, v)
		if opts.Progress != nil {
			opts.Progress(v)
		}
	}
	if len(out) == 0 {
		return nil, errors.New("no scenario ran: interrupted before the first")
	}
	return out, nil
}

func runScenario(ctx context.Context, sc Scenario, newIntegration Factory, opts Options) (v Verdict) {
	v.Scenario = sc
	srv := fakeserver.NewUnstarted(fakeserver.WithProfile(opts.Profile))
	if !opts.InProcess && opts.Proxy == nil {
		if err := srv.Start(); err != nil {
			return Verdict{Scenario: sc, Outcome: Fail, Reason: "the scenario could not run: the fake did not start: " + err.Error()}
		}
	}
	defer srv.Close()
	h := &harness{ctx: ctx, srv: srv, opts: opts, sc: sc, factory: newIntegration, user: usUser}
	if opts.Proxy != nil {
		p, err := srv.StartProxy("127.0.0.1:0", fakeserver.ProxyCA(opts.Proxy.CA), fakeserver.ProxyCAFile(opts.Proxy.CAFile))
		if err != nil {
			return Verdict{Scenario: sc, Outcome: Fail, Reason: "the scenario could not run: the fake's proxy did not start: " + err.Error()}
		}
		defer p.Close()
		h.proxy, h.proxyClient = p, p.HTTPClient()
		defer h.proxyClient.CloseIdleConnections()
	}
	defer func() { v.Evidence = redactAll(h.evidence) }()
	err := h.setUp()
	switch {
	case err == nil && sc.control != nil && h.lacking(sc.flow) != nil:
		err = h.control() // it said so in an earlier scenario: the usual control decides
		if err == nil {
			err = h.lacking(sc.flow)
		}
	case err == nil && sc.control != nil:
		// a device app's control is a device sign-in, a backend job's a
		// client-credentials call; an integration without that flow must
		// still work the usual way for the scenario to be merely not
		// applicable to it
		err = sc.control(h)
		var na *notApplicable
		if errors.As(err, &na) {
			if h.opts.lacks != nil {
				h.opts.lacks.Store(sc.flow, na)
			}
			if werr := h.control(); werr != nil {
				err = werr
			}
		}
	case err == nil:
		err = h.control()
	}
	if err == nil {
		var cleanup func()
		if h.integ, cleanup, err = h.newInstance(h.env); err != nil {
			err = failf("the scenario's instance of the integration did not start: %v", err)
		} else {
			defer cleanup()
			err = sc.run(h)
		}
	}
	var f *failure
	var na *notApplicable
	switch {
	case err == nil:
		v.Outcome = Pass
	case errors.As(err, &f):
		v.Outcome, v.Reason = Fail, f.reason
	case errors.As(err, &na):
		v.Outcome, v.Reason = NotApplicable, na.reason
	default:
		v.Outcome, v.Reason = Fail, "the scenario could not run: "+err.Error()
	}
	h.wire() // the requests not yet in the evidence
	if h.proxy != nil {
		h.note("proxy: the scenario's requests named %s", hostsNamed(srv.Requests()))
	}
	return v
}

// hostsNamed counts the hosts requests named: "accounts.zoho.com ×4,
// www.zohoapis.com ×2".
func hostsNamed(reqs []fakeserver.Request) string {
	n := map[string]int{}
	var order []string
	for _, r := range reqs {
		if n[r.Host] == 0 {
			order = append(order, r.Host)
		}
		n[r.Host]++
	}
	if len(order) == 0 {
		return "no host (no request)"
	}
	parts := make([]string, len(order))
	for i, h := range order {
		if h == "" {
			h = "(none)"
		}
		parts[i] = fmt.Sprintf("%s ×%d", h, n[order[i]])
	}
	return strings.Join(parts, ", ")
}

// setUp registers the client and builds the integration's configuration,
// for the scenario's DC: a scenario set up for another DC than the US has
// its user there and the client enabled there (multi-DC).
func (h *harness) setUp() error {
	c, err := h.srv.RegisterClient(fakeserver.ClientSpec{Type: fakeserver.WebBased, Name: "Integration under certification",
		Homepage: "https://app.example", RedirectURIs: []string{redirectURI}})
	if err != nil {
		return err
	}
	h.client = c
	if h.sc.needsEU() {
		if _, err := h.srv.AddUser(fakeserver.UserSpec{Email: euUser, DC: zoho.EU}); err != nil {
			return err
		}
		if _, err := h.srv.EnableMultiDC(h.client.ID, zoho.EU, fakeserver.MultiDC{}); err != nil {
			return err
		}
	}
	dc := h.sc.dc()
	if dc != zoho.US {
		h.user = euUser
	}
	h.env, h.usEnv = h.envFor(dc), h.envFor(zoho.US)
	if h.sc.Device {
		if err := h.setUpDevice(); err != nil {
			return err
		}
	}
	if h.proxy != nil {
		h.note("setup: via the fake's proxy %s: the integration is given %s, Zoho's real Accounts server; the fake listens nowhere else, and the proxy answers Zoho's host names only",
			h.proxy.URL, h.env.AccountsURL)
	}
	if dc != zoho.US {
		h.note("setup: the integration is set up for the %s data centre (its positive control, for the US)", strings.ToUpper(string(dc)))
	}
	return nil
}

// envFor is the integration's configuration for a DC.
func (h *harness) envFor(dc zoho.DC) Env {
	env := Env{ClientID: h.client.ID, ClientSecret: h.client.Secret, RedirectURI: redirectURI, Scope: harnessScope, Now: h.srv.Now}
	d, _ := zoho.Lookup(dc)
	switch {
	case h.proxy != nil: // Zoho's real URLs, through the proxy
		env.AccountsURL, env.HTTPClient = d.AccountsURL(), h.proxyClient
		s := h.opts.Proxy
		env.Proxy = &ProxyEnv{URL: h.proxy.URL, CAFile: s.CAFile, TrustStore: s.TrustStore, NodeBootstrap: s.NodeBootstrap}
	case h.opts.InProcess:
		env.AccountsURL, env.HTTPClient = d.AccountsURL(), h.srv.HTTPClient()
	default:
		env.AccountsURL, env.HTTPClient = h.srv.AccountsURL(dc), h.srv.Client()
	}
	return env
}

// newInstance makes and starts a fresh instance of the integration, with
// its own empty work folder.
func (h *harness) newInstance(env Env) (Integration, func(), error) {
	integ, err := h.factory()
	if err != nil {
		return nil, func() {}, err
	}
	work, err := os.MkdirTemp("", "zconform-certify-")
	if err != nil {
		return nil, func() {}, err
	}
	env.WorkDir = work
	cleanup := func() { _ = integ.Close(); _ = os.RemoveAll(work) }
	if err := integ.Start(h.ctx, env); err != nil {
		cleanup()
		return nil, func() {}, err
	}
	return integ, cleanup, nil
}

// control is the positive control: a fresh instance of the integration,
// set up for the US, completes a normal authorization, exchange and API
// call for the US user, each seen on the wire. Its tokens are revoked
// after, and the clock moves past the grant-token window, so that the
// scenario starts as if it had not run.
func (h *harness) control() error {
	h.note("control: a fresh instance of the integration authorizes, exchanges and calls the API")
	integ, cleanup, err := h.newInstance(h.usEnv)
	if err != nil {
		return neverWorked("it did not start: %v", err)
	}
	defer cleanup()
	q, err := h.browse(h.usEnv.AccountsURL+"/oauth/v2/auth?"+authParams(h.client.ID).Encode(), true)
	if err != nil {
		return err
	}
	code := zoho.RedactValue(q.Get("code"))
	r := h.report("control: redirect", integ.Redirect(h.ctx, q))
	exchanged := false
	for _, t := range tokenRequests(h.wire(), "authorization_code") {
		exchanged = exchanged || (t.Params["code"] == code && succeeded(t))
	}
	switch {
	case r.Unsupported != "":
		return neverWorked("it cannot take the redirect of an authorization: %s", r.Unsupported)
	case !exchanged && r.OK:
		return neverWorked("it reported the exchange a success, but no exchange of the code succeeded on the wire")
	case !exchanged:
		return neverWorked("it did not exchange a fresh grant token: %s", orNone(r.Error))
	case !r.OK:
		return neverWorked("its exchange succeeded on the wire, but it reported: %s", orNone(r.Error))
	}
	if err := h.controlCall(integ); err != nil {
		return err
	}
	cleanup()
	if toks, err := h.srv.Tokens(usUser); err == nil {
		for _, rt := range toks.RefreshTokens {
			h.srv.Revoke(rt.Token)
		}
		for _, a := range toks.AccessTokens {
			h.srv.Revoke(a.Token)
		}
	}
	_ = h.srv.Advance(h.srv.Limits().GrantRate.Window + time.Second)
	h.note("control: passed; its tokens revoked; clock +%s (a fresh grant-token window)", h.srv.Limits().GrantRate.Window+time.Second)
	return nil
}

// pageCode finds the error code of the fake's error page.
var pageCode = regexp.MustCompile(`id="error-code">([^<]+)<`)

func orNone(s string) string {
	if s == "" {
		return "(no error message)"
	}
	return s
}

func redactAll(lines []string) []string {
	out := make([]string, len(lines))
	for i, l := range lines {
		out[i] = zoho.Redact(l)
	}
	return out
}

// note adds a line of evidence.
func (h *harness) note(format string, args ...any) {
	h.evidence = append(h.evidence, fmt.Sprintf(format, args...))
}

// wire returns the requests since the last call, and adds them to the
// evidence.
func (h *harness) wire() []fakeserver.Request {
	reqs := h.srv.RequestsSince(h.seq)
	for _, r := range reqs {
		h.seq = r.Seq
		line := fmt.Sprintf("wire: %s %s %s %s", r.Method, r.DC, r.Role, r.Path)
		for _, k := range []string{"grant_type", "code", "refresh_token", "authorization"} {
			if v, ok := r.Params[k]; ok {
				line += " " + k + "=" + v
			}
		}
		line += fmt.Sprintf(" -> %d", r.Status)
		if r.Error != "" {
			line += " " + r.Error
		}
		h.evidence = append(h.evidence, line)
	}
	return reqs
}

func (h *harness) report(what string, r Report) Report {
	line := fmt.Sprintf("integration: %s -> ok=%v", what, r.OK)
	if r.Error != "" {
		line += " error=" + r.Error
	}
	if r.NeedsAuthorization {
		line += " needs_authorization"
	}
	if r.Unsupported != "" {
		line += " unsupported=" + r.Unsupported
	}
	if r.AuthorizeURL != "" {
		line += " authorize_url=" + zoho.Redact(r.AuthorizeURL)
	}
	h.evidence = append(h.evidence, line)
	return r
}

// authorize runs the user's consent at the Accounts server of the
// integration's DC and returns the query the browser brings back, in the
// form the integration sees.
func (h *harness) authorize(user string) (url.Values, error) {
	if user != "" && user != usUser {
		if err := h.srv.ScriptConsent(h.client.ID, fakeserver.Consent{User: user}); err != nil {
			return nil, err
		}
	}
	return h.browse(h.env.AccountsURL+"/oauth/v2/auth?"+authParams(h.client.ID).Encode(), true)
}

// authParams are the parameters of an authorization the harness starts.
func authParams(clientID string) url.Values {
	return url.Values{"client_id": {clientID}, "response_type": {"code"}, "redirect_uri": {redirectURI},
		"scope": {harnessScope}, "access_type": {"offline"}, "prompt": {"consent"}, "state": {"zc"}}
}

// browse opens an authorization URL as the user's browser and returns the
// query it is sent back with (code, location, accounts-server, state; or
// error), consuming the request from the evidence window. An answer that is
// no redirect (an error page) is an error naming the page's code, unless
// page is false: then it is the query error=<code>.
func (h *harness) browse(authURL string, page bool) (url.Values, error) {
	// the integration's own HTTP client, not following the redirect: the
	// browser stops at the redirect URI
	hc := *h.env.HTTPClient
	hc.CheckRedirect = func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse }
	resp, err := hc.Get(authURL)
	if err != nil {
		return nil, err
	}
	body, _ := io.ReadAll(io.LimitReader(resp.Body, 1<<20))
	resp.Body.Close()
	var code string
	loc := resp.Header.Get("Location")
	if m := pageCode.FindSubmatch(body); loc == "" && m != nil {
		code = string(m[1])
	} else if loc == "" {
		code = fmt.Sprintf("HTTP %d without a redirect", resp.StatusCode)
	}
	h.wire()
	if loc == "" {
		if page {
			return nil, fmt.Errorf("the fake refused the authorization: %s", orNone(code))
		}
		h.note("browser: the Accounts server refused the authorization with a page: %s", code)
		return url.Values{"error": {code}}, nil
	}
	back, err := url.Parse(loc)
	if err != nil {
		return nil, err
	}
	q := back.Query()
	if q.Get("code") == "" {
		return nil, fmt.Errorf("the fake gave no code (Location %q)", zoho.Redact(loc))
	}
	h.note("browser: back at the redirect URI with code=%s location=%s accounts-server=%s",
		zoho.RedactValue(q.Get("code")), q.Get("location"), q.Get("accounts-server"))
	return q, nil
}

// connect authorizes and hands the redirect over; the integration must
// then hold tokens (the exchange seen succeeding on the wire).
func (h *harness) connect(user string) error {
	q, err := h.authorize(user)
	if err != nil {
		return err
	}
	r := h.report("redirect", h.integ.Redirect(h.ctx, q))
	ok := false
	for _, t := range tokenRequests(h.wire(), "authorization_code") {
		ok = ok || succeeded(t)
	}
	if !r.OK || !ok {
		if r.Unsupported != "" {
			return &notApplicable{"the integration cannot take a redirect: " + r.Unsupported}
		}
		return failf("a fresh grant token was not exchanged: %s", orNone(r.Error))
	}
	return nil
}

// advance moves the fake's clock and tells the integration.
func (h *harness) advance(d time.Duration) {
	_ = h.srv.Advance(d)
	h.note("clock: +%s", d)
	h.report("time passed "+d.String(), h.integ.TimePassed(h.ctx, h.srv.Now(), d))
}

func (h *harness) call() Report {
	return h.report("call the API", h.integ.Call(h.ctx))
}

// tokenRequests lists token-endpoint requests of a grant type ("": any).
func tokenRequests(reqs []fakeserver.Request, grantType string) []fakeserver.Request {
	var out []fakeserver.Request
	for _, r := range reqs {
		if r.Role == "accounts" && r.Path == "/oauth/v2/token" && (grantType == "" || r.Params["grant_type"] == grantType) {
			out = append(out, r)
		}
	}
	return out
}

// apiRequests lists the requests meant for an API: any path under /crm/,
// whichever server got it, and the Accounts server's user info.
func apiRequests(reqs []fakeserver.Request) []fakeserver.Request {
	var out []fakeserver.Request
	for _, r := range reqs {
		if r.Role == "api" || strings.HasPrefix(r.Path, "/crm/") || r.Path == "/oauth/user/info" {
			out = append(out, r)
		}
	}
	return out
}

// count counts the requests that match.
func count(reqs []fakeserver.Request, match func(fakeserver.Request) bool) int {
	n := 0
	for _, r := range reqs {
		if match(r) {
			n++
		}
	}
	return n
}

// succeeded says whether a request was answered with success: HTTP 200
// and no error, also under a fault that keeps the answer's meaning (a
// latency, the millisecond shape).
func succeeded(r fakeserver.Request) bool { return r.Status == 200 && wireError(r) == "" }

// wireError is the error a request was answered with, without the mark of
// a fault that keeps the answer's meaning.
func wireError(r fakeserver.Request) string {
	for _, k := range []fakeserver.FaultKind{fakeserver.FaultLatency, fakeserver.FaultMillisecondExpiry} {
		if rest, ok := strings.CutPrefix(r.Error, "fault:"+string(k)); ok {
			return strings.TrimSpace(rest)
		}
	}
	return r.Error
}

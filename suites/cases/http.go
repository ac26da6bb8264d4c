package cases

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"net/url"
	"regexp"
	"sort"
	"strings"
	"time"

	"github.com/zconform/zconform/fakeserver"
	"github.com/zconform/zconform/fixtures"
	"github.com/zconform/zconform/fixtures/zoho"
	"github.com/zconform/zconform/reports"
	"github.com/zconform/zconform/suites/target"
)

// The redirect URI and scope the cases' own clients use (a real target's
// file gives its own).
const (
	redirectURI = "https://www.example.com/callback"
	scope       = "ZohoCRM.users.ALL"
)

// slowMargin is the least margin a real wait keeps on either side of a
// limit: the network takes time too.
const slowMargin = 5 * time.Second

// run is one case on its way.
type run struct {
	ctx     context.Context
	t       target.Target
	c       fixtures.Case
	profile string
	// contract is what the profile publishes: every expected number and
	// answer comes from it, never from the target.
	contract fixtures.Contract
	limits   zoho.Limits // contract.Limits
	want     fixtures.Expect
	sent     []string
	// observed is what the target answered at the checked step or, when
	// the case failed, at the failing step (see observeFailure).
	observed *reports.Observed
	// last is the target's last HTTP answer, named by its request: the
	// answer a failure that recorded none is reported with.
	last   *reports.Observed
	waited time.Duration // real waiting, on a slow run
	// lastStatus is the status of the reference client's last answer (0:
	// none), for the fault cases.
	lastStatus int
	// sessionGrant says the user grants access for the session (the
	// js-refresh check): the implicit fragment then carries
	// granted_for_session (ZA-JS-REFRESH).
	sessionGrant bool
}

// answer is what came back from one request.
type answer struct {
	status int
	body   []byte
	json   map[string]any
	header http.Header
}

func (a answer) str(key string) string {
	v, _ := a.json[key].(string)
	return v
}

// outcome is what a checked step came to: success, or an error code, with
// the whole answer it came from.
type outcome struct {
	ok     bool
	err    string
	status int
	body   string // redacted, for messages
	// a is the whole answer (zero for the console and for counts).
	a answer
	// console marks an answer of the console (no HTTP status).
	console bool
	// wire says how the answer breaks the contract's wire format, whatever
	// the step expected ("" when it does not): a token error sent with
	// HTTP 400, a token answer with a member too many, ...
	wire string
	// g is the grant of a code redirect.
	g grant
}

func (o outcome) String() string {
	switch {
	case o.console && o.ok:
		return "registered"
	case o.console:
		return "console: " + o.err
	case o.ok:
		s := fmt.Sprintf("success (HTTP %d)", o.status)
		if o.body != "" {
			s += ": " + o.body
		}
		return s
	}
	s := fmt.Sprintf("error %s (HTTP %d)", o.err, o.status)
	if o.body != "" {
		s += ": " + o.body
	}
	return s
}

func wantString(e fixtures.Expect) string {
	var s string
	switch {
	case e.OK && e.HTTP != 0:
		s = fmt.Sprintf("success (HTTP %d)", e.HTTP)
	case e.OK:
		s = "success"
	case e.HTTP != 0:
		s = fmt.Sprintf("error %s (HTTP %d)", e.Error, e.HTTP)
	default:
		s = "error " + e.Error
	}
	switch {
	case e.Body != "":
		s += ": " + e.Body
	case e.Shape != "" && e.Shape != fixtures.ShapeFaultClass && e.Shape != fixtures.ShapeConsole:
		s += " (" + string(e.Shape) + ")"
	}
	return s
}

// matches compares an error with the expected one: equal, or a console
// message followed by ": detail".
func matches(got, want string) bool {
	return got == want || strings.HasPrefix(got, want+": ")
}

// checkOutcome compares the checked step's whole answer with the case's
// expectation for the profile: success or the error, the HTTP status, the
// exact body or the answer's shape, and the wire format.
func (r *run) checkOutcome(step string, o outcome) error {
	r.observe(step, o)
	w := r.want
	if o.ok != w.OK || (!w.OK && !matches(o.err, w.Error)) || (w.HTTP != 0 && w.HTTP != o.status) {
		return &Failure{Step: step, Want: wantString(w), Got: o.String()}
	}
	if o.wire != "" {
		return &Failure{Step: step, Want: wantString(w), Got: o.String(), Detail: "the answer breaks the wire format: " + o.wire}
	}
	if w.Body != "" {
		if why := r.exactBody(o.a, w.Body); why != "" {
			return &Failure{Step: step, Want: wantString(w), Got: o.String(), Detail: why}
		}
	}
	if why := r.shapeOf(w.Shape, o); why != "" {
		return &Failure{Step: step, Want: wantString(w), Got: o.String(), Detail: why}
	}
	return nil
}

// observe records what the target answered at a step, for the reports.
func (r *run) observe(step string, o outcome) {
	r.observed = &reports.Observed{Step: step, Status: o.status, Error: o.err}
}

// observeConsole records what the console answered at a step: its
// message when it refused (err), nothing more when it did what it was
// asked.
func (r *run) observeConsole(step string, err error) {
	o := &reports.Observed{Step: step}
	var rerr *fakeserver.RegistrationError
	switch {
	case errors.As(err, &rerr):
		o.Error = rerr.Message
	case err != nil:
		o.Error = zoho.Redact(err.Error())
	}
	r.observed = o
}

// observeFailure makes a failed case keep what the target answered
// (Result.Observed). A *Failure whose step recorded its answer keeps it;
// another one gets the target's last HTTP answer under the failing step's
// name. An error that is no *Failure (a setup step could not run) gets
// the console's message when the console refused, else the last answer
// when nothing was observed yet.
func (r *run) observeFailure(err error) {
	var fail *Failure
	var skip *Skipped
	var rerr *fakeserver.RegistrationError
	switch {
	case err == nil, errors.As(err, &skip):
	case errors.As(err, &fail):
		if r.observed != nil && r.observed.Step == fail.Step {
			return
		}
		if r.last != nil {
			o := *r.last
			o.Step = fail.Step
			r.observed = &o
		}
	case errors.As(err, &rerr):
		r.observeConsole("console", err)
	case r.observed == nil && r.last != nil:
		o := *r.last
		r.observed = &o
	}
}

// require fails the case at a step that must succeed for the check to mean
// anything (a setup step, or the positive half of a case); the answer must
// also keep the wire format.
func (r *run) require(step string, o outcome, detail string) error {
	if o.ok && o.wire == "" {
		return nil
	}
	if o.ok {
		detail = strings.TrimPrefix(detail+"; ", "; ") + "the answer breaks the wire format: " + o.wire
	}
	r.observe(step, o)
	return &Failure{Step: step, Want: "success", Got: o.String(), Detail: detail}
}

// requireError fails the case when a step that must fail succeeded, or
// failed in a way that breaks the wire format.
func (r *run) requireError(step string, o outcome, want, detail string) error {
	if !o.ok && (want == "" || matches(o.err, want)) && o.wire == "" {
		return nil
	}
	w := "an error"
	if want != "" {
		w = "error " + want
	}
	if !o.ok && o.wire != "" {
		detail = strings.TrimPrefix(detail+"; ", "; ") + "the answer breaks the wire format: " + o.wire
	}
	r.observe(step, o)
	return &Failure{Step: step, Want: w, Got: o.String(), Detail: detail}
}

func (r *run) record(method, u string, params url.Values, a answer, err error) {
	r.last = lastAnswer(method, u, a, err)
	line := method + " " + pathOf(u)
	if len(params) > 0 {
		line += " " + redactParams(params)
	}
	if err != nil {
		line += " -> " + err.Error()
	} else {
		body := strings.TrimSpace(string(a.body))
		if strings.HasPrefix(a.header.Get("Content-Type"), "text/html") {
			body = "(HTML page" + pageSummary(a.body) + ")"
		}
		if len(body) > 300 {
			body = body[:300] + "…"
		}
		line += fmt.Sprintf(" -> HTTP %d", a.status)
		if loc := a.header.Get("Location"); loc != "" {
			line += " Location: " + zoho.Redact(loc)
		}
		if body != "" {
			line += " " + body
		}
	}
	r.sent = append(r.sent, zoho.Redact(line))
}

// lastAnswer is an HTTP answer as the reports show it: named by its
// request ("POST /oauth/v2/token", without the host, which a fake picks
// anew each run), its status, and its error member, API code or error
// page's code; "no answer" when none came.
func lastAnswer(method, u string, a answer, err error) *reports.Observed {
	step := method
	if p, perr := url.Parse(u); perr == nil {
		step += " " + p.Path
	}
	o := &reports.Observed{Step: step, Status: a.status}
	if err != nil && a.status == 0 {
		o.Error = "no answer"
		return o
	}
	m := a.json
	if m == nil {
		_ = json.Unmarshal(bytes.TrimSpace(a.body), &m)
	}
	if e, _ := m["error"].(string); e != "" {
		o.Error = e
	} else if c, _ := m["code"].(string); c != "" && a.status != http.StatusOK {
		o.Error = c
	} else if strings.HasPrefix(a.header.Get("Content-Type"), "text/html") {
		o.Error = errorPageCode(a.body)
	}
	o.Error = zoho.Redact(o.Error)
	return o
}

func pathOf(u string) string {
	p, err := url.Parse(u)
	if err != nil {
		return u
	}
	return p.Host + p.Path
}

func redactParams(v url.Values) string {
	keys := make([]string, 0, len(v))
	for k := range v {
		keys = append(keys, k)
	}
	sort.Strings(keys)
	var parts []string
	for _, k := range keys {
		val := v.Get(k)
		if zoho.SecretParams[k] {
			val = zoho.RedactValue(val)
		}
		parts = append(parts, k+"="+val)
	}
	return strings.Join(parts, "&")
}

var pageCode = regexp.MustCompile(`id="error-code">([^<]+)<|\b(ERROR_[a-z_]+)\b|\b(access_denied)\b`)

// errorPageCode finds the error code in an authorization error page.
func errorPageCode(body []byte) string {
	m := pageCode.FindSubmatch(body)
	if m == nil {
		return ""
	}
	for _, g := range m[1:] {
		if len(g) > 0 {
			return string(g)
		}
	}
	return ""
}

func pageSummary(body []byte) string {
	if c := errorPageCode(body); c != "" {
		return " showing " + c
	}
	return ""
}

// send performs one request; params go in the query for GET and as an
// urlencoded body for POST.
func (r *run) send(method, u string, params url.Values, header http.Header) (answer, error) {
	var body io.Reader
	target := u
	if method == http.MethodGet && len(params) > 0 {
		target += "?" + params.Encode()
	} else if len(params) > 0 {
		body = strings.NewReader(params.Encode())
	}
	req, err := http.NewRequestWithContext(r.ctx, method, target, body)
	if err != nil {
		return answer{}, err
	}
	if body != nil {
		req.Header.Set("Content-Type", "application/x-www-form-urlencoded")
	}
	for k, vs := range header {
		req.Header[k] = vs
	}
	resp, err := r.t.HTTP().Do(req)
	if err != nil {
		r.record(method, u, params, answer{}, err)
		return answer{}, fmt.Errorf("%s %s: %w", method, pathOf(u), err)
	}
	defer resp.Body.Close()
	data, err := io.ReadAll(io.LimitReader(resp.Body, 1<<20))
	a := answer{status: resp.StatusCode, body: data, header: resp.Header}
	_ = json.Unmarshal(bytes.TrimSpace(data), &a.json)
	r.record(method, u, params, a, err)
	return a, err
}

// tokenOutcome reads a token endpoint answer of the Accounts server of dc:
// success is an access_token; anything else is the error member. Either
// way the answer must keep the wire format (tokenWire).
func (r *run) tokenOutcome(a answer, dc zoho.DC) outcome {
	o := outcome{status: a.status, a: a, body: zoho.Redact(strings.TrimSpace(string(a.body)))}
	if tok := a.str("access_token"); tok != "" {
		o.ok = true
	} else if o.err = a.str("error"); o.err == "" {
		o.err = "(no error member)"
	}
	o.wire = r.tokenWire(a, dc)
	return o
}

// client is a registered client as the cases use it.
type client struct {
	fakeserver.Client
}

// redirect is the client's registered redirect URI ("" for a self client).
func (c client) redirect() string {
	if len(c.RedirectURIs) == 0 {
		return ""
	}
	return c.RedirectURIs[0]
}

func (r *run) console() (target.Console, error) {
	c, ok := r.t.(target.Console)
	if !ok {
		return nil, fmt.Errorf("target %s has no console: the case needs clients it can register", r.t.Name())
	}
	return c, nil
}

// webClient registers a web-based client in a DC, for a user (default: the
// DC's default user); on a target without a console it is the configured
// client.
func (r *run) webClient(dc zoho.DC, user string) (client, error) {
	if p, ok := r.t.(target.ClientProvider); ok {
		if _, hasConsole := r.t.(target.Console); !hasConsole {
			return client{p.Client()}, nil
		}
	}
	con, err := r.console()
	if err != nil {
		return client{}, err
	}
	c, err := con.RegisterClient(fakeserver.ClientSpec{
		Type: fakeserver.WebBased, Name: "zconform test client", Homepage: "https://www.example.com",
		RedirectURIs: []string{redirectURI}, DC: dc, User: user,
	})
	return client{c}, err
}

// grant is the redirect of a successful authorization.
type grant struct {
	code, location, accountsServer string
}

// authorize asks the DC's authorization endpoint for a grant token. A code
// redirect is checked whole against what was sent (pageWire, redirectWire).
func (r *run) authorize(dc zoho.DC, c client, extra url.Values) (grant, outcome, error) {
	sc := scope
	if p, ok := r.t.(target.ClientProvider); ok {
		sc = p.Scope()
	}
	q := url.Values{
		"client_id": {c.ID}, "response_type": {"code"}, "redirect_uri": {c.redirect()},
		"scope": {sc}, "access_type": {"offline"}, "state": {"zconform"},
	}
	for k, vs := range extra {
		if len(vs) == 1 && vs[0] == "-" {
			q.Del(k)
		} else {
			q[k] = vs
		}
	}
	a, err := r.send(http.MethodGet, r.t.AccountsURL(dc)+"/oauth/v2/auth", q, nil)
	if err != nil {
		return grant{}, outcome{}, err
	}
	o := outcome{status: a.status, a: a}
	if loc := a.header.Get("Location"); a.status/100 == 3 && loc != "" {
		u, err := url.Parse(loc)
		if err != nil {
			o.err, o.wire = "(unparsable Location)", "the redirect's Location is not a URL"
			return grant{}, o, nil
		}
		p := u.Query()
		if p.Get("code") != "" {
			g := grant{code: p.Get("code"), location: p.Get("location"), accountsServer: p.Get("accounts-server")}
			o.ok, o.g = true, g
			o.wire = r.codeRedirectWire(u, q)
			return g, o, nil
		}
		if f, _ := url.ParseQuery(u.Fragment); f.Get("access_token") != "" {
			o.ok = true
			o.wire = r.implicitRedirectWire(u, q)
			return grant{}, o, nil
		}
		if f, _ := url.ParseQuery(u.Fragment); f.Get("error") != "" {
			o.err = f.Get("error") // the implicit flow's refusal
		} else {
			o.err = p.Get("error")
		}
		if o.err == "" {
			o.err, o.wire = "(a redirect without code or error)", "a redirect carries a code, a token or an error"
		} else {
			o.wire = r.errorRedirectWire(u, q)
		}
		return grant{}, o, nil
	}
	o.err, o.wire = r.pageWire(a)
	if o.err == "" {
		o.err = "(no error code on the page)"
	}
	return grant{}, o, nil
}

// mustGrant gets a grant token or fails the case at that setup step. On a
// target with a grant source (a real one), the source gives it.
func (r *run) mustGrant(dc zoho.DC, c client, extra url.Values) (grant, error) {
	if src, ok := r.t.(target.GrantSource); ok {
		if !src.HasGrants() {
			return grant{}, &Skipped{Reason: "needs grant tokens: the target file gives no grants.command or grants.codes_env"}
		}
		code, err := src.Grant(r.ctx)
		if err != nil {
			return grant{}, err
		}
		r.sent = append(r.sent, "(grant token from the target's grant source: "+zoho.RedactValue(code)+")")
		return grant{code: code, location: string(src.UserDC()), accountsServer: r.t.AccountsURL(src.UserDC())}, nil
	}
	g, o, err := r.authorize(dc, c, extra)
	if err != nil {
		return g, err
	}
	return g, r.require("authorize", o, "the case needs a grant token to start from")
}

// exchangeForm is a correct authorization_code request for a client.
func exchangeForm(c client, secret, code string) url.Values {
	return url.Values{
		"grant_type": {"authorization_code"}, "client_id": {c.ID}, "client_secret": {secret},
		"redirect_uri": {c.redirect()}, "code": {code},
	}
}

// token posts to {accountsServer}/oauth/v2/token.
func (r *run) token(accountsServer string, form url.Values) (answer, outcome, error) {
	a, err := r.send(http.MethodPost, accountsServer+"/oauth/v2/token", form, nil)
	if err != nil {
		return a, outcome{}, err
	}
	return a, r.tokenOutcome(a, r.dcOf(accountsServer)), nil
}

// dcOf is the DC whose Accounts server is accountsServer ("" if none).
func (r *run) dcOf(accountsServer string) zoho.DC {
	for _, d := range zoho.DataCentres() {
		if r.t.AccountsURL(d.DC) == accountsServer {
			return d.DC
		}
	}
	return ""
}

// tokens is a successful exchange.
type tokens struct {
	access, refresh, apiDomain string
	expiresIn                  float64
}

func tokensOf(a answer) tokens {
	e, _ := a.json["expires_in"].(float64)
	return tokens{access: a.str("access_token"), refresh: a.str("refresh_token"), apiDomain: a.str("api_domain"), expiresIn: e}
}

// offlineTokens authorizes (offline, fresh consent) and exchanges: the
// starting point of the refresh-side cases.
func (r *run) offlineTokens(dc zoho.DC, c client) (tokens, error) {
	if src, ok := r.t.(target.GrantSource); ok && !src.HasGrants() && src.RefreshToken() != "" {
		if r.c.Stimulus.Inject == fixtures.InjectRevoke {
			return tokens{}, &Skipped{Reason: "needs grant tokens: it revokes its refresh token, and the long-lived one of the target file is never revoked"}
		}
		a, o, err := r.refresh(src.UserDC(), c, src.RefreshToken())
		if err != nil {
			return tokens{}, err
		}
		if err := r.require("refresh the target file's refresh token", o, ""); err != nil {
			return tokens{}, err
		}
		t := tokensOf(a)
		t.refresh = src.RefreshToken()
		return t, nil
	}
	g, err := r.mustGrant(dc, c, url.Values{"prompt": {"consent"}})
	if err != nil {
		return tokens{}, err
	}
	a, o, err := r.token(g.accountsServer, exchangeForm(c, c.Secrets[dc], g.code))
	if err != nil {
		return tokens{}, err
	}
	if err := r.require("exchange", o, "the case needs tokens to start from"); err != nil {
		return tokens{}, err
	}
	t := tokensOf(a)
	if t.refresh == "" {
		return t, &Failure{Step: "exchange", Want: "a refresh_token (access_type=offline, prompt=consent)", Got: "none"}
	}
	return t, nil
}

// startWithTokens registers a web client in the case's DC and gets it
// offline tokens: where the refresh-side cases start.
func (r *run) startWithTokens() (client, tokens, error) {
	c, err := r.webClient(r.c.Stimulus.DC, "")
	if err != nil {
		return c, tokens{}, err
	}
	t, err := r.offlineTokens(r.c.Stimulus.DC, c)
	return c, t, err
}

// requireRejected fails the case unless the API rejects the access token
// with the contract's INVALID_TOKEN answer.
func (r *run) requireRejected(step, apiDomain, access, detail string) error {
	u, err := r.useToken(apiDomain, access)
	if err != nil {
		return err
	}
	if err := r.requireError(step, u, zoho.CodeInvalidToken, detail); err != nil {
		return err
	}
	if why := r.exactBody(u.a, r.contract.Answers.InvalidToken.Body); why != "" || u.status != r.contract.Answers.InvalidToken.Status {
		return &Failure{Step: step, Want: fmt.Sprintf("HTTP %d %s", r.contract.Answers.InvalidToken.Status, r.contract.Answers.InvalidToken.Body), Got: u.String(), Detail: why}
	}
	return nil
}

// refresh asks the DC's Accounts server for a new access token. A refresh
// answers no refresh token (ZA-RT-FIRST): one in the answer breaks the wire
// format.
func (r *run) refresh(dc zoho.DC, c client, refreshToken string) (answer, outcome, error) {
	a, o, err := r.token(r.t.AccountsURL(dc), url.Values{
		"grant_type": {"refresh_token"}, "client_id": {c.ID}, "client_secret": {c.Secrets[dc]},
		"refresh_token": {refreshToken},
	})
	if err == nil && o.ok && o.wire == "" && a.json["refresh_token"] != nil {
		o.wire = "a refresh answers no refresh_token"
	}
	return a, o, err
}

// useToken calls the CRM current-user API with an access token, in
// Zoho's header.
func (r *run) useToken(apiDomain, access string) (outcome, error) {
	return r.callAPI(apiDomain, "/crm/v8/users", url.Values{"type": {"CurrentUser"}}, http.Header{"Authorization": {"Zoho-oauthtoken " + access}})
}

// callAPI calls an API of a DC's API domain with the given header and
// checks the answer's wire format (apiWire).
func (r *run) callAPI(apiDomain, path string, q url.Values, h http.Header) (outcome, error) {
	a, err := r.send(http.MethodGet, apiDomain+path, q, h)
	if err != nil {
		return outcome{}, err
	}
	o := outcome{status: a.status, a: a, ok: a.status == http.StatusOK}
	if !o.ok {
		o.err, _ = a.json["code"].(string)
		if o.err == "" {
			o.err = "(no code member)"
		}
		o.body = zoho.Redact(strings.TrimSpace(string(a.body)))
	}
	o.wire = r.apiWire(a, path)
	return o, nil
}

// advance moves the target's clock, or waits for real on a slow run
// against a target without a virtual clock.
func (r *run) advance(d time.Duration) error {
	if c, ok := r.t.(target.Clock); ok {
		r.sent = append(r.sent, fmt.Sprintf("(virtual clock +%s)", d))
		return c.Advance(d)
	}
	if rt, ok := r.t.(target.RealTime); ok && rt.Slow() && r.c.NeedsAny(fixtures.NeedSlow) {
		r.waited += d
		r.sent = append(r.sent, fmt.Sprintf("(waited %s for real, keeping a margin of at least %s around the limit)", d, slowMargin))
		select {
		case <-time.After(d):
			return nil
		case <-r.ctx.Done():
			return r.ctx.Err()
		}
	}
	return fmt.Errorf("case %s moves time but target %s has no virtual clock: declare needs: [clock]", r.c.ID, r.t.Name())
}

// after resolves the case's Stimulus.After for the profile; a real wait
// keeps at least slowMargin around the limit.
func (r *run) after() (time.Duration, error) {
	if r.c.Stimulus.After == "" {
		return 0, nil
	}
	if _, virtual := r.t.(target.Clock); !virtual {
		return fixtures.ResolveAfterMargin(r.c.Stimulus.After, r.limits, slowMargin)
	}
	return fixtures.ResolveAfter(r.c.Stimulus.After, r.limits)
}

// params are the case's parameter overrides as url.Values.
func (r *run) params() url.Values {
	v := url.Values{}
	for k, s := range r.c.Stimulus.Params {
		v.Set(k, s)
	}
	return v
}

func readAll(resp *http.Response) ([]byte, error) {
	return io.ReadAll(io.LimitReader(resp.Body, 1<<20))
}

func jsonUnmarshal(data []byte, v any) error { return json.Unmarshal(bytes.TrimSpace(data), v) }

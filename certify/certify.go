package certify

import (
	"context"
	"errors"
	"fmt"
	"net/http"
	"net/url"
	"os"
	"strings"
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

// Factory makes a fresh integration for each scenario.
type Factory func() (Integration, error)

// Options configure a certification.
type Options struct {
	// Profile is the fake's limit profile (default kaizen4).
	Profile string
	// InProcess mounts the fake on Zoho's real host names in-process (Go
	// integrations); otherwise it listens on loopback and Env names its URLs.
	InProcess bool
	// Only runs the scenarios with these IDs (default: all).
	Only []string
}

const redirectURI = "https://app.example/callback"

// harness is one scenario's world: a fresh fake and a fresh integration.
type harness struct {
	ctx      context.Context
	srv      *fakeserver.Server
	opts     Options
	client   fakeserver.Client
	integ    Integration
	user     string
	seq      int64
	evidence []string
}

// failf stops a scenario with a failing verdict.
type failure struct{ reason string }

func (f *failure) Error() string { return f.reason }

func failf(format string, args ...any) error { return &failure{fmt.Sprintf(format, args...)} }

type notApplicable struct{ reason string }

func (n *notApplicable) Error() string { return n.reason }

// Run certifies an integration: every scenario, each against a fresh fake
// and a fresh integration.
func Run(ctx context.Context, newIntegration Factory, opts Options) ([]Verdict, error) {
	if opts.Profile == "" {
		opts.Profile = zoho.Kaizen4
	}
	if _, err := zoho.Profile(opts.Profile); err != nil {
		return nil, err
	}
	var out []Verdict
	for _, sc := range Scenarios() {
		if len(opts.Only) > 0 && !contains(opts.Only, sc.ID) {
			continue
		}
		start := time.Now()
		v := runScenario(ctx, sc, newIntegration, opts)
		v.Duration = time.Since(start)
		out = append(out, v)
	}
	if len(out) == 0 {
		return nil, errors.New("no scenario selected: check the IDs")
	}
	return out, nil
}

func contains(list []string, s string) bool {
	for _, v := range list {
		if v == s {
			return true
		}
	}
	return false
}

func runScenario(ctx context.Context, sc Scenario, newIntegration Factory, opts Options) (v Verdict) {
	v.Scenario = sc
	srv := fakeserver.NewUnstarted(fakeserver.WithProfile(opts.Profile))
	if !opts.InProcess {
		if err := srv.Start(); err != nil {
			return Verdict{Scenario: sc, Outcome: NotApplicable, Reason: "the fake did not start: " + err.Error()}
		}
	}
	defer srv.Close()
	h := &harness{ctx: ctx, srv: srv, opts: opts, user: "dev@us.zconform.test"}
	defer func() { v.Evidence = redactAll(h.evidence) }()

	c, err := srv.RegisterClient(fakeserver.ClientSpec{Type: fakeserver.WebBased, Name: "Integration under certification",
		Homepage: "https://app.example", RedirectURIs: []string{redirectURI}})
	if err != nil {
		return Verdict{Scenario: sc, Outcome: NotApplicable, Reason: err.Error()}
	}
	h.client = c
	integ, err := newIntegration()
	if err != nil {
		return Verdict{Scenario: sc, Outcome: NotApplicable, Reason: "the integration did not start: " + err.Error()}
	}
	h.integ = integ
	defer integ.Close()
	work, err := os.MkdirTemp("", "zconform-certify-")
	if err == nil {
		defer os.RemoveAll(work)
	}
	env := Env{ClientID: c.ID, ClientSecret: c.Secret, RedirectURI: redirectURI, Scope: "ZohoCRM.users.ALL",
		Now: srv.Now, WorkDir: work}
	if opts.InProcess {
		env.AccountsURL, env.HTTPClient = "https://accounts.zoho.com", srv.HTTPClient()
	} else {
		env.AccountsURL, env.HTTPClient = srv.AccountsURL(zoho.US), srv.Client()
	}
	if err := integ.Start(ctx, env); err != nil {
		return Verdict{Scenario: sc, Outcome: NotApplicable, Reason: "the integration did not start: " + err.Error()}
	}
	err = sc.run(h)
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
	return v
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
	h.evidence = append(h.evidence, line)
	return r
}

// authorize runs the user's consent at the US Accounts server and returns
// the query the browser brings back, in the form the integration sees.
func (h *harness) authorize(user string) (url.Values, error) {
	if user != "" {
		if err := h.srv.ScriptConsent(h.client.ID, fakeserver.Consent{User: user}); err != nil {
			return nil, err
		}
	}
	q := url.Values{"client_id": {h.client.ID}, "response_type": {"code"}, "redirect_uri": {redirectURI},
		"scope": {"ZohoCRM.users.ALL"}, "access_type": {"offline"}, "prompt": {"consent"}, "state": {"zc"}}
	var loc string
	if h.opts.InProcess {
		r, err := h.srv.Authorize(zoho.US, q)
		if err != nil {
			return nil, err
		}
		loc = r.URL.String()
	} else {
		resp, err := h.srv.Client().Get(h.srv.AccountsURL(zoho.US) + "/oauth/v2/auth?" + q.Encode())
		if err != nil {
			return nil, err
		}
		resp.Body.Close()
		loc = resp.Header.Get("Location")
	}
	u, err := url.Parse(loc)
	if err != nil || u.Query().Get("code") == "" {
		return nil, fmt.Errorf("the fake gave no code (Location %q)", zoho.Redact(loc))
	}
	h.wire()
	h.note("browser: back at the redirect URI with code=%s location=%s accounts-server=%s",
		zoho.RedactValue(u.Query().Get("code")), u.Query().Get("location"), u.Query().Get("accounts-server"))
	return u.Query(), nil
}

// connect authorizes and hands the redirect over; the integration must
// then hold tokens.
func (h *harness) connect(user string) error {
	q, err := h.authorize(user)
	if err != nil {
		return err
	}
	if r := h.report("redirect", h.integ.Redirect(h.ctx, q)); !r.OK {
		if r.Unsupported != "" {
			return &notApplicable{"the integration cannot take a redirect: " + r.Unsupported}
		}
		return failf("a fresh grant token at its own DC was not exchanged: %s", r.Error)
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

// tokenRequests counts token-endpoint requests of a grant type.
func tokenRequests(reqs []fakeserver.Request, grantType string) []fakeserver.Request {
	var out []fakeserver.Request
	for _, r := range reqs {
		if r.Role == "accounts" && r.Path == "/oauth/v2/token" && (grantType == "" || r.Params["grant_type"] == grantType) {
			out = append(out, r)
		}
	}
	return out
}

func apiRequests(reqs []fakeserver.Request) []fakeserver.Request {
	var out []fakeserver.Request
	for _, r := range reqs {
		if r.Role == "api" || r.Path == "/oauth/user/info" {
			out = append(out, r)
		}
	}
	return out
}

var _ = http.MethodGet
var _ = strings.TrimSpace

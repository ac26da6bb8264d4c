package cases

import (
	"errors"
	"fmt"
	"net/http"
	"net/url"
	"strings"
	"sync"
	"time"

	"github.com/zconform/zconform/fakeserver"
	"github.com/zconform/zconform/fixtures"
	"github.com/zconform/zconform/fixtures/zoho"
	"github.com/zconform/zconform/suites/target"
	"go.yaml.in/yaml/v3"
)

// checkRegister registers the stimulus' client in the console. Variant
// after-self-client: the same developer has registered a web-based client
// and a self client before (both must work).
func checkRegister(r *run) error {
	con, err := r.console()
	if err != nil {
		return err
	}
	if r.c.Stimulus.Variant == "after-self-client" {
		for _, spec := range []fakeserver.ClientSpec{
			{Type: fakeserver.WebBased, Name: "zconform web app", Homepage: "https://www.example.com", RedirectURIs: []string{redirectURI}},
			{Type: fakeserver.SelfClient},
		} {
			if _, err := con.RegisterClient(spec); err != nil {
				step := "console: register a " + string(spec.Type) + " client"
				r.observeConsole(step, err)
				return &Failure{Step: step, Want: "registered", Got: err.Error(), Detail: "the developer's first clients"}
			}
			r.sent = append(r.sent, "console: register a "+string(spec.Type)+" client -> registered")
		}
	}
	var spec fakeserver.ClientSpec
	data, _ := yaml.Marshal(r.c.Stimulus.Client)
	dec := yaml.NewDecoder(strings.NewReader(string(data)))
	dec.KnownFields(true)
	if err := dec.Decode(&spec); err != nil {
		return fmt.Errorf("%s: stimulus.client: %v", r.c.Location(), err)
	}
	_, err = con.RegisterClient(spec)
	r.sent = append(r.sent, fmt.Sprintf("console: register %+v", r.c.Stimulus.Client))
	var rerr *fakeserver.RegistrationError
	switch {
	case err == nil:
		r.sent = append(r.sent, "  -> registered")
		return r.checkOutcome("register", outcome{ok: true, console: true})
	case errors.As(err, &rerr):
		r.sent = append(r.sent, "  -> "+rerr.Message)
		return r.checkOutcome("register", outcome{err: rerr.Message, console: true})
	}
	return err
}

// checkAuthorize sends an authorization request with the stimulus'
// parameter overrides ("-" removes one). Variant deny: the user refuses.
func checkAuthorize(r *run) error {
	dc := r.c.Stimulus.DC
	c, err := r.webClient(dc, "")
	if err != nil {
		return err
	}
	if r.c.Stimulus.Variant == "deny" {
		con, err := r.console()
		if err != nil {
			return err
		}
		if err := con.ScriptConsent(c.ID, fakeserver.Consent{Deny: true}); err != nil {
			return err
		}
		r.sent = append(r.sent, "(the user will refuse consent)")
	}
	extra := url.Values{}
	for k, v := range r.c.Stimulus.Params {
		extra.Set(k, v)
	}
	_, o, err := r.authorize(dc, c, extra)
	if err != nil {
		return err
	}
	return r.checkOutcome("authorize", o)
}

// checkSelfClientCode uses a self client's Generate Code with the
// stimulus' scope.
func checkSelfClientCode(r *run) error {
	con, err := r.console()
	if err != nil {
		return err
	}
	self, err := con.RegisterClient(fakeserver.ClientSpec{Type: fakeserver.SelfClient, DC: r.c.Stimulus.DC})
	if err != nil {
		return err
	}
	scopes := zoho.SplitScopes(r.c.Stimulus.Params["scope"])
	code, err := con.SelfClientCode(self.ID, fakeserver.SelfClientCodeRequest{Scopes: scopes})
	r.sent = append(r.sent, fmt.Sprintf("console: Generate Code scopes=%v", scopes))
	var rerr *fakeserver.RegistrationError
	switch {
	case err == nil:
		r.sent = append(r.sent, "  -> code "+zoho.RedactValue(code))
		return r.checkOutcome("generate code", outcome{ok: true, console: true})
	case errors.As(err, &rerr):
		r.sent = append(r.sent, "  -> "+rerr.Message)
		return r.checkOutcome("generate code", outcome{err: rerr.Message, console: true})
	}
	return err
}

// selfClientLifetime reads the lifetime to select from after:
// "self_client:5m-1s" selects 5m; "self_client:default" selects none (0),
// so that the console's default applies.
func selfClientLifetime(after string) (time.Duration, error) {
	base, _, _ := strings.Cut(strings.TrimPrefix(after, "self_client:"), "+")
	base, _, _ = strings.Cut(base, "-")
	if base == "default" {
		return 0, nil
	}
	return time.ParseDuration(base)
}

// checkExchange exchanges a grant token: after some time, a second time,
// after a failed exchange, by another client, or with overridden
// parameters ("-" removes one). Variant edges checks the three edges of a
// lifetime: a code works just before stimulus.after, and is refused exactly
// at it and just after it.
func checkExchange(r *run) error {
	dc := r.c.Stimulus.DC
	var (
		c       client
		newCode func() (string, error)
		form    func(code string) url.Values
	)
	if strings.HasPrefix(r.c.Stimulus.After, "self_client:") || r.c.Stimulus.Variant == "self-client" {
		con, err := r.console()
		if err != nil {
			return err
		}
		self, err := con.RegisterClient(fakeserver.ClientSpec{Type: fakeserver.SelfClient, DC: dc})
		if err != nil {
			return err
		}
		c = client{self}
		lifetime, err := selfClientLifetime(r.c.Stimulus.After)
		if err != nil {
			return fmt.Errorf("%s: a self-client case needs after: self_client:<lifetime>…: %v", r.c.Location(), err)
		}
		newCode = func() (string, error) {
			code, err := con.SelfClientCode(self.ID, fakeserver.SelfClientCodeRequest{Scopes: []string{scope}, Lifetime: lifetime})
			if err != nil {
				r.observeConsole("generate code", err)
				return "", &Failure{Step: "generate code", Want: "a code", Got: err.Error()}
			}
			sel := lifetime.String()
			if lifetime == 0 {
				sel = "none (the default)"
			}
			r.sent = append(r.sent, fmt.Sprintf("console: Generate Code lifetime=%s -> code %s", sel, zoho.RedactValue(code)))
			return code, nil
		}
		form = func(code string) url.Values {
			f := exchangeForm(c, c.Secret, code)
			f.Del("redirect_uri") // a self-client code needs none
			return f
		}
	} else {
		var err error
		if c, err = r.webClient(dc, ""); err != nil {
			return err
		}
		newCode = func() (string, error) {
			g, err := r.mustGrant(dc, c, nil)
			return g.code, err
		}
		form = func(code string) url.Values { return exchangeForm(c, c.Secret, code) }
	}
	accounts := r.t.AccountsURL(dc)
	code, err := newCode()
	if err != nil {
		return err
	}

	switch r.c.Stimulus.Inject {
	case fixtures.InjectReuse:
		_, o, err := r.token(accounts, form(code))
		if err != nil {
			return err
		}
		if err := r.require("first exchange", o, "the first use of a grant token must work"); err != nil {
			return err
		}
	case fixtures.InjectFailFirst:
		bad := form(code)
		switch r.c.Stimulus.Variant {
		case "wrong-secret":
			bad.Set("client_secret", strings.Repeat("0", 40)+"ff")
		case "wrong-redirect":
			bad.Set("redirect_uri", "https://www.example.com/other")
		case "unknown-client":
			bad.Set("client_id", "1000.UNKNOWNCLIENT00000000000000000")
		default:
			return fmt.Errorf("%s: fail-first needs variant wrong-secret, wrong-redirect or unknown-client", r.c.Location())
		}
		_, o, err := r.token(accounts, bad)
		if err != nil {
			return err
		}
		if err := r.requireError("failed exchange", o, "", "the first exchange must fail for the case to mean anything"); err != nil {
			return err
		}
	}
	if r.c.Stimulus.Variant == "other-client" {
		// another client of the same developer sends the code with its own,
		// valid credentials
		other, err := r.webClient(dc, "")
		if err != nil {
			return err
		}
		form = func(code string) url.Values { return exchangeForm(other, other.Secret, code) }
	}
	if r.c.Stimulus.Variant == "edges" {
		return r.exchangeEdges(accounts, code, newCode, form)
	}
	if d, err := r.after(); err != nil {
		return err
	} else if d > 0 {
		if err := r.advance(d); err != nil {
			return err
		}
	}
	f := form(code)
	for k, v := range r.c.Stimulus.Params {
		if v == "-" {
			f.Del(k)
		} else {
			f.Set(k, v)
		}
	}
	_, o, err := r.token(accounts, f)
	if err != nil {
		return err
	}
	return r.checkOutcome("exchange", o)
}

// edge is the step of a limit's edge: just before, exactly at, just after.
const edge = time.Second

// exchangeEdges exchanges three codes issued at once: one just before the
// lifetime ends (it must work), one exactly at its end and one just after
// (both checked against the row).
func (r *run) exchangeEdges(accounts, first string, newCode func() (string, error), form func(string) url.Values) error {
	codes := []string{first}
	for range 2 {
		code, err := newCode()
		if err != nil {
			return err
		}
		codes = append(codes, code)
	}
	lifetime, err := r.after()
	if err != nil {
		return err
	}
	if err := r.advance(lifetime - edge); err != nil {
		return err
	}
	_, o, err := r.token(accounts, form(codes[0]))
	if err != nil {
		return err
	}
	if err := r.require(fmt.Sprintf("exchange %s before the lifetime (%s) ends", edge, lifetime), o, "a grant token works until its lifetime ends"); err != nil {
		return err
	}
	for i, when := range []string{"exactly when the lifetime (" + lifetime.String() + ") ends", edge.String() + " after the lifetime ends"} {
		if err := r.advance(edge); err != nil {
			return err
		}
		_, o, err := r.token(accounts, form(codes[i+1]))
		if err != nil {
			return err
		}
		if err := r.checkOutcome("exchange "+when, o); err != nil {
			return err
		}
	}
	return nil
}

// checkDCExchange covers the data-centre rules (K4-TOKEN-CLIENT-b/c).
func checkDCExchange(r *run) error {
	other := r.c.Stimulus.DC // the "other" DC, e.g. eu
	home := zoho.US
	if src, ok := r.t.(target.GrantSource); ok {
		home = src.UserDC()
	}
	if other == home {
		return &Skipped{Reason: fmt.Sprintf("needs a DC other than the user's (%s)", home)}
	}
	con, err := r.console()
	switch r.c.Stimulus.Variant {
	case "cn":
		// the CN DC is a separate instance outside multi-DC: the console
		// refuses to enable a client there, and CN knows no other DC's client
		if err != nil {
			return err
		}
		c, err := r.webClient(home, "")
		if err != nil {
			return err
		}
		if _, err := con.EnableMultiDC(c.ID, other, fakeserver.MultiDC{}); err == nil {
			step := "console: enable multi-DC in " + strings.ToUpper(string(other))
			r.observeConsole(step, nil)
			return &Failure{Step: step, Want: "refused: CN is a separate instance outside multi-DC", Got: "enabled"}
		}
		r.sent = append(r.sent, "console: enable multi-DC in "+string(other)+" -> refused")
		// a CN user cannot sign in to the US client; the CN instance works
		// on its own, with its own client and user (the positive control)
		cnUser, err := con.AddUser(fakeserver.UserSpec{Email: "user@" + string(other) + ".example", DC: other})
		if err != nil {
			return err
		}
		if err := con.ScriptConsent(c.ID, fakeserver.Consent{User: cnUser.Email}); err == nil {
			r.observeConsole("a CN user signs in to the US client", nil)
			return &Failure{Step: "a CN user signs in to the US client", Want: "refused: CN is a separate instance", Got: "allowed"}
		}
		cnClient, err := r.webClient(other, "")
		if err != nil {
			return err
		}
		if err := con.ScriptConsent(cnClient.ID, fakeserver.Consent{User: cnUser.Email}); err != nil {
			r.observeConsole("a CN user signs in to a CN client", err)
			return &Failure{Step: "a CN user signs in to a CN client", Want: "allowed", Got: err.Error()}
		}
		cg, err := r.mustGrant(other, cnClient, nil)
		if err != nil {
			return err
		}
		_, co, err := r.token(r.t.AccountsURL(other), exchangeForm(cnClient, cnClient.Secret, cg.code))
		if err != nil {
			return err
		}
		if err := r.require("exchange a CN client's grant at the CN server", co, "the CN instance works on its own"); err != nil {
			return err
		}
		g, err := r.mustGrant(home, c, nil)
		if err != nil {
			return err
		}
		_, o, err := r.token(r.t.AccountsURL(other), exchangeForm(c, c.Secret, g.code))
		if err != nil {
			return err
		}
		return r.checkOutcome("exchange at the "+strings.ToUpper(string(other))+" server", o)
	case "foreign-dc":
		c, err := r.webClient(home, "")
		if err != nil {
			return err
		}
		g, err := r.mustGrant(home, c, nil)
		if err != nil {
			return err
		}
		_, o, err := r.token(r.t.AccountsURL(other), exchangeForm(c, c.Secret, g.code))
		if err != nil {
			return err
		}
		if err := r.checkOutcome("exchange at the "+strings.ToUpper(string(other))+" server", o); err != nil {
			return err
		}
		_, o, err = r.token(r.t.AccountsURL(home), exchangeForm(c, c.Secret, g.code))
		if err != nil {
			return err
		}
		return r.require("exchange at the grant's own DC", o, "[assumed] another DC cannot reach, and so cannot burn, the grant")
	case "multi-dc", "other-dc-secret", "location":
		if err != nil {
			return err
		}
		user, err := con.AddUser(fakeserver.UserSpec{Email: "user@" + string(other) + ".example", DC: other})
		if err != nil {
			return err
		}
		c, err := r.webClient(home, "")
		if err != nil {
			return err
		}
		// exchangeAsUser has the user of the other DC authorize at the home
		// DC, checks that the redirect names the user's DC, and exchanges
		// the code there with secret.
		exchangeAsUser := func(secret string) (answer, outcome, error) {
			if err := con.ScriptConsent(c.ID, fakeserver.Consent{User: user.Email}); err != nil {
				return answer{}, outcome{}, err
			}
			g, err := r.mustGrant(home, c, nil)
			if err != nil {
				return answer{}, outcome{}, err
			}
			if g.location != string(other) || g.accountsServer != r.t.AccountsURL(other) {
				return answer{}, outcome{}, &Failure{Step: "authorize", Want: fmt.Sprintf("location=%s accounts-server=%s", other, r.t.AccountsURL(other)),
					Got: fmt.Sprintf("location=%s accounts-server=%s", g.location, g.accountsServer), Detail: "the redirect must name the user's DC"}
			}
			return r.token(g.accountsServer, exchangeForm(c, secret, g.code))
		}
		switch r.c.Stimulus.Variant {
		case "multi-dc":
			_, o, err := exchangeAsUser(c.Secret)
			if err != nil {
				return err
			}
			if err := r.checkOutcome("exchange at the user's DC, multi-DC off", o); err != nil {
				return err
			}
			secret, err := con.EnableMultiDC(c.ID, other, fakeserver.MultiDC{SeparateSecret: true})
			if err != nil {
				return err
			}
			r.sent = append(r.sent, "console: enable multi-DC in "+string(other))
			if _, o, err = exchangeAsUser(secret); err != nil {
				return err
			}
			return r.require("exchange at the user's DC, multi-DC on", o, "with multi-DC enabled for the client, the other DC works")
		case "other-dc-secret":
			if _, err := con.EnableMultiDC(c.ID, other, fakeserver.MultiDC{SeparateSecret: true}); err != nil {
				return err
			}
			_, o, err := exchangeAsUser(c.Secret)
			if err != nil {
				return err
			}
			return r.checkOutcome("exchange with the home DC's secret", o)
		default: // location
			if _, err := con.EnableMultiDC(c.ID, other, fakeserver.MultiDC{}); err != nil {
				return err
			}
			a, o, err := exchangeAsUser(c.Secret)
			if err != nil {
				return err
			}
			if got := a.str("api_domain"); o.ok && got != r.t.APIURL(other) {
				return &Failure{Step: "exchange", Want: "api_domain " + r.t.APIURL(other), Got: "api_domain " + got}
			}
			return r.checkOutcome("exchange at the user's DC", o)
		}
	}
	return fmt.Errorf("%s: dc-exchange needs variant cn, foreign-dc, multi-dc, other-dc-secret or location", r.c.Location())
}

// checkRefresh refreshes after some time, after a revoke, or with another
// refresh token.
func checkRefresh(r *run) error {
	dc := r.c.Stimulus.DC
	c, t, err := r.startWithTokens()
	if err != nil {
		return err
	}
	if r.c.Stimulus.Inject == fixtures.InjectRevoke {
		if err := r.revokeToken(dc, t.refresh, "the refresh token"); err != nil {
			return err
		}
	}
	if d, err := r.after(); err != nil {
		return err
	} else if d > 0 {
		if err := r.advance(d); err != nil {
			return err
		}
	}
	rt := t.refresh
	if v, ok := r.c.Stimulus.Params["refresh_token"]; ok {
		rt = v
	}
	at := dc
	if r.c.Stimulus.Variant == "other-dc" {
		// the same client, enabled in the other DC, asks there with the
		// right secret: the refresh token still lives only in its own DC
		con, err := r.console()
		if err != nil {
			return err
		}
		at = otherDC(dc)
		secret, err := con.EnableMultiDC(c.ID, at, fakeserver.MultiDC{})
		if err != nil {
			return err
		}
		c.Secrets[at] = secret
		r.sent = append(r.sent, "console: enable multi-DC in "+string(at))
	}
	a, o, err := r.refresh(at, c, rt)
	if err != nil {
		return err
	}
	if err := r.checkOutcome("refresh", o); err != nil {
		return err
	}
	if o.ok {
		if got := tokensOf(a); got.access == "" || got.expiresIn <= 0 {
			return &Failure{Step: "refresh", Want: "access_token and expires_in", Got: string(a.body)}
		}
		u, err := r.useToken(t.apiDomain, a.str("access_token"))
		if err != nil {
			return err
		}
		return r.require("use the refreshed access token", u, "")
	}
	if r.c.Stimulus.Inject == fixtures.InjectRevoke {
		return r.requireRejected("use an access token of the revoked refresh token", t.apiDomain, t.access, "revoking a refresh token revokes its access tokens")
	}
	return nil
}

// checkAccessTokenLifetime: expires_in, works just inside, rejected just
// past. Variant edges: works 1 s before the lifetime ends, rejected exactly
// at its end and 1 s after.
func checkAccessTokenLifetime(r *run) error {
	dc := r.c.Stimulus.DC
	c, t, err := r.startWithTokens()
	if err != nil {
		return err
	}
	lifetime := r.limits.AccessTokenLifetime
	if t.expiresIn != lifetime.Seconds() {
		return &Failure{Step: "exchange", Want: fmt.Sprintf("expires_in %d (seconds)", int(lifetime.Seconds())), Got: fmt.Sprintf("expires_in %v", t.expiresIn)}
	}
	past, err := r.after()
	if err != nil {
		return err
	}
	if r.c.Stimulus.Variant == "edges" {
		if err := r.advance(past - edge); err != nil {
			return err
		}
		o, err := r.useToken(t.apiDomain, t.access)
		if err != nil {
			return err
		}
		if err := r.require(fmt.Sprintf("use the access token %s before its lifetime (%s) ends", edge, past), o, "an access token works until its lifetime ends"); err != nil {
			return err
		}
		for _, when := range []string{"exactly when its lifetime (" + past.String() + ") ends", edge.String() + " after its lifetime ends"} {
			if err := r.advance(edge); err != nil {
				return err
			}
			if o, err = r.useToken(t.apiDomain, t.access); err != nil {
				return err
			}
			if err := r.checkOutcome("use the access token "+when, o); err != nil {
				return err
			}
		}
		return nil
	}
	inside := lifetime - (past - lifetime)
	if err := r.advance(inside); err != nil {
		return err
	}
	o, err := r.useToken(t.apiDomain, t.access)
	if err != nil {
		return err
	}
	if err := r.require(fmt.Sprintf("use the access token after %s", inside), o, "an access token works until its lifetime ends"); err != nil {
		return err
	}
	if err := r.advance(past - inside); err != nil {
		return err
	}
	if o, err = r.useToken(t.apiDomain, t.access); err != nil {
		return err
	}
	if err := r.checkOutcome(fmt.Sprintf("use the access token after %s", past), o); err != nil {
		return err
	}
	a, ro, err := r.refresh(dc, c, t.refresh)
	if err != nil {
		return err
	}
	if err := r.require("refresh", ro, "the refresh token gives a new access token"); err != nil {
		return err
	}
	o, err = r.useToken(t.apiDomain, a.str("access_token"))
	if err != nil {
		return err
	}
	return r.require("use the new access token", o, "")
}

// refreshPaced refreshes n times, moving the clock past the refresh
// throttle's window when the profile has one. It returns the new tokens.
func (r *run) refreshPaced(dc zoho.DC, c client, rt string, n int, concurrent bool) ([]string, error) {
	batch := n
	if th := r.limits.RefreshThrottle; th.Limit > 0 && th.Limit < batch {
		batch = th.Limit
	}
	var out []string
	for done := 0; done < n; {
		k := min(batch, n-done)
		if done > 0 && batch < n {
			if err := r.advance(r.limits.RefreshThrottle.Window + time.Second); err != nil {
				return nil, err
			}
		}
		results := make([]answer, k)
		outcomes := make([]outcome, k)
		errs := make([]error, k)
		if concurrent {
			var wg sync.WaitGroup
			var mu sync.Mutex // r.sent is appended by send
			for i := range k {
				wg.Go(func() {
					a, o, err := r.refreshLocked(&mu, dc, c, rt)
					results[i], outcomes[i], errs[i] = a, o, err
				})
			}
			wg.Wait()
		} else {
			for i := range k {
				results[i], outcomes[i], errs[i] = r.refresh(dc, c, rt)
			}
		}
		for i := range k {
			if errs[i] != nil {
				return nil, errs[i]
			}
			if err := r.require("refresh", outcomes[i], "minting access tokens up to the cap"); err != nil {
				return nil, err
			}
			out = append(out, results[i].str("access_token"))
		}
		done += k
	}
	return out, nil
}

// refreshLocked is refresh for concurrent use: the transcript is guarded.
func (r *run) refreshLocked(mu *sync.Mutex, dc zoho.DC, c client, rt string) (answer, outcome, error) {
	form := url.Values{"grant_type": {"refresh_token"}, "client_id": {c.ID}, "client_secret": {c.Secrets[dc]}, "refresh_token": {rt}}
	req, err := http.NewRequestWithContext(r.ctx, http.MethodPost, r.t.AccountsURL(dc)+"/oauth/v2/token", strings.NewReader(form.Encode()))
	if err != nil {
		return answer{}, outcome{}, err
	}
	req.Header.Set("Content-Type", "application/x-www-form-urlencoded")
	resp, err := r.t.HTTP().Do(req)
	if err != nil {
		return answer{}, outcome{}, err
	}
	defer resp.Body.Close()
	var a answer
	a.status, a.header = resp.StatusCode, resp.Header
	a.body, _ = readAll(resp)
	_ = jsonUnmarshal(a.body, &a.json)
	mu.Lock()
	r.record(http.MethodPost, r.t.AccountsURL(dc)+"/oauth/v2/token", form, a, nil)
	mu.Unlock()
	o := r.tokenOutcome(a, dc)
	if o.ok && o.wire == "" && a.json["refresh_token"] != nil {
		o.wire = "a refresh answers no refresh_token"
	}
	return a, o, nil
}

// revokeToken revokes a token at the DC's Accounts server, which must
// answer the contract's success.
func (r *run) revokeToken(dc zoho.DC, token, what string) error {
	a, err := r.send(http.MethodPost, r.t.AccountsURL(dc)+"/oauth/v2/token/revoke", url.Values{"token": {token}}, nil)
	if err != nil {
		return err
	}
	want := r.contract.Answers.Revoked
	if why := r.exactBody(a, want.Body); why != "" || a.status != want.Status {
		return &Failure{Step: "revoke " + what, Want: fmt.Sprintf("HTTP %d %s", want.Status, want.Body), Got: fmt.Sprintf("HTTP %d %s", a.status, zoho.Redact(string(a.body))), Detail: why}
	}
	return nil
}

// requireWorks fails the case unless the API takes the access token.
func (r *run) requireWorks(step, apiDomain, access, detail string) error {
	o, err := r.useToken(apiDomain, access)
	if err != nil {
		return err
	}
	return r.require(step, o, detail)
}

// checkAccessTokenCap mints access tokens up to the cap and over it (or
// many at once) and checks which still work. Variants: "" (one over: the
// first is evicted), again (two over: the second goes too), after-revoke
// (a revoked access token frees its place: one more evicts nothing).
func checkAccessTokenCap(r *run) error {
	dc := r.c.Stimulus.DC
	limit := r.limits.AccessTokensPerRefreshToken
	c, err := r.webClient(dc, "")
	if err != nil {
		return err
	}
	t, err := r.offlineTokens(dc, c)
	if err != nil {
		return err
	}
	if r.c.Stimulus.Inject == fixtures.InjectConcurrent {
		minted, err := r.refreshPaced(dc, c, t.refresh, limit+5, true)
		if err != nil {
			return err
		}
		all := append([]string{t.access}, minted...)
		live := 0
		for _, a := range all {
			o, err := r.useToken(t.apiDomain, a)
			if err != nil {
				return err
			}
			if o.wire != "" {
				return r.require("use an access token", o, "")
			}
			if o.ok {
				live++
			}
		}
		o := outcome{ok: live == limit, status: http.StatusOK}
		if !o.ok {
			o.err = fmt.Sprintf("%d of %d access tokens still work, the cap is %d", live, len(all), limit)
		}
		return r.checkOutcome(fmt.Sprintf("count working access tokens after %d concurrent refreshes", limit+5), o)
	}
	// exactly at the cap: all of them work, the first too
	minted, err := r.refreshPaced(dc, c, t.refresh, limit-1, false)
	if err != nil {
		return err
	}
	all := append([]string{t.access}, minted...)
	for i, a := range all {
		if err := r.requireWorks(fmt.Sprintf("use access token %d of %d (the cap)", i+1, limit), t.apiDomain, a, "up to the cap, every access token works"); err != nil {
			return err
		}
	}
	mint := func() error {
		more, err := r.refreshPaced(dc, c, t.refresh, 1, false)
		all = append(all, more...)
		return err
	}
	switch r.c.Stimulus.Variant {
	case "":
		if err := mint(); err != nil {
			return err
		}
		for i := 1; i < len(all); i++ {
			if err := r.requireWorks(fmt.Sprintf("use access token %d of %d", i+1, limit+1), t.apiDomain, all[i], "the newer access tokens keep working"); err != nil {
				return err
			}
		}
		o, err := r.useToken(t.apiDomain, all[0])
		if err != nil {
			return err
		}
		return r.checkOutcome(fmt.Sprintf("use the first access token after %d more", limit), o)
	case "again":
		for range 2 {
			if err := mint(); err != nil {
				return err
			}
		}
		if err := r.requireRejected("use the first access token", t.apiDomain, all[0], "the first overflow evicted it"); err != nil {
			return err
		}
		for i := 2; i < len(all); i++ {
			if err := r.requireWorks(fmt.Sprintf("use access token %d of %d", i+1, limit+2), t.apiDomain, all[i], "the newer access tokens keep working"); err != nil {
				return err
			}
		}
		o, err := r.useToken(t.apiDomain, all[1])
		if err != nil {
			return err
		}
		return r.checkOutcome(fmt.Sprintf("use the second access token after %d more (the cap overflowed twice)", limit+1), o)
	case "after-revoke":
		if err := r.revokeToken(dc, all[1], "the second access token"); err != nil {
			return err
		}
		if err := r.requireRejected("use the revoked access token", t.apiDomain, all[1], "a revoked access token is dead"); err != nil {
			return err
		}
		if err := mint(); err != nil {
			return err
		}
		o, err := r.useToken(t.apiDomain, all[0])
		if err != nil {
			return err
		}
		if err := r.checkOutcome(fmt.Sprintf("use the first access token: %d live again after a revoke and one more", limit), o); err != nil {
			return err
		}
		if err := mint(); err != nil {
			return err
		}
		return r.requireRejected("use the first access token after one more", t.apiDomain, all[0], "past the cap again, the oldest goes")
	}
	return fmt.Errorf("%s: access-token-cap knows the variants again and after-revoke, not %q", r.c.Location(), r.c.Stimulus.Variant)
}

// pacedGrant gets a grant, moving the clock past the grant rate window when
// the rate limit would refuse it.
func (r *run) pacedGrant(dc zoho.DC, c client, n *int) (grant, error) {
	if l := r.limits.GrantRate; l.Limit > 0 && *n > 0 && *n%l.Limit == 0 {
		if err := r.advance(l.Window + time.Second); err != nil {
			return grant{}, err
		}
	}
	*n++
	return r.mustGrant(dc, c, url.Values{"prompt": {"consent"}})
}

// checkRefreshTokenCap mints refresh tokens up to the per-user cap and over
// it. Variants: "" (one over: the first is evicted with its access tokens),
// again (two over: the second goes too), after-revoke (a revoked refresh
// token frees its place), other-client (the one over comes from another
// client of the user: the cap counts per user, or per user and client).
func checkRefreshTokenCap(r *run) error {
	dc := r.c.Stimulus.DC
	limit := r.limits.RefreshTokensPerUser
	c, err := r.webClient(dc, "")
	if err != nil {
		return err
	}
	grants := 0
	var rts []tokens
	mint := func(c client) error {
		g, err := r.pacedGrant(dc, c, &grants)
		if err != nil {
			return err
		}
		a, o, err := r.token(g.accountsServer, exchangeForm(c, c.Secret, g.code))
		if err != nil {
			return err
		}
		if err := r.require("exchange", o, "minting refresh tokens up to the cap"); err != nil {
			return err
		}
		rts = append(rts, tokensOf(a))
		if rts[len(rts)-1].refresh == "" {
			return &Failure{Step: "exchange", Want: "a refresh_token (access_type=offline, prompt=consent)", Got: "none"}
		}
		return nil
	}
	works := func(i int, why string) error {
		_, o, err := r.refresh(dc, c, rts[i].refresh)
		if err != nil {
			return err
		}
		return r.require(fmt.Sprintf("refresh with refresh token %d of %d", i+1, len(rts)), o, why)
	}
	for range limit {
		if err := mint(c); err != nil {
			return err
		}
	}
	// exactly at the cap, the first still works
	if err := works(0, "up to the cap, every refresh token works"); err != nil {
		return err
	}
	checked := 0 // the refresh token whose fate the row judges
	switch r.c.Stimulus.Variant {
	case "", "other-client":
		last := c
		if r.c.Stimulus.Variant == "other-client" {
			if last, err = r.webClient(dc, ""); err != nil {
				return err
			}
			grants = 0
		}
		if err := mint(last); err != nil {
			return err
		}
		for i := 1; i < len(rts)-1; i++ {
			if err := works(i, "the newer refresh tokens keep working"); err != nil {
				return err
			}
		}
	case "again":
		for range 2 {
			if err := mint(c); err != nil {
				return err
			}
		}
		_, o, err := r.refresh(dc, c, rts[0].refresh)
		if err != nil {
			return err
		}
		if err := r.requireError("refresh with the first refresh token", o, zoho.ErrInvalidCode, "the first overflow evicted it"); err != nil {
			return err
		}
		for i := 2; i < len(rts); i++ {
			if err := works(i, "the newer refresh tokens keep working"); err != nil {
				return err
			}
		}
		checked = 1
	case "after-revoke":
		if err := r.revokeToken(dc, rts[1].refresh, "the second refresh token"); err != nil {
			return err
		}
		if err := mint(c); err != nil {
			return err
		}
		_, o, err := r.refresh(dc, c, rts[0].refresh)
		if err != nil {
			return err
		}
		if err := r.checkOutcome(fmt.Sprintf("refresh with the first refresh token: %d live again after a revoke and one more", limit), o); err != nil {
			return err
		}
		if err := mint(c); err != nil {
			return err
		}
		_, o, err = r.refresh(dc, c, rts[0].refresh)
		if err != nil {
			return err
		}
		return r.requireError("refresh with the first refresh token after one more", o, zoho.ErrInvalidCode, "past the cap again, the oldest goes")
	default:
		return fmt.Errorf("%s: refresh-token-cap knows the variants again, after-revoke and other-client, not %q", r.c.Location(), r.c.Stimulus.Variant)
	}
	_, o, err := r.refresh(dc, c, rts[checked].refresh)
	if err != nil {
		return err
	}
	if err := r.checkOutcome(fmt.Sprintf("refresh with refresh token %d after %d more", checked+1, len(rts)-limit), o); err != nil {
		return err
	}
	if !o.ok {
		return r.requireRejected(fmt.Sprintf("use refresh token %d's access token", checked+1), rts[checked].apiDomain, rts[checked].access, "the evicted refresh token's access tokens go with it")
	}
	return nil
}

// checkGrantRate asks for one grant token over the rate limit, then again
// after the window. Variant edges: refused still 1 s before the window
// ends, allowed exactly when it ends.
func checkGrantRate(r *run) error {
	dc := r.c.Stimulus.DC
	limit := r.limits.GrantRate.Limit
	var next func() (outcome, error)
	if r.c.Stimulus.Endpoint == "self-client" {
		con, err := r.console()
		if err != nil {
			return err
		}
		self, err := con.RegisterClient(fakeserver.ClientSpec{Type: fakeserver.SelfClient, DC: dc})
		if err != nil {
			return err
		}
		next = func() (outcome, error) {
			_, err := con.SelfClientCode(self.ID, fakeserver.SelfClientCodeRequest{Scopes: []string{scope}})
			var rerr *fakeserver.RegistrationError
			switch {
			case err == nil:
				r.sent = append(r.sent, "console: Generate Code -> code")
				return outcome{ok: true, console: true}, nil
			case errors.As(err, &rerr):
				r.sent = append(r.sent, "console: Generate Code -> "+rerr.Message)
				return outcome{err: rerr.Message, console: true}, nil
			}
			return outcome{}, err
		}
	} else {
		c, err := r.webClient(dc, "")
		if err != nil {
			return err
		}
		next = func() (outcome, error) {
			_, o, err := r.authorize(dc, c, nil)
			return o, err
		}
	}
	for i := range limit {
		o, err := next()
		if err != nil {
			return err
		}
		if err := r.require(fmt.Sprintf("grant %d of %d", i+1, limit), o, "grants within the limit work"); err != nil {
			return err
		}
	}
	o, err := next()
	if err != nil {
		return err
	}
	if err := r.checkOutcome(fmt.Sprintf("grant %d within the window", limit+1), o); err != nil {
		return err
	}
	d, err := r.after()
	if err != nil {
		return err
	}
	if r.c.Stimulus.Variant == "edges" {
		if err := r.advance(d - edge); err != nil {
			return err
		}
		if o, err = next(); err != nil {
			return err
		}
		if err := r.checkOutcome(fmt.Sprintf("grant %d, %s before the window (%s) ends", limit+2, edge, d), o); err != nil {
			return err
		}
		d = edge
	}
	if err := r.advance(d); err != nil {
		return err
	}
	if o, err = next(); err != nil {
		return err
	}
	return r.require("a grant when the window has passed", o, "once the window has passed, grant tokens work again")
}

// checkRefreshThrottle refreshes one time more than the accounts-2025
// throttle allows within its window, then again after it. Variant edges:
// refused still 1 s before the window ends, allowed exactly when it ends.
func checkRefreshThrottle(r *run) error {
	dc := r.c.Stimulus.DC
	limit := r.limits.RefreshThrottle.Limit
	if limit == 0 {
		limit = fixtures.MustContract(zoho.Accounts2025).Limits.RefreshThrottle.Limit
	}
	c, err := r.webClient(dc, "")
	if err != nil {
		return err
	}
	t, err := r.offlineTokens(dc, c)
	if err != nil {
		return err
	}
	for i := range limit {
		_, o, err := r.refresh(dc, c, t.refresh)
		if err != nil {
			return err
		}
		if err := r.require(fmt.Sprintf("refresh %d of %d", i+1, limit), o, "refreshes within the limit work"); err != nil {
			return err
		}
	}
	_, o, err := r.refresh(dc, c, t.refresh)
	if err != nil {
		return err
	}
	if err := r.checkOutcome(fmt.Sprintf("refresh %d within the window", limit+1), o); err != nil {
		return err
	}
	if o.ok {
		return nil
	}
	d, err := r.after()
	if err != nil {
		return err
	}
	if r.c.Stimulus.Variant == "edges" {
		if err := r.advance(d - edge); err != nil {
			return err
		}
		if _, o, err = r.refresh(dc, c, t.refresh); err != nil {
			return err
		}
		if err := r.checkOutcome(fmt.Sprintf("refresh %d, %s before the window (%s) ends", limit+2, edge, d), o); err != nil {
			return err
		}
		d = edge
	}
	if err := r.advance(d); err != nil {
		return err
	}
	if _, o, err = r.refresh(dc, c, t.refresh); err != nil {
		return err
	}
	return r.require("a refresh when the window has passed", o, "once the window has passed, refreshes work again")
}

// otherDC is a DC of the multi-DC group other than dc (EU for US, else US).
func otherDC(dc zoho.DC) zoho.DC {
	if dc == zoho.US {
		return zoho.EU
	}
	return zoho.US
}

// checkAPIToken presents an access token to the API in the way the
// variant says: scheme-bearer (Authorization: Bearer, which Zoho takes as
// well), scheme-basic or scheme-none (a scheme the API does not take, or
// none), other-dc (at another DC's API) or userinfo-bearer (the Accounts
// server's user info, with Bearer).
func checkAPIToken(r *run) error {
	dc := r.c.Stimulus.DC
	_, t, err := r.startWithTokens()
	if err != nil {
		return err
	}
	if err := r.requireWorks("use the access token with Zoho-oauthtoken", t.apiDomain, t.access, "the token works the documented way"); err != nil {
		return err
	}
	api, path := t.apiDomain, "/crm/v8/users"
	q := url.Values{"type": {"CurrentUser"}}
	h := http.Header{"Authorization": {"Zoho-oauthtoken " + t.access}}
	switch v := r.c.Stimulus.Variant; v {
	case "scheme-bearer":
		h.Set("Authorization", "Bearer "+t.access)
	case "scheme-basic":
		h.Set("Authorization", "Basic "+t.access)
	case "scheme-none":
		h.Set("Authorization", t.access)
	case "other-dc":
		api = r.t.APIURL(otherDC(dc))
	case "userinfo-bearer":
		api, path, q = r.t.AccountsURL(dc), "/oauth/user/info", nil
		h.Set("Authorization", "Bearer "+t.access)
	case "query-token": // ZA-API-HEADER: never read from the query
		h.Del("Authorization")
		q.Set("access_token", t.access)
	default:
		return fmt.Errorf("%s: api-token knows the variants scheme-bearer, scheme-basic, scheme-none, other-dc, userinfo-bearer and query-token, not %q", r.c.Location(), v)
	}
	o, err := r.callAPI(api, path, q, h)
	if err != nil {
		return err
	}
	return r.checkOutcome(fmt.Sprintf("GET %s with the access token", pathOf(api+path)), o)
}

// checkRevoke revokes a token the variant names: unknown (a made-up one),
// access-token (one access token: it dies, its refresh token lives on) or
// twice (a refresh token revoked a second time).
func checkRevoke(r *run) error {
	dc := r.c.Stimulus.DC
	revoke := func(token string) (outcome, error) {
		a, err := r.send(http.MethodPost, r.t.AccountsURL(dc)+"/oauth/v2/token/revoke", url.Values{"token": {token}}, nil)
		if err != nil {
			return outcome{}, err
		}
		o := outcome{status: a.status, a: a, body: zoho.Redact(strings.TrimSpace(string(a.body)))}
		if o.ok = a.status == http.StatusOK && a.str("status") == "success"; !o.ok {
			if o.err = a.str("error"); o.err == "" {
				o.err = "(no error member)"
			}
		}
		return o, nil
	}
	switch r.c.Stimulus.Variant {
	case "unknown":
		// a target's own tokens are never at risk: this one was never issued
		o, err := revoke("1000." + strings.Repeat("0", 32) + "." + strings.Repeat("0", 32))
		if err != nil {
			return err
		}
		return r.checkOutcome("revoke a token nobody was issued", o)
	case "access-token", "twice":
		c, t, err := r.startWithTokens()
		if err != nil {
			return err
		}
		if r.c.Stimulus.Variant == "twice" {
			if err := r.revokeToken(dc, t.refresh, "the refresh token"); err != nil {
				return err
			}
			o, err := revoke(t.refresh)
			if err != nil {
				return err
			}
			return r.checkOutcome("revoke the refresh token a second time", o)
		}
		_, more, err := r.refresh(dc, c, t.refresh)
		if err != nil {
			return err
		}
		if err := r.require("refresh", more, "a second access token"); err != nil {
			return err
		}
		second := more.a.str("access_token")
		o, err := revoke(t.access)
		if err != nil {
			return err
		}
		if err := r.checkOutcome("revoke the first access token", o); err != nil {
			return err
		}
		if err := r.requireRejected("use the revoked access token", t.apiDomain, t.access, "a revoked access token is dead"); err != nil {
			return err
		}
		if err := r.requireWorks("use the refresh token's other access token", t.apiDomain, second, "revoking one access token leaves the others"); err != nil {
			return err
		}
		_, o, err = r.refresh(dc, c, t.refresh)
		if err != nil {
			return err
		}
		return r.require("refresh after the access token's revoke", o, "revoking an access token leaves its refresh token")
	}
	return fmt.Errorf("%s: revoke knows the variants unknown, access-token and twice, not %q", r.c.Location(), r.c.Stimulus.Variant)
}

// checkConsent authorizes a client twice for the same user, the second time
// with the stimulus' parameters, and exchanges the second code: a refresh
// token comes on the first offline consent only, unless prompt=consent
// (ZA-RT-FIRST); never with access_type=online (ZA-RT-ONLINE). Variant
// first skips the first authorization.
func checkConsent(r *run) error {
	dc := r.c.Stimulus.DC
	c, err := r.webClient(dc, "")
	if err != nil {
		return err
	}
	if r.c.Stimulus.Variant != "first" {
		g, err := r.mustGrant(dc, c, url.Values{"access_type": {"offline"}})
		if err != nil {
			return err
		}
		_, o, err := r.token(g.accountsServer, exchangeForm(c, c.Secret, g.code))
		if err != nil {
			return err
		}
		if err := r.require("the first offline consent's exchange", o, "the first consent"); err != nil {
			return err
		}
		if o.a.str("refresh_token") == "" {
			return &Failure{Step: "the first offline consent's exchange", Want: "a refresh_token (the first offline consent)", Got: "none"}
		}
	}
	extra := url.Values{}
	for k, v := range r.c.Stimulus.Params {
		extra.Set(k, v)
	}
	g, err := r.mustGrant(dc, c, extra)
	if err != nil {
		return err
	}
	_, o, err := r.token(g.accountsServer, exchangeForm(c, c.Secret, g.code))
	if err != nil {
		return err
	}
	return r.checkOutcome("exchange the code of the consent with "+redactParams(r.params()), o)
}

// checkImplicit registers a JavaScript client and asks for a token in the
// implicit flow (response_type=token): the redirect's fragment carries the
// token (checked whole), which then works at the API.
func checkImplicit(r *run) error {
	dc := r.c.Stimulus.DC
	con, err := r.console()
	if err != nil {
		return err
	}
	js, err := con.RegisterClient(fakeserver.ClientSpec{
		Type: fakeserver.JavaScript, Name: "zconform widget", Homepage: "https://www.example.com",
		RedirectURIs: []string{redirectURI}, JSDomains: []string{"https://www.example.com"}, DC: dc,
	})
	if err != nil {
		return err
	}
	extra := url.Values{"response_type": {"token"}}
	for k, v := range r.c.Stimulus.Params {
		extra.Set(k, v)
	}
	_, o, err := r.authorize(dc, client{js}, extra)
	if err != nil {
		return err
	}
	if err := r.checkOutcome("authorize with response_type=token", o); err != nil {
		return err
	}
	if !o.ok {
		return nil
	}
	u, _ := url.Parse(o.a.header.Get("Location"))
	f, _ := url.ParseQuery(u.Fragment)
	return r.requireWorks("use the implicit flow's access token", r.implicitAPI(f), f.Get("access_token"), "the token of the implicit flow works at the API")
}

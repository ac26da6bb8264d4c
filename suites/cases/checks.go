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

// checkRegister registers the stimulus' client in the console.
func checkRegister(r *run) error {
	con, err := r.console()
	if err != nil {
		return err
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
		return r.checkOutcome("register", outcome{ok: true})
	case errors.As(err, &rerr):
		r.sent = append(r.sent, "  -> "+rerr.Message)
		return r.checkOutcome("register", outcome{err: rerr.Message})
	}
	return err
}

// checkAuthorize sends an authorization request with the stimulus'
// parameter overrides ("-" removes one).
func checkAuthorize(r *run) error {
	dc := r.c.Stimulus.DC
	c, err := r.webClient(dc, "")
	if err != nil {
		return err
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
		return r.checkOutcome("generate code", outcome{ok: true})
	case errors.As(err, &rerr):
		r.sent = append(r.sent, "  -> "+rerr.Message)
		return r.checkOutcome("generate code", outcome{err: rerr.Message})
	}
	return err
}

// selfClientLifetime reads the lifetime from after: "self_client:5m-1s".
func selfClientLifetime(after string) (time.Duration, error) {
	base, _, _ := strings.Cut(strings.TrimPrefix(after, "self_client:"), "+")
	base, _, _ = strings.Cut(base, "-")
	return time.ParseDuration(base)
}

// checkExchange exchanges a grant token: after some time, a second time,
// after a failed exchange, or with overridden parameters.
func checkExchange(r *run) error {
	dc := r.c.Stimulus.DC
	var (
		c    client
		code string
		form func(code string) url.Values
	)
	if r.c.Stimulus.Variant == "self-client" {
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
		if code, err = con.SelfClientCode(self.ID, fakeserver.SelfClientCodeRequest{Scopes: []string{scope}, Lifetime: lifetime}); err != nil {
			return &Failure{Step: "generate code", Want: "a code", Got: err.Error()}
		}
		r.sent = append(r.sent, fmt.Sprintf("console: Generate Code lifetime=%s -> code %s", lifetime, zoho.RedactValue(code)))
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
		g, err := r.mustGrant(dc, c, nil)
		if err != nil {
			return err
		}
		code = g.code
		form = func(code string) url.Values { return exchangeForm(c, c.Secret, code) }
	}
	accounts := r.t.AccountsURL(dc)

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
	if d, err := r.after(); err != nil {
		return err
	} else if d > 0 {
		if err := r.advance(d); err != nil {
			return err
		}
	}
	f := form(code)
	for k, v := range r.c.Stimulus.Params {
		f.Set(k, v)
	}
	_, o, err := r.token(accounts, f)
	if err != nil {
		return err
	}
	return r.checkOutcome("exchange", o)
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
	return fmt.Errorf("%s: dc-exchange needs variant foreign-dc, multi-dc, other-dc-secret or location", r.c.Location())
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
		a, err := r.send(http.MethodPost, r.t.AccountsURL(dc)+"/oauth/v2/token/revoke", url.Values{"token": {t.refresh}}, nil)
		if err != nil {
			return err
		}
		if a.status != http.StatusOK || a.str("status") != "success" {
			return &Failure{Step: "revoke", Want: `HTTP 200 {"status":"success"}`, Got: fmt.Sprintf("HTTP %d %s", a.status, a.body)}
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
	a, o, err := r.refresh(dc, c, rt)
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

// checkAccessTokenLifetime: expires_in, works just inside, rejected just past.
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
	return a, tokenOutcome(a), nil
}

// checkAccessTokenCap mints one access token over the cap (or many at once)
// and checks which still work.
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
	minted, err := r.refreshPaced(dc, c, t.refresh, limit, false)
	if err != nil {
		return err
	}
	for i, a := range minted {
		o, err := r.useToken(t.apiDomain, a)
		if err != nil {
			return err
		}
		if err := r.require(fmt.Sprintf("use access token %d of %d", i+2, limit+1), o, "the newer access tokens keep working"); err != nil {
			return err
		}
	}
	o, err := r.useToken(t.apiDomain, t.access)
	if err != nil {
		return err
	}
	return r.checkOutcome(fmt.Sprintf("use the first access token after %d more", limit), o)
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

// checkRefreshTokenCap mints one refresh token over the per-user cap.
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
		return nil
	}
	for range limit {
		if err := mint(c); err != nil {
			return err
		}
	}
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
		_, o, err := r.refresh(dc, c, rts[i].refresh)
		if err != nil {
			return err
		}
		if err := r.require(fmt.Sprintf("refresh with refresh token %d of %d", i+1, limit+1), o, "the newer refresh tokens keep working"); err != nil {
			return err
		}
	}
	_, o, err := r.refresh(dc, c, rts[0].refresh)
	if err != nil {
		return err
	}
	if err := r.checkOutcome(fmt.Sprintf("refresh with the first refresh token after %d more", limit), o); err != nil {
		return err
	}
	if !o.ok {
		return r.requireRejected("use the first refresh token's access token", rts[0].apiDomain, rts[0].access, "the evicted refresh token's access tokens go with it")
	}
	return nil
}

// checkGrantRate asks for one grant token over the rate limit.
func checkGrantRate(r *run) error {
	dc := r.c.Stimulus.DC
	limit := r.limits.GrantRate.Limit
	var next func() (outcome, error)
	if r.c.Stimulus.Variant == "self-client" {
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
				return outcome{ok: true}, nil
			case errors.As(err, &rerr):
				r.sent = append(r.sent, "console: Generate Code -> "+rerr.Message)
				return outcome{err: rerr.Message}, nil
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
	if err := r.advance(d); err != nil {
		return err
	}
	if o, err = next(); err != nil {
		return err
	}
	return r.require("a grant after the window", o, "after the window, grant tokens work again")
}

// checkRefreshThrottle refreshes one time more than the accounts-2025
// throttle allows within its window.
func checkRefreshThrottle(r *run) error {
	dc := r.c.Stimulus.DC
	limit := r.limits.RefreshThrottle.Limit
	if limit == 0 {
		limit = zoho.MustProfile(zoho.Accounts2025).RefreshThrottle.Limit
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
	if err := r.advance(d); err != nil {
		return err
	}
	if _, o, err = r.refresh(dc, c, t.refresh); err != nil {
		return err
	}
	return r.require("a refresh after the window", o, "after the window, refreshes work again")
}

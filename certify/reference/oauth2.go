package reference

import (
	"context"
	"errors"
	"net/http"
	"net/url"
	"sync"
	"time"

	"github.com/zconform/zconform/certify"
	"golang.org/x/oauth2"
	"golang.org/x/oauth2/clientcredentials"
)

// OAuth2 is golang.org/x/oauth2 used the way most Go code uses it: an
// oauth2.Config with the Accounts server it was set up for and the default
// AuthStyle, Config.Exchange with the code, and oauth2.NewClient on the
// token source for the API at the token's api_domain. The only addition is
// the clock: x/oauth2 judges expiry by the wall clock, so TimePassed moves
// the token's expiry back by the time that passed on the certifier's clock.
type OAuth2 struct {
	env certify.Env
	cfg oauth2.Config
	ctx context.Context
	tok *oauth2.Token // the first token, for its api_domain
	ts  oauth2.TokenSource
	// last is the newest token the source gave out, read without a refresh
	mu   sync.Mutex
	last *oauth2.Token
	// cc is a backend job's client-credentials config (clientcreds.go)
	cc *clientcredentials.Config
}

// recorder notes each token its source gives out.
type recorder struct {
	o    *OAuth2
	base oauth2.TokenSource
}

func (r recorder) Token() (*oauth2.Token, error) {
	t, err := r.base.Token()
	if err == nil {
		r.o.mu.Lock()
		r.o.last = t
		r.o.mu.Unlock()
	}
	return t, err
}

// source makes the token source x/oauth2 users make, on tok.
func (o *OAuth2) source(tok *oauth2.Token) {
	o.mu.Lock()
	o.last = tok
	o.mu.Unlock()
	base := o.cfg.TokenSource(o.ctx, tok)
	if o.cc != nil { // a backend job asks for a new client-credentials token
		base = o.cc.TokenSource(o.ctx)
	}
	o.ts = oauth2.ReuseTokenSource(tok, recorder{o, base})
}

// Name names it on the certificate.
func (o *OAuth2) Name() string { return "golang.org/x/oauth2" }

// Version is the version the module pins.
func (o *OAuth2) Version() string { return "v0.38.0" }

// Start builds the Config.
func (o *OAuth2) Start(ctx context.Context, env certify.Env) error {
	o.env = env
	o.cfg = oauth2.Config{
		ClientID: env.ClientID, ClientSecret: env.ClientSecret, RedirectURL: env.RedirectURI, Scopes: []string{env.Scope},
		Endpoint: oauth2.Endpoint{AuthURL: env.AccountsURL + "/oauth/v2/auth", TokenURL: env.AccountsURL + "/oauth/v2/token"},
	}
	o.ctx = context.WithValue(context.Background(), oauth2.HTTPClient, env.HTTPClient)
	return nil
}

func report(err error) certify.Report {
	var re *oauth2.RetrieveError
	if errors.As(err, &re) {
		return certify.Report{Error: err.Error(), NeedsAuthorization: re.ErrorCode == "invalid_code"}
	}
	return certify.Report{Error: err.Error()}
}

// Authorize gives Config.AuthCodeURL with a state and
// oauth2.AccessTypeOffline, as x/oauth2 users write it.
func (o *OAuth2) Authorize(context.Context) certify.Report {
	return certify.Report{OK: true, AuthorizeURL: o.cfg.AuthCodeURL("state-"+o.env.ClientID[5:11], oauth2.AccessTypeOffline)}
}

// Calls makes n calls at once on the one token source, as n requests of
// an app's users would.
func (o *OAuth2) Calls(ctx context.Context, n int) certify.Report {
	reports := make([]certify.Report, n)
	var wg sync.WaitGroup
	for i := range n {
		wg.Go(func() { reports[i] = o.Call(ctx) })
	}
	wg.Wait()
	return first(reports)
}

// Redirect exchanges the code (a callback without one reports the
// redirect's error, as callback handlers do).
func (o *OAuth2) Redirect(ctx context.Context, q url.Values) certify.Report {
	if q.Get("code") == "" {
		return certify.Report{Error: "no code: " + q.Get("error"), NeedsAuthorization: true}
	}
	tok, err := o.cfg.Exchange(o.ctx, q.Get("code"))
	if err != nil {
		return report(err)
	}
	o.tok = tok
	o.source(tok)
	return certify.Report{OK: true}
}

// Call fetches the current user with oauth2.NewClient.
func (o *OAuth2) Call(ctx context.Context) certify.Report {
	if o.ts == nil {
		return certify.Report{Error: "not authorized", NeedsAuthorization: true}
	}
	api, _ := o.tok.Extra("api_domain").(string)
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, api+"/crm/v8/users?type=CurrentUser", nil)
	if err != nil {
		return certify.Report{Error: err.Error()}
	}
	resp, err := oauth2.NewClient(o.ctx, o.ts).Do(req)
	if err != nil {
		return report(err)
	}
	resp.Body.Close()
	if resp.StatusCode != http.StatusOK {
		return certify.Report{Error: "API answered " + resp.Status}
	}
	return certify.Report{OK: true}
}

// TimePassed moves the newest token's expiry back by d, as if the wall
// clock had moved on, without asking the source for a token (which could
// refresh it early).
func (o *OAuth2) TimePassed(_ context.Context, _ time.Time, d time.Duration) certify.Report {
	if o.ts == nil {
		return certify.Report{OK: true}
	}
	o.mu.Lock()
	shifted := *o.last
	o.mu.Unlock()
	shifted.Expiry = shifted.Expiry.Add(-d)
	o.source(&shifted)
	return certify.Report{OK: true}
}

// Close does nothing.
func (o *OAuth2) Close() error { return nil }

package reference

import (
	"context"
	"errors"
	"net/http"
	"net/url"
	"time"

	"github.com/zconform/zconform/certify"
	"golang.org/x/oauth2"
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
	tok *oauth2.Token
	ts  oauth2.TokenSource
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

// Redirect exchanges the code.
func (o *OAuth2) Redirect(ctx context.Context, q url.Values) certify.Report {
	tok, err := o.cfg.Exchange(o.ctx, q.Get("code"))
	if err != nil {
		return report(err)
	}
	o.tok, o.ts = tok, o.cfg.TokenSource(o.ctx, tok)
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

// TimePassed moves the token's expiry back by d, as if the wall clock had
// moved on.
func (o *OAuth2) TimePassed(_ context.Context, _ time.Time, d time.Duration) certify.Report {
	if o.ts == nil {
		return certify.Report{OK: true}
	}
	tok, err := o.ts.Token()
	if err != nil {
		return report(err)
	}
	shifted := *tok
	shifted.Expiry = tok.Expiry.Add(-d)
	o.tok, o.ts = &shifted, o.cfg.TokenSource(o.ctx, &shifted)
	return certify.Report{OK: true}
}

// Close does nothing.
func (o *OAuth2) Close() error { return nil }

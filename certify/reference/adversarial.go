package reference

import (
	"context"
	"errors"
	"net/http"
	"net/url"
	"strings"
	"time"

	"github.com/zconform/zconform/certify"
)

// The adversarial references try to earn a certificate without working.
// Each must fail every scenario, at its positive control: a verdict that
// rests on nothing the integration did is no verdict.

// Dies stops at once: it cannot even start (over the protocol, the process
// exits before it reads a message).
type Dies struct{}

// Name names it on the certificate.
func (Dies) Name() string { return "zconform adversarial reference: dies at start" }

// Version is its version.
func (Dies) Version() string { return "1" }

// Start fails.
func (Dies) Start(context.Context, certify.Env) error {
	return errors.New("the integration exits at start")
}

// Redirect is never reached.
func (Dies) Redirect(context.Context, url.Values) certify.Report { return certify.Report{} }

// Call is never reached.
func (Dies) Call(context.Context) certify.Report { return certify.Report{} }

// TimePassed is never reached.
func (Dies) TimePassed(context.Context, time.Time, time.Duration) certify.Report {
	return certify.Report{}
}

// Close does nothing.
func (Dies) Close() error { return nil }

// Complainer answers every message with an error and does nothing.
type Complainer struct{}

var complaint = certify.Report{Error: "something went wrong", NeedsAuthorization: true}

// Name names it on the certificate.
func (Complainer) Name() string {
	return "zconform adversarial reference: answers every message with an error"
}

// Version is its version.
func (Complainer) Version() string { return "1" }

// Start works.
func (Complainer) Start(context.Context, certify.Env) error { return nil }

// Redirect complains.
func (Complainer) Redirect(context.Context, url.Values) certify.Report { return complaint }

// Call complains.
func (Complainer) Call(context.Context) certify.Report { return complaint }

// Calls complains.
func (Complainer) Calls(context.Context, int) certify.Report { return complaint }

// Authorize complains.
func (Complainer) Authorize(context.Context) certify.Report { return complaint }

// TimePassed complains.
func (Complainer) TimePassed(context.Context, time.Time, time.Duration) certify.Report {
	return complaint
}

// Close does nothing.
func (Complainer) Close() error { return nil }

// Liar answers ok to everything and sends nothing.
type Liar struct{}

// Name names it on the certificate.
func (Liar) Name() string { return "zconform adversarial reference: answers ok and sends nothing" }

// Version is its version.
func (Liar) Version() string { return "1" }

// Start works.
func (Liar) Start(context.Context, certify.Env) error { return nil }

// Redirect claims success.
func (Liar) Redirect(context.Context, url.Values) certify.Report { return certify.Report{OK: true} }

// Call claims success.
func (Liar) Call(context.Context) certify.Report { return certify.Report{OK: true} }

// Calls claims success.
func (Liar) Calls(context.Context, int) certify.Report { return certify.Report{OK: true} }

// Authorize claims success.
func (Liar) Authorize(context.Context) certify.Report { return certify.Report{OK: true} }

// TimePassed claims success.
func (Liar) TimePassed(context.Context, time.Time, time.Duration) certify.Report {
	return certify.Report{OK: true}
}

// Close does nothing.
func (Liar) Close() error { return nil }

// Deaf sends the right requests but ignores every answer, and reports
// success: it exchanges codes where the redirect says, calls the API, but
// never reads a token out of an answer.
type Deaf struct {
	env certify.Env
}

// Name names it on the certificate.
func (*Deaf) Name() string {
	return "zconform adversarial reference: sends the right requests, ignores every answer"
}

// Version is its version.
func (*Deaf) Version() string { return "1" }

// Start keeps the configuration.
func (d *Deaf) Start(_ context.Context, env certify.Env) error { d.env = env; return nil }

// Redirect exchanges the code at the accounts-server, and ignores the
// answer.
func (d *Deaf) Redirect(ctx context.Context, q url.Values) certify.Report {
	accounts := d.env.AccountsURL
	if as := q.Get("accounts-server"); as != "" {
		accounts = as
	}
	_, _, _ = post(ctx, d.env.HTTPClient, accounts+"/oauth/v2/token", url.Values{
		"grant_type": {"authorization_code"}, "client_id": {d.env.ClientID}, "client_secret": {d.env.ClientSecret},
		"redirect_uri": {d.env.RedirectURI}, "code": {q.Get("code")}})
	return certify.Report{OK: true}
}

// Call calls the API of the Accounts server's DC, with the token it never
// read, and ignores the answer.
func (d *Deaf) Call(ctx context.Context) certify.Report {
	api := strings.Replace(strings.Replace(d.env.AccountsURL, "accounts.zoho.", "www.zohoapis.", 1), "accounts.zohocloud.", "www.zohoapis.", 1)
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, api+"/crm/v8/users?type=CurrentUser", nil)
	if err == nil {
		req.Header.Set("Authorization", "Zoho-oauthtoken ")
		if resp, err := d.env.HTTPClient.Do(req); err == nil {
			resp.Body.Close()
		}
	}
	return certify.Report{OK: true}
}

// Calls calls n times.
func (d *Deaf) Calls(ctx context.Context, n int) certify.Report {
	for range n {
		d.Call(ctx)
	}
	return certify.Report{OK: true}
}

// Authorize gives a right authorization URL.
func (d *Deaf) Authorize(context.Context) certify.Report {
	return certify.Report{OK: true, AuthorizeURL: d.env.AccountsURL + "/oauth/v2/auth?" + url.Values{
		"client_id": {d.env.ClientID}, "response_type": {"code"}, "redirect_uri": {d.env.RedirectURI},
		"scope": {d.env.Scope}, "access_type": {"offline"}}.Encode()}
}

// TimePassed claims success.
func (*Deaf) TimePassed(context.Context, time.Time, time.Duration) certify.Report {
	return certify.Report{OK: true}
}

// Close does nothing.
func (*Deaf) Close() error { return nil }

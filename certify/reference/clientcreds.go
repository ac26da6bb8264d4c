package reference

// The references as backend jobs on client credentials
// (docs/zoho-oauth-beyond.md section 2): the careful one names its org
// (soid), keeps its token for the hour and asks again only once it has
// expired (or on a 401); the careless one asks for a new token before every
// call.

import (
	"context"
	"net/url"
	"time"

	"github.com/zconform/zconform/certify"
	"golang.org/x/oauth2/clientcredentials"
)

// FlawCCNoSOID asks for client-credentials tokens without soid.
const FlawCCNoSOID Flaw = "cc-no-soid"

func init() { Flaws[FlawCCNoSOID] = "CC-BACKEND-JOB" }

// ClientCredentials makes it a backend job for the org soid: it asks for
// its first token at once.
func (c *Careful) ClientCredentials(ctx context.Context, soid string) certify.Report {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.ccSOID, c.access, c.refresh = soid, "", ""
	if r := c.ccTokenLocked(ctx); r != nil {
		return *r
	}
	return certify.Report{OK: true}
}

// ccTokenLocked asks for a client-credentials token at the Accounts server
// it was set up for (the client's home DC), unless backing off. There is
// no refresh token to keep. The caller holds c.mu.
func (c *Careful) ccTokenLocked(ctx context.Context) *certify.Report {
	if c.env.Now().Before(c.backoff) {
		return &certify.Report{Error: "backing off after the last failed token request"}
	}
	form := url.Values{
		"grant_type": {"client_credentials"}, "client_id": {c.env.ClientID}, "client_secret": {c.env.ClientSecret},
		"scope": {c.env.Scope}, "soid": {c.ccSOID},
	}
	if c.Flaw == FlawCCNoSOID {
		form.Del("soid")
	}
	a, status, err := post(ctx, c.env.HTTPClient, c.env.AccountsURL+"/oauth/v2/token", form)
	if err != nil {
		if a.Error != "" || status >= 500 || status == 429 {
			c.backoff = c.env.Now().Add(time.Minute)
		}
		return &certify.Report{Error: "client credentials failed: " + err.Error()}
	}
	c.access, c.expiry = a.AccessToken, c.env.Now().Add(time.Duration(a.ExpiresIn)*time.Second)
	if a.APIDomain != "" {
		c.apiDomain = a.APIDomain
	}
	return nil
}

// ClientCredentials makes it a backend job for the org soid; it asks for
// a token at each call.
func (c *Careless) ClientCredentials(_ context.Context, soid string) certify.Report {
	c.ccSOID = soid
	return certify.Report{OK: true}
}

// ccToken asks for a new client-credentials token, as it does before every
// call.
func (c *Careless) ccToken(ctx context.Context) {
	body, _ := c.post(ctx, url.Values{"grant_type": {"client_credentials"}, "scope": {c.env.Scope}, "soid": {c.ccSOID}})
	if tok, ok := body["access_token"].(string); ok {
		c.access = tok
	}
}

// ClientCredentials makes x/oauth2 a backend job the way its users write
// one: a clientcredentials.Config with the Accounts server's token URL, the
// scope and soid as an endpoint parameter, its token source for the API.
func (o *OAuth2) ClientCredentials(ctx context.Context, soid string) certify.Report {
	o.cc = &clientcredentials.Config{
		ClientID: o.env.ClientID, ClientSecret: o.env.ClientSecret, TokenURL: o.env.AccountsURL + "/oauth/v2/token",
		Scopes: []string{o.env.Scope}, EndpointParams: url.Values{"soid": {soid}},
	}
	tok, err := o.cc.Token(o.ctx)
	if err != nil {
		return report(err)
	}
	o.tok = tok
	o.source(tok)
	return certify.Report{OK: true}
}

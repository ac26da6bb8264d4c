package reference

import (
	"context"
	"encoding/json"
	"net/http"
	"net/url"
	"strings"
	"time"

	"github.com/zconform/zconform/certify"
)

// Careless makes the mistakes the certifier exists to catch: it exchanges
// at the Accounts server it was set up for (ignoring accounts-server),
// retries dead grants, takes any HTTP 200 for tokens, refreshes on every
// call, retries failed refreshes in a tight loop and sends Bearer.
type Careless struct {
	env     certify.Env
	access  string
	refresh string
	devCode string // a device sign-in's code (device.go)
	ccSOID  string // a backend job's org, on client credentials (clientcreds.go)
}

// Name names it on the certificate.
func (c *Careless) Name() string { return "zconform careless reference integration" }

// Version is its version.
func (c *Careless) Version() string { return "1" }

// Start keeps the configuration.
func (c *Careless) Start(_ context.Context, env certify.Env) error { c.env = env; return nil }

func (c *Careless) post(ctx context.Context, form url.Values) (map[string]any, int) {
	form.Set("client_id", c.env.ClientID)
	form.Set("client_secret", c.env.ClientSecret)
	req, _ := http.NewRequestWithContext(ctx, http.MethodPost, c.env.AccountsURL+"/oauth/v2/token", strings.NewReader(form.Encode()))
	req.Header.Set("Content-Type", "application/x-www-form-urlencoded")
	resp, err := c.env.HTTPClient.Do(req)
	if err != nil {
		return nil, 0
	}
	defer resp.Body.Close()
	var body map[string]any
	_ = json.NewDecoder(resp.Body).Decode(&body)
	return body, resp.StatusCode
}

// Redirect exchanges the code where it was set up, three times if need be.
func (c *Careless) Redirect(ctx context.Context, q url.Values) certify.Report {
	for i := 0; i < 3; i++ {
		body, status := c.post(ctx, url.Values{"grant_type": {"authorization_code"}, "redirect_uri": {c.env.RedirectURI}, "code": {q.Get("code")}})
		if status == http.StatusOK { // any 200 is a token
			c.access, _ = body["access_token"].(string)
			if rt, ok := body["refresh_token"].(string); ok {
				c.refresh = rt
			}
			return certify.Report{OK: true}
		}
	}
	return certify.Report{Error: "exchange failed"}
}

// Call refreshes first, every time, retrying five times (a backend job:
// asks for a new client-credentials token, clientcreds.go).
func (c *Careless) Call(ctx context.Context) certify.Report {
	if c.ccSOID != "" {
		c.ccToken(ctx)
		return c.callAPI(ctx)
	}
	for i := 0; i < 5; i++ {
		body, _ := c.post(ctx, url.Values{"grant_type": {"refresh_token"}, "refresh_token": {c.refresh}})
		if tok, ok := body["access_token"].(string); ok {
			c.access = tok
			break
		}
	}
	return c.callAPI(ctx)
}

// callAPI calls the current-user API with Bearer, at the API domain it
// guesses from the Accounts server it was set up for.
func (c *Careless) callAPI(ctx context.Context) certify.Report {
	api := strings.Replace(c.env.AccountsURL, "accounts.zoho.com", "www.zohoapis.com", 1)
	req, _ := http.NewRequestWithContext(ctx, http.MethodGet, api+"/crm/v8/users?type=CurrentUser", nil)
	req.Header.Set("Authorization", "Bearer "+c.access)
	resp, err := c.env.HTTPClient.Do(req)
	if err != nil {
		return certify.Report{Error: err.Error()}
	}
	resp.Body.Close()
	if resp.StatusCode != http.StatusOK {
		return certify.Report{Error: "API call failed"}
	}
	return certify.Report{OK: true}
}

// TimePassed is ignored, but for a device sign-in, which polls at every
// moment (device.go).
func (c *Careless) TimePassed(ctx context.Context, _ time.Time, _ time.Duration) certify.Report {
	if c.devCode != "" {
		return c.deviceTimePassed(ctx)
	}
	return certify.Report{OK: true}
}

// Close does nothing.
func (c *Careless) Close() error { return nil }

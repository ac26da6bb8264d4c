// Package reference holds reference integrations that prove the
// certifier's judgement: a careful one that must pass every scenario, a
// careless one that must fail the scenarios it breaks, and an adapter for
// golang.org/x/oauth2 used the way most Go code uses it.
package reference

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"net/http"
	"net/url"
	"strings"
	"time"

	"github.com/zconform/zconform/certify"
)

// Careful does what Zoho's documentation asks: it exchanges at the
// accounts-server of the redirect, uses api_domain and Zoho-oauthtoken,
// reads errors from HTTP 200 answers, reuses its access token until it
// expires, refreshes once, stops on invalid_code, backs off on throttles
// and 5xx, and keeps its refresh token through network faults.
type Careful struct {
	env       certify.Env
	accounts  string
	access    string
	refresh   string
	apiDomain string
	expiry    time.Time
	backoff   time.Time // no token request before this
}

// Name names it on the certificate.
func (c *Careful) Name() string { return "zconform careful reference integration" }

// Version is its version.
func (c *Careful) Version() string { return "1" }

// Start keeps the configuration.
func (c *Careful) Start(_ context.Context, env certify.Env) error {
	c.env, c.accounts = env, env.AccountsURL
	return nil
}

// tokenAnswer is a token endpoint's answer.
type tokenAnswer struct {
	AccessToken  string  `json:"access_token"`
	RefreshToken string  `json:"refresh_token"`
	APIDomain    string  `json:"api_domain"`
	ExpiresIn    float64 `json:"expires_in"`
	Error        string  `json:"error"`
}

// post sends a token request; an error member (Zoho sends them with HTTP
// 200) is an error.
func post(ctx context.Context, hc *http.Client, u string, form url.Values) (tokenAnswer, int, error) {
	req, err := http.NewRequestWithContext(ctx, http.MethodPost, u, strings.NewReader(form.Encode()))
	if err != nil {
		return tokenAnswer{}, 0, err
	}
	req.Header.Set("Content-Type", "application/x-www-form-urlencoded")
	resp, err := hc.Do(req)
	if err != nil {
		return tokenAnswer{}, 0, err
	}
	defer resp.Body.Close()
	var a tokenAnswer
	if err := json.NewDecoder(resp.Body).Decode(&a); err != nil {
		return a, resp.StatusCode, fmt.Errorf("HTTP %d with an unreadable answer: %w", resp.StatusCode, err)
	}
	if a.Error != "" {
		return a, resp.StatusCode, errors.New(a.Error)
	}
	if resp.StatusCode != http.StatusOK || a.AccessToken == "" {
		return a, resp.StatusCode, fmt.Errorf("HTTP %d without an access token", resp.StatusCode)
	}
	return a, resp.StatusCode, nil
}

// Redirect exchanges the code at the accounts-server the redirect names.
func (c *Careful) Redirect(ctx context.Context, q url.Values) certify.Report {
	if e := q.Get("error"); e != "" {
		return certify.Report{Error: e, NeedsAuthorization: true}
	}
	if as := q.Get("accounts-server"); as != "" {
		c.accounts = as
	}
	a, _, err := post(ctx, c.env.HTTPClient, c.accounts+"/oauth/v2/token", url.Values{
		"grant_type": {"authorization_code"}, "client_id": {c.env.ClientID}, "client_secret": {c.env.ClientSecret},
		"redirect_uri": {c.env.RedirectURI}, "code": {q.Get("code")}})
	if err != nil {
		return certify.Report{Error: err.Error(), NeedsAuthorization: err.Error() == "invalid_code"}
	}
	c.access, c.refresh, c.apiDomain = a.AccessToken, a.RefreshToken, a.APIDomain
	c.expiry = c.env.Now().Add(time.Duration(a.ExpiresIn) * time.Second)
	return certify.Report{OK: true}
}

// refreshNow gets a new access token, unless backing off.
func (c *Careful) refreshNow(ctx context.Context) *certify.Report {
	if c.refresh == "" {
		return &certify.Report{Error: "not authorized", NeedsAuthorization: true}
	}
	if c.env.Now().Before(c.backoff) {
		return &certify.Report{Error: "backing off after the last failed refresh"}
	}
	a, status, err := post(ctx, c.env.HTTPClient, c.accounts+"/oauth/v2/token", url.Values{
		"grant_type": {"refresh_token"}, "client_id": {c.env.ClientID}, "client_secret": {c.env.ClientSecret},
		"refresh_token": {c.refresh}})
	switch {
	case err == nil:
		c.access, c.expiry = a.AccessToken, c.env.Now().Add(time.Duration(a.ExpiresIn)*time.Second)
		if a.APIDomain != "" {
			c.apiDomain = a.APIDomain
		}
		return nil
	case err.Error() == "invalid_code":
		c.access, c.refresh = "", ""
		return &certify.Report{Error: "invalid_code: authorize again", NeedsAuthorization: true}
	case a.Error != "" || status >= 500 || status == http.StatusTooManyRequests:
		c.backoff = c.env.Now().Add(time.Minute)
	}
	return &certify.Report{Error: "refresh failed: " + err.Error()} // the refresh token is kept
}

// Call fetches the current user, refreshing when the token expired or was
// evicted.
func (c *Careful) Call(ctx context.Context) certify.Report {
	if c.access == "" && c.refresh == "" {
		return certify.Report{Error: "not authorized", NeedsAuthorization: true}
	}
	if c.access == "" || !c.env.Now().Before(c.expiry.Add(-30*time.Second)) {
		if r := c.refreshNow(ctx); r != nil {
			return *r
		}
	}
	for attempt := 0; ; attempt++ {
		req, err := http.NewRequestWithContext(ctx, http.MethodGet, c.apiDomain+"/crm/v8/users?type=CurrentUser", nil)
		if err != nil {
			return certify.Report{Error: err.Error()}
		}
		req.Header.Set("Authorization", "Zoho-oauthtoken "+c.access)
		resp, err := c.env.HTTPClient.Do(req)
		if err != nil {
			return certify.Report{Error: err.Error()}
		}
		resp.Body.Close()
		switch {
		case resp.StatusCode == http.StatusOK:
			return certify.Report{OK: true}
		case resp.StatusCode == http.StatusUnauthorized && attempt == 0:
			if r := c.refreshNow(ctx); r != nil { // evicted or revoked
				return *r
			}
			continue
		}
		return certify.Report{Error: fmt.Sprintf("API answered HTTP %d", resp.StatusCode)}
	}
}

// TimePassed needs nothing: the careful integration reads env.Now.
func (c *Careful) TimePassed(context.Context, time.Time, time.Duration) certify.Report {
	return certify.Report{OK: true}
}

// Close forgets everything.
func (c *Careful) Close() error { return nil }

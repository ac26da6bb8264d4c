// Package reference holds reference integrations that prove the
// certifier's judgement: a careful one that must pass every scenario; the
// careful one with one flaw switched on (Flawed), each of which must fail
// the scenario of its flaw; a careless one that must fail the scenarios it
// breaks; adversarial ones that must fail every scenario (they never
// work); and an adapter for golang.org/x/oauth2 used the way most Go code
// uses it.
package reference

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"net/http"
	"net/url"
	"strings"
	"sync"
	"time"

	"github.com/zconform/zconform/certify"
)

// Flaw is one mistake the careful reference can be told to make, so that
// each scenario is proven able to fail by a variant that differs from a
// passing integration in exactly that mistake.
type Flaw string

// The flaws.
const (
	// FlawRefreshAtConfiguredDC refreshes at the Accounts server the
	// integration was set up for, not at the user's (accounts-server).
	FlawRefreshAtConfiguredDC Flaw = "refresh-at-configured-dc"
	// FlawNoRefreshOn401 gives up on a 401: it trusts its own idea of the
	// token's expiry.
	FlawNoRefreshOn401 Flaw = "no-refresh-on-401"
	// FlawDoubleRefreshOn401 refreshes twice on a 401.
	FlawDoubleRefreshOn401 Flaw = "double-refresh-on-401"
	// FlawHammerOnDenied, told that an authorization was refused, fetches
	// its authorization URL again and again by itself.
	FlawHammerOnDenied Flaw = "hammer-on-denied"
	// FlawNoSingleFlight lets every one of concurrent calls refresh an
	// expired token on its own.
	FlawNoSingleFlight Flaw = "no-single-flight"
)

// Flaws lists the flaws with the scenario each must fail.
var Flaws = map[Flaw]string{
	FlawRefreshAtConfiguredDC: "REFRESH-AT-USER-DC",
	FlawNoRefreshOn401:        "TOKEN-DIES-EARLY",
	FlawDoubleRefreshOn401:    "TOKEN-DIES-EARLY",
	FlawHammerOnDenied:        "GRANT-RATE-LIMITED",
	FlawNoSingleFlight:        "ONE-REFRESH-FOR-PARALLEL-CALLS",
}

// Careful does what Zoho's documentation asks: it exchanges at the
// accounts-server of the redirect (and refreshes there), uses api_domain
// and Zoho-oauthtoken, reads errors from HTTP 200 answers, reuses its access
// token until it expires, refreshes once (once for concurrent calls too),
// refreshes and retries once on a 401, stops on invalid_code, backs off on
// throttles and 5xx, keeps its refresh token through network faults, and
// reports a refused authorization. It is safe for concurrent use.
type Careful struct {
	// Flaw, if set, is the one mistake it makes (Flawed).
	Flaw Flaw

	mu        sync.Mutex
	env       certify.Env
	accounts  string
	access    string
	refresh   string
	apiDomain string
	expiry    time.Time
	backoff   time.Time    // no token request before this
	state     string       // of the authorization it started, if any
	dev       deviceSignIn // the device flow's sign-in (device.go)
	ccSOID    string       // a backend job's org, on client credentials (clientcreds.go)
}

// Flawed is the careful reference with one flaw.
func Flawed(f Flaw) *Careful { return &Careful{Flaw: f} }

// Name names it on the certificate.
func (c *Careful) Name() string {
	if c.Flaw != "" {
		return "zconform careful reference integration, flawed: " + string(c.Flaw)
	}
	return "zconform careful reference integration"
}

// Version is its version.
func (c *Careful) Version() string { return "2" }

// Start keeps the configuration.
func (c *Careful) Start(_ context.Context, env certify.Env) error {
	c.mu.Lock()
	defer c.mu.Unlock()
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

// Authorize gives the URL it sends the user's browser to, with a state of
// its own.
func (c *Careful) Authorize(context.Context) certify.Report {
	c.mu.Lock()
	defer c.mu.Unlock()
	b := make([]byte, 8)
	_, _ = rand.Read(b)
	c.state = hex.EncodeToString(b)
	return certify.Report{OK: true, AuthorizeURL: c.authorizeURL()}
}

func (c *Careful) authorizeURL() string {
	return c.env.AccountsURL + "/oauth/v2/auth?" + url.Values{
		"client_id": {c.env.ClientID}, "response_type": {"code"}, "redirect_uri": {c.env.RedirectURI},
		"scope": {c.env.Scope}, "access_type": {"offline"}, "prompt": {"consent"}, "state": {c.state},
	}.Encode()
}

// Redirect exchanges the code at the accounts-server the redirect names.
func (c *Careful) Redirect(ctx context.Context, q url.Values) certify.Report {
	c.mu.Lock()
	defer c.mu.Unlock()
	if e := q.Get("error"); e != "" {
		if c.Flaw == FlawHammerOnDenied && c.state != "" {
			for range 3 { // "maybe it works now"
				if resp, err := c.env.HTTPClient.Get(c.authorizeURL()); err == nil {
					resp.Body.Close()
				}
			}
		}
		return certify.Report{Error: "authorization refused: " + e, NeedsAuthorization: true}
	}
	if c.state != "" && q.Get("state") != c.state {
		return certify.Report{Error: "the redirect's state is not the one this integration sent", NeedsAuthorization: true}
	}
	c.state = ""
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

// refreshNow gets a new access token, unless backing off. The caller
// holds c.mu.
func (c *Careful) refreshNow(ctx context.Context) *certify.Report {
	if c.ccSOID != "" { // a backend job asks for a new client-credentials token instead
		return c.ccTokenLocked(ctx)
	}
	if c.refresh == "" {
		return &certify.Report{Error: "not authorized", NeedsAuthorization: true}
	}
	if c.env.Now().Before(c.backoff) {
		return &certify.Report{Error: "backing off after the last failed refresh"}
	}
	accounts := c.accounts
	if c.Flaw == FlawRefreshAtConfiguredDC {
		accounts = c.env.AccountsURL
	}
	a, status, err := post(ctx, c.env.HTTPClient, accounts+"/oauth/v2/token", url.Values{
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

// expiredLocked says whether the access token is (about to be) gone.
func (c *Careful) expiredLocked() bool {
	return c.access == "" || !c.env.Now().Before(c.expiry.Add(-30*time.Second))
}

// Call fetches the current user, refreshing when the token expired, and
// once more on a 401 (an evicted or revoked token).
func (c *Careful) Call(ctx context.Context) certify.Report {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.callLocked(ctx, false)
}

func (c *Careful) callLocked(ctx context.Context, refreshed bool) certify.Report {
	if c.access == "" && c.refresh == "" {
		return certify.Report{Error: "not authorized", NeedsAuthorization: true}
	}
	if !refreshed && c.expiredLocked() {
		if r := c.refreshNow(ctx); r != nil {
			return *r
		}
	}
	for attempt := 0; ; attempt++ {
		status, err := c.get(ctx, c.access)
		if err != nil {
			return certify.Report{Error: err.Error()}
		}
		switch {
		case status == http.StatusOK:
			return certify.Report{OK: true}
		case status == http.StatusUnauthorized && attempt == 0 && c.Flaw != FlawNoRefreshOn401:
			if r := c.refreshNow(ctx); r != nil { // evicted or revoked
				return *r
			}
			if c.Flaw == FlawDoubleRefreshOn401 {
				if r := c.refreshNow(ctx); r != nil {
					return *r
				}
			}
			continue
		}
		return certify.Report{Error: fmt.Sprintf("API answered HTTP %d", status)}
	}
}

// get calls the current-user API with an access token.
func (c *Careful) get(ctx context.Context, access string) (int, error) {
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, c.apiDomain+"/crm/v8/users?type=CurrentUser", nil)
	if err != nil {
		return 0, err
	}
	req.Header.Set("Authorization", "Zoho-oauthtoken "+access)
	resp, err := c.env.HTTPClient.Do(req)
	if err != nil {
		return 0, err
	}
	resp.Body.Close()
	return resp.StatusCode, nil
}

// Calls makes n calls at once; an expired token is refreshed once for all
// of them (they wait for one another on c.mu).
func (c *Careful) Calls(ctx context.Context, n int) certify.Report {
	if c.Flaw == FlawNoSingleFlight {
		return c.callsEachRefreshing(ctx, n)
	}
	reports := make([]certify.Report, n)
	var wg sync.WaitGroup
	for i := range n {
		wg.Go(func() { reports[i] = c.Call(ctx) })
	}
	wg.Wait()
	return first(reports)
}

// callsEachRefreshing is the flawed Calls: each call that finds the token
// expired refreshes on its own, at the same time as the others.
func (c *Careful) callsEachRefreshing(ctx context.Context, n int) certify.Report {
	c.mu.Lock()
	expired := c.expiredLocked()
	c.mu.Unlock()
	reports := make([]certify.Report, n)
	var wg sync.WaitGroup
	for i := range n {
		wg.Go(func() {
			c.mu.Lock()
			defer c.mu.Unlock()
			if expired {
				if r := c.refreshNow(ctx); r != nil {
					reports[i] = *r
					return
				}
			}
			reports[i] = c.callLocked(ctx, expired)
		})
	}
	wg.Wait()
	return first(reports)
}

// first is OK when every report is, else the first that is not.
func first(reports []certify.Report) certify.Report {
	for _, r := range reports {
		if !r.OK {
			return r
		}
	}
	return certify.Report{OK: true}
}

// TimePassed needs nothing for its tokens (it reads env.Now); a device
// sign-in in progress polls when its pace allows (device.go).
func (c *Careful) TimePassed(ctx context.Context, _ time.Time, _ time.Duration) certify.Report {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.deviceTimePassed(ctx)
}

// Close forgets everything.
func (c *Careful) Close() error { return nil }

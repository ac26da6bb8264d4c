package reference

// The references' device flow (docs/zoho-oauth-beyond.md section 1): the
// careful one paces its polls to Zoho's 30-second window, follows other_dc
// to the user's server and stops on access_denied and expired; the careless
// one polls at every moment, only where it was set up, and never stops.

import (
	"context"
	"encoding/json"
	"fmt"
	"net/http"
	"net/url"
	"path"
	"strings"
	"time"

	"github.com/zconform/zconform/certify"
	"github.com/zconform/zconform/fixtures/zoho"
)

// The device flow's flaws of the careful reference.
const (
	// FlawDevicePollsAtInterval polls every interval (5 s) Zoho answers,
	// not once per 30 s: slow_down.
	FlawDevicePollsAtInterval Flaw = "device-polls-at-interval"
	// FlawDeviceIgnoresOtherDC keeps polling the app's server after
	// other_dc.
	FlawDeviceIgnoresOtherDC Flaw = "device-ignores-other-dc"
	// FlawDeviceKeepsPolling takes access_denied and expired for a
	// passing state and polls on.
	FlawDeviceKeepsPolling Flaw = "device-keeps-polling"
)

func init() {
	Flaws[FlawDevicePollsAtInterval] = "DEVICE-POLLS-PATIENTLY"
	Flaws[FlawDeviceIgnoresOtherDC] = "DEVICE-FOLLOWS-OTHER-DC"
	Flaws[FlawDeviceKeepsPolling] = "DEVICE-STOPS-WHEN-REFUSED"
}

// slowDownWindow is the device flow's polling window: "Two polling
// requests have come within 30 seconds" gets slow_down. [doc]
const slowDownWindow = 30 * time.Second

// deviceSignIn is a device sign-in in progress, or how the last one ended.
type deviceSignIn struct {
	code     string // the device code being polled ("": none)
	accounts string // where it polls: the app's server, after other_dc the user's
	next     time.Time
	pace     time.Duration
	ended    string // why the last sign-in ended without tokens
}

// deviceAnswer is the initiation's answer; expires_in and interval are in
// milliseconds. [doc]
type deviceAnswer struct {
	DeviceCode string  `json:"device_code"`
	UserCode   string  `json:"user_code"`
	Interval   float64 `json:"interval"`
	ExpiresIn  float64 `json:"expires_in"`
	Error      string  `json:"error"`
}

// startDevice asks accounts for a device code for env's client: offline,
// and with prompt=consent, as for the browser, so that a user who signs
// the device in again gets a refresh token again (ZA-RT).
func startDevice(ctx context.Context, env certify.Env, accounts string) (deviceAnswer, error) {
	q := url.Values{"grant_type": {"device_request"}, "client_id": {env.ClientID}, "scope": {env.Scope}, "access_type": {"offline"}, "prompt": {"consent"}}
	a, err := postQuery[deviceAnswer](ctx, env.HTTPClient, accounts+zoho.DeviceCodePath, q)
	if err == nil && (a.Error != "" || a.DeviceCode == "") {
		err = fmt.Errorf("no device code: %s", orMissing(a.Error))
	}
	return a, err
}

// postQuery posts to u with q in the query string, as the device endpoints
// take it, and reads the JSON answer.
func postQuery[T any](ctx context.Context, hc *http.Client, u string, q url.Values) (T, error) {
	var a T
	req, err := http.NewRequestWithContext(ctx, http.MethodPost, u+"?"+q.Encode(), nil)
	if err != nil {
		return a, err
	}
	resp, err := hc.Do(req)
	if err != nil {
		return a, err
	}
	defer resp.Body.Close()
	if err := json.NewDecoder(resp.Body).Decode(&a); err != nil {
		return a, fmt.Errorf("HTTP %d with an unreadable answer: %w", resp.StatusCode, err)
	}
	return a, nil
}

func orMissing(s string) string {
	if s == "" {
		return "(no error member)"
	}
	return s
}

// pollAnswer is a poll's answer: tokens, or the feedback.
type pollAnswer struct {
	tokenAnswer
	UserLocation string `json:"user_location"`
}

// pollDevice sends one polling request (the device code as code).
func pollDevice(ctx context.Context, env certify.Env, accounts, code string) (pollAnswer, error) {
	q := url.Values{"client_id": {env.ClientID}, "client_secret": {env.ClientSecret}, "grant_type": {"device_token"}, "code": {code}}
	return postQuery[pollAnswer](ctx, env.HTTPClient, accounts+zoho.DeviceTokenPath, q)
}

// accountsOf is the Accounts server of a DC's location, as base (the
// server the integration was set up for, maybe the fake's path-prefixed
// one) names Zoho's hosts. A real app may ask GET /oauth/serverinfo.
func accountsOf(base, location string) (string, bool) {
	to, ok := zoho.Lookup(zoho.DC(location))
	if !ok {
		return "", false
	}
	u, err := url.Parse(base)
	if err != nil {
		return "", false
	}
	// the whole host or the whole last path segment: accounts.zoho.com is
	// not accounts.zoho.com.au
	dir, last := path.Split(strings.TrimSuffix(u.Path, "/"))
	for _, d := range zoho.DataCentres() {
		switch {
		case u.Host == d.AccountsHost:
			u.Host = to.AccountsHost
			return u.String(), true
		case last == d.AccountsHost:
			u.Path = dir + to.AccountsHost
			return u.String(), true
		}
	}
	return "", false
}

// DeviceStart asks the Accounts server it was set up for for a device
// code; it then polls as time passes, at most once per 30 s and no sooner
// than the interval Zoho answers (in milliseconds).
func (c *Careful) DeviceStart(ctx context.Context) certify.Report {
	c.mu.Lock()
	defer c.mu.Unlock()
	a, err := startDevice(ctx, c.env, c.env.AccountsURL)
	if err != nil {
		return certify.Report{Error: "device sign-in: " + err.Error()}
	}
	pace := max(time.Duration(a.Interval)*time.Millisecond, slowDownWindow)
	if c.Flaw == FlawDevicePollsAtInterval {
		pace = time.Duration(a.Interval) * time.Millisecond
	}
	c.dev = deviceSignIn{code: a.DeviceCode, accounts: c.env.AccountsURL, pace: pace, next: c.env.Now().Add(pace)}
	return certify.Report{OK: true}
}

// deviceTimePassed polls when the pace allows and says where the sign-in
// stands. The caller holds c.mu.
func (c *Careful) deviceTimePassed(ctx context.Context) certify.Report {
	if c.dev.code == "" {
		if c.dev.ended != "" {
			return certify.Report{Error: c.dev.ended, NeedsAuthorization: true}
		}
		return certify.Report{OK: true}
	}
	now := c.env.Now()
	if now.Before(c.dev.next) {
		return certify.Report{}
	}
	c.dev.next = now.Add(c.dev.pace)
	for followed := false; ; followed = true {
		a, err := pollDevice(ctx, c.env, c.dev.accounts, c.dev.code)
		if err != nil {
			return certify.Report{Error: "device sign-in: " + err.Error()} // try again at the next moment
		}
		switch a.Error {
		case "":
			if a.AccessToken == "" {
				return certify.Report{Error: "device sign-in: an answer without a token or an error"}
			}
			c.access, c.refresh, c.apiDomain = a.AccessToken, a.RefreshToken, a.APIDomain
			c.expiry = now.Add(time.Duration(a.ExpiresIn) * time.Second)
			c.accounts = c.dev.accounts // it refreshes at the user's server
			c.dev = deviceSignIn{}
			return certify.Report{OK: true}
		case "authorization_pending":
			return certify.Report{}
		case "slow_down":
			c.dev.next = now.Add(c.dev.pace + slowDownWindow)
			return certify.Report{}
		case "other_dc":
			if c.Flaw == FlawDeviceIgnoresOtherDC {
				return certify.Report{}
			}
			to, ok := accountsOf(c.env.AccountsURL, a.UserLocation)
			if !ok || followed {
				c.dev = deviceSignIn{ended: "device sign-in: other_dc names an unknown location " + a.UserLocation}
				return certify.Report{Error: c.dev.ended, NeedsAuthorization: true}
			}
			c.dev.accounts = to // the same code, at the user's server, at once
			continue
		case "access_denied", "expired":
			if c.Flaw == FlawDeviceKeepsPolling {
				return certify.Report{}
			}
		}
		// access_denied, expired, or an error it does not know: this code is done
		c.dev = deviceSignIn{ended: "device sign-in: " + a.Error + ": sign in again"}
		return certify.Report{Error: c.dev.ended, NeedsAuthorization: true}
	}
}

// DeviceStart asks for a device code where it was set up.
func (c *Careless) DeviceStart(ctx context.Context) certify.Report {
	a, err := startDevice(ctx, c.env, c.env.AccountsURL)
	if err != nil {
		return certify.Report{Error: err.Error()}
	}
	c.devCode = a.DeviceCode
	return certify.Report{OK: true}
}

// deviceTimePassed polls at every moment, where it was set up, and takes
// anything but tokens for "not yet".
func (c *Careless) deviceTimePassed(ctx context.Context) certify.Report {
	a, err := pollDevice(ctx, c.env, c.env.AccountsURL, c.devCode)
	if err != nil || a.AccessToken == "" {
		return certify.Report{}
	}
	c.access, c.refresh = a.AccessToken, a.RefreshToken
	c.devCode = ""
	return certify.Report{OK: true}
}

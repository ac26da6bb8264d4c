// Package certify drives a third-party Zoho integration (an SDK, an app's
// token manager, a connector) against the fake while it injects Zoho's
// documented failures (expired and reused grants, DC mismatches, cap
// overflows, throttles, network faults), and judges how it reacts from
// what the fake saw on the wire and what the integration reported.
//
// A Go integration implements Integration (or is wrapped in one) and runs
// in-process on Zoho's real host names; any other language speaks a small
// JSON-lines protocol (see Process).
package certify

import (
	"context"
	"net/http"
	"net/url"
	"time"
)

// Env is what the certifier tells an integration when it starts it.
type Env struct {
	ClientID, ClientSecret string
	RedirectURI            string
	Scope                  string
	// AccountsURL is the Accounts server the integration was set up for,
	// where authorization starts (Zoho's US server, in-process or via the
	// proxy; or the fake's URL for it on loopback). The redirect may name
	// another (accounts-server).
	AccountsURL string
	// HTTPClient reaches the fake (in-process: on Zoho's real host names).
	HTTPClient *http.Client
	// Now is the certifier's clock: tokens expire by it, not by the wall
	// clock. An integration that judges expiry itself must use it.
	Now func() time.Time
	// WorkDir is an empty folder the integration may use.
	WorkDir string
	// Proxy is set when the fake is reached through its intercepting proxy
	// (Options.Proxy): AccountsURL is then Zoho's real one and HTTPClient
	// goes through the proxy; a process integration is started with the
	// proxy's environment (ProxyEnv.Environ).
	Proxy *ProxyEnv
}

// Report is what the integration says happened.
type Report struct {
	// OK is true when it did what was asked (has tokens, made the call).
	OK bool `json:"ok"`
	// Error is its error message, if any.
	Error string `json:"error,omitempty"`
	// NeedsAuthorization is true when it asks the user to authorize again.
	NeedsAuthorization bool `json:"needs_authorization,omitempty"`
	// Unsupported says why it cannot do what was asked, if so.
	Unsupported string `json:"unsupported,omitempty"`
	// AuthorizeURL is, in answer to Authorize, the URL the integration
	// sends the user's browser to.
	AuthorizeURL string `json:"authorize_url,omitempty"`
}

// Integration is a Zoho integration under certification. Each scenario
// starts a fresh one.
type Integration interface {
	// Name and Version name the integration on the certificate.
	Name() string
	Version() string
	// Start gives the integration its configuration.
	Start(ctx context.Context, env Env) error
	// Redirect hands over the query the user's browser brought back to the
	// redirect URI (code, location, accounts-server, state; or error).
	Redirect(ctx context.Context, query url.Values) Report
	// Call asks for one API call as the user (the current user).
	Call(ctx context.Context) Report
	// TimePassed says the certifier's clock moved on by d, to now.
	TimePassed(ctx context.Context, now time.Time, d time.Duration) Report
	// Close stops the integration.
	Close() error
}

// Authorizer is an integration that starts an authorization itself (the
// user clicks "connect"): Authorize answers the URL it sends the user's
// browser to, in Report.AuthorizeURL. The certifier opens it as the browser
// and hands back what comes of it with Redirect. Without it (or with an
// Unsupported answer) the scenarios that need it are not applicable.
type Authorizer interface {
	Authorize(ctx context.Context) Report
}

// ParallelCaller is an integration that can take n API calls at once, as
// n requests of its users arriving together would: one report, OK when
// every call succeeded, else the first error. Without it (or with an
// Unsupported answer) the scenarios that need it are not applicable.
type ParallelCaller interface {
	Calls(ctx context.Context, n int) Report
}

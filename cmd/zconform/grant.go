package main

import (
	"crypto/tls"
	"crypto/x509"
	"encoding/json"
	"errors"
	"flag"
	"fmt"
	"io"
	"net/http"
	"net/url"
	"os"
	"regexp"
	"strings"
	"time"

	"github.com/zconform/zconform/fixtures/zoho"
)

// runGrant asks an Accounts server's authorization endpoint for a grant
// token without a person (the fake consents by itself) and prints the
// code: a grants.command for a target file that points at a fake served
// as a separate process.
func runGrant(args []string, stdout, stderr io.Writer) int {
	fs := flag.NewFlagSet("zconform grant", flag.ContinueOnError)
	fs.SetOutput(stderr)
	accounts := fs.String("accounts", "", "the Accounts server URL, e.g. http://127.0.0.1:8080/accounts.zoho.com")
	clientID := fs.String("client-id", "", "the client ID")
	redirect := fs.String("redirect-uri", "", "the registered redirect URI")
	scope := fs.String("scope", "ZohoCRM.users.ALL", "the scopes")
	cacert := fs.String("cacert", "", "a PEM file of a certificate authority to trust (the fake's -cert)")
	fs.Usage = func() {
		fmt.Fprintln(stderr, `Usage: zconform grant -accounts URL -client-id ID -redirect-uri URI [-scope S]

Authorizes offline (prompt=consent) without a person and prints the grant
token. It works against the zconform fake, which consents by itself; use it
as the grants.command of a target file that points at the fake.
Exit status 1 when no code was given, with the reason on stderr: over the
grant-token rate limit (K4-NOTE-4) it names the limit and when to retry.

Flags:`)
		fs.PrintDefaults()
	}
	if err := fs.Parse(args); err != nil {
		if errors.Is(err, flag.ErrHelp) {
			return 0
		}
		return 2
	}
	if *accounts == "" || *clientID == "" || *redirect == "" {
		fmt.Fprintln(stderr, "zconform grant: -accounts, -client-id and -redirect-uri are required")
		return 2
	}
	q := url.Values{"client_id": {*clientID}, "response_type": {"code"}, "redirect_uri": {*redirect},
		"scope": {*scope}, "access_type": {"offline"}, "prompt": {"consent"}}
	hc := &http.Client{Timeout: 30 * time.Second, CheckRedirect: func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse }}
	if *cacert != "" {
		pem, err := os.ReadFile(*cacert)
		if err != nil {
			fmt.Fprintf(stderr, "zconform grant: -cacert: %v\n", err)
			return 2
		}
		pool := x509.NewCertPool()
		if !pool.AppendCertsFromPEM(pem) {
			fmt.Fprintf(stderr, "zconform grant: -cacert: %s holds no PEM certificate\n", *cacert)
			return 2
		}
		hc.Transport = &http.Transport{TLSClientConfig: &tls.Config{RootCAs: pool}}
	}
	base := strings.TrimRight(*accounts, "/")
	resp, err := hc.Get(base + "/oauth/v2/auth?" + q.Encode())
	if err != nil {
		fmt.Fprintf(stderr, "zconform grant: %v\n", err)
		return 1
	}
	page, _ := io.ReadAll(io.LimitReader(resp.Body, 64<<10))
	resp.Body.Close()
	loc, _ := url.Parse(resp.Header.Get("Location"))
	if loc == nil || resp.Header.Get("Location") == "" || loc.Query().Get("code") == "" {
		fmt.Fprintf(stderr, "zconform grant: %s\n", noCode(hc, base, *clientID, resp, loc, page))
		return 1
	}
	code := loc.Query().Get("code")
	if !zoho.TokenPattern.MatchString(code) {
		fmt.Fprintln(stderr, "zconform grant: the code is not in Zoho's format")
		return 1
	}
	fmt.Fprintln(stdout, code)
	return 0
}

// errorCode finds the error code of Zoho's error page.
var errorCode = regexp.MustCompile(`<code id="error-code">([^<]*)</code>`)

// noCode says why the authorization endpoint gave no code, from what it
// answered: a redirect with an error, an error page (over the grant-token
// rate limit: which limit, and when to retry), a consent page.
func noCode(hc *http.Client, base, clientID string, resp *http.Response, loc *url.URL, page []byte) string {
	if loc != nil && loc.Query().Get("error") != "" {
		e := loc.Query().Get("error")
		if e == zoho.ErrAccessDenied {
			return fmt.Sprintf("the authorization was denied (HTTP %d, a redirect with error=%s): the user refused consent (on the fake: a scripted answer, POST /_zconform/v1/clients/%s/consent with deny)", resp.StatusCode, e, clientID)
		}
		return fmt.Sprintf("the authorization endpoint redirected with error=%s (HTTP %d), no code", e, resp.StatusCode)
	}
	var shown string
	if m := errorCode.FindSubmatch(page); m != nil {
		shown = string(m[1])
	}
	switch shown {
	case zoho.ErrAccessDenied:
		// The fake's page over the grant-token rate limit (K4-NOTE-4): a
		// user's refusal is a redirect, never a page.
		return rateLimited(hc, base, clientID, resp.StatusCode)
	case zoho.ErrAuthClient:
		return fmt.Sprintf("the authorization endpoint refused the client (HTTP %d, error page %s): client ID %s is not registered, or not enabled, at %s", resp.StatusCode, shown, clientID, base)
	case zoho.ErrAuthRedirectURI:
		return fmt.Sprintf("the authorization endpoint refused the redirect URI (HTTP %d, error page %s): -redirect-uri must equal one the client registered, exactly", resp.StatusCode, shown)
	case zoho.ErrAuthScope:
		return fmt.Sprintf("the authorization endpoint refused the scope (HTTP %d, error page %s): -scope names a scope the server does not know", resp.StatusCode, shown)
	case "":
	default:
		return fmt.Sprintf("the authorization endpoint refused (HTTP %d, error page %s)", resp.StatusCode, shown)
	}
	if resp.StatusCode == http.StatusOK && strings.Contains(strings.ToLower(resp.Header.Get("Content-Type")), "html") {
		return fmt.Sprintf("the authorization endpoint showed a page for a person (HTTP %d), no code: it needs a person's consent (a fake started with -consent-page asks for it; start it without)", resp.StatusCode)
	}
	return fmt.Sprintf("the authorization endpoint gave no code (HTTP %d, no redirect): is %s an Accounts server?", resp.StatusCode, base)
}

// fakeState is what the fake's control API tells of its clock and limits.
type fakeState struct {
	Profile string `json:"profile"`
	Clock   struct {
		Virtual bool `json:"virtual"`
	} `json:"clock"`
	Limits struct {
		GrantRate struct {
			Limit  int    `json:"limit"`
			Window string `json:"window"`
		} `json:"grant_rate"`
	} `json:"limits"`
}

// controlURL is the control API of the fake that serves an Accounts URL
// such as http://127.0.0.1:8080/accounts.zoho.com (or a shared fake's
// run, .../t/<id>/accounts.zoho.com); "" for any other URL.
func controlURL(accounts string) string {
	u, err := url.Parse(accounts)
	if err != nil || u.Host == "" {
		return ""
	}
	dir, last := "", strings.Trim(u.Path, "/")
	if i := strings.LastIndex(last, "/"); i >= 0 {
		dir, last = "/"+last[:i], last[i+1:]
	}
	if _, role, ok := zoho.HostRole(last); !ok || role != zoho.Accounts {
		return ""
	}
	return u.Scheme + "://" + u.Host + dir + "/_zconform/v1"
}

// askFake reads the fake's clock and grant-rate limit, if the Accounts URL
// is a fake's and its control API answers.
func askFake(hc *http.Client, control string) (fakeState, bool) {
	var st fakeState
	if control == "" {
		return st, false
	}
	get := func(path string, into any) bool {
		req, err := http.NewRequest(http.MethodGet, control+path, nil)
		if err != nil {
			return false
		}
		if tok := os.Getenv(controlTokenEnv); tok != "" {
			req.Header.Set("Authorization", "Bearer "+tok)
		}
		c := *hc
		c.Timeout = 5 * time.Second
		resp, err := c.Do(req)
		if err != nil {
			return false
		}
		defer resp.Body.Close()
		return resp.StatusCode == http.StatusOK && json.NewDecoder(io.LimitReader(resp.Body, 1<<20)).Decode(into) == nil
	}
	if !get("", &st) || !get("/limits", &st) || st.Limits.GrantRate.Limit <= 0 {
		return st, false
	}
	return st, true
}

// rateLimited says that the grant-token rate limit refused the code: the
// fake's limit and clock when its control API answers, else the contract's.
func rateLimited(hc *http.Client, base, clientID string, status int) string {
	control := controlURL(base)
	st, ok := askFake(hc, control)
	head := fmt.Sprintf("refused by the grant-token rate limit (K4-NOTE-4; HTTP %d, error page %s; not a consent problem): ", status, zoho.ErrAccessDenied)
	if !ok {
		var rates []string
		for _, p := range []string{zoho.Kaizen4, zoho.Accounts2025} {
			r := zoho.MustProfile(p).GrantRate
			rates = append(rates, fmt.Sprintf("%d per %s under %s", r.Limit, r.Window, p))
		}
		return head + fmt.Sprintf("client %s has had the most grant tokens a client may have in the window (%s); retry when the window has passed", clientID, strings.Join(rates, ", "))
	}
	window := st.Limits.GrantRate.Window
	if d, err := time.ParseDuration(window); err == nil {
		window = d.String()
	}
	msg := head + fmt.Sprintf("the fake gives at most %d grant tokens per %s per client (profile %s), and client %s has had them", st.Limits.GrantRate.Limit, window, st.Profile, clientID)
	if st.Clock.Virtual {
		return msg + fmt.Sprintf(". The fake runs on a virtual clock, which stands still: the window never passes by itself, so retrying does not help. "+
			"For a run against the fake as a real endpoint, start it with -real-clock (the target file's grants.rate then paces the codes within the limit), "+
			"or raise limits.grant_rate in its seed file; or move its clock on: POST %s/clock/advance {\"by\":\"%s\"}", control, window)
	}
	return msg + fmt.Sprintf("; retry within %s, when the oldest of them leaves the window (a target file's grants.rate paces a run's codes: at most %d per %s)", window, st.Limits.GrantRate.Limit, window)
}

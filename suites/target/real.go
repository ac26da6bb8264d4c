package target

import (
	"bytes"
	"context"
	"crypto/tls"
	"crypto/x509"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"net/url"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"sync"
	"time"

	"github.com/zconform/zconform/fakeserver"
	"github.com/zconform/zconform/fixtures"
	"github.com/zconform/zconform/fixtures/zoho"
)

// Real is a target backed by a real Zoho Accounts endpoint, as a target
// file describes it. It has no console, no virtual clock and no breaks;
// it gets grant tokens from the file's grant sources, records every token
// the run is issued, and revokes them all on Close.
type Real struct {
	file        *File
	secrets     map[zoho.DC]string
	refresh     string
	codes       []string
	client      *http.Client
	slow        bool
	destructive bool

	// cleanup is the file of $ZCONFORM_CLEANUP_REPORT, "" when unset.
	cleanup string

	mu      sync.Mutex
	created []issued
	grantAt []time.Time // when grants.command ran, for pacing
}

type issued struct {
	value string
	dc    zoho.DC
}

// OpenReal opens the target a file describes, reading its secrets from the
// environment. slow and destructive are the run's opt-ins; destructive
// cases against Zoho's production servers need test_user: true.
func OpenReal(path string, slow, destructive bool) (*Real, error) {
	f, err := LoadFile(path)
	if err != nil {
		return nil, err
	}
	if destructive && f.Production() && !f.TestUser {
		return nil, fmt.Errorf("%s: destructive cases evict the user's oldest tokens and exhaust rate limits; against Zoho's production Accounts servers they run only for a dedicated test user: set test_user: true in the target file if %s's user is one", path, f.Name)
	}
	t := &Real{file: f, secrets: map[zoho.DC]string{}, slow: slow, destructive: destructive}
	home, err := secret(f.Client.SecretEnv, "client secret")
	if err != nil {
		return nil, err
	}
	t.secrets[f.Client.DC] = home
	for dc, env := range f.Client.SecretsEnv {
		if t.secrets[dc], err = secret(env, string(dc)+" client secret"); err != nil {
			return nil, err
		}
	}
	if t.refresh, err = secret(f.Grants.RefreshTokenEnv, "long-lived refresh token"); err != nil {
		return nil, err
	}
	if f.Grants.CodesEnv != "" {
		list, err := secret(f.Grants.CodesEnv, "comma-separated grant tokens")
		if err != nil {
			return nil, err
		}
		for _, c := range strings.Split(list, ",") {
			if c = strings.TrimSpace(c); c != "" {
				t.codes = append(t.codes, c)
			}
		}
	}
	transport := http.DefaultTransport.(*http.Transport).Clone()
	if f.TLSCA != "" {
		path := f.TLSCA
		if !filepath.IsAbs(path) {
			path = filepath.Join(filepath.Dir(f.path), path)
		}
		pem, err := os.ReadFile(path)
		if err != nil {
			return nil, fmt.Errorf("%s: tls_ca: %w", f.path, err)
		}
		pool, err := x509.SystemCertPool()
		if err != nil {
			pool = x509.NewCertPool()
		}
		if !pool.AppendCertsFromPEM(pem) {
			return nil, fmt.Errorf("%s: tls_ca: %s holds no PEM certificate", f.path, path)
		}
		transport.TLSClientConfig = &tls.Config{RootCAs: pool}
	}
	t.client = &http.Client{
		Timeout:       30 * time.Second,
		Transport:     newGuard(f, &recorder{next: transport, t: t}),
		CheckRedirect: func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse },
	}
	return t, nil
}

// Name is the target file's name.
func (t *Real) Name() string { return t.file.Name }

// Profile is the profile the file expects.
func (t *Real) Profile() string { return t.file.Profile }

// Limits are that profile's published numbers (the contract), by which the
// run paces its grant tokens.
func (t *Real) Limits() zoho.Limits { return fixtures.MustContract(t.file.Profile).Limits }

// AccountsURL is the DC's Accounts server as the target file names it. For
// a DC the file does not name it is a URL on NotNamedDomain, which reaches
// nothing and which the client refuses.
func (t *Real) AccountsURL(dc zoho.DC) string { return t.file.URLs(dc).Accounts }

// APIURL is the DC's API domain as the target file names it (see
// AccountsURL for a DC it does not name).
func (t *Real) APIURL(dc zoho.DC) string { return t.file.URLs(dc).API }

// NamedDCs are the DCs the target file names: the only ones the run may
// reach (DCNamer).
func (t *Real) NamedDCs() []zoho.DC { return t.file.NamedDCs() }

// HTTP is the recording client.
func (t *Real) HTTP() *http.Client { return t.client }

// UserDC is the account's DC.
func (t *Real) UserDC() zoho.DC { return t.file.UserDC }

// Slow reports whether cases may wait for real.
func (t *Real) Slow() bool { return t.slow }

// Destructive reports whether destructive cases may run.
func (t *Real) Destructive() bool { return t.destructive }

// Client is the configured client, with the secret of every DC it has one
// for (other DCs share the home secret, as multi-DC with one secret does).
func (t *Real) Client() fakeserver.Client {
	c := fakeserver.Client{
		ID: t.file.Client.ID, Secret: t.secrets[t.file.Client.DC], Type: fakeserver.WebBased,
		RedirectURIs: []string{t.file.Client.RedirectURI}, DC: t.file.Client.DC, Secrets: map[zoho.DC]string{},
	}
	for _, d := range zoho.DataCentres() {
		c.Secrets[d.DC] = c.Secret
	}
	for dc, s := range t.secrets {
		c.Secrets[dc] = s
	}
	return c
}

// Scope is what grants are asked for.
func (t *Real) Scope() string { return t.file.Client.Scope }

// RefreshToken is the long-lived refresh token, if the file names one.
func (t *Real) RefreshToken() string { return t.refresh }

// ErrNoGrants says the target file gives no way to get grant tokens.
var ErrNoGrants = errors.New("the target file gives no grant source (grants.command or grants.codes_env)")

// HasGrants reports whether the file names a grant source.
func (t *Real) HasGrants() bool {
	return len(t.file.Grants.Command) > 0 || t.file.Grants.CodesEnv != ""
}

// Grant returns a fresh grant token: the next unused one of the list, else
// what the command prints.
func (t *Real) Grant(ctx context.Context) (string, error) {
	t.mu.Lock()
	if len(t.codes) > 0 {
		c := t.codes[0]
		t.codes = t.codes[1:]
		t.mu.Unlock()
		return c, nil
	}
	t.mu.Unlock()
	if len(t.file.Grants.Command) == 0 {
		if t.file.Grants.CodesEnv != "" {
			return "", fmt.Errorf("every grant token in $%s is used: give more, or a grants.command", t.file.Grants.CodesEnv)
		}
		return "", ErrNoGrants
	}
	if err := t.pace(ctx); err != nil {
		return "", err
	}
	ctx, cancel := context.WithTimeout(ctx, 2*time.Minute)
	defer cancel()
	cmd := exec.CommandContext(ctx, t.file.Grants.Command[0], t.file.Grants.Command[1:]...)
	var stderr bytes.Buffer
	cmd.Stderr = &stderr
	out, err := cmd.Output()
	// the grant counts from when the command returned: the server's own
	// time of it is no later, so the pacing is an upper bound
	t.mu.Lock()
	t.grantAt = append(t.grantAt, time.Now())
	t.mu.Unlock()
	if err != nil {
		return "", fmt.Errorf("grants.command %s: %v: %s", t.file.Grants.Command[0], err, zoho.Redact(strings.TrimSpace(stderr.String())))
	}
	code := strings.TrimSpace(string(out))
	if !zoho.TokenPattern.MatchString(code) {
		return "", fmt.Errorf("grants.command %s printed no grant token (want 1000.<32 hex>.<32 hex> on stdout, got %q)", t.file.Grants.Command[0], zoho.Redact(code))
	}
	return code, nil
}

// pace waits, when needed, so that grants.command stays within the
// grant-token rate limit (K4-NOTE-4): a real wait, said on stderr. Grant
// records each command's time once it returns.
func (t *Real) pace(ctx context.Context) error {
	rate := t.Limits().GrantRate
	if t.file.Grants.Rate != nil {
		rate = *t.file.Grants.Rate
	}
	if rate.Limit <= 0 {
		return nil
	}
	t.mu.Lock()
	now := time.Now()
	recent := t.grantAt[:0]
	for _, at := range t.grantAt {
		if now.Sub(at) < rate.Window {
			recent = append(recent, at)
		}
	}
	t.grantAt = recent
	var wait time.Duration
	if len(recent) >= rate.Limit {
		wait = recent[len(recent)-rate.Limit].Add(rate.Window + time.Second).Sub(now)
	}
	t.mu.Unlock()
	if wait > 0 {
		fmt.Fprintf(os.Stderr, "zconform: waiting %s for the grant-token rate limit of %s (%d per %s)\n", wait.Round(time.Second), t.file.Name, rate.Limit, rate.Window)
		select {
		case <-time.After(wait):
		case <-ctx.Done():
			return ctx.Err()
		}
	}
	return nil
}

// guard is the client's last line of defence: it refuses every request
// whose URL is not under one of the Accounts and API URLs the target file
// names (same scheme, host, port and path prefix), before anything is
// sent. AccountsURL and APIURL name no other host; this catches what
// would reach one anyway (an api_domain a server answers, a case that
// builds a URL of its own).
type guard struct {
	next  http.RoundTripper
	file  string
	name  string
	bases []*url.URL
}

func newGuard(f *File, next http.RoundTripper) *guard {
	g := &guard{next: next, file: f.path, name: f.Name}
	for _, dc := range f.NamedDCs() {
		u := f.URLs(dc)
		for _, raw := range []string{u.Accounts, u.API} {
			if b, err := url.Parse(raw); err == nil {
				b.Path = strings.TrimRight(b.Path, "/")
				g.bases = append(g.bases, b)
			}
		}
	}
	return g
}

// hostPort is a URL's host:port, lower case, with the scheme's default
// port made explicit.
func hostPort(u *url.URL) string {
	port := u.Port()
	if port == "" {
		port = "443"
		if u.Scheme == "http" {
			port = "80"
		}
	}
	return net.JoinHostPort(strings.ToLower(u.Hostname()), port)
}

// allows reports whether u is under one of the named URLs.
func (g *guard) allows(u *url.URL) bool {
	for _, b := range g.bases {
		if !strings.EqualFold(u.Scheme, b.Scheme) || hostPort(u) != hostPort(b) {
			continue
		}
		if b.Path == "" || u.Path == b.Path || strings.HasPrefix(u.Path, b.Path+"/") {
			return true
		}
	}
	return false
}

func (g *guard) RoundTrip(req *http.Request) (*http.Response, error) {
	if g.allows(req.URL) {
		return g.next.RoundTrip(req)
	}
	if req.Body != nil {
		req.Body.Close()
	}
	named := make([]string, len(g.bases))
	for i, b := range g.bases {
		named[i] = b.String()
	}
	return nil, fmt.Errorf("target %s: refused a request to %s (%s://%s%s): the target file %s names no such URL; a run reaches only the URLs under data_centres (%s): add the DC there to include it",
		g.name, req.URL.Host, req.URL.Scheme, req.URL.Host, req.URL.Path, g.file, strings.Join(named, ", "))
}

// recorder notes every token a token endpoint issues, so that Close can
// revoke them.
type recorder struct {
	next http.RoundTripper
	t    *Real
}

func (rc *recorder) RoundTrip(req *http.Request) (*http.Response, error) {
	resp, err := rc.next.RoundTrip(req)
	if err != nil || !strings.HasSuffix(req.URL.Path, "/oauth/v2/token") || resp.StatusCode != http.StatusOK {
		return resp, err
	}
	data, err := io.ReadAll(io.LimitReader(resp.Body, 1<<20))
	resp.Body.Close()
	resp.Body = io.NopCloser(bytes.NewReader(data))
	if err != nil {
		return resp, nil
	}
	var body struct {
		Access  string `json:"access_token"`
		Refresh string `json:"refresh_token"`
	}
	if json.Unmarshal(data, &body) == nil {
		dc := rc.t.dcOf(req.URL)
		rc.t.mu.Lock()
		for _, v := range []string{body.Refresh, body.Access} {
			if v != "" && v != rc.t.refresh {
				rc.t.created = append(rc.t.created, issued{v, dc})
			}
		}
		rc.t.mu.Unlock()
	}
	return resp, nil
}

// dcOf finds the DC whose Accounts server a URL is on.
func (t *Real) dcOf(u *url.URL) zoho.DC {
	for _, d := range zoho.DataCentres() {
		if strings.HasPrefix(u.String(), t.AccountsURL(d.DC)+"/") {
			return d.DC
		}
	}
	return t.file.UserDC
}

// Created counts the tokens the run was issued and has not revoked.
func (t *Real) Created() int {
	t.mu.Lock()
	defer t.mu.Unlock()
	return len(t.created)
}

// RevokeCreated revokes every token the run was issued (never the
// long-lived refresh token of the file), refresh tokens first. revoked
// counts those the target revoked now; gone those it refused with HTTP 400
// as unknown (evicted, revoked by a case, or with their refresh token).
// Anything else (no answer, another status) is an error naming the tokens,
// redacted.
func (t *Real) RevokeCreated(ctx context.Context) (revoked, gone int, err error) {
	t.mu.Lock()
	todo := t.created
	t.created = nil
	t.mu.Unlock()
	var failed []string
	for _, tok := range todo {
		form := url.Values{"token": {tok.value}}
		req, e := http.NewRequestWithContext(ctx, http.MethodPost, t.AccountsURL(tok.dc)+"/oauth/v2/token/revoke", strings.NewReader(form.Encode()))
		if e != nil {
			return revoked, gone, e
		}
		req.Header.Set("Content-Type", "application/x-www-form-urlencoded")
		resp, e := t.client.Do(req)
		if e != nil {
			failed = append(failed, zoho.RedactValue(tok.value)+": "+e.Error())
			continue
		}
		resp.Body.Close()
		switch resp.StatusCode {
		case http.StatusOK:
			revoked++
		case http.StatusBadRequest:
			gone++
		default:
			failed = append(failed, fmt.Sprintf("%s: HTTP %d", zoho.RedactValue(tok.value), resp.StatusCode))
		}
	}
	if len(failed) > 0 {
		return revoked, gone, fmt.Errorf("could not revoke %d tokens: %s", len(failed), strings.Join(failed, "; "))
	}
	return revoked, gone, nil
}

// Close revokes what the run created, says so on stderr, and records the
// outcome in the cleanup report ($ZCONFORM_CLEANUP_REPORT), if the run has
// one.
func (t *Real) Close() {
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	created := t.Created()
	n, gone, err := t.RevokeCreated(ctx)
	rep := CleanupReport{Target: t.file.Name, Opened: true, Closed: true, Created: created, Revoked: n, Gone: gone}
	if err != nil {
		rep.Error = zoho.Redact(err.Error())
		fmt.Fprintf(os.Stderr, "zconform: %v\n", err)
	}
	if n > 0 {
		fmt.Fprintf(os.Stderr, "zconform: revoked the %d tokens the run created on %s\n", n, t.file.Name)
	}
	t.writeCleanup(rep)
}

// writeCleanup writes the cleanup report, whole or not at all.
func (t *Real) writeCleanup(rep CleanupReport) {
	if t.cleanup == "" {
		return
	}
	data, _ := json.Marshal(rep)
	tmp := t.cleanup + ".tmp"
	if err := os.WriteFile(tmp, data, 0o600); err == nil {
		err = os.Rename(tmp, t.cleanup)
		if err == nil {
			return
		}
	}
	fmt.Fprintf(os.Stderr, "zconform: cannot write the cleanup report $%s=%s\n", EnvCleanupReport, t.cleanup)
}

// Preflight checks, before any case runs, that the target answers like a
// Zoho Accounts server and accepts the client's credentials: one clear
// message instead of a wall of failed specs.
func (t *Real) Preflight(ctx context.Context) error {
	// Only the DCs the file names: the user's always, the client's home
	// when it is named too.
	var dcs []zoho.DC
	if t.file.Names(t.file.Client.DC) {
		dcs = append(dcs, t.file.Client.DC)
	}
	if t.file.UserDC != t.file.Client.DC && t.file.Names(t.file.UserDC) {
		dcs = append(dcs, t.file.UserDC)
	}
	c := t.Client()
	for _, dc := range dcs {
		u := t.AccountsURL(dc) + "/oauth/v2/token"
		form := url.Values{"grant_type": {"refresh_token"}, "client_id": {c.ID}, "client_secret": {c.Secrets[dc]},
			"refresh_token": {"1000.00000000000000000000000000000000.00000000000000000000000000000000"}}
		req, err := http.NewRequestWithContext(ctx, http.MethodPost, u, strings.NewReader(form.Encode()))
		if err != nil {
			return err
		}
		req.Header.Set("Content-Type", "application/x-www-form-urlencoded")
		resp, err := t.client.Do(req)
		if err != nil {
			return fmt.Errorf("target %s: cannot reach the %s Accounts server %s: %v", t.file.Name, strings.ToUpper(string(dc)), t.AccountsURL(dc), err)
		}
		data, _ := io.ReadAll(io.LimitReader(resp.Body, 64<<10))
		resp.Body.Close()
		var body struct {
			Error string `json:"error"`
		}
		if json.Unmarshal(data, &body) != nil || body.Error == "" {
			return fmt.Errorf("target %s: %s does not answer like a Zoho Accounts server (HTTP %d, %s): check data_centres in the target file", t.file.Name, u, resp.StatusCode, resp.Header.Get("Content-Type"))
		}
		switch body.Error {
		case zoho.ErrInvalidCode:
		case zoho.ErrInvalidClient, zoho.ErrInvalidClientSecret:
			return fmt.Errorf("target %s: the %s Accounts server refuses the client (%s): check client.id and the secret in $%s", t.file.Name, strings.ToUpper(string(dc)), body.Error, t.secretEnv(dc))
		default:
			return fmt.Errorf("target %s: a probe refresh at %s got %q, not invalid_code: is this a Zoho Accounts server?", t.file.Name, u, body.Error)
		}
	}
	if t.refresh != "" {
		form := url.Values{"grant_type": {"refresh_token"}, "client_id": {c.ID}, "client_secret": {c.Secrets[t.file.UserDC]}, "refresh_token": {t.refresh}}
		resp, err := t.client.PostForm(t.AccountsURL(t.file.UserDC)+"/oauth/v2/token", form)
		if err != nil {
			return fmt.Errorf("target %s: %v", t.file.Name, err)
		}
		var body map[string]any
		_ = json.NewDecoder(resp.Body).Decode(&body)
		resp.Body.Close()
		if _, ok := body["access_token"]; !ok {
			return fmt.Errorf("target %s: the refresh token in $%s is not accepted (%v): give a live one, or leave refresh_token_env out", t.file.Name, t.file.Grants.RefreshTokenEnv, body["error"])
		}
	}
	return nil
}

func (t *Real) secretEnv(dc zoho.DC) string {
	if env, ok := t.file.Client.SecretsEnv[dc]; ok {
		return env
	}
	return t.file.Client.SecretEnv
}

package fakeserver

import (
	"crypto/tls"
	"crypto/x509"
	"errors"
	"fmt"
	"log/slog"
	"net"
	"net/http"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"github.com/zconform/zconform/fixtures/zoho"
)

// Server is a fake Zoho Accounts server with the API endpoints that check
// tokens. Create it with New (started on loopback) or NewUnstarted.
type Server struct {
	// URL is the base URL of the listener, e.g. http://127.0.0.1:43125,
	// empty until started.
	URL string

	opts     options
	clock    *Clock
	listener net.Listener
	http     *http.Server
	cert     *x509.Certificate
	handler  http.Handler
	closed   chan struct{}
	// starting holds GET /_zconform/ready at 503 (SetReady(false))
	starting atomic.Bool

	mu       sync.Mutex
	limits   zoho.Limits
	profile  string
	breaks   map[zoho.SeedID]bool
	scopes   map[string]bool
	users    map[string]*user
	clients  map[string]*client
	grants   map[string]*grant
	refresh  map[string]*refreshToken
	access   map[string]*accessToken
	userRTs  map[*user][]*refreshToken
	nextZUID int64
	log      requestLog
	faults   faultSet
	// secrets redacts, by value, the secrets the server was configured
	// with (its control token); nil when there are none.
	secrets *strings.Replacer
	// conns bounds and tracks the listener's connections.
	conns *connLimiter

	// housekeeping (sweep.go, index.go): rotations of the grants and of
	// the access tokens without a refresh token, those tokens by user (for
	// Tokens), and how many items the sweeps have examined (for tests)
	grantQ      queue[*grant]
	standaloneQ queue[*accessToken]
	standalone  map[*user]map[*accessToken]struct{}
	swept       int

	// capMu serializes the control requests that add state under caps
	// (guard.go); regBytes counts their bytes.
	capMu    sync.Mutex
	regBytes int

	// cc holds the orgs a client-credentials soid names (clientcreds.go).
	cc ccState

	// za holds browser sessions, session grants, the id_token key and the
	// grant-rate blocks (jsapps.go, settings.go).
	za zaState

	// devices holds the device flow's authorizations (device.go).
	devices deviceStore
}

type options struct {
	addr         string
	profile      string
	limits       func(*zoho.Limits)
	realClock    bool
	start        time.Time
	scopes       []string
	logger       *slog.Logger
	consentPage  bool
	controlToken string
	logSize      int
	logBytes     int
	journal      func(secret string)
	// tenant names the server in log lines when it is a shared fake's run.
	tenant string
	// adminToken is a shared fake's admin token, which a tenant's control
	// API takes as well as its own.
	adminToken string
	// caps bound what one run may hold (a tenant's); zero: no bound.
	caps Caps
	// http bounds the listener's connections and their time.
	http HTTPLimits
}

// Option configures a Server.
type Option func(*options)

// WithProfile selects a limit profile (zoho.Kaizen4, the default, or
// zoho.Accounts2025). An unknown name makes New panic; check it with
// zoho.Profile first when it comes from a user.
func WithProfile(name string) Option { return func(o *options) { o.profile = name } }

// WithLimits adjusts single limits after the profile is applied.
func WithLimits(f func(*zoho.Limits)) Option { return func(o *options) { o.limits = f } }

// WithRealClock makes the server follow the wall clock; Advance then fails.
func WithRealClock() Option { return func(o *options) { o.realClock = true } }

// WithStartTime sets the virtual clock's start (default: the wall clock at New).
func WithStartTime(t time.Time) Option { return func(o *options) { o.start = t } }

// WithScopes adds scopes to the known ones (zoho.KnownScopes).
func WithScopes(scopes ...string) Option {
	return func(o *options) { o.scopes = append(o.scopes, scopes...) }
}

// WithLogger logs every request (secrets redacted) to l.
func WithLogger(l *slog.Logger) Option { return func(o *options) { o.logger = l } }

// WithConsentPage makes the authorization endpoint show an HTML consent
// page (for a person with a browser) whenever no scripted answer is queued.
func WithConsentPage() Option { return func(o *options) { o.consentPage = true } }

// WithControlToken requires "Authorization: Bearer <token>" on the control
// API and lets it answer beyond loopback.
func WithControlToken(token string) Option { return func(o *options) { o.controlToken = token } }

// WithAddr sets the listen address (default 127.0.0.1:0, a free loopback port).
func WithAddr(addr string) Option { return func(o *options) { o.addr = addr } }

// WithRequestLogSize keeps the last n requests in the log (default 10000).
func WithRequestLogSize(n int) Option { return func(o *options) { o.logSize = n } }

// WithSecretJournal calls f with every secret the server issues or is
// given: client secrets, grant tokens, refresh and access tokens. Tests use
// it to check that no secret reaches a log or a report. f is called with the
// server's lock held: it must be quick and must not call the server.
func WithSecretJournal(f func(secret string)) Option { return func(o *options) { o.journal = f } }

// newSecret passes a secret to the journal, if any, and returns it.
func (s *Server) newSecret(v string) string {
	if s.opts.journal != nil {
		s.opts.journal(v)
	}
	return v
}

// NewUnstarted returns a server that is not listening yet: call Start or
// StartTLS, or use Handler in-process.
func NewUnstarted(opts ...Option) *Server {
	o := options{addr: "127.0.0.1:0", profile: zoho.Kaizen4, logSize: 10000}
	for _, f := range opts {
		f(&o)
	}
	limits := zoho.MustProfile(o.profile)
	if o.limits != nil {
		o.limits(&limits)
	}
	if err := limits.Validate(); err != nil {
		panic("fakeserver: " + err.Error())
	}
	s := &Server{
		opts: o, limits: limits, profile: o.profile, closed: make(chan struct{}),
		breaks: map[zoho.SeedID]bool{}, scopes: map[string]bool{},
		users: map[string]*user{}, clients: map[string]*client{}, grants: map[string]*grant{},
		refresh: map[string]*refreshToken{}, access: map[string]*accessToken{}, userRTs: map[*user][]*refreshToken{},
		nextZUID: 60000000000,
		log:      requestLog{max: o.logSize, maxBytes: o.logBytes},
		secrets:  secretReplacer(o.controlToken, o.adminToken),
	}
	if s.log.maxBytes == 0 {
		s.log.maxBytes = DefaultRequestLogBytes
	}
	if o.realClock {
		s.clock = &Clock{}
	} else {
		start := o.start
		if start.IsZero() {
			start = time.Now().UTC().Truncate(time.Second)
		}
		s.clock = newVirtualClock(start)
	}
	for _, sc := range zoho.KnownScopes {
		s.scopes[sc] = true
	}
	for _, sc := range o.scopes {
		s.scopes[sc] = true
	}
	s.handler = s.routes()
	return s
}

// New starts a server on a free loopback port, like httptest.NewServer.
// The caller closes it. It panics if it cannot listen.
func New(opts ...Option) *Server {
	s := NewUnstarted(opts...)
	if err := s.Start(); err != nil {
		panic("fakeserver: " + err.Error())
	}
	return s
}

// Start listens on the configured address over plain HTTP.
func (s *Server) Start() error { return s.start(false) }

// StartTLS listens over HTTPS with a fresh self-signed certificate valid for
// loopback, localhost and every Zoho host name; see Certificate and Client.
func (s *Server) StartTLS() error { return s.start(true) }

func (s *Server) start(useTLS bool) error {
	if s.listener != nil {
		return errors.New("server already started")
	}
	l, err := net.Listen("tcp", s.opts.addr)
	if err != nil {
		return fmt.Errorf("listen on %s: %w (choose a free address)", s.opts.addr, err)
	}
	scheme := "http"
	if useTLS {
		cert, parsed, err := selfSignedCert()
		if err != nil {
			l.Close()
			return err
		}
		s.cert = parsed
		l = tls.NewListener(l, &tls.Config{Certificates: []tls.Certificate{cert}, NextProtos: []string{"http/1.1"}})
		scheme = "https"
	}
	s.listener = l
	s.URL = scheme + "://" + urlHost(l.Addr(), s.opts.addr)
	s.conns = newConnLimiter(s.opts.http.withDefaults().MaxConns)
	s.http = newHTTPServer(s.handler, s.opts.http, s.opts.logger, s.conns)
	go s.http.Serve(l) //nolint:errcheck // returns on Close
	return nil
}

// urlHost is the host:port to reach a listener on from this machine. A
// server on all interfaces is reached on loopback: 127.0.0.1, unless it
// was asked to listen on IPv6 only ("[::]:port"). Go listens on both for
// "0.0.0.0", and reports "[::]".
func urlHost(a net.Addr, requested string) string {
	tcp, ok := a.(*net.TCPAddr)
	if !ok {
		return a.String()
	}
	if tcp.IP.IsUnspecified() {
		if strings.HasPrefix(requested, "[") {
			return fmt.Sprintf("[::1]:%d", tcp.Port)
		}
		return fmt.Sprintf("127.0.0.1:%d", tcp.Port)
	}
	return a.String()
}

// Close stops the listener and drops open connections. Safe to call twice.
func (s *Server) Close() {
	select {
	case <-s.closed:
		return
	default:
		close(s.closed)
	}
	if s.http != nil {
		s.http.Close()
	}
	if s.listener != nil {
		// http.Server.Close closes only listeners Serve has begun on: a
		// Close right after Start would leave the port open for a moment.
		_ = s.listener.Close()
	}
}

// Handler is the server's whole HTTP handler (every DC by path prefix or
// real host name, plus the control API), for use in-process.
func (s *Server) Handler() http.Handler { return s.handler }

// Certificate is the TLS certificate of a StartTLS server, else nil.
func (s *Server) Certificate() *x509.Certificate { return s.cert }

// Client returns an http.Client that trusts the server's certificate.
func (s *Server) Client() *http.Client {
	tr := &http.Transport{Proxy: nil, ForceAttemptHTTP2: false}
	if s.cert != nil {
		pool := x509.NewCertPool()
		pool.AddCert(s.cert)
		tr.TLSClientConfig = &tls.Config{RootCAs: pool}
	}
	return &http.Client{Transport: tr, CheckRedirect: func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse }}
}

// AccountsURL is the DC's Accounts server as this server serves it, e.g.
// http://127.0.0.1:43125/accounts.zoho.eu.
func (s *Server) AccountsURL(dc zoho.DC) string {
	d, ok := zoho.Lookup(dc)
	if !ok {
		panic(fmt.Sprintf("fakeserver: unknown DC %q", dc))
	}
	return s.URL + "/" + d.AccountsHost
}

// APIURL is the DC's API domain as this server serves it, e.g.
// http://127.0.0.1:43125/www.zohoapis.eu.
func (s *Server) APIURL(dc zoho.DC) string {
	d, ok := zoho.Lookup(dc)
	if !ok {
		panic(fmt.Sprintf("fakeserver: unknown DC %q", dc))
	}
	return s.URL + "/" + d.APIHost
}

// ControlURL is the base of the JSON control API.
func (s *Server) ControlURL() string { return s.URL + controlPrefix }

// Clock is the server's clock.
func (s *Server) Clock() *Clock { return s.clock }

// Now is the server's current (virtual) time.
func (s *Server) Now() time.Time { return s.clock.Now() }

// Advance moves the virtual clock forward; it never sleeps.
func (s *Server) Advance(d time.Duration) error { return s.clock.Advance(d) }

// Limits returns the limits in force.
func (s *Server) Limits() zoho.Limits {
	s.mu.Lock()
	defer s.mu.Unlock()
	l := s.limits
	l.SelfClientLifetimes = append([]time.Duration(nil), l.SelfClientLifetimes...)
	return l
}

// Profile names the profile the limits started from.
func (s *Server) Profile() string {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.profile
}

// SetProfile switches to a named profile's limits.
func (s *Server) SetProfile(name string) error {
	l, err := zoho.Profile(name)
	if err != nil {
		return err
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	s.limits, s.profile = l, name
	return nil
}

// SetLimits replaces the limits in force after checking them.
func (s *Server) SetLimits(l zoho.Limits) error {
	if err := l.Validate(); err != nil {
		return err
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	s.limits = l
	return nil
}

// AddScopes makes more scopes known.
func (s *Server) AddScopes(scopes ...string) {
	s.mu.Lock()
	defer s.mu.Unlock()
	for _, sc := range scopes {
		s.scopes[sc] = true
	}
}

func (s *Server) unknownScopeLocked(scopes []string) string {
	for _, sc := range scopes {
		if !s.scopes[sc] && !zoho.IsIdentityScope(sc) { // "email" and the like are always known (ZA-JS-TOKEN)
			return sc
		}
	}
	return ""
}

// target is where a request is aimed: a DC's Accounts server or API domain,
// and the base URLs that DC has as this request sees them.
type target struct {
	dc   zoho.DC
	role zoho.Role
	path string // the path below the DC's base
	// host is the Zoho host name the request named: its Host (real host
	// names: the proxy, the in-process transport) or its path prefix
	host string
	// realHosts is true when the request came in on a real Zoho host name.
	realHosts bool
	prefix    string // scheme://host of the listener, for path-prefix requests
}

func (t target) accountsURL(dc zoho.DC) string {
	d, _ := zoho.Lookup(dc)
	if t.realHosts {
		return d.AccountsURL()
	}
	return t.prefix + "/" + d.AccountsHost
}

func (t target) apiURL(dc zoho.DC) string {
	d, _ := zoho.Lookup(dc)
	if t.realHosts {
		return d.APIURL()
	}
	return t.prefix + "/" + d.APIHost
}

type basePathKey struct{}

// baseURL is the listener's URL as the request reached it: scheme, host
// and, for a tenant of a shared fake, the tenant's path (/t/{id}).
func baseURL(r *http.Request) string {
	scheme := "http"
	if r.TLS != nil {
		scheme = "https"
	}
	base, _ := r.Context().Value(basePathKey{}).(string)
	return scheme + "://" + r.Host + base
}

// resolve finds the DC and role of a request, by Host first, then by the
// first path segment.
func resolve(r *http.Request) (target, bool) {
	host := r.Host
	if h, _, err := net.SplitHostPort(host); err == nil {
		host = h
	}
	if dc, role, ok := zoho.HostRole(host); ok {
		return target{dc: dc, role: role, path: r.URL.Path, host: strings.ToLower(host), realHosts: true}, true
	}
	rest := strings.TrimPrefix(r.URL.Path, "/")
	seg, sub, _ := strings.Cut(rest, "/")
	if dc, role, ok := zoho.HostRole(seg); ok {
		return target{dc: dc, role: role, path: "/" + sub, host: strings.ToLower(seg), prefix: baseURL(r)}, true
	}
	return target{}, false
}

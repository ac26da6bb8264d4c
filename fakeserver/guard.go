package fakeserver

import (
	"fmt"
	"log/slog"
	"net"
	"net/http"
	"sort"
	"strings"
	"sync"
	"time"
)

// The fake's guards against a client that abuses it: bounded connections,
// bounded time per connection, bounded state per run. They suit a fake that
// CI pipelines share; none of them shows to a well-behaved client.

// HTTPLimits bound the listener's connections and their time.
type HTTPLimits struct {
	// ReadHeader, Read, Write and Idle are http.Server's timeouts: a slow
	// or silent client holds a connection at most that long. Defaults:
	// 10s, 30s, 2m (a latency or hang fault answers within it), 60s.
	ReadHeader, Read, Write, Idle time.Duration
	// MaxConns caps the open connections (default 4096): past it, the
	// longest-idle keep-alive connections are closed to make room, so that
	// idle hoarders cannot starve new clients.
	MaxConns int
}

func (l HTTPLimits) withDefaults() HTTPLimits {
	def := func(d *time.Duration, v time.Duration) {
		if *d <= 0 {
			*d = v
		}
	}
	def(&l.ReadHeader, 10*time.Second)
	def(&l.Read, 30*time.Second)
	def(&l.Write, 2*time.Minute)
	def(&l.Idle, 60*time.Second)
	if l.MaxConns <= 0 {
		l.MaxConns = 4096
	}
	return l
}

// WithHTTPLimits sets the listener's bounds (zero fields keep their
// defaults).
func WithHTTPLimits(l HTTPLimits) Option { return func(o *options) { o.http = l } }

// WithRequestLogBytes bounds the request log's bytes (default
// DefaultRequestLogBytes); the oldest entries go first.
func WithRequestLogBytes(n int) Option { return func(o *options) { o.logBytes = n } }

// newHTTPServer is the http.Server of a listener: bounded in time, its
// errors (TLS handshakes, panics) sent to the structured log.
func newHTTPServer(h http.Handler, limits HTTPLimits, logger *slog.Logger, conns *connLimiter) *http.Server {
	l := limits.withDefaults()
	errLog := discardLog()
	if logger != nil {
		errLog = slog.NewLogLogger(logger.With("source", "http.Server").Handler(), slog.LevelWarn)
	}
	srv := &http.Server{Handler: h, ReadHeaderTimeout: l.ReadHeader, ReadTimeout: l.Read, WriteTimeout: l.Write,
		IdleTimeout: l.Idle, ErrorLog: errLog, MaxHeaderBytes: 64 << 10}
	if conns != nil {
		srv.ConnState = conns.track
	}
	return srv
}

// connLimiter tracks a listener's connections by state and, past max,
// closes the longest-idle ones.
type connLimiter struct {
	max int
	mu  sync.Mutex
	// idle holds the idle connections with the time they went idle.
	idle  map[net.Conn]time.Time
	total int
	// closedIdle counts the idle connections closed to make room.
	closedIdle int
}

func newConnLimiter(max int) *connLimiter {
	return &connLimiter{max: max, idle: map[net.Conn]time.Time{}}
}

func (c *connLimiter) track(conn net.Conn, state http.ConnState) {
	c.mu.Lock()
	defer c.mu.Unlock()
	switch state {
	case http.StateNew:
		c.total++
		if over := c.total - c.max; over > 0 {
			c.closeIdleLocked(over)
		}
	case http.StateIdle:
		c.idle[conn] = time.Now()
	case http.StateActive:
		delete(c.idle, conn)
	case http.StateClosed, http.StateHijacked:
		c.total--
		delete(c.idle, conn)
	}
}

// closeIdleLocked closes the n longest-idle connections (fewer if fewer
// are idle); their StateClosed comes later and counts them out.
func (c *connLimiter) closeIdleLocked(n int) {
	type idleConn struct {
		conn  net.Conn
		since time.Time
	}
	list := make([]idleConn, 0, len(c.idle))
	for conn, since := range c.idle {
		list = append(list, idleConn{conn, since})
	}
	sort.Slice(list, func(i, j int) bool { return list[i].since.Before(list[j].since) })
	for i := 0; i < n && i < len(list); i++ {
		delete(c.idle, list[i].conn)
		_ = list[i].conn.Close()
		c.closedIdle++
	}
}

// Caps bound what one run may hold on a shared fake (a tenant); zero
// fields are unbounded. Past a cap the fake answers HTTP 429 with a JSON
// error that names the cap.
type Caps struct {
	Clients int `json:"clients"`
	Users   int `json:"users"`
	Faults  int `json:"faults"`
	// LiveTokens bounds the grant codes, refresh and access tokens the
	// run holds (the authorization and token endpoints answer 429 past it).
	LiveTokens int `json:"live_tokens"`
	// RegistrationBytes bounds the bytes of the control requests that add
	// state (users, clients, multi-DC, consent scripts, scopes, seeds,
	// faults) over the run's life: what a run registers cannot outgrow it.
	RegistrationBytes int `json:"registration_bytes"`
}

func withAdminToken(t string) Option { return func(o *options) { o.adminToken = t } }

func withTenantName(id string) Option { return func(o *options) { o.tenant = id } }

// WithCaps bounds what the server holds.
func WithCaps(c Caps) Option { return func(o *options) { o.caps = c } }

// capError is a cap reached: HTTP 429 on the control API and the token
// endpoint.
type capError struct {
	what  string
	limit int
}

func (e *capError) Error() string {
	return fmt.Sprintf("this run holds %d %s, the most a run of this shared fake may: release some (or start a new run)", e.limit, e.what)
}

// capLocked says whether one more of what (of which there are n) passes
// its cap (0: no cap).
func capLocked(what string, n, limit int) error {
	if limit > 0 && n >= limit {
		return &capError{what: what, limit: limit}
	}
	return nil
}

// overTokenCap answers HTTP 429 to a request of the authorization or the
// token endpoint when the run holds its cap of codes and tokens, and
// reports whether it did.
func (s *Server) overTokenCap(x *exchange) bool {
	if s.opts.caps.LiveTokens == 0 {
		return false
	}
	s.mu.Lock()
	err := capLocked("live tokens and codes", len(s.grants)+len(s.access)+len(s.refresh), s.opts.caps.LiveTokens)
	s.mu.Unlock()
	if err == nil {
		return false
	}
	x.jsonError(http.StatusTooManyRequests, "too_many_tokens", err.Error())
	return true
}

// growing runs a control request that adds state (what: "users",
// "clients", "faults", or "" for state counted in bytes only) under the
// server's caps: one at a time, so that concurrent requests cannot pass a
// cap together, refused with HTTP 429 past a cap, and its body counted
// against RegistrationBytes when it succeeds.
func (s *Server) growing(r *http.Request, what string, f func(*Server, *http.Request) (int, any)) (int, any) {
	c := s.opts.caps
	if c == (Caps{}) {
		return f(s, r)
	}
	s.capMu.Lock()
	defer s.capMu.Unlock()
	if err := s.capCheck(what); err != nil {
		return result(nil, err, http.StatusBadRequest)
	}
	n := int(max(r.ContentLength, 0))
	if c.RegistrationBytes > 0 && s.regBytes+n > c.RegistrationBytes {
		return result(nil, &capError{what: "bytes of registrations", limit: c.RegistrationBytes}, http.StatusBadRequest)
	}
	status, body := f(s, r)
	if status < 300 {
		s.regBytes += n
	}
	return status, body
}

// capCheck says whether one more client, user or fault passes the server's
// caps ("" passes).
func (s *Server) capCheck(what string) error {
	c := s.opts.caps
	s.mu.Lock()
	clients, users := len(s.clients), len(s.users)
	s.mu.Unlock()
	switch what {
	case "clients":
		return capLocked(what, clients, c.Clients)
	case "users":
		return capLocked(what, users, c.Users)
	case "faults":
		return capLocked(what, len(s.Faults()), c.Faults)
	}
	return nil
}

// seedCapCheck says whether a seed file's users and clients fit under the
// caps beside what the server holds.
func (s *Server) seedCapCheck(f *SeedFile) error {
	c := s.opts.caps
	s.mu.Lock()
	clients, users := len(s.clients), len(s.users)
	s.mu.Unlock()
	if err := capLocked("users", users+len(f.Users)-1, c.Users); err != nil {
		return err
	}
	return capLocked("clients", clients+len(f.Clients)-1, c.Clients)
}

// secretReplacer redacts each value (longer than 3 bytes) wherever it
// appears, keeping a short prefix.
func secretReplacer(values ...string) *strings.Replacer {
	var pairs []string
	for _, v := range values {
		if len(v) > 3 {
			pairs = append(pairs, v, v[:2]+"…")
		}
	}
	if len(pairs) == 0 {
		return nil
	}
	return strings.NewReplacer(pairs...)
}

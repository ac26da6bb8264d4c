package fakeserver

import (
	"context"
	"crypto/rand"
	"crypto/subtle"
	"encoding/hex"
	"errors"
	"fmt"
	"net"
	"net/http"
	"path"
	"slices"
	"strings"
	"sync"
	"sync/atomic"
	"time"
)

// TenantsConfig configures a shared fake.
type TenantsConfig struct {
	// Max caps the live tenants (default 1000); creating one more answers
	// HTTP 503 until finished runs are released.
	Max int
	// IdleTTL releases a tenant nobody has used for that long (default 30
	// minutes of wall time): an abandoned run's state does not stay.
	IdleTTL time.Duration
	// Seed, if set, is applied to every new tenant (fixed client IDs and
	// secrets, users), so that CI configs can name them.
	Seed *SeedFile
	// ControlToken is the admin token: listing the tenants and releasing
	// another's need it. With one set, the shared control API also answers
	// beyond loopback (anyone who reaches it may create a run).
	ControlToken string
	// Caps bound what each tenant may hold (default DefaultTenantCaps).
	Caps *Caps
	// CreateRate caps the tenants one caller (an IP address) may create
	// per minute (default 30).
	CreateRate int
}

// DefaultTenantCaps bound each tenant of a shared fake: ample for a
// conformance run or a test suite, small enough that one pipeline cannot
// starve the others.
var DefaultTenantCaps = Caps{Clients: 200, Users: 200, Faults: 100, LiveTokens: 50000, RegistrationBytes: 2 << 20}

// DefaultTenantLogBytes bounds each tenant's request log.
const DefaultTenantLogBytes = 1 << 20

// Tenants is one fake process shared by many runs (CI jobs): each run
// creates a tenant, an isolated fake with its own clients, users, clock,
// faults and breaks, served under /t/{id}/ on the shared listener, and
// releases it when done. One run advancing its clock or overflowing a cap
// cannot touch another.
//
// The tenant model: creating a tenant (POST /_zconform/v1/tenants) answers
// its capability, a secret bearer token; the tenant's control API
// (/t/{id}/_zconform/v1/...) answers only that token (or the admin token),
// from anywhere, and releasing the tenant needs it too. Listing the
// tenants and releasing another's need the admin token
// (TenantsConfig.ControlToken). A tenant's OAuth endpoints stay open, as
// Zoho's are. Each tenant is capped (TenantsConfig.Caps), and so is the
// rate at which one caller creates tenants.
type Tenants struct {
	cfg  TenantsConfig
	opts []Option

	mu      sync.RWMutex
	tenants map[string]*tenant
	closed  bool
	// starting holds GET /_zconform/ready at 503 (SetReady(false))
	starting atomic.Bool
	// created holds, per caller, the times of its recent creations.
	created map[string][]time.Time

	// URL is the listener's base URL once started.
	URL      string
	listener net.Listener
	http     *http.Server
	stop     chan struct{}
}

type tenant struct {
	id      string
	token   string
	srv     *Server
	created time.Time
	// lastUsed is the wall time of its last request, in Unix nanoseconds.
	lastUsed atomic.Int64
}

// TenantInfo describes a tenant on the control API. Token, the tenant's
// capability, is only in the answer to its creation.
type TenantInfo struct {
	ID       string    `json:"id"`
	URL      string    `json:"url"`
	Control  string    `json:"control_api"`
	Token    string    `json:"token,omitempty"`
	Created  time.Time `json:"created"`
	LastUsed time.Time `json:"last_used"`
}

// NewTenants returns a shared fake; opts configure every tenant's server
// (profile, logger, ...). Use Handler in-process, or Start.
func NewTenants(cfg TenantsConfig, opts ...Option) *Tenants {
	if cfg.Max <= 0 {
		cfg.Max = 1000
	}
	if cfg.IdleTTL <= 0 {
		cfg.IdleTTL = 30 * time.Minute
	}
	if cfg.Caps == nil {
		c := DefaultTenantCaps
		cfg.Caps = &c
	}
	if cfg.CreateRate <= 0 {
		cfg.CreateRate = 30
	}
	opts = append(slices.Clone(opts), WithRequestLogSize(2000), WithRequestLogBytes(DefaultTenantLogBytes), WithCaps(*cfg.Caps))
	return &Tenants{cfg: cfg, opts: opts, tenants: map[string]*tenant{}, created: map[string][]time.Time{}, stop: make(chan struct{})}
}

const tenantPrefix = "/t/"

// errTooMany is a full fake or a caller creating too fast.
type errTooMany struct{ msg string }

func (e *errTooMany) Error() string { return e.msg }

// Create makes a tenant and returns it, with its capability.
func (ts *Tenants) Create() (TenantInfo, error) { return ts.create("") }

// create makes a tenant for a caller ("": no rate limit).
func (ts *Tenants) create(caller string) (TenantInfo, error) {
	var b [8]byte
	_, _ = rand.Read(b[:])
	id := hex.EncodeToString(b[:])
	var k [32]byte
	_, _ = rand.Read(k[:])
	token := hex.EncodeToString(k[:])
	// the tenant's control API takes its capability (or the admin token)
	opts := append(slices.Clone(ts.opts), WithControlToken(token), withAdminToken(ts.cfg.ControlToken), withTenantName(id))
	srv := NewUnstarted(opts...)
	if ts.cfg.Seed != nil {
		if err := srv.ApplySeed(ts.cfg.Seed); err != nil {
			return TenantInfo{}, err
		}
	}
	now := time.Now()
	ts.mu.Lock()
	defer ts.mu.Unlock()
	if ts.closed {
		return TenantInfo{}, errors.New("the shared fake is closed")
	}
	if len(ts.tenants) >= ts.cfg.Max {
		return TenantInfo{}, &errTooMany{fmt.Sprintf("%d runs are live, the most this fake takes: release finished ones (DELETE %s/tenants/{id} with the run's token) or wait for idle ones to expire", len(ts.tenants), controlPrefix)}
	}
	if caller != "" {
		recent := pruneTimes(ts.created[caller], now.Add(-time.Minute))
		if len(recent) >= ts.cfg.CreateRate {
			ts.created[caller] = recent
			return TenantInfo{}, &errTooMany{fmt.Sprintf("%s created %d runs in the last minute, the most one caller may: release finished runs and try again in a minute", caller, len(recent))}
		}
		ts.created[caller] = append(recent, now)
	}
	t := &tenant{id: id, token: token, srv: srv, created: now}
	t.lastUsed.Store(now.UnixNano())
	ts.tenants[id] = t
	info := ts.infoOf(t)
	info.Token = token
	return info, nil
}

// Tenant returns a tenant's server, for Go tests that share a Tenants.
func (ts *Tenants) Tenant(id string) (*Server, bool) {
	t, ok := ts.lookup(id)
	if !ok {
		return nil, false
	}
	return t.srv, true
}

func (ts *Tenants) lookup(id string) (*tenant, bool) {
	ts.mu.RLock()
	defer ts.mu.RUnlock()
	t, ok := ts.tenants[id]
	return t, ok
}

// Release frees a tenant's state; it reports whether the tenant existed.
func (ts *Tenants) Release(id string) bool {
	ts.mu.Lock()
	t, ok := ts.tenants[id]
	delete(ts.tenants, id)
	ts.mu.Unlock()
	if ok {
		t.srv.Close() // ends its hanging requests
	}
	return ok
}

// Len counts the live tenants.
func (ts *Tenants) Len() int {
	ts.mu.RLock()
	defer ts.mu.RUnlock()
	return len(ts.tenants)
}

// Sweep releases the tenants idle for longer than IdleTTL at now, and
// returns how many it released. Start runs it every minute.
func (ts *Tenants) Sweep(now time.Time) int {
	ts.mu.Lock()
	var idle []string
	for id, t := range ts.tenants {
		if now.Sub(time.Unix(0, t.lastUsed.Load())) > ts.cfg.IdleTTL {
			idle = append(idle, id)
		}
	}
	for caller, times := range ts.created {
		if recent := pruneTimes(times, now.Add(-time.Minute)); len(recent) == 0 {
			delete(ts.created, caller)
		} else {
			ts.created[caller] = recent
		}
	}
	ts.mu.Unlock()
	for _, id := range idle {
		ts.Release(id)
	}
	return len(idle)
}

// infoOf describes a tenant, its URLs relative to the listener ("" until
// the base is known: see withBase).
func (ts *Tenants) infoOf(t *tenant) TenantInfo {
	return TenantInfo{ID: t.id, URL: tenantPrefix + t.id, Control: tenantPrefix + t.id + controlPrefix, Created: t.created,
		LastUsed: time.Unix(0, t.lastUsed.Load()).UTC()}
}

func withBase(base string, i TenantInfo) TenantInfo {
	i.URL, i.Control = base+i.URL, base+i.Control
	return i
}

// Handler serves the shared control API (/_zconform/v1/tenants) and every
// tenant under /t/{id}/.
func (ts *Tenants) Handler() http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if ts.serveHealth(w, r) { // GET /_zconform/health and /ready, open to all (health.go)
			return
		}
		if rest, ok := strings.CutPrefix(r.URL.Path, tenantPrefix); ok {
			id, sub, _ := strings.Cut(rest, "/")
			t, found := ts.lookup(id)
			if !found {
				writeJSON(w, http.StatusNotFound, controlError{Error: fmt.Sprintf("no run %q on this fake: it was released or expired after %s idle; create one with POST %s/tenants", id, ts.cfg.IdleTTL, controlPrefix)})
				return
			}
			t.lastUsed.Store(time.Now().UnixNano())
			r2 := r.Clone(context.WithValue(r.Context(), basePathKey{}, tenantPrefix+id))
			// cleaned here, so that no "//" or ".." in the rest makes the
			// standard router redirect out of the tenant
			r2.URL.Path = path.Clean("/" + sub)
			if strings.HasSuffix(sub, "/") && r2.URL.Path != "/" {
				r2.URL.Path += "/"
			}
			r2.URL.RawPath = ""
			t.srv.Handler().ServeHTTP(w, r2)
			return
		}
		ts.control(w, r)
	})
}

// admin reports whether the request carries the admin token.
func (ts *Tenants) admin(r *http.Request) bool {
	return ts.cfg.ControlToken != "" && bearerIs(r, ts.cfg.ControlToken)
}

func bearerIs(r *http.Request, token string) bool {
	got, ok := strings.CutPrefix(r.Header.Get("Authorization"), "Bearer ")
	return ok && subtle.ConstantTimeCompare([]byte(got), []byte(token)) == 1
}

// caller is the request's remote address without the port.
func caller(r *http.Request) string {
	host, _, err := net.SplitHostPort(r.RemoteAddr)
	if err != nil {
		return r.RemoteAddr
	}
	return host
}

func isLoopback(host string) bool {
	ip := net.ParseIP(host)
	return ip != nil && ip.IsLoopback()
}

// control is the shared control API: create, list and release tenants.
func (ts *Tenants) control(w http.ResponseWriter, r *http.Request) {
	if !readBody(w, r) {
		return
	}
	base := baseURL(r)
	p := strings.TrimSuffix(r.URL.Path, "/")
	switch {
	case p == controlPrefix+"/tenants" && r.Method == http.MethodPost:
		if ts.cfg.ControlToken == "" && !isLoopback(caller(r)) {
			writeJSON(w, http.StatusForbidden, controlError{Error: "this shared fake answers only on loopback: start it with a control token to share it beyond"})
			return
		}
		who := caller(r)
		if ts.admin(r) {
			who = "" // the admin is not rate-limited
		}
		info, err := ts.create(who)
		var tooMany *errTooMany
		switch {
		case errors.As(err, &tooMany) && strings.Contains(err.Error(), "runs are live"):
			writeJSON(w, http.StatusServiceUnavailable, controlError{Error: err.Error()})
		case errors.As(err, &tooMany):
			w.Header().Set("Retry-After", "60")
			writeJSON(w, http.StatusTooManyRequests, controlError{Error: err.Error()})
		case err != nil:
			writeJSON(w, http.StatusInternalServerError, controlError{Error: err.Error()})
		default:
			writeJSON(w, http.StatusCreated, withBase(base, info))
		}
	case p == controlPrefix+"/tenants" && r.Method == http.MethodGet:
		if !ts.admin(r) {
			writeJSON(w, http.StatusUnauthorized, controlError{Error: "listing the runs needs the admin token: send Authorization: Bearer <token>, the $ZCONFORM_CONTROL_TOKEN zconform fake -tenants was started with"})
			return
		}
		ts.mu.RLock()
		list := make([]TenantInfo, 0, len(ts.tenants))
		for _, t := range ts.tenants {
			list = append(list, withBase(base, ts.infoOf(t)))
		}
		ts.mu.RUnlock()
		slices.SortFunc(list, func(a, b TenantInfo) int { return a.Created.Compare(b.Created) })
		writeJSON(w, http.StatusOK, map[string]any{"tenants": list, "max": ts.cfg.Max, "idle_ttl": ts.cfg.IdleTTL.String()})
	case strings.HasPrefix(p, controlPrefix+"/tenants/") && r.Method == http.MethodDelete:
		id := strings.TrimPrefix(p, controlPrefix+"/tenants/")
		t, ok := ts.lookup(id)
		if !ok || (!ts.admin(r) && !bearerIs(r, t.token)) {
			// the same answer for a run that does not exist and one that
			// is not the caller's: its ID tells nothing
			writeJSON(w, http.StatusNotFound, controlError{Error: fmt.Sprintf("no run %q of yours: send the run's token (Authorization: Bearer <token> from its creation)", id)})
			return
		}
		ts.Release(id)
		writeJSON(w, http.StatusOK, map[string]string{"released": id})
	default:
		writeJSON(w, http.StatusNotFound, controlError{Error: fmt.Sprintf("this fake is shared by many runs: create yours with POST %s/tenants and use the URL and token it answers (%s{id}/...)", controlPrefix, tenantPrefix)})
	}
}

// Start listens on addr (default 127.0.0.1:0) and sweeps idle tenants
// every minute.
func (ts *Tenants) Start(addr string) error {
	if addr == "" {
		addr = "127.0.0.1:0"
	}
	l, err := net.Listen("tcp", addr)
	if err != nil {
		return fmt.Errorf("listen on %s: %w (choose a free address)", addr, err)
	}
	ts.listener = l
	ts.URL = "http://" + urlHost(l.Addr(), addr)
	var o options
	for _, f := range ts.opts {
		f(&o)
	}
	ts.http = newHTTPServer(ts.Handler(), o.http, o.logger, newConnLimiter(o.http.withDefaults().MaxConns))
	go ts.http.Serve(l) //nolint:errcheck // returns on Close
	go func() {
		tick := time.NewTicker(time.Minute)
		defer tick.Stop()
		for {
			select {
			case now := <-tick.C:
				ts.Sweep(now)
			case <-ts.stop:
				return
			}
		}
	}()
	return nil
}

// Close stops the listener and releases every tenant.
func (ts *Tenants) Close() {
	ts.mu.Lock()
	if ts.closed {
		ts.mu.Unlock()
		return
	}
	ts.closed = true
	ids := make([]string, 0, len(ts.tenants))
	for id := range ts.tenants {
		ids = append(ids, id)
	}
	ts.mu.Unlock()
	close(ts.stop)
	for _, id := range ids {
		ts.Release(id)
	}
	if ts.http != nil {
		ts.http.Close()
	}
	if ts.listener != nil {
		_ = ts.listener.Close()
	}
}

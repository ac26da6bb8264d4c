package fakeserver

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"slices"
	"strings"
	"sync"
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
	// ControlToken, if set, is required on the control APIs, which then
	// also answer beyond loopback.
	ControlToken string
}

// Tenants is one fake process shared by many runs (CI jobs): each run
// creates a tenant, an isolated fake with its own clients, users, clock,
// faults and breaks, served under /t/{id}/ on the shared listener, and
// releases it when done. One run advancing its clock or overflowing a cap
// cannot touch another.
type Tenants struct {
	cfg  TenantsConfig
	opts []Option

	mu      sync.Mutex
	tenants map[string]*tenant
	closed  bool

	// URL is the listener's base URL once started.
	URL      string
	listener net.Listener
	http     *http.Server
	stop     chan struct{}
}

type tenant struct {
	id       string
	srv      *Server
	created  time.Time
	lastUsed time.Time
}

// TenantInfo describes a tenant on the control API.
type TenantInfo struct {
	ID       string    `json:"id"`
	URL      string    `json:"url"`
	Control  string    `json:"control_api"`
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
	if cfg.ControlToken != "" {
		opts = append(opts, WithControlToken(cfg.ControlToken))
	}
	return &Tenants{cfg: cfg, opts: append(opts, WithRequestLogSize(2000)), tenants: map[string]*tenant{}, stop: make(chan struct{})}
}

const tenantPrefix = "/t/"

// Create makes a tenant and returns its ID.
func (ts *Tenants) Create() (string, error) {
	ts.mu.Lock()
	defer ts.mu.Unlock()
	if ts.closed {
		return "", errors.New("the shared fake is closed")
	}
	if len(ts.tenants) >= ts.cfg.Max {
		return "", fmt.Errorf("%d runs are live, the most this fake takes: release finished ones (DELETE %s/tenants/{id}) or wait for idle ones to expire", len(ts.tenants), controlPrefix)
	}
	srv := NewUnstarted(ts.opts...)
	if ts.cfg.Seed != nil {
		if err := srv.ApplySeed(ts.cfg.Seed); err != nil {
			return "", err
		}
	}
	var b [8]byte
	_, _ = rand.Read(b[:])
	id := hex.EncodeToString(b[:])
	now := time.Now()
	ts.tenants[id] = &tenant{id: id, srv: srv, created: now, lastUsed: now}
	return id, nil
}

// Tenant returns a tenant's server, for Go tests that share a Tenants.
func (ts *Tenants) Tenant(id string) (*Server, bool) {
	ts.mu.Lock()
	defer ts.mu.Unlock()
	t, ok := ts.tenants[id]
	if !ok {
		return nil, false
	}
	return t.srv, true
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
	ts.mu.Lock()
	defer ts.mu.Unlock()
	return len(ts.tenants)
}

// Sweep releases the tenants idle for longer than IdleTTL at now, and
// returns how many it released. Start runs it every minute.
func (ts *Tenants) Sweep(now time.Time) int {
	ts.mu.Lock()
	var idle []string
	for id, t := range ts.tenants {
		if now.Sub(t.lastUsed) > ts.cfg.IdleTTL {
			idle = append(idle, id)
		}
	}
	ts.mu.Unlock()
	for _, id := range idle {
		ts.Release(id)
	}
	return len(idle)
}

func (ts *Tenants) info(base, id string, t *tenant) TenantInfo {
	return TenantInfo{ID: id, URL: base + tenantPrefix + id, Control: base + tenantPrefix + id + controlPrefix, Created: t.created, LastUsed: t.lastUsed}
}

// Handler serves the shared control API (/_zconform/v1/tenants) and every
// tenant under /t/{id}/.
func (ts *Tenants) Handler() http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if rest, ok := strings.CutPrefix(r.URL.Path, tenantPrefix); ok {
			id, sub, _ := strings.Cut(rest, "/")
			ts.mu.Lock()
			t, found := ts.tenants[id]
			if found {
				t.lastUsed = time.Now()
			}
			ts.mu.Unlock()
			if !found {
				writeJSON(w, http.StatusNotFound, controlError{Error: fmt.Sprintf("no run %q on this fake: it was released or expired after %s idle; create one with POST %s/tenants", id, ts.cfg.IdleTTL, controlPrefix)})
				return
			}
			r2 := r.Clone(context.WithValue(r.Context(), basePathKey{}, tenantPrefix+id))
			r2.URL.Path = "/" + sub
			r2.URL.RawPath = ""
			t.srv.Handler().ServeHTTP(w, r2)
			return
		}
		ts.control(w, r)
	})
}

func (ts *Tenants) allowed(r *http.Request) (string, int) {
	probe := &Server{opts: options{controlToken: ts.cfg.ControlToken}}
	return probe.controlAllowed(r)
}

// control is the shared control API: create, list and release tenants.
func (ts *Tenants) control(w http.ResponseWriter, r *http.Request) {
	if msg, status := ts.allowed(r); msg != "" {
		writeJSON(w, status, controlError{Error: msg})
		return
	}
	base := baseURL(r)
	path := strings.TrimSuffix(r.URL.Path, "/")
	switch {
	case path == controlPrefix+"/tenants" && r.Method == http.MethodPost:
		_, _ = io.Copy(io.Discard, http.MaxBytesReader(w, r.Body, maxBody))
		id, err := ts.Create()
		if err != nil {
			writeJSON(w, http.StatusServiceUnavailable, controlError{Error: err.Error()})
			return
		}
		ts.mu.Lock()
		info := ts.info(base, id, ts.tenants[id])
		ts.mu.Unlock()
		writeJSON(w, http.StatusCreated, info)
	case path == controlPrefix+"/tenants" && r.Method == http.MethodGet:
		ts.mu.Lock()
		list := make([]TenantInfo, 0, len(ts.tenants))
		for id, t := range ts.tenants {
			list = append(list, ts.info(base, id, t))
		}
		ts.mu.Unlock()
		slices.SortFunc(list, func(a, b TenantInfo) int { return a.Created.Compare(b.Created) })
		writeJSON(w, http.StatusOK, map[string]any{"tenants": list, "max": ts.cfg.Max, "idle_ttl": ts.cfg.IdleTTL.String()})
	case strings.HasPrefix(path, controlPrefix+"/tenants/") && r.Method == http.MethodDelete:
		id := strings.TrimPrefix(path, controlPrefix+"/tenants/")
		if !ts.Release(id) {
			writeJSON(w, http.StatusNotFound, controlError{Error: fmt.Sprintf("no run %q: it was released already or expired", id)})
			return
		}
		writeJSON(w, http.StatusOK, map[string]string{"released": id})
	default:
		writeJSON(w, http.StatusNotFound, controlError{Error: fmt.Sprintf("this fake is shared by many runs: create yours with POST %s/tenants and use the URL it answers (%s{id}/...)", controlPrefix, tenantPrefix)})
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
	ts.URL = "http://" + urlHost(l.Addr())
	ts.http = &http.Server{Handler: ts.Handler(), ReadHeaderTimeout: 10 * time.Second, ErrorLog: discardLog()}
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

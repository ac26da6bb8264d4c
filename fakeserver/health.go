package fakeserver

import (
	"net/http"
)

// Liveness and readiness, for whatever runs the fake: a container's
// probes, a CI service's wait loop, a compose healthcheck.
//
//	GET /_zconform/health  200 {"status":"ok"} while the process serves
//	GET /_zconform/ready   200 {"status":"ok"} once listening and seeded,
//	                       503 {"status":"starting"} until then
//
// They answer any caller, with or without a control token, from anywhere:
// they say nothing but that. They are not logged: a probe every second
// does not fill the request log. A shared fake (Tenants) answers them on
// its listener, and each run under /t/{id}/ as well.
const (
	HealthPath = "/_zconform/health"
	ReadyPath  = "/_zconform/ready"
)

// SetReady(false) makes GET /_zconform/ready answer 503 until
// SetReady(true): call it before Start when there is more to do before
// clients may come (seeding after Start, writing the certificate where
// they read it). A server is ready by default: a request that reaches it
// is served.
func (s *Server) SetReady(ready bool) { s.starting.Store(!ready) }

// SetReady(false) makes the shared fake's GET /_zconform/ready answer 503
// until SetReady(true); see Server.SetReady.
func (ts *Tenants) SetReady(ready bool) { ts.starting.Store(!ready) }

// serveHealth answers the health and readiness paths, and reports whether
// the request was one of them.
func (s *Server) serveHealth(w http.ResponseWriter, r *http.Request) bool {
	return serveHealth(w, r, func() string {
		select {
		case <-s.closed:
			return "stopping"
		default:
		}
		if s.starting.Load() {
			return "starting"
		}
		return ""
	})
}

// serveHealth answers the health and readiness paths on a shared fake's
// listener, and reports whether the request was one of them.
func (ts *Tenants) serveHealth(w http.ResponseWriter, r *http.Request) bool {
	return serveHealth(w, r, func() string {
		ts.mu.RLock()
		closed := ts.closed
		ts.mu.RUnlock()
		if closed {
			return "stopping"
		}
		if ts.starting.Load() {
			return "starting"
		}
		return ""
	})
}

// serveHealth answers HealthPath and ReadyPath; notReady says why the
// server is not ready ("" when it is).
func serveHealth(w http.ResponseWriter, r *http.Request, notReady func() string) bool {
	if r.URL.Path != HealthPath && r.URL.Path != ReadyPath {
		return false
	}
	w.Header().Set("Cache-Control", "no-store")
	if r.Method != http.MethodGet && r.Method != http.MethodHead {
		w.Header().Set("Allow", "GET, HEAD")
		writeJSON(w, http.StatusMethodNotAllowed, controlError{Error: r.URL.Path + " answers GET and HEAD"})
		return true
	}
	if r.URL.Path == ReadyPath {
		if why := notReady(); why != "" {
			writeJSON(w, http.StatusServiceUnavailable, map[string]string{"status": why})
			return true
		}
	}
	writeJSON(w, http.StatusOK, map[string]string{"status": "ok"})
	return true
}

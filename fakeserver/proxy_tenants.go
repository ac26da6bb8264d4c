package fakeserver

import (
	"crypto/subtle"
	"fmt"
	"net/http"
	"time"
)

// StartProxy starts an intercepting proxy in front of the shared fake
// (see Server.StartProxy). A proxy request names its run with the proxy's
// credentials, which clients take from the proxy URL:
// HTTPS_PROXY=http://{id}:{token}@host:port, the run's ID and token as
// POST /_zconform/v1/tenants answered them (or the admin token). Requests
// to the proxy's own address are served as on the shared fake's listener.
func (ts *Tenants) StartProxy(addr string, opts ...ProxyOption) (*Proxy, error) {
	var so options
	for _, f := range ts.opts {
		f(&so)
	}
	o := proxyOptions{limits: so.http, logger: so.logger}
	for _, f := range opts {
		f(&o)
	}
	own := ts.Handler()
	return startProxy(addr, o, func(r *http.Request) http.Handler {
		if r.Method != http.MethodConnect && !r.URL.IsAbs() {
			return own
		}
		id, token, ok := proxyCredentials(r)
		if !ok {
			return proxyAuthRequired("a shared fake's proxy needs the run's ID and token as the proxy's user and password: HTTPS_PROXY=http://{id}:{token}@{the proxy's host:port}")
		}
		t, found := ts.lookup(id)
		if !found || (subtle.ConstantTimeCompare([]byte(token), []byte(t.token)) != 1 && !ts.adminToken(token)) {
			return proxyAuthRequired(fmt.Sprintf("no run %q with that token on this fake: create one with POST %s/tenants and use its id and token", id, controlPrefix))
		}
		srv := t.srv
		return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
			t.lastUsed.Store(time.Now().UnixNano())
			srv.Handler().ServeHTTP(w, r)
		})
	})
}

func (ts *Tenants) adminToken(token string) bool {
	return ts.cfg.ControlToken != "" && subtle.ConstantTimeCompare([]byte(token), []byte(ts.cfg.ControlToken)) == 1
}

// proxyCredentials are the user and password of a request's
// Proxy-Authorization (Basic).
func proxyCredentials(r *http.Request) (user, pass string, ok bool) {
	h := r.Header.Get("Proxy-Authorization")
	if h == "" {
		return "", "", false
	}
	probe := &http.Request{Header: http.Header{"Authorization": {h}}}
	return probe.BasicAuth()
}

// proxyAuthRequired refuses a proxy request with HTTP 407 and why; the
// proxy answers it before any tunnel opens.
type proxyAuthRequired string

func (m proxyAuthRequired) ServeHTTP(w http.ResponseWriter, _ *http.Request) {
	w.Header().Set("Proxy-Authenticate", `Basic realm="zconform shared fake: user = run id, password = run token"`)
	http.Error(w, "zconform proxy: "+string(m), http.StatusProxyAuthRequired)
}

package fakeserver

import (
	"context"
	"crypto/tls"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net"
	"net/http"
	"strings"
	"sync"
	"time"

	"github.com/zconform/zconform/fixtures/zoho"
)

// The fake as an intercepting HTTPS proxy: a client that hard-codes
// Zoho's hosts (an official SDK) is pointed at the fake by the
// environment alone (HTTPS_PROXY and a CA to trust), not by its code.
//
// The proxy speaks CONNECT. A tunnel to any Zoho host name of any DC
// (accounts.zoho.eu:443, www.zohoapis.com:443, ...) ends at the proxy: it
// terminates TLS with a certificate its CA issues for that host and
// answers from the fake, whose handler then sees the real host name and
// speaks as Zoho does (location, accounts-server and api_domain name the
// real https:// hosts). Plain-HTTP proxy requests to Zoho hosts are
// answered too. Any other host is refused with HTTP 403, naming the host
// and the option that would let it through (ProxyPassThrough), so that a
// test never reaches the internet by accident. A request to the proxy
// itself (not a proxy request) is served by the fake as on its listener:
// the control API, health and readiness.
//
// The fake's handler is the one the listener and the in-process transport
// use: every rule, break, fault, the clock and the request log (which
// records the host each request named) are the same.

// ProxyOption configures a proxy.
type ProxyOption func(*proxyOptions)

type proxyOptions struct {
	ca          *CA
	caFile      string
	passThrough bool
	dial        func(ctx context.Context, network, addr string) (net.Conn, error)
	limits      HTTPLimits
	limitsSet   bool
	logger      *slog.Logger
}

// ProxyCA sets the CA that issues the proxy's certificates (default: a
// fresh one, NewCA).
func ProxyCA(ca *CA) ProxyOption { return func(o *proxyOptions) { o.ca = ca } }

// ProxyCAFile names the file the CA's certificate was written to, for the
// hint the proxy logs when a client does not trust it.
func ProxyCAFile(path string) ProxyOption { return func(o *proxyOptions) { o.caFile = path } }

// ProxyPassThrough tunnels CONNECTs to hosts other than Zoho's unchanged,
// and forwards plain proxy requests to them, instead of refusing them.
// Never the default: a test must not reach the internet by accident.
func ProxyPassThrough() ProxyOption { return func(o *proxyOptions) { o.passThrough = true } }

// ProxyHTTPLimits bounds the proxy's connections and their time, as
// WithHTTPLimits does the listener's (default: the server's).
func ProxyHTTPLimits(l HTTPLimits) ProxyOption {
	return func(o *proxyOptions) { o.limits, o.limitsSet = l, true }
}

// Proxy is a running intercepting proxy in front of a fake; see
// Server.StartProxy.
type Proxy struct {
	// URL is the proxy's address as HTTPS_PROXY takes it, e.g.
	// http://127.0.0.1:43127.
	URL string

	ca      *CA
	opts    proxyOptions
	handler func(*http.Request) http.Handler // the fake that answers a request

	listener net.Listener
	outer    *http.Server  // CONNECT and plain proxy requests
	inner    *http.Server  // HTTP inside the tunnels, after TLS
	tunnels  *chanListener // the tunnels' TLS connections, for inner
	conns    *connLimiter
	wg       sync.WaitGroup
	mu       sync.Mutex // orders wg.Add after Close against wg.Wait
	closed   chan struct{}
	closeMu  sync.Once
	forward  *http.Transport // plain proxy requests with pass-through
}

// StartProxy starts an intercepting proxy on addr (host:port; port 0
// picks a free one) that answers every Zoho host name from this server.
func (s *Server) StartProxy(addr string, opts ...ProxyOption) (*Proxy, error) {
	o := proxyOptions{limits: s.opts.http, logger: s.opts.logger}
	for _, f := range opts {
		f(&o)
	}
	return startProxy(addr, o, func(*http.Request) http.Handler { return s.handler })
}

// startProxy serves a proxy whose requests handler(r) answers, r being
// the CONNECT or the plain proxy request (a shared fake picks the run).
func startProxy(addr string, o proxyOptions, handler func(*http.Request) http.Handler) (*Proxy, error) {
	if o.ca == nil {
		ca, err := NewCA()
		if err != nil {
			return nil, err
		}
		o.ca = ca
	}
	if o.dial == nil {
		d := &net.Dialer{Timeout: 10 * time.Second}
		o.dial = d.DialContext
	}
	l, err := net.Listen("tcp", addr)
	if err != nil {
		return nil, fmt.Errorf("listen on %s for the proxy: %w (choose a free address)", addr, err)
	}
	p := &Proxy{
		URL: "http://" + urlHost(l.Addr(), addr), ca: o.ca, opts: o, handler: handler,
		listener: l, closed: make(chan struct{}),
		tunnels: &chanListener{addr: l.Addr(), conns: make(chan net.Conn), done: make(chan struct{})},
	}
	limits := o.limits.withDefaults()
	p.conns = newConnLimiter(limits.MaxConns)
	p.outer = newHTTPServer(http.HandlerFunc(p.serveOuter), o.limits, o.logger, p.conns)
	p.inner = newHTTPServer(http.HandlerFunc(p.serveInner), o.limits, o.logger, newConnLimiter(limits.MaxConns))
	p.inner.ConnContext = func(ctx context.Context, c net.Conn) context.Context {
		if t, ok := c.(*tunnelConn); ok {
			return context.WithValue(ctx, tunnelKey{}, t)
		}
		return ctx
	}
	if o.passThrough {
		p.forward = &http.Transport{Proxy: nil, DialContext: o.dial, ForceAttemptHTTP2: false,
			ResponseHeaderTimeout: limits.Write, IdleConnTimeout: limits.Idle}
	}
	go p.outer.Serve(l)         //nolint:errcheck // returns on Close
	go p.inner.Serve(p.tunnels) //nolint:errcheck // returns on Close
	return p, nil
}

// CA is the proxy's certificate authority.
func (p *Proxy) CA() *CA { return p.ca }

// Close stops the proxy and drops its connections and tunnels. Safe to
// call twice.
func (p *Proxy) Close() {
	p.closeMu.Do(func() {
		p.mu.Lock()
		close(p.closed)
		p.mu.Unlock()
		p.outer.Close()
		p.tunnels.Close()
		p.inner.Close()
		_ = p.listener.Close()
		if p.forward != nil {
			p.forward.CloseIdleConnections()
		}
	})
	p.wg.Wait()
}

// HTTPClient is an http.Client that goes through the proxy and trusts its
// CA: Zoho's real URLs reach the fake, as they would from any client set
// up by HTTPS_PROXY and a CA bundle.
func (p *Proxy) HTTPClient() *http.Client {
	return &http.Client{Transport: p.Transport()}
}

// Transport is an http.Transport that goes through the proxy and trusts
// its CA.
func (p *Proxy) Transport() *http.Transport {
	u, _ := http.NewRequest(http.MethodGet, p.URL, nil)
	return &http.Transport{Proxy: http.ProxyURL(u.URL), TLSClientConfig: &tls.Config{RootCAs: p.ca.CertPool()},
		ForceAttemptHTTP2: false, MaxIdleConnsPerHost: 16}
}

func (p *Proxy) log(msg string, args ...any) {
	if p.opts.logger != nil {
		p.opts.logger.Warn(msg, append([]any{"source", "proxy"}, args...)...)
	}
}

// zohoHost says whether hostport names a Zoho host, and returns the host
// name without its port, in lower case.
func zohoHost(hostport string) (string, bool) {
	host := hostport
	if h, _, err := net.SplitHostPort(hostport); err == nil {
		host = h
	}
	host = strings.ToLower(strings.TrimSuffix(host, "."))
	_, _, ok := zoho.HostRole(host)
	return host, ok
}

// refusal is the 403 body and log line for a host the proxy will not reach.
func refusal(host string) string {
	return fmt.Sprintf("zconform proxy: refusing to reach %s: it is not a Zoho host name (accounts.zoho.*, www.zohoapis.*), and the proxy reaches no other host unless started with -pass-through (Go: fakeserver.ProxyPassThrough); or add %s to NO_PROXY", host, host)
}

// serveOuter answers what arrives at the proxy's address.
func (p *Proxy) serveOuter(w http.ResponseWriter, r *http.Request) {
	switch {
	case r.Method == http.MethodConnect:
		p.connect(w, r)
	case r.URL.IsAbs(): // a plain proxy request: GET http://host/path
		h := p.handler(r)
		host, ok := zohoHost(r.URL.Host)
		if refused, isRefusal := h.(proxyAuthRequired); isRefusal {
			refused.ServeHTTP(w, r)
			return
		}
		switch {
		case ok:
			in := r.Clone(r.Context())
			in.Host, in.RequestURI = host, r.URL.RequestURI()
			in.URL.Scheme, in.URL.Host = "", ""
			in.Header.Del("Proxy-Authorization")
			in.Header.Del("Proxy-Connection")
			h.ServeHTTP(w, in)
		case p.opts.passThrough:
			p.forwardPlain(w, r)
		default:
			p.log("refused a proxy request", "host", r.URL.Host, "reason", "not a Zoho host; -pass-through to let it through")
			http.Error(w, refusal(r.URL.Host), http.StatusForbidden)
		}
	default: // the proxy's own address: the fake as on its listener
		p.handler(r).ServeHTTP(w, r)
	}
}

// connect answers a CONNECT: a tunnel to a Zoho host ends here, in TLS;
// one to another host is refused, or spliced through with pass-through.
func (p *Proxy) connect(w http.ResponseWriter, r *http.Request) {
	h := p.handler(r)
	if refused, ok := h.(proxyAuthRequired); ok {
		refused.ServeHTTP(w, r)
		return
	}
	host, ok := zohoHost(r.Host)
	if !ok && !p.opts.passThrough {
		p.log("refused a CONNECT", "host", r.Host, "reason", "not a Zoho host; -pass-through to tunnel it")
		http.Error(w, refusal(r.Host), http.StatusForbidden)
		return
	}
	var upstream net.Conn
	if !ok {
		var err error
		upstream, err = p.opts.dial(r.Context(), "tcp", r.Host)
		if err != nil {
			http.Error(w, fmt.Sprintf("zconform proxy: cannot reach %s: %v", r.Host, err), http.StatusBadGateway)
			return
		}
	}
	hj, isHijacker := w.(http.Hijacker)
	if !isHijacker {
		http.Error(w, "zconform proxy: this connection cannot be tunnelled", http.StatusInternalServerError)
		return
	}
	conn, brw, err := hj.Hijack()
	if err != nil {
		if upstream != nil {
			upstream.Close()
		}
		return
	}
	_ = conn.SetDeadline(time.Time{})
	if _, err := io.WriteString(conn, "HTTP/1.1 200 Connection established\r\n\r\n"); err != nil {
		conn.Close()
		if upstream != nil {
			upstream.Close()
		}
		return
	}
	client := net.Conn(conn)
	if n := brw.Reader.Buffered(); n > 0 { // a client that did not wait for the 200
		early, _ := brw.Reader.Peek(n)
		client = &prefixConn{Conn: conn, prefix: append([]byte(nil), early...)}
	}
	if !p.track() {
		client.Close()
		if upstream != nil {
			upstream.Close()
		}
		return
	}
	go func() {
		defer p.wg.Done()
		if upstream != nil {
			p.splice(client, upstream)
			return
		}
		p.terminate(client, host, h)
	}()
}

// track counts a tunnel's goroutine for Close to wait for, unless the
// proxy is closing.
func (p *Proxy) track() bool {
	p.mu.Lock()
	defer p.mu.Unlock()
	select {
	case <-p.closed:
		return false
	default:
	}
	p.wg.Add(1)
	return true
}

// terminate speaks TLS as host on a tunnel and hands the connection to
// the inner HTTP server.
func (p *Proxy) terminate(conn net.Conn, host string, h http.Handler) {
	limits := p.opts.limits.withDefaults()
	tc := tls.Server(conn, &tls.Config{
		NextProtos: []string{"http/1.1"},
		GetCertificate: func(*tls.ClientHelloInfo) (*tls.Certificate, error) {
			return p.ca.leaf(host) // the tunnel's host, whatever the SNI says
		},
	})
	_ = conn.SetDeadline(time.Now().Add(limits.ReadHeader))
	if err := tc.Handshake(); err != nil {
		p.handshakeFailed(conn, host, err)
		conn.Close()
		return
	}
	_ = conn.SetDeadline(time.Time{})
	t := &tunnelConn{Conn: tc, host: host, handler: h}
	select {
	case p.tunnels.conns <- t:
	case <-p.closed:
		tc.Close()
	}
}

// handshakeFailed logs a failed TLS handshake in a tunnel, with the hint
// a client that does not trust the CA needs.
func (p *Proxy) handshakeFailed(conn net.Conn, host string, err error) {
	msg := err.Error()
	// How clients that reject the certificate end the handshake, as Go
	// reports it: the alerts unknown_ca ("remote error: tls: unknown
	// certificate authority": OpenSSL under TLS 1.2), certificate_unknown
	// ("... unknown certificate") and bad_certificate (Go's clients); an
	// alert OpenSSL 3 (curl, Python) sends in plaintext under TLS 1.3,
	// before it has switched to the handshake keys, which Go cannot
	// decrypt ("local error: tls: bad record MAC"); or a bare close (Java's
	// HttpClient: EOF).
	untrusted := strings.Contains(msg, "unknown certificate") || strings.Contains(msg, "bad certificate") ||
		strings.Contains(msg, "bad record MAC") || errors.Is(err, io.EOF)
	where := "the file CA.WriteCert writes"
	if p.opts.caFile != "" {
		where = p.opts.caFile
	}
	if untrusted {
		p.log("TLS handshake failed: the client does not trust the zconform CA: point it at "+where+
			" (SSL_CERT_FILE, NODE_EXTRA_CA_CERTS, REQUESTS_CA_BUNDLE, CURL_CA_BUNDLE, curl --cacert, a Java trust store)",
			"host", host, "client", conn.RemoteAddr().String(), "error", msg)
		return
	}
	p.log("TLS handshake failed", "host", host, "client", conn.RemoteAddr().String(), "error", msg)
}

// serveInner serves a request that came through a tunnel: the fake sees
// the tunnel's host, whatever the request's Host header says.
func (p *Proxy) serveInner(w http.ResponseWriter, r *http.Request) {
	t, ok := r.Context().Value(tunnelKey{}).(*tunnelConn)
	if !ok {
		http.Error(w, "zconform proxy: not a tunnel", http.StatusInternalServerError)
		return
	}
	r.Host = t.host
	t.handler.ServeHTTP(w, r)
}

// splice copies both ways between a client and an upstream connection
// until either side closes.
func (p *Proxy) splice(client, upstream net.Conn) {
	done := make(chan struct{}, 2)
	cp := func(dst, src net.Conn) {
		_, _ = io.Copy(dst, src)
		if c, ok := dst.(interface{ CloseWrite() error }); ok {
			_ = c.CloseWrite()
		}
		done <- struct{}{}
	}
	go cp(upstream, client)
	go cp(client, upstream)
	select {
	case <-done:
		<-done
	case <-p.closed:
	}
	client.Close()
	upstream.Close()
}

// forwardPlain sends a plain proxy request to a host other than Zoho's
// (pass-through only).
func (p *Proxy) forwardPlain(w http.ResponseWriter, r *http.Request) {
	out := r.Clone(r.Context())
	out.RequestURI = ""
	out.Header.Del("Proxy-Authorization")
	out.Header.Del("Proxy-Connection")
	resp, err := p.forward.RoundTrip(out)
	if err != nil {
		http.Error(w, fmt.Sprintf("zconform proxy: cannot reach %s: %v", r.URL.Host, err), http.StatusBadGateway)
		return
	}
	defer resp.Body.Close()
	for k, vs := range resp.Header {
		for _, v := range vs {
			w.Header().Add(k, v)
		}
	}
	w.WriteHeader(resp.StatusCode)
	_, _ = io.Copy(w, resp.Body)
}

type tunnelKey struct{}

// tunnelConn is a tunnel's TLS connection with the host it was opened to
// and the fake that answers it.
type tunnelConn struct {
	net.Conn
	host    string
	handler http.Handler
}

// NetConn is the connection under the tunnel's TLS.
func (t *tunnelConn) NetConn() net.Conn { return t.Conn }

// prefixConn reads prefix before the connection.
type prefixConn struct {
	net.Conn
	prefix []byte
}

// NetConn is the connection under the prefix.
func (c *prefixConn) NetConn() net.Conn { return c.Conn }

func (c *prefixConn) Read(b []byte) (int, error) {
	if len(c.prefix) > 0 {
		n := copy(b, c.prefix)
		c.prefix = c.prefix[n:]
		return n, nil
	}
	return c.Conn.Read(b)
}

// chanListener is a net.Listener whose connections are handed to it.
type chanListener struct {
	addr  net.Addr
	conns chan net.Conn
	done  chan struct{}
	once  sync.Once
}

func (l *chanListener) Accept() (net.Conn, error) {
	select {
	case c := <-l.conns:
		return c, nil
	case <-l.done:
		return nil, net.ErrClosed
	}
}

func (l *chanListener) Close() error {
	l.once.Do(func() { close(l.done) })
	return nil
}

func (l *chanListener) Addr() net.Addr { return l.addr }

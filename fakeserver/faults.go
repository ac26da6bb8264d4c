package fakeserver

import (
	"bufio"
	"bytes"
	"container/list"
	"context"
	"encoding/json"
	"fmt"
	"net"
	"net/http"
	"slices"
	"strconv"
	"strings"
	"sync"
	"time"

	"github.com/zconform/zconform/fixtures/zoho"
)

// FaultKind names a fault on the wire.
type FaultKind string

// The faults. The HTTP-level ones answer with something Zoho would not
// normally send; the connection-level ones break the connection, and
// become the transport errors a Go client would see when the fake is
// mounted in-process.
const (
	// FaultStatus answers Fault.Status with Fault.Body and Fault.Header
	// (e.g. 500 with an HTML page, 503 with Retry-After, 200 with an error).
	FaultStatus FaultKind = "status"
	// FaultThrottle answers HTTP 400 {"error":"Access Denied",...}.
	FaultThrottle FaultKind = "throttle"
	// FaultNotJSON answers HTTP 200 with an HTML maintenance page.
	FaultNotJSON FaultKind = "not-json"
	// FaultWrongContentType answers the normal body as text/plain.
	FaultWrongContentType FaultKind = "wrong-content-type"
	// FaultTruncated answers the first half of the normal body, with a
	// Content-Length that matches it: valid HTTP, broken JSON.
	FaultTruncated FaultKind = "truncated"
	// FaultEmpty answers HTTP 200 with an empty body.
	FaultEmpty FaultKind = "empty"
	// FaultLatency answers normally after Fault.Latency.
	FaultLatency FaultKind = "latency"
	// FaultHang never answers: the request hangs until the client gives up
	// (or the server closes).
	FaultHang FaultKind = "hang"
	// FaultReset resets the connection without an answer.
	FaultReset FaultKind = "reset"
	// FaultCloseMidBody sends the headers and half the body, then closes
	// the connection.
	FaultCloseMidBody FaultKind = "close-mid-body"
	// FaultMillisecondExpiry answers a token request in the older shape
	// of some Zoho pages: expires_in in milliseconds (3600000) and
	// expires_in_sec in seconds; any other answer passes unchanged.
	FaultMillisecondExpiry FaultKind = "millisecond-expiry"
)

// FaultKinds lists every kind.
var FaultKinds = []FaultKind{FaultStatus, FaultThrottle, FaultNotJSON, FaultWrongContentType, FaultTruncated,
	FaultEmpty, FaultLatency, FaultHang, FaultReset, FaultCloseMidBody, FaultMillisecondExpiry}

// Endpoint names what a fault targets.
type Endpoint string

// The endpoints.
const (
	EndpointAuth     Endpoint = "auth"     // GET {AS}/oauth/v2/auth
	EndpointToken    Endpoint = "token"    // POST {AS}/oauth/v2/token
	EndpointRevoke   Endpoint = "revoke"   // POST {AS}/oauth/v2/token/revoke
	EndpointUserInfo Endpoint = "userinfo" // GET {AS}/oauth/user/info
	EndpointAPI      Endpoint = "api"      // {api_domain}/crm/...
)

var endpoints = []Endpoint{EndpointAuth, EndpointToken, EndpointRevoke, EndpointUserInfo, EndpointAPI}

// Fault is a fault to inject on matching requests.
type Fault struct {
	Kind FaultKind `json:"kind"`
	// DC limits the fault to one DC; empty means every DC.
	DC zoho.DC `json:"dc,omitempty"`
	// Endpoint limits the fault to one endpoint; empty means every one.
	Endpoint Endpoint `json:"endpoint,omitempty"`
	// Times is how often it fires before it stops; 0 means until removed.
	Times int `json:"times,omitempty"`
	// Share fires it on that share of the matching requests (0.25: one in
	// four, spread evenly, deterministically); 0 means every one.
	Share float64 `json:"share,omitempty"`
	// Status, Body and Header make a FaultStatus answer; Body's content
	// type is JSON when it looks like JSON, HTML otherwise, unless Header
	// sets one.
	Status int               `json:"status,omitempty"`
	Body   string            `json:"body,omitempty"`
	Header map[string]string `json:"header,omitempty"`
	// Latency is FaultLatency's delay.
	Latency time.Duration `json:"-"`
}

// FaultState is an injected fault and its counters.
type FaultState struct {
	ID int `json:"id"`
	Fault
	// Matched counts the requests it applied to; Fired those it broke.
	Matched int `json:"matched"`
	Fired   int `json:"fired"`
	// Done is true once it fired Times times.
	Done bool `json:"done"`
}

func (f Fault) validate() error {
	if !slices.Contains(FaultKinds, f.Kind) {
		return fmt.Errorf("unknown fault kind %q: use one of %s", f.Kind, joinKinds())
	}
	if f.DC != "" {
		if _, err := zoho.ParseDC(string(f.DC)); err != nil {
			return err
		}
	}
	if f.Endpoint != "" && !slices.Contains(endpoints, f.Endpoint) {
		return fmt.Errorf("unknown endpoint %q: use one of auth, token, revoke, userinfo, api", f.Endpoint)
	}
	switch {
	case f.Times < 0:
		return fmt.Errorf("times must be 0 (until removed) or more")
	case f.Share < 0 || f.Share > 1:
		return fmt.Errorf("share must be between 0 and 1 (0 means every request)")
	case f.Kind == FaultStatus && (f.Status < 200 || f.Status > 599):
		return fmt.Errorf("a status fault needs a status between 200 and 599 (a 1xx is not a final answer)")
	case f.Kind == FaultLatency && f.Latency <= 0:
		return fmt.Errorf("a latency fault needs a positive latency")
	}
	return nil
}

func joinKinds() string {
	parts := make([]string, len(FaultKinds))
	for i, k := range FaultKinds {
		parts[i] = string(k)
	}
	return strings.Join(parts, ", ")
}

// faultSet holds a server's faults: all of them, for their counters, and
// apart the active ones (not Done), which are all a request looks at.
type faultSet struct {
	mu     sync.Mutex
	nextID int
	faults []*FaultState // every fault, in the order added
	active list.List     // of *FaultState: those not Done, in the order added
	// scanned counts the faults take has looked at (for tests).
	scanned int
}

// take finds the first live fault for a request and counts it. A fault
// that is done leaves the active ones.
func (fs *faultSet) take(dc zoho.DC, ep Endpoint) *Fault {
	fs.mu.Lock()
	defer fs.mu.Unlock()
	for e := fs.active.Front(); e != nil; e = e.Next() {
		f := e.Value.(*FaultState)
		fs.scanned++
		if f.Done || (f.DC != "" && f.DC != dc) || (f.Endpoint != "" && f.Endpoint != ep) {
			continue
		}
		f.Matched++
		if f.Share > 0 && int(float64(f.Matched)*f.Share) == int(float64(f.Matched-1)*f.Share) {
			continue
		}
		f.Fired++
		if f.Times > 0 && f.Fired >= f.Times {
			f.Done = true
			fs.active.Remove(e)
		}
		out := f.Fault
		return &out
	}
	return nil
}

// InjectFault adds a fault and returns its ID. Faults are checked in the
// order they were added; the first that matches a request applies.
func (s *Server) InjectFault(f Fault) (int, error) {
	if err := f.validate(); err != nil {
		return 0, err
	}
	if f.DC != "" {
		f.DC, _ = zoho.ParseDC(string(f.DC)) // "EU" matches requests to eu
	}
	s.faults.mu.Lock()
	defer s.faults.mu.Unlock()
	s.faults.nextID++
	fs := &FaultState{ID: s.faults.nextID, Fault: f}
	s.faults.faults = append(s.faults.faults, fs)
	s.faults.active.PushBack(fs)
	return s.faults.nextID, nil
}

// Faults returns the injected faults with their counters.
func (s *Server) Faults() []FaultState {
	s.faults.mu.Lock()
	defer s.faults.mu.Unlock()
	out := make([]FaultState, len(s.faults.faults))
	for i, f := range s.faults.faults {
		out[i] = *f
	}
	return out
}

// RemoveFault removes one fault; it reports whether it existed.
func (s *Server) RemoveFault(id int) bool {
	s.faults.mu.Lock()
	defer s.faults.mu.Unlock()
	n := len(s.faults.faults)
	s.faults.faults = slices.DeleteFunc(s.faults.faults, func(f *FaultState) bool { return f.ID == id })
	for e := s.faults.active.Front(); e != nil; e = e.Next() {
		if e.Value.(*FaultState).ID == id {
			s.faults.active.Remove(e)
			break
		}
	}
	return len(s.faults.faults) < n
}

// ClearFaults removes every fault.
func (s *Server) ClearFaults() {
	s.faults.mu.Lock()
	defer s.faults.mu.Unlock()
	s.faults.faults = nil
	s.faults.active.Init()
}

// endpointOf names the endpoint a request targets ("" for none).
func endpointOf(t target) Endpoint {
	if t.role == zoho.API {
		return EndpointAPI
	}
	switch t.path {
	case "/oauth/v2/auth", JSRefreshPath:
		return EndpointAuth
	case "/oauth/v2/token":
		return EndpointToken
	case "/oauth/v2/token/revoke", "/oauth/v2/revoke/token":
		return EndpointRevoke
	case "/oauth/user/info":
		return EndpointUserInfo
	}
	return ""
}

type faultKey struct{}

// decided carries the fault the in-process transport already took for a
// request (nil: none), so that the handler does not take another.
type decided struct{ f *Fault }

func withFault(ctx context.Context, f *Fault) context.Context {
	return context.WithValue(ctx, faultKey{}, decided{f})
}

// faultFor returns the fault for a request: the one the transport decided,
// else the next matching one.
func (s *Server) faultFor(r *http.Request, t target) *Fault {
	if d, ok := r.Context().Value(faultKey{}).(decided); ok {
		return d.f
	}
	return s.faults.take(t.dc, endpointOf(t))
}

// buffered is a ResponseWriter that keeps the answer, so that a fault can
// change it before it leaves.
type buffered struct {
	header http.Header
	status int
	body   bytes.Buffer
}

func (b *buffered) Header() http.Header { return b.header }
func (b *buffered) WriteHeader(status int) {
	if b.status == 0 {
		b.status = status
	}
}
func (b *buffered) Write(p []byte) (int, error) {
	if b.status == 0 {
		b.status = http.StatusOK
	}
	return b.body.Write(p)
}

// wait sleeps d unless the request or the server ends first.
func (s *Server) wait(ctx context.Context, d time.Duration) bool {
	timer := time.NewTimer(d)
	defer timer.Stop()
	select {
	case <-timer.C:
		return true
	case <-ctx.Done():
	case <-s.closed:
	}
	return false
}

// serveFaulty answers a request under a fault. serve produces the normal
// answer.
func (s *Server) serveFaulty(w http.ResponseWriter, r *http.Request, f *Fault, x *exchange, serve func(http.ResponseWriter)) {
	x.errStr = "fault:" + string(f.Kind)
	switch f.Kind {
	case FaultLatency:
		if !s.wait(r.Context(), f.Latency) {
			x.status = 0
			panic(http.ErrAbortHandler) // no answer, not net/http's empty 200
		}
		serve(w)
		return
	case FaultHang:
		x.status = 0
		s.record(x) // logged while it hangs: the client may give up first
		select {
		case <-r.Context().Done():
		case <-s.closed:
		}
		// returning would make net/http send an empty 200 before Close
		// drops the connection: break it instead
		panic(http.ErrAbortHandler)
	case FaultStatus:
		ct := "text/html;charset=UTF-8"
		if b := strings.TrimSpace(f.Body); strings.HasPrefix(b, "{") || strings.HasPrefix(b, "[") {
			ct = "application/json;charset=UTF-8"
		}
		w.Header().Set("Content-Type", ct)
		for k, v := range f.Header {
			w.Header().Set(k, v)
		}
		w.Header().Set("Content-Length", strconv.Itoa(len(f.Body)))
		x.status = f.Status
		w.WriteHeader(f.Status)
		_, _ = w.Write([]byte(f.Body))
		return
	case FaultThrottle:
		x.reply(http.StatusBadRequest, map[string]string{"error": zoho.ErrThrottled, "error_description": zoho.ThrottleDescription})
		return
	case FaultNotJSON:
		body := "<html><head><title>Zoho Accounts</title></head><body><h1>Service temporarily unavailable</h1><p>We are performing scheduled maintenance.</p></body></html>"
		w.Header().Set("Content-Type", "text/html;charset=UTF-8")
		x.status = http.StatusOK
		w.WriteHeader(http.StatusOK)
		_, _ = w.Write([]byte(body))
		return
	case FaultEmpty:
		w.Header().Set("Content-Type", "application/json;charset=UTF-8")
		w.Header().Set("Content-Length", "0")
		x.status = http.StatusOK
		w.WriteHeader(http.StatusOK)
		return
	}
	// The rest change the normal answer: produce it first (its effects,
	// such as a burnt grant, happen as they would).
	b := &buffered{header: http.Header{}}
	serve(b)
	body := b.body.Bytes()
	x.status = b.status
	switch f.Kind {
	case FaultWrongContentType:
		copyHeader(w.Header(), b.header)
		w.Header().Set("Content-Type", "text/plain;charset=UTF-8")
		w.WriteHeader(b.status)
		_, _ = w.Write(body)
	case FaultMillisecondExpiry:
		copyHeader(w.Header(), b.header)
		body = millisecondExpiry(body)
		w.Header().Set("Content-Length", strconv.Itoa(len(body)))
		w.WriteHeader(b.status)
		_, _ = w.Write(body)
	case FaultTruncated:
		copyHeader(w.Header(), b.header)
		half := body[:len(body)/2]
		w.Header().Set("Content-Length", strconv.Itoa(len(half)))
		w.WriteHeader(b.status)
		_, _ = w.Write(half)
	case FaultReset:
		x.status = 0
		// logged before the reset: a client that sees it and asks the
		// request log finds it there
		s.record(x)
		if !hijackReset(w) {
			panic(http.ErrAbortHandler) // no connection to reset: abort it
		}
	case FaultCloseMidBody:
		s.record(x) // before the client can see the connection end
		if !hijackCloseMidBody(w, b, body) {
			copyHeader(w.Header(), b.header)
			w.Header().Set("Content-Length", strconv.Itoa(len(body)))
			w.WriteHeader(b.status)
			_, _ = w.Write(body[:len(body)/2])
			panic(http.ErrAbortHandler)
		}
	}
}

// millisecondExpiry rewrites a token answer into the older shape:
// expires_in in milliseconds, expires_in_sec in seconds. A body without a
// numeric expires_in is left as it is.
func millisecondExpiry(body []byte) []byte {
	var m map[string]any
	if json.Unmarshal(body, &m) != nil {
		return body
	}
	sec, ok := m["expires_in"].(float64)
	if !ok {
		return body
	}
	m["expires_in"], m["expires_in_sec"] = int64(sec)*1000, int64(sec)
	out, err := json.Marshal(m)
	if err != nil {
		return body
	}
	return out
}

func copyHeader(dst, src http.Header) {
	for k, vs := range src {
		dst[k] = vs
	}
}

// hijackReset closes the connection with a TCP reset.
func hijackReset(w http.ResponseWriter) bool {
	hj, ok := w.(http.Hijacker)
	if !ok {
		return false
	}
	conn, _, err := hj.Hijack()
	if err != nil {
		return false
	}
	// no close_notify: reset the TCP connection under TLS (and under the
	// proxy's tunnel)
	for {
		inner, ok := conn.(interface{ NetConn() net.Conn })
		if !ok {
			break
		}
		conn = inner.NetConn()
	}
	if tcp, ok := conn.(*net.TCPConn); ok {
		_ = tcp.SetLinger(0)
	}
	_ = conn.Close()
	return true
}

// hijackCloseMidBody writes the headers (promising the whole body) and half
// the body, then closes the connection.
func hijackCloseMidBody(w http.ResponseWriter, b *buffered, body []byte) bool {
	hj, ok := w.(http.Hijacker)
	if !ok {
		return false
	}
	conn, rw, err := hj.Hijack()
	if err != nil {
		return false
	}
	defer conn.Close()
	writeHead(rw.Writer, b, len(body))
	_, _ = rw.Write(body[:len(body)/2])
	_ = rw.Flush()
	return true
}

func writeHead(w *bufio.Writer, b *buffered, length int) {
	fmt.Fprintf(w, "HTTP/1.1 %d %s\r\n", b.status, http.StatusText(b.status))
	for k, vs := range b.header {
		if k == "Content-Length" {
			continue
		}
		for _, v := range vs {
			fmt.Fprintf(w, "%s: %s\r\n", k, v)
		}
	}
	fmt.Fprintf(w, "Content-Length: %d\r\nConnection: close\r\n\r\n", length)
}

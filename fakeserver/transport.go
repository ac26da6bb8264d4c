package fakeserver

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"net/url"
	"os"
	"regexp"
	"strconv"
	"strings"
	"syscall"

	"github.com/jarcoal/httpmock"
	"github.com/zconform/zconform/fixtures/zoho"
	"golang.org/x/oauth2"
)

// TransportOption configures Transport.
type TransportOption func(*transportOptions)

type transportOptions struct {
	passThrough http.RoundTripper
}

// PassThrough sends requests to hosts other than Zoho's through next
// (http.DefaultTransport when nil) instead of failing them.
func PassThrough(next http.RoundTripper) TransportOption {
	return func(o *transportOptions) {
		if next == nil {
			next = http.DefaultTransport
		}
		o.passThrough = next
	}
}

// zohoURL matches a URL on any Zoho host name of any DC.
var zohoURL = func() *regexp.Regexp {
	hosts := zoho.Hosts()
	for i, h := range hosts {
		hosts[i] = regexp.QuoteMeta(h)
	}
	return regexp.MustCompile(`^https?://(` + strings.Join(hosts, "|") + `)(:\d+)?(/|$)`)
}()

// ErrUnmatchedHost is what the in-process transport answers for a host
// that is not Zoho's, unless PassThrough was given.
var ErrUnmatchedHost = errors.New("fakeserver: the in-process transport serves only Zoho's host names (accounts.zoho.*, www.zohoapis.*): pass fakeserver.PassThrough(nil) to let other hosts through")

// Transport returns an http.RoundTripper that answers every Zoho host name
// of every DC (https://accounts.zoho.eu, https://www.zohoapis.com, ...) from
// this server, in-process: code that hard-codes Zoho's URLs runs unchanged
// against the fake. Faults apply as on the listener; connection-level ones
// become the transport errors a Go client would see (a reset connection,
// an unexpected EOF, the context's error for a hang). Other hosts fail with
// ErrUnmatchedHost unless PassThrough is given. It is built on
// github.com/jarcoal/httpmock's MockTransport, per client: nothing
// process-wide is replaced, so parallel tests do not meet.
func (s *Server) Transport(opts ...TransportOption) *httpmock.MockTransport {
	var o transportOptions
	for _, f := range opts {
		f(&o)
	}
	mt := httpmock.NewMockTransport()
	for _, m := range []string{http.MethodGet, http.MethodPost, http.MethodPut, http.MethodPatch, http.MethodDelete, http.MethodHead, http.MethodOptions} {
		mt.RegisterRegexpResponder(m, zohoURL, s.roundTrip)
	}
	if o.passThrough != nil {
		mt.RegisterNoResponder(o.passThrough.RoundTrip)
	} else {
		mt.RegisterNoResponder(func(req *http.Request) (*http.Response, error) {
			return nil, fmt.Errorf("%s %s: %w", req.Method, req.URL.Redacted(), ErrUnmatchedHost)
		})
	}
	return mt
}

// HTTPClient returns an http.Client on Transport: one line for code that
// takes an *http.Client.
func (s *Server) HTTPClient(opts ...TransportOption) *http.Client {
	return &http.Client{Transport: s.Transport(opts...)}
}

// OAuth2Context returns ctx carrying HTTPClient for golang.org/x/oauth2, so
// that an oauth2.Config with Zoho's real endpoint talks to the fake.
func (s *Server) OAuth2Context(ctx context.Context, opts ...TransportOption) context.Context {
	return context.WithValue(ctx, oauth2.HTTPClient, s.HTTPClient(opts...))
}

// errReset is the error a read from a reset connection gives.
func errReset(req *http.Request) error {
	return &net.OpError{Op: "read", Net: "tcp", Addr: fakeAddr(req.URL.Host), Err: os.NewSyscallError("read", syscall.ECONNRESET)}
}

type fakeAddr string

func (a fakeAddr) Network() string { return "tcp" }
func (a fakeAddr) String() string  { return string(a) }

// roundTrip serves one request in-process.
func (s *Server) roundTrip(req *http.Request) (*http.Response, error) {
	select {
	case <-s.closed:
		return nil, &net.OpError{Op: "dial", Net: "tcp", Addr: fakeAddr(req.URL.Host), Err: os.NewSyscallError("connect", syscall.ECONNREFUSED)}
	default:
	}
	r := req.Clone(req.Context())
	if r.Host == "" {
		r.Host = req.URL.Host
	}
	if r.Body == nil {
		r.Body = http.NoBody
	}
	r.RemoteAddr = "in-process:0"
	r.RequestURI = req.URL.RequestURI()
	t, _ := resolve(r)
	f := s.faults.take(t.dc, endpointOf(t))
	if f != nil {
		switch f.Kind {
		case FaultLatency:
			if !s.wait(req.Context(), f.Latency) {
				return nil, contextErr(req.Context())
			}
			f = nil // served normally below
		case FaultHang:
			select {
			case <-req.Context().Done():
				return nil, req.Context().Err()
			case <-s.closed:
				return nil, io.ErrUnexpectedEOF
			}
		}
	}
	// A reset or a close-mid-body goes through the handler as on the
	// listener, so that the normal answer's effects (a burnt grant, a
	// minted token) happen and the log names the fault; without a
	// connection to break, the handler aborts after writing what it would
	// have sent.
	r = r.WithContext(withFault(r.Context(), f))
	b := &buffered{header: http.Header{}}
	aborted := s.serveAbortable(b, r)
	if aborted && (f == nil || f.Kind != FaultCloseMidBody) {
		return nil, errReset(req)
	}
	if b.status == 0 {
		b.status = http.StatusOK
	}
	body := b.body.Bytes()
	resp := &http.Response{
		Status: strconv.Itoa(b.status) + " " + http.StatusText(b.status), StatusCode: b.status,
		Proto: "HTTP/1.1", ProtoMajor: 1, ProtoMinor: 1, Header: b.header, Request: req,
		ContentLength: int64(len(body)), Body: io.NopCloser(bytes.NewReader(body)),
	}
	if aborted { // close-mid-body: the headers promised more than was written
		resp.ContentLength, _ = strconv.ParseInt(b.header.Get("Content-Length"), 10, 64)
		resp.Body = io.NopCloser(io.MultiReader(bytes.NewReader(body), errReader{io.ErrUnexpectedEOF}))
	}
	return resp, nil
}

// serveAbortable runs the handler into b and reports whether it aborted
// (panicked with http.ErrAbortHandler, as a fault does to break the
// connection).
func (s *Server) serveAbortable(b *buffered, r *http.Request) (aborted bool) {
	defer func() {
		if v := recover(); v != nil {
			if v != http.ErrAbortHandler { //nolint:errorlint // the sentinel is panicked as is
				panic(v)
			}
			aborted = true
		}
	}()
	s.handler.ServeHTTP(b, r)
	return false
}

func contextErr(ctx context.Context) error {
	if err := ctx.Err(); err != nil {
		return err
	}
	return io.ErrUnexpectedEOF // the server closed
}

type errReader struct{ err error }

func (e errReader) Read([]byte) (int, error) { return 0, e.err }

// Redirect is where an authorization request sent the browser.
type Redirect struct {
	// URL is the whole Location.
	URL *url.URL
	// Code, Location, AccountsServer and State are the redirect's parameters;
	// Error is set instead when the user denied (access_denied).
	Code, Location, AccountsServer, State, Error string
}

// Authorize runs an authorization request of the DC in-process, with
// Zoho's real host name, and returns the redirect (consent as scripted, or
// the client's user approving). An error page is an error naming its code.
// It is for Go tests that need a grant token for code under test.
func (s *Server) Authorize(dc zoho.DC, params url.Values) (Redirect, error) {
	d, ok := zoho.Lookup(dc)
	if !ok {
		return Redirect{}, fmt.Errorf("unknown DC %q", dc)
	}
	req, err := http.NewRequest(http.MethodGet, d.AccountsURL()+"/oauth/v2/auth?"+params.Encode(), nil)
	if err != nil {
		return Redirect{}, err
	}
	b := &buffered{header: http.Header{}}
	s.handler.ServeHTTP(b, req.WithContext(withFault(req.Context(), nil)))
	loc := b.header.Get("Location")
	if loc == "" {
		code := "no redirect"
		if m := regexp.MustCompile(`id="error-code">([^<]+)<`).FindSubmatch(b.body.Bytes()); m != nil {
			code = string(m[1])
		}
		return Redirect{}, fmt.Errorf("authorization refused: %s (HTTP %d)", code, b.status)
	}
	u, err := url.Parse(loc)
	if err != nil {
		return Redirect{}, err
	}
	q := u.Query()
	if u.Fragment != "" {
		q, _ = url.ParseQuery(u.Fragment)
	}
	return Redirect{URL: u, Code: q.Get("code"), Location: q.Get("location"), AccountsServer: q.Get("accounts-server"),
		State: q.Get("state"), Error: q.Get("error")}, nil
}

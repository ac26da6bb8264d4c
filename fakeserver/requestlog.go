package fakeserver

import (
	"fmt"
	"net/http"
	"slices"
	"sort"
	"strings"
	"sync"
	"time"

	"github.com/zconform/zconform/fixtures/zoho"
)

// The request log: every request the fake answers, secrets redacted, for
// tests and people to read (Requests, GET /_zconform/v1/requests, -log).
// Nothing here changes an answer. It is bounded three ways: each entry
// (values and keys cut to a few hundred bytes, with a marker; at most
// logMaxParams parameters), the number of entries, and their bytes.

// Request is one entry of the request log, secrets redacted.
type Request struct {
	Seq  int64     `json:"seq"`
	Time time.Time `json:"time"`
	DC   zoho.DC   `json:"dc"`
	Role string    `json:"server"`
	// Host is the Zoho host name the request named: its Host header
	// (through the proxy or the in-process transport) or its path prefix.
	Host   string            `json:"host"`
	Method string            `json:"method"`
	Path   string            `json:"path"`
	Params map[string]string `json:"params"`
	// Status is the HTTP status sent; 0 when a fault sent no answer.
	Status int `json:"status"`
	// Error is the wire error the fake answered with, if any.
	Error string `json:"error,omitempty"`
}

// The bounds of one entry.
const (
	logMaxValue  = 256 // bytes of a value or a path
	logMaxKey    = 64  // bytes of a parameter name
	logMaxParams = 32  // parameters; the rest are counted under "…"
)

// DefaultRequestLogBytes bounds the log's bytes unless WithRequestLogBytes
// says otherwise: the oldest entries go first.
const DefaultRequestLogBytes = 8 << 20

// cut shortens s to at most n bytes (on a rune boundary), marking what it
// dropped: "abc…(+912345 bytes)".
func cut(s string, n int) string {
	if len(s) <= n {
		return s
	}
	i := n
	for i > 0 && !utf8RuneStart(s[i]) {
		i--
	}
	return fmt.Sprintf("%s…(+%d bytes)", s[:i], len(s)-i)
}

func utf8RuneStart(b byte) bool { return b&0xC0 != 0x80 }

// size estimates an entry's memory: its strings and a fixed overhead.
func (e Request) size() int {
	n := 160 + len(e.DC) + len(e.Role) + len(e.Method) + len(e.Path) + len(e.Error)
	for k, v := range e.Params {
		n += len(k) + len(v) + 48
	}
	return n
}

type requestLog struct {
	mu       sync.Mutex
	max      int // entries (0: no bound)
	maxBytes int // bytes (0: no bound)
	next     int64
	// entries[start:] are the live entries, oldest first; sizes likewise.
	entries []Request
	sizes   []int
	start   int
	bytes   int
}

func (l *requestLog) add(e Request) Request {
	l.mu.Lock()
	defer l.mu.Unlock()
	l.next++
	e.Seq = l.next
	size := e.size()
	l.entries = append(l.entries, e)
	l.sizes = append(l.sizes, size)
	l.bytes += size
	for live := len(l.entries) - l.start; live > 1 && ((l.max > 0 && live > l.max) || (l.maxBytes > 0 && l.bytes > l.maxBytes)); live-- {
		l.bytes -= l.sizes[l.start]
		l.entries[l.start] = Request{}
		l.start++
	}
	// compact once half the slice is dropped entries: each entry is moved
	// at most once per doubling, not once per request
	if l.start > 64 && l.start*2 > len(l.entries) {
		n := copy(l.entries, l.entries[l.start:])
		clear(l.entries[n:])
		l.entries = l.entries[:n]
		copy(l.sizes, l.sizes[l.start:])
		l.sizes = l.sizes[:n]
		l.start = 0
	}
	return e
}

// page returns up to limit entries after sequence number seq (limit <= 0:
// all), and whether more follow.
func (l *requestLog) page(seq int64, limit int) ([]Request, bool) {
	l.mu.Lock()
	defer l.mu.Unlock()
	live := l.entries[l.start:]
	i, _ := slices.BinarySearchFunc(live, seq+1, func(e Request, s int64) int { return int(e.Seq - s) })
	out := live[i:]
	more := false
	if limit > 0 && len(out) > limit {
		out, more = out[:limit], true
	}
	return slices.Clone(out), more
}

// Requests returns the logged requests, oldest first (the last 10000, and
// at most DefaultRequestLogBytes, by default), secrets redacted.
func (s *Server) Requests() []Request { r, _ := s.log.page(0, 0); return r }

// RequestsSince returns the logged requests after sequence number seq.
func (s *Server) RequestsSince(seq int64) []Request { r, _ := s.log.page(seq, 0); return r }

// RequestsPage returns up to limit logged requests after sequence number
// seq, and whether more follow (ask again with the last one's Seq).
func (s *Server) RequestsPage(seq int64, limit int) ([]Request, bool) { return s.log.page(seq, limit) }

// redact hides in s every code, token and client secret (by their forms)
// and every secret the server was configured with (by value).
func (s *Server) redact(v string) string {
	if s.secrets != nil {
		v = s.secrets.Replace(v)
	}
	return zoho.Redact(v)
}

// record logs the exchange, secrets redacted, each value cut to its bound;
// once: a later call does nothing.
func (s *Server) record(x *exchange) {
	if x.recorded {
		return
	}
	x.recorded = true
	keys := make([]string, 0, len(x.params))
	for k := range x.params {
		keys = append(keys, k)
	}
	sort.Strings(keys)
	params := map[string]string{}
	for i, k := range keys {
		if i == logMaxParams {
			params["…"] = fmt.Sprintf("%d more parameters", len(keys)-i)
			break
		}
		v := strings.Join(x.params[k], ",")
		if zoho.SecretParams[k] {
			v = zoho.RedactValue(v)
		} else {
			v = s.redact(v)
		}
		params[cut(s.redact(k), logMaxKey)] = cut(v, logMaxValue) // a bare "?<token>" makes the token a key
	}
	if _, _, ok := x.r.BasicAuth(); ok {
		params["authorization"] = "Basic …"
	} else if h := x.r.Header.Get("Authorization"); h != "" {
		scheme, tok, _ := strings.Cut(h, " ")
		// a header without a scheme ("<token>") leaves the secret in scheme
		params["authorization"] = cut(s.redact(scheme), logMaxKey) + " " + zoho.RedactValue(strings.TrimSpace(tok))
	}
	status := x.status
	if status == 0 && !strings.HasPrefix(x.errStr, "fault:") {
		status = http.StatusOK // net/http's default
	}
	// a fault that broke the connection (hang, reset) logs status 0: no answer
	e := Request{
		Time: s.clock.Now(), DC: x.t.dc, Role: x.t.role.String(), Host: cut(x.t.host, logMaxKey), Method: cut(x.r.Method, logMaxKey),
		Path: cut(s.redact(x.t.path), logMaxValue), Params: params, Status: status, Error: x.errStr,
	}
	e = s.log.add(e)
	if l := s.opts.logger; l != nil {
		attrs := []any{"seq", e.Seq, "dc", e.DC, "server", e.Role, "host", e.Host, "method", e.Method, "path", e.Path,
			"status", e.Status, "error", e.Error, "params", params}
		if s.opts.tenant != "" {
			attrs = append(attrs, "tenant", s.opts.tenant)
		}
		l.Info("request", attrs...)
	}
}

package fakeserver

import (
	"net/http"
	"slices"
	"strings"
	"sync"
	"time"

	"github.com/zconform/zconform/fixtures/zoho"
)

// The request log: every request the fake answers, secrets redacted, for
// tests and people to read (Requests, GET /_zconform/v1/requests, -log).
// Nothing here changes an answer.

// Request is one entry of the request log, secrets redacted.
type Request struct {
	Seq    int64             `json:"seq"`
	Time   time.Time         `json:"time"`
	DC     zoho.DC           `json:"dc"`
	Role   string            `json:"server"`
	Method string            `json:"method"`
	Path   string            `json:"path"`
	Params map[string]string `json:"params"`
	// Status is the HTTP status sent; 0 when a fault sent no answer.
	Status int `json:"status"`
	// Error is the wire error the fake answered with, if any.
	Error string `json:"error,omitempty"`
}

type requestLog struct {
	mu      sync.Mutex
	max     int
	next    int64
	entries []Request
}

func (l *requestLog) add(e Request) Request {
	l.mu.Lock()
	defer l.mu.Unlock()
	l.next++
	e.Seq = l.next
	// Drop the oldest entries only once the slice holds twice the cap:
	// compacting on every add once full copied the whole log per request.
	// since shows the last max entries either way.
	if l.max > 0 && len(l.entries) >= 2*l.max {
		n := copy(l.entries, l.entries[len(l.entries)-l.max+1:])
		clear(l.entries[n:])
		l.entries = l.entries[:n]
	}
	l.entries = append(l.entries, e)
	return e
}

func (l *requestLog) since(seq int64) []Request {
	l.mu.Lock()
	defer l.mu.Unlock()
	entries := l.entries
	if l.max > 0 && len(entries) > l.max {
		entries = entries[len(entries)-l.max:]
	}
	i, _ := slices.BinarySearchFunc(entries, seq+1, func(e Request, s int64) int { return int(e.Seq - s) })
	return slices.Clone(entries[i:])
}

// Requests returns the logged requests, oldest first (the last 10000 by
// default), secrets redacted.
func (s *Server) Requests() []Request { return s.log.since(0) }

// RequestsSince returns the logged requests after sequence number seq.
func (s *Server) RequestsSince(seq int64) []Request { return s.log.since(seq) }

// record logs the exchange, secrets redacted.
func (s *Server) record(x *exchange) {
	params := map[string]string{}
	for k, vs := range x.params {
		v := strings.Join(vs, ",")
		if zoho.SecretParams[k] {
			v = zoho.RedactValue(v)
		} else {
			v = zoho.Redact(v)
		}
		params[zoho.Redact(k)] = v // a bare "?<token>" makes the token a key
	}
	if _, _, ok := x.r.BasicAuth(); ok {
		params["authorization"] = "Basic …"
	} else if h := x.r.Header.Get("Authorization"); h != "" {
		scheme, tok, _ := strings.Cut(h, " ")
		// a header without a scheme ("<token>") leaves the secret in scheme
		params["authorization"] = zoho.Redact(scheme) + " " + zoho.RedactValue(strings.TrimSpace(tok))
	}
	status := x.status
	if status == 0 && !strings.HasPrefix(x.errStr, "fault:") {
		status = http.StatusOK // net/http's default
	}
	// a fault that broke the connection (hang, reset) logs status 0: no answer
	e := Request{
		Time: s.clock.Now(), DC: x.t.dc, Role: x.t.role.String(), Method: x.r.Method,
		Path: zoho.Redact(x.t.path), Params: params, Status: status, Error: x.errStr,
	}
	e = s.log.add(e)
	if l := s.opts.logger; l != nil {
		l.Info("request", "seq", e.Seq, "dc", e.DC, "server", e.Role, "method", e.Method, "path", e.Path,
			"status", e.Status, "error", e.Error, "params", params)
	}
}

package cases

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"net/url"
	"regexp"
	"strconv"
	"strings"
	"syscall"
	"time"

	"github.com/zconform/zconform/fakeserver"
	"github.com/zconform/zconform/fixtures/zoho"
	"github.com/zconform/zconform/reports"
	"github.com/zconform/zconform/suites/target"
	"golang.org/x/oauth2"
)

// The fake has fault injection.
var _ target.Faulter = (*target.Fake)(nil)

// The classes of what a client of the token endpoint observes, as
// ClassifyTokenError names them. A class is "<what was observed>, <advice>";
// the advice is what a well-behaved client does next:
//
//   - "retry": the failure is transient; the same request may work when
//     sent again (with a pause and a bound on the attempts);
//   - "retry after <d>": likewise, not before the answer's Retry-After;
//   - "back off": the server throttles or asks for time: try again later,
//     much later than a retry would;
//   - "no retry": sending the same request again cannot help (the server
//     decided, or answered something the client cannot read and cannot tell
//     whether it acted on).
//
// Retry or not is about the request, not the grant: a grant token the
// server has seen is burnt whatever the answer (K4-NOTE-3, and
// K4-TOKEN-CODE-b when the exchange worked but its answer was lost), so a
// retried exchange may still get invalid_code; a refresh can be retried.
//
// The vocabulary, in the order ClassifyTokenError tries it:
//
//	ok                              tokens came back
//	error <code>, back off          the answer carries Zoho's throttle "Access Denied" (or RFC 6749's
//	                                temporarily_unavailable, RFC 8628's slow_down), whatever the status
//	http <status>, retry after <d>  a transient status (408, 429, 5xx but 501 and 505) with Retry-After
//	                                (seconds, or an HTTP date relative to the answer's Date), <d> as
//	                                Go prints a duration: 30s, 2m0s
//	http <status>, retry            a transient status without Retry-After
//	error <code>, no retry          any other answer with an error member, whatever the status
//	                                (Zoho sends its errors with HTTP 200)
//	http <status>, no retry         any other non-2xx status, without an error member
//	unparsable answer, no retry     a 2xx answer whose body is not JSON: an HTML page, a truncated or
//	                                an empty body
//	missing access_token, no retry  a 2xx answer without access_token and without an error member
//	                                (x/oauth2 reads a text/plain body as a query string, so a JSON
//	                                body served as text/plain lands here)
//	timeout, retry                  the client gave up waiting (its timeout or deadline)
//	canceled, no retry              the caller canceled
//	connection reset, retry         the connection was reset
//	connection refused, retry       nothing listens
//	unexpected EOF, retry           the connection closed in the middle of the answer
//	connection closed, retry        the connection closed before any answer
//	other error, no retry           anything else (a TLS failure, a bad URL)
const (
	ClassOK             = "ok"
	ClassUnparsable     = "unparsable answer, no retry"
	ClassNoAccessToken  = "missing access_token, no retry"
	ClassTimeout        = "timeout, retry"
	ClassCanceled       = "canceled, no retry"
	ClassReset          = "connection reset, retry"
	ClassRefused        = "connection refused, retry"
	ClassUnexpectedEOF  = "unexpected EOF, retry"
	ClassClosed         = "connection closed, retry"
	ClassOther          = "other error, no retry"
	adviceRetry         = "retry"
	adviceNoRetry       = "no retry"
	adviceBackOff       = "back off"
	adviceRetryAfterFmt = "retry after %s"
)

// backOffCodes are error codes that ask the client to come back later.
var backOffCodes = map[string]bool{
	zoho.ErrThrottled:         true, // Zoho: "You have made too many requests continuously. Please try again after some time."
	"temporarily_unavailable": true, // RFC 6749 4.1.2.1
	"slow_down":               true, // RFC 8628 3.5
}

// transientStatus reports whether an HTTP status says "try again".
func transientStatus(s int) bool {
	switch {
	case s == http.StatusRequestTimeout, s == http.StatusTooManyRequests:
		return true
	case s == http.StatusNotImplemented, s == http.StatusHTTPVersionNotSupported:
		return false
	}
	return s >= 500 && s <= 599
}

// ClassifyTokenError names what a client of the token endpoint observed,
// from the error golang.org/x/oauth2 returned (Config.Exchange, a
// TokenSource's Token; nil is success), or from any error chain that holds
// an *oauth2.RetrieveError or a transport error, and says whether a
// well-behaved client sends the request again. The class is one of the
// vocabulary above; it is stable (no bodies, no addresses), so catalogue
// cases and reports can name it.
func ClassifyTokenError(err error) (class string, retry bool) {
	if err == nil {
		return ClassOK, false
	}
	var re *oauth2.RetrieveError
	if errors.As(err, &re) {
		return classifyAnswer(re)
	}
	msg := err.Error()
	var ne net.Error
	switch {
	case errors.Is(err, context.Canceled) || strings.HasSuffix(msg, "context canceled"):
		return ClassCanceled, false
	case errors.Is(err, context.DeadlineExceeded), errors.As(err, &ne) && ne.Timeout(),
		strings.Contains(msg, "Client.Timeout"), strings.Contains(msg, "deadline exceeded"), strings.Contains(msg, "i/o timeout"):
		return ClassTimeout, true
	case errors.Is(err, syscall.ECONNRESET), strings.Contains(msg, "connection reset"):
		return ClassReset, true
	case errors.Is(err, syscall.ECONNREFUSED), strings.Contains(msg, "connection refused"):
		return ClassRefused, true
	case errors.Is(err, io.ErrUnexpectedEOF), strings.Contains(msg, "unexpected EOF"):
		// x/oauth2 wraps body-read errors with %v: the message is all that is left
		return ClassUnexpectedEOF, true
	case errors.Is(err, io.EOF), strings.HasSuffix(msg, ": EOF"), strings.Contains(msg, "server closed"):
		return ClassClosed, true
	case strings.HasPrefix(msg, "oauth2: cannot parse json"), strings.HasPrefix(msg, "oauth2: cannot parse response"):
		return ClassUnparsable, false
	case strings.Contains(msg, "missing access_token"):
		return ClassNoAccessToken, false
	}
	return ClassOther, false
}

// classifyAnswer classifies an answer x/oauth2 refused (a non-2xx status,
// or an error member).
func classifyAnswer(re *oauth2.RetrieveError) (string, bool) {
	status := 0
	var header http.Header
	if re.Response != nil {
		status, header = re.Response.StatusCode, re.Response.Header
	}
	switch {
	case backOffCodes[re.ErrorCode]:
		return "error " + re.ErrorCode + ", " + adviceBackOff, true
	case transientStatus(status):
		if d, ok := retryAfter(header); ok {
			return fmt.Sprintf("http %d, "+adviceRetryAfterFmt, status, d), true
		}
		return fmt.Sprintf("http %d, %s", status, adviceRetry), true
	case re.ErrorCode != "":
		return "error " + re.ErrorCode + ", " + adviceNoRetry, false
	}
	return fmt.Sprintf("http %d, %s", status, adviceNoRetry), false
}

// retryAfter reads Retry-After: delta-seconds, or an HTTP date taken
// relative to the answer's Date (else now), rounded to seconds.
func retryAfter(h http.Header) (time.Duration, bool) {
	v := strings.TrimSpace(h.Get("Retry-After"))
	if v == "" {
		return 0, false
	}
	if n, err := strconv.Atoi(v); err == nil && n >= 0 {
		return time.Duration(n) * time.Second, true
	}
	at, err := http.ParseTime(v)
	if err != nil {
		return 0, false
	}
	now := time.Now()
	if d, err := http.ParseTime(h.Get("Date")); err == nil {
		now = d
	}
	if d := at.Sub(now).Round(time.Second); d > 0 {
		return d, true
	}
	return 0, false
}

// checkFault injects the case's fault on the wire, then drives the checked
// request (a code exchange or a refresh) with the reference client,
// golang.org/x/oauth2, and compares the class of what it observed with the
// expectation. The case fails when the client observes another class, and
// when the fault did not fire. Variants:
//
//   - retry-same-code (exchange): then exchange the same code again; it must
//     get invalid_code, as the exchange the broken answer belonged to used
//     the grant (K4-TOKEN-CODE-b);
//   - retry (refresh): then refresh again; it must work.
func checkFault(r *run) error {
	spec := r.c.Stimulus.Fault
	if spec == nil {
		return fmt.Errorf("%s: the check fault needs a stimulus.fault", r.c.Location())
	}
	ft, ok := r.t.(target.Faulter)
	if !ok {
		return &Skipped{Reason: fmt.Sprintf("needs fault injection: target %s cannot inject faults on the wire", r.t.Name())}
	}
	dc := r.c.Stimulus.DC
	wire, err := spec.Wire(dc)
	if err != nil {
		return fmt.Errorf("%s: stimulus.fault: %v", r.c.Location(), err)
	}

	base := r.t.HTTP()
	next := base.Transport
	if next == nil {
		next = http.DefaultTransport
	}
	hc := &http.Client{Transport: &recordingTransport{next: next, r: r}, Timeout: spec.Timeout(), CheckRedirect: base.CheckRedirect}
	defer hc.CloseIdleConnections()
	ctx := context.WithValue(r.ctx, oauth2.HTTPClient, hc)

	var (
		c      client
		step   string
		do     func() (*oauth2.Token, error)
		code   string
		cfgFor = func(c client) *oauth2.Config {
			return &oauth2.Config{
				ClientID: c.ID, ClientSecret: c.Secrets[dc], RedirectURL: c.redirect(),
				Endpoint: oauth2.Endpoint{TokenURL: r.t.AccountsURL(dc) + "/oauth/v2/token", AuthStyle: oauth2.AuthStyleInParams},
			}
		}
	)
	switch r.c.Stimulus.Endpoint {
	case "token":
		if c, err = r.webClient(dc, ""); err != nil {
			return err
		}
		g, err := r.mustGrant(dc, c, nil)
		if err != nil {
			return err
		}
		code = g.code
		cfg := cfgFor(c)
		step = "exchange (golang.org/x/oauth2)"
		do = func() (*oauth2.Token, error) { return cfg.Exchange(ctx, code) }
	case "refresh":
		var t tokens
		if c, t, err = r.startWithTokens(); err != nil {
			return err
		}
		cfg := cfgFor(c)
		step = "refresh (golang.org/x/oauth2)"
		do = func() (*oauth2.Token, error) {
			return cfg.TokenSource(ctx, &oauth2.Token{RefreshToken: t.refresh}).Token()
		}
	default:
		return fmt.Errorf("%s: the check fault drives endpoint token (an exchange) or refresh, not %q", r.c.Location(), r.c.Stimulus.Endpoint)
	}

	id, err := ft.InjectFault(wire)
	if err != nil {
		return fmt.Errorf("%s: injecting the fault: %v", r.c.Location(), err)
	}
	desc := describeFault(wire)
	r.sent = append(r.sent, fmt.Sprintf("(fault injected: %s; the client's timeout is %s)", desc, spec.Timeout()))
	step += " under " + desc

	start := time.Now()
	_, err = do()
	elapsed := time.Since(start)
	class, _ := ClassifyTokenError(err)
	status := statusOf(err, r)
	r.observeClient(step, class, err)

	want := ClassOK
	if !r.want.OK {
		want = r.want.Error
	}
	if class != want || (r.want.HTTP != 0 && status != r.want.HTTP) {
		w, g := want, class
		if r.want.HTTP != 0 {
			w = fmt.Sprintf("%s (HTTP %d)", want, r.want.HTTP)
		}
		if status != 0 {
			g = fmt.Sprintf("%s (HTTP %d)", class, status)
		}
		if err != nil {
			g += ": " + short(err.Error())
		}
		return &Failure{Step: step, Want: "the client observes " + w, Got: g,
			Detail: "a well-behaved client (golang.org/x/oauth2) classified by cases.ClassifyTokenError"}
	}
	if !fired(ft, id) {
		return &Failure{Step: step, Want: "the fault fires on the checked request (" + desc + ")", Got: "it did not fire: the target answered as if there were none",
			Detail: "a fault case proves nothing about a fault that did not happen"}
	}
	if wire.Kind == fakeserver.FaultLatency && elapsed < wire.Latency {
		return &Failure{Step: step, Want: fmt.Sprintf("an answer after at least %s", wire.Latency), Got: fmt.Sprintf("an answer after %s", elapsed.Round(time.Millisecond))}
	}

	switch r.c.Stimulus.Variant {
	case "":
		return nil
	case "retry-same-code":
		if code == "" {
			return fmt.Errorf("%s: variant retry-same-code needs endpoint token", r.c.Location())
		}
		_, err := do()
		got, _ := ClassifyTokenError(err)
		if want := "error " + zoho.ErrInvalidCode + ", " + adviceNoRetry; got != want {
			r.observeClient("exchange the same code again (the fault has passed)", got, err)
			return &Failure{Step: "exchange the same code again (the fault has passed)", Want: "the client observes " + want, Got: got,
				Detail: "the exchange whose answer was lost reached the server: the grant token is used"}
		}
		return nil
	case "retry":
		_, err := do()
		if got, _ := ClassifyTokenError(err); got != ClassOK {
			r.observeClient("send the same request again (the fault has passed)", got, err)
			return &Failure{Step: "send the same request again (the fault has passed)", Want: "the client observes ok", Got: got,
				Detail: "the class said retry: once the fault has passed, the retry must work"}
		}
		return nil
	}
	return fmt.Errorf("%s: the check fault knows the variants retry-same-code and retry, not %q", r.c.Location(), r.c.Stimulus.Variant)
}

// observeClient records what the reference client observed at a step:
// the HTTP status of the answer, if one came, and the class of its error.
func (r *run) observeClient(step, class string, err error) {
	obs := &reports.Observed{Step: step, Status: statusOf(err, r)}
	if class != ClassOK {
		obs.Error = class
	}
	r.observed = obs
}

// fired reports whether the fault with that ID fired.
func fired(ft target.Faulter, id int) bool {
	for _, f := range ft.Faults() {
		if f.ID == id {
			return f.Fired > 0
		}
	}
	return false
}

// describeFault says what a fault does, for the transcript.
func describeFault(f fakeserver.Fault) string {
	s := string(f.Kind)
	switch f.Kind {
	case fakeserver.FaultStatus:
		s = fmt.Sprintf("status %d", f.Status)
		for k, v := range f.Header {
			s += fmt.Sprintf(" %s: %s", k, v)
		}
		switch b := strings.TrimSpace(f.Body); {
		case strings.HasPrefix(b, "{") && len(b) <= 80:
			s += " " + b
		case b != "":
			s += fmt.Sprintf(" (a %d-byte body)", len(b))
		}
	case fakeserver.FaultLatency:
		s = fmt.Sprintf("latency %s", f.Latency)
	}
	return fmt.Sprintf("%s fault on %s at %s", s, f.Endpoint, strings.ToUpper(string(f.DC)))
}

// statusOf is the HTTP status the client saw: the refused answer's, else
// the last one the transcript recorded (0: none, a transport failure).
func statusOf(err error, r *run) int {
	var re *oauth2.RetrieveError
	if errors.As(err, &re) && re.Response != nil {
		return re.Response.StatusCode
	}
	if err == nil {
		return http.StatusOK
	}
	var ue *url.Error
	if errors.As(err, &ue) {
		return 0 // no answer at all
	}
	return r.lastStatus
}

// cutToken matches what is left of a code or token in an answer cut
// short ("1000.299bef23fc6b"), which zoho.Redact, looking for whole ones,
// would leave.
var cutToken = regexp.MustCompile(`1000\.[0-9a-f]{4,}[0-9a-f.]*`)

// redactCut redacts secrets, whole or cut.
func redactCut(s string) string {
	return zoho.Redact(cutToken.ReplaceAllStringFunc(s, zoho.RedactValue))
}

func short(s string) string {
	s = strings.Join(strings.Fields(redactCut(s)), " ")
	if len(s) > 160 {
		return s[:160] + "…"
	}
	return s
}

// recordingTransport writes the reference client's requests and answers
// into the run's transcript, redacted, including an answer cut short.
type recordingTransport struct {
	next http.RoundTripper
	r    *run
}

func (t *recordingTransport) RoundTrip(req *http.Request) (*http.Response, error) {
	var params url.Values
	if req.GetBody != nil {
		if b, err := req.GetBody(); err == nil {
			data, _ := io.ReadAll(b)
			params, _ = url.ParseQuery(string(data))
		}
	}
	u := req.URL.String()
	resp, err := t.next.RoundTrip(req)
	if err != nil {
		t.r.lastStatus = 0
		t.r.record(req.Method, u, params, answer{}, err)
		return nil, err
	}
	t.r.lastStatus = resp.StatusCode
	resp.Body = &recordingBody{ReadCloser: resp.Body, done: func(body []byte, readErr error) {
		body = []byte(redactCut(string(body)))
		t.r.record(req.Method, u, params, answer{status: resp.StatusCode, body: body, header: resp.Header}, nil)
		last := &t.r.sent[len(t.r.sent)-1]
		if ct := resp.Header.Get("Content-Type"); ct != "" {
			*last += " [" + ct + "]"
		}
		if ra := resp.Header.Get("Retry-After"); ra != "" {
			*last += " [Retry-After: " + ra + "]"
		}
		if readErr != nil {
			*last += " … then " + redactCut(readErr.Error())
		}
	}}
	return resp, nil
}

// recordingBody keeps what was read of an answer and reports it on Close.
type recordingBody struct {
	io.ReadCloser
	buf    bytes.Buffer
	err    error
	done   func([]byte, error)
	closed bool
}

func (b *recordingBody) Read(p []byte) (int, error) {
	n, err := b.ReadCloser.Read(p)
	if b.buf.Len() < 4096 {
		b.buf.Write(p[:n])
	}
	if err != nil && err != io.EOF && b.err == nil {
		b.err = err
	}
	return n, err
}

func (b *recordingBody) Close() error {
	if !b.closed {
		b.closed = true
		b.done(b.buf.Bytes(), b.err)
	}
	return b.ReadCloser.Close()
}

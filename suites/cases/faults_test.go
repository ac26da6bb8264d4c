package cases_test

import (
	"context"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"net/url"
	"os"
	"syscall"
	"testing"
	"time"

	"github.com/zconform/zconform/fakeserver"
	"github.com/zconform/zconform/fixtures"
	"github.com/zconform/zconform/fixtures/zoho"
	"github.com/zconform/zconform/suites/cases"
	"golang.org/x/oauth2"
)

func retrieveError(status int, code string, header http.Header) *oauth2.RetrieveError {
	if header == nil {
		header = http.Header{}
	}
	return &oauth2.RetrieveError{Response: &http.Response{StatusCode: status, Header: header}, ErrorCode: code}
}

// The classification of what a client of the token endpoint observed, one
// row per class of the vocabulary.
func TestClassifyTokenError(t *testing.T) {
	date := time.Date(2026, 1, 2, 3, 4, 5, 0, time.UTC)
	reset := &url.Error{Op: "Post", URL: "https://accounts.zoho.com/oauth/v2/token",
		Err: &net.OpError{Op: "read", Net: "tcp", Err: os.NewSyscallError("read", syscall.ECONNRESET)}}
	for _, c := range []struct {
		name  string
		err   error
		class string
		retry bool
	}{
		{"success", nil, "ok", false},
		{"throttle", retrieveError(400, zoho.ErrThrottled, nil), "error Access Denied, back off", true},
		{"throttle under 503", retrieveError(503, zoho.ErrThrottled, nil), "error Access Denied, back off", true},
		{"temporarily_unavailable", retrieveError(200, "temporarily_unavailable", nil), "error temporarily_unavailable, back off", true},
		{"503 Retry-After seconds", retrieveError(503, "", http.Header{"Retry-After": {"30"}}), "http 503, retry after 30s", true},
		{"429 Retry-After date", retrieveError(429, "", http.Header{"Retry-After": {date.Add(2 * time.Minute).Format(http.TimeFormat)}, "Date": {date.Format(http.TimeFormat)}}), "http 429, retry after 2m0s", true},
		{"503 Retry-After garbage", retrieveError(503, "", http.Header{"Retry-After": {"soon"}}), "http 503, retry", true},
		{"500", retrieveError(500, "", nil), "http 500, retry", true},
		{"502 with an error member", retrieveError(502, "server_error", nil), "http 502, retry", true},
		{"408", retrieveError(408, "", nil), "http 408, retry", true},
		{"501", retrieveError(501, "", nil), "http 501, no retry", false},
		{"Zoho's HTTP 200 error", retrieveError(200, zoho.ErrInvalidCode, nil), "error invalid_code, no retry", false},
		{"server_error at 200", retrieveError(200, "server_error", nil), "error server_error, no retry", false},
		{"400 with an error member", retrieveError(400, "invalid_client", nil), "error invalid_client, no retry", false},
		{"404 page", retrieveError(404, "", nil), "http 404, no retry", false},
		{"wrapped answer", fmt.Errorf("refreshing: %w", retrieveError(500, "", nil)), "http 500, retry", true},
		{"not JSON", errors.New("oauth2: cannot parse json: invalid character '<' looking for beginning of value"), "unparsable answer, no retry", false},
		{"empty", errors.New("oauth2: cannot parse json: unexpected end of JSON input"), "unparsable answer, no retry", false},
		{"no access_token", errors.New("oauth2: server response missing access_token"), "missing access_token, no retry", false},
		{"client timeout", &url.Error{Op: "Post", URL: "u", Err: context.DeadlineExceeded}, "timeout, retry", true},
		{"timeout reading the body", errors.New("oauth2: cannot fetch token: context deadline exceeded (Client.Timeout or context cancellation while reading body)"), "timeout, retry", true},
		{"canceled", &url.Error{Op: "Post", URL: "u", Err: context.Canceled}, "canceled, no retry", false},
		{"reset", reset, "connection reset, retry", true},
		{"refused", &url.Error{Op: "Post", URL: "u", Err: &net.OpError{Op: "dial", Net: "tcp", Err: os.NewSyscallError("connect", syscall.ECONNREFUSED)}}, "connection refused, retry", true},
		{"cut mid-body", errors.New("oauth2: cannot fetch token: unexpected EOF"), "unexpected EOF, retry", true},
		{"cut mid-body, wrapped", fmt.Errorf("x: %w", io.ErrUnexpectedEOF), "unexpected EOF, retry", true},
		{"closed before an answer", &url.Error{Op: "Post", URL: "u", Err: io.EOF}, "connection closed, retry", true},
		{"other", errors.New("x509: certificate signed by unknown authority"), "other error, no retry", false},
	} {
		class, retry := cases.ClassifyTokenError(c.err)
		if class != c.class || retry != c.retry {
			t.Errorf("%s: ClassifyTokenError = %q, %v; want %q, %v", c.name, class, retry, c.class, c.retry)
		}
	}
}

// The in-process transport on Zoho's real host names (fakeserver.Transport)
// turns connection-level faults into transport errors rather than broken
// connections: a client driven through it observes the same class as over
// the wire, so the certifier can classify either way.
func TestInProcessTransportGivesTheSameClasses(t *testing.T) {
	for _, c := range fixtures.Load().InArea(fixtures.AreaNetwork) {
		t.Run(c.ID, func(t *testing.T) {
			t.Parallel()
			srv := fakeserver.New()
			t.Cleanup(srv.Close)
			dc := c.Stimulus.DC
			app, err := srv.RegisterClient(fakeserver.ClientSpec{Type: fakeserver.WebBased, Name: "inproc", Homepage: "https://www.example.com",
				RedirectURIs: []string{"https://www.example.com/callback"}, DC: dc})
			if err != nil {
				t.Fatal(err)
			}
			d, _ := zoho.Lookup(dc)
			cfg := &oauth2.Config{ClientID: app.ID, ClientSecret: app.Secret, RedirectURL: app.RedirectURIs[0],
				Endpoint: oauth2.Endpoint{TokenURL: d.AccountsURL() + "/oauth/v2/token", AuthStyle: oauth2.AuthStyleInParams}}
			ctx := context.WithValue(context.Background(), oauth2.HTTPClient,
				&http.Client{Transport: srv.Transport(), Timeout: c.Stimulus.Fault.Timeout()})
			red, err := srv.Authorize(dc, url.Values{"client_id": {app.ID}, "response_type": {"code"}, "redirect_uri": {app.RedirectURIs[0]},
				"scope": {"ZohoCRM.users.ALL"}, "access_type": {"offline"}, "prompt": {"consent"}})
			if err != nil {
				t.Fatal(err)
			}
			do := func() error { _, err := cfg.Exchange(ctx, red.Code); return err }
			if c.Stimulus.Endpoint == "refresh" {
				tok, err := cfg.Exchange(ctx, red.Code)
				if err != nil {
					t.Fatal(err)
				}
				do = func() error {
					_, err := cfg.TokenSource(ctx, &oauth2.Token{RefreshToken: tok.RefreshToken}).Token()
					return err
				}
			}
			wire, err := c.Stimulus.Fault.Wire(dc)
			if err != nil {
				t.Fatal(err)
			}
			if _, err := srv.InjectFault(wire); err != nil {
				t.Fatal(err)
			}
			err = do()
			want := c.ExpectFor(zoho.Kaizen4)
			if class, _ := cases.ClassifyTokenError(err); class != want.Error && !(want.OK && class == cases.ClassOK) {
				t.Errorf("in-process, the client observes %q (%v); over the wire the case expects %+v", class, err, want)
			}
		})
	}
}

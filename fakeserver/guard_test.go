package fakeserver_test

import (
	"bufio"
	"bytes"
	"crypto/tls"
	"encoding/json"
	"fmt"
	"io"
	"log/slog"
	"net"
	"net/http"
	"net/url"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/zconform/zconform/fakeserver"
	"github.com/zconform/zconform/fixtures/zoho"
)

// syncBuf is a bytes.Buffer safe for a logger and a test at once.
type syncBuf struct {
	mu sync.Mutex
	b  bytes.Buffer
}

func (s *syncBuf) Write(p []byte) (int, error) { s.mu.Lock(); defer s.mu.Unlock(); return s.b.Write(p) }
func (s *syncBuf) String() string              { s.mu.Lock(); defer s.mu.Unlock(); return s.b.String() }

// The request log keeps each entry small, whatever the request: a 900 KB
// query string is refused before it is read (HTTP 431), and 300 requests
// with 50 KB values leave a log of a few hundred KB; GET /requests answers
// in pages.
func TestRequestLogIsBounded(t *testing.T) {
	srv := fakeserver.New()
	defer srv.Close()
	hc := srv.Client()
	resp, err := hc.Get(srv.AccountsURL(zoho.US) + "/oauth/v2/auth?state=" + strings.Repeat("x", 900<<10))
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	if resp.StatusCode != http.StatusRequestHeaderFieldsTooLarge || len(srv.Requests()) != 0 {
		t.Fatalf("a 900 KB query: HTTP %d, %d logged", resp.StatusCode, len(srv.Requests()))
	}
	huge := strings.Repeat("x", 50<<10)
	for i := range 300 {
		q := url.Values{"client_id": {huge}, huge[:1000] + fmt.Sprint(i): {"v"}}
		for k := range 40 {
			q.Set(fmt.Sprintf("p%02d", k), "v")
		}
		resp, err := hc.Get(srv.AccountsURL(zoho.US) + "/oauth/v2/auth?" + q.Encode())
		if err != nil {
			t.Fatal(err)
		}
		resp.Body.Close()
	}
	all := srv.Requests()
	data, _ := json.Marshal(all)
	if len(all) != 300 || len(data) > 1<<20 {
		t.Fatalf("%d entries, %d bytes of JSON", len(all), len(data))
	}
	e := all[0]
	if v := e.Params["client_id"]; len(v) > 300 || !strings.Contains(v, "…(+") {
		t.Errorf("a 900 KB value logged as %d bytes: %.80q", len(v), v)
	}
	if len(e.Params) > 33 || !strings.Contains(e.Params["…"], "more parameters") {
		t.Errorf("%d parameters logged; the rest: %q", len(e.Params), e.Params["…"])
	}
	for k := range e.Params {
		if len(k) > 100 {
			t.Errorf("a %d-byte parameter name logged", len(k))
		}
	}
	// pages
	var page struct {
		Requests []fakeserver.Request `json:"requests"`
		More     bool                 `json:"more"`
		Next     string               `json:"next"`
	}
	resp, err = hc.Get(srv.ControlURL() + "/requests?limit=100")
	if err != nil {
		t.Fatal(err)
	}
	_ = json.NewDecoder(resp.Body).Decode(&page)
	resp.Body.Close()
	if len(page.Requests) != 100 || !page.More || !strings.Contains(page.Next, "since=100&limit=100") {
		t.Fatalf("page 1: %d requests, more %v, next %q", len(page.Requests), page.More, page.Next)
	}
	if resp, _ := hc.Get(srv.ControlURL() + "/requests?limit=0"); resp.StatusCode != http.StatusBadRequest {
		t.Errorf("limit=0: HTTP %d", resp.StatusCode)
	}
}

// The log's bytes are bounded: the oldest entries go first.
func TestRequestLogBytes(t *testing.T) {
	srv := fakeserver.New(fakeserver.WithRequestLogBytes(64 << 10))
	defer srv.Close()
	hc := srv.Client()
	for i := range 2000 {
		resp, err := hc.Get(srv.AccountsURL(zoho.US) + "/oauth/v2/auth?state=" + strings.Repeat("s", 200) + fmt.Sprint(i))
		if err != nil {
			t.Fatal(err)
		}
		resp.Body.Close()
	}
	all := srv.Requests()
	if len(all) == 0 || len(all) > 200 || all[len(all)-1].Seq != 2000 {
		t.Fatalf("%d entries kept, the last %d", len(all), all[len(all)-1].Seq)
	}
}

// A slow body is cut off, idle connections cannot starve new clients, and
// the fake keeps answering normal requests meanwhile.
func TestAbusiveConnectionsAreBounded(t *testing.T) {
	if testing.Short() {
		t.Skip("opens a few hundred connections")
	}
	logs := &syncBuf{}
	srv := fakeserver.New(fakeserver.WithHTTPLimits(fakeserver.HTTPLimits{Read: 500 * time.Millisecond, Idle: time.Minute, MaxConns: 64}),
		fakeserver.WithLogger(slog.New(slog.NewTextHandler(logs, nil))))
	defer srv.Close()
	addr := strings.TrimPrefix(srv.URL, "http://")
	normal := func() error {
		hc := &http.Client{Timeout: 2 * time.Second, Transport: &http.Transport{DisableKeepAlives: true}}
		resp, err := hc.Get(srv.URL + "/")
		if err != nil {
			return err
		}
		resp.Body.Close()
		return nil
	}
	// 200 idle keep-alive connections: far over the cap of 64
	var idle []net.Conn
	defer func() {
		for _, c := range idle {
			c.Close()
		}
	}()
	for range 200 {
		c, err := net.Dial("tcp", addr)
		if err != nil {
			t.Fatal(err)
		}
		fmt.Fprintf(c, "GET / HTTP/1.1\r\nHost: x\r\n\r\n")
		if _, err := http.ReadResponse(bufio.NewReader(c), nil); err != nil {
			t.Fatal(err)
		}
		idle = append(idle, c)
	}
	start := time.Now()
	if err := normal(); err != nil {
		t.Fatalf("a normal request with 200 idle connections open: %v", err)
	}
	if d := time.Since(start); d > time.Second {
		t.Errorf("a normal request took %s", d)
	}
	// a body that trickles: cut at the read timeout
	slow, err := net.Dial("tcp", addr)
	if err != nil {
		t.Fatal(err)
	}
	defer slow.Close()
	fmt.Fprintf(slow, "POST /accounts.zoho.com/oauth/v2/token HTTP/1.1\r\nHost: x\r\nContent-Type: application/x-www-form-urlencoded\r\nContent-Length: 100000\r\n\r\n")
	cut := make(chan time.Duration, 1)
	go func() {
		t0 := time.Now()
		for {
			if _, err := slow.Write([]byte("a")); err != nil {
				cut <- time.Since(t0)
				return
			}
			buf := make([]byte, 512)
			_ = slow.SetReadDeadline(time.Now().Add(50 * time.Millisecond))
			if n, err := slow.Read(buf); n > 0 || (err != nil && !isTimeout(err)) {
				cut <- time.Since(t0) // answered (408/400) or closed
				return
			}
		}
	}()
	if err := normal(); err != nil {
		t.Fatalf("a normal request while a body trickles: %v", err)
	}
	select {
	case d := <-cut:
		if d > 3*time.Second {
			t.Errorf("the slow body held its connection %s", d)
		}
	case <-time.After(5 * time.Second):
		t.Fatal("the slow body was never cut off")
	}
}

func isTimeout(err error) bool {
	ne, ok := err.(net.Error)
	return ok && ne.Timeout()
}

// The server's own errors (a failed TLS handshake) reach the structured
// log.
func TestServerErrorsAreLogged(t *testing.T) {
	logs := &syncBuf{}
	srv := fakeserver.NewUnstarted(fakeserver.WithLogger(slog.New(slog.NewJSONHandler(logs, nil))))
	if err := srv.StartTLS(); err != nil {
		t.Fatal(err)
	}
	defer srv.Close()
	c, err := tls.Dial("tcp", strings.TrimPrefix(srv.URL, "https://"), &tls.Config{ServerName: "nope.invalid"})
	if err == nil {
		c.Close()
		t.Fatal("a handshake with an untrusted certificate succeeded")
	}
	deadline := time.Now().Add(2 * time.Second)
	for !strings.Contains(logs.String(), "TLS handshake error") {
		if time.Now().After(deadline) {
			t.Fatalf("no TLS handshake error in the log:\n%s", logs.String())
		}
		time.Sleep(10 * time.Millisecond)
	}
	if !strings.Contains(logs.String(), `"source":"http.Server"`) {
		t.Errorf("the server's error is not marked as such:\n%s", logs.String())
	}
}

// The control token never appears in the log, whichever way it is sent;
// nor do tokens in upper case or glued to a word.
func TestRedactionByValue(t *testing.T) {
	const controlToken = "ctl-S3cret-Value"
	logs := &syncBuf{}
	srv := fakeserver.New(fakeserver.WithControlToken(controlToken), fakeserver.WithLogger(slog.New(slog.NewTextHandler(logs, nil))))
	defer srv.Close()
	hc := srv.Client()
	token := "1000." + strings.Repeat("ab", 16) + "." + strings.Repeat("cd", 16)
	for _, u := range []string{
		"/accounts.zoho.com/oauth/v2/auth?x=" + controlToken,
		"/accounts.zoho.com/oauth/v2/auth/" + controlToken,
		"/accounts.zoho.com/oauth/v2/auth?" + controlToken,
		"/accounts.zoho.com/oauth/v2/auth?state=" + strings.ToUpper(token),
		"/accounts.zoho.com/oauth/v2/auth?state=word" + token + "word",
	} {
		req, _ := http.NewRequest(http.MethodGet, srv.URL+u, nil)
		req.Header.Set("Authorization", controlToken)
		resp, err := hc.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		resp.Body.Close()
	}
	data, _ := json.Marshal(srv.Requests())
	for _, where := range []string{logs.String(), string(data)} {
		for _, secret := range []string{controlToken, strings.ToUpper(token), token, strings.Repeat("ab", 16)} {
			if strings.Contains(strings.ToLower(where), strings.ToLower(secret)) {
				t.Errorf("the log holds %.12q…", secret)
			}
		}
	}
}

var _ = io.Discard

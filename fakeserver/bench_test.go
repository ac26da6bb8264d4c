package fakeserver_test

// Benchmarks of the token endpoint over loopback HTTP, side by side with a
// ceiling: a bare net/http handler that answers a JSON body of the same size
// to the same client and the same request bodies. Run them with
//
//	go test -run XXX -bench . -benchmem ./fakeserver/
//
// BenchmarkLiveTokenMemory reports the heap kept per live access token.

import (
	"bytes"
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"net/url"
	"runtime"
	"strconv"
	"strings"
	"sync/atomic"
	"testing"

	"github.com/zconform/zconform/fakeserver"
	"github.com/zconform/zconform/fixtures/zoho"
)

// benchClient is a keep-alive client with enough idle connections for
// RunParallel, used for the fake and the ceiling alike.
func benchClient(b *testing.B) *http.Client {
	tr := &http.Transport{Proxy: nil, MaxIdleConns: 256, MaxIdleConnsPerHost: 256, ForceAttemptHTTP2: false}
	b.Cleanup(tr.CloseIdleConnections)
	return &http.Client{Transport: tr}
}

// benchPost posts a urlencoded body (the shape x/oauth2 sends with
// AuthStyleInParams) and checks that a token came back.
func benchPost(hc *http.Client, tokenURL, body string, buf *bytes.Buffer) error {
	resp, err := hc.Post(tokenURL, "application/x-www-form-urlencoded", strings.NewReader(body))
	if err != nil {
		return err
	}
	buf.Reset()
	_, err = io.Copy(buf, resp.Body)
	resp.Body.Close()
	if err != nil {
		return err
	}
	if resp.StatusCode != http.StatusOK || !bytes.HasPrefix(buf.Bytes(), []byte(`{"access_token":"1000.`)) {
		return fmt.Errorf("status %d: %s", resp.StatusCode, buf.Bytes())
	}
	return nil
}

func benchExchangeBody(c fakeserver.Client, code string) string {
	return url.Values{"grant_type": {"authorization_code"}, "client_id": {c.ID}, "client_secret": {c.Secret}, "code": {code}}.Encode()
}

func benchRefreshBody(c fakeserver.Client, rt string) string {
	return url.Values{"grant_type": {"refresh_token"}, "client_id": {c.ID}, "client_secret": {c.Secret}, "refresh_token": {rt}}.Encode()
}

// benchSetup is a fake with no grant-token rate limit and a self client.
type benchSetup struct {
	srv      *fakeserver.Server
	client   fakeserver.Client
	tokenURL string
}

func benchNewSetup(b *testing.B, more ...func(*zoho.Limits)) *benchSetup {
	b.Helper()
	srv := fakeserver.New(fakeserver.WithLimits(func(l *zoho.Limits) {
		l.GrantRate.Limit = 0
		for _, f := range more {
			f(l)
		}
	}))
	b.Cleanup(srv.Close)
	c, err := srv.RegisterClient(fakeserver.ClientSpec{Type: fakeserver.SelfClient})
	if err != nil {
		b.Fatal(err)
	}
	return &benchSetup{srv: srv, client: c, tokenURL: srv.AccountsURL(zoho.US) + "/oauth/v2/token"}
}

func (s *benchSetup) code(b *testing.B) string {
	code, err := s.srv.SelfClientCode(s.client.ID, fakeserver.SelfClientCodeRequest{Scopes: []string{"ZohoCRM.users.ALL"}})
	if err != nil {
		b.Fatal(err)
	}
	return code
}

// exchange returns the raw token response of one exchange.
func (s *benchSetup) exchange(b *testing.B, hc *http.Client) []byte {
	var buf bytes.Buffer
	if err := benchPost(hc, s.tokenURL, benchExchangeBody(s.client, s.code(b)), &buf); err != nil {
		b.Fatal(err)
	}
	return bytes.Clone(buf.Bytes())
}

func benchRefreshToken(b *testing.B, resp []byte) string {
	const key = `"refresh_token":"`
	i := bytes.Index(resp, []byte(key))
	if i < 0 {
		b.Fatalf("no refresh_token in %s", resp)
	}
	rest := resp[i+len(key):]
	return string(rest[:bytes.IndexByte(rest, '"')])
}

// benchRun runs body sequentially or under RunParallel; next gives the
// request body of the i-th request.
func benchRun(b *testing.B, parallel bool, hc *http.Client, tokenURL string, next func(i int64) string) {
	b.ReportAllocs()
	var n atomic.Int64
	if !parallel {
		var buf bytes.Buffer
		b.ResetTimer()
		for i := 0; i < b.N; i++ {
			if err := benchPost(hc, tokenURL, next(int64(i)), &buf); err != nil {
				b.Fatal(err)
			}
		}
		return
	}
	b.ResetTimer()
	b.RunParallel(func(pb *testing.PB) {
		var buf bytes.Buffer
		for pb.Next() {
			if err := benchPost(hc, tokenURL, next(n.Add(1)-1), &buf); err != nil {
				b.Error(err)
				return
			}
		}
	})
}

var benchModes = []struct {
	name     string
	parallel bool
}{{"Sequential", false}, {"Parallel", true}}

// BenchmarkExchange exchanges self-client codes minted before the timer
// starts (authorization_code grant, urlencoded body). The default caps hold:
// every exchange past the 20th evicts the user's oldest refresh token.
func BenchmarkExchange(b *testing.B) {
	for _, m := range benchModes {
		b.Run(m.name, func(b *testing.B) {
			s := benchNewSetup(b)
			hc := benchClient(b)
			s.exchange(b, hc) // warm the connection
			bodies := make([]string, b.N)
			for i := range bodies {
				bodies[i] = benchExchangeBody(s.client, s.code(b))
			}
			benchRun(b, m.parallel, hc, s.tokenURL, func(i int64) string { return bodies[i] })
		})
	}
}

// benchRefreshTokens is how many refresh tokens the refresh benchmarks
// rotate through (each keeps at most 30 access tokens, the oldest evicted).
const benchRefreshTokens = 16

// BenchmarkRefresh refreshes access tokens with a few refresh tokens in
// turn (refresh_token grant, urlencoded body).
func BenchmarkRefresh(b *testing.B) {
	for _, m := range benchModes {
		b.Run(m.name, func(b *testing.B) {
			s := benchNewSetup(b)
			hc := benchClient(b)
			bodies := make([]string, benchRefreshTokens)
			for i := range bodies {
				bodies[i] = benchRefreshBody(s.client, benchRefreshToken(b, s.exchange(b, hc)))
			}
			benchRun(b, m.parallel, hc, s.tokenURL, func(i int64) string { return bodies[i%benchRefreshTokens] })
		})
	}
}

// BenchmarkCeiling is what loopback HTTP costs with this client: a bare
// handler that drains the body and answers a fixed JSON body of the size of
// the fake's exchange (or refresh) response, to request bodies of the same
// shape and size.
func BenchmarkCeiling(b *testing.B) {
	s := benchNewSetup(b)
	hc := benchClient(b)
	exResp := s.exchange(b, hc)
	rt := benchRefreshToken(b, exResp)
	var buf bytes.Buffer
	if err := benchPost(hc, s.tokenURL, benchRefreshBody(s.client, rt), &buf); err != nil {
		b.Fatal(err)
	}
	refResp := bytes.Clone(buf.Bytes())
	cases := []struct {
		name string
		resp []byte
		body string
	}{
		{"Exchange", exResp, benchExchangeBody(s.client, zoho.NewToken())},
		{"Refresh", refResp, benchRefreshBody(s.client, rt)},
	}
	for _, tc := range cases {
		for _, m := range benchModes {
			b.Run(tc.name+"/"+m.name, func(b *testing.B) {
				resp := tc.resp
				ts := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
					_, _ = io.Copy(io.Discard, r.Body)
					w.Header().Set("Content-Type", "application/json;charset=UTF-8")
					w.Header().Set("Content-Length", strconv.Itoa(len(resp)))
					_, _ = w.Write(resp)
				}))
				defer ts.Close()
				u := ts.URL + "/accounts.zoho.com/oauth/v2/token"
				var warm bytes.Buffer
				if err := benchPost(hc, u, tc.body, &warm); err != nil {
					b.Fatal(err)
				}
				benchRun(b, m.parallel, hc, u, func(int64) string { return tc.body })
				b.ReportMetric(float64(len(resp)), "resp-bytes")
			})
		}
	}
}

// BenchmarkLiveTokenMemory mints b.N access tokens by refresh, over HTTP,
// through many refresh tokens, with the caps lifted so that none is
// evicted, and reports the heap kept per live access token. The request
// log is cut to a few entries so that it does not count.
func BenchmarkLiveTokenMemory(b *testing.B) {
	const refreshTokens = 256
	srv := fakeserver.New(fakeserver.WithRequestLogSize(8), fakeserver.WithLimits(func(l *zoho.Limits) {
		l.GrantRate.Limit = 0
		l.AccessTokensPerRefreshToken = 0
		l.RefreshTokensPerUser = 0
	}))
	defer srv.Close()
	s := &benchSetup{srv: srv, tokenURL: srv.AccountsURL(zoho.US) + "/oauth/v2/token"}
	var err error
	if s.client, err = srv.RegisterClient(fakeserver.ClientSpec{Type: fakeserver.SelfClient}); err != nil {
		b.Fatal(err)
	}
	hc := benchClient(b)
	bodies := make([]string, refreshTokens)
	for i := range bodies {
		bodies[i] = benchRefreshBody(s.client, benchRefreshToken(b, s.exchange(b, hc)))
	}
	var buf bytes.Buffer
	if err := benchPost(hc, s.tokenURL, bodies[0], &buf); err != nil { // warm up
		b.Fatal(err)
	}
	var before, after runtime.MemStats
	runtime.GC()
	runtime.ReadMemStats(&before)
	benchRun(b, false, hc, s.tokenURL, func(i int64) string { return bodies[i%refreshTokens] })
	b.StopTimer()
	runtime.GC()
	runtime.ReadMemStats(&after)
	per := (float64(after.HeapAlloc) - float64(before.HeapAlloc)) / float64(b.N)
	b.ReportMetric(per, "heap-bytes/live-token")

	// All of them are live: refreshTokens+1 from the setup, b.N here.
	me, _ := srv.DefaultUser(zoho.US)
	toks, err := srv.Tokens(me.Email)
	if err != nil {
		b.Fatal(err)
	}
	live := 0
	for _, rt := range toks.RefreshTokens {
		live += len(rt.AccessTokens)
	}
	if want := refreshTokens + 1 + b.N; live != want {
		b.Fatalf("%d live access tokens, want %d: some were evicted", live, want)
	}
	runtime.KeepAlive(srv)
}

// TestBenchRequestLogWindow guards the request log's amortized trimming
// (which keeps the benchmarks above from copying the whole log on every
// request): it still shows exactly the last n requests, in order.
func TestBenchRequestLogWindow(t *testing.T) {
	const size = 5
	srv := fakeserver.New(fakeserver.WithRequestLogSize(size))
	defer srv.Close()
	hc := srv.Client()
	tokenURL := srv.AccountsURL(zoho.US) + "/oauth/v2/token"
	for i := int64(1); i <= 4*size+3; i++ {
		resp, err := hc.PostForm(tokenURL, url.Values{"grant_type": {"password"}})
		if err != nil {
			t.Fatal(err)
		}
		resp.Body.Close()
		got := srv.Requests()
		want := min(i, size)
		if int64(len(got)) != want {
			t.Fatalf("after %d requests the log holds %d, want %d", i, len(got), want)
		}
		for j, r := range got {
			if r.Seq != i-want+1+int64(j) {
				t.Fatalf("after %d requests entry %d has seq %d, want %d", i, j, r.Seq, i-want+1+int64(j))
			}
		}
		if since := srv.RequestsSince(i - 2); len(since) != int(min(2, want)) || since[len(since)-1].Seq != i {
			t.Fatalf("after %d requests RequestsSince(%d) = %d entries", i, i-2, len(since))
		}
		if since := srv.RequestsSince(0); len(since) != int(want) {
			t.Fatalf("after %d requests RequestsSince(0) = %d entries, want %d", i, len(since), want)
		}
	}
}

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
	"runtime/debug"
	"slices"
	"sort"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

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

func benchRefreshToken(b testing.TB, resp []byte) string {
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

// ---- at scale: the cost of a request must not grow with what the fake holds ----
//
// The benchmarks below drive the fake in-process through its handler (the
// same code as over a socket, without the socket's noise) holding a given
// number of live access tokens, minted under the default (kaizen4) caps
// (users with a self client each, 20 refresh tokens per user, 30 access
// tokens per refresh token), or with the caps lifted. Building a fake of 1M
// tokens takes 15 to 20 s and several hundred MiB; each is built once per
// process and shared.
//
//	go test -run '^$' -bench 'AtScale' -benchtime 20000x ./fakeserver/
//
// BenchmarkRefreshAtScale compares a refresh at 1k and at 1M live tokens
// (goal: within 2x). BenchmarkHousekeepingAtScale runs a mix of requests
// that crosses many points where the fake forgets what can no longer be
// used, at 1M live tokens and as many outstanding codes, and reports the
// worst request (goal: no request stalled more than 10 ms by housekeeping).
// BenchmarkTokensAtScale is Tokens of one user at 1k and at 1M.

// benchSink is a bare ResponseWriter for in-process requests.
type benchSink struct {
	h      http.Header
	status int
	body   bytes.Buffer
}

func (s *benchSink) Header() http.Header         { return s.h }
func (s *benchSink) WriteHeader(code int)        { s.status = code }
func (s *benchSink) Write(p []byte) (int, error) { return s.body.Write(p) }

// scaleFake is a fake holding many live tokens, driven in-process.
type scaleFake struct {
	srv      *fakeserver.Server
	h        http.Handler
	w        benchSink
	live     int      // live access tokens minted by the setup
	codes    int      // outstanding (unused, unexpired) codes
	refresh  []string // a refresh request body per refresh token
	next     int      // the next refresh body, round robin
	js, web  fakeserver.Client
	tokenURL string
}

func (f *scaleFake) do(tb testing.TB, method, target, body string) *benchSink {
	var r *http.Request
	if body == "" {
		r = httptest.NewRequest(method, target, nil)
	} else {
		r = httptest.NewRequest(method, target, strings.NewReader(body))
		r.Header.Set("Content-Type", "application/x-www-form-urlencoded")
	}
	clear(f.w.h)
	f.w.status = http.StatusOK
	f.w.body.Reset()
	f.srv.Handler().ServeHTTP(&f.w, r)
	return &f.w
}

// token posts a token request and checks that a token came back.
func (f *scaleFake) token(tb testing.TB, body string) []byte {
	w := f.do(tb, http.MethodPost, f.tokenURL, body)
	if w.status != http.StatusOK || !bytes.HasPrefix(w.body.Bytes(), []byte(`{"access_token":"1000.`)) {
		tb.Fatalf("HTTP %d: %s", w.status, w.body.Bytes())
	}
	return w.body.Bytes()
}

// authorize sends an authorization request and returns its redirect.
func (f *scaleFake) authorize(tb testing.TB, q url.Values) *url.URL {
	w := f.do(tb, http.MethodGet, "https://accounts.zoho.com/oauth/v2/auth?"+q.Encode(), "")
	loc, err := url.Parse(w.h.Get("Location"))
	if w.status != http.StatusFound || err != nil {
		tb.Fatalf("authorize: HTTP %d: %s", w.status, w.body.Bytes())
	}
	return loc
}

const scaleRedirect = "https://app.zconform.test/callback"

// scaleShape is how a scale fake holds its tokens.
type scaleShape struct {
	live      int  // live access tokens
	rtPerUser int  // refresh tokens per user
	atPerRT   int  // access tokens per refresh token
	lifted    bool // caps lifted (else the kaizen4 caps, 20 and 30)
	codes     int  // outstanding codes (unused, unexpired)
}

// kaizenShape: n live tokens under the kaizen4 caps, and n outstanding codes.
func kaizenShape(n int) scaleShape { return scaleShape{live: n, rtPerUser: 20, atPerRT: 30, codes: n} }

// liftedShape: n live tokens of one user over 1000 refresh tokens, caps lifted.
func liftedShape(n int) scaleShape {
	return scaleShape{live: n, rtPerUser: 1000, atPerRT: max(1, n/1000), lifted: true}
}

func (sh scaleShape) String() string {
	caps := "kaizen4"
	if sh.lifted {
		caps = "lifted"
	}
	return fmt.Sprintf("caps=%s/live=%s", caps, scaleName(sh.live))
}

// newScaleFake builds a fake holding live access tokens and outstanding
// codes (self-client codes of their own user).
func newScaleFake(tb testing.TB, sh scaleShape) *scaleFake {
	srv := fakeserver.NewUnstarted(fakeserver.WithRequestLogSize(1024), fakeserver.WithLimits(func(l *zoho.Limits) {
		l.GrantRate.Limit = 0
		if sh.lifted {
			l.AccessTokensPerRefreshToken, l.RefreshTokensPerUser = 0, 0
		}
	}))
	f := &scaleFake{srv: srv, w: benchSink{h: http.Header{}}, tokenURL: "https://accounts.zoho.com/oauth/v2/token"}
	var err error
	f.js, err = srv.RegisterClient(fakeserver.ClientSpec{Type: fakeserver.JavaScript, Name: "scale js", Homepage: "https://app.zconform.test",
		RedirectURIs: []string{scaleRedirect}, JSDomains: []string{"https://app.zconform.test"}})
	if err != nil {
		tb.Fatal(err)
	}
	f.web, err = srv.RegisterClient(fakeserver.ClientSpec{Type: fakeserver.WebBased, Name: "scale web", Homepage: "https://app.zconform.test",
		RedirectURIs: []string{scaleRedirect}})
	if err != nil {
		tb.Fatal(err)
	}
	scopes := fakeserver.SelfClientCodeRequest{Scopes: []string{"ZohoCRM.users.ALL"}, Lifetime: 10 * time.Minute}
	for u := 0; f.live < sh.live; u++ {
		email := fmt.Sprintf("scale%07d@zconform.test", u)
		if _, err := srv.AddUser(fakeserver.UserSpec{Email: email, DC: zoho.US}); err != nil {
			tb.Fatal(err)
		}
		c, err := srv.RegisterClient(fakeserver.ClientSpec{Type: fakeserver.SelfClient, User: email})
		if err != nil {
			tb.Fatal(err)
		}
		for range sh.rtPerUser {
			if f.live >= sh.live {
				break
			}
			code, err := srv.SelfClientCode(c.ID, scopes)
			if err != nil {
				tb.Fatal(err)
			}
			body := benchRefreshBody(c, benchRefreshToken(tb, f.token(tb, benchExchangeBody(c, code))))
			f.refresh = append(f.refresh, body)
			f.live++
			for i := 1; i < sh.atPerRT && f.live < sh.live; i++ {
				f.token(tb, body)
				f.live++
			}
		}
	}
	if sh.codes > 0 {
		if _, err := srv.AddUser(fakeserver.UserSpec{Email: "codes@zconform.test", DC: zoho.US}); err != nil {
			tb.Fatal(err)
		}
		c, err := srv.RegisterClient(fakeserver.ClientSpec{Type: fakeserver.SelfClient, User: "codes@zconform.test"})
		if err != nil {
			tb.Fatal(err)
		}
		for range sh.codes {
			if _, err := srv.SelfClientCode(c.ID, scopes); err != nil {
				tb.Fatal(err)
			}
			f.codes++
		}
	}
	return f
}

var (
	scaleMu    sync.Mutex
	scaleFakes = map[scaleShape]*scaleFake{}
)

// scaleFakeOf builds the fake of a shape once per process.
func scaleFakeOf(b *testing.B, sh scaleShape) *scaleFake {
	scaleMu.Lock()
	defer scaleMu.Unlock()
	if f := scaleFakes[sh]; f != nil {
		return f
	}
	start := time.Now()
	f := newScaleFake(b, sh)
	b.Logf("built a fake of %d live access tokens, %d refresh tokens and %d outstanding codes in %s", f.live, len(f.refresh), f.codes, time.Since(start).Round(time.Millisecond))
	scaleFakes[sh] = f
	return f
}

// refreshOne refreshes the next refresh token, round robin: each holds 30
// access tokens, so the refresh evicts the oldest and the count stays.
func (f *scaleFake) refreshOne(b *testing.B) {
	f.token(b, f.refresh[f.next])
	f.next = (f.next + 1) % len(f.refresh)
}

// BenchmarkRefreshAtScale is one refresh (in-process) with 1k and with 1M
// live access tokens in the fake: under the kaizen4 caps (30 access tokens
// per refresh token, 1k or 1M outstanding codes beside), and with the caps
// lifted (1000 refresh tokens of one user holding 1 or 1000 access tokens
// each).
func BenchmarkRefreshAtScale(b *testing.B) {
	for _, sh := range []scaleShape{kaizenShape(1_000), kaizenShape(1_000_000), liftedShape(1_000), liftedShape(1_000_000)} {
		b.Run(sh.String(), func(b *testing.B) {
			f := scaleFakeOf(b, sh)
			b.ReportAllocs()
			b.ResetTimer()
			for range b.N {
				f.refreshOne(b)
			}
		})
	}
}

func scaleName(n int) string {
	switch {
	case n >= 1_000_000 && n%1_000_000 == 0:
		return strconv.Itoa(n/1_000_000) + "M"
	case n >= 1000 && n%1000 == 0:
		return strconv.Itoa(n/1000) + "k"
	}
	return strconv.Itoa(n)
}

// BenchmarkHousekeepingAtScale runs, per op, a cycle of five requests at 1M
// live access tokens and 1M outstanding codes: an implicit grant (a token
// without a refresh token), a code grant, its exchange, the revocation of
// the refresh token it gave, and a refresh of a held refresh token. Every
// request is timed; it reports the worst (max-ms), the 99.9th percentile
// and how many took over 10 ms. Run it for at least 20 000 ops
// (-benchtime 20000x) to cross a sweep point of the old fake (every 1024
// grants or implicit tokens) about 20 times. With gc=off the collector is
// off while it runs, which leaves the fake's own stalls: a collection of a
// heap this size (about 600 MiB) makes the allocating request assist it.
func BenchmarkHousekeepingAtScale(b *testing.B) {
	for _, gc := range []bool{true, false} {
		b.Run(fmt.Sprintf("gc=%s", map[bool]string{true: "on", false: "off"}[gc]), func(b *testing.B) {
			f := scaleFakeOf(b, kaizenShape(1_000_000))
			if !gc {
				runtime.GC()
				defer debug.SetGCPercent(debug.SetGCPercent(-1))
			}
			housekeepingCycles(b, f)
		})
	}
}

func housekeepingCycles(b *testing.B, f *scaleFake) {
	implicit := url.Values{"response_type": {"token"}, "client_id": {f.js.ID}, "scope": {"ZohoCRM.users.ALL"}, "redirect_uri": {scaleRedirect}}
	codeGrant := url.Values{"response_type": {"code"}, "client_id": {f.web.ID}, "scope": {"ZohoCRM.users.ALL"}, "redirect_uri": {scaleRedirect},
		"access_type": {"offline"}, "prompt": {"consent"}}
	lat := make([]time.Duration, 0, 5*b.N)
	timed := func(fn func()) {
		t0 := time.Now()
		fn()
		lat = append(lat, time.Since(t0))
	}
	b.ReportAllocs()
	b.ResetTimer()
	for range b.N {
		timed(func() { f.authorize(b, implicit) })
		var code string
		timed(func() { code = f.authorize(b, codeGrant).Query().Get("code") })
		var rt string
		timed(func() {
			rt = benchRefreshToken(b, f.token(b, url.Values{"grant_type": {"authorization_code"}, "client_id": {f.web.ID},
				"client_secret": {f.web.Secret}, "code": {code}, "redirect_uri": {scaleRedirect}}.Encode()))
		})
		timed(func() {
			if w := f.do(b, http.MethodPost, "https://accounts.zoho.com/oauth/v2/token/revoke?token="+url.QueryEscape(rt), ""); w.status != http.StatusOK {
				b.Fatalf("revoke: HTTP %d: %s", w.status, w.body.Bytes())
			}
		})
		timed(func() { f.refreshOne(b) })
	}
	b.StopTimer()
	slices.Sort(lat)
	over := len(lat) - sort.Search(len(lat), func(i int) bool { return lat[i] > 10*time.Millisecond })
	b.ReportMetric(float64(lat[len(lat)-1])/1e6, "max-ms")
	b.ReportMetric(float64(lat[len(lat)*999/1000])/1e3, "p99.9-µs")
	b.ReportMetric(float64(over), "over-10ms")
}

// BenchmarkTokensAtScale is Tokens of one user (600 access tokens under 20
// refresh tokens) in a fake of 1k and of 1M live access tokens.
func BenchmarkTokensAtScale(b *testing.B) {
	for _, sh := range []scaleShape{kaizenShape(1_000), kaizenShape(1_000_000)} {
		b.Run(sh.String(), func(b *testing.B) {
			f := scaleFakeOf(b, sh)
			b.ReportAllocs()
			b.ResetTimer()
			for range b.N {
				toks, err := f.srv.Tokens("scale0000000@zconform.test")
				if err != nil || len(toks.RefreshTokens) == 0 {
					b.Fatalf("Tokens: %v", err)
				}
			}
		})
	}
}

// BenchmarkFinishedFaults is a request (in-process, to the API, no token)
// to a fake that holds finished faults (each fired its one time) beside
// none active: a request must not pay for them.
//
//	go test -run '^$' -bench FinishedFaults ./fakeserver/
func BenchmarkFinishedFaults(b *testing.B) {
	for _, n := range []int{0, 30_000, 300_000} {
		b.Run("finished="+scaleName(n), func(b *testing.B) {
			srv := fakeserver.NewUnstarted(fakeserver.WithRequestLogSize(8))
			w := &benchSink{h: http.Header{}}
			api := func() int {
				r := httptest.NewRequest(http.MethodGet, "https://www.zohoapis.com/crm/v8/org", nil)
				clear(w.h)
				w.status = http.StatusOK
				w.body.Reset()
				srv.Handler().ServeHTTP(w, r)
				return w.status
			}
			for range n {
				if _, err := srv.InjectFault(fakeserver.Fault{Kind: fakeserver.FaultStatus, Status: 503, Endpoint: fakeserver.EndpointAPI, Times: 1}); err != nil {
					b.Fatal(err)
				}
			}
			for range n {
				if status := api(); status != http.StatusServiceUnavailable {
					b.Fatalf("HTTP %d, want the fault's 503", status)
				}
			}
			b.ReportAllocs()
			b.ResetTimer()
			for range b.N {
				if status := api(); status != http.StatusUnauthorized {
					b.Fatalf("HTTP %d, want 401", status)
				}
			}
		})
	}
}

package loadtest

// Memory of the fake: the heap that 100 000 live access tokens cost under
// the default caps, what an idle server (one user, one client) costs, and
// that a long loop of exchange and revoke, which leaves nothing live, leaves
// the heap where it was. Run the benchmarks with
//
//	go test -run '^$' -bench 'LiveTokens|IdleServer' -benchmem ./fakeserver/loadtest/
//	go test -run '^$' -bench ExchangeRevokeLoop -benchtime 200000x ./fakeserver/loadtest/
//
// TestHundredThousandLiveTokens asserts the goal (under 100 MiB);
// TestExchangeRevokeLoopIsFlat runs 20 000 cycles of the loop (5 000 under
// -short or -race) and BenchmarkExchangeRevokeLoop as many as asked (the
// goal: 200 000), each failing if the heap grew by more than loopHeapBound.

import (
	"bytes"
	"encoding/json"
	"fmt"
	"net/http"
	"net/http/httptest"
	"net/url"
	"runtime"
	"strings"
	"testing"

	"github.com/zconform/zconform/fakeserver"
	"github.com/zconform/zconform/fixtures/zoho"
)

// The 100 000 tokens live under the kaizen4 caps (20 refresh tokens per
// user, 30 access tokens per refresh token): 200 users, 20 refresh tokens
// each, 25 access tokens per refresh token (the exchange's and 24 refreshes).
const (
	memUsers     = 200
	memRTPerUser = 20
	memATPerRT   = 25
	memTokens    = memUsers * memRTPerUser * memATPerRT
)

// sink is a bare ResponseWriter for in-process requests.
type sink struct {
	h      http.Header
	status int
	body   bytes.Buffer
}

func (s *sink) Header() http.Header         { return s.h }
func (s *sink) WriteHeader(code int)        { s.status = code }
func (s *sink) Write(p []byte) (int, error) { return s.body.Write(p) }

// mintLiveTokens mints memTokens live access tokens through the fake's own
// HTTP handler, in-process (the same code path as over a socket, without
// the socket), and returns the number of requests sent.
func mintLiveTokens(tb testing.TB, srv *fakeserver.Server) int {
	h := srv.Handler()
	w := &sink{h: http.Header{}}
	requests := 0
	post := func(body string) []byte {
		r := httptest.NewRequest(http.MethodPost, "https://accounts.zoho.com/oauth/v2/token", strings.NewReader(body))
		r.Header.Set("Content-Type", "application/x-www-form-urlencoded")
		clear(w.h)
		w.status = http.StatusOK
		w.body.Reset()
		h.ServeHTTP(w, r)
		requests++
		if w.status != http.StatusOK || !bytes.HasPrefix(w.body.Bytes(), []byte(`{"access_token":"1000.`)) {
			tb.Fatalf("HTTP %d: %s", w.status, w.body.Bytes())
		}
		return w.body.Bytes()
	}
	var tok struct {
		RefreshToken string `json:"refresh_token"`
	}
	for u := range memUsers {
		email := fmt.Sprintf("mem%03d@zconform.test", u)
		if _, err := srv.AddUser(fakeserver.UserSpec{Email: email, DC: zoho.US}); err != nil {
			tb.Fatal(err)
		}
		c, err := srv.RegisterClient(fakeserver.ClientSpec{Type: fakeserver.SelfClient, User: email})
		if err != nil {
			tb.Fatal(err)
		}
		for range memRTPerUser {
			code, err := srv.SelfClientCode(c.ID, fakeserver.SelfClientCodeRequest{Scopes: []string{"ZohoCRM.users.ALL"}})
			if err != nil {
				tb.Fatal(err)
			}
			if err := json.Unmarshal(post(exchangeBody(c.ID, c.Secret, code)), &tok); err != nil || tok.RefreshToken == "" {
				tb.Fatalf("no refresh token: %v", err)
			}
			body := refreshBody(c.ID, c.Secret, tok.RefreshToken)
			for range memATPerRT - 1 {
				post(body)
			}
		}
	}
	return requests
}

// liveAccessTokens counts the live access tokens of every user.
func liveAccessTokens(tb testing.TB, srv *fakeserver.Server) int {
	n := 0
	for _, u := range srv.Users() {
		toks, err := srv.Tokens(u.Email)
		if err != nil {
			tb.Fatal(err)
		}
		for _, rt := range toks.RefreshTokens {
			n += len(rt.AccessTokens)
		}
		n += len(toks.AccessTokens)
	}
	return n
}

func heapAlloc() uint64 {
	var ms runtime.MemStats
	runtime.GC()
	runtime.GC()
	runtime.ReadMemStats(&ms)
	return ms.HeapAlloc
}

// heapOfLiveTokens returns the heap growth of a fresh server (made with
// opts, on the kaizen4 caps, grant rate limit lifted) holding memTokens
// live access tokens: the whole fake, the request log included.
func heapOfLiveTokens(tb testing.TB, opts ...fakeserver.Option) uint64 {
	before := heapAlloc()
	srv := fakeserver.NewUnstarted(append(opts, fakeserver.WithLimits(func(l *zoho.Limits) { l.GrantRate.Limit = 0 }))...)
	mintLiveTokens(tb, srv)
	after := heapAlloc()
	if n := liveAccessTokens(tb, srv); n != memTokens {
		tb.Fatalf("%d live access tokens, want %d: some were evicted", n, memTokens)
	}
	runtime.KeepAlive(srv)
	if after < before {
		return 0
	}
	return after - before
}

// TestHundredThousandLiveTokens asserts the memory goal: a fake holding
// 100 000 live access tokens (and their 4000 refresh tokens, 200 users and
// clients, the default request log of 10 000 entries) in under 100 MiB of
// heap. It takes a second or two; -short and -race skip it.
func TestHundredThousandLiveTokens(t *testing.T) {
	if testing.Short() || raceEnabled {
		t.Skip("mints 100 000 tokens: skipped under -short and -race")
	}
	grew := heapOfLiveTokens(t)
	mib := float64(grew) / (1 << 20)
	t.Logf("100 000 live access tokens: heap grew by %.1f MiB (%.0f bytes per token, everything included)", mib, float64(grew)/memTokens)
	if mib >= 100 {
		t.Errorf("100 000 live tokens take %.1f MiB of heap; the goal is under 100 MiB", mib)
	}
}

// BenchmarkLiveTokens100k builds a fake holding 100 000 live access tokens
// per op and reports the heap it takes: with the default request log
// (10 000 entries) and with the log cut to 8 entries, which leaves the
// tokens' own share.
func BenchmarkLiveTokens100k(b *testing.B) {
	for _, tc := range []struct {
		name string
		opts []fakeserver.Option
	}{
		{"DefaultLog", nil},
		{"Log8", []fakeserver.Option{fakeserver.WithRequestLogSize(8)}},
	} {
		b.Run(tc.name, func(b *testing.B) {
			var grew uint64
			for range b.N {
				grew = heapOfLiveTokens(b, tc.opts...)
			}
			b.ReportMetric(float64(grew)/(1<<20), "MiB/100k-tokens")
			b.ReportMetric(float64(grew)/memTokens, "B/live-token")
			b.ReportMetric(0, "ns/op") // one op is a setup, not a speed
		})
	}
}

// BenchmarkIdleServer keeps b.N idle fakes (NewUnstarted, then one self
// client, which creates its default user) and reports the heap each costs.
func BenchmarkIdleServer(b *testing.B) {
	servers := make([]*fakeserver.Server, 0, b.N)
	b.ReportAllocs()
	before := heapAlloc()
	b.ResetTimer()
	for range b.N {
		srv := fakeserver.NewUnstarted()
		if _, err := srv.RegisterClient(fakeserver.ClientSpec{Type: fakeserver.SelfClient}); err != nil {
			b.Fatal(err)
		}
		servers = append(servers, srv)
	}
	b.StopTimer()
	after := heapAlloc()
	b.ReportMetric(float64(after-before)/float64(b.N), "heap-B/idle-server")
	runtime.KeepAlive(servers)
}

// TestIdleServerIsSmall keeps an idle fake's cost in view: under 64 KiB.
func TestIdleServerIsSmall(t *testing.T) {
	if raceEnabled {
		t.Skip("allocations differ under -race")
	}
	const n = 200
	servers := make([]*fakeserver.Server, 0, n)
	before := heapAlloc()
	for range n {
		srv := fakeserver.NewUnstarted()
		if _, err := srv.RegisterClient(fakeserver.ClientSpec{Type: fakeserver.SelfClient}); err != nil {
			t.Fatal(err)
		}
		servers = append(servers, srv)
	}
	per := float64(heapAlloc()-before) / n
	runtime.KeepAlive(servers)
	t.Logf("an idle fake (one user, one self client): %.0f bytes of heap", per)
	if per > 64<<10 {
		t.Errorf("an idle fake takes %.0f bytes of heap, over 64 KiB", per)
	}
}

// loopHeapBound is how much the heap may grow over a loop of exchange and
// revoke, whatever its length: what the fake keeps of finished cycles (at
// most about a thousand used codes, a client's last 64 grant times) and the
// noise of a collection. Before the fake forgot revoked refresh tokens and
// bounded grant times, a cycle kept about 300 bytes: 6 MiB over 20 000
// cycles, 60 MiB over 200 000.
const loopHeapBound = 1 << 20

// exchangeRevokeLoop is a fake of one self client (grant-token rate limit
// lifted, request log cut to a few entries so that it does not count) and
// cycles that each leave nothing live: a code, its exchange over the
// fake's handler (in-process), the revocation of the refresh token.
type exchangeRevokeLoop struct {
	srv *fakeserver.Server
	c   fakeserver.Client
	w   sink
	tok struct {
		RefreshToken string `json:"refresh_token"`
	}
	cycles int
}

func newExchangeRevokeLoop(tb testing.TB) *exchangeRevokeLoop {
	srv := fakeserver.NewUnstarted(fakeserver.WithRequestLogSize(8), fakeserver.WithLimits(func(l *zoho.Limits) { l.GrantRate.Limit = 0 }))
	c, err := srv.RegisterClient(fakeserver.ClientSpec{Type: fakeserver.SelfClient})
	if err != nil {
		tb.Fatal(err)
	}
	return &exchangeRevokeLoop{srv: srv, c: c, w: sink{h: http.Header{}}}
}

func (l *exchangeRevokeLoop) post(tb testing.TB, target, body string) []byte {
	r := httptest.NewRequest(http.MethodPost, target, strings.NewReader(body))
	r.Header.Set("Content-Type", "application/x-www-form-urlencoded")
	clear(l.w.h)
	l.w.status = http.StatusOK
	l.w.body.Reset()
	l.srv.Handler().ServeHTTP(&l.w, r)
	if l.w.status != http.StatusOK {
		tb.Fatalf("%s: HTTP %d: %s", target, l.w.status, l.w.body.Bytes())
	}
	return l.w.body.Bytes()
}

// run runs n cycles.
func (l *exchangeRevokeLoop) run(tb testing.TB, n int) {
	for range n {
		code, err := l.srv.SelfClientCode(l.c.ID, fakeserver.SelfClientCodeRequest{Scopes: []string{"ZohoCRM.users.ALL"}})
		if err != nil {
			tb.Fatal(err)
		}
		l.tok.RefreshToken = ""
		if err := json.Unmarshal(l.post(tb, "https://accounts.zoho.com/oauth/v2/token", exchangeBody(l.c.ID, l.c.Secret, code)), &l.tok); err != nil || l.tok.RefreshToken == "" {
			tb.Fatalf("no refresh token: %v %s", err, l.w.body.Bytes())
		}
		l.post(tb, "https://accounts.zoho.com/oauth/v2/token/revoke", url.Values{"token": {l.tok.RefreshToken}}.Encode())
		l.cycles++
	}
}

// heapGrowth runs warm cycles (past the sweeps' floor), then n more, and
// returns how much the heap grew over the n.
func (l *exchangeRevokeLoop) heapGrowth(tb testing.TB, n int) int64 {
	l.run(tb, 3000)
	before := heapAlloc()
	l.run(tb, n)
	after := heapAlloc()
	if live := liveAccessTokens(tb, l.srv); live != 0 {
		tb.Fatalf("%d live access tokens after a loop that revokes all", live)
	}
	runtime.KeepAlive(l)
	return int64(after) - int64(before)
}

// TestExchangeRevokeLoopIsFlat: a loop of exchange and revoke, which
// leaves nothing live, leaves the heap where it was (within loopHeapBound).
func TestExchangeRevokeLoopIsFlat(t *testing.T) {
	cycles := 20_000
	if testing.Short() || raceEnabled {
		cycles = 5_000
	}
	l := newExchangeRevokeLoop(t)
	grew := l.heapGrowth(t, cycles)
	t.Logf("%d cycles of exchange and revoke: the heap grew by %d bytes (%.1f per cycle)", cycles, grew, float64(grew)/float64(cycles))
	if grew > loopHeapBound {
		t.Errorf("%d cycles of exchange and revoke, which leave nothing live, grew the heap by %d bytes (%.0f per cycle); the bound is %d",
			cycles, grew, float64(grew)/float64(cycles), loopHeapBound)
	}
}

// BenchmarkExchangeRevokeLoop runs b.N cycles of exchange and revoke (run
// it with -benchtime 200000x), reports the heap's growth per cycle and
// fails past loopHeapBound.
func BenchmarkExchangeRevokeLoop(b *testing.B) {
	l := newExchangeRevokeLoop(b)
	grew := l.heapGrowth(b, b.N)
	b.ReportMetric(float64(grew)/float64(b.N), "heap-B/cycle")
	b.ReportMetric(float64(grew)/(1<<20), "heap-MiB")
	if grew > loopHeapBound {
		b.Errorf("%d cycles of exchange and revoke, which leave nothing live, grew the heap by %d bytes; the bound is %d", b.N, grew, loopHeapBound)
	}
}

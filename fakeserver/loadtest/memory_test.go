package loadtest

// Memory of the fake: the heap that 100 000 live access tokens cost under
// the default caps, and what an idle server (one user, one client) costs.
// Run the benchmarks with
//
//	go test -run '^$' -bench 'LiveTokens|IdleServer' -benchmem ./fakeserver/loadtest/
//
// TestHundredThousandLiveTokens asserts the goal (under 100 MiB).

import (
	"bytes"
	"encoding/json"
	"fmt"
	"net/http"
	"net/http/httptest"
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

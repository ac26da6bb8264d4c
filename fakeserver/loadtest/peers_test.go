package loadtest

// Benchmarks of the fake beside its peers, over loopback HTTP with one
// keep-alive client for all:
//
//   - Ceiling: a bare net/http handler that drains the request and answers a
//     fixed body of the size of the fake's answer (a 302 with a Location of
//     the fake's length for an authorization). Nothing can be faster here.
//   - MockOIDC: github.com/oauth2-proxy/mockoidc, the Go fake a user would
//     otherwise pick, doing its closest equivalents: its authorization
//     endpoint gives a code, its token endpoint exchanges it (an access and
//     a refresh token, RS256 JWTs; the scope leaves out openid, so no ID
//     token is signed, as Zoho sends none) and refreshes.
//   - Fake: the zconform fake, grant-token rate limit lifted, caps kept.
//
// Scenarios: Exchange (codes minted before the timer), Refresh (16 refresh
// tokens in turn) and Cycle (authorize, exchange, refresh: three requests
// per op), each Sequential and Parallel. Each reports ns/op and the p50 and
// p99 latency of one request. Run them with
//
//	go test -run '^$' -bench Peers -benchmem ./fakeserver/loadtest/
//
// and the same benchmarks with the ratios computed in one run with
//
//	go test -run TestPeerRatios -peers -v ./fakeserver/loadtest/

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"flag"
	"fmt"
	"io"
	"net"
	"net/http"
	"net/http/httptest"
	"net/url"
	"slices"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/oauth2-proxy/mockoidc"
	"github.com/zconform/zconform/fakeserver"
	"github.com/zconform/zconform/fixtures/zoho"
)

var (
	peersFlag  = flag.Bool("peers", false, "TestPeerRatios: run the peer benchmarks and print the ratios")
	peerRounds = flag.Int("peers.rounds", 3, "TestPeerRatios: rounds of every benchmark; the best of each counts")
)

const (
	peerRefreshTokens = 16
	peerRedirect      = "https://app.zconform.test/callback"
)

// peerClient is the keep-alive client used for every peer: it does not
// follow redirects (an authorization answers one to the app).
func peerClient(tb testing.TB) *http.Client {
	tr := &http.Transport{Proxy: nil, MaxIdleConns: 256, MaxIdleConnsPerHost: 256, ForceAttemptHTTP2: false}
	tb.Cleanup(tr.CloseIdleConnections)
	return &http.Client{Transport: tr, CheckRedirect: func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse }}
}

// conn is one goroutine's use of the client, with its read buffer; id
// numbers the goroutines of a parallel run.
type conn struct {
	hc  *http.Client
	id  int
	buf bytes.Buffer
}

func (c *conn) post(u, body string) (int, []byte, error) {
	resp, err := c.hc.Post(u, "application/x-www-form-urlencoded", strings.NewReader(body))
	if err != nil {
		return 0, nil, err
	}
	c.buf.Reset()
	_, err = io.Copy(&c.buf, resp.Body)
	resp.Body.Close()
	return resp.StatusCode, c.buf.Bytes(), err
}

// authorize GETs an authorization URL and returns the code of the redirect.
func (c *conn) authorize(u string) (string, error) {
	resp, err := c.hc.Get(u)
	if err != nil {
		return "", err
	}
	_, _ = io.Copy(io.Discard, resp.Body)
	resp.Body.Close()
	loc := resp.Header.Get("Location")
	if resp.StatusCode != http.StatusFound || loc == "" {
		return "", fmt.Errorf("authorize: HTTP %d, no redirect", resp.StatusCode)
	}
	l, err := url.Parse(loc)
	if err != nil {
		return "", err
	}
	return l.Query().Get("code"), nil
}

func wantToken(status int, body []byte, err error) error {
	if err != nil {
		return err
	}
	if status != http.StatusOK || !bytes.HasPrefix(body, []byte(`{"access_token":"`)) {
		return fmt.Errorf("HTTP %d: %.200s", status, body)
	}
	return nil
}

func field(body []byte, name string) string {
	var m map[string]any
	_ = json.Unmarshal(body, &m)
	s, _ := m[name].(string)
	return s
}

// scenario is one peer's way of doing one operation: setup runs before
// the timer (n is b.N) and returns the timed op; requests is how many HTTP
// requests one op sends.
type scenario struct {
	requests int
	setup    func(tb testing.TB, hc *http.Client, n int) func(c *conn, i int) error
}

type peer struct {
	name      string
	scenarios map[string]scenario
}

var scenarioNames = []string{"Exchange", "Refresh", "Cycle"}

// ---- the fake ----

type fakeSetup struct {
	srv      *fakeserver.Server
	self     fakeserver.Client
	web      fakeserver.Client
	tokenURL string
	authURL  string
}

func newFakeSetup(tb testing.TB) *fakeSetup {
	srv := fakeserver.New(fakeserver.WithLimits(func(l *zoho.Limits) { l.GrantRate.Limit = 0 }))
	tb.Cleanup(srv.Close)
	self, err := srv.RegisterClient(fakeserver.ClientSpec{Type: fakeserver.SelfClient})
	if err != nil {
		tb.Fatal(err)
	}
	web, err := srv.RegisterClient(fakeserver.ClientSpec{Type: fakeserver.WebBased, Name: "Peer bench", Homepage: "https://app.zconform.test", RedirectURIs: []string{peerRedirect}})
	if err != nil {
		tb.Fatal(err)
	}
	q := url.Values{"scope": {"ZohoCRM.users.READ"}, "client_id": {web.ID}, "response_type": {"code"}, "redirect_uri": {peerRedirect},
		"access_type": {"offline"}, "prompt": {"consent"}, "state": {"s"}}
	return &fakeSetup{srv: srv, self: self, web: web, tokenURL: srv.AccountsURL(zoho.US) + "/oauth/v2/token",
		authURL: srv.AccountsURL(zoho.US) + "/oauth/v2/auth?" + q.Encode()}
}

func (f *fakeSetup) code(tb testing.TB) string {
	code, err := f.srv.SelfClientCode(f.self.ID, fakeserver.SelfClientCodeRequest{Scopes: []string{"ZohoCRM.users.ALL"}})
	if err != nil {
		tb.Fatal(err)
	}
	return code
}

func exchangeBody(id, secret, code string) string {
	return url.Values{"grant_type": {"authorization_code"}, "client_id": {id}, "client_secret": {secret}, "code": {code}}.Encode()
}

func refreshBody(id, secret, rt string) string {
	return url.Values{"grant_type": {"refresh_token"}, "client_id": {id}, "client_secret": {secret}, "refresh_token": {rt}}.Encode()
}

// sample answers of the fake, for the ceiling to send back
func (f *fakeSetup) sampleAnswers(tb testing.TB, hc *http.Client) (exchange, refresh []byte, location string) {
	c := &conn{hc: hc}
	st, body, err := c.post(f.tokenURL, exchangeBody(f.self.ID, f.self.Secret, f.code(tb)))
	if err := wantToken(st, body, err); err != nil {
		tb.Fatal(err)
	}
	exchange = bytes.Clone(body)
	st, body, err = c.post(f.tokenURL, refreshBody(f.self.ID, f.self.Secret, field(exchange, "refresh_token")))
	if err := wantToken(st, body, err); err != nil {
		tb.Fatal(err)
	}
	refresh = bytes.Clone(body)
	resp, err := hc.Get(f.authURL)
	if err != nil {
		tb.Fatal(err)
	}
	resp.Body.Close()
	return exchange, refresh, resp.Header.Get("Location")
}

var fakePeer = peer{name: "Fake", scenarios: map[string]scenario{
	"Exchange": {1, func(tb testing.TB, hc *http.Client, n int) func(*conn, int) error {
		f := newFakeSetup(tb)
		bodies := make([]string, n)
		for i := range bodies {
			bodies[i] = exchangeBody(f.self.ID, f.self.Secret, f.code(tb))
		}
		return func(c *conn, i int) error { return wantToken(c.post(f.tokenURL, bodies[i])) }
	}},
	"Refresh": {1, func(tb testing.TB, hc *http.Client, n int) func(*conn, int) error {
		f := newFakeSetup(tb)
		c := &conn{hc: hc}
		bodies := make([]string, peerRefreshTokens)
		for i := range bodies {
			st, body, err := c.post(f.tokenURL, exchangeBody(f.self.ID, f.self.Secret, f.code(tb)))
			if err := wantToken(st, body, err); err != nil {
				tb.Fatal(err)
			}
			bodies[i] = refreshBody(f.self.ID, f.self.Secret, field(body, "refresh_token"))
		}
		return func(c *conn, i int) error { return wantToken(c.post(f.tokenURL, bodies[i%peerRefreshTokens])) }
	}},
	"Cycle": {3, func(tb testing.TB, hc *http.Client, n int) func(*conn, int) error {
		// One user and client per goroutine: the user's cap of 20 refresh
		// tokens evicts the oldest, and a goroutine that another one
		// outran by 20 exchanges would find its own token evicted (as
		// documented) before refreshing it.
		f := newFakeSetup(tb)
		type app struct {
			c       fakeserver.Client
			authURL string
		}
		apps := make([]app, cycleUsers)
		for i := range apps {
			email := fmt.Sprintf("peer%03d@zconform.test", i)
			if _, err := f.srv.AddUser(fakeserver.UserSpec{Email: email, DC: zoho.US}); err != nil {
				tb.Fatal(err)
			}
			c, err := f.srv.RegisterClient(fakeserver.ClientSpec{Type: fakeserver.WebBased, Name: "Peer bench", Homepage: "https://app.zconform.test",
				RedirectURIs: []string{peerRedirect}, User: email})
			if err != nil {
				tb.Fatal(err)
			}
			apps[i] = app{c, strings.Replace(f.authURL, url.QueryEscape(f.web.ID), url.QueryEscape(c.ID), 1)}
		}
		return func(c *conn, i int) error {
			a := apps[c.id%cycleUsers]
			code, err := c.authorize(a.authURL)
			if err != nil {
				return err
			}
			st, body, err := c.post(f.tokenURL, url.Values{"grant_type": {"authorization_code"}, "client_id": {a.c.ID},
				"client_secret": {a.c.Secret}, "redirect_uri": {peerRedirect}, "code": {code}}.Encode())
			if err := wantToken(st, body, err); err != nil {
				return fmt.Errorf("exchange: %w", err)
			}
			if err := wantToken(c.post(f.tokenURL, refreshBody(a.c.ID, a.c.Secret, field(body, "refresh_token")))); err != nil {
				return fmt.Errorf("refresh: %w", err)
			}
			return nil
		}
	}},
}}

// cycleUsers is how many users (one per goroutine) the fake's Cycle
// scenario sets up.
const cycleUsers = 256

// ---- the ceiling ----

// ceilingServer answers a fixed 302 on /auth and fixed JSON bodies on
// /token/exchange and /token/refresh, after draining the request.
func ceilingServer(tb testing.TB, exchange, refresh []byte, location string) *httptest.Server {
	answer := func(body []byte) http.HandlerFunc {
		n := strconv.Itoa(len(body))
		return func(w http.ResponseWriter, r *http.Request) {
			_, _ = io.Copy(io.Discard, r.Body)
			w.Header().Set("Content-Type", "application/json;charset=UTF-8")
			w.Header().Set("Content-Length", n)
			_, _ = w.Write(body)
		}
	}
	mux := http.NewServeMux()
	mux.HandleFunc("/token/exchange", answer(exchange))
	mux.HandleFunc("/token/refresh", answer(refresh))
	mux.HandleFunc("/auth", func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Location", location)
		w.Header().Set("Content-Length", "0")
		w.WriteHeader(http.StatusFound)
	})
	ts := httptest.NewServer(mux)
	tb.Cleanup(ts.Close)
	return ts
}

func newCeiling(tb testing.TB, hc *http.Client) (ts *httptest.Server, f *fakeSetup) {
	f = newFakeSetup(tb)
	ex, ref, loc := f.sampleAnswers(tb, hc)
	return ceilingServer(tb, ex, ref, loc), f
}

var ceilingPeer = peer{name: "Ceiling", scenarios: map[string]scenario{
	"Exchange": {1, func(tb testing.TB, hc *http.Client, n int) func(*conn, int) error {
		ts, f := newCeiling(tb, hc)
		body := exchangeBody(f.self.ID, f.self.Secret, zoho.NewToken())
		return func(c *conn, i int) error { return wantToken(c.post(ts.URL+"/token/exchange", body)) }
	}},
	"Refresh": {1, func(tb testing.TB, hc *http.Client, n int) func(*conn, int) error {
		ts, f := newCeiling(tb, hc)
		body := refreshBody(f.self.ID, f.self.Secret, zoho.NewToken())
		return func(c *conn, i int) error { return wantToken(c.post(ts.URL+"/token/refresh", body)) }
	}},
	"Cycle": {3, func(tb testing.TB, hc *http.Client, n int) func(*conn, int) error {
		ts, f := newCeiling(tb, hc)
		authURL := ts.URL + "/auth?" + strings.SplitN(f.authURL, "?", 2)[1]
		exBody := url.Values{"grant_type": {"authorization_code"}, "client_id": {f.web.ID}, "client_secret": {f.web.Secret},
			"redirect_uri": {peerRedirect}, "code": {zoho.NewToken()}}.Encode()
		refBody := refreshBody(f.web.ID, f.web.Secret, zoho.NewToken())
		return func(c *conn, i int) error {
			if _, err := c.authorize(authURL); err != nil {
				return err
			}
			if err := wantToken(c.post(ts.URL+"/token/exchange", exBody)); err != nil {
				return err
			}
			return wantToken(c.post(ts.URL+"/token/refresh", refBody))
		}
	}},
}}

// ---- mockoidc ----

// newMockOIDC starts mockoidc on loopback. Its session store is a bare map
// that the authorization endpoint writes and the token endpoint reads:
// concurrent authorizations crash the process ("fatal error: concurrent
// map writes"). guard puts a lock around them (authorizations alone, token
// requests together) for the Cycle scenario, where they meet.
func newMockOIDC(tb testing.TB, guard bool) *mockoidc.MockOIDC {
	m, err := mockoidc.NewServer(nil)
	if err != nil {
		tb.Fatal(err)
	}
	if guard {
		var mu sync.RWMutex
		_ = m.AddMiddleware(func(next http.Handler) http.Handler {
			return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
				if r.URL.Path == mockoidc.AuthorizationEndpoint {
					mu.Lock()
					defer mu.Unlock()
				} else {
					mu.RLock()
					defer mu.RUnlock()
				}
				next.ServeHTTP(w, r)
			})
		})
	}
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		tb.Fatal(err)
	}
	if err := m.Start(ln, nil); err != nil {
		tb.Fatal(err)
	}
	tb.Cleanup(func() {
		ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
		defer cancel()
		_ = m.Server.Shutdown(ctx)
	})
	return m
}

func mockAuthURL(m *mockoidc.MockOIDC) string {
	q := url.Values{"scope": {"email profile"}, "state": {"s"}, "client_id": {m.ClientID}, "response_type": {"code"}, "redirect_uri": {peerRedirect}}
	return m.AuthorizationEndpoint() + "?" + q.Encode()
}

func mockCodes(tb testing.TB, hc *http.Client, m *mockoidc.MockOIDC, n int) []string {
	c := &conn{hc: hc}
	u := mockAuthURL(m)
	codes := make([]string, n)
	for i := range codes {
		code, err := c.authorize(u)
		if err != nil {
			tb.Fatal(err)
		}
		codes[i] = code
	}
	return codes
}

var mockPeer = peer{name: "MockOIDC", scenarios: map[string]scenario{
	"Exchange": {1, func(tb testing.TB, hc *http.Client, n int) func(*conn, int) error {
		m := newMockOIDC(tb, false)
		codes := mockCodes(tb, hc, m, n)
		bodies := make([]string, n)
		for i, code := range codes {
			bodies[i] = exchangeBody(m.ClientID, m.ClientSecret, code)
		}
		u := m.TokenEndpoint()
		return func(c *conn, i int) error { return wantToken(c.post(u, bodies[i])) }
	}},
	"Refresh": {1, func(tb testing.TB, hc *http.Client, n int) func(*conn, int) error {
		m := newMockOIDC(tb, false)
		c := &conn{hc: hc}
		u := m.TokenEndpoint()
		bodies := make([]string, peerRefreshTokens)
		for i, code := range mockCodes(tb, hc, m, peerRefreshTokens) {
			st, body, err := c.post(u, exchangeBody(m.ClientID, m.ClientSecret, code))
			if err := wantToken(st, body, err); err != nil {
				tb.Fatal(err)
			}
			bodies[i] = refreshBody(m.ClientID, m.ClientSecret, field(body, "refresh_token"))
		}
		return func(c *conn, i int) error { return wantToken(c.post(u, bodies[i%peerRefreshTokens])) }
	}},
	"Cycle": {3, func(tb testing.TB, hc *http.Client, n int) func(*conn, int) error {
		m := newMockOIDC(tb, true)
		authURL, tokenURL := mockAuthURL(m), m.TokenEndpoint()
		return func(c *conn, i int) error {
			code, err := c.authorize(authURL)
			if err != nil {
				return err
			}
			st, body, err := c.post(tokenURL, exchangeBody(m.ClientID, m.ClientSecret, code))
			if err := wantToken(st, body, err); err != nil {
				return err
			}
			return wantToken(c.post(tokenURL, refreshBody(m.ClientID, m.ClientSecret, field(body, "refresh_token"))))
		}
	}},
}}

var peers = []peer{fakePeer, ceilingPeer, mockPeer}

var modes = []struct {
	name     string
	parallel bool
}{{"Sequential", false}, {"Parallel", true}}

// runScenario times b.N ops, sequentially or under RunParallel, and
// reports the p50 and p99 latency of one request (an op's time divided by
// its requests).
func runScenario(b *testing.B, s scenario, parallel bool) {
	hc := peerClient(b)
	op := s.setup(b, hc, b.N)
	var mu sync.Mutex
	var lat []time.Duration
	b.ReportAllocs()
	b.ResetTimer()
	if !parallel {
		c := &conn{hc: hc}
		lat = make([]time.Duration, 0, b.N)
		for i := 0; i < b.N; i++ {
			t0 := time.Now()
			if err := op(c, i); err != nil {
				b.Fatal(err)
			}
			lat = append(lat, time.Since(t0))
		}
	} else {
		var next sync.Mutex
		n, ids := 0, 0
		b.RunParallel(func(pb *testing.PB) {
			next.Lock()
			c := &conn{hc: hc, id: ids}
			ids++
			next.Unlock()
			var mine []time.Duration
			for pb.Next() {
				next.Lock()
				i := n
				n++
				next.Unlock()
				t0 := time.Now()
				if err := op(c, i); err != nil {
					b.Error(err)
					return
				}
				mine = append(mine, time.Since(t0))
			}
			mu.Lock()
			lat = append(lat, mine...)
			mu.Unlock()
		})
	}
	b.StopTimer()
	if len(lat) > 0 {
		slices.Sort(lat)
		per := float64(s.requests)
		b.ReportMetric(float64(lat[len(lat)/2])/per/1e3, "p50-µs/req")
		b.ReportMetric(float64(lat[min(len(lat)-1, len(lat)*99/100)])/per/1e3, "p99-µs/req")
	}
}

// BenchmarkPeers runs every scenario against the fake, the ceiling and
// mockoidc, side by side.
func BenchmarkPeers(b *testing.B) {
	for _, sc := range scenarioNames {
		for _, m := range modes {
			for _, p := range peers {
				b.Run(sc+"/"+m.name+"/"+p.name, func(b *testing.B) { runScenario(b, p.scenarios[sc], m.parallel) })
			}
		}
	}
}

// TestPeersWork runs every scenario of every peer a few times, so that
// the benchmarks' setup stays right (and runs under -race, but for
// mockoidc: the race detector sees its unlocked session store).
func TestPeersWork(t *testing.T) {
	for _, p := range peers {
		if p.name == "MockOIDC" && raceEnabled {
			continue
		}
		for _, sc := range scenarioNames {
			t.Run(p.name+"/"+sc, func(t *testing.T) {
				hc := peerClient(t)
				op := p.scenarios[sc].setup(t, hc, 8)
				var wg sync.WaitGroup
				errs := make(chan error, 8)
				for g := range 2 {
					wg.Add(1)
					go func() {
						defer wg.Done()
						c := &conn{hc: hc, id: g}
						for i := g * 4; i < g*4+4; i++ {
							if err := op(c, i); err != nil {
								errs <- err
								return
							}
						}
					}()
				}
				wg.Wait()
				close(errs)
				for err := range errs {
					t.Error(err)
				}
			})
		}
	}
}

// TestPeerRatios (with -peers) runs the peer benchmarks in one process,
// -peers.rounds times, interleaved (fake, ceiling, mockoidc, then the next
// scenario), and prints for each scenario the best ns/op of each peer (the
// run least disturbed by anything else on the machine), its latencies and
// the ratios fake/ceiling and fake/mockoidc. The goals: the fake within 2x
// of the ceiling, and ahead of mockoidc (a ratio under 1).
func TestPeerRatios(t *testing.T) {
	if !*peersFlag {
		t.Skip("run with -peers (go test -run TestPeerRatios -peers -v ./fakeserver/loadtest/)")
	}
	if raceEnabled {
		t.Skip("timings under -race mean nothing")
	}
	type best struct {
		ns       float64
		p50, p99 float64
		all      []float64
	}
	type row struct {
		name  string
		peers map[string]*best
	}
	var rows []*row
	for _, sc := range scenarioNames {
		for _, m := range modes {
			rows = append(rows, &row{name: sc + "/" + m.name, peers: map[string]*best{}})
		}
	}
	for range *peerRounds {
		i := 0
		for _, sc := range scenarioNames {
			for _, m := range modes {
				r := rows[i]
				i++
				for _, p := range peers {
					res := testing.Benchmark(func(b *testing.B) { runScenario(b, p.scenarios[sc], m.parallel) })
					if res.N == 0 {
						t.Fatalf("%s/%s failed", r.name, p.name)
					}
					ns := float64(res.T.Nanoseconds()) / float64(res.N)
					b := r.peers[p.name]
					if b == nil {
						b = &best{ns: ns + 1}
						r.peers[p.name] = b
					}
					b.all = append(b.all, ns)
					if ns < b.ns {
						b.ns, b.p50, b.p99 = ns, res.Extra["p50-µs/req"], res.Extra["p99-µs/req"]
					}
				}
			}
		}
	}
	var out strings.Builder
	fmt.Fprintf(&out, "\nbest of %d rounds, ns/op (p50/p99 µs per request)\n", *peerRounds)
	fmt.Fprintf(&out, "%-20s %22s %22s %22s %10s %10s\n", "scenario", "fake", "ceiling", "mockoidc", "fake/ceil", "fake/mock")
	cell := func(b *best) string { return fmt.Sprintf("%.0f (%.0f/%.0f)", b.ns, b.p50, b.p99) }
	var failed []string
	for _, r := range rows {
		f, c, m := r.peers["Fake"], r.peers["Ceiling"], r.peers["MockOIDC"]
		fc, fm := f.ns/c.ns, f.ns/m.ns
		fmt.Fprintf(&out, "%-20s %22s %22s %22s %10.2f %10.3f\n", r.name, cell(f), cell(c), cell(m), fc, fm)
		if fc > 2 {
			failed = append(failed, fmt.Sprintf("%s: fake/ceiling %.2f > 2", r.name, fc))
		}
		if fm >= 1 {
			failed = append(failed, fmt.Sprintf("%s: fake/mockoidc %.2f >= 1", r.name, fm))
		}
	}
	fmt.Fprintf(&out, "\nevery round, ns/op:\n")
	for _, r := range rows {
		fmt.Fprintf(&out, "%-20s fake %v  ceiling %v  mockoidc %v\n", r.name, rounded(r.peers["Fake"].all), rounded(r.peers["Ceiling"].all), rounded(r.peers["MockOIDC"].all))
	}
	t.Log(out.String())
	if len(failed) > 0 {
		t.Error(errors.New("goals missed: " + strings.Join(failed, "; ")))
	}
}

func rounded(xs []float64) []int64 {
	out := make([]int64, len(xs))
	for i, x := range xs {
		out[i] = int64(x + 0.5)
	}
	return out
}

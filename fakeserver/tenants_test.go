package fakeserver_test

import (
	"encoding/json"
	"fmt"
	"io"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"net/url"
	"runtime"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/zconform/zconform/fakeserver"
)

const tenantSeed = `users:
  - {email: ci@example.com, dc: us}
clients:
  - {id: 1000.SHAREDCLIENT000000000000000000, secret: 0123456789abcdef0123456789abcdef0123456789, type: web, name: CI app, homepage: https://www.example.com, redirect_uris: [https://www.example.com/cb], user: ci@example.com}
`

func startTenants(t *testing.T, cfg fakeserver.TenantsConfig) *fakeserver.Tenants {
	t.Helper()
	if cfg.Seed == nil {
		seed, err := fakeserver.ParseSeed("seed", []byte(tenantSeed))
		if err != nil {
			t.Fatal(err)
		}
		cfg.Seed = seed
	}
	ts := fakeserver.NewTenants(cfg)
	if err := ts.Start(""); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(ts.Close)
	return ts
}

func jsonDo(t *testing.T, method, u, body string, out any) int {
	t.Helper()
	return jsonDoAs(t, "", method, u, body, out)
}

// jsonDoAs sends a request with a bearer token ("": none).
func jsonDoAs(t *testing.T, token, method, u, body string, out any) int {
	t.Helper()
	req, _ := http.NewRequest(method, u, strings.NewReader(body))
	if token != "" {
		req.Header.Set("Authorization", "Bearer "+token)
	}
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	data, _ := io.ReadAll(resp.Body)
	if out != nil {
		if err := json.Unmarshal(data, out); err != nil {
			t.Fatalf("%s %s: %v: %s", method, u, err, data)
		}
	}
	return resp.StatusCode
}

func createTenant(t *testing.T, ts *fakeserver.Tenants) fakeserver.TenantInfo {
	t.Helper()
	var info fakeserver.TenantInfo
	if code := jsonDo(t, http.MethodPost, ts.URL+"/_zconform/v1/tenants", "", &info); code != http.StatusCreated || len(info.Token) != 64 {
		t.Fatalf("create: HTTP %d, token %d characters", code, len(info.Token))
	}
	return info
}

// authorize gets a grant from a tenant, without following the redirect.
func authorizeIn(t *testing.T, base string) url.Values {
	t.Helper()
	q := url.Values{"client_id": {"1000.SHAREDCLIENT000000000000000000"}, "response_type": {"code"},
		"redirect_uri": {"https://www.example.com/cb"}, "scope": {"ZohoCRM.users.ALL"}, "access_type": {"offline"}}
	hc := &http.Client{CheckRedirect: func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse }}
	resp, err := hc.Get(base + "/accounts.zoho.com/oauth/v2/auth?" + q.Encode())
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	loc, _ := url.Parse(resp.Header.Get("Location"))
	return loc.Query()
}

func TestTenantsAreIsolated(t *testing.T) {
	ts := startTenants(t, fakeserver.TenantsConfig{})
	a, b := createTenant(t, ts), createTenant(t, ts)
	if a.ID == b.ID || !strings.HasSuffix(a.URL, "/t/"+a.ID) {
		t.Fatalf("tenants %+v %+v", a, b)
	}

	// The same seeded client in both, each with its own state and clock.
	var before, after struct {
		Now string `json:"now"`
	}
	jsonDoAs(t, b.Token, http.MethodGet, b.Control+"/clock", "", &before)
	jsonDoAs(t, a.Token, http.MethodPost, a.Control+"/clock/advance", `{"by":"1h"}`, nil)
	jsonDoAs(t, b.Token, http.MethodGet, b.Control+"/clock", "", &after)
	if before.Now != after.Now {
		t.Errorf("advancing A's clock moved B's: %s -> %s", before.Now, after.Now)
	}

	// URLs in answers name the tenant's own prefix.
	q := authorizeIn(t, a.URL)
	if want := a.URL + "/accounts.zoho.com"; q.Get("accounts-server") != want {
		t.Fatalf("accounts-server %q, want %q", q.Get("accounts-server"), want)
	}
	// A's grant is unknown to B.
	form := url.Values{"grant_type": {"authorization_code"}, "client_id": {"1000.SHAREDCLIENT000000000000000000"},
		"client_secret": {"0123456789abcdef0123456789abcdef0123456789"}, "redirect_uri": {"https://www.example.com/cb"}, "code": {q.Get("code")}}
	var ans map[string]any
	resp, err := http.PostForm(b.URL+"/accounts.zoho.com/oauth/v2/token", form)
	if err != nil {
		t.Fatal(err)
	}
	_ = json.NewDecoder(resp.Body).Decode(&ans)
	resp.Body.Close()
	if ans["error"] != "invalid_code" {
		t.Fatalf("A's grant at B: %v", ans)
	}
	resp, _ = http.PostForm(a.URL+"/accounts.zoho.com/oauth/v2/token", form)
	ans = nil
	_ = json.NewDecoder(resp.Body).Decode(&ans)
	resp.Body.Close()
	if ans["access_token"] == nil || !strings.HasPrefix(ans["api_domain"].(string), a.URL) {
		t.Fatalf("A's grant at A: %v", ans)
	}
	srvA, _ := ts.Tenant(a.ID)
	srvB, _ := ts.Tenant(b.ID)
	ta, _ := srvA.Tokens("ci@example.com")
	tb, _ := srvB.Tokens("ci@example.com")
	if len(ta.RefreshTokens) != 1 || len(tb.RefreshTokens) != 0 {
		t.Fatalf("tokens A %d, B %d", len(ta.RefreshTokens), len(tb.RefreshTokens))
	}
}

func TestTenantsAreReleased(t *testing.T) {
	ts := startTenants(t, fakeserver.TenantsConfig{Max: 2, IdleTTL: time.Minute})
	a, _ := createTenant(t, ts), createTenant(t, ts)
	var e struct {
		Error string `json:"error"`
	}
	if code := jsonDo(t, http.MethodPost, ts.URL+"/_zconform/v1/tenants", "", &e); code != http.StatusServiceUnavailable || !strings.Contains(e.Error, "release finished ones") {
		t.Fatalf("over the max: HTTP %d %q", code, e.Error)
	}
	if code := jsonDoAs(t, a.Token, http.MethodDelete, ts.URL+"/_zconform/v1/tenants/"+a.ID, "", nil); code != http.StatusOK {
		t.Fatalf("release: HTTP %d", code)
	}
	if code := jsonDoAs(t, a.Token, http.MethodGet, a.Control+"/clock", "", &e); code != http.StatusNotFound || !strings.Contains(e.Error, "released or expired") {
		t.Fatalf("released tenant: HTTP %d %q", code, e.Error)
	}
	if ts.Len() != 1 {
		t.Fatalf("%d tenants live, want 1", ts.Len())
	}
	if n := ts.Sweep(time.Now().Add(2 * time.Minute)); n != 1 || ts.Len() != 0 {
		t.Fatalf("sweep released %d, %d left", n, ts.Len())
	}
}

// Without an admin token the shared fake answers only loopback; with one,
// anyone who reaches it may create a run (and gets its capability), but
// listing the runs needs the admin token.
func TestTenantsControlAPIWithoutAndWithAnAdminToken(t *testing.T) {
	ts := fakeserver.NewTenants(fakeserver.TenantsConfig{})
	defer ts.Close()
	req := httptest.NewRequest(http.MethodPost, "/_zconform/v1/tenants", nil)
	req.RemoteAddr = "192.0.2.1:1234"
	rec := httptest.NewRecorder()
	ts.Handler().ServeHTTP(rec, req)
	if rec.Code != http.StatusForbidden {
		t.Fatalf("non-loopback create: HTTP %d", rec.Code)
	}
	withToken := fakeserver.NewTenants(fakeserver.TenantsConfig{ControlToken: "s3cret"})
	defer withToken.Close()
	rec = httptest.NewRecorder()
	withToken.Handler().ServeHTTP(rec, req)
	var info fakeserver.TenantInfo
	if rec.Code != http.StatusCreated || json.Unmarshal(rec.Body.Bytes(), &info) != nil || info.Token == "" {
		t.Fatalf("create beyond loopback on a shared fake: HTTP %d %s", rec.Code, rec.Body)
	}
	list := httptest.NewRequest(http.MethodGet, "/_zconform/v1/tenants", nil)
	list.RemoteAddr = "192.0.2.1:1234"
	list.Header.Set("Authorization", "Bearer "+info.Token) // a run's token is not the admin's
	rec = httptest.NewRecorder()
	withToken.Handler().ServeHTTP(rec, list)
	if rec.Code != http.StatusUnauthorized || strings.Contains(rec.Body.String(), info.ID) {
		t.Fatalf("list with a run's token: HTTP %d %s", rec.Code, rec.Body)
	}
	list.Header.Set("Authorization", "Bearer s3cret")
	rec = httptest.NewRecorder()
	withToken.Handler().ServeHTTP(rec, list)
	if rec.Code != http.StatusOK || !strings.Contains(rec.Body.String(), info.ID) || strings.Contains(rec.Body.String(), info.Token) {
		t.Fatalf("list with the admin token: HTTP %d %s", rec.Code, rec.Body)
	}
}

// A run's control API answers only its own capability (or the admin
// token); another run's token, or none, gets nothing: no secrets, no
// tokens, no faults, no release. Its OAuth endpoints stay open.
func TestTenantsCapabilities(t *testing.T) {
	ts := startTenants(t, fakeserver.TenantsConfig{ControlToken: "admin-s3cret"})
	a, b := createTenant(t, ts), createTenant(t, ts)
	var e struct {
		Error string `json:"error"`
	}
	for _, c := range []struct{ token, method, path, body string }{
		{"", http.MethodGet, "/clients", ""},
		{b.Token, http.MethodGet, "/clients", ""},
		{b.Token, http.MethodGet, "/users/ci@example.com/tokens", ""},
		{b.Token, http.MethodPost, "/faults", `{"kind":"reset"}`},
		{"not-a-token", http.MethodGet, "/requests", ""},
	} {
		if code := jsonDoAs(t, c.token, c.method, a.Control+c.path, c.body, &e); code != http.StatusUnauthorized || strings.Contains(e.Error, "0123456789abcdef") ||
			!strings.Contains(e.Error, "the token its creation (POST /_zconform/v1/tenants) answered") {
			t.Errorf("%s %s on A with token %.6q: HTTP %d %q", c.method, c.path, c.token, code, e.Error)
		}
	}
	var clients []fakeserver.Client
	if code := jsonDoAs(t, a.Token, http.MethodGet, a.Control+"/clients", "", &clients); code != http.StatusOK || len(clients) != 1 {
		t.Fatalf("A's own clients: HTTP %d %v", code, clients)
	}
	if code := jsonDoAs(t, "admin-s3cret", http.MethodGet, a.Control+"/clients", "", nil); code != http.StatusOK {
		t.Fatalf("the admin on A: HTTP %d", code)
	}
	// releasing another run: as if it did not exist
	if code := jsonDoAs(t, b.Token, http.MethodDelete, ts.URL+"/_zconform/v1/tenants/"+a.ID, "", &e); code != http.StatusNotFound {
		t.Fatalf("B releasing A: HTTP %d", code)
	}
	if code := jsonDo(t, http.MethodGet, ts.URL+"/_zconform/v1/tenants", "", &e); code != http.StatusUnauthorized || !strings.Contains(e.Error, "$ZCONFORM_CONTROL_TOKEN") {
		t.Fatalf("listing without the admin token: HTTP %d %q", code, e.Error)
	}
	// the OAuth endpoints need no token
	if q := authorizeIn(t, a.URL); q.Get("code") == "" {
		t.Fatalf("A's authorization endpoint: %v", q)
	}
	if code := jsonDoAs(t, "admin-s3cret", http.MethodDelete, ts.URL+"/_zconform/v1/tenants/"+b.ID, "", nil); code != http.StatusOK {
		t.Fatalf("the admin releasing B: HTTP %d", code)
	}
}

// Each run is capped, with a clear 429, and so is how fast one caller
// creates runs.
func TestTenantsCaps(t *testing.T) {
	ts := startTenants(t, fakeserver.TenantsConfig{Caps: &fakeserver.Caps{Clients: 2, Users: 2, Faults: 1, LiveTokens: 6}, CreateRate: 3})
	a := createTenant(t, ts) // the seed holds one client and one user
	var e struct {
		Error string `json:"error"`
	}
	client := func(i int) string {
		return fmt.Sprintf(`{"type":"web","name":"App %d","homepage":"https://www.example.com","redirect_uris":["https://www.example.com/cb"]}`, i)
	}
	if code := jsonDoAs(t, a.Token, http.MethodPost, a.Control+"/clients", client(1), nil); code != http.StatusOK {
		t.Fatalf("the second client: HTTP %d", code)
	}
	if code := jsonDoAs(t, a.Token, http.MethodPost, a.Control+"/clients", client(2), &e); code != http.StatusTooManyRequests || !strings.Contains(e.Error, "2 clients, the most a run of this shared fake may") {
		t.Fatalf("the third client: HTTP %d %q", code, e.Error)
	}
	if code := jsonDoAs(t, a.Token, http.MethodPost, a.Control+"/faults", `{"kind":"reset","endpoint":"api"}`, nil); code != http.StatusOK {
		t.Fatalf("the first fault: HTTP %d", code)
	}
	if code := jsonDoAs(t, a.Token, http.MethodPost, a.Control+"/faults", `{"kind":"reset","endpoint":"api"}`, &e); code != http.StatusTooManyRequests {
		t.Fatalf("the second fault: HTTP %d %q", code, e.Error)
	}
	// live tokens and codes: an authorization makes a code, its offline
	// exchange two tokens; past 6 the authorization and the token
	// endpoint refuse
	form := func(code string) url.Values {
		return url.Values{"grant_type": {"authorization_code"}, "client_id": {"1000.SHAREDCLIENT000000000000000000"},
			"client_secret": {"0123456789abcdef0123456789abcdef0123456789"}, "redirect_uri": {"https://www.example.com/cb"}, "code": {code}}
	}
	for i, want := range []int{http.StatusOK, http.StatusOK, http.StatusTooManyRequests} {
		resp, err := http.PostForm(a.URL+"/accounts.zoho.com/oauth/v2/token", form(authorizeIn(t, a.URL).Get("code")))
		if err != nil {
			t.Fatal(err)
		}
		body, _ := io.ReadAll(resp.Body)
		resp.Body.Close()
		if resp.StatusCode != want || (want == http.StatusTooManyRequests && !strings.Contains(string(body), "too_many_tokens")) {
			t.Fatalf("exchange %d: HTTP %d %s", i+1, resp.StatusCode, body)
		}
	}
	// the creation rate: 3 a minute per caller (a was the first)
	createTenant(t, ts)
	createTenant(t, ts)
	req, _ := http.NewRequest(http.MethodPost, ts.URL+"/_zconform/v1/tenants", nil)
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	_ = json.NewDecoder(resp.Body).Decode(&e)
	resp.Body.Close()
	if resp.StatusCode != http.StatusTooManyRequests || resp.Header.Get("Retry-After") == "" || !strings.Contains(e.Error, "created 3 runs in the last minute") {
		t.Fatalf("the fourth creation in a minute: HTTP %d %q", resp.StatusCode, e.Error)
	}
}

// The caps hold whatever way a run adds state: a seed file through the
// control API, many small registrations, concurrent requests, the
// authorization endpoint.
func TestTenantsCapsHoldEverywhere(t *testing.T) {
	ts := startTenants(t, fakeserver.TenantsConfig{Caps: &fakeserver.Caps{Clients: 5, Users: 5, LiveTokens: 2, RegistrationBytes: 4096}})
	a := createTenant(t, ts) // the seed holds one client and one user
	var e struct {
		Error string `json:"error"`
	}
	var users []json.RawMessage
	count := func() int {
		if code := jsonDoAs(t, a.Token, http.MethodGet, a.Control+"/users", "", &users); code != http.StatusOK {
			t.Fatalf("GET /users: HTTP %d", code)
		}
		return len(users)
	}
	// a seed of 5 more users would make 6: refused whole
	var seed strings.Builder
	seed.WriteString("users:\n")
	for i := range 5 {
		fmt.Fprintf(&seed, "  - {email: s%d@example.com, dc: us}\n", i)
	}
	if code := jsonDoAs(t, a.Token, http.MethodPost, a.Control+"/seed", seed.String(), &e); code != http.StatusTooManyRequests || !strings.Contains(e.Error, "5 users") {
		t.Fatalf("a seed past the user cap: HTTP %d %q", code, e.Error)
	}
	if n := count(); n != 1 {
		t.Fatalf("after a refused seed the run holds %d users, want the seed's 1", n)
	}
	// concurrent registrations: exactly the 4 free places are taken
	var wg sync.WaitGroup
	codes := make([]int, 12)
	for i := range codes {
		wg.Go(func() {
			codes[i] = jsonDoAs(t, a.Token, http.MethodPost, a.Control+"/users", fmt.Sprintf(`{"email":"c%d@example.com","dc":"us"}`, i), nil)
		})
	}
	wg.Wait()
	ok, refused := 0, 0
	for _, c := range codes {
		switch c {
		case http.StatusOK:
			ok++
		case http.StatusTooManyRequests:
			refused++
		}
	}
	if ok != 4 || refused != 8 || count() != 5 {
		t.Fatalf("12 concurrent users under a cap of 5 (1 held): %d accepted, %d refused, %d held", ok, refused, count())
	}
	// small registrations add up: scopes are bounded by bytes
	body := `{"scopes":["ZohoCRM.custom` + strings.Repeat("x", 900) + `.ALL"]}`
	sent := 0
	for i := 0; ; i++ {
		code := jsonDoAs(t, a.Token, http.MethodPost, a.Control+"/scopes", body, &e)
		if code == http.StatusTooManyRequests {
			if !strings.Contains(e.Error, "4096 bytes of registrations") {
				t.Fatalf("the refusal %q does not name the cap", e.Error)
			}
			break
		}
		if code != http.StatusOK || i > 10 {
			t.Fatalf("scopes %d: HTTP %d after %d bytes", i+1, code, sent)
		}
		sent += len(body)
	}
	if sent == 0 || sent > 4096 {
		t.Fatalf("%d bytes of scopes accepted under a 4096-byte cap", sent)
	}
	// codes count: an authorization past the cap is refused
	hc := &http.Client{CheckRedirect: func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse }}
	q := url.Values{"client_id": {"1000.SHAREDCLIENT000000000000000000"}, "response_type": {"code"},
		"redirect_uri": {"https://www.example.com/cb"}, "scope": {"ZohoCRM.users.ALL"}}
	for i, want := range []int{http.StatusFound, http.StatusFound, http.StatusTooManyRequests} {
		resp, err := hc.Get(a.URL + "/accounts.zoho.com/oauth/v2/auth?" + q.Encode())
		if err != nil {
			t.Fatal(err)
		}
		resp.Body.Close()
		if resp.StatusCode != want {
			t.Fatalf("authorization %d under a cap of 2 codes: HTTP %d, want %d", i+1, resp.StatusCode, want)
		}
	}
}

// A path that the standard router would clean ("//", "..") stays in its
// run, and the shared control API answers oversized bodies with 413.
func TestTenantsPathsAndBodies(t *testing.T) {
	ts := startTenants(t, fakeserver.TenantsConfig{})
	a := createTenant(t, ts)
	hc := &http.Client{CheckRedirect: func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse }}
	for _, p := range []string{"/_zconform/v1//clock", "/_zconform/v1/x/../clock", "//_zconform/v1/clock"} {
		req, _ := http.NewRequest(http.MethodGet, a.URL+p, nil)
		req.Header.Set("Authorization", "Bearer "+a.Token)
		resp, err := hc.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		resp.Body.Close()
		if resp.StatusCode != http.StatusOK || resp.Header.Get("Location") != "" {
			t.Errorf("%s: HTTP %d Location %q", p, resp.StatusCode, resp.Header.Get("Location"))
		}
	}
	var e struct {
		Error string `json:"error"`
	}
	if code := jsonDo(t, http.MethodPost, ts.URL+"/_zconform/v1/tenants", strings.Repeat("x", 10<<20), &e); code != http.StatusRequestEntityTooLarge {
		t.Fatalf("a 10 MB creation body: HTTP %d %q", code, e.Error)
	}
}

// Many runs at once: create, use, release, concurrently; nothing leaks.
func TestTenantsUnderConcurrentRuns(t *testing.T) {
	ts := startTenants(t, fakeserver.TenantsConfig{})
	var wg sync.WaitGroup
	errs := make(chan error, 20)
	for i := 0; i < 20; i++ {
		wg.Go(func() {
			var info fakeserver.TenantInfo
			req, _ := http.NewRequest(http.MethodPost, ts.URL+"/_zconform/v1/tenants", nil)
			resp, err := http.DefaultClient.Do(req)
			if err != nil {
				errs <- err
				return
			}
			_ = json.NewDecoder(resp.Body).Decode(&info)
			resp.Body.Close()
			for j := 0; j < 3; j++ {
				req, _ := http.NewRequest(http.MethodPost, info.Control+"/clock/advance", strings.NewReader(`{"by":"1m"}`))
				req.Header.Set("Authorization", "Bearer "+info.Token)
				resp, err := http.DefaultClient.Do(req)
				if err != nil {
					errs <- err
					return
				}
				resp.Body.Close()
			}
			srv, ok := ts.Tenant(info.ID)
			if !ok {
				errs <- fmt.Errorf("tenant %s vanished", info.ID)
				return
			}
			if got := srv.Now().Sub(time.Now()); got < 2*time.Minute {
				errs <- fmt.Errorf("tenant %s clock moved %s, want 3m (another run touched it?)", info.ID, got)
			}
			ts.Release(info.ID)
		})
	}
	wg.Wait()
	close(errs)
	for err := range errs {
		t.Error(err)
	}
	if ts.Len() != 0 {
		t.Errorf("%d tenants leaked", ts.Len())
	}
}

// A run's log lines name it.
func TestTenantLogLinesNameTheirRun(t *testing.T) {
	logs := &syncBuf{}
	ts := fakeserver.NewTenants(fakeserver.TenantsConfig{}, fakeserver.WithLogger(slog.New(slog.NewJSONHandler(logs, nil))))
	if err := ts.Start(""); err != nil {
		t.Fatal(err)
	}
	defer ts.Close()
	a := createTenant(t, ts)
	resp, err := http.Get(a.URL + "/accounts.zoho.com/oauth/v2/auth")
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	if !strings.Contains(logs.String(), `"tenant":"`+a.ID+`"`) {
		t.Fatalf("the run's log line does not name it:\n%s", logs.String())
	}
	if strings.Contains(logs.String(), a.Token) {
		t.Fatal("the log holds the run's token")
	}
}

// A run costs little memory: the control API's router is shared.
func TestTenantsAreSmall(t *testing.T) {
	ts := fakeserver.NewTenants(fakeserver.TenantsConfig{Max: 5000})
	defer ts.Close()
	const n = 500
	before := heapAfterGC()
	for range n {
		if _, err := ts.Create(); err != nil {
			t.Fatal(err)
		}
	}
	per := (heapAfterGC() - before) / n
	t.Logf("%d bytes per run", per)
	if per > 12<<10 {
		t.Errorf("a run costs %d bytes", per)
	}
}

func heapAfterGC() int64 {
	runtime.GC()
	runtime.GC()
	var m runtime.MemStats
	runtime.ReadMemStats(&m)
	return int64(m.HeapAlloc)
}

// BenchmarkTenantCreate reports a run's memory (bytes/run) and the time to
// create one.
func BenchmarkTenantCreate(b *testing.B) {
	ts := fakeserver.NewTenants(fakeserver.TenantsConfig{Max: b.N + 1})
	defer ts.Close()
	before := heapAfterGC()
	for b.Loop() {
		if _, err := ts.Create(); err != nil {
			b.Fatal(err)
		}
	}
	b.ReportMetric(float64(heapAfterGC()-before)/float64(b.N), "bytes/run")
}

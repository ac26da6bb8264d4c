package fakeserver_test

import (
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"net/url"
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
	req, _ := http.NewRequest(method, u, strings.NewReader(body))
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
	if code := jsonDo(t, http.MethodPost, ts.URL+"/_zconform/v1/tenants", "", &info); code != http.StatusCreated {
		t.Fatalf("create: HTTP %d", code)
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
	jsonDo(t, http.MethodGet, b.Control+"/clock", "", &before)
	jsonDo(t, http.MethodPost, a.Control+"/clock/advance", `{"by":"1h"}`, nil)
	jsonDo(t, http.MethodGet, b.Control+"/clock", "", &after)
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
	if code := jsonDo(t, http.MethodDelete, ts.URL+"/_zconform/v1/tenants/"+a.ID, "", nil); code != http.StatusOK {
		t.Fatalf("release: HTTP %d", code)
	}
	if code := jsonDo(t, http.MethodGet, a.Control+"/clock", "", &e); code != http.StatusNotFound || !strings.Contains(e.Error, "released or expired") {
		t.Fatalf("released tenant: HTTP %d %q", code, e.Error)
	}
	if ts.Len() != 1 {
		t.Fatalf("%d tenants live, want 1", ts.Len())
	}
	if n := ts.Sweep(time.Now().Add(2 * time.Minute)); n != 1 || ts.Len() != 0 {
		t.Fatalf("sweep released %d, %d left", n, ts.Len())
	}
}

func TestTenantsControlAPIIsLoopbackOnly(t *testing.T) {
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
	if rec.Code != http.StatusUnauthorized {
		t.Fatalf("missing token: HTTP %d", rec.Code)
	}
	req.Header.Set("Authorization", "Bearer s3cret")
	rec = httptest.NewRecorder()
	withToken.Handler().ServeHTTP(rec, req)
	if rec.Code != http.StatusCreated {
		t.Fatalf("with token: HTTP %d %s", rec.Code, rec.Body)
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
				resp, err := http.Post(info.Control+"/clock/advance", "application/json", strings.NewReader(`{"by":"1m"}`))
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

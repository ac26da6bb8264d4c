package fakeserver

import (
	"encoding/json"
	"io"
	"net/http"
	"net/http/httptest"
	"testing"

	"github.com/zconform/zconform/fixtures/zoho"
)

// probe asks h for path as a caller at remote would, with an optional
// bearer token, and returns the status and the body's "status".
func probe(t *testing.T, h http.Handler, method, path, remote, token string) (int, string) {
	t.Helper()
	req := httptest.NewRequest(method, "http://fake.example"+path, nil)
	req.RemoteAddr = remote
	if token != "" {
		req.Header.Set("Authorization", "Bearer "+token)
	}
	rec := httptest.NewRecorder()
	h.ServeHTTP(rec, req)
	var body struct {
		Status string `json:"status"`
	}
	_ = json.Unmarshal(rec.Body.Bytes(), &body)
	return rec.Code, body.Status
}

// probeURL asks a listening fake over HTTP.
func probeURL(t *testing.T, url string) (int, string) {
	t.Helper()
	resp, err := http.Get(url)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	data, _ := io.ReadAll(resp.Body)
	if ct := resp.Header.Get("Content-Type"); ct != "application/json;charset=UTF-8" {
		t.Errorf("%s: Content-Type %q", url, ct)
	}
	if cc := resp.Header.Get("Cache-Control"); cc != "no-store" {
		t.Errorf("%s: Cache-Control %q, want no-store", url, cc)
	}
	var body map[string]string
	if err := json.Unmarshal(data, &body); err != nil || len(body) != 1 {
		t.Fatalf("%s answered %d %q: want a JSON object with status alone", url, resp.StatusCode, data)
	}
	return resp.StatusCode, body["status"]
}

// Health and readiness answer any caller, with no token and from beyond
// loopback, while the control API next to them still refuses both; they
// are not logged, and they answer only GET and HEAD.
func TestHealthOpenToAnyCaller(t *testing.T) {
	for _, token := range []string{"", "s3cret-control-token"} {
		var opts []Option
		if token != "" {
			opts = append(opts, WithControlToken(token))
		}
		srv := New(opts...)
		defer srv.Close()
		for _, path := range []string{HealthPath, ReadyPath} {
			if code, status := probeURL(t, srv.URL+path); code != 200 || status != "ok" {
				t.Errorf("token %q: GET %s = %d %q, want 200 ok", token, path, code, status)
			}
			for _, remote := range []string{"127.0.0.1:5000", "203.0.113.7:5000", "[2001:db8::1]:5000"} {
				if code, status := probe(t, srv.Handler(), http.MethodGet, path, remote, ""); code != 200 || status != "ok" {
					t.Errorf("token %q: GET %s from %s = %d %q, want 200 ok", token, path, remote, code, status)
				}
			}
			if code, _ := probe(t, srv.Handler(), http.MethodHead, path, "203.0.113.7:5000", ""); code != 200 {
				t.Errorf("HEAD %s = %d", path, code)
			}
			for _, m := range []string{http.MethodPost, http.MethodPut, http.MethodDelete} {
				if code, _ := probe(t, srv.Handler(), m, path, "127.0.0.1:5000", token); code != http.StatusMethodNotAllowed {
					t.Errorf("%s %s = %d, want 405", m, path, code)
				}
			}
		}
		// the control API beside them is as guarded as ever
		want := http.StatusForbidden
		if token != "" {
			want = http.StatusUnauthorized
		}
		if code, _ := probe(t, srv.Handler(), http.MethodGet, controlPrefix+"/clock", "203.0.113.7:5000", ""); code != want {
			t.Errorf("token %q: the control API from beyond loopback without a token answered %d, want %d", token, code, want)
		}
		if n := len(srv.Requests()); n != 0 {
			t.Errorf("token %q: %d probes reached the request log: %+v", token, n, srv.Requests())
		}
		// the same path under a DC's prefix is not it
		if code, _ := probe(t, srv.Handler(), http.MethodGet, "/accounts.zoho.com"+HealthPath, "127.0.0.1:5000", ""); code != http.StatusNotFound {
			t.Errorf("%s under a DC prefix answered %d, want 404", HealthPath, code)
		}
	}
}

// A server whose owner holds readiness back answers 503 on /ready (and
// 200 on /health) until it says it is ready; a closed one is not ready.
func TestReadyWaitsForItsOwner(t *testing.T) {
	srv := NewUnstarted()
	srv.SetReady(false)
	if err := srv.Start(); err != nil {
		t.Fatal(err)
	}
	defer srv.Close()
	if code, status := probeURL(t, srv.URL+ReadyPath); code != http.StatusServiceUnavailable || status != "starting" {
		t.Errorf("held: GET %s = %d %q, want 503 starting", ReadyPath, code, status)
	}
	if code, status := probeURL(t, srv.URL+HealthPath); code != 200 || status != "ok" {
		t.Errorf("held: GET %s = %d %q, want 200 ok", HealthPath, code, status)
	}
	// another server is not held by this one
	other := New()
	defer other.Close()
	if code, _ := probeURL(t, other.URL+ReadyPath); code != 200 {
		t.Errorf("another server is not ready: %d", code)
	}
	if err := srv.ApplySeed(&SeedFile{Users: []UserSpec{{Email: "alice@example.com", DC: zoho.US}}}); err != nil {
		t.Fatal(err)
	}
	srv.SetReady(true)
	if code, status := probeURL(t, srv.URL+ReadyPath); code != 200 || status != "ok" {
		t.Errorf("released: GET %s = %d %q, want 200 ok", ReadyPath, code, status)
	}
	srv.SetReady(true) // twice is harmless
	srv.Close()
	if code, status := probe(t, srv.Handler(), http.MethodGet, ReadyPath, "127.0.0.1:1", ""); code != http.StatusServiceUnavailable || status != "stopping" {
		t.Errorf("closed: GET %s = %d %q, want 503 stopping", ReadyPath, code, status)
	}
	if code, _ := probe(t, srv.Handler(), http.MethodGet, HealthPath, "127.0.0.1:1", ""); code != 200 {
		t.Errorf("closed: GET %s = %d, want 200 (alive, if stopping)", HealthPath, code)
	}
}

// A shared fake answers both on its listener, open to any caller, and
// each run answers them under its own URL; its readiness can be held
// back too.
func TestHealthOnSharedFake(t *testing.T) {
	ts := NewTenants(TenantsConfig{ControlToken: "admin-token"})
	ts.SetReady(false)
	if err := ts.Start(""); err != nil {
		t.Fatal(err)
	}
	defer ts.Close()
	if code, status := probeURL(t, ts.URL+ReadyPath); code != http.StatusServiceUnavailable || status != "starting" {
		t.Errorf("held: GET %s = %d %q, want 503 starting", ReadyPath, code, status)
	}
	ts.SetReady(true)
	for _, path := range []string{HealthPath, ReadyPath} {
		if code, status := probeURL(t, ts.URL+path); code != 200 || status != "ok" {
			t.Errorf("GET %s = %d %q, want 200 ok", path, code, status)
		}
		if code, status := probe(t, ts.Handler(), http.MethodGet, path, "198.51.100.9:4000", ""); code != 200 || status != "ok" {
			t.Errorf("GET %s from beyond loopback = %d %q, want 200 ok", path, code, status)
		}
	}
	// the shared control API beside them still wants the admin token
	if code, _ := probe(t, ts.Handler(), http.MethodGet, controlPrefix+"/tenants", "198.51.100.9:4000", ""); code != http.StatusUnauthorized {
		t.Errorf("listing runs without the admin token: %d, want 401", code)
	}
	run, err := ts.Create()
	if err != nil {
		t.Fatal(err)
	}
	for _, path := range []string{HealthPath, ReadyPath} {
		if code, status := probeURL(t, ts.URL+run.URL+path); code != 200 || status != "ok" {
			t.Errorf("the run's GET %s = %d %q, want 200 ok", path, code, status)
		}
	}
	if code, _ := probe(t, ts.Handler(), http.MethodGet, "/t/0000000000000000"+HealthPath, "127.0.0.1:1", ""); code != http.StatusNotFound {
		t.Errorf("an unknown run's health answered %d, want 404", code)
	}
	ts.Close()
	if code, status := probe(t, ts.Handler(), http.MethodGet, ReadyPath, "127.0.0.1:1", ""); code != http.StatusServiceUnavailable || status != "stopping" {
		t.Errorf("closed: GET %s = %d %q, want 503 stopping", ReadyPath, code, status)
	}
}

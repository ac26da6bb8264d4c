package target_test

import (
	"context"
	"fmt"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"testing"

	"github.com/zconform/zconform/suites/target"
)

// endpoint is a test HTTP server that notes every request it gets and
// answers the token endpoint like a Zoho Accounts server does a made-up
// refresh token.
type endpoint struct {
	*httptest.Server
	mu    sync.Mutex
	paths []string
}

func newEndpoint(t *testing.T) *endpoint {
	e := &endpoint{}
	e.Server = httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		e.mu.Lock()
		e.paths = append(e.paths, r.URL.Path)
		e.mu.Unlock()
		w.Header().Set("Content-Type", "application/json")
		fmt.Fprint(w, `{"error":"invalid_code"}`)
	}))
	t.Cleanup(e.Close)
	return e
}

func (e *endpoint) seen() []string {
	e.mu.Lock()
	defer e.mu.Unlock()
	return append([]string(nil), e.paths...)
}

// The real target's client is the second guard of the rule that a run
// reaches only the URLs its target file names: whatever URL a case builds,
// a request outside them is refused before anything is sent, with an error
// that names the host and the file.
func TestRealClientRefusesWhatTheFileDoesNotName(t *testing.T) {
	named, other := newEndpoint(t), newEndpoint(t)
	path := filepath.Join(t.TempDir(), "staging.yaml")
	body := fmt.Sprintf(`name: staging-us
user_dc: us
allow_http: true
data_centres:
  us: {accounts: %s/accounts, api: %s/api}
client:
  id: 1000.STAGINGCLIENT00000000000000000
  secret_env: ZC_GUARD_SECRET
  redirect_uri: https://www.example.com/callback
  dc: eu
`, named.URL, named.URL)
	if err := os.WriteFile(path, []byte(body), 0o644); err != nil {
		t.Fatal(err)
	}
	t.Setenv("ZC_GUARD_SECRET", "0123456789abcdef0123456789abcdef0123456789")
	r, err := target.OpenReal(path, false, false)
	if err != nil {
		t.Fatal(err)
	}
	if got := r.NamedDCs(); len(got) != 1 || got[0] != "us" {
		t.Fatalf("NamedDCs = %v", got)
	}
	otherHost := strings.TrimPrefix(other.URL, "http://")
	for _, c := range []struct{ url, host string }{
		{other.URL + "/oauth/v2/token", otherHost},                                        // another host:port
		{"https://accounts.zoho.eu/oauth/v2/token", "accounts.zoho.eu"},                   // Zoho's production EU
		{r.AccountsURL("eu") + "/oauth/v2/token", "accounts.eu." + target.NotNamedDomain}, // what the target says for an unnamed DC
		{r.APIURL("cn") + "/crm/v8/users", "api.cn." + target.NotNamedDomain},
		{named.URL + "/elsewhere/oauth/v2/token", strings.TrimPrefix(named.URL, "http://")},               // the named host, outside the named URLs
		{"https://" + strings.TrimPrefix(named.URL, "http://") + "/accounts/oauth/v2/token", "127.0.0.1"}, // the named host:port, another scheme
	} {
		resp, err := r.HTTP().Post(c.url, "application/x-www-form-urlencoded", strings.NewReader("client_secret=x"))
		if err == nil {
			resp.Body.Close()
			t.Errorf("POST %s was sent (HTTP %d); want it refused", c.url, resp.StatusCode)
			continue
		}
		if c.host == "accounts.zoho.eu" {
			t.Logf("the refusal: %v", err)
		}
		for _, want := range []string{"refused a request to " + c.host, "the target file " + path + " names no such URL", "data_centres"} {
			if !strings.Contains(err.Error(), want) {
				t.Errorf("POST %s: %v\nwant %q", c.url, err, want)
			}
		}
	}
	if got := other.seen(); len(got) != 0 {
		t.Errorf("the host the file does not name got %v", got)
	}
	if got := named.seen(); len(got) != 0 {
		t.Errorf("the named host got requests outside its URLs: %v", got)
	}
	// What the file names goes through.
	for _, u := range []string{r.AccountsURL("us") + "/oauth/v2/token", r.APIURL("us") + "/crm/v8/users"} {
		resp, err := r.HTTP().Get(u)
		if err != nil {
			t.Fatalf("GET %s: %v", u, err)
		}
		resp.Body.Close()
	}
	// The preflight checks only the DCs the file names: the client's home
	// (eu) is not named, so only the user's (us) is probed.
	if err := r.Preflight(context.Background()); err != nil {
		t.Fatalf("preflight: %v", err)
	}
	got := named.seen()
	if len(got) != 3 || got[2] != "/accounts/oauth/v2/token" {
		t.Errorf("requests at the named host: %v", got)
	}
}

// The cleanup report says a real target was opened, and then what Close
// revoked: zconform run reads it after an interrupted run.
func TestCleanupReport(t *testing.T) {
	named := newEndpoint(t)
	path := filepath.Join(t.TempDir(), "staging.yaml")
	if err := os.WriteFile(path, []byte(fmt.Sprintf(`name: staging-us
allow_http: true
data_centres:
  us: {accounts: %s/accounts, api: %s/api}
client:
  id: 1000.STAGINGCLIENT00000000000000000
  secret_env: ZC_GUARD_SECRET
  redirect_uri: https://www.example.com/callback
`, named.URL, named.URL)), 0o644); err != nil {
		t.Fatal(err)
	}
	report := filepath.Join(t.TempDir(), "cleanup.json")
	t.Setenv("ZC_GUARD_SECRET", "0123456789abcdef0123456789abcdef0123456789")
	t.Setenv(target.EnvTarget, path)
	t.Setenv(target.EnvCleanupReport, report)
	if _, ok, err := target.ReadCleanupReport(report); ok || err != nil {
		t.Fatalf("a report before the target opened: %v %v", ok, err)
	}
	r, err := target.Open(context.Background())
	if err != nil {
		t.Fatal(err)
	}
	rep, ok, err := target.ReadCleanupReport(report)
	if !ok || err != nil || !rep.Opened || rep.Closed || rep.Target != "staging-us" {
		t.Fatalf("after Open: %+v %v %v", rep, ok, err)
	}
	r.Close()
	rep, ok, err = target.ReadCleanupReport(report)
	if !ok || err != nil || !rep.Closed || rep.Created != 0 || rep.Error != "" {
		t.Fatalf("after Close: %+v %v %v", rep, ok, err)
	}
}

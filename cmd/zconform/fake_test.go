package main

import (
	"bytes"
	"crypto/tls"
	"crypto/x509"
	"encoding/json"
	"io"
	"net/http"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"
)

const goodSeed = `profile: accounts-2025
users:
  - {email: alice@example.com, dc: us, first_name: Alice}
clients:
  - id: 1000.CICLIENT0000000000000000000001
    secret: 0123456789abcdef0123456789abcdef0123456789
    type: web
    name: CI app
    homepage: https://example.com
    redirect_uris: [http://localhost:3000/callback]
    user: alice@example.com
    multi_dc:
      eu: {separate_secret: true, secret: abcdefabcdefabcdefabcdefabcdefabcdefabcdef}
`

// syncBuffer is a bytes.Buffer safe for the command's goroutine and the test.
type syncBuffer struct {
	mu sync.Mutex
	b  bytes.Buffer
}

func (s *syncBuffer) Write(p []byte) (int, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.b.Write(p)
}

func (s *syncBuffer) String() string {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.b.String()
}

func writeFile(t *testing.T, name, content string) string {
	t.Helper()
	path := filepath.Join(t.TempDir(), name)
	if err := os.WriteFile(path, []byte(content), 0o644); err != nil {
		t.Fatal(err)
	}
	return path
}

// startFake runs the command in the background until the test closes stop,
// and returns what it wrote to its ready file.
func startFake(t *testing.T, stdout, stderr *syncBuffer, args ...string) (readyInfo, chan struct{}, chan int) {
	t.Helper()
	ready := filepath.Join(t.TempDir(), "ready.json")
	stop := make(chan struct{})
	done := make(chan int, 1)
	go func() { done <- runFake(append(args, "-ready-file", ready), stdout, stderr, stop) }()
	var info readyInfo
	deadline := time.Now().Add(5 * time.Second)
	for {
		data, err := os.ReadFile(ready)
		if err == nil && json.Unmarshal(data, &info) == nil {
			return info, stop, done
		}
		select {
		case code := <-done:
			t.Fatalf("zconform fake exited %d before it was ready; stderr: %s", code, stderr.String())
		default:
		}
		if time.Now().After(deadline) {
			t.Fatalf("no ready file; stderr: %s", stderr.String())
		}
		time.Sleep(10 * time.Millisecond)
	}
}

func TestFakeServesTLSWithTheWrittenCertificate(t *testing.T) {
	cert := filepath.Join(t.TempDir(), "fake.pem")
	var stdout, stderr syncBuffer
	info, stop, done := startFake(t, &stdout, &stderr, "-addr", "127.0.0.1:0", "-tls", "-cert", cert, "-log", "off")
	defer func() { close(stop); <-done }()
	if !strings.HasPrefix(info.URL, "https://") || info.Certificate != cert {
		t.Fatalf("ready info = %+v", info)
	}
	pemData, err := os.ReadFile(cert)
	if err != nil {
		t.Fatal(err)
	}
	pool := x509.NewCertPool()
	if !pool.AppendCertsFromPEM(pemData) {
		t.Fatalf("%s holds no PEM certificate", cert)
	}
	hc := &http.Client{Transport: &http.Transport{TLSClientConfig: &tls.Config{RootCAs: pool}}}
	resp, err := hc.Post(info.DataCentres["jp"]["accounts_server"]+"/oauth/v2/token", "application/x-www-form-urlencoded", strings.NewReader("grant_type=authorization_code&code=1000.x&client_id=1000.NOPE"))
	if err != nil {
		t.Fatalf("HTTPS with the written certificate: %v", err)
	}
	body, _ := io.ReadAll(resp.Body)
	resp.Body.Close()
	if resp.StatusCode != 200 || string(body) != `{"error":"invalid_client"}` {
		t.Fatalf("JP token endpoint over TLS: %d %s", resp.StatusCode, body)
	}
	if _, err := http.Get(info.URL); err == nil {
		t.Fatal("an HTTP client without the certificate was served")
	}
}

func TestFakeServesSeededClientsAndStops(t *testing.T) {
	seed := writeFile(t, "seed.yaml", goodSeed)
	var stdout, stderr syncBuffer
	info, stop, done := startFake(t, &stdout, &stderr, "-addr", "127.0.0.1:0", "-seed", seed)
	if info.Profile != "accounts-2025" || len(info.Clients) != 1 || info.Clients[0].ID != "1000.CICLIENT0000000000000000000001" {
		t.Fatalf("ready info = %+v", info)
	}
	// The seeded client is known in the EU with its own secret: the home
	// secret is refused there with the accounts-2025 error.
	eu := info.DataCentres["eu"]["accounts_server"]
	resp, err := http.Post(eu+"/oauth/v2/token?grant_type=refresh_token&client_id=1000.CICLIENT0000000000000000000001&client_secret=0123456789abcdef0123456789abcdef0123456789&refresh_token=1000.x", "", nil)
	if err != nil {
		t.Fatal(err)
	}
	body, _ := io.ReadAll(resp.Body)
	resp.Body.Close()
	if string(body) != `{"error":"invalid_client_secret"}` {
		t.Fatalf("EU token endpoint said %s", body)
	}
	close(stop)
	if code := <-done; code != 0 {
		t.Fatalf("exit %d; stderr: %s", code, stderr.String())
	}
	if !strings.Contains(stdout.String(), "control API:") {
		t.Errorf("stdout lacks the control API URL:\n%s", stdout.String())
	}
	if strings.Contains(stderr.String(), "0123456789abcdef0123456789abcdef0123456789") {
		t.Errorf("the client secret reached the log:\n%s", stderr.String())
	}
}

func TestFakeRefusesBrokenInput(t *testing.T) {
	cases := []struct {
		name, seed string
		args       []string
		want       []string
		code       int
	}{
		{name: "console refusal", seed: "clients:\n  - type: web\n    name: CI app!\n    homepage: https://example.com\n    redirect_uris: [http://localhost/cb]\n",
			want: []string{"seed.yaml:2:", "client 1", "Enter a valid client name"}, code: 1},
		{name: "unknown field", seed: "users:\n  - {email: a@example.com, colour: red}\n",
			want: []string{"seed.yaml:2", "field colour not found"}, code: 1},
		{name: "bad YAML", seed: "users: [\n", want: []string{"seed.yaml:"}, code: 1},
		{name: "unknown DC", seed: "users:\n  - {email: a@example.com, dc: mars}\n",
			want: []string{"seed.yaml:2:", `unknown data centre "mars"`, "use one of us, eu"}, code: 1},
		{name: "unknown user", seed: "clients:\n  - {type: self, user: nobody@example.com}\n",
			want: []string{"seed.yaml:2:", `no user "nobody@example.com"`}, code: 1},
		{name: "bad limit", seed: "limits: {grant_lifetime: soon}\n", want: []string{"seed.yaml:1:", "limits"}, code: 1},
		{name: "unknown break", seed: "breaks: [K4-NOPE]\n", want: []string{"seed.yaml:1:", `no break for "K4-NOPE"`}, code: 1},
		{name: "unknown profile", args: []string{"-profile", "k5"}, want: []string{`unknown profile "k5"`, "kaizen4"}, code: 2},
		{name: "missing file", args: []string{"-seed", "/nonexistent/seed.yaml"}, want: []string{"read seed file"}, code: 1},
		{name: "address in use", args: []string{"-addr", "256.0.0.1:1"}, want: []string{"listen on 256.0.0.1:1"}, code: 1},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			args := c.args
			if c.seed != "" {
				args = append(args, "-seed", writeFile(t, "seed.yaml", c.seed), "-addr", "127.0.0.1:0")
			}
			var stdout, stderr syncBuffer
			stop := make(chan struct{})
			close(stop) // should it start, stop at once
			code := runFake(args, &stdout, &stderr, stop)
			if code != c.code {
				t.Errorf("exit %d, want %d; stderr: %s", code, c.code, stderr.String())
			}
			for _, w := range c.want {
				if !strings.Contains(stderr.String(), w) {
					t.Errorf("stderr lacks %q:\n%s", w, stderr.String())
				}
			}
		})
	}
}

func TestUsage(t *testing.T) {
	var stdout, stderr syncBuffer
	if code := run(nil, &stdout, &stderr); code != 2 || !strings.Contains(stderr.String(), "zconform fake") {
		t.Errorf("no args: exit %d, stderr %q", code, stderr.String())
	}
	if code := run([]string{"frobnicate"}, &stdout, &stderr); code != 2 || !strings.Contains(stderr.String(), `unknown subcommand "frobnicate"`) {
		t.Errorf("unknown subcommand: exit %d, stderr %q", code, stderr.String())
	}
}

func TestFakeSharedByManyRuns(t *testing.T) {
	seed := writeFile(t, "seed.yaml", goodSeed)
	ready := filepath.Join(t.TempDir(), "ready.json")
	var stdout, stderr syncBuffer
	stop := make(chan struct{})
	done := make(chan int, 1)
	go func() {
		done <- runFake([]string{"-tenants", "-addr", "127.0.0.1:0", "-seed", seed, "-ready-file", ready, "-log", "off"}, &stdout, &stderr, stop)
	}()
	var info struct {
		URL     string `json:"url"`
		Tenants string `json:"tenants"`
	}
	deadline := time.Now().Add(5 * time.Second)
	for {
		data, err := os.ReadFile(ready)
		if err == nil && json.Unmarshal(data, &info) == nil {
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("no ready file; stderr: %s", stderr.String())
		}
		time.Sleep(10 * time.Millisecond)
	}
	resp, err := http.Post(info.Tenants, "application/json", nil)
	if err != nil {
		t.Fatal(err)
	}
	var run struct {
		URL string `json:"url"`
	}
	_ = json.NewDecoder(resp.Body).Decode(&run)
	resp.Body.Close()
	// The seeded client exists in the new run, with the accounts-2025 error.
	resp, err = http.Post(run.URL+"/accounts.zoho.eu/oauth/v2/token?grant_type=refresh_token&client_id=1000.CICLIENT0000000000000000000001&client_secret=0123456789abcdef0123456789abcdef0123456789&refresh_token=1000.x", "", nil)
	if err != nil {
		t.Fatal(err)
	}
	body, _ := io.ReadAll(resp.Body)
	resp.Body.Close()
	if string(body) != `{"error":"invalid_client_secret"}` {
		t.Fatalf("run's EU token endpoint: %s", body)
	}
	close(stop)
	if code := <-done; code != 0 {
		t.Fatalf("exit %d: %s", code, stderr.String())
	}
}

// The ready file appears whole (never empty or half written to a reader
// that polls it), says where to reach the fake, and is gone after it
// stops; a fake on all interfaces names 127.0.0.1.
func TestFakeReadyFile(t *testing.T) {
	for i := range 10 {
		ready := filepath.Join(t.TempDir(), "ready.json")
		var stdout, stderr syncBuffer
		stop := make(chan struct{})
		done := make(chan int, 1)
		go func() {
			done <- runFake([]string{"-addr", "0.0.0.0:0", "-log", "off", "-ready-file", ready}, &stdout, &stderr, stop)
		}()
		var info readyInfo
		deadline := time.Now().Add(5 * time.Second)
		for {
			data, err := os.ReadFile(ready)
			if err == nil {
				if json.Unmarshal(data, &info) != nil {
					t.Fatalf("start %d: the poller read a partial ready file: %q", i, data)
				}
				break
			}
			if time.Now().After(deadline) {
				t.Fatalf("no ready file; stderr: %s", stderr.String())
			}
		}
		if !strings.HasPrefix(info.URL, "http://127.0.0.1:") || !strings.Contains(stderr.String(), "listening beyond loopback") {
			t.Fatalf("a fake on 0.0.0.0: URL %q; stderr %q", info.URL, stderr.String())
		}
		close(stop)
		<-done
		if _, err := os.Stat(ready); !os.IsNotExist(err) {
			t.Fatalf("the ready file is left behind: %v", err)
		}
	}
}

// A shared fake beyond loopback without an admin token says what that
// means.
func TestFakeSharedBeyondLoopbackWarns(t *testing.T) {
	var stdout, stderr syncBuffer
	stop := make(chan struct{})
	done := make(chan int, 1)
	go func() {
		done <- runFake([]string{"-tenants", "-addr", "0.0.0.0:0", "-log", "off"}, &stdout, &stderr, stop)
	}()
	deadline := time.Now().Add(5 * time.Second)
	for !strings.Contains(stderr.String(), "-tenants listens beyond loopback without $ZCONFORM_CONTROL_TOKEN") {
		if time.Now().After(deadline) {
			t.Fatalf("no warning; stderr: %s", stderr.String())
		}
		time.Sleep(10 * time.Millisecond)
	}
	close(stop)
	<-done
}

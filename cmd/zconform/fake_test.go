package main

import (
	"bytes"
	"crypto/tls"
	"crypto/x509"
	"encoding/json"
	"io"
	"net"
	"net/http"
	"os"
	"os/exec"
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
			want: []string{"seed.yaml:3:", "client 1", "Enter a valid client name"}, code: 1}, // the name's line
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
		{name: "address in use", args: []string{"-addr", "256.0.0.1:1", "-no-control-token"}, want: []string{"listen on 256.0.0.1:1"}, code: 1},
	}
	t.Setenv(controlTokenEnv, "")
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
// stops; a fake on all interfaces names 127.0.0.1 (and, without a control
// token, says what that means).
func TestFakeReadyFile(t *testing.T) {
	t.Setenv(controlTokenEnv, "")
	for i := range 10 {
		ready := filepath.Join(t.TempDir(), "ready.json")
		var stdout, stderr syncBuffer
		stop := make(chan struct{})
		done := make(chan int, 1)
		go func() {
			done <- runFake([]string{"-addr", "0.0.0.0:0", "-no-control-token", "-log", "off", "-ready-file", ready}, &stdout, &stderr, stop)
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

// A shared fake beyond loopback without an admin token, when told to
// start all the same, says what that means.
func TestFakeSharedBeyondLoopbackWarns(t *testing.T) {
	t.Setenv(controlTokenEnv, "")
	var stdout, stderr syncBuffer
	stop := make(chan struct{})
	done := make(chan int, 1)
	go func() {
		done <- runFake([]string{"-tenants", "-addr", "0.0.0.0:0", "-no-control-token", "-log", "off"}, &stdout, &stderr, stop)
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

// Beyond loopback without $ZCONFORM_CONTROL_TOKEN the fake refuses to
// start, before it listens or reads anything, and says what to do; on
// loopback it starts as ever, and -no-control-token or the token let it
// start beyond.
func TestFakeRefusesBeyondLoopbackWithoutToken(t *testing.T) {
	t.Setenv(controlTokenEnv, "")
	for _, addr := range []string{"0.0.0.0:0", ":0", "[::]:0", "192.0.2.1:0", "fake.example:8080"} {
		for _, shared := range []bool{false, true} {
			args := []string{"-addr", addr, "-log", "off", "-seed", "/nonexistent/seed.yaml"}
			want := "its control API would answer loopback callers only"
			if shared {
				args = append(args, "-tenants")
				want = "runs could be created from loopback only"
			}
			var stdout, stderr syncBuffer
			done := make(chan int, 1)
			go func() { done <- runFake(args, &stdout, &stderr, make(chan struct{})) }()
			select {
			case code := <-done:
				if code != 2 {
					t.Errorf("%v: exit %d, want 2; stderr: %s", args, code, stderr.String())
				}
			case <-time.After(5 * time.Second):
				t.Fatalf("%v: started without a control token; stdout: %s", args, stdout.String())
			}
			for _, w := range []string{"refusing to listen on " + addr + ", beyond loopback, without $ZCONFORM_CONTROL_TOKEN", want, "Set $ZCONFORM_CONTROL_TOKEN", "127.0.0.1", "-no-control-token"} {
				if !strings.Contains(stderr.String(), w) {
					t.Errorf("%v: stderr lacks %q:\n%s", args, w, stderr.String())
				}
			}
			if strings.Contains(stderr.String(), "read seed file") || stdout.String() != "" {
				t.Errorf("%v: went on past the refusal; stdout %q, stderr %q", args, stdout.String(), stderr.String())
			}
		}
	}
	// loopback as before; beyond it with the flag or with the token
	for _, c := range []struct {
		args  []string
		token string
	}{
		{args: []string{"-addr", "127.0.0.1:0"}},
		{args: []string{"-addr", "localhost:0"}},
		{args: []string{"-addr", "127.0.0.1:0", "-tenants"}},
		{args: []string{"-addr", "0.0.0.0:0", "-no-control-token"}},
		{args: []string{"-addr", "0.0.0.0:0"}, token: "s3cret"},
		{args: []string{"-addr", "0.0.0.0:0", "-tenants"}, token: "s3cret"},
	} {
		t.Setenv(controlTokenEnv, c.token)
		var stdout, stderr syncBuffer
		ready := filepath.Join(t.TempDir(), "ready.json")
		stop := make(chan struct{})
		done := make(chan int, 1)
		go func() {
			done <- runFake(append(c.args, "-log", "off", "-ready-file", ready), &stdout, &stderr, stop)
		}()
		deadline := time.Now().Add(5 * time.Second)
		for {
			if _, err := os.Stat(ready); err == nil {
				break
			}
			select {
			case code := <-done:
				t.Fatalf("%v (token %q): exit %d; stderr: %s", c.args, c.token, code, stderr.String())
			default:
			}
			if time.Now().After(deadline) {
				t.Fatalf("%v (token %q): no ready file; stderr: %s", c.args, c.token, stderr.String())
			}
			time.Sleep(10 * time.Millisecond)
		}
		close(stop)
		if code := <-done; code != 0 || strings.Contains(stderr.String(), "refusing") {
			t.Errorf("%v (token %q): exit %d; stderr: %s", c.args, c.token, code, stderr.String())
		}
	}
}

// get answers the status and body of a GET with an optional bearer token.
func get(t *testing.T, hc *http.Client, url, token string) (int, string) {
	t.Helper()
	req, _ := http.NewRequest(http.MethodGet, url, nil)
	if token != "" {
		req.Header.Set("Authorization", "Bearer "+token)
	}
	resp, err := hc.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	body, _ := io.ReadAll(resp.Body)
	return resp.StatusCode, string(body)
}

// A fake on all interfaces with a control token answers health and
// readiness to anyone without it, and the control API only with it, on
// loopback and on this machine's other addresses alike.
func TestFakeHealthAndTokenBeyondLoopback(t *testing.T) {
	const token = "c0ntrol-t0ken-for-the-test"
	t.Setenv(controlTokenEnv, token)
	for _, shared := range []bool{false, true} {
		ready := filepath.Join(t.TempDir(), "ready.json")
		args := []string{"-addr", "0.0.0.0:0", "-log", "off", "-ready-file", ready}
		control := "/_zconform/v1/clock"
		if shared {
			args = append(args, "-tenants")
			control = "/_zconform/v1/tenants"
		}
		var stdout, stderr syncBuffer
		stop := make(chan struct{})
		done := make(chan int, 1)
		go func() { done <- runFake(args, &stdout, &stderr, stop) }()
		var base string
		deadline := time.Now().Add(5 * time.Second)
		for base == "" {
			var info struct {
				URL string `json:"url"`
			}
			if data, err := os.ReadFile(ready); err == nil && json.Unmarshal(data, &info) == nil {
				base = info.URL
			}
			if time.Now().After(deadline) {
				t.Fatalf("no ready file; stderr: %s", stderr.String())
			}
			time.Sleep(10 * time.Millisecond)
		}
		_, port, _ := strings.Cut(strings.TrimPrefix(base, "http://"), ":")
		bases := []string{base}
		if ip := nonLoopbackIPv4(); ip != "" {
			bases = append(bases, "http://"+ip+":"+port)
		} else {
			t.Log("no address beyond loopback on this machine: checked on loopback only")
		}
		for _, b := range bases {
			for _, p := range []string{"/_zconform/health", "/_zconform/ready"} {
				if code, body := get(t, http.DefaultClient, b+p, ""); code != 200 || body != `{"status":"ok"}` {
					t.Errorf("tenants=%v: GET %s%s without a token = %d %s", shared, b, p, code, body)
				}
			}
			if code, body := get(t, http.DefaultClient, b+control, ""); code != http.StatusUnauthorized {
				t.Errorf("tenants=%v: GET %s%s without the token = %d %s, want 401", shared, b, control, code, body)
			}
			if code, body := get(t, http.DefaultClient, b+control, token); code != 200 {
				t.Errorf("tenants=%v: GET %s%s with the token = %d %s", shared, b, control, code, body)
			}
		}
		if !strings.Contains(stdout.String(), base+"/_zconform/health") {
			t.Errorf("stdout does not name the health URL:\n%s", stdout.String())
		}
		close(stop)
		if code := <-done; code != 0 {
			t.Fatalf("exit %d; stderr: %s", code, stderr.String())
		}
		if strings.Contains(stderr.String(), token) {
			t.Errorf("the control token reached stderr:\n%s", stderr.String())
		}
	}
}

// nonLoopbackIPv4 is one of this machine's addresses beyond loopback, or "".
func nonLoopbackIPv4() string {
	addrs, err := net.InterfaceAddrs()
	if err != nil {
		return ""
	}
	for _, a := range addrs {
		if n, ok := a.(*net.IPNet); ok && !n.IP.IsLoopback() && n.IP.To4() != nil && !n.IP.IsLinkLocalUnicast() {
			return n.IP.String()
		}
	}
	return ""
}

// /_zconform/ready answers 503 while the fake is listening but not done
// starting (here: its certificate's file is a FIFO nobody reads yet), and
// 200 once it is: a probe never sees it ready before clients can trust it.
func TestFakeReadyOnlyOnceStarted(t *testing.T) {
	mkfifo, err := exec.LookPath("mkfifo")
	if err != nil {
		t.Skip("no mkfifo on this machine: the readiness window is not observable here")
	}
	t.Setenv(controlTokenEnv, "")
	dir := t.TempDir()
	cert := filepath.Join(dir, "fake.pem")
	if out, err := exec.Command(mkfifo, cert).CombinedOutput(); err != nil {
		t.Skipf("mkfifo: %v %s", err, out)
	}
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	addr := l.Addr().String()
	l.Close()
	var stdout, stderr syncBuffer
	stop := make(chan struct{})
	done := make(chan int, 1)
	ready := filepath.Join(dir, "ready.json")
	go func() {
		done <- runFake([]string{"-addr", addr, "-tls", "-cert", cert, "-log", "off", "-ready-file", ready}, &stdout, &stderr, stop)
	}()
	hc := &http.Client{Transport: &http.Transport{TLSClientConfig: &tls.Config{InsecureSkipVerify: true}}, Timeout: 5 * time.Second}
	deadline := time.Now().Add(5 * time.Second)
	for {
		resp, err := hc.Get("https://" + addr + "/_zconform/ready")
		if err == nil {
			body, _ := io.ReadAll(resp.Body)
			resp.Body.Close()
			if resp.StatusCode != http.StatusServiceUnavailable || string(body) != `{"status":"starting"}` {
				t.Fatalf("listening, certificate not written: ready = %d %s, want 503 starting", resp.StatusCode, body)
			}
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("the fake does not listen: %v; stderr: %s", err, stderr.String())
		}
		time.Sleep(10 * time.Millisecond)
	}
	if code, body := get(t, hc, "https://"+addr+"/_zconform/health", ""); code != 200 {
		t.Errorf("alive but not ready: health = %d %s, want 200", code, body)
	}
	if _, err := os.Stat(ready); err == nil {
		t.Error("the ready file was written before the certificate")
	}
	pemData, err := os.ReadFile(cert) // lets the fake write it
	if err != nil || !bytes.Contains(pemData, []byte("BEGIN CERTIFICATE")) {
		t.Fatalf("certificate: %v %q", err, pemData)
	}
	for {
		code, body := get(t, hc, "https://"+addr+"/_zconform/ready", "")
		if code == 200 && body == `{"status":"ok"}` {
			break
		}
		if code != http.StatusServiceUnavailable || time.Now().After(deadline.Add(5*time.Second)) {
			t.Fatalf("after the certificate: ready = %d %s", code, body)
		}
		time.Sleep(10 * time.Millisecond)
	}
	if _, err := os.Stat(ready); err != nil {
		t.Errorf("ready, and no ready file: %v", err)
	}
	close(stop)
	if code := <-done; code != 0 {
		t.Fatalf("exit %d; stderr: %s", code, stderr.String())
	}
}

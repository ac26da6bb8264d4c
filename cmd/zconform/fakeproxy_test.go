package main

import (
	"crypto/tls"
	"crypto/x509"
	"io"
	"net/http"
	"net/url"
	"os"
	"path/filepath"
	"strings"
	"testing"
)

// proxyClient goes through the proxy at proxyURL and trusts the CA in
// caFile only.
func proxyClient(t *testing.T, proxyURL, caFile string) *http.Client {
	t.Helper()
	pemData, err := os.ReadFile(caFile)
	if err != nil {
		t.Fatal(err)
	}
	pool := x509.NewCertPool()
	if !pool.AppendCertsFromPEM(pemData) {
		t.Fatalf("%s holds no certificate", caFile)
	}
	pu, err := url.Parse(proxyURL)
	if err != nil {
		t.Fatal(err)
	}
	return &http.Client{Transport: &http.Transport{Proxy: http.ProxyURL(pu), TLSClientConfig: &tls.Config{RootCAs: pool}}}
}

// zconform fake -proxy serves Zoho's real hosts through its proxy, with the
// CA it wrote; with -ca-key, the CA is made once (key 0600) and kept.
func TestFakeProxy(t *testing.T) {
	dir := t.TempDir()
	caCert, caKey := filepath.Join(dir, "ca.pem"), filepath.Join(dir, "ca-key.pem")
	var first *x509.Certificate
	for run := range 2 {
		var stdout, stderr syncBuffer
		info, stop, done := startFake(t, &stdout, &stderr, "-addr", "127.0.0.1:0", "-proxy", "127.0.0.1:0", "-ca-cert", caCert, "-ca-key", caKey, "-log", "json")
		if info.Proxy == "" || info.ProxyCA != caCert {
			t.Fatalf("ready info: %+v", info)
		}
		for _, want := range []string{"proxy:              " + info.Proxy, "proxy CA:           " + caCert, "export HTTPS_PROXY=" + info.Proxy, "NODE_EXTRA_CA_CERTS=" + caCert} {
			if !strings.Contains(stdout.String(), want) {
				t.Errorf("stdout lacks %q:\n%s", want, stdout.String())
			}
		}
		hc := proxyClient(t, info.Proxy, caCert)
		resp, err := hc.PostForm("https://accounts.zoho.eu/oauth/v2/token", url.Values{"grant_type": {"refresh_token"}, "refresh_token": {"x"}, "client_id": {"y"}, "client_secret": {"z"}})
		if err != nil {
			t.Fatalf("run %d: through the proxy: %v", run, err)
		}
		body, _ := io.ReadAll(resp.Body)
		resp.Body.Close()
		if string(body) != `{"error":"invalid_client"}` {
			t.Errorf("run %d: %s", run, body)
		}
		cert := resp.TLS.PeerCertificates[len(resp.TLS.PeerCertificates)-1]
		if first == nil {
			first = cert
		} else if !first.Equal(cert) {
			t.Error("the second run made another CA")
		}
		if _, err := hc.Get("https://example.com/"); err == nil || !strings.Contains(err.Error(), "Forbidden") {
			t.Errorf("another host: %v", err)
		}
		close(stop)
		if code := <-done; code != 0 {
			t.Errorf("exit %d: %s", code, stderr.String())
		}
		// the key, whole or in part, is in no output
		key, err := os.ReadFile(caKey)
		if err != nil {
			t.Fatal(err)
		}
		keyText := strings.Join(strings.Split(strings.TrimSpace(string(key)), "\n")[1:3], "")
		if out := stdout.String() + stderr.String(); strings.Contains(out, "PRIVATE KEY") || strings.Contains(out, keyText[:40]) {
			t.Errorf("the CA key reached the output:\n%s", out)
		}
		if !strings.Contains(stderr.String(), `"host":"accounts.zoho.eu"`) || !strings.Contains(stderr.String(), `"refused a CONNECT"`) {
			t.Errorf("the log lacks the request's host or the refusal:\n%s", stderr.String())
		}
	}
	if fi, err := os.Stat(caKey); err != nil || fi.Mode().Perm() != 0o600 {
		t.Errorf("the CA key: %v %v, want mode 0600", fi.Mode(), err)
	}
}

// The proxy's flags refuse what they cannot do, before anything starts.
func TestFakeProxyRefuses(t *testing.T) {
	dir := t.TempDir()
	onlyCert := filepath.Join(dir, "only.pem")
	_ = os.WriteFile(onlyCert, []byte("x"), 0o644)
	t.Setenv(controlTokenEnv, "")
	for _, c := range []struct {
		name string
		args []string
		want string
		code int
	}{
		{"pass-through beyond loopback", []string{"-proxy", "0.0.0.0:0", "-pass-through", "-no-control-token"}, "would be an open proxy", 2},
		{"proxy beyond loopback without a token", []string{"-proxy", "0.0.0.0:0"}, "refusing to serve the proxy on 0.0.0.0:0", 2},
		{"ca-key without proxy", []string{"-ca-key", "k.pem"}, "-ca-key needs -proxy ADDR", 2},
		{"pass-through without proxy", []string{"-pass-through"}, "-pass-through needs -proxy ADDR", 2},
		{"half a CA", []string{"-proxy", "127.0.0.1:0", "-ca-cert", onlyCert, "-ca-key", filepath.Join(dir, "none.pem")}, onlyCert + " exists but " + filepath.Join(dir, "none.pem") + " does not", 1},
		{"proxy address taken", []string{"-proxy", "256.0.0.1:1", "-no-control-token"}, "listen on 256.0.0.1:1 for the proxy", 1},
	} {
		t.Run(c.name, func(t *testing.T) {
			var stdout, stderr syncBuffer
			stop := make(chan struct{})
			close(stop)
			// a later -ca-cert wins over this one
			code := runFake(append([]string{"-addr", "127.0.0.1:0", "-log", "off", "-ca-cert", filepath.Join(t.TempDir(), "ca.pem")}, c.args...), &stdout, &stderr, stop)
			if code != c.code || !strings.Contains(stderr.String(), c.want) {
				t.Errorf("exit %d, stderr %q; want %d and %q", code, stderr.String(), c.code, c.want)
			}
		})
	}
}

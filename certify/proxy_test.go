package certify_test

import (
	"context"
	"crypto/x509"
	"encoding/pem"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/zconform/zconform/certify"
	"github.com/zconform/zconform/fakeserver"
)

func environMap(env []string) map[string]string {
	m := map[string]string{}
	for _, kv := range env {
		k, v, _ := strings.Cut(kv, "=")
		if _, dup := m[k]; dup {
			m[k] += "\x00DUPLICATE"
		}
		m[k] += v
	}
	return m
}

// The environment a process is started with via the proxy: every client
// family's proxy and CA variables, loopback left direct, NODE_OPTIONS and
// JAVA_TOOL_OPTIONS kept and added to, the old proxy settings replaced.
func TestProxyEnviron(t *testing.T) {
	dir := t.TempDir()
	adapter := filepath.Join(dir, "my adapter", "src")
	bootstrap := filepath.Join(dir, "my adapter", "node_modules", "global-agent", "bootstrap.js")
	for _, d := range []string{adapter, filepath.Dir(bootstrap)} {
		if err := os.MkdirAll(d, 0o755); err != nil {
			t.Fatal(err)
		}
	}
	if err := os.WriteFile(bootstrap, nil, 0o644); err != nil {
		t.Fatal(err)
	}
	p := &certify.ProxyEnv{URL: "http://127.0.0.1:41234", CAFile: "/out/zconform-proxy-ca.pem",
		TrustStore: "/out/a b/zconform-proxy-truststore.p12", NodeBootstrap: "/checkout/node_modules/global-agent/bootstrap.js"}
	base := []string{"PATH=/usr/bin", "HTTPS_PROXY=http://corp:3128", "no_proxy=corp.example",
		"NODE_OPTIONS=--max-old-space-size=512", "JAVA_TOOL_OPTIONS=-Xmx1g", "SSL_CERT_FILE=/etc/ssl/x.pem"}

	m := environMap(p.Environ(base, adapter))
	for k, want := range map[string]string{
		"PATH":        "/usr/bin",
		"HTTPS_PROXY": p.URL, "HTTP_PROXY": p.URL, "https_proxy": p.URL, "http_proxy": p.URL,
		"NO_PROXY": "localhost,127.0.0.1,::1", "no_proxy": "localhost,127.0.0.1,::1",
		"SSL_CERT_FILE": p.CAFile, "NODE_EXTRA_CA_CERTS": p.CAFile, "REQUESTS_CA_BUNDLE": p.CAFile, "CURL_CA_BUNDLE": p.CAFile,
		"GLOBAL_AGENT_HTTPS_PROXY": p.URL, "GLOBAL_AGENT_HTTP_PROXY": p.URL, "GLOBAL_AGENT_NO_PROXY": "localhost,127.0.0.1,[::1]",
		"ZCONFORM_VIA": "proxy",
		// global-agent as Node resolves it from the adapter's folder, quoted
		"NODE_OPTIONS": `--max-old-space-size=512 --require "` + bootstrap + `"`,
		"JAVA_TOOL_OPTIONS": `-Xmx1g -Dhttps.proxyHost=127.0.0.1 -Dhttps.proxyPort=41234 -Dhttp.proxyHost=127.0.0.1 -Dhttp.proxyPort=41234 ` +
			`-Dhttp.nonProxyHosts=localhost|127.0.0.1|[::1] "-Djavax.net.ssl.trustStore=/out/a b/zconform-proxy-truststore.p12" ` +
			`-Djavax.net.ssl.trustStorePassword=changeit -Djavax.net.ssl.trustStoreType=PKCS12`,
	} {
		if m[k] != want {
			t.Errorf("%s=%q, want %q", k, m[k], want)
		}
	}
	if len(m) != 17 {
		t.Errorf("%d variables, want 17: %v", len(m), m)
	}

	// elsewhere: the setup's global-agent; without one, Node is left alone;
	// without a trust store, Java gets the proxy only
	m = environMap(p.Environ(nil, dir))
	if m["NODE_OPTIONS"] != "--require "+p.NodeBootstrap {
		t.Errorf("NODE_OPTIONS=%q, want the setup's global-agent", m["NODE_OPTIONS"])
	}
	p.NodeBootstrap, p.TrustStore = "", ""
	m = environMap(p.Environ([]string{"NODE_OPTIONS=--inspect"}, dir))
	if m["NODE_OPTIONS"] != "--inspect" {
		t.Errorf("NODE_OPTIONS=%q, want it unchanged without a global-agent", m["NODE_OPTIONS"])
	}
	if strings.Contains(m["JAVA_TOOL_OPTIONS"], "trustStore") || !strings.HasPrefix(m["JAVA_TOOL_OPTIONS"], "-Dhttps.proxyHost=127.0.0.1 ") {
		t.Errorf("JAVA_TOOL_OPTIONS=%q without a trust store", m["JAVA_TOOL_OPTIONS"])
	}
}

// The setup writes the CA certificate; with keytool, a trust store holding
// it; without, a note that says how to make one.
func TestNewProxySetup(t *testing.T) {
	dir := filepath.Join(t.TempDir(), "out")
	s, err := certify.NewProxySetup(dir)
	if err != nil {
		t.Fatal(err)
	}
	data, err := os.ReadFile(filepath.Join(dir, certify.ProxyCAFileName))
	if err != nil || s.CAFile != filepath.Join(dir, certify.ProxyCAFileName) {
		t.Fatalf("CA file %s: %v", s.CAFile, err)
	}
	b, _ := pem.Decode(data)
	if b == nil {
		t.Fatalf("no PEM in %s", s.CAFile)
	}
	if c, err := x509.ParseCertificate(b.Bytes); err != nil || !c.IsCA || !c.Equal(s.CA.Certificate()) {
		t.Fatalf("the CA file holds another certificate (%v)", err)
	}
	if keytool, err := exec.LookPath("keytool"); err == nil {
		if s.TrustStore == "" {
			t.Fatalf("keytool is on PATH but no trust store was made: %v", s.Notes)
		}
		out, err := exec.Command(keytool, "-list", "-keystore", s.TrustStore, "-storetype", "PKCS12", "-storepass", certify.TrustStorePassword).CombinedOutput()
		if err != nil || !strings.Contains(string(out), "zconform-proxy-ca") {
			t.Errorf("keytool -list: %v\n%s", err, out)
		}
		// a second setup in the same folder replaces both
		if _, err := certify.NewProxySetup(dir); err != nil {
			t.Errorf("a second setup in %s: %v", dir, err)
		}
	} else {
		t.Logf("keytool is not on PATH: the trust store is not checked")
	}

	t.Setenv("PATH", t.TempDir()) // no keytool
	s, err = certify.NewProxySetup(t.TempDir())
	if err != nil {
		t.Fatal(err)
	}
	if s.TrustStore != "" || len(s.Notes) != 1 || !strings.Contains(s.Notes[0], "keytool is not on PATH") || !strings.Contains(s.Notes[0], "keytool -importcert") {
		t.Errorf("without keytool: store %q, notes %q", s.TrustStore, s.Notes)
	}
	if _, err := certify.NewProxySetup(""); err == nil {
		t.Error("a setup without a folder: no error")
	}
}

// Java, configured by JAVA_TOOL_OPTIONS alone (ProxyEnv.Environ, with the
// trust store keytool made), reaches the fake through the proxy on Zoho's
// real host name: the Java note of zconform certify -via proxy, proven.
func TestJavaThroughTheProxy(t *testing.T) {
	java, err := exec.LookPath("java")
	if err != nil {
		t.Skip("java is not on PATH")
	}
	if _, err := exec.LookPath("keytool"); err != nil {
		t.Skip("keytool is not on PATH")
	}
	if testing.Short() {
		t.Skip("starts a JVM")
	}
	dir := t.TempDir()
	s, err := certify.NewProxySetup(dir)
	if err != nil {
		t.Fatal(err)
	}
	srv := fakeserver.NewUnstarted()
	p, err := srv.StartProxy("127.0.0.1:0", fakeserver.ProxyCA(s.CA), fakeserver.ProxyCAFile(s.CAFile))
	if err != nil {
		t.Fatal(err)
	}
	defer p.Close()
	src := filepath.Join(dir, "Health.java")
	if err := os.WriteFile(src, []byte(`import java.net.URI;
import java.net.http.*;
public class Health {
  public static void main(String[] a) throws Exception {
    HttpResponse<String> r = HttpClient.newHttpClient().send(
      HttpRequest.newBuilder(URI.create("https://accounts.zoho.eu/oauth/v2/token")).POST(HttpRequest.BodyPublishers.ofString("grant_type=authorization_code&code=x"))
        .header("Content-Type", "application/x-www-form-urlencoded").build(),
      HttpResponse.BodyHandlers.ofString());
    System.out.println(r.statusCode() + " " + r.body());
  }
}
`), 0o644); err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithTimeout(t.Context(), 2*time.Minute)
	defer cancel()
	cmd := exec.CommandContext(ctx, java, src)
	cmd.Env = (&certify.ProxyEnv{URL: p.URL, CAFile: s.CAFile, TrustStore: s.TrustStore}).Environ(os.Environ(), dir)
	out, err := cmd.CombinedOutput()
	if err != nil || !strings.Contains(string(out), `200 {"error":"invalid_client"}`) {
		t.Fatalf("java: %v\n%s", err, out)
	}
	reqs := srv.Requests()
	if len(reqs) != 1 || reqs[0].Host != "accounts.zoho.eu" || reqs[0].Path != "/oauth/v2/token" {
		t.Fatalf("the fake saw %+v", reqs)
	}
}

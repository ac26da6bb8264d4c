package certify

import (
	"context"
	"errors"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"time"

	"github.com/zconform/zconform/fakeserver"
)

// Certification via the fake's intercepting proxy (Options.Proxy): every
// scenario's fake is also served by a proxy (fakeserver.StartProxy) that
// answers Zoho's real host names in TLS, with certificates of one CA for
// the whole run. The integration is given Zoho's real URLs
// (https://accounts.zoho.com, ...) and reaches the fake by its environment
// alone, as it would reach Zoho through a corporate proxy: HTTPS_PROXY and
// a CA to trust (see ProxyEnv.Environ). It takes its production paths: a
// Zoho SDK's built-in data centres, the real host names in the token
// answers (api_domain), the redirect (accounts-server) and its own
// configuration. The request log, and so every judgement, is the same.

// The files NewProxySetup writes.
const (
	ProxyCAFileName     = "zconform-proxy-ca.pem"
	ProxyTrustStoreName = "zconform-proxy-truststore.p12"
	// TrustStorePassword guards the Java trust store. It holds the CA's
	// certificate alone (public): the password is Java's convention, not
	// a secret.
	TrustStorePassword = "changeit"
)

// EnvVia tells a process integration how the fake is reached: "proxy"
// when it is given Zoho's real URLs and the proxy's environment, unset
// when it is given the fake's URLs on loopback. Informational: the URLs
// say it too.
const EnvVia = "ZCONFORM_VIA"

// ProxySetup is what every scenario's proxy shares in a certification via
// the proxy: one CA, its certificate in a file, and a Java trust store
// made from it when keytool is on PATH.
type ProxySetup struct {
	CA *fakeserver.CA
	// CAFile is the CA's certificate (PEM), for SSL_CERT_FILE and the like.
	CAFile string
	// TrustStore is a PKCS #12 Java trust store holding the CA (password
	// TrustStorePassword), or "" when keytool is not on PATH.
	TrustStore string
	// NodeBootstrap is global-agent's bootstrap.js, required (NODE_OPTIONS)
	// into Node processes that cannot resolve global-agent from their own
	// folder; "" for none.
	NodeBootstrap string
	// Notes say what could not be set up, and what to do about it.
	Notes []string
}

// NewProxySetup makes a CA and writes its certificate (ProxyCAFileName) in
// dir, created if need be; with keytool on PATH, also a Java trust store
// (ProxyTrustStoreName) holding it.
func NewProxySetup(dir string) (*ProxySetup, error) {
	if dir == "" {
		return nil, errors.New("the proxy setup needs a folder for the CA certificate")
	}
	if err := os.MkdirAll(dir, 0o755); err != nil {
		return nil, fmt.Errorf("the folder for the proxy's CA certificate: %w", err)
	}
	dir, err := filepath.Abs(dir)
	if err != nil {
		return nil, err
	}
	ca, err := fakeserver.NewCA()
	if err != nil {
		return nil, err
	}
	s := &ProxySetup{CA: ca, CAFile: filepath.Join(dir, ProxyCAFileName)}
	if err := ca.WriteCert(s.CAFile); err != nil {
		return nil, err
	}
	store := filepath.Join(dir, ProxyTrustStoreName)
	manual := fmt.Sprintf("keytool -importcert -noprompt -alias zconform-proxy-ca -file %s -keystore %s -storetype PKCS12 -storepass %s",
		s.CAFile, store, TrustStorePassword)
	keytool, err := exec.LookPath("keytool")
	if err != nil {
		s.Notes = append(s.Notes, "keytool is not on PATH: no Java trust store was made; a Java integration needs one: "+manual+
			", then -Djavax.net.ssl.trustStore="+store+" -Djavax.net.ssl.trustStorePassword="+TrustStorePassword+" in JAVA_TOOL_OPTIONS")
		return s, nil
	}
	_ = os.Remove(store) // keytool refuses to import the alias into an older store
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	out, err := exec.CommandContext(ctx, keytool, "-importcert", "-noprompt", "-alias", "zconform-proxy-ca", "-file", s.CAFile,
		"-keystore", store, "-storetype", "PKCS12", "-storepass", TrustStorePassword).CombinedOutput()
	if err != nil {
		s.Notes = append(s.Notes, fmt.Sprintf("keytool could not make the Java trust store (%v: %s); a Java integration needs one: %s",
			err, strings.TrimSpace(string(out)), manual))
		return s, nil
	}
	s.TrustStore = store
	return s, nil
}

// ProxyEnv is how an integration reaches a fake behind its proxy.
type ProxyEnv struct {
	// URL is the proxy's, as HTTPS_PROXY takes it: http://127.0.0.1:PORT.
	URL string
	// CAFile, TrustStore and NodeBootstrap are the ProxySetup's.
	CAFile, TrustStore, NodeBootstrap string
}

// NoProxy is what the proxy environment leaves direct: loopback.
const NoProxy = "localhost,127.0.0.1,::1"

// Environ is base (KEY=value entries) with the proxy's environment set,
// for a process started in dir ("": the current folder):
//
//   - HTTPS_PROXY, HTTP_PROXY, https_proxy, http_proxy: the proxy;
//     NO_PROXY, no_proxy: loopback (NoProxy)
//   - SSL_CERT_FILE (Go, OpenSSL, Ruby), NODE_EXTRA_CA_CERTS,
//     REQUESTS_CA_BUNDLE (Python requests), CURL_CA_BUNDLE: the CA file
//   - Node (which ignores HTTPS_PROXY up to 23): GLOBAL_AGENT_HTTPS_PROXY,
//     GLOBAL_AGENT_HTTP_PROXY, GLOBAL_AGENT_NO_PROXY, and NODE_OPTIONS
//     with --require global-agent's bootstrap.js, found in a node_modules
//     of dir or a parent (as Node would resolve it), else NodeBootstrap;
//     without either, Node is left alone
//   - Java: JAVA_TOOL_OPTIONS with -Dhttps.proxyHost/-Dhttps.proxyPort,
//     -Dhttp.proxyHost/-Dhttp.proxyPort, -Dhttp.nonProxyHosts and, when a
//     trust store was made, -Djavax.net.ssl.trustStore (type PKCS12)
//   - ZCONFORM_VIA=proxy (EnvVia)
//
// NODE_OPTIONS and JAVA_TOOL_OPTIONS keep what base had, before.
func (p *ProxyEnv) Environ(base []string, dir string) []string {
	set := map[string]string{
		"HTTPS_PROXY": p.URL, "HTTP_PROXY": p.URL, "https_proxy": p.URL, "http_proxy": p.URL,
		"NO_PROXY": NoProxy, "no_proxy": NoProxy,
		"SSL_CERT_FILE": p.CAFile, "NODE_EXTRA_CA_CERTS": p.CAFile, "REQUESTS_CA_BUNDLE": p.CAFile, "CURL_CA_BUNDLE": p.CAFile,
		"GLOBAL_AGENT_HTTPS_PROXY": p.URL, "GLOBAL_AGENT_HTTP_PROXY": p.URL, "GLOBAL_AGENT_NO_PROXY": "localhost,127.0.0.1,[::1]",
		EnvVia: "proxy",
	}
	appendTo := map[string]string{"JAVA_TOOL_OPTIONS": p.javaOptions()}
	if b := p.nodeBootstrap(dir); b != "" {
		appendTo["NODE_OPTIONS"] = "--require " + quoteOption(b)
	}
	out := make([]string, 0, len(base)+len(set)+len(appendTo))
	for _, kv := range base {
		k, v, _ := strings.Cut(kv, "=")
		if _, ok := set[k]; ok {
			continue
		}
		if add, ok := appendTo[k]; ok {
			if strings.TrimSpace(v) != "" {
				appendTo[k] = v + " " + add
			}
			continue
		}
		out = append(out, kv)
	}
	for _, m := range []map[string]string{set, appendTo} {
		for k, v := range m {
			out = append(out, k+"="+v)
		}
	}
	return out
}

// javaOptions are the JVM's proxy and trust-store properties.
func (p *ProxyEnv) javaOptions() string {
	host, port := "127.0.0.1", ""
	if i := strings.LastIndex(p.URL, ":"); i > 0 {
		host, port = strings.TrimPrefix(p.URL[:i], "http://"), p.URL[i+1:]
	}
	host = strings.Trim(host, "[]")
	opts := []string{
		"-Dhttps.proxyHost=" + host, "-Dhttps.proxyPort=" + port,
		"-Dhttp.proxyHost=" + host, "-Dhttp.proxyPort=" + port,
		"-Dhttp.nonProxyHosts=localhost|127.0.0.1|[::1]",
	}
	if p.TrustStore != "" {
		opts = append(opts, quoteOption("-Djavax.net.ssl.trustStore="+p.TrustStore),
			"-Djavax.net.ssl.trustStorePassword="+TrustStorePassword, "-Djavax.net.ssl.trustStoreType=PKCS12")
	}
	return strings.Join(opts, " ")
}

// nodeBootstrap is global-agent's bootstrap.js as Node would resolve
// global-agent/bootstrap from dir, else the setup's.
func (p *ProxyEnv) nodeBootstrap(dir string) string {
	if dir == "" {
		dir, _ = os.Getwd()
	}
	if abs, err := filepath.Abs(dir); err == nil && dir != "" {
		for d := abs; ; d = filepath.Dir(d) {
			b := filepath.Join(d, "node_modules", "global-agent", "bootstrap.js")
			if _, err := os.Stat(b); err == nil {
				return b
			}
			if filepath.Dir(d) == d {
				break
			}
		}
	}
	return p.NodeBootstrap
}

// quoteOption quotes an option holding white space, as NODE_OPTIONS and
// JAVA_TOOL_OPTIONS take it.
func quoteOption(s string) string {
	if strings.ContainsAny(s, " \t\"") {
		return `"` + strings.ReplaceAll(s, `"`, `\"`) + `"`
	}
	return s
}

// FindNodeBootstrap is global-agent's bootstrap.js in the first of dirs
// whose node_modules holds it, or "".
func FindNodeBootstrap(dirs ...string) string {
	for _, d := range dirs {
		b := filepath.Join(d, "node_modules", "global-agent", "bootstrap.js")
		if _, err := os.Stat(b); err == nil {
			if abs, err := filepath.Abs(b); err == nil {
				return abs
			}
			return b
		}
	}
	return ""
}

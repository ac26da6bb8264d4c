package main

import (
	"fmt"
	"io"
	"path/filepath"

	"github.com/zconform/zconform/certify"
)

// The -via flag of zconform certify: how the integration reaches the fake.
const (
	viaDirect = "direct"
	viaProxy  = "proxy"
)

const viaUsage = `how the integration reaches the fake: direct (a Go reference in-process on Zoho's real
host names; a process given the fake's URLs on loopback, http://127.0.0.1:PORT/accounts.zoho.com),
or proxy: each scenario's fake also behind its intercepting HTTPS proxy, and the integration given
Zoho's REAL URLs (https://accounts.zoho.com, ...) so that it takes its production paths (an SDK's
built-in data centres: USDataCenter.PRODUCTION()). A Go reference gets an http.Client through the
proxy; a process is started with HTTPS_PROXY, HTTP_PROXY, https_proxy, http_proxy (the proxy),
NO_PROXY, no_proxy (localhost,127.0.0.1,::1), the proxy's CA (written to OUT/` + certify.ProxyCAFileName + `) in
SSL_CERT_FILE, NODE_EXTRA_CA_CERTS, REQUESTS_CA_BUNDLE, CURL_CA_BUNDLE, and ZCONFORM_VIA=proxy.
Node (which ignores HTTPS_PROXY) gets NODE_OPTIONS=--require <global-agent>/bootstrap.js with
GLOBAL_AGENT_HTTP(S)_PROXY: global-agent must be in the adapter's node_modules (or the checkout's,
after make deps). Java gets JAVA_TOOL_OPTIONS with -Dhttps.proxyHost, -Dhttps.proxyPort,
-Dhttp.proxyHost, -Dhttp.proxyPort, -Dhttp.nonProxyHosts=localhost|127.0.0.1|[::1] and, when keytool
is on PATH, -Djavax.net.ssl.trustStore=OUT/` + certify.ProxyTrustStoreName + ` (PKCS12, password ` + certify.TrustStorePassword + `)
made from the CA; without keytool, make one yourself (keytool -importcert -file OUT/` + certify.ProxyCAFileName + ` ...).
The certificate records the mode`

// proxySetupFor prepares a certification via the proxy: the CA and its
// files in out, the checkout's global-agent for Node processes that have
// none of their own. It prints where the files are and what is missing.
func proxySetupFor(out string, stderr io.Writer) (*certify.ProxySetup, error) {
	s, err := certify.NewProxySetup(out)
	if err != nil {
		return nil, fmt.Errorf("-via proxy: %w", err)
	}
	if root, err := moduleRoot(); err == nil {
		var dirs []string
		for _, name := range []string{"node-sdk", "ts-sdk", "simple-oauth2"} {
			dirs = append(dirs, filepath.Join(root, repoAdapters[name].dir))
		}
		s.NodeBootstrap = certify.FindNodeBootstrap(append(dirs, filepath.Join(root, "fakeserver", "testdata", "nodesdk"))...)
	}
	fmt.Fprintf(stderr, "zconform certify: via the fake's proxy: the integration is given Zoho's real URLs; the proxy's CA is %s\n", relative(s.CAFile))
	if s.TrustStore != "" {
		fmt.Fprintf(stderr, "zconform certify: a Java trust store holding it: %s (in JAVA_TOOL_OPTIONS)\n", relative(s.TrustStore))
	}
	if s.NodeBootstrap == "" {
		fmt.Fprintln(stderr, "zconform certify: note: global-agent was not found in the zconform checkout: a Node integration reaches the proxy only if global-agent is in its own node_modules (npm install global-agent), as Node ignores HTTPS_PROXY")
	}
	for _, n := range s.Notes {
		fmt.Fprintln(stderr, "zconform certify: note: "+n)
	}
	return s, nil
}

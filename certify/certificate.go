package certify

import (
	"fmt"

	"github.com/zconform/zconform/fixtures/zoho"
	"github.com/zconform/zconform/reports"
)

// Judge names the zconform build that judges, as a certificate records
// it: version, commit, Go version and the digest of the catalogue and
// contract the build carries, e.g. "zconform v0.3.0, commit abc123def456,
// go1.26.8, catalogue sha256:0123456789ab".
func Judge() string { return reports.CurrentBuild().String() }

// ViaProxyTransport is how a certificate made via the fake's proxy
// (Options.Proxy) names the transport, at the end of its Fake line.
const ViaProxyTransport = "via proxy: the integration given Zoho's real URLs, reaching the fake through its intercepting HTTPS proxy (HTTPS_PROXY and the proxy's CA)"

// CertificateMeta is the metadata of a certificate for an integration
// judged with opts (reports.RunMeta.Certificate): the integration's name
// and version as it gives them, the adapter that drove it, the build that
// judged (Judge), the scenario set (ScenarioSet) and how the fake was set
// up. The reports record the build again, with its catalogue digest, in
// every file (reports.RunMeta.Build).
func CertificateMeta(integration, version, adapter string, opts Options) *reports.Certificate {
	profile := opts.Profile
	if profile == "" {
		profile = zoho.Kaizen4
	}
	transport := "on loopback"
	switch {
	case opts.Proxy != nil:
		transport = ViaProxyTransport
	case opts.InProcess:
		transport = "in-process on Zoho's real host names"
	}
	return &reports.Certificate{
		Integration: integration, Version: version, Adapter: adapter,
		Zconform:    Judge(),
		ScenarioSet: ScenarioSet(),
		Fake:        fmt.Sprintf("profile %s, virtual clock, a fresh fake per scenario, %s", profile, transport),
	}
}

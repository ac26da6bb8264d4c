package main

import (
	"encoding/json"
	"errors"
	"flag"
	"fmt"
	"io"
	"log/slog"
	"net"
	"os"
	"os/signal"
	"strings"
	"syscall"
	"time"

	"github.com/zconform/zconform/fakeserver"
	"github.com/zconform/zconform/fixtures/zoho"
	"github.com/zconform/zconform/internal/atomicfile"
)

// controlTokenEnv names the environment variable with the control API token.
const controlTokenEnv = "ZCONFORM_CONTROL_TOKEN"

// readyInfo is what the fake prints (and writes to --ready-file) once it
// listens, so that scripts in any language can find it.
type readyInfo struct {
	URL         string `json:"url"`
	Control     string `json:"control_api"`
	Profile     string `json:"profile"`
	Certificate string `json:"certificate,omitempty"`
	// Proxy and ProxyCA are the intercepting proxy's URL and its CA's
	// certificate file, with -proxy.
	Proxy       string                        `json:"proxy,omitempty"`
	ProxyCA     string                        `json:"proxy_ca,omitempty"`
	DataCentres map[zoho.DC]map[string]string `json:"data_centres"`
	Clients     []clientInfo                  `json:"clients"`
}

type clientInfo struct {
	ID   string                `json:"id"`
	Type fakeserver.ClientType `json:"type"`
	DC   zoho.DC               `json:"dc"`
}

// runFake serves the fake until SIGINT/SIGTERM or until stop is closed.
func runFake(args []string, stdout, stderr io.Writer, stop <-chan struct{}) int {
	fs := flag.NewFlagSet("zconform fake", flag.ContinueOnError)
	fs.SetOutput(stderr)
	addr := fs.String("addr", "127.0.0.1:8080", "listen address (host:port; port 0 picks a free one)")
	seed := fs.String("seed", "", "YAML seed file: profile, limits, users, clients (fixed IDs and secrets), breaks")
	profile := fs.String("profile", zoho.Kaizen4, "limit profile: kaizen4 or accounts-2025 (a seed file's profile wins)")
	useTLS := fs.Bool("tls", false, "serve HTTPS with a fresh self-signed certificate")
	certOut := fs.String("cert", "zconform-fake.pem", "with -tls: where to write the certificate (PEM) for clients to trust")
	realClock := fs.Bool("real-clock", false, "follow the wall clock instead of the virtual clock (time can then not be moved)")
	consentPage := fs.Bool("consent-page", false, "show an HTML consent page to a browser when no consent is scripted")
	readyFile := fs.String("ready-file", "", "write the URLs as JSON to this file once listening")
	logFormat := fs.String("log", "text", "request log on stderr: text, json or off (secrets are always redacted)")
	shared := fs.Bool("tenants", false, "serve many runs at once: each creates its own isolated fake (POST /_zconform/v1/tenants) under /t/{id}/; -seed applies to each")
	maxRuns := fs.Int("max-runs", 1000, "with -tenants: the most live runs")
	idleTTL := fs.Duration("idle-ttl", 30*time.Minute, "with -tenants: release a run idle for this long")
	proxyAddr := fs.String("proxy", "", "also serve an intercepting HTTPS proxy on this address (host:port) for HTTPS_PROXY: Zoho's real host names answered by the fake, other hosts refused")
	caCert := fs.String("ca-cert", "zconform-ca.pem", "with -proxy: where to write the proxy CA's certificate for clients to trust; with -ca-key, the CA to load (both made if neither exists)")
	caKey := fs.String("ca-key", "", "with -proxy: the proxy CA's private key, to keep one CA across runs: loaded with -ca-cert, or made with it (mode 0600) if neither file exists")
	passThrough := fs.Bool("pass-through", false, "with -proxy: tunnel hosts other than Zoho's unchanged instead of refusing them (loopback only)")
	noToken := fs.Bool("no-control-token", false, "listen beyond loopback without $"+controlTokenEnv+" all the same: the control API then answers loopback callers only (in a container: nobody), so clients use what -seed made")
	fs.Usage = func() {
		fmt.Fprintf(stderr, `Usage: zconform fake [flags]

Serves the fake Zoho Accounts server: every DC under the path prefix of its
real host name, and a JSON control API under %s.
The control API answers only on loopback unless $%s is set; then every
caller must send Authorization: Bearer <token>. On an address beyond
loopback (0.0.0.0:8080, as in a container) the fake refuses to start without
the token, unless -no-control-token says to.
GET %s (alive) and %s (listening and seeded: 200, else 503)
answer anyone, without a token.

Flags:
`, "/_zconform/v1", controlTokenEnv, fakeserver.HealthPath, fakeserver.ReadyPath)
		fs.PrintDefaults()
	}
	if err := fs.Parse(args); err != nil {
		if errors.Is(err, flag.ErrHelp) {
			return 0
		}
		return 2
	}
	if fs.NArg() > 0 {
		fmt.Fprintf(stderr, "zconform fake: unexpected argument %q (flags only)\n", fs.Arg(0))
		return 2
	}
	if _, err := zoho.Profile(*profile); err != nil {
		fmt.Fprintf(stderr, "zconform fake: -profile: %v\n", err)
		return 2
	}
	token := os.Getenv(controlTokenEnv)
	if msg := refuseOpenControl(*addr, token, *noToken, *shared); msg != "" {
		fmt.Fprintln(stderr, msg)
		return 2
	}
	if *proxyAddr != "" {
		if msg := refuseOpenControl(*proxyAddr, token, *noToken, *shared); msg != "" {
			fmt.Fprintln(stderr, strings.Replace(msg, "refusing to listen", "refusing to serve the proxy", 1))
			return 2
		}
		if *passThrough && beyondLoopback(*proxyAddr) {
			fmt.Fprintf(stderr, "zconform fake: refusing -pass-through on %s, beyond loopback: that would be an open proxy to the internet; serve the proxy on 127.0.0.1, or drop -pass-through\n", *proxyAddr)
			return 2
		}
	} else {
		for _, f := range []string{"ca-key", "pass-through"} {
			if flagSet(fs, f) {
				fmt.Fprintf(stderr, "zconform fake: -%s needs -proxy ADDR\n", f)
				return 2
			}
		}
	}
	ps := proxySetup{addr: *proxyAddr, caCert: *caCert, caKey: *caKey, passThrough: *passThrough}
	var seedFile *fakeserver.SeedFile
	if *seed != "" {
		var err error
		if seedFile, err = fakeserver.LoadSeedFile(*seed); err != nil {
			fmt.Fprintf(stderr, "zconform fake: %v\n", err)
			return 1
		}
	}
	opts := []fakeserver.Option{fakeserver.WithAddr(*addr), fakeserver.WithProfile(*profile)}
	switch *logFormat {
	case "text":
		opts = append(opts, fakeserver.WithLogger(slog.New(slog.NewTextHandler(stderr, nil))))
	case "json":
		opts = append(opts, fakeserver.WithLogger(slog.New(slog.NewJSONHandler(stderr, nil))))
	case "off":
	default:
		fmt.Fprintf(stderr, "zconform fake: -log %q: use text, json or off\n", *logFormat)
		return 2
	}
	if *realClock {
		opts = append(opts, fakeserver.WithRealClock())
	}
	if *consentPage {
		opts = append(opts, fakeserver.WithConsentPage())
	}
	if token != "" {
		opts = append(opts, fakeserver.WithControlToken(token))
	}
	if *shared {
		if *useTLS {
			fmt.Fprintln(stderr, "zconform fake: -tenants serves plain HTTP; run it behind a TLS proxy, or drop -tls")
			return 2
		}
		return serveTenants(fakeserver.TenantsConfig{Max: *maxRuns, IdleTTL: *idleTTL, Seed: seedFile, ControlToken: token}, opts, *addr, ps, *readyFile, stdout, stderr, stop)
	}
	srv := fakeserver.NewUnstarted(opts...)
	// GET /_zconform/ready answers 503 until the fake is seeded, listening,
	// its certificate written and its URLs printed
	srv.SetReady(false)
	if seedFile != nil {
		if err := srv.ApplySeed(seedFile); err != nil {
			fmt.Fprintf(stderr, "zconform fake: %v\n", err)
			return 1
		}
	}
	start := srv.Start
	if *useTLS {
		start = srv.StartTLS
	}
	if err := start(); err != nil {
		fmt.Fprintf(stderr, "zconform fake: %v\n", err)
		return 1
	}
	defer srv.Close()
	info := readyInfo{URL: srv.URL, Control: srv.ControlURL(), Profile: srv.Profile(), DataCentres: map[zoho.DC]map[string]string{}}
	if *useTLS {
		if err := srv.WriteCertificate(*certOut); err != nil {
			fmt.Fprintf(stderr, "zconform fake: -cert: %v\n", err)
			return 1
		}
		info.Certificate = *certOut
	}
	var proxy *fakeserver.Proxy
	if ps.addr != "" {
		ca, err := ps.ca()
		if err != nil {
			fmt.Fprintf(stderr, "zconform fake: -proxy: %v\n", err)
			return 1
		}
		p, err := srv.StartProxy(ps.addr, ps.options(ca)...)
		if err != nil {
			fmt.Fprintf(stderr, "zconform fake: %v\n", err)
			return 1
		}
		defer p.Close()
		proxy, info.Proxy, info.ProxyCA = p, p.URL, ps.caCert
	}
	for _, d := range zoho.DataCentres() {
		info.DataCentres[d.DC] = map[string]string{"accounts_server": srv.AccountsURL(d.DC), "api_domain": srv.APIURL(d.DC)}
	}
	for _, c := range srv.Clients() {
		info.Clients = append(info.Clients, clientInfo{c.ID, c.Type, c.DC})
	}
	if beyondLoopback(*addr) && token == "" {
		fmt.Fprintf(stderr, "zconform fake: listening beyond loopback; the control API still answers only loopback callers (set $%s to open it)\n", controlTokenEnv)
	}
	fmt.Fprintf(stdout, "zconform fake Zoho Accounts server (profile %s) on %s\n", info.Profile, srv.URL)
	fmt.Fprintf(stdout, "  US Accounts server: %s\n  US API domain:      %s\n", srv.AccountsURL(zoho.US), srv.APIURL(zoho.US))
	fmt.Fprintf(stdout, "  other DCs:          %s/<real host name>, e.g. %s\n", srv.URL, srv.AccountsURL(zoho.EU))
	fmt.Fprintf(stdout, "  control API:        %s\n", srv.ControlURL())
	fmt.Fprintf(stdout, "  health, readiness:  %s%s, %s%s\n", srv.URL, fakeserver.HealthPath, srv.URL, fakeserver.ReadyPath)
	if info.Certificate != "" {
		fmt.Fprintf(stdout, "  certificate:        %s (trust it: NODE_EXTRA_CA_CERTS, curl --cacert, ...)\n", info.Certificate)
	}
	if proxy != nil {
		printProxy(stdout, proxy, ps, false)
	}
	if err := writeReady(*readyFile, info); err != nil {
		fmt.Fprintf(stderr, "zconform fake: -ready-file: %v\n", err)
		return 1
	}
	defer removeReady(*readyFile)
	srv.SetReady(true)
	waitForStop(stderr, stop)
	return 0
}

// writeReady writes the URLs as JSON to path, if one is given, atomically:
// a reader polling for the file sees it whole or not at all.
func writeReady(path string, v any) error {
	if path == "" {
		return nil
	}
	data, _ := json.MarshalIndent(v, "", "  ")
	return atomicfile.Write(path, func(w io.Writer) error {
		_, err := w.Write(append(data, '\n'))
		return err
	})
}

// removeReady removes the ready file when the fake stops: a file left
// behind would tell the next script a fake is up.
func removeReady(path string) {
	if path != "" {
		_ = os.Remove(path)
	}
}

// refuseOpenControl is why the fake must not start (or ""): on an address
// beyond loopback without a control token, unless waived. Without the
// token the control API answers loopback callers only, which is nobody
// when the fake runs in a container: a fake meant to be driven from the
// network needs the token, and one that is not says so with the flag.
func refuseOpenControl(addr, token string, waived, shared bool) string {
	if token != "" || waived || !beyondLoopback(addr) {
		return ""
	}
	what := "its control API would answer loopback callers only (in a container: nobody)"
	if shared {
		what = "runs could be created from loopback only (in a container: by nobody)"
	}
	return fmt.Sprintf("zconform fake: refusing to listen on %s, beyond loopback, without $%s: %s.\n"+
		"  Set $%s to a secret (every control request then sends Authorization: Bearer <secret>),\n"+
		"  or listen on 127.0.0.1, or pass -no-control-token to serve the OAuth endpoints (and what -seed made) all the same.",
		addr, controlTokenEnv, what, controlTokenEnv)
}

// beyondLoopback says whether the listen address reaches beyond loopback.
func beyondLoopback(addr string) bool {
	host, _, err := net.SplitHostPort(addr)
	if err != nil {
		return false
	}
	ip := net.ParseIP(host)
	return host != "localhost" && (ip == nil || !ip.IsLoopback())
}

// waitForStop returns on SIGINT, SIGTERM or when stop is closed.
func waitForStop(stderr io.Writer, stop <-chan struct{}) {
	sig := make(chan os.Signal, 1)
	signal.Notify(sig, os.Interrupt, syscall.SIGTERM)
	defer signal.Stop(sig)
	select {
	case s := <-sig:
		fmt.Fprintf(stderr, "zconform fake: %s, stopping\n", s)
	case <-stop:
	}
}

// serveTenants serves a fake shared by many runs until a signal or stop.
func serveTenants(cfg fakeserver.TenantsConfig, opts []fakeserver.Option, addr string, ps proxySetup, readyFile string, stdout, stderr io.Writer, stop <-chan struct{}) int {
	ts := fakeserver.NewTenants(cfg, opts...)
	ts.SetReady(false) // until the ready file is written
	if err := ts.Start(addr); err != nil {
		fmt.Fprintf(stderr, "zconform fake: %v\n", err)
		return 1
	}
	defer ts.Close()
	var proxy *fakeserver.Proxy
	if ps.addr != "" {
		ca, err := ps.ca()
		if err != nil {
			fmt.Fprintf(stderr, "zconform fake: -proxy: %v\n", err)
			return 1
		}
		if proxy, err = ts.StartProxy(ps.addr, ps.options(ca)...); err != nil {
			fmt.Fprintf(stderr, "zconform fake: %v\n", err)
			return 1
		}
		defer proxy.Close()
	}
	create := ts.URL + "/_zconform/v1/tenants"
	fmt.Fprintf(stdout, "zconform fake Zoho Accounts server, shared by many runs, on %s\n", ts.URL)
	fmt.Fprintf(stdout, "  create a run:   POST %s  (answers its URL, %s/t/{id}, and its token for its control API)\n", create, ts.URL)
	fmt.Fprintf(stdout, "  release a run:  DELETE %s/{id} with its token  (idle runs are released after %s; at most %d live)\n", create, cfg.IdleTTL, cfg.Max)
	fmt.Fprintf(stdout, "  health:         %s%s, %s%s\n", ts.URL, fakeserver.HealthPath, ts.URL, fakeserver.ReadyPath)
	ready := map[string]any{"url": ts.URL, "tenants": create, "max_runs": cfg.Max, "idle_ttl": cfg.IdleTTL.String()}
	if proxy != nil {
		printProxy(stdout, proxy, ps, true)
		ready["proxy"], ready["proxy_ca"] = proxy.URL, ps.caCert
	}
	if beyondLoopback(addr) {
		if cfg.ControlToken == "" {
			fmt.Fprintf(stderr, "zconform fake: -tenants listens beyond loopback without $%s: runs can only be created from loopback; set it to share the fake (its holder may list and release every run)\n", controlTokenEnv)
		} else {
			fmt.Fprintln(stderr, "zconform fake: -tenants listens beyond loopback: anyone who reaches it may create a run (each gets its own token); listing and releasing other runs need the admin token")
		}
	}
	if err := writeReady(readyFile, ready); err != nil {
		fmt.Fprintf(stderr, "zconform fake: -ready-file: %v\n", err)
		return 1
	}
	defer removeReady(readyFile)
	ts.SetReady(true)
	waitForStop(stderr, stop)
	return 0
}

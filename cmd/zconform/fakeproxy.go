package main

import (
	"errors"
	"flag"
	"fmt"
	"io"
	"io/fs"
	"os"
	"path/filepath"

	"github.com/zconform/zconform/fakeserver"
)

// proxySetup is what zconform fake's -proxy flags asked for.
type proxySetup struct {
	addr, caCert, caKey string
	passThrough         bool
}

// ca is the proxy's CA: loaded from -ca-cert and -ca-key when both exist,
// made and written to both when neither does, or made fresh (its
// certificate written to -ca-cert, its key kept in memory) without
// -ca-key.
func (ps proxySetup) ca() (*fakeserver.CA, error) {
	if ps.caKey == "" {
		ca, err := fakeserver.NewCA()
		if err != nil {
			return nil, err
		}
		return ca, ca.WriteCert(ps.caCert)
	}
	certThere, keyThere := exists(ps.caCert), exists(ps.caKey)
	switch {
	case certThere && keyThere:
		return fakeserver.LoadCA(ps.caCert, ps.caKey)
	case certThere != keyThere:
		there, missing := ps.caCert, ps.caKey
		if keyThere {
			there, missing = ps.caKey, ps.caCert
		}
		return nil, fmt.Errorf("%s exists but %s does not: give -ca-cert and -ca-key of one CA, or two new paths to make one", there, missing)
	}
	ca, err := fakeserver.NewCA()
	if err != nil {
		return nil, err
	}
	if err := ca.WriteKey(ps.caKey); err != nil {
		return nil, err
	}
	return ca, ca.WriteCert(ps.caCert)
}

func exists(path string) bool {
	_, err := os.Stat(path)
	return !errors.Is(err, fs.ErrNotExist)
}

func (ps proxySetup) options(ca *fakeserver.CA) []fakeserver.ProxyOption {
	opts := []fakeserver.ProxyOption{fakeserver.ProxyCA(ca), fakeserver.ProxyCAFile(ps.caCert)}
	if ps.passThrough {
		opts = append(opts, fakeserver.ProxyPassThrough())
	}
	return opts
}

// printProxy tells the user how to point a client at the proxy.
func printProxy(w io.Writer, p *fakeserver.Proxy, ps proxySetup, shared bool) {
	others := "other hosts refused"
	if ps.passThrough {
		others = "other hosts tunnelled unchanged"
	}
	url := p.URL
	if shared {
		url = "http://{run id}:{run token}@" + p.URL[len("http://"):]
	}
	ca := ps.caCert
	if abs, err := filepath.Abs(ca); err == nil {
		ca = abs
	}
	fmt.Fprintf(w, "  proxy:              %s (Zoho's real host names answered by the fake; %s)\n", p.URL, others)
	fmt.Fprintf(w, "  proxy CA:           %s (the certificate clients must trust)\n", ca)
	fmt.Fprintf(w, "  point a client:     export HTTPS_PROXY=%s HTTP_PROXY=%s NO_PROXY=localhost,127.0.0.1\n", url, url)
	fmt.Fprintf(w, "                      export SSL_CERT_FILE=%s NODE_EXTRA_CA_CERTS=%s REQUESTS_CA_BUNDLE=%s CURL_CA_BUNDLE=%s\n", ca, ca, ca, ca)
}

// flagSet reports whether the flag was given on the command line.
func flagSet(fs *flag.FlagSet, name string) bool {
	set := false
	fs.Visit(func(f *flag.Flag) {
		if f.Name == name {
			set = true
		}
	})
	return set
}

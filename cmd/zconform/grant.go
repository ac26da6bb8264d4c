package main

import (
	"crypto/tls"
	"crypto/x509"
	"errors"
	"flag"
	"fmt"
	"io"
	"net/http"
	"net/url"
	"os"
	"time"

	"github.com/zconform/zconform/fixtures/zoho"
)

// runGrant asks an Accounts server's authorization endpoint for a grant
// token without a person (the fake consents by itself) and prints the
// code: a grants.command for a target file that points at a fake served
// as a separate process.
func runGrant(args []string, stdout, stderr io.Writer) int {
	fs := flag.NewFlagSet("zconform grant", flag.ContinueOnError)
	fs.SetOutput(stderr)
	accounts := fs.String("accounts", "", "the Accounts server URL, e.g. http://127.0.0.1:8080/accounts.zoho.com")
	clientID := fs.String("client-id", "", "the client ID")
	redirect := fs.String("redirect-uri", "", "the registered redirect URI")
	scope := fs.String("scope", "ZohoCRM.users.ALL", "the scopes")
	cacert := fs.String("cacert", "", "a PEM file of a certificate authority to trust (the fake's -cert)")
	fs.Usage = func() {
		fmt.Fprintln(stderr, "Usage: zconform grant -accounts URL -client-id ID -redirect-uri URI [-scope S]\n\nAuthorizes offline (prompt=consent) without a person and prints the grant\ntoken. It works against the zconform fake, which consents by itself; use it\nas the grants.command of a target file that points at the fake.\n\nFlags:")
		fs.PrintDefaults()
	}
	if err := fs.Parse(args); err != nil {
		if errors.Is(err, flag.ErrHelp) {
			return 0
		}
		return 2
	}
	if *accounts == "" || *clientID == "" || *redirect == "" {
		fmt.Fprintln(stderr, "zconform grant: -accounts, -client-id and -redirect-uri are required")
		return 2
	}
	q := url.Values{"client_id": {*clientID}, "response_type": {"code"}, "redirect_uri": {*redirect},
		"scope": {*scope}, "access_type": {"offline"}, "prompt": {"consent"}}
	hc := &http.Client{Timeout: 30 * time.Second, CheckRedirect: func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse }}
	if *cacert != "" {
		pem, err := os.ReadFile(*cacert)
		if err != nil {
			fmt.Fprintf(stderr, "zconform grant: -cacert: %v\n", err)
			return 2
		}
		pool := x509.NewCertPool()
		if !pool.AppendCertsFromPEM(pem) {
			fmt.Fprintf(stderr, "zconform grant: -cacert: %s holds no PEM certificate\n", *cacert)
			return 2
		}
		hc.Transport = &http.Transport{TLSClientConfig: &tls.Config{RootCAs: pool}}
	}
	resp, err := hc.Get(*accounts + "/oauth/v2/auth?" + q.Encode())
	if err != nil {
		fmt.Fprintf(stderr, "zconform grant: %v\n", err)
		return 1
	}
	resp.Body.Close()
	loc, err := url.Parse(resp.Header.Get("Location"))
	if err != nil || loc.Query().Get("code") == "" {
		reason := "no redirect"
		if err == nil && loc.Query().Get("error") != "" {
			reason = "error=" + loc.Query().Get("error")
		}
		fmt.Fprintf(stderr, "zconform grant: the authorization endpoint gave no code (HTTP %d, %s): it needs a person's consent, or the client ID or redirect URI is wrong\n", resp.StatusCode, reason)
		return 1
	}
	code := loc.Query().Get("code")
	if !zoho.TokenPattern.MatchString(code) {
		fmt.Fprintln(stderr, "zconform grant: the code is not in Zoho's format")
		return 1
	}
	fmt.Fprintln(stdout, code)
	return 0
}

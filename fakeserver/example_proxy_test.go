package fakeserver_test

import (
	"fmt"
	"io"
	"net/url"
	"os"
	"path/filepath"

	"github.com/zconform/zconform/fakeserver"
)

// The fake as an intercepting HTTPS proxy: any client pointed at it by
// HTTPS_PROXY and its CA certificate reaches the fake on Zoho's real host
// names, and the fake answers as Zoho does.
func ExampleServer_StartProxy() {
	srv := fakeserver.New()
	defer srv.Close()
	p, err := srv.StartProxy("127.0.0.1:0")
	if err != nil {
		panic(err)
	}
	defer p.Close()
	// the file a client trusts: SSL_CERT_FILE, NODE_EXTRA_CA_CERTS, ...
	ca := filepath.Join(os.TempDir(), "zconform-example-ca.pem")
	defer os.Remove(ca)
	if err := p.CA().WriteCert(ca); err != nil {
		panic(err)
	}
	// p.HTTPClient() is what HTTPS_PROXY=p.URL and SSL_CERT_FILE=ca give a Go client
	resp, err := p.HTTPClient().PostForm("https://accounts.zoho.eu/oauth/v2/token", url.Values{
		"grant_type": {"authorization_code"}, "code": {"1000.unknown"}, "client_id": {"1000.NOPE"}, "client_secret": {"x"},
	})
	if err != nil {
		panic(err)
	}
	body, _ := io.ReadAll(resp.Body)
	resp.Body.Close()
	fmt.Println(resp.StatusCode, string(body))
	fmt.Println("served as", resp.TLS.PeerCertificates[0].DNSNames[0])
	fmt.Println("logged as", srv.Requests()[0].Host)

	_, err = p.HTTPClient().Get("https://example.com/")
	fmt.Println(err)
	// Output:
	// 200 {"error":"invalid_client"}
	// served as accounts.zoho.eu
	// logged as accounts.zoho.eu
	// Get "https://example.com/": Forbidden
}

package fakeserver_test

import (
	"crypto/tls"
	"crypto/x509"
	"io"
	"net/http"
	"net/url"
	"strings"
	"testing"
	"time"

	"github.com/zconform/zconform/fakeserver"
	"github.com/zconform/zconform/fixtures/zoho"
)

// The proxy's goal: a refresh through it, over a kept-alive TLS
// connection, costs at most twice a refresh against the fake directly over
// TLS. BenchmarkRefreshTLS measures both, side by side, and reports the
// ratio as x-direct:
//
//	go test -run XXX -bench RefreshTLS ./fakeserver/

// benchRefresh refreshes through hc for b.N iterations and returns the
// time of one.
func benchRefresh(b *testing.B, srv *fakeserver.Server, hc *http.Client, tokenURL string) time.Duration {
	b.Helper()
	app, code := ptWebClient(b, srv, zoho.US)
	status, body := ptToken(b, hc, tokenURL, url.Values{"grant_type": {"authorization_code"}, "code": {code()},
		"client_id": {app.ID}, "client_secret": {app.Secret}, "redirect_uri": {"https://app.example/callback"}})
	rt, _ := body["refresh_token"].(string)
	if status != 200 || rt == "" {
		b.Fatalf("exchange: %d %v", status, body)
	}
	form := url.Values{"grant_type": {"refresh_token"}, "refresh_token": {rt}, "client_id": {app.ID}, "client_secret": {app.Secret}}.Encode()
	start := time.Now()
	for b.Loop() {
		resp, err := hc.Post(tokenURL, "application/x-www-form-urlencoded", strings.NewReader(form))
		if err != nil {
			b.Fatal(err)
		}
		_, _ = io.Copy(io.Discard, resp.Body)
		resp.Body.Close()
		if resp.StatusCode != 200 {
			b.Fatalf("refresh: %d", resp.StatusCode)
		}
	}
	return time.Since(start) / time.Duration(b.N)
}

func BenchmarkRefreshTLS(b *testing.B) {
	var direct, proxied time.Duration
	b.Run("direct", func(b *testing.B) {
		srv := fakeserver.NewUnstarted(fakeserver.WithAddr("127.0.0.1:0"))
		if err := srv.StartTLS(); err != nil {
			b.Fatal(err)
		}
		defer srv.Close()
		pool := x509.NewCertPool()
		pool.AddCert(srv.Certificate())
		hc := &http.Client{Transport: &http.Transport{TLSClientConfig: &tls.Config{RootCAs: pool}, MaxIdleConnsPerHost: 4}}
		direct = benchRefresh(b, srv, hc, srv.AccountsURL(zoho.US)+"/oauth/v2/token")
	})
	b.Run("proxy", func(b *testing.B) {
		srv, p := ptStart(b, nil)
		proxied = benchRefresh(b, srv, p.HTTPClient(), "https://accounts.zoho.com/oauth/v2/token")
		if direct > 0 {
			b.ReportMetric(float64(proxied)/float64(direct), "x-direct")
		}
	})
}

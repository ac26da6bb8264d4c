package fakeserver_test

// The settings of docs/zoho-oauth-beyond.md section 7, where Zoho's pages
// disagree: each answers as its source shows it, set as single limits.

import (
	"net/http"
	"time"

	. "github.com/onsi/ginkgo/v2"
	. "github.com/onsi/gomega"

	"github.com/zconform/zconform/fakeserver"
	"github.com/zconform/zconform/fixtures/zoho"
)

var _ = Describe("Section 7's settings", func() {
	It("answers expires_in in milliseconds with expires_in_sec, as the older Writer page shows", func() {
		f := newFake(profileKaizen4, fakeserver.WithLimits(func(l *zoho.Limits) { l.ExpiresInMilliseconds = true }))
		web := f.webClient(zoho.US)
		t := f.offlineTokens(zoho.US, web)
		Expect(t.Number("expires_in")).To(BeEquivalentTo(3600000))
		Expect(t.Number("expires_in_sec")).To(BeEquivalentTo(3600))
		Expect(jsonKeys(t.response.Body)).To(Equal([]string{"access_token", "refresh_token", "api_domain", "token_type", "expires_in", "expires_in_sec"}))
		r := expectTokens(f.refresh(zoho.US, web, t.RefreshToken()))
		Expect(r.Number("expires_in")).To(BeEquivalentTo(3600000))
		Expect(r.Number("expires_in_sec")).To(BeEquivalentTo(3600))
		// the token still lives an hour
		f.advance(61 * time.Minute)
		f.expectTokenRejected(zoho.US, r.AccessToken())
	})

	It("answers scope in the exchange's and the refresh's answers with token_answer_scope", func() {
		f := newFake(profileAccounts2025)
		f.ctlOK(http.MethodPut, "/limits", `{"limits":{"token_answer_scope":true}}`, nil)
		web := f.webClient(zoho.US)
		t := f.offlineTokens(zoho.US, web)
		Expect(t.Body).To(HaveKeyWithValue("scope", "ZohoCRM.users.ALL ZohoCRM.org.READ"))
		Expect(jsonKeys(t.response.Body)).To(Equal([]string{"access_token", "refresh_token", "scope", "api_domain", "token_type", "expires_in"}))
		Expect(expectTokens(f.refresh(zoho.US, web, t.RefreshToken())).Body).To(HaveKeyWithValue("scope", "ZohoCRM.users.ALL ZohoCRM.org.READ"))
		// by default, none
		g := newFake(profileAccounts2025)
		Expect(g.offlineTokens(zoho.US, g.webClient(zoho.US)).Body).NotTo(HaveKey("scope"))
	})

	It("answers the refresh throttle as Kaizen #43 shows it: HTTP 200 and status failure", func() {
		f := newFake(profileAccounts2025, fakeserver.WithLimits(func(l *zoho.Limits) {
			l.RefreshThrottleHTTP200, l.RefreshThrottleStatusFailure = true, true
		}))
		web := f.webClient(zoho.US)
		t := f.offlineTokens(zoho.US, web)
		for range 10 {
			expectTokens(f.refresh(zoho.US, web, t.RefreshToken()))
		}
		r := f.refresh(zoho.US, web, t.RefreshToken())
		Expect(r.Status).To(Equal(http.StatusOK))
		Expect(r.Body).To(Equal(map[string]any{"error": "Access Denied", "error_description": zoho.ThrottleDescription, "status": "failure"}))
		// the default: HTTP 400 without status
		g := newFake(profileAccounts2025)
		gw := g.webClient(zoho.US)
		gt := g.offlineTokens(zoho.US, gw)
		for range 10 {
			expectTokens(g.refresh(zoho.US, gw, gt.RefreshToken()))
		}
		r = g.refresh(zoho.US, gw, gt.RefreshToken())
		Expect(r.Status).To(Equal(http.StatusBadRequest))
		Expect(r.Body).To(Equal(map[string]any{"error": "Access Denied", "error_description": zoho.ThrottleDescription}))
	})

	It("blocks grant tokens for grant_rate.block after the limit, as the Projects FAQ says (4 a minute, then 10 minutes)", func() {
		f := newFake(profileKaizen4)
		f.ctlOK(http.MethodPut, "/limits", `{"limits":{"grant_rate":{"limit":4,"window":"1m","block":"10m"}}}`, nil)
		Expect(f.Limits().GrantRate).To(Equal(zoho.Rate{Limit: 4, Window: time.Minute, Block: 10 * time.Minute}))
		web := f.webClient(zoho.US)
		for range 4 {
			f.grant(zoho.US, web)
		}
		expectAuthError(f.authorize(zoho.US, authParams(web)), zoho.ErrAccessDenied) // the block starts
		f.advance(time.Minute + time.Second)                                         // the window is past, the block is not
		expectAuthError(f.authorize(zoho.US, authParams(web)), zoho.ErrAccessDenied)
		sc := f.selfClient(zoho.US, "")
		for range 4 {
			f.selfCode(sc, 0)
		}
		_, err := f.SelfClientCode(sc.ID, fakeserver.SelfClientCodeRequest{Scopes: []string{testScope}})
		Expect(err).To(HaveOccurred(), "the self client's fifth code within a minute")
		f.advance(10*time.Minute - time.Minute - 2*time.Second) // 1s before the block ends
		expectAuthError(f.authorize(zoho.US, authParams(web)), zoho.ErrAccessDenied)
		f.advance(time.Second) // exactly when it ends
		f.grant(zoho.US, web)
		// another client was never blocked
		f.grant(zoho.US, f.webClient(zoho.US))
	})
})

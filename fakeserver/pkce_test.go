package fakeserver_test

// PKCE for mobile and desktop apps (ZA-PKCE-*, docs/zoho-oauth-beyond.md
// section 3): the seed checks and the console's PKCE setting.

import (
	"net/http"
	"strings"

	. "github.com/onsi/ginkgo/v2"
	. "github.com/onsi/gomega"

	"github.com/zconform/zconform/fakeserver"
	"github.com/zconform/zconform/fixtures/zoho"
)

// A code_verifier and its S256 challenge, base64url(SHA-256(verifier))
// worked out apart from the fake (Python's hashlib).
const (
	pkceVerifier  = "dBjftJeZ4CVP-mJ92K9ud2mp6LXxcbqXk6QyhiDMkcfgRCxyMnGoVnRJ1Vp"
	pkceChallenge = "8GaPIfyx_KdVj0BUMO9N32mg0jxegB0xUA9jRQB1mIc"
)

// pkceMobileClient registers a mobile client in dc with the PKCE setting
// pkce ("" for the default, required).
func (f *fake) pkceMobileClient(dc zoho.DC, pkce string) fakeserver.Client {
	GinkgoHelper()
	return f.register(fakeserver.ClientSpec{
		Type: fakeserver.Mobile, Name: "zconform mobile", Homepage: testHomepage,
		RedirectURIs: []string{testRedirectURI}, DC: dc, PKCE: pkce,
	})
}

// pkceGrant authorizes c at US with a challenge (and method, unless "")
// and returns the code.
func (f *fake) pkceGrant(c fakeserver.Client, challenge, method string) string {
	GinkgoHelper()
	q := authParams(c)
	if challenge != "" {
		q.Set("code_challenge", challenge)
	}
	if method != "" {
		q.Set("code_challenge_method", method)
	}
	return f.grantQ(zoho.US, q)
}

// pkceExchange exchanges code for c with a code_verifier ("-": none).
func (f *fake) pkceExchange(c fakeserver.Client, code, verifier string) tokenResult {
	GinkgoHelper()
	form := exchangeForm(c, zoho.US, code)
	if verifier != "-" {
		form.Set("code_verifier", verifier)
	}
	return f.tokenCall(zoho.US, form)
}

var (
	_ = registerSeedCheck(zoho.PKCEAuth, func(f *fake) {
		mobile := f.pkceMobileClient(zoho.US, "")
		Expect(mobile.PKCE).To(Equal(fakeserver.PKCERequired))
		// a mobile client registered now must send a challenge
		expectAuthError(f.authorize(zoho.US, authParams(mobile)), zoho.ErrAuthCodeChallenge)
		q := authParams(mobile)
		q.Set("code_challenge_method", "S256")
		expectAuthError(f.authorize(zoho.US, q), zoho.ErrAuthCodeChallenge)
		// S256
		code := f.pkceGrant(mobile, pkceChallenge, "S256")
		expectTokens(f.pkceExchange(mobile, code, pkceVerifier))
		Expect(fakeserver.PKCEChallenge(pkceVerifier)).To(Equal(pkceChallenge))
		// plain, also as the default method
		code = f.pkceGrant(mobile, pkceVerifier, "plain")
		expectTokens(f.pkceExchange(mobile, code, pkceVerifier))
		code = f.pkceGrant(mobile, pkceVerifier, "")
		expectTokens(f.pkceExchange(mobile, code, pkceVerifier))
		// malformed challenges and methods
		for _, bad := range [][2]string{{pkceChallenge, "s256"}, {pkceChallenge, "SHA256"}, {"short", "plain"}, {pkceVerifier, "S256"}, {pkceChallenge + "=", "S256"}} {
			q := authParams(mobile)
			q.Set("code_challenge", bad[0])
			q.Set("code_challenge_method", bad[1])
			expectAuthError(f.authorize(zoho.US, q), zoho.ErrAuthCodeChallenge)
		}
		// an app registered before PKCE was required works without it
		legacy := f.pkceMobileClient(zoho.US, fakeserver.PKCEOptional)
		expectTokens(f.exchange(zoho.US, legacy, f.grantPatiently(zoho.US, legacy)))
		code = f.pkceGrant(legacy, pkceChallenge, "S256")
		expectTokens(f.pkceExchange(legacy, code, pkceVerifier))
	})

	_ = registerSeedCheck(zoho.PKCEToken, func(f *fake) {
		mobile := f.pkceMobileClient(zoho.US, "")
		for _, wrong := range []string{"-", "", strings.Repeat("a", 43), pkceChallenge, pkceVerifier + "x", "short"} {
			code := f.pkceGrant(mobile, pkceChallenge, "S256")
			expectTokenError(f.pkceExchange(mobile, code, wrong), zoho.ErrInvalidCode)
			// the failure burnt the code (K4-NOTE-3)
			expectTokenError(f.pkceExchange(mobile, code, pkceVerifier), zoho.ErrInvalidCode)
		}
		code := f.pkceGrant(mobile, pkceVerifier, "plain")
		expectTokenError(f.pkceExchange(mobile, code, strings.Repeat("b", 43)), zoho.ErrInvalidCode)
		// a web client that sends a challenge binds its code too
		web := f.webClient(zoho.US)
		code = f.pkceGrant(web, pkceChallenge, "S256")
		expectTokenError(f.pkceExchange(web, code, "-"), zoho.ErrInvalidCode)
		code = f.pkceGrant(web, pkceChallenge, "S256")
		expectTokens(f.pkceExchange(web, code, pkceVerifier))
	})
)

var _ = Describe("PKCE", func() {
	var f *fake
	BeforeEach(func() { f = newFake(profileKaizen4) })

	It("is a mobile client's setting: required by default, optional on request, none for other types", func() {
		Expect(f.pkceMobileClient(zoho.US, "").PKCE).To(Equal(fakeserver.PKCERequired))
		Expect(f.pkceMobileClient(zoho.US, fakeserver.PKCEOptional).PKCE).To(Equal(fakeserver.PKCEOptional))
		_, err := f.RegisterClient(fakeserver.ClientSpec{Type: fakeserver.Mobile, Name: "m", Homepage: testHomepage, RedirectURIs: []string{testRedirectURI}, PKCE: "sometimes"})
		Expect(err).To(MatchError(ContainSubstring("use required (the default) or optional")))
		_, err = f.RegisterClient(fakeserver.ClientSpec{Type: fakeserver.WebBased, Name: "w", Homepage: testHomepage, RedirectURIs: []string{testRedirectURI}, PKCE: "required"})
		Expect(err).To(MatchError(ContainSubstring("pkce applies to mobile clients")))
		Expect(f.webClient(zoho.US).PKCE).To(BeEmpty())
		// through the control API and a seed file
		var c fakeserver.Client
		f.ctlOK(http.MethodPost, "/clients", `{"type":"mobile","name":"m","homepage":"https://a.example.com","redirect_uris":["https://a.example.com/cb"],"pkce":"optional"}`, &c)
		Expect(c.PKCE).To(Equal(fakeserver.PKCEOptional))
		s, err := fakeserver.ParseSeed("seed.yaml", []byte("clients:\n  - {type: mobile, name: m, homepage: \"https://a.example.com\", redirect_uris: [\"https://a.example.com/cb\"], pkce: never}\n"))
		Expect(err).NotTo(HaveOccurred())
		Expect(f.ApplySeed(s)).To(MatchError(ContainSubstring(`seed.yaml:2: client 1: console: pkce "never" is not a PKCE setting`)))
	})

	It("leaves the implicit flow and self-client codes alone", func() {
		js := f.jsClient(zoho.US)
		q := authParams(js)
		q.Set("response_type", "token")
		q.Set("code_challenge", pkceChallenge)
		a := f.authorize(zoho.US, q)
		Expect(a.Status).To(Equal(http.StatusFound))
		Expect(a.Fragment.Get("access_token")).NotTo(BeEmpty())
		sc := f.selfClient(zoho.US, "")
		form := exchangeForm(sc, zoho.US, f.selfCode(sc, 0))
		form.Set("code_verifier", pkceVerifier) // ignored: the code has no challenge
		expectTokens(f.tokenCall(zoho.US, form))
	})

	It("keeps the verifier out of the request log", func() {
		mobile := f.pkceMobileClient(zoho.US, "")
		code := f.pkceGrant(mobile, pkceChallenge, "S256")
		expectTokens(f.pkceExchange(mobile, code, pkceVerifier))
		for _, r := range f.Requests() {
			for k, v := range r.Params {
				Expect(v).NotTo(ContainSubstring(pkceVerifier), "%s", k)
			}
		}
	})
})

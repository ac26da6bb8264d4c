package cases

import (
	"crypto/rand"
	"crypto/sha256"
	"encoding/base64"
	"fmt"
	"net/url"

	"github.com/zconform/zconform/fakeserver"
	"github.com/zconform/zconform/fixtures/zoho"
)

// PKCE for mobile and desktop apps (ZA-PKCE-*, docs/zoho-oauth-beyond.md
// section 3, RFC 7636).

// newVerifier is a fresh code_verifier: 32 random bytes, base64url, 43
// characters.
func newVerifier() string {
	b := make([]byte, 32)
	_, _ = rand.Read(b)
	return base64.RawURLEncoding.EncodeToString(b)
}

// s256 is the S256 code_challenge of a verifier, worked out here, apart
// from the target.
func s256(verifier string) string {
	sum := sha256.Sum256([]byte(verifier))
	return base64.RawURLEncoding.EncodeToString(sum[:])
}

// checkPKCE registers a mobile client (one that must use PKCE, or for
// variant legacy an app registered before Zoho required it) and runs the
// authorization and exchange the variant says:
//
//	s256                  challenge S256, exchange with the verifier (checked)
//	plain-default         challenge without a method (plain), exchange with the verifier (checked)
//	required              no challenge: the authorization (checked)
//	legacy                no challenge from an older app: the authorization (checked), then the exchange
//	wrong-verifier        challenge S256, exchange with another verifier (checked)
//	missing-verifier      challenge S256, exchange without code_verifier (checked)
//	wrong-verifier-burns  a wrong verifier first, then the right one (checked): the code is burnt
func checkPKCE(r *run) error {
	dc := r.c.Stimulus.DC
	con, err := r.console()
	if err != nil {
		return err
	}
	variant := r.c.Stimulus.Variant
	// required, named; for variant required the console's default, so
	// that the default itself is checked
	setting := fakeserver.PKCERequired
	switch variant {
	case "legacy":
		setting = fakeserver.PKCEOptional
	case "required":
		setting = ""
	}
	reg, err := con.RegisterClient(fakeserver.ClientSpec{
		Type: fakeserver.Mobile, Name: "zconform mobile app", Homepage: "https://www.example.com",
		RedirectURIs: []string{redirectURI}, DC: dc, PKCE: setting,
	})
	if err != nil {
		return err
	}
	c := client{reg}
	shown := setting
	if shown == "" {
		shown = "the console's default"
	}
	r.sent = append(r.sent, "console: register a mobile client (pkce: "+shown+")")
	verifier := newVerifier()
	extra := url.Values{}
	switch variant {
	case "required", "legacy":
	case "plain-default":
		extra.Set("code_challenge", verifier)
	case "s256", "wrong-verifier", "missing-verifier", "wrong-verifier-burns":
		extra.Set("code_challenge", s256(verifier))
		extra.Set("code_challenge_method", "S256")
	default:
		return fmt.Errorf("%s: pkce knows the variants s256, plain-default, required, legacy, wrong-verifier, missing-verifier and wrong-verifier-burns, not %q", r.c.Location(), variant)
	}
	g, o, err := r.authorize(dc, c, extra)
	if err != nil {
		return err
	}
	switch variant {
	case "required":
		return r.checkOutcome("authorize without code_challenge", o)
	case "legacy":
		if err := r.checkOutcome("authorize without code_challenge", o); err != nil || !o.ok {
			return err
		}
	default:
		if err := r.require("authorize with code_challenge", o, "the case needs a code bound to a challenge"); err != nil {
			return err
		}
	}
	exchange := func(v string) (outcome, error) {
		form := exchangeForm(c, c.Secrets[dc], g.code)
		if v != "" {
			form.Set("code_verifier", v)
		}
		_, o, err := r.token(g.accountsServer, form)
		return o, err
	}
	switch variant {
	case "legacy":
		o, err := exchange("")
		if err != nil {
			return err
		}
		return r.require("exchange without code_verifier", o, "an older app's code needs no verifier")
	case "s256", "plain-default":
		o, err := exchange(verifier)
		if err != nil {
			return err
		}
		return r.checkOutcome("exchange with the code_verifier", o)
	case "missing-verifier":
		o, err := exchange("")
		if err != nil {
			return err
		}
		return r.checkOutcome("exchange without code_verifier", o)
	case "wrong-verifier":
		o, err := exchange(newVerifier())
		if err != nil {
			return err
		}
		return r.checkOutcome("exchange with another code_verifier", o)
	}
	// wrong-verifier-burns
	o, err = exchange(newVerifier())
	if err != nil {
		return err
	}
	if err := r.requireError("exchange with another code_verifier", o, zoho.ErrInvalidCode, "a wrong verifier fails"); err != nil {
		return err
	}
	o, err = exchange(verifier)
	if err != nil {
		return err
	}
	return r.checkOutcome("exchange again, with the right code_verifier", o)
}

package cases

import (
	"encoding/base64"
	"fmt"
	"net/http"
	"net/url"
	"slices"
	"sort"
	"strings"

	"github.com/zconform/zconform/fakeserver"
	"github.com/zconform/zconform/fixtures/zoho"
	"github.com/zconform/zconform/suites/target"
)

// The newer revoke endpoint (ZA-REVOKE-V2) and serverinfo (ZA-SERVERINFO),
// docs/zoho-oauth-beyond.md section 5.

// basicAuth is HTTP Basic of id and secret; an empty secret leaves the
// colon in (base64(client_id:), a client-based app's).
func basicAuth(id, secret string) string {
	return "Basic " + base64.StdEncoding.EncodeToString([]byte(id+":"+secret))
}

// revokeV2 posts {AS}/oauth/v2/revoke/token?token=…&token_type=… at dc
// with the Authorization header auth ("" for none), as the page shows it:
// the parameters in the query string. The answer is read like the older
// endpoint's: success is HTTP 200 {"status":"success"}; a failure's error
// is its error member, and it must be {"status":"failure","error":…}.
func (r *run) revokeV2(dc zoho.DC, token, tokenType, auth string) (outcome, error) {
	q := url.Values{"token": {token}, "token_type": {tokenType}}
	h := http.Header{}
	what := "no Authorization"
	if auth != "" {
		h.Set("Authorization", auth)
		what = "Authorization: " + strings.SplitN(auth, " ", 2)[0] + " …"
	}
	r.sent = append(r.sent, fmt.Sprintf("revoke %s (%s)", redactParams(q), what))
	a, err := r.send(http.MethodPost, r.t.AccountsURL(dc)+"/oauth/v2/revoke/token?"+q.Encode(), nil, h)
	if err != nil {
		return outcome{}, err
	}
	o := outcome{status: a.status, a: a, body: zoho.Redact(strings.TrimSpace(string(a.body)))}
	if o.ok = a.status == http.StatusOK && a.str("status") == "success"; o.ok {
		o.wire = r.exactBody(a, r.contract.Answers.Revoked.Body)
	} else {
		if o.err = a.str("error"); o.err == "" {
			o.err = "(no error member)"
		}
		want := fmt.Sprintf(`{"status":"failure","error":%q}`, o.err)
		o.wire = r.exactBody(a, want)
	}
	return o, nil
}

// checkRevokeV2 revokes with POST /oauth/v2/revoke/token (ZA-REVOKE-V2),
// the variant saying what and how:
//
//	refresh-token     the refresh token, with the client's Basic credentials (checked); then it and its access token are dead
//	access-token      one access token (checked); it dies, the refresh token's other one and the refresh token live
//	wrong-secret      an access token, with a wrong secret (checked); nothing is revoked
//	no-basic          an access token, with no Authorization (checked); nothing is revoked
//	other-client      an access token, with another client's credentials (checked); nothing is revoked
//	unsupported-type  an access token, with token_type id_token (checked)
//	js-client         a JavaScript client's implicit-flow token, with base64(client_id:) and no secret (checked); then it is dead
//	js-client-id      the same, with base64(client_id) (no colon, padded) (checked)
//	at-tokens-dc      a multi-DC app's refresh token issued to a user of another DC, revoked at that DC with its credentials (checked); then it and its access token are dead
//	at-home-dc        the same token, revoked at the app's home DC with the home DC's credentials (checked); then it and its access token are dead
//
// The variants that revoke nothing aim at an access token, so that a
// target that wrongly revokes loses no more than that.
func checkRevokeV2(r *run) error {
	dc := r.c.Stimulus.DC
	variant := r.c.Stimulus.Variant
	switch variant {
	case "js-client", "js-client-id":
		return r.revokeV2JS(dc, variant == "js-client-id")
	case "at-tokens-dc", "at-home-dc":
		return r.revokeV2OtherDC(dc, variant == "at-home-dc")
	}
	c, t, err := r.startWithTokens()
	if err != nil {
		return err
	}
	basic := basicAuth(c.ID, c.Secrets[dc])
	switch variant {
	case "refresh-token":
		o, err := r.revokeV2(dc, t.refresh, "refresh_token", basic)
		if err != nil {
			return err
		}
		if err := r.checkOutcome("revoke the refresh token at /oauth/v2/revoke/token", o); err != nil || !o.ok {
			return err
		}
		_, o, err = r.refresh(dc, c, t.refresh)
		if err != nil {
			return err
		}
		if err := r.requireError("refresh with the revoked refresh token", o, zoho.ErrInvalidCode, "a revoked refresh token is dead"); err != nil {
			return err
		}
		return r.requireRejected("use its access token", t.apiDomain, t.access, "revoking a refresh token revokes its access tokens")
	case "access-token":
		_, more, err := r.refresh(dc, c, t.refresh)
		if err != nil {
			return err
		}
		if err := r.require("refresh", more, "a second access token"); err != nil {
			return err
		}
		o, err := r.revokeV2(dc, t.access, "access_token", basic)
		if err != nil {
			return err
		}
		if err := r.checkOutcome("revoke the first access token at /oauth/v2/revoke/token", o); err != nil || !o.ok {
			return err
		}
		if err := r.requireRejected("use the revoked access token", t.apiDomain, t.access, "a revoked access token is dead"); err != nil {
			return err
		}
		if err := r.requireWorks("use the refresh token's other access token", t.apiDomain, more.a.str("access_token"), "revoking one access token leaves the others"); err != nil {
			return err
		}
		_, o, err = r.refresh(dc, c, t.refresh)
		if err != nil {
			return err
		}
		return r.require("refresh after the access token's revoke", o, "revoking an access token leaves its refresh token")
	}
	var (
		auth      = basic
		tokenType = "access_token"
		step      string
	)
	switch variant {
	case "wrong-secret":
		auth, step = basicAuth(c.ID, zoho.NewClientSecret()), "revoke with a wrong secret"
	case "no-basic":
		auth, step = "", "revoke without Authorization"
	case "other-client":
		con, err := r.console()
		if err != nil {
			return err
		}
		other, err := con.RegisterClient(fakeserver.ClientSpec{Type: fakeserver.WebBased, Name: "zconform other app", Homepage: "https://www.example.com", RedirectURIs: []string{redirectURI}, DC: dc})
		if err != nil {
			return err
		}
		auth, step = basicAuth(other.ID, other.Secrets[dc]), "revoke with another client's credentials"
	case "unsupported-type":
		tokenType, step = "id_token", "revoke with token_type id_token"
	default:
		return fmt.Errorf("%s: revoke-v2 knows the variants refresh-token, access-token, wrong-secret, no-basic, other-client, unsupported-type, js-client, js-client-id, at-tokens-dc and at-home-dc, not %q", r.c.Location(), variant)
	}
	o, err := r.revokeV2(dc, t.access, tokenType, auth)
	if err != nil {
		return err
	}
	if err := r.checkOutcome(step, o); err != nil {
		return err
	}
	return r.requireWorks("use the access token", t.apiDomain, t.access, "a refused revoke revokes nothing")
}

// revokeV2JS: a JavaScript client's implicit-flow token, revoked with
// base64(client_id:) and no secret, or with idOnly base64(client_id).
func (r *run) revokeV2JS(dc zoho.DC, idOnly bool) error {
	con, err := r.console()
	if err != nil {
		return err
	}
	reg, err := con.RegisterClient(fakeserver.ClientSpec{
		Type: fakeserver.JavaScript, Name: "zconform js app", Homepage: "https://www.example.com",
		RedirectURIs: []string{redirectURI}, JSDomains: []string{"https://www.example.com"}, DC: dc,
	})
	if err != nil {
		return err
	}
	c := client{reg}
	_, o, err := r.authorize(dc, c, url.Values{"response_type": {"token"}, "access_type": {"-"}})
	if err != nil {
		return err
	}
	if err := r.require("authorize (implicit flow)", o, "the case needs a JavaScript client's token"); err != nil {
		return err
	}
	u, _ := url.Parse(o.a.header.Get("Location"))
	f, _ := url.ParseQuery(u.Fragment)
	tok, api := f.Get("access_token"), f.Get("api_domain")
	auth, step := basicAuth(c.ID, ""), "revoke with base64(client_id:), no secret"
	if idOnly {
		auth, step = "Basic "+base64.StdEncoding.EncodeToString([]byte(c.ID)), "revoke with base64(client_id), no colon"
	}
	o, err = r.revokeV2(dc, tok, "access_token", auth)
	if err != nil {
		return err
	}
	if err := r.checkOutcome(step, o); err != nil || !o.ok {
		return err
	}
	return r.requireRejected("use the revoked access token", api, tok, "a revoked access token is dead")
}

// serverInfoWire says how a serverinfo answer breaks the contract ("" if
// it does not): HTTP 200, JSON, exactly result "success" and locations;
// locations names every DC of the table with its Accounts server as the
// target serves it (a DC the target file does not name: any http(s) URL).
// Locations beyond the table are let through: Zoho adds DCs.
func (r *run) serverInfoWire(a answer) string {
	if !r.isJSON(a.header.Get("Content-Type")) {
		return fmt.Sprintf("Content-Type %q, want %q", a.header.Get("Content-Type"), r.contract.Answers.JSONContentType)
	}
	if a.json == nil {
		return "the body is not a JSON object"
	}
	var problems []string
	if a.status != http.StatusOK {
		problems = append(problems, fmt.Sprintf("HTTP %d, want 200", a.status))
	}
	for k := range a.json {
		if k != "result" && k != "locations" {
			problems = append(problems, "member "+k+" is extra")
		}
	}
	if a.json["result"] != "success" {
		problems = append(problems, fmt.Sprintf("result %v, want success", a.json["result"]))
	}
	locs, ok := a.json["locations"].(map[string]any)
	if !ok {
		problems = append(problems, "locations is not an object of DCs")
	}
	var named []zoho.DC
	n, namer := r.t.(target.DCNamer)
	if namer {
		named = n.NamedDCs()
	}
	for _, d := range zoho.DataCentres() {
		got, has := locs[string(d.DC)]
		s, _ := got.(string)
		switch {
		case !ok:
		case !has:
			problems = append(problems, "locations lacks "+string(d.DC))
		case namer && !slices.Contains(named, d.DC):
			if u, err := url.Parse(s); err != nil || (u.Scheme != "https" && u.Scheme != "http") || u.Host == "" {
				problems = append(problems, fmt.Sprintf("location %s is %v, not a URL", d.DC, got))
			}
		case s != r.t.AccountsURL(d.DC):
			problems = append(problems, fmt.Sprintf("location %s is %v, want %s", d.DC, got, r.t.AccountsURL(d.DC)))
		}
	}
	sort.Strings(problems)
	return strings.Join(problems, "; ")
}

// checkServerInfo asks GET {AS}/oauth/serverinfo of the stimulus' DC
// (ZA-SERVERINFO) and checks the answer whole (serverInfoWire).
func checkServerInfo(r *run) error {
	dc := r.c.Stimulus.DC
	a, err := r.send(http.MethodGet, r.t.AccountsURL(dc)+"/oauth/serverinfo", nil, nil)
	if err != nil {
		return err
	}
	o := outcome{status: a.status, a: a, ok: a.status == http.StatusOK && a.str("result") == "success", body: zoho.Redact(strings.TrimSpace(string(a.body)))}
	if !o.ok {
		if o.err = a.str("error"); o.err == "" {
			o.err = "(no error member)"
		}
	}
	o.wire = r.serverInfoWire(a)
	return r.checkOutcome("GET /oauth/serverinfo", o)
}

// revokeV2OtherDC: an app registered at home, enabled in another DC with
// its own secret there; a user of that DC authorizes it and the code is
// exchanged at the user's DC. The refresh token is then revoked at the DC
// that issued it (with that DC's credentials) or, atHome, at the app's
// home DC (with the home DC's): ZA-REVOKE-V2 says revoke goes to the
// app's home DC.
func (r *run) revokeV2OtherDC(home zoho.DC, atHome bool) error {
	con, err := r.console()
	if err != nil {
		return err
	}
	other := otherDC(home)
	user, err := con.AddUser(fakeserver.UserSpec{Email: "revoker@" + string(other) + ".example", DC: other})
	if err != nil {
		return err
	}
	c, err := r.webClient(home, "")
	if err != nil {
		return err
	}
	secret, err := con.EnableMultiDC(c.ID, other, fakeserver.MultiDC{SeparateSecret: true})
	if err != nil {
		return err
	}
	r.sent = append(r.sent, "console: enable multi-DC in "+string(other)+", with its own secret")
	if err := con.ScriptConsent(c.ID, fakeserver.Consent{User: user.Email}); err != nil {
		return err
	}
	g, err := r.mustGrant(home, c, url.Values{"prompt": {"consent"}})
	if err != nil {
		return err
	}
	if g.accountsServer != r.t.AccountsURL(other) {
		return &Failure{Step: "authorize", Want: "accounts-server=" + r.t.AccountsURL(other), Got: "accounts-server=" + g.accountsServer, Detail: "the redirect must name the user's DC"}
	}
	a, o, err := r.token(g.accountsServer, exchangeForm(c, secret, g.code))
	if err != nil {
		return err
	}
	if err := r.require("exchange at the user's DC", o, "the case needs the other DC's tokens"); err != nil {
		return err
	}
	t := tokensOf(a)
	at, auth, step := other, basicAuth(c.ID, secret), "revoke the refresh token at the DC that issued it"
	if atHome {
		at, auth, step = home, basicAuth(c.ID, c.Secrets[home]), "revoke the refresh token at the app's home DC"
	}
	if o, err = r.revokeV2(at, t.refresh, "refresh_token", auth); err != nil {
		return err
	}
	if err := r.checkOutcome(step, o); err != nil || !o.ok {
		return err
	}
	return r.requireRejected("use its access token", t.apiDomain, t.access, "revoking a refresh token revokes its access tokens")
}

package cases

import (
	"fmt"
	"net/http"
	"net/url"
	"strings"

	"github.com/zconform/zconform/fakeserver"
	"github.com/zconform/zconform/fixtures/zoho"
	"github.com/zconform/zconform/suites/target"
)

// The procedures of docs/zoho-oauth-beyond.md sections 4 and 6: the
// JavaScript apps' silent refresh (ZA-JS-REFRESH) and the API's scope
// check (ZA-API-SCOPE).

// jsRefreshScope is the scope a js-refresh case's user grants, unless the
// stimulus names one.
const jsRefreshScope = "ZohoCRM.users.ALL"

// jsClient registers a JavaScript client in the case's DC.
func (r *run) jsClient() (target.Console, client, error) {
	con, err := r.console()
	if err != nil {
		return nil, client{}, err
	}
	js, err := con.RegisterClient(fakeserver.ClientSpec{
		Type: fakeserver.JavaScript, Name: "zconform widget", Homepage: "https://www.example.com",
		RedirectURIs: []string{redirectURI}, JSDomains: []string{"https://www.example.com"}, DC: r.c.Stimulus.DC,
	})
	return con, client{js}, err
}

// checkJSRefresh covers GET {AS}/oauth/v2/auth/refresh (ZA-JS-REFRESH): a
// JavaScript client's user consents in the implicit flow (granting access
// for the session unless the variant says otherwise), time passes
// (stimulus.after), and the client asks for a new token silently with the
// stimulus' scope (default: the one granted). Variants: granted (the
// refresh must work: its token is checked whole and used), not-granted
// (consent for the token only), new-scopes (the refresh asks for more than
// was granted), session-ended (the user signed out first).
func checkJSRefresh(r *run) error {
	dc := r.c.Stimulus.DC
	con, js, err := r.jsClient()
	if err != nil {
		return err
	}
	variant := r.c.Stimulus.Variant
	switch variant {
	case "granted", "new-scopes", "session-ended":
		if err := con.ScriptConsent(js.ID, fakeserver.Consent{ForSession: true}); err != nil {
			return err
		}
		r.sent = append(r.sent, "(the user will grant access for the whole session)")
		r.sessionGrant = true
	case "not-granted":
		r.sent = append(r.sent, "(the user will consent for this token only)")
	default:
		return fmt.Errorf("%s: js-refresh knows the variants granted, not-granted, new-scopes and session-ended, not %q", r.c.Location(), variant)
	}
	_, o, err := r.authorize(dc, js, url.Values{"response_type": {"token"}, "scope": {jsRefreshScope}, "access_type": {"-"}})
	r.sessionGrant = false
	if err != nil {
		return err
	}
	if err := r.require("authorize with response_type=token", o, "the implicit flow gives the first token"); err != nil {
		return err
	}
	if variant == "session-ended" {
		ender, ok := r.t.(target.SessionEnder)
		if !ok {
			return &Skipped{Reason: fmt.Sprintf("needs a way to end the user's session: target %s has none", r.t.Name())}
		}
		if _, err := ender.EndSession(js.User); err != nil {
			return err
		}
		r.sent = append(r.sent, "(the user signs out: the session ends)")
	}
	if d, err := r.after(); err != nil {
		return err
	} else if d > 0 {
		if err := r.advance(d); err != nil {
			return err
		}
	}
	sc := jsRefreshScope
	if v, ok := r.c.Stimulus.Params["scope"]; ok {
		sc = v
	}
	a, o, err := r.jsRefresh(dc, js, sc)
	if err != nil {
		return err
	}
	if err := r.checkOutcome("GET /oauth/v2/auth/refresh with scope "+sc, o); err != nil {
		return err
	}
	if !o.ok {
		return nil
	}
	u, _ := url.Parse(a.header.Get("Location"))
	f, _ := url.ParseQuery(u.Fragment)
	return r.requireWorks("use the silent refresh's access token", r.implicitAPI(f), f.Get("access_token"), "the refreshed token works at the API")
}

// implicitAPI is where an implicit-flow token is used: its api_domain, else
// (the older page's fragment has none) the API domain of its location.
func (r *run) implicitAPI(f url.Values) string {
	if api := f.Get("api_domain"); api != "" {
		return api
	}
	dc, err := zoho.ParseDC(f.Get("location"))
	if err != nil {
		return ""
	}
	return r.t.APIURL(dc)
}

// jsRefresh sends GET {AS}/oauth/v2/auth/refresh for a JavaScript client
// and reads the answer as the implicit flow's: a token or an error in the
// redirect's fragment (each checked whole), or an error page.
func (r *run) jsRefresh(dc zoho.DC, c client, scope string) (answer, outcome, error) {
	q := url.Values{
		"client_id": {c.ID}, "response_type": {"token"}, "redirect_uri": {c.redirect()},
		"scope": {scope}, "state": {"zconform"},
	}
	a, err := r.send(http.MethodGet, r.t.AccountsURL(dc)+fakeserver.JSRefreshPath, q, nil)
	if err != nil {
		return a, outcome{}, err
	}
	o := outcome{status: a.status, a: a}
	loc := a.header.Get("Location")
	if a.status/100 != 3 || loc == "" {
		o.err, o.wire = r.pageWire(a)
		if o.err == "" {
			o.err = "(no error code on the page)"
		}
		return a, o, nil
	}
	u, err := url.Parse(loc)
	if err != nil {
		o.err, o.wire = "(unparsable Location)", "the redirect's Location is not a URL"
		return a, o, nil
	}
	f, _ := url.ParseQuery(u.Fragment)
	switch {
	case f.Get("access_token") != "":
		o.ok = true
		o.wire = r.implicitRedirectWire(u, q)
	case f.Get("error") != "":
		o.err = f.Get("error")
		o.wire = r.errorRedirectWire(u, q)
		if u.Fragment == "" || u.Query().Has("error") {
			o.wire = strings.TrimPrefix(o.wire+"; the refusal comes in the fragment, as the implicit flow's do", "; ")
		}
	default:
		o.err, o.wire = "(a redirect without token or error)", "a redirect carries a token or an error in its fragment"
	}
	return a, o, nil
}

// apiPaths are the APIs an api-scope case calls, by variant.
var apiPaths = map[string]struct {
	path  string
	query url.Values
}{
	"users": {"/crm/v8/users", url.Values{"type": {"CurrentUser"}}},
	"org":   {"/crm/v8/org", nil},
}

// checkAPIScope covers the API's scope check (ZA-API-SCOPE): a web client
// is authorized with the stimulus' scope (and access_type: offline by
// default, online for a token without a refresh token), and its access
// token calls the API the variant names (users or org). As a control, the
// token must first work at the other API when its scope covers that one
// (zoho.APIScopes: the doc's table, not the target).
func checkAPIScope(r *run) error {
	dc := r.c.Stimulus.DC
	if _, ok := apiPaths[r.c.Stimulus.Variant]; !ok {
		return fmt.Errorf("%s: api-scope knows the variants users and org, not %q", r.c.Location(), r.c.Stimulus.Variant)
	}
	sc := r.c.Stimulus.Params["scope"]
	if sc == "" {
		return fmt.Errorf("%s: an api-scope case names the token's scope in stimulus.params.scope", r.c.Location())
	}
	if _, err := r.console(); err != nil {
		return err
	}
	c, err := r.webClient(dc, "")
	if err != nil {
		return err
	}
	extra := url.Values{"scope": {sc}, "prompt": {"consent"}}
	if at, ok := r.c.Stimulus.Params["access_type"]; ok {
		extra.Set("access_type", at)
	}
	g, err := r.mustGrant(dc, c, extra)
	if err != nil {
		return err
	}
	a, o, err := r.token(g.accountsServer, exchangeForm(c, c.Secret, g.code))
	if err != nil {
		return err
	}
	if err := r.require("exchange", o, "the case needs a token of the scope "+sc); err != nil {
		return err
	}
	return r.judgeAPIScope(tokensOf(a), sc, r.c.Stimulus.Variant)
}

// judgeAPIScope calls the API named by variant (apiPaths) with an access
// token of the scopes sc and checks the answer; each other API that sc
// covers must work first (the token is good, only its scope is judged).
func (r *run) judgeAPIScope(t tokens, sc, variant string) error {
	api := apiPaths[variant]
	h := http.Header{"Authorization": {"Zoho-oauthtoken " + t.access}}
	for name, other := range apiPaths {
		if name == variant || !coversAny(sc, zoho.APIScopes[strings.TrimPrefix(other.path, "/crm/v8")]) {
			continue
		}
		ctl, err := r.callAPI(t.apiDomain, other.path, other.query, h)
		if err != nil {
			return err
		}
		if err := r.require("GET "+other.path+" with the token", ctl, "the token's scope "+sc+" covers this API"); err != nil {
			return err
		}
	}
	got, err := r.callAPI(t.apiDomain, api.path, api.query, h)
	if err != nil {
		return err
	}
	return r.checkOutcome(fmt.Sprintf("GET %s with a token of the scope %s", api.path, sc), got)
}

// coversAny says whether the scopes sc (comma- or space-separated) cover
// one of need.
func coversAny(sc string, need []string) bool {
	granted := zoho.SplitScopes(sc)
	for _, n := range need {
		if zoho.ScopeCovers(granted, n) {
			return true
		}
	}
	return false
}

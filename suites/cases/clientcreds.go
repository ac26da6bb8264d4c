package cases

import (
	"fmt"
	"net/http"
	"net/url"
	"slices"
	"sort"
	"strings"
	"time"

	"github.com/zconform/zconform/fakeserver"
	"github.com/zconform/zconform/fixtures"
	"github.com/zconform/zconform/fixtures/zoho"
)

// Client credentials (ZA-CC-*, docs/zoho-oauth-beyond.md section 2).

// ccScopes are the scopes the client-credentials cases ask for, as the
// CRM pages write them (comma-separated); the answer's scope member lists
// them space-separated.
var ccScopes = []string{"ZohoCRM.org.READ", "ZohoCRM.users.READ"}

// orgMaker is a target that creates orgs for client credentials' soid
// (the fake's console).
type orgMaker interface {
	AddOrg(fakeserver.OrgSpec) (fakeserver.Org, error)
}

// ccMembers are the members a client-credentials answer may have.
var ccMembers = []string{"access_token", "api_domain", "expires_in", "scope", "token_type"}

// ccWire says how an answer to client credentials at dc's Accounts server
// breaks the contract ("" if it does not): an error is the token
// endpoint's (HTTP 200, exactly {"error": code}); a success is HTTP 200,
// JSON, exactly access_token (Zoho's format), api_domain (dc's),
// token_type Bearer, expires_in (the contract's lifetime in seconds) and,
// where the contract's client_credentials_scope says this endpoint answers
// it (atAuth: /oauth/v2/auth), scope: the scopes asked, space-separated.
// Never a refresh token.
func (r *run) ccWire(a answer, dc zoho.DC, atAuth bool, scopes []string) string {
	if a.str("access_token") == "" {
		return r.tokenWire(a, dc)
	}
	if !r.isJSON(a.header.Get("Content-Type")) {
		return fmt.Sprintf("Content-Type %q, want %q", a.header.Get("Content-Type"), r.contract.Answers.JSONContentType)
	}
	var problems []string
	if a.status != http.StatusOK {
		problems = append(problems, fmt.Sprintf("a token answer comes with HTTP 200, not %d", a.status))
	}
	for k := range a.json {
		switch {
		case k == "refresh_token":
			problems = append(problems, "client credentials answer no refresh_token")
		case !slices.Contains(ccMembers, k):
			problems = append(problems, "member "+k+" is not in a client-credentials answer")
		}
	}
	if !tokenFormat.MatchString(a.str("access_token")) {
		problems = append(problems, "access_token is not in Zoho's format 1000.<32 hex>.<32 hex>")
	}
	if a.json["token_type"] != "Bearer" {
		problems = append(problems, fmt.Sprintf("token_type %v, want Bearer", a.json["token_type"]))
	}
	if want := r.limits.AccessTokenLifetime.Seconds(); a.json["expires_in"] != want {
		problems = append(problems, fmt.Sprintf("expires_in %v, want %v (seconds: the %s contract's access-token lifetime)", a.json["expires_in"], want, r.profile))
	}
	if a.json["api_domain"] != r.t.APIURL(dc) {
		problems = append(problems, fmt.Sprintf("api_domain %v, want %s (the DC asked)", a.json["api_domain"], r.t.APIURL(dc)))
	}
	where := "/oauth/v2/token"
	if atAuth {
		where = "/oauth/v2/auth"
	}
	sc, has := a.json["scope"]
	switch want := zoho.CCScopeAnswered(r.limits.ClientCredentialsScope, atAuth); {
	case want && !has:
		problems = append(problems, fmt.Sprintf("the answer at %s lacks scope (the %s contract's client_credentials_scope is %s)", where, r.profile, r.limits.ClientCredentialsScope))
	case !want && has:
		problems = append(problems, fmt.Sprintf("the answer at %s carries scope, which the %s contract's client_credentials_scope (%s) leaves out", where, r.profile, r.limits.ClientCredentialsScope))
	case has && sc != strings.Join(scopes, " "):
		problems = append(problems, fmt.Sprintf("scope %v, want %q (the scopes asked, space-separated)", sc, strings.Join(scopes, " ")))
	}
	sort.Strings(problems)
	return strings.Join(problems, "; ")
}

// checkClientCredentials asks a Self Client's access token with client
// credentials for an org (ZA-CC-*), the stimulus' parameters overriding
// the request's ("-" removes one). stimulus.endpoint token sends it to
// /oauth/v2/token, auth to /oauth/v2/auth (the CRM pages' variant). A
// token that came back must work at GET /crm/v8/org for the org its soid
// named. Variants: web-client (a web-based client asks, with its right
// credentials), hour (the token works until the contract's access-token
// lifetime ends and is refused from then on; asking again within it gives
// another one), api-users and api-org (the token, of the scope
// stimulus.params.scope, at GET /crm/v8/users or /crm/v8/org: checked, each
// other API its scope covers working first).
func checkClientCredentials(r *run) error {
	dc := r.c.Stimulus.DC
	con, err := r.console()
	if err != nil {
		return err
	}
	om, ok := r.t.(orgMaker)
	if !ok {
		return fmt.Errorf("target %s cannot create orgs for client credentials' soid", r.t.Name())
	}
	org, err := om.AddOrg(fakeserver.OrgSpec{DC: dc})
	if err != nil {
		return err
	}
	r.sent = append(r.sent, fmt.Sprintf("console: an org in %s, soid %s", dc, org.SOID))
	spec := fakeserver.ClientSpec{Type: fakeserver.SelfClient, DC: dc}
	if r.c.Stimulus.Variant == "web-client" {
		spec = fakeserver.ClientSpec{Type: fakeserver.WebBased, Name: "zconform web app", Homepage: "https://www.example.com", RedirectURIs: []string{redirectURI}, DC: dc}
	}
	c, err := con.RegisterClient(spec)
	if err != nil {
		return err
	}
	r.sent = append(r.sent, "console: register a "+string(c.Type)+" client")
	atAuth := r.c.Stimulus.Endpoint == "auth"
	path := "/oauth/v2/token"
	if atAuth {
		path = "/oauth/v2/auth"
	}
	form := url.Values{
		"grant_type": {"client_credentials"}, "client_id": {c.ID}, "client_secret": {c.Secrets[dc]},
		"scope": {strings.Join(ccScopes, ",")}, "soid": {org.SOID},
	}
	for k, v := range r.c.Stimulus.Params {
		if v == "-" {
			form.Del(k)
		} else {
			form.Set(k, v)
		}
	}
	ask := func() (outcome, error) {
		a, err := r.send(http.MethodPost, r.t.AccountsURL(dc)+path, form, nil)
		if err != nil {
			return outcome{}, err
		}
		o := r.tokenOutcome(a, dc)
		o.wire = r.ccWire(a, dc, atAuth, zoho.SplitScopes(form.Get("scope"))) // the scopes asked
		return o, nil
	}
	o, err := ask()
	if err != nil {
		return err
	}
	if v := r.c.Stimulus.Variant; strings.HasPrefix(v, "api-") {
		if err := r.require("client credentials at "+path, o, "the case needs a client-credentials token"); err != nil {
			return err
		}
		return r.judgeAPIScope(tokensOf(o.a), form.Get("scope"), strings.TrimPrefix(v, "api-"))
	}
	if r.c.Stimulus.Variant != "hour" {
		if err := r.checkOutcome("client credentials at "+path, o); err != nil || !o.ok {
			return err
		}
		return r.requireOrg(o.a.str("api_domain"), o.a.str("access_token"), org)
	}
	if err := r.require("client credentials at "+path, o, "the case needs a token to watch"); err != nil {
		return err
	}
	first := o.a.str("access_token")
	lifetime := r.limits.AccessTokenLifetime
	if err := r.advance(lifetime - time.Second); err != nil {
		return err
	}
	if err := r.requireOrg(r.t.APIURL(dc), first, org); err != nil {
		return err
	}
	again, err := ask()
	if err != nil {
		return err
	}
	if err := r.checkOutcome("client credentials again, within the hour", again); err != nil {
		return err
	}
	if again.a.str("access_token") == first {
		return &Failure{Step: "client credentials again, within the hour", Want: "another access token", Got: "the same one"}
	}
	if err := r.advance(time.Second); err != nil {
		return err
	}
	if err := r.requireRejected("use the first token when its lifetime has ended", r.t.APIURL(dc), first, "a client-credentials token lives the contract's access-token lifetime"); err != nil {
		return err
	}
	return r.requireOrg(r.t.APIURL(dc), again.a.str("access_token"), org)
}

// requireOrg fails the case unless GET /crm/v8/org takes the
// client-credentials token and answers the org its soid named.
func (r *run) requireOrg(apiDomain, access string, org fakeserver.Org) error {
	step := "GET /crm/v8/org with the client-credentials token"
	o, err := r.callAPI(apiDomain, "/crm/v8/org", nil, http.Header{"Authorization": {"Zoho-oauthtoken " + access}})
	if err != nil {
		return err
	}
	if err := r.require(step, o, "the token works at the API"); err != nil {
		return err
	}
	orgs, _ := o.a.json["org"].([]any)
	if len(orgs) == 1 {
		if rec, _ := orgs[0].(map[string]any); rec["id"] == org.ID {
			return nil
		}
	}
	r.observe(step, o)
	return &Failure{Step: step, Want: fmt.Sprintf("the org %s (soid %s)", org.ID, org.SOID), Got: zoho.Redact(strings.TrimSpace(string(o.a.body)))}
}

// shapeOfCC checks the checked step's answer against the shapes of this
// file ("" when it fits, ok false for a shape of another file).
func (r *run) shapeOfCC(shape fixtures.Shape, o outcome) (string, bool) {
	switch shape {
	case fixtures.ShapeClientCredentials:
		if o.a.json == nil || o.a.str("access_token") == "" {
			return "the case expects a client-credentials answer", true
		}
		return "", true
	case fixtures.ShapeServerInfo:
		if o.a.json == nil || o.a.json["locations"] == nil {
			return "the case expects the serverinfo answer", true
		}
		return "", true
	}
	return "", false
}

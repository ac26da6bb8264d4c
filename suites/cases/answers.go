package cases

import (
	"encoding/json"
	"fmt"
	"mime"
	"net/http"
	"net/url"
	"reflect"
	"regexp"
	"slices"
	"sort"
	"strings"

	"github.com/zconform/zconform/fixtures"
	"github.com/zconform/zconform/fixtures/zoho"
)

// The whole-answer checks: every answer the cases read is held to the
// contract's wire format (docs/zoho-oauth.md, section 3), whatever the step
// expected, and the checked step's answer to its row's exact body or shape.
// Nothing here reads the target's configuration: the numbers and fixed
// answers come from fixtures.Contract, the formats from the doc.

// tokenFormat is the format of codes and tokens: "1000." and two groups of
// 32 lowercase hex digits [doc][seen].
var tokenFormat = regexp.MustCompile(`^1000\.[0-9a-f]{32}\.[0-9a-f]{32}$`)

// tokenMembers are the members of a token answer [doc][seen]; refresh_token
// is the only optional one.
var tokenMembers = []string{"access_token", "api_domain", "expires_in", "refresh_token", "token_type"}

// isJSON says whether a Content-Type is the contract's JSON one: the same
// media type and charset, compared as HTTP compares them (case-insensitive,
// spaces around ";" allowed).
func (r *run) isJSON(ct string) bool {
	want := r.contract.Answers.JSONContentType
	wt, wp, err := mime.ParseMediaType(want)
	if err != nil {
		return ct == want
	}
	gt, gp, err := mime.ParseMediaType(ct)
	return err == nil && gt == wt && strings.EqualFold(gp["charset"], wp["charset"]) && len(gp) == len(wp)
}

// tokenWire says how an answer of the token endpoint of dc breaks the wire
// format ("" if it does not): an error comes with HTTP 200, JSON and exactly
// {"error": code}, except the accounts-2025 throttle's answer; a success
// with HTTP 200, JSON, exactly the token members, tokens in Zoho's format,
// token_type Bearer, expires_in the contract's lifetime in seconds and the
// api_domain of dc.
func (r *run) tokenWire(a answer, dc zoho.DC) string {
	if !r.isJSON(a.header.Get("Content-Type")) {
		return fmt.Sprintf("Content-Type %q, want %q", a.header.Get("Content-Type"), r.contract.Answers.JSONContentType)
	}
	if a.json == nil {
		return "the body is not a JSON object"
	}
	if tok := a.str("access_token"); tok == "" {
		e := a.str("error")
		if e == zoho.ErrThrottled && r.limits.RefreshThrottle.Limit > 0 {
			th := r.throttled() // the contract's answer in its section 7 shape (beyond_answers.go)
			if a.status != th.Status {
				return fmt.Sprintf("the throttle answers with HTTP %d, not %d", a.status, th.Status)
			}
			return r.exactBody(a, th.Body)
		}
		if a.status != http.StatusOK {
			return fmt.Sprintf("Zoho sends token-endpoint errors with HTTP 200, not %d", a.status)
		}
		if e == "" {
			return "neither access_token nor error in the answer"
		}
		b, _ := json.Marshal(map[string]string{"error": e})
		return r.exactBody(a, string(b))
	}
	if a.status != http.StatusOK {
		return fmt.Sprintf("a token answer comes with HTTP 200, not %d", a.status)
	}
	var problems []string
	for k := range a.json {
		if !slices.Contains(tokenMembers, k) && !r.sectionSevenMember(k) {
			problems = append(problems, "member "+k+" is not in a token answer")
		}
	}
	for _, k := range []string{"access_token", "refresh_token"} {
		if v, ok := a.json[k]; ok {
			if s, _ := v.(string); !tokenFormat.MatchString(s) {
				problems = append(problems, k+" is not in Zoho's format 1000.<32 hex>.<32 hex>")
			}
		}
	}
	if a.json["token_type"] != "Bearer" {
		problems = append(problems, fmt.Sprintf("token_type %v, want Bearer", a.json["token_type"]))
	}
	problems = append(problems, r.tokenShapeProblems(a)...) // expires_in, expires_in_sec, scope (beyond_answers.go)
	if dc != "" && a.json["api_domain"] != r.t.APIURL(dc) {
		problems = append(problems, fmt.Sprintf("api_domain %v, want %s (the DC that issued the token)", a.json["api_domain"], r.t.APIURL(dc)))
	}
	sort.Strings(problems)
	return strings.Join(problems, "; ")
}

// exactBody says how an answer's body differs from the exact JSON want
// ("" if it does not): it must be JSON (the contract's Content-Type) with
// the same members and values, none missing, none extra.
func (r *run) exactBody(a answer, want string) string {
	var w, g any
	if err := json.Unmarshal([]byte(want), &w); err != nil {
		return "the expected body is not JSON: " + err.Error()
	}
	if !r.isJSON(a.header.Get("Content-Type")) {
		return fmt.Sprintf("Content-Type %q, want %q", a.header.Get("Content-Type"), r.contract.Answers.JSONContentType)
	}
	if err := jsonUnmarshal(a.body, &g); err != nil {
		return "the body is not JSON"
	}
	if reflect.DeepEqual(w, g) {
		return ""
	}
	wm, _ := w.(map[string]any)
	gm, _ := g.(map[string]any)
	var diffs []string
	for k, v := range wm {
		gv, ok := gm[k]
		switch {
		case !ok:
			diffs = append(diffs, "member "+k+" is missing")
		case !reflect.DeepEqual(v, gv):
			diffs = append(diffs, fmt.Sprintf("member %s is %s, want %s", k, jsonString(gv), jsonString(v)))
		}
	}
	for k := range gm {
		if _, ok := wm[k]; !ok {
			diffs = append(diffs, "member "+k+" is extra")
		}
	}
	sort.Strings(diffs)
	if len(diffs) == 0 {
		return "the body differs from " + want
	}
	return "the body differs: " + strings.Join(diffs, "; ")
}

func jsonString(v any) string {
	b, _ := json.Marshal(v)
	return zoho.Redact(string(b))
}

// pageWire reads an authorization error page: its error code and how it
// breaks the page format ("" if it does not). A page is HTML, no redirect,
// and names exactly one error code; when it has the error-code element, the
// code is that element's.
func (r *run) pageWire(a answer) (code, wire string) {
	codes := map[string]bool{}
	for _, m := range pageCodes.FindAllSubmatch(a.body, -1) {
		codes[string(m[1])] = true
	}
	if m := codeElement.FindSubmatch(a.body); m != nil {
		code = string(m[1])
	} else if len(codes) == 1 {
		for c := range codes {
			code = c
		}
	}
	switch mt, _, _ := mime.ParseMediaType(a.header.Get("Content-Type")); {
	case mt != "text/html":
		wire = fmt.Sprintf("an error page is text/html, not %q", a.header.Get("Content-Type"))
	case a.status/100 == 3 || a.status/100 == 2 && code == "":
		wire = fmt.Sprintf("HTTP %d without an error code", a.status)
	case len(codes) > 1:
		names := make([]string, 0, len(codes))
		for c := range codes {
			names = append(names, c)
		}
		sort.Strings(names)
		wire = "the page names more than one error code: " + strings.Join(names, ", ")
	case a.status >= 500:
		wire = fmt.Sprintf("an error page with HTTP %d (a server failure, not a refusal)", a.status)
	}
	return code, wire
}

var (
	zuidFormat  = regexp.MustCompile(`^[1-9][0-9]*$`)
	codeElement = regexp.MustCompile(`id="error-code">([^<]+)<`)
	pageCodes   = regexp.MustCompile(`\b(ERROR_[a-z_]+|access_denied)\b`)
)

// codeRedirectWire checks a code redirect against the request q: the
// registered redirect URI that was sent, with exactly code (Zoho's format),
// location (a DC), accounts-server (that DC's Accounts server) and the state
// sent added to its own query.
func (r *run) codeRedirectWire(u *url.URL, q url.Values) string {
	var problems []string
	base := *u
	base.RawQuery, base.Fragment, base.RawFragment = "", "", ""
	sent, _ := url.Parse(q.Get("redirect_uri"))
	if sent == nil {
		return "the request had no redirect_uri"
	}
	own := sent.Query()
	sent.RawQuery, sent.Fragment = "", ""
	if base.String() != sent.String() {
		problems = append(problems, fmt.Sprintf("redirected to %s, not to the redirect_uri sent (%s)", base.String(), sent.String()))
	}
	p := u.Query()
	want := []string{"accounts-server", "code", "location"}
	if q.Has("state") {
		want = append(want, "state")
		if p.Get("state") != q.Get("state") {
			problems = append(problems, fmt.Sprintf("state %q, want the state sent (%q)", p.Get("state"), q.Get("state")))
		}
	}
	for k := range own {
		want = append(want, k)
	}
	problems = append(problems, exactKeys("the redirect's query", p, want)...)
	if !tokenFormat.MatchString(p.Get("code")) {
		problems = append(problems, "code is not in Zoho's format 1000.<32 hex>.<32 hex>")
	}
	if dc, err := zoho.ParseDC(p.Get("location")); err != nil || string(dc) != p.Get("location") {
		problems = append(problems, fmt.Sprintf("location %q is not a DC", p.Get("location")))
	} else if p.Get("accounts-server") != r.t.AccountsURL(dc) {
		problems = append(problems, fmt.Sprintf("accounts-server %q, want %s (location %s)", p.Get("accounts-server"), r.t.AccountsURL(dc), dc))
	}
	return strings.Join(problems, "; ")
}

// errorRedirectWire checks a refusal redirect ([assumed]: a consent the
// user denied): to the redirect_uri sent, with exactly error and the state
// added to its own query.
func (r *run) errorRedirectWire(u *url.URL, q url.Values) string {
	var problems []string
	base := *u
	base.RawQuery, base.Fragment, base.RawFragment = "", "", ""
	sent, _ := url.Parse(q.Get("redirect_uri"))
	if sent == nil {
		return "the request had no redirect_uri"
	}
	own := sent.Query()
	sent.RawQuery, sent.Fragment = "", ""
	if base.String() != sent.String() {
		problems = append(problems, fmt.Sprintf("redirected to %s, not to the redirect_uri sent (%s)", base.String(), sent.String()))
	}
	p := u.Query()
	if u.Fragment != "" { // the implicit flow refuses in the fragment
		p, _ = url.ParseQuery(u.Fragment)
	}
	want := []string{"error"}
	if q.Has("state") {
		want = append(want, "state")
		if p.Get("state") != q.Get("state") {
			problems = append(problems, fmt.Sprintf("state %q, want the state sent (%q)", p.Get("state"), q.Get("state")))
		}
	}
	if u.Fragment == "" {
		for k := range own {
			want = append(want, k)
		}
	}
	problems = append(problems, exactKeys("the redirect", p, want)...)
	return strings.Join(problems, "; ")
}

// implicitRedirectWire checks an implicit-flow redirect (ZA-JS-TOKEN): to
// the redirect_uri sent, its fragment with exactly access_token,
// token_type, expires_in (the contract's, in seconds), api_domain and
// location (of one DC) and the state; never a code or a refresh token.
func (r *run) implicitRedirectWire(u *url.URL, q url.Values) string {
	var problems []string
	f, _ := url.ParseQuery(u.Fragment)
	want := append([]string{"access_token", "expires_in", "location", "token_type"}, r.implicitMembers(q)...) // beyond_answers.go
	if q.Has("state") {
		want = append(want, "state")
		if f.Get("state") != q.Get("state") {
			problems = append(problems, fmt.Sprintf("state %q, want %q", f.Get("state"), q.Get("state")))
		}
	}
	problems = append(problems, exactKeys("the redirect's fragment", f, want)...)
	if u.Query().Has("code") {
		problems = append(problems, "the implicit flow's redirect carries no code")
	}
	if !tokenFormat.MatchString(f.Get("access_token")) {
		problems = append(problems, "access_token is not in Zoho's format")
	}
	if f.Get("token_type") != "Bearer" {
		problems = append(problems, fmt.Sprintf("token_type %q, want Bearer", f.Get("token_type")))
	}
	if want := fmt.Sprint(int(r.limits.AccessTokenLifetime.Seconds())); f.Get("expires_in") != want {
		problems = append(problems, fmt.Sprintf("expires_in %q, want %s (seconds)", f.Get("expires_in"), want))
	}
	if dc, err := zoho.ParseDC(f.Get("location")); err != nil {
		problems = append(problems, fmt.Sprintf("location %q is not a DC", f.Get("location")))
	} else {
		if f.Has("api_domain") && f.Get("api_domain") != r.t.APIURL(dc) {
			problems = append(problems, fmt.Sprintf("api_domain %q, want %s", f.Get("api_domain"), r.t.APIURL(dc)))
		}
		if f.Has("id_token") {
			problems = append(problems, r.idTokenProblems(f.Get("id_token"), q, dc)...) // ZA-JS-TOKEN (beyond_answers.go)
		}
	}
	if f.Has("granted_for_session") && f.Get("granted_for_session") != "true" {
		problems = append(problems, fmt.Sprintf("granted_for_session %q, want true", f.Get("granted_for_session")))
	}
	return strings.Join(problems, "; ")
}

// exactKeys lists the keys of v missing from want or extra to it.
func exactKeys(what string, v url.Values, want []string) []string {
	var out []string
	for _, k := range want {
		if !v.Has(k) {
			out = append(out, what+" lacks "+k)
		}
	}
	for k := range v {
		if !slices.Contains(want, k) {
			out = append(out, what+" has "+k+" too")
		}
	}
	sort.Strings(out)
	return out
}

// apiWire checks an API answer: 200 with JSON (the users API: exactly one
// user record with an email), or 401 with one of the contract's exact
// bodies; nothing else.
func (r *run) apiWire(a answer, path string) string {
	switch a.status {
	case http.StatusOK:
		if !r.isJSON(a.header.Get("Content-Type")) {
			return fmt.Sprintf("Content-Type %q, want %q", a.header.Get("Content-Type"), r.contract.Answers.JSONContentType)
		}
		switch {
		case strings.HasSuffix(path, "/users"):
			users, _ := a.json["users"].([]any)
			if len(users) != 1 {
				return "the current-user API answers exactly one user"
			}
			u, _ := users[0].(map[string]any)
			if e, _ := u["email"].(string); !strings.Contains(e, "@") {
				return "the user record has no email"
			}
			if z, _ := u["zuid"].(string); !zuidFormat.MatchString(z) {
				return fmt.Sprintf("the user record's zuid %v is not a ZUID (digits)", u["zuid"])
			}
		case path == "/oauth/user/info":
			// [doc][seen] exactly these members
			var problems []string
			for _, k := range []string{"Display_Name", "Email", "First_Name", "Last_Name", "ZUID"} {
				if _, ok := a.json[k]; !ok {
					problems = append(problems, "member "+k+" is missing")
				}
			}
			for k := range a.json {
				if !slices.Contains([]string{"Display_Name", "Email", "First_Name", "Last_Name", "ZUID"}, k) {
					problems = append(problems, "member "+k+" is extra")
				}
			}
			if z, ok := a.json["ZUID"].(float64); !ok || z <= 0 {
				problems = append(problems, fmt.Sprintf("ZUID %v is not a positive number", a.json["ZUID"]))
			}
			sort.Strings(problems)
			return strings.Join(problems, "; ")
		}
		return ""
	case http.StatusUnauthorized:
		for _, ans := range []fixtures.Answer{r.contract.Answers.InvalidToken, r.contract.Answers.AuthenticationFailure, r.contract.Answers.ScopeMismatch} {
			if r.exactBody(a, ans.Body) == "" {
				return ""
			}
		}
		code, _ := a.json["code"].(string)
		want := r.contract.Answers.InvalidToken.Body
		switch code {
		case zoho.CodeAuthenticationFailure:
			want = r.contract.Answers.AuthenticationFailure.Body
		case zoho.CodeOAuthScopeMismatch: // ZA-API-SCOPE
			want = r.contract.Answers.ScopeMismatch.Body
		}
		return r.exactBody(a, want)
	}
	return fmt.Sprintf("the API answers a token check with HTTP 200 or 401, not %d", a.status)
}

// shapeOf checks the checked step's answer against the row's shape.
func (r *run) shapeOf(shape fixtures.Shape, o outcome) string {
	switch shape {
	case "", fixtures.ShapeCount, fixtures.ShapeFaultClass:
		return ""
	case fixtures.ShapeConsole:
		if !o.console {
			return "the case expects the console's answer"
		}
		return ""
	case fixtures.ShapeTokens, fixtures.ShapeAccessToken:
		if o.a.json == nil || o.a.str("access_token") == "" {
			return "the case expects a token answer"
		}
		_, has := o.a.json["refresh_token"]
		if want := shape == fixtures.ShapeTokens; has != want {
			if want {
				return "the answer lacks refresh_token (access_type=offline on the first consent, or with prompt=consent)"
			}
			return "the answer carries a refresh_token it must not (a refresh, a later consent without prompt=consent, or access_type=online)"
		}
		return ""
	case fixtures.ShapeCodeRedirect:
		if o.g.code == "" {
			return "the case expects a redirect with a code"
		}
		return ""
	case fixtures.ShapeImplicitRedirect:
		loc := o.a.header.Get("Location")
		u, _ := url.Parse(loc)
		if u == nil || !strings.Contains(u.Fragment, "access_token=") {
			return "the case expects a redirect whose fragment carries an access token"
		}
		return ""
	case fixtures.ShapeErrorRedirect:
		if o.a.status/100 != 3 || o.a.header.Get("Location") == "" {
			return "the case expects a redirect that carries the error"
		}
		return ""
	case fixtures.ShapeErrorPage:
		if o.a.header.Get("Location") != "" {
			return "the case expects an error page, not a redirect"
		}
		if m := codeElement.FindSubmatch(o.a.body); m == nil && !strings.Contains(string(o.a.body), o.err) {
			return "the page does not show the error code"
		}
		return ""
	case fixtures.ShapeDeviceCode:
		return deviceCodeShape(o) // the device flow's initiation (device.go)
	case fixtures.ShapeAPIUser:
		if o.a.status != http.StatusOK || (o.a.json["users"] == nil && o.a.json["Email"] == nil) {
			return "the case expects the current user's record"
		}
		return ""
	}
	if why, ok := r.shapeOfCC(shape, o); ok { // client credentials, serverinfo (clientcreds.go)
		return why
	}
	return fmt.Sprintf("unknown shape %q", shape)
}

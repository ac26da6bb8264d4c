package fakeserver_test

// The nastiest inputs a user could send, each with the answer the fake
// gives: open redirects and CRLF through redirect_uri, duplicated
// parameters, invalid UTF-8, huge and deeply nested bodies, control-API
// calls from elsewhere; and refused requests that must change nothing.

import (
	"encoding/json"
	"net/http"
	"net/http/httptest"
	"net/url"
	"regexp"
	"strings"
	"testing"
	"time"
	"unicode/utf8"

	"github.com/zconform/zconform/fakeserver"
	"github.com/zconform/zconform/fixtures/zoho"
)

const (
	nastyID        = "1000.NASTYWEBCLIENT0000000000000001"
	nastySecret    = "0123456789abcdef0123456789abcdef0123456789"
	nastyURI       = "https://app.example.com/callback"
	nastyUser      = "alice@example.com"
	nastyToken     = "nasty-control-token"
	nastyLoopback  = "127.0.0.1:50000"
	nastyElsewhere = "203.0.113.7:50000"
)

type nasty struct {
	t   *testing.T
	srv *fakeserver.Server
}

func newNasty(t *testing.T, opts ...fakeserver.Option) *nasty {
	t.Helper()
	// no grant-token rate limit: the tests ask for many codes
	opts = append([]fakeserver.Option{fakeserver.WithLimits(func(l *zoho.Limits) { l.GrantRate.Limit = 0 })}, opts...)
	srv := fakeserver.NewUnstarted(opts...)
	if _, err := srv.AddUser(fakeserver.UserSpec{Email: nastyUser, DC: zoho.US}); err != nil {
		t.Fatal(err)
	}
	if _, err := srv.RegisterClient(fakeserver.ClientSpec{ID: nastyID, Secret: nastySecret, Type: fakeserver.WebBased,
		Name: "nasty", Homepage: "https://app.example.com", RedirectURIs: []string{nastyURI}, User: nastyUser}); err != nil {
		t.Fatal(err)
	}
	return &nasty{t: t, srv: srv}
}

// do serves a request in-process from remote; hdr are header name/value pairs.
func (n *nasty) do(remote, method, target, ctype, body string, hdr ...string) *httptest.ResponseRecorder {
	n.t.Helper()
	req := httptest.NewRequest(method, target, strings.NewReader(body))
	req.RemoteAddr = remote
	if ctype != "" {
		req.Header.Set("Content-Type", ctype)
	}
	for i := 0; i+1 < len(hdr); i += 2 {
		req.Header.Add(hdr[i], hdr[i+1])
	}
	rec := httptest.NewRecorder()
	n.srv.Handler().ServeHTTP(rec, req)
	return rec
}

func (n *nasty) authorize(query string) *httptest.ResponseRecorder {
	n.t.Helper()
	return n.do(nastyLoopback, http.MethodGet, "/accounts.zoho.com/oauth/v2/auth?"+query, "", "")
}

func (n *nasty) token(query, form string, hdr ...string) (*httptest.ResponseRecorder, map[string]any) {
	n.t.Helper()
	target := "/accounts.zoho.com/oauth/v2/token"
	if query != "" {
		target += "?" + query
	}
	rec := n.do(nastyLoopback, http.MethodPost, target, "application/x-www-form-urlencoded", form, hdr...)
	return rec, nastyJSON(n.t, rec)
}

func (n *nasty) control(remote, method, path, body string, hdr ...string) (*httptest.ResponseRecorder, map[string]any) {
	n.t.Helper()
	rec := n.do(remote, method, "/_zconform/v1"+path, "application/json", body, hdr...)
	return rec, nastyJSON(n.t, rec)
}

// code is a fresh grant token of the web client.
func (n *nasty) code() string {
	n.t.Helper()
	r, err := n.srv.Authorize(zoho.US, nastyAuthParams())
	if err != nil {
		n.t.Fatal(err)
	}
	return r.Code
}

func nastyAuthParams() url.Values {
	return url.Values{"client_id": {nastyID}, "response_type": {"code"}, "redirect_uri": {nastyURI},
		"scope": {"ZohoCRM.users.ALL"}, "access_type": {"offline"}, "state": {"st"}}
}

func nastyExchange(code string) url.Values {
	return url.Values{"grant_type": {"authorization_code"}, "client_id": {nastyID}, "client_secret": {nastySecret},
		"redirect_uri": {nastyURI}, "code": {code}}
}

func nastyJSON(t *testing.T, rec *httptest.ResponseRecorder) map[string]any {
	t.Helper()
	if ct := rec.Header().Get("Content-Type"); !strings.HasPrefix(ct, "application/json") {
		t.Fatalf("HTTP %d, Content-Type %q: %q", rec.Code, ct, rec.Body)
	}
	if !utf8.Valid(rec.Body.Bytes()) {
		t.Fatalf("the answer is not UTF-8: %q", rec.Body)
	}
	var m map[string]any
	if err := json.Unmarshal(rec.Body.Bytes(), &m); err != nil {
		t.Fatalf("HTTP %d: not a JSON object: %q", rec.Code, rec.Body)
	}
	return m
}

// nastyPage checks an authorization error page: HTTP 400, HTML, the code,
// no redirect.
func nastyPage(t *testing.T, rec *httptest.ResponseRecorder, code, what string) {
	t.Helper()
	m := regexp.MustCompile(`<code id="error-code">([^<]*)</code>`).FindStringSubmatch(rec.Body.String())
	switch {
	case rec.Code != http.StatusBadRequest || !strings.HasPrefix(rec.Header().Get("Content-Type"), "text/html"):
		t.Errorf("%s: HTTP %d %s, want the error page", what, rec.Code, rec.Header().Get("Content-Type"))
	case m == nil || m[1] != code:
		t.Errorf("%s: the page shows %v, want %s", what, m, code)
	}
	if loc := rec.Header().Get("Location"); loc != "" {
		t.Errorf("%s: an error page with Location %q", what, loc)
	}
}

// state is everything the control API shows, to compare around a refusal.
func (n *nasty) state() string {
	n.t.Helper()
	var parts []string
	for _, p := range []string{"/users", "/clients", "/clock", "/breaks", "/limits", "/faults", "/users/" + nastyUser + "/tokens"} {
		rec := n.do(nastyLoopback, http.MethodGet, "/_zconform/v1"+p, "", "", "Authorization", "Bearer "+nastyToken)
		if rec.Code != http.StatusOK {
			n.t.Fatalf("GET %s: HTTP %d %s", p, rec.Code, rec.Body)
		}
		parts = append(parts, rec.Body.String())
	}
	return strings.Join(parts, "\n")
}

func (n *nasty) unchanged(before, what string) {
	n.t.Helper()
	after := n.state()
	b, a := strings.Split(before, "\n"), strings.Split(after, "\n")
	for i := range b {
		if b[i] != a[i] {
			n.t.Errorf("%s changed the state:\nbefore %s\nafter  %s", what, b[i], a[i])
		}
	}
}

// ---- redirect_uri ----

func TestNastyOpenRedirectThroughRedirectURI(t *testing.T) {
	n := newNasty(t)
	before := n.state()
	for _, evil := range []string{
		"https://evil.example/cb",
		"https://evil.example/callback",
		"https://app.example.com.evil.example/callback",
		"https://app.example.com@evil.example/callback",
		"https://app.example.com/callback@evil.example",
		"https://app.example.com\\@evil.example/callback",
		"//evil.example/callback",
		"https:evil.example/callback",
		"https:/evil.example/callback",
		"https://app.example.com/callback/../../evil.example",
		"https://app.example.com/callback%2F..%2F..%2Fevil",
		"https://app.example.com/callback?next=https://evil.example",
		"https://app.example.com/callback#@evil.example",
		"https://evil.example/cb#https://app.example.com/callback",
		"https://evil.example/?https://app.example.com/callback",
		"javascript:alert(1)//https://app.example.com/callback",
		"data:text/html,<script>alert(1)</script>",
		"HTTPS://APP.EXAMPLE.COM/callback",
		"https://app.example.com:443/callback",
		"https://app.example.com:8443/callback",
		"http://app.example.com/callback",
		"/callback",
		"callback",
	} {
		q := nastyAuthParams()
		q.Set("redirect_uri", evil)
		nastyPage(t, n.authorize(q.Encode()), zoho.ErrAuthRedirectURI, evil)

		// at the token endpoint, the same URI gets invalid_redirect_uri
		// and burns the grant (K4-NOTE-3)
		code := n.code()
		form := nastyExchange(code)
		form.Set("redirect_uri", evil)
		if rec, m := n.token("", form.Encode()); rec.Code != http.StatusOK || m["error"] != zoho.ErrInvalidRedirectURI || m["access_token"] != nil {
			t.Errorf("exchange with redirect_uri %s: HTTP %d %v", evil, rec.Code, m)
		}
		if _, m := n.token("", nastyExchange(code).Encode()); m["error"] != zoho.ErrInvalidCode {
			t.Errorf("the grant survived a failed exchange: %v", m)
		}
	}
	n.unchanged(before, "the refused redirects and exchanges")
}

func TestNastyCRLFInRedirectURI(t *testing.T) {
	n := newNasty(t)
	// inside the URI: refused, no header of the user's making
	for _, inj := range []string{
		nastyURI + "\r\nSet-Cookie: session=evil",
		nastyURI + "\r\nLocation: https://evil.example/",
		nastyURI + "%0D%0ASet-Cookie:%20session=evil",
		nastyURI + "\nSet-Cookie: a=1",
		nastyURI + "\x00",
		"https://app.example.com/call\r\nback",
	} {
		q := nastyAuthParams()
		q.Set("redirect_uri", inj)
		rec := n.authorize(q.Encode())
		nastyPage(t, rec, zoho.ErrAuthRedirectURI, strings.ReplaceAll(inj, "\r\n", `\r\n`))
		if h := rec.Header(); h.Get("Set-Cookie") != "" || h.Get("Location") != "" || len(h) != 1 {
			t.Errorf("headers after a CRLF redirect_uri: %v", rec.Header())
		}
	}
	// around the URI: the redirect URI must match exactly, so a CRLF or
	// whitespace before or after the registered URI is refused too
	for _, padded := range []string{nastyURI + "\r\n", "\r\n" + nastyURI, " " + nastyURI + "\t"} {
		q := nastyAuthParams()
		q.Set("redirect_uri", padded)
		rec := n.authorize(q.Encode())
		if rec.Code == http.StatusFound || rec.Header().Get("Location") != "" || !strings.Contains(rec.Body.String(), zoho.ErrAuthRedirectURI) {
			t.Errorf("redirect_uri %q: HTTP %d Location %q: want the invalid redirect URI page", padded, rec.Code, rec.Header().Get("Location"))
		}
	}
	// a CRLF in state comes back percent-encoded, in the query
	q := nastyAuthParams()
	q.Set("state", "st\r\nSet-Cookie: session=evil")
	rec := n.authorize(q.Encode())
	loc, _ := url.Parse(rec.Header().Get("Location"))
	if rec.Code != http.StatusFound || loc == nil || loc.Query().Get("state") != "st\r\nSet-Cookie: session=evil" ||
		strings.ContainsAny(rec.Header().Get("Location"), "\r\n") || rec.Header().Get("Set-Cookie") != "" {
		t.Errorf("state with CRLF: HTTP %d headers %v", rec.Code, rec.Header())
	}

	// over the wire: the client sees no injected header
	srv := fakeserver.New()
	defer srv.Close()
	if _, err := srv.AddUser(fakeserver.UserSpec{Email: nastyUser}); err != nil {
		t.Fatal(err)
	}
	if _, err := srv.RegisterClient(fakeserver.ClientSpec{ID: nastyID, Secret: nastySecret, Type: fakeserver.WebBased,
		Name: "nasty", Homepage: "https://app.example.com", RedirectURIs: []string{nastyURI}, User: nastyUser}); err != nil {
		t.Fatal(err)
	}
	hc := srv.Client()
	defer hc.CloseIdleConnections()
	for _, state := range []string{"", "x\r\nSet-Cookie: session=evil"} {
		q := nastyAuthParams()
		if state == "" {
			q.Set("redirect_uri", nastyURI+"\r\nSet-Cookie: session=evil")
		} else {
			q.Set("state", state)
		}
		resp, err := hc.Get(srv.AccountsURL(zoho.US) + "/oauth/v2/auth?" + q.Encode())
		if err != nil {
			t.Fatal(err)
		}
		resp.Body.Close()
		if resp.Header.Get("Set-Cookie") != "" || (resp.StatusCode != http.StatusFound && resp.StatusCode != http.StatusBadRequest) {
			t.Errorf("over HTTP: %d %v", resp.StatusCode, resp.Header)
		}
	}
}

// ---- duplicated parameters ----

// TestNastyDuplicatedParameters pins the fake's rule: the first value of a
// parameter counts (url.Values.Get), and a body's values come before the
// query string's (net/http's r.Form), so the body wins.
func TestNastyDuplicatedParameters(t *testing.T) {
	n := newNasty(t)
	exchange := func(query, form string) map[string]any {
		t.Helper()
		_, m := n.token(query, form)
		return m
	}
	base := "grant_type=authorization_code&client_secret=" + nastySecret + "&redirect_uri=" + url.QueryEscape(nastyURI)
	if m := exchange("", base+"&client_id="+nastyID+"&client_id=1000.BOGUS&code="+n.code()); m["access_token"] == nil {
		t.Errorf("client_id=right&client_id=bogus: %v, want the first (right) one to count", m)
	}
	if m := exchange("", base+"&client_id=1000.BOGUS&client_id="+nastyID+"&code="+n.code()); m["error"] != zoho.ErrInvalidClient {
		t.Errorf("client_id=bogus&client_id=right: %v, want invalid_client", m)
	}
	if m := exchange("client_id=1000.BOGUS&client_secret=wrong", base+"&client_id="+nastyID+"&code="+n.code()); m["access_token"] == nil {
		t.Errorf("the body's client_id after the query's bogus one: %v, want the body to win", m)
	}
	if m := exchange("client_id="+nastyID, strings.Replace(base, nastySecret, "wrong", 1)+"&code="+n.code()+"&client_secret="+nastySecret); m["error"] != zoho.ErrInvalidClient {
		t.Errorf("client_secret=wrong&client_secret=right: %v, want invalid_client", m)
	}
	code := n.code()
	if m := exchange("", base+"&client_id="+nastyID+"&code="+code+"&code=1000.nope"); m["access_token"] == nil {
		t.Errorf("code=right&code=nope: %v", m)
	}
	// HTTP Basic counts only when the parameters are missing
	req := &http.Request{Header: http.Header{}}
	req.SetBasicAuth("1000.BOGUS", "wrong")
	if _, m := n.token("", base+"&client_id="+nastyID+"&code="+n.code(), "Authorization", req.Header.Get("Authorization")); m["access_token"] == nil {
		t.Errorf("right parameters with a wrong Basic: %v, want the parameters to win", m)
	}

	// authorization: the first redirect_uri and the first state count
	q := nastyAuthParams().Encode()
	rec := n.authorize(q + "&redirect_uri=" + url.QueryEscape("https://evil.example/cb") + "&state=second")
	loc, _ := url.Parse(rec.Header().Get("Location"))
	if rec.Code != http.StatusFound || loc == nil || loc.Host != "app.example.com" || loc.Query()["state"][0] != "st" || len(loc.Query()["state"]) != 1 {
		t.Errorf("redirect_uri=right&redirect_uri=evil: HTTP %d Location %v", rec.Code, loc)
	}
	rec = n.authorize(strings.Replace(q, "redirect_uri=", "redirect_uri="+url.QueryEscape("https://evil.example/cb")+"&redirect_uri=", 1))
	nastyPage(t, rec, zoho.ErrAuthRedirectURI, "redirect_uri=evil&redirect_uri=right")
	rec = n.authorize(strings.Replace(q, "client_id=", "client_id=1000.BOGUS&client_id=", 1))
	nastyPage(t, rec, zoho.ErrAuthClient, "client_id=bogus&client_id=right")
}

// ---- invalid UTF-8 ----

func TestNastyInvalidUTF8(t *testing.T) {
	n := newNasty(t)
	before := n.state()
	for _, scope := range []string{"ZohoCRM.users.ALL\xff", "\xff\xfe", "ZohoCRM.users.ALL,\xc3\x28", "ZohoCRM.us\xe2\x82ers.ALL"} {
		q := nastyAuthParams()
		q.Set("scope", scope)
		nastyPage(t, n.authorize(q.Encode()), zoho.ErrAuthScope, "scope "+url.QueryEscape(scope))
	}
	q := nastyAuthParams()
	q.Set("client_id", nastyID+"\xff")
	nastyPage(t, n.authorize(q.Encode()), zoho.ErrAuthClient, "client_id with \\xff")
	q = nastyAuthParams()
	q.Set("response_type", "code\xff")
	nastyPage(t, n.authorize(q.Encode()), zoho.ErrAuthResponseType, "response_type with \\xff")

	// the token endpoint answers valid UTF-8 JSON, whatever it was sent
	if rec, m := n.token("", "grant_type=%FF%FE"); rec.Code != http.StatusOK || m["error"] != zoho.ErrUnsupportedGrantType {
		t.Errorf("grant_type \\xff\\xfe: HTTP %d %v", rec.Code, m)
	}
	if _, m := n.token("", "grant_type=refresh_token&client_id=%FF&client_secret=%FF&refresh_token=%FF"); m["error"] != zoho.ErrInvalidClient {
		t.Errorf("credentials of \\xff: %v", m)
	}
	if _, m := n.token("", "grant_type=authorization_code&client_id="+nastyID+"&client_secret="+nastySecret+"&code=%FF"+n.code()[1:]); m["error"] != zoho.ErrInvalidCode {
		t.Errorf("a code with \\xff: %v", m)
	}

	// the control API: a console refusal, a seed file's line
	rec, m := n.control(nastyLoopback, http.MethodPost, "/clients", `{"type":"web","name":"Sales`+"\xff"+`App","homepage":"https://example.com","redirect_uris":["https://example.com/cb"]}`)
	if rec.Code != http.StatusBadRequest || m["error"] != zoho.MsgClientName || m["field"] != "name" {
		t.Errorf("a client name with \\xff: HTTP %d %v", rec.Code, m)
	}
	rec, m = n.control(nastyLoopback, http.MethodPost, "/seed", "users:\n  - {email: \"bob\xff@example.com\"}\n")
	if rec.Code != http.StatusBadRequest || !strings.Contains(m["error"].(string), "invalid leading UTF-8 octet") {
		t.Errorf("a seed file with \\xff: HTTP %d %v", rec.Code, m)
	}
	n.unchanged(before, "the refused requests with invalid UTF-8")

	// a user's email with \xff: encoding/json turns it into U+FFFD; what the
	// fake keeps and shows is valid UTF-8
	rec, _ = n.control(nastyLoopback, http.MethodPost, "/users", `{"email":"bob`+"\xff"+`@example.com"}`)
	for _, u := range n.srv.Users() {
		if !utf8.ValidString(u.Email) {
			t.Errorf("a user with an invalid UTF-8 email (HTTP %d): %q", rec.Code, u.Email)
		}
	}
}

// ---- huge and deeply nested bodies ----

func TestNastyHugeAndDeepBodies(t *testing.T) {
	n := newNasty(t)
	before := n.state()
	huge := `{"email":"` + strings.Repeat("a", 100<<10) + `@example.com","dc":"us"}`
	for _, path := range []string{"/users", "/clients", "/limits", "/seed", "/faults", "/breaks"} {
		method := http.MethodPost
		if path == "/limits" || path == "/breaks" {
			method = http.MethodPut
		}
		rec, m := n.control(nastyLoopback, method, path, huge)
		// one rule for all, as on the OAuth endpoints: 413
		if rec.Code != http.StatusRequestEntityTooLarge || !strings.Contains(m["error"].(string), "over 64 KiB") {
			t.Errorf("%s %s with 100 KiB: HTTP %d %v", method, path, rec.Code, m)
		}
	}
	deep := strings.Repeat("[", 30000) + strings.Repeat("]", 30000) // 60 KB, under the cap
	const invalid = "invalid JSON body"
	for _, c := range []struct{ method, path, body, want string }{
		{http.MethodPost, "/users", deep, invalid},
		{http.MethodPost, "/users", `{"email":` + deep + `}`, invalid},
		{http.MethodPost, "/clients", `{"redirect_uris":` + deep + `}`, invalid},
		{http.MethodPut, "/limits", `{"limits":` + deep + `}`, invalid},
		{http.MethodPost, "/clients/" + nastyID + "/consent", `{"answers":` + deep + `}`, invalid},
		{http.MethodPost, "/faults", `{"header":` + strings.Repeat(`{"a":`, 10500) + "1" + strings.Repeat("}", 10500) + `}`, invalid},
		// nested below encoding/json's limit, the limits' own decoder refuses it
		{http.MethodPut, "/limits", `{"limits":{"grant_rate":` + strings.Repeat(`{"limit":`, 5000) + "1" + strings.Repeat("}", 5000) + `}}`, "limits: "},
	} {
		rec, m := n.control(nastyLoopback, c.method, c.path, c.body)
		if e, _ := m["error"].(string); rec.Code != http.StatusBadRequest || !strings.HasPrefix(e, c.want) {
			t.Errorf("%s %s with nesting: HTTP %d %.200v", c.method, c.path, rec.Code, m)
		}
	}
	for _, seed := range []string{"users: " + strings.Repeat("[", 30000), "users: " + strings.Repeat("- ", 20000) + "x", "limits: " + strings.Repeat("{a: ", 12000)} {
		rec, m := n.control(nastyLoopback, http.MethodPost, "/seed", seed)
		if rec.Code != http.StatusBadRequest || !strings.Contains(m["error"].(string), "seed") {
			t.Errorf("a deeply nested seed file: HTTP %d %.200v", rec.Code, m)
		}
	}
	// billion laughs: aliases do not expand into a flood
	laughs := "a: &a [x,x,x,x,x,x,x,x,x]\nb: &b [*a,*a,*a,*a,*a,*a,*a,*a,*a]\nc: &c [*b,*b,*b,*b,*b,*b,*b,*b,*b]\nd: &d [*c,*c,*c,*c,*c,*c,*c,*c,*c]\n" +
		"e: &e [*d,*d,*d,*d,*d,*d,*d,*d,*d]\nf: &f [*e,*e,*e,*e,*e,*e,*e,*e,*e]\ng: &g [*f,*f,*f,*f,*f,*f,*f,*f,*f]\nscopes: *g\n"
	start := time.Now()
	if rec, _ := n.control(nastyLoopback, http.MethodPost, "/seed", laughs); rec.Code != http.StatusBadRequest || rec.Body.Len() > 64<<10 || time.Since(start) > 5*time.Second {
		t.Errorf("billion laughs: HTTP %d, %d bytes, %v", rec.Code, rec.Body.Len(), time.Since(start))
	}
	n.unchanged(before, "the huge and nested control requests")

	// the OAuth endpoints: HTTP 413 with invalid_request (README)
	form := "grant_type=refresh_token&refresh_token=" + strings.Repeat("a", 100<<10)
	for _, c := range []struct{ method, path, ctype, body string }{
		{http.MethodPost, "/accounts.zoho.com/oauth/v2/token", "application/x-www-form-urlencoded", form},
		{http.MethodPost, "/accounts.zoho.com/oauth/v2/token", "multipart/form-data; boundary=b", "--b\r\nContent-Disposition: form-data; name=\"code\"\r\n\r\n" + strings.Repeat("a", 100<<10) + "\r\n--b--\r\n"},
		{http.MethodPost, "/accounts.zoho.com/oauth/v2/token/revoke", "application/x-www-form-urlencoded", form},
		{http.MethodPost, "/accounts.zoho.com/oauth/v2/auth", "application/x-www-form-urlencoded", form},
	} {
		rec := n.do(nastyLoopback, c.method, c.path, c.ctype, c.body)
		m := nastyJSON(t, rec)
		if rec.Code != http.StatusRequestEntityTooLarge || m["error"] != zoho.ErrInvalidRequest || !strings.Contains(m["error_description"].(string), "64 KiB") {
			t.Errorf("%s %s (%s) with 100 KiB: HTTP %d %v", c.method, c.path, c.ctype, rec.Code, m)
		}
	}
	n.unchanged(before, "the huge OAuth requests")
}

// ---- the control API's callers ----

func TestNastyControlAPIFromElsewhere(t *testing.T) {
	n := newNasty(t)
	before := n.state()
	for _, hdr := range [][]string{
		nil,
		{"X-Forwarded-For", "127.0.0.1"},
		{"X-Real-Ip", "127.0.0.1", "Forwarded", "for=127.0.0.1"},
		{"Authorization", "Bearer anything"},
	} {
		rec, m := n.control(nastyElsewhere, http.MethodPost, "/clock/advance", `{"by":"1h"}`, hdr...)
		if rec.Code != http.StatusForbidden || m["error"] != "the control API answers only on loopback: configure a control token to use it from 203.0.113.7" {
			t.Errorf("from 203.0.113.7 with %v: HTTP %d %v", hdr, rec.Code, m)
		}
	}
	for _, remote := range []string{"[2001:db8::1]:1", "10.0.0.1:1", "0.0.0.0:1", "[::]:1", "garbage"} {
		if rec, _ := n.control(remote, http.MethodPut, "/breaks", `{"on":["K4-NOTE-1"]}`); rec.Code != http.StatusForbidden {
			t.Errorf("from %s: HTTP %d", remote, rec.Code)
		}
	}
	n.unchanged(before, "the refused control calls")
	for _, remote := range []string{"127.0.0.1:1", "127.0.0.2:1", "[::1]:1", "[::ffff:127.0.0.1]:1"} {
		if rec, _ := n.control(remote, http.MethodGet, "/clock", ""); rec.Code != http.StatusOK {
			t.Errorf("from %s: HTTP %d", remote, rec.Code)
		}
	}

	// with a token configured, every caller needs it, loopback included
	n = newNasty(t, fakeserver.WithControlToken(nastyToken))
	before = n.state()
	const msg = "the control API needs the configured token: send Authorization: Bearer <token>"
	for _, c := range []struct {
		remote string
		hdr    []string
	}{
		{nastyElsewhere, nil},
		{nastyLoopback, nil},
		{nastyElsewhere, []string{"Authorization", "Bearer wrong"}},
		{nastyElsewhere, []string{"Authorization", "Bearer " + nastyToken + "x"}},
		{nastyElsewhere, []string{"Authorization", "Bearer " + nastyToken[:len(nastyToken)-1]}},
		{nastyElsewhere, []string{"Authorization", nastyToken}},
		{nastyElsewhere, []string{"Authorization", "Basic " + nastyToken}},
		{nastyElsewhere, []string{"X-Zconform-Token", nastyToken}},
	} {
		rec, m := n.control(c.remote, http.MethodPost, "/clock/advance", `{"by":"1h"}`, c.hdr...)
		if rec.Code != http.StatusUnauthorized || m["error"] != msg {
			t.Errorf("from %s with %v: HTTP %d %v", c.remote, c.hdr, rec.Code, m)
		}
		if strings.Contains(rec.Body.String(), nastyToken) {
			t.Errorf("the refusal shows the token: %s", rec.Body)
		}
	}
	n.unchanged(before, "the control calls without the token")
	if rec, _ := n.control(nastyElsewhere, http.MethodPost, "/clock/advance", `{"by":"1h"}`, "Authorization", "Bearer "+nastyToken); rec.Code != http.StatusOK {
		t.Errorf("with the token from elsewhere: HTTP %d %s", rec.Code, rec.Body)
	}

	// a shared fake's tenants: their own control API answers only the
	// run's capability (or the admin token), from anywhere
	for _, c := range []struct {
		token, remote, auth string
		want                int
	}{
		{"", nastyLoopback, "", http.StatusUnauthorized},
		{"", nastyElsewhere, "", http.StatusUnauthorized},
		{"", nastyElsewhere, "capability", http.StatusOK},
		{nastyToken, nastyLoopback, "", http.StatusUnauthorized},
		{nastyToken, nastyElsewhere, "Bearer wrong", http.StatusUnauthorized},
		{nastyToken, nastyElsewhere, "Bearer " + nastyToken, http.StatusOK},
		{nastyToken, nastyElsewhere, "capability", http.StatusOK},
	} {
		ts := fakeserver.NewTenants(fakeserver.TenantsConfig{ControlToken: c.token})
		info, err := ts.Create()
		if err != nil {
			t.Fatal(err)
		}
		id := info.ID
		tenant, _ := ts.Tenant(id)
		start := tenant.Now()
		req := httptest.NewRequest(http.MethodPost, "/t/"+id+"/_zconform/v1/clock/advance", strings.NewReader(`{"by":"1h"}`))
		req.RemoteAddr = c.remote
		if c.auth == "capability" {
			req.Header.Set("Authorization", "Bearer "+info.Token)
		} else if c.auth != "" {
			req.Header.Set("Authorization", c.auth)
		}
		rec := httptest.NewRecorder()
		ts.Handler().ServeHTTP(rec, req)
		moved := tenant.Now() != start
		if rec.Code != c.want || moved != (c.want == http.StatusOK) {
			t.Errorf("a tenant's clock/advance (token %q) from %s with %q: HTTP %d, clock moved %v", c.token, c.remote, c.auth, rec.Code, moved)
		}
		ts.Close()
	}
}

// ---- refusals that once changed state ----

// A refused registration creates nothing, not even the DC's default user
// it would have registered the client for.
func TestNastyRefusedRegistrationCreatesNoUser(t *testing.T) {
	n := newNasty(t)
	before := n.state()
	for _, body := range []string{
		`{"id":"` + nastyID + `","type":"device","name":"dup","homepage":"https://example.com"}`,
		`{"id":"1000.short","type":"device","name":"x","homepage":"https://example.com"}`,
		`{"secret":"NOT-HEX","type":"device","name":"x","homepage":"https://example.com","dc":"eu"}`,
	} {
		if rec, m := n.control(nastyLoopback, http.MethodPost, "/clients", body); rec.Code != http.StatusBadRequest || m["error"] == "" {
			t.Errorf("POST /clients %s: HTTP %d %v", body, rec.Code, m)
		}
	}
	n.unchanged(before, "the refused registrations")
}

// A seed file that the server refuses changes nothing, also when it clashes
// with what the server already holds (a client ID, a user's self client, a
// break in force).
func TestNastyRefusedSeedChangesNothing(t *testing.T) {
	n := newNasty(t)
	if _, err := n.srv.RegisterClient(fakeserver.ClientSpec{Type: fakeserver.SelfClient, User: nastyUser}); err != nil {
		t.Fatal(err)
	}
	if err := n.srv.Break(zoho.RegMandatorySelf); err != nil {
		t.Fatal(err)
	}
	before := n.state()
	for _, c := range []struct{ seed, want string }{
		{"profile: accounts-2025\nscopes: [ZohoCRM.custom.ALL]\nusers:\n  - {email: bob@example.com}\nclients:\n  - {id: " + nastyID + ", type: device, name: dup, homepage: https://example.com}\n",
			"seed:6: client 1 (" + nastyID + "): client ID " + nastyID + " is already registered"},
		{"users:\n  - {email: bob@example.com}\nclients:\n  - {type: self, name: again, user: " + nastyUser + "}\n", "seed:4: client 1: console: A user can have only one self client: user " + nastyUser + " has"},
		{"users:\n  - {email: bob@example.com}\nclients:\n  - {type: self, user: bob@example.com}\n", "seed:4: client 1: console: " + zoho.MsgClientName},
	} {
		rec, m := n.control(nastyLoopback, http.MethodPost, "/seed", c.seed)
		if e, _ := m["error"].(string); rec.Code != http.StatusBadRequest || !strings.HasPrefix(e, c.want) {
			t.Errorf("seed %q: HTTP %d %v, want %q", c.seed, rec.Code, m, c.want)
		}
	}
	n.unchanged(before, "the refused seed files")
}

// The virtual clock cannot be moved where its times, and the expiries of
// the tokens issued then, can no longer be written as JSON (year 9999).
func TestNastyClockAtTheEndOfTime(t *testing.T) {
	n := newNasty(t)
	before := n.state()
	for _, body := range []string{`{"now":"9999-12-31T23:30:00Z"}`, `{"now":"9500-01-01T00:00:00Z"}`} {
		if rec, m := n.control(nastyLoopback, http.MethodPost, "/clock/set", body); rec.Code != http.StatusConflict || !strings.Contains(m["error"].(string), "9000") {
			t.Errorf("POST /clock/set %s: HTTP %d %v", body, rec.Code, m)
		}
	}
	n.unchanged(before, "the refused clock moves")
	if rec, _ := n.control(nastyLoopback, http.MethodPost, "/clock/set", `{"now":"8999-12-31T00:00:00Z"}`); rec.Code != http.StatusOK {
		t.Fatalf("POST /clock/set 8999: HTTP %d %s", rec.Code, rec.Body)
	}
	if rec, m := n.control(nastyLoopback, http.MethodPost, "/clock/advance", `{"by":"2562047h"}`); rec.Code != http.StatusConflict || !strings.Contains(m["error"].(string), "9000") {
		t.Errorf("advancing past 9000: HTTP %d %v", rec.Code, m)
	}
	if err := n.srv.SetLimits(func() zoho.Limits { l := n.srv.Limits(); l.AccessTokenLifetime = 2562047 * time.Hour; return l }()); err != nil {
		t.Fatal(err)
	}
	if _, m := n.token("", nastyExchange(n.code()).Encode()); m["access_token"] == nil {
		t.Fatalf("exchange in 8999: %v", m)
	}
	for _, path := range []string{"/users/" + nastyUser + "/tokens", "/requests", "/clock"} {
		if rec, _ := n.control(nastyLoopback, http.MethodGet, path, ""); rec.Code != http.StatusOK {
			t.Errorf("GET %s in 8999 with tokens living 292 years: HTTP %d %s", path, rec.Code, rec.Body)
		}
	}
	if rec := n.do(nastyLoopback, http.MethodGet, "/_zconform/v1", "", ""); rec.Code != http.StatusOK {
		t.Errorf("GET /_zconform/v1 in 8999: HTTP %d %s", rec.Code, rec.Body)
	}
}

package fakeserver

// Fuzz tests of everything the fake parses from a user: the token and
// revoke endpoints' parameters (query string, urlencoded and multipart
// bodies, HTTP Basic), the authorization endpoint, the control API's JSON
// and seed files. They live inside the package so that they can compare the
// whole state (grants included) before and after a request. The invariants:
// no panic, no 5xx, the documented answer or a JSON/HTML error saying what
// is wrong, no state change on a rejected request, no secret in the request
// log. `make fuzz` runs each for a bounded time; `go test` runs the seeds.
//
// Inputs may hold placeholders that become the fixture's real credentials
// ({ID}, {SECRET}, {CODE}, {RT}, ...: see fzWorld.expand), so that the
// fuzzer starts from requests that succeed.

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"net/url"
	"regexp"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/zconform/zconform/fixtures/zoho"
)

const (
	fzWebID      = "1000.FUZZWEBCLIENT00000000000000001"
	fzWebSecret  = "0123456789abcdef0123456789abcdef0123456789"
	fzEUSecret   = "fedcba9876543210fedcba9876543210fedcba9876"
	fzJSID       = "1000.FUZZJSCLIENT000000000000000002"
	fzJSSecret   = "aaaaaaaaaabbbbbbbbbbccccccccccdddddddddd01"
	fzSelfID     = "1000.FUZZSELFCLIENT0000000000000003"
	fzSelfSecret = "5555555555666666666677777777778888888888ab"
	fzURI        = "https://app.example.com/callback"
	fzURI2       = "http://localhost:3000/cb?x=1"
	fzAlice      = "alice@example.com"
	fzEve        = "eve@example.eu"
	fzToken      = "control-token-0123"
	fzMobileID   = "1000.FUZZMOBILECLIENT00000000000004"
	fzMobSecret  = "9999999999aaaaaaaaaabbbbbbbbbbcccccccccc12"
	fzOrgID      = "600000000001"
	fzVerifier   = "fuzz-verifier-0123456789-abcdefghijklmnopqrstuvwxyz"
	fzBoundary   = "zcfuzzboundary"
)

// fzWorld is a server with users, clients of every kind, live grants and
// tokens, and a log that the fuzz target reads.
type fzWorld struct {
	s       *Server
	log     *bytes.Buffer
	code    string // an offline grant of the web client (US)
	code2   string // another one
	euCode  string // an offline grant of eve (EU) for the web client
	self    string // a self-client code
	rt, at  string // a refresh token of the web client and one of its access tokens
	pkce    string // a grant of the mobile client bound to fzVerifier (S256)
	secrets []string
}

func fzCheck(t testing.TB, err error) {
	t.Helper()
	if err != nil {
		t.Fatal(err)
	}
}

func newFzWorld(t testing.TB, opts ...Option) *fzWorld {
	t.Helper()
	w := &fzWorld{log: &bytes.Buffer{}}
	opts = append([]Option{
		WithStartTime(time.Date(2026, 3, 1, 12, 0, 0, 0, time.UTC)),
		WithLogger(slog.New(slog.NewTextHandler(w.log, nil))),
	}, opts...)
	s := NewUnstarted(opts...)
	w.s = s
	_, err := s.AddUser(UserSpec{Email: fzAlice, DC: zoho.US, FirstName: "Alice"})
	fzCheck(t, err)
	_, err = s.AddUser(UserSpec{Email: fzEve, DC: zoho.EU})
	fzCheck(t, err)
	_, err = s.RegisterClient(ClientSpec{ID: fzWebID, Secret: fzWebSecret, Type: WebBased, Name: "fuzz web",
		Homepage: "https://app.example.com", RedirectURIs: []string{fzURI, fzURI2}, User: fzAlice})
	fzCheck(t, err)
	_, err = s.EnableMultiDC(fzWebID, zoho.EU, MultiDC{SeparateSecret: true, Secret: fzEUSecret})
	fzCheck(t, err)
	_, err = s.RegisterClient(ClientSpec{ID: fzJSID, Secret: fzJSSecret, Type: JavaScript, Name: "fuzz js",
		Homepage: "https://app.example.com", RedirectURIs: []string{fzURI}, JSDomains: []string{"https://app.example.com"}, User: fzAlice})
	fzCheck(t, err)
	_, err = s.RegisterClient(ClientSpec{ID: fzSelfID, Secret: fzSelfSecret, Type: SelfClient, User: fzAlice})
	fzCheck(t, err)
	_, err = s.RegisterClient(ClientSpec{ID: fzMobileID, Secret: fzMobSecret, Type: Mobile, Name: "fuzz mobile",
		Homepage: "https://app.example.com", RedirectURIs: []string{fzURI}, User: fzAlice})
	fzCheck(t, err)
	_, err = s.AddOrg(OrgSpec{ID: fzOrgID, DC: zoho.US}) // client credentials' soid ZohoCRM.{ORG}
	fzCheck(t, err)
	grant := func(consent ...Consent) string {
		t.Helper()
		if len(consent) == 0 {
			consent = []Consent{{}} // the client's user approves, also under WithConsentPage
		}
		fzCheck(t, s.ScriptConsent(fzWebID, consent...))
		r, err := s.Authorize(zoho.US, url.Values{"client_id": {fzWebID}, "response_type": {"code"}, "redirect_uri": {fzURI},
			"scope": {"ZohoCRM.users.ALL"}, "access_type": {"offline"}, "prompt": {"consent"}, "state": {"s1"}})
		fzCheck(t, err)
		return r.Code
	}
	first := grant()
	w.code, w.code2, w.euCode = grant(), grant(), grant(Consent{User: fzEve})
	w.self, err = s.SelfClientCode(fzSelfID, SelfClientCodeRequest{Scopes: []string{"ZohoCRM.users.ALL"}})
	fzCheck(t, err)
	fzCheck(t, s.ScriptConsent(fzMobileID, Consent{}))
	pr, err := s.Authorize(zoho.US, url.Values{"client_id": {fzMobileID}, "response_type": {"code"}, "redirect_uri": {fzURI},
		"scope": {"ZohoCRM.users.ALL"}, "code_challenge": {PKCEChallenge(fzVerifier)}, "code_challenge_method": {"S256"}})
	fzCheck(t, err)
	w.pkce = pr.Code
	rec := fzServe(s, fzReq{method: http.MethodPost, path: "/accounts.zoho.com/oauth/v2/token", ctype: "application/x-www-form-urlencoded",
		body: url.Values{"grant_type": {"authorization_code"}, "client_id": {fzWebID}, "client_secret": {fzWebSecret},
			"redirect_uri": {fzURI}, "code": {first}}.Encode()})
	var tok tokenResponse
	if err := json.Unmarshal(rec.Body.Bytes(), &tok); err != nil || tok.RefreshToken == "" {
		t.Fatalf("fixture exchange: %s", rec.Body)
	}
	w.rt, w.at = tok.RefreshToken, tok.AccessToken
	// fzVerifier is not among them: a PKCE verifier is the client's own
	// secret, which the fake learns only as the value of code_verifier (and
	// hides there, by the parameter's name: pkce_test.go); sent anywhere
	// else (a bare "?<verifier>" makes it a parameter name) it is a string
	// like any other to the fake.
	w.secrets = []string{fzWebSecret, fzEUSecret, fzJSSecret, fzSelfSecret, fzMobSecret, first, w.code, w.code2, w.euCode, w.self, w.pkce, w.rt, w.at}
	return w
}

// expand replaces the placeholders of a fuzz input by the fixture's values.
func (w *fzWorld) expand(s string) string {
	if !strings.Contains(s, "{") {
		return s
	}
	return strings.NewReplacer(
		"{ID}", fzWebID, "{SECRET}", fzWebSecret, "{EUSECRET}", fzEUSecret,
		"{JSID}", fzJSID, "{JSSECRET}", fzJSSecret, "{SELFID}", fzSelfID, "{SELFSECRET}", fzSelfSecret,
		"{URI}", fzURI, "{URI2}", fzURI2, "{ALICE}", fzAlice, "{EVE}", fzEve,
		"{CODE}", w.code, "{CODE2}", w.code2, "{EUCODE}", w.euCode, "{SELFCODE}", w.self,
		"{RT}", w.rt, "{AT}", w.at,
		"{MOBID}", fzMobileID, "{MOBSECRET}", fzMobSecret, "{PKCECODE}", w.pkce, "{VERIFIER}", fzVerifier, "{ORG}", fzOrgID,
	).Replace(s)
}

// authorization is the Authorization header a fuzz input's basic names:
// "raw:VALUE" as it is, "ID:SECRET" (placeholders expanded) as HTTP Basic,
// anything else none.
func (w *fzWorld) authorization(basic string) string {
	b := w.expand(basic)
	if v, ok := strings.CutPrefix(b, "raw:"); ok {
		return v
	}
	id, secret, ok := strings.Cut(b, ":")
	if !ok {
		return ""
	}
	r := &http.Request{Header: http.Header{}}
	r.SetBasicAuth(id, secret)
	return r.Header.Get("Authorization")
}

// fzReq is a request built by hand: httptest.NewRequest panics on targets a
// fuzzer makes, and a real server would have parsed the request line anyway.
type fzReq struct {
	method, host, path, rawPath, query string
	ctype, body, auth, remote          string
}

func fzServe(s *Server, q fzReq) *httptest.ResponseRecorder {
	if q.host == "" {
		q.host = "127.0.0.1:8080"
	}
	if q.remote == "" {
		q.remote = "127.0.0.1:50000"
	}
	r := &http.Request{
		Method: q.method, URL: &url.URL{Path: q.path, RawPath: q.rawPath, RawQuery: q.query},
		Proto: "HTTP/1.1", ProtoMajor: 1, ProtoMinor: 1, Header: http.Header{}, Host: q.host,
		Body: io.NopCloser(strings.NewReader(q.body)), ContentLength: int64(len(q.body)), RemoteAddr: q.remote,
		RequestURI: q.path,
	}
	if q.ctype != "" {
		r.Header.Set("Content-Type", q.ctype)
	}
	if q.auth != "" {
		r.Header.Set("Authorization", q.auth)
	}
	rec := httptest.NewRecorder()
	s.Handler().ServeHTTP(rec, r)
	return rec
}

// ---- state ----

// fzState is the server's whole state as comparable text, grants apart.
type fzState struct {
	grants map[string]fzGrant
	tokens string // refresh and access tokens, per-user lists
	rest   string // users, clients, scopes, breaks, limits, clock, faults
}

type fzGrant struct {
	used    bool
	expires time.Time
	client  string
}

func fzSnap(s *Server) fzState {
	now := s.clock.Now()
	faults := s.Faults()
	s.mu.Lock()
	defer s.mu.Unlock()
	st := fzState{grants: map[string]fzGrant{}}
	for code, g := range s.grants {
		st.grants[code] = fzGrant{g.used, g.expires, g.client.ID}
	}
	var tok []string
	for v, rt := range s.refresh {
		var as []string
		for _, a := range rt.access {
			as = append(as, a.value)
		}
		tok = append(tok, fmt.Sprintf("rt %s %s %s %s revoked=%v access=%v mints=%d", v, rt.client.ID, rt.user.Email, rt.dc, rt.revoked, as, len(rt.mints)))
	}
	for v, a := range s.access {
		rt := ""
		if a.rt != nil {
			rt = a.rt.value
		}
		tok = append(tok, fmt.Sprintf("at %s rt=%s %s %s %s %s", v, rt, a.client.ID, a.user.Email, a.dc, a.expires))
	}
	for u, rts := range s.userRTs {
		var vs []string
		for _, rt := range rts {
			vs = append(vs, rt.value)
		}
		tok = append(tok, fmt.Sprintf("user %s %v", u.Email, vs))
	}
	slices.Sort(tok)
	st.tokens = strings.Join(tok, "\n")
	var rest []string
	for k, u := range s.users {
		self := ""
		if u.selfClient != nil {
			self = u.selfClient.ID
		}
		rest = append(rest, fmt.Sprintf("user %s %+v self=%s", k, u.User, self))
	}
	for id, c := range s.clients {
		rest = append(rest, fmt.Sprintf("client %s %+v home=%s owner=%s consent=%v consented=%v grants=%d",
			id, c.snapshot(), c.home, c.owner.Email, c.consent, c.consented, len(c.grantTimes)))
	}
	for sc := range s.scopes {
		rest = append(rest, "scope "+sc)
	}
	for b := range s.breaks {
		rest = append(rest, "break "+string(b))
	}
	slices.Sort(rest)
	rest = append(rest, fmt.Sprintf("profile %s limits %+v now %s zuid %d faults %+v", s.profile, s.limits, now, s.nextZUID, faults))
	st.rest = strings.Join(rest, "\n")
	return st
}

// same fails the test unless before and after are the same state; burnt
// grants (used turned true) are allowed when burn is set (K4-NOTE-3).
func (before fzState) same(t *testing.T, after fzState, burn bool, what string) {
	t.Helper()
	if before.tokens != after.tokens {
		t.Fatalf("%s changed the tokens:\n%s", what, fzDiff(before.tokens, after.tokens))
	}
	if before.rest != after.rest {
		t.Fatalf("%s changed the state:\n%s", what, fzDiff(before.rest, after.rest))
	}
	before.sameGrants(t, after, burn, "", what)
}

// fzDiff lists the lines only before has (-) and only after has (+).
func fzDiff(before, after string) string {
	b, a := strings.Split(before, "\n"), strings.Split(after, "\n")
	var out []string
	for _, l := range b {
		if !slices.Contains(a, l) {
			out = append(out, "- "+l)
		}
	}
	for _, l := range a {
		if !slices.Contains(b, l) {
			out = append(out, "+ "+l)
		}
	}
	return strings.Join(out, "\n")
}

// sameGrants: the same grants, except for the one new code (if any).
func (before fzState) sameGrants(t *testing.T, after fzState, burn bool, newCode, what string) {
	t.Helper()
	want := len(before.grants)
	if newCode != "" {
		want++
		if _, ok := after.grants[newCode]; !ok {
			t.Fatalf("%s: the redirect's code %s is no grant", what, newCode)
		}
	}
	if len(after.grants) != want {
		t.Fatalf("%s: %d grants before, %d after", what, len(before.grants), len(after.grants))
	}
	for code, b := range before.grants {
		a, ok := after.grants[code]
		switch {
		case !ok:
			t.Fatalf("%s dropped a grant", what)
		case a.expires != b.expires || a.client != b.client:
			t.Fatalf("%s changed a grant: %+v -> %+v", what, b, a)
		case a.used != b.used && !(burn && a.used):
			t.Fatalf("%s changed a grant's used flag: %v -> %v", what, b.used, a.used)
		}
	}
}

// ---- log ----

func fzWord(b byte) bool {
	return b == '_' || b >= '0' && b <= '9' || b >= 'a' && b <= 'z' || b >= 'A' && b <= 'Z'
}

// fzLeaks reports whether text holds secret as a whole word (the redaction
// recognises secrets by their shape, so a secret glued to other letters
// is another word, not the secret).
func fzLeaks(text, secret string) bool {
	for i := 0; ; {
		j := strings.Index(text[i:], secret)
		if j < 0 {
			return false
		}
		start, end := i+j, i+j+len(secret)
		if (start == 0 || !fzWord(text[start-1])) && (end == len(text) || !fzWord(text[end])) {
			return true
		}
		i = start + 1
	}
}

// checkLog: the last request is logged with the status sent, and neither
// the request log nor the slog output shows a secret whole.
func (w *fzWorld) checkLog(t *testing.T, status int, extra ...string) {
	t.Helper()
	reqs := w.s.Requests()
	if len(reqs) == 0 {
		t.Fatal("the request is not logged")
	}
	last := reqs[len(reqs)-1]
	if last.Status != status {
		t.Fatalf("logged status %d, sent %d", last.Status, status)
	}
	var texts []string
	texts = append(texts, last.Path, last.Error)
	texts = append(texts, strings.Split(w.log.String(), "\n")...)
	for k, v := range last.Params {
		texts = append(texts, k, v)
	}
	for _, sec := range append(slices.Clone(w.secrets), extra...) {
		if sec == "" {
			continue
		}
		for _, text := range texts {
			if fzLeaks(text, sec) {
				t.Fatalf("the log shows the secret %s whole: %q", sec, text)
			}
		}
	}
}

// ---- answers ----

func fzJSONObject(t *testing.T, rec *httptest.ResponseRecorder) map[string]any {
	t.Helper()
	if ct := rec.Header().Get("Content-Type"); !strings.HasPrefix(ct, "application/json") {
		t.Fatalf("HTTP %d with Content-Type %q: %q", rec.Code, ct, rec.Body)
	}
	var m map[string]any
	dec := json.NewDecoder(bytes.NewReader(rec.Body.Bytes()))
	dec.UseNumber()
	if err := dec.Decode(&m); err != nil || dec.More() {
		t.Fatalf("HTTP %d: the body is not one JSON object (%v): %q", rec.Code, err, rec.Body)
	}
	return m
}

// fzErrorMember: a JSON error answer names its error in an "error" member.
func fzErrorMember(t *testing.T, m map[string]any, status int) string {
	t.Helper()
	e, _ := m["error"].(string)
	if strings.TrimSpace(e) == "" {
		t.Fatalf("HTTP %d without an error member: %v", status, m)
	}
	return e
}

func fzNo5xx(t *testing.T, rec *httptest.ResponseRecorder) {
	t.Helper()
	if rec.Code >= 500 || rec.Code < 100 {
		t.Fatalf("HTTP %d: %q", rec.Code, rec.Body)
	}
}

var fzTokenErrors = []string{
	zoho.ErrInvalidClient, zoho.ErrInvalidClientSecret, zoho.ErrInvalidCode, zoho.ErrInvalidRedirectURI,
	zoho.ErrInvalidRequest, zoho.ErrUnsupportedGrantType, zoho.ErrThrottled,
	// client credentials (ZA-CC-*)
	zoho.ErrUnauthorizedClient, zoho.ErrMissingOrgInfo, zoho.ErrInvalidOrgInfo, zoho.ErrInvalidScope,
}

// fzRevokeV2Errors are the newer revoke endpoint's errors and statuses
// (ZA-REVOKE-V2).
var fzRevokeV2Errors = map[string]int{
	zoho.ErrInvalidClient: http.StatusUnauthorized, zoho.ErrInvalidRequest: http.StatusBadRequest,
	zoho.ErrUnsupportedTokenType: http.StatusBadRequest, zoho.ErrInvalidToken: http.StatusBadRequest,
}

var fzMethods = []string{http.MethodPost, http.MethodPost, http.MethodPost, http.MethodPost, http.MethodGet, http.MethodPut, http.MethodHead, http.MethodDelete}

// fzRoute picks the DC and the way the request names it (a real host name
// or a path prefix) from route's low bits.
func fzRoute(route uint8, path string) (host, fullPath string) {
	dc := []zoho.DC{zoho.US, zoho.EU, zoho.IN, zoho.US}[route>>1&3]
	d, _ := zoho.Lookup(dc)
	if route&1 == 1 {
		return d.AccountsHost, path
	}
	return "127.0.0.1:8080", "/" + d.AccountsHost + path
}

func fzProfile(route uint8) Option {
	if route&0x80 != 0 {
		return WithProfile(zoho.Accounts2025)
	}
	return WithProfile(zoho.Kaizen4)
}

// ---- FuzzTokenEndpoint ----

func fzForm(kv ...string) string {
	v := url.Values{}
	for i := 0; i+1 < len(kv); i += 2 {
		v.Add(kv[i], kv[i+1])
	}
	// keep the placeholders readable for the fuzzer
	return strings.NewReplacer("%7B", "{", "%7D", "}").Replace(v.Encode())
}

func fzMultipart(kv ...string) string {
	var b strings.Builder
	for i := 0; i+1 < len(kv); i += 2 {
		fmt.Fprintf(&b, "--%s\r\nContent-Disposition: form-data; name=%q\r\n\r\n%s\r\n", fzBoundary, kv[i], kv[i+1])
	}
	fmt.Fprintf(&b, "--%s--\r\n", fzBoundary)
	return b.String()
}

// FuzzTokenEndpoint: POST {AS}/oauth/v2/token (and /token/revoke) with any
// parameters, in the query string, a urlencoded or multipart body, or none,
// with or without HTTP Basic.
//
// route: bit 0 real host name / path prefix, bits 1-2 the DC (us, eu, in),
// bits 3-5 the method (mostly POST), bit 6 the revoke endpoint, bit 7 the
// accounts-2025 profile. ctype (its low 7 bits, mod 5): urlencoded,
// multipart, none, JSON, multipart without boundary; its bit 7 with the
// revoke endpoint picks the newer /oauth/v2/revoke/token (ZA-REVOKE-V2).
// basic: "" none, "raw:<header>" a raw Authorization header, else
// "id:secret" as HTTP Basic. Seeds cover the client-credentials grant, PKCE
// exchanges and the newer revoke too.
func FuzzTokenEndpoint(f *testing.F) {
	exchange := []string{"grant_type", "authorization_code", "client_id", "{ID}", "client_secret", "{SECRET}", "redirect_uri", "{URI}", "code", "{CODE}"}
	refresh := []string{"grant_type", "refresh_token", "client_id", "{ID}", "client_secret", "{SECRET}", "refresh_token", "{RT}"}
	f.Add(uint8(0), uint8(0), []byte(fzForm(exchange...)), "", "")
	f.Add(uint8(1), uint8(0), []byte(fzForm(refresh...)), "", "")
	f.Add(uint8(0), uint8(1), []byte(fzMultipart(exchange...)), "", "")
	f.Add(uint8(0), uint8(1), []byte(fzMultipart(refresh...)), "", "")
	f.Add(uint8(0), uint8(2), []byte{}, fzForm(exchange...), "")
	f.Add(uint8(0), uint8(2), []byte{}, fzForm(refresh...), "")
	f.Add(uint8(0), uint8(0), []byte(fzForm("grant_type", "authorization_code", "redirect_uri", "{URI}", "code", "{CODE2}")), "", "{ID}:{SECRET}")
	f.Add(uint8(0), uint8(0), []byte(fzForm("grant_type", "refresh_token", "refresh_token", "{RT}")), "", "raw:Basic MTAwMC5GVVpaV0VCQ0xJRU5UMDAwMDAwMDAwMDAwMDAwMDE6MDEyMzQ1Njc4OWFiY2RlZjAxMjM0NTY3ODlhYmNkZWYwMTIzNDU2Nzg5")
	f.Add(uint8(2), uint8(0), []byte(fzForm("grant_type", "authorization_code", "client_id", "{ID}", "client_secret", "{EUSECRET}", "redirect_uri", "{URI}", "code", "{EUCODE}")), "", "")
	f.Add(uint8(0), uint8(0), []byte(fzForm("grant_type", "authorization_code", "client_id", "{SELFID}", "client_secret", "{SELFSECRET}", "code", "{SELFCODE}")), "", "")
	f.Add(uint8(0), uint8(0), []byte(fzForm("grant_type", "authorization_code", "client_id", "{ID}", "client_secret", "{SECRET}", "redirect_uri", "https://evil.example/cb", "code", "{CODE}")), "", "")
	f.Add(uint8(0), uint8(0), []byte(fzForm("grant_type", "refresh_token", "client_id", "{JSID}", "client_secret", "{JSSECRET}", "refresh_token", "{RT}")), "", "")
	f.Add(uint8(0), uint8(0), []byte("client_id={ID}&client_id=x&grant_type=refresh_token&refresh_token={RT}&client_secret={SECRET}"), "client_id=y&grant_type=password", "")
	f.Add(uint8(0x80), uint8(0), []byte(fzForm("grant_type", "refresh_token", "client_id", "{ID}", "client_secret", "wrong", "refresh_token", "{RT}")), "", "")
	f.Add(uint8(0x40), uint8(0), []byte(fzForm("token", "{RT}")), "", "")
	f.Add(uint8(0x40), uint8(2), []byte{}, "token={AT}", "")
	f.Add(uint8(0x40), uint8(2), []byte{}, "token=1000.nope", "")
	f.Add(uint8(0), uint8(0), []byte("grant_type=%zz&code=%ff%fe;x"), "a;b", "")
	f.Add(uint8(0), uint8(3), []byte(`{"grant_type":"refresh_token"}`), "", "")
	f.Add(uint8(0), uint8(4), []byte(fzMultipart(refresh...)), "", "")
	f.Add(uint8(8), uint8(0), []byte(fzForm(refresh...)), "", "")
	f.Add(uint8(0), uint8(0), []byte(fzForm("grant_type", "\xff\xfe", "scope", "ZohoCRM.\x00users.ALL")), "", "raw:{SECRET}")
	f.Add(uint8(0), uint8(1), []byte("--"+fzBoundary+"\r\nContent-Disposition: form-data; name=\"code\"; filename=\"c.txt\"\r\n\r\n{CODE}\r\n--"+fzBoundary+"--\r\n"), "grant_type=authorization_code", "")
	// client credentials (ZA-CC-*)
	cc := []string{"grant_type", "client_credentials", "client_id", "{SELFID}", "client_secret", "{SELFSECRET}", "scope", "ZohoCRM.org.READ", "soid", "ZohoCRM.{ORG}"}
	f.Add(uint8(0), uint8(0), []byte(fzForm(cc...)), "", "")
	f.Add(uint8(0x80), uint8(1), []byte(fzMultipart(cc...)), "", "")
	f.Add(uint8(0), uint8(2), []byte{}, fzForm(cc...), "")
	f.Add(uint8(0), uint8(0), []byte(fzForm(cc[:8]...)), "", "")
	f.Add(uint8(0), uint8(0), []byte(fzForm("grant_type", "client_credentials", "scope", "ZohoCRM.org.READ", "soid", "ZohoCRM.{ORG}")), "", "{SELFID}:{SELFSECRET}")
	f.Add(uint8(0), uint8(0), []byte(fzForm("grant_type", "client_credentials", "client_id", "{ID}", "client_secret", "{SECRET}", "scope", "ZohoCRM.org.READ", "soid", "ZohoCRM.{ORG}")), "", "")
	f.Add(uint8(2), uint8(0), []byte(fzForm(cc...)), "", "")
	f.Add(uint8(0), uint8(0), []byte(fzForm(cc...)+"&soid=ZohoCRM.1&scope=ZohoCRM.user.ALL"), "soid=x", "")
	// PKCE exchanges (ZA-PKCE-TOKEN)
	pkce := []string{"grant_type", "authorization_code", "client_id", "{MOBID}", "client_secret", "{MOBSECRET}", "redirect_uri", "{URI}", "code", "{PKCECODE}", "code_verifier", "{VERIFIER}"}
	f.Add(uint8(0), uint8(0), []byte(fzForm(pkce...)), "", "")
	f.Add(uint8(0), uint8(0), []byte(fzForm(pkce[:10]...)), "", "")
	f.Add(uint8(0), uint8(1), []byte(fzMultipart(append(pkce[:10:10], "code_verifier", "{VERIFIER}x")...)), "", "")
	f.Add(uint8(0), uint8(0), []byte(fzForm(append(exchange, "code_verifier", "{VERIFIER}")...)), "", "")
	// the newer revoke (ZA-REVOKE-V2): route bit 6 with ctype bit 7
	f.Add(uint8(0x40), uint8(0x80), []byte(fzForm("token", "{RT}", "token_type", "refresh_token")), "", "{ID}:{SECRET}")
	f.Add(uint8(0x41), uint8(0x82), []byte{}, "token={AT}&token_type=access_token", "{ID}:{SECRET}")
	f.Add(uint8(0x40), uint8(0x82), []byte{}, "token={RT}&token_type=refresh_token", "{ID}:wrong")
	f.Add(uint8(0x40), uint8(0x82), []byte{}, "token={RT}&token_type=refresh_token", "")
	f.Add(uint8(0x40), uint8(0x82), []byte{}, "token={RT}&token_type=id_token", "{ID}:{SECRET}")
	f.Add(uint8(0x40), uint8(0x82), []byte{}, "token={RT}", "raw:Basic MTAwMC5GVVpaV0VCQ0xJRU5UMDAwMDAwMDAwMDAwMDAwMDE=")
	f.Add(uint8(0x40), uint8(0x81), []byte(fzMultipart("token", "{AT}", "token_type", "access_token")), "", "{JSID}:")
	f.Add(uint8(0x48), uint8(0x80), []byte(fzForm("token", "{RT}", "token_type", "refresh_token")), "", "{ID}:{SECRET}")
	f.Add(uint8(0x44), uint8(0x80), []byte(fzForm("token", "{RT}", "token_type", "refresh_token")), "", "{ID}:{EUSECRET}")
	// a token without its token_type: the endpoint's own invalid_request,
	// {"status":"failure",…} without a description (found by CI's fuzzing)
	f.Add(uint8(0x40), uint8(0x80), []byte(fzForm("token", "{RT}")), "", "{ID}:{SECRET}")
	f.Add(uint8(0x40), uint8(0x82), []byte{}, "token_type=access_token", "{ID}:{SECRET}")
	f.Fuzz(func(t *testing.T, route, ctype uint8, body []byte, query, basic string) {
		w := newFzWorld(t, fzProfile(route))
		path := "/oauth/v2/token"
		v2 := route&0x40 != 0 && ctype&0x80 != 0
		switch {
		case v2:
			path = "/oauth/v2/revoke/token"
		case route&0x40 != 0:
			path = "/oauth/v2/token/revoke"
		}
		host, full := fzRoute(route, path)
		q := fzReq{method: fzMethods[route>>3&7], host: host, path: full, query: w.expand(query), body: w.expand(string(body))}
		switch ctype & 0x7f % 5 {
		case 0:
			q.ctype = "application/x-www-form-urlencoded"
		case 1:
			q.ctype = "multipart/form-data; boundary=" + fzBoundary
		case 3:
			q.ctype = "application/json"
		case 4:
			q.ctype = "multipart/form-data"
		}
		q.auth = w.authorization(basic)
		before := fzSnap(w.s)
		rec := fzServe(w.s, q)
		after := fzSnap(w.s)
		fzNo5xx(t, rec)
		m := fzJSONObject(t, rec)
		var issued []string
		switch {
		case route&0x40 != 0 && m["status"] == "success":
			if rec.Code != http.StatusOK {
				t.Fatalf("a successful revoke with HTTP %d", rec.Code)
			}
			before.sameGrants(t, after, false, "", "a revoke")
			if before.tokens == after.tokens {
				t.Fatal("a successful revoke revoked nothing")
			}
		case m["access_token"] != nil:
			at, _ := m["access_token"].(string)
			rt, _ := m["refresh_token"].(string)
			issued = []string{at, rt}
			if route&0x40 != 0 || rec.Code != http.StatusOK || m["error"] != nil || !zoho.TokenPattern.MatchString(at) || m["token_type"] != "Bearer" {
				t.Fatalf("a malformed success: HTTP %d %v", rec.Code, m)
			}
			if rt != "" && !zoho.TokenPattern.MatchString(rt) {
				t.Fatalf("a malformed refresh token: %v", m)
			}
			w.s.mu.Lock()
			live := w.s.access[at] != nil && (rt == "" || w.s.refresh[rt] != nil)
			w.s.mu.Unlock()
			if !live {
				t.Fatalf("the tokens answered are not in the server: %v", m)
			}
		default:
			e := fzErrorMember(t, m, rec.Code)
			described, _ := m["error_description"].(string)
			switch {
			case rec.Code == http.StatusMethodNotAllowed, rec.Code == http.StatusRequestEntityTooLarge:
				if described == "" {
					t.Fatalf("HTTP %d without a description: %v", rec.Code, m)
				}
			case v2 && rec.Code == http.StatusBadRequest && e == zoho.ErrInvalidRequest && described != "":
				// a body the server could not read, answered before
				// the endpoint's own checks
			case v2:
				// the endpoint's own answers: {"status":"failure","error":…}
				if status, ok := fzRevokeV2Errors[e]; !ok || rec.Code != status || m["status"] != "failure" || len(m) != 2 {
					t.Fatalf("a failed revoke answered HTTP %d %v", rec.Code, m)
				}
			case rec.Code == http.StatusBadRequest && e == zoho.ErrInvalidRequest:
				if described == "" {
					t.Fatalf("HTTP %d without a description: %v", rec.Code, m)
				}
			case route&0x40 != 0:
				if rec.Code != http.StatusBadRequest || e != zoho.ErrInvalidToken || m["status"] != "failure" {
					t.Fatalf("a failed revoke answered HTTP %d %v", rec.Code, m)
				}
			case !slices.Contains(fzTokenErrors, e):
				t.Fatalf("an undocumented error: HTTP %d %v", rec.Code, m)
			case e == zoho.ErrThrottled && rec.Code != http.StatusBadRequest, e != zoho.ErrThrottled && rec.Code != http.StatusOK:
				t.Fatalf("error %s with HTTP %d", e, rec.Code)
			}
			// a refused request issues and revokes nothing; a failed
			// exchange may burn its grant (K4-NOTE-3)
			before.same(t, after, true, "a refused token request")
		}
		w.checkLog(t, rec.Code, issued...)
	})
}

// ---- FuzzAuthorizeEndpoint ----

var fzErrorCode = regexp.MustCompile(`<code id="error-code">([^<]*)</code>`)

var fzAuthCodes = []string{zoho.ErrAuthResponseType, zoho.ErrAuthClient, zoho.ErrAuthRedirectURI, zoho.ErrAuthScope, zoho.ErrAccessDenied, zoho.ErrAuthCodeChallenge}

// FuzzAuthorizeEndpoint: {AS}/oauth/v2/auth with any query string (and, for
// the consent page's POST, any urlencoded body).
//
// route: bit 0 real host name / path prefix, bits 1-2 the DC, bit 3 POST,
// bits 4-5 the consent (the client's user approves; a scripted denial; a
// scripted consent by eve, EU; the HTML consent page), bit 7 accounts-2025.
func FuzzAuthorizeEndpoint(f *testing.F) {
	good := "client_id={ID}&response_type=code&redirect_uri={URI}&scope=ZohoCRM.users.ALL,ZohoCRM.org.READ&access_type=offline&state=st-1"
	for _, s := range []struct {
		route       uint8
		query, body string
	}{
		{0, good, ""},
		{1, good + "&prompt=consent", ""},
		{0, strings.Replace(good, "{URI}", "{URI2}", 1), ""},
		{0, "client_id={JSID}&response_type=token&redirect_uri={URI}&scope=ZohoCRM.users.ALL&state=x", ""},
		{0x10, good, ""},
		{0x20, good, ""},
		{0x30, good, ""},
		{0x08, "", good + "&zconform_decision=approve&zconform_user={EVE}"},
		{0x08, "", good + "&zconform_decision=deny"},
		{0, strings.Replace(good, "{URI}", "https://evil.example/cb", 1), ""},
		{0, strings.Replace(good, "{URI}", "https%3A%2F%2Fapp.example.com%2Fcallback%0D%0ALocation:%20https://evil.example", 1), ""},
		{0, strings.Replace(good, "{URI}", "https://app.example.com/callback@evil.example", 1), ""},
		{0, strings.Replace(good, "{URI}", "//evil.example/callback", 1), ""},
		{0, good + "&redirect_uri=https://evil.example/cb&client_id=1000.X&state=a&state=b", ""},
		{0, strings.Replace(good, "ZohoCRM.users.ALL", "ZohoCRM.users.ALL%FF", 1), ""},
		{0, strings.Replace(good, "response_type=code", "response_type=", 1), ""},
		{0, "client_id=&response_type=code&redirect_uri={URI}&scope=ZohoCRM.users.ALL", ""},
		{2, good, ""},
		{4, good, ""},
		{0, good + ";x=1&%zz", ""},
		{0, good + "&state=%0D%0ASet-Cookie:%20a=1", ""},
		// client credentials here (ZA-CC-AUTH) and PKCE (ZA-PKCE-AUTH)
		{0, "grant_type=client_credentials&client_id={SELFID}&client_secret={SELFSECRET}&scope=ZohoCRM.org.READ&soid=ZohoCRM.{ORG}", ""},
		{0x08, "", "grant_type=client_credentials&client_id={SELFID}&client_secret={SELFSECRET}&scope=ZohoCRM.org.READ"},
		{0, "grant_type=client_credentials&client_id={ID}&client_secret={SECRET}&scope=ZohoCRM.org.READ&soid=ZohoCRM.{ORG}", ""},
		{0, strings.Replace(good, "{ID}", "{MOBID}", 1), ""},
		{0, strings.Replace(good, "{ID}", "{MOBID}", 1) + "&code_challenge=E9Melhoa2OwvFrEMTJguCHaoeK1t8URWbuGMSstw-cM&code_challenge_method=S256", ""},
		{0, strings.Replace(good, "{ID}", "{MOBID}", 1) + "&code_challenge={VERIFIER}", ""},
		{0, good + "&code_challenge=short&code_challenge_method=plain", ""},
	} {
		f.Add(s.route, s.query, s.body)
	}
	f.Fuzz(func(t *testing.T, route uint8, query, body string) {
		var opts []Option
		consent := route >> 4 & 3
		if consent == 3 {
			opts = append(opts, WithConsentPage())
		}
		w := newFzWorld(t, append(opts, fzProfile(route))...)
		switch consent {
		case 1:
			fzCheck(t, w.s.ScriptConsent(fzWebID, Consent{Deny: true}))
		case 2:
			fzCheck(t, w.s.ScriptConsent(fzWebID, Consent{User: fzEve}))
		}
		host, full := fzRoute(route, "/oauth/v2/auth")
		q := fzReq{method: http.MethodGet, host: host, path: full, query: w.expand(query)}
		if route&8 != 0 {
			q.method, q.ctype, q.body = http.MethodPost, "application/x-www-form-urlencoded", w.expand(body)
		}
		before := fzSnap(w.s)
		rec := fzServe(w.s, q)
		after := fzSnap(w.s)
		fzNo5xx(t, rec)
		loc := rec.Header().Get("Location")
		var issued []string
		switch rec.Code {
		case http.StatusFound:
			if strings.ContainsAny(loc, "\r\n\x00") {
				t.Fatalf("a Location with a control character: %q", loc)
			}
			u, err := url.Parse(loc)
			if err != nil {
				t.Fatalf("a Location that is no URL: %q", loc)
			}
			base := u.Scheme + "://" + u.Host + u.Path
			switch base {
			case fzURI:
			case "http://localhost:3000/cb":
				if u.Query().Get("x") != "1" {
					t.Fatalf("the registered URI's own query is lost: %q", loc)
				}
			default:
				t.Fatalf("a redirect to an unregistered URI: %q", loc)
			}
			if u.User != nil || u.Opaque != "" {
				t.Fatalf("a redirect with userinfo or opaque part: %q", loc)
			}
			params := u.Query()
			if u.Fragment != "" {
				params, _ = url.ParseQuery(u.Fragment)
			}
			switch {
			case params.Get("code") != "":
				code := params.Get("code")
				issued = append(issued, code)
				if params.Get("location") == "" || params.Get("accounts-server") == "" || u.Fragment != "" {
					t.Fatalf("a code redirect without location or accounts-server: %q", loc)
				}
				if before.tokens != after.tokens {
					t.Fatal("a grant issued tokens")
				}
				before.sameGrants(t, after, false, code, "an authorization")
			case params.Get("access_token") != "":
				issued = append(issued, params.Get("access_token"))
				if u.Fragment == "" || len(after.grants) != len(before.grants) || after.tokens == before.tokens {
					t.Fatalf("an implicit grant that is not one: %q", loc)
				}
			case params.Get("error") == zoho.ErrAccessDenied:
				if before.tokens != after.tokens {
					t.Fatal("a denial issued tokens")
				}
				before.sameGrants(t, after, false, "", "a denial")
			default:
				t.Fatalf("a redirect with neither code, token nor error: %q", loc)
			}
		case http.StatusBadRequest, http.StatusOK:
			if loc != "" {
				t.Fatalf("HTTP %d with a Location: %q", rec.Code, loc)
			}
			if ct := rec.Header().Get("Content-Type"); strings.HasPrefix(ct, "text/html") {
				if rec.Code == http.StatusOK {
					if consent != 3 || !strings.Contains(rec.Body.String(), `<form method="post">`) {
						t.Fatalf("HTTP 200 that is no consent page: %q", rec.Body)
					}
				} else if m := fzErrorCode.FindStringSubmatch(rec.Body.String()); m == nil || !slices.Contains(fzAuthCodes, m[1]) {
					t.Fatalf("an error page without a documented code: %q", rec.Body)
				}
			} else if m := fzJSONObject(t, rec); m["access_token"] != nil {
				// client credentials at the authorization endpoint (ZA-CC-AUTH)
				at, _ := m["access_token"].(string)
				issued = append(issued, at)
				if rec.Code != http.StatusOK || m["refresh_token"] != nil || !zoho.TokenPattern.MatchString(at) || before.tokens == after.tokens {
					t.Fatalf("a malformed client-credentials answer: HTTP %d %v", rec.Code, m)
				}
				before.sameGrants(t, after, false, "", "client credentials")
				break
			} else {
				fzErrorMember(t, m, rec.Code)
			}
			before.same(t, after, false, "a refused authorization")
		default:
			if loc != "" {
				t.Fatalf("HTTP %d with a Location: %q", rec.Code, loc)
			}
			fzErrorMember(t, fzJSONObject(t, rec), rec.Code)
			before.same(t, after, false, "a refused authorization")
		}
		w.checkLog(t, rec.Code, issued...)
	})
}

// ---- FuzzControlAPI ----

type fzEndpoint struct{ method, path string }

var fzControl = []fzEndpoint{
	{"GET", ""}, {"GET", "/"},
	{"POST", "/users"}, {"GET", "/users"}, {"GET", "/users/{a}/tokens"},
	{"POST", "/clients"}, {"GET", "/clients"}, {"GET", "/clients/{a}"},
	{"POST", "/clients/{a}/multi-dc"}, {"POST", "/clients/{a}/consent"}, {"POST", "/clients/{a}/self-client-code"},
	{"GET", "/refresh-tokens/{a}/access-tokens"}, {"POST", "/revoke"},
	{"GET", "/clock"}, {"POST", "/clock/advance"}, {"POST", "/clock/set"},
	{"GET", "/breaks"}, {"PUT", "/breaks"}, {"POST", "/breaks/{a}"}, {"DELETE", "/breaks/{a}"},
	{"GET", "/limits"}, {"PUT", "/limits"}, {"POST", "/scopes"}, {"GET", "/requests"}, {"POST", "/seed"},
	{"POST", "/faults"}, {"GET", "/faults"}, {"DELETE", "/faults"}, {"DELETE", "/faults/{a}"},
	{"", "/{a}"}, // any method, any path
}

var fzAnyMethods = []string{"GET", "POST", "PUT", "DELETE", "PATCH", "OPTIONS", "HEAD"}

// fzControlCall sends one control request: endpoint ep, path argument arg
// (also the query of GET /requests), body.
func (w *fzWorld) fzControlCall(ep uint8, arg, body, remote, auth string) (*httptest.ResponseRecorder, fzReq) {
	e := fzControl[int(ep)%len(fzControl)]
	method := e.method
	if method == "" {
		method = fzAnyMethods[int(ep)/len(fzControl)%len(fzAnyMethods)]
	}
	arg = w.expand(arg)
	q := fzReq{method: method, body: w.expand(body), remote: remote, auth: auth}
	q.path = controlPrefix + strings.ReplaceAll(e.path, "{a}", arg)
	q.rawPath = controlPrefix + strings.ReplaceAll(e.path, "{a}", url.PathEscape(arg))
	if e.path == "/requests" {
		q.query = "since=" + url.QueryEscape(arg)
	}
	if strings.HasPrefix(body, "{") || strings.HasPrefix(body, "[") {
		q.ctype = "application/json"
	}
	return fzServe(w.s, q), q
}

// checkControl: a 2xx or 4xx JSON answer, a 4xx with an error member;
// a redirect only where net/http cleans the path, to a path on this host.
func fzCheckControl(t *testing.T, rec *httptest.ResponseRecorder, q fzReq) {
	t.Helper()
	fzNo5xx(t, rec)
	switch {
	case rec.Code == http.StatusMovedPermanently || rec.Code == http.StatusTemporaryRedirect || rec.Code == http.StatusPermanentRedirect:
		loc := rec.Header().Get("Location")
		if !strings.HasPrefix(loc, "/") || strings.HasPrefix(loc, "//") || strings.ContainsAny(loc, "\r\n\\") {
			t.Fatalf("%s %s: a redirect off the control API: %q", q.method, q.path, loc)
		}
		return
	case rec.Code >= 300 && rec.Code < 400, rec.Code < 200:
		t.Fatalf("%s %s: HTTP %d", q.method, q.path, rec.Code)
	}
	if q.method == http.MethodHead {
		return
	}
	if ct := rec.Header().Get("Content-Type"); !strings.HasPrefix(ct, "application/json") {
		t.Fatalf("%s %s: HTTP %d with Content-Type %q: %q", q.method, q.path, rec.Code, ct, rec.Body)
	}
	if !json.Valid(rec.Body.Bytes()) {
		t.Fatalf("%s %s: HTTP %d: the body is not JSON: %q", q.method, q.path, rec.Code, rec.Body)
	}
	if rec.Code >= 400 {
		var m map[string]any
		if err := json.Unmarshal(rec.Body.Bytes(), &m); err != nil {
			t.Fatalf("%s %s: HTTP %d: the body is no JSON object: %q", q.method, q.path, rec.Code, rec.Body)
		}
		fzErrorMember(t, m, rec.Code)
	}
}

// FuzzControlAPI: two control requests with any bodies and path arguments,
// then every read endpoint and a token exchange must still work.
//
// who: 0 a loopback caller; 1 another caller, no token configured (403);
// 2 another caller with the configured token; 3 a caller without it (401).
func FuzzControlAPI(f *testing.F) {
	idx := func(path, method string) uint8 {
		for i, e := range fzControl {
			if e.path == path && e.method == method {
				return uint8(i)
			}
		}
		panic(path)
	}
	seeds := []struct {
		ep   uint8
		arg  string
		body string
	}{
		{idx("/users", "POST"), "", `{"email":"bob@example.com","dc":"eu","first_name":"Bob"}`},
		{idx("/clients", "POST"), "", `{"type":"web","name":"CI app","homepage":"https://example.com","redirect_uris":["http://localhost:3000/callback"],"user":"{ALICE}"}`},
		{idx("/clients", "POST"), "", `{"type":"javascript","name":"js","homepage":"https://example.com","redirect_uris":["https://example.com/cb"],"js_domains":["https://example.com, https://b.example"],"id":"1000.ABCDEFGHIJKLMNOPQRSTUVWXYZ0123","secret":"0123456789abcdef0123456789abcdef01234567ab"}`},
		{idx("/clients", "POST"), "", `{"id":"{ID}","type":"device","name":"taken","homepage":"https://example.com"}`},
		{idx("/clients/{a}/multi-dc", "POST"), "{ID}", `{"dc":"in","separate_secret":true}`},
		{idx("/clients/{a}/consent", "POST"), "{ID}", `{"answers":[{"deny":true},{"user":"{EVE}"}]}`},
		{idx("/clients/{a}/self-client-code", "POST"), "{SELFID}", `{"scopes":["ZohoCRM.users.ALL"],"lifetime":"5m","description":"x"}`},
		{idx("/users/{a}/tokens", "GET"), "{ALICE}", ""},
		{idx("/clients/{a}", "GET"), "{ID}", ""},
		{idx("/refresh-tokens/{a}/access-tokens", "GET"), "{RT}", ""},
		{idx("/revoke", "POST"), "", `{"token":"{RT}"}`},
		{idx("/clock/advance", "POST"), "", `{"by":"61s"}`},
		{idx("/clock/set", "POST"), "", `{"now":"2030-01-01T00:00:00Z"}`},
		{idx("/clock/set", "POST"), "", `{"now":"9999-12-31T23:30:00Z"}`},
		{idx("/breaks", "PUT"), "", `{"on":["K4-NOTE-1","K4-TOKEN-CODE-b"]}`},
		{idx("/breaks/{a}", "POST"), "K4-NOTE-8", ""},
		{idx("/breaks/{a}", "DELETE"), "K4-NOTE-8", ""},
		{idx("/limits", "PUT"), "", `{"profile":"accounts-2025","limits":{"grant_lifetime":"30s","refresh_throttle":{"limit":2,"window":"1m"}}}`},
		{idx("/scopes", "POST"), "", `{"scopes":["ZohoCRM.custom.ALL"]}`},
		{idx("/requests", "GET"), "1", ""},
		{idx("/seed", "POST"), "", "profile: kaizen4\nscopes: [ZohoCRM.custom.ALL]\nusers:\n  - {email: carol@example.com, dc: eu}\nclients:\n  - {id: 1000.CICLIENT0000000000000000000001, type: web, name: CI, homepage: https://example.com, redirect_uris: [http://localhost/cb], user: carol@example.com, multi_dc: {us: {}}}\n"},
		{idx("/faults", "POST"), "", `{"kind":"status","endpoint":"token","status":503,"body":"{}","header":{"Retry-After":"30"},"times":1}`},
		{idx("/faults", "POST"), "", `{"kind":"latency","latency":"250ms","dc":"EU","share":0.5}`},
		{idx("/faults/{a}", "DELETE"), "1", ""},
		{idx("/faults", "DELETE"), "", ""},
		{idx("/{a}", ""), "users/../clients", `{}`},
		{idx("", "GET"), "", ""},
	}
	for i, s := range seeds {
		next := seeds[(i+1)%len(seeds)]
		f.Add(uint8(0), s.ep, s.arg, []byte(s.body), next.ep, next.arg, []byte(next.body))
	}
	bad := []string{`{"email":`, `[`, `{"email":"a@b","unknown":1}`, `{} {}`, `{"by":"-1h"}`, `{"now":"1999-01-01T00:00:00Z"}`, `{"on":["K4-NOPE"]}`, `{"limits":{"grant_lifetime":"0s"}}`, `{"scopes":["nope"]}`, "users: [\n", `{"kind":"meteor"}`}
	for i, b := range bad {
		s := seeds[i%len(seeds)]
		f.Add(uint8(0), s.ep, s.arg, []byte(b), s.ep, s.arg, []byte(s.body))
	}
	f.Add(uint8(1), seeds[0].ep, "", []byte(seeds[0].body), seeds[10].ep, "", []byte(seeds[10].body))
	f.Add(uint8(2), seeds[0].ep, "", []byte(seeds[0].body), seeds[10].ep, "", []byte(seeds[10].body))
	f.Add(uint8(3), seeds[0].ep, "", []byte(seeds[0].body), seeds[10].ep, "", []byte(seeds[10].body))
	f.Fuzz(func(t *testing.T, who, ep1 uint8, arg1 string, body1 []byte, ep2 uint8, arg2 string, body2 []byte) {
		var opts []Option
		remote, auth := "127.0.0.1:50000", ""
		switch who % 4 {
		case 1:
			remote = "203.0.113.7:50000"
		case 2:
			opts = append(opts, WithControlToken(fzToken))
			remote, auth = "203.0.113.7:50000", "Bearer "+fzToken
		case 3:
			opts = append(opts, WithControlToken(fzToken))
			remote, auth = "127.0.0.1:50000", arg1 // anything but the token
			if strings.Contains(auth, fzToken) {
				auth = ""
			}
		}
		w := newFzWorld(t, opts...)
		for _, call := range []struct {
			ep        uint8
			arg, body string
		}{{ep1, arg1, string(body1)}, {ep2, arg2, string(body2)}} {
			before := fzSnap(w.s)
			rec, q := w.fzControlCall(call.ep, call.arg, call.body, remote, auth)
			fzCheckControl(t, rec, q)
			after := fzSnap(w.s)
			switch who % 4 {
			case 1:
				if rec.Code != http.StatusForbidden {
					t.Fatalf("%s %s from %s: HTTP %d, want 403", q.method, q.path, remote, rec.Code)
				}
			case 3:
				if rec.Code != http.StatusUnauthorized {
					t.Fatalf("%s %s without the token: HTTP %d, want 401", q.method, q.path, rec.Code)
				}
			}
			if rec.Code >= 300 {
				before.same(t, after, false, fmt.Sprintf("a refused control request (%s %s: HTTP %d %s)", q.method, q.path, rec.Code, rec.Body))
			}
		}
		// whatever was accepted, the server still answers
		for _, e := range []struct{ path, query string }{
			{"", ""}, {"/users", ""}, {"/clients", ""}, {"/clock", ""}, {"/breaks", ""}, {"/limits", ""},
			{"/faults", ""}, {"/requests", "since=0"}, {"/users/" + fzAlice + "/tokens", ""}, {"/users/" + fzEve + "/tokens", ""},
			{"/refresh-tokens/" + w.rt + "/access-tokens", ""},
		} {
			q := fzReq{method: http.MethodGet, path: controlPrefix + e.path, query: e.query, remote: remote, auth: auth}
			rec := fzServe(w.s, q)
			fzCheckControl(t, rec, q)
			if rec.Code != http.StatusOK && who%4 != 1 && who%4 != 3 {
				t.Fatalf("GET %s after the calls: HTTP %d %s", e.path, rec.Code, rec.Body)
			}
		}
		w.s.ClearFaults() // a hang or reset fault would stop the recorder
		for _, body := range []string{
			fzForm("grant_type", "authorization_code", "client_id", fzWebID, "client_secret", fzWebSecret, "redirect_uri", fzURI, "code", w.code2),
			fzForm("grant_type", "refresh_token", "client_id", fzWebID, "client_secret", fzWebSecret, "refresh_token", w.rt),
		} {
			rec := fzServe(w.s, fzReq{method: http.MethodPost, path: "/accounts.zoho.com/oauth/v2/token", ctype: "application/x-www-form-urlencoded", body: body})
			fzNo5xx(t, rec)
			fzJSONObject(t, rec)
		}
		for _, path := range []string{"/requests", "/users/" + fzAlice + "/tokens", "/users"} {
			if rec := fzServe(w.s, fzReq{method: http.MethodGet, path: controlPrefix + path, remote: "127.0.0.1:1", auth: "Bearer " + fzToken}); rec.Code != http.StatusOK || !json.Valid(rec.Body.Bytes()) {
				t.Fatalf("GET %s after the calls and a token exchange: HTTP %d %s", path, rec.Code, rec.Body)
			}
		}
	})
}

// ---- FuzzSeedFile ----

// FuzzSeedFile: ParseSeed and ApplySeed on any bytes, on a fresh server and
// on one with users, clients, grants and tokens (mode 1), and with a break
// on (mode 2). A broken file is a *SeedError naming the file and changes
// nothing.
func FuzzSeedFile(f *testing.F) {
	for _, s := range []string{
		"profile: kaizen4\nlimits: {grant_lifetime: 60s}\nscopes: [ZohoCRM.custom.ALL]\nusers:\n  - {email: bob@example.com, dc: eu, first_name: Bob}\nclients:\n  - id: 1000.CICLIENT0000000000000000000001\n    secret: 0123456789abcdef0123456789abcdef0123456789\n    type: web\n    name: CI app\n    homepage: https://example.com\n    redirect_uris: [http://localhost:3000/callback]\n    user: bob@example.com\n    multi_dc:\n      us: {separate_secret: true}\nbreaks: [K4-NOTE-1]\n",
		"profile: accounts-2025\nlimits:\n  refresh_throttle: {limit: 3, window: 1m}\n  self_client_lifetimes: [1m]\n  self_client_default_lifetime: 1m\n",
		"clients:\n  - {type: self, user: " + fzAlice + "}\n",
		"clients:\n  - {type: self}\n",
		"clients:\n  - {id: " + fzWebID + ", type: device, name: dup, homepage: https://example.com}\n",
		"users:\n  - {email: new@example.com}\nclients:\n  - {type: web, name: x, homepage: https://example.com, redirect_uris: [https://example.com/cb], user: new@example.com, dc: eu}\n",
		"users:\n  - {email: new@example.com}\n  - {email: NEW@example.com}\n",
		"scopes: [bad]\n",
		"limits: {grant_lifetime: -1s}\n",
		"limits: &l {grant_lifetime: 1s}\nprofile: *l\n",
		"breaks: [K4-NOPE]\n",
		"clients:\n  - {type: javascript, name: j, homepage: https://x.example, redirect_uris: [https://x.example/cb], js_domains: ['https://x.example,https://y.example']}\n",
		"users: [[[[[[[]]]]]]]\n",
		"profile: [\n",
		"",
		"---\nprofile: kaizen4\n---\nprofile: accounts-2025\n",
		"colour: red\n",
	} {
		for mode := uint8(0); mode < 3; mode++ {
			f.Add(mode, []byte(s))
		}
	}
	f.Fuzz(func(t *testing.T, mode uint8, data []byte) {
		const name = "fuzz-seed.yaml"
		file, err := ParseSeed(name, data)
		if err != nil {
			var se *SeedError
			if file != nil || !errors.As(err, &se) || se.File != name || !strings.HasPrefix(err.Error(), name) {
				t.Fatalf("ParseSeed: %T %v (file %v)", err, err, file != nil)
			}
			return
		}
		var s *Server
		if mode%3 == 0 {
			s = NewUnstarted()
		} else {
			s = newFzWorld(t).s
			if mode%3 == 2 {
				fzCheck(t, s.Break(zoho.RegMandatorySelf))
			}
		}
		before := fzSnap(s)
		err = s.ApplySeed(file)
		after := fzSnap(s)
		if err != nil {
			var se *SeedError
			if !errors.As(err, &se) || se.File != name || !strings.HasPrefix(err.Error(), name) {
				t.Fatalf("ApplySeed: %T %v", err, err)
			}
			before.same(t, after, false, "a refused seed file ("+err.Error()+")")
			return
		}
		for _, u := range file.Users {
			if _, err := s.Tokens(u.Email); err != nil {
				t.Fatalf("seeded user %q is missing: %v", u.Email, err)
			}
		}
		for _, c := range file.Clients {
			if c.ID != "" {
				if _, err := s.RegisteredClient(c.ID); err != nil {
					t.Fatalf("seeded client %s is missing", c.ID)
				}
			}
		}
	})
}

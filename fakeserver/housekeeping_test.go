package fakeserver

// White-box tests of the housekeeping (sweep.go, index.go) and of the
// faults' bookkeeping: what can no longer be used is forgotten, what still
// can is not, nothing of it shows on the wire, and no request pays for what
// the fake holds. The benchmarks at scale (bench_test.go) and the memory
// tests (loadtest/memory_test.go) measure the same from outside.

import (
	"encoding/json"
	"net/http"
	"net/http/httptest"
	"net/url"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/zconform/zconform/fixtures/zoho"
)

const (
	hkRedirect = "https://app.zconform.test/callback"
	hkScope    = "ZohoCRM.users.ALL"
	hkUser     = "hk@zconform.test"
)

// hkFake is a fake with a user, a self client, a web client and a
// JavaScript client of that user, and no grant-token rate limit.
type hkFake struct {
	t              testing.TB
	s              *Server
	self, web, js  Client
	selfC, jsC     *client
	user           *user
	tokenURL, auth string
}

func newHKFake(t testing.TB, limits func(*zoho.Limits), opts ...Option) *hkFake {
	t.Helper()
	opts = append([]Option{WithRequestLogSize(16), WithLimits(func(l *zoho.Limits) {
		l.GrantRate.Limit = 0
		if limits != nil {
			limits(l)
		}
	})}, opts...)
	f := &hkFake{t: t, s: NewUnstarted(opts...), tokenURL: "https://accounts.zoho.com/oauth/v2/token", auth: "https://accounts.zoho.com/oauth/v2/auth"}
	if _, err := f.s.AddUser(UserSpec{Email: hkUser, DC: zoho.US}); err != nil {
		t.Fatal(err)
	}
	var err error
	if f.self, err = f.s.RegisterClient(ClientSpec{Type: SelfClient, User: hkUser}); err != nil {
		t.Fatal(err)
	}
	if f.web, err = f.s.RegisterClient(ClientSpec{Type: WebBased, Name: "hk web", Homepage: "https://app.zconform.test", RedirectURIs: []string{hkRedirect}, User: hkUser}); err != nil {
		t.Fatal(err)
	}
	if f.js, err = f.s.RegisterClient(ClientSpec{Type: JavaScript, Name: "hk js", Homepage: "https://app.zconform.test", RedirectURIs: []string{hkRedirect},
		JSDomains: []string{"https://app.zconform.test"}, User: hkUser}); err != nil {
		t.Fatal(err)
	}
	f.selfC, f.jsC, f.user = f.s.clients[f.self.ID], f.s.clients[f.js.ID], f.s.users[hkUser]
	return f
}

func (f *hkFake) serve(method, target, body string) *httptest.ResponseRecorder {
	var r *http.Request
	if body == "" {
		r = httptest.NewRequest(method, target, nil)
	} else {
		r = httptest.NewRequest(method, target, strings.NewReader(body))
		r.Header.Set("Content-Type", "application/x-www-form-urlencoded")
	}
	w := httptest.NewRecorder()
	f.s.Handler().ServeHTTP(w, r)
	return w
}

// token posts to the token endpoint and returns the JSON answer.
func (f *hkFake) token(form url.Values) map[string]string {
	f.t.Helper()
	w := f.serve(http.MethodPost, f.tokenURL, form.Encode())
	var raw map[string]any
	if err := json.Unmarshal(w.Body.Bytes(), &raw); err != nil {
		f.t.Fatalf("token endpoint: HTTP %d: %s", w.Code, w.Body)
	}
	m := map[string]string{}
	for k, v := range raw {
		if str, ok := v.(string); ok {
			m[k] = str
		}
	}
	return m
}

func (f *hkFake) selfCode() string {
	f.t.Helper()
	code, err := f.s.SelfClientCode(f.self.ID, SelfClientCodeRequest{Scopes: []string{hkScope}})
	if err != nil {
		f.t.Fatal(err)
	}
	return code
}

// exchange exchanges a self-client code for a refresh and an access token.
func (f *hkFake) exchange(code string) (rt, at string) {
	f.t.Helper()
	m := f.token(url.Values{"grant_type": {"authorization_code"}, "client_id": {f.self.ID}, "client_secret": {f.self.Secret}, "code": {code}})
	if m["refresh_token"] == "" || m["access_token"] == "" {
		f.t.Fatalf("exchange: %v", m)
	}
	return m["refresh_token"], m["access_token"]
}

func (f *hkFake) refresh(rt string) map[string]string {
	return f.token(url.Values{"grant_type": {"refresh_token"}, "client_id": {f.self.ID}, "client_secret": {f.self.Secret}, "refresh_token": {rt}})
}

func (f *hkFake) revoke(token string) *httptest.ResponseRecorder {
	return f.serve(http.MethodPost, f.tokenURL+"/revoke?token="+url.QueryEscape(token), "")
}

// implicit runs an implicit grant of the JavaScript client and returns
// the access token.
func (f *hkFake) implicit() string {
	f.t.Helper()
	w := f.serve(http.MethodGet, f.auth+"?"+url.Values{"response_type": {"token"}, "client_id": {f.js.ID}, "scope": {hkScope}, "redirect_uri": {hkRedirect}}.Encode(), "")
	u, err := url.Parse(w.Header().Get("Location"))
	if err != nil || w.Code != http.StatusFound {
		f.t.Fatalf("implicit grant: HTTP %d %s", w.Code, w.Body)
	}
	q, _ := url.ParseQuery(u.Fragment)
	if q.Get("access_token") == "" {
		f.t.Fatalf("implicit grant: no token in %s", u)
	}
	return q.Get("access_token")
}

// codeGrant runs an authorization of the web client and returns the code.
func (f *hkFake) codeGrant() string {
	f.t.Helper()
	w := f.serve(http.MethodGet, f.auth+"?"+url.Values{"response_type": {"code"}, "client_id": {f.web.ID}, "scope": {hkScope}, "redirect_uri": {hkRedirect},
		"access_type": {"offline"}, "prompt": {"consent"}}.Encode(), "")
	u, err := url.Parse(w.Header().Get("Location"))
	if err != nil || w.Code != http.StatusFound || u.Query().Get("code") == "" {
		f.t.Fatalf("code grant: HTTP %d %s", w.Code, w.Body)
	}
	return u.Query().Get("code")
}

// api calls the API with an access token and returns the answer's code
// ("" for a success).
func (f *hkFake) api(at string) string {
	_, code := f.apiStatus(at)
	return code
}

// apiStatus calls the API with an access token and returns the HTTP status
// and the answer's code, if any.
func (f *hkFake) apiStatus(at string) (int, string) {
	r := httptest.NewRequest(http.MethodGet, "https://www.zohoapis.com/crm/v8/users?type=CurrentUser", nil)
	r.Header.Set("Authorization", "Zoho-oauthtoken "+at)
	w := httptest.NewRecorder()
	f.s.Handler().ServeHTTP(w, r)
	var m map[string]any
	_ = json.Unmarshal(w.Body.Bytes(), &m)
	code, _ := m["code"].(string)
	return w.Code, code
}

func (f *hkFake) locked(fn func()) {
	f.s.mu.Lock()
	defer f.s.mu.Unlock()
	fn()
}

// hkScale is how many items the tests below hold: past the sweeps' floor
// (1024), and quick under -race.
func hkScale() int { return 1500 }

// TestRevokedRefreshTokenIsForgotten: a revoked refresh token's record
// is gone, and the wire cannot tell (invalid_code on refresh, HTTP 400 on a
// second revocation), unless K4-TOKEN-CODE-c is broken: then the revoked
// token stays accepted.
func TestRevokedRefreshTokenIsForgotten(t *testing.T) {
	f := newHKFake(t, nil)
	rt, at := f.exchange(f.selfCode())
	if w := f.revoke(rt); w.Code != http.StatusOK {
		t.Fatalf("revoke: HTTP %d %s", w.Code, w.Body)
	}
	f.locked(func() {
		if f.s.refresh[rt] != nil || len(f.s.refresh) != 0 || len(f.s.userRTs) != 0 || len(f.s.access) != 0 {
			t.Errorf("after the revocation the fake holds %d refresh tokens (this one: %v), %d users' lists, %d access tokens; want none",
				len(f.s.refresh), f.s.refresh[rt] != nil, len(f.s.userRTs), len(f.s.access))
		}
	})
	if m := f.refresh(rt); m["error"] != zoho.ErrInvalidCode {
		t.Errorf("refresh with the revoked token: %v, want invalid_code", m)
	}
	if w := f.revoke(rt); w.Code != http.StatusBadRequest || !strings.Contains(w.Body.String(), zoho.ErrInvalidToken) {
		t.Errorf("second revocation: HTTP %d %s, want 400 invalid_token", w.Code, w.Body)
	}
	if f.s.Revoke(rt) {
		t.Error("Revoke knows the revoked token")
	}
	if code := f.api(at); code != zoho.CodeInvalidToken {
		t.Errorf("API with the revoked token's access token: %q, want INVALID_TOKEN", code)
	}

	t.Run("a loop of exchange and revoke keeps nothing", func(t *testing.T) {
		f := newHKFake(t, nil)
		n := hkScale()
		for range n {
			rt, _ := f.exchange(f.selfCode())
			if w := f.revoke(rt); w.Code != http.StatusOK {
				t.Fatalf("revoke: HTTP %d %s", w.Code, w.Body)
			}
		}
		f.locked(func() {
			if len(f.s.refresh) != 0 || len(f.s.access) != 0 || len(f.s.userRTs) != 0 {
				t.Errorf("after %d cycles: %d refresh tokens, %d access tokens, %d users' lists; want none", n, len(f.s.refresh), len(f.s.access), len(f.s.userRTs))
			}
			if len(f.s.grants) > 1024+8 {
				t.Errorf("after %d cycles the fake holds %d used grants", n, len(f.s.grants))
			}
			if len(f.selfC.grantTimes) > 64 {
				t.Errorf("after %d cycles the client keeps %d grant times", n, len(f.selfC.grantTimes))
			}
		})
	})

	t.Run("kept while K4-TOKEN-CODE-c is broken", func(t *testing.T) {
		f := newHKFake(t, nil)
		if err := f.s.Break(zoho.TokenCodeC); err != nil {
			t.Fatal(err)
		}
		rt, _ := f.exchange(f.selfCode())
		if w := f.revoke(rt); w.Code != http.StatusOK {
			t.Fatalf("revoke: HTTP %d %s", w.Code, w.Body)
		}
		f.locked(func() {
			if r := f.s.refresh[rt]; r == nil || !r.revoked {
				t.Error("the revoked token was forgotten although the break accepts it")
			}
		})
		if m := f.refresh(rt); m["access_token"] == "" {
			t.Errorf("refresh with the revoked token under the break: %v, want a token", m)
		}
	})
}

// TestGrantTimesAreBounded: a client's grant times (the record of the
// grant-token rate limit) stay bounded with no limit, with the limit's
// break on, and for a client that stops asking; those that can still
// count are kept.
func TestGrantTimesAreBounded(t *testing.T) {
	const bound = 64
	n := hkScale()
	t.Run("no limit", func(t *testing.T) {
		f := newHKFake(t, nil)
		for range n {
			f.selfCode()
		}
		f.locked(func() {
			if got := len(f.selfC.grantTimes); got > bound {
				t.Errorf("after %d codes with no limit the client keeps %d grant times, want at most %d", n, got, bound)
			}
		})
		// a limit set later still sees the recent grants
		l := f.s.Limits()
		l.GrantRate = zoho.Rate{Limit: 5, Window: time.Minute}
		if err := f.s.SetLimits(l); err != nil {
			t.Fatal(err)
		}
		if _, err := f.s.SelfClientCode(f.self.ID, SelfClientCodeRequest{Scopes: []string{hkScope}}); err == nil {
			t.Error("a limit of 5 a minute, set after a burst of codes, let one more through")
		}
		if err := f.s.Advance(time.Minute + time.Second); err != nil {
			t.Fatal(err)
		}
		f.selfCode() // the window has passed
	})
	t.Run("limit broken", func(t *testing.T) {
		f := newHKFake(t, func(l *zoho.Limits) { l.GrantRate = zoho.Rate{Limit: 5, Window: time.Minute} })
		if err := f.s.Break(zoho.Note4); err != nil {
			t.Fatal(err)
		}
		for range n {
			f.selfCode()
		}
		f.locked(func() {
			if got := len(f.selfC.grantTimes); got > bound {
				t.Errorf("after %d codes with K4-NOTE-4 broken the client keeps %d grant times, want at most %d", n, got, bound)
			}
		})
		f.s.Unbreak(zoho.Note4)
		if _, err := f.s.SelfClientCode(f.self.ID, SelfClientCodeRequest{Scopes: []string{hkScope}}); err == nil {
			t.Error("with the break off again, a code over the limit went through")
		}
	})
	t.Run("a client that stops asking", func(t *testing.T) {
		f := newHKFake(t, nil)
		for range n {
			f.selfCode()
		}
		if err := f.s.Advance(time.Hour); err != nil {
			t.Fatal(err)
		}
		for range n {
			f.codeGrant() // another client asks
		}
		f.locked(func() {
			if got := len(f.selfC.grantTimes); got > bound {
				t.Errorf("a client that stopped asking keeps %d grant times, want at most %d", got, bound)
			}
		})
		f.selfCode()
		f.locked(func() {
			if got := len(f.selfC.grantTimes); got != 1 {
				t.Errorf("an hour later, a new code leaves %d grant times of the client, want 1 (the window is a minute)", got)
			}
		})
	})
}

// TestHousekeepingIsBoundedPerRequest: with many outstanding codes and
// live tokens without a refresh token, no request makes the sweeps examine
// more than a few items, across several of the old sweep points (every
// 1024 grants or implicit tokens), and what the sweeps forget is what can
// no longer be used.
func TestHousekeepingIsBoundedPerRequest(t *testing.T) {
	f := newHKFake(t, nil)
	n := hkScale() * 3
	f.locked(func() {
		now := f.s.clock.Now()
		for range n {
			f.s.mintAccessLocked(nil, f.jsC, f.user, zoho.US, now)
			f.s.newGrantLocked(f.selfC, f.user, zoho.US, []string{hkScope}, "", true, true, now, 10*time.Minute)
		}
	})
	worst := 0
	swept := func(fn func()) {
		var before int
		f.locked(func() { before = f.s.swept })
		fn()
		f.locked(func() { worst = max(worst, f.s.swept-before) })
	}
	for range 3 * 1024 {
		swept(func() { f.implicit() })
		var code string
		swept(func() { code = f.codeGrant() })
		swept(func() {
			f.token(url.Values{"grant_type": {"authorization_code"}, "client_id": {f.web.ID}, "client_secret": {f.web.Secret}, "code": {code}, "redirect_uri": {hkRedirect}})
		})
	}
	if worst > 2*sweepStep {
		t.Errorf("a request made the sweeps examine %d items, with %d outstanding codes and %d tokens without a refresh token; want at most %d", worst, n, n, 2*sweepStep)
	}
}

// TestSweepsForgetWhatCannotBeUsed: expired and revoked tokens without a
// refresh token, used and long-expired codes are forgotten once the fake
// holds more than the floor, the wire cannot tell, and Tokens lists
// exactly the user's live ones.
func TestSweepsForgetWhatCannotBeUsed(t *testing.T) {
	f := newHKFake(t, nil)
	n := hkScale()
	var old, revoked []string
	for i := range n {
		at := f.implicit()
		if i%3 == 0 {
			if w := f.revoke(at); w.Code != http.StatusOK {
				t.Fatalf("revoke: HTTP %d %s", w.Code, w.Body)
			}
			revoked = append(revoked, at)
		} else {
			old = append(old, at)
		}
	}
	used := make([]string, 0, n)
	for range n {
		code := f.codeGrant()
		f.token(url.Values{"grant_type": {"authorization_code"}, "client_id": {f.web.ID}, "client_secret": {f.web.Secret}, "code": {code}, "redirect_uri": {hkRedirect}})
		used = append(used, code)
	}
	if err := f.s.Advance(2 * time.Hour); err != nil { // the first ones expire
		t.Fatal(err)
	}
	var live []string
	for range 2 * n {
		live = append(live, f.implicit())
		f.selfCode()
	}
	f.locked(func() {
		for _, at := range old {
			if f.s.access[at] != nil {
				t.Fatalf("an expired token without a refresh token is still held after %d more were issued", 2*n)
			}
		}
		if got := len(f.s.standalone[f.user]); got > len(live)+1024+sweepStep {
			t.Errorf("the index holds %d tokens of the user, %d of them live", got, len(live))
		}
		held := 0
		for _, code := range used {
			if f.s.grants[code] != nil {
				held++
			}
		}
		if held > 1024+sweepStep {
			t.Errorf("%d of %d used codes are still held", held, len(used))
		}
	})
	for _, at := range []string{old[0], revoked[0], old[len(old)-1]} {
		if code := f.api(at); code != zoho.CodeInvalidToken {
			t.Errorf("a forgotten token: %q, want INVALID_TOKEN", code)
		}
	}
	if m := f.token(url.Values{"grant_type": {"authorization_code"}, "client_id": {f.web.ID}, "client_secret": {f.web.Secret}, "code": {used[0]}, "redirect_uri": {hkRedirect}}); m["error"] != zoho.ErrInvalidCode {
		t.Errorf("a forgotten code: %v, want invalid_code", m)
	}
	toks, err := f.s.Tokens(hkUser)
	if err != nil {
		t.Fatal(err)
	}
	var got []string
	for _, a := range toks.AccessTokens {
		got = append(got, a.Token)
	}
	slices.Sort(got)
	want := slices.Clone(live)
	slices.Sort(want)
	if !slices.Equal(got, want) {
		t.Errorf("Tokens lists %d tokens without a refresh token, want the %d live ones", len(got), len(want))
	}
	if !slices.IsSortedFunc(toks.AccessTokens, func(a, b AccessTokenState) int {
		if c := a.Expires.Compare(b.Expires); c != 0 {
			return c
		}
		return strings.Compare(a.Token, b.Token)
	}) {
		t.Error("Tokens' access tokens are not in expiry order")
	}

	t.Run("kept while a break accepts them", func(t *testing.T) {
		f := newHKFake(t, nil)
		if err := f.s.Break(zoho.TokenCodeB); err != nil {
			t.Fatal(err)
		}
		var used []string
		for range n {
			code := f.codeGrant()
			f.token(url.Values{"grant_type": {"authorization_code"}, "client_id": {f.web.ID}, "client_secret": {f.web.Secret}, "code": {code}, "redirect_uri": {hkRedirect}})
			used = append(used, code)
		}
		if m := f.token(url.Values{"grant_type": {"authorization_code"}, "client_id": {f.web.ID}, "client_secret": {f.web.Secret}, "code": {used[0]}, "redirect_uri": {hkRedirect}}); m["access_token"] == "" {
			t.Errorf("a used code under K4-TOKEN-CODE-b: %v, want tokens", m)
		}
	})
}

// TestUncappedTokensArePruned: with the caps lifted, a refresh token's
// expired access tokens are forgotten a few at a time as new ones are
// issued, the oldest first.
func TestUncappedTokensArePruned(t *testing.T) {
	f := newHKFake(t, func(l *zoho.Limits) { l.AccessTokensPerRefreshToken, l.RefreshTokensPerUser = 0, 0 })
	rt, first := f.exchange(f.selfCode())
	const n = 100
	for range n - 1 {
		if m := f.refresh(rt); m["access_token"] == "" {
			t.Fatalf("refresh: %v", m)
		}
	}
	if err := f.s.Advance(2 * time.Hour); err != nil {
		t.Fatal(err)
	}
	var fresh []string
	for range 30 {
		fresh = append(fresh, f.refresh(rt)["access_token"])
	}
	if code := f.api(first); code != zoho.CodeInvalidToken {
		t.Errorf("an expired token: %q, want INVALID_TOKEN", code)
	}
	f.locked(func() {
		r := f.s.refresh[rt]
		if len(r.access) != len(fresh) || len(f.s.access) != len(fresh) {
			t.Errorf("after %d refreshes past the expiry of %d tokens: %d held by the refresh token, %d in all; want %d",
				len(fresh), n, len(r.access), len(f.s.access), len(fresh))
		}
	})
	if got := f.s.LiveAccessTokens(rt); !slices.Equal(got, fresh) {
		t.Errorf("LiveAccessTokens = %d tokens, want the %d fresh ones in order", len(got), len(fresh))
	}
}

// TestFinishedFaultsAreNotScanned: a fault that has fired its Times is
// still reported with its counters, but no request looks at it again.
func TestFinishedFaultsAreNotScanned(t *testing.T) {
	f := newHKFake(t, nil)
	const n = 2000
	for range n {
		if _, err := f.s.InjectFault(Fault{Kind: FaultStatus, Status: 503, Endpoint: EndpointAPI, Times: 1}); err != nil {
			t.Fatal(err)
		}
	}
	for i := range n {
		if status, _ := f.apiStatus("x"); status != 503 {
			t.Fatalf("request %d: HTTP %d, not the fault's 503", i, status)
		}
	}
	live, err := f.s.InjectFault(Fault{Kind: FaultStatus, Status: 500, Endpoint: EndpointAPI, DC: zoho.EU})
	if err != nil {
		t.Fatal(err)
	}
	f.s.faults.mu.Lock()
	before := f.s.faults.scanned
	f.s.faults.mu.Unlock()
	if code := f.api("x"); code != zoho.CodeInvalidToken {
		t.Fatalf("after the faults finished: %q, want the fake's own INVALID_TOKEN", code)
	}
	f.s.faults.mu.Lock()
	scanned := f.s.faults.scanned - before
	f.s.faults.mu.Unlock()
	if scanned > 1 {
		t.Errorf("a request looked at %d faults, with %d finished and 1 active", scanned, n)
	}
	all := f.s.Faults()
	if len(all) != n+1 || all[n].ID != live {
		t.Fatalf("Faults() lists %d faults, want %d", len(all), n+1)
	}
	for _, fs := range all[:n] {
		if !fs.Done || fs.Fired != 1 || fs.Matched != 1 {
			t.Fatalf("a finished fault is reported as %+v", fs)
		}
	}
	if all[n].Done || all[n].Matched != 0 {
		t.Errorf("the active fault is reported as %+v", all[n])
	}
	if !f.s.RemoveFault(live) || f.s.RemoveFault(live) {
		t.Error("RemoveFault of the active fault")
	}
	f.s.faults.mu.Lock()
	active := f.s.faults.active.Len()
	f.s.faults.mu.Unlock()
	if active != 0 {
		t.Errorf("%d active faults after removing the only one", active)
	}
}

// TestQueue: the sweeps' queue is first in, first out across many chunks,
// and an emptied queue holds no chunk.
func TestQueue(t *testing.T) {
	var q queue[int]
	next, want := 0, 0
	for round := range 5 {
		for range 1000 * (round + 1) {
			q.push(next)
			next++
		}
		for range 900 * (round + 1) {
			v, ok := q.pop()
			if !ok || v != want {
				t.Fatalf("pop = %d, %v; want %d", v, ok, want)
			}
			want++
		}
		if q.len() != next-want {
			t.Fatalf("len = %d, want %d", q.len(), next-want)
		}
	}
	for q.len() > 0 {
		v, _ := q.pop()
		if v != want {
			t.Fatalf("pop = %d, want %d", v, want)
		}
		want++
	}
	if _, ok := q.pop(); ok || want != next {
		t.Errorf("an empty queue popped, or lost items (%d of %d)", want, next)
	}
	if q.head != nil || q.tail != nil {
		t.Error("an empty queue keeps a chunk")
	}
	q.push(7) // usable again
	if v, ok := q.pop(); !ok || v != 7 {
		t.Errorf("pop after emptying = %d, %v", v, ok)
	}
}

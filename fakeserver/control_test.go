package fakeserver_test

import (
	"bytes"
	"encoding/json"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"net/url"
	"strings"
	"time"

	. "github.com/onsi/ginkgo/v2"
	. "github.com/onsi/gomega"

	"github.com/zconform/zconform/fakeserver"
	"github.com/zconform/zconform/fixtures/zoho"
)

// serveAs runs a request through the server's handler in-process, as if it
// came from remoteAddr (nothing is sent to that address).
func serveAs(srv *fakeserver.Server, remoteAddr, method, target, auth, body string) *httptest.ResponseRecorder {
	req := httptest.NewRequest(method, target, strings.NewReader(body))
	req.RemoteAddr = remoteAddr
	if auth != "" {
		req.Header.Set("Authorization", auth)
	}
	rec := httptest.NewRecorder()
	srv.Handler().ServeHTTP(rec, req)
	return rec
}

var _ = Describe("The control API", func() {
	var f *fake
	BeforeEach(func() { f = newFake(profileKaizen4) })

	expectBad := func(method, path, body string, status int, msg string) {
		GinkgoHelper()
		r := f.ctl(method, path, body)
		Expect(r.Status).To(Equal(status), "%s %s %s: %s", method, path, body, r.Body)
		Expect(r.JSON()["error"]).To(ContainSubstring(msg), "%s %s %s", method, path, body)
	}

	It("lists its endpoints, the profile, the clock, the DCs and the breaks", func() {
		for _, path := range []string{"", "/"} {
			var idx struct {
				Profile     string                       `json:"profile"`
				Clock       map[string]any               `json:"clock"`
				DataCentres map[string]map[string]string `json:"data_centres"`
				Breaks      []string                     `json:"breaks"`
				Endpoints   []string                     `json:"endpoints"`
			}
			f.ctlOK(http.MethodGet, path, "", &idx)
			Expect(idx.Profile).To(Equal(zoho.Kaizen4))
			Expect(idx.Clock).To(HaveKeyWithValue("virtual", true))
			Expect(idx.DataCentres).To(HaveLen(len(zoho.DataCentres())))
			Expect(idx.DataCentres["eu"]).To(Equal(map[string]string{"accounts_server": f.AccountsURL(zoho.EU), "api_domain": f.APIURL(zoho.EU)}))
			Expect(idx.Breaks).To(BeEmpty())
			Expect(idx.Endpoints).To(ContainElements(
				"POST /users", "GET /users", "GET /users/{email}/tokens",
				"POST /clients", "GET /clients", "GET /clients/{id}", "POST /clients/{id}/multi-dc",
				"POST /clients/{id}/consent", "POST /clients/{id}/self-client-code",
				"GET /refresh-tokens/{token}/access-tokens", "POST /revoke",
				"GET /clock", "POST /clock/advance", "POST /clock/set",
				"GET /breaks", "PUT /breaks", "POST /breaks/{id}", "DELETE /breaks/{id}",
				"GET /limits", "PUT /limits", "POST /scopes", "GET /requests?since=N", "POST /seed",
			))
		}
	})

	It("answers unknown endpoints and methods with a JSON 404", func() {
		for _, c := range []struct{ method, path string }{
			{http.MethodGet, "/nope"}, {http.MethodDelete, "/users"}, {http.MethodGet, "/clients/x/consent"},
			{http.MethodPatch, "/limits"}, {http.MethodGet, "/breaks/K4-NOTE-1/x"},
		} {
			expectBad(c.method, c.path, "", http.StatusNotFound, "no control endpoint")
		}
	})

	It("refuses invalid JSON and unknown fields with HTTP 400 and a message", func() {
		for _, c := range []struct{ path, body, msg string }{
			{"/users", `{`, "invalid JSON body"},
			{"/users", `[]`, "invalid JSON body"},
			{"/users", `{"email":1}`, "invalid JSON body"},
			{"/users", `{"email":"a@example.com","colour":"red"}`, `unknown field "colour"`},
			{"/users", `{"email":"a@example.com"} {"email":"b@example.com"}`, "more than one JSON value"},
			{"/clients", `{"type":"web","redirect_uri":"x"}`, `unknown field "redirect_uri"`},
			{"/clock/advance", `{"by":"1h","extra":1}`, "unknown field"},
			{"/clock/advance", `{"by":3600}`, "invalid JSON body"},
			{"/scopes", `{"scopes":"ZohoCRM.users.ALL"}`, "invalid JSON body"},
			{"/revoke", `{"tokens":["x"]}`, "unknown field"},
		} {
			expectBad(http.MethodPost, c.path, c.body, http.StatusBadRequest, c.msg)
		}
		expectBad(http.MethodPut, "/limits", `{"limit":{}}`, http.StatusBadRequest, "unknown field")
		expectBad(http.MethodPut, "/breaks", `{"on":"K4-NOTE-1"}`, http.StatusBadRequest, "invalid JSON body")
		big := `{"email":"` + strings.Repeat("a", 70<<10) + `@example.com"}`
		r := f.ctl(http.MethodPost, "/users", big)
		Expect(r.Status).To(BeNumerically(">=", 400))
		Expect(r.Status).To(BeNumerically("<", 500))
	})

	It("manages users and shows their tokens", func() {
		var u fakeserver.User
		f.ctlOK(http.MethodPost, "/users", `{"email":"alice@example.com","dc":"eu","first_name":"Alice"}`, &u)
		Expect(u).To(And(HaveField("Email", "alice@example.com"), HaveField("DC", zoho.EU), HaveField("FirstName", "Alice"), HaveField("LastName", "Tester")))
		Expect(u.ZUID).NotTo(BeEmpty())
		expectBad(http.MethodPost, "/users", `{"email":"ALICE@example.com"}`, http.StatusBadRequest, "already exists")
		expectBad(http.MethodPost, "/users", `{"email":"not-an-email"}`, http.StatusBadRequest, "not an email address")
		expectBad(http.MethodPost, "/users", `{"email":"b@example.com","dc":"mars"}`, http.StatusBadRequest, "unknown data centre")
		var users []fakeserver.User
		f.ctlOK(http.MethodGet, "/users", "", &users)
		Expect(users).To(Equal(f.Users()))
		Expect(users).To(ContainElement(u))

		var toks fakeserver.UserTokens
		f.ctlOK(http.MethodGet, "/users/alice@example.com/tokens", "", &toks)
		Expect(toks.User).To(Equal("alice@example.com"))
		Expect(toks.RefreshTokens).To(BeEmpty())
		Expect(toks.AccessTokens).To(BeEmpty())
		c := f.register(fakeserver.ClientSpec{Type: fakeserver.WebBased, Name: "a", Homepage: testHomepage, RedirectURIs: []string{testRedirectURI}, DC: zoho.EU, User: u.Email})
		t := f.offlineTokens(zoho.EU, c)
		f.ctlOK(http.MethodGet, "/users/"+url.PathEscape("alice@example.com")+"/tokens", "", &toks)
		Expect(toks.RefreshTokens).To(HaveLen(1))
		Expect(toks.RefreshTokens[0].Token).To(Equal(t.RefreshToken()))
		Expect(toks.RefreshTokens[0].ClientID).To(Equal(c.ID))
		Expect(toks.RefreshTokens[0].DC).To(Equal(zoho.EU))
		Expect(toks.RefreshTokens[0].AccessTokens).To(HaveLen(1))
		Expect(toks.RefreshTokens[0].AccessTokens[0].Token).To(Equal(t.AccessToken()))
		Expect(toks.RefreshTokens[0].AccessTokens[0].Expires).To(BeTemporally("==", f.Now().Add(time.Hour)))
		expectBad(http.MethodGet, "/users/nobody@example.com/tokens", "", http.StatusNotFound, "no user")
	})

	It("registers and shows clients, enables multi-DC, scripts consent", func() {
		var c fakeserver.Client
		f.ctlOK(http.MethodPost, "/clients", mustJSON(fakeserver.ClientSpec{
			Type: fakeserver.WebBased, Name: "ctl app", Homepage: testHomepage, RedirectURIs: []string{testRedirectURI},
		}), &c)
		Expect(c.ID).To(MatchRegexp(zoho.ClientIDPattern.String()))
		var list []fakeserver.Client
		f.ctlOK(http.MethodGet, "/clients", "", &list)
		Expect(list).To(Equal([]fakeserver.Client{c}))
		var one fakeserver.Client
		f.ctlOK(http.MethodGet, "/clients/"+c.ID, "", &one)
		Expect(one).To(Equal(c))
		expectBad(http.MethodGet, "/clients/1000.NOSUCHCLIENT000000000000000000", "", http.StatusNotFound, "no client")

		var md map[string]string
		f.ctlOK(http.MethodPost, "/clients/"+c.ID+"/multi-dc", `{"dc":"eu","separate_secret":true}`, &md)
		Expect(md["dc"]).To(Equal("eu"))
		Expect(md["secret"]).To(MatchRegexp(zoho.ClientSecretPattern.String()))
		f.ctlOK(http.MethodGet, "/clients/"+c.ID, "", &one)
		Expect(one.Secrets).To(Equal(map[zoho.DC]string{zoho.US: c.Secret, zoho.EU: md["secret"]}))
		expectBad(http.MethodPost, "/clients/"+c.ID+"/multi-dc", `{"dc":"us"}`, http.StatusBadRequest, "already")

		var q map[string]int
		f.ctlOK(http.MethodPost, "/clients/"+c.ID+"/consent", `{"answers":[{"deny":true},{}]}`, &q)
		Expect(q).To(Equal(map[string]int{"queued": 2}))
		Expect(f.authorize(zoho.US, authParams(c)).Query.Get("error")).To(Equal(zoho.ErrAccessDenied))
		f.grant(zoho.US, c)
		expectBad(http.MethodPost, "/clients/"+c.ID+"/consent", `{"answers":[{"user":"nobody@example.com"}]}`, http.StatusBadRequest, "no user")
		expectBad(http.MethodPost, "/clients/1000.NOSUCHCLIENT000000000000000000/consent", `{"answers":[{}]}`, http.StatusBadRequest, "no client")
	})

	It("generates self-client codes with a lifetime written as a string", func() {
		sc := f.selfClient(zoho.US, "")
		var out map[string]string
		f.ctlOK(http.MethodPost, "/clients/"+sc.ID+"/self-client-code", `{"scopes":["ZohoCRM.users.ALL"],"lifetime":"10m","description":"ci"}`, &out)
		Expect(out["code"]).To(MatchRegexp(zoho.TokenPattern.String()))
		f.advance(9 * time.Minute)
		expectTokens(f.exchange(zoho.US, sc, out["code"]))
		expectBad(http.MethodPost, "/clients/"+sc.ID+"/self-client-code", `{"scopes":["ZohoCRM.users.ALL"],"lifetime":"ten minutes"}`, http.StatusBadRequest, `write it like "3m"`)
		expectBad(http.MethodPost, "/clients/"+sc.ID+"/self-client-code", `{"scopes":["ZohoCRM.users.ALL"],"lifetime":"4m"}`, http.StatusBadRequest, "code lifetimes")
	})

	It("lists a refresh token's access tokens and revokes", func() {
		web := f.webClient(zoho.US)
		t := f.offlineTokens(zoho.US, web)
		more := f.mintAccess(zoho.US, web, t.RefreshToken(), 2)
		var ats map[string][]string
		f.ctlOK(http.MethodGet, "/refresh-tokens/"+t.RefreshToken()+"/access-tokens", "", &ats)
		Expect(ats["access_tokens"]).To(Equal(append([]string{t.AccessToken()}, more...)))
		f.ctlOK(http.MethodGet, "/refresh-tokens/"+zoho.NewToken()+"/access-tokens", "", &ats)
		Expect(ats["access_tokens"]).To(BeEmpty())
		Expect(ats).To(HaveKey("access_tokens"))

		var rv map[string]bool
		f.ctlOK(http.MethodPost, "/revoke", mustJSON(map[string]string{"token": more[0]}), &rv)
		Expect(rv).To(Equal(map[string]bool{"revoked": true}))
		f.expectTokenRejected(zoho.US, more[0])
		f.ctlOK(http.MethodPost, "/revoke", mustJSON(map[string]string{"token": t.RefreshToken()}), &rv)
		Expect(rv["revoked"]).To(BeTrue())
		f.expectTokenRejected(zoho.US, t.AccessToken())
		expectTokenError(f.refresh(zoho.US, web, t.RefreshToken()), zoho.ErrInvalidCode)
		f.ctlOK(http.MethodPost, "/revoke", mustJSON(map[string]string{"token": t.RefreshToken()}), &rv)
		Expect(rv["revoked"]).To(BeFalse())
	})

	It("moves the clock forward only", func() {
		start := f.Now()
		var clock struct {
			Now     time.Time `json:"now"`
			Virtual bool      `json:"virtual"`
		}
		f.ctlOK(http.MethodGet, "/clock", "", &clock)
		Expect(clock.Now).To(BeTemporally("==", start))
		Expect(clock.Virtual).To(BeTrue())
		f.ctlOK(http.MethodPost, "/clock/advance", `{"by":"61s"}`, &clock)
		Expect(clock.Now).To(BeTemporally("==", start.Add(61*time.Second)))
		Expect(f.Now()).To(BeTemporally("==", start.Add(61*time.Second)))
		expectBad(http.MethodPost, "/clock/advance", `{"by":"-1s"}`, http.StatusConflict, "only moves forward")
		expectBad(http.MethodPost, "/clock/advance", `{"by":"soon"}`, http.StatusBadRequest, `like "61s"`)
		expectBad(http.MethodPost, "/clock/advance", `{}`, http.StatusBadRequest, "not a duration")
		target := start.Add(48 * time.Hour).UTC()
		f.ctlOK(http.MethodPost, "/clock/set", mustJSON(map[string]time.Time{"now": target}), &clock)
		Expect(f.Now()).To(BeTemporally("==", target))
		expectBad(http.MethodPost, "/clock/set", mustJSON(map[string]time.Time{"now": start}), http.StatusConflict, "only moves forward")
		expectBad(http.MethodPost, "/clock/set", `{"now":"tomorrow"}`, http.StatusBadRequest, "invalid JSON body")

		// the Go API says the same
		Expect(f.Advance(-time.Second)).To(HaveOccurred())
		Expect(f.Clock().Set(start)).To(HaveOccurred())
		Expect(f.Clock().Virtual()).To(BeTrue())
	})

	It("starts the virtual clock where asked and refuses to move a real one", func() {
		at := time.Date(2030, 1, 2, 3, 4, 5, 0, time.UTC)
		g := newFake(profileKaizen4, fakeserver.WithStartTime(at))
		Expect(g.Now()).To(Equal(at))
		rc := newFake(profileKaizen4, fakeserver.WithRealClock())
		Expect(rc.Clock().Virtual()).To(BeFalse())
		Expect(rc.Advance(time.Second)).To(MatchError(fakeserver.ErrRealClock))
		Expect(rc.Clock().Set(time.Now().Add(time.Hour))).To(MatchError(fakeserver.ErrRealClock))
		r := rc.ctl(http.MethodPost, "/clock/advance", `{"by":"1s"}`)
		Expect(r.Status).To(Equal(http.StatusConflict))
		Expect(r.JSON()["error"]).To(ContainSubstring("real clock"))
		Expect(rc.Now()).To(BeTemporally("~", time.Now(), time.Minute))
	})

	It("switches breaks on and off", func() {
		type breaks struct {
			On []struct {
				ID     zoho.SeedID `json:"id"`
				Effect string      `json:"effect"`
			} `json:"on"`
		}
		var b breaks
		f.ctlOK(http.MethodGet, "/breaks", "", &b)
		Expect(b.On).To(BeEmpty())
		f.ctlOK(http.MethodPut, "/breaks", `{"on":["K4-NOTE-1","K4-NOTE-5"]}`, &b)
		Expect(b.On).To(HaveLen(2))
		Expect(b.On[0].ID).To(Equal(zoho.Note1))
		effect, _ := fakeserver.BreakEffect(zoho.Note1)
		Expect(b.On[0].Effect).To(Equal(effect))
		Expect(f.Breaks()).To(Equal([]zoho.SeedID{zoho.Note1, zoho.Note5}))
		f.ctlOK(http.MethodPost, "/breaks/K4-NOTE-8", "", &b)
		Expect(f.Breaks()).To(Equal([]zoho.SeedID{zoho.Note1, zoho.Note5, zoho.Note8}))
		f.ctlOK(http.MethodDelete, "/breaks/K4-NOTE-1", "", &b)
		Expect(f.Breaks()).To(Equal([]zoho.SeedID{zoho.Note5, zoho.Note8}))
		expectBad(http.MethodPost, "/breaks/K4-NOPE", "", http.StatusNotFound, "no break")
		expectBad(http.MethodPut, "/breaks", `{"on":["K4-NOTE-1","K4-NOPE"]}`, http.StatusBadRequest, "no break")
		Expect(f.Breaks()).To(Equal([]zoho.SeedID{zoho.Note5, zoho.Note8}))
		f.ctlOK(http.MethodPut, "/breaks", `{"on":[]}`, &b)
		Expect(f.Breaks()).To(BeEmpty())

		// the Go API
		Expect(f.Break(zoho.Note2, "K4-NOPE")).To(MatchError(ContainSubstring("no break")))
		Expect(f.Breaks()).To(BeEmpty())
		Expect(f.Break(zoho.Note2, zoho.Note3)).To(Succeed())
		f.Unbreak(zoho.Note2)
		Expect(f.Breaks()).To(Equal([]zoho.SeedID{zoho.Note3}))
		f.Unbreak()
		Expect(f.Breaks()).To(BeEmpty())
	})

	It("shows and sets limits: a profile, single overrides with durations as strings", func() {
		var lim struct {
			Profile string         `json:"profile"`
			Limits  map[string]any `json:"limits"`
		}
		f.ctlOK(http.MethodGet, "/limits", "", &lim)
		Expect(lim.Profile).To(Equal(zoho.Kaizen4))
		Expect(lim.Limits).To(HaveKeyWithValue("grant_lifetime", "1m0s"))
		Expect(lim.Limits).To(HaveKeyWithValue("access_tokens_per_refresh_token", BeNumerically("==", 30)))
		Expect(lim.Limits["grant_rate"]).To(Equal(map[string]any{"limit": float64(5), "window": "1m0s"}))

		f.ctlOK(http.MethodPut, "/limits", `{"profile":"accounts-2025"}`, &lim)
		Expect(lim.Profile).To(Equal(zoho.Accounts2025))
		Expect(f.Limits()).To(Equal(zoho.MustProfile(zoho.Accounts2025)))

		f.ctlOK(http.MethodPut, "/limits", `{"limits":{"grant_lifetime":"90s","grant_rate":{"limit":3},"access_tokens_per_refresh_token":4}}`, &lim)
		Expect(lim.Profile).To(Equal(zoho.Accounts2025))
		l := f.Limits()
		Expect(l.GrantLifetime).To(Equal(90 * time.Second))
		Expect(l.GrantRate).To(Equal(zoho.Rate{Limit: 3, Window: 10 * time.Minute}))
		Expect(l.AccessTokensPerRefreshToken).To(Equal(4))
		Expect(l.WrongSecretError).To(Equal(zoho.ErrInvalidClientSecret))

		// the overrides take effect
		web := f.webClient(zoho.US)
		for i := 0; i < 3; i++ {
			f.grant(zoho.US, web)
		}
		expectAuthError(f.authorize(zoho.US, authParams(web)), zoho.ErrAccessDenied)

		f.ctlOK(http.MethodPut, "/limits", `{"profile":"kaizen4","limits":{"refresh_tokens_per_user":2}}`, &lim)
		Expect(lim.Profile).To(Equal(zoho.Kaizen4))
		Expect(f.Limits().RefreshTokensPerUser).To(Equal(2))
		Expect(f.Limits().GrantLifetime).To(Equal(time.Minute))

		for _, c := range []struct{ body, msg string }{
			{`{"profile":"nope"}`, "unknown profile"},
			{`{"limits":{"grant_lifetime":90}}`, `durations are written like \"60s\"`},
			{`{"limits":{"grant_lifetime":"soon"}}`, "limits:"},
			{`{"limits":{"grant_life":"60s"}}`, "grant_life"},
			{`{"limits":{"grant_lifetime":"-1s"}}`, "grant_lifetime must be positive"},
			{`{"limits":{"self_client_default_lifetime":"4m"}}`, "self_client_default_lifetime must be one of"},
			{`{"limits":{"wrong_secret_error":"nope"}}`, "wrong_secret_error"},
			{`{"limits":{"grant_rate":{"limit":-1}}}`, "grant_rate"},
		} {
			r := f.ctl(http.MethodPut, "/limits", c.body)
			Expect(r.Status).To(Equal(http.StatusBadRequest), c.body)
			Expect(string(r.Body)).To(ContainSubstring(c.msg), c.body)
		}
		Expect(f.Limits().RefreshTokensPerUser).To(Equal(2))
		Expect(f.Profile()).To(Equal(zoho.Kaizen4))
	})

	It("adds scopes", func() {
		web := f.webClient(zoho.US)
		q := authParams(web)
		q.Set("scope", "ZohoCRM.custom.ALL")
		expectAuthError(f.authorize(zoho.US, q), zoho.ErrAuthScope)
		var out map[string]int
		f.ctlOK(http.MethodPost, "/scopes", `{"scopes":["ZohoCRM.custom.ALL","ZohoCRM.modules.custom.READ"]}`, &out)
		Expect(out).To(Equal(map[string]int{"added": 2}))
		expectCodeRedirect(f.authorize(zoho.US, q))
		expectBad(http.MethodPost, "/scopes", `{"scopes":["ZohoCRM.custom"]}`, http.StatusBadRequest, "Service.scope_name.OPERATION")
		expectBad(http.MethodPost, "/scopes", `{"scopes":["ZohoCRM.custom.EVERYTHING"]}`, http.StatusBadRequest, "Service.scope_name.OPERATION")
	})

	It("applies a seed file, or nothing of a broken one", func() {
		var out struct {
			Users   []fakeserver.User   `json:"users"`
			Clients []fakeserver.Client `json:"clients"`
		}
		f.ctlOK(http.MethodPost, "/seed", "users:\n  - {email: seeded@example.com, dc: eu}\nclients:\n  - {type: self, user: seeded@example.com}\n", &out)
		Expect(out.Users).To(ContainElement(HaveField("Email", "seeded@example.com")))
		Expect(out.Clients).To(ContainElement(HaveField("User", "seeded@example.com")))
		r := f.ctl(http.MethodPost, "/seed", "users:\n  - {email: other@example.com}\n  - {email: nope}\n")
		Expect(r.Status).To(Equal(http.StatusBadRequest))
		Expect(r.JSON()["error"]).To(ContainSubstring("seed:3"))
		Expect(f.Users()).NotTo(ContainElement(HaveField("Email", "other@example.com")))
	})

	It("serves the request log, since a sequence number", func() {
		web := f.webClient(zoho.US)
		f.grant(zoho.US, web)
		var all struct {
			Requests []fakeserver.Request `json:"requests"`
		}
		f.ctlOK(http.MethodGet, "/requests", "", &all)
		Expect(all.Requests).To(HaveLen(1))
		seq := all.Requests[0].Seq
		f.exchange(zoho.US, web, zoho.NewToken())
		f.ctlOK(http.MethodGet, "/requests?since="+jsonInt(seq), "", &all)
		Expect(all.Requests).To(HaveLen(1))
		Expect(all.Requests[0].Path).To(Equal("/oauth/v2/token"))
		Expect(all.Requests[0].Error).To(Equal(zoho.ErrInvalidCode))
		f.ctlOK(http.MethodGet, "/requests?since=1000", "", &all)
		Expect(all.Requests).To(BeEmpty())
		Expect(f.ctl(http.MethodGet, "/requests?since=1000", "").Body).To(ContainSubstring(`"requests":[]`))
		expectBad(http.MethodGet, "/requests?since=abc", "", http.StatusBadRequest, "sequence number")
		expectBad(http.MethodGet, "/requests?since=-1", "", http.StatusBadRequest, "sequence number")
	})

	Describe("access", func() {
		It("answers only loopback callers without a control token", func() {
			for _, addr := range []string{"192.0.2.1:1234", "[2001:db8::1]:443", "10.0.0.1:80", "garbage"} {
				rec := serveAs(f.Server, addr, http.MethodGet, "/_zconform/v1/users", "", "")
				Expect(rec.Code).To(Equal(http.StatusForbidden), addr)
				Expect(rec.Header().Get("Content-Type")).To(Equal("application/json;charset=UTF-8"))
				Expect(rec.Body.String()).To(ContainSubstring("only on loopback"))
			}
			rec := serveAs(f.Server, "192.0.2.1:1234", http.MethodPost, "/_zconform/v1/breaks/K4-NOTE-1", "", "")
			Expect(rec.Code).To(Equal(http.StatusForbidden))
			Expect(f.Breaks()).To(BeEmpty())
			for _, addr := range []string{"127.0.0.1:5555", "[::1]:5555", "127.1.2.3:1"} {
				rec := serveAs(f.Server, addr, http.MethodGet, "/_zconform/v1/users", "", "")
				Expect(rec.Code).To(Equal(http.StatusOK), addr)
			}
			// the Zoho endpoints answer everyone
			rec = serveAs(f.Server, "192.0.2.1:1234", http.MethodGet, "/accounts.zoho.com/oauth/v2/auth", "", "")
			Expect(rec.Code).To(Equal(http.StatusBadRequest))
			Expect(errorPageCode(rec.Body.Bytes())).To(Equal(zoho.ErrAuthResponseType))
		})

		It("needs the control token from everyone when one is set, and then answers beyond loopback", func() {
			g := newFake(profileKaizen4, fakeserver.WithControlToken("s3cret-token"))
			for _, auth := range []string{"", "Bearer wrong", "Bearer s3cret-token-and-more", "Basic czNjcmV0LXRva2Vu"} {
				rec := serveAs(g.Server, "127.0.0.1:1", http.MethodGet, "/_zconform/v1/users", auth, "")
				Expect(rec.Code).To(Equal(http.StatusUnauthorized), auth)
				Expect(rec.Body.String()).To(ContainSubstring("Authorization: Bearer"))
			}
			Expect(g.ctl(http.MethodGet, "/users", "").Status).To(Equal(http.StatusUnauthorized))
			for _, addr := range []string{"127.0.0.1:1", "192.0.2.1:1234"} {
				rec := serveAs(g.Server, addr, http.MethodPost, "/_zconform/v1/users", "Bearer s3cret-token", `{"email":"x`+strings.Split(addr, ":")[0]+`@example.com"}`)
				Expect(rec.Code).To(Equal(http.StatusOK), addr+": "+rec.Body.String())
			}
			Expect(g.Users()).To(HaveLen(2))
		})
	})
})

func jsonInt(n int64) string {
	data, _ := json.Marshal(n)
	return string(data)
}

var _ = Describe("The request log", func() {
	var (
		f   *fake
		web fakeserver.Client
	)
	BeforeEach(func() {
		f = newFake(profileKaizen4)
		web = f.webClient(zoho.US)
	})

	It("has an entry for each OAuth and API request, in order", func() {
		code := f.grant(zoho.US, web)
		t := expectTokens(f.exchange(zoho.US, web, code))
		f.exchange(zoho.US, web, code)
		f.refresh(zoho.US, web, t.RefreshToken())
		f.crmUsers(zoho.US, t.AccessToken())
		f.crmUsers(zoho.EU, t.AccessToken())
		f.userInfo(zoho.US, "Bearer", t.AccessToken())
		f.revoke(zoho.US, t.RefreshToken())
		q := authParams(web)
		q.Set("scope", "ZohoCRM.user.ALL")
		f.authorize(zoho.US, q)
		f.ctl(http.MethodGet, "/users", "") // the control API is not logged
		f.get(f.AccountsURL(zoho.US) + "/oauth/v2/nope")

		type row struct {
			DC     zoho.DC
			Role   string
			Method string
			Path   string
			Status int
			Error  string
		}
		var rows []row
		reqs := f.Requests()
		for i, r := range reqs {
			rows = append(rows, row{r.DC, r.Role, r.Method, r.Path, r.Status, r.Error})
			Expect(r.Seq).To(Equal(int64(i + 1)))
			Expect(r.Time).To(BeTemporally("==", f.Now()))
		}
		Expect(rows).To(Equal([]row{
			{zoho.US, "accounts", "GET", "/oauth/v2/auth", 302, ""},
			{zoho.US, "accounts", "POST", "/oauth/v2/token", 200, ""},
			{zoho.US, "accounts", "POST", "/oauth/v2/token", 200, zoho.ErrInvalidCode},
			{zoho.US, "accounts", "POST", "/oauth/v2/token", 200, ""},
			{zoho.US, "api", "GET", "/crm/v8/users", 200, ""},
			{zoho.EU, "api", "GET", "/crm/v8/users", 401, zoho.CodeInvalidToken},
			{zoho.US, "accounts", "GET", "/oauth/user/info", 200, ""},
			{zoho.US, "accounts", "POST", "/oauth/v2/token/revoke", 200, ""},
			{zoho.US, "accounts", "GET", "/oauth/v2/auth", 400, zoho.ErrAuthScope},
			{zoho.US, "accounts", "GET", "/oauth/v2/nope", 404, "not_found"},
		}))
		Expect(reqs[0].Params).To(HaveKeyWithValue("client_id", web.ID))
		Expect(reqs[0].Params).To(HaveKeyWithValue("state", testState))
		Expect(reqs[1].Params).To(HaveKeyWithValue("grant_type", "authorization_code"))
		Expect(f.RequestsSince(8)).To(HaveLen(2))
	})

	It("keeps the last n requests with WithRequestLogSize", func() {
		g := newFake(profileKaizen4, fakeserver.WithRequestLogSize(3))
		for i := 0; i < 5; i++ {
			g.get(g.AccountsURL(zoho.US) + "/oauth/v2/nope")
		}
		reqs := g.Requests()
		Expect(reqs).To(HaveLen(3))
		Expect(reqs[0].Seq).To(Equal(int64(3)))
		Expect(reqs[2].Seq).To(Equal(int64(5)))
		Expect(g.RequestsSince(4)).To(HaveLen(1))
		Expect(g.RequestsSince(0)).To(HaveLen(3))
	})

	It("never shows a secret whole: client secrets, codes and tokens are redacted", func() {
		var logBuf bytes.Buffer
		g := newFake(profileKaizen4, fakeserver.WithLogger(slog.New(slog.NewJSONHandler(&logBuf, nil))))
		c := g.webClient(zoho.US)
		eu, err := g.EnableMultiDC(c.ID, zoho.EU, fakeserver.MultiDC{SeparateSecret: true})
		Expect(err).NotTo(HaveOccurred())
		secrets := []string{c.Secret, eu}

		// urlencoded body
		code := g.grant(zoho.US, c)
		t := expectTokens(g.exchange(zoho.US, c, code))
		secrets = append(secrets, code, t.AccessToken(), t.RefreshToken())
		// query string
		code = g.grant(zoho.US, c)
		req := newRequest(http.MethodPost, g.AccountsURL(zoho.US)+"/oauth/v2/token?"+exchangeForm(c, zoho.US, code).Encode(), nil)
		t = expectTokens(toTokenResult(g.do(req)))
		secrets = append(secrets, code, t.AccessToken(), t.RefreshToken())
		// multipart and Basic
		code = g.grant(zoho.US, c)
		form := exchangeForm(c, zoho.US, code)
		form.Del("client_secret")
		body, ct := multipartBody(form)
		req = newRequest(http.MethodPost, g.AccountsURL(zoho.US)+"/oauth/v2/token", body)
		req.Header.Set("Content-Type", ct)
		req.SetBasicAuth(c.ID, c.Secret)
		t = expectTokens(toTokenResult(g.do(req)))
		secrets = append(secrets, code, t.AccessToken(), t.RefreshToken())
		// refresh, failed exchange with the other DC's secret, token checks, revoke
		r := expectTokens(g.refresh(zoho.US, c, t.RefreshToken()))
		secrets = append(secrets, r.AccessToken())
		bad := exchangeForm(c, zoho.US, g.grant(zoho.US, c))
		bad.Set("client_secret", eu)
		secrets = append(secrets, bad.Get("code"))
		g.tokenCall(zoho.US, bad)
		g.crmUsers(zoho.US, r.AccessToken())
		g.userInfo(zoho.US, "Bearer", r.AccessToken())
		g.revoke(zoho.US, r.AccessToken())
		g.postForm(g.AccountsURL(zoho.US)+"/oauth/v2/token/revoke", url.Values{"token": {t.RefreshToken()}})
		// secrets where they do not belong
		g.get(g.AccountsURL(zoho.US) + "/oauth/v2/auth?client_id=" + c.ID + "&note=" + c.Secret + "&access_token=" + t.AccessToken())
		g.get(g.AccountsURL(zoho.US) + "/oauth/v2/token/" + t.AccessToken())
		g.get(g.APIURL(zoho.US) + "/crm/v8/" + c.Secret)
		g.get(g.AccountsURL(zoho.US) + "/oauth/user/info?" + r.AccessToken())
		for _, auth := range []string{r.AccessToken(), "Zoho-oauthtoken\t" + r.AccessToken(), c.Secret} {
			req = newRequest(http.MethodGet, g.APIURL(zoho.US)+"/crm/v8/users", nil)
			req.Header.Set("Authorization", auth)
			g.do(req)
		}

		reqs := g.Requests()
		Expect(reqs).To(HaveLen(20))
		logged, err := json.Marshal(reqs)
		Expect(err).NotTo(HaveOccurred())
		var viaCtl bytes.Buffer
		viaCtl.Write(g.ctl(http.MethodGet, "/requests", "").Body)
		for _, s := range secrets {
			Expect(s).NotTo(BeEmpty())
			Expect(string(logged)).NotTo(ContainSubstring(s))
			Expect(viaCtl.String()).NotTo(ContainSubstring(s))
			Expect(logBuf.String()).NotTo(ContainSubstring(s))
		}
		// what is left is recognisable
		Expect(reqs[1].Params["client_secret"]).To(Equal(c.Secret[:4] + "…"))
		Expect(reqs[1].Params["code"]).To(HavePrefix("1000."))
		Expect(reqs[1].Params["client_id"]).To(Equal(c.ID))
		Expect(reqs[5].Params["authorization"]).To(Equal("Basic …"))
		Expect(strings.Count(logBuf.String(), `"msg":"request"`)).To(Equal(20))
	})
})

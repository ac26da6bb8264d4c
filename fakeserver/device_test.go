package fakeserver_test

// The device flow (docs/zoho-oauth-beyond.md section 1, ZA-DEV-*): one seed
// check per ZA-DEV ID, and the fake's own choices around it (bad input,
// the control API, the verification page, seed files, concurrency).

import (
	"encoding/json"
	"net/http"
	"net/url"
	"strings"
	"sync"
	"time"

	. "github.com/onsi/ginkgo/v2"
	. "github.com/onsi/gomega"

	"github.com/zconform/zconform/fakeserver"
	"github.com/zconform/zconform/fixtures/zoho"
)

// The device flow's numbers (docs/zoho-oauth-beyond.md section 1), the same
// under every profile, written out here rather than read from the profile.
const (
	devLifetime = 5 * time.Minute  // user_code "Validity: 5 minutes"; expires_in 300000 ms
	devInterval = 5 * time.Second  // interval 5000 ms
	devWindow   = 30 * time.Second // two polls within 30 s: slow_down
)

// deviceClient registers a device ("non-browser") client in dc.
func (f *fake) deviceClient(dc zoho.DC) fakeserver.Client {
	GinkgoHelper()
	return f.register(fakeserver.ClientSpec{Type: fakeserver.Device, Name: "zconform tv", Homepage: testHomepage, DC: dc})
}

// deviceParams are a complete initiation request for c, with kv set on top.
func deviceParams(c fakeserver.Client, kv ...string) url.Values {
	q := url.Values{"grant_type": {"device_request"}, "client_id": {c.ID}, "scope": {testScope}}
	for i := 0; i+1 < len(kv); i += 2 {
		q.Set(kv[i], kv[i+1])
	}
	return q
}

// deviceInit posts the initiation at dc's Accounts server, the parameters
// in the query string as Zoho's page shows them.
func (f *fake) deviceInit(dc zoho.DC, q url.Values) tokenResult {
	GinkgoHelper()
	return toTokenResult(f.do(newRequest(http.MethodPost, f.AccountsURL(dc)+"/oauth/v3/device/code?"+q.Encode(), nil)))
}

// deviceStart initiates for c at its home DC and returns the device code
// and the user code.
func (f *fake) deviceStart(c fakeserver.Client, kv ...string) (device, user string) {
	GinkgoHelper()
	r := f.deviceInit(c.DC, deviceParams(c, kv...))
	Expect(r.Status).To(Equal(http.StatusOK))
	Expect(r.Err()).To(BeEmpty(), "body: %s", r.Raw())
	return r.str("device_code"), r.str("user_code")
}

func pollParams(c fakeserver.Client, dc zoho.DC, code string) url.Values {
	return url.Values{"client_id": {c.ID}, "client_secret": {secretFor(c, dc)}, "grant_type": {"device_token"}, "code": {code}}
}

// poll posts the polling request at dc's Accounts server, the parameters in
// the query string.
func (f *fake) poll(dc zoho.DC, c fakeserver.Client, code string) tokenResult {
	GinkgoHelper()
	return f.pollWith(dc, pollParams(c, dc, code))
}

func (f *fake) pollWith(dc zoho.DC, q url.Values) tokenResult {
	GinkgoHelper()
	return toTokenResult(f.do(newRequest(http.MethodPost, f.AccountsURL(dc)+"/oauth/v3/device/token?"+q.Encode(), nil)))
}

// expectExactBody asserts HTTP 200 and exactly the JSON body want.
func expectExactBody(t tokenResult, want string) {
	GinkgoHelper()
	var w, g map[string]any
	Expect(json.Unmarshal([]byte(want), &w)).To(Succeed())
	Expect(json.Unmarshal([]byte(t.Raw()), &g)).To(Succeed())
	Expect(t.Status).To(Equal(http.StatusOK), "body: %s", t.Raw())
	Expect(g).To(Equal(w), "body: %s", t.Raw())
}

func (f *fake) approve(userCode, email string) {
	GinkgoHelper()
	Expect(f.ApproveDevice(userCode, email)).To(Succeed())
}

var (
	_ = registerSeedCheck(zoho.DevInit, func(f *fake) {
		tv := f.deviceClient(zoho.US)
		r := f.deviceInit(zoho.US, deviceParams(tv, "access_type", "offline", "prompt", "consent"))
		Expect(r.Status).To(Equal(http.StatusOK))
		Expect(r.ContentType()).To(Equal("application/json;charset=UTF-8"))
		Expect(r.Body).To(HaveLen(5), "body: %s", r.Raw())
		Expect(r.str("device_code")).To(MatchRegexp(zoho.TokenPattern.String()))
		Expect(r.str("user_code")).To(MatchRegexp(`^[B-DF-HJ-NP-TV-XZ2-9]{8}$`))
		Expect(r.str("verification_url")).To(Equal(f.AccountsURL(zoho.US) + "/oauth/v3/device"))
		Expect(r.Number("expires_in")).To(BeEquivalentTo(devLifetime.Milliseconds()), "milliseconds")
		Expect(r.Number("interval")).To(BeEquivalentTo(devInterval.Milliseconds()), "milliseconds")
		// a form body works too
		form := toTokenResult(f.postForm(f.AccountsURL(zoho.US)+"/oauth/v3/device/code", deviceParams(tv)))
		Expect(form.str("user_code")).To(MatchRegexp(`^[A-Z0-9]{8}$`), "body: %s", form.Raw())
		Expect(form.str("user_code")).NotTo(Equal(r.str("user_code")))
		// the AS is the app's DC: another DC does not know the app
		expectTokenError(f.deviceInit(zoho.EU, deviceParams(tv)), zoho.ErrInvalidClient)
		eu := f.deviceClient(zoho.EU)
		expectTokenError(f.deviceInit(zoho.US, deviceParams(eu)), zoho.ErrInvalidClient)
		Expect(f.deviceInit(zoho.EU, deviceParams(eu)).str("verification_url")).To(Equal(f.AccountsURL(zoho.EU) + "/oauth/v3/device"))
	})

	_ = registerSeedCheck(zoho.DevPoll, func(f *fake) {
		tv := f.deviceClient(zoho.US)
		code, _ := f.deviceStart(tv)
		expectTokenError(f.poll(zoho.US, tv, code), zoho.ErrAuthorizationPending)
		// in a form body too
		f.advance(devWindow)
		expectTokenError(toTokenResult(f.postForm(f.AccountsURL(zoho.US)+"/oauth/v3/device/token", pollParams(tv, zoho.US, code))), zoho.ErrAuthorizationPending)
		// the device code goes in code, not RFC 8628's device_code
		f.advance(devWindow)
		q := pollParams(tv, zoho.US, "")
		q.Del("code")
		q.Set("device_code", code)
		expectTokenError(f.pollWith(zoho.US, q), zoho.ErrInvalidRequest)
		// the client authenticates with its secret
		q = pollParams(tv, zoho.US, code)
		q.Set("client_secret", zoho.NewClientSecret())
		expectTokenError(f.pollWith(zoho.US, q), f.p.WrongSecret)
		q.Del("client_secret")
		expectTokenError(f.pollWith(zoho.US, q), f.p.WrongSecret)
		q = pollParams(tv, zoho.US, code)
		q.Set("grant_type", "urn:ietf:params:oauth:grant-type:device_code")
		expectTokenError(f.pollWith(zoho.US, q), zoho.ErrUnsupportedGrantType)
	})

	_ = registerSeedCheck(zoho.DevPending, func(f *fake) {
		tv := f.deviceClient(zoho.US)
		code, _ := f.deviceStart(tv)
		for range 3 {
			expectExactBody(f.poll(zoho.US, tv, code), `{"error":"authorization_pending"}`)
			f.advance(devWindow)
		}
	})

	_ = registerSeedCheck(zoho.DevSlowDown, func(f *fake) {
		tv := f.deviceClient(zoho.US)
		code, _ := f.deviceStart(tv)
		expectTokenError(f.poll(zoho.US, tv, code), zoho.ErrAuthorizationPending)
		expectExactBody(f.poll(zoho.US, tv, code), `{"error":"slow_down"}`)
		f.advance(devWindow - time.Second)
		expectTokenError(f.poll(zoho.US, tv, code), zoho.ErrSlowDown)
		f.advance(devWindow) // exactly one window after the last poll
		expectTokenError(f.poll(zoho.US, tv, code), zoho.ErrAuthorizationPending)
		// the polling interval the initiation names is not the window
		f.advance(devInterval)
		expectTokenError(f.poll(zoho.US, tv, code), zoho.ErrSlowDown)
		// each device code has its own window
		other, _ := f.deviceStart(tv)
		expectTokenError(f.poll(zoho.US, tv, other), zoho.ErrAuthorizationPending)
		// an approved code is slowed down too, and gets its tokens after the window
		f.advance(devWindow)
		third, user := f.deviceStart(tv)
		expectTokenError(f.poll(zoho.US, tv, third), zoho.ErrAuthorizationPending)
		f.approve(user, "")
		expectTokenError(f.poll(zoho.US, tv, third), zoho.ErrSlowDown)
		f.advance(devWindow)
		expectTokens(f.poll(zoho.US, tv, third))
	})

	_ = registerSeedCheck(zoho.DevDenied, func(f *fake) {
		tv := f.deviceClient(zoho.US)
		code, user := f.deviceStart(tv)
		expectTokenError(f.poll(zoho.US, tv, code), zoho.ErrAuthorizationPending)
		Expect(f.DenyDevice(user, "")).To(Succeed())
		f.advance(devWindow)
		expectExactBody(f.poll(zoho.US, tv, code), `{"error":"access_denied"}`)
		f.advance(devWindow)
		expectTokenError(f.poll(zoho.US, tv, code), zoho.ErrAccessDenied)
		// a decided code cannot be approved after all
		Expect(f.ApproveDevice(user, "")).To(MatchError(ContainSubstring("denied already")))
		f.advance(devWindow)
		expectTokenError(f.poll(zoho.US, tv, code), zoho.ErrAccessDenied)
	})

	_ = registerSeedCheck(zoho.DevExpired, func(f *fake) {
		tv := f.deviceClient(zoho.US)
		before, _ := f.deviceStart(tv)
		at, atUser := f.deviceStart(tv)
		after, _ := f.deviceStart(tv)
		f.advance(devLifetime - time.Second)
		expectTokenError(f.poll(zoho.US, tv, before), zoho.ErrAuthorizationPending)
		f.advance(time.Second)
		expectExactBody(f.poll(zoho.US, tv, at), `{"error":"expired"}`)
		Expect(f.ApproveDevice(atUser, "")).To(MatchError(ContainSubstring("expired")))
		f.advance(time.Second)
		expectTokenError(f.poll(zoho.US, tv, after), zoho.ErrExpired)
		expectTokenError(f.poll(zoho.US, tv, before), zoho.ErrExpired)
		// [assumed] an approved code the device did not collect in time expires too
		late, user := f.deviceStart(tv)
		f.approve(user, "")
		f.advance(devLifetime)
		expectTokenError(f.poll(zoho.US, tv, late), zoho.ErrExpired)
	})

	_ = registerSeedCheck(zoho.DevOtherDC, func(f *fake) {
		tv := f.deviceClient(zoho.US)
		euSecret, err := f.EnableMultiDC(tv.ID, zoho.EU, fakeserver.MultiDC{SeparateSecret: true})
		Expect(err).NotTo(HaveOccurred())
		tv.Secrets[zoho.EU] = euSecret
		eve := f.addUser("eve@example.eu", zoho.EU)
		code, user := f.deviceStart(tv)
		expectTokenError(f.poll(zoho.US, tv, code), zoho.ErrAuthorizationPending)
		expectTokenError(f.poll(zoho.EU, tv, code), zoho.ErrInvalidCode) // not the EU's code yet
		f.approve(user, eve.Email)
		f.advance(devWindow)
		expectExactBody(f.poll(zoho.US, tv, code), `{"user_location":"eu","error":"other_dc"}`)
		// the same code at the user's DC, with that DC's secret
		eu := expectTokens(f.poll(zoho.EU, tv, code))
		Expect(eu.APIDomain()).To(Equal(f.APIURL(zoho.EU)))
		f.expectTokenWorks(zoho.EU, eu.AccessToken())
		f.expectTokenRejected(zoho.US, eu.AccessToken())
		// the home DC's secret is not the EU's
		other, otherUser := f.deviceStart(tv)
		f.approve(otherUser, eve.Email)
		expectTokenError(f.pollWith(zoho.EU, pollParams(tv, zoho.US, other)), f.p.WrongSecret)
	})

	_ = registerSeedCheck(zoho.DevTokens, func(f *fake) {
		tv := f.deviceClient(zoho.US)
		code, user := f.deviceStart(tv) // access_type online, the default
		f.approve(user, "")
		t := expectTokens(f.poll(zoho.US, tv, code))
		Expect(t.Body).To(HaveLen(4), "body: %s", t.Raw())
		Expect(t.Has("refresh_token")).To(BeFalse(), "online: no refresh token: %s", t.Raw())
		Expect(t.str("token_type")).To(Equal("Bearer"))
		Expect(t.Number("expires_in")).To(BeEquivalentTo(3600), "seconds")
		Expect(t.APIDomain()).To(Equal(f.APIURL(zoho.US)))
		f.expectTokenWorks(zoho.US, t.AccessToken())
		// [assumed] a code that gave its tokens is answered invalid_code
		f.advance(devWindow)
		expectTokenError(f.poll(zoho.US, tv, code), zoho.ErrInvalidCode)

		// access_type=offline: a refresh token on the user's first consent to
		// the client, which refreshes as usual
		tv = f.deviceClient(zoho.US)
		code, user = f.deviceStart(tv, "access_type", "offline")
		f.approve(user, "")
		t = expectTokens(f.poll(zoho.US, tv, code))
		Expect(t.RefreshToken()).To(MatchRegexp(zoho.TokenPattern.String()))
		Expect(f.refreshTokensOf(tv.User)).To(ContainElement(t.RefreshToken()))
		expectTokens(f.refresh(zoho.US, tv, t.RefreshToken()))
		// a later offline consent gets none, unless prompt=consent
		code, user = f.deviceStart(tv, "access_type", "offline")
		f.approve(user, "")
		Expect(expectTokens(f.poll(zoho.US, tv, code)).Has("refresh_token")).To(BeFalse())
		code, user = f.deviceStart(tv, "access_type", "offline", "prompt", "consent")
		f.approve(user, "")
		Expect(expectTokens(f.poll(zoho.US, tv, code)).RefreshToken()).NotTo(BeEmpty())
	})

	_ = registerSeedCheck(zoho.DevUnits, func(f *fake) {
		tv := f.deviceClient(zoho.US)
		r := f.deviceInit(zoho.US, deviceParams(tv))
		Expect(r.Has("verification_uri_complete")).To(BeFalse(), "on no Zoho page: off by default: %s", r.Raw())
		l := f.Limits()
		l.DeviceVerificationURIComplete = true
		Expect(f.SetLimits(l)).To(Succeed())
		r = f.deviceInit(zoho.US, deviceParams(tv))
		Expect(r.Body).To(HaveLen(6), "body: %s", r.Raw())
		Expect(r.str("verification_uri_complete")).To(Equal(r.str("verification_url") + "?user_code=" + r.str("user_code")))
	})
)

var _ = Describe("The device flow", func() {
	var f *fake
	BeforeEach(func() { f = newFake(profileKaizen4) })

	It("refuses bad initiations as the token endpoint does, never with a 5xx", func() {
		tv := f.deviceClient(zoho.US)
		web := f.webClient(zoho.US)
		for _, c := range []struct {
			q    url.Values
			want string
		}{
			{deviceParams(tv, "grant_type", ""), zoho.ErrInvalidRequest},
			{deviceParams(tv, "grant_type", "authorization_code"), zoho.ErrUnsupportedGrantType},
			{deviceParams(tv, "client_id", ""), zoho.ErrInvalidClient},
			{deviceParams(tv, "client_id", "1000.NOSUCHCLIENT000000000000000000"), zoho.ErrInvalidClient},
			{deviceParams(web), zoho.ErrInvalidClient}, // [assumed] not a device client
			{deviceParams(tv, "scope", ""), zoho.ErrInvalidRequest},
			{deviceParams(tv, "scope", "ZohoCRM.user.ALL"), zoho.ErrInvalidScope},
		} {
			expectTokenError(f.deviceInit(zoho.US, c.q), c.want)
		}
		// the first value of a duplicated parameter counts, as at the token endpoint
		q := deviceParams(tv)
		q.Add("client_id", "1000.NOSUCHCLIENT000000000000000000")
		Expect(f.deviceInit(zoho.US, q).str("user_code")).NotTo(BeEmpty())
		r := f.get(f.AccountsURL(zoho.US) + "/oauth/v3/device/code?" + deviceParams(tv).Encode())
		Expect(r.Status).To(Equal(http.StatusMethodNotAllowed))
		Expect(r.JSON()).To(HaveKeyWithValue("error", zoho.ErrInvalidRequest))
		big := f.postForm(f.AccountsURL(zoho.US)+"/oauth/v3/device/code", url.Values{"scope": {strings.Repeat("x", 70<<10)}})
		Expect(big.Status).To(Equal(http.StatusRequestEntityTooLarge))
		Expect(f.PendingDevices()).To(HaveLen(1))
	})

	It("refuses bad polls: unknown, foreign and used codes get invalid_code, never a 5xx", func() {
		tv := f.deviceClient(zoho.US)
		other := f.deviceClient(zoho.US)
		code, user := f.deviceStart(tv)
		expectTokenError(f.poll(zoho.US, tv, zoho.NewToken()), zoho.ErrInvalidCode)
		expectTokenError(f.poll(zoho.US, tv, "nonsense"), zoho.ErrInvalidCode)
		expectTokenError(f.poll(zoho.US, other, code), zoho.ErrInvalidCode) // another client's code
		q := pollParams(tv, zoho.US, code)
		q.Set("client_id", "1000.NOSUCHCLIENT000000000000000000")
		expectTokenError(f.pollWith(zoho.US, q), zoho.ErrInvalidClient)
		q = pollParams(tv, zoho.US, code)
		q.Del("grant_type")
		expectTokenError(f.pollWith(zoho.US, q), zoho.ErrInvalidRequest)
		// none of these counted as a poll of the code
		expectTokenError(f.poll(zoho.US, tv, code), zoho.ErrAuthorizationPending)
		r := f.get(f.AccountsURL(zoho.US) + "/oauth/v3/device/token?" + pollParams(tv, zoho.US, code).Encode())
		Expect(r.Status).To(Equal(http.StatusMethodNotAllowed))
		// HTTP Basic works as at the token endpoint
		f.approve(user, "")
		f.advance(devWindow)
		req := newRequest(http.MethodPost, f.AccountsURL(zoho.US)+"/oauth/v3/device/token?"+url.Values{"grant_type": {"device_token"}, "code": {code}}.Encode(), nil)
		req.SetBasicAuth(tv.ID, tv.Secret)
		expectTokens(toTokenResult(f.do(req)))
		f.advance(devWindow)
		expectTokenError(f.poll(zoho.US, tv, code), zoho.ErrInvalidCode)
	})

	It("lets a user approve or deny through the control API, and lists what waits", func() {
		tv := f.deviceClient(zoho.US)
		code, user := f.deviceStart(tv, "scope", "ZohoCRM.users.ALL")
		var idx struct {
			Endpoints []string `json:"endpoints"`
		}
		f.ctlOK(http.MethodGet, "", "", &idx)
		Expect(idx.Endpoints).To(ContainElements("GET /devices", "POST /devices/approve", "POST /devices/deny"))
		var list struct {
			Devices []fakeserver.DeviceAuthorization `json:"devices"`
		}
		f.ctlOK(http.MethodGet, "/devices", "", &list)
		Expect(list.Devices).To(HaveLen(1))
		Expect(list.Devices[0].UserCode).To(Equal(user))
		Expect(list.Devices[0].ClientID).To(Equal(tv.ID))
		Expect(list.Devices[0].DC).To(Equal(zoho.US))
		Expect(list.Devices[0].Scopes).To(Equal([]string{"ZohoCRM.users.ALL"}))
		Expect(list.Devices[0].Expires).To(BeTemporally("==", f.Now().Add(devLifetime)))

		r := f.ctl(http.MethodPost, "/devices/approve", `{"user_code":"NOPE2345"}`)
		Expect(r.Status).To(Equal(http.StatusNotFound))
		Expect(string(r.Body)).To(ContainSubstring("GET /_zconform/v1/devices"))
		r = f.ctl(http.MethodPost, "/devices/approve", `{}`)
		Expect(r.Status).To(Equal(http.StatusBadRequest))
		r = f.ctl(http.MethodPost, "/devices/approve", mustJSON(map[string]string{"user_code": user, "user": "nobody@example.com"}))
		Expect(r.Status).To(Equal(http.StatusBadRequest))
		// a person may type it in lower case, with a dash
		typed := strings.ToLower(user[:4] + "-" + user[4:])
		var ok map[string]string
		f.ctlOK(http.MethodPost, "/devices/approve", mustJSON(map[string]string{"user_code": typed}), &ok)
		Expect(ok).To(Equal(map[string]string{"user_code": user, "state": "approved"}))
		r = f.ctl(http.MethodPost, "/devices/deny", mustJSON(map[string]string{"user_code": user}))
		Expect(r.Status).To(Equal(http.StatusConflict))
		f.ctlOK(http.MethodGet, "/devices", "", &list)
		Expect(list.Devices).To(BeEmpty())
		expectTokens(f.poll(zoho.US, tv, code))

		code, user = f.deviceStart(tv)
		f.ctlOK(http.MethodPost, "/devices/deny", mustJSON(map[string]string{"user_code": user}), &ok)
		Expect(ok["state"]).To(Equal("denied"))
		expectTokenError(f.poll(zoho.US, tv, code), zoho.ErrAccessDenied)
	})

	It("serves the verification URL as a page where a person approves or denies", func() {
		tv := f.deviceClient(zoho.US)
		eve := f.addUser("eve@example.eu", zoho.EU)
		r := f.deviceInit(zoho.US, deviceParams(tv))
		page := f.get(r.str("verification_url") + "?user_code=" + r.str("user_code"))
		Expect(page.Status).To(Equal(http.StatusOK))
		Expect(page.ContentType()).To(HavePrefix("text/html"))
		Expect(string(page.Body)).To(ContainSubstring(`value="` + r.str("user_code") + `"`))
		Expect(string(page.Body)).To(ContainSubstring(eve.Email))
		post := f.postForm(r.str("verification_url"), url.Values{"user_code": {r.str("user_code")}, "zconform_user": {eve.Email}, "zconform_decision": {"approve"}})
		Expect(post.Status).To(Equal(http.StatusOK))
		Expect(string(post.Body)).To(ContainSubstring("Device approved"))
		expectExactBody(f.poll(zoho.US, tv, r.str("device_code")), `{"user_location":"eu","error":"other_dc"}`)
		again := f.postForm(r.str("verification_url"), url.Values{"user_code": {r.str("user_code")}, "zconform_decision": {"deny"}})
		Expect(again.Status).To(Equal(http.StatusBadRequest))
		Expect(string(again.Body)).To(ContainSubstring("approved already"))
		Expect(f.postForm(r.str("verification_url"), url.Values{"user_code": {"x"}}).Status).To(Equal(http.StatusBadRequest))
	})

	It("works in-process on Zoho's real host names, the verification URL included", func() {
		tv := f.deviceClient(zoho.EU)
		hc := f.HTTPClient()
		resp, err := hc.Post("https://accounts.zoho.eu/oauth/v3/device/code?"+deviceParams(tv).Encode(), "", nil)
		Expect(err).NotTo(HaveOccurred())
		var init map[string]any
		Expect(json.NewDecoder(resp.Body).Decode(&init)).To(Succeed())
		resp.Body.Close()
		Expect(init).To(HaveKeyWithValue("verification_url", "https://accounts.zoho.eu/oauth/v3/device"))
		Expect(f.ApproveDevice(init["user_code"].(string), "")).To(Succeed())
		resp, err = hc.PostForm("https://accounts.zoho.eu/oauth/v3/device/token", pollParams(tv, zoho.EU, init["device_code"].(string)))
		Expect(err).NotTo(HaveOccurred())
		var tok map[string]any
		Expect(json.NewDecoder(resp.Body).Decode(&tok)).To(Succeed())
		resp.Body.Close()
		Expect(tok).To(HaveKeyWithValue("api_domain", "https://www.zohoapis.eu"))
		Expect(tok).To(HaveKey("access_token"))
	})

	It("keeps the CN instance apart: a CN user cannot approve a US device", func() {
		tv := f.deviceClient(zoho.US)
		cn := f.addUser("li@example.cn", zoho.CN)
		_, user := f.deviceStart(tv)
		Expect(f.ApproveDevice(user, cn.Email)).To(MatchError(ContainSubstring("separate instance")))
		Expect(f.PendingDevices()).To(HaveLen(1))
	})

	It("registers device clients from a seed file", func() {
		seed, err := fakeserver.ParseSeed("seed.yaml", []byte(`
clients:
  - id: 1000.SEEDDEVICE00000000000000000001
    secret: 0123456789abcdef0123456789abcdef0123456789
    type: device
    name: Seeded TV
    homepage: https://tv.example.com
`))
		Expect(err).NotTo(HaveOccurred())
		Expect(f.ApplySeed(seed)).To(Succeed())
		tv, err := f.RegisteredClient("1000.SEEDDEVICE00000000000000000001")
		Expect(err).NotTo(HaveOccurred())
		code, user := f.deviceStart(tv)
		f.approve(user, "")
		expectTokens(f.poll(zoho.US, tv, code))
	})

	It("answers many devices polling at once, consistently (go test -race)", func() {
		tv := f.deviceClient(zoho.US)
		const n = 16
		codes, users := make([]string, n), make([]string, n)
		for i := range n {
			codes[i], users[i] = f.deviceStart(tv, "access_type", "offline", "prompt", "consent")
		}
		var wg sync.WaitGroup
		results := make([][]string, n)
		for i := range n {
			wg.Go(func() {
				defer GinkgoRecover()
				for range 4 {
					r := f.poll(zoho.US, tv, codes[i])
					results[i] = append(results[i], r.Err())
				}
			})
			wg.Go(func() {
				defer GinkgoRecover()
				Expect(f.ApproveDevice(users[i], "")).To(Succeed())
			})
		}
		wg.Wait()
		for i := range n {
			// the first poll is answered pending, or with the tokens when the
			// approval came first; the rest slow_down, or invalid_code once
			// the code gave its tokens
			if results[i][0] == "" {
				Expect(results[i][1:]).To(HaveEach(zoho.ErrInvalidCode), "device %d: %v", i, results[i])
			} else {
				Expect(results[i][0]).To(Equal(zoho.ErrAuthorizationPending), "device %d: %v", i, results[i])
				Expect(results[i][1:]).To(HaveEach(zoho.ErrSlowDown), "device %d: %v", i, results[i])
			}
		}
		f.advance(devWindow)
		for i := range n {
			r := f.poll(zoho.US, tv, codes[i])
			if results[i][0] == "" {
				expectTokenError(r, zoho.ErrInvalidCode)
			} else {
				expectTokens(r)
			}
		}
		Expect(f.refreshTokensOf(tv.User)).To(HaveLen(n), "one refresh token per device, under the user's cap")
	})
})

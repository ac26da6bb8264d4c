package fakeserver

// The device flow's fuzz target and housekeeping test (inside the package,
// so that they can see the device codes the fake holds). See fuzz_test.go
// for the fixture (fzWorld) and the invariants.

import (
	"encoding/json"
	"net/http"
	"net/url"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/zconform/zconform/fixtures/zoho"
)

const (
	fzDevID       = "1000.FUZZDEVICECLIENT00000000000004"
	fzDevSecret   = "9999999999aaaaaaaaaabbbbbbbbbbcccccccccc77"
	fzDevEUSecret = "1111111111222222222233333333334444444444cd"
)

// fzDevices is a fzWorld with a device client (home US, multi-DC EU with
// its own secret) and device codes in every state.
type fzDevices struct {
	*fzWorld
	pending, approved, eve, denied string // device codes
	user                           string // the pending one's user code
}

func newFzDevices(t testing.TB, opts ...Option) *fzDevices {
	t.Helper()
	w := &fzDevices{fzWorld: newFzWorld(t, opts...)}
	s := w.s
	_, err := s.RegisterClient(ClientSpec{ID: fzDevID, Secret: fzDevSecret, Type: Device, Name: "fuzz tv", Homepage: "https://tv.example.com", User: fzAlice})
	fzCheck(t, err)
	_, err = s.EnableMultiDC(fzDevID, zoho.EU, MultiDC{SeparateSecret: true, Secret: fzDevEUSecret})
	fzCheck(t, err)
	start := func() (code, user string) {
		t.Helper()
		rec := fzServe(s, fzReq{method: http.MethodPost, path: "/accounts.zoho.com" + zoho.DeviceCodePath,
			query: url.Values{"grant_type": {"device_request"}, "client_id": {fzDevID}, "scope": {"ZohoCRM.users.ALL"}, "access_type": {"offline"}}.Encode()})
		var m struct {
			Code string `json:"device_code"`
			User string `json:"user_code"`
		}
		if err := json.Unmarshal(rec.Body.Bytes(), &m); err != nil || m.Code == "" || m.User == "" {
			t.Fatalf("fixture initiation: %s", rec.Body)
		}
		return m.Code, m.User
	}
	var u string
	w.pending, w.user = start()
	w.approved, u = start()
	fzCheck(t, s.ApproveDevice(u, ""))
	w.eve, u = start()
	fzCheck(t, s.ApproveDevice(u, fzEve))
	w.denied, u = start()
	fzCheck(t, s.DenyDevice(u, ""))
	w.secrets = append(w.secrets, fzDevSecret, fzDevEUSecret, w.pending, w.approved, w.eve, w.denied)
	return w
}

func (w *fzDevices) expand(s string) string {
	return w.fzWorld.expand(strings.NewReplacer(
		"{DEVID}", fzDevID, "{DEVSECRET}", fzDevSecret, "{DEVEUSECRET}", fzDevEUSecret,
		"{DPENDING}", w.pending, "{DAPPROVED}", w.approved, "{DEVE}", w.eve, "{DDENIED}", w.denied, "{UCODE}", w.user,
	).Replace(s))
}

func (w *fzDevices) deviceCount() int {
	w.s.mu.Lock()
	defer w.s.mu.Unlock()
	return len(w.s.devices.byCode)
}

// fzDeviceErrors are the answers a device endpoint may refuse with.
var fzDeviceErrors = []string{
	zoho.ErrInvalidRequest, zoho.ErrUnsupportedGrantType, zoho.ErrInvalidClient, zoho.ErrInvalidClientSecret,
	zoho.ErrInvalidScope, zoho.ErrInvalidCode, zoho.ErrAuthorizationPending, zoho.ErrSlowDown, zoho.ErrAccessDenied,
	zoho.ErrExpired, zoho.ErrOtherDC,
}

// FuzzDeviceEndpoints: the device flow's POST {AS}/oauth/v3/device/code,
// POST {AS}/oauth/v3/device/token and its verification page
// {AS}/oauth/v3/device with any parameters, in the query string or a body,
// with or without HTTP Basic.
//
// route: bit 0 real host name / path prefix, bits 1-2 the DC (us, eu, in),
// bits 3-5 the method (mostly POST), bit 6 the poll (else the initiation),
// bit 7 the accounts-2025 profile; with bits 6 and 3-5 all set (a DELETE
// poll), the verification page instead (GET or POST by bit 3 of ctype).
// ctype: urlencoded, multipart, none, JSON. basic: as FuzzTokenEndpoint's.
// after: seconds the virtual clock moves first (mod 400: within and past
// a device code's life).
func FuzzDeviceEndpoints(f *testing.F) {
	initQ := fzForm("grant_type", "device_request", "client_id", "{DEVID}", "scope", "ZohoCRM.users.ALL,ZohoCRM.org.READ", "access_type", "offline", "prompt", "consent")
	poll := func(code, secret string) string {
		return fzForm("client_id", "{DEVID}", "client_secret", secret, "grant_type", "device_token", "code", code)
	}
	for _, s := range []struct {
		route, ctype uint8
		body, query  string
		basic        string
		after        uint16
	}{
		{0, 2, "", initQ, "", 0},
		{1, 0, initQ, "", "", 0},
		{0, 1, fzMultipart("grant_type", "device_request", "client_id", "{DEVID}", "scope", "ZohoCRM.users.ALL"), "", "", 0},
		{2, 2, "", initQ, "", 0}, // at the EU: not the app's DC
		{0, 2, "", strings.Replace(initQ, "{DEVID}", "{ID}", 1), "", 0},
		{0, 2, "", strings.Replace(initQ, "ZohoCRM.users.ALL", "ZohoCRM.user.ALL", 1), "", 0},
		{0, 2, "", "grant_type=device_request&client_id={DEVID}&client_id=x&scope=", "", 0},
		{0x40, 2, "", poll("{DPENDING}", "{DEVSECRET}"), "", 0},
		{0x40, 2, "", poll("{DPENDING}", "{DEVSECRET}"), "", 301},
		{0x41, 0, poll("{DAPPROVED}", "{DEVSECRET}"), "", "", 0},
		{0x40, 2, "", poll("{DEVE}", "{DEVSECRET}"), "", 0},
		{0x42, 2, "", poll("{DEVE}", "{DEVEUSECRET}"), "", 0},
		{0x42, 2, "", poll("{DPENDING}", "{DEVEUSECRET}"), "", 0},
		{0x40, 2, "", poll("{DDENIED}", "{DEVSECRET}"), "", 0},
		{0x40, 2, "", poll("{CODE}", "{DEVSECRET}"), "", 0},
		{0x40, 2, "", poll("{DAPPROVED}", "wrong"), "", 0},
		{0x40, 0, fzForm("grant_type", "device_token", "code", "{DAPPROVED}"), "", "{DEVID}:{DEVSECRET}", 0},
		{0x40, 3, `{"grant_type":"device_token","code":"{DAPPROVED}"}`, "", "", 0},
		{0x48, 2, "", poll("{DAPPROVED}", "{DEVSECRET}"), "", 0}, // GET
		{0x80 | 0x40, 2, "", poll("{DAPPROVED}", "{DEVSECRET}"), "", 40},
		{0x40, 2, "", "grant_type=%zz&code=%ff;x", "", 0},
		{0x78, 0, "", "user_code={UCODE}", "", 0},
		{0x78, 8, "user_code={UCODE}&zconform_decision=approve&zconform_user={EVE}", "", "", 0},
		{0x78, 8, "user_code=nope&zconform_decision=deny", "", "", 0},
	} {
		f.Add(s.route, s.ctype, []byte(s.body), s.query, s.basic, s.after)
	}
	f.Fuzz(func(t *testing.T, route, ctype uint8, body []byte, query, basic string, after uint16) {
		w := newFzDevices(t, fzProfile(route))
		fzCheck(t, w.s.Advance(time.Duration(after%400)*time.Second))
		path := zoho.DeviceCodePath
		method := fzMethods[route>>3&7]
		page := route&0x78 == 0x78
		switch {
		case page:
			path, method = zoho.DeviceVerifyPath, http.MethodGet
			if ctype&8 != 0 {
				method = http.MethodPost
			}
		case route&0x40 != 0:
			path = zoho.DeviceTokenPath
		}
		host, full := fzRoute(route, path)
		q := fzReq{method: method, host: host, path: full, query: w.expand(query), body: w.expand(string(body))}
		switch ctype % 4 {
		case 0:
			q.ctype = "application/x-www-form-urlencoded"
		case 1:
			q.ctype = "multipart/form-data; boundary=" + fzBoundary
		case 3:
			q.ctype = "application/json"
		}
		q.auth = w.authorization(basic)
		before, devices := fzSnap(w.s), w.deviceCount()
		pending := len(w.s.PendingDevices())
		rec := fzServe(w.s, q)
		after2 := fzSnap(w.s)
		fzNo5xx(t, rec)
		if page {
			switch ct := rec.Header().Get("Content-Type"); {
			case rec.Code == http.StatusOK || rec.Code == http.StatusBadRequest && strings.HasPrefix(ct, "text/html"):
				if !strings.HasPrefix(ct, "text/html") {
					t.Fatalf("the page answered HTTP %d with %q", rec.Code, ct)
				}
			default:
				fzErrorMember(t, fzJSONObject(t, rec), rec.Code)
			}
			// a decision records the user's consent, and changes no token
			if before.tokens != after2.tokens {
				t.Fatalf("the verification page changed the tokens:\n%s", fzDiff(before.tokens, after2.tokens))
			}
			if got := len(w.s.PendingDevices()); got != pending && got != pending-1 {
				t.Fatalf("the page changed %d pending authorizations", pending-got)
			}
			w.checkLog(t, rec.Code)
			return
		}
		m := fzJSONObject(t, rec)
		var issued []string
		switch {
		case m["device_code"] != nil:
			code, _ := m["device_code"].(string)
			user, _ := m["user_code"].(string)
			issued = append(issued, code)
			if path != zoho.DeviceCodePath || rec.Code != http.StatusOK || m["error"] != nil || len(m) != 5 || !zoho.TokenPattern.MatchString(code) || len(user) != 8 {
				t.Fatalf("a malformed initiation answer: HTTP %d %v", rec.Code, m)
			}
			if w.deviceCount() != devices+1 {
				t.Fatalf("an initiation added %d device codes", w.deviceCount()-devices)
			}
			before.same(t, after2, false, "an initiation")
		case m["access_token"] != nil:
			at, _ := m["access_token"].(string)
			rt, _ := m["refresh_token"].(string)
			issued = append(issued, at, rt)
			if path != zoho.DeviceTokenPath || rec.Code != http.StatusOK || m["error"] != nil || !zoho.TokenPattern.MatchString(at) || m["token_type"] != "Bearer" {
				t.Fatalf("a malformed poll success: HTTP %d %v", rec.Code, m)
			}
			w.s.mu.Lock()
			live := w.s.access[at] != nil && (rt == "" || w.s.refresh[rt] != nil)
			w.s.mu.Unlock()
			if !live {
				t.Fatalf("the tokens answered are not in the server: %v", m)
			}
		default:
			e := fzErrorMember(t, m, rec.Code)
			switch {
			case rec.Code == http.StatusMethodNotAllowed, rec.Code == http.StatusRequestEntityTooLarge, rec.Code == http.StatusBadRequest && e == zoho.ErrInvalidRequest:
				if d, _ := m["error_description"].(string); d == "" {
					t.Fatalf("HTTP %d without a description: %v", rec.Code, m)
				}
			case !slices.Contains(fzDeviceErrors, e):
				t.Fatalf("an undocumented error: HTTP %d %v", rec.Code, m)
			case rec.Code != http.StatusOK:
				t.Fatalf("error %s with HTTP %d", e, rec.Code)
			case e == zoho.ErrOtherDC && (len(m) != 2 || m["user_location"] != string(zoho.EU)):
				t.Fatalf("other_dc without the user's location: %v", m)
			case e != zoho.ErrOtherDC && len(m) != 1:
				t.Fatalf("a feedback answer with more than its error: %v", m)
			}
			if w.deviceCount() != devices {
				t.Fatalf("a refused request added %d device codes", w.deviceCount()-devices)
			}
			before.same(t, after2, false, "a refused device request")
		}
		w.checkLog(t, rec.Code, issued...)
	})
}

// The device codes the fake holds stay bounded: past sweepFloor, each
// initiation forgets a few that gave their tokens or expired an hour ago.
func TestDeviceCodesAreSwept(t *testing.T) {
	s := NewUnstarted(WithStartTime(time.Date(2026, 3, 1, 12, 0, 0, 0, time.UTC)))
	c, err := s.RegisterClient(ClientSpec{Type: Device, Name: "tv", Homepage: "https://tv.example.com"})
	fzCheck(t, err)
	q := url.Values{"grant_type": {"device_request"}, "client_id": {c.ID}, "scope": {"ZohoCRM.users.ALL"}}.Encode()
	for i := range 6 * sweepFloor {
		rec := fzServe(s, fzReq{method: http.MethodPost, path: "/accounts.zoho.com" + zoho.DeviceCodePath, query: q})
		if rec.Code != http.StatusOK {
			t.Fatalf("initiation %d: HTTP %d %s", i, rec.Code, rec.Body)
		}
		if i%100 == 99 {
			fzCheck(t, s.Advance(30*time.Minute)) // a code lives 5 minutes
		}
	}
	s.mu.Lock()
	n, users := len(s.devices.byCode), len(s.devices.byUser)
	s.mu.Unlock()
	if n > 2*sweepFloor || n != users {
		t.Fatalf("the fake holds %d device codes (%d user codes) after %d initiations: the sweep does not keep up", n, users, 6*sweepFloor)
	}
	if got := len(s.PendingDevices()); got == 0 || got > 100 {
		t.Fatalf("%d device codes are pending: only the last ones live", got)
	}
}

package cases

import (
	"bytes"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"net/url"
	"regexp"
	"slices"
	"sort"
	"strings"
	"time"

	"github.com/zconform/zconform/fakeserver"
	"github.com/zconform/zconform/fixtures/zoho"
)

// The device flow of limited-input apps (docs/zoho-oauth-beyond.md
// section 1, ZA-DEV-*): the check "device" and its whole-answer checks.
// Every number comes from the contract (device_code_lifetime,
// device_poll_interval, device_slow_down_window,
// device_verification_uri_complete), never from the target.

// deviceApprover is a target on which a user can approve or deny a device
// authorization by its user code (the fake's ApproveDevice and
// DenyDevice): the person at the verification page.
type deviceApprover interface {
	ApproveDevice(userCode, user string) error
	DenyDevice(userCode, user string) error
}

// deviceMembers are the members of the initiation's answer [doc];
// verification_uri_complete comes on top when the contract says so.
var deviceMembers = []string{"device_code", "expires_in", "interval", "user_code", "verification_url"}

// deviceCodeFormat: Zoho's example device code is "1004.<32 hex>.<32 hex>"
// (a grant token's format with another prefix). [doc]
var deviceCodeFormat = regexp.MustCompile(`^[0-9]{4}\.[0-9a-f]{32}\.[0-9a-f]{32}$`)

// deviceStart is an initiation's answer as the check uses it.
type deviceStart struct {
	code, user string
}

// checkDevice runs the device flow with a device client the console
// registers in the stimulus' DC, the app's DC. The variant says what is
// checked:
//
//	init        the initiation's answer (stimulus.params override its parameters)
//	foreign-dc  the initiation at another DC than the app's
//	pending     a poll before the user acts
//	slow-down   a poll stimulus.after minus 1 s after the first (checked),
//	            then one exactly stimulus.after later (must be pending)
//	slow-down-counts a poll two thirds of the window after a refused one
//	denied      a poll after the user denied
//	expired     a poll stimulus.after after the initiation
//	edges       three codes polled 1 s before stimulus.after (must be
//	            pending), exactly at it and 1 s after (checked)
//	tokens      a poll after the user approved (then the access token must
//	            work, and a refresh token refresh)
//	reused      a poll of a code that gave its tokens
//	unknown     a poll with a device code nobody issued
//	other-dc    a poll at the app's DC after a user of the other DC approved
//	            (checked), then at the user's DC (must give that DC's tokens)
//	api-users, api-org  the approved device's access token, of the scope
//	            stimulus.params.scope, at GET /crm/v8/users or /crm/v8/org
//	            (checked; each other API its scope covers must work)
func checkDevice(r *run) error {
	dc := r.c.Stimulus.DC
	con, err := r.console()
	if err != nil {
		return err
	}
	approver, ok := r.t.(deviceApprover)
	if !ok {
		return &Skipped{Reason: fmt.Sprintf("needs a user who approves device codes: target %s cannot script one", r.t.Name())}
	}
	reg, err := con.RegisterClient(fakeserver.ClientSpec{Type: fakeserver.Device, Name: "zconform tv", Homepage: "https://www.example.com", DC: dc})
	if err != nil {
		r.observeConsole("console: register a device client", err)
		return &Failure{Step: "console: register a device client", Want: "registered", Got: err.Error(), Detail: "K4-REG-MANDATORY-DEVICE: name and homepage suffice"}
	}
	r.sent = append(r.sent, "console: register a device client -> registered")
	c := client{reg}
	start := func() (deviceStart, error) {
		a, o, err := r.deviceInit(dc, c, r.params())
		if err != nil {
			return deviceStart{}, err
		}
		if err := r.require("initiation", o, "the case needs a device code"); err != nil {
			return deviceStart{}, err
		}
		return deviceStart{code: a.str("device_code"), user: a.str("user_code")}, nil
	}
	decide := func(d deviceStart, deny bool, user string) error {
		f, what := approver.ApproveDevice, "approves"
		if deny {
			f, what = approver.DenyDevice, "denies"
		}
		who := "the app's developer"
		if user != "" {
			who = user
		}
		if err := f(d.user, user); err != nil {
			return &Failure{Step: "the user " + what + " the device", Want: "done", Got: zoho.Redact(err.Error())}
		}
		r.sent = append(r.sent, fmt.Sprintf("(%s %s user code %s)", who, what, d.user))
		return nil
	}
	poll := func(at zoho.DC, d deviceStart) (outcome, error) {
		_, o, err := r.devicePoll(at, c, d.code)
		return o, err
	}
	pending := func(step string, at zoho.DC, d deviceStart, why string) error {
		o, err := poll(at, d)
		if err != nil {
			return err
		}
		return r.requireError(step, o, zoho.ErrAuthorizationPending, why)
	}

	switch v := r.c.Stimulus.Variant; v {
	case "init", "foreign-dc":
		at := dc
		if v == "foreign-dc" {
			at = otherDC(dc)
		}
		_, o, err := r.deviceInit(at, c, r.params())
		if err != nil {
			return err
		}
		return r.checkOutcome("initiation at the "+strings.ToUpper(string(at))+" server", o)
	case "unknown":
		// a code nobody issued: a target's own codes are never at risk
		o, err := poll(dc, deviceStart{code: "1000." + strings.Repeat("0", 32) + "." + strings.Repeat("0", 32)})
		if err != nil {
			return err
		}
		return r.checkOutcome("poll with a device code nobody issued", o)
	case "api-users", "api-org":
		sc := r.c.Stimulus.Params["scope"]
		if sc == "" {
			return fmt.Errorf("%s: a device %s case names the token's scope in stimulus.params.scope", r.c.Location(), v)
		}
		d, err := start()
		if err != nil {
			return err
		}
		if err := decide(d, false, ""); err != nil {
			return err
		}
		o, err := poll(dc, d)
		if err != nil {
			return err
		}
		if err := r.require("poll the approved device code", o, "the case needs the device's tokens"); err != nil {
			return err
		}
		return r.judgeAPIScope(tokensOf(o.a), sc, strings.TrimPrefix(v, "api-"))
	case "pending", "denied", "expired", "tokens", "reused":
		d, err := start()
		if err != nil {
			return err
		}
		switch v {
		case "denied":
			if err := decide(d, true, ""); err != nil {
				return err
			}
		case "tokens", "reused":
			if err := decide(d, false, ""); err != nil {
				return err
			}
		case "expired":
			after, err := r.after()
			if err != nil {
				return err
			}
			if err := r.advance(after); err != nil {
				return err
			}
		}
		o, err := poll(dc, d)
		if err != nil {
			return err
		}
		if v == "reused" {
			if err := r.require("poll the approved device code", o, "the first poll after an approval gets the tokens"); err != nil {
				return err
			}
			if err := r.advance(r.limits.DeviceSlowDownWindow); err != nil {
				return err
			}
			if o, err = poll(dc, d); err != nil {
				return err
			}
			return r.checkOutcome("poll the device code again after it gave its tokens", o)
		}
		if err := r.checkOutcome("poll", o); err != nil {
			return err
		}
		if v == "tokens" && o.ok {
			t := tokensOf(o.a)
			if err := r.requireWorks("use the device's access token", t.apiDomain, t.access, "the device flow's token works at the API"); err != nil {
				return err
			}
			if t.refresh != "" {
				_, ro, err := r.refresh(dc, c, t.refresh)
				if err != nil {
					return err
				}
				return r.require("refresh with the device's refresh token", ro, "a refresh token of the device flow refreshes as usual")
			}
		}
		return nil
	case "slow-down", "slow-down-counts":
		d, err := start()
		if err != nil {
			return err
		}
		if err := pending("the first poll", dc, d, "the user has not acted yet"); err != nil {
			return err
		}
		if v == "slow-down-counts" {
			step := r.limits.DeviceSlowDownWindow * 2 / 3
			if err := r.advance(step); err != nil {
				return err
			}
			o, err := poll(dc, d)
			if err != nil {
				return err
			}
			if err := r.requireError(fmt.Sprintf("a poll %s after the first", step), o, zoho.ErrSlowDown, "two polls within the window"); err != nil {
				return err
			}
			if err := r.advance(step); err != nil {
				return err
			}
			if o, err = poll(dc, d); err != nil {
				return err
			}
			return r.checkOutcome(fmt.Sprintf("a poll %s after the refused one (%s after the first)", step, 2*step), o)
		}
		window, err := r.after()
		if err != nil {
			return err
		}
		if err := r.advance(window - edge); err != nil {
			return err
		}
		o, err := poll(dc, d)
		if err != nil {
			return err
		}
		if err := r.checkOutcome(fmt.Sprintf("a poll %s after the first (the window is %s)", window-edge, window), o); err != nil {
			return err
		}
		if err := r.advance(window); err != nil {
			return err
		}
		return pending(fmt.Sprintf("a poll exactly %s after the last", window), dc, d, "once the window has passed, polling is allowed again")
	case "edges":
		var codes []deviceStart
		for range 3 {
			d, err := start()
			if err != nil {
				return err
			}
			codes = append(codes, d)
		}
		lifetime, err := r.after()
		if err != nil {
			return err
		}
		if err := r.advance(lifetime - edge); err != nil {
			return err
		}
		if err := pending(fmt.Sprintf("poll %s before the lifetime (%s) ends", edge, lifetime), dc, codes[0], "a device code lives until its lifetime ends"); err != nil {
			return err
		}
		for i, when := range []string{"exactly when the lifetime (" + lifetime.String() + ") ends", edge.String() + " after the lifetime ends"} {
			if err := r.advance(edge); err != nil {
				return err
			}
			o, err := poll(dc, codes[i+1])
			if err != nil {
				return err
			}
			if err := r.checkOutcome("poll "+when, o); err != nil {
				return err
			}
		}
		return nil
	case "other-dc":
		other := otherDC(dc)
		secret, err := con.EnableMultiDC(c.ID, other, fakeserver.MultiDC{SeparateSecret: true})
		if err != nil {
			return err
		}
		c.Secrets[other] = secret
		r.sent = append(r.sent, "console: enable multi-DC in "+string(other))
		u, err := con.AddUser(fakeserver.UserSpec{Email: "viewer@" + string(other) + ".example", DC: other})
		if err != nil {
			return err
		}
		d, err := start()
		if err != nil {
			return err
		}
		if err := decide(d, false, u.Email); err != nil {
			return err
		}
		o, err := poll(dc, d)
		if err != nil {
			return err
		}
		if err := r.checkOutcome("poll at the app's DC ("+strings.ToUpper(string(dc))+")", o); err != nil {
			return err
		}
		if !o.ok {
			if o, err = poll(other, d); err != nil {
				return err
			}
			if err := r.require("poll the same code at the user's DC ("+strings.ToUpper(string(other))+")", o, "after other_dc, the user's DC serves the device code"); err != nil {
				return err
			}
		}
		t := tokensOf(o.a)
		return r.requireWorks("use the device's access token at the user's DC", t.apiDomain, t.access, "the tokens are the user's DC's")
	}
	return fmt.Errorf("%s: device knows the variants init, foreign-dc, pending, slow-down, slow-down-counts, denied, expired, edges, tokens, reused, unknown and other-dc, not %q", r.c.Location(), r.c.Stimulus.Variant)
}

// deviceInit posts the initiation at the DC's Accounts server, the
// parameters in the query string as Zoho's page shows them; extra
// overrides them ("-" removes one).
func (r *run) deviceInit(dc zoho.DC, c client, extra url.Values) (answer, outcome, error) {
	q := url.Values{"grant_type": {zoho.GrantDeviceRequest}, "client_id": {c.ID}, "scope": {scope}}
	for k, vs := range extra {
		if len(vs) == 1 && vs[0] == "-" {
			q.Del(k)
		} else {
			q[k] = vs
		}
	}
	a, err := r.postQuery(r.t.AccountsURL(dc)+zoho.DeviceCodePath, q)
	if err != nil {
		return a, outcome{}, err
	}
	o := outcome{status: a.status, a: a, body: zoho.Redact(strings.TrimSpace(string(a.body)))}
	if a.str("device_code") != "" {
		o.ok = true
		o.wire = r.deviceCodeWire(a, dc)
		return a, o, nil
	}
	if o.err = a.str("error"); o.err == "" {
		o.err = "(no error member)"
	}
	o.wire = r.tokenWire(a, "") // an error: HTTP 200, exactly {"error": code}
	return a, o, nil
}

// devicePoll posts the polling request at the DC's Accounts server, the
// device code as code, the parameters in the query string.
func (r *run) devicePoll(dc zoho.DC, c client, code string) (answer, outcome, error) {
	q := url.Values{"client_id": {c.ID}, "client_secret": {c.Secrets[dc]}, "grant_type": {zoho.GrantDeviceToken}, "code": {code}}
	a, err := r.postQuery(r.t.AccountsURL(dc)+zoho.DeviceTokenPath, q)
	if err != nil {
		return a, outcome{}, err
	}
	if a.str("error") == zoho.ErrOtherDC {
		o := outcome{status: a.status, a: a, err: zoho.ErrOtherDC, body: zoho.Redact(strings.TrimSpace(string(a.body)))}
		o.wire = r.otherDCWire(a, dc)
		return a, o, nil
	}
	return a, r.tokenOutcome(a, dc), nil
}

// postQuery posts with the parameters in the query string and an empty
// body, as Zoho's device pages show the requests, and records the exchange.
func (r *run) postQuery(u string, params url.Values) (answer, error) {
	req, err := http.NewRequestWithContext(r.ctx, http.MethodPost, u+"?"+params.Encode(), nil)
	if err != nil {
		return answer{}, err
	}
	resp, err := r.t.HTTP().Do(req)
	if err != nil {
		r.record(http.MethodPost, u, params, answer{}, err)
		return answer{}, fmt.Errorf("POST %s: %w", pathOf(u), err)
	}
	defer resp.Body.Close()
	data, err := io.ReadAll(io.LimitReader(resp.Body, 1<<20))
	a := answer{status: resp.StatusCode, body: data, header: resp.Header}
	_ = json.Unmarshal(bytes.TrimSpace(data), &a.json)
	r.record(http.MethodPost, u, params, a, err)
	return a, err
}

// deviceCodeWire checks an initiation's answer at the app's DC (ZA-DEV-INIT,
// ZA-DEV-UNITS) against the contract: HTTP 200, JSON, exactly its members,
// expires_in and interval the contract's numbers in milliseconds, the
// verification URL on the DC's Accounts server, and
// verification_uri_complete exactly when the contract emits it (the
// verification URL with the user code).
func (r *run) deviceCodeWire(a answer, dc zoho.DC) string {
	if !r.isJSON(a.header.Get("Content-Type")) {
		return fmt.Sprintf("Content-Type %q, want %q", a.header.Get("Content-Type"), r.contract.Answers.JSONContentType)
	}
	if a.status != http.StatusOK {
		return fmt.Sprintf("the initiation answers with HTTP 200, not %d", a.status)
	}
	want := slices.Clone(deviceMembers)
	if r.limits.DeviceVerificationURIComplete {
		want = append(want, "verification_uri_complete")
	}
	var problems []string
	for _, k := range want {
		if _, ok := a.json[k]; !ok {
			problems = append(problems, "member "+k+" is missing")
		}
	}
	for k := range a.json {
		if !slices.Contains(want, k) {
			why := ""
			switch k {
			case "verification_uri":
				why = " (Zoho names it verification_url)"
			case "verification_uri_complete":
				why = " (on no Zoho page: the " + r.profile + " contract's device_verification_uri_complete is off)"
			}
			problems = append(problems, "member "+k+" is extra"+why)
		}
	}
	for _, n := range []struct {
		name string
		want time.Duration
		of   string
	}{
		{"expires_in", r.limits.DeviceCodeLifetime, "device_code_lifetime"},
		{"interval", r.limits.DevicePollInterval, "device_poll_interval"},
	} {
		if v, ok := a.json[n.name]; ok && v != float64(n.want.Milliseconds()) {
			problems = append(problems, fmt.Sprintf("%s %v, want %d (milliseconds: the %s contract's %s, %s)", n.name, v, n.want.Milliseconds(), r.profile, n.of, n.want))
		}
	}
	if v, ok := a.json["device_code"]; ok {
		if s, _ := v.(string); !deviceCodeFormat.MatchString(s) {
			problems = append(problems, "device_code is not in Zoho's format <4 digits>.<32 hex>.<32 hex>")
		}
	}
	user, _ := a.json["user_code"].(string)
	if _, ok := a.json["user_code"]; ok && strings.TrimSpace(user) == "" {
		problems = append(problems, "user_code is not a code a person can type")
	}
	verify, _ := a.json["verification_url"].(string)
	if _, ok := a.json["verification_url"]; ok {
		if u, err := url.Parse(verify); err != nil || !strings.HasPrefix(verify, r.t.AccountsURL(dc)+"/") || u.RawQuery != "" {
			problems = append(problems, fmt.Sprintf("verification_url %q is not a page of the app's Accounts server (%s)", verify, r.t.AccountsURL(dc)))
		}
	}
	if v, ok := a.json["verification_uri_complete"]; ok && r.limits.DeviceVerificationURIComplete {
		if s, _ := v.(string); !strings.HasPrefix(s, verify) || !strings.Contains(s, user) || user == "" {
			problems = append(problems, fmt.Sprintf("verification_uri_complete %q is not the verification URL with the user code", s))
		}
	}
	sort.Strings(problems)
	return strings.Join(problems, "; ")
}

// otherDCWire checks the other_dc feedback (ZA-DEV-OTHERDC): HTTP 200, JSON,
// exactly error and user_location, a DC other than the one polled.
func (r *run) otherDCWire(a answer, polled zoho.DC) string {
	if !r.isJSON(a.header.Get("Content-Type")) {
		return fmt.Sprintf("Content-Type %q, want %q", a.header.Get("Content-Type"), r.contract.Answers.JSONContentType)
	}
	if a.status != http.StatusOK {
		return fmt.Sprintf("the polling feedback comes with HTTP 200, not %d", a.status)
	}
	var problems []string
	for k := range a.json {
		if k != "error" && k != "user_location" {
			problems = append(problems, "member "+k+" is extra")
		}
	}
	loc, _ := a.json["user_location"].(string)
	if dc, err := zoho.ParseDC(loc); err != nil || string(dc) != loc {
		problems = append(problems, fmt.Sprintf("user_location %q is not a DC's location", loc))
	} else if dc == polled {
		problems = append(problems, "user_location names the DC that was polled")
	}
	sort.Strings(problems)
	return strings.Join(problems, "; ")
}

// deviceCodeShape checks the row's shape device-code: the answer is an
// initiation's (its members are judged by deviceCodeWire).
func deviceCodeShape(o outcome) string {
	if o.a.json == nil || o.a.str("device_code") == "" {
		return "the case expects the initiation's answer with a device_code"
	}
	return ""
}

package certify

// The device flow's scenarios (docs/zoho-oauth-beyond.md section 1,
// ZA-DEV-*): an integration of a limited-input device (a TV app, a CLI)
// signs in with Zoho's device flow instead of a redirect. The certifier is
// the user: it approves or denies the user code (the fake's ApproveDevice),
// or leaves it, and moves its clock on in small steps, telling the
// integration with TimePassed, during which the device polls as its pacing
// allows. The verdicts read the polls on the wire.

import (
	"context"
	"errors"
	"slices"
	"strconv"
	"strings"
	"time"

	"github.com/zconform/zconform/fakeserver"
	"github.com/zconform/zconform/fixtures/zoho"
)

// DeviceSignIn is an integration that signs in with the device flow.
// DeviceStart asks its Accounts server for a device code
// (POST /oauth/v3/device/code) and shows the user code; then, each time the
// certifier's clock moves (TimePassed), the device polls
// (POST /oauth/v3/device/token) if its pacing says so, and TimePassed's
// report says where the sign-in stands: OK once it holds tokens,
// NeedsAuthorization once it gave up (the user denied, the code expired),
// neither while it waits. Without it (or with an Unsupported answer; over
// the protocol {"op":"device_start"}) the device scenarios are not
// applicable.
type DeviceSignIn interface {
	DeviceStart(ctx context.Context) Report
}

// DeviceStart sends {"op":"device_start"}.
func (p *Process) DeviceStart(ctx context.Context) Report {
	return p.send(ctx, map[string]any{"op": "device_start"})
}

// deviceStep is how far the certifier's clock moves between two moments
// of a device's waiting loop: the interval Zoho answers (5000 ms).
const deviceStep = 5 * time.Second

// setUpDevice registers the device client whose credentials the
// integration is given (a device scenario's, and its positive control's),
// enabled in the EU when the scenario has an EU user.
func (h *harness) setUpDevice() error {
	c, err := h.srv.RegisterClient(fakeserver.ClientSpec{Type: fakeserver.Device, Name: "Device integration under certification", Homepage: "https://app.example"})
	if err != nil {
		return err
	}
	if h.sc.needsEU() {
		if _, err := h.srv.EnableMultiDC(c.ID, zoho.EU, fakeserver.MultiDC{}); err != nil {
			return err
		}
	}
	h.device = c
	h.env.ClientID, h.env.ClientSecret = c.ID, c.Secret
	h.note("setup: the integration is given a device client (name and homepage, no redirect URI)")
	return nil
}

// deviceStart asks the integration to start the device flow and returns
// the user code the fake holds for its device client, as the user reads it
// off the device.
func (h *harness) deviceStart() (string, error) {
	d, ok := h.integ.(DeviceSignIn)
	if !ok {
		return "", &notApplicable{"the integration does not sign in with the device flow (a Go integration implements certify.DeviceSignIn; a process answers {\"op\":\"device_start\"})"}
	}
	r := h.report("device: start", d.DeviceStart(h.ctx))
	if r.Unsupported != "" {
		return "", &notApplicable{"the integration does not sign in with the device flow: " + r.Unsupported}
	}
	started := false
	for _, q := range h.wire() {
		started = started || (q.Role == "accounts" && q.Path == zoho.DeviceCodePath && succeeded(q))
	}
	var user string
	for _, p := range h.srv.PendingDevices() {
		if p.ClientID == h.device.ID {
			user = p.UserCode // the newest is the last to expire
		}
	}
	if !started || user == "" {
		return "", failf("the device did not get a device code (POST %s): %s", zoho.DeviceCodePath, orNone(r.Error))
	}
	h.note("device: shows the user code %s", user)
	return user, nil
}

// deviceControl is a device scenario's positive control: a fresh instance
// of the integration, set up like the scenario's, signs in with the device
// flow (the US user approves at once), gets its tokens and calls the API,
// each seen on the wire. An integration without the device flow makes the
// scenario not applicable; one that cannot do this never worked. The
// clock then moves past the polling window, so that the scenario starts
// as if the control had not run.
func (h *harness) deviceControl() error {
	h.note("control: a fresh instance of the integration signs in with the device flow and calls the API")
	integ, cleanup, err := h.newInstance(h.env)
	if err != nil {
		return neverWorked("it did not start: %v", err)
	}
	defer cleanup()
	scenarios := h.integ
	h.integ = integ
	defer func() { h.integ = scenarios }()
	user, err := h.deviceStart()
	var f *failure
	if errors.As(err, &f) {
		return neverWorked("it %s", strings.TrimPrefix(f.reason, "the device "))
	}
	if err != nil {
		return err
	}
	if err := h.srv.ApproveDevice(user, ""); err != nil {
		return err
	}
	h.note("control: the user approves at once")
	r, ps := h.waitDevice(2 * time.Minute)
	switch got := count(ps, succeeded); {
	case got == 0 && r.OK:
		return neverWorked("it reported a sign-in, but no poll of its device code got tokens on the wire")
	case got == 0:
		return neverWorked("it did not get its tokens within two minutes of the approval: %s", orNone(r.Error))
	case !r.OK:
		return neverWorked("its poll got tokens on the wire, but it reported: %s", orNone(r.Error))
	}
	if err := h.controlCall(integ); err != nil {
		return err
	}
	_ = h.srv.Advance(h.srv.Limits().DeviceSlowDownWindow)
	h.note("control: passed; the clock moves on %s", h.srv.Limits().DeviceSlowDownWindow)
	return nil
}

// polls are the device-token requests among reqs.
func polls(reqs []fakeserver.Request) []fakeserver.Request {
	var out []fakeserver.Request
	for _, r := range reqs {
		if r.Role == "accounts" && r.Path == zoho.DeviceTokenPath {
			out = append(out, r)
		}
	}
	return out
}

// waitDevice moves the clock on in deviceStep steps, for at most total,
// until the integration's report says the sign-in ended (OK or
// NeedsAuthorization), and returns the last report and the polls seen.
func (h *harness) waitDevice(total time.Duration) (Report, []fakeserver.Request) {
	var last Report
	var seen []fakeserver.Request
	for waited := time.Duration(0); waited < total; waited += deviceStep {
		_ = h.srv.Advance(deviceStep)
		last = h.integ.TimePassed(h.ctx, h.srv.Now(), deviceStep)
		if reqs := h.wire(); len(reqs) > 0 || last.OK || last.NeedsAuthorization || last.Error != "" {
			h.note("clock: +%s (waited %s)", deviceStep, waited+deviceStep)
			h.report("time passed", last)
			seen = append(seen, polls(reqs)...)
		}
		if last.OK || last.NeedsAuthorization {
			break
		}
	}
	return last, seen
}

// tooFast lists the polls answered slow_down: two polls of one device code
// at one DC within the polling window.
func tooFast(ps []fakeserver.Request) int {
	return count(ps, func(r fakeserver.Request) bool { return wireError(r) == zoho.ErrSlowDown })
}

// devicePollsPatiently: the user takes two minutes to approve. The device
// must poll while it waits (it reads interval in milliseconds), never
// twice within 30 s (no slow_down), and get its tokens once the user
// approved, which then work at the API.
func devicePollsPatiently(h *harness) error {
	user, err := h.deviceStart()
	if err != nil {
		return err
	}
	h.note("user: takes two minutes to enter the code")
	r, before := h.waitDevice(2 * time.Minute)
	if r.OK {
		return failf("the device reported a sign-in before the user approved")
	}
	if len(before) == 0 {
		return failf("the device did not poll in the two minutes the user took: it must poll while it waits (interval is in milliseconds: 5000 is 5 seconds)")
	}
	if err := h.srv.ApproveDevice(user, ""); err != nil {
		return err
	}
	h.note("user: approves the device")
	r, after := h.waitDevice(2 * time.Minute)
	all := append(before, after...)
	if n := tooFast(all); n > 0 {
		return failf("the device polled faster than once per 30 s: %d of its %d polls were answered slow_down", n, len(all))
	}
	if !r.OK || count(after, succeeded) == 0 {
		return failf("the device did not get its tokens within two minutes of the approval: %s", orNone(r.Error))
	}
	return h.deviceCall("")
}

// deviceCall has the signed-in device call the API, which must succeed on
// the wire (at the api_domain of dc, when given).
func (h *harness) deviceCall(dc zoho.DC) error {
	c := h.call()
	var ok []fakeserver.Request
	for _, a := range apiRequests(h.wire()) {
		if a.Status == 200 {
			ok = append(ok, a)
		}
	}
	if !c.OK || len(ok) == 0 {
		return failf("the signed-in device's API call failed: %s", orNone(c.Error))
	}
	if dc != "" && !slices.ContainsFunc(ok, func(r fakeserver.Request) bool { return r.DC == dc }) {
		return failf("the device called the API of %s, not the %s one it was given", ok[0].DC, strings.ToUpper(string(dc)))
	}
	return nil
}

// deviceFollowsOtherDC: a user of the EU approves. The app's (US) server
// answers other_dc with user_location eu: the device must poll the same
// code at the EU server, get the EU's tokens, and call the EU's API.
func deviceFollowsOtherDC(h *harness) error {
	user, err := h.deviceStart()
	if err != nil {
		return err
	}
	if err := h.srv.ApproveDevice(user, euUser); err != nil {
		return err
	}
	h.note("user: %s, a user of the EU, approves the device", euUser)
	r, ps := h.waitDevice(2 * time.Minute)
	told := count(ps, func(q fakeserver.Request) bool { return wireError(q) == zoho.ErrOtherDC })
	got := count(ps, func(q fakeserver.Request) bool { return q.DC == zoho.EU && succeeded(q) })
	switch {
	case told == 0 && got == 0:
		return failf("the device did not poll after the approval: %s", orNone(r.Error))
	case got == 0:
		return failf("told other_dc (user_location eu) %s, the device never polled the EU server: it could not get the EU user's tokens", times(told))
	case !r.OK:
		return failf("the device got the EU's tokens on the wire, but reported: %s", orNone(r.Error))
	}
	return h.deviceCall(zoho.EU)
}

// deviceStopsWhenRefused: the user denies one device code and lets another
// expire. After access_denied, and after expired, the device must stop
// polling that code and ask for a new sign-in.
func deviceStopsWhenRefused(h *harness) error {
	user, err := h.deviceStart()
	if err != nil {
		return err
	}
	if err := h.srv.DenyDevice(user, ""); err != nil {
		return err
	}
	h.note("user: denies the device")
	if err := h.stopsAfter(zoho.ErrAccessDenied, 2*time.Minute); err != nil {
		return err
	}
	if _, err := h.deviceStart(); err != nil {
		return err
	}
	life := h.srv.Limits().DeviceCodeLifetime
	h.note("user: walks away; the device code lives %s", life)
	return h.stopsAfter(zoho.ErrExpired, life+2*time.Minute)
}

// stopsAfter waits up to total for the answer that ends the sign-in
// (access_denied, expired), then a minute more: after that answer the
// device must not poll the code again, and must ask for a new sign-in.
func (h *harness) stopsAfter(end string, total time.Duration) error {
	r, ps := h.waitDevice(total)
	asked := r.NeedsAuthorization
	for range int(time.Minute / deviceStep) { // a minute more: does it poll again anyway?
		_ = h.srv.Advance(deviceStep)
		rep := h.integ.TimePassed(h.ctx, h.srv.Now(), deviceStep)
		asked = asked || rep.NeedsAuthorization
		if reqs := polls(h.wire()); len(reqs) > 0 {
			h.report("time passed", rep)
			ps = append(ps, reqs...)
		}
	}
	h.note("clock: +1m0s more")
	i := slices.IndexFunc(ps, func(q fakeserver.Request) bool { return wireError(q) == end })
	switch {
	case i < 0 && len(ps) == 0:
		return failf("the device did not poll, so it was never answered %s: %s", end, orNone(r.Error))
	case i < 0 && asked:
		return nil // it stopped by itself before it had to be told
	case i < 0:
		return failf("the device was never answered %s in %d polls, and did not ask for a new sign-in: %s", end, len(ps), orNone(r.Error))
	case len(ps)-i-1 > 0:
		return failf("after %s the device polled the code %s more: it must stop and ask for a new sign-in", end, times(len(ps)-i-1))
	case !asked:
		return failf("answered %s, the device stopped polling but did not ask for a new sign-in (needs_authorization): %s", end, orNone(r.Error))
	}
	return nil
}

// times is "once", "twice" or "n times".
func times(n int) string {
	switch n {
	case 1:
		return "once"
	case 2:
		return "twice"
	}
	return strconv.Itoa(n) + " times"
}

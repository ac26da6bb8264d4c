package fakeserver

// The device flow of limited-input ("non-browser") apps:
// docs/zoho-oauth-beyond.md section 1 (ZA-DEV-*). A device client asks its
// DC's Accounts server for a device code and a user code
// (POST {AS}/oauth/v3/device/code), shows the user code, and polls
// POST {AS}/oauth/v3/device/token with the device code as "code" until the
// user has approved or denied it on the verification page, or it expired.
// The user's click is ApproveDevice or DenyDevice (the control API's
// /devices/approve and /devices/deny), or the fake's own verification page
// at {AS}/oauth/v3/device. This file is the flow's rule code; its
// housekeeping, the verification page and the control API are in
// device_support.go.
//
// What Zoho's pages leave open, the fake chooses, each [assumed]:
//   - the feedback answers come with HTTP 200, like the token endpoint's
//     errors;
//   - a bad request is answered like the token endpoint's: invalid_request
//     (a parameter missing), unsupported_grant_type, invalid_client (an
//     unknown client, one that is no device client, or the initiation at a
//     DC other than the app's home DC), invalid_scope (an unknown scope);
//   - an unknown device code, one of another client, one polled at a DC
//     that does not serve it, and one that already gave its tokens are
//     answered invalid_code; an expired one is answered expired, whatever
//     the user did;
//   - every poll of a device code counts toward the polling window, a poll
//     refused with slow_down too, and each DC keeps its own window (the app's
//     DC and, after other_dc, the user's are separate servers);
//   - after an approval by a user of another DC, the app's DC keeps
//     answering other_dc and the user's DC serves the same code;
//   - a refresh token comes for access_type=offline on the user's first
//     consent to the client, or with prompt=consent (as for the redirect
//     flow, ZA-RT-FIRST);
//   - user codes are 8 characters of B-Z (no vowels) and 2-9, unique among
//     the codes the fake holds; verification_uri_complete, when the profile
//     emits it, is the verification URL with ?user_code=;
//   - a device code is forgotten an hour after it expired (then answered
//     invalid_code), once the fake holds over sweepFloor of them.

import (
	"errors"
	"fmt"
	"net/http"
	"strings"
	"time"

	"github.com/zconform/zconform/fixtures/zoho"
)

// Deviations of the device flow (see breaks.go).
const (
	DevDeviceVerificationURI    zoho.SeedID = "DEV-DEVICE-VERIFICATION-URI"
	DevDeviceSlowDownForgives   zoho.SeedID = "DEV-DEVICE-SLOW-DOWN-FORGIVES"
	DevDeviceOfflineIgnored     zoho.SeedID = "DEV-DEVICE-OFFLINE-IGNORED"
	DevDeviceCodeReused         zoho.SeedID = "DEV-DEVICE-CODE-REUSED"
	DevDeviceUnknownCodePending zoho.SeedID = "DEV-DEVICE-UNKNOWN-CODE-PENDING"
)

// deviceState is where a device authorization stands.
type deviceState int

const (
	devicePending deviceState = iota
	deviceApproved
	deviceDenied
)

func (d deviceState) String() string {
	return [...]string{"pending", "approved", "denied"}[d]
}

// deviceAuth is one device authorization: its device code and user code.
type deviceAuth struct {
	code     string
	userCode string
	client   *client
	dc       zoho.DC // the app's DC, where it was initiated
	scopes   []string
	offline  bool // access_type=offline was asked
	prompt   bool // prompt=consent was asked
	expires  time.Time
	state    deviceState
	user     *user // who approved or denied
	// refresh: the approval issues a refresh token (decided at consent)
	refresh bool
	// used: the code gave its tokens
	used bool
	// lastPoll is each DC's last poll of the code (the polling window).
	lastPoll map[zoho.DC]time.Time
}

// deviceStore holds the device authorizations, by device code and by user
// code, and the rotation their housekeeping sweeps.
type deviceStore struct {
	byCode map[string]*deviceAuth
	byUser map[string]*deviceAuth
	q      queue[*deviceAuth]
}

// deviceCodeResponse is the initiation's answer, in the order of Zoho's
// page. expires_in and interval are in milliseconds.
type deviceCodeResponse struct {
	UserCode        string `json:"user_code"`
	DeviceCode      string `json:"device_code"`
	VerificationURL string `json:"verification_url,omitempty"`
	// VerificationURI is sent only by DEV-DEVICE-VERIFICATION-URI.
	VerificationURI         string `json:"verification_uri,omitempty"`
	VerificationURIComplete string `json:"verification_uri_complete,omitempty"`
	ExpiresIn               int64  `json:"expires_in"`
	Interval                int64  `json:"interval"`
}

// otherDCResponse is the other_dc feedback, members in the order of
// Zoho's page.
type otherDCResponse struct {
	UserLocation zoho.DC `json:"user_location"`
	Error        string  `json:"error"`
}

// deviceErrorLocked sends a device-flow error: HTTP 200 [assumed] and a
// bare {"error": code}.
func (s *Server) deviceErrorLocked(x *exchange, code string) {
	x.errStr = code
	x.reply(http.StatusOK, map[string]string{"error": code})
}

// deviceGrantTypeLocked checks that a device request's grant_type is
// want, else answers the error itself: none is invalid_request, another
// unsupported_grant_type [assumed].
func (s *Server) deviceGrantTypeLocked(x *exchange, want string) bool {
	switch x.param("grant_type") {
	case want:
		return true
	case "":
		s.deviceErrorLocked(x, zoho.ErrInvalidRequest)
	default:
		s.deviceErrorLocked(x, zoho.ErrUnsupportedGrantType)
	}
	return false
}

// deviceCode serves POST {AS}/oauth/v3/device/code: the initiation request
// (ZA-DEV-INIT). Parameters come in the query string, as Zoho's page shows
// them, or in a form body.
func (s *Server) deviceCode(x *exchange) {
	if !x.paramsOf("POST for "+zoho.DeviceCodePath+" (the parameters in the query string or an urlencoded body)", http.MethodPost) {
		return
	}
	now := s.clock.Now()
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.overDeviceCapLocked(x) {
		return
	}
	if !s.deviceGrantTypeLocked(x, zoho.GrantDeviceRequest) {
		return
	}
	c := s.clients[x.param("client_id")]
	// The AS is the app's home DC [doc]; anything else is unknown there [assumed].
	if c == nil || c.Type != Device || (c.home != x.t.dc && !s.brokenLocked(zoho.TokenClientB)) {
		s.deviceErrorLocked(x, zoho.ErrInvalidClient)
		return
	}
	scopes := zoho.SplitScopes(x.param("scope"))
	if len(scopes) == 0 {
		s.deviceErrorLocked(x, zoho.ErrInvalidRequest) // [assumed]
		return
	}
	if bad := s.unknownScopeLocked(scopes); bad != "" {
		s.deviceErrorLocked(x, zoho.ErrInvalidScope) // [assumed]
		return
	}
	d := &deviceAuth{
		code: s.newSecret(zoho.NewToken()), userCode: s.newUserCodeLocked(), client: c, dc: x.t.dc, scopes: scopes,
		offline: strings.EqualFold(x.param("access_type"), "offline"), prompt: strings.EqualFold(x.param("prompt"), "consent"),
		expires: now.Add(s.limits.DeviceCodeLifetime), lastPoll: map[zoho.DC]time.Time{},
	}
	s.deviceIssuedLocked(d, now)
	unit := time.Millisecond
	if s.brokenLocked(zoho.DevInit) {
		unit = time.Second // broken: RFC 8628's seconds
	}
	verify := x.t.accountsURL(x.t.dc) + zoho.DeviceVerifyPath
	resp := deviceCodeResponse{
		UserCode: d.userCode, DeviceCode: d.code, VerificationURL: verify,
		ExpiresIn: int64(s.limits.DeviceCodeLifetime / unit), Interval: int64(s.limits.DevicePollInterval / unit),
	}
	if s.brokenLocked(DevDeviceVerificationURI) {
		resp.VerificationURL, resp.VerificationURI = "", verify
	}
	if s.limits.DeviceVerificationURIComplete != s.brokenLocked(zoho.DevUnits) { // ZA-DEV-UNITS
		resp.VerificationURIComplete = verify + "?user_code=" + d.userCode
	}
	x.reply(http.StatusOK, resp)
}

// deviceServesLocked says whether the Accounts server of dc knows the device
// code: the app's DC does, and after an approval the user's DC too.
func (s *Server) deviceServesLocked(d *deviceAuth, dc zoho.DC) bool {
	return dc == d.dc || (d.state == deviceApproved && d.user.DC == dc) || s.brokenLocked(zoho.TokenClientB)
}

// deviceToken serves POST {AS}/oauth/v3/device/token: the polling request
// (ZA-DEV-POLL) and its feedback.
func (s *Server) deviceToken(x *exchange) {
	if !x.paramsOf("POST for "+zoho.DeviceTokenPath+" (the parameters in the query string or an urlencoded body)", http.MethodPost) {
		return
	}
	mergeBasic(x) // credentials as HTTP Basic, as at the token endpoint [assumed]
	now := s.clock.Now()
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.overDeviceCapLocked(x) {
		return
	}
	if !s.deviceGrantTypeLocked(x, zoho.GrantDeviceToken) {
		return
	}
	name := "code" // [doc] not RFC 8628's device_code
	if s.brokenLocked(zoho.DevPoll) {
		name = "device_code"
	}
	value := x.param(name)
	if value == "" {
		s.deviceErrorLocked(x, zoho.ErrInvalidRequest) // [assumed]
		return
	}
	d := s.devices.byCode[value]
	var owner *client
	if d != nil {
		owner = d.client
	}
	c, errCode := s.checkClientLocked(x, owner) // K4-TOKEN-CLIENT-a/b/c as at the token endpoint
	if errCode != "" {
		s.deviceErrorLocked(x, errCode)
		return
	}
	dc := x.t.dc
	switch {
	case d == nil:
		unknown := zoho.ErrInvalidCode // [assumed] like an unknown grant token
		if s.brokenLocked(DevDeviceUnknownCodePending) {
			unknown = zoho.ErrAuthorizationPending
		}
		s.deviceErrorLocked(x, unknown)
		return
	case d.client != c, !s.deviceServesLocked(d, dc):
		s.deviceErrorLocked(x, zoho.ErrInvalidCode) // [assumed] another client's, or unknown at this DC
		return
	case d.used && !s.brokenLocked(DevDeviceCodeReused):
		s.deviceErrorLocked(x, zoho.ErrInvalidCode) // [assumed]
		return
	case s.expiredLocked(d.expires, now) && !s.brokenLocked(zoho.DevExpired):
		s.deviceErrorLocked(x, zoho.ErrExpired) // ZA-DEV-EXPIRED
		return
	}
	// ZA-DEV-SLOWDOWN: a poll within the window of the last one.
	if !s.brokenLocked(zoho.DevSlowDown) { // a window of 0 slows nothing down
		if last, ok := d.lastPoll[dc]; ok && now.Sub(last) < s.limits.DeviceSlowDownWindow {
			if !s.brokenLocked(DevDeviceSlowDownForgives) {
				d.lastPoll[dc] = now // [assumed] a refused poll counts too
			}
			s.deviceErrorLocked(x, zoho.ErrSlowDown)
			return
		}
	}
	d.lastPoll[dc] = now
	switch d.state {
	case devicePending:
		if s.brokenLocked(zoho.DevPending) {
			s.deviceErrorLocked(x, zoho.ErrInvalidCode)
			return
		}
		s.deviceErrorLocked(x, zoho.ErrAuthorizationPending) // ZA-DEV-PENDING
		return
	case deviceDenied:
		if s.brokenLocked(zoho.DevDenied) {
			s.deviceErrorLocked(x, zoho.ErrAuthorizationPending)
			return
		}
		s.deviceErrorLocked(x, zoho.ErrAccessDenied) // ZA-DEV-DENIED
		return
	}
	u := d.user
	if u.DC != dc && !s.brokenLocked(zoho.DevOtherDC) {
		x.errStr = zoho.ErrOtherDC // ZA-DEV-OTHERDC
		x.reply(http.StatusOK, otherDCResponse{UserLocation: u.DC, Error: zoho.ErrOtherDC})
		return
	}
	// ZA-DEV-TOKENS: the user's DC issues the tokens, once.
	d.used = true
	resp := tokenResponse{APIDomain: x.t.apiURL(u.DC), TokenType: "Bearer", ExpiresIn: int(s.limits.AccessTokenLifetime.Seconds())}
	var rt *refreshToken
	if (d.refresh && !s.brokenLocked(DevDeviceOfflineIgnored)) || s.brokenLocked(zoho.DevTokens) {
		rt = s.mintRefreshLocked(&grant{client: c, user: u, dc: u.DC, scopes: d.scopes}, now)
		resp.RefreshToken = rt.value
	}
	a := s.mintAccessLocked(rt, c, u, u.DC, now)
	a.scopes = d.scopes // what the user approved, with or without a refresh token (ZA-API-SCOPE)
	resp.AccessToken = a.value
	x.reply(http.StatusOK, s.tokenAnswerLocked(resp, d.scopes)) // the profile's token-answer shape (settings.go)
}

// ErrNoDevice is wrapped by ApproveDevice and DenyDevice when no device
// authorization has the user code.
var ErrNoDevice = errors.New("no device authorization has that user code")

// ApproveDevice is a user's approval of the device authorization whose user
// code is userCode, as on the verification page: the device's next poll
// at the user's DC gets the tokens, and one at the app's DC, when that is
// another, other_dc. user is the email of the user who signs in; empty:
// the client's user (its developer).
func (s *Server) ApproveDevice(userCode, user string) error {
	return s.decideDevice(userCode, user, false)
}

// DenyDevice is a user's refusal of the device authorization whose user
// code is userCode: the device's next poll gets access_denied.
func (s *Server) DenyDevice(userCode, user string) error {
	return s.decideDevice(userCode, user, true)
}

// deviceClosedError is the refusal of a decision on a device authorization
// that expired or was decided already.
type deviceClosedError struct{ msg string }

func (e *deviceClosedError) Error() string { return e.msg }

func (s *Server) decideDevice(userCode, email string, deny bool) error {
	now := s.clock.Now()
	s.mu.Lock()
	defer s.mu.Unlock()
	d := s.devices.byUser[normalUserCode(userCode)]
	switch {
	case d == nil:
		return fmt.Errorf("%w %q: take it from the device's initiation answer (user_code), or list the pending ones with GET %s/devices", ErrNoDevice, userCode, controlPrefix)
	case s.expiredLocked(d.expires, now) && !s.brokenLocked(zoho.DevExpired):
		return &deviceClosedError{fmt.Sprintf("user code %s expired at %s: the device must ask for a new one", d.userCode, d.expires.Format(time.RFC3339))}
	case d.state != devicePending:
		return &deviceClosedError{fmt.Sprintf("user code %s is %s already: a user code is approved or denied once", d.userCode, d.state)}
	}
	u := d.client.owner
	if email != "" {
		var err error
		if u, err = s.userLocked(email); err != nil {
			return err
		}
	}
	if err := signInCheck(d.client, u); err != nil {
		return err
	}
	d.user = u
	if deny {
		d.state = deviceDenied
		return nil
	}
	d.state = deviceApproved
	// a refresh token on the user's first consent to the client, or with
	// prompt=consent (ZA-RT-FIRST)
	d.refresh = d.offline && (!d.client.consented[u.Email] || d.prompt)
	d.client.consented[u.Email] = true
	return nil
}

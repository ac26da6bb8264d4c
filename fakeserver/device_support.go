package fakeserver

// What the device flow (device.go) needs beyond its rules: its
// housekeeping (user codes, the sweep, a shared fake's cap), the list of
// pending authorizations, the verification page a person uses, and the
// control API's /devices endpoints.

import (
	"crypto/rand"
	"errors"
	"fmt"
	"html/template"
	"net/http"
	"slices"
	"strings"
	"time"

	"github.com/zconform/zconform/fixtures/zoho"
)

// overDeviceCapLocked answers HTTP 429 when a shared fake's run holds its
// cap of codes and tokens (device codes count too), and reports whether it
// did.
func (s *Server) overDeviceCapLocked(x *exchange) bool {
	if s.opts.caps.LiveTokens == 0 {
		return false
	}
	n := len(s.grants) + len(s.access) + len(s.refresh) + len(s.devices.byCode)
	err := capLocked("live tokens and codes", n, s.opts.caps.LiveTokens)
	if err == nil {
		return false
	}
	x.jsonError(http.StatusTooManyRequests, "too_many_tokens", err.Error())
	return true
}

// userCodeAlphabet: no vowels (no words), no 0, O, 1 or I. [assumed]
const userCodeAlphabet = "BCDFGHJKLMNPQRSTVWXZ23456789"

// newUserCodeLocked returns a user code no device authorization the fake
// holds has.
func (s *Server) newUserCodeLocked() string {
	for {
		var b [8]byte
		_, _ = rand.Read(b[:])
		for i := range b {
			b[i] = userCodeAlphabet[int(b[i])%len(userCodeAlphabet)]
		}
		if _, dup := s.devices.byUser[string(b[:])]; !dup {
			return string(b[:])
		}
	}
}

// normalUserCode is a user code as a person may type it: any case, with
// spaces or dashes.
func normalUserCode(v string) string {
	return strings.ToUpper(strings.NewReplacer(" ", "", "-", "", "\t", "").Replace(v))
}

// deviceIssuedLocked stores a new device authorization and sweeps a few old
// ones (sweep.go's rotation): it forgets those that gave their tokens, and
// those that expired an hour ago, unless a break keeps them usable.
func (s *Server) deviceIssuedLocked(d *deviceAuth, now time.Time) {
	st := &s.devices
	if st.byCode == nil {
		st.byCode, st.byUser = map[string]*deviceAuth{}, map[string]*deviceAuth{}
	}
	st.byCode[d.code], st.byUser[d.userCode] = d, d
	st.q.push(d)
	keepUsed := s.brokenLocked(DevDeviceCodeReused)
	keepExpired := s.brokenLocked(zoho.DevExpired)
	for range min(sweepStep, st.q.len()-sweepFloor) {
		old, _ := st.q.pop()
		s.swept++
		if (old.used && !keepUsed) || (!keepExpired && now.Sub(old.expires) > time.Hour) {
			delete(st.byCode, old.code)
			delete(st.byUser, old.userCode)
			continue
		}
		st.q.push(old)
	}
}

// DeviceAuthorization is a device authorization waiting for its user.
type DeviceAuthorization struct {
	UserCode string    `json:"user_code"`
	ClientID string    `json:"client_id"`
	DC       zoho.DC   `json:"dc"`
	Scopes   []string  `json:"scopes"`
	Expires  time.Time `json:"expires"`
}

// PendingDevices lists the device authorizations no user has approved or
// denied yet and that have not expired, the soonest to expire first: the
// user codes a person would enter on the verification page.
func (s *Server) PendingDevices() []DeviceAuthorization {
	now := s.clock.Now()
	s.mu.Lock()
	defer s.mu.Unlock()
	out := []DeviceAuthorization{}
	for _, d := range s.devices.byUser {
		if d.state == devicePending && !s.expiredLocked(d.expires, now) {
			out = append(out, DeviceAuthorization{d.userCode, d.client.ID, d.dc, slices.Clone(d.scopes), d.expires})
		}
	}
	slices.SortFunc(out, func(a, b DeviceAuthorization) int {
		if c := a.Expires.Compare(b.Expires); c != 0 {
			return c
		}
		return strings.Compare(a.UserCode, b.UserCode)
	})
	return out
}

// ---- the verification page ----

// deviceVerify serves {AS}/oauth/v3/device, the verification URL: a page
// where a person enters the user code, picks the user they sign in as, and
// approves or denies (GET shows it, POST decides).
func (s *Server) deviceVerify(x *exchange) {
	if !x.paramsOf("GET (the page) or POST (its form) for "+zoho.DeviceVerifyPath, http.MethodGet, http.MethodPost) {
		return
	}
	page := devicePageData{UserCode: x.param("user_code")}
	status := http.StatusOK
	if x.r.Method == http.MethodPost {
		decision := x.param("zconform_decision")
		var err error
		switch decision {
		case "approve", "deny":
			err = s.decideDevice(page.UserCode, x.param("zconform_user"), decision == "deny")
		default:
			err = errors.New("choose Approve or Deny")
		}
		if err != nil {
			status, page.Error = http.StatusBadRequest, err.Error()
			x.errStr = zoho.ErrInvalidRequest
		} else {
			page.Done = decision + "d"
		}
	}
	s.mu.Lock()
	for _, u := range s.users {
		page.Users = append(page.Users, u.User)
	}
	s.mu.Unlock()
	slices.SortFunc(page.Users, func(a, b User) int { return strings.Compare(a.Email, b.Email) })
	x.status = status
	x.w.Header().Set("Content-Type", "text/html;charset=UTF-8")
	x.w.WriteHeader(status)
	if err := devicePage.Execute(x.w, page); err != nil {
		fmt.Fprintln(x.w, "<!-- template error -->")
	}
}

type devicePageData struct {
	UserCode string
	Users    []User
	Done     string // "approved" or "denied"
	Error    string
}

var devicePage = template.Must(template.New("device").Parse(`<!DOCTYPE html>
<html><head><meta charset="utf-8"><title>Zoho Accounts - Connect a device (zconform fake)</title></head>
<body>
{{if .Done}}<h1>Device {{.Done}}</h1><p>You can return to your device.</p>
{{else}}<h1>Connect a device</h1>
{{if .Error}}<p id="error">{{.Error}}</p>{{end}}
<form method="post">
<label>Code shown on your device <input name="user_code" value="{{.UserCode}}" autocomplete="off"></label>
<label>Sign in as <select name="zconform_user"><option value="">the app's developer</option>{{range .Users}}<option value="{{.Email}}">{{.Email}} ({{.DC}})</option>{{end}}</select></label>
<button type="submit" name="zconform_decision" value="approve">Approve</button>
<button type="submit" name="zconform_decision" value="deny">Deny</button>
</form>{{end}}
</body></html>
`))

// ---- the control API ----

// ctlDevices lists the pending device authorizations.
func (s *Server) ctlDevices(*http.Request) (int, any) {
	return http.StatusOK, map[string]any{"devices": s.PendingDevices()}
}

// ctlDecideDevice approves or denies a device authorization:
// {"user_code": "...", "user": "email"} (user optional).
func (s *Server) ctlDecideDevice(r *http.Request, deny bool) (int, any) {
	var body struct {
		UserCode string `json:"user_code"`
		User     string `json:"user"`
	}
	if err := decode(r, &body); err != nil {
		return bad(err)
	}
	if strings.TrimSpace(body.UserCode) == "" {
		return bad(errors.New("user_code is missing: give the user code the device's initiation answered"))
	}
	err := s.decideDevice(body.UserCode, body.User, deny)
	state := deviceApproved
	if deny {
		state = deviceDenied
	}
	var closed *deviceClosedError
	switch {
	case errors.Is(err, ErrNoDevice):
		return http.StatusNotFound, controlError{Error: err.Error()}
	case errors.As(err, &closed):
		return http.StatusConflict, controlError{Error: err.Error()}
	case err != nil:
		return bad(err)
	}
	return http.StatusOK, map[string]string{"user_code": normalUserCode(body.UserCode), "state": state.String()}
}

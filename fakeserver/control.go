package fakeserver

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"strconv"
	"sync"
	"time"

	"github.com/zconform/zconform/fixtures/zoho"
)

// controlPrefix is where the JSON control API lives on the listener.
const controlPrefix = "/_zconform/v1"

// controlError is the control API's error body.
type controlError struct {
	Error string `json:"error"`
	Field string `json:"field,omitempty"`
	Seed  string `json:"seed,omitempty"`
}

// controlMux is the control API's router, one for every server (and every
// tenant of a shared fake): its handlers find their server in the request's
// context.
var (
	controlMuxOnce sync.Once
	controlMuxV    *http.ServeMux
)

func controlMux() *http.ServeMux {
	controlMuxOnce.Do(func() { controlMuxV = buildControlMux() })
	return controlMuxV
}

type serverKey struct{}

// serverOf is the server a control request is for.
func serverOf(r *http.Request) *Server { return r.Context().Value(serverKey{}).(*Server) }

func buildControlMux() *http.ServeMux {
	mux := http.NewServeMux()
	h := func(pattern string, f func(s *Server, r *http.Request) (int, any)) {
		mux.HandleFunc(pattern, func(w http.ResponseWriter, r *http.Request) {
			status, body := f(serverOf(r), r)
			writeJSON(w, status, body)
		})
	}
	// g: a request that adds state, under the server's caps (guard.go)
	g := func(pattern, what string, f func(s *Server, r *http.Request) (int, any)) {
		h(pattern, func(s *Server, r *http.Request) (int, any) { return s.growing(r, what, f) })
	}
	p := controlPrefix
	h("GET "+p, (*Server).ctlIndex)
	h("GET "+p+"/{$}", (*Server).ctlIndex)
	g("POST "+p+"/users", "users", (*Server).ctlAddUser)
	h("GET "+p+"/users", func(s *Server, _ *http.Request) (int, any) { return 200, s.Users() })
	h("GET "+p+"/users/{email}/tokens", (*Server).ctlTokens)
	h("DELETE "+p+"/users/{email}/session", (*Server).ctlEndSession) // ZA-JS-REFRESH (jsapps.go)
	g("POST "+p+"/clients", "clients", (*Server).ctlRegister)
	h("GET "+p+"/clients", func(s *Server, _ *http.Request) (int, any) { return 200, s.Clients() })
	h("GET "+p+"/clients/{id}", func(s *Server, r *http.Request) (int, any) {
		c, err := s.RegisteredClient(r.PathValue("id"))
		return result(c, err, http.StatusNotFound)
	})
	g("POST "+p+"/clients/{id}/multi-dc", "", (*Server).ctlMultiDC)
	g("POST "+p+"/clients/{id}/consent", "", (*Server).ctlConsent)
	h("POST "+p+"/clients/{id}/self-client-code", (*Server).ctlSelfCode)
	g("POST "+p+"/orgs", "", (*Server).ctlAddOrg) // client credentials' orgs (clientcreds.go)
	h("GET "+p+"/orgs", func(s *Server, _ *http.Request) (int, any) { return 200, s.Orgs() })
	h("GET "+p+"/refresh-tokens/{token}/access-tokens", func(s *Server, r *http.Request) (int, any) {
		return 200, map[string]any{"access_tokens": nonNil(s.LiveAccessTokens(r.PathValue("token")))}
	})
	h("POST "+p+"/revoke", (*Server).ctlRevoke)
	// the device flow's user (device.go)
	h("GET "+p+"/devices", (*Server).ctlDevices)
	h("POST "+p+"/devices/approve", func(s *Server, r *http.Request) (int, any) { return s.ctlDecideDevice(r, false) })
	h("POST "+p+"/devices/deny", func(s *Server, r *http.Request) (int, any) { return s.ctlDecideDevice(r, true) })
	h("GET "+p+"/clock", (*Server).ctlClock)
	h("POST "+p+"/clock/advance", (*Server).ctlAdvance)
	h("POST "+p+"/clock/set", (*Server).ctlSetClock)
	h("GET "+p+"/breaks", (*Server).ctlBreaks)
	h("PUT "+p+"/breaks", (*Server).ctlSetBreaks)
	h("POST "+p+"/breaks/{id}", func(s *Server, r *http.Request) (int, any) {
		if err := s.Break(zoho.SeedID(r.PathValue("id"))); err != nil {
			return http.StatusNotFound, controlError{Error: err.Error()}
		}
		return s.ctlBreaks(r)
	})
	h("DELETE "+p+"/breaks/{id}", func(s *Server, r *http.Request) (int, any) {
		s.Unbreak(zoho.SeedID(r.PathValue("id")))
		return s.ctlBreaks(r)
	})
	h("GET "+p+"/limits", (*Server).ctlLimits)
	h("PUT "+p+"/limits", (*Server).ctlSetLimits)
	g("POST "+p+"/scopes", "", (*Server).ctlAddScopes)
	h("GET "+p+"/requests", (*Server).ctlRequests)
	g("POST "+p+"/seed", "", (*Server).ctlSeed)
	g("POST "+p+"/faults", "faults", (*Server).ctlInjectFault)
	h("GET "+p+"/faults", func(s *Server, _ *http.Request) (int, any) {
		return http.StatusOK, map[string]any{"faults": faultViews(s.Faults())}
	})
	h("DELETE "+p+"/faults", func(s *Server, _ *http.Request) (int, any) {
		s.ClearFaults()
		return http.StatusOK, map[string]any{"faults": []any{}}
	})
	h("DELETE "+p+"/faults/{id}", func(s *Server, r *http.Request) (int, any) {
		id, err := strconv.Atoi(r.PathValue("id"))
		if err != nil || !s.RemoveFault(id) {
			return http.StatusNotFound, controlError{Error: fmt.Sprintf("no fault %q: GET %s/faults lists them", r.PathValue("id"), controlPrefix)}
		}
		return http.StatusOK, map[string]any{"faults": faultViews(s.Faults())}
	})
	unknown := func(w http.ResponseWriter, r *http.Request) {
		writeJSON(w, http.StatusNotFound, controlError{Error: fmt.Sprintf("no control endpoint %s %s: GET %s lists them", r.Method, r.URL.Path, controlPrefix)})
	}
	mux.HandleFunc(p, unknown)
	mux.HandleFunc(p+"/", unknown)
	return mux
}

// controlRoutes serves the control API for s: callers checked, bodies
// bounded (HTTP 413 past maxBody, as on the OAuth endpoints).
func (s *Server) controlRoutes() http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if msg, status := s.controlAllowed(r); msg != "" {
			writeJSON(w, status, controlError{Error: msg})
			return
		}
		if !readBody(w, r) {
			return
		}
		controlMux().ServeHTTP(w, r.WithContext(context.WithValue(r.Context(), serverKey{}, s)))
	})
}

// readBody reads a control request's body, at most maxBody bytes, and
// answers HTTP 413 itself past that (it reports whether it did not).
func readBody(w http.ResponseWriter, r *http.Request) bool {
	data, err := io.ReadAll(http.MaxBytesReader(w, r.Body, maxBody))
	if err != nil {
		var tooBig *http.MaxBytesError
		if errors.As(err, &tooBig) {
			writeJSON(w, http.StatusRequestEntityTooLarge, controlError{Error: fmt.Sprintf("the request body is over %d KiB: the control API takes small JSON bodies", maxBody>>10)})
		} else {
			writeJSON(w, http.StatusBadRequest, controlError{Error: "the request body could not be read: " + err.Error()})
		}
		return false
	}
	r.Body = io.NopCloser(bytes.NewReader(data))
	r.ContentLength = int64(len(data))
	return true
}

// controlAllowed answers only loopback callers, unless a control token is
// configured, in which case every caller must present it.
func (s *Server) controlAllowed(r *http.Request) (string, int) {
	if tok := s.opts.controlToken; tok != "" {
		if !bearerIs(r, tok) && (s.opts.adminToken == "" || !bearerIs(r, s.opts.adminToken)) {
			if s.opts.tenant != "" {
				return "this run's control API needs its token: send Authorization: Bearer <token>, the token its creation (POST /_zconform/v1/tenants) answered", http.StatusUnauthorized
			}
			return "the control API needs the configured token: send Authorization: Bearer <token>", http.StatusUnauthorized
		}
		return "", 0
	}
	host, _, err := net.SplitHostPort(r.RemoteAddr)
	if err != nil {
		host = r.RemoteAddr
	}
	if ip := net.ParseIP(host); ip == nil || !ip.IsLoopback() {
		return "the control API answers only on loopback: configure a control token to use it from " + host, http.StatusForbidden
	}
	return "", 0
}

func nonNil[T any](s []T) []T {
	if s == nil {
		return []T{}
	}
	return s
}

func result(v any, err error, failStatus int) (int, any) {
	if err != nil {
		var rerr *RegistrationError
		var cerr *capError
		if errors.As(err, &cerr) {
			return http.StatusTooManyRequests, controlError{Error: cerr.Error()}
		}
		if errors.As(err, &rerr) {
			return http.StatusBadRequest, controlError{Error: rerr.Message, Field: rerr.Field, Seed: string(rerr.Seed)}
		}
		return failStatus, controlError{Error: err.Error()}
	}
	return http.StatusOK, v
}

// decode reads a strict JSON body into v.
func decode(r *http.Request, v any) error {
	data, err := io.ReadAll(r.Body)
	if err != nil {
		return fmt.Errorf("read the body: %w", err)
	}
	if len(bytes.TrimSpace(data)) == 0 {
		data = []byte("{}")
	}
	dec := json.NewDecoder(bytes.NewReader(data))
	dec.DisallowUnknownFields()
	if err := dec.Decode(v); err != nil {
		return fmt.Errorf("invalid JSON body: %v", err)
	}
	if dec.More() {
		return errors.New("invalid JSON body: more than one JSON value")
	}
	return nil
}

func bad(err error) (int, any) { return http.StatusBadRequest, controlError{Error: err.Error()} }

func (s *Server) ctlIndex(r *http.Request) (int, any) {
	t := target{prefix: baseURL(r)}
	dcs := map[zoho.DC]map[string]string{}
	for _, d := range zoho.DataCentres() {
		dcs[d.DC] = map[string]string{"accounts_server": t.accountsURL(d.DC), "api_domain": t.apiURL(d.DC)}
	}
	return http.StatusOK, map[string]any{
		"profile": s.Profile(), "clock": s.clockState(), "data_centres": dcs, "breaks": s.Breaks(),
		"endpoints": []string{
			"POST /users", "GET /users", "GET /users/{email}/tokens", "DELETE /users/{email}/session",
			"POST /clients", "GET /clients", "GET /clients/{id}", "POST /clients/{id}/multi-dc",
			"POST /clients/{id}/consent", "POST /clients/{id}/self-client-code",
			"POST /orgs", "GET /orgs",
			"GET /refresh-tokens/{token}/access-tokens", "POST /revoke",
			"GET /clock", "POST /clock/advance", "POST /clock/set",
			"GET /breaks", "PUT /breaks", "POST /breaks/{id}", "DELETE /breaks/{id}",
			"GET /limits", "PUT /limits", "POST /scopes", "GET /requests?since=N", "POST /seed",
			"POST /faults", "GET /faults", "DELETE /faults", "DELETE /faults/{id}",
			"GET /devices", "POST /devices/approve", "POST /devices/deny",
		},
	}
}

func (s *Server) ctlAddUser(r *http.Request) (int, any) {
	var spec UserSpec
	if err := decode(r, &spec); err != nil {
		return bad(err)
	}
	u, err := s.AddUser(spec)
	return result(u, err, http.StatusBadRequest)
}

func (s *Server) ctlTokens(r *http.Request) (int, any) {
	t, err := s.Tokens(r.PathValue("email"))
	return result(t, err, http.StatusNotFound)
}

func (s *Server) ctlRegister(r *http.Request) (int, any) {
	var spec ClientSpec
	if err := decode(r, &spec); err != nil {
		return bad(err)
	}
	c, err := s.RegisterClient(spec)
	return result(c, err, http.StatusBadRequest)
}

func (s *Server) ctlMultiDC(r *http.Request) (int, any) {
	var body struct {
		DC zoho.DC `json:"dc"`
		MultiDC
	}
	if err := decode(r, &body); err != nil {
		return bad(err)
	}
	secret, err := s.EnableMultiDC(r.PathValue("id"), body.DC, body.MultiDC)
	return result(map[string]string{"dc": string(body.DC), "secret": secret}, err, http.StatusBadRequest)
}

func (s *Server) ctlConsent(r *http.Request) (int, any) {
	var body struct {
		Answers []Consent `json:"answers"`
	}
	if err := decode(r, &body); err != nil {
		return bad(err)
	}
	return result(map[string]int{"queued": len(body.Answers)}, s.ScriptConsent(r.PathValue("id"), body.Answers...), http.StatusBadRequest)
}

func (s *Server) ctlSelfCode(r *http.Request) (int, any) {
	var body struct {
		Scopes      []string `json:"scopes"`
		Lifetime    string   `json:"lifetime"`
		Description string   `json:"description"`
	}
	if err := decode(r, &body); err != nil {
		return bad(err)
	}
	req := SelfClientCodeRequest{Scopes: body.Scopes, Description: body.Description}
	if body.Lifetime != "" {
		d, err := time.ParseDuration(body.Lifetime)
		if err != nil {
			return bad(fmt.Errorf("lifetime %q is not a duration: write it like \"3m\"", body.Lifetime))
		}
		req.Lifetime = d
	}
	code, err := s.SelfClientCode(r.PathValue("id"), req)
	return result(map[string]string{"code": code}, err, http.StatusBadRequest)
}

func (s *Server) ctlRevoke(r *http.Request) (int, any) {
	var body struct {
		Token string `json:"token"`
	}
	if err := decode(r, &body); err != nil {
		return bad(err)
	}
	return http.StatusOK, map[string]bool{"revoked": s.Revoke(body.Token)}
}

func (s *Server) clockState() map[string]any {
	return map[string]any{"now": s.clock.Now().Format(time.RFC3339Nano), "virtual": s.clock.Virtual()}
}

func (s *Server) ctlClock(*http.Request) (int, any) { return http.StatusOK, s.clockState() }

func (s *Server) ctlAdvance(r *http.Request) (int, any) {
	var body struct {
		By string `json:"by"`
	}
	if err := decode(r, &body); err != nil {
		return bad(err)
	}
	d, err := time.ParseDuration(body.By)
	if err != nil {
		return bad(fmt.Errorf("by %q is not a duration: write it like \"61s\" or \"1h\"", body.By))
	}
	if err := s.clock.Advance(d); err != nil {
		return http.StatusConflict, controlError{Error: err.Error()}
	}
	return http.StatusOK, s.clockState()
}

func (s *Server) ctlSetClock(r *http.Request) (int, any) {
	var body struct {
		Now time.Time `json:"now"`
	}
	if err := decode(r, &body); err != nil {
		return bad(err)
	}
	if err := s.clock.Set(body.Now); err != nil {
		return http.StatusConflict, controlError{Error: err.Error()}
	}
	return http.StatusOK, s.clockState()
}

func (s *Server) ctlBreaks(*http.Request) (int, any) {
	type item struct {
		ID     zoho.SeedID `json:"id"`
		Effect string      `json:"effect"`
	}
	on := []item{}
	for _, id := range s.Breaks() {
		on = append(on, item{id, breakEffects[id]})
	}
	return http.StatusOK, map[string]any{"on": on}
}

func (s *Server) ctlSetBreaks(r *http.Request) (int, any) {
	var body struct {
		On []zoho.SeedID `json:"on"`
	}
	if err := decode(r, &body); err != nil {
		return bad(err)
	}
	for _, id := range body.On {
		if _, ok := breakEffects[id]; !ok {
			return bad(fmt.Errorf("no break for %q: breaks exist for the seed IDs (K4-...)", id))
		}
	}
	s.Unbreak()
	_ = s.Break(body.On...)
	return s.ctlBreaks(r)
}

func (s *Server) ctlLimits(*http.Request) (int, any) {
	return http.StatusOK, map[string]any{"profile": s.Profile(), "limits": s.Limits()}
}

// ctlSetLimits takes {"profile": name} and/or {"limits": {field: value}}:
// the profile first, then single limits on top, durations as "60s".
func (s *Server) ctlSetLimits(r *http.Request) (int, any) {
	var body struct {
		Profile string          `json:"profile"`
		Limits  json.RawMessage `json:"limits"`
	}
	if err := decode(r, &body); err != nil {
		return bad(err)
	}
	l := s.Limits()
	name := s.Profile()
	if body.Profile != "" {
		var err error
		if l, err = zoho.Profile(body.Profile); err != nil {
			return bad(err)
		}
		name = body.Profile
	}
	if len(body.Limits) > 0 {
		if err := json.Unmarshal(body.Limits, &l); err != nil {
			return bad(err)
		}
	}
	if err := l.Validate(); err != nil {
		return bad(err)
	}
	s.mu.Lock()
	s.limits, s.profile = l, name
	s.mu.Unlock()
	return s.ctlLimits(r)
}

func (s *Server) ctlAddScopes(r *http.Request) (int, any) {
	var body struct {
		Scopes []string `json:"scopes"`
	}
	if err := decode(r, &body); err != nil {
		return bad(err)
	}
	for _, sc := range body.Scopes {
		if !zoho.ValidScopeShape(sc) {
			return bad(fmt.Errorf("scope %q is not shaped Service.scope_name.OPERATION (ALL, CREATE, READ, UPDATE or DELETE)", sc))
		}
	}
	s.AddScopes(body.Scopes...)
	return http.StatusOK, map[string]int{"added": len(body.Scopes)}
}

func (s *Server) ctlRequests(r *http.Request) (int, any) {
	var since int64
	if v := r.URL.Query().Get("since"); v != "" {
		n, err := strconv.ParseInt(v, 10, 64)
		if err != nil || n < 0 {
			return bad(fmt.Errorf("since=%q is not a request sequence number", v))
		}
		since = n
	}
	limit := defaultRequestsPage
	if v := r.URL.Query().Get("limit"); v != "" {
		n, err := strconv.Atoi(v)
		if err != nil || n < 1 || n > maxRequestsPage {
			return bad(fmt.Errorf("limit=%q: give a number from 1 to %d", v, maxRequestsPage))
		}
		limit = n
	}
	page, more := s.RequestsPage(since, limit)
	body := map[string]any{"requests": nonNil(page), "more": more}
	if more {
		body["next"] = fmt.Sprintf("%s/requests?since=%d&limit=%d", controlPrefix, page[len(page)-1].Seq, limit)
	}
	return http.StatusOK, body
}

// GET /requests answers in pages: defaultRequestsPage entries unless
// limit= asks for another number, up to maxRequestsPage.
const (
	defaultRequestsPage = 1000
	maxRequestsPage     = 10000
)

// ctlSeed applies a seed file sent as the body (YAML or JSON); a broken one
// changes nothing and the error names the line.
func (s *Server) ctlSeed(r *http.Request) (int, any) {
	data, err := io.ReadAll(r.Body)
	if err != nil {
		return bad(fmt.Errorf("read the body: %w", err))
	}
	f, err := ParseSeed("seed", data)
	if err != nil {
		return bad(err)
	}
	if err := s.seedCapCheck(f); err != nil {
		return result(nil, err, http.StatusBadRequest)
	}
	if err := s.ApplySeed(f); err != nil {
		return bad(err)
	}
	return http.StatusOK, map[string]any{"users": s.Users(), "clients": s.Clients()}
}

// faultWire is a Fault on the control API: the latency as a duration
// string ("250ms").
type faultWire struct {
	Fault
	Latency string `json:"latency,omitempty"`
}

// faultView is a FaultState on the control API.
type faultView struct {
	FaultState
	Latency string `json:"latency,omitempty"`
}

func faultViews(fs []FaultState) []faultView {
	out := make([]faultView, len(fs))
	for i, f := range fs {
		out[i] = faultView{FaultState: f}
		if f.Latency > 0 {
			out[i].Latency = f.Latency.String()
		}
	}
	return out
}

func (s *Server) ctlInjectFault(r *http.Request) (int, any) {
	var body faultWire
	if err := decode(r, &body); err != nil {
		return bad(err)
	}
	f := body.Fault
	if body.Latency != "" {
		d, err := time.ParseDuration(body.Latency)
		if err != nil {
			return bad(fmt.Errorf("latency %q is not a duration: write it like \"250ms\"", body.Latency))
		}
		f.Latency = d
	}
	id, err := s.InjectFault(f)
	if err != nil {
		return bad(err)
	}
	return http.StatusOK, map[string]int{"id": id}
}

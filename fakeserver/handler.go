package fakeserver

import (
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"log"
	"mime"
	"net/http"
	"net/url"
	"slices"
	"strconv"
	"strings"

	"github.com/zconform/zconform/fixtures/zoho"
)

// maxBody caps request bodies; bigger ones get HTTP 413 and a JSON message.
const maxBody = 64 << 10

func discardLog() *log.Logger { return log.New(io.Discard, "", 0) }

// exchange is one request on its way through the fake: what came in, what is
// going out, for the log.
type exchange struct {
	w      http.ResponseWriter
	r      *http.Request
	t      target
	params url.Values
	status int
	errStr string
	// recorded: the exchange is in the request log already (a fault logs
	// it before it breaks the connection).
	recorded bool
}

func (s *Server) routes() http.Handler {
	control := s.controlRoutes()
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if s.serveHealth(w, r) { // GET /_zconform/health and /ready, open to all (health.go)
			return
		}
		if r.URL.Path == controlPrefix || strings.HasPrefix(r.URL.Path, controlPrefix+"/") {
			control.ServeHTTP(w, r)
			return
		}
		t, ok := resolve(r)
		if !ok {
			s.index(w, r)
			return
		}
		x := &exchange{w: w, r: r, t: t}
		defer s.record(x)
		if f := s.faultFor(r, t); f != nil {
			s.serveFaulty(w, r, f, x, func(w http.ResponseWriter) {
				inner := &exchange{w: w, r: r, t: t}
				s.dispatch(inner)
				x.params, x.status, x.errStr = inner.params, inner.status, "fault:"+string(f.Kind)+" "+inner.errStr
			})
			return
		}
		s.dispatch(x)
	})
}

// dispatch serves one request to a DC's endpoint.
func (s *Server) dispatch(x *exchange) {
	t := x.t
	{
		switch t.role {
		case zoho.Accounts:
			switch t.path {
			case "/oauth/v2/auth":
				if !s.overTokenCap(x) { // a shared fake's run is bounded (guard.go)
					s.authorizeOrClientCredentials(x) // ZA-CC-AUTH: client credentials here too (clientcreds.go)
				}
			case "/oauth/v2/token":
				if !s.overTokenCap(x) { // a shared fake's run is bounded (guard.go)
					s.token(x)
				}
			case "/oauth/v2/token/revoke":
				s.revoke(x)
			case "/oauth/v2/revoke/token":
				s.revokeV2(x) // ZA-REVOKE-V2 (revokev2.go)
			case "/oauth/serverinfo":
				s.serverInfo(x) // ZA-SERVERINFO (serverinfo.go)
			case "/oauth/user/info":
				s.userInfo(x)
			case zoho.DeviceCodePath: // ZA-DEV-INIT (device.go)
				s.deviceCode(x)
			case zoho.DeviceTokenPath: // ZA-DEV-POLL and its feedback (device.go)
				s.deviceToken(x)
			case zoho.DeviceVerifyPath: // the device flow's verification page (device.go)
				s.deviceVerify(x)
			case JSRefreshPath: // ZA-JS-REFRESH (jsapps.go)
				if !s.overTokenCap(x) {
					s.authRefresh(x)
				}
			case JWKSPath: // the id_token's key (jsapps.go)
				s.jwks(x)
			default:
				x.jsonError(http.StatusNotFound, "not_found", "the fake Accounts server serves /oauth/v2/auth, /oauth/v2/token, /oauth/v2/token/revoke, /oauth/v2/revoke/token, /oauth/serverinfo, /oauth/user/info, /oauth/v2/auth/refresh and /oauth/v2/keys")
			}
		case zoho.API:
			s.api(x)
		}
	}
}

// index answers requests that name no DC: a JSON list of the DC URLs.
func (s *Server) index(w http.ResponseWriter, r *http.Request) {
	t := target{prefix: baseURL(r)}
	type dcURLs struct {
		DC       zoho.DC `json:"dc"`
		Accounts string  `json:"accounts_server"`
		API      string  `json:"api_domain"`
	}
	var dcs []dcURLs
	for _, d := range zoho.DataCentres() {
		dcs = append(dcs, dcURLs{d.DC, t.accountsURL(d.DC), t.apiURL(d.DC)})
	}
	status := http.StatusOK
	msg := "zconform fake Zoho Accounts server: each DC is served under the path prefix of its real host name"
	if r.URL.Path != "/" {
		status = http.StatusNotFound
		msg = fmt.Sprintf("no DC at %s: prefix the path with a DC's Accounts or API host name, e.g. /accounts.zoho.com/oauth/v2/token", r.URL.Path)
	}
	body := map[string]any{"message": msg, "data_centres": dcs, "control_api": t.prefix + controlPrefix}
	if status != http.StatusOK {
		body["error"] = "not_found"
	}
	writeJSON(w, status, body)
}

func writeJSON(w http.ResponseWriter, status int, v any) {
	data, err := json.Marshal(v)
	if err != nil {
		status, data = http.StatusInternalServerError, []byte(`{"error":"internal","error_description":"the fake could not encode its answer"}`)
	}
	w.Header().Set("Content-Type", "application/json;charset=UTF-8")
	w.Header().Set("Content-Length", strconv.Itoa(len(data)))
	w.WriteHeader(status)
	_, _ = w.Write(data)
}

// reply sends a JSON body as Zoho does.
func (x *exchange) reply(status int, v any) {
	x.status = status
	writeJSON(x.w, status, v)
}

// tokenErrorLocked sends a token-endpoint error as Zoho does: HTTP 200 and
// a bare {"error": code} [seen].
func (s *Server) tokenErrorLocked(x *exchange, code string) {
	status := http.StatusOK
	if s.brokenLocked(DevTokenErrorHTTP400) {
		status = http.StatusBadRequest
	}
	x.errStr = code
	x.reply(status, map[string]string{"error": code})
}

// jsonError sends an error the fake makes up (Zoho documents none), with a
// description a person can act on.
func (x *exchange) jsonError(status int, code, description string) {
	x.errStr = code
	x.reply(status, map[string]string{"error": code, "error_description": description})
}

// paramsOf reads the parameters of a request whose method is one of
// methods; another method gets HTTP 405 invalid_request saying "use " +
// use. Like parseParams, it answers the request itself when it cannot go
// on.
func (x *exchange) paramsOf(use string, methods ...string) bool {
	if !slices.Contains(methods, x.r.Method) {
		x.jsonError(http.StatusMethodNotAllowed, zoho.ErrInvalidRequest, "use "+use)
		return false
	}
	return x.parseParams()
}

// parseParams reads parameters from the query string and from urlencoded or
// multipart bodies alike. It answers the request itself when it cannot.
func (x *exchange) parseParams() bool {
	r := x.r
	r.Body = http.MaxBytesReader(x.w, r.Body, maxBody)
	var err error
	mt, _, _ := mime.ParseMediaType(r.Header.Get("Content-Type"))
	if mt == "multipart/form-data" {
		err = r.ParseMultipartForm(maxBody)
	} else {
		err = r.ParseForm()
	}
	x.params = r.Form
	if err != nil {
		var tooBig *http.MaxBytesError
		if errors.As(err, &tooBig) || strings.Contains(err.Error(), "too large") {
			x.jsonError(http.StatusRequestEntityTooLarge, zoho.ErrInvalidRequest, fmt.Sprintf("the request body is over %d KiB: send only the OAuth parameters", maxBody>>10))
			return false
		}
		x.jsonError(http.StatusBadRequest, zoho.ErrInvalidRequest, "the request body could not be parsed ("+err.Error()+"): send the parameters urlencoded, as multipart/form-data or in the query string")
		return false
	}
	if x.params == nil {
		x.params = url.Values{}
	}
	return true
}

func (x *exchange) param(name string) string { return strings.TrimSpace(x.params.Get(name)) }

// has reports whether a parameter is present with a non-empty value.
func (x *exchange) has(name string) bool { return x.param(name) != "" }

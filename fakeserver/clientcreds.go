package fakeserver

import (
	"fmt"
	"net/http"
	"regexp"
	"slices"
	"strings"
	"time"

	"github.com/zconform/zconform/fixtures/zoho"
)

// Client credentials (docs/zoho-oauth-beyond.md section 2, ZA-CC-*): a
// Self Client asks for an access token with its own credentials, for an
// org of a Zoho service named by soid (<Service>.<org id>). The answer has
// no refresh token; the client asks again when the hour is over.
//
// The choices the pages leave open, each [assumed]:
//   - Only a Self Client may use the grant; another client that names its
//     right credentials gets unauthorized_client (RFC 6749's code for a
//     grant type the client may not use). Wrong credentials are
//     invalid_client (or the profile's wrong-secret error) first.
//   - soid is needed by every service the fake knows (they all keep
//     several orgs): without it, missing_org_info [doc]; with one that is
//     not <Service>.<digits>, or that names no org of this DC (or an org
//     of another service), invalid_org_info.
//   - A missing scope is invalid_request, an unknown one invalid_scope.
//   - The fake keeps no org membership: any Self Client of the org's DC
//     may name it.
//   - The token acts as the Self Client's developer, whom Zoho's
//     self-client page calls the resource owner: /oauth/user/info and the
//     CRM current-user API answer that user; GET /crm/v8/org answers the
//     org the soid named.
//   - The same request at /oauth/v2/auth (the CRM pages' variant) is taken
//     by GET or POST, its parameters in the query or the body; its errors
//     are the token endpoint's (JSON, HTTP 200), not error pages.
//   - Which of the two answers carries scope (space-separated, the scopes
//     asked) is the profile's client_credentials_scope.

// OrgSpec describes an org (a portal or organization of a Zoho service)
// that a client-credentials soid can name: "ZohoCRM.600000000001" names
// the org {id: "600000000001", service: ZohoCRM}.
type OrgSpec struct {
	// ID is the org's ID (zsoid): digits, up to 19; default: one the fake
	// picks.
	ID string `json:"id,omitempty" yaml:"id"`
	// Service is the Zoho service the org belongs to (default ZohoCRM).
	Service string `json:"service,omitempty" yaml:"service"`
	// DC is the DC the org lives in (default us): client credentials for it
	// are asked at that DC's Accounts server.
	DC zoho.DC `json:"dc,omitempty" yaml:"dc"`
	// Name is the org's company name (GET /crm/v8/org).
	Name string `json:"name,omitempty" yaml:"name"`
}

// Org is an org as the fake shows it.
type Org struct {
	ID      string  `json:"id"`
	Service string  `json:"service"`
	DC      zoho.DC `json:"dc"`
	Name    string  `json:"name"`
	// SOID is what a client-credentials request sends for it:
	// <Service>.<ID>.
	SOID string `json:"soid"`
}

// ccState is the server's client-credentials state: the orgs, by ID.
type ccState struct {
	orgs    map[string]*Org
	nextOrg int64
}

// ccGrant is what a client-credentials access token was issued for.
type ccGrant struct {
	org    *Org // nil only with ZA-CC-SOID broken
	scopes []string
}

// DevCCAnyOrg is a deviation (breaks.go): client credentials take a soid
// that names no org.
const DevCCAnyOrg zoho.SeedID = "DEV-CC-ANY-ORG"

// DefaultOrgService is the service of an org that names none.
const DefaultOrgService = "ZohoCRM"

var (
	orgIDPattern      = regexp.MustCompile(`^[1-9][0-9]{0,18}$`)
	orgServicePattern = regexp.MustCompile(`^[A-Za-z][A-Za-z0-9]*$`)
)

// AddOrg creates an org that client credentials can name by its soid.
// Org IDs are unique across services and DCs.
func (s *Server) AddOrg(spec OrgSpec) (Org, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	o, err := s.addOrgLocked(spec)
	if err != nil {
		return Org{}, err
	}
	return *o, nil
}

func (s *Server) addOrgLocked(spec OrgSpec) (*Org, error) {
	if s.cc.orgs == nil {
		s.cc.orgs = map[string]*Org{}
	}
	spec.ID = strings.TrimSpace(spec.ID)
	if spec.Service = strings.TrimSpace(spec.Service); spec.Service == "" {
		spec.Service = DefaultOrgService
	}
	if !orgServicePattern.MatchString(spec.Service) {
		return nil, fmt.Errorf("org service %q is not a Zoho service name: give one like %s (letters and digits)", spec.Service, DefaultOrgService)
	}
	if spec.DC == "" {
		spec.DC = zoho.US
	}
	dc, err := zoho.ParseDC(string(spec.DC))
	if err != nil {
		return nil, err
	}
	switch {
	case spec.ID == "":
		for spec.ID == "" || s.cc.orgs[spec.ID] != nil {
			s.cc.nextOrg++
			spec.ID = fmt.Sprint(690000000000 + s.cc.nextOrg)
		}
	case !orgIDPattern.MatchString(spec.ID):
		return nil, fmt.Errorf("org ID %q is not an org ID: give digits only (up to 19, no leading 0), such as 600000000001", spec.ID)
	case s.cc.orgs[spec.ID] != nil:
		return nil, fmt.Errorf("org %s exists already: choose another ID", spec.ID)
	}
	if spec.Name = strings.TrimSpace(spec.Name); spec.Name == "" {
		spec.Name = "zconform fake org"
	}
	o := &Org{ID: spec.ID, Service: spec.Service, DC: dc, Name: spec.Name, SOID: spec.Service + "." + spec.ID}
	s.cc.orgs[o.ID] = o
	return o, nil
}

// Orgs lists the orgs, sorted by ID.
func (s *Server) Orgs() []Org {
	s.mu.Lock()
	defer s.mu.Unlock()
	out := make([]Org, 0, len(s.cc.orgs))
	for _, o := range s.cc.orgs {
		out = append(out, *o)
	}
	slices.SortFunc(out, func(a, b Org) int { return strings.Compare(a.ID, b.ID) })
	return out
}

// orgBySOIDLocked finds the org a soid names in a DC (nil for none).
func (s *Server) orgBySOIDLocked(soid string, dc zoho.DC) *Org {
	service, id, ok := strings.Cut(soid, ".")
	if !ok {
		return nil
	}
	o := s.cc.orgs[id]
	if o == nil || o.Service != service || (o.DC != dc && !s.brokenLocked(zoho.TokenClientB)) {
		return nil
	}
	return o
}

// ccResponse is a client-credentials answer: no refresh token, scope
// where the profile says (fields in the order of Zoho's samples).
type ccResponse struct {
	AccessToken string `json:"access_token"`
	// RefreshToken is sent only with ZA-CC-TOKEN broken.
	RefreshToken string `json:"refresh_token,omitempty"`
	Scope        string `json:"scope,omitempty"`
	APIDomain    string `json:"api_domain"`
	TokenType    string `json:"token_type"`
	ExpiresIn    int    `json:"expires_in"`
}

// clientCredentialsLocked serves grant_type=client_credentials at the
// token endpoint or, atAuth, at the authorization endpoint (ZA-CC-*).
// The parameters are parsed, HTTP Basic merged in.
func (s *Server) clientCredentialsLocked(x *exchange, now time.Time, atAuth bool) {
	c, errCode := s.checkClientLocked(x, nil)
	if errCode != "" {
		s.tokenErrorLocked(x, errCode)
		return
	}
	if c.Type != SelfClient && !s.brokenLocked(zoho.CCClient) {
		s.tokenErrorLocked(x, zoho.ErrUnauthorizedClient) // ZA-CC-CLIENT [assumed code]
		return
	}
	var o *Org
	switch soid := x.param("soid"); {
	case soid == "" && s.brokenLocked(zoho.CCSoid):
		// broken ZA-CC-SOID: a token for no org
	case soid == "":
		s.tokenErrorLocked(x, zoho.ErrMissingOrgInfo) // ZA-CC-SOID
		return
	default:
		if o = s.orgBySOIDLocked(soid, x.t.dc); o == nil && !s.brokenLocked(DevCCAnyOrg) {
			s.tokenErrorLocked(x, zoho.ErrInvalidOrgInfo) // [assumed]
			return
		}
	}
	scopes := zoho.SplitScopes(x.param("scope"))
	if len(scopes) == 0 {
		s.tokenErrorLocked(x, zoho.ErrInvalidRequest) // [assumed] scope is missing
		return
	}
	if bad := s.unknownScopeLocked(scopes); bad != "" {
		s.tokenErrorLocked(x, zoho.ErrInvalidScope) // [assumed]
		return
	}
	a := s.mintAccessLocked(nil, c, c.owner, x.t.dc, now)
	a.cc = &ccGrant{org: o, scopes: scopes}
	resp := ccResponse{
		AccessToken: a.value, APIDomain: x.t.apiURL(x.t.dc), TokenType: "Bearer",
		ExpiresIn: int(s.limits.AccessTokenLifetime.Seconds()),
	}
	if zoho.CCScopeAnswered(s.limits.ClientCredentialsScope, atAuth) {
		resp.Scope = strings.Join(scopes, " ")
	}
	if s.brokenLocked(zoho.CCToken) {
		resp.RefreshToken = s.newSecret(zoho.NewToken()) // broken ZA-CC-TOKEN
	}
	x.reply(http.StatusOK, resp)
}

// authorizeOrClientCredentials serves {AS}/oauth/v2/auth: a
// client-credentials request (grant_type=client_credentials, the CRM
// pages' variant, ZA-CC-AUTH) gets a token answer; anything else is an
// authorization request.
func (s *Server) authorizeOrClientCredentials(x *exchange) {
	if x.r.Method == http.MethodGet || x.r.Method == http.MethodPost {
		if !x.parseParams() {
			return
		}
		if x.param("grant_type") == "client_credentials" && !s.isBroken(zoho.CCAuth) {
			mergeBasic(x)
			now := s.clock.Now()
			s.mu.Lock()
			defer s.mu.Unlock()
			s.clientCredentialsLocked(x, now, true)
			return
		}
	}
	s.authorize(x) // parses again: a parsed request keeps its values
}

// mergeBasic takes client_id and client_secret from HTTP Basic when the
// parameters lack them (as the token endpoint does).
func mergeBasic(x *exchange) {
	if id, secret, ok := x.r.BasicAuth(); ok {
		if !x.has("client_id") {
			x.params.Set("client_id", id)
		}
		if !x.has("client_secret") {
			x.params.Set("client_secret", secret)
		}
	}
}

// isBroken is brokenLocked for callers that do not hold the lock.
func (s *Server) isBroken(id zoho.SeedID) bool {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.brokenLocked(id)
}

// orgAnswer is GET /crm/v8/org for a client-credentials token: the org its
// soid named (ok false for any other token).
func orgAnswer(a *accessToken) (map[string]any, bool) {
	if a.cc == nil || a.cc.org == nil {
		return nil, false
	}
	o := a.cc.org
	return map[string]any{"org": []map[string]any{{
		"id": o.ID, "zgid": o.ID, "company_name": o.Name, "primary_email": a.user.Email,
		"primary_zuid": a.user.ZUID, "country_code": strings.ToUpper(string(o.DC)),
		"currency": "USD", "time_zone": "UTC",
	}}}, true
}

func (s *Server) ctlAddOrg(r *http.Request) (int, any) {
	var spec OrgSpec
	if err := decode(r, &spec); err != nil {
		return bad(err)
	}
	o, err := s.AddOrg(spec)
	return result(o, err, http.StatusBadRequest)
}

// applySeedOrgs creates a seed file's orgs, each problem at its line.
func (s *Server) applySeedOrgs(f *SeedFile) []*SeedError {
	var errs []*SeedError
	for i, spec := range f.Orgs {
		key := fmt.Sprintf("orgs[%d]", i)
		if f.bad[key] || f.badUnder(key+".id") || f.badUnder(key+".service") || f.badUnder(key+".dc") {
			continue // its shape is reported already
		}
		if _, err := s.AddOrg(spec); err != nil {
			field := key + ".id"
			switch msg := err.Error(); {
			case strings.Contains(msg, "service"):
				field = key + ".service"
			case strings.Contains(msg, "data centre"):
				field = key + ".dc"
			}
			errs = append(errs, f.errAt(fmt.Sprintf("org %d", i+1), err, field, key, "orgs"))
		}
	}
	return errs
}

package fakeserver

// The orgs that client credentials name (clientcreds.go): their records,
// and how a test, the control API and a seed file add them. This is the
// fake's administration, not a rule of Zoho's: make mutation does not
// measure it.

import (
	"fmt"
	"net/http"
	"regexp"
	"slices"
	"strings"

	"github.com/zconform/zconform/fixtures/zoho"
)

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

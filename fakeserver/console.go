package fakeserver

import (
	"fmt"
	"net/url"
	"regexp"
	"slices"
	"strings"
	"time"

	"github.com/zconform/zconform/fixtures/zoho"
)

// ClientType is a client type of the Zoho Developer Console.
type ClientType string

// The console's client types.
const (
	JavaScript ClientType = "javascript"
	WebBased   ClientType = "web"
	Mobile     ClientType = "mobile"
	SelfClient ClientType = "self"
	Device     ClientType = "device"
)

// ClientTypes lists every client type.
var ClientTypes = []ClientType{JavaScript, WebBased, Mobile, SelfClient, Device}

// ParseClientType accepts a type's name ("web", "Web-based", "self client", ...).
func ParseClientType(s string) (ClientType, error) {
	switch strings.ToLower(strings.NewReplacer("-", "", "_", "", " ", "").Replace(s)) {
	case "javascript", "js":
		return JavaScript, nil
	case "web", "webbased":
		return WebBased, nil
	case "mobile":
		return Mobile, nil
	case "self", "selfclient":
		return SelfClient, nil
	case "device":
		return Device, nil
	}
	return "", fmt.Errorf("unknown client type %q: use one of javascript, web, mobile, self, device", s)
}

// mandatory is the seed's matrix: which fields each client type requires.
// JS domains apply to JavaScript clients only.
var mandatory = map[ClientType]struct {
	name, homepage, redirect, jsDomains bool
	seed                                zoho.SeedID
}{
	JavaScript: {true, true, true, true, zoho.RegMandatoryJS},
	WebBased:   {true, true, true, false, zoho.RegMandatoryWeb},
	Mobile:     {true, true, true, false, zoho.RegMandatoryMobile},
	SelfClient: {false, false, false, false, zoho.RegMandatorySelf},
	Device:     {true, true, false, false, zoho.RegMandatoryDevice},
}

// ClientSpec describes a client to register in the console.
type ClientSpec struct {
	Type         ClientType `json:"type" yaml:"type"`
	Name         string     `json:"name,omitempty" yaml:"name"`
	Homepage     string     `json:"homepage,omitempty" yaml:"homepage"`
	RedirectURIs []string   `json:"redirect_uris,omitempty" yaml:"redirect_uris"`
	// JSDomains are the JavaScript domains, for JavaScript clients only;
	// each entry may itself be a comma-separated list, as the console takes it.
	JSDomains []string `json:"js_domains,omitempty" yaml:"js_domains"`
	// DC is the client's home DC (the console it is registered in); default:
	// the user's DC, else US. It must be the user's DC.
	DC zoho.DC `json:"dc,omitempty" yaml:"dc"`
	// User is the email of the registering developer, who is also the user
	// that consents by default and owns a self client; default: the DC's
	// default user.
	User string `json:"user,omitempty" yaml:"user"`
	// ID and Secret fix the credentials (in Zoho's formats); default: random.
	ID     string `json:"id,omitempty" yaml:"id"`
	Secret string `json:"secret,omitempty" yaml:"secret"`
	// PKCE says whether a mobile client must send a code_challenge
	// (ZA-PKCE-AUTH): required (the default) or optional, an app registered
	// before Zoho required PKCE [assumed]; other types take none (pkce.go).
	PKCE string `json:"pkce,omitempty" yaml:"pkce"`
}

// Client is a registered client as the console shows it.
type Client struct {
	ID           string     `json:"id"`
	Secret       string     `json:"secret"`
	Type         ClientType `json:"type"`
	Name         string     `json:"name,omitempty"`
	Homepage     string     `json:"homepage,omitempty"`
	RedirectURIs []string   `json:"redirect_uris,omitempty"`
	JSDomains    []string   `json:"js_domains,omitempty"`
	DC           zoho.DC    `json:"dc"`
	User         string     `json:"user"`
	// Secrets holds the secret of every DC the client is enabled in.
	Secrets map[zoho.DC]string `json:"secrets"`
	// PKCE is a mobile client's PKCE setting: required or optional.
	PKCE string `json:"pkce,omitempty"`
}

// MsgOneSelfClient is the console's refusal of a second self client of a
// user [assumed: the console offers one self client per user].
const MsgOneSelfClient = "A user can have only one self client"

// RegistrationError is the console's refusal of a client, with the field
// and the console's exact message.
type RegistrationError struct {
	Field   string      `json:"field"`
	Message string      `json:"error"`
	Seed    zoho.SeedID `json:"seed,omitempty"`
}

func (e *RegistrationError) Error() string {
	return fmt.Sprintf("console: %s (field %s)", e.Message, e.Field)
}

// MultiDC says how to enable a client in another DC.
type MultiDC struct {
	// SeparateSecret gives the DC its own secret; otherwise the DC shares the
	// home DC's secret.
	SeparateSecret bool `json:"separate_secret,omitempty" yaml:"separate_secret"`
	// Secret fixes the separate secret; default random.
	Secret string `json:"secret,omitempty" yaml:"secret"`
}

// SelfClientCodeRequest is the self client's "Generate Code" form.
type SelfClientCodeRequest struct {
	Scopes []string `json:"scopes"`
	// Lifetime is the selected time duration; zero means the profile's default.
	Lifetime    time.Duration `json:"-"`
	Description string        `json:"description,omitempty"`
}

type client struct {
	Client
	home    zoho.DC
	owner   *user
	consent []Consent
	// consented records the users who have consented before (a refresh token
	// is issued on the first consent only, unless prompt=consent).
	consented map[string]bool
	// grantTimes are the issue times of recent grant tokens (rate limit).
	grantTimes []time.Time
}

func (c *client) enabledIn(dc zoho.DC) bool { _, ok := c.Secrets[dc]; return ok }

// validName: letters, digits, spaces, "_" and "&". Spaces are assumed to be
// allowed (the seed only forbids special characters).
var validName = regexp.MustCompile(`^[\p{L}\p{N} _&]+$`)

func validURL(s string, noFragment bool) bool {
	if strings.ContainsAny(s, " \t\r\n") {
		return false
	}
	u, err := url.Parse(s)
	if err != nil || (u.Scheme != "http" && u.Scheme != "https") || u.Host == "" || u.Hostname() == "" {
		return false
	}
	return !noFragment || u.Fragment == ""
}

func splitList(items []string) []string {
	var out []string
	for _, it := range items {
		for _, p := range strings.Split(it, ",") {
			if p = strings.TrimSpace(p); p != "" {
				out = append(out, p)
			}
		}
	}
	return out
}

// validateClient applies the console's checks (K4-REG-*), honouring breaks.
func validateClient(spec *ClientSpec, broken func(zoho.SeedID) bool) *RegistrationError {
	m, ok := mandatory[spec.Type]
	if !ok {
		return &RegistrationError{Field: "type", Message: fmt.Sprintf("unknown client type %q: use one of javascript, web, mobile, self, device", spec.Type)}
	}
	needName, needHome, needRedirect, needJS := m.name, m.homepage, m.redirect, m.jsDomains
	if broken(m.seed) {
		switch spec.Type {
		case SelfClient: // broken: a self client suddenly needs a name
			needName = true
		case Device: // broken: a device client suddenly needs redirect URIs
			needRedirect = true
		case JavaScript: // broken: JS domains stop being mandatory
			needJS = false
		default: // broken: redirect URIs stop being mandatory
			needRedirect = false
		}
	}
	spec.Name = strings.TrimSpace(spec.Name)
	spec.Homepage = strings.TrimSpace(spec.Homepage)
	spec.RedirectURIs = splitList(spec.RedirectURIs)
	spec.JSDomains = splitList(spec.JSDomains)

	switch {
	case spec.Name == "" && needName:
		return &RegistrationError{Field: "name", Message: zoho.MsgClientName, Seed: m.seed}
	case spec.Name != "" && !validName.MatchString(spec.Name) && !broken(zoho.RegName):
		return &RegistrationError{Field: "name", Message: zoho.MsgClientName, Seed: zoho.RegName}
	}
	switch {
	case spec.Homepage == "" && needHome:
		return &RegistrationError{Field: "homepage", Message: zoho.MsgHomepage, Seed: m.seed}
	case spec.Homepage != "" && !validURL(spec.Homepage, false) && !broken(zoho.RegHomepage):
		return &RegistrationError{Field: "homepage", Message: zoho.MsgHomepage, Seed: zoho.RegHomepage}
	}
	if len(spec.RedirectURIs) == 0 && needRedirect {
		return &RegistrationError{Field: "redirect_uris", Message: zoho.MsgRedirectURI, Seed: m.seed}
	}
	for _, r := range spec.RedirectURIs {
		if !validURL(r, true) && !broken(zoho.RegRedirect) {
			return &RegistrationError{Field: "redirect_uris", Message: zoho.MsgRedirectURI, Seed: zoho.RegRedirect}
		}
	}
	if spec.Type != JavaScript && len(spec.JSDomains) > 0 {
		// [assumed] the console has no JS domain field for other types.
		return &RegistrationError{Field: "js_domains", Message: fmt.Sprintf("JavaScript domains do not apply to a %s client: leave them out", spec.Type)}
	}
	if len(spec.JSDomains) == 0 && needJS {
		return &RegistrationError{Field: "js_domains", Message: zoho.MsgJSDomain, Seed: m.seed}
	}
	for _, d := range spec.JSDomains {
		scheme := "http"
		if broken(DevJSDomainHTTPSOnly) {
			scheme = "https"
		}
		if (!strings.HasPrefix(d, scheme) || !validURL(d, true)) && !broken(zoho.RegJSDomain) {
			return &RegistrationError{Field: "js_domains", Message: zoho.MsgJSDomain, Seed: zoho.RegJSDomain}
		}
	}
	return nil
}

// RegisterClient registers a client as the Developer Console would, with
// the console's validation and messages. A refusal is a *RegistrationError.
func (s *Server) RegisterClient(spec ClientSpec) (Client, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	c, err := s.registerLocked(spec)
	if err != nil {
		return Client{}, err
	}
	return c.snapshot(), nil
}

func (c *client) snapshot() Client {
	out := c.Client
	out.RedirectURIs = slices.Clone(c.RedirectURIs)
	out.JSDomains = slices.Clone(c.JSDomains)
	out.Secrets = make(map[zoho.DC]string, len(c.Secrets))
	for k, v := range c.Secrets {
		out.Secrets[k] = v
	}
	return out
}

func (s *Server) registerLocked(spec ClientSpec) (*client, error) {
	// The developer registers in the console of their own DC: the client's
	// home DC defaults to the user's, and must be it.
	var owner *user
	if spec.User != "" {
		u, err := s.userLocked(spec.User)
		if err != nil {
			return nil, err
		}
		owner = u
		if spec.DC == "" {
			spec.DC = u.DC
		}
	}
	if spec.DC == "" {
		spec.DC = zoho.US
	}
	dc, err := zoho.ParseDC(string(spec.DC))
	if err != nil {
		return nil, err
	}
	if owner != nil && owner.DC != dc {
		return nil, fmt.Errorf("user %s lives in %s and registers clients in the %s console: leave dc out or set it to %s", owner.Email, strings.ToUpper(string(owner.DC)), strings.ToUpper(string(owner.DC)), owner.DC)
	}
	if rerr := validateClient(&spec, s.brokenLocked); rerr != nil {
		return nil, rerr
	}
	if rerr := normalizePKCE(&spec); rerr != nil { // pkce.go
		return nil, rerr
	}
	if spec.ID == "" {
		spec.ID = zoho.NewClientID()
	} else if !zoho.ClientIDPattern.MatchString(spec.ID) {
		return nil, fmt.Errorf("client ID %q is not in Zoho's format: \"1000.\" followed by 30 of A-Z and 0-9", spec.ID)
	}
	if _, dup := s.clients[spec.ID]; dup {
		return nil, fmt.Errorf("client ID %s is already registered: choose another", spec.ID)
	}
	if spec.Secret == "" {
		spec.Secret = zoho.NewClientSecret()
	} else if !zoho.ClientSecretPattern.MatchString(spec.Secret) {
		return nil, fmt.Errorf("client secret for %s is not in Zoho's format: 42 lowercase hex digits", spec.ID)
	}
	// the default user is created only once nothing else can refuse the
	// client (a new user has no self client yet)
	if owner == nil {
		if owner, err = s.defaultUserLocked(dc); err != nil {
			return nil, err
		}
	}
	if spec.Type == SelfClient && owner.selfClient != nil {
		// [assumed] the console offers one self client per user.
		return nil, &RegistrationError{Field: "type", Message: fmt.Sprintf("%s: user %s has %s", MsgOneSelfClient, owner.Email, owner.selfClient.ID)}
	}
	s.newSecret(spec.Secret)
	c := &client{
		Client: Client{
			ID: spec.ID, Secret: spec.Secret, Type: spec.Type, Name: spec.Name, Homepage: spec.Homepage,
			RedirectURIs: spec.RedirectURIs, JSDomains: spec.JSDomains, DC: dc, User: owner.Email,
			Secrets: map[zoho.DC]string{dc: spec.Secret}, PKCE: spec.PKCE,
		},
		home: dc, owner: owner, consented: map[string]bool{},
	}
	s.clients[c.ID] = c
	if spec.Type == SelfClient {
		owner.selfClient = c
	}
	return c, nil
}

func (s *Server) clientLocked(id string) (*client, error) {
	c, ok := s.clients[id]
	if !ok {
		return nil, fmt.Errorf("no client %q: register it first", id)
	}
	return c, nil
}

// RegisteredClient returns a registered client.
func (s *Server) RegisteredClient(id string) (Client, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	c, err := s.clientLocked(id)
	if err != nil {
		return Client{}, err
	}
	return c.snapshot(), nil
}

// EnableMultiDC enables a client in another DC, with the home secret or a
// separate one, and returns the secret that DC expects.
func (s *Server) EnableMultiDC(clientID string, dc zoho.DC, opt MultiDC) (string, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	c, err := s.clientLocked(clientID)
	if err != nil {
		return "", err
	}
	if dc, err = zoho.ParseDC(string(dc)); err != nil {
		return "", err
	}
	home, _ := zoho.Lookup(c.home)
	other, _ := zoho.Lookup(dc)
	switch {
	case dc == c.home:
		return "", fmt.Errorf("client %s is registered in %s already: enable another DC", clientID, dc)
	case home.Isolated || other.Isolated:
		return "", fmt.Errorf("the %s DC is a separate instance outside multi-DC: register a separate client there", strings.ToUpper(string(map[bool]zoho.DC{true: c.home, false: dc}[home.Isolated])))
	}
	secret := c.Secret
	if opt.SeparateSecret {
		secret = opt.Secret
		if secret == "" {
			secret = zoho.NewClientSecret()
		} else if !zoho.ClientSecretPattern.MatchString(secret) {
			return "", fmt.Errorf("the %s secret for %s is not in Zoho's format: 42 lowercase hex digits", dc, clientID)
		}
	} else if opt.Secret != "" {
		return "", fmt.Errorf("a secret was given for %s but separate_secret is off: set it, or leave the secret out to share the home secret", dc)
	}
	c.Secrets[dc] = s.newSecret(secret)
	return secret, nil
}

// Consent is a scripted answer to one authorization request of a client.
type Consent struct {
	// Deny makes the user refuse: the redirect carries error=access_denied.
	Deny bool `json:"deny,omitempty" yaml:"deny"`
	// User is the email of the user who signs in and consents; default: the
	// client's user. A user of another DC makes the grant that DC's.
	User string `json:"user,omitempty" yaml:"user"`
	// ForSession ticks the implicit flow's "Grant access for the entire
	// session": the client may then get new tokens at
	// /oauth/v2/auth/refresh while the user's session lives
	// (ZA-JS-REFRESH). Unticked by default [assumed].
	ForSession bool `json:"for_session,omitempty" yaml:"for_session"`
}

// signInCheck refuses a sign-in across the isolated (CN) instance: its users
// cannot sign in to clients of other DCs, nor users of other DCs to its clients.
func signInCheck(c *client, u *user) error {
	home, _ := zoho.Lookup(c.home)
	theirs, _ := zoho.Lookup(u.DC)
	if (home.Isolated || theirs.Isolated) && c.home != u.DC {
		return fmt.Errorf("user %s (%s) cannot sign in to client %s (%s): the CN DC is a separate instance outside multi-DC", u.Email, strings.ToUpper(string(u.DC)), c.ID, strings.ToUpper(string(c.home)))
	}
	return nil
}

// ScriptConsent queues answers for the client's next authorization
// requests, one each; once they are used up the client's user approves.
func (s *Server) ScriptConsent(clientID string, answers ...Consent) error {
	s.mu.Lock()
	defer s.mu.Unlock()
	c, err := s.clientLocked(clientID)
	if err != nil {
		return err
	}
	for _, a := range answers {
		if a.User == "" {
			continue
		}
		u, err := s.userLocked(a.User)
		if err != nil {
			return err
		}
		if err := signInCheck(c, u); err != nil {
			return err
		}
	}
	c.consent = append(c.consent, answers...)
	return nil
}

// SelfClientCode is the self client's "Generate Code": a grant token for the
// client's user with the given scopes, valid for the selected lifetime. It
// refuses unknown scopes (K4-SELF-SCOPE), lifetimes the console does not
// offer, and codes over the grant-token rate limit (K4-NOTE-4).
func (s *Server) SelfClientCode(clientID string, req SelfClientCodeRequest) (string, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	c, err := s.clientLocked(clientID)
	if err != nil {
		return "", err
	}
	if c.Type != SelfClient {
		return "", fmt.Errorf("client %s is a %s client: Generate Code is for self clients", clientID, c.Type)
	}
	scopes := splitList(req.Scopes)
	if len(scopes) == 0 {
		return "", &RegistrationError{Field: "scopes", Message: zoho.MsgInvalidScope, Seed: zoho.SelfScope}
	}
	if bad := s.unknownScopeLocked(scopes); bad != "" && !s.brokenLocked(zoho.SelfScope) {
		return "", &RegistrationError{Field: "scopes", Message: zoho.MsgInvalidScope + ": " + bad, Seed: zoho.SelfScope}
	}
	lifetime := req.Lifetime
	if lifetime == 0 {
		lifetime = s.limits.SelfClientDefaultLifetime
	}
	if !slices.Contains(s.limits.SelfClientLifetimes, lifetime) {
		return "", fmt.Errorf("the console offers %s as code lifetimes, not %s", durations(s.limits.SelfClientLifetimes), lifetime)
	}
	now := s.clock.Now()
	if !s.grantAllowedLocked(c, now) {
		return "", &RegistrationError{Field: "rate", Message: "Access Denied: too many grant tokens; try again later", Seed: zoho.Note4}
	}
	if s.brokenLocked(zoho.Note2) {
		lifetime = s.limits.GrantLifetime
	}
	g := s.newGrantLocked(c, c.owner, c.home, scopes, "", true, true, now, lifetime)
	return g.code, nil
}

func durations(ds []time.Duration) string {
	parts := make([]string, len(ds))
	for i, d := range ds {
		parts[i] = d.String()
	}
	return strings.Join(parts, ", ")
}

package target

import (
	"bytes"
	"errors"
	"fmt"
	"io"
	"net/url"
	"os"
	"slices"
	"strings"

	"github.com/zconform/zconform/fixtures/zoho"
	"go.yaml.in/yaml/v3"
)

// EnvTarget names a target file: the run goes against that real endpoint
// instead of the bundled fake.
const EnvTarget = "ZCONFORM_TARGET"

// EnvDestructive, set to 1, opts in to the destructive cases (evictions,
// rate limits) on a real target.
const EnvDestructive = "ZCONFORM_DESTRUCTIVE"

// EnvSlow, set to 1, opts in to the cases that wait for real on a target
// without a virtual clock.
const EnvSlow = "ZCONFORM_SLOW"

// File is a target file: a real Zoho Accounts endpoint (staging, or
// production with a dedicated test account) and how to get grant tokens
// there. Secrets never appear in it: it names the environment variables
// that hold them.
//
//	name: staging-us
//	profile: kaizen4
//	user_dc: us
//	test_user: true
//	data_centres:
//	  us: {accounts: https://accounts.staging.example, api: https://api.staging.example}
//	client:
//	  id: 1000.XXXXXXXXXXXXXXXXXXXXXXXXXXXXXX
//	  secret_env: ZCONFORM_CLIENT_SECRET
//	  redirect_uri: https://www.example.com/callback
//	grants:
//	  command: [./get-code.sh]
//	  codes_env: ZCONFORM_CODES
//	  refresh_token_env: ZCONFORM_REFRESH_TOKEN
type File struct {
	// Name names the target in reports and in deviation files.
	Name string `yaml:"name"`
	// Profile is the limit profile to expect (default kaizen4).
	Profile string `yaml:"profile"`
	// UserDC is the DC of the account's user (default us).
	UserDC zoho.DC `yaml:"user_dc"`
	// TestUser says the user is a dedicated test user: only then do
	// destructive cases run against Zoho's production Accounts servers.
	TestUser bool `yaml:"test_user"`
	// AllowHTTP allows plain-HTTP endpoints (refused by default).
	AllowHTTP bool `yaml:"allow_http"`
	// TLSCA is a PEM file of extra certificate authorities to trust (a
	// staging deployment's own CA), relative to the target file.
	TLSCA string `yaml:"tls_ca"`
	// DataCentres names the URLs of every DC the run may use: at least the
	// user's. A run sends requests to these URLs only: a case that needs a
	// DC the file does not name is skipped, and Zoho's production hosts are
	// reached only when the file names them.
	DataCentres map[zoho.DC]DCURLs `yaml:"data_centres"`
	Client      ClientConfig       `yaml:"client"`
	Grants      GrantConfig        `yaml:"grants"`

	path string
}

// DCURLs are a DC's Accounts server and API domain.
type DCURLs struct {
	Accounts string `yaml:"accounts"`
	API      string `yaml:"api"`
}

// ClientConfig is the registered client the run uses.
type ClientConfig struct {
	ID string `yaml:"id"`
	// SecretEnv names the variable with the home DC's secret.
	SecretEnv string `yaml:"secret_env"`
	// SecretsEnv names, per DC, the variable with that DC's secret
	// (multi-DC with one secret per DC).
	SecretsEnv map[zoho.DC]string `yaml:"secrets_env"`
	// DC is the client's home DC (default: the user's).
	DC          zoho.DC `yaml:"dc"`
	RedirectURI string  `yaml:"redirect_uri"`
	// Scope is what grants are asked for (default ZohoCRM.users.ALL).
	Scope string `yaml:"scope"`
}

// GrantConfig says how the run obtains grant tokens and tokens.
type GrantConfig struct {
	// Command prints one fresh grant token on stdout each time it runs
	// (the user's headless login, a self-client code generator, ...).
	Command []string `yaml:"command"`
	// CodesEnv names a variable with comma-separated grant tokens, each
	// used once.
	CodesEnv string `yaml:"codes_env"`
	// RefreshTokenEnv names a variable with a long-lived refresh token for
	// the refresh-side cases. It is never revoked by the run.
	RefreshTokenEnv string `yaml:"refresh_token_env"`
	// Rate paces grants.command: at most Limit codes per Window (default:
	// the profile's grant-token rate limit, so that the run does not trip
	// it; limit: 0 turns pacing off).
	Rate *zoho.Rate `yaml:"rate"`
}

// isProduction reports whether a URL is on one of Zoho's production hosts
// (an Accounts server or an API domain).
func isProduction(rawURL string) bool {
	u, err := url.Parse(rawURL)
	if err != nil {
		return false
	}
	_, _, ok := zoho.HostRole(u.Hostname())
	return ok
}

// LoadFile reads and checks a target file. Problems name the file and line.
func LoadFile(path string) (*File, error) {
	data, err := os.ReadFile(path)
	if err != nil {
		return nil, fmt.Errorf("target file: %w", err)
	}
	return ParseFile(path, data)
}

// ParseFile is LoadFile on data: path names the file in messages, and
// tls_ca is relative to its folder.
func ParseFile(path string, data []byte) (*File, error) {
	f := &File{path: path}
	dec := yaml.NewDecoder(bytes.NewReader(data))
	dec.KnownFields(true)
	if err := dec.Decode(f); err != nil {
		if errors.Is(err, io.EOF) {
			return nil, fmt.Errorf("%s: the target file is empty: give at least name and client", path)
		}
		return nil, fmt.Errorf("%s: %s", path, strings.TrimPrefix(err.Error(), "yaml: "))
	}
	if err := f.check(); err != nil {
		return nil, fmt.Errorf("%s: %w", path, err)
	}
	return f, nil
}

func (f *File) check() error {
	var bad []string
	if f.Name == "" {
		bad = append(bad, "name is missing: name the target (it appears in reports and deviation files)")
	}
	if f.Profile == "" {
		f.Profile = zoho.Kaizen4
	}
	if _, err := zoho.Profile(f.Profile); err != nil {
		bad = append(bad, "profile: "+err.Error())
	}
	if f.UserDC == "" {
		f.UserDC = zoho.US
	}
	if dc, err := zoho.ParseDC(string(f.UserDC)); err != nil {
		bad = append(bad, "user_dc: "+err.Error())
	} else {
		f.UserDC = dc
	}
	if f.Client.DC == "" {
		f.Client.DC = f.UserDC
	} else if dc, err := zoho.ParseDC(string(f.Client.DC)); err != nil {
		bad = append(bad, "client.dc: "+err.Error())
	} else {
		f.Client.DC = dc
	}
	if f.Client.Scope == "" {
		f.Client.Scope = "ZohoCRM.users.ALL"
	}
	// DC codes are case-insensitive ("EU" is eu): keep them lower case, so
	// that the file names a DC whichever way it spells it.
	named := make(map[zoho.DC]DCURLs, len(f.DataCentres))
	for key, u := range f.DataCentres {
		dc, err := zoho.ParseDC(string(key))
		if err != nil {
			bad = append(bad, "data_centres: "+err.Error())
			continue
		}
		if _, twice := named[dc]; twice {
			bad = append(bad, fmt.Sprintf("data_centres: %s is named twice", dc))
		}
		named[dc] = u
		for _, raw := range []string{u.Accounts, u.API} {
			if raw == "" {
				bad = append(bad, fmt.Sprintf("data_centres.%s: give both accounts and api", dc))
				continue
			}
			p, err := url.Parse(raw)
			switch {
			case err != nil || p.Host == "":
				bad = append(bad, fmt.Sprintf("data_centres.%s: %q is not a URL", dc, raw))
			case p.Scheme == "http" && !f.AllowHTTP:
				bad = append(bad, fmt.Sprintf("data_centres.%s: %s is plain HTTP: credentials would cross the network in clear; use https, or set allow_http: true for a local endpoint", dc, raw))
			case p.Scheme != "http" && p.Scheme != "https":
				bad = append(bad, fmt.Sprintf("data_centres.%s: %s is neither http nor https", dc, raw))
			}
		}
	}
	f.DataCentres = named
	if _, err := zoho.ParseDC(string(f.UserDC)); err == nil && !f.Names(f.UserDC) {
		bad = append(bad, f.missingUserDC())
	}
	if !zoho.ClientIDPattern.MatchString(f.Client.ID) {
		bad = append(bad, fmt.Sprintf("client.id %q is not a Zoho client ID (\"1000.\" and 30 of A-Z, 0-9)", f.Client.ID))
	}
	if f.Client.SecretEnv == "" {
		bad = append(bad, "client.secret_env is missing: name the environment variable that holds the client secret")
	}
	if u, err := url.Parse(f.Client.RedirectURI); err != nil || u.Host == "" {
		bad = append(bad, "client.redirect_uri is missing or not a URL: give the registered redirect URI")
	}
	if len(bad) > 0 {
		slices.Sort(bad)
		return errors.New("invalid target file:\n  " + strings.Join(bad, "\n  "))
	}
	return nil
}

// missingUserDC is the complaint about a file that names no URLs for the
// user's DC, with how to write them.
func (f *File) missingUserDC() string {
	dc := f.UserDC
	d, _ := zoho.Lookup(dc) // a known DC: check parsed it
	return fmt.Sprintf("data_centres names no URLs for the user's DC (user_dc: %s): a run sends requests only to the URLs the file names; "+
		"name the user's DC, e.g. for %s (with a dedicated test account):\n"+
		"      data_centres: {%s: {accounts: %s}}\n"+
		"    or a staging deployment's:\n"+
		"      data_centres: {%s: {accounts: https://accounts.staging.example, api: https://api.staging.example}}",
		dc, "Zoho's production "+strings.ToUpper(string(dc)), dc, d.AccountsURL()+", api: "+d.APIURL(), dc)
}

// NotNamedDomain is the reserved domain (RFC 6761: .invalid never
// resolves) of the URLs URLs gives for a DC the file does not name.
const NotNamedDomain = "not-named-in-the-target-file.invalid"

// Names reports whether the file names URLs for a DC.
func (f *File) Names(dc zoho.DC) bool {
	_, ok := f.DataCentres[dc]
	return ok
}

// NamedDCs lists the DCs the file names URLs for, in Zoho's order.
func (f *File) NamedDCs() []zoho.DC {
	var out []zoho.DC
	for _, d := range zoho.DataCentres() {
		if f.Names(d.DC) {
			out = append(out, d.DC)
		}
	}
	return out
}

// URLs returns a DC's Accounts server and API domain as the file names
// them. For a DC the file does not name they are URLs on NotNamedDomain,
// which reach nothing (and the real target's client refuses them): a run
// never falls back to Zoho's hosts.
func (f *File) URLs(dc zoho.DC) DCURLs {
	if u, ok := f.DataCentres[dc]; ok {
		return DCURLs{Accounts: strings.TrimRight(u.Accounts, "/"), API: strings.TrimRight(u.API, "/")}
	}
	return DCURLs{Accounts: "https://accounts." + string(dc) + "." + NotNamedDomain, API: "https://api." + string(dc) + "." + NotNamedDomain}
}

// Production reports whether the file names one of Zoho's production
// hosts (an Accounts server or an API domain): only then does the run
// reach production.
func (f *File) Production() bool {
	for _, u := range f.DataCentres {
		if isProduction(u.Accounts) || isProduction(u.API) {
			return true
		}
	}
	return false
}

// secret reads a secret from the environment.
func secret(env, what string) (string, error) {
	if env == "" {
		return "", nil
	}
	v := strings.TrimSpace(os.Getenv(env))
	if v == "" {
		return "", fmt.Errorf("$%s is empty: set it to the %s (the target file names it)", env, what)
	}
	return v, nil
}

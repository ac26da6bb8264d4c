package fakeserver_test

import (
	"errors"
	"reflect"
	"strings"
	"testing"
	"time"

	"github.com/zconform/zconform/fakeserver"
	"github.com/zconform/zconform/fixtures/zoho"
	"go.yaml.in/yaml/v3"
)

// goIsms are what a seed file's reader must never see: Go type names and
// the YAML decoder's own words.
var goIsms = []string{"fakeserver.", "zoho.", "[]string", "!!", "unmarshal", "time.Duration", "map[", "SeedFile", "UserSpec", "ClientSpec", "struct"}

func seedProblems(t *testing.T, err error) fakeserver.SeedErrors {
	t.Helper()
	if err == nil {
		t.Fatal("the file was accepted")
	}
	var es fakeserver.SeedErrors
	if !errors.As(err, &es) {
		t.Fatalf("not a SeedErrors: %T %v", err, err)
	}
	var one *fakeserver.SeedError
	if !errors.As(err, &one) || one != es[0] {
		t.Errorf("errors.As finds no *SeedError (or not the first) in %v", err)
	}
	for _, e := range es {
		for _, g := range goIsms {
			if strings.Contains(e.Msg, g) {
				t.Errorf("%q speaks Go (%q), not the file's words", e.Error(), g)
			}
		}
	}
	return es
}

// A file with three problems on three lines, of three kinds (an unknown
// field, a value of the wrong kind, a value the fake refuses): all three
// are reported at once, each at its line, in the file's words.
func TestSeedFileThreeErrorsOnThreeLines(t *testing.T) {
	const file = `profile: kaizen4
users:
  - {email: alice@example.com, dc: us}
  - {email: bob@example.com, colour: red}
clients:
  - type: web
    name: CI app
    homepage: https://example.com
    redirect_uris: http://localhost:3000/callback
    user: alice@example.com
breaks: [K4-NOPE]
`
	_, err := fakeserver.ParseSeed("seed.yaml", []byte(file))
	es := seedProblems(t, err)
	want := []struct {
		line  int
		parts []string
	}{
		{4, []string{"user 2", "field colour not found", "email, dc, first_name, last_name"}},
		{9, []string{"client 1: redirect_uris: want a list such as [http://localhost:3000/callback]", `found "http://localhost:3000/callback"`}},
		{11, []string{"break 1", `no break for "K4-NOPE"`}},
	}
	if len(es) != len(want) {
		t.Fatalf("%d problems, want %d:\n%v", len(es), len(want), err)
	}
	for i, w := range want {
		if es[i].File != "seed.yaml" || es[i].Line != w.line {
			t.Errorf("problem %d at %s:%d, want seed.yaml:%d: %v", i+1, es[i].File, es[i].Line, w.line, es[i])
		}
		for _, p := range w.parts {
			if !strings.Contains(es[i].Msg, p) {
				t.Errorf("problem %d %q lacks %q", i+1, es[i].Error(), p)
			}
		}
	}
	// one line per problem, each file:line:, after a line that counts them
	lines := strings.Split(err.Error(), "\n")
	if len(lines) != 4 || !strings.HasPrefix(lines[0], "seed.yaml: 3 problems") {
		t.Fatalf("the message:\n%v", err)
	}
	for i, l := range lines[1:] {
		if !strings.HasPrefix(l, "  "+es[i].Error()) {
			t.Errorf("line %d: %q", i+2, l)
		}
	}
}

// Each kind of problem, in each part of the file, names its place in the
// file's words and points at its line.
func TestSeedFileErrorKindsAndLines(t *testing.T) {
	const client = "  - id: 1000.CICLIENT0000000000000000000001\n" + // line 2
		"    secret: 0123456789abcdef0123456789abcdef0123456789\n" + // 3
		"    type: web\n" + // 4
		"    name: CI app\n" + // 5
		"    homepage: https://example.com\n" + // 6
		"    redirect_uris: [http://localhost:3000/callback]\n" // 7
	cases := []struct {
		name, file string
		line       int
		parts      []string
	}{
		// shape: unknown fields
		{"unknown top-level field", "profile: kaizen4\ncolour: red\n", 2, []string{"field colour not found", "profile, limits, scopes, users, clients, breaks"}},
		{"unknown user field", "users:\n  - email: a@example.com\n    colour: red\n", 3, []string{"user 1: field colour not found"}},
		{"unknown client field", "clients:\n" + client + "    colour: red\n", 8, []string{"client 1 (1000.CICLIENT0000000000000000000001): field colour not found", "redirect_uris", "multi_dc"}},
		{"unknown multi_dc field", "clients:\n" + client + "    multi_dc:\n      eu: {seperate_secret: true}\n", 9, []string{"client 1 (1000.CICLIENT0000000000000000000001): multi_dc.eu: field seperate_secret not found", "separate_secret, secret"}},
		{"unknown limit", "limits:\n  grant_lifetime: 60s\n  grant_lifespan: 60s\n", 3, []string{"limits: field grant_lifespan not found", "grant_lifetime"}},
		{"unknown rate field", "limits:\n  grant_rate:\n    limit: 5\n    per: 1m\n", 4, []string{"limits.grant_rate: field per not found", "limit, window"}},
		// shape: values of the wrong kind
		{"profile a list", "profile: [kaizen4]\n", 1, []string{"profile: want a profile name", "found a list"}},
		{"users a mapping", "users:\n  email: a@example.com\n", 2, []string{"users: want a list", "found a mapping"}},
		{"user a list", "users:\n  - [a@example.com, us]\n", 2, []string{"user 1: want a mapping of email, dc, first_name, last_name", "found a list"}},
		{"user dc a list", "users:\n  - email: a@example.com\n    dc: [us, eu]\n", 3, []string{"user 1: dc: want a data centre such as us or eu", "found a list"}},
		{"redirect_uris a string", "clients:\n  - type: web\n    name: CI app\n    homepage: https://example.com\n    redirect_uris: http://localhost/cb\n", 5, []string{"client 1: redirect_uris: want a list such as [http://localhost/cb]"}},
		{"a redirect URI a mapping", "clients:\n  - type: web\n    name: CI app\n    homepage: https://example.com\n    redirect_uris:\n      - https://example.com/cb\n      - {uri: https://example.com/cb2}\n", 7, []string{"client 1: redirect_uris item 2: want a URI", "found a mapping"}},
		{"multi_dc a list", "clients:\n" + client + "    multi_dc: [eu]\n", 8, []string{"multi_dc: want a mapping of DCs such as {eu: {separate_secret: true}}"}},
		{"separate_secret not a bool", "clients:\n" + client + "    multi_dc:\n      eu:\n        separate_secret: maybe\n", 10, []string{"client 1 (1000.CICLIENT0000000000000000000001): multi_dc.eu.separate_secret: want true or false", `found "maybe"`}},
		{"limit not a duration", "limits: {grant_lifetime: soon}\n", 1, []string{"limits.grant_lifetime: want a duration such as 60s", `found "soon"`}},
		{"nested limit not a duration", "limits:\n  grant_rate:\n    limit: 5\n    window: a minute\n", 4, []string{"limits.grant_rate.window: want a duration such as 60s", `found "a minute"`}},
		{"limit not a number", "limits:\n  refresh_tokens_per_user: twenty\n", 2, []string{"limits.refresh_tokens_per_user: want a whole number", `found "twenty"`}},
		{"lifetimes item", "limits:\n  self_client_lifetimes:\n    - 3m\n    - five minutes\n", 4, []string{"limits.self_client_lifetimes item 2: want a duration such as 60s"}},
		{"scopes a string", "scopes: ZohoCRM.custom.ALL\n", 1, []string{"scopes: want a list such as [ZohoCRM.custom.ALL]"}},
		{"a scope a mapping", "scopes:\n  - ZohoCRM.custom.ALL\n  - {a: b}\n", 3, []string{"scope 2: want a scope such as ZohoCRM.users.ALL", "found a mapping"}},
		{"breaks a mapping", "breaks: {K4-NOTE-1: true}\n", 1, []string{"breaks: want a list of seed IDs such as [K4-NOTE-1]", "found a mapping"}},
		{"a key given twice", "profile: kaizen4\nusers: []\nprofile: accounts-2025\n", 3, []string{"profile: given twice (first at line 1)"}},
		{"a second document", "profile: kaizen4\n---\nprofile: accounts-2025\n", 3, []string{"a second YAML document"}},
		{"an alias of the wrong kind", "limits: &l {grant_lifetime: 1s}\nprofile: *l\n", 2, []string{"profile: want a profile name", "found a mapping"}},
		{"not a mapping", "- profile: kaizen4\n", 1, []string{"want a mapping of profile, limits, scopes, users, clients, breaks", "found a list"}},
		// values the fake refuses
		{"unknown profile", "profile: kaizen5\n", 1, []string{"profile: ", `"kaizen5"`}},
		{"unknown user dc", "users:\n  - email: a@example.com\n    first_name: A\n    dc: mars\n", 4, []string{"user 1: unknown data centre \"mars\""}},
		{"not an email", "users:\n  - dc: us\n    email: nope\n", 3, []string{"user 1: ", `"nope" is not an email address`}},
		{"user twice", "users:\n  - {email: a@example.com}\n  - {email: A@example.com}\n", 3, []string{"user 2: ", "already exists"}},
		{"console: name", "clients:\n  - type: web\n    name: CI app!\n    homepage: https://example.com\n    redirect_uris: [http://localhost/cb]\n", 3, []string{"client 1: console: Enter a valid client name"}},
		{"console: redirect URI", "clients:\n  - type: web\n    name: CI app\n    homepage: https://example.com\n    redirect_uris: []\n", 5, []string{"client 1: console: ", "redirect_uris"}},
		{"console: type", "clients:\n  - name: CI app\n    type: webby\n", 3, []string{"client 1: console: unknown client type \"webby\""}},
		{"client ID format", "clients:\n  - type: self\n    id: 1000.short\n", 3, []string{"client 1 (1000.short): client ID \"1000.short\" is not in Zoho's format"}},
		{"client secret format", "clients:\n  - type: self\n    secret: short\n", 3, []string{"client 1: client secret", "42 lowercase hex digits"}},
		{"client's user unknown", "clients:\n  - type: self\n    user: nobody@example.com\n", 3, []string{"client 1: no user \"nobody@example.com\""}},
		{"client in another DC than its user", "users:\n  - {email: a@example.eu, dc: eu}\nclients:\n  - type: self\n    user: a@example.eu\n    dc: us\n", 6, []string{"client 1: user a@example.eu lives in EU"}},
		{"client DC unknown", "clients:\n  - type: self\n    dc: mars\n", 3, []string{"client 1: unknown data centre \"mars\""}},
		{"multi_dc unknown DC", "clients:\n" + client + "    multi_dc:\n      eu: {}\n      mars: {}\n", 10, []string{"client 1 (1000.CICLIENT0000000000000000000001): multi_dc.mars: unknown data centre \"mars\""}},
		{"multi_dc home DC", "clients:\n" + client + "    multi_dc:\n      us: {}\n", 9, []string{"multi_dc.us: client 1000.CICLIENT0000000000000000000001 is registered in us already"}},
		{"multi_dc secret without separate_secret", "clients:\n" + client + "    multi_dc:\n      eu:\n        secret: 0123456789abcdef0123456789abcdef0123456789\n", 9, []string{"multi_dc.eu: a secret was given for eu but separate_secret is off"}},
		{"limit out of range", "limits:\n  access_token_lifetime: 1h\n  grant_lifetime: -1s\n", 3, []string{"limits: grant_lifetime must be positive"}},
		{"nested limit out of range", "limits:\n  grant_rate:\n    limit: 5\n    window: 0s\n", 2, []string{"limits: grant_rate needs a limit >= 0 and, with a limit, a positive window"}},
		{"unknown scope shape", "scopes:\n  - ZohoCRM.custom.ALL\n  - bad\n", 3, []string{"scope 2: scope \"bad\" is not shaped"}},
		{"unknown break in a block list", "breaks:\n  - K4-NOTE-1\n  - K4-NOPE\n", 3, []string{"break 2: no break for \"K4-NOPE\""}},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			f, err := fakeserver.ParseSeed("seed.yaml", []byte(c.file))
			if err == nil {
				err = fakeserver.NewUnstarted().ApplySeed(f)
			}
			es := seedProblems(t, err)
			if len(es) != 1 {
				t.Fatalf("%d problems, want 1:\n%v", len(es), err)
			}
			if es[0].Line != c.line {
				t.Errorf("line %d, want %d: %v", es[0].Line, c.line, err)
			}
			if !strings.HasPrefix(err.Error(), "seed.yaml:") {
				t.Errorf("does not start with the file: %v", err)
			}
			for _, p := range c.parts {
				if !strings.Contains(es[0].Msg, p) {
					t.Errorf("%q lacks %q", es[0].Error(), p)
				}
			}
		})
	}
}

// Problems of value are listed with the problems of shape, and a problem of
// one client's field does not hide another of the same client, or of its
// multi_dc entries.
func TestSeedFileEveryProblemAtOnce(t *testing.T) {
	const file = `profile: accounts-2025
limits:
  grant_lifetime: soon
  grant_rate: {limit: -1, window: 1m}
users:
  - {email: a@example.com, dc: mars}
  - {email: b@example.com, dc: [us]}
clients:
  - type: web
    name: CI app!
    homepage: [https://example.com]
    redirect_uris: [http://localhost/cb]
    user: b@example.com
    multi_dc:
      eu: {separate_secret: yes please}
      jp: {}
      mars: {}
  - {type: self, user: a@example.com, id: 1000.bad}
scopes: [ZohoCRM.custom.ALL, bad, {x: y}]
breaks: [K4-NOTE-1, K4-NOPE]
`
	_, err := fakeserver.ParseSeed("seed.yaml", []byte(file))
	es := seedProblems(t, err)
	want := []struct {
		line int
		part string
	}{
		{3, "limits.grant_lifetime: want a duration"},
		{4, "limits: grant_rate needs a limit >= 0"},
		{6, `user 1: unknown data centre "mars"`},
		{7, "user 2: dc: want a data centre"},
		{10, "client 1: console: Enter a valid client name"},
		{11, "client 1: homepage: want a URL, found a list"},
		{15, "client 1: multi_dc.eu.separate_secret: want true or false"},
		{17, `client 1: multi_dc.mars: unknown data centre "mars"`},
		{18, `client 2 (1000.bad): client ID "1000.bad" is not in Zoho's format`},
		{19, `scope 2: scope "bad" is not shaped`},
		{19, "scope 3: want a scope"},
		{20, `break 2: no break for "K4-NOPE"`},
	}
	if len(es) != len(want) {
		t.Fatalf("%d problems, want %d:\n%v", len(es), len(want), err)
	}
	for i, w := range want {
		if es[i].Line != w.line || !strings.Contains(es[i].Msg, w.part) {
			t.Errorf("problem %d: %v, want line %d with %q", i+1, es[i], w.line, w.part)
		}
	}
}

// A file refused by ApplySeed (what clashes with the server, only it can
// tell) lists every problem, and changes nothing.
func TestSeedFileRefusedWhole(t *testing.T) {
	s := fakeserver.NewUnstarted()
	pre, err := fakeserver.ParseSeed("pre.yaml", []byte("users:\n  - {email: taken@example.com, dc: eu}\nclients:\n  - {id: 1000.TAKEN0000000000000000000000000, type: self, user: taken@example.com}\n"))
	if err != nil {
		t.Fatal(err)
	}
	if err := s.ApplySeed(pre); err != nil {
		t.Fatal(err)
	}
	type state struct {
		Users   []fakeserver.User
		Clients []fakeserver.Client
		Breaks  []zoho.SeedID
		Limits  zoho.Limits
		Profile string
	}
	snap := func() state { return state{s.Users(), s.Clients(), s.Breaks(), s.Limits(), s.Profile()} }
	before := snap()
	const file = `profile: accounts-2025
limits: {grant_lifetime: 30s}
scopes: [ZohoCRM.custom.ALL]
users:
  - {email: new@example.com, dc: us}
  - {email: TAKEN@example.com, dc: us}
clients:
  - {id: 1000.NEW000000000000000000000000000, type: self, user: new@example.com}
  - {id: 1000.TAKEN0000000000000000000000000, type: device, name: dup, homepage: https://example.com}
  - {type: self, user: taken@example.com}
breaks: [K4-NOTE-1]
`
	f, err := fakeserver.ParseSeed("seed.yaml", []byte(file))
	if err != nil {
		t.Fatalf("ParseSeed: %v", err)
	}
	es := seedProblems(t, s.ApplySeed(f))
	want := []struct {
		line int
		part string
	}{
		{6, "user 2: user TAKEN@example.com already exists"},
		{9, "client 2 (1000.TAKEN0000000000000000000000000): client ID 1000.TAKEN0000000000000000000000000 is already registered"},
		{10, "client 3: console: A user can have only one self client"},
	}
	if len(es) != len(want) {
		t.Fatalf("%d problems, want %d:\n%v", len(es), len(want), es)
	}
	for i, w := range want {
		if es[i].Line != w.line || !strings.Contains(es[i].Msg, w.part) {
			t.Errorf("problem %d: %v, want line %d with %q", i+1, es[i], w.line, w.part)
		}
	}
	if after := snap(); !reflect.DeepEqual(before, after) {
		t.Errorf("a refused file changed the server:\nbefore %+v\nafter  %+v", before, after)
	}
}

// The README's seed file applies as written; block and flow styles, merge
// keys and anchors are read as YAML reads them.
func TestSeedFileGoodFiles(t *testing.T) {
	const readme = `profile: kaizen4                        # or accounts-2025
limits: {grant_lifetime: 60s}           # single limits on top of the profile (names as in fixtures/zoho/profiles.yaml)
scopes: [ZohoCRM.custom.ALL]            # more known scopes
users:
  - {email: alice@example.com, dc: us, first_name: Alice}
  - {email: eve@example.eu, dc: eu}     # consents when a test scripts it
clients:
  - id: 1000.CICLIENT0000000000000000000001          # "1000." + 30 of [A-Z0-9]
    secret: 0123456789abcdef0123456789abcdef0123456789  # 42 lowercase hex
    type: web                           # javascript, web, mobile, self, device
    name: CI app
    homepage: https://example.com
    redirect_uris: [http://localhost:3000/callback]
    user: alice@example.com             # the developer (consents by default); default: dev@us.zconform.test
    dc: us                              # home DC: the user's DC (default: the user's, else us)
    multi_dc:
      eu: {separate_secret: true}       # or {} to share the home secret
breaks: []                              # seed IDs whose rule to violate
`
	s := fakeserver.NewUnstarted()
	f, err := fakeserver.ParseSeed("seed.yaml", []byte(readme))
	if err != nil {
		t.Fatal(err)
	}
	if err := s.ApplySeed(f); err != nil {
		t.Fatal(err)
	}
	c, err := s.RegisteredClient("1000.CICLIENT0000000000000000000001")
	if err != nil || c.User != "alice@example.com" || c.Secrets[zoho.EU] == "" || c.Secrets[zoho.EU] == c.Secret {
		t.Errorf("the README's client: %+v %v", c, err)
	}

	const styles = `profile: accounts-2025
limits:
  grant_rate: {limit: 7}
  self_client_lifetimes: [1m, 3m]
  self_client_default_lifetime: 1m
defaults: &web
  type: web
  homepage: https://example.com
  redirect_uris: [https://example.com/cb]
`
	// "defaults" is not a field: anchors live inside the fields
	if _, err := fakeserver.ParseSeed("seed.yaml", []byte(styles)); err == nil || !strings.Contains(err.Error(), "seed.yaml:6: field defaults not found") {
		t.Errorf("an unknown field holding an anchor: %v", err)
	}
	const merged = `profile: accounts-2025
limits:
  grant_rate: {limit: 7}
  self_client_lifetimes: [1m, 3m]
  self_client_default_lifetime: 1m
clients:
  - &web
    type: web
    name: One
    homepage: https://example.com
    redirect_uris: [https://example.com/cb]
  - <<: *web
    name: Two
`
	s = fakeserver.NewUnstarted()
	if f, err = fakeserver.ParseSeed("seed.yaml", []byte(merged)); err != nil {
		t.Fatal(err)
	}
	if err := s.ApplySeed(f); err != nil {
		t.Fatal(err)
	}
	l := s.Limits()
	// grant_rate.limit set, its window kept from the profile
	if l.GrantRate.Limit != 7 || l.GrantRate.Window != zoho.MustProfile(zoho.Accounts2025).GrantRate.Window || l.SelfClientDefaultLifetime != time.Minute || len(l.SelfClientLifetimes) != 2 {
		t.Errorf("limits: %+v", l)
	}
	names := map[string]bool{}
	for _, c := range s.Clients() {
		names[c.Name] = true
	}
	if !names["One"] || !names["Two"] {
		t.Errorf("clients: %v", s.Clients())
	}
	for _, empty := range []string{"", "# nothing\n", "---\n", "profile: kaizen4\n---\n"} {
		if _, err := fakeserver.ParseSeed("seed.yaml", []byte(empty)); err != nil {
			t.Errorf("%q: %v", empty, err)
		}
	}
}

// A SeedFile made in code, its limits a YAML node, is checked the same way.
func TestSeedFileMadeInCode(t *testing.T) {
	var n yaml.Node
	if err := yaml.Unmarshal([]byte("{grant_lifetime: 90s}"), &n); err != nil {
		t.Fatal(err)
	}
	s := fakeserver.NewUnstarted()
	if err := s.ApplySeed(&fakeserver.SeedFile{Limits: *n.Content[0], Users: []fakeserver.UserSpec{{Email: "code@example.com"}}}); err != nil {
		t.Fatal(err)
	}
	if s.Limits().GrantLifetime != 90*time.Second {
		t.Errorf("grant_lifetime %s", s.Limits().GrantLifetime)
	}
	if err := yaml.Unmarshal([]byte("{grant_lifetime: soon}"), &n); err != nil {
		t.Fatal(err)
	}
	err := s.ApplySeed(&fakeserver.SeedFile{Limits: *n.Content[0]})
	if es := seedProblems(t, err); !strings.Contains(es[0].Msg, "limits.grant_lifetime: want a duration") {
		t.Errorf("%v", err)
	}
}

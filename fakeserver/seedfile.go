package fakeserver

import (
	"bytes"
	"errors"
	"fmt"
	"io"
	"maps"
	"os"
	"strings"

	"github.com/zconform/zconform/fixtures/zoho"
	"go.yaml.in/yaml/v3"
)

// SeedFile is what a server starts with: a profile and limits, extra
// scopes, users, clients with fixed IDs and secrets (so that a CI config can
// name them), and breaks. It is read from YAML:
//
//	profile: kaizen4
//	limits: {grant_lifetime: 60s}
//	scopes: [ZohoCRM.custom.ALL]
//	users:
//	  - {email: alice@example.com, dc: eu}
//	clients:
//	  - id: 1000.CICLIENT0000000000000000000001
//	    secret: 0123456789abcdef0123456789abcdef01234567ab
//	    type: web
//	    name: CI app
//	    homepage: https://example.com
//	    redirect_uris: [http://localhost:3000/callback]
//	    user: alice@example.com
//	    multi_dc:
//	      eu: {separate_secret: true}
//	breaks: []
type SeedFile struct {
	Profile string        `yaml:"profile"`
	Limits  yaml.Node     `yaml:"limits"`
	Scopes  []string      `yaml:"scopes"`
	Users   []UserSpec    `yaml:"users"`
	Clients []SeedClient  `yaml:"clients"`
	Breaks  []zoho.SeedID `yaml:"breaks"`

	name  string
	lines map[string][]int // section -> line of each item
	line  map[string]int   // top-level key -> line
}

// SeedClient is a client of a seed file.
type SeedClient struct {
	ClientSpec `yaml:",inline"`
	// MultiDC enables the client in other DCs.
	MultiDC map[zoho.DC]MultiDC `yaml:"multi_dc"`
}

// SeedError is a problem in a seed file, at a line.
type SeedError struct {
	File string
	Line int
	Msg  string
}

func (e *SeedError) Error() string {
	if e.Line > 0 {
		return fmt.Sprintf("%s:%d: %s", e.File, e.Line, e.Msg)
	}
	return fmt.Sprintf("%s: %s", e.File, e.Msg)
}

// LoadSeedFile reads and checks a seed file's syntax. ApplySeed checks the
// rest.
func LoadSeedFile(path string) (*SeedFile, error) {
	data, err := os.ReadFile(path)
	if err != nil {
		return nil, fmt.Errorf("read seed file: %w", err)
	}
	return ParseSeed(path, data)
}

// ParseSeed reads a seed file's YAML; name is used in error messages.
func ParseSeed(name string, data []byte) (*SeedFile, error) {
	f := &SeedFile{name: name, lines: map[string][]int{}, line: map[string]int{}}
	dec := yaml.NewDecoder(bytes.NewReader(data))
	dec.KnownFields(true)
	if err := dec.Decode(f); err != nil {
		if errors.Is(err, io.EOF) {
			return f, nil // an empty file seeds nothing
		}
		return nil, yamlError(name, err)
	}
	var root yaml.Node
	if err := yaml.Unmarshal(data, &root); err == nil && len(root.Content) == 1 && root.Content[0].Kind == yaml.MappingNode {
		m := root.Content[0]
		for i := 0; i+1 < len(m.Content); i += 2 {
			key, val := m.Content[i].Value, m.Content[i+1]
			f.line[key] = m.Content[i].Line
			for _, item := range val.Content {
				f.lines[key] = append(f.lines[key], item.Line)
			}
		}
	}
	return f, nil
}

// yamlError turns yaml.v3's "yaml: line 3: ..." into "file:3: ...".
func yamlError(name string, err error) error {
	var te *yaml.TypeError
	if errors.As(err, &te) {
		var parts []string
		for _, e := range te.Errors {
			parts = append(parts, strings.TrimPrefix(e, "line "))
		}
		return &SeedError{File: name, Msg: "invalid seed file:\n  " + name + ":" + strings.Join(parts, "\n  "+name+":")}
	}
	msg := strings.TrimPrefix(err.Error(), "yaml: ")
	var line int
	if n, _ := fmt.Sscanf(msg, "line %d:", &line); n == 1 {
		_, rest, _ := strings.Cut(msg, ":")
		return &SeedError{File: name, Line: line, Msg: strings.TrimSpace(rest)}
	}
	return &SeedError{File: name, Msg: msg}
}

func (f *SeedFile) errAt(section string, i int, format string, args ...any) error {
	line := f.line[section]
	if i >= 0 && i < len(f.lines[section]) {
		line = f.lines[section][i]
	}
	return &SeedError{File: f.name, Line: line, Msg: fmt.Sprintf(format, args...)}
}

// ApplySeed creates what the seed file names. It first tries the whole file
// on a scratch server, so that a broken file changes nothing; the error
// names the file and line.
func (s *Server) ApplySeed(f *SeedFile) error {
	scratch := NewUnstarted(WithProfile(s.Profile()))
	_ = scratch.SetLimits(s.Limits())
	// The scratch server holds what the seed can clash with: the users (and
	// their self clients), the client IDs, the breaks in force.
	s.mu.Lock()
	users := map[*user]*user{}
	for key, u := range s.users {
		users[u] = &user{User: u.User}
		scratch.users[key] = users[u]
	}
	for id, c := range s.clients {
		sc := &client{Client: c.snapshot(), home: c.home, owner: users[c.owner], consented: map[string]bool{}}
		scratch.clients[id] = sc
		if c.owner != nil && c.owner.selfClient == c {
			users[c.owner].selfClient = sc
		}
	}
	maps.Copy(scratch.breaks, s.breaks)
	s.mu.Unlock()
	if err := scratch.applySeed(f); err != nil {
		return err
	}
	return s.applySeed(f)
}

func (s *Server) applySeed(f *SeedFile) error {
	if f.Profile != "" {
		if err := s.SetProfile(f.Profile); err != nil {
			return f.errAt("profile", -1, "%v", err)
		}
	}
	if f.Limits.Kind != 0 {
		l := s.Limits()
		data, _ := yaml.Marshal(&f.Limits)
		if err := l.Override(data); err != nil {
			return f.errAt("limits", -1, "%v", err)
		}
		if err := s.SetLimits(l); err != nil {
			return f.errAt("limits", -1, "%v", err)
		}
	}
	for i, sc := range f.Scopes {
		if !zoho.ValidScopeShape(sc) {
			return f.errAt("scopes", i, "scope %q is not shaped Service.scope_name.OPERATION (ALL, CREATE, READ, UPDATE or DELETE)", sc)
		}
	}
	s.AddScopes(f.Scopes...)
	for i, u := range f.Users {
		if _, err := s.AddUser(u); err != nil {
			return f.errAt("users", i, "user %d: %v", i+1, err)
		}
	}
	for i, c := range f.Clients {
		what := fmt.Sprintf("client %d", i+1)
		if c.ID != "" {
			what += " (" + c.ID + ")"
		}
		reg, err := s.RegisterClient(c.ClientSpec)
		if err != nil {
			return f.errAt("clients", i, "%s: %v", what, err)
		}
		for dc, opt := range c.MultiDC {
			if _, err := s.EnableMultiDC(reg.ID, dc, opt); err != nil {
				return f.errAt("clients", i, "%s: multi_dc %s: %v", what, dc, err)
			}
		}
	}
	if err := s.Break(f.Breaks...); err != nil {
		return f.errAt("breaks", -1, "%v", err)
	}
	return nil
}

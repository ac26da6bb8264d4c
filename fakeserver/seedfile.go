package fakeserver

import (
	"bytes"
	"errors"
	"fmt"
	"io"
	"maps"
	"os"
	"reflect"
	"slices"
	"sort"
	"strconv"
	"strings"
	"time"
	"unicode/utf8"

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
//	orgs:                 # for client credentials' soid (ZohoCRM.600000000001)
//	  - {id: "600000000001", service: ZohoCRM, dc: us}
//	breaks: []
//
// A file with problems is refused whole: every problem is reported at once,
// each at its line and in the file's own words (see SeedErrors).
type SeedFile struct {
	Profile string        `yaml:"profile"`
	Limits  yaml.Node     `yaml:"limits"`
	Scopes  []string      `yaml:"scopes"`
	Users   []UserSpec    `yaml:"users"`
	Clients []SeedClient  `yaml:"clients"`
	Breaks  []zoho.SeedID `yaml:"breaks"`
	// Orgs are the orgs client credentials can name (clientcreds.go).
	Orgs []OrgSpec `yaml:"orgs"`

	name      string
	lines     map[string]pos  // a place in the file ("clients[0].multi_dc.eu") -> where it is
	bad       map[string]bool // places with a problem of shape (ParseSeed's value check skips them)
	limitSets []limitSet      // the limits the file sets (nil: not read yet)
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

	col int // orders the problems of one line
}

// pos is a place's line and column.
type pos struct{ line, col int }

func (e *SeedError) Error() string {
	if e.Line > 0 {
		return fmt.Sprintf("%s:%d: %s", e.File, e.Line, e.Msg)
	}
	return fmt.Sprintf("%s: %s", e.File, e.Msg)
}

// SeedErrors are every problem of a refused seed file, in the order of
// their lines. errors.As finds each *SeedError in it.
type SeedErrors []*SeedError

// maxListed bounds the problems Error lists; the rest are counted.
const maxListed = 100

// Error is the problem itself when there is one; otherwise a first line
// that counts them, then one line per problem ("  file:line: ...").
func (es SeedErrors) Error() string {
	switch len(es) {
	case 0:
		return "no problem"
	case 1:
		return es[0].Error()
	}
	var b strings.Builder
	fmt.Fprintf(&b, "%s: %d problems; nothing of the file was applied:", es[0].File, len(es))
	for i, e := range es {
		if i == maxListed {
			fmt.Fprintf(&b, "\n  ... and %d more", len(es)-maxListed)
			break
		}
		b.WriteString("\n  " + e.Error())
	}
	return b.String()
}

// Unwrap gives each problem to errors.Is and errors.As.
func (es SeedErrors) Unwrap() []error {
	out := make([]error, len(es))
	for i, e := range es {
		out[i] = e
	}
	return out
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

// ParseSeed reads a seed file's YAML; name is used in error messages. A
// file with a problem of shape (an unknown field, a value of the wrong
// kind) is refused with every such problem, and with the problems of value
// that a fresh fake would also refuse (an unknown DC, a console refusal,
// an unknown break), each at its line: a SeedErrors. ApplySeed checks the
// values against the server itself.
func ParseSeed(name string, data []byte) (*SeedFile, error) {
	f := &SeedFile{name: name, lines: map[string]pos{}, bad: map[string]bool{}, limitSets: []limitSet{}}
	dec := yaml.NewDecoder(bytes.NewReader(data))
	var root yaml.Node
	if err := dec.Decode(&root); err != nil {
		if errors.Is(err, io.EOF) {
			return f, nil // an empty file seeds nothing
		}
		return nil, yamlError(name, err)
	}
	for {
		var next yaml.Node
		err := dec.Decode(&next)
		if errors.Is(err, io.EOF) {
			break
		}
		if err != nil {
			return nil, yamlError(name, err)
		}
		if len(next.Content) > 0 && (next.Content[0].Kind != yaml.ScalarNode || next.Content[0].ShortTag() != "!!null") {
			return nil, SeedErrors{{File: name, Line: next.Content[0].Line, Msg: "a second YAML document (after ---): a seed file is one document; put everything in the first"}}
		}
	}
	p := &seedParser{f: f, budget: 10_000 + 4*countNodes(&root)}
	doc := &root
	if doc.Kind == yaml.DocumentNode {
		if len(doc.Content) == 0 {
			return f, nil
		}
		doc = doc.Content[0]
	}
	p.walk(doc, reflect.ValueOf(f).Elem(), place{})
	if len(p.errs) == 0 {
		return f, nil
	}
	errs := p.errs
	if !p.exhausted {
		// What else a fresh fake would refuse, so that one round shows it
		// all; the server's own state is checked by ApplySeed.
		errs = append(errs, NewUnstarted().applySeed(f, true)...)
	}
	return nil, f.refuse(errs)
}

// yamlError turns yaml.v3's "yaml: line 3: ..." into "file:3: ...".
func yamlError(name string, err error) error {
	msg := strings.TrimPrefix(err.Error(), "yaml: ")
	var line int
	if n, _ := fmt.Sscanf(msg, "line %d:", &line); n == 1 {
		_, rest, _ := strings.Cut(msg, ":")
		return SeedErrors{{File: name, Line: line, Msg: strings.TrimSpace(rest)}}
	}
	return SeedErrors{{File: name, Msg: msg}}
}

// refuse sorts the problems by place in the file.
func (f *SeedFile) refuse(errs []*SeedError) error {
	sort.SliceStable(errs, func(i, j int) bool {
		return errs[i].Line < errs[j].Line || errs[i].Line == errs[j].Line && errs[i].col < errs[j].col
	})
	return SeedErrors(errs)
}

func (f *SeedFile) fileName() string {
	if f.name == "" {
		return "seed"
	}
	return f.name
}

// posOf is the first place known of keys, else nothing.
func (f *SeedFile) posOf(keys ...string) pos {
	for _, k := range keys {
		if p, ok := f.lines[k]; ok {
			return p
		}
	}
	return pos{}
}

func (f *SeedFile) lineOf(keys ...string) int { return f.posOf(keys...).line }

// errAt is a problem at the first known place of keys; the message starts
// with label (the place in the file's words), when there is one.
func (f *SeedFile) errAt(label string, err error, keys ...string) *SeedError {
	msg := err.Error()
	if label != "" {
		msg = label + ": " + msg
	}
	at := f.posOf(keys...)
	return &SeedError{File: f.fileName(), Line: at.line, Msg: msg, col: at.col}
}

// ---- reading the YAML: the file's shape ----

// place is where the walk is: key names it for the line table
// ("clients[0].redirect_uris"), label for messages ("client 1 (ID):
// redirect_uris"), limit is the field index path inside the limits.
type place struct {
	key, label string
	limit      []int
	inLimits   bool
}

func (p place) field(name string) place {
	q := p
	q.key = join(p.key, ".", name)
	q.label = join(p.label, ".", name)
	if p.isItem() {
		q.label = p.label + ": " + name
	}
	return q
}

// isItem reports whether the place is an item of a top-level list (its
// label is "client 1", not a dotted path).
func (p place) isItem() bool { return strings.HasSuffix(p.key, "]") && !strings.Contains(p.key, ".") }

func join(a, sep, b string) string {
	if a == "" {
		return b
	}
	return a + sep + b
}

// limitSet is one limit the file sets: the field (index path into
// zoho.Limits) and its value.
type limitSet struct {
	key   string // "limits.grant_rate.window"
	index []int
	value reflect.Value
}

type seedParser struct {
	f         *SeedFile
	errs      []*SeedError
	budget    int // nodes the walk may still visit (aliases expand)
	exhausted bool
}

func (p *seedParser) fail(n *yaml.Node, at place, format string, args ...any) {
	msg := fmt.Sprintf(format, args...)
	if at.label != "" {
		msg = at.label + ": " + msg
	}
	p.errs = append(p.errs, &SeedError{File: p.f.fileName(), Line: n.Line, Msg: msg, col: n.Column})
	p.f.bad[at.key] = true
}

// countNodes counts a document's nodes, aliases not expanded.
func countNodes(n *yaml.Node) int {
	c := 1
	for _, k := range n.Content {
		c += countNodes(k)
	}
	return c
}

// resolveAlias follows aliases (*name) to what they name.
func resolveAlias(n *yaml.Node) *yaml.Node {
	for n != nil && n.Kind == yaml.AliasNode {
		if n.Alias == nil {
			return nil
		}
		n = n.Alias
	}
	return n
}

var (
	durationType = reflect.TypeFor[time.Duration]()
	nodeType     = reflect.TypeFor[yaml.Node]()
	limitsType   = reflect.TypeFor[zoho.Limits]()
)

// nouns name the mappings of a seed file in its own words.
var nouns = map[reflect.Type]string{
	reflect.TypeFor[SeedFile]():   "a seed file",
	reflect.TypeFor[UserSpec]():   "a user",
	reflect.TypeFor[SeedClient](): "a client",
	reflect.TypeFor[MultiDC]():    "a multi_dc entry",
	reflect.TypeFor[OrgSpec]():    "an org",
	limitsType:                    "the limits",
	reflect.TypeFor[zoho.Rate]():  "a rate",
}

// walk reads node n into v (a settable value), reporting what does not fit.
func (p *seedParser) walk(n *yaml.Node, v reflect.Value, at place) {
	if p.exhausted {
		return
	}
	if p.budget--; p.budget < 0 {
		p.exhausted = true
		p.fail(n, at, "the file's aliases (*name) expand to too many values: write them out")
		return
	}
	alias := n
	if n = resolveAlias(n); n == nil {
		return
	}
	if n != alias {
		// what does not fit is reported where the alias is used
		used := *n
		used.Line, used.Column = alias.Line, alias.Column
		n = &used
	}
	if at.key != "" {
		if _, seen := p.f.lines[at.key]; !seen {
			p.f.lines[at.key] = pos{alias.Line, alias.Column}
		}
	}
	if n.Kind == yaml.ScalarNode && n.ShortTag() == "!!null" {
		return // nothing: the zero value
	}
	t := v.Type()
	switch {
	case t == nodeType: // the limits, read against zoho.Limits
		v.Set(reflect.ValueOf(*n))
		var l zoho.Limits
		at.inLimits = true
		p.walk(n, reflect.ValueOf(&l).Elem(), at)
	case t == durationType || t.Kind() != reflect.Struct && t.Kind() != reflect.Slice && t.Kind() != reflect.Map:
		p.scalar(n, v, at)
	case t.Kind() == reflect.Struct:
		p.mapping(n, v, at)
	case t.Kind() == reflect.Slice:
		if n.Kind == yaml.ScalarNode {
			p.fail(n, at, "want a list such as [%s], found %s", short(n.Value), found(n))
			return
		}
		if n.Kind != yaml.SequenceNode {
			p.fail(n, at, "want %s, found %s", want(t, at), found(n))
			return
		}
		s := reflect.MakeSlice(t, len(n.Content), len(n.Content))
		for i, item := range n.Content {
			p.walk(item, s.Index(i), p.item(at, i, item))
		}
		v.Set(s)
		p.setLimit(v, at)
	case t.Kind() == reflect.Map:
		p.dict(n, v, at)
	}
}

// item is the place of a list's i-th item: "user 2", "client 1 (ID)",
// "scope 3" at the top; "redirect_uris item 2" inside.
func (p *seedParser) item(at place, i int, n *yaml.Node) place {
	q := at
	q.key = fmt.Sprintf("%s[%d]", at.key, i)
	q.limit = nil // a list is set whole
	if strings.Contains(at.key, ".") || at.key == "" || at.inLimits {
		q.label = fmt.Sprintf("%s item %d", at.label, i+1)
		return q
	}
	noun := strings.TrimSuffix(at.key, "s")
	q.label = fmt.Sprintf("%s %d", noun, i+1)
	if at.key == "clients" {
		if n = resolveAlias(n); n != nil && n.Kind == yaml.MappingNode {
			for j := 0; j+1 < len(n.Content); j += 2 {
				if k, val := n.Content[j], resolveAlias(n.Content[j+1]); k.Value == "id" && val != nil && val.Kind == yaml.ScalarNode && val.Value != "" {
					q.label += " (" + val.Value + ")"
					break
				}
			}
		}
	}
	return q
}

// scalar decodes a single value.
func (p *seedParser) scalar(n *yaml.Node, v reflect.Value, at place) {
	if n.Kind != yaml.ScalarNode {
		p.fail(n, at, "want %s, found %s", want(v.Type(), at), found(n))
		return
	}
	if v.Type() == durationType {
		d, err := time.ParseDuration(n.Value)
		if err != nil {
			p.fail(n, at, "want %s, found %s", want(v.Type(), at), found(n))
			return
		}
		v.SetInt(int64(d))
		p.setLimit(v, at)
		return
	}
	nv := reflect.New(v.Type())
	if err := n.Decode(nv.Interface()); err != nil {
		p.fail(n, at, "want %s, found %s", want(v.Type(), at), found(n))
		return
	}
	v.Set(nv.Elem())
	p.setLimit(v, at)
}

// setLimit records a limit the file sets (a leaf of the limits).
func (p *seedParser) setLimit(v reflect.Value, at place) {
	if at.inLimits && at.limit != nil {
		p.f.limitSets = append(p.f.limitSets, limitSet{key: at.key, index: slices.Clone(at.limit), value: v})
	}
}

// yamlField is a field of a mapping in the file: its name and its index
// path in the Go struct.
type yamlField struct {
	name  string
	index []int
}

// fieldsOf lists a struct's YAML fields, inline ones flattened; the limits'
// description is not a limit.
func fieldsOf(t reflect.Type) []yamlField {
	var out []yamlField
	for i := range t.NumField() {
		sf := t.Field(i)
		if !sf.IsExported() {
			continue
		}
		tag := sf.Tag.Get("yaml")
		name, opts, _ := strings.Cut(tag, ",")
		if opts == "inline" {
			for _, sub := range fieldsOf(sf.Type) {
				out = append(out, yamlField{sub.name, append([]int{i}, sub.index...)})
			}
			continue
		}
		if name == "" || name == "-" || t == limitsType && name == "description" {
			continue
		}
		out = append(out, yamlField{name, []int{i}})
	}
	return out
}

func fieldNames(fs []yamlField) string {
	names := make([]string, len(fs))
	for i, f := range fs {
		names[i] = f.name
	}
	return strings.Join(names, ", ")
}

// entry is a key and its value, with merges (<<: *base) expanded.
type entry struct{ key, val *yaml.Node }

// entries lists a mapping's keys and values: its own first (a repeated key
// is a problem), then those merged in (<<) that it does not set itself.
func (p *seedParser) entries(m *yaml.Node, at place) []entry {
	var own, merged []entry
	seen := map[string]int{}
	for i := 0; i+1 < len(m.Content); i += 2 {
		k, val := m.Content[i], m.Content[i+1]
		if k.Kind == yaml.ScalarNode && k.Tag == "!!merge" {
			merged = append(merged, p.merge(val, at, 0)...)
			continue
		}
		if rk := resolveAlias(k); rk == nil || rk.Kind != yaml.ScalarNode {
			p.fail(k, at, "a key must be a name, found %s", found(rk))
			continue
		} else {
			k = rk
		}
		if first, dup := seen[k.Value]; dup {
			p.fail(k, at.field(k.Value), "given twice (first at line %d): keep one", first)
			continue
		}
		seen[k.Value] = k.Line
		own = append(own, entry{k, val})
	}
	for _, e := range merged {
		if _, dup := seen[e.key.Value]; !dup {
			seen[e.key.Value] = e.key.Line
			own = append(own, e)
		}
	}
	return own
}

// merge expands a merge key's value: a mapping, or a list of them (the
// earlier ones win).
func (p *seedParser) merge(n *yaml.Node, at place, depth int) []entry {
	n = resolveAlias(n)
	if n == nil || depth > 10 {
		return nil
	}
	switch n.Kind {
	case yaml.MappingNode:
		return p.entries(n, at)
	case yaml.SequenceNode:
		var out []entry
		for _, m := range n.Content {
			out = append(out, p.merge(m, at, depth+1)...)
		}
		return out
	}
	p.fail(n, at, "<< merges a mapping (<<: *name), found %s", found(n))
	return nil
}

// mapping reads a struct from a mapping, field by field.
func (p *seedParser) mapping(n *yaml.Node, v reflect.Value, at place) {
	t := v.Type()
	if n.Kind != yaml.MappingNode {
		p.fail(n, at, "want %s, found %s", want(t, at), found(n))
		return
	}
	fields := fieldsOf(t)
	for _, e := range p.entries(n, at) {
		i := slices.IndexFunc(fields, func(f yamlField) bool { return f.name == e.key.Value })
		if i < 0 {
			noun := nouns[t]
			if noun == "" {
				noun = "this mapping"
			}
			msg := fmt.Sprintf("field %s not found: %s's fields are %s", e.key.Value, noun, fieldNames(fields))
			if t == limitsType {
				msg = fmt.Sprintf("field %s not found: the limits are %s (as in fixtures/zoho/profiles.yaml)", e.key.Value, fieldNames(fields))
			}
			p.fail(e.key, at, "%s", msg)
			delete(p.f.bad, at.key)
			p.f.bad[at.field(e.key.Value).key] = true
			continue
		}
		q := at.field(e.key.Value)
		p.f.lines[q.key] = pos{e.key.Line, e.key.Column}
		if at.inLimits {
			q.limit = append(slices.Clone(at.limit), fields[i].index...)
		}
		p.walk(e.val, v.FieldByIndex(fields[i].index), q)
	}
}

// dict reads a map (multi_dc) from a mapping.
func (p *seedParser) dict(n *yaml.Node, v reflect.Value, at place) {
	t := v.Type()
	if n.Kind != yaml.MappingNode {
		p.fail(n, at, "want %s, found %s", want(t, at), found(n))
		return
	}
	m := reflect.MakeMap(t)
	for _, e := range p.entries(n, at) {
		q := at.field(e.key.Value)
		p.f.lines[q.key] = pos{e.key.Line, e.key.Column}
		key := reflect.New(t.Key()).Elem()
		key.SetString(e.key.Value)
		val := reflect.New(t.Elem()).Elem()
		p.walk(e.val, val, q)
		m.SetMapIndex(key, val)
	}
	v.Set(m)
}

// want says what a place takes, in the file's words.
func want(t reflect.Type, at place) string {
	switch t {
	case durationType:
		return "a duration such as 60s"
	case reflect.TypeFor[zoho.DC]():
		return "a data centre such as us or eu"
	case reflect.TypeFor[zoho.SeedID]():
		return "a seed ID such as K4-NOTE-1"
	case reflect.TypeFor[ClientType]():
		return "a client type (javascript, web, mobile, self or device)"
	case reflect.TypeFor[[]zoho.SeedID]():
		return "a list of seed IDs such as [K4-NOTE-1]"
	case reflect.TypeFor[map[zoho.DC]MultiDC]():
		return "a mapping of DCs such as {eu: {separate_secret: true}}"
	}
	switch t.Kind() {
	case reflect.Bool:
		return "true or false"
	case reflect.Int, reflect.Int64:
		return "a whole number"
	case reflect.String:
		name := at.key[strings.LastIndex(at.key, ".")+1:]
		if i := strings.Index(name, "["); i >= 0 {
			name = name[:i]
		}
		if h, ok := hints[name]; ok {
			return h
		}
		return "a single value"
	case reflect.Slice:
		return "a list such as [a, b] (or lines starting with -)"
	case reflect.Struct:
		return "a mapping of " + fieldNames(fieldsOf(t))
	}
	return "something else"
}

// hints say what a text field takes.
var hints = map[string]string{
	"profile":            "a profile name (kaizen4 or accounts-2025)",
	"email":              "an email address",
	"user":               "a user's email address",
	"first_name":         "a name",
	"last_name":          "a name",
	"name":               "a name",
	"homepage":           "a URL",
	"redirect_uris":      "a URI",
	"js_domains":         "a domain",
	"scopes":             "a scope such as ZohoCRM.users.ALL",
	"id":                 "a client ID (1000. and 30 of A-Z and 0-9)",
	"secret":             "a client secret (42 lowercase hex digits)",
	"wrong_secret_error": "an error code (invalid_client or invalid_client_secret)",
	"service":            "a Zoho service such as ZohoCRM",
	"pkce":               "required or optional",
}

// found says what the file has instead.
func found(n *yaml.Node) string {
	if n == nil {
		return "nothing"
	}
	switch n.Kind {
	case yaml.SequenceNode:
		return "a list"
	case yaml.MappingNode:
		return "a mapping"
	case yaml.ScalarNode:
		return strconv.Quote(short(n.Value))
	}
	return "something else"
}

// short cuts a value to quote (on a rune boundary).
func short(v string) string {
	if len(v) <= 60 {
		return v
	}
	i := 57
	for i > 0 && !utf8.RuneStart(v[i]) {
		i--
	}
	return v[:i] + "..."
}

// ---- applying: the values ----

// ApplySeed creates what the seed file names. It first tries the whole file
// on a scratch server, so that a broken file changes nothing; the error
// lists every problem, each with the file and line (a SeedErrors).
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
	for id, o := range s.cc.orgs { // org IDs the seed can clash with (clientcreds.go)
		if scratch.cc.orgs == nil {
			scratch.cc.orgs = map[string]*Org{}
		}
		scratch.cc.orgs[id] = &Org{ID: o.ID, Service: o.Service, DC: o.DC}
	}
	s.mu.Unlock()
	if errs := scratch.applySeed(f, false); len(errs) > 0 {
		return f.refuse(errs)
	}
	if errs := s.applySeed(f, false); len(errs) > 0 {
		return f.refuse(errs)
	}
	return nil
}

// applySeed applies the file and returns every problem. partial is
// ParseSeed's check on a fresh fake of a file with problems of shape: it
// skips what has them, and stays silent where the real server's state
// could make a difference (a user the file does not create, limits on top
// of the server's own).
func (s *Server) applySeed(f *SeedFile, partial bool) []*SeedError {
	if f.limitSets == nil && f.Limits.Kind != 0 {
		// a SeedFile made in code: read its limits (into a copy, as the
		// file may be applied to many servers at once)
		g := *f
		g.lines, g.bad, g.limitSets = map[string]pos{}, map[string]bool{}, []limitSet{}
		p := &seedParser{f: &g, budget: 10_000 + 4*countNodes(&f.Limits)}
		var l zoho.Limits
		p.walk(&f.Limits, reflect.ValueOf(&l).Elem(), place{key: "limits", label: "limits", inLimits: true})
		if len(p.errs) > 0 {
			return p.errs
		}
		f = &g
	}
	var errs []*SeedError
	if f.Profile != "" && !f.bad["profile"] {
		if err := s.SetProfile(f.Profile); err != nil {
			errs = append(errs, f.errAt("profile", err, "profile"))
		}
	}
	if sets := f.limitSets; len(sets) > 0 && (!partial || f.Profile != "" && !f.bad["profile"]) {
		l := s.Limits()
		lv := reflect.ValueOf(&l).Elem()
		n := 0
		for _, o := range sets {
			if !f.bad[o.key] {
				lv.FieldByIndex(o.index).Set(o.value)
				n++
			}
		}
		if n > 0 {
			if err := s.SetLimits(l); err != nil {
				errs = append(errs, f.limitErrors(err)...)
			}
		}
	}
	var scopes []string
	for i, sc := range f.Scopes {
		key := fmt.Sprintf("scopes[%d]", i)
		if f.bad[key] {
			continue
		}
		if !zoho.ValidScopeShape(sc) {
			errs = append(errs, f.errAt(fmt.Sprintf("scope %d", i+1), fmt.Errorf("scope %q is not shaped Service.scope_name.OPERATION (ALL, CREATE, READ, UPDATE or DELETE)", sc), key, "scopes"))
			continue
		}
		scopes = append(scopes, sc)
	}
	s.AddScopes(scopes...)
	failed := map[string]bool{} // the users the file failed to create
	for i, u := range f.Users {
		key := fmt.Sprintf("users[%d]", i)
		if f.bad[key] || f.badUnder(key+".email") {
			failed[strings.ToLower(strings.TrimSpace(u.Email))] = true
			continue
		}
		// stand-ins for what is reported already
		if f.badUnder(key + ".dc") {
			u.DC = ""
		}
		if _, err := s.AddUser(u); err != nil {
			failed[strings.ToLower(strings.TrimSpace(u.Email))] = true
			field := key + ".email"
			if strings.Contains(err.Error(), "data centre") {
				field = key + ".dc"
			}
			errs = append(errs, f.errAt(fmt.Sprintf("user %d", i+1), err, field, key, "users"))
		}
	}
	for i, c := range f.Clients {
		key := fmt.Sprintf("clients[%d]", i)
		if f.bad[key] || f.badUnder(key+".type") {
			continue // not a client, or of no known kind: its other rules are unknown
		}
		what := fmt.Sprintf("client %d", i+1)
		if c.ID != "" {
			what += " (" + c.ID + ")"
		}
		// stand-ins for what is reported already, to check the rest
		used := map[string]bool{}
		standIn := func(field string) bool {
			if used[field] {
				return false
			}
			used[field] = true
			switch field {
			case "name":
				c.Name = "Stand in"
			case "homepage":
				c.Homepage = "https://example.com"
			case "redirect_uris":
				c.RedirectURIs = []string{"https://example.com/callback"}
			case "js_domains":
				c.JSDomains = nil
				if c.Type == JavaScript {
					c.JSDomains = []string{"https://example.com"}
				}
			case "dc":
				c.DC = ""
			case "user":
				c.User = ""
			case "id":
				c.ID = ""
			case "secret":
				c.Secret = ""
			case "pkce":
				c.PKCE = ""
			default:
				return false
			}
			return true
		}
		for _, field := range []string{"name", "homepage", "redirect_uris", "js_domains", "dc", "user", "id", "secret", "pkce"} {
			if f.badUnder(key + "." + field) {
				standIn(field)
			}
		}
		if c.User != "" && !s.hasUser(c.User) && (partial || failed[strings.ToLower(strings.TrimSpace(c.User))]) {
			// its user is refused above (or may be the server's): check
			// the rest of the client with a stand-in
			dc := zoho.US
			if d, err := zoho.ParseDC(string(c.DC)); err == nil {
				dc = d
			}
			if _, err := s.AddUser(UserSpec{Email: c.User, DC: dc}); err != nil {
				continue
			}
		}
		// The console stops at the first refusal: each one is reported,
		// and the client tried again with a stand-in for the field.
		var reg Client
		var err error
		for {
			if reg, err = s.RegisterClient(c.ClientSpec); err == nil {
				break
			}
			keys := clientErrKeys(key, err)
			errs = append(errs, f.errAt(what, err, keys...))
			if !standIn(strings.TrimPrefix(keys[0], key+".")) {
				break
			}
		}
		if err != nil {
			continue
		}
		dcs := slices.Collect(maps.Keys(c.MultiDC))
		sort.Slice(dcs, func(a, b int) bool {
			la, lb := f.lineOf(key+".multi_dc."+string(dcs[a])), f.lineOf(key+".multi_dc."+string(dcs[b]))
			return la < lb || la == lb && dcs[a] < dcs[b]
		})
		for _, dc := range dcs {
			at := key + ".multi_dc." + string(dc)
			if f.badUnder(at) {
				continue
			}
			if _, err := s.EnableMultiDC(reg.ID, dc, c.MultiDC[dc]); err != nil {
				errs = append(errs, f.errAt(what+": multi_dc."+string(dc), err, at, key+".multi_dc", key))
			}
		}
	}
	errs = append(errs, s.applySeedOrgs(f)...) // clientcreds.go
	for i, id := range f.Breaks {
		key := fmt.Sprintf("breaks[%d]", i)
		if f.bad[key] {
			continue
		}
		if err := s.Break(id); err != nil {
			errs = append(errs, f.errAt(fmt.Sprintf("break %d", i+1), err, key, "breaks"))
		}
	}
	return errs
}

// badUnder reports whether the place, or one inside it, has a problem of
// shape.
func (f *SeedFile) badUnder(key string) bool {
	for k := range f.bad {
		if k == key || strings.HasPrefix(k, key+".") || strings.HasPrefix(k, key+"[") {
			return true
		}
	}
	return false
}

// hasUser reports whether the server knows the user.
func (s *Server) hasUser(email string) bool {
	s.mu.Lock()
	defer s.mu.Unlock()
	_, err := s.userLocked(email)
	return err == nil
}

// clientErrKeys are the places a client's refusal points at, the most
// precise first: the console's field, else the field the message names.
func clientErrKeys(key string, err error) []string {
	var rerr *RegistrationError
	if errors.As(err, &rerr) && rerr.Field != "" {
		return []string{key + "." + rerr.Field, key}
	}
	msg := err.Error()
	var field string
	switch {
	case strings.HasPrefix(msg, "client ID"):
		field = "id"
	case strings.HasPrefix(msg, "client secret"):
		field = "secret"
	case strings.HasPrefix(msg, "no user"):
		field = "user"
	case strings.Contains(msg, "data centre"), strings.Contains(msg, " lives in "):
		return []string{key + ".dc", key + ".user", key}
	}
	return []string{key + "." + field, key}
}

// limitErrors places each of the limits' problems at the limit it names
// ("grant_lifetime must be positive"), else at the limits.
func (f *SeedFile) limitErrors(err error) []*SeedError {
	msg := strings.TrimPrefix(err.Error(), "invalid limits: ")
	var out []*SeedError
	for _, problem := range strings.Split(msg, "; ") {
		var first, other []string
		for _, name := range zoho.LimitNames() {
			key := "limits." + name
			if _, set := f.lines[key]; !set {
				continue
			}
			caps := strings.HasPrefix(problem, "token caps") && (strings.HasSuffix(name, "_per_user") || strings.HasSuffix(name, "_per_refresh_token"))
			switch {
			case strings.HasPrefix(problem, name+" "), caps:
				first = append(first, key)
			case strings.Contains(problem, name):
				other = append(other, key)
			}
		}
		out = append(out, f.errAt("limits", errors.New(problem), append(append(first, other...), "limits")...))
	}
	return out
}

package reports

import (
	"bytes"
	"cmp"
	"errors"
	"fmt"
	"io"
	"net/url"
	"os"
	"regexp"
	"slices"
	"strconv"
	"strings"

	"go.yaml.in/yaml/v3"

	"github.com/zconform/zconform/fixtures/zoho"
)

// EnvDeviations names the deviations file of a run (see DeviationsFromEnv).
const EnvDeviations = "ZCONFORM_DEVIATIONS"

// AnyTarget as Deviations.Target applies a deviations file to every target.
const AnyTarget = "*"

// Deviations are a target's expected deviations: the cases known to differ
// from the documented contract on that target, each with a reason and a
// link, as in the OpenID Foundation conformance suite. The file:
//
//	target: staging-eu        # the run's target (RunMeta.Target), or "*" for any
//	deviations:
//	  - case: TOKEN-CLIENT-WRONG-SECRET       # a catalogue case ID (required)
//	    profile: kaizen4                      # only when the run expects this profile (optional)
//	    dc: eu                                # only for the case run at this DC (optional)
//	    observed: {error: invalid_client_secret, http_status: 200}  # optional, any of step, http_status, error
//	    reason: staging already answers the accounts-2025 error      # required
//	    link: https://example.com/ticket/123                         # required, http(s)
//
// A case failing in a run against that target (under that profile, at that
// DC) becomes Deviated when the entry has no observed, or when what the
// case last observed from the target matches every field given (an error
// matches itself, or a console message followed by ": detail"). A case
// that failed otherwise stays Failed, with CaseResult.DeviationMismatch
// saying how it differs; a case that panicked, timed out or was
// interrupted is never a deviation. A listed case that passed stays Passed
// with CaseResult.NoLongerDeviates set: its entry can go. A skipped case
// keeps its outcome. At most one entry applies to a case: LoadDeviations
// refuses two entries for the same case whose profiles and DCs overlap.
type Deviations struct {
	// File is the path the deviations were read from.
	File string `json:"file,omitempty" yaml:"-"`
	// Target is the target the deviations apply to, or AnyTarget.
	Target     string      `json:"target" yaml:"target"`
	Deviations []Deviation `json:"deviations" yaml:"deviations"`
}

// Deviation is one entry of a deviations file.
type Deviation struct {
	// Case is the catalogue case ID.
	Case string `json:"case" yaml:"case"`
	// Profile limits the entry to runs expecting that profile; empty: any.
	Profile string `json:"profile,omitempty" yaml:"profile"`
	// DC limits the entry to the case run at that DC; empty: any.
	DC string `json:"dc,omitempty" yaml:"dc"`
	// Observed is what the target is known to answer: the fields given
	// must match the case's Observed. Nil: any failure is the deviation.
	Observed *Observed `json:"observed,omitempty" yaml:"observed"`
	// Reason says why the target differs.
	Reason string `json:"reason" yaml:"reason"`
	// Link points at the ticket or page that tracks the deviation.
	Link string `json:"link" yaml:"link"`
	// File and Line locate the entry in its deviations file.
	File string `json:"file,omitempty" yaml:"-"`
	Line int    `json:"line,omitempty" yaml:"-"`
}

// Where is the entry's place, "file:line".
func (d Deviation) Where() string {
	if d.Line == 0 {
		return d.File
	}
	return d.File + ":" + strconv.Itoa(d.Line)
}

// Text is the reason followed by the link in parentheses.
func (d Deviation) Text() string {
	if d.Link == "" {
		return d.Reason
	}
	return d.Reason + " (" + d.Link + ")"
}

// DeviationsError is one problem of a deviations file.
type DeviationsError struct {
	File string
	// Line is 0 when the problem is the whole file's.
	Line   int
	Reason string
}

func (e *DeviationsError) Error() string {
	if e.Line == 0 {
		return e.File + ": " + e.Reason
	}
	return fmt.Sprintf("%s:%d: %s", e.File, e.Line, e.Reason)
}

// DeviationsFromEnv loads the deviations file named by EnvDeviations; nil
// and no error when the variable is unset or empty.
func DeviationsFromEnv() (*Deviations, error) {
	path := strings.TrimSpace(os.Getenv(EnvDeviations))
	if path == "" {
		return nil, nil
	}
	d, err := LoadDeviations(path)
	if err != nil {
		return nil, fmt.Errorf("%s=%s: %w", EnvDeviations, path, err)
	}
	return d, nil
}

// LoadDeviations reads and checks a deviations file (see Deviations).
// Every problem is reported as a *DeviationsError naming the file and
// line, joined with errors.Join. Case IDs are checked only by Check.
func LoadDeviations(path string) (*Deviations, error) {
	data, err := os.ReadFile(path)
	if err != nil {
		return nil, fmt.Errorf("deviations file: %w", err)
	}
	return ParseDeviations(path, data)
}

// ParseDeviations is LoadDeviations on data; name is used in messages.
func ParseDeviations(name string, data []byte) (*Deviations, error) {
	d := &Deviations{File: name}
	dec := yaml.NewDecoder(bytes.NewReader(data))
	dec.KnownFields(true)
	if err := dec.Decode(d); err != nil {
		if errors.Is(err, io.EOF) {
			return nil, &DeviationsError{File: name, Reason: "the file is empty: write target: (the run's target, or \"*\") and deviations: (a list of cases)"}
		}
		return nil, deviationsYAMLError(name, err)
	}
	var more struct{}
	if err := dec.Decode(&more); !errors.Is(err, io.EOF) {
		return nil, &DeviationsError{File: name, Reason: "the file holds more than one YAML document (---): keep one"}
	}
	d.File = name

	// Lines, from the node tree (the strict decode above succeeded, so the
	// shape is known: a mapping, deviations a list of mappings).
	var root yaml.Node
	_ = yaml.Unmarshal(data, &root)
	var top, list *yaml.Node
	if len(root.Content) == 1 {
		top = root.Content[0]
		list = valueOf(top, "deviations")
	}
	var errs []error
	fail := func(line int, format string, args ...any) {
		errs = append(errs, &DeviationsError{File: name, Line: line, Reason: fmt.Sprintf(format, args...)})
	}

	d.Target = strings.TrimSpace(d.Target)
	if d.Target == "" {
		fail(keyLine(top, "target", 1), `target is missing: name the target these deviations apply to (the run's target, e.g. staging-eu), or "*" for any`)
	}
	for i := range d.Deviations {
		e := &d.Deviations[i]
		var item *yaml.Node
		if list != nil && i < len(list.Content) {
			item = list.Content[i]
			e.Line = item.Line
		}
		e.File = name
		at := func(key string) int { return keyLine(item, key, e.Line) }
		e.Case, e.Profile, e.DC = strings.TrimSpace(e.Case), strings.TrimSpace(e.Profile), strings.ToLower(strings.TrimSpace(e.DC))
		e.Reason, e.Link = clean(strings.TrimSpace(e.Reason)), strings.TrimSpace(e.Link)
		who := "deviation"
		if e.Case != "" {
			who = "deviation " + e.Case
		}
		switch {
		case e.Case == "":
			fail(e.Line, "deviation without case: give the catalogue case ID (zconform catalogue lists them)")
		case strings.ContainsAny(e.Case, " \t&|!,()/:"):
			fail(at("case"), "%s: %q is no case ID (IDs have no spaces or & | ! , ( ) / :)", who, e.Case)
		}
		if e.Profile != "" {
			if _, err := zoho.Profile(e.Profile); err != nil {
				fail(at("profile"), "%s: unknown profile %q: use one of %s, or leave profile out for any", who, e.Profile, strings.Join(zoho.ProfileNames(), ", "))
			}
		}
		if e.DC != "" {
			if _, err := zoho.ParseDC(e.DC); err != nil {
				fail(at("dc"), "%s: %v, or leave dc out for any", who, err)
			}
		}
		if o := e.Observed; o != nil {
			o.Step, o.Error = clean(strings.TrimSpace(o.Step)), clean(strings.TrimSpace(o.Error))
			switch {
			case *o == (Observed{}):
				fail(at("observed"), "%s: observed is empty: give any of step, http_status and error, or leave observed out to accept any failure", who)
			case o.Status != 0 && (o.Status < 100 || o.Status > 599):
				fail(keyLine(valueOf(item, "observed"), "http_status", at("observed")), "%s: http_status %d is no HTTP status (100-599)", who, o.Status)
			}
		}
		if e.Reason == "" {
			fail(e.Line, "%s: reason is missing: say why the target differs from the documented contract", who)
		}
		if e.Link == "" {
			fail(e.Line, "%s: link is missing: point at the ticket or page that tracks the deviation", who)
		} else if u, err := url.Parse(e.Link); err != nil || (u.Scheme != "http" && u.Scheme != "https") || u.Host == "" {
			fail(at("link"), "%s: link %q is not an http(s) URL", who, e.Link)
		}
		for _, prev := range d.Deviations[:i] {
			if prev.Case == e.Case && e.Case != "" && overlap(prev.Profile, e.Profile) && overlap(prev.DC, e.DC) {
				fail(e.Line, "%s: the case is already listed at line %d for %s: one entry per case, profile and DC (give each a different profile or dc)",
					who, prev.Line, scope(prev.Profile, e.Profile, prev.DC, e.DC))
			}
		}
	}
	if len(errs) > 0 {
		return nil, errors.Join(errs...)
	}
	return d, nil
}

func overlap(a, b string) bool { return a == "" || b == "" || a == b }

// scope names what two overlapping entries share, for a message.
func scope(p1, p2, dc1, dc2 string) string {
	p, dc := cmp.Or(p1, p2), cmp.Or(dc1, dc2)
	var parts []string
	if p == "" {
		parts = append(parts, "every profile")
	} else {
		parts = append(parts, "profile "+p)
	}
	if dc == "" {
		parts = append(parts, "every DC")
	} else {
		parts = append(parts, "DC "+dc)
	}
	return strings.Join(parts, " and ")
}

// valueOf returns the value of key in a mapping node, or nil.
func valueOf(m *yaml.Node, key string) *yaml.Node {
	if m == nil || m.Kind != yaml.MappingNode {
		return nil
	}
	for i := 0; i+1 < len(m.Content); i += 2 {
		if m.Content[i].Value == key {
			return m.Content[i+1]
		}
	}
	return nil
}

// keyLine is the line of key in a mapping node, or def.
func keyLine(m *yaml.Node, key string, def int) int {
	if m == nil || m.Kind != yaml.MappingNode {
		return def
	}
	for i := 0; i+1 < len(m.Content); i += 2 {
		if m.Content[i].Value == key {
			return m.Content[i].Line
		}
	}
	return def
}

var (
	yamlLine     = regexp.MustCompile(`^line (\d+): (.*)$`)
	unknownField = regexp.MustCompile(`^field (\S+) not found in type \S*\.(\w+)$`)
)

// fieldsOf lists the fields of each type of the file, for messages.
var fieldsOf = map[string]string{
	"Deviations": "a deviations file has target and deviations",
	"Deviation":  "a deviation has case, profile, dc, observed, reason and link",
	"Observed":   "observed has step, http_status and error",
}

// deviationsYAMLError turns yaml.v3's errors into DeviationsErrors, one
// per line, saying what to fix.
func deviationsYAMLError(name string, err error) error {
	var msgs []string
	var te *yaml.TypeError
	if errors.As(err, &te) {
		msgs = te.Errors
	} else {
		msgs = []string{strings.TrimPrefix(err.Error(), "yaml: ")}
	}
	var errs []error
	for _, msg := range msgs {
		line := 0
		if m := yamlLine.FindStringSubmatch(msg); m != nil {
			line, _ = strconv.Atoi(m[1])
			msg = m[2]
		}
		switch m := unknownField.FindStringSubmatch(msg); {
		case m != nil:
			msg = fmt.Sprintf("unknown field %q: %s", m[1], fieldsOf[m[2]])
		case strings.Contains(msg, "into reports.Deviations"):
			msg += ": the file must be a mapping with target: and deviations:"
		case strings.Contains(msg, "into []reports.Deviation"):
			msg += ": deviations must be a list (- case: ...)"
		case strings.Contains(msg, "into reports.Deviation"):
			msg += ": each deviation must be a mapping (case:, reason:, link:, ...)"
		case strings.Contains(msg, "into reports.Observed"):
			msg += ": observed must be a mapping such as {error: invalid_client, http_status: 400}"
		case strings.Contains(msg, "into int"):
			msg += ": http_status must be a number such as 400"
		}
		errs = append(errs, &DeviationsError{File: name, Line: line, Reason: msg})
	}
	return errors.Join(errs...)
}

// Check reports the entries whose case is not among known (the catalogue's
// case IDs), each as a *DeviationsError at its line, joined.
func (d *Deviations) Check(known []string) error {
	if d == nil {
		return nil
	}
	var errs []error
	for _, e := range d.Deviations {
		if slices.Contains(known, e.Case) {
			continue
		}
		msg := fmt.Sprintf("unknown case %q: no catalogue case has that ID (zconform catalogue lists them)", e.Case)
		if near := nearest(e.Case, known); near != "" {
			msg += fmt.Sprintf("; did you mean %s?", near)
		}
		errs = append(errs, &DeviationsError{File: d.File, Line: e.Line, Reason: msg})
	}
	return errors.Join(errs...)
}

// nearest is the known ID closest to id, if it is close.
func nearest(id string, known []string) string {
	best, bestD := "", max(3, len(id)/4)+1
	for _, k := range known {
		if dist := editDistance(strings.ToUpper(id), k); dist < bestD {
			best, bestD = k, dist
		}
	}
	return best
}

func editDistance(a, b string) int {
	prev := make([]int, len(b)+1)
	cur := make([]int, len(b)+1)
	for j := range prev {
		prev[j] = j
	}
	for i := 1; i <= len(a); i++ {
		cur[0] = i
		for j := 1; j <= len(b); j++ {
			sub := prev[j-1]
			if a[i-1] != b[j-1] {
				sub++
			}
			cur[j] = min(sub, prev[j]+1, cur[j-1]+1)
		}
		prev, cur = cur, prev
	}
	return prev[len(b)]
}

// AppliesTo says whether the deviations are for target.
func (d *Deviations) AppliesTo(target string) bool {
	return d != nil && (d.Target == AnyTarget || d.Target == target)
}

// entryFor returns the entry for a case run at dc under profile, or nil.
func (d *Deviations) entryFor(id, dc, profile string) *Deviation {
	for i, e := range d.Deviations {
		if e.Case == id && (e.Profile == "" || e.Profile == profile) && (e.DC == "" || e.DC == dc) {
			return &d.Deviations[i]
		}
	}
	return nil
}

// applyDeviations judges the cases against the run's deviations (see
// Deviations). It runs after every other judgement of FromReport.
func (r *Results) applyDeviations() {
	d := r.Run.Deviations
	if d == nil {
		return
	}
	if !d.AppliesTo(r.Run.Target) {
		r.Notes = append(r.Notes, fmt.Sprintf("the deviations file %s is for target %s, not %s: none of its %d entries applied",
			d.File, d.Target, orDash(r.Run.Target), len(d.Deviations)))
		return
	}
	for i := range r.Cases {
		c := &r.Cases[i]
		e := d.entryFor(c.ID, c.DC, cmp.Or(c.Profile, r.Run.Profile))
		if e == nil {
			continue
		}
		entry := *e
		c.Deviation = &entry
		switch c.Outcome {
		case Passed:
			c.NoLongerDeviates = true
		case Failed:
			if why := entry.mismatch(*c); why != "" {
				c.DeviationMismatch = why
				c.Message = strings.TrimSpace(c.Message + "\n\n" + why)
			} else {
				c.Outcome = Deviated
			}
		}
	}
}

// mismatch says why a failed case is not the deviation the entry
// describes, or "" when it is.
func (e Deviation) mismatch(c CaseResult) string {
	head := "listed as an expected deviation at " + e.Where() + " (" + e.Reason + "), but "
	if c.State != "" {
		return head + "the case " + c.State + ": only a plain failure can be an expected deviation"
	}
	want := e.Observed
	if want == nil {
		return ""
	}
	if c.Observed == nil {
		return head + "the case recorded no answer from the target, and the file expects " + observedText(*want)
	}
	got := *c.Observed
	var diffs []string
	if want.Step != "" && want.Step != got.Step {
		diffs = append(diffs, fmt.Sprintf("the file says step %q, the case's last step was %q", want.Step, got.Step))
	}
	if want.Status != 0 && want.Status != got.Status {
		diffs = append(diffs, fmt.Sprintf("the file says HTTP %d, the target answered HTTP %s", want.Status, statusText(got.Status)))
	}
	if want.Error != "" && got.Error != want.Error && !strings.HasPrefix(got.Error, want.Error+": ") {
		diffs = append(diffs, fmt.Sprintf("the file says error %s, the target answered %s", want.Error, errorText(got.Error)))
	}
	if len(diffs) == 0 {
		return ""
	}
	return head + "it deviates differently: " + strings.Join(diffs, "; ")
}

func statusText(s int) string {
	if s == 0 {
		return "none"
	}
	return strconv.Itoa(s)
}

func errorText(e string) string {
	if e == "" {
		return "no error"
	}
	return "error " + e
}

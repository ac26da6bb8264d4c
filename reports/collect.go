package reports

import (
	"cmp"
	"encoding/json"
	"fmt"
	"regexp"
	"slices"
	"strings"

	"github.com/onsi/ginkgo/v2/types"

	"github.com/zconform/zconform/fixtures/zoho"
)

// Label prefixes the suite puts on every case spec. They are read only for
// a spec that never added its CaseMeta (see CaseResult.MetaSource).
const (
	labelCase  = "case:"
	labelSeed  = "seed:"
	labelArea  = "area:"
	labelBasis = "basis:"
	labelNeeds = "needs:"
)

// needLabels are labels that are themselves needs.
var needLabels = map[string]bool{"destructive": true, "slow": true}

// FromReport turns a Ginkgo report into Results, every string redacted.
//
// A spec is a case when it carries a CaseMeta report entry (EntryName),
// read from the entry's AsJSON when Ginkgo has sent it across processes
// (ginkgo -p) and from the raw value otherwise. A spec without one is a
// case only if it is labelled case:<ID> and it failed or was skipped with a
// reason before its body ran (a failing BeforeEach, a Skip in a
// BeforeEach); its metadata then comes from its labels. Other specs without
// a CaseMeta (setup nodes, specs filtered out or never reached) are no
// cases; a failed one is a RunFailure. When Ginkgo says the suite failed,
// its special reasons are RunFailures too, and so is a failed suite whose
// failure no spec explains (so a report built by hand needs
// SuiteSucceeded: true to pass). Last, the run's deviations (run.Deviations),
// if any, turn the failed cases they describe into Deviated ones and flag
// the listed cases that passed, see Deviations.
func FromReport(report types.Report, run RunMeta) Results {
	r := Results{
		Format:   ResultsFormat,
		Run:      run,
		Suite:    clean(report.SuiteDescription),
		Duration: Duration(report.RunTime),
	}
	if r.Run.Started.IsZero() {
		r.Run.Started = report.StartTime
	}
	r.Run = cleanRun(r.Run)
	if t := report.PreRunStats.TotalSpecs; t > 0 {
		r.Selection = &Selection{Specs: t, Matched: report.PreRunStats.SpecsThatWillRun}
	}

	for _, sr := range report.SpecReports {
		meta, fromLabels, ok := caseMetaOf(sr, r.Run)
		if !ok {
			if sr.State.Is(types.SpecStateFailureStates) {
				r.RunFailures = append(r.RunFailures, runFailureOf(sr))
			}
			continue
		}
		r.Cases = append(r.Cases, caseResultOf(sr, meta, fromLabels))
	}
	if !report.SuiteSucceeded {
		for _, reason := range report.SpecialSuiteFailureReasons {
			r.RunFailures = append(r.RunFailures, RunFailure{Node: suiteNode, State: "failed", Message: clean(reason)})
		}
		if len(r.RunFailures) == 0 && !slices.ContainsFunc(r.Cases, func(c CaseResult) bool { return c.Outcome == Failed }) {
			r.RunFailures = append(r.RunFailures, RunFailure{Node: suiteNode, State: "failed",
				Message: "Ginkgo reports the suite as failed, and no spec says why"})
		}
	} else {
		for _, reason := range report.SpecialSuiteFailureReasons {
			r.Notes = append(r.Notes, clean(reason))
		}
	}

	slices.SortStableFunc(r.Cases, func(a, b CaseResult) int {
		fa, la := splitLocation(a.Catalogue)
		fb, lb := splitLocation(b.Catalogue)
		return cmp.Or(cmp.Compare(fa, fb), cmp.Compare(la, lb), cmp.Compare(a.ID, b.ID), cmp.Compare(a.DC, b.DC))
	})
	if r.Run.Target == "" && len(r.Cases) > 0 {
		r.Run.Target = r.Cases[0].Target
	}
	if r.Run.Profile == "" && len(r.Cases) > 0 {
		r.Run.Profile = r.Cases[0].Profile
	}
	// Last: a failed case explains a failed suite above even when it
	// turns out to be an expected deviation.
	r.applyDeviations()
	r.Totals = r.countTotals()
	return r
}

func splitLocation(loc string) (string, int) {
	i := strings.LastIndexByte(loc, ':')
	if i < 0 {
		return loc, 0
	}
	var n int
	if _, err := fmt.Sscanf(loc[i+1:], "%d", &n); err != nil {
		return loc, 0
	}
	return loc[:i], n
}

// caseMetaOf finds the spec's CaseMeta, or rebuilds one from its labels.
func caseMetaOf(sr types.SpecReport, run RunMeta) (meta CaseMeta, fromLabels, ok bool) {
	for _, e := range sr.ReportEntries {
		if e.Name != EntryName {
			continue
		}
		if m, ok := entryValue[CaseMeta](e.Value); ok && m.ID != "" {
			return m, false, true
		}
	}
	if !sr.LeafNodeType.Is(types.NodeTypeIt) {
		return CaseMeta{}, false, false
	}
	ranIntoTrouble := sr.State.Is(types.SpecStateFailureStates) ||
		(sr.State.Is(types.SpecStateSkipped) && strings.TrimSpace(sr.Failure.Message) != "")
	if !ranIntoTrouble {
		return CaseMeta{}, false, false
	}
	return metaFromLabels(sr, run)
}

func metaFromLabels(sr types.SpecReport, run RunMeta) (CaseMeta, bool, bool) {
	m := CaseMeta{Target: run.Target, Profile: run.Profile}
	for _, l := range sr.Labels() {
		switch {
		case strings.HasPrefix(l, labelCase):
			m.ID = strings.TrimPrefix(l, labelCase)
		case strings.HasPrefix(l, labelSeed):
			m.Seeds = append(m.Seeds, strings.TrimPrefix(l, labelSeed))
		case strings.HasPrefix(l, labelArea):
			m.Area = strings.TrimPrefix(l, labelArea)
		case strings.HasPrefix(l, labelBasis):
			m.Basis = strings.TrimPrefix(l, labelBasis)
		case strings.HasPrefix(l, labelNeeds):
			m.Needs = append(m.Needs, strings.TrimPrefix(l, labelNeeds))
		case needLabels[l]:
			m.Needs = append(m.Needs, l)
		}
	}
	if m.ID == "" {
		return CaseMeta{}, false, false
	}
	// The suite labels a destructive or slow case both needs:X and X.
	slices.Sort(m.Needs)
	m.Needs = slices.Compact(m.Needs)
	m.Title = strings.TrimPrefix(sr.LeafNodeText, m.ID+": ")
	m.File, m.Line = sr.LeafNodeLocation.FileName, sr.LeafNodeLocation.LineNumber
	return m, true, true
}

// entryValue decodes a report entry's value into a T. After Ginkgo has
// sent a report between processes (ginkgo -p), the value's raw form is a
// JSON-decoded map and AsJSON holds the JSON; in the process that added
// the entry, the raw value is the T itself and AsJSON is empty.
func entryValue[T any](v types.ReportEntryValue) (T, bool) {
	var out T
	raw := v.GetRawValue()
	switch x := raw.(type) {
	case T:
		return x, true
	case *T:
		if x != nil {
			return *x, true
		}
	}
	data := []byte(v.AsJSON)
	if len(data) == 0 || string(data) == "null" {
		if raw == nil {
			return out, false
		}
		var err error
		if data, err = json.Marshal(raw); err != nil {
			return out, false
		}
	}
	if err := json.Unmarshal(data, &out); err != nil {
		return out, false
	}
	return out, true
}

func caseResultOf(sr types.SpecReport, m CaseMeta, fromLabels bool) CaseResult {
	c := CaseResult{
		ID:       clean(m.ID),
		Title:    clean(m.Title),
		Area:     clean(m.Area),
		Seeds:    cleanAll(m.Seeds),
		Basis:    clean(m.Basis),
		Needs:    cleanAll(m.Needs),
		Target:   clean(m.Target),
		DC:       clean(m.DC),
		Profile:  clean(m.Profile),
		Duration: Duration(sr.RunTime),
	}
	if c.Seeds == nil {
		c.Seeds = []string{}
	}
	if m.File != "" {
		c.Catalogue = clean(fmt.Sprintf("%s:%d", m.File, m.Line))
	}
	if fromLabels {
		c.MetaSource = "labels"
	}
	for _, e := range sr.ReportEntries {
		if e.Name != ObservedEntryName {
			continue
		}
		if o, ok := entryValue[Observed](e.Value); ok {
			o.Step, o.Error = clean(o.Step), clean(o.Error)
			c.Observed = &o
		}
	}
	switch {
	case sr.State.Is(types.SpecStatePassed):
		c.Outcome = Passed
	case sr.State.Is(types.SpecStateSkipped | types.SpecStatePending):
		c.Outcome = Skipped
		if sr.State.Is(types.SpecStatePending) {
			c.State = sr.State.String()
		}
		c.Reason = clean(strings.TrimSpace(sr.Failure.Message))
	default:
		c.Outcome = Failed
		if !sr.State.Is(types.SpecStateFailed) {
			c.State = sr.State.String()
		}
		c.Message = failureMessage(sr.Failure)
		c.Reason = firstLine(c.Message)
		if c.Reason == "" {
			c.Reason = "spec " + sr.State.String()
			c.Message = c.Reason
		}
		c.failureLocation = clean(location(sr.Failure.Location))
		if nt := sr.Failure.FailureNodeType; nt != types.NodeTypeInvalid && !nt.Is(types.NodeTypeIt) {
			c.failureNode = nt.String()
		}
		c.output = clean(strings.TrimSpace(sr.CombinedOutput()))
	}
	return c
}

func runFailureOf(sr types.SpecReport) RunFailure {
	f := RunFailure{
		Node:     sr.LeafNodeType.String(),
		Text:     clean(sr.FullText()),
		State:    sr.State.String(),
		Message:  failureMessage(sr.Failure),
		Location: clean(location(sr.Failure.Location)),
	}
	if f.Message == "" {
		f.Message = "failed (" + f.State + ")"
	}
	if f.Location == "" {
		f.Location = clean(location(sr.LeafNodeLocation))
	}
	return f
}

func failureMessage(f types.Failure) string {
	msg := strings.TrimSpace(f.Message)
	if p := strings.TrimSpace(f.ForwardedPanic); p != "" {
		msg = strings.TrimSpace(msg + "\n" + p)
	}
	return clean(msg)
}

func location(l types.CodeLocation) string {
	if l.FileName == "" {
		return ""
	}
	return fmt.Sprintf("%s:%d", l.FileName, l.LineNumber)
}

// ansi matches terminal colour and cursor sequences.
var ansi = regexp.MustCompile(`\x1b\[[0-9;?]*[A-Za-z]`)

// clean redacts secrets, drops terminal escape sequences, and replaces
// what XML 1.0 cannot hold (control characters other than tab and
// newline, invalid UTF-8) by U+FFFD.
func clean(s string) string {
	s = ansi.ReplaceAllString(s, "")
	s = strings.ReplaceAll(s, "\r\n", "\n")
	s = strings.Map(func(r rune) rune {
		switch {
		case r == '\t' || r == '\n':
			return r
		case r < 0x20 || r == 0x7f || (r >= 0x80 && r < 0xa0) || r == 0xfffe || r == 0xffff:
			return '\ufffd'
		}
		return r
	}, strings.ToValidUTF8(s, "\ufffd"))
	return zoho.Redact(s)
}

func cleanAll(ss []string) []string {
	if ss == nil {
		return nil
	}
	out := make([]string, len(ss))
	for i, s := range ss {
		out[i] = clean(s)
	}
	return out
}

package reports

import (
	"encoding/json"
	"errors"
	"fmt"
	"os"
	"slices"
	"strconv"
	"strings"
	"time"
)

// ResultsFormat is the version of the results.json document. It changes
// only when a field changes meaning or goes away; new fields may be added
// without a change.
const ResultsFormat = 1

// Outcome is what became of a case in a run.
type Outcome string

// The outcomes of a case.
const (
	Passed  Outcome = "passed"
	Failed  Outcome = "failed"
	Skipped Outcome = "skipped"
	// Deviated is a case that failed the way the run's deviations file
	// says the target is known to (see Deviations). It is no failure.
	Deviated Outcome = "deviated"
)

// Results is the per-run document written as results.json: stable, sorted
// and redacted, so that two runs can be compared case by case.
type Results struct {
	// Format is ResultsFormat at the time of writing.
	Format int `json:"format"`
	// Run describes the run. Started is the run's start, or Ginkgo's when
	// the RunMeta had none; Target and Profile fall back to the first case's.
	Run RunMeta `json:"run"`
	// Suite is Ginkgo's suite description.
	Suite string `json:"suite,omitempty"`
	// Duration is the whole suite's run time as Ginkgo measured it.
	Duration Duration `json:"duration"`
	Totals   Totals   `json:"totals"`
	// Cases are sorted by catalogue row (file, line), then ID and DC.
	Cases []CaseResult `json:"cases"`
	// RunFailures are failures that belong to no case: a failed
	// BeforeSuite, AfterSuite or other setup node, a failed spec that names
	// no case, or Ginkgo's own reasons for failing the suite (interrupted,
	// timed out, --fail-on-pending, ...). Any of them fails the run.
	RunFailures []RunFailure `json:"run_failures,omitempty"`
	// Selection says how many of the suite's specs the run's filters
	// (--label-filter, --focus, ...) picked, when the results come from a
	// Ginkgo report; nil for results built by hand. See NoCaseMatched.
	Selection *Selection `json:"selection,omitempty"`
	// Notes are Ginkgo's special remarks on a suite that still succeeded,
	// e.g. "Suite skipped in BeforeSuite", and a deviations file that was
	// not applied because it is for another target.
	Notes []string `json:"notes,omitempty"`
}

// Selection is what the run's filters picked: Ginkgo's count of the
// suite's specs before the run (one per catalogue case in the conformance
// suite), and how many of them it was to run.
type Selection struct {
	Specs   int `json:"specs"`
	Matched int `json:"matched"`
}

// Totals counts the cases of a run by outcome.
type Totals struct {
	Cases   int `json:"cases"`
	Passed  int `json:"passed"`
	Failed  int `json:"failed"`
	Skipped int `json:"skipped"`
	// Deviated counts the cases that deviated as the deviations file says.
	Deviated int `json:"deviated"`
	// NoLongerDeviating counts the passed cases the deviations file lists.
	NoLongerDeviating int `json:"no_longer_deviating"`
	// Assumed counts the cases whose basis is "assumed", whatever their outcome.
	Assumed int `json:"assumed"`
	// RunFailures is len(Results.RunFailures).
	RunFailures int `json:"run_failures"`
}

// CaseResult is one catalogue case in a run.
type CaseResult struct {
	ID    string   `json:"id"`
	Title string   `json:"title"`
	Area  string   `json:"area"`
	Seeds []string `json:"seeds"`
	Basis string   `json:"basis"`
	Needs []string `json:"needs,omitempty"`
	// Target, DC and Profile are where the case ran (from its CaseMeta).
	Target  string `json:"target,omitempty"`
	DC      string `json:"dc"`
	Profile string `json:"profile,omitempty"`
	// Catalogue is the case's row, "file:line".
	Catalogue string  `json:"catalogue,omitempty"`
	Outcome   Outcome `json:"outcome"`
	// State is Ginkgo's state when it says more than Outcome: panicked,
	// timedout, interrupted, aborted (all failed) or pending (skipped).
	State string `json:"state,omitempty"`
	// Reason is the skip reason, or the first line of the failure message.
	Reason string `json:"reason,omitempty"`
	// Message is the whole failure message (what was sent, what came back).
	Message string `json:"message,omitempty"`
	// Observed is the last answer the case saw from the target, if any.
	Observed *Observed `json:"observed,omitempty"`
	// Evidence is what a certification scenario's verdict rests on,
	// whatever the verdict: the requests the fake saw and what the
	// integration reported, secrets redacted (certificates only).
	Evidence []string `json:"evidence,omitempty"`
	Duration Duration `json:"duration"`
	// MetaSource is "labels" when the spec never added its CaseMeta (it
	// failed or was skipped before its body ran) and the case was rebuilt
	// from its Ginkgo labels and text; then DC is unknown. Empty otherwise.
	MetaSource string `json:"meta_source,omitempty"`
	// Deviation is the entry of the run's deviations file that lists the
	// case (for its target, profile and DC), whatever its outcome: the
	// reason the case deviated, or the entry that no longer holds.
	Deviation *Deviation `json:"deviation,omitempty"`
	// NoLongerDeviates is set on a passed case that Deviation lists as
	// deviating: the entry should go from the deviations file.
	NoLongerDeviates bool `json:"no_longer_deviates,omitempty"`
	// DeviationMismatch says why a failed case that Deviation lists is not
	// the expected deviation (it failed in another way); it is also the
	// last paragraph of Message.
	DeviationMismatch string `json:"deviation_mismatch,omitempty"`

	// Only known in the process that read the Ginkgo report (for JUnit).
	failureLocation string
	failureNode     string
	output          string
}

// Assumed says whether the case rests on an assumption (basis "assumed").
func (c CaseResult) Assumed() bool { return c.Basis == "assumed" }

// Name is the case's test name, "<ID>: <title>", as in the Ginkgo entry.
func (c CaseResult) Name() string {
	if c.Title == "" {
		return c.ID
	}
	return c.ID + ": " + c.Title
}

// RunFailure is a failure that belongs to no case.
type RunFailure struct {
	// Node is the Ginkgo node type that failed ("BeforeSuite",
	// "SynchronizedAfterSuite", "It", ...), or "suite" for a reason Ginkgo
	// gives for the whole suite.
	Node string `json:"node"`
	// Text is the node's text, if it has one.
	Text  string `json:"text,omitempty"`
	State string `json:"state,omitempty"`
	// Message is the failure message, or Ginkgo's reason.
	Message string `json:"message"`
	// Location is where it failed, "file:line".
	Location string `json:"location,omitempty"`
}

// Name is how reports name the failure: "[BeforeSuite]", "[It] text" or
// the suite-level reason.
func (f RunFailure) Name() string {
	if f.Node == suiteNode {
		return "[suite] " + firstLine(f.Message)
	}
	if f.Text == "" {
		return "[" + f.Node + "]"
	}
	return "[" + f.Node + "] " + f.Text
}

const suiteNode = "suite"

// Duration is a time.Duration written in JSON as a string ("1.234s",
// rounded to the millisecond), never as nanoseconds. A number is read as
// seconds.
type Duration time.Duration

// D returns the time.Duration.
func (d Duration) D() time.Duration { return time.Duration(d) }

func (d Duration) String() string {
	return time.Duration(d).Round(time.Millisecond).String()
}

// Seconds returns the duration in seconds, rounded to the millisecond.
func (d Duration) Seconds() float64 {
	return time.Duration(d).Round(time.Millisecond).Seconds()
}

// MarshalJSON writes the duration as a string.
func (d Duration) MarshalJSON() ([]byte, error) { return json.Marshal(d.String()) }

// UnmarshalJSON reads "1.5s" or a number of seconds.
func (d *Duration) UnmarshalJSON(data []byte) error {
	var s string
	if err := json.Unmarshal(data, &s); err == nil {
		v, err := time.ParseDuration(s)
		if err != nil {
			return fmt.Errorf("duration %q: %v", s, err)
		}
		*d = Duration(v)
		return nil
	}
	var f float64
	if err := json.Unmarshal(data, &f); err != nil {
		return fmt.Errorf("duration: want a string like \"1.5s\" or seconds, got %s", data)
	}
	*d = Duration(f * float64(time.Second))
	return nil
}

// ReadResults reads a results.json written by Write. A file that is not
// one (ginkgo.json, junit.xml, any other JSON) is refused with an error
// saying so.
func ReadResults(path string) (Results, error) {
	data, err := os.ReadFile(path)
	if err != nil {
		return Results{}, err
	}
	var probe map[string]json.RawMessage
	if err := json.Unmarshal(data, &probe); err != nil {
		var why string
		var syntax *json.SyntaxError
		var typ *json.UnmarshalTypeError
		switch {
		case errors.As(err, &syntax):
			why = "it is not JSON (" + err.Error() + ")"
		case errors.As(err, &typ):
			why = "it holds a JSON " + typ.Value + ", not an object"
		default:
			why = err.Error()
		}
		return Results{}, fmt.Errorf("%s is not a zconform results.json: %s", path, why)
	}
	if _, ok := probe["format"]; !ok {
		return Results{}, fmt.Errorf("%s is not a zconform results.json: it has no \"format\" field", path)
	}
	if _, ok := probe["cases"]; !ok {
		return Results{}, fmt.Errorf("%s is not a zconform results.json: it has no \"cases\" field", path)
	}
	var r Results
	if err := json.Unmarshal(data, &r); err != nil {
		return Results{}, fmt.Errorf("%s: %v", path, err)
	}
	if r.Format != ResultsFormat {
		return Results{}, fmt.Errorf("%s: results format %d, this zconform reads format %d", path, r.Format, ResultsFormat)
	}
	return r, nil
}

// Pass says whether the run passed: at least one case ran, no case
// failed, and nothing failed outside the cases. A deviated case is no
// failure.
// A certificate (Run.Certificate set) passes only when, besides, at least
// one scenario passed (or deviated as expected): one whose every scenario
// was not applicable (say, the integration never started) certifies
// nothing.
func (r Results) Pass() bool {
	if r.Run.Certificate != nil && !slices.ContainsFunc(r.Cases, func(c CaseResult) bool { return c.Outcome == Passed || c.Outcome == Deviated }) {
		return false
	}
	return len(r.Cases) > 0 && len(r.Failed()) == 0 && len(r.RunFailures) == 0
}

// NoCaseMatched says that no case ran because the run's filters (its
// label filter, or Ginkgo's --focus and --skip) matched none of the
// suite's specs: Selection says the suite had specs and that none was to
// run. Such a run is no pass (Pass is false) and its Verdict starts with
// "NO CASES". A run whose cases were all skipped, or whose setup failed,
// matched its cases and is not one.
func (r Results) NoCaseMatched() bool {
	return len(r.Cases) == 0 && r.Selection != nil && r.Selection.Specs > 0 && r.Selection.Matched == 0
}

// noCaseText says why no case ran: "the label filter 'X' matched none of
// the 102 cases".
func (r Results) noCaseText() string {
	n := r.Selection.Specs
	what := "the run's filters (--focus, --skip)"
	if r.Run.LabelFilter != "" {
		what = "the label filter '" + r.Run.LabelFilter + "'"
	}
	return fmt.Sprintf("%s matched none of the %d %s", what, n, plural(n, "case", "cases"))
}

// Failed returns the IDs of the failed cases, in the order of Cases, each
// once. Deviated cases are not among them.
func (r Results) Failed() []string {
	return r.ids(func(c CaseResult) bool { return c.Outcome == Failed })
}

// Deviated returns the IDs of the cases that deviated as expected, in the
// order of Cases, each once.
func (r Results) Deviated() []string {
	return r.ids(func(c CaseResult) bool { return c.Outcome == Deviated })
}

// StoppedDeviating returns the IDs of the passed cases that the
// deviations file lists as deviating (NoLongerDeviates), in the order of
// Cases, each once: their entries should go from the file.
func (r Results) StoppedDeviating() []string {
	return r.ids(func(c CaseResult) bool { return c.NoLongerDeviates })
}

func (r Results) ids(keep func(CaseResult) bool) []string {
	var out []string
	seen := map[string]bool{}
	for _, c := range r.Cases {
		if keep(c) && !seen[c.ID] {
			seen[c.ID] = true
			out = append(out, c.ID)
		}
	}
	return out
}

// maxVerdictNames caps the names listed in a verdict line.
const maxVerdictNames = 5

// Verdict is the run's result in one line:
//
//	PASS: 41 passed, 0 failed, 3 skipped
//	PASS: 40 passed, 2 deviated as expected, 0 failed, 3 skipped, 1 stopped deviating (TOKEN-CLIENT-WRONG-SECRET)
//	FAIL: 2 failed (TOKEN-CODE-REUSED, NOTE-CAPS), 39 passed, 3 skipped
//	FAIL: 1 run failure ([BeforeSuite]), 0 failed, 0 passed, 0 skipped
//	FAIL: no case ran
//	NO CASES: the label filter 'area:nope' matched none of the 102 cases
//
// A run whose filters matched no case (NoCaseMatched) says so with NO
// CASES, naming its label filter; it is no pass.
//
// The deviated count shows only when a case deviated, the stopped
// deviating list only when a listed case passed. At most five names are
// listed, then "+N more".
//
// A certificate's verdict (Run.Certificate set) counts scenarios instead,
// see CertificateVerdict.
func (r Results) Verdict() string {
	if r.Run.Certificate != nil {
		return r.CertificateVerdict()
	}
	t := r.countTotals()
	parts := r.runFailureParts()
	if r.NoCaseMatched() {
		parts = append(parts, r.noCaseText())
		return "NO CASES: " + strings.Join(parts, ", ")
	}
	if len(r.Cases) == 0 {
		parts = append(parts, "no case ran")
		return "FAIL: " + strings.Join(parts, ", ")
	}
	deviated := ""
	if t.Deviated > 0 {
		deviated = fmt.Sprintf(", %d deviated as expected", t.Deviated)
	}
	if failed := r.Failed(); len(failed) > 0 {
		parts = append(parts, fmt.Sprintf("%d failed (%s), %d passed%s, %d skipped", t.Failed, nameList(failed), t.Passed, deviated, t.Skipped))
	} else if len(parts) > 0 {
		parts = append(parts, fmt.Sprintf("0 failed, %d passed%s, %d skipped", t.Passed, deviated, t.Skipped))
	} else {
		parts = append(parts, fmt.Sprintf("%d passed%s, 0 failed, %d skipped", t.Passed, deviated, t.Skipped))
	}
	if stopped := r.StoppedDeviating(); len(stopped) > 0 {
		parts = append(parts, fmt.Sprintf("%d stopped deviating (%s)", len(stopped), nameList(stopped)))
	}
	word := "FAIL"
	if r.Pass() {
		word = "PASS"
	}
	return word + ": " + strings.Join(parts, ", ")
}

// CertificateVerdict is the run's result in one line in the words of a
// certificate, whose cases are scenarios and whose skipped cases are the
// scenarios that did not apply:
//
//	PASS: 9 scenarios passed
//	PASS: 8 scenarios passed, 1 not applicable
//	FAIL: 3 of 9 scenarios failed (A, B, C), 1 not applicable
//	FAIL: no scenario applied (9 not applicable)
//	FAIL: no scenario ran
//	FAIL: 1 run failure ([suite] interrupted), 0 of 9 scenarios failed
//
// A scenario that deviated as expected (there are none unless the caller
// made them) adds ", N deviated as expected". The word is PASS exactly
// when Pass says so; Verdict returns this line for a certificate.
func (r Results) CertificateVerdict() string {
	t := r.countTotals()
	parts := r.runFailureParts()
	word := "FAIL"
	if r.Pass() {
		word = "PASS"
	}
	if len(r.Cases) == 0 {
		parts = append(parts, "no scenario ran")
		return word + ": " + strings.Join(parts, ", ")
	}
	na := ""
	if t.Skipped > 0 {
		na = fmt.Sprintf(", %d not applicable", t.Skipped)
	}
	deviated := ""
	if t.Deviated > 0 {
		deviated = fmt.Sprintf(", %d deviated as expected", t.Deviated)
	}
	scenarios := func(n int) string { return plural(n, "scenario", "scenarios") }
	switch failed := r.Failed(); {
	case len(failed) > 0:
		parts = append(parts, fmt.Sprintf("%d of %d %s failed (%s)%s%s", t.Failed, t.Cases, scenarios(t.Cases), nameList(failed), deviated, na))
	case len(parts) > 0:
		parts = append(parts, fmt.Sprintf("0 of %d %s failed%s%s", t.Cases, scenarios(t.Cases), deviated, na))
	case t.Passed == 0 && t.Deviated == 0:
		parts = append(parts, fmt.Sprintf("no scenario applied (%d not applicable)", t.Skipped))
	default:
		parts = append(parts, fmt.Sprintf("%d %s passed%s%s", t.Passed, scenarios(t.Passed), deviated, na))
	}
	return word + ": " + strings.Join(parts, ", ")
}

// runFailureParts starts a verdict with the run failures, if any.
func (r Results) runFailureParts() []string {
	n := len(r.RunFailures)
	if n == 0 {
		return nil
	}
	names := make([]string, 0, n)
	for _, f := range r.RunFailures {
		names = append(names, f.Name())
	}
	return []string{fmt.Sprintf("%d run %s (%s)", n, plural(n, "failure", "failures"), nameList(names))}
}

func nameList(names []string) string {
	if len(names) <= maxVerdictNames {
		return strings.Join(names, ", ")
	}
	return strings.Join(names[:maxVerdictNames], ", ") + ", +" + strconv.Itoa(len(names)-maxVerdictNames) + " more"
}

func plural(n int, one, many string) string {
	if n == 1 {
		return one
	}
	return many
}

// countTotals counts from Cases and RunFailures, so that a hand-edited or
// partly filled Results still gives a truthful verdict.
func (r Results) countTotals() Totals {
	t := Totals{Cases: len(r.Cases), RunFailures: len(r.RunFailures)}
	for _, c := range r.Cases {
		switch c.Outcome {
		case Passed:
			t.Passed++
		case Failed:
			t.Failed++
		case Skipped:
			t.Skipped++
		case Deviated:
			t.Deviated++
		}
		if c.NoLongerDeviates {
			t.NoLongerDeviating++
		}
		if c.Assumed() {
			t.Assumed++
		}
	}
	return t
}

func firstLine(s string) string {
	for _, line := range strings.Split(s, "\n") {
		if line = strings.TrimSpace(line); line != "" {
			return line
		}
	}
	return ""
}

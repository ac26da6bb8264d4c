package reports

import (
	"bytes"
	"encoding/xml"
	"fmt"
	"strconv"
	"strings"
	"time"
)

// JUnitSuiteName is the name of the one <testsuite> in junit.xml.
const JUnitSuiteName = "zconform conformance"

// JUnitCertificationSuiteName is the <testsuite> name of a certificate
// (RunMeta.Certificate set), followed by ": " and the integration's name.
const JUnitCertificationSuiteName = "zconform certification"

// CertificationClass is the classname of a certificate's testcases.
const CertificationClass = "certification"

// JUnit suite property names (jenkins-junit.xsd allows <properties> on
// the <testsuite> only). Always: PropTarget, PropProfile, PropLabelFilter,
// PropStarted, PropVerdict and the build's PropZconformVersion,
// PropZconformCommit, PropGoVersion and PropCatalogue. When they apply:
// PropBreaks, PropOffContract, PropDeviations, PropNoCases; for a
// certificate PropIntegration, PropVersion, PropAdapter, PropZconform,
// PropScenarioSet and PropFake.
//
// A testcase's own metadata (case, seeds, area, basis, needs, target, dc,
// profile, catalogue row, deviation) is in its <system-out>, as "key:
// value" lines, and in results.json.
const (
	PropTarget      = "target"
	PropProfile     = "profile"
	PropLabelFilter = "label_filter"
	// PropZconform, PropScenarioSet and PropFake say, on a certificate,
	// which zconform judged, which scenarios, and how the fake was set up.
	PropZconform    = "zconform"
	PropScenarioSet = "scenario_set"
	PropFake        = "fake"
	// PropOffContract says how the target is configured apart from the
	// contract (only when it is).
	PropOffContract = "off_contract"
	// PropBreaks lists the rules the fake broke (RunMeta.Breaks),
	// comma-separated without spaces (only when it broke any).
	PropBreaks  = "breaks"
	PropStarted = "started"
	PropVerdict = "verdict"
	// PropNoCases is "true" when the run's filters matched no case
	// (Results.NoCaseMatched).
	PropNoCases = "no_cases"
	// PropZconformVersion, PropZconformCommit, PropGoVersion and
	// PropCatalogue are the build that wrote the report (RunMeta.Build).
	PropZconformVersion = "zconform_version"
	PropZconformCommit  = "zconform_commit"
	PropGoVersion       = "go_version"
	PropCatalogue       = "catalogue_digest"
	// PropDeviations is the run's deviations file: "path (target T, N
	// entries)".
	PropDeviations = "deviations"
	// PropIntegration, PropVersion and PropAdapter are a certificate's
	// Certificate fields.
	PropIntegration = "integration"
	PropVersion     = "version"
	PropAdapter     = "adapter"
)

// runFailureClass is the classname of the testcases that stand for run
// failures.
const runFailureClass = "setup"

type junitTestSuites struct {
	XMLName  xml.Name         `xml:"testsuites"`
	Name     string           `xml:"name,attr"`
	Tests    int              `xml:"tests,attr"`
	Failures int              `xml:"failures,attr"`
	Errors   int              `xml:"errors,attr"`
	Time     string           `xml:"time,attr"`
	Suites   []junitTestSuite `xml:"testsuite"`
}

type junitTestSuite struct {
	Name       string           `xml:"name,attr"`
	Tests      int              `xml:"tests,attr"`
	Failures   int              `xml:"failures,attr"`
	Errors     int              `xml:"errors,attr"`
	Skipped    int              `xml:"skipped,attr"`
	Time       string           `xml:"time,attr"`
	Timestamp  string           `xml:"timestamp,attr,omitempty"`
	Properties *junitProperties `xml:"properties"`
	Cases      []junitTestCase  `xml:"testcase"`
	SystemOut  *junitText       `xml:"system-out,omitempty"`
}

type junitProperties struct {
	Properties []junitProperty `xml:"property"`
}

type junitProperty struct {
	Name  string `xml:"name,attr"`
	Value string `xml:"value,attr"`
}

// junitTestCase's field order is the element order of jenkins-junit.xsd
// (skipped, error, failure, system-out, system-err). That schema has no
// per-testcase <properties>: a case's metadata goes in its system-out.
type junitTestCase struct {
	Name      string `xml:"name,attr"`
	Classname string `xml:"classname,attr"`
	Time      string `xml:"time,attr"`
	Status    string `xml:"status,attr"`
	// Skipped is a plain string element: the schema allows no attributes.
	Skipped   *junitText     `xml:"skipped,omitempty"`
	Errors    []junitProblem `xml:"error"`
	Failures  []junitProblem `xml:"failure"`
	SystemOut *junitText     `xml:"system-out,omitempty"`
	SystemErr *junitText     `xml:"system-err,omitempty"`
}

// junitText is an element's text, written as CDATA so that a multi-line
// message stays readable in the file (encoding/xml would write each
// newline as &#xA;).
type junitText struct {
	Text string `xml:",cdata"`
}

func text(s string) *junitText {
	if s == "" {
		return nil
	}
	return &junitText{s}
}

type junitProblem struct {
	Message string `xml:"message,attr"`
	Type    string `xml:"type,attr"`
	Body    string `xml:",cdata"`
}

func seconds(d Duration) string { return strconv.FormatFloat(d.Seconds(), 'f', 3, 64) }

// junitXML renders the results as JUnit XML.
func junitXML(r Results) ([]byte, error) {
	suite := junitTestSuite{
		Name:    JUnitSuiteName,
		Time:    seconds(r.Duration),
		Skipped: r.Totals.Skipped,
		Properties: &junitProperties{Properties: []junitProperty{
			{PropTarget, r.Run.Target},
			{PropProfile, r.Run.Profile},
			{PropLabelFilter, r.Run.LabelFilter},
			{PropStarted, timestamp(r.Run.Started)},
			{PropVerdict, r.Verdict()},
			{PropZconformVersion, r.Run.Build.Version},
			{PropZconformCommit, r.Run.Build.Commit},
			{PropGoVersion, r.Run.Build.Go},
			{PropCatalogue, r.Run.Build.Catalogue},
		}},
		Timestamp: timestamp(r.Run.Started),
		SystemOut: text(runText(r)),
	}
	if r.NoCaseMatched() {
		suite.Properties.Properties = append(suite.Properties.Properties, junitProperty{PropNoCases, "true"})
	}
	if len(r.Run.Breaks) > 0 {
		suite.Properties.Properties = append(suite.Properties.Properties, junitProperty{PropBreaks, strings.Join(r.Run.Breaks, ",")})
	}
	if r.Run.OffContract != "" {
		suite.Properties.Properties = append(suite.Properties.Properties, junitProperty{PropOffContract, r.Run.OffContract})
	}
	if d := r.Run.Deviations; d != nil {
		suite.Properties.Properties = append(suite.Properties.Properties, junitProperty{PropDeviations, deviationsText(d)})
	}
	cert := r.Run.Certificate
	if cert != nil {
		suite.Name = JUnitCertificationSuiteName
		if cert.Integration != "" {
			suite.Name += ": " + cert.Integration
		}
		suite.Properties.Properties = append(suite.Properties.Properties,
			junitProperty{PropIntegration, cert.Integration},
			junitProperty{PropVersion, cert.Version},
			junitProperty{PropAdapter, cert.Adapter})
		for _, p := range []junitProperty{{PropZconform, cert.Zconform}, {PropScenarioSet, cert.ScenarioSet}, {PropFake, cert.Fake}} {
			if p.Value != "" {
				suite.Properties.Properties = append(suite.Properties.Properties, p)
			}
		}
	}
	for _, c := range r.Cases {
		tc := junitCase(c)
		if cert != nil {
			tc.Classname = CertificationClass
		}
		suite.Cases = append(suite.Cases, tc)
		if c.Outcome == Failed {
			suite.Failures++
		}
	}
	for _, f := range r.RunFailures {
		body := f.Message
		if f.Location != "" {
			body += "\n\nat " + f.Location
		}
		suite.Cases = append(suite.Cases, junitTestCase{
			Name:      f.Name(),
			Classname: runFailureClass,
			Time:      seconds(0),
			Status:    f.State,
			Errors:    []junitProblem{{Message: f.Message, Type: f.State, Body: body}},
		})
		suite.Errors++
	}
	suite.Tests = len(suite.Cases)
	doc := junitTestSuites{
		Name:     suite.Name,
		Tests:    suite.Tests,
		Failures: suite.Failures,
		Errors:   suite.Errors,
		Time:     suite.Time,
		Suites:   []junitTestSuite{suite},
	}
	var buf bytes.Buffer
	buf.WriteString(xml.Header)
	enc := xml.NewEncoder(&buf)
	enc.Indent("", "  ")
	if err := enc.Encode(doc); err != nil {
		return nil, fmt.Errorf("junit.xml: %v", err)
	}
	buf.WriteByte('\n')
	return buf.Bytes(), nil
}

func junitCase(c CaseResult) junitTestCase {
	// A deviated case is a passed testcase for JUnit readers (no failure,
	// no skipped), with status "deviated" and the deviation in its
	// system-out.
	tc := junitTestCase{
		Name:      c.Name(),
		Classname: c.Area,
		Time:      seconds(c.Duration),
		Status:    string(c.Outcome),
		SystemOut: text(caseText(c)),
	}
	switch c.Outcome {
	case Skipped:
		tc.Skipped = &junitText{c.Reason}
	case Failed:
		typ := c.State
		if typ == "" {
			typ = "failed"
		}
		body := c.Message
		if c.failureLocation != "" {
			body += "\n\nat " + c.failureLocation
			if c.failureNode != "" {
				body += " (in " + c.failureNode + ")"
			}
		}
		if c.Catalogue != "" {
			body += "\ncatalogue row: " + c.Catalogue
		}
		tc.Failures = []junitProblem{{Message: c.Message, Type: typ, Body: body}}
		tc.SystemErr = text(c.output)
	}
	return tc
}

// caseText is a case's metadata and outcome as "key: value" lines: the
// testcase's system-out, which Jenkins, GitLab and the GitHub reporters
// show with the case.
func caseText(c CaseResult) string {
	var b strings.Builder
	line := func(k, v string) {
		if v != "" {
			fmt.Fprintf(&b, "%s: %s\n", k, v)
		}
	}
	line("case", c.ID)
	line("title", c.Title)
	line("seeds", strings.Join(c.Seeds, ", "))
	line("area", c.Area)
	line("basis", c.Basis)
	line("needs", strings.Join(c.Needs, ", "))
	line("target", c.Target)
	line("dc", c.DC)
	line("profile", c.Profile)
	line("catalogue", c.Catalogue)
	outcome := string(c.Outcome)
	if c.State != "" {
		outcome += " (" + c.State + ")"
	}
	line("outcome", outcome)
	switch c.Outcome {
	case Skipped:
		line("skip reason", c.Reason)
	case Failed:
		line("failure", c.Reason)
	case Deviated:
		line("differs from the contract", c.Reason)
	}
	if c.Observed != nil {
		line("observed", observedText(*c.Observed))
	}
	if d := c.Deviation; d != nil {
		line("deviation", d.Reason)
		line("deviation link", d.Link)
		if d.Observed != nil {
			line("deviation observed", observedText(*d.Observed))
		}
		line("deviation listed at", d.Where())
	}
	if c.NoLongerDeviates {
		line("no longer deviates", "remove it from the deviations file ("+c.Deviation.Where()+")")
	}
	line("deviation mismatch", c.DeviationMismatch)
	line("duration", c.Duration.String())
	if c.MetaSource != "" {
		line("metadata from", c.MetaSource)
	}
	if len(c.Evidence) > 0 && c.Outcome != Failed { // a failure's is in its message
		fmt.Fprintf(&b, "evidence:\n  %s\n", strings.Join(c.Evidence, "\n  "))
	}
	if c.Outcome == Deviated && c.Message != "" {
		// What was sent and what came back: the deviation itself.
		fmt.Fprintf(&b, "\n%s\n", c.Message)
	}
	return b.String()
}

// deviationsText names a deviations file in one line.
func deviationsText(d *Deviations) string {
	return fmt.Sprintf("%s (target %s, %d %s)", orDash(d.File), d.Target, len(d.Deviations), plural(len(d.Deviations), "entry", "entries"))
}

func observedText(o Observed) string {
	var parts []string
	if o.Step != "" {
		parts = append(parts, "step "+o.Step)
	}
	if o.Status != 0 {
		parts = append(parts, "HTTP "+strconv.Itoa(o.Status))
	}
	if o.Error != "" {
		parts = append(parts, "error "+o.Error)
	}
	if o.Waited != "" {
		parts = append(parts, o.Waited)
	}
	return strings.Join(parts, ", ")
}

// runText is the run's metadata and verdict as "key: value" lines.
func runText(r Results) string {
	var b strings.Builder
	line := func(k, v string) {
		if v != "" {
			fmt.Fprintf(&b, "%s: %s\n", k, v)
		}
	}
	if c := r.Run.Certificate; c != nil {
		line("integration", c.Integration)
		line("version", c.Version)
		line("adapter", c.Adapter)
		line("zconform", c.Zconform)
		line("scenario set", c.ScenarioSet)
		line("fake", c.Fake)
	}
	line("target", r.Run.Target)
	line("profile", r.Run.Profile)
	line("label filter", r.Run.LabelFilter)
	line("breaks", strings.Join(r.Run.Breaks, ", "))
	if r.Run.OffContract != "" {
		line("off contract", r.Run.OffContract)
	}
	line("build", r.Run.Build.String())
	line("started", timestamp(r.Run.Started))
	line("verdict", r.Verdict())
	if r.Run.Deviations != nil {
		line("deviations", deviationsText(r.Run.Deviations))
	}
	line("assumed cases", strconv.Itoa(r.Totals.Assumed))
	for _, n := range r.Notes {
		line("note", n)
	}
	return b.String()
}

func timestamp(t time.Time) string {
	if t.IsZero() {
		return ""
	}
	return t.UTC().Format(time.RFC3339)
}

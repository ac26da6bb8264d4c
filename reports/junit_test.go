package reports_test

import (
	"bytes"
	"context"
	"encoding/xml"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"strings"
	"testing"
	"time"

	junit "github.com/joshdk/go-junit"
	"github.com/onsi/ginkgo/v2/types"

	"github.com/zconform/zconform/fixtures"
	"github.com/zconform/zconform/fixtures/zoho"
	"github.com/zconform/zconform/reports"
)

// jenkinsXSD is the JUnit schema CI consumers follow, the one the reports
// are checked against: a copy, with its MIT notice, of
// ../shared/schemas/jenkins-junit.xsd (see TestJenkinsXSDCopy), so that
// the check runs in any clone.
var jenkinsXSD = filepath.Join("testdata", "jenkins-junit.xsd")

// sharedJenkinsXSD is the schema the project's shared documents hold,
// beside the repository when it is there.
var sharedJenkinsXSD = filepath.Join("..", "..", "shared", "schemas", "jenkins-junit.xsd")

// xsd validates documents against jenkinsXSD with libxml2, through
// testdata/xsd/validate.js (the npm package xmllint-wasm: no native
// libxml2, no network). No pure-Go XSD validator is mature enough to
// stand in for libxml2 here.
type xsd struct {
	dir, schema string
}

// xsdValidator is testdata/xsd with its node_modules installed, or the test
// fails (or skips with ZCONFORM_SKIP_NODE=1) saying how to install it.
func xsdValidator(t *testing.T) xsd {
	t.Helper()
	schema, err := filepath.Abs(jenkinsXSD)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := os.Stat(schema); err != nil {
		t.Fatalf("the JUnit schema %s is missing (%v): restore it from git", schema, err)
	}
	dir, err := filepath.Abs(filepath.Join("testdata", "xsd"))
	if err != nil {
		t.Fatal(err)
	}
	const install = "run `make deps` (or `npm ci --prefix reports/testdata/xsd`)"
	var problem string
	if _, err := exec.LookPath("node"); err != nil {
		problem = fmt.Sprintf("node is not on PATH (%v): install Node.js 18 or newer, then %s", err, install)
	} else if _, err := os.Stat(filepath.Join(dir, "node_modules", "xmllint-wasm", "package.json")); err != nil {
		problem = fmt.Sprintf("xmllint-wasm is not installed in %s: %s", filepath.Join(dir, "node_modules"), install)
	}
	if os.Getenv("ZCONFORM_SKIP_NODE") == "1" {
		if problem == "" {
			problem = "xmllint-wasm is installed"
		}
		t.Skipf("ZCONFORM_SKIP_NODE=1: skipping the JUnit XSD check (%s)", problem)
	}
	if problem != "" {
		t.Fatalf("%s; or set ZCONFORM_SKIP_NODE=1 to skip this test", problem)
	}
	return xsd{dir: dir, schema: schema}
}

// validateFile runs libxml2's schema validation (validate.js) on the file
// at path, as it is, and returns its error, with libxml2's messages, when
// the file is invalid.
func (x xsd) validateFile(t *testing.T, path string) error {
	t.Helper()
	path, err := filepath.Abs(path)
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithTimeout(t.Context(), time.Minute)
	defer cancel()
	cmd := exec.CommandContext(ctx, "node", "validate.js", x.schema, path)
	cmd.Dir = x.dir
	var out bytes.Buffer
	cmd.Stdout, cmd.Stderr = &out, &out
	err = cmd.Run()
	var exit *exec.ExitError
	switch {
	case err == nil:
		return nil
	case errors.As(err, &exit) && exit.ExitCode() == 1:
		return fmt.Errorf("invalid: %s", strings.TrimSpace(out.String()))
	}
	t.Fatalf("node validate.js: %v\n%s", err, out.String())
	return nil
}

// validate is validateFile for a document made by the test.
func (x xsd) validate(t *testing.T, doc []byte) error {
	t.Helper()
	path := filepath.Join(t.TempDir(), "junit.xml")
	if err := os.WriteFile(path, doc, 0o644); err != nil {
		t.Fatal(err)
	}
	return x.validateFile(t, path)
}

// rewriteXML copies an XML document token by token; edit may change or
// drop (false) each element given the names of its ancestors.
func rewriteXML(t *testing.T, doc []byte, edit func(parents []string, el *xml.StartElement) bool) []byte {
	t.Helper()
	dec := xml.NewDecoder(bytes.NewReader(doc))
	var buf bytes.Buffer
	enc := xml.NewEncoder(&buf)
	var parents []string
	for {
		tok, err := dec.Token()
		if err == io.EOF {
			break
		}
		if err != nil {
			t.Fatal(err)
		}
		switch el := tok.(type) {
		case xml.StartElement:
			el = el.Copy()
			if !edit(parents, &el) {
				if err := dec.Skip(); err != nil {
					t.Fatal(err)
				}
				continue
			}
			parents = append(parents, el.Name.Local)
			tok = el
		case xml.EndElement:
			parents = parents[:len(parents)-1]
		}
		if err := enc.EncodeToken(tok); err != nil {
			t.Fatal(err)
		}
	}
	if err := enc.Flush(); err != nil {
		t.Fatal(err)
	}
	return buf.Bytes()
}

// The copy of the schema is the shared one, license notice and all.
func TestJenkinsXSDCopy(t *testing.T) {
	copied := readFile(t, jenkinsXSD)
	for _, want := range []string{"This file available under the terms of the MIT License",
		"Copyright (c) 2010 Thales Corporate Services SAS", `<xs:element name="testcase">`} {
		if !bytes.Contains(copied, []byte(want)) {
			t.Errorf("%s lacks %q", jenkinsXSD, want)
		}
	}
	shared, err := os.ReadFile(sharedJenkinsXSD)
	if errors.Is(err, fs.ErrNotExist) {
		t.Skipf("%s is not beside the repository: nothing to compare the copy with", sharedJenkinsXSD)
	}
	if err != nil {
		t.Fatal(err)
	}
	if !bytes.Equal(copied, shared) {
		t.Errorf("%s differs from %s: copy the shared schema again", jenkinsXSD, sharedJenkinsXSD)
	}
}

// The junit.xml files Write and WriteResults write validate, as written,
// against jenkins-junit.xsd.
func TestJUnitValidatesAgainstJenkinsXSD(t *testing.T) {
	x := xsdValidator(t)
	noCase := passingReport(t)
	noCase.SpecReports = nil
	noCase.PreRunStats = types.PreRunStats{TotalSpecs: 3}
	for name, write := range map[string]func() reports.Files{
		"main": func() reports.Files { f, _ := writeMain(t); return f },
		"passing": func() reports.Files {
			f, _ := reports.Write(t.TempDir(), passingReport(t), testRun)
			return f
		},
		"before suite failed": func() reports.Files {
			f, _ := reports.Write(t.TempDir(), beforeSuiteFailedReport(t), testRun)
			return f
		},
		"no case matched": func() reports.Files {
			f, _ := reports.Write(t.TempDir(), noCase, testRun)
			return f
		},
		"breaks": func() reports.Files {
			run := testRun
			run.Breaks = []string{"K4-TOKEN-CODE-b", "DEV-TOKEN-ERROR-HTTP-400"}
			f, _ := reports.Write(t.TempDir(), mainReport(t), run)
			return f
		},
		"certificate": func() reports.Files { f, _ := writeCert(t); return f },
		"deviations":  func() reports.Files { return writeStaging(t) },
	} {
		t.Run(name, func(t *testing.T) {
			f := write()
			if err := x.validateFile(t, f.JUnit); err != nil {
				t.Errorf("%s: %v", f.JUnit, err)
			}
		})
	}
}

// Without Node.js too: jenkins-junit.xsd allows <properties> on the
// <testsuite> only, and a testcase's children in its order.
func TestJUnitKeepsTheSchemasShape(t *testing.T) {
	files, _ := writeMain(t)
	order := map[string]int{"skipped": 0, "error": 1, "failure": 2, "system-out": 3, "system-err": 4}
	dec := xml.NewDecoder(bytes.NewReader(readFile(t, files.JUnit)))
	var parents []string
	last := -1
	for {
		tok, err := dec.Token()
		if err == io.EOF {
			break
		}
		if err != nil {
			t.Fatal(err)
		}
		switch el := tok.(type) {
		case xml.StartElement:
			parent := ""
			if len(parents) > 0 {
				parent = parents[len(parents)-1]
			}
			switch {
			case el.Name.Local == "testcase":
				last = -1
			case el.Name.Local == "properties" && parent != "testsuite":
				t.Errorf("<properties> in <%s>: jenkins-junit.xsd allows them in <testsuite> only", parent)
			case parent == "testcase":
				i, ok := order[el.Name.Local]
				if !ok || i < last {
					t.Errorf("<%s> in a <testcase> after <%v>: not in jenkins-junit.xsd's order", el.Name.Local, last)
				}
				last = i
			}
			parents = append(parents, el.Name.Local)
		case xml.EndElement:
			parents = parents[:len(parents)-1]
		}
	}
}

// The validation can fail: a testcase without a name, a per-testcase
// <properties> and an element out of place are refused.
func TestXSDCheckCatchesAnInvalidReport(t *testing.T) {
	x := xsdValidator(t)
	files, _ := writeMain(t)
	doc := readFile(t, files.JUnit)
	done := false
	bad := rewriteXML(t, doc, func(_ []string, el *xml.StartElement) bool {
		if el.Name.Local == "testcase" && !done {
			el.Attr = slices.DeleteFunc(el.Attr, func(a xml.Attr) bool { return a.Name.Local == "name" })
			done = true
		}
		return true
	})
	err := x.validate(t, bad)
	if err == nil || !strings.Contains(err.Error(), "Element 'testcase': The attribute 'name' is required but missing") {
		t.Errorf("a testcase without a name: %v", err)
	}
	props := bytes.Replace(doc, []byte("<system-out>"), []byte(`<properties><property name="case" value="X"></property></properties><system-out>`), 1)
	if err := x.validate(t, props); err == nil || !strings.Contains(err.Error(), "Element 'properties': This element is not expected") {
		t.Errorf("a per-testcase <properties>: %v", err)
	}
	misplaced := bytes.Replace(doc, []byte("<system-out>"), []byte("<system-out><skipped>late</skipped>"), 1)
	if err := x.validate(t, misplaced); err == nil {
		t.Error("an element where the schema allows none: valid")
	}
	if err := x.validate(t, []byte("<testsuites><testsuite name=\"x\" tests=\"1\">")); err == nil {
		t.Error("a document cut short: valid")
	}
}

// A second, independent JUnit reader (github.com/joshdk/go-junit) reads
// the whole report. It keeps a testcase's XML attributes as its
// Properties, and it reads a skip reason only from a message attribute,
// which jenkins-junit.xsd does not allow on <skipped>: so it finds the
// case's metadata and skip reason in system-out, as CI reporters do.
func TestJUnitReadByGoJunit(t *testing.T) {
	files, _ := writeMain(t)
	suites, err := junit.IngestFile(files.JUnit)
	if err != nil {
		t.Fatal(err)
	}
	if len(suites) != 1 {
		t.Fatalf("go-junit found %d suites, want 1", len(suites))
	}
	s := suites[0]
	if s.Name != "zconform conformance" || s.Properties["target"] != "fake" || s.Properties["profile"] != "kaizen4" ||
		s.Properties["label_filter"] != "!destructive" || s.Properties["started"] != "2026-11-28T17:00:00Z" {
		t.Errorf("suite %q properties %v", s.Name, s.Properties)
	}
	want := junit.Totals{Tests: 6, Passed: 2, Skipped: 1, Failed: 2, Error: 1, Duration: 428 * time.Millisecond}
	if s.Totals != want {
		t.Errorf("go-junit totals %+v, want %+v", s.Totals, want)
	}

	results := reports.FromReport(mainReport(t), testRun)
	if len(s.Tests) != len(results.Cases)+1 {
		t.Fatalf("go-junit read %d testcases, want %d", len(s.Tests), len(results.Cases)+1)
	}
	for i, c := range results.Cases {
		tc := s.Tests[i]
		if tc.Name != c.ID+": "+c.Title || tc.Classname != c.Area || string(tc.Status) != string(c.Outcome) || tc.Properties["status"] != string(c.Outcome) {
			t.Errorf("testcase %d: name %q classname %q status %q, want %q %q %q", i, tc.Name, tc.Classname, tc.Status, c.Name(), c.Area, c.Outcome)
		}
		if tc.Duration != c.Duration.D() {
			t.Errorf("%s: duration %v, want %v", c.ID, tc.Duration, c.Duration.D())
		}
		// The metadata, in system-out.
		for _, line := range []string{"case: " + c.ID, "seeds: " + strings.Join(c.Seeds, ", "), "basis: " + c.Basis, "area: " + c.Area, "target: fake", "profile: kaizen4"} {
			if strings.HasSuffix(line, ": ") {
				continue
			}
			if !strings.Contains(tc.SystemOut, line+"\n") {
				t.Errorf("%s: system-out lacks %q:\n%s", c.ID, line, tc.SystemOut)
			}
		}
		switch c.Outcome {
		case reports.Failed:
			var e junit.Error
			if !errors.As(tc.Error, &e) {
				t.Fatalf("%s: go-junit error %T %v", c.ID, tc.Error, tc.Error)
			}
			if tc.Message != c.Message || e.Message != c.Message || e.Type != "failed" || !strings.HasPrefix(e.Body, c.Message+"\n\nat ") {
				t.Errorf("%s: failure message %q type %q body %q; want message %q", c.ID, tc.Message, e.Type, e.Body, c.Message)
			}
			if !strings.Contains(tc.SystemOut, "failure: "+c.Reason+"\n") {
				t.Errorf("%s: system-out lacks the failure", c.ID)
			}
		case reports.Skipped:
			if tc.Error != nil || !strings.Contains(tc.SystemOut, "skip reason: "+c.Reason+"\n") || c.Reason != skipReason {
				t.Errorf("%s: skip reason not in system-out (%q): %q", c.ID, c.Reason, tc.SystemOut)
			}
		case reports.Passed:
			if tc.Error != nil || tc.Message != "" {
				t.Errorf("%s: passed case with error %v", c.ID, tc.Error)
			}
		}
		if c.DC != "" && !strings.Contains(tc.SystemOut, "dc: "+c.DC+"\n") {
			t.Errorf("%s: system-out lacks the DC", c.ID)
		}
	}
	setup := s.Tests[len(s.Tests)-1]
	if setup.Name != "[SynchronizedBeforeSuite]" || setup.Status != junit.StatusError || setup.Message != zoho.Redact(beforeSuiteMsg) {
		t.Errorf("setup testcase: %+v", setup)
	}
}

// Every piece of a case's metadata is in its testcase's system-out, as
// "key: value" lines (and none in per-testcase <properties>, which
// jenkins-junit.xsd refuses); the suite's properties name the run.
func TestJUnitPerCaseMetadata(t *testing.T) {
	files, _ := writeMain(t)
	var doc struct {
		Props []struct {
			Name  string `xml:"name,attr"`
			Value string `xml:"value,attr"`
		} `xml:"testsuite>properties>property"`
		Cases []struct {
			Name      string   `xml:"name,attr"`
			Props     []string `xml:"properties>property>name"`
			SystemOut string   `xml:"system-out"`
		} `xml:"testsuite>testcase"`
	}
	data := readFile(t, files.JUnit)
	if err := xml.Unmarshal(data, &doc); err != nil {
		t.Fatal(err)
	}
	if n := bytes.Count(data, []byte("<properties>")); n != 1 {
		t.Errorf("junit.xml has %d <properties>, want the suite's only", n)
	}
	results := reports.FromReport(mainReport(t), testRun)
	for i, c := range results.Cases {
		out := doc.Cases[i].SystemOut
		var keys []string
		for _, line := range strings.Split(strings.TrimSpace(out), "\n") {
			k, _, ok := strings.Cut(line, ": ")
			if !ok {
				break
			}
			keys = append(keys, k)
		}
		wantKeys := []string{"case", "title"}
		if len(c.Seeds) > 0 {
			wantKeys = append(wantKeys, "seeds")
		}
		wantKeys = append(wantKeys, "area", "basis")
		if len(c.Needs) > 0 {
			wantKeys = append(wantKeys, "needs")
		}
		if c.Target != "" {
			wantKeys = append(wantKeys, "target")
		}
		if c.DC != "" {
			wantKeys = append(wantKeys, "dc")
		}
		if c.Profile != "" {
			wantKeys = append(wantKeys, "profile")
		}
		wantKeys = append(wantKeys, "catalogue", "outcome")
		if len(keys) < len(wantKeys) || !slices.Equal(keys[:len(wantKeys)], wantKeys) {
			t.Errorf("%s: system-out keys %v, want them to start with %v", c.ID, keys, wantKeys)
		}
		for _, line := range []string{"case: " + c.ID, "title: " + c.Title, "seeds: " + strings.Join(c.Seeds, ", "), "area: " + c.Area,
			"basis: " + c.Basis, "needs: " + strings.Join(c.Needs, ", "), "target: " + c.Target, "dc: " + c.DC, "profile: " + c.Profile,
			"catalogue: " + c.Catalogue, "outcome: " + string(c.Outcome), "duration: " + c.Duration.String()} {
			if strings.HasSuffix(line, ": ") {
				continue // an empty field gets no line
			}
			if !strings.Contains(out, line+"\n") {
				t.Errorf("%s: system-out lacks %q:\n%s", c.ID, line, out)
			}
		}
		if len(doc.Cases[i].Props) > 0 {
			t.Errorf("%s: per-testcase properties %v", c.ID, doc.Cases[i].Props)
		}
	}
	props := map[string]string{}
	var names []string
	for _, p := range doc.Props {
		props[p.Name] = p.Value
		names = append(names, p.Name)
	}
	b := reports.CurrentBuild()
	want := []string{"target", "profile", "label_filter", "started", "verdict", "zconform_version", "zconform_commit", "go_version", "catalogue_digest"}
	if !slices.Equal(names, want) {
		t.Errorf("suite properties %v, want %v", names, want)
	}
	if props["zconform_version"] != b.Version || props["zconform_commit"] != b.Commit || props["go_version"] != b.Go ||
		props["catalogue_digest"] != fixtures.CatalogueDigest() || !strings.HasPrefix(props["catalogue_digest"], "sha256:") {
		t.Errorf("suite properties %v, want the build %+v", props, b)
	}
}

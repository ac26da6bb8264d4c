package reports_test

import (
	"bytes"
	"context"
	"encoding/xml"
	"errors"
	"fmt"
	"io"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"strings"
	"testing"
	"time"

	junit "github.com/joshdk/go-junit"

	"github.com/zconform/zconform/fixtures/zoho"
	"github.com/zconform/zconform/reports"
)

// jenkinsXSD is the JUnit schema the reports are checked against.
var jenkinsXSD = filepath.Join("..", "..", "shared", "schemas", "jenkins-junit.xsd")

// xsdValidator is testdata/xsd with its node_modules installed, or the test
// fails (or skips with ZCONFORM_SKIP_NODE=1) saying how to install it.
func xsdValidator(t *testing.T) (dir, schema string) {
	t.Helper()
	schema, err := filepath.Abs(jenkinsXSD)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := os.Stat(schema); err != nil {
		t.Skipf("the JUnit schema %s is absent (%v): nothing to validate against", schema, err)
	}
	dir, err = filepath.Abs(filepath.Join("testdata", "xsd"))
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
	return dir, schema
}

// validateXSD runs libxml2's schema validation (validate.js) on doc and
// returns its error, with libxml2's messages, when doc is invalid.
func validateXSD(t *testing.T, dir, schema string, doc []byte) error {
	t.Helper()
	path := filepath.Join(t.TempDir(), "junit.xml")
	if err := os.WriteFile(path, doc, 0o644); err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithTimeout(t.Context(), time.Minute)
	defer cancel()
	cmd := exec.CommandContext(ctx, "node", "validate.js", schema, path)
	cmd.Dir = dir
	var out bytes.Buffer
	cmd.Stdout, cmd.Stderr = &out, &out
	err := cmd.Run()
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

// withoutCaseProperties drops the per-testcase <properties>, which
// jenkins-junit.xsd does not know; everything else stays.
func withoutCaseProperties(t *testing.T, doc []byte) []byte {
	return rewriteXML(t, doc, func(parents []string, el *xml.StartElement) bool {
		return !(el.Name.Local == "properties" && len(parents) > 0 && parents[len(parents)-1] == "testcase")
	})
}

func TestJUnitValidatesAgainstJenkinsXSD(t *testing.T) {
	dir, schema := xsdValidator(t)
	for name, report := range map[string]func() []byte{
		"main": func() []byte { f, _ := writeMain(t); return readFile(t, f.JUnit) },
		"passing": func() []byte {
			f, _ := reports.Write(t.TempDir(), passingReport(t), testRun)
			return readFile(t, f.JUnit)
		},
		"before suite failed": func() []byte {
			f, _ := reports.Write(t.TempDir(), beforeSuiteFailedReport(t), testRun)
			return readFile(t, f.JUnit)
		},
	} {
		t.Run(name, func(t *testing.T) {
			full := report()
			stripped := withoutCaseProperties(t, full)
			if bytes.Count(stripped, []byte("<properties>")) != 1 {
				t.Fatalf("stripping took the suite's properties")
			}
			if err := validateXSD(t, dir, schema, stripped); err != nil {
				t.Errorf("junit.xml without per-testcase properties: %v", err)
			}
			if bytes.Count(full, []byte("<properties>")) == 1 {
				// No case, so no per-testcase properties: valid as it is.
				if err := validateXSD(t, dir, schema, full); err != nil {
					t.Errorf("junit.xml: %v", err)
				}
				return
			}
			// The per-testcase properties are the one departure from the schema.
			err := validateXSD(t, dir, schema, full)
			if err == nil || !strings.Contains(err.Error(), "Element 'properties': This element is not expected") {
				t.Fatalf("junit.xml with per-testcase properties: %v, want libxml2 to refuse only the properties", err)
			}
			if n := strings.Count(err.Error(), "Schemas validity error"); n != strings.Count(err.Error(), "Element 'properties'") {
				t.Errorf("errors other than the per-testcase properties:\n%v", err)
			}
		})
	}
}

// The validation can fail: a testcase without a name is refused.
func TestXSDCheckCatchesAnInvalidReport(t *testing.T) {
	dir, schema := xsdValidator(t)
	files, _ := writeMain(t)
	doc := withoutCaseProperties(t, readFile(t, files.JUnit))
	done := false
	bad := rewriteXML(t, doc, func(_ []string, el *xml.StartElement) bool {
		if el.Name.Local == "testcase" && !done {
			el.Attr = slices.DeleteFunc(el.Attr, func(a xml.Attr) bool { return a.Name.Local == "name" })
			done = true
		}
		return true
	})
	err := validateXSD(t, dir, schema, bad)
	if err == nil || !strings.Contains(err.Error(), "Element 'testcase': The attribute 'name' is required but missing") {
		t.Errorf("a testcase without a name: %v", err)
	}
	misplaced := bytes.Replace(doc, []byte("<system-out>"), []byte("<system-out><skipped>late</skipped>"), 1)
	if err := validateXSD(t, dir, schema, misplaced); err == nil {
		t.Error("an element where the schema allows none: valid")
	}
	if err := validateXSD(t, dir, schema, []byte("<testsuites><testsuite name=\"x\" tests=\"1\">")); err == nil {
		t.Error("a document cut short: valid")
	}
}

// A second, independent JUnit reader (github.com/joshdk/go-junit) reads
// the whole report. It keeps a testcase's XML attributes as its
// Properties and ignores per-testcase <properties> elements, and it reads
// a skip reason only from a message attribute, which jenkins-junit.xsd
// does not allow on <skipped>: so for those it sees the case's metadata
// and skip reason in system-out, as any reader that drops properties does.
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

// The per-testcase properties as a reader that knows them (Ginkgo >= 2.33,
// Surefire 3, Testmo, GitLab) finds them: read with encoding/xml alone.
func TestJUnitPerCaseProperties(t *testing.T) {
	files, _ := writeMain(t)
	var doc struct {
		Cases []struct {
			Name  string `xml:"name,attr"`
			Props []struct {
				Name  string `xml:"name,attr"`
				Value string `xml:"value,attr"`
			} `xml:"properties>property"`
		} `xml:"testsuite>testcase"`
	}
	if err := xml.Unmarshal(readFile(t, files.JUnit), &doc); err != nil {
		t.Fatal(err)
	}
	results := reports.FromReport(mainReport(t), testRun)
	for i, c := range results.Cases {
		got := map[string]string{}
		var names []string
		for _, p := range doc.Cases[i].Props {
			got[p.Name] = p.Value
			names = append(names, p.Name)
		}
		wantNames := []string{"case", "seeds", "area", "basis"}
		if len(c.Needs) > 0 {
			wantNames = append(wantNames, "needs")
		}
		wantNames = append(wantNames, "target", "dc", "profile", "catalogue")
		if !slices.Equal(names, wantNames) {
			t.Errorf("%s: properties %v, want %v", c.ID, names, wantNames)
		}
		if got["case"] != c.ID || got["seeds"] != strings.Join(c.Seeds, ",") || got["basis"] != c.Basis || got["dc"] != c.DC ||
			got["target"] != c.Target || got["profile"] != c.Profile || got["catalogue"] != c.Catalogue || got["needs"] != strings.Join(c.Needs, ",") {
			t.Errorf("%s: properties %v", c.ID, got)
		}
	}
}

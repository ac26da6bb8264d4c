package examples

import (
	"bytes"
	"context"
	"encoding/xml"
	"errors"
	"fmt"
	"io"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"
)

const (
	pythonDir = "python"
	// python3 is Debian's: its pytest is the python3-pytest package.
	python3 = "/usr/bin/python3"
)

// The tests the example must run and pass.
var pythonTests = []string{"test_code_exchanged_and_api_called", "test_reused_code_is_invalid_code", "test_self_client_code"}

func needPytest(t *testing.T) {
	t.Helper()
	if err := exec.Command(python3, "-c", "import pytest").Run(); err != nil {
		t.Skipf("%s cannot import pytest: install Debian's python3-pytest (make deps does)", python3)
	}
}

// copyPythonExample copies examples/python into a temporary folder, with
// one text replaced in one file (none when file is ""), and returns it: the
// example must work on its own, and runs never write into the tree.
func copyPythonExample(t *testing.T, file, old, new string) string {
	t.Helper()
	dir := t.TempDir()
	entries, err := os.ReadDir(pythonDir)
	if err != nil {
		t.Fatal(err)
	}
	replaced := file == ""
	for _, e := range entries {
		if e.IsDir() || !strings.HasSuffix(e.Name(), ".py") {
			continue
		}
		data, err := os.ReadFile(filepath.Join(pythonDir, e.Name()))
		if err != nil {
			t.Fatal(err)
		}
		if e.Name() == file {
			if !bytes.Contains(data, []byte(old)) {
				t.Fatalf("%s no longer has %q: update this case", e.Name(), old)
			}
			data = bytes.Replace(data, []byte(old), []byte(new), 1)
			replaced = true
		}
		writeFile(t, filepath.Join(dir, e.Name()), string(data))
	}
	if !replaced {
		t.Fatalf("no %s in %s", file, pythonDir)
	}
	return dir
}

// pytestRun is what a pytest run did, from its JUnit report.
type pytestRun struct {
	Exit     int
	Output   string
	Took     time.Duration
	Passed   []string
	Problems []string // failed, errors and skips, with pytest's message
}

// verdict is nil when every test of the example ran and passed: a zero
// exit status alone is not enough (a skipped test exits 0).
func (r pytestRun) verdict() error {
	var bad []string
	if r.Exit != 0 {
		bad = append(bad, fmt.Sprintf("pytest exited %d", r.Exit))
	}
	bad = append(bad, r.Problems...)
	for _, name := range pythonTests {
		if !slices.Contains(r.Passed, name) {
			bad = append(bad, name+" did not pass")
		}
	}
	if len(bad) > 0 {
		return errors.New(strings.Join(bad, "\n"))
	}
	return nil
}

// runPytest runs Debian's pytest on dir with the ZCONFORM_ variables of
// env only (the test's own environment's are dropped), its JUnit report to
// junit. It may run on any goroutine: it reports trouble as an error.
func runPytest(dir, junit string, env map[string]string) (pytestRun, error) {
	ctx, cancel := context.WithTimeout(context.Background(), 90*time.Second)
	defer cancel()
	cmd := exec.CommandContext(ctx, python3, "-B", "-m", "pytest", "-p", "no:cacheprovider", "-q", "-rA",
		"--junitxml="+junit, dir)
	cmd.Dir = dir
	for _, kv := range os.Environ() {
		if !strings.HasPrefix(kv, "ZCONFORM_") && !strings.HasPrefix(kv, "PYTHON") && !strings.HasPrefix(kv, "PYTEST_") {
			cmd.Env = append(cmd.Env, kv)
		}
	}
	cmd.Env = append(cmd.Env, "PYTHONDONTWRITEBYTECODE=1")
	for k, v := range env {
		cmd.Env = append(cmd.Env, k+"="+v)
	}
	var out bytes.Buffer
	cmd.Stdout, cmd.Stderr = &out, &out
	start := time.Now()
	err := cmd.Run()
	r := pytestRun{Output: out.String(), Took: time.Since(start)}
	var exit *exec.ExitError
	switch {
	case ctx.Err() != nil:
		return r, fmt.Errorf("pytest did not end within 90s:\n%s", r.Output)
	case errors.As(err, &exit):
		r.Exit = exit.ExitCode()
	case err != nil:
		return r, fmt.Errorf("pytest: %v\n%s", err, r.Output)
	}
	data, err := os.ReadFile(junit)
	if err != nil {
		r.Problems = append(r.Problems, "pytest wrote no JUnit report")
		return r, nil
	}
	type outcome struct {
		Message string `xml:"message,attr"`
	}
	var doc struct {
		Cases []struct {
			Name    string   `xml:"name,attr"`
			Failure *outcome `xml:"failure"`
			Error   *outcome `xml:"error"`
			Skipped *outcome `xml:"skipped"`
		} `xml:"testsuite>testcase"`
	}
	if err := xml.Unmarshal(data, &doc); err != nil {
		return r, fmt.Errorf("pytest's JUnit report: %v", err)
	}
	for _, c := range doc.Cases {
		switch {
		case c.Failure != nil:
			r.Problems = append(r.Problems, c.Name+" failed: "+c.Failure.Message)
		case c.Error != nil:
			r.Problems = append(r.Problems, c.Name+" errored: "+c.Error.Message)
		case c.Skipped != nil:
			r.Problems = append(r.Problems, c.Name+" was skipped: "+c.Skipped.Message)
		default:
			r.Passed = append(r.Passed, c.Name)
		}
	}
	return r, nil
}

// privateBinary copies the built zconform into dir, so that a test can
// tell its own fake processes from any other test's.
func privateBinary(t *testing.T, dir string) string {
	t.Helper()
	src, err := os.Open(zconformBinary(t))
	if err != nil {
		t.Fatal(err)
	}
	defer src.Close()
	path := filepath.Join(dir, "zconform")
	dst, err := os.OpenFile(path, os.O_CREATE|os.O_WRONLY|os.O_TRUNC, 0o755)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := io.Copy(dst, src); err != nil {
		t.Fatal(err)
	}
	if err := dst.Close(); err != nil {
		t.Fatal(err)
	}
	return path
}

// running lists the processes running the executable at path (Linux).
func running(path string) []string {
	procs, _ := filepath.Glob("/proc/[0-9]*/exe")
	var pids []string
	for _, p := range procs {
		if target, err := os.Readlink(p); err == nil && target == path {
			pids = append(pids, strings.Split(p, "/")[2])
		}
	}
	return pids
}

// pyRun is one pytest run of TestPythonExample: the example (maybe
// broken), the environment, and what the run must show.
type pyRun struct {
	name           string
	file, old, new string // a text to replace in a copy of the example
	env            func(t *testing.T) map[string]string
	// want is "" for a run that must pass, else what its failure must say.
	want string
	// bin is the private zconform the run starts, if any: it must not
	// outlive the run.
	bin string
	// leak: the example is broken so that the fake outlives pytest, which
	// the check for leftover processes must see.
	leak bool
}

func TestPythonExample(t *testing.T) {
	needPytest(t)
	withBinary := func(r *pyRun) func(t *testing.T) map[string]string {
		return func(t *testing.T) map[string]string {
			r.bin = privateBinary(t, t.TempDir())
			return map[string]string{"ZCONFORM_BIN": r.bin}
		}
	}
	runs := []*pyRun{
		{name: "starts the binary"},
		{name: "uses a running fake, as a service container", env: func(t *testing.T) map[string]string {
			const token = "service-token-0123456789"
			f := startFake(t, token)
			return map[string]string{"ZCONFORM_URL": f.URL, "ZCONFORM_CONTROL_TOKEN": token, "ZCONFORM_BIN": "/nonexistent/zconform"}
		}},
		// Each broken setup or example must fail the verdict, with the reason named.
		{name: "broken: a zconform that exits at once", want: "exited with status 3 before it was ready",
			env: func(t *testing.T) map[string]string {
				stub := filepath.Join(t.TempDir(), "zconform")
				writeFile(t, stub, "#!/bin/sh\necho 'zconform fake: listen: address in use' >&2\nexit 3\n")
				if err := os.Chmod(stub, 0o755); err != nil {
					t.Fatal(err)
				}
				return map[string]string{"ZCONFORM_BIN": stub}
			}},
		{name: "broken: no zconform anywhere", want: "zconform not found",
			env: func(t *testing.T) map[string]string { return map[string]string{"PATH": "/usr/bin:/bin"} }},
		{name: "broken: a running fake with another control token", want: "HTTP 401",
			env: func(t *testing.T) map[string]string {
				f := startFake(t, "the-real-token")
				return map[string]string{"ZCONFORM_URL": f.URL, "ZCONFORM_CONTROL_TOKEN": "a-wrong-token"}
			}},
		{name: "broken: a fake that lets a grant token be used twice", want: "test_reused_code_is_invalid_code failed",
			env: func(t *testing.T) map[string]string {
				const token = "break-token-0123456789"
				f := startFake(t, token)
				req, _ := http.NewRequest(http.MethodPut, f.Control+"/breaks", strings.NewReader(`{"on":["K4-TOKEN-CODE-b"]}`))
				req.Header.Set("Authorization", "Bearer "+token)
				resp, err := http.DefaultClient.Do(req)
				if err != nil {
					t.Fatalf("PUT /breaks: %v", err)
				}
				resp.Body.Close()
				if resp.StatusCode != http.StatusOK {
					t.Fatalf("PUT /breaks: HTTP %d", resp.StatusCode)
				}
				return map[string]string{"ZCONFORM_URL": f.URL, "ZCONFORM_CONTROL_TOKEN": token}
			}},
		{name: "broken: a test expecting another error", file: "test_zoho_oauth.py",
			old: `{"error": "invalid_code"}`, new: `{"error": "invalid_client"}`, want: "test_reused_code_is_invalid_code failed"},
		{name: "broken: a consent that is not scripted", file: "conftest.py",
			old: `self.fake.control("POST", f"/clients/{self.client['id']}/consent"`, new: `(lambda *a: None)("POST", f"/clients/{self.client['id']}/consent"`,
			want: "test_code_exchanged_and_api_called failed"},
		{name: "broken: a code exchanged without the redirect URI", file: "conftest.py",
			old: `fields["redirect_uri"] = self.redirect_uri`, new: `pass`, want: "test_code_exchanged_and_api_called failed"},
		{name: "broken: every test skipped", file: "test_zoho_oauth.py",
			old: "def test_code_exchanged_and_api_called", new: "import pytest\npytestmark = pytest.mark.skip(reason=\"broken\")\n\n\ndef test_code_exchanged_and_api_called",
			want: "was skipped"},
		{name: "broken: the fake not stopped at teardown", file: "conftest.py", leak: true,
			old: "finally:\n            _stop(proc)", new: "finally:\n            pass"},
	}

	// Set every run up here (a fake, a stub, a broken copy), then run all
	// the pytests at once: each mostly waits on Python starting, and
	// t.Parallel would run only GOMAXPROCS of them at a time.
	type prepared struct {
		dir, junit string
		env        map[string]string
		res        pytestRun
		err        error
	}
	preps := make([]*prepared, len(runs))
	for i, r := range runs {
		if r.env == nil {
			r.env = withBinary(r)
		}
		preps[i] = &prepared{dir: copyPythonExample(t, r.file, r.old, r.new), junit: filepath.Join(t.TempDir(), "junit.xml"), env: r.env(t)}
	}
	start := time.Now()
	var wg sync.WaitGroup
	for _, p := range preps {
		wg.Add(1)
		go func() {
			defer wg.Done()
			p.res, p.err = runPytest(p.dir, p.junit, p.env)
		}()
	}
	wg.Wait()
	t.Logf("%d pytest runs took %s", len(runs), time.Since(start).Round(time.Millisecond))

	for i, r := range runs {
		p := preps[i]
		t.Run(r.name, func(t *testing.T) {
			if p.err != nil {
				t.Fatal(p.err)
			}
			verdict := p.res.verdict()
			switch {
			case r.want == "" && verdict != nil:
				t.Errorf("%v\n%s", verdict, p.res.Output)
			case r.want != "" && verdict == nil:
				t.Errorf("the broken example passed:\n%s", p.res.Output)
			case r.want != "" && !strings.Contains(verdict.Error()+"\n"+p.res.Output, r.want):
				t.Errorf("the failure does not say %q:\n%v\n%s", r.want, verdict, p.res.Output)
			}
			if r.want == "" {
				t.Logf("%d tests passed in %s", len(p.res.Passed), p.res.Took.Round(time.Millisecond))
			}
			if p.res.Took > 15*time.Second {
				t.Errorf("pytest took %s", p.res.Took)
			}
			if r.bin == "" {
				return
			}
			pids := running(r.bin)
			for _, pid := range pids {
				if n, err := strconv.Atoi(pid); err == nil {
					_ = syscall.Kill(n, syscall.SIGKILL) // ours: started by the pytest this test started
				}
			}
			switch {
			case !r.leak && len(pids) > 0:
				t.Errorf("the fake still runs after pytest ended (pids %v): the fixture must stop it at teardown", pids)
			case r.leak && len(pids) == 0:
				t.Errorf("the fixture left its fake running, and the check for leftover processes did not see it")
			}
		})
	}
}

package examples

import (
	"fmt"
	"io"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/rhysd/actionlint"
	"github.com/zconform/zconform/reports"
	"go.yaml.in/yaml/v3"
)

const githubDir = "ci/github"

// actionPin is an action the workflows may use: pinned to a commit, with the
// release tag of that commit written after it ("@<sha> # v6.1.0").
type actionPin struct {
	Commit  string
	Version string
	// Major is actionlint's popular-actions entry whose inputs the pinned
	// commit has; empty when actionlint does not know the action.
	Major string
}

// pins are the actions the workflows use. Each commit was read from the
// action's repository (git rev-parse <tag>^{commit}) when it was pinned: a
// typo in a SHA, which actionlint cannot see, fails here.
var pins = map[string]actionPin{
	"actions/checkout":             {"d23441a48e516b6c34aea4fa41551a30e30af803", "v6.1.0", "actions/checkout@v6"},
	"actions/setup-go":             {"924ae3a1cded613372ab5595356fb5720e22ba16", "v6.5.0", "actions/setup-go@v6"},
	"actions/upload-artifact":      {"bbbca2ddaa5d8feaa63e36b76fdaad77386f024f", "v7.0.0", "actions/upload-artifact@v7"},
	"mikepenz/action-junit-report": {"d9f48fc87bc235f7e214acf696ca5abc0a986f16", "v6.4.2", ""},
}

// junitReportInputs are the inputs of mikepenz/action-junit-report v6.4.2
// (its action.yml), which actionlint's data set does not have.
var junitReportInputs = strings.Fields(`annotate_notice annotate_only annotations_limit bread_crumb_delimiter
	check_annotations check_name check_retries check_title_template comment commit detailed_summary
	exclude_sources fail_on_failure fail_on_parse_error flaky_summary follow_symlink github_token
	group_reports group_suite include_empty_in_summary include_passed include_skipped include_time_in_summary
	job_name job_summary job_summary_text pr_id report_paths require_passed_tests require_tests
	resolve_ignore_classname simplified_summary skip_annotations skip_comment_without_tests
	skip_success_summary summary test_files_prefix token transformers truncate_stack_traces
	updateComment update_check verbose_summary`)

var registerPinsOnce sync.Once

// registerPins teaches actionlint the inputs of each pinned commit, so that
// a step's with: is checked although it names a SHA, not a tag.
func registerPins(t *testing.T) {
	t.Helper()
	var missing []string
	registerPinsOnce.Do(func() {
		for name, p := range pins {
			spec := name + "@" + p.Commit
			if p.Major == "" {
				inputs := actionlint.ActionMetadataInputs{}
				for _, in := range junitReportInputs {
					inputs[strings.ToLower(in)] = &actionlint.ActionMetadataInput{Name: in}
				}
				actionlint.PopularActions[spec] = &actionlint.ActionMetadata{Name: name, Inputs: inputs, SkipOutputs: true}
				continue
			}
			meta, ok := actionlint.PopularActions[p.Major]
			if !ok {
				missing = append(missing, p.Major)
				continue
			}
			actionlint.PopularActions[spec] = meta
		}
	})
	if len(missing) > 0 {
		t.Fatalf("the pinned actionlint knows no %v: pin a major it knows", missing)
	}
}

// zconformRule holds the workflows to this project's rules on top of
// actionlint's: actions pinned by commit, as listed in pins, with the tag in
// a comment; no ${{ }} in run: scripts (values go through env:, which keeps
// untrusted text out of the shell and lets the tests run the scripts).
type zconformRule struct {
	actionlint.RuleBase
	lines []string
}

var usesComment = regexp.MustCompile(`#\s*(v[0-9]+\.[0-9]+\.[0-9]+)\s*$`)

func (r *zconformRule) VisitStep(s *actionlint.Step) error {
	switch e := s.Exec.(type) {
	case *actionlint.ExecAction:
		uses := e.Uses.Value
		name, ref, _ := strings.Cut(uses, "@")
		p, ok := pins[name]
		if !ok {
			r.Errorf(e.Uses.Pos, "action %q is not one of the pinned actions (add it, with the commit of its release tag, to pins in github_test.go)", uses)
			return nil
		}
		if ref != p.Commit {
			r.Errorf(e.Uses.Pos, "pin %s by the full commit SHA of %s: %s@%s # %s", name, p.Version, name, p.Commit, p.Version)
			return nil
		}
		line := ""
		if n := e.Uses.Pos.Line; n >= 1 && n <= len(r.lines) {
			line = r.lines[n-1]
		}
		if m := usesComment.FindStringSubmatch(line); m == nil || m[1] != p.Version {
			r.Errorf(e.Uses.Pos, "write the release tag after the SHA of %s: \"# %s\"", name, p.Version)
		}
	case *actionlint.ExecRun:
		if e.Run != nil && strings.Contains(e.Run.Value, "${{") {
			r.Errorf(e.Run.Pos, "no ${{ }} in a run: script: pass the value through the step's env:")
		}
	}
	return nil
}

// lintWorkflow lints one workflow with the actionlint pinned in go.mod (and
// shellcheck on its scripts when shellcheck is installed) plus zconformRule.
func lintWorkflow(t *testing.T, path string, src []byte) []*actionlint.Error {
	t.Helper()
	registerPins(t)
	shellcheck, _ := exec.LookPath("shellcheck")
	l, err := actionlint.NewLinter(io.Discard, &actionlint.LinterOptions{
		LogWriter:  io.Discard,
		Shellcheck: shellcheck,
		OnRulesCreated: func(rules []actionlint.Rule) []actionlint.Rule {
			rule := &zconformRule{RuleBase: actionlint.NewRuleBase("zconform", "pinned actions, no expressions in scripts"), lines: strings.Split(string(src), "\n")}
			return append(rules, rule)
		},
	})
	if err != nil {
		t.Fatal(err)
	}
	errs, err := l.Lint(path, src, nil)
	if err != nil {
		t.Fatalf("actionlint %s: %v", path, err)
	}
	return errs
}

func githubFiles(t *testing.T) []string {
	t.Helper()
	files, err := filepath.Glob(filepath.Join(githubDir, "*.yml"))
	if err != nil || len(files) == 0 {
		t.Fatalf("no workflows in %s (%v)", githubDir, err)
	}
	return files
}

func TestGitHubWorkflowsLint(t *testing.T) {
	if _, err := exec.LookPath("shellcheck"); err != nil {
		t.Log("shellcheck is not installed: the run: scripts are linted without it (Debian: apt-get install shellcheck)")
	}
	for _, path := range githubFiles(t) {
		t.Run(filepath.Base(path), func(t *testing.T) {
			src, err := os.ReadFile(path)
			if err != nil {
				t.Fatal(err)
			}
			for _, e := range lintWorkflow(t, path, src) {
				t.Errorf("%s", e)
			}
		})
	}
}

// TestGitHubLintRejectsBrokenCopies proves the lint can fail: each broken
// copy of a workflow, in a temporary folder, must get the error named.
func TestGitHubLintRejectsBrokenCopies(t *testing.T) {
	_, haveShellcheck := exec.LookPath("shellcheck")
	cases := []struct {
		name, file, old, new, kind, want string
		shellcheck                       bool
	}{
		{name: "unknown input of a SHA-pinned action", file: "zconform-go-test.yml",
			old: "go-version-file: go.mod", new: "go-version-fil: go.mod", kind: "action", want: `input "go-version-fil" is not defined`},
		{name: "unknown input of the JUnit reporter", file: "zconform-nightly-staging.yml",
			old: "report_paths: out/junit.xml", new: "report_path: out/junit.xml", kind: "action", want: `input "report_path" is not defined`},
		{name: "a SHA with a typo", file: "zconform-fake.yml",
			old: "actions/checkout@d23441a48e516b6c34aea4fa41551a30e30af803", new: "actions/checkout@d23441a48e516b6c34aea4fa41551a30e30af804", kind: "zconform", want: "full commit SHA"},
		{name: "a tag instead of a SHA", file: "zconform-go-test.yml",
			old: "actions/setup-go@924ae3a1cded613372ab5595356fb5720e22ba16 # v6.5.0", new: "actions/setup-go@v6", kind: "zconform", want: "full commit SHA"},
		{name: "a SHA under another tag's name", file: "zconform-nightly-staging.yml",
			old: "bbbca2ddaa5d8feaa63e36b76fdaad77386f024f # v7.0.0", new: "bbbca2ddaa5d8feaa63e36b76fdaad77386f024f # v6.0.0", kind: "zconform", want: `"# v7.0.0"`},
		{name: "an expression in a script", file: "zconform-nightly-staging.yml",
			old: `echo "## Changes since run $PREVIOUS_RUN"`, new: `echo "## Changes since run ${{ steps.previous.outputs.run-id }}"`, kind: "zconform", want: "no ${{ }} in a run: script"},
		{name: "a step output that does not exist", file: "zconform-nightly-staging.yml",
			old: "steps.previous.outputs.run-id != ''", new: "steps.previus.outputs.run-id != ''", kind: "expression", want: `property "previus" is not defined`},
		{name: "an unknown runner", file: "zconform-fake.yml",
			old: "runs-on: ubuntu-24.04", new: "runs-on: ubuntu-24.4", kind: "runner-label", want: `label "ubuntu-24.4" is unknown`},
		{name: "a misspelt key", file: "zconform-go-test.yml",
			old: "timeout-minutes: 15", new: "timeout-minute: 15", kind: "syntax-check", want: `unexpected key "timeout-minute"`},
		{name: "an unquoted variable in a script", file: "zconform-fake.yml", shellcheck: true,
			old: `cat "$RUNNER_TEMP/zconform-fake.log"` + "\n", new: "cat $RUNNER_TEMP/zconform-fake.log\n", kind: "shellcheck", want: "SC2086"},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			if c.shellcheck && haveShellcheck != nil {
				t.Skip("shellcheck is not installed (Debian: apt-get install shellcheck)")
			}
			src, err := os.ReadFile(filepath.Join(githubDir, c.file))
			if err != nil {
				t.Fatal(err)
			}
			if !strings.Contains(string(src), c.old) {
				t.Fatalf("%s no longer has %q: update this case", c.file, c.old)
			}
			broken := filepath.Join(t.TempDir(), c.file)
			data := []byte(strings.Replace(string(src), c.old, c.new, 1))
			if err := os.WriteFile(broken, data, 0o644); err != nil {
				t.Fatal(err)
			}
			errs := lintWorkflow(t, broken, data)
			if !slices.ContainsFunc(errs, func(e *actionlint.Error) bool { return e.Kind == c.kind && strings.Contains(e.Message, c.want) }) {
				t.Errorf("the broken copy got no [%s] error with %q; it got %d:", c.kind, c.want, len(errs))
				for _, e := range errs {
					t.Logf("  %s", e)
				}
			}
		})
	}
}

// ---- running the workflows' shell steps -------------------------------------

type ghWorkflow struct {
	Env  map[string]any   `yaml:"env"`
	Jobs map[string]ghJob `yaml:"jobs"`
}

type ghJob struct {
	Env   map[string]any `yaml:"env"`
	Steps []ghStep       `yaml:"steps"`
}

type ghStep struct {
	ID  string         `yaml:"id"`
	Run string         `yaml:"run"`
	Env map[string]any `yaml:"env"`
}

// ghStepRun is a step found in a workflow, ready to run.
type ghStepRun struct {
	File, Job string
	Script    string
	// Env is the workflow's, job's and step's env:, expressions left as written.
	Env map[string]string
}

// githubSteps finds the steps with an id in every workflow that has one.
func githubSteps(t *testing.T, id string) []ghStepRun {
	t.Helper()
	var found []ghStepRun
	for _, path := range githubFiles(t) {
		data, err := os.ReadFile(path)
		if err != nil {
			t.Fatal(err)
		}
		var wf ghWorkflow
		if err := yaml.Unmarshal(data, &wf); err != nil {
			t.Fatalf("%s: %v", path, err)
		}
		for jobID, job := range wf.Jobs {
			for _, s := range job.Steps {
				if s.ID != id {
					continue
				}
				env := map[string]string{}
				for _, m := range []map[string]any{wf.Env, job.Env, s.Env} {
					for k, v := range m {
						env[k] = fmt.Sprint(v)
					}
				}
				found = append(found, ghStepRun{File: filepath.Base(path), Job: jobID, Script: s.Run, Env: env})
			}
		}
	}
	if len(found) == 0 {
		t.Fatalf("no workflow has a step with id %q", id)
	}
	slices.SortFunc(found, func(a, b ghStepRun) int { return strings.Compare(a.File+a.Job, b.File+b.Job) })
	return found
}

var ghExpr = regexp.MustCompile(`\$\{\{\s*(.*?)\s*\}\}`)

// githubRunner is a runner's side of a step: its files and variables.
type githubRunner struct {
	Work, Temp                string
	EnvFile, PathFile, Output string
	Summary                   string
	Vars                      map[string]string // GITHUB_* and the like
	Exprs                     map[string]string // values of ${{ }} in env:
	PathPrefix                []string
}

func newGitHubRunner(t *testing.T) *githubRunner {
	t.Helper()
	root := t.TempDir()
	r := &githubRunner{Work: filepath.Join(root, "work"), Temp: filepath.Join(root, "runner-temp"), Exprs: map[string]string{}}
	for _, d := range []string{r.Work, r.Temp} {
		if err := os.MkdirAll(d, 0o755); err != nil {
			t.Fatal(err)
		}
	}
	r.EnvFile, r.PathFile = filepath.Join(root, "github_env"), filepath.Join(root, "github_path")
	r.Output, r.Summary = filepath.Join(root, "github_output"), filepath.Join(root, "step_summary")
	r.Vars = map[string]string{
		"RUNNER_TEMP": r.Temp, "GITHUB_ENV": r.EnvFile, "GITHUB_PATH": r.PathFile,
		"GITHUB_OUTPUT": r.Output, "GITHUB_STEP_SUMMARY": r.Summary,
		"GITHUB_REPOSITORY": "example/app", "GITHUB_REF_NAME": "main", "GITHUB_RUN_ID": "99",
		"CI": "true", "GITHUB_ACTIONS": "true",
	}
	return r
}

// run runs the step as the runner would: its env: with the expressions
// replaced from r.Exprs (an unknown one fails the test), then the runner's
// variables, then extra.
func (r *githubRunner) run(t *testing.T, s ghStepRun, extra map[string]string) scriptResult {
	t.Helper()
	env := map[string]string{}
	for k, v := range s.Env {
		env[k] = ghExpr.ReplaceAllStringFunc(v, func(m string) string {
			expr := ghExpr.FindStringSubmatch(m)[1]
			val, ok := r.Exprs[expr]
			if !ok {
				t.Fatalf("%s: step env %s uses ${{ %s }}: give the test a value for it", s.File, k, expr)
			}
			return val
		})
	}
	for k, v := range r.Vars {
		env[k] = v
	}
	for k, v := range extra {
		env[k] = v
	}
	path := os.Getenv("PATH")
	if len(r.PathPrefix) > 0 {
		path = strings.Join(r.PathPrefix, ":") + ":" + path
	}
	env["PATH"] = path
	var list []string
	for k, v := range env {
		list = append(list, k+"="+v)
	}
	return runScript(t, s.Script, r.Work, list)
}

func TestGitHubInstallStep(t *testing.T) {
	needShellTools(t, "curl", "sha256sum", "tar", "awk", "find")
	version := ciVersion(t)
	releases := releaseServer(t, version)
	for _, s := range githubSteps(t, "install-zconform") {
		for _, layout := range []string{"flat", "nested"} {
			t.Run(s.File+"/"+layout, func(t *testing.T) {
				t.Parallel()
				r := newGitHubRunner(t)
				res := r.run(t, s, map[string]string{"ZCONFORM_RELEASES": releases + "/" + layout})
				if res.Exit != 0 {
					t.Fatalf("the install step failed (exit %d):\n%s", res.Exit, res.Output)
				}
				added := strings.TrimSpace(readFile(t, r.PathFile))
				if added == "" || strings.Contains(added, "\n") {
					t.Fatalf("GITHUB_PATH should get one folder, got %q", added)
				}
				out, err := exec.Command(filepath.Join(added, "zconform"), "version").CombinedOutput()
				if err != nil || !strings.Contains(string(out), "zconform v"+version) {
					t.Fatalf("the installed zconform does not run: %v\n%s", err, out)
				}
			})
		}
		for _, bad := range []struct{ layout, want string }{
			{"badsum", "FAILED"},
			{"nosum", "lists no zconform_" + version + "_linux_amd64.tar.gz"},
			{"nobin", "holds no zconform binary"},
		} {
			t.Run(s.File+"/"+bad.layout, func(t *testing.T) {
				t.Parallel()
				r := newGitHubRunner(t)
				res := r.run(t, s, map[string]string{"ZCONFORM_RELEASES": releases + "/" + bad.layout})
				if res.Exit == 0 {
					t.Fatalf("the install step passed with a broken release (%s):\n%s", bad.layout, res.Output)
				}
				if !strings.Contains(res.Output, bad.want) {
					t.Errorf("the failure does not say %q:\n%s", bad.want, res.Output)
				}
				if got := readFile(t, r.PathFile); got != "" {
					t.Errorf("a failed install added %q to GITHUB_PATH", got)
				}
			})
		}
	}
}

func TestGitHubFakeInTheBackground(t *testing.T) {
	needShellTools(t, "jq")
	bin := zconformBinary(t)
	start, stop := githubSteps(t, "start-fake"), githubSteps(t, "stop-fake")
	if len(start) != 1 || len(stop) != 1 {
		t.Fatalf("want one start-fake and one stop-fake step, got %d and %d", len(start), len(stop))
	}
	t.Run("starts, serves, stops", func(t *testing.T) {
		t.Parallel()
		r := newGitHubRunner(t)
		r.PathPrefix = []string{filepath.Dir(bin)}
		t0 := time.Now()
		res := r.run(t, start[0], nil)
		if res.Exit != 0 {
			t.Fatalf("start-fake failed (exit %d):\n%s", res.Exit, res.Output)
		}
		t.Logf("the fake was up %s after the step started", time.Since(t0).Round(time.Millisecond))
		env := envFile(t, r.EnvFile)
		for _, k := range []string{"ZCONFORM_URL", "ZOHO_ACCOUNTS_URL", "ZOHO_API_DOMAIN"} {
			if !strings.HasPrefix(env[k], "http://127.0.0.1:") {
				t.Errorf("GITHUB_ENV: %s=%q, want a loopback URL", k, env[k])
			}
		}
		if got := httpStatus(t, env["ZCONFORM_URL"]+"/_zconform/v1", ""); got != http.StatusOK {
			t.Errorf("GET $ZCONFORM_URL/_zconform/v1: HTTP %d", got)
		}
		// the Accounts server answers an authorization without parameters with its error page
		if got := httpStatus(t, env["ZOHO_ACCOUNTS_URL"]+"/oauth/v2/auth", ""); got != http.StatusBadRequest {
			t.Errorf("GET $ZOHO_ACCOUNTS_URL/oauth/v2/auth: HTTP %d, want Zoho's error page (400)", got)
		}
		if !strings.HasSuffix(env["ZOHO_API_DOMAIN"], "/www.zohoapis.com") {
			t.Errorf("ZOHO_API_DOMAIN=%q, want the US API domain", env["ZOHO_API_DOMAIN"])
		}

		res = r.run(t, stop[0], nil)
		if res.Exit != 0 {
			t.Fatalf("stop-fake failed (exit %d):\n%s", res.Exit, res.Output)
		}
		deadline := time.Now().Add(10 * time.Second)
		for {
			if _, err := os.Stat(filepath.Join(r.Temp, "zconform-ready.json")); os.IsNotExist(err) {
				break // the fake removes its ready file as it stops
			}
			if time.Now().After(deadline) {
				t.Fatal("the fake still runs 10s after stop-fake")
			}
			time.Sleep(20 * time.Millisecond)
		}
	})
	t.Run("a fake that dies is reported at once", func(t *testing.T) {
		t.Parallel()
		r := newGitHubRunner(t)
		stub := t.TempDir()
		if err := os.WriteFile(filepath.Join(stub, "zconform"), []byte("#!/bin/sh\necho 'zconform fake: listen tcp: address in use' >&2\nexit 1\n"), 0o755); err != nil {
			t.Fatal(err)
		}
		r.PathPrefix = []string{stub}
		t0 := time.Now()
		res := r.run(t, start[0], nil)
		if res.Exit == 0 {
			t.Fatalf("start-fake passed with a fake that exits:\n%s", res.Output)
		}
		if !strings.Contains(res.Output, "zconform fake exited") || !strings.Contains(res.Output, "address in use") {
			t.Errorf("the failure should say the fake exited, with its log:\n%s", res.Output)
		}
		if d := time.Since(t0); d > 5*time.Second {
			t.Errorf("start-fake took %s to notice the fake had exited", d)
		}
	})
}

func TestGitHubWaitForService(t *testing.T) {
	needShellTools(t, "curl")
	steps := githubSteps(t, "wait-for-fake")
	const token = "ci-token-0123456789abcdef"
	f := startFake(t, token)
	for _, c := range []struct {
		name, token string
		exit        int
		want        string
	}{
		{"the right token", token, 0, "the zconform fake serves at"},
		{"a wrong token", "not-the-token", 1, "the fake refused the control token (HTTP 401)"},
		{"no token (a fork's pull request)", "", 1, "the ZCONFORM_CONTROL_TOKEN secret is empty"},
	} {
		t.Run(c.name, func(t *testing.T) {
			t.Parallel()
			r := newGitHubRunner(t)
			// the job's env: ZCONFORM_URL is the mapped port, the token a secret
			s := steps[0]
			s.Env = map[string]string{"ZCONFORM_URL": f.URL, "ZCONFORM_CONTROL_TOKEN": "${{ secrets.ZCONFORM_CONTROL_TOKEN }}"}
			r.Exprs["secrets.ZCONFORM_CONTROL_TOKEN"] = c.token
			res := r.run(t, s, nil)
			if res.Exit != c.exit || !strings.Contains(res.Output, c.want) {
				t.Errorf("exit %d, want %d with %q:\n%s", res.Exit, c.exit, c.want, res.Output)
			}
			if c.token != "" && strings.Contains(res.Output, c.token) {
				t.Errorf("the step printed the control token:\n%s", res.Output)
			}
		})
	}
	// the job's env: as the workflow writes it
	wf := readWorkflow(t, "zconform-fake.yml")
	if got := wf.Jobs["service-container"].Env["ZCONFORM_CONTROL_TOKEN"]; got != "${{ secrets.ZCONFORM_CONTROL_TOKEN }}" {
		t.Errorf("service-container: ZCONFORM_CONTROL_TOKEN=%v, want it from the secret", got)
	}
}

func TestGitHubPreviousResults(t *testing.T) {
	needShellTools(t, "jq")
	steps := githubSteps(t, "previous")
	if len(steps) != 1 {
		t.Fatalf("want one step with id previous, got %d", len(steps))
	}
	artifact := steps[0].Env["RESULTS_ARTIFACT"]
	type art struct {
		run     int
		created string
		branch  string
		expired bool
		files   []string
	}
	cases := []struct {
		name    string
		arts    []art
		noList  bool // gh api fails
		wantRun string
		want    string
	}{
		{name: "the first night", want: "No previous results"},
		{name: "the API cannot be reached", noList: true, want: "could not list the artifacts"},
		{name: "nothing usable", arts: []art{
			{run: 10, created: "2026-01-05", branch: "main", expired: true, files: []string{"results.json"}},
			{run: 11, created: "2026-01-06", branch: "feature", files: []string{"results.json"}},
			{run: 99, created: "2026-01-07", branch: "main", files: []string{"results.json"}}, // this run
		}, want: "No previous results"},
		{name: "the newest of several", arts: []art{
			{run: 20, created: "2026-01-01T03:17:00Z", branch: "main", files: []string{"results.json"}},
			{run: 22, created: "2026-01-03T03:17:00Z", branch: "main", files: []string{"results.json", "junit.xml"}},
			{run: 21, created: "2026-01-02T03:17:00Z", branch: "main", files: []string{"results.json"}},
			{run: 23, created: "2026-01-04T03:17:00Z", branch: "main", expired: true, files: []string{"results.json"}},
		}, wantRun: "22"},
		{name: "a run that wrote no results.json", arts: []art{
			{run: 30, created: "2026-01-03", branch: "main", files: []string{"junit.xml"}},
		}, want: "hold no results.json"},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			t.Parallel()
			r := newGitHubRunner(t)
			ghDir := t.TempDir()
			var list []map[string]any
			for i, a := range c.arts {
				list = append(list, map[string]any{
					"id": 1000 + i, "name": artifact, "expired": a.expired, "created_at": a.created,
					"workflow_run": map[string]any{"id": a.run, "head_branch": a.branch},
				})
				for _, f := range a.files {
					writeFile(t, filepath.Join(ghDir, "runs", fmt.Sprint(a.run), artifact, f), fmt.Sprintf("%s of run %d\n", f, a.run))
				}
			}
			if !c.noList {
				writeJSON(t, filepath.Join(ghDir, "artifacts.json"), map[string]any{"total_count": len(list), "artifacts": append([]map[string]any{}, list...)})
			}
			writeFile(t, filepath.Join(ghDir, "bin", "gh"), fakeGH)
			if err := os.Chmod(filepath.Join(ghDir, "bin", "gh"), 0o755); err != nil {
				t.Fatal(err)
			}
			r.PathPrefix = []string{filepath.Join(ghDir, "bin")}
			r.Exprs["github.token"] = "test-gh-token"
			r.Exprs["github.repository"] = "example/app"
			res := r.run(t, steps[0], map[string]string{"FAKE_GH_DIR": ghDir})
			if res.Exit != 0 {
				t.Fatalf("the step failed (exit %d):\n%s", res.Exit, res.Output)
			}
			out := envFile(t, r.Output)
			if out["run-id"] != c.wantRun {
				t.Errorf("run-id output %q, want %q", out["run-id"], c.wantRun)
			}
			if c.want != "" && !strings.Contains(res.Output, c.want) {
				t.Errorf("the step does not say %q:\n%s", c.want, res.Output)
			}
			got, err := os.ReadFile(filepath.Join(r.Work, "previous", "results.json"))
			switch {
			case c.wantRun != "" && string(got) != "results.json of run "+c.wantRun+"\n":
				t.Errorf("previous/results.json = %q (%v), want run %s's", got, err, c.wantRun)
			}
			calls := readFile(t, filepath.Join(ghDir, "calls"))
			if !strings.Contains(calls, "api repos/example/app/actions/artifacts?name="+artifact+"&per_page=100") {
				t.Errorf("gh was not asked for the artifacts named %s:\n%s", artifact, calls)
			}
		})
	}
}

// fakeGH stands in for the gh CLI: `gh api` answers artifacts.json, `gh run
// download RUN --name NAME --dir DIR` copies runs/RUN/NAME/ to DIR.
const fakeGH = `#!/bin/bash
set -eu
echo "$*" >>"$FAKE_GH_DIR/calls"
[ "${GH_TOKEN:-}" = test-gh-token ] || { echo "gh: GH_TOKEN is not set" >&2; exit 4; }
[ "${GH_REPO:-}" = example/app ] || { echo "gh: GH_REPO is not set" >&2; exit 4; }
case "$1 ${2:-}" in
"api repos/"*)
	cat "$FAKE_GH_DIR/artifacts.json" ;;
"run download")
	[ "$4" = --name ] && [ "$6" = --dir ] || { echo "gh: usage: gh run download RUN --name NAME --dir DIR" >&2; exit 2; }
	src="$FAKE_GH_DIR/runs/$3/$5"
	[ -d "$src" ] || { echo "gh: no artifact $5 in run $3" >&2; exit 1; }
	mkdir -p "$7"
	cp -R "$src/." "$7/" ;;
*)
	echo "gh: unexpected: $*" >&2
	exit 2 ;;
esac
`

func TestGitHubDiffStep(t *testing.T) {
	steps := githubSteps(t, "diff")
	if len(steps) != 1 {
		t.Fatalf("want one step with id diff, got %d", len(steps))
	}
	needShellTools(t)
	bin := zconformBinary(t)
	for _, c := range []struct {
		name     string
		previous reports.Outcome
		now      reports.Outcome // "" writes no out/results.json
		exit     int
		want     string
	}{
		{"nothing changed", reports.Passed, reports.Passed, 0, "Changes since run 77"},
		{"a regression", reports.Passed, reports.Failed, 1, "TOKEN-CODE-REUSED"},
		{"a fix", reports.Failed, reports.Passed, 0, "TOKEN-CODE-REUSED"},
		{"no results tonight", reports.Passed, "", 0, "this run wrote no results.json"},
	} {
		t.Run(c.name, func(t *testing.T) {
			t.Parallel()
			r := newGitHubRunner(t)
			r.PathPrefix = []string{filepath.Dir(bin)}
			r.Exprs["steps.previous.outputs.run-id"] = "77"
			writeResults(t, filepath.Join(r.Work, "previous"), c.previous)
			if c.now != "" {
				writeResults(t, filepath.Join(r.Work, "out"), c.now)
			}
			res := r.run(t, steps[0], nil)
			if res.Exit != c.exit || !strings.Contains(res.Output+readFile(t, r.Summary), c.want) {
				t.Errorf("exit %d, want %d with %q:\n%s\nsummary:\n%s", res.Exit, c.exit, c.want, res.Output, readFile(t, r.Summary))
			}
		})
	}
}

// writeResults writes a run's reports (results.json, junit.xml, ...) into dir, as zconform run does.
func writeResults(t *testing.T, dir string, outcome reports.Outcome) {
	t.Helper()
	c := func(id, title string, o reports.Outcome) reports.CaseResult {
		cr := reports.CaseResult{ID: id, Title: title, Area: "token-exchange", Seeds: []string{"K4-TOKEN-CODE-b"}, Basis: "seed", DC: "us", Outcome: o}
		switch o {
		case reports.Failed:
			cr.Reason, cr.Message = "got access_token, want invalid_code", "got access_token, want invalid_code"
		case reports.Deviated:
			cr.Reason = "got access_token, want invalid_code"
			cr.Deviation = &reports.Deviation{Case: id, Reason: "staging keeps codes alive", Link: "https://tracker.example/ZC-1"}
		}
		return cr
	}
	r := reports.Results{
		Run: reports.RunMeta{Target: "staging-us", Profile: "kaizen4", Started: time.Date(2026, 1, 2, 3, 17, 0, 0, time.UTC)},
		Cases: []reports.CaseResult{
			c("TOKEN-CODE-REUSED", "a used grant token", outcome),
			c("TOKEN-CLIENT-WRONG-SECRET", "a wrong client secret", reports.Passed),
		},
	}
	if _, err := reports.WriteResults(dir, r); err != nil {
		t.Fatal(err)
	}
}

func readWorkflow(t *testing.T, name string) ghWorkflow {
	t.Helper()
	var wf ghWorkflow
	if err := yaml.Unmarshal([]byte(readFile(t, filepath.Join(githubDir, name))), &wf); err != nil {
		t.Fatal(err)
	}
	return wf
}

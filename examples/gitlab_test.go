package examples

import (
	"encoding/json"
	"errors"
	"fmt"
	"net/http"
	"net/http/httptest"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"slices"
	"sort"
	"strings"
	"testing"

	"github.com/zconform/zconform/reports"
	"go.yaml.in/yaml/v3"
)

const gitlabFile = "ci/gitlab/.gitlab-ci.yml"

// glRef is a `!reference [job, key, ...]` in the GitLab file.
type glRef []string

// glPipeline is a GitLab CI file, its jobs with extends: and !reference
// resolved as GitLab resolves them.
type glPipeline struct {
	Stages    []string
	Variables map[string]string
	// Jobs are every job, hidden ones (".name") included, resolved.
	Jobs map[string]map[string]any
	raw  map[string]any
}

// The top-level keywords of a GitLab CI file: anything else is a job.
var glGlobalKeywords = []string{"default", "include", "stages", "variables", "workflow", "image", "services", "cache", "before_script", "after_script", "spec"}

// The keywords of a job.
var glJobKeywords = []string{"after_script", "allow_failure", "artifacts", "before_script", "cache", "coverage",
	"dast_configuration", "dependencies", "environment", "except", "extends", "hooks", "id_tokens", "identity",
	"image", "inherit", "interruptible", "manual_confirmation", "needs", "only", "pages", "parallel", "release",
	"resource_group", "retry", "rules", "run", "script", "secrets", "services", "stage", "tags", "timeout",
	"trigger", "variables", "when"}

var glArtifactsKeywords = []string{"access", "exclude", "expire_in", "expose_as", "name", "paths", "public", "reports", "untracked", "when"}
var glRulesKeywords = []string{"allow_failure", "changes", "exists", "if", "interruptible", "needs", "start_in", "variables", "when"}
var glWhen = []string{"on_success", "on_failure", "always", "never", "manual", "delayed"}

// parseGitLab reads a GitLab CI file and resolves it; YAML or reference
// errors come back as an error.
func parseGitLab(data []byte) (*glPipeline, error) {
	var doc yaml.Node
	if err := yaml.Unmarshal(data, &doc); err != nil {
		return nil, err
	}
	if len(doc.Content) != 1 || doc.Content[0].Kind != yaml.MappingNode {
		return nil, errors.New("the file is not a YAML mapping")
	}
	v, err := glDecode(doc.Content[0])
	if err != nil {
		return nil, err
	}
	p := &glPipeline{raw: v.(map[string]any), Variables: map[string]string{}, Jobs: map[string]map[string]any{}}
	if s, ok := p.raw["stages"].([]any); ok {
		for _, st := range s {
			name, ok := st.(string)
			if !ok {
				return nil, fmt.Errorf("stages: %v is not a name", st)
			}
			p.Stages = append(p.Stages, name)
		}
	}
	if vars, ok := p.raw["variables"].(map[string]any); ok {
		for k, val := range vars {
			p.Variables[k] = fmt.Sprint(val)
		}
	}
	for name, val := range p.raw {
		if slices.Contains(glGlobalKeywords, name) {
			continue
		}
		job, err := p.resolve(name, nil)
		if err != nil {
			return nil, err
		}
		if _, ok := val.(map[string]any); !ok {
			return nil, fmt.Errorf("job %s is not a mapping", name)
		}
		p.Jobs[name] = job
	}
	return p, nil
}

// glDecode turns a YAML node into maps, lists, strings and glRefs.
func glDecode(n *yaml.Node) (any, error) {
	switch n.Kind {
	case yaml.AliasNode:
		return glDecode(n.Alias)
	case yaml.ScalarNode:
		if n.Tag == "!!null" {
			return nil, nil
		}
		return n.Value, nil
	case yaml.SequenceNode:
		list := make([]any, 0, len(n.Content))
		for _, c := range n.Content {
			v, err := glDecode(c)
			if err != nil {
				return nil, err
			}
			list = append(list, v)
		}
		if n.Tag == "!reference" {
			var ref glRef
			for _, v := range list {
				s, ok := v.(string)
				if !ok {
					return nil, fmt.Errorf("line %d: !reference takes names only", n.Line)
				}
				ref = append(ref, s)
			}
			if len(ref) < 2 {
				return nil, fmt.Errorf("line %d: !reference needs a job and a key", n.Line)
			}
			return ref, nil
		}
		return list, nil
	case yaml.MappingNode:
		m := map[string]any{}
		for i := 0; i+1 < len(n.Content); i += 2 {
			k, v := n.Content[i], n.Content[i+1]
			if k.Value == "<<" {
				merged, err := glDecode(v)
				if err != nil {
					return nil, err
				}
				mm, ok := merged.(map[string]any)
				if !ok {
					return nil, fmt.Errorf("line %d: << merges a mapping only", k.Line)
				}
				for mk, mv := range mm {
					if _, set := m[mk]; !set {
						m[mk] = mv
					}
				}
				continue
			}
			val, err := glDecode(v)
			if err != nil {
				return nil, err
			}
			m[k.Value] = val
		}
		return m, nil
	}
	return nil, fmt.Errorf("line %d: unexpected YAML", n.Line)
}

// resolve is a job with its extends: merged in (a deep merge of mappings,
// lists replaced, as GitLab does) and its !references replaced.
func (p *glPipeline) resolve(name string, seen []string) (map[string]any, error) {
	if slices.Contains(seen, name) || len(seen) > 11 {
		return nil, fmt.Errorf("job %s: extends: loops (%s)", name, strings.Join(append(seen, name), " -> "))
	}
	raw, ok := p.raw[name].(map[string]any)
	if !ok {
		return nil, fmt.Errorf("job %s: not a mapping", name)
	}
	var parents []string
	switch e := raw["extends"].(type) {
	case nil:
	case string:
		parents = []string{e}
	case []any:
		for _, x := range e {
			s, _ := x.(string)
			parents = append(parents, s)
		}
	default:
		return nil, fmt.Errorf("job %s: extends: takes a job name or a list of them", name)
	}
	out := map[string]any{}
	for _, parent := range parents {
		if _, ok := p.raw[parent]; !ok || slices.Contains(glGlobalKeywords, parent) {
			return nil, fmt.Errorf("job %s: extends: %s, which is not a job of the file", name, parent)
		}
		pj, err := p.resolve(parent, append(seen, name))
		if err != nil {
			return nil, err
		}
		out = glMerge(out, pj)
	}
	own := map[string]any{}
	for k, v := range raw {
		if k != "extends" {
			own[k] = v
		}
	}
	out = glMerge(out, own)
	r, err := p.deref(out, 0)
	if err != nil {
		return nil, fmt.Errorf("job %s: %w", name, err)
	}
	return r.(map[string]any), nil
}

func glMerge(a, b map[string]any) map[string]any {
	out := map[string]any{}
	for k, v := range a {
		out[k] = v
	}
	for k, v := range b {
		am, aok := out[k].(map[string]any)
		bm, bok := v.(map[string]any)
		if aok && bok {
			out[k] = glMerge(am, bm)
		} else {
			out[k] = v
		}
	}
	return out
}

// deref replaces !references, which may nest (GitLab allows 10 levels).
func (p *glPipeline) deref(v any, depth int) (any, error) {
	if depth > 10 {
		return nil, errors.New("!reference nests more than 10 levels")
	}
	switch x := v.(type) {
	case glRef:
		var cur any = p.raw
		for _, k := range x {
			m, ok := cur.(map[string]any)
			if !ok {
				return nil, fmt.Errorf("!reference %v: %s is not a mapping", []string(x), k)
			}
			if cur, ok = m[k]; !ok {
				return nil, fmt.Errorf("!reference %v: there is no %s", []string(x), k)
			}
		}
		return p.deref(cur, depth+1)
	case []any:
		out := make([]any, 0, len(x))
		for _, e := range x {
			r, err := p.deref(e, depth)
			if err != nil {
				return nil, err
			}
			out = append(out, r)
		}
		return out, nil
	case map[string]any:
		out := map[string]any{}
		for k, e := range x {
			r, err := p.deref(e, depth)
			if err != nil {
				return nil, err
			}
			out[k] = r
		}
		return out, nil
	}
	return v, nil
}

// script is a job's before_script, script or after_script as GitLab runs
// it: nested lists flattened, one entry per command.
func glScript(job map[string]any, key string) ([]string, error) {
	var out []string
	var walk func(v any) error
	walk = func(v any) error {
		switch x := v.(type) {
		case nil:
		case string:
			out = append(out, x)
		case []any:
			for _, e := range x {
				if err := walk(e); err != nil {
					return err
				}
			}
		default:
			return fmt.Errorf("%s: %v is not a command", key, v)
		}
		return nil
	}
	err := walk(job[key])
	return out, err
}

var outFlag = regexp.MustCompile(`zconform run\b[^\n]*?\s-out[= ](\S+)`)

// check returns every problem of the pipeline's structure.
func (p *glPipeline) check() []string {
	var bad []string
	fail := func(format string, args ...any) { bad = append(bad, fmt.Sprintf(format, args...)) }
	if len(p.Stages) == 0 {
		fail("stages: list the pipeline's stages")
	}
	for i, s := range p.Stages {
		if slices.Contains(p.Stages[:i], s) {
			fail("stages: %s is listed twice", s)
		}
	}
	version := p.Variables["ZCONFORM_VERSION"]
	if version == "" {
		fail("variables: ZCONFORM_VERSION is missing: the zconform release the jobs install")
	}
	names := make([]string, 0, len(p.Jobs))
	for n := range p.Jobs {
		names = append(names, n)
	}
	sort.Strings(names)
	for _, name := range names {
		job := p.Jobs[name]
		raw := p.raw[name].(map[string]any)
		for k := range raw {
			if !slices.Contains(glJobKeywords, k) {
				fail("job %s: unknown keyword %s", name, k)
			}
		}
		if strings.HasPrefix(name, ".") {
			continue // a building block: checked where it is used
		}
		stage, _ := job["stage"].(string)
		if stage == "" {
			stage = "test" // GitLab's default
		}
		if !slices.Contains(p.Stages, stage) {
			fail("job %s: stage %s is not in stages %v", name, stage, p.Stages)
		}
		if w, ok := job["when"].(string); ok && !slices.Contains(glWhen, w) {
			fail("job %s: when: %s is not one of %v", name, w, glWhen)
		}
		if rules, ok := job["rules"]; ok {
			list, ok := rules.([]any)
			if !ok || len(list) == 0 {
				fail("job %s: rules: give a list of rules", name)
			}
			for _, r := range list {
				rm, ok := r.(map[string]any)
				if !ok {
					fail("job %s: rules: %v is not a rule", name, r)
					continue
				}
				for k := range rm {
					if !slices.Contains(glRulesKeywords, k) {
						fail("job %s: rules: unknown keyword %s", name, k)
					}
				}
				if w, ok := rm["when"].(string); ok && !slices.Contains(glWhen, w) {
					fail("job %s: rules: when: %s is not one of %v", name, w, glWhen)
				}
			}
		}
		var script []string
		for _, key := range []string{"before_script", "script", "after_script"} {
			lines, err := glScript(job, key)
			if err != nil {
				fail("job %s: %v", name, err)
			}
			for _, l := range lines {
				if strings.TrimSpace(l) == "" {
					fail("job %s: %s has an empty command", name, key)
				}
			}
			if key == "script" && len(lines) == 0 {
				fail("job %s: no script: a job needs one", name)
			}
			if key != "after_script" {
				script = append(script, lines...)
			}
		}
		// zconform itself must be installed before a job uses it.
		installed := -1
		for i, l := range script {
			if installed < 0 && strings.Contains(l, "$ZCONFORM_RELEASES/v$ZCONFORM_VERSION/") {
				installed = i
			}
			if regexp.MustCompile(`(?m)^\s*zconform (run|fake|diff|certify)\b`).MatchString(l) && (installed < 0 || installed >= i) {
				fail("job %s: runs zconform before installing it (add !reference [.zconform-install, script] first)", name)
				break
			}
		}
		// The reports of zconform run: JUnit where zconform writes it, kept also when the run fails.
		for _, l := range script {
			if !strings.Contains(l, "zconform run") {
				continue
			}
			out := "out"
			if m := outFlag.FindStringSubmatch(l); m != nil {
				out = strings.TrimRight(m[1], "/")
			}
			art, _ := job["artifacts"].(map[string]any)
			for k := range art {
				if !slices.Contains(glArtifactsKeywords, k) {
					fail("job %s: artifacts: unknown keyword %s", name, k)
				}
			}
			rep, _ := art["reports"].(map[string]any)
			if got, want := fmt.Sprint(rep["junit"]), out+"/"+reports.JUnitFile; got != want {
				fail("job %s: artifacts:reports:junit is %s, but zconform run -out %s writes %s", name, got, out, want)
			}
			if art["when"] != "always" {
				fail("job %s: artifacts:when must be always: a failed run's reports are the ones to read", name)
			}
			paths, _ := art["paths"].([]any)
			if !slices.Contains(paths, any(out)) && !slices.Contains(paths, any(out+"/")) {
				fail("job %s: artifacts:paths must keep %s/ (results.json for the next night's diff)", name, out)
			}
		}
		// The image of a service is the one a release publishes, of the version the file installs.
		services, _ := job["services"].([]any)
		for _, s := range services {
			image, _ := s.(string)
			if m, ok := s.(map[string]any); ok {
				image, _ = m["name"].(string)
			}
			if image == "" {
				fail("job %s: services: a service without an image", name)
				continue
			}
			if strings.Contains(image, "zconform") && image != "ghcr.io/zconform/zconform:"+version {
				fail("job %s: services: %s, want ghcr.io/zconform/zconform:%s (where a release publishes it, ZCONFORM_VERSION)", name, image, version)
			}
		}
	}
	return bad
}

func readGitLab(t *testing.T) *glPipeline {
	t.Helper()
	data, err := os.ReadFile(gitlabFile)
	if err != nil {
		t.Fatal(err)
	}
	p, err := parseGitLab(data)
	if err != nil {
		t.Fatalf("%s: %v", gitlabFile, err)
	}
	return p
}

func TestGitLabPipeline(t *testing.T) {
	p := readGitLab(t)
	for _, problem := range p.check() {
		t.Errorf("%s: %s", gitlabFile, problem)
	}
	// the three uses, each where it belongs
	for job, want := range map[string]string{
		"go-test":             "go test -race",
		"pytest-fake-service": "python3 -m pytest",
		"pytest-fake-binary":  "zconform fake -addr 127.0.0.1:0 -ready-file",
		"nightly-staging":     "zconform run -target staging.yaml -deviations staging-deviations.yaml",
	} {
		lines, _ := glScript(p.Jobs[job], "script")
		if !strings.Contains(strings.Join(lines, "\n"), want) {
			t.Errorf("job %s: its script does not run %q", job, want)
		}
	}
	if s, _ := p.Jobs["pytest-fake-service"]["services"].([]any); len(s) != 1 {
		t.Errorf("pytest-fake-service: want the zconform service, got %v", s)
	}
	if p.Jobs["nightly-staging"]["stage"] != "nightly" || p.Jobs["go-test"]["stage"] != "test" {
		t.Errorf("the nightly job belongs in the nightly stage, the others in test")
	}
}

// TestGitLabCheckRejectsBrokenCopies proves the check can fail: each broken
// copy of the file must get the problem named.
func TestGitLabCheckRejectsBrokenCopies(t *testing.T) {
	src, err := os.ReadFile(gitlabFile)
	if err != nil {
		t.Fatal(err)
	}
	for _, c := range []struct{ name, old, new, want string }{
		{"a stage that is not listed", "  stage: nightly\n", "  stage: nighty\n", "stage nighty is not in stages"},
		{"a job without script", "    - go list -m github.com/zconform/zconform\n    - go vet ./...\n    - go test -race -count=1 ./...\n", "", "job go-test: no script"},
		{"the JUnit report elsewhere", "junit: out/junit.xml", "junit: out/report.xml", "artifacts:reports:junit is out/report.xml, but zconform run -out out writes out/junit.xml"},
		{"the reports written elsewhere", "-deviations staging-deviations.yaml -out out", "-deviations staging-deviations.yaml -out reports", "zconform run -out reports writes reports/junit.xml"},
		{"reports lost when the run fails", "  artifacts:\n    when: always\n", "  artifacts:\n    when: on_success\n", "artifacts:when must be always"},
		{"another image", "- name: ghcr.io/zconform/zconform:", "- name: docker.io/zconform/zconform:", "want ghcr.io/zconform/zconform:"},
		{"an image of another version", `ZCONFORM_VERSION: "`, `ZCONFORM_VERSION: "9`, "want ghcr.io/zconform/zconform:9"},
		{"a misspelt keyword", "  resource_group: zconform-staging\n", "  resource-group: zconform-staging\n", "unknown keyword resource-group"},
		{"a misspelt rule", "    - if: $CI_PIPELINE_SOURCE == \"schedule\" && $ZCONFORM_NIGHTLY", "    - iff: $CI_PIPELINE_SOURCE == \"schedule\" && $ZCONFORM_NIGHTLY", "rules: unknown keyword iff"},
		{"zconform used before it is installed", "    - !reference [.zconform-install, script]\n    - !reference [.zconform-start-fake, script]\n", "    - !reference [.zconform-start-fake, script]\n", "runs zconform before installing it"},
		{"a reference to nothing", "!reference [.zconform-install, script]", "!reference [.zconform-instal, script]", "there is no .zconform-instal"},
		{"extends of nothing", "extends: [.debian, .not-nightly]", "extends: [.debain, .not-nightly]", "extends: .debain, which is not a job"},
		{"broken YAML", "stages:\n  - test\n", "stages:\n  - test\n\t- nightly\n", "yaml:"},
	} {
		t.Run(c.name, func(t *testing.T) {
			if !strings.Contains(string(src), c.old) {
				t.Fatalf("%s no longer has %q: update this case", gitlabFile, c.old)
			}
			broken := strings.Replace(string(src), c.old, c.new, 1)
			var problems []string
			p, err := parseGitLab([]byte(broken))
			if err != nil {
				problems = []string{err.Error()}
			} else {
				problems = p.check()
			}
			if !slices.ContainsFunc(problems, func(s string) bool { return strings.Contains(s, c.want) }) {
				t.Errorf("the broken copy got no problem with %q; it got: %q", c.want, problems)
			}
		})
	}
}

// TestGitLabScriptsShellcheck checks each job's commands with shellcheck,
// as actionlint does for the GitHub files.
func TestGitLabScriptsShellcheck(t *testing.T) {
	shellcheck, err := exec.LookPath("shellcheck")
	if err != nil {
		t.Skip("shellcheck is not installed (Debian: apt-get install shellcheck)")
	}
	p := readGitLab(t)
	for name, job := range p.Jobs {
		if strings.HasPrefix(name, ".") {
			continue
		}
		var all []string
		for _, key := range []string{"before_script", "script", "after_script"} {
			lines, _ := glScript(job, key)
			all = append(all, lines...)
		}
		file := filepath.Join(t.TempDir(), name+".sh")
		writeFile(t, file, "#!/bin/bash\nset -eo pipefail\n"+strings.Join(all, "\n")+"\n")
		if out, err := exec.Command(shellcheck, "-s", "bash", file).CombinedOutput(); err != nil {
			t.Errorf("job %s: shellcheck: %v\n%s", name, err, out)
		}
	}
}

// ---- running the GitLab file's scripts --------------------------------------

// glRun runs a hidden job's script as the GitLab runner does (bash, set -eo
// pipefail, the entries one after the other in one shell), then after.
func glRun(t *testing.T, p *glPipeline, hidden, after, dir string, env map[string]string) scriptResult {
	t.Helper()
	job, ok := p.Jobs[hidden]
	if !ok {
		t.Fatalf("%s has no %s", gitlabFile, hidden)
	}
	lines, err := glScript(job, "script")
	if err != nil || len(lines) == 0 {
		t.Fatalf("%s: %s has no script (%v)", gitlabFile, hidden, err)
	}
	vars := map[string]string{"CI": "true", "GITLAB_CI": "true", "TMPDIR": t.TempDir()}
	for k, v := range p.Variables {
		vars[k] = v
	}
	for k, v := range env {
		vars[k] = v
	}
	var list []string
	for k, v := range vars {
		list = append(list, k+"="+v)
	}
	return runScript(t, strings.Join(lines, "\n")+"\n"+after, dir, list)
}

func TestGitLabInstall(t *testing.T) {
	needShellTools(t, "curl", "sha256sum", "tar", "awk", "find")
	p := readGitLab(t)
	releases := releaseServer(t, p.Variables["ZCONFORM_VERSION"])
	for _, c := range []struct{ layout, want string }{
		{"flat", ""}, {"nested", ""},
		{"badsum", "FAILED"}, {"nosum", "lists no zconform_"}, {"nobin", "holds no zconform binary"},
	} {
		t.Run(c.layout, func(t *testing.T) {
			t.Parallel()
			dir := t.TempDir()
			res := glRun(t, p, ".zconform-install", `command -v zconform >"$TMPDIR/which"`, dir, map[string]string{"ZCONFORM_RELEASES": releases + "/" + c.layout})
			if c.want != "" {
				if res.Exit == 0 || !strings.Contains(res.Output, c.want) {
					t.Errorf("a broken release (%s): exit %d, want a failure saying %q:\n%s", c.layout, res.Exit, c.want, res.Output)
				}
				return
			}
			if res.Exit != 0 {
				t.Fatalf("the install failed (exit %d):\n%s", res.Exit, res.Output)
			}
		})
	}
}

func TestGitLabFakeInTheBackground(t *testing.T) {
	needShellTools(t, "jq")
	p := readGitLab(t)
	bin := zconformBinary(t)
	dir := t.TempDir()
	urls := filepath.Join(dir, "urls")
	res := glRun(t, p, ".zconform-start-fake",
		`printf '%s\n' "$ZCONFORM_URL" "$ZOHO_ACCOUNTS_URL" "$ZOHO_API_DOMAIN" >"`+urls+`"`,
		dir, map[string]string{"PATH": filepath.Dir(bin) + ":" + os.Getenv("PATH")})
	if res.Exit != 0 {
		t.Fatalf("the start failed (exit %d):\n%s", res.Exit, res.Output)
	}
	got := strings.Fields(readFile(t, urls))
	if len(got) != 3 || !strings.HasSuffix(got[1], "/accounts.zoho.com") || !strings.HasSuffix(got[2], "/www.zohoapis.com") {
		t.Fatalf("the exported URLs: %q", got)
	}
	if s := httpStatus(t, got[0]+"/_zconform/v1", ""); s != http.StatusOK {
		t.Errorf("GET $ZCONFORM_URL/_zconform/v1: HTTP %d", s)
	}
}

func TestGitLabWaitForService(t *testing.T) {
	needShellTools(t, "curl")
	p := readGitLab(t)
	const token = "gitlab-token-0123456789abcdef"
	f := startFake(t, token)
	for _, c := range []struct {
		name, token string
		exit        int
		want        string
	}{
		{"the right token", token, 0, "the zconform fake serves at"},
		{"a wrong token", "not-the-token", 1, "the fake refused the control token (HTTP 401)"},
		{"no token", "", 1, "set the masked CI/CD variable ZCONFORM_FAKE_TOKEN"},
	} {
		t.Run(c.name, func(t *testing.T) {
			t.Parallel()
			res := glRun(t, p, ".zconform-wait-for-service", "", t.TempDir(), map[string]string{"ZCONFORM_URL": f.URL, "ZCONFORM_CONTROL_TOKEN": c.token})
			if res.Exit != c.exit || !strings.Contains(res.Output, c.want) {
				t.Errorf("exit %d, want %d with %q:\n%s", res.Exit, c.exit, c.want, res.Output)
			}
			if c.token != "" && strings.Contains(res.Output, c.token) {
				t.Errorf("the script printed the control token:\n%s", res.Output)
			}
		})
	}
	// the service job hands the masked project variable to the service and the tests
	vars, _ := p.Jobs["pytest-fake-service"]["variables"].(map[string]any)
	if vars["ZCONFORM_CONTROL_TOKEN"] != "$ZCONFORM_FAKE_TOKEN" || vars["ZCONFORM_URL"] != "http://zconform:8080" {
		t.Errorf("pytest-fake-service variables: %v", vars)
	}
}

func TestGitLabPreviousResults(t *testing.T) {
	needShellTools(t, "curl", "jq")
	p := readGitLab(t)
	const apiToken = "glpat-test-0123456789"
	type job struct {
		ID        int    `json:"id"`
		Name      string `json:"name"`
		Ref       string `json:"ref"`
		Artifacts any    `json:"artifacts_file"`
	}
	withArtifacts := map[string]any{"filename": "artifacts.zip", "size": 1000}
	cases := []struct {
		name, token string
		jobs        []job
		keeps       map[int]bool // jobs whose out/results.json the API serves
		wantJob     int
		want        string
	}{
		{name: "no API token", want: "ZCONFORM_GITLAB_API_TOKEN is not set"},
		{name: "a token the API refuses", token: "wrong", want: "could not list the project's jobs"},
		{name: "the first night", token: apiToken, want: "nothing to compare with"},
		{name: "the newest earlier nightly", token: apiToken, jobs: []job{
			{ID: 300, Name: "nightly-staging", Ref: "main", Artifacts: withArtifacts},
			{ID: 320, Name: "nightly-staging", Ref: "main", Artifacts: withArtifacts},
			{ID: 330, Name: "go-test", Ref: "main", Artifacts: withArtifacts},
			{ID: 340, Name: "nightly-staging", Ref: "feature", Artifacts: withArtifacts},
			{ID: 350, Name: "nightly-staging", Ref: "main"},                           // no artifacts
			{ID: 500, Name: "nightly-staging", Ref: "main", Artifacts: withArtifacts}, // this job
			{ID: 310, Name: "nightly-staging", Ref: "main", Artifacts: withArtifacts},
		}, keeps: map[int]bool{300: true, 310: true, 320: true}, wantJob: 320, want: "comparing with job 320"},
		{name: "its results expired", token: apiToken, jobs: []job{
			{ID: 320, Name: "nightly-staging", Ref: "main", Artifacts: withArtifacts},
		}, want: "job 320 kept no out/results.json"},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			t.Parallel()
			api := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
				if r.Header.Get("PRIVATE-TOKEN") != apiToken {
					http.Error(w, `{"message":"401 Unauthorized"}`, http.StatusUnauthorized)
					return
				}
				var id int
				switch {
				case r.URL.Path == "/api/v4/projects/42/jobs":
					if q := r.URL.Query()["scope[]"]; !slices.Equal(q, []string{"success", "failed"}) {
						http.Error(w, "scope: "+strings.Join(q, ","), http.StatusBadRequest)
						return
					}
					jobs := c.jobs
					if jobs == nil {
						jobs = []job{}
					}
					w.Header().Set("Content-Type", "application/json")
					writeJSONTo(w, jobs)
				case sscanf(r.URL.Path, "/api/v4/projects/42/jobs/%d/artifacts/out/results.json", &id) && c.keeps[id]:
					fmt.Fprintf(w, "results.json of job %d\n", id)
				default:
					http.NotFound(w, r)
				}
			}))
			defer api.Close()
			dir := t.TempDir()
			env := map[string]string{
				"CI_API_V4_URL": api.URL + "/api/v4", "CI_PROJECT_ID": "42", "CI_JOB_NAME": "nightly-staging",
				"CI_COMMIT_REF_NAME": "main", "CI_JOB_ID": "500",
			}
			if c.token != "" {
				env["ZCONFORM_GITLAB_API_TOKEN"] = c.token
			}
			res := glRun(t, p, ".zconform-previous-results", "", dir, env)
			if res.Exit != 0 {
				t.Fatalf("the script failed (exit %d): a missing comparison must not stop the run\n%s", res.Exit, res.Output)
			}
			if !strings.Contains(res.Output, c.want) {
				t.Errorf("the script does not say %q:\n%s", c.want, res.Output)
			}
			got := readFile(t, filepath.Join(dir, "previous", "results.json"))
			want := ""
			if c.wantJob != 0 {
				want = fmt.Sprintf("results.json of job %d\n", c.wantJob)
			}
			if got != want {
				t.Errorf("previous/results.json = %q, want %q", got, want)
			}
			if strings.Contains(res.Output, apiToken) {
				t.Errorf("the script printed the API token:\n%s", res.Output)
			}
		})
	}
}

// TestGitLabNightlyVerdict runs the nightly job's last script entry with a
// stand-in zconform whose run exits as told (and writes reports), and the
// real zconform diff.
func TestGitLabNightlyVerdict(t *testing.T) {
	needShellTools(t)
	p := readGitLab(t)
	bin := zconformBinary(t)
	lines, _ := glScript(p.Jobs["nightly-staging"], "script")
	verdict := lines[len(lines)-1]
	if !strings.Contains(verdict, "zconform run") {
		t.Fatalf("nightly-staging: the last entry of its script should run zconform:\n%s", verdict)
	}
	for _, c := range []struct {
		name     string
		previous reports.Outcome // "" for none
		now      reports.Outcome
		runExit  int
		exit     int
	}{
		{"the first night, all well", "", reports.Passed, 0, 0},
		{"no change", reports.Passed, reports.Passed, 0, 0},
		{"a regression the deviations file expects", reports.Passed, reports.Deviated, 0, 0},
		{"a regression", reports.Passed, reports.Failed, 0, 1},
		{"a failing run", reports.Failed, reports.Failed, 1, 1},
		{"a failing first night", "", reports.Failed, 1, 1},
	} {
		t.Run(c.name, func(t *testing.T) {
			t.Parallel()
			dir := t.TempDir()
			stub := t.TempDir()
			prepared := filepath.Join(stub, "reports")
			writeResults(t, prepared, c.now)
			if c.previous != "" {
				writeResults(t, filepath.Join(dir, "previous"), c.previous)
			}
			writeFile(t, filepath.Join(stub, "zconform"), fmt.Sprintf(`#!/bin/bash
if [ "$1" = run ]; then
	echo "$*" >%q
	mkdir -p out && cp %q/* out/
	exit %d
fi
exec %q "$@"
`, filepath.Join(stub, "args"), prepared, c.runExit, bin))
			if err := os.Chmod(filepath.Join(stub, "zconform"), 0o755); err != nil {
				t.Fatal(err)
			}
			var list []string
			for k, v := range p.Variables {
				list = append(list, k+"="+v)
			}
			list = append(list, "PATH="+stub+":"+os.Getenv("PATH"))
			res := runScript(t, verdict, dir, list)
			if res.Exit != c.exit {
				t.Errorf("exit %d, want %d:\n%s", res.Exit, c.exit, res.Output)
			}
			if got := strings.TrimSpace(readFile(t, filepath.Join(stub, "args"))); got != "run -target staging.yaml -deviations staging-deviations.yaml -out out" {
				t.Errorf("zconform was run as %q", got)
			}
		})
	}
}

func sscanf(s, format string, v *int) bool {
	n, err := fmt.Sscanf(s, format, v)
	return err == nil && n == 1 && fmt.Sprintf(format, *v) == s
}

func writeJSONTo(w http.ResponseWriter, v any) {
	data, _ := json.Marshal(v)
	_, _ = w.Write(data)
}

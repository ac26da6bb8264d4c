package examples

import (
	"fmt"
	"os"
	"path/filepath"
	"regexp"
	"slices"
	"strings"
	"testing"

	"github.com/zconform/zconform/fixtures"
	"github.com/zconform/zconform/reports"
	"github.com/zconform/zconform/suites/target"
	"go.yaml.in/yaml/v3"
)

// The release versions the CI files and the README name: in go get/go
// install, image tags and ZCONFORM_VERSION.
var versionMentions = regexp.MustCompile(`zconform/zconform(?:/cmd/zconform)?@v([0-9]+\.[0-9]+\.[0-9]+(?:-[0-9A-Za-z.]+)?)|zconform/zconform:([0-9]+\.[0-9]+\.[0-9]+(?:-[0-9A-Za-z.]+)?)|ZCONFORM_VERSION: "?([0-9]+\.[0-9]+\.[0-9]+(?:-[0-9A-Za-z.]+)?)`)

// versionsIn lists, per file, the versions it names that are not want.
func versionsIn(files map[string]string, want string) []string {
	var bad []string
	for name, text := range files {
		for _, m := range versionMentions.FindAllStringSubmatch(text, -1) {
			v := m[1] + m[2] + m[3]
			if v != want {
				bad = append(bad, fmt.Sprintf("%s: %s names version %s, the others %s", name, m[0], v, want))
			}
		}
	}
	slices.Sort(bad)
	return bad
}

func ciTexts(t *testing.T) map[string]string {
	t.Helper()
	files := map[string]string{}
	err := filepath.WalkDir(".", func(path string, d os.DirEntry, err error) error {
		if err != nil || d.IsDir() {
			return err
		}
		if ext := filepath.Ext(path); ext == ".yml" || ext == ".yaml" || ext == ".md" || ext == ".py" {
			files[path] = readFile(t, path)
		}
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
	return files
}

func TestCIFilesAgreeOnTheVersion(t *testing.T) {
	version := ciVersion(t)
	files := ciTexts(t)
	n := 0
	for _, text := range files {
		n += len(versionMentions.FindAllString(text, -1))
	}
	if n < 6 {
		t.Errorf("only %d mentions of a zconform version in the examples: is versionMentions still right?", n)
	}
	for _, problem := range versionsIn(files, version) {
		t.Error(problem)
	}
	// and the check can fail
	files[gitlabFile] = strings.Replace(files[gitlabFile], "ghcr.io/zconform/zconform:"+version, "ghcr.io/zconform/zconform:9.9.9", 1)
	if got := versionsIn(files, version); len(got) != 1 || !strings.Contains(got[0], "9.9.9") {
		t.Errorf("an image of another version should be the one problem, got %q", got)
	}
}

func TestStagingTemplates(t *testing.T) {
	file, err := target.LoadFile("ci/staging.yaml")
	if err != nil {
		t.Fatalf("the target template does not load: %v", err)
	}
	devs, err := reports.LoadDeviations("ci/staging-deviations.yaml")
	if err != nil {
		t.Fatalf("the deviations template does not load: %v", err)
	}
	var ids []string
	for _, c := range fixtures.Load().Cases {
		ids = append(ids, c.ID)
	}
	if err := devs.Check(ids); err != nil {
		t.Errorf("the deviations template: %v", err)
	}
	if !devs.AppliesTo(file.Name) {
		t.Errorf("the deviations template is for %q, the target template is %q", devs.Target, file.Name)
	}

	// The nightly jobs use these files and give the run the secrets the
	// target file names, from CI secrets.
	secrets := []string{file.Client.SecretEnv, file.Grants.RefreshTokenEnv}
	runs := 0
	for _, s := range githubSteps(t, "run") {
		runs++
		if !strings.Contains(s.Script, "zconform run -target staging.yaml -deviations staging-deviations.yaml") {
			t.Errorf("%s: the run step does not use staging.yaml and staging-deviations.yaml: %s", s.File, s.Script)
		}
		for _, name := range secrets {
			if got, want := s.Env[name], "${{ secrets."+name+" }}"; got != want {
				t.Errorf("%s: the run step's env %s is %q, want %s", s.File, name, got, want)
			}
		}
	}
	gitlab := readFile(t, gitlabFile)
	for _, name := range secrets {
		if !regexp.MustCompile(`(?m)^#\s+` + name + `\s`).MatchString(gitlab) {
			t.Errorf("%s does not list the CI/CD variable %s the target file names", gitlabFile, name)
		}
	}

	// and the loaders reject broken copies
	data := strings.Replace(readFile(t, "ci/staging.yaml"), "1000.STAGINGCLIENT00000000000000001", "1000.staging", 1)
	if _, err := target.ParseFile("staging.yaml", []byte(data)); err == nil || !strings.Contains(err.Error(), "client.id") {
		t.Errorf("a broken client ID should be refused, got %v", err)
	}
	data = strings.Replace(readFile(t, "ci/staging-deviations.yaml"), "TOKEN-CLIENT-WRONG-SECRET", "TOKEN-CLIENT-WRONG-SECRETS", 1)
	if d, err := reports.ParseDeviations("staging-deviations.yaml", []byte(data)); err != nil || d.Check(ids) == nil {
		t.Errorf("an unknown case ID should be refused (%v)", err)
	}
}

// nightlyWiring lists what does not fit together in the GitHub nightly:
// where zconform run writes its reports, where the JUnit reporter and the
// upload look for them, and what the diff compares.
func nightlyWiring(src []byte) []string {
	var wf struct {
		Jobs map[string]struct {
			Steps []struct {
				ID   string         `yaml:"id"`
				Uses string         `yaml:"uses"`
				Run  string         `yaml:"run"`
				With map[string]any `yaml:"with"`
			} `yaml:"steps"`
		} `yaml:"jobs"`
	}
	if err := yaml.Unmarshal(src, &wf); err != nil {
		return []string{err.Error()}
	}
	var bad []string
	for name, job := range wf.Jobs {
		out := ""
		for _, s := range job.Steps {
			if m := outFlag.FindStringSubmatch(s.Run); m != nil {
				out = strings.TrimRight(m[1], "/")
			}
		}
		if out == "" {
			bad = append(bad, "job "+name+": no step runs zconform run -out DIR")
			continue
		}
		for _, s := range job.Steps {
			switch {
			case strings.HasPrefix(s.Uses, "mikepenz/action-junit-report@"):
				if got, want := fmt.Sprint(s.With["report_paths"]), out+"/"+reports.JUnitFile; got != want {
					bad = append(bad, fmt.Sprintf("job %s: the JUnit reporter reads %s, zconform run writes %s", name, got, want))
				}
			case strings.HasPrefix(s.Uses, "actions/upload-artifact@"):
				if got := strings.TrimRight(fmt.Sprint(s.With["path"]), "/"); got != out {
					bad = append(bad, fmt.Sprintf("job %s: the upload keeps %s, zconform run writes %s/", name, got, out))
				}
			case s.ID == "diff":
				if want := "zconform diff previous/" + reports.ResultsFile + " " + out + "/" + reports.ResultsFile; !strings.Contains(s.Run, want) {
					bad = append(bad, fmt.Sprintf("job %s: the diff step does not run %q", name, want))
				}
			}
		}
	}
	return bad
}

func TestGitHubNightlyWiring(t *testing.T) {
	src := []byte(readFile(t, filepath.Join(githubDir, "zconform-nightly-staging.yml")))
	for _, problem := range nightlyWiring(src) {
		t.Error(problem)
	}
	broken := strings.Replace(string(src), "-deviations staging-deviations.yaml -out out", "-deviations staging-deviations.yaml -out reports", 1)
	if got := nightlyWiring([]byte(broken)); len(got) != 3 {
		t.Errorf("reports written to reports/ should break the reporter, the upload and the diff, got %q", got)
	}
}

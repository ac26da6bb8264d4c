package image

import (
	"context"
	"errors"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"runtime"
	"strings"
	"testing"
	"time"
)

// a job of the image's binary: its combined output and exit status
type jobRunner func(args ...string) (out string, code int)

// jobFilter picks the two cases that catch a reused grant: a run of them
// takes well under a second.
const (
	jobFilter = "seed: containsAny {K4-TOKEN-CODE-b}"
	jobBreak  = "K4-TOKEN-CODE-b"
)

// checkJobs holds the image's binary to the other jobs it carries: a
// conformance run against its own fake (which passes, and fails with a
// break of the rule its cases check), a diff of the two runs naming the
// regression, and a certificate for the careful reference. Each run
// writes to a folder relative to the job's working directory.
func checkJobs(t *testing.T, job jobRunner) {
	t.Helper()
	out, code := job("run", "-label-filter", jobFilter, "-out", "good")
	if code != 0 || !strings.Contains(out, "PASS: 2 passed, 0 failed") {
		t.Errorf("zconform run against its own fake: exit %d, want 0 with 2 passed:\n%s", code, out)
	}
	out, code = job("run", "-label-filter", jobFilter, "-break", jobBreak, "-out", "broken")
	if code != 1 || !strings.Contains(out, "TOKEN-CODE-REUSED") {
		t.Errorf("zconform run with -break %s: exit %d, want 1 naming TOKEN-CODE-REUSED:\n%s", jobBreak, code, out)
	}
	out, code = job("diff", "good", "broken")
	if code != 1 || !strings.Contains(out, "REGRESSED") || !strings.Contains(out, "TOKEN-CODE-REUSED: passed → failed") {
		t.Errorf("zconform diff good broken: exit %d, want 1 naming the regression:\n%s", code, out)
	}
	out, code = job("certify", "-adapter", "go:careful", "-out", "cert")
	if code != 0 || !strings.Contains(out, "scenarios passed") || !strings.Contains(out, "certificate in cert") {
		t.Errorf("zconform certify -adapter go:careful: exit %d, want 0 and a certificate:\n%s", code, out)
	}
	out, code = job("certify", "-adapter", "go:liar", "-out", "liar")
	if code != 1 {
		t.Errorf("zconform certify -adapter go:liar: exit %d, want 1:\n%s", code, out)
	}
}

// exitCode is a finished command's exit status (-1 when it did not run).
func exitCode(err error) int {
	var exit *exec.ExitError
	switch {
	case err == nil:
		return 0
	case errors.As(err, &exit):
		return exit.ExitCode()
	}
	return -1
}

// The image's binary, from the unpacked image's own filesystem and with
// no Go on the PATH, runs the conformance, certifies and compares runs.
func TestImageBinaryRunsEveryJob(t *testing.T) {
	if runtime.GOOS != "linux" {
		t.Skipf("the image's binary is for Linux; this is %s", runtime.GOOS)
	}
	_, archive, _ := sharedImage(t)
	idx, _ := readArchive(t, archive)
	img, _ := theImage(t, idx)
	root := rootfs(t, img)
	cf, err := img.ConfigFile()
	if err != nil {
		t.Fatal(err)
	}
	entry := filepath.Join(root, cf.Config.Entrypoint[0])
	work := t.TempDir()
	checkJobs(t, func(args ...string) (string, int) {
		ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
		defer cancel()
		cmd := exec.CommandContext(ctx, entry, args...)
		cmd.Dir = work
		cmd.Env = append(environ(), "PATH="+filepath.Join(root, "nowhere"), "HOME="+work)
		out, err := cmd.CombinedOutput()
		return string(out), exitCode(err)
	})
	for _, f := range []string{"good/junit.xml", "broken/results.json", "cert/summary.md"} {
		if _, err := os.Stat(filepath.Join(work, f)); err != nil {
			t.Errorf("a report is missing: %v", err)
		}
	}
}

// podmanJobs runs the jobs in containers of the image, which share a named
// volume at /out (the image's working directory), as a user would.
func podmanJobs(t *testing.T, p podman, ref string) {
	t.Helper()
	vol := fmt.Sprintf("zconform-jobs-%d", time.Now().UnixNano())
	if out, err := p.output("volume", "create", vol); err != nil {
		t.Fatalf("podman volume create: %v %s", err, out)
	}
	t.Cleanup(func() { _, _ = p.output("volume", "rm", "-f", vol) })
	checkJobs(t, func(args ...string) (string, int) {
		out, err := p.output(p.runArgs(append([]string{"--rm", "-v", vol + ":/out", ref}, args...)...)...)
		return out, exitCode(err)
	})
}

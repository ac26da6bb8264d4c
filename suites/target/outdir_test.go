package target_test

import (
	"bytes"
	"context"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/zconform/zconform/suites/target"
)

func TestOutDirIsZconformOutWhenSet(t *testing.T) {
	dir := filepath.Join(t.TempDir(), "my-reports")
	t.Setenv(target.EnvOut, dir)
	if got := target.OutDir(); got != dir {
		t.Errorf("OutDir() = %q, want $%s = %q", got, target.EnvOut, dir)
	}
	if target.OutDirIsTemporary() {
		t.Errorf("OutDirIsTemporary() with $%s set", target.EnvOut)
	}
}

// Without $ZCONFORM_OUT, the reports go to a fresh temporary folder, the
// same for the whole process: never to the checkout's out/.
func TestOutDirIsATemporaryFolderWhenUnset(t *testing.T) {
	tmp := t.TempDir()
	t.Setenv("TMPDIR", tmp) // os.TempDir, and so OutDir's folder, is in it
	t.Setenv(target.EnvOut, "")
	dir := target.OutDir()
	if !target.OutDirIsTemporary() {
		t.Errorf("OutDirIsTemporary() = false without $%s", target.EnvOut)
	}
	if filepath.Dir(dir) != tmp || !strings.HasPrefix(filepath.Base(dir), "zconform-out-") {
		t.Fatalf("OutDir() = %q, want a zconform-out-* folder in %s", dir, tmp)
	}
	entries, err := os.ReadDir(dir)
	if err != nil || len(entries) != 0 {
		t.Errorf("OutDir() %s: %v, %d entries; want a fresh, empty folder", dir, err, len(entries))
	}
	if again := target.OutDir(); again != dir {
		t.Errorf("OutDir() the second time = %q, want %q again", again, dir)
	}
}

// `go test ./suites/conformance` (here its --dry-run) without
// $ZCONFORM_OUT writes its reports to a temporary folder and leaves the
// checkout's out/ alone.
func TestConformanceSuiteWithoutZconformOutLeavesOutAlone(t *testing.T) {
	if testing.Short() {
		t.Skip("-short: skipping the run of the conformance suite")
	}
	goBin, err := exec.LookPath("go")
	if err != nil {
		t.Skipf("no go command on PATH (%v)", err)
	}
	root, err := filepath.Abs(filepath.Join("..", ".."))
	if err != nil {
		t.Fatal(err)
	}
	out := filepath.Join(root, "out")
	before := snapshot(t, out)

	tmp := t.TempDir()
	ctx, cancel := context.WithTimeout(t.Context(), 5*time.Minute)
	defer cancel()
	cmd := exec.CommandContext(ctx, goBin, "test", "-count=1", "./suites/conformance", "-ginkgo.dry-run")
	cmd.Dir = root
	var env []string
	for _, kv := range os.Environ() {
		if !strings.HasPrefix(kv, target.EnvOut+"=") && !strings.HasPrefix(kv, "TMPDIR=") {
			env = append(env, kv)
		}
	}
	cmd.Env = append(env, "TMPDIR="+tmp)
	var log bytes.Buffer
	cmd.Stdout, cmd.Stderr = &log, &log
	if err := cmd.Run(); err != nil {
		t.Fatalf("go test ./suites/conformance -ginkgo.dry-run: %v\n%s", err, log.String())
	}
	dirs, _ := filepath.Glob(filepath.Join(tmp, "zconform-out-*"))
	if len(dirs) != 1 {
		t.Fatalf("%d zconform-out-* folders in TMPDIR, want 1\n%s", len(dirs), log.String())
	}
	for _, f := range []string{"junit.xml", "ginkgo.json", "results.json", "summary.md", "summary.html"} {
		if _, err := os.Stat(filepath.Join(dirs[0], f)); err != nil {
			t.Errorf("the temporary report folder lacks %s: %v", f, err)
		}
	}
	if after := snapshot(t, out); after != before {
		t.Errorf("the suite changed %s:\nbefore %s\nafter  %s", out, before, after)
	}
}

// snapshot names the files of a report folder with their sizes and
// modification times ("" when there is none).
func snapshot(t *testing.T, dir string) string {
	t.Helper()
	entries, err := os.ReadDir(dir)
	if err != nil {
		return ""
	}
	var b strings.Builder
	for _, e := range entries {
		fi, err := e.Info()
		if err != nil || fi.IsDir() {
			continue
		}
		fmt.Fprintf(&b, "%s %d %s; ", e.Name(), fi.Size(), fi.ModTime().Format(time.RFC3339Nano))
	}
	return b.String()
}

package main

import (
	"bytes"
	"encoding/json"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/zconform/zconform/fixtures"
)

// An installed zconform does every job from any folder with no Go
// toolchain and no checkout: the binary alone, copied to a folder of its
// own, run from an empty folder with a PATH that holds no go.
func TestInstalledBinaryRunsAnywhere(t *testing.T) {
	if testing.Short() {
		t.Skip("builds zconform and runs the suite, the certifier and the fake from it")
	}
	inst := filepath.Join(t.TempDir(), "bin")
	if err := os.MkdirAll(inst, 0o755); err != nil {
		t.Fatal(err)
	}
	data, err := os.ReadFile(buildZconform(t))
	if err != nil {
		t.Fatal(err)
	}
	bin := filepath.Join(inst, "zconform")
	if err := os.WriteFile(bin, data, 0o755); err != nil {
		t.Fatal(err)
	}
	work := t.TempDir()
	path := inst + string(os.PathListSeparator) + "/bin"
	t.Setenv("PATH", path)
	if p, err := exec.LookPath("go"); err == nil {
		t.Fatalf("the PATH %s still finds go at %s: the test would not prove anything", path, p)
	}
	env := []string{"PATH=" + path, "HOME=" + work, "TMPDIR=" + t.TempDir()}
	zc := func(args ...string) (int, string, string) {
		t.Helper()
		cmd := exec.Command(bin, args...)
		cmd.Dir, cmd.Env = work, env
		var stdout, stderr bytes.Buffer
		cmd.Stdout, cmd.Stderr = &stdout, &stderr
		err := cmd.Run()
		code := 0
		if ee, ok := err.(*exec.ExitError); ok {
			code = ee.ExitCode()
		} else if err != nil {
			t.Fatal(err)
		}
		return code, stdout.String(), stderr.String()
	}

	if code, out, _ := zc("version"); code != 0 || !strings.Contains(out, fixtures.CatalogueDigest()) {
		t.Fatalf("version: exit %d\n%s", code, out)
	}
	cases := len(fixtures.Load().Cases)
	code, out, errOut := zc("run", "-out", "reports", "-progress")
	if code != 0 || lastLines(out, 1) != "PASS: "+strconv.Itoa(cases)+" passed, 0 failed, 0 skipped" {
		t.Fatalf("run: exit %d\nstdout:\n%s\nstderr:\n%s", code, out, errOut)
	}
	if !strings.Contains(errOut, "["+strconv.Itoa(cases)+"/"+strconv.Itoa(cases)+"] pass ") {
		t.Errorf("run -progress printed no line for the last case:\n%s", errOut)
	}
	if strings.Contains(out, "••") {
		t.Errorf("run -progress left Ginkgo's line of dots:\n%s", out)
	}
	for _, f := range []string{"junit.xml", "results.json", "summary.md"} {
		if _, err := os.Stat(filepath.Join(work, "reports", f)); err != nil {
			t.Errorf("run wrote no %s: %v", f, err)
		}
	}
	if code, _, errOut := zc("run", "-procs", "2", "-out", "p"); code != 2 || !strings.Contains(errOut, "needs the ginkgo CLI of the zconform checkout") {
		t.Errorf("run -procs 2 outside a checkout: exit %d, %s", code, errOut)
	}
	if code, out, errOut := zc("certify", "-adapter", "go:careful", "-out", "cert"); code != 0 || !strings.Contains(out+errOut, "PASS") {
		t.Fatalf("certify go:careful: exit %d\n%s\n%s", code, out, errOut)
	}

	// the fake, for curl
	ready := filepath.Join(work, "ready.json")
	fake := exec.Command(bin, "fake", "-addr", "127.0.0.1:0", "-ready-file", ready, "-log", "off")
	fake.Dir, fake.Env = work, env
	if err := fake.Start(); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = fake.Process.Kill(); _ = fake.Wait() })
	var info struct {
		Control string `json:"control_api"`
	}
	deadline := time.Now().Add(10 * time.Second)
	for {
		if data, err := os.ReadFile(ready); err == nil && json.Unmarshal(data, &info) == nil && info.Control != "" {
			break
		}
		if time.Now().After(deadline) {
			t.Fatal("the fake wrote no ready file within 10s")
		}
		time.Sleep(20 * time.Millisecond)
	}
	resp, err := http.Get(info.Control + "/clock")
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	if resp.StatusCode != http.StatusOK {
		t.Fatalf("GET %s/clock: HTTP %d", info.Control, resp.StatusCode)
	}
}

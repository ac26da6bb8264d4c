package examples

import (
	"archive/tar"
	"bytes"
	"compress/gzip"
	"context"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"net/http"
	"net/http/httptest"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"runtime"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"
)

// buildDir holds the zconform the tests build, once, for every test.
var (
	buildOnce sync.Once
	buildDir  string
	buildBin  string
	buildErr  error
)

func TestMain(m *testing.M) {
	code := m.Run()
	if buildDir != "" {
		_ = os.RemoveAll(buildDir)
	}
	os.Exit(code)
}

// zconformBinary builds ./cmd/zconform into a temporary folder (once per
// test binary) and returns its path.
func zconformBinary(t *testing.T) string {
	t.Helper()
	buildOnce.Do(func() {
		goTool, err := exec.LookPath("go")
		if err != nil {
			buildErr = fmt.Errorf("no go command on PATH to build zconform: %v", err)
			return
		}
		if buildDir, buildErr = os.MkdirTemp("", "zconform-examples-"); buildErr != nil {
			return
		}
		bin := filepath.Join(buildDir, "zconform")
		start := time.Now()
		cmd := exec.Command(goTool, "build", "-o", bin, "github.com/zconform/zconform/cmd/zconform")
		if out, err := cmd.CombinedOutput(); err != nil {
			buildErr = fmt.Errorf("go build ./cmd/zconform: %v\n%s", err, out)
			return
		}
		buildBin = bin
		if d := time.Since(start); d > 5*time.Second {
			fmt.Fprintf(os.Stderr, "examples: building zconform took %s (a cold build cache)\n", d.Round(time.Millisecond))
		}
	})
	if buildErr != nil {
		t.Fatal(buildErr)
	}
	return buildBin
}

// needShellTools skips the test unless this machine can run the CI files'
// shell steps (Linux, as the CI runners are, with their tools).
func needShellTools(t *testing.T, tools ...string) {
	t.Helper()
	if runtime.GOOS != "linux" {
		t.Skipf("the CI steps run on Linux runners; this is %s", runtime.GOOS)
	}
	for _, tool := range append([]string{"bash"}, tools...) {
		if _, err := exec.LookPath(tool); err != nil {
			t.Skipf("%s is not installed, so the CI files' shell steps cannot run here (Debian: apt-get install %s)", tool, tool)
		}
	}
}

// scriptResult is what a shell step did.
type scriptResult struct {
	Output string // stdout and stderr, interleaved
	Exit   int
}

// runScript runs a CI step's script as GitHub runs `shell: bash` (bash
// --noprofile --norc -eo pipefail), in dir, with exactly env (plus PATH
// and HOME when env has none). Anything it leaves running in the
// background is in its own process group, which is killed when the test
// ends.
func runScript(t *testing.T, script, dir string, env []string) scriptResult {
	t.Helper()
	file := filepath.Join(t.TempDir(), "step.sh")
	if err := os.WriteFile(file, []byte(script), 0o600); err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithTimeout(context.Background(), 60*time.Second)
	defer cancel()
	cmd := exec.CommandContext(ctx, "bash", "--noprofile", "--norc", "-eo", "pipefail", file)
	cmd.Dir = dir
	cmd.Env = withDefaults(env)
	cmd.SysProcAttr = &syscall.SysProcAttr{Setpgid: true}
	// A background process that keeps the step's output open keeps a
	// GitHub step from ending: here, Wait gives up on it after WaitDelay.
	cmd.WaitDelay = 5 * time.Second
	var out bytes.Buffer
	cmd.Stdout, cmd.Stderr = &out, &out
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	pgid := cmd.Process.Pid
	t.Cleanup(func() { _ = syscall.Kill(-pgid, syscall.SIGKILL) })
	err := cmd.Wait()
	res := scriptResult{Output: out.String()}
	var exit *exec.ExitError
	switch {
	case errors.As(err, &exit):
		res.Exit = exit.ExitCode()
	case errors.Is(err, exec.ErrWaitDelay):
		t.Fatalf("the step ended, but something it started in the background still holds its output open: on a CI runner the step would never end (redirect the background process's output)\n%s", res.Output)
	case err != nil:
		t.Fatalf("running the step: %v\n%s", err, res.Output)
	}
	if ctx.Err() != nil {
		t.Fatalf("the step did not end within 60s:\n%s", res.Output)
	}
	return res
}

func withDefaults(env []string) []string {
	has := func(k string) bool {
		for _, kv := range env {
			if strings.HasPrefix(kv, k+"=") {
				return true
			}
		}
		return false
	}
	out := append([]string(nil), env...)
	for _, k := range []string{"PATH", "HOME", "TMPDIR"} {
		if !has(k) {
			if v, ok := os.LookupEnv(k); ok {
				out = append(out, k+"="+v)
			}
		}
	}
	return out
}

// envFile reads a GITHUB_ENV or GITHUB_OUTPUT file of NAME=value lines.
func envFile(t *testing.T, path string) map[string]string {
	t.Helper()
	data, err := os.ReadFile(path)
	if err != nil && !errors.Is(err, os.ErrNotExist) {
		t.Fatal(err)
	}
	m := map[string]string{}
	for _, line := range strings.Split(string(data), "\n") {
		if k, v, ok := strings.Cut(line, "="); ok {
			m[k] = v
		}
	}
	return m
}

// fake is a zconform fake the test started, as a service container would
// run it.
type fake struct {
	URL     string
	Control string
	Ready   string
	cmd     *exec.Cmd
}

// startFake runs `zconform fake -addr 127.0.0.1:0 -ready-file …`, with
// ZCONFORM_CONTROL_TOKEN=token when token is not empty, and waits for it.
func startFake(t *testing.T, token string) *fake {
	t.Helper()
	bin := zconformBinary(t)
	dir := t.TempDir()
	ready := filepath.Join(dir, "ready.json")
	cmd := exec.Command(bin, "fake", "-addr", "127.0.0.1:0", "-ready-file", ready, "-log", "off")
	cmd.Env = os.Environ()
	if token != "" {
		cmd.Env = append(cmd.Env, "ZCONFORM_CONTROL_TOKEN="+token)
	}
	logFile, err := os.Create(filepath.Join(dir, "fake.log"))
	if err != nil {
		t.Fatal(err)
	}
	defer logFile.Close()
	cmd.Stdout, cmd.Stderr = logFile, logFile
	logText := func() string { data, _ := os.ReadFile(logFile.Name()); return string(data) }
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	done := make(chan struct{})
	go func() { _ = cmd.Wait(); close(done) }()
	t.Cleanup(func() {
		_ = cmd.Process.Signal(syscall.SIGTERM)
		select {
		case <-done:
		case <-time.After(10 * time.Second):
			_ = cmd.Process.Kill()
			<-done
		}
	})
	deadline := time.Now().Add(15 * time.Second)
	for {
		data, err := os.ReadFile(ready)
		if err == nil {
			var info struct {
				URL     string `json:"url"`
				Control string `json:"control_api"`
			}
			if err := json.Unmarshal(data, &info); err != nil {
				t.Fatalf("ready file: %v\n%s", err, data)
			}
			return &fake{URL: info.URL, Control: info.Control, Ready: ready, cmd: cmd}
		}
		select {
		case <-done:
			t.Fatalf("zconform fake exited before it was ready:\n%s", logText())
		case <-time.After(20 * time.Millisecond):
		}
		if time.Now().After(deadline) {
			t.Fatalf("zconform fake was not ready after 15s:\n%s", logText())
		}
	}
}

// ciVersion is the zconform release the CI files install, read from the
// GitLab file (every file must agree: TestCIFilesAgreeOnTheVersion).
func ciVersion(t *testing.T) string {
	t.Helper()
	data, err := os.ReadFile(gitlabFile)
	if err != nil {
		t.Fatal(err)
	}
	m := regexp.MustCompile(`(?m)^  ZCONFORM_VERSION: "?([0-9]+\.[0-9]+\.[0-9]+)"?\s*$`).FindSubmatch(data)
	if m == nil {
		t.Fatalf("%s: no ZCONFORM_VERSION under variables:", gitlabFile)
	}
	return string(m[1])
}

// releaseServer serves zconform release downloads as GitHub does
// (/v{version}/zconform_{version}_linux_amd64.tar.gz and /v{version}/SHA256SUMS),
// under a prefix per layout:
//
//	/flat    the binary at the archive's root
//	/nested  the binary in a folder of the archive
//	/badsum  a checksum that does not match
//	/nosum   SHA256SUMS without the archive's line
//	/nobin   an archive without the binary
//
// The archived zconform is a small stand-in that answers `zconform version`:
// the steps' logic is under test, not the binary (and gzip of the real one
// is slow under -race).
func releaseServer(t *testing.T, version string) string {
	t.Helper()
	bin := []byte("#!/bin/sh\n# stands in for zconform " + version + "\n" +
		"[ \"$1\" = version ] && { echo 'zconform v" + version + "'; exit 0; }\nexit 2\n")
	name := fmt.Sprintf("zconform_%s_linux_amd64.tar.gz", version)
	archive := func(files map[string][]byte) []byte {
		var buf bytes.Buffer
		gz, _ := gzip.NewWriterLevel(&buf, gzip.BestSpeed)
		tw := tar.NewWriter(gz)
		for path, data := range files {
			_ = tw.WriteHeader(&tar.Header{Name: path, Mode: 0o755, Size: int64(len(data)), Typeflag: tar.TypeReg, ModTime: time.Now()})
			_, _ = tw.Write(data)
		}
		_ = tw.Close()
		_ = gz.Close()
		return buf.Bytes()
	}
	sum := func(data []byte) string { s := sha256.Sum256(data); return hex.EncodeToString(s[:]) }
	type release struct{ archive, sums []byte }
	flat := archive(map[string][]byte{"zconform": bin, "LICENSE": []byte("MIT\n")})
	nested := archive(map[string][]byte{"zconform_" + version + "_linux_amd64/zconform": bin})
	nobin := archive(map[string][]byte{"LICENSE": []byte("MIT\n")})
	other := "0000000000000000000000000000000000000000000000000000000000000000  zconform_" + version + "_darwin_arm64.tar.gz\n"
	releases := map[string]release{
		"flat":   {flat, []byte(other + sum(flat) + "  " + name + "\n")},
		"nested": {nested, []byte(sum(nested) + " *" + name + "\n" + other)},
		"badsum": {flat, []byte(sum(nested) + "  " + name + "\n")},
		"nosum":  {flat, []byte(other)},
		"nobin":  {nobin, []byte(sum(nobin) + "  " + name + "\n")},
	}
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		parts := strings.Split(strings.TrimPrefix(r.URL.Path, "/"), "/")
		if len(parts) != 3 || parts[1] != "v"+version {
			http.NotFound(w, r)
			return
		}
		rel, ok := releases[parts[0]]
		switch {
		case !ok:
			http.NotFound(w, r)
		case parts[2] == name:
			_, _ = w.Write(rel.archive)
		case parts[2] == "SHA256SUMS":
			_, _ = w.Write(rel.sums)
		default:
			http.NotFound(w, r)
		}
	}))
	t.Cleanup(srv.Close)
	return srv.URL
}

// readFile reads a file; a missing one reads as "".
func readFile(t *testing.T, path string) string {
	t.Helper()
	data, err := os.ReadFile(path)
	if err != nil && !errors.Is(err, os.ErrNotExist) {
		t.Fatal(err)
	}
	return string(data)
}

// writeFile writes a file, creating its folders.
func writeFile(t *testing.T, path, text string) {
	t.Helper()
	if err := os.MkdirAll(filepath.Dir(path), 0o755); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(path, []byte(text), 0o644); err != nil {
		t.Fatal(err)
	}
}

func writeJSON(t *testing.T, path string, v any) {
	t.Helper()
	data, err := json.MarshalIndent(v, "", "  ")
	if err != nil {
		t.Fatal(err)
	}
	writeFile(t, path, string(data))
}

// httpStatus GETs a URL (with a bearer token, if one is given) and returns the status.
func httpStatus(t *testing.T, url, token string) int {
	t.Helper()
	req, err := http.NewRequest(http.MethodGet, url, nil)
	if err != nil {
		t.Fatal(err)
	}
	if token != "" {
		req.Header.Set("Authorization", "Bearer "+token)
	}
	client := &http.Client{Timeout: 10 * time.Second}
	resp, err := client.Do(req)
	if err != nil {
		t.Fatalf("GET %s: %v", url, err)
	}
	resp.Body.Close()
	return resp.StatusCode
}

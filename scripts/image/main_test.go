package main

import (
	"archive/tar"
	"bytes"
	"encoding/json"
	"io"
	"os"
	"os/exec"
	"path/filepath"
	"runtime"
	"strings"
	"testing"
)

// staticHello builds a small static Linux program: what the builder takes,
// quicker than zconform.
func staticHello(t *testing.T) string {
	t.Helper()
	dir := t.TempDir()
	_ = os.WriteFile(filepath.Join(dir, "go.mod"), []byte("module hello\n\ngo 1.22\n"), 0o644)
	_ = os.WriteFile(filepath.Join(dir, "main.go"), []byte("package main\n\nfunc main() { println(\"hello\") }\n"), 0o644)
	cmd := exec.Command("go", "build", "-trimpath", "-o", "hello", ".")
	cmd.Dir = dir
	cmd.Env = append(os.Environ(), "CGO_ENABLED=0", "GOOS=linux", "GOARCH="+runtime.GOARCH, "GOWORK=off", "GOFLAGS=")
	if out, err := cmd.CombinedOutput(); err != nil {
		t.Fatalf("go build hello: %v\n%s", err, out)
	}
	return filepath.Join(dir, "hello")
}

func TestCommand(t *testing.T) {
	if _, err := os.Stat("/etc/ssl/certs/ca-certificates.crt"); err != nil {
		t.Skipf("no CA bundle to ship: %v", err)
	}
	dir := t.TempDir()
	script := filepath.Join(dir, "zconform")
	_ = os.WriteFile(script, []byte("#!/bin/sh\n"), 0o755)
	out := filepath.Join(dir, "zconform-image.tar")
	for _, c := range []struct {
		args []string
		code int
		want string
	}{
		{nil, 2, "-binary is required"},
		{[]string{"-binary", script, "extra"}, 2, `unexpected argument "extra"`},
		{[]string{"-binary", script, "-created", "yesterday"}, 2, "-created"},
		{[]string{"-binary", script, "-o", out}, 1, "is not a Linux executable"},
	} {
		var stdout, stderr bytes.Buffer
		if code := run(c.args, &stdout, &stderr); code != c.code || !strings.Contains(stderr.String(), c.want) {
			t.Errorf("%q: exit %d, stderr %q; want %d and %q", c.args, code, stderr.String(), c.code, c.want)
		}
	}
	if _, err := os.Stat(out); !os.IsNotExist(err) {
		t.Errorf("a refused build left %s: %v", out, err)
	}

	var stdout, stderr bytes.Buffer
	args := []string{"-binary", staticHello(t), "-version", "v9.9.9", "-commit", "feedface", "-licenses", "MIT", "-created", "2026-01-02T03:04:05Z", "-o", out}
	if code := run(args, &stdout, &stderr); code != 0 {
		t.Fatalf("exit %d: %s", code, stderr.String())
	}
	for _, w := range []string{"wrote " + out + ": zconform:9.9.9 (linux/" + runtime.GOARCH + " sha256:", "podman load -i " + out, "ZCONFORM_CONTROL_TOKEN"} {
		if !strings.Contains(stdout.String(), w) {
			t.Errorf("stdout lacks %q:\n%s", w, stdout.String())
		}
	}
	f, err := os.Open(out)
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	tr := tar.NewReader(f)
	var index struct {
		Manifests []struct {
			Annotations map[string]string
		}
	}
	for {
		h, err := tr.Next()
		if err == io.EOF {
			break
		}
		if err != nil {
			t.Fatal(err)
		}
		if h.Name == "index.json" {
			if err := json.NewDecoder(tr).Decode(&index); err != nil {
				t.Fatal(err)
			}
		}
	}
	if len(index.Manifests) != 1 || index.Manifests[0].Annotations["org.opencontainers.image.ref.name"] != "9.9.9" {
		t.Errorf("index.json: %+v", index)
	}
}

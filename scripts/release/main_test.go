package main

import (
	"archive/tar"
	"bytes"
	"compress/gzip"
	"crypto/sha256"
	"encoding/hex"
	"io"
	"os"
	"os/exec"
	"path/filepath"
	"runtime"
	"strings"
	"testing"
	"time"
)

// A release for this machine's platform: the archive holds the binary and
// the docs, the binary says the release's version and commit, SHA256SUMS
// matches, and a second release of the version does not overwrite the
// first.
func TestRelease(t *testing.T) {
	if testing.Short() {
		t.Skip("builds a static zconform")
	}
	t.Chdir("../..")
	out := t.TempDir()
	platform := runtime.GOOS + "/" + runtime.GOARCH
	args := []string{"-version", "v9.8.7-rc.1", "-commit", "0123456789ab", "-out", out, "-platforms", platform}
	t.Setenv("SOURCE_DATE_EPOCH", "1700000000")
	var stdout, stderr bytes.Buffer
	if code := run(args, &stdout, &stderr); code != 0 {
		t.Fatalf("exit %d\n%s%s", code, stdout.String(), stderr.String())
	}
	name := "zconform_9.8.7-rc.1_" + runtime.GOOS + "_" + runtime.GOARCH + ".tar.gz"
	if runtime.GOOS == "windows" {
		t.Skip("the test reads a tar.gz")
	}
	data, err := os.ReadFile(filepath.Join(out, name))
	if err != nil {
		t.Fatal(err)
	}
	sums, err := os.ReadFile(filepath.Join(out, "SHA256SUMS"))
	sum := sha256.Sum256(data)
	if err != nil || string(sums) != hex.EncodeToString(sum[:])+"  "+name+"\n" {
		t.Fatalf("SHA256SUMS %q, %v", sums, err)
	}
	gz, err := gzip.NewReader(bytes.NewReader(data))
	if err != nil {
		t.Fatal(err)
	}
	tr := tar.NewReader(gz)
	dir := strings.TrimSuffix(name, ".tar.gz") + "/"
	var entries []string
	bin := filepath.Join(t.TempDir(), "zconform")
	for {
		h, err := tr.Next()
		if err == io.EOF {
			break
		}
		if err != nil {
			t.Fatal(err)
		}
		entries = append(entries, h.Name)
		if h.Name == dir+"zconform" {
			if h.Mode != 0o755 || h.Uid != 0 || h.ModTime.Unix() != 1700000000 {
				t.Errorf("the binary's entry: mode %o uid %d time %v", h.Mode, h.Uid, h.ModTime)
			}
			b, _ := io.ReadAll(tr)
			if err := os.WriteFile(bin, b, 0o755); err != nil {
				t.Fatal(err)
			}
		}
	}
	want := []string{dir, dir + "CHANGELOG.md", dir + "LICENSE", dir + "README.md", dir + "zconform"}
	if strings.Join(entries, ",") != strings.Join(want, ",") {
		t.Fatalf("entries %v, want %v", entries, want)
	}
	v, err := exec.Command(bin, "version").Output()
	if err != nil || !strings.Contains(string(v), "zconform v9.8.7-rc.1\ncommit:       0123456789ab\n") {
		t.Fatalf("the released binary says %q (%v)", v, err)
	}

	// the first folder's release is not overwritten
	stderr.Reset()
	if code := run(args, io.Discard, &stderr); code != 2 || !strings.Contains(stderr.String(), "a release is not overwritten") {
		t.Fatalf("a second release into %s: exit %d %s", out, code, stderr.String())
	}
	for _, bad := range []string{"0.2.0", "v1.2", "v01.2.3", "latest"} {
		stderr.Reset()
		if code := run([]string{"-version", bad}, io.Discard, &stderr); code != 2 || !strings.Contains(stderr.String(), "not a semantic version tag") {
			t.Errorf("-version %q: exit %d %s", bad, code, stderr.String())
		}
	}
}

// The same files give the same archive, byte for byte, whatever their
// times and owners on disk.
func TestArchivesAreReproducible(t *testing.T) {
	dir := t.TempDir()
	files := map[string]string{}
	for _, n := range []string{"zconform", "LICENSE", "README.md"} {
		p := filepath.Join(dir, n)
		if err := os.WriteFile(p, []byte("content of "+n), 0o600); err != nil {
			t.Fatal(err)
		}
		files[n] = p
	}
	r := releaser{version: "v1.0.0", date: time.Unix(1700000000, 0).UTC()}
	var a, b, z1, z2 bytes.Buffer
	if err := r.tarTo(&a, "d", files); err != nil {
		t.Fatal(err)
	}
	if err := r.zipTo(&z1, "d", files); err != nil {
		t.Fatal(err)
	}
	for _, p := range files {
		if err := os.Chtimes(p, time.Now(), time.Now().Add(time.Hour)); err != nil {
			t.Fatal(err)
		}
	}
	if err := r.tarTo(&b, "d", files); err != nil {
		t.Fatal(err)
	}
	if err := r.zipTo(&z2, "d", files); err != nil {
		t.Fatal(err)
	}
	if !bytes.Equal(a.Bytes(), b.Bytes()) || !bytes.Equal(z1.Bytes(), z2.Bytes()) {
		t.Fatal("the same files packed twice differ")
	}
	r.date = r.date.Add(time.Second)
	var c bytes.Buffer
	if err := r.tarTo(&c, "d", files); err != nil {
		t.Fatal(err)
	}
	if bytes.Equal(a.Bytes(), c.Bytes()) {
		t.Fatal("the archive does not carry its date")
	}
}

package image

import (
	"archive/tar"
	"bytes"
	"context"
	"crypto/sha256"
	"crypto/tls"
	"crypto/x509"
	"debug/elf"
	"encoding/json"
	"errors"
	"io"
	"maps"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"runtime"
	"slices"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	v1 "github.com/google/go-containerregistry/pkg/v1"
	"github.com/google/go-containerregistry/pkg/v1/layout"
	"github.com/google/go-containerregistry/pkg/v1/mutate"
	"github.com/google/go-containerregistry/pkg/v1/types"
)

const (
	testVersion = "v0.0.0-imagetest"
	testTag     = "0.0.0-imagetest" // the version as the image's tag
	testCommit  = "0123456789ab"
	testToken   = "image-test-control-token"
)

// The static zconform binary and the archive the tests share: built once
// per test binary, in a temporary folder.
var (
	shared struct {
		once    sync.Once
		dir     string
		binary  string
		archive string
		built   *Built
		err     error
	}
	hello struct {
		once   sync.Once
		binary string
	}
)

func TestMain(m *testing.M) {
	code := m.Run()
	if shared.dir != "" {
		os.RemoveAll(shared.dir)
	}
	os.Exit(code)
}

// goBuild builds a package as the image wants it: static, for Linux.
func goBuild(t *testing.T, out, pkg, goarch string, ldflags ...string) {
	t.Helper()
	args := []string{"build", "-trimpath", "-o", out}
	if len(ldflags) > 0 {
		args = append(args, "-ldflags", strings.Join(ldflags, " "))
	}
	cmd := exec.Command("go", append(args, pkg)...)
	cmd.Env = append(os.Environ(), "CGO_ENABLED=0", "GOOS=linux", "GOARCH="+goarch)
	if out, err := cmd.CombinedOutput(); err != nil {
		t.Fatalf("go build %s: %v\n%s", pkg, err, out)
	}
}

// sharedImage is zconform's image for this machine's architecture, built
// from a static binary with the test's version and commit.
func sharedImage(t *testing.T) (binary, archive string, built *Built) {
	t.Helper()
	if _, err := os.Stat(CACertsPath); err != nil {
		t.Skipf("no CA bundle at %s to ship (install Debian's ca-certificates): %v", CACertsPath, err)
	}
	shared.once.Do(func() {
		dir, err := os.MkdirTemp("", "zconform-image-test-*")
		if err != nil {
			shared.err = err
			return
		}
		shared.dir = dir
		shared.binary = filepath.Join(dir, "zconform")
		goBuild(t, shared.binary, "github.com/zconform/zconform/cmd/zconform", runtime.GOARCH,
			"-X github.com/zconform/zconform/internal/version.version="+testVersion,
			"-X github.com/zconform/zconform/internal/version.commit="+testCommit)
		shared.built, shared.err = Build(Options{Binaries: []string{shared.binary}, Name: "zconform-imagetest",
			Version: testVersion, Commit: testCommit, Licenses: "MIT"})
		if shared.err != nil {
			return
		}
		shared.archive = filepath.Join(dir, "zconform-image.tar")
		shared.err = shared.built.WriteArchive(shared.archive)
	})
	if shared.err != nil {
		t.Fatal(shared.err)
	}
	if shared.archive == "" {
		t.Fatal("the shared image was not built (see the first test's failure)")
	}
	return shared.binary, shared.archive, shared.built
}

// helloBinary is a small static Linux program, for the tests that build
// images without running them: quicker to compress than zconform.
func helloBinary(t *testing.T) string {
	t.Helper()
	sharedImage(t) // for its folder, cleaned up after the tests
	hello.once.Do(func() {
		dir := filepath.Join(shared.dir, "hello")
		if err := os.MkdirAll(dir, 0o755); err != nil {
			t.Fatal(err)
		}
		_ = os.WriteFile(filepath.Join(dir, "go.mod"), []byte("module hello\n\ngo 1.22\n"), 0o644)
		_ = os.WriteFile(filepath.Join(dir, "main.go"), []byte("package main\n\nfunc main() { println(\"hello\") }\n"), 0o644)
		cmd := exec.Command("go", "build", "-trimpath", "-o", "hello", ".")
		cmd.Dir = dir
		cmd.Env = append(os.Environ(), "CGO_ENABLED=0", "GOOS=linux", "GOARCH="+runtime.GOARCH, "GOWORK=off", "GOFLAGS=")
		if out, err := cmd.CombinedOutput(); err != nil {
			t.Fatalf("go build hello: %v\n%s", err, out)
		}
		hello.binary = filepath.Join(dir, "hello")
	})
	if hello.binary == "" {
		t.Fatal("the hello binary was not built (see the first test's failure)")
	}
	return hello.binary
}

// readArchive reads an OCI archive back: its layout's index.
func readArchive(t *testing.T, archive string) (v1.ImageIndex, string) {
	t.Helper()
	dir := t.TempDir()
	f, err := os.Open(archive)
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	tr := tar.NewReader(f)
	for {
		h, err := tr.Next()
		if err == io.EOF {
			break
		}
		if err != nil {
			t.Fatal(err)
		}
		if h.Uid != 0 || h.Gid != 0 || !h.ModTime.Equal(time.Unix(0, 0)) || h.Uname != "" {
			t.Errorf("archive entry %s: owner %d:%d %q, time %s: want root's, at the epoch, no names", h.Name, h.Uid, h.Gid, h.Uname, h.ModTime)
		}
		p := filepath.Join(dir, filepath.FromSlash(h.Name))
		if h.Typeflag == tar.TypeDir {
			if err := os.MkdirAll(p, 0o755); err != nil {
				t.Fatal(err)
			}
			continue
		}
		data, err := io.ReadAll(tr)
		if err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(p, data, 0o644); err != nil {
			t.Fatal(err)
		}
	}
	idx, err := layout.ImageIndexFromPath(dir)
	if err != nil {
		t.Fatalf("the archive is no OCI image layout: %v", err)
	}
	return idx, dir
}

// theImage is the single image an archive's index.json names, with its
// descriptor there.
func theImage(t *testing.T, idx v1.ImageIndex) (v1.Image, v1.Descriptor) {
	t.Helper()
	im, err := idx.IndexManifest()
	if err != nil {
		t.Fatal(err)
	}
	if len(im.Manifests) != 1 || im.Manifests[0].MediaType != types.OCIManifestSchema1 {
		t.Fatalf("index.json lists %+v: want one OCI image manifest", im.Manifests)
	}
	img, err := idx.Image(im.Manifests[0].Digest)
	if err != nil {
		t.Fatal(err)
	}
	return img, im.Manifests[0]
}

// file is one entry of an image's filesystem.
type file struct {
	hdr  *tar.Header
	data []byte
}

// filesystem flattens an image's layers.
func filesystem(t *testing.T, img v1.Image) map[string]file {
	t.Helper()
	rc := mutate.Extract(img)
	defer rc.Close()
	tr := tar.NewReader(rc)
	files := map[string]file{}
	for {
		h, err := tr.Next()
		if err == io.EOF {
			return files
		}
		if err != nil {
			t.Fatal(err)
		}
		data, err := io.ReadAll(tr)
		if err != nil {
			t.Fatal(err)
		}
		files["/"+strings.TrimSuffix(h.Name, "/")] = file{h, data}
	}
}

// The image is what the issue asks: the static binary, CA certificates,
// /tmp, /certs and /out, run as nonroot with the fake as its command; its
// archive is an OCI layout that names it.
func TestImageConfigAndFilesystem(t *testing.T) {
	binary, archive, built := sharedImage(t)
	idx, _ := readArchive(t, archive)
	img, desc := theImage(t, idx)
	if got := desc.Annotations["org.opencontainers.image.ref.name"]; got != testTag {
		t.Errorf("ref.name = %q, want the tag %q", got, testTag)
	}
	if got := desc.Annotations["io.containerd.image.name"]; got != "localhost/zconform-imagetest:"+testTag {
		t.Errorf("io.containerd.image.name = %q", got)
	}
	if desc.Platform == nil || desc.Platform.OS != "linux" || desc.Platform.Architecture != runtime.GOARCH {
		t.Errorf("platform = %+v, want linux/%s", desc.Platform, runtime.GOARCH)
	}
	if built.Ref != "zconform-imagetest:"+testTag {
		t.Errorf("ref = %q", built.Ref)
	}
	m, err := img.Manifest()
	if err != nil {
		t.Fatal(err)
	}
	if m.Config.MediaType != types.OCIConfigJSON || len(m.Layers) != 1 || m.Layers[0].MediaType != types.OCILayer {
		t.Errorf("manifest: config %s, layers %+v: want OCI media types and one layer (from scratch)", m.Config.MediaType, m.Layers)
	}
	cf, err := img.ConfigFile()
	if err != nil {
		t.Fatal(err)
	}
	c := cf.Config
	wantLabels := map[string]string{
		"org.opencontainers.image.version":  testVersion,
		"org.opencontainers.image.revision": testCommit,
		"org.opencontainers.image.source":   "https://github.com/zconform/zconform",
		"org.opencontainers.image.licenses": "MIT",
		"org.opencontainers.image.title":    "zconform",
		"org.opencontainers.image.created":  "1970-01-01T00:00:00Z",
	}
	for k, v := range wantLabels {
		if c.Labels[k] != v {
			t.Errorf("label %s = %q, want %q", k, c.Labels[k], v)
		}
		if m.Annotations[k] != v {
			t.Errorf("manifest annotation %s = %q, want %q", k, m.Annotations[k], v)
		}
	}
	switch {
	case !slices.Equal(c.Entrypoint, []string{"/zconform"}):
		t.Errorf("Entrypoint = %q", c.Entrypoint)
	case !slices.Equal(c.Cmd, []string{"fake", "-addr", "0.0.0.0:8080", "-ready-file", "/tmp/ready.json"}):
		t.Errorf("Cmd = %q", c.Cmd)
	case c.User != "65532:65532":
		t.Errorf("User = %q, want 65532:65532 (not root)", c.User)
	case c.WorkingDir != "/out":
		t.Errorf("WorkingDir = %q", c.WorkingDir)
	case !slices.Equal(slices.Sorted(maps.Keys(c.ExposedPorts)), []string{"8080/tcp"}):
		t.Errorf("ExposedPorts = %v", c.ExposedPorts)
	case !slices.Equal(slices.Sorted(maps.Keys(c.Volumes)), []string{"/certs"}):
		t.Errorf("Volumes = %v", c.Volumes)
	case cf.OS != "linux" || cf.Architecture != runtime.GOARCH:
		t.Errorf("config platform %s/%s", cf.OS, cf.Architecture)
	case !cf.Created.Equal(time.Unix(0, 0)):
		t.Errorf("created %s, want the epoch (reproducible)", cf.Created)
	}

	fs := filesystem(t, img)
	bin, _ := os.ReadFile(binary)
	cas, _ := os.ReadFile(CACertsPath)
	type want struct {
		dir  bool
		mode int64
		uid  int
		data []byte
	}
	wants := map[string]want{
		"/zconform":                          {mode: 0o755, data: bin},
		"/etc/ssl/certs/ca-certificates.crt": {mode: 0o644, data: cas},
		"/tmp":                               {dir: true, mode: 0o1777},
		"/certs":                             {dir: true, mode: 0o755, uid: UID},
		"/out":                               {dir: true, mode: 0o755, uid: UID},
		"/home/nonroot":                      {dir: true, mode: 0o755, uid: UID},
		"/etc/passwd":                        {mode: 0o644, data: []byte("root:x:0:0:root:/root:/sbin/nologin\nnonroot:x:65532:65532:nonroot:/home/nonroot:/sbin/nologin\n")},
		"/etc/group":                         {mode: 0o644, data: []byte("root:x:0:\nnonroot:x:65532:\n")},
	}
	for name, w := range wants {
		f, ok := fs[name]
		switch {
		case !ok:
			t.Errorf("the image has no %s", name)
		case (f.hdr.Typeflag == tar.TypeDir) != w.dir:
			t.Errorf("%s: type %c", name, f.hdr.Typeflag)
		case f.hdr.Mode&0o7777 != w.mode:
			t.Errorf("%s: mode %o, want %o", name, f.hdr.Mode, w.mode)
		case f.hdr.Uid != w.uid || f.hdr.Gid != w.uid:
			t.Errorf("%s: owner %d:%d, want %d", name, f.hdr.Uid, f.hdr.Gid, w.uid)
		case !w.dir && !bytes.Equal(f.data, w.data):
			t.Errorf("%s: %d bytes, not the %d expected", name, len(f.data), len(w.data))
		}
	}
	var extra []string
	for name, f := range fs {
		if _, ok := wants[name]; !ok && f.hdr.Typeflag != tar.TypeDir {
			extra = append(extra, name)
		}
	}
	if len(extra) > 0 {
		t.Errorf("files the image should not hold: %v", extra)
	}
}

// rootfs unpacks an image's filesystem into a folder: the files and the
// folders (permissions aside, which the test's user may not set).
func rootfs(t *testing.T, img v1.Image) string {
	t.Helper()
	root := t.TempDir()
	for name, f := range filesystem(t, img) {
		p := filepath.Join(root, filepath.FromSlash(name))
		if f.hdr.Typeflag == tar.TypeDir {
			if err := os.MkdirAll(p, 0o755); err != nil {
				t.Fatal(err)
			}
			continue
		}
		if err := os.MkdirAll(filepath.Dir(p), 0o755); err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(p, f.data, os.FileMode(f.hdr.Mode)&0o777); err != nil {
			t.Fatal(err)
		}
	}
	return root
}

// environ is this process's environment without the control token, plus
// extra.
func environ(extra ...string) []string {
	var env []string
	for _, kv := range os.Environ() {
		if !strings.HasPrefix(kv, "ZCONFORM_CONTROL_TOKEN=") {
			env = append(env, kv)
		}
	}
	return append(env, extra...)
}

// request answers the status and body of a GET with an optional token.
func request(t *testing.T, hc *http.Client, url, token string) (int, string) {
	t.Helper()
	req, _ := http.NewRequest(http.MethodGet, url, nil)
	if token != "" {
		req.Header.Set("Authorization", "Bearer "+token)
	}
	resp, err := hc.Do(req)
	if err != nil {
		return 0, err.Error()
	}
	defer resp.Body.Close()
	body, _ := io.ReadAll(resp.Body)
	return resp.StatusCode, string(body)
}

// checkServes checks a fake at base: health and readiness for anyone, the
// control API with the token only.
func checkServes(t *testing.T, hc *http.Client, base string) {
	t.Helper()
	for _, p := range []string{"/_zconform/health", "/_zconform/ready"} {
		if code, body := request(t, hc, base+p, ""); code != 200 || body != `{"status":"ok"}` {
			t.Errorf("GET %s%s = %d %s, want 200 {\"status\":\"ok\"}", base, p, code, body)
		}
	}
	if code, body := request(t, hc, base+"/_zconform/v1/clock", testToken); code != 200 || !strings.Contains(body, `"virtual":true`) {
		t.Errorf("the control API with the token: %d %s", code, body)
	}
	if code, body := request(t, hc, base+"/_zconform/v1/clock", ""); code != http.StatusUnauthorized {
		t.Errorf("the control API without the token: %d %s, want 401", code, body)
	}
}

// The binary taken from the image's own filesystem runs: `version` (or
// `catalogue` where there is no `version` yet), and the image's command
// serves the fake with the token (on a free port of 0.0.0.0, its ready
// file in the image's /tmp), and refuses to start without it.
func TestImageBinaryServesTheFake(t *testing.T) {
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

	if out, err := exec.Command(entry, "version").CombinedOutput(); err != nil || !strings.Contains(string(out), testVersion) {
		t.Errorf("zconform version from the image: %v; want it to name %s:\n%s", err, testVersion, out)
	}

	// the image's command, on a free port and with its /tmp in the unpacked tree
	args := slices.Clone(cf.Config.Cmd)
	ready := ""
	for i, a := range args {
		switch {
		case a == "0.0.0.0:8080":
			args[i] = "0.0.0.0:0"
		case strings.HasPrefix(a, "/tmp/"):
			args[i] = filepath.Join(root, a)
			ready = args[i]
		}
	}
	if ready == "" || !slices.Contains(args, "0.0.0.0:0") {
		t.Fatalf("the image's command %q has no ready file in /tmp or no 0.0.0.0:8080", cf.Config.Cmd)
	}

	// without the token it refuses, at once
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	refused := exec.CommandContext(ctx, entry, args...)
	refused.Env = environ()
	refused.Dir = filepath.Join(root, cf.Config.WorkingDir)
	var stderr bytes.Buffer
	refused.Stderr = &stderr
	err = refused.Run()
	var exit *exec.ExitError
	if !errors.As(err, &exit) || exit.ExitCode() != 2 || !strings.Contains(stderr.String(), "refusing to listen on 0.0.0.0:0, beyond loopback, without $ZCONFORM_CONTROL_TOKEN") {
		t.Errorf("the image's command without a token: %v; stderr: %s", err, stderr.String())
	}

	// with it, it serves
	cmd := exec.Command(entry, args...)
	cmd.Env = environ("ZCONFORM_CONTROL_TOKEN=" + testToken)
	cmd.Dir = filepath.Join(root, cf.Config.WorkingDir)
	stderr.Reset()
	cmd.Stderr = &stderr
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	exited := make(chan error, 1)
	go func() { exited <- cmd.Wait() }()
	defer func() {
		_ = cmd.Process.Kill()
	}()
	var info struct {
		URL string `json:"url"`
	}
	deadline := time.Now().Add(20 * time.Second)
	for info.URL == "" {
		if data, err := os.ReadFile(ready); err == nil {
			_ = json.Unmarshal(data, &info)
		}
		select {
		case err := <-exited:
			t.Fatalf("the image's command exited: %v; stderr: %s", err, stderr.String())
		default:
		}
		if time.Now().After(deadline) {
			t.Fatalf("no ready file %s; stderr: %s", ready, stderr.String())
		}
		time.Sleep(20 * time.Millisecond)
	}
	checkServes(t, http.DefaultClient, info.URL)
	if err := cmd.Process.Signal(syscall.SIGTERM); err != nil {
		t.Fatal(err)
	}
	select {
	case err := <-exited:
		if err != nil {
			t.Errorf("after SIGTERM: %v; stderr: %s", err, stderr.String())
		}
	case <-time.After(20 * time.Second):
		t.Fatal("the fake did not stop on SIGTERM")
	}
	if _, err := os.Stat(ready); !os.IsNotExist(err) {
		t.Errorf("the ready file is left behind: %v", err)
	}
	if strings.Contains(stderr.String(), testToken) {
		t.Errorf("the token reached the log: %s", stderr.String())
	}
}

// The same inputs give the same archive, byte for byte; another time gives
// another; $SOURCE_DATE_EPOCH sets the time.
func TestArchiveIsReproducible(t *testing.T) {
	binary := helloBinary(t)
	write := func(o Options) []byte {
		t.Helper()
		o.Binaries, o.Name, o.Version, o.Commit, o.Licenses = []string{binary}, "zconform-imagetest", testVersion, testCommit, "MIT"
		b, err := Build(o)
		if err != nil {
			t.Fatal(err)
		}
		p := filepath.Join(t.TempDir(), "again.tar")
		if err := b.WriteArchive(p); err != nil {
			t.Fatal(err)
		}
		data, err := os.ReadFile(p)
		if err != nil {
			t.Fatal(err)
		}
		return data
	}
	first := write(Options{})
	if again := write(Options{}); !bytes.Equal(first, again) {
		t.Errorf("two builds from the same inputs differ: %x vs %x", sha256.Sum256(first), sha256.Sum256(again))
	}
	later := time.Date(2026, 5, 4, 3, 2, 1, 0, time.UTC)
	if other := write(Options{Created: later}); bytes.Equal(first, other) {
		t.Error("a build at another time is the same archive")
	}
	t.Setenv("SOURCE_DATE_EPOCH", "1777777777")
	b, err := Build(Options{Binaries: []string{binary}})
	if err != nil {
		t.Fatal(err)
	}
	cf, err := b.Images[0].Image.ConfigFile()
	if err != nil {
		t.Fatal(err)
	}
	if !cf.Created.Equal(time.Unix(1777777777, 0)) || b.Labels["org.opencontainers.image.created"] != "2026-05-03T03:09:37Z" {
		t.Errorf("with SOURCE_DATE_EPOCH: created %s, label %s", cf.Created, b.Labels["org.opencontainers.image.created"])
	}
	t.Setenv("SOURCE_DATE_EPOCH", "yesterday")
	if _, err := Build(Options{Binaries: []string{binary}}); err == nil || !strings.Contains(err.Error(), "SOURCE_DATE_EPOCH") {
		t.Errorf("a bad SOURCE_DATE_EPOCH: %v", err)
	}
}

// otherArch copies an ELF binary as if built for another machine (its
// header's e_machine): enough for the builder, which only reads it.
func otherArch(t *testing.T, binary string) (string, string) {
	t.Helper()
	data, err := os.ReadFile(binary)
	if err != nil {
		t.Fatal(err)
	}
	machine, arch := elf.EM_AARCH64, "arm64"
	if runtime.GOARCH == "arm64" {
		machine, arch = elf.EM_X86_64, "amd64"
	}
	data[18], data[19] = byte(machine), byte(machine>>8)
	p := filepath.Join(t.TempDir(), "zconform-"+arch)
	if err := os.WriteFile(p, data, 0o755); err != nil {
		t.Fatal(err)
	}
	return p, arch
}

// Two binaries make one image per platform under an image index, each
// with its own binary.
func TestMultiPlatformArchive(t *testing.T) {
	binary := helloBinary(t)
	other, arch := otherArch(t, binary)
	b, err := Build(Options{Binaries: []string{binary, other}, Version: testVersion})
	if err != nil {
		t.Fatal(err)
	}
	archive := filepath.Join(t.TempDir(), "multi.tar")
	if err := b.WriteArchive(archive); err != nil {
		t.Fatal(err)
	}
	idx, _ := readArchive(t, archive)
	top, err := idx.IndexManifest()
	if err != nil {
		t.Fatal(err)
	}
	if len(top.Manifests) != 1 || top.Manifests[0].MediaType != types.OCIImageIndex || top.Manifests[0].Annotations["org.opencontainers.image.ref.name"] != testTag {
		t.Fatalf("index.json lists %+v: want one image index named %s", top.Manifests, testTag)
	}
	inner, err := idx.ImageIndex(top.Manifests[0].Digest)
	if err != nil {
		t.Fatal(err)
	}
	im, err := inner.IndexManifest()
	if err != nil {
		t.Fatal(err)
	}
	var platforms []string
	for _, d := range im.Manifests {
		platforms = append(platforms, d.Platform.String())
		img, err := inner.Image(d.Digest)
		if err != nil {
			t.Fatal(err)
		}
		cf, err := img.ConfigFile()
		if err != nil {
			t.Fatal(err)
		}
		if cf.Architecture != d.Platform.Architecture || cf.OS != "linux" || !slices.Equal(cf.Config.Entrypoint, []string{"/zconform"}) {
			t.Errorf("%s: config says %s/%s, entrypoint %q", d.Platform, cf.OS, cf.Architecture, cf.Config.Entrypoint)
		}
		want := binary
		if d.Platform.Architecture == arch {
			want = other
		}
		data, _ := os.ReadFile(want)
		if got := filesystem(t, img)["/zconform"].data; len(data) == 0 || !bytes.Equal(got, data) {
			t.Errorf("%s: /zconform is not %s", d.Platform, want)
		}
	}
	wantPlatforms := []string{"linux/" + runtime.GOARCH, "linux/" + arch}
	for i, p := range wantPlatforms {
		if p == "linux/arm64" {
			wantPlatforms[i] = "linux/arm64/v8"
		}
	}
	if !slices.Equal(platforms, wantPlatforms) {
		t.Errorf("platforms %v, want %v", platforms, wantPlatforms)
	}
}

// dynamicELF is an executable of this machine that is dynamically linked,
// or "".
func dynamicELF() string {
	for _, p := range []string{"/bin/ls", "/usr/bin/env", "/bin/sh", os.Args[0]} {
		f, err := elf.Open(p)
		if err != nil {
			continue
		}
		interp := slices.ContainsFunc(f.Progs, func(p *elf.Prog) bool { return p.Type == elf.PT_INTERP })
		f.Close()
		if interp {
			return p
		}
	}
	return ""
}

// The builder refuses what would not run from scratch, and says why.
func TestBuildRefuses(t *testing.T) {
	binary, _, _ := sharedImage(t)
	dir := t.TempDir()
	text := filepath.Join(dir, "zconform.sh")
	_ = os.WriteFile(text, []byte("#!/bin/sh\necho hi\n"), 0o755)
	short := filepath.Join(dir, "short")
	_ = os.WriteFile(short, []byte("#!"), 0o755)
	data, _ := os.ReadFile(binary)
	unknown := filepath.Join(dir, "zconform-vax")
	data[18], data[19] = 0x4b, 0 // EM_VAX
	_ = os.WriteFile(unknown, data, 0o755)
	notPEM := filepath.Join(dir, "cas.crt")
	_ = os.WriteFile(notPEM, []byte("not a certificate\n"), 0o644)
	cases := []struct {
		name string
		o    Options
		want []string
	}{
		{"no binary", Options{}, []string{"no binary", "CGO_ENABLED=0"}},
		{"a script", Options{Binaries: []string{text}}, []string{"is not a Linux executable", "GOOS=linux CGO_ENABLED=0"}},
		{"a short file", Options{Binaries: []string{short}}, []string{"is not a Linux executable"}},
		{"missing", Options{Binaries: []string{filepath.Join(dir, "nope")}}, []string{"no such file"}},
		{"unknown machine", Options{Binaries: []string{unknown}}, []string{"a machine this builder does not know"}},
		{"one platform twice", Options{Binaries: []string{binary, binary}}, []string{"both for linux/" + runtime.GOARCH, "one binary per platform"}},
		{"no CA bundle", Options{Binaries: []string{binary}, CACerts: filepath.Join(dir, "none.crt")}, []string{"CA certificates", "ca-certificates"}},
		{"CA bundle not PEM", Options{Binaries: []string{binary}, CACerts: notPEM}, []string{"holds no PEM certificate"}},
		{"bad name", Options{Binaries: []string{binary}, Name: "Zconform"}, []string{`image name "Zconform"`}},
	}
	if dyn := dynamicELF(); dyn != "" {
		cases = append(cases, struct {
			name string
			o    Options
			want []string
		}{"dynamically linked", Options{Binaries: []string{dyn}}, []string{"is dynamically linked (it needs /", "CGO_ENABLED=0"}})
	} else {
		t.Log("no dynamically linked executable on this machine: that refusal is not checked")
	}
	for _, c := range cases {
		_, err := Build(c.o)
		if err == nil {
			t.Errorf("%s: built", c.name)
			continue
		}
		for _, w := range c.want {
			if !strings.Contains(err.Error(), w) {
				t.Errorf("%s: %q lacks %q", c.name, err, w)
			}
		}
	}
}

func TestTagOf(t *testing.T) {
	for in, want := range map[string]string{
		"v0.4.0": "0.4.0", "": "dev", "(devel)": "devel-", "v0.0.0-20260101-abcdef+dirty": "0.0.0-20260101-abcdef-dirty",
		"version": "version", "0.2.0": "0.2.0",
		".hidden": "hidden", strings.Repeat("a", 200): strings.Repeat("a", 128),
	} {
		if got := tagOf(in); got != want {
			t.Errorf("tagOf(%q) = %q, want %q", in, got, want)
		}
	}
}

// skopeo, an independent reader, takes the archive and finds the image's
// configuration in it.
func TestArchiveWithSkopeo(t *testing.T) {
	skopeo, err := exec.LookPath("skopeo")
	if err != nil {
		t.Skip("skopeo is not installed (apt-get install skopeo): the archive is not checked by an independent reader")
	}
	_, archive, _ := sharedImage(t)
	out, err := exec.Command(skopeo, "inspect", "oci-archive:"+archive).Output()
	if err != nil {
		t.Fatalf("skopeo inspect: %v %s", err, stderrOf(err))
	}
	var info struct {
		Digest       string
		Labels       map[string]string
		Architecture string
		Os           string
	}
	if err := json.Unmarshal(out, &info); err != nil {
		t.Fatal(err)
	}
	idx, _ := readArchive(t, archive)
	_, desc := theImage(t, idx)
	if info.Digest != desc.Digest.String() || info.Architecture != runtime.GOARCH || info.Os != "linux" || info.Labels["org.opencontainers.image.version"] != testVersion {
		t.Errorf("skopeo inspect: %s", out)
	}
	out, err = exec.Command(skopeo, "inspect", "--config", "oci-archive:"+archive+":"+testTag).Output()
	if err != nil {
		t.Fatalf("skopeo inspect --config (by tag): %v %s", err, stderrOf(err))
	}
	var cf v1.ConfigFile
	if err := json.Unmarshal(out, &cf); err != nil {
		t.Fatal(err)
	}
	if !slices.Equal(cf.Config.Entrypoint, []string{"/zconform"}) || cf.Config.User != "65532:65532" {
		t.Errorf("skopeo inspect --config: %s", out)
	}

	// and a multi-platform one, for each platform
	binary := helloBinary(t)
	other, arch := otherArch(t, binary)
	b, err := Build(Options{Binaries: []string{binary, other}, Version: testVersion})
	if err != nil {
		t.Fatal(err)
	}
	multi := filepath.Join(t.TempDir(), "multi.tar")
	if err := b.WriteArchive(multi); err != nil {
		t.Fatal(err)
	}
	for _, a := range []string{runtime.GOARCH, arch} {
		out, err := exec.Command(skopeo, "inspect", "--override-os", "linux", "--override-arch", a, "oci-archive:"+multi).Output()
		if err != nil {
			t.Fatalf("skopeo inspect --override-arch %s: %v %s", a, err, stderrOf(err))
		}
		if err := json.Unmarshal(out, &info); err != nil || info.Architecture != a {
			t.Errorf("skopeo inspect --override-arch %s: %s", a, out)
		}
	}
}

func stderrOf(err error) string {
	var exit *exec.ExitError
	if errors.As(err, &exit) {
		return string(exit.Stderr)
	}
	return ""
}

// umoci, another independent reader, unpacks the image as a runtime
// bundle: the files keep their modes and owners, and the binary runs.
func TestArchiveWithUmoci(t *testing.T) {
	umoci, err := exec.LookPath("umoci")
	if err != nil {
		t.Skip("umoci is not installed (apt-get install umoci): the image is not unpacked by an independent tool")
	}
	_, archive, _ := sharedImage(t)
	_, dir := readArchive(t, archive)
	bundle := filepath.Join(t.TempDir(), "bundle")
	args := []string{"unpack", "--image", dir + ":" + testTag, bundle}
	root := os.Geteuid() == 0
	if !root {
		args = slices.Insert(args, 1, "--rootless")
	}
	if out, err := exec.Command(umoci, args...).CombinedOutput(); err != nil {
		t.Fatalf("umoci unpack: %v\n%s", err, out)
	}
	fs := filepath.Join(bundle, "rootfs")
	for name, mode := range map[string]os.FileMode{"zconform": 0o755, "tmp": os.ModeSticky | 0o777, "certs": 0o755, "out": 0o755} {
		st, err := os.Stat(filepath.Join(fs, name))
		if err != nil {
			t.Errorf("umoci's rootfs: %v", err)
			continue
		}
		if got := st.Mode() & (os.ModePerm | os.ModeSticky); got != mode {
			t.Errorf("umoci's rootfs: /%s mode %s, want %s", name, got, mode)
		}
		want := UID
		if name == "zconform" || name == "tmp" {
			want = 0
		}
		if uid, ok := ownerOf(st); ok && root && uid != want {
			t.Errorf("umoci's rootfs: /%s owner %d, want %d", name, uid, want)
		}
	}
	var spec struct {
		Process struct {
			Args []string
			Cwd  string
			User struct{ UID, GID int }
		}
	}
	data, err := os.ReadFile(filepath.Join(bundle, "config.json"))
	if err != nil || json.Unmarshal(data, &spec) != nil {
		t.Fatalf("umoci's config.json: %v %s", err, data)
	}
	if !slices.Equal(spec.Process.Args, append([]string{"/zconform"}, DefaultCmd...)) || spec.Process.Cwd != "/out" || (root && spec.Process.User.UID != UID) {
		t.Errorf("umoci's runtime config: %+v", spec.Process)
	}
	if runtime.GOOS == "linux" {
		if out, err := exec.Command(filepath.Join(fs, "zconform"), "catalogue").CombinedOutput(); err != nil || len(out) == 0 {
			t.Errorf("zconform catalogue from umoci's rootfs: %v\n%s", err, out)
		}
	}
}

// podman runs what it is told, within a time limit.
type podman struct {
	t      *testing.T
	path   string
	global []string // flags before the subcommand
	run    []string // flags of run
}

func (p podman) cmd(ctx context.Context, args ...string) *exec.Cmd {
	return exec.CommandContext(ctx, p.path, append(slices.Clone(p.global), args...)...)
}

func (p podman) output(args ...string) (string, error) {
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
	defer cancel()
	out, err := p.cmd(ctx, args...).CombinedOutput()
	return strings.TrimSpace(string(out)), err
}

// runArgs are `podman run`'s arguments with the flags this machine needs.
func (p podman) runArgs(args ...string) []string {
	return append(append([]string{"run"}, p.run...), args...)
}

// The image in a real engine: podman loads the archive and runs the image
// as it is (its own command, user and port), with the token; it serves the
// fake on the published port, refuses without the token, and with -tls
// writes its certificate to /certs as nonroot. Where podman cannot run
// containers here, the test says why and skips.
func TestImageWithPodman(t *testing.T) {
	path, err := exec.LookPath("podman")
	if err != nil {
		t.Skip("podman is not installed (apt-get install podman runc): the image is not run in an engine here")
	}
	if runtime.GOOS != "linux" {
		t.Skip("podman runs Linux containers in a VM here: not checked")
	}
	_, archive, built := sharedImage(t)
	base := podman{t: t, path: path}
	out, err := base.output("load", "-i", archive)
	if err != nil {
		t.Skipf("podman cannot load images here: %v\n%s", err, out)
	}
	ref := "localhost/" + built.Ref
	if !strings.Contains(out, "Loaded image: "+ref) && !strings.Contains(out, "Loaded image(s): "+ref) {
		t.Errorf("podman load says %q, want it to name %s", out, ref)
	}
	id, err := built.Images[0].Image.ConfigName()
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _, _ = base.output("rmi", "-f", ref, id.Hex) })

	// Some machines need help: crun cannot run with hybrid cgroups (runc
	// can), and without CAP_SYS_RESOURCE podman's default limits cannot
	// be set.
	limits := []string{"--ulimit", "nofile=1024:1024", "--ulimit", "nproc=1024:1024"}
	var p podman
	var tried []string
	for _, try := range []podman{base, {path: path, run: limits}, {path: path, global: []string{"--runtime", "runc"}, run: limits}} {
		try.t = t
		out, err := try.output(try.runArgs("--rm", ref, "catalogue")...)
		if err == nil {
			p = try
			break
		}
		tried = append(tried, strings.Join(append(try.global, try.run...), " ")+": "+lastLine(out))
	}
	if p.path == "" {
		t.Skipf("podman cannot run containers here:\n  %s", strings.Join(tried, "\n  "))
	}
	if len(tried) > 0 {
		t.Logf("podman runs containers here with %q %q", p.global, p.run)
	}

	// without the token: refused, exit 2, with the reason
	out, err = p.output(p.runArgs("--rm", ref)...)
	var exit *exec.ExitError
	if !errors.As(err, &exit) || exit.ExitCode() != 2 || !strings.Contains(out, "refusing to listen on 0.0.0.0:8080, beyond loopback, without $ZCONFORM_CONTROL_TOKEN") {
		t.Errorf("the image without a token: %v\n%s", err, out)
	}

	// the image as it is, with the token, its port published
	serve := func(extra ...string) (string, string) {
		t.Helper()
		cid, err := p.output(p.runArgs(append([]string{"-d", "-e", "ZCONFORM_CONTROL_TOKEN=" + testToken, "-p", "127.0.0.1::8080", ref}, extra...)...)...)
		if err != nil {
			t.Fatalf("podman run -d: %v\n%s", err, cid)
		}
		cid = lastLine(cid)
		t.Cleanup(func() { _, _ = p.output("rm", "-f", "-v", cid) })
		hostPort, err := p.output("port", cid, "8080/tcp")
		if err != nil {
			t.Fatalf("podman port: %v %s", err, hostPort)
		}
		return cid, lastLine(hostPort)
	}
	waitHealthy := func(hc *http.Client, url, cid string) {
		t.Helper()
		deadline := time.Now().Add(30 * time.Second)
		for {
			code, _ := request(t, hc, url+"/_zconform/ready", "")
			if code == 200 {
				return
			}
			if time.Now().After(deadline) {
				logs, _ := p.output("logs", cid)
				t.Fatalf("%s/_zconform/ready never answered 200 (last %d); logs:\n%s", url, code, logs)
			}
			time.Sleep(100 * time.Millisecond)
		}
	}
	cid, hostPort := serve()
	waitHealthy(http.DefaultClient, "http://"+hostPort, cid)
	checkServes(t, http.DefaultClient, "http://"+hostPort)
	if user, err := p.output("top", cid, "user"); err != nil || (lastLine(user) != "nonroot" && lastLine(user) != "65532") {
		t.Errorf("the fake's process runs as %q (%v), want nonroot", user, err)
	}
	if v, err := p.output("exec", cid, "/zconform", "version"); err == nil && !strings.Contains(v, testVersion) {
		t.Errorf("zconform version in the container: %s", v)
	}
	if out, err := p.output("stop", "-t", "10", cid); err != nil {
		t.Errorf("podman stop: %v %s", err, out)
	}
	if code, err := p.output("wait", cid); err != nil || code != "0" {
		t.Errorf("the fake's exit after podman stop: %q %v, want 0", code, err)
	}
	logs, _ := p.output("logs", cid)
	if strings.Contains(logs, testToken) {
		t.Errorf("the token reached the container's log:\n%s", logs)
	}

	// the other jobs: run, diff, certify
	podmanJobs(t, p, ref)

	// with -tls, the certificate lands in the /certs volume, written as
	// nonroot, and it is the one the fake serves
	cid, hostPort = serve("fake", "-addr", "0.0.0.0:8080", "-ready-file", "/tmp/ready.json", "-tls", "-cert", "/certs/zconform-fake.pem")
	insecure := &http.Client{Transport: &http.Transport{TLSClientConfig: &tls.Config{InsecureSkipVerify: true}}}
	waitHealthy(insecure, "https://"+hostPort, cid)
	pemFile := filepath.Join(t.TempDir(), "zconform-fake.pem")
	if out, err := p.output("cp", cid+":/certs/zconform-fake.pem", pemFile); err != nil {
		t.Fatalf("podman cp the certificate: %v %s", err, out)
	}
	pemData, _ := os.ReadFile(pemFile)
	pool := x509.NewCertPool()
	if !pool.AppendCertsFromPEM(pemData) {
		t.Fatalf("/certs/zconform-fake.pem holds no certificate: %q", pemData)
	}
	checkServes(t, &http.Client{Transport: &http.Transport{TLSClientConfig: &tls.Config{RootCAs: pool}}}, "https://"+hostPort)
}

func lastLine(s string) string {
	s = strings.TrimSpace(s)
	if i := strings.LastIndexByte(s, '\n'); i >= 0 {
		return s[i+1:]
	}
	return s
}

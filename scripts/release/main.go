// Command release builds zconform's release archives offline: a static
// binary per platform (CGO off, -trimpath, the version and commit stamped),
// packed with the LICENSE, README and CHANGELOG as
// zconform_<version>_<os>_<arch>.tar.gz (.zip for Windows), and a
// SHA256SUMS file over them. Archives are reproducible: entries sorted,
// owned by root, dated by the commit (or $SOURCE_DATE_EPOCH).
//
//	go run ./scripts/release -version v0.2.0 [-commit abc123] [-out dist] [-platforms linux/amd64,…]
//
// `make release VERSION=v0.2.0` runs it.
package main

import (
	"archive/tar"
	"archive/zip"
	"bytes"
	"compress/gzip"
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"flag"
	"fmt"
	"io"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"sort"
	"strconv"
	"strings"
	"time"
)

// DefaultPlatforms are the platforms a release carries.
const DefaultPlatforms = "linux/amd64,linux/arm64,darwin/amd64,darwin/arm64,windows/amd64,windows/arm64"

// semver is a release version: vMAJOR.MINOR.PATCH with an optional
// pre-release (v1.2.3-rc.1).
var semver = regexp.MustCompile(`^v(0|[1-9][0-9]*)\.(0|[1-9][0-9]*)\.(0|[1-9][0-9]*)(-[0-9A-Za-z.-]+)?$`)

// docs go into every archive beside the binary.
var docs = []string{"LICENSE", "README.md", "CHANGELOG.md"}

func main() {
	os.Exit(run(os.Args[1:], os.Stdout, os.Stderr))
}

func run(args []string, stdout, stderr io.Writer) int {
	fs := flag.NewFlagSet("release", flag.ContinueOnError)
	fs.SetOutput(stderr)
	version := fs.String("version", "", "the release version, a semantic version tag (v0.2.0)")
	commit := fs.String("commit", "", "the commit to stamp (default: git rev-parse --short=12 HEAD)")
	out := fs.String("out", "dist", "folder for the archives and SHA256SUMS (must not hold this version's archives already)")
	platforms := fs.String("platforms", DefaultPlatforms, "comma-separated GOOS/GOARCH pairs")
	force := fs.Bool("force", false, "overwrite this version's archives in -out")
	if err := fs.Parse(args); err != nil {
		return 2
	}
	if !semver.MatchString(*version) {
		fmt.Fprintf(stderr, "release: -version %q is not a semantic version tag like v0.2.0\n", *version)
		return 2
	}
	if *commit == "" {
		c, err := exec.Command("git", "rev-parse", "--short=12", "HEAD").Output()
		if err != nil {
			fmt.Fprintln(stderr, "release: cannot read the commit (git rev-parse): pass -commit")
			return 2
		}
		*commit = strings.TrimSpace(string(c))
	}
	var targets [][2]string
	for _, p := range strings.Split(*platforms, ",") {
		goos, goarch, ok := strings.Cut(strings.TrimSpace(p), "/")
		if !ok || goos == "" || goarch == "" {
			fmt.Fprintf(stderr, "release: -platforms: %q is not GOOS/GOARCH\n", p)
			return 2
		}
		targets = append(targets, [2]string{goos, goarch})
	}
	for _, d := range docs {
		if _, err := os.Stat(d); err != nil {
			fmt.Fprintf(stderr, "release: %v: run it from the zconform checkout\n", err)
			return 2
		}
	}
	when, err := sourceDate()
	if err != nil {
		fmt.Fprintf(stderr, "release: %v\n", err)
		return 2
	}
	r := releaser{version: *version, commit: *commit, out: *out, date: when}
	if err := r.check(targets, *force); err != nil {
		fmt.Fprintf(stderr, "release: %v\n", err)
		return 2
	}
	if err := os.MkdirAll(*out, 0o755); err != nil {
		fmt.Fprintf(stderr, "release: %v\n", err)
		return 1
	}
	var names []string
	for i, t := range targets {
		start := time.Now()
		name, err := r.build(t[0], t[1])
		if err != nil {
			fmt.Fprintf(stderr, "release: %s/%s: %v\n", t[0], t[1], err)
			return 1
		}
		names = append(names, name)
		fmt.Fprintf(stderr, "[%d/%d] %s (%s)\n", i+1, len(targets), filepath.Join(*out, name), time.Since(start).Round(100*time.Millisecond))
	}
	sums, err := r.checksums(names)
	if err != nil {
		fmt.Fprintf(stderr, "release: %v\n", err)
		return 1
	}
	fmt.Fprintf(stdout, "zconform %s (commit %s): %d archives and %s in %s\n", *version, *commit, len(names), sums, *out)
	return 0
}

// sourceDate is the archives' timestamp: $SOURCE_DATE_EPOCH, else the
// commit's time, else the epoch of zip archives (1980).
func sourceDate() (time.Time, error) {
	if s := os.Getenv("SOURCE_DATE_EPOCH"); s != "" {
		n, err := strconv.ParseInt(s, 10, 64)
		if err != nil {
			return time.Time{}, fmt.Errorf("$SOURCE_DATE_EPOCH %q is not a Unix time", s)
		}
		return time.Unix(n, 0).UTC(), nil
	}
	if c, err := exec.Command("git", "log", "-1", "--format=%ct").Output(); err == nil {
		if n, err := strconv.ParseInt(strings.TrimSpace(string(c)), 10, 64); err == nil {
			return time.Unix(n, 0).UTC(), nil
		}
	}
	return time.Date(1980, 1, 1, 0, 0, 0, 0, time.UTC), nil
}

type releaser struct {
	version, commit, out string
	date                 time.Time
}

// base is an archive's name without its extension.
func (r releaser) base(goos, goarch string) string {
	return fmt.Sprintf("zconform_%s_%s_%s", strings.TrimPrefix(r.version, "v"), goos, goarch)
}

func (r releaser) archive(goos, goarch string) string {
	if goos == "windows" {
		return r.base(goos, goarch) + ".zip"
	}
	return r.base(goos, goarch) + ".tar.gz"
}

// check refuses to overwrite this version's archives unless forced.
func (r releaser) check(targets [][2]string, force bool) error {
	if force {
		return nil
	}
	for _, t := range targets {
		p := filepath.Join(r.out, r.archive(t[0], t[1]))
		if _, err := os.Stat(p); err == nil {
			return fmt.Errorf("%s exists: a release is not overwritten (remove it, or pass -force)", p)
		}
	}
	return nil
}

// build compiles the binary for one platform and packs it.
func (r releaser) build(goos, goarch string) (string, error) {
	tmp, err := os.MkdirTemp("", "zconform-release-*")
	if err != nil {
		return "", err
	}
	defer os.RemoveAll(tmp)
	exe := "zconform"
	if goos == "windows" {
		exe += ".exe"
	}
	bin := filepath.Join(tmp, exe)
	ldflags := fmt.Sprintf("-s -w -X github.com/zconform/zconform/internal/version.version=%s -X github.com/zconform/zconform/internal/version.commit=%s", r.version, r.commit)
	cmd := exec.Command("go", "build", "-trimpath", "-ldflags", ldflags, "-o", bin, "./cmd/zconform")
	cmd.Env = append(os.Environ(), "GOOS="+goos, "GOARCH="+goarch, "CGO_ENABLED=0")
	if msg, err := cmd.CombinedOutput(); err != nil {
		return "", fmt.Errorf("go build: %v\n%s", err, msg)
	}
	files := map[string]string{exe: bin}
	for _, d := range docs {
		files[d] = d
	}
	name := r.archive(goos, goarch)
	var buf bytes.Buffer
	if goos == "windows" {
		err = r.zipTo(&buf, r.base(goos, goarch), files)
	} else {
		err = r.tarTo(&buf, r.base(goos, goarch), files)
	}
	if err != nil {
		return "", err
	}
	return name, os.WriteFile(filepath.Join(r.out, name), buf.Bytes(), 0o644)
}

// sorted lists the archive's entries in order.
func sorted(files map[string]string) []string {
	names := make([]string, 0, len(files))
	for n := range files {
		names = append(names, n)
	}
	sort.Strings(names)
	return names
}

func mode(name string) int64 {
	if name == "zconform" || name == "zconform.exe" {
		return 0o755
	}
	return 0o644
}

func (r releaser) tarTo(w io.Writer, dir string, files map[string]string) error {
	gz, _ := gzip.NewWriterLevel(w, gzip.BestCompression)
	gz.ModTime = r.date
	tw := tar.NewWriter(gz)
	if err := tw.WriteHeader(&tar.Header{Typeflag: tar.TypeDir, Name: dir + "/", Mode: 0o755, ModTime: r.date, Format: tar.FormatPAX}); err != nil {
		return err
	}
	for _, n := range sorted(files) {
		data, err := os.ReadFile(files[n])
		if err != nil {
			return err
		}
		hdr := &tar.Header{Typeflag: tar.TypeReg, Name: dir + "/" + n, Mode: mode(n), Size: int64(len(data)), ModTime: r.date, Format: tar.FormatPAX}
		if err := tw.WriteHeader(hdr); err != nil {
			return err
		}
		if _, err := tw.Write(data); err != nil {
			return err
		}
	}
	return errors.Join(tw.Close(), gz.Close())
}

func (r releaser) zipTo(w io.Writer, dir string, files map[string]string) error {
	zw := zip.NewWriter(w)
	for _, n := range sorted(files) {
		data, err := os.ReadFile(files[n])
		if err != nil {
			return err
		}
		hdr := &zip.FileHeader{Name: dir + "/" + n, Method: zip.Deflate, Modified: r.date}
		hdr.SetMode(os.FileMode(mode(n)))
		f, err := zw.CreateHeader(hdr)
		if err != nil {
			return err
		}
		if _, err := f.Write(data); err != nil {
			return err
		}
	}
	return zw.Close()
}

// checksums writes SHA256SUMS (as sha256sum prints it) over this
// version's archives in the folder, those built before included.
func (r releaser) checksums(built []string) (string, error) {
	names, err := filepath.Glob(filepath.Join(r.out, "zconform_"+strings.TrimPrefix(r.version, "v")+"_*"))
	if err != nil {
		return "", err
	}
	for i, n := range names {
		names[i] = filepath.Base(n)
	}
	if len(names) < len(built) {
		return "", fmt.Errorf("%s holds fewer archives than were built", r.out)
	}
	var b strings.Builder
	sort.Strings(names)
	for _, n := range names {
		data, err := os.ReadFile(filepath.Join(r.out, n))
		if err != nil {
			return "", err
		}
		sum := sha256.Sum256(data)
		fmt.Fprintf(&b, "%s  %s\n", hex.EncodeToString(sum[:]), n)
	}
	const file = "SHA256SUMS"
	return file, os.WriteFile(filepath.Join(r.out, file), []byte(b.String()), 0o644)
}

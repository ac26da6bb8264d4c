// Package image builds zconform's container image offline and from
// scratch: no base image, no registry, no container engine. One layer
// holds the static binary and what it needs to run; the image is written
// as an OCI archive (an OCI image layout in a tar), which `podman load -i`,
// `skopeo copy oci-archive:…` and `docker load` (25 and later) take.
//
// The image's filesystem:
//
//	/zconform                           the binary (root, 0755)
//	/etc/ssl/certs/ca-certificates.crt  the build machine's CA bundle, so that run -target works over HTTPS
//	/etc/passwd, /etc/group             root and nonroot (65532), home /home/nonroot
//	/tmp                                1777
//	/certs                              nonroot's, a volume: where `fake -tls -cert` writes the certificate
//	/out                                nonroot's, the working directory: reports
//
// Its configuration: Entrypoint ["/zconform"], Cmd DefaultCmd (the fake on
// 0.0.0.0:8080, which refuses to start without $ZCONFORM_CONTROL_TOKEN),
// user 65532, port 8080/tcp, and the org.opencontainers.image.* labels.
// OCI has no HEALTHCHECK: probe GET /_zconform/health and /_zconform/ready.
package image

import (
	"archive/tar"
	"bytes"
	"compress/gzip"
	"crypto/x509"
	"debug/buildinfo"
	"debug/elf"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"os"
	"path/filepath"
	"regexp"
	"slices"
	"strconv"
	"strings"
	"time"

	v1 "github.com/google/go-containerregistry/pkg/v1"
	"github.com/google/go-containerregistry/pkg/v1/empty"
	"github.com/google/go-containerregistry/pkg/v1/layout"
	"github.com/google/go-containerregistry/pkg/v1/mutate"
	"github.com/google/go-containerregistry/pkg/v1/tarball"
	"github.com/google/go-containerregistry/pkg/v1/types"
	"github.com/zconform/zconform/internal/atomicfile"
)

// The image's layout and defaults.
const (
	BinaryPath    = "/zconform"
	CACertsPath   = "/etc/ssl/certs/ca-certificates.crt"
	CertsDir      = "/certs"
	OutDir        = "/out"
	UID           = 65532
	User          = "65532:65532"
	Port          = "8080/tcp"
	DefaultName   = "zconform"
	DefaultSource = "https://github.com/zconform/zconform"
	// DefaultLicenses is the project's licence (LICENSE), as SPDX.
	DefaultLicenses = "MIT"
)

// DefaultCmd serves the fake on every interface of the container, with
// its URLs in /tmp/ready.json once it listens. Without
// $ZCONFORM_CONTROL_TOKEN it refuses to start.
var DefaultCmd = []string{"fake", "-addr", "0.0.0.0:8080", "-ready-file", "/tmp/ready.json"}

// Options say what to build.
type Options struct {
	// Binaries are static Linux zconform binaries (CGO_ENABLED=0), one
	// per platform; their platform is read from their ELF header.
	Binaries []string
	// CACerts is the PEM bundle to ship (default: this machine's
	// /etc/ssl/certs/ca-certificates.crt).
	CACerts string
	// Name is the image's name in the archive (default "zconform"); its
	// tag is the version.
	Name string
	// Version and Commit label the image; each defaults to what the
	// first binary's build information says, if anything.
	Version, Commit string
	// Source and Licenses label the image (defaults: DefaultSource,
	// DefaultLicenses).
	Source, Licenses string
	// Created stamps the image, its layer's files and the archive
	// (default: $SOURCE_DATE_EPOCH, else the Unix epoch), so that the
	// same inputs build the same archive, byte for byte.
	Created time.Time
}

// Built is a built image: one per platform, under one reference.
type Built struct {
	// Ref is the name:tag the archive gives it, e.g. "zconform:0.4.0".
	Ref string
	// Images are the per-platform images, in the order of the binaries.
	Images []Platformed
	// Labels are the labels every image carries.
	Labels  map[string]string
	created time.Time
}

// Platformed is one platform's image.
type Platformed struct {
	Platform v1.Platform
	Image    v1.Image
}

// Binary is what Inspect found in a binary.
type Binary struct {
	Path     string
	Platform v1.Platform
	// Version and Commit are from its Go build information ("" if none).
	Version, Commit string
}

var elfArch = map[elf.Machine]string{
	elf.EM_X86_64: "amd64", elf.EM_AARCH64: "arm64", elf.EM_386: "386", elf.EM_ARM: "arm",
	elf.EM_RISCV: "riscv64", elf.EM_PPC64: "ppc64le", elf.EM_S390: "s390x", elf.EM_LOONGARCH: "loong64",
}

// Inspect checks that path is a static Linux executable and says for
// which platform.
func Inspect(path string) (Binary, error) {
	f, err := elf.Open(path)
	if err != nil {
		var pe *fs.PathError
		if errors.As(err, &pe) {
			return Binary{}, err
		}
		return Binary{}, fmt.Errorf("%s is not a Linux executable (%v): build it with GOOS=linux CGO_ENABLED=0", path, err)
	}
	defer f.Close()
	if f.Type != elf.ET_EXEC && f.Type != elf.ET_DYN {
		return Binary{}, fmt.Errorf("%s is an ELF %s, not an executable", path, f.Type)
	}
	if f.OSABI != elf.ELFOSABI_NONE && f.OSABI != elf.ELFOSABI_LINUX {
		return Binary{}, fmt.Errorf("%s is built for %s, not Linux: build it with GOOS=linux", path, f.OSABI)
	}
	for _, p := range f.Progs {
		if p.Type == elf.PT_INTERP {
			interp, _ := io.ReadAll(io.LimitReader(p.Open(), 256))
			return Binary{}, fmt.Errorf("%s is dynamically linked (it needs %s), and the image has no C library: build it with CGO_ENABLED=0", path, strings.TrimRight(string(interp), "\x00"))
		}
	}
	if libs, _ := f.ImportedLibraries(); len(libs) > 0 {
		return Binary{}, fmt.Errorf("%s needs shared libraries (%s), and the image has none: build it with CGO_ENABLED=0", path, strings.Join(libs, ", "))
	}
	arch, ok := elfArch[f.Machine]
	if !ok || (arch == "ppc64le" && f.Data != elf.ELFDATA2LSB) {
		return Binary{}, fmt.Errorf("%s is for a machine this builder does not know (%s)", path, f.Machine)
	}
	b := Binary{Path: path, Platform: v1.Platform{OS: "linux", Architecture: arch}}
	if arch == "arm64" {
		b.Platform.Variant = "v8"
	}
	if bi, err := buildinfo.ReadFile(path); err == nil {
		if v := bi.Main.Version; v != "" && v != "(devel)" {
			b.Version = v
		}
		var dirty bool
		for _, s := range bi.Settings {
			switch s.Key {
			case "vcs.revision":
				b.Commit = s.Value
			case "vcs.modified":
				dirty = s.Value == "true"
			case "GOARM":
				if arch == "arm" {
					b.Platform.Variant = "v" + s.Value
				}
			}
		}
		if len(b.Commit) > 12 {
			b.Commit = b.Commit[:12]
		}
		if b.Commit != "" && dirty {
			b.Commit += "-dirty"
		}
	}
	return b, nil
}

// Build builds the image for every binary, in memory.
func Build(o Options) (*Built, error) {
	if len(o.Binaries) == 0 {
		return nil, errors.New("no binary: give a static Linux zconform binary (CGO_ENABLED=0 GOOS=linux go build -o bin/zconform ./cmd/zconform)")
	}
	if o.CACerts == "" {
		o.CACerts = CACertsPath
	}
	cas, err := os.ReadFile(o.CACerts)
	if err != nil {
		return nil, fmt.Errorf("CA certificates: %w (install Debian's ca-certificates, or name a PEM bundle)", err)
	}
	if !x509.NewCertPool().AppendCertsFromPEM(cas) {
		return nil, fmt.Errorf("CA certificates: %s holds no PEM certificate", o.CACerts)
	}
	if o.Created.IsZero() {
		if o.Created, err = sourceDateEpoch(); err != nil {
			return nil, err
		}
	}
	o.Created = o.Created.UTC().Truncate(time.Second)
	var bins []Binary
	for _, path := range o.Binaries {
		b, err := Inspect(path)
		if err != nil {
			return nil, err
		}
		if i := slices.IndexFunc(bins, func(x Binary) bool { return x.Platform.Equals(b.Platform) }); i >= 0 {
			return nil, fmt.Errorf("%s and %s are both for %s: give one binary per platform", bins[i].Path, path, b.Platform)
		}
		bins = append(bins, b)
	}
	if o.Version == "" {
		o.Version = bins[0].Version
	}
	if o.Commit == "" {
		o.Commit = bins[0].Commit
	}
	if o.Name == "" {
		o.Name = DefaultName
	}
	if !nameRE.MatchString(o.Name) {
		return nil, fmt.Errorf("image name %q: use lowercase letters, digits, '.', '_', '-' and '/'", o.Name)
	}
	labels := map[string]string{
		"org.opencontainers.image.title":       "zconform",
		"org.opencontainers.image.description": "Conformance for Zoho OAuth 2.0: the fake Zoho Accounts server (default command), run, certify, diff",
		"org.opencontainers.image.version":     or(o.Version, "dev"),
		"org.opencontainers.image.source":      or(o.Source, DefaultSource),
		"org.opencontainers.image.licenses":    or(o.Licenses, DefaultLicenses),
		"org.opencontainers.image.created":     o.Created.Format(time.RFC3339),
	}
	if o.Commit != "" {
		labels["org.opencontainers.image.revision"] = o.Commit
	}
	built := &Built{Ref: o.Name + ":" + tagOf(o.Version), Labels: labels, created: o.Created}
	for _, b := range bins {
		img, err := buildOne(b, cas, labels, o.Created)
		if err != nil {
			return nil, err
		}
		built.Images = append(built.Images, Platformed{Platform: b.Platform, Image: img})
	}
	return built, nil
}

var (
	nameRE = regexp.MustCompile(`^[a-z0-9]+(?:[._-]+[a-z0-9]+)*(?:/[a-z0-9]+(?:[._-]+[a-z0-9]+)*)*$`)
	tagBad = regexp.MustCompile(`[^A-Za-z0-9_.-]`)
)

// tagOf is a valid tag for a version, without the v of a Git tag as
// images are tagged by convention: v0.4.0 is "0.4.0", "dev" when none.
func tagOf(version string) string {
	if len(version) > 1 && version[0] == 'v' && version[1] >= '0' && version[1] <= '9' {
		version = version[1:]
	}
	t := strings.TrimLeft(tagBad.ReplaceAllString(version, "-"), ".-")
	if t == "" {
		return "dev"
	}
	if len(t) > 128 {
		t = t[:128]
	}
	return t
}

func or(v, def string) string {
	if v == "" {
		return def
	}
	return v
}

// sourceDateEpoch is $SOURCE_DATE_EPOCH (reproducible-builds.org), else
// the Unix epoch.
func sourceDateEpoch() (time.Time, error) {
	s := os.Getenv("SOURCE_DATE_EPOCH")
	if s == "" {
		return time.Unix(0, 0), nil
	}
	n, err := strconv.ParseInt(s, 10, 64)
	if err != nil {
		return time.Time{}, fmt.Errorf("$SOURCE_DATE_EPOCH %q: want seconds since 1970", s)
	}
	return time.Unix(n, 0), nil
}

// entry is one file or directory of the layer.
type entry struct {
	name     string
	mode     int64
	uid      int
	data     []byte
	dir      bool
	fromFile string
}

func buildOne(b Binary, cas []byte, labels map[string]string, created time.Time) (v1.Image, error) {
	bin, err := os.ReadFile(b.Path)
	if err != nil {
		return nil, err
	}
	passwd := fmt.Sprintf("root:x:0:0:root:/root:/sbin/nologin\nnonroot:x:%d:%d:nonroot:/home/nonroot:/sbin/nologin\n", UID, UID)
	group := fmt.Sprintf("root:x:0:\nnonroot:x:%d:\n", UID)
	entries := []entry{
		{name: "certs/", mode: 0o755, uid: UID, dir: true},
		{name: "etc/", mode: 0o755, dir: true},
		{name: "etc/group", mode: 0o644, data: []byte(group)},
		{name: "etc/passwd", mode: 0o644, data: []byte(passwd)},
		{name: "etc/ssl/", mode: 0o755, dir: true},
		{name: "etc/ssl/certs/", mode: 0o755, dir: true},
		{name: "etc/ssl/certs/ca-certificates.crt", mode: 0o644, data: cas},
		{name: "home/", mode: 0o755, dir: true},
		{name: "home/nonroot/", mode: 0o755, uid: UID, dir: true},
		{name: "out/", mode: 0o755, uid: UID, dir: true},
		{name: "tmp/", mode: 0o1777, dir: true},
		{name: "zconform", mode: 0o755, data: bin},
	}
	layerTar, err := tarOf(entries, created)
	if err != nil {
		return nil, err
	}
	// compressed here, once: the layer would compress at every read
	var gz bytes.Buffer
	zw := gzip.NewWriter(&gz)
	if _, err := zw.Write(layerTar); err != nil {
		return nil, err
	}
	if err := zw.Close(); err != nil {
		return nil, err
	}
	layer, err := tarball.LayerFromOpener(func() (io.ReadCloser, error) {
		return io.NopCloser(bytes.NewReader(gz.Bytes())), nil
	}, tarball.WithMediaType(types.OCILayer))
	if err != nil {
		return nil, err
	}
	img := mutate.MediaType(empty.Image, types.OCIManifestSchema1)
	img = mutate.ConfigMediaType(img, types.OCIConfigJSON)
	at := v1.Time{Time: created}
	img, err = mutate.ConfigFile(img, &v1.ConfigFile{
		Architecture: b.Platform.Architecture,
		OS:           b.Platform.OS,
		Variant:      b.Platform.Variant,
		Created:      at,
		RootFS:       v1.RootFS{Type: "layers"},
		Config: v1.Config{
			Entrypoint:   []string{BinaryPath},
			Cmd:          slices.Clone(DefaultCmd),
			Env:          []string{"PATH=/"},
			User:         User,
			WorkingDir:   OutDir,
			ExposedPorts: map[string]struct{}{Port: {}},
			Volumes:      map[string]struct{}{CertsDir: {}},
			Labels:       labels,
			StopSignal:   "SIGTERM",
		},
	})
	if err != nil {
		return nil, err
	}
	img, err = mutate.Append(img, mutate.Addendum{
		Layer: layer,
		History: v1.History{
			Created:   at,
			CreatedBy: "zconform image builder (internal/image): /zconform, CA certificates, /etc/passwd, /tmp, /certs, /out",
			Comment:   "from scratch",
		},
	})
	if err != nil {
		return nil, err
	}
	return mutate.Annotations(img, labels).(v1.Image), nil
}

// tarOf writes entries as a tar, every one stamped at created and owned
// by uid:uid (root when 0), with no user or group names.
func tarOf(entries []entry, created time.Time) ([]byte, error) {
	var buf bytes.Buffer
	tw := tar.NewWriter(&buf)
	for _, e := range entries {
		h := &tar.Header{Name: e.name, Mode: e.mode, Uid: e.uid, Gid: e.uid, ModTime: created}
		data := e.data
		if e.fromFile != "" {
			var err error
			if data, err = os.ReadFile(e.fromFile); err != nil {
				return nil, err
			}
		}
		if e.dir {
			h.Typeflag = tar.TypeDir
		} else {
			h.Typeflag, h.Size = tar.TypeReg, int64(len(data))
		}
		if err := tw.WriteHeader(h); err != nil {
			return nil, err
		}
		if _, err := tw.Write(data); err != nil {
			return nil, err
		}
	}
	if err := tw.Close(); err != nil {
		return nil, err
	}
	return buf.Bytes(), nil
}

// Annotations name the image in the archive's index.json: OCI's ref.name
// (the tag, as skopeo's oci-archive:FILE:TAG and podman want it) and
// containerd's full name (for docker load and ctr import).
func (b *Built) annotations() map[string]string {
	name, tag, _ := strings.Cut(b.Ref, ":")
	full := b.Ref
	if !strings.Contains(strings.SplitN(name, "/", 2)[0], ".") && !strings.HasPrefix(name, "localhost/") {
		full = "localhost/" + b.Ref
	}
	a := map[string]string{
		"org.opencontainers.image.ref.name": tag,
		"io.containerd.image.name":          full,
	}
	return a
}

// WriteArchive writes the image as an OCI archive at path (replacing it
// whole, or not at all). One platform: index.json lists its manifest;
// several: an image index of them.
func (b *Built) WriteArchive(path string) error {
	dir, err := os.MkdirTemp("", "zconform-image-*")
	if err != nil {
		return err
	}
	defer os.RemoveAll(dir)
	lp, err := layout.Write(dir, empty.Index)
	if err != nil {
		return err
	}
	if len(b.Images) == 1 {
		p := b.Images[0]
		err = lp.AppendImage(p.Image, layout.WithAnnotations(b.annotations()), layout.WithPlatform(p.Platform))
	} else {
		var adds []mutate.IndexAddendum
		for _, p := range b.Images {
			adds = append(adds, mutate.IndexAddendum{Add: p.Image, Descriptor: v1.Descriptor{Platform: &p.Platform}})
		}
		idx := mutate.Annotations(mutate.AppendManifests(empty.Index, adds...), b.Labels).(v1.ImageIndex)
		err = lp.AppendIndex(idx, layout.WithAnnotations(b.annotations()))
	}
	if err != nil {
		return err
	}
	return atomicfile.Write(path, func(w io.Writer) error { return tarDir(w, dir, b.created) })
}

// tarDir writes the tree under dir as a tar: names relative to it, in
// lexical order, stamped at created, root's, 0755 and 0644.
func tarDir(w io.Writer, dir string, created time.Time) error {
	var entries []entry
	err := filepath.WalkDir(dir, func(p string, d fs.DirEntry, err error) error {
		if err != nil || p == dir {
			return err
		}
		rel, _ := filepath.Rel(dir, p)
		rel = filepath.ToSlash(rel)
		if d.IsDir() {
			entries = append(entries, entry{name: rel + "/", mode: 0o755, dir: true})
		} else if d.Type().IsRegular() {
			entries = append(entries, entry{name: rel, mode: 0o644, fromFile: p})
		} else {
			return fmt.Errorf("%s: not a file", p)
		}
		return nil
	})
	if err != nil {
		return err
	}
	slices.SortFunc(entries, func(a, b entry) int { return strings.Compare(a.name, b.name) })
	data, err := tarOf(entries, created)
	if err != nil {
		return err
	}
	_, err = w.Write(data)
	return err
}

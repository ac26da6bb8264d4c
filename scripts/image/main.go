// Command image builds zconform's container image from static Linux
// binaries, offline and from scratch, as an OCI archive (see
// internal/image):
//
//	CGO_ENABLED=0 GOOS=linux GOARCH=amd64 go build -trimpath -o bin/linux-amd64/zconform ./cmd/zconform
//	go run ./scripts/image -binary bin/linux-amd64/zconform -version v0.4.0 -commit abc123 -o bin/zconform-image.tar
//	podman load -i bin/zconform-image.tar
//
// -binary again for each more platform (linux/arm64, ...): the archive then
// holds an image index, and the engine picks its machine's.
package main

import (
	"flag"
	"fmt"
	"io"
	"os"
	"strings"
	"time"

	"github.com/zconform/zconform/internal/image"
)

type listFlag []string

func (l *listFlag) String() string     { return strings.Join(*l, ",") }
func (l *listFlag) Set(v string) error { *l = append(*l, v); return nil }

func main() { os.Exit(run(os.Args[1:], os.Stdout, os.Stderr)) }

func run(args []string, stdout, stderr io.Writer) int {
	fs := flag.NewFlagSet("image", flag.ContinueOnError)
	fs.SetOutput(stderr)
	var o image.Options
	fs.Var((*listFlag)(&o.Binaries), "binary", "a static Linux zconform binary (CGO_ENABLED=0 GOOS=linux); again for each more platform")
	fs.StringVar(&o.Version, "version", "", "version: the tag and the org.opencontainers.image.version label (default: the binary's module version, else dev)")
	fs.StringVar(&o.Commit, "commit", "", "the org.opencontainers.image.revision label (default: the binary's VCS revision)")
	fs.StringVar(&o.Name, "name", image.DefaultName, "the image's name in the archive (tagged with the version)")
	fs.StringVar(&o.Source, "source", image.DefaultSource, "the org.opencontainers.image.source label")
	fs.StringVar(&o.Licenses, "licenses", image.DefaultLicenses, "the org.opencontainers.image.licenses label (an SPDX expression)")
	fs.StringVar(&o.CACerts, "ca-certs", image.CACertsPath, "the CA bundle (PEM) to ship as "+image.CACertsPath)
	created := fs.String("created", "", "the image's time, RFC 3339 (default: $SOURCE_DATE_EPOCH, else 1970-01-01T00:00:00Z: the same inputs give the same archive)")
	out := fs.String("o", "zconform-image.tar", "where to write the OCI archive")
	fs.Usage = func() {
		fmt.Fprintf(stderr, "Usage: go run ./scripts/image -binary FILE [-binary FILE ...] [flags]\n\nBuilds zconform's container image from scratch, offline, as an OCI archive\n(podman load -i, skopeo copy oci-archive:, docker load).\n\nFlags:\n")
		fs.PrintDefaults()
	}
	if err := fs.Parse(args); err != nil {
		return 2
	}
	if fs.NArg() > 0 {
		fmt.Fprintf(stderr, "image: unexpected argument %q (flags only)\n", fs.Arg(0))
		return 2
	}
	if len(o.Binaries) == 0 {
		fmt.Fprintln(stderr, "image: -binary is required: CGO_ENABLED=0 GOOS=linux go build -o bin/linux-amd64/zconform ./cmd/zconform")
		return 2
	}
	if *created != "" {
		t, err := time.Parse(time.RFC3339, *created)
		if err != nil {
			fmt.Fprintf(stderr, "image: -created: %v\n", err)
			return 2
		}
		o.Created = t
	}
	built, err := image.Build(o)
	if err != nil {
		fmt.Fprintf(stderr, "image: %v\n", err)
		return 1
	}
	if err := built.WriteArchive(*out); err != nil {
		fmt.Fprintf(stderr, "image: %v\n", err)
		return 1
	}
	var platforms []string
	for _, p := range built.Images {
		d, err := p.Image.Digest()
		if err != nil {
			fmt.Fprintf(stderr, "image: %v\n", err)
			return 1
		}
		platforms = append(platforms, fmt.Sprintf("%s %s", p.Platform, d))
	}
	fmt.Fprintf(stdout, "wrote %s: %s (%s)\n", *out, built.Ref, strings.Join(platforms, ", "))
	fmt.Fprintf(stdout, "  load it:  podman load -i %s   (or: docker load -i %s; skopeo copy oci-archive:%s docker://REGISTRY/%s)\n", *out, *out, *out, built.Ref)
	fmt.Fprintf(stdout, "  run it:   podman run --rm -p 8080:8080 -e %s=<secret> %s\n", "ZCONFORM_CONTROL_TOKEN", built.Ref)
	return 0
}

// Package version says which zconform build is running: its module
// version, its commit and the Go version it was built with, from the build
// information Go stamps into every binary.
package version

import (
	"fmt"
	"runtime/debug"
)

// Info is a build's identity.
type Info struct {
	// Version is the module version ("v0.3.0"), or "(devel)" for a build
	// from a checkout.
	Version string `json:"version"`
	// Commit is the VCS revision, with "-dirty" when the tree had changes,
	// or "unknown" (go run and go test stamp none).
	Commit string `json:"commit"`
	// Go is the Go version of the build.
	Go string `json:"go"`
}

// version and commit, when set at link time (-ldflags "-X
// github.com/zconform/zconform/internal/version.commit=…"), win over the
// build information: builds with -buildvcs=false, and go run, stamp none.
var version, commit string

// Get reads the running binary's build information.
func Get() Info {
	info := fromBuildInfo()
	if version != "" {
		info.Version = version
	}
	if commit != "" {
		info.Commit = commit
	}
	return info
}

// fromBuildInfo is Get without the link-time values.
func fromBuildInfo() Info {
	info := Info{Version: "(devel)", Commit: "unknown", Go: "unknown"}
	bi, ok := debug.ReadBuildInfo()
	if !ok {
		return info
	}
	info.Go = bi.GoVersion
	if v := bi.Main.Version; v != "" {
		info.Version = v
	}
	var rev, modified string
	for _, s := range bi.Settings {
		switch s.Key {
		case "vcs.revision":
			rev = s.Value
		case "vcs.modified":
			modified = s.Value
		}
	}
	if rev != "" {
		if len(rev) > 12 {
			rev = rev[:12]
		}
		if modified == "true" {
			rev += "-dirty"
		}
		info.Commit = rev
	}
	return info
}

// String is "zconform (devel), commit abc123def456, go1.26.8".
func (i Info) String() string {
	return fmt.Sprintf("zconform %s, commit %s, %s", i.Version, i.Commit, i.Go)
}

package version

import (
	"strings"
	"testing"
)

func TestGet(t *testing.T) {
	i := Get()
	if i.Version == "" || i.Commit == "" || !strings.HasPrefix(i.Go, "go") {
		t.Fatalf("Get() = %+v", i)
	}
	if s := i.String(); !strings.HasPrefix(s, "zconform ") || !strings.Contains(s, i.Commit) {
		t.Errorf("String() = %q", s)
	}
}

// Link-time values win over the build information.
func TestLinkTimeValues(t *testing.T) {
	defer func(v, c string) { version, commit = v, c }(version, commit)
	version, commit = "v1.2.3", "abcdef123456-dirty"
	if i := Get(); i.Version != "v1.2.3" || i.Commit != "abcdef123456-dirty" {
		t.Fatalf("Get() = %+v", i)
	}
}

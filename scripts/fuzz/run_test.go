package fuzz_test

import (
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
)

// stubGo answers `go test -fuzz` as $STUB says: a pass, Go's deadline race,
// a finding, the race with an input written, a build failure.
const stubGo = `#!/bin/sh
corpus="$CORPUS"
case "$STUB" in
pass) echo PASS; exit 0;;
race) printf -- '--- FAIL: FuzzX (5.83s)\n    context deadline exceeded\nFAIL\nexit status 1\n'; exit 1;;
finding) mkdir -p "$corpus"; touch "$corpus/abc"
	printf -- '--- FAIL: FuzzX (4.81s)\n    --- FAIL: FuzzX (0.00s)\n        x_test.go:1: bad\n    Failing input written to testdata/fuzz/FuzzX/abc\nFAIL\n'; exit 1;;
race-and-input) mkdir -p "$corpus"; touch "$corpus/def"
	printf -- '--- FAIL: FuzzX (5.83s)\n    context deadline exceeded\n'; exit 1;;
build) printf -- 'x_test.go:3:1: syntax error\nFAIL\tpkg [build failed]\n'; exit 1;;
esac
`

func TestOnlyFindingsFail(t *testing.T) {
	if _, err := exec.LookPath("bash"); err != nil {
		t.Skip("needs bash")
	}
	dir := t.TempDir()
	goBin := filepath.Join(dir, "go")
	if err := os.WriteFile(goBin, []byte(stubGo), 0o755); err != nil {
		t.Fatal(err)
	}
	for stub, wantFail := range map[string]bool{"pass": false, "race": false, "finding": true, "race-and-input": true, "build": true} {
		pkg := filepath.Join(dir, stub) // absolute: the corpus the stub writes stays in the temp dir
		cmd := exec.Command("bash", "run", pkg+":FuzzX")
		cmd.Env = append(os.Environ(), "GO="+goBin, "STUB="+stub, "CORPUS="+filepath.Join(pkg, "testdata", "fuzz", "FuzzX"), "FUZZTIME=1s")
		out, err := cmd.CombinedOutput()
		if failed := err != nil; failed != wantFail {
			t.Errorf("%s: failed %v, want %v:\n%s", stub, failed, wantFail, out)
		}
		if said := strings.Contains(string(out), "golang/go#75804"); said != (stub == "race") {
			t.Errorf("%s: names the race: %v:\n%s", stub, said, out)
		}
	}
}

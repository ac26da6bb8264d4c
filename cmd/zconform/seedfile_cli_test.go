package main

import (
	"os"
	"path/filepath"
	"strings"
	"testing"
)

// "zconform fake -seed bad.yaml" prints every problem of the file, each at
// its line and in the file's words, and does not serve.
func TestSeedFileCLIListsEveryProblem(t *testing.T) {
	t.Setenv(controlTokenEnv, "")
	path := filepath.Join(t.TempDir(), "bad.yaml")
	if err := os.WriteFile(path, []byte(`profile: kaizen4
users:
  - {email: alice@example.com, dc: us, colour: red}
clients:
  - type: web
    name: CI app
    homepage: https://example.com
    redirect_uris: http://localhost:3000/callback
    user: alice@example.com
limits:
  grant_lifetime: a minute
`), 0o644); err != nil {
		t.Fatal(err)
	}
	var stdout, stderr syncBuffer
	stop := make(chan struct{})
	close(stop) // should it start, stop at once
	code := runFake([]string{"-seed", path, "-addr", "127.0.0.1:0"}, &stdout, &stderr, stop)
	if code == 0 {
		t.Fatalf("a broken seed file served (exit 0):\n%s", stdout.String())
	}
	got := stderr.String()
	for _, want := range []string{
		path + ": 3 problems",
		path + ":3: user 1: field colour not found",
		path + ":8: client 1: redirect_uris: want a list such as [http://localhost:3000/callback]",
		path + ":11: limits.grant_lifetime: want a duration such as 60s, found \"a minute\"",
	} {
		if !strings.Contains(got, want) {
			t.Errorf("stderr lacks %q:\n%s", want, got)
		}
	}
	for _, goIsm := range []string{"fakeserver.", "[]string", "!!str", "unmarshal"} {
		if strings.Contains(got, goIsm) {
			t.Errorf("stderr speaks Go (%q):\n%s", goIsm, got)
		}
	}
	if stdout.String() != "" {
		t.Errorf("stdout: %q", stdout.String())
	}
}

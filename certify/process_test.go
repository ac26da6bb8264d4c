package certify_test

import (
	"context"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/zconform/zconform/certify"
)

// A broken adapter gets a failing verdict with a clear reason, never a hang
// and never a pass; nothing it started is left running.
func TestBrokenAdapters(t *testing.T) {
	dir := t.TempDir()
	notExecutable := filepath.Join(dir, "adapter.sh")
	if err := os.WriteFile(notExecutable, []byte("#!/bin/sh\nexit 0\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	pidFile := filepath.Join(dir, "pid")
	for _, c := range []struct {
		name string
		cmd  []string
		want string
	}{
		{"not JSON", []string{"sh", "-c", `read line; echo "hello"; read line`}, "not a JSON report"},
		{"exits", []string{"sh", "-c", `echo "boom" >&2; exit 3`}, "its stderr: boom"},
		{"missing command", []string{"/nonexistent/adapter"}, "it did not start: start /nonexistent/adapter"},
		{"not executable", []string{notExecutable}, "permission denied"},
		// it starts a child that never answers either
		{"hangs", []string{"sh", "-c", `sleep 300 & echo $! > ` + pidFile + `; read line; sleep 300`}, "did not answer redirect within 300ms: killed"},
	} {
		t.Run(c.name, func(t *testing.T) {
			start := time.Now()
			vs, err := certify.Run(context.Background(), certify.Command{Name: "broken", Version: "0", Args: c.cmd, Timeout: 300 * time.Millisecond}.Factory(),
				certify.Options{Only: []string{"ACCESS-TOKEN-REUSED"}})
			if err != nil {
				t.Fatal(err)
			}
			v := vs[0]
			if v.Outcome != certify.Fail || !strings.HasPrefix(v.Reason, "the integration never worked: ") || !strings.Contains(v.Reason, c.want) {
				t.Fatalf("%s: %s\n%s", v.Outcome, v.Reason, strings.Join(v.Evidence, "\n"))
			}
			if d := time.Since(start); d > 15*time.Second {
				t.Errorf("the verdict took %s", d)
			}
		})
	}
	data, err := os.ReadFile(pidFile)
	if err != nil {
		t.Fatal(err)
	}
	pid, _ := strconv.Atoi(strings.TrimSpace(string(data)))
	deadline := time.Now().Add(5 * time.Second)
	for syscall.Kill(pid, 0) == nil {
		if time.Now().After(deadline) {
			t.Fatalf("the hanging adapter's child %d still runs", pid)
		}
		time.Sleep(20 * time.Millisecond)
	}
}

func TestScenariosAreDescribed(t *testing.T) {
	seen := map[string]bool{}
	for _, s := range certify.Scenarios() {
		if seen[s.ID] || s.Title == "" || s.Basis == "" || (len(s.Seeds) == 0 && len(s.Faults) == 0) {
			t.Errorf("scenario %s is duplicated or incomplete", s.ID)
		}
		seen[s.ID] = true
	}
	if set := certify.ScenarioSet(); !strings.HasPrefix(set, "v3 (18 scenarios, digest ") {
		t.Errorf("ScenarioSet() = %q", set)
	}
}

// An unknown scenario ID is refused up front, naming it.
func TestRunRefusesUnknownScenarios(t *testing.T) {
	_, err := certify.Run(context.Background(), certify.NewProcess("x", "0", "", "true"), certify.Options{Only: []string{"NOPE"}})
	if err == nil || !strings.Contains(err.Error(), `no scenario "NOPE"`) {
		t.Fatalf("err = %v", err)
	}
}

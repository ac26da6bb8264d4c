package main

import (
	"bytes"
	"os"
	"path/filepath"
	"strings"
	"testing"
)

func TestMutate(t *testing.T) {
	src := "package x\n\nfunc f(a, b int) bool {\n\tswitch {\n\tcase a == b:\n\t\treturn a >= b\n\t}\n\treturn false\n}\n"
	for _, c := range []struct {
		kind      string
		line, col int
		want      string
	}{
		{"CONDITIONALS_NEGATION", 5, 9, "\tcase a != b:"},
		{"CONDITIONALS_NEGATION", 6, 12, "\t\treturn a < b"},
		{"CONDITIONALS_BOUNDARY", 6, 12, "\t\treturn a > b"},
	} {
		got, ok := mutate(src, survivor{kind: c.kind, line: c.line, col: c.col})
		if !ok || strings.Split(got, "\n")[c.line-1] != c.want {
			t.Errorf("%s at %d:%d: %q, %v", c.kind, c.line, c.col, strings.Split(got, "\n")[c.line-1], ok)
		}
	}
	if _, ok := mutate(src, survivor{kind: "CONDITIONALS_NEGATION", line: 5, col: 2}); ok {
		t.Error("mutated a position without a comparison")
	}
}

// The report scores, names each survivor with its reason, and fails on a
// survivor without one or a score under the goal.
func TestRunScoresAndNamesSurvivors(t *testing.T) {
	dir := t.TempDir()
	src := filepath.Join(dir, "rule.go")
	if err := os.WriteFile(src, []byte("package x\n\nfunc f(a int) bool { return a > 0 }\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	results := filepath.Join(dir, "gremlins.json")
	json := `{"files":[{"file_name":"` + src + `","mutations":[` +
		strings.Repeat(`{"type":"CONDITIONALS_NEGATION","status":"KILLED","line":3,"column":32},`, 19) +
		`{"type":"CONDITIONALS_BOUNDARY","status":"LIVED","line":3,"column":32}]}],"elapsed_time":60}`
	if err := os.WriteFile(results, []byte(json), 0o644); err != nil {
		t.Fatal(err)
	}
	reasons := filepath.Join(dir, "survivors.txt")
	if err := os.WriteFile(reasons, []byte("# none\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	var out bytes.Buffer
	if code := run(results, reasons, "", 95, &out); code != 1 || !strings.Contains(out.String(), "95.0% (19 killed, 1 lived") || !strings.Contains(out.String(), "UNEXPLAINED") {
		t.Fatalf("exit %d:\n%s", code, out.String())
	}
	if err := os.WriteFile(reasons, []byte(src+":3:32 CONDITIONALS_BOUNDARY  a > 0 and a >= 0 differ only for 0, which never comes\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	out.Reset()
	if code := run(results, reasons, "", 95, &out); code != 0 || !strings.Contains(out.String(), "which never comes") {
		t.Fatalf("exit %d:\n%s", code, out.String())
	}
	out.Reset()
	if code := run(results, reasons, "", 96, &out); code != 1 || !strings.Contains(out.String(), "under the goal of 96%") {
		t.Fatalf("exit %d:\n%s", code, out.String())
	}
	if code := run(filepath.Join(dir, "none.json"), reasons, "", 95, &out); code != 2 {
		t.Fatalf("a missing results file: exit %d", code)
	}
}

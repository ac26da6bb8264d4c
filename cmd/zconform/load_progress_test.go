package main

import (
	"bytes"
	"encoding/json"
	"flag"
	"os"
	"path/filepath"
	"regexp"
	"strconv"
	"strings"
	"testing"
)

// progressLine is one line of "zconform load -progress": the time elapsed,
// then the phase.
var progressLine = regexp.MustCompile(`^zconform load: +([0-9]+\.[0-9])s ([a-z]+): (.+)$`)

// With -progress, stderr tells each phase as it goes, with the time
// elapsed, and every interval of the load; stdout holds only the report.
func TestLoadProgress(t *testing.T) {
	var out, errb bytes.Buffer
	if code := runLoad([]string{"-workers", "2", "-duration", "2500ms", "-dcs", "us,eu", "-progress"}, &out, &errb); code != 0 {
		t.Fatalf("exit %d\n%s\n%s", code, out.String(), errb.String())
	}
	lines := strings.Split(strings.TrimRight(errb.String(), "\n"), "\n")
	var phases []string
	last := -1.0
	ticks := map[string]int{}
	for _, l := range lines {
		m := progressLine.FindStringSubmatch(l)
		if m == nil {
			t.Fatalf("not a progress line: %q\n%s", l, errb.String())
		}
		at, _ := strconv.ParseFloat(m[1], 64)
		if at < last {
			t.Errorf("time goes back: %q after %.1fs", l, last)
		}
		last = at
		if strings.Contains(m[3], "so far") {
			ticks[m[2]]++
			continue
		}
		phases = append(phases, m[2]+": "+m[3])
	}
	want := []string{
		"setup: 2 integrations over us, eu (kaizen4 profile)",
		"fake: driving the fake",
		"fake: ",
		"checks: the invariants",
		"checks: ",
		"ceiling: driving a bare net/http handler",
		"ceiling: ",
		"done: PASS",
	}
	if len(phases) != len(want) {
		t.Fatalf("phases:\n%s\nwant %d lines", strings.Join(phases, "\n"), len(want))
	}
	for i, w := range want {
		if !strings.HasPrefix(phases[i], w) {
			t.Errorf("line %d: %q, want %q...", i+1, phases[i], w)
		}
	}
	if !regexp.MustCompile(`^fake: [0-9]+ cycles, [0-9]+ requests in [0-9.]+m?s \([0-9]+ cycles/s\)$`).MatchString(phases[2]) {
		t.Errorf("the end of the fake's load: %q", phases[2])
	}
	if !strings.Contains(phases[4], "invariants checked in") || !strings.HasSuffix(phases[4], "all held") {
		t.Errorf("the end of the checks: %q", phases[4])
	}
	// 2.5 s of load, a tick a second, on each side
	if ticks["fake"] < 2 || ticks["ceiling"] < 2 {
		t.Errorf("ticks %v:\n%s", ticks, errb.String())
	}
	// the report on stdout is as without -progress
	if strings.Contains(out.String(), "so far") || !strings.Contains(out.String(), "result: PASS") {
		t.Errorf("stdout:\n%s", out.String())
	}
}

// Without -progress, on a pipe or a file, stderr stays silent (scripts
// read stable output); with -json, stdout stays one JSON document whatever
// -progress says.
func TestLoadProgressOffUnlessAsked(t *testing.T) {
	for _, args := range [][]string{
		{"-workers", "2", "-cycles", "20", "-dcs", "us", "-ceiling=false"},
		{"-workers", "2", "-cycles", "20", "-dcs", "us", "-ceiling=false", "-progress=false"},
		{"-workers", "2", "-cycles", "20", "-dcs", "us", "-ceiling=false", "-json"},
	} {
		var out, errb bytes.Buffer
		if code := runLoad(args, &out, &errb); code != 0 {
			t.Fatalf("%v: exit %d\n%s", args, code, errb.String())
		}
		if errb.Len() != 0 {
			t.Errorf("%v: stderr %q", args, errb.String())
		}
	}
	var out, errb bytes.Buffer
	if code := runLoad([]string{"-workers", "2", "-cycles", "20", "-dcs", "jp", "-ceiling=false", "-json", "-progress"}, &out, &errb); code != 0 {
		t.Fatalf("exit %d\n%s", code, errb.String())
	}
	var rep map[string]any
	if err := json.Unmarshal(out.Bytes(), &rep); err != nil || rep["ok"] != true {
		t.Errorf("-json -progress: stdout is not the report (%v):\n%s", err, out.String())
	}
	if !strings.Contains(errb.String(), "done: PASS") || strings.Contains(errb.String(), "ceiling") {
		t.Errorf("-json -progress: stderr\n%s", errb.String())
	}
}

// Progress is on by default where stderr is a terminal (a character
// device), off for a file or a buffer; the flag wins either way.
func TestLoadProgressDefault(t *testing.T) {
	dev, err := os.OpenFile(os.DevNull, os.O_WRONLY, 0)
	if err != nil {
		t.Skip(err)
	}
	defer dev.Close()
	file, err := os.Create(filepath.Join(t.TempDir(), "stderr"))
	if err != nil {
		t.Fatal(err)
	}
	defer file.Close()
	for _, c := range []struct {
		name string
		args []string
		w    interface{ Write([]byte) (int, error) }
		want bool
	}{
		{"a character device", nil, dev, true},
		{"a character device, -progress=false", []string{"-progress=false"}, dev, false},
		{"a file", nil, file, false},
		{"a file, -progress", []string{"-progress"}, file, true},
		{"a buffer", nil, &bytes.Buffer{}, false},
	} {
		fs := flag.NewFlagSet("load", flag.ContinueOnError)
		p := fs.Bool("progress", false, "")
		if err := fs.Parse(c.args); err != nil {
			t.Fatal(err)
		}
		if got := showProgress(fs, "progress", *p, c.w); got != c.want {
			t.Errorf("%s: progress %v, want %v", c.name, got, c.want)
		}
	}
}

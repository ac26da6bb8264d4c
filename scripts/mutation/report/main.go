// Command report sums up `make mutation`: the score gremlins measured with
// the conformance suite as the only oracle, each surviving mutant with its
// source line and the reason it is invisible on the wire (from
// scripts/mutation/survivors.txt), and the limit profile's mutants: every
// limit one unit off its contract (fixtures.LimitChanges), run through the
// prebuilt conformance suite against a fake configured so, each of which
// the suite must fail.
//
// Gremlins counts a mutant in a switch's case expression as not covered
// (Go's coverage blocks start after the colon), so it never runs it; the
// report runs those itself, in a copy of the module, and gives the score
// with them too.
//
// It exits 1 when a score is under -min, when a survivor has no reason on
// file, or when a limit change passes the suite.
package main

import (
	"bufio"
	"encoding/json"
	"flag"
	"fmt"
	"io"
	"os"
	"os/exec"
	"path/filepath"
	"sort"
	"strings"

	"github.com/zconform/zconform/fixtures"
	"github.com/zconform/zconform/fixtures/zoho"
	"github.com/zconform/zconform/suites/target"
)

// gremlinsResults is the part of gremlins' JSON output the report reads.
type gremlinsResults struct {
	Files []struct {
		Filename  string `json:"file_name"`
		Mutations []struct {
			Type   string `json:"type"`
			Status string `json:"status"`
			Line   int    `json:"line"`
			Column int    `json:"column"`
		} `json:"mutations"`
	} `json:"files"`
	Elapsed float64 `json:"elapsed_time"`
}

// survivor is a mutant that lived.
type survivor struct {
	file       string
	line, col  int
	kind, code string
}

func (s survivor) key() string { return fmt.Sprintf("%s:%d:%d %s", s.file, s.line, s.col, s.kind) }

func main() {
	results := flag.String("gremlins", "out/mutation/gremlins.json", "gremlins' JSON output")
	reasons := flag.String("survivors", "scripts/mutation/survivors.txt", "the known survivors, one a line: file:line:col TYPE  reason")
	suite := flag.String("suite", "", "a prebuilt conformance suite (go test -c): run the limit profile's mutants through it")
	min := flag.Float64("min", 95, "the least score (killed / (killed + lived), in percent)")
	flag.Parse()
	os.Exit(run(*results, *reasons, *suite, *min, os.Stdout))
}

func run(resultsPath, reasonsPath, suite string, min float64, w io.Writer) int {
	status := 0
	data, err := os.ReadFile(resultsPath)
	if err != nil {
		fmt.Fprintf(w, "report: %v: run scripts/mutation/run first\n", err)
		return 2
	}
	var res gremlinsResults
	if err := json.Unmarshal(data, &res); err != nil {
		fmt.Fprintf(w, "report: %s: %v\n", resultsPath, err)
		return 2
	}
	known, err := readReasons(reasonsPath)
	if err != nil {
		fmt.Fprintf(w, "report: %v\n", err)
		return 2
	}
	counts := map[string]int{}
	var lived, clauses []survivor
	for _, f := range res.Files {
		for _, m := range f.Mutations {
			counts[m.Status]++
			s := survivor{file: f.Filename, line: m.Line, col: m.Column, kind: m.Type, code: sourceLine(f.Filename, m.Line)}
			switch {
			case m.Status == "LIVED":
				lived = append(lived, s)
			case m.Status == "NOT COVERED" && strings.HasPrefix(strings.TrimSpace(s.code), "case ") && strings.HasPrefix(m.Type, "CONDITIONALS_"):
				clauses = append(clauses, s)
			}
		}
	}
	sort.Slice(lived, func(i, j int) bool {
		a, b := lived[i], lived[j]
		if a.file != b.file {
			return a.file < b.file
		}
		if a.line != b.line {
			return a.line < b.line
		}
		return a.col < b.col
	})
	killed, nLived := counts["KILLED"], counts["LIVED"]
	score := 0.0
	if killed+nLived > 0 {
		score = 100 * float64(killed) / float64(killed+nLived)
	}
	fmt.Fprintf(w, "\nmutation score of the conformance suite on the fake's rule code: %.1f%% (%d killed, %d lived; %d not covered, %d timed out, %d not viable; %.0f min)\n",
		score, killed, nLived, counts["NOT COVERED"], counts["TIMED OUT"], counts["NOT VIABLE"], res.Elapsed/60)
	if score < min {
		fmt.Fprintf(w, "  under the goal of %.0f%%\n", min)
		status = 1
	}
	if len(lived) > 0 {
		fmt.Fprintln(w, "survivors:")
	}
	for _, s := range lived {
		reason, ok := known[s.key()]
		if !ok {
			reason = "UNEXPLAINED: add a case that kills it, or its reason to " + reasonsPath
			status = 1
		}
		fmt.Fprintf(w, "  %s  %s\n      %s\n", s.key(), strings.TrimSpace(s.code), reason)
	}
	if len(clauses) > 0 {
		k, l, unexplained, err := clauseMutants(clauses, known, w)
		if err != nil {
			fmt.Fprintf(w, "report: the case-clause mutants: %v\n", err)
			return 2
		}
		if unexplained > 0 {
			status = 1
		}
		all := 100 * float64(killed+k) / float64(killed+nLived+k+l)
		fmt.Fprintf(w, "with the %d mutants in switch case expressions that gremlins counts as not covered, run here by hand: %.1f%% (%d killed, %d lived)\n", len(clauses), all, killed+k, nLived+l)
		if all < min {
			status = 1
		}
	}
	if suite != "" {
		if limitMutants(suite, w) > 0 {
			status = 1
		}
	}
	return status
}

// clauseMutants applies each mutant of a case expression in a copy of the
// module and runs the conformance suite under both profiles: killed when
// either fails. A mutant that lives needs a reason on file, as gremlins'
// survivors do: unexplained counts those without.
func clauseMutants(ms []survivor, known map[string]string, w io.Writer) (killed, lived, unexplained int, err error) {
	dir, err := os.MkdirTemp("", "zconform-mutation-")
	if err != nil {
		return 0, 0, 0, err
	}
	defer os.RemoveAll(dir)
	files, err := exec.Command("git", "ls-files", "-z", "--cached", "--others", "--exclude-standard").Output()
	if err != nil {
		return 0, 0, 0, fmt.Errorf("git ls-files: %w", err)
	}
	for _, f := range strings.Split(strings.TrimRight(string(files), "\x00"), "\x00") {
		data, err := os.ReadFile(f)
		if err != nil {
			continue // listed but gone (deleted in the work tree)
		}
		dst := filepath.Join(dir, f)
		if err := os.MkdirAll(filepath.Dir(dst), 0o755); err != nil {
			return 0, 0, 0, err
		}
		if err := os.WriteFile(dst, data, 0o644); err != nil {
			return 0, 0, 0, err
		}
	}
	goCmd := os.Getenv("ZCONFORM_REAL_GO")
	if goCmd == "" {
		goCmd = "go"
	}
	suiteFails := func() bool {
		for _, profile := range zoho.ProfileNames() {
			cmd := exec.Command(goCmd, "test", "-count=1", "./suites/conformance")
			cmd.Dir = dir
			cmd.Env = append(os.Environ(), target.EnvProfile+"="+profile, target.EnvOut+"="+filepath.Join(dir, "out"), "ZCONFORM_QUIET=1")
			if cmd.Run() != nil {
				return true
			}
		}
		return false
	}
	// the control: unmutated, the copy passes (else every mutant would
	// look killed)
	if suiteFails() {
		return 0, 0, 0, fmt.Errorf("the conformance suite fails in the unmutated copy in %s: fix that first", dir)
	}
	for _, m := range ms {
		path := filepath.Join(dir, m.file)
		orig, err := os.ReadFile(path)
		if err != nil {
			return killed, lived, unexplained, err
		}
		mutated, ok := mutate(string(orig), m)
		if !ok {
			fmt.Fprintf(w, "  could not apply %s\n", m.key())
			continue
		}
		if err := os.WriteFile(path, []byte(mutated), 0o644); err != nil {
			return killed, lived, unexplained, err
		}
		dead := suiteFails()
		if err := os.WriteFile(path, orig, 0o644); err != nil {
			return killed, lived, unexplained, err
		}
		if dead {
			killed++
			continue
		}
		lived++
		reason, ok := known[m.key()]
		if !ok {
			reason = "UNEXPLAINED: add a case that kills it, or its reason to the survivors file"
			unexplained++
		}
		fmt.Fprintf(w, "  %s  %s (a case expression, run by hand)\n      %s\n", m.key(), strings.TrimSpace(m.code), reason)
	}
	return killed, lived, unexplained, nil
}

// mutate applies a comparison mutant at its line and column: negation
// (== and !=, < and >=, > and <=) or boundary (< and <=, > and >=).
func mutate(src string, m survivor) (string, bool) {
	lines := strings.Split(src, "\n")
	if m.line < 1 || m.line > len(lines) {
		return "", false
	}
	l := lines[m.line-1]
	c := m.col - 1
	if c < 0 || c >= len(l) {
		return "", false
	}
	table := map[string]string{"==": "!=", "!=": "==", "<": ">=", ">=": "<", ">": "<=", "<=": ">"}
	if m.kind == "CONDITIONALS_BOUNDARY" {
		table = map[string]string{"<": "<=", "<=": "<", ">": ">=", ">=": ">"}
	}
	for _, n := range []int{2, 1} {
		if c+n <= len(l) {
			if to, ok := table[l[c:c+n]]; ok {
				lines[m.line-1] = l[:c] + to + l[c+n:]
				return strings.Join(lines, "\n"), true
			}
		}
	}
	return "", false
}

// limitMutants runs the suite against a fake one limit off the contract,
// for each change of each profile, and returns how many passed.
func limitMutants(suite string, w io.Writer) int {
	runSuite := func(profile, overrides string) bool {
		out, err := os.MkdirTemp("", "zconform-limit-mutant-")
		if err != nil {
			return false
		}
		defer os.RemoveAll(out)
		cmd := exec.Command(suite, "-ginkgo.fail-fast")
		cmd.Env = append(os.Environ(), target.EnvProfile+"="+profile, target.EnvFakeLimits+"="+overrides,
			target.EnvOut+"="+out, "ZCONFORM_QUIET=1")
		return cmd.Run() == nil
	}
	total, lived := 0, 0
	for _, profile := range zoho.ProfileNames() {
		// the control: on its contract, the fake passes
		if !runSuite(profile, "") {
			fmt.Fprintf(w, "  the suite fails against the fake on the %s contract: no limit mutant can be judged\n", profile)
			return 1
		}
		con := fixtures.MustContract(profile)
		for _, change := range fixtures.LimitChanges(con.Limits) {
			l, err := fixtures.ApplyLimits(con.Limits, change)
			if err != nil {
				fmt.Fprintf(w, "  %s %v: %v\n", profile, change, err)
				lived++
				continue
			}
			overrides, _ := json.Marshal(change)
			killed := !runSuite(profile, string(overrides))
			total++
			if !killed {
				lived++
				fmt.Fprintf(w, "  LIVED limit mutant under %s: %v\n", profile, fixtures.DiffLimits(con.Limits, l))
			}
		}
	}
	fmt.Fprintf(w, "limit profile: %d of %d limit mutants killed by the conformance suite (each limit one unit off its contract, per profile)\n", total-lived, total)
	return lived
}

// readReasons reads the known survivors: "file:line:col TYPE  reason".
func readReasons(path string) (map[string]string, error) {
	f, err := os.Open(path)
	if err != nil {
		return nil, err
	}
	defer f.Close()
	out := map[string]string{}
	sc := bufio.NewScanner(f)
	for n := 1; sc.Scan(); n++ {
		line := strings.TrimSpace(sc.Text())
		if line == "" || strings.HasPrefix(line, "#") {
			continue
		}
		pos, rest, ok := strings.Cut(line, " ")
		kind, reason, ok2 := strings.Cut(strings.TrimSpace(rest), " ")
		if !ok || !ok2 || strings.TrimSpace(reason) == "" {
			return nil, fmt.Errorf("%s:%d: want \"file:line:col TYPE  reason\"", path, n)
		}
		out[pos+" "+kind] = strings.TrimSpace(reason)
	}
	return out, sc.Err()
}

func sourceLine(file string, n int) string {
	data, err := os.ReadFile(filepath.Clean(file))
	if err != nil {
		return ""
	}
	lines := strings.Split(string(data), "\n")
	if n < 1 || n > len(lines) {
		return ""
	}
	return lines[n-1]
}

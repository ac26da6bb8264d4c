// Command report sums up `make mutation`: the score gremlins measured with
// the conformance suite as the only oracle, each surviving mutant with its
// source line and the reason it is invisible on the wire (from
// scripts/mutation/survivors.txt), and the limit profile's mutants: every
// limit one unit off its contract (fixtures.LimitChanges), run through the
// prebuilt conformance suite against a fake configured so, each of which
// the suite must fail.
//
// It exits 1 when the score is under -min, when a survivor has no reason on
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
	var lived []survivor
	for _, f := range res.Files {
		for _, m := range f.Mutations {
			counts[m.Status]++
			if m.Status == "LIVED" {
				lived = append(lived, survivor{file: f.Filename, line: m.Line, col: m.Column, kind: m.Type, code: sourceLine(f.Filename, m.Line)})
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
	if suite != "" {
		if limitMutants(suite, w) > 0 {
			status = 1
		}
	}
	return status
}

// limitMutants runs the suite against a fake one limit off the contract,
// for each change of each profile, and returns how many passed.
func limitMutants(suite string, w io.Writer) int {
	total, lived := 0, 0
	for _, profile := range zoho.ProfileNames() {
		con := fixtures.MustContract(profile)
		for _, change := range fixtures.LimitChanges(con.Limits) {
			l, err := fixtures.ApplyLimits(con.Limits, change)
			if err != nil {
				fmt.Fprintf(w, "  %s %v: %v\n", profile, change, err)
				lived++
				continue
			}
			overrides, _ := json.Marshal(change)
			out, err := os.MkdirTemp("", "zconform-limit-mutant-")
			if err != nil {
				fmt.Fprintln(w, err)
				return 1
			}
			cmd := exec.Command(suite, "-ginkgo.fail-fast")
			cmd.Env = append(os.Environ(), target.EnvProfile+"="+profile, target.EnvFakeLimits+"="+string(overrides),
				target.EnvOut+"="+out, "ZCONFORM_QUIET=1")
			killed := cmd.Run() != nil
			_ = os.RemoveAll(out)
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

package main

import (
	"errors"
	"flag"
	"fmt"
	"io"
	"os"
	"os/exec"
	"path/filepath"
	"runtime"
	"strings"

	"github.com/zconform/zconform/fakeserver"
	"github.com/zconform/zconform/fixtures"
	"github.com/zconform/zconform/fixtures/zoho"
	"github.com/zconform/zconform/reports"
	"github.com/zconform/zconform/suites/target"
)

// suitePackage is the conformance suite, built as a go test -c binary.
const suitePackage = "./suites/conformance"

// runRun builds the conformance suite (unless -suite names a prebuilt one),
// runs it against the bundled fake, and prints where the reports are and a
// one-line verdict, with the failing case IDs on the last lines.
func runRun(args []string, stdout, stderr io.Writer) int {
	fs := flag.NewFlagSet("zconform run", flag.ContinueOnError)
	fs.SetOutput(stderr)
	profile := fs.String("profile", "", "the limit profile to expect: kaizen4 or accounts-2025 (default: the target file's, else kaizen4)")
	labels := fs.String("label-filter", "", `Ginkgo label filter, e.g. "seed: containsAny {K4-NOTE-7}" or "!destructive"`)
	out := fs.String("out", "out", "folder for the reports")
	procs := fs.Int("procs", runtime.NumCPU(), "parallel Ginkgo processes (1 runs serially without the ginkgo CLI)")
	suite := fs.String("suite", "", "a prebuilt conformance suite (go test -c -o conformance.test ./suites/conformance); default: build it")
	verbose := fs.Bool("v", false, "verbose Ginkgo output")
	targetFile := fs.String("target", "", "a target file (YAML): run against that real endpoint instead of the fake (serially)")
	slow := fs.Bool("slow", false, "with -target: include the cases that wait for real (a grant's minute, an access token's hour)")
	destructive := fs.Bool("destructive", false, "with -target: include the cases that evict tokens and exhaust rate limits (production needs test_user: true)")
	deviations := fs.String("deviations", "", "an expected-deviations file: cases that deviate as written are reported as deviations, not failures")
	breaks := fs.String("break", "", "comma-separated seed IDs (K4-…) or deviations (DEV-…) whose rules the fake breaks, to watch the suite catch them (e.g. K4-TOKEN-CODE-b)")
	fakeLimits := fs.String("fake-limits", "", `limits the fake runs apart from the profile's contract, as YAML, e.g. "{grant_lifetime: 61s}": to watch the suite catch them`)
	fs.Usage = func() {
		fmt.Fprintln(stderr, "Usage: zconform run [flags]\n\nRuns the conformance catalogue against the bundled fake and writes JUnit,\nGinkgo JSON, results JSON and a Markdown/HTML summary.\nExit status: 0 when every case that ran passed.\n\nFlags:")
		fs.PrintDefaults()
	}
	if err := fs.Parse(args); err != nil {
		if errors.Is(err, flag.ErrHelp) {
			return 0
		}
		return 2
	}
	if fs.NArg() > 0 {
		fmt.Fprintf(stderr, "zconform run: unexpected argument %q (flags only)\n", fs.Arg(0))
		return 2
	}
	if *profile != "" {
		if _, err := zoho.Profile(*profile); err != nil {
			fmt.Fprintf(stderr, "zconform run: -profile: %v\n", err)
			return 2
		}
	}
	for _, id := range strings.Split(*breaks, ",") {
		if id = strings.TrimSpace(id); id != "" {
			if _, ok := fakeserver.BreakEffect(zoho.SeedID(id)); !ok {
				fmt.Fprintf(stderr, "zconform run: -break: no break for %q: use seed IDs of docs/zoho-oauth.md or the fake's deviations (zconform catalogue lists both)\n", id)
				return 2
			}
		}
	}
	if *targetFile != "" {
		if *breaks != "" || *fakeLimits != "" {
			fmt.Fprintln(stderr, "zconform run: -break and -fake-limits apply to the bundled fake, not to a -target")
			return 2
		}
		// Check the file (and the production rule) before building anything.
		if _, err := target.OpenReal(*targetFile, *slow, *destructive); err != nil {
			fmt.Fprintf(stderr, "zconform run: %v\n", err)
			return 2
		}
		*procs = 1 // a real target's grants and caps are shared: serial
		if abs, err := filepath.Abs(*targetFile); err == nil {
			*targetFile = abs
		}
	} else if *slow || *destructive {
		fmt.Fprintln(stderr, "zconform run: -slow and -destructive apply to a -target; against the fake every case runs on the virtual clock")
		return 2
	}
	if *deviations != "" {
		if abs, err := filepath.Abs(*deviations); err == nil {
			*deviations = abs
		}
		d, err := reports.LoadDeviations(*deviations)
		if err == nil {
			var ids []string
			for _, c := range fixtures.Load().Cases {
				ids = append(ids, c.ID)
			}
			err = d.Check(ids)
		}
		if err != nil {
			fmt.Fprintf(stderr, "zconform run: -deviations: %v\n", err)
			return 2
		}
	}
	if *procs < 1 {
		fmt.Fprintln(stderr, "zconform run: -procs must be at least 1")
		return 2
	}
	// Say before the run when the fake is off its contract: the cases its
	// difference touches will fail, and the reports say why.
	if *targetFile == "" {
		p := *profile
		if p == "" {
			p = zoho.Kaizen4
		}
		var ids []zoho.SeedID
		for _, id := range strings.Split(*breaks, ",") {
			if id = strings.TrimSpace(id); id != "" {
				ids = append(ids, zoho.SeedID(id))
			}
		}
		note, err := target.OffContractOf(p, *fakeLimits, ids)
		if err != nil {
			fmt.Fprintf(stderr, "zconform run: -fake-limits: %v\n", err)
			return 2
		}
		if note != "" {
			fmt.Fprintf(stderr, "zconform run: off contract: %s: the cases this touches will fail\n", note)
		}
	}
	outDir, err := filepath.Abs(*out)
	if err != nil {
		fmt.Fprintf(stderr, "zconform run: -out: %v\n", err)
		return 2
	}
	root, rootErr := moduleRoot()
	bin := *suite
	if bin == "" {
		if rootErr != nil {
			fmt.Fprintf(stderr, "zconform run: %v\n", rootErr)
			return 1
		}
		bin = filepath.Join(root, "bin", "conformance.test")
		build := exec.Command("go", "test", "-c", "-o", bin, suitePackage)
		build.Dir, build.Stdout, build.Stderr = root, stderr, stderr
		if err := build.Run(); err != nil {
			fmt.Fprintf(stderr, "zconform run: building the suite failed: %v\n", err)
			return 1
		}
	} else if _, err := os.Stat(bin); err != nil {
		fmt.Fprintf(stderr, "zconform run: -suite: %v\n", err)
		return 2
	}
	if err := os.MkdirAll(outDir, 0o755); err != nil {
		fmt.Fprintf(stderr, "zconform run: cannot create the report folder: %v\n", err)
		return 1
	}
	results := filepath.Join(outDir, "results.json")
	_ = os.Remove(results) // a crashed run must not leave the last verdict behind

	var cmd *exec.Cmd
	if *procs > 1 {
		if rootErr != nil {
			fmt.Fprintf(stderr, "zconform run: -procs %d needs the ginkgo CLI of the zconform checkout (%v); use -procs 1\n", *procs, rootErr)
			return 2
		}
		a := []string{"tool", "ginkgo", "run", "--procs", fmt.Sprint(*procs)}
		if *labels != "" {
			a = append(a, "--label-filter", *labels)
		}
		if *verbose {
			a = append(a, "-v")
		}
		if os.Getenv("CI") != "" {
			a = append(a, "--no-color")
		}
		cmd = exec.Command("go", append(a, bin)...)
		cmd.Dir = root
	} else {
		a := []string{}
		if *labels != "" {
			a = append(a, "-ginkgo.label-filter="+*labels)
		}
		if *verbose {
			a = append(a, "-ginkgo.v")
		}
		cmd = exec.Command(bin, a...)
	}
	cmd.Env = append(os.Environ(), target.EnvProfile+"="+*profile, target.EnvOut+"="+outDir, target.EnvFakeBreaks+"="+*breaks,
		target.EnvFakeLimits+"="+*fakeLimits,
		target.EnvTarget+"="+*targetFile, target.EnvSlow+"="+flag01(*slow), target.EnvDestructive+"="+flag01(*destructive),
		reports.EnvDeviations+"="+*deviations)
	cmd.Stdout, cmd.Stderr = stdout, stderr
	runErr := cmd.Run()

	r, err := reports.ReadResults(results)
	if err != nil {
		fmt.Fprintf(stderr, "zconform run: the suite wrote no results (%v); its exit: %v\n", err, runErr)
		return 1
	}
	fmt.Fprintf(stdout, "\nreports in %s: junit.xml, ginkgo.json, results.json, summary.md, summary.html\n", relative(outDir))
	fmt.Fprintln(stdout, r.Verdict())
	failed := r.Failed()
	if len(failed) > 0 {
		fmt.Fprintln(stdout, "failing cases:")
		for _, id := range failed {
			fmt.Fprintln(stdout, "  "+id)
		}
		return 1
	}
	if !r.Pass() {
		fmt.Fprintf(stdout, "the run did not pass (suite exit: %v): see the output above\n", runErr)
		return 1
	}
	// Ginkgo counts a deviated case as a failed spec; the results know it
	// deviated as expected.
	return 0
}

func flag01(b bool) string {
	if b {
		return "1"
	}
	return ""
}

// moduleRoot finds the zconform checkout by walking up to its go.mod.
func moduleRoot() (string, error) {
	dir, err := os.Getwd()
	if err != nil {
		return "", err
	}
	for {
		data, err := os.ReadFile(filepath.Join(dir, "go.mod"))
		if err == nil && strings.Contains(string(data), "module github.com/zconform/zconform\n") {
			return dir, nil
		}
		parent := filepath.Dir(dir)
		if parent == dir {
			return "", errors.New("not inside the zconform checkout: run it from there, or pass -suite with a prebuilt conformance.test and -procs 1")
		}
		dir = parent
	}
}

func relative(p string) string {
	if wd, err := os.Getwd(); err == nil {
		if r, err := filepath.Rel(wd, p); err == nil && !strings.HasPrefix(r, "..") {
			return r
		}
	}
	return p
}

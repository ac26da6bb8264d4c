package main

import (
	"errors"
	"flag"
	"fmt"
	"io"
	"os"
	"os/exec"
	"os/signal"
	"path/filepath"
	"strings"
	"syscall"
	"time"

	"github.com/zconform/zconform/fakeserver"
	"github.com/zconform/zconform/fixtures"
	"github.com/zconform/zconform/fixtures/zoho"
	"github.com/zconform/zconform/internal/procgroup"
	"github.com/zconform/zconform/reports"
	"github.com/zconform/zconform/suites/conformance"
	"github.com/zconform/zconform/suites/target"
)

// suitePackage is the conformance suite, built as a go test -c binary for
// a parallel run (-procs above 1, with the ginkgo CLI of a checkout).
const suitePackage = "./suites/conformance"

// runRun runs the conformance suite against the bundled fake or a target
// file's endpoint, and prints where the reports are and a one-line
// verdict, with the failing case IDs on the last lines. By default the
// suite is the one compiled into this binary, run in one process (the
// fastest on small machines): no Go toolchain, no checkout.
func runRun(args []string, stdout, stderr io.Writer) int {
	fs := flag.NewFlagSet("zconform run", flag.ContinueOnError)
	fs.SetOutput(stderr)
	profile := fs.String("profile", "", "the limit profile to expect: kaizen4 or accounts-2025 (default: the target file's, else kaizen4)")
	labels := fs.String("label-filter", "", `Ginkgo label filter, e.g. "seed: containsAny {K4-NOTE-7}" or "!destructive"`)
	out := fs.String("out", "out", "folder for the reports")
	procs := fs.Int("procs", 1, "parallel Ginkgo processes; above 1 builds the suite with go test -c and runs it with the ginkgo CLI of the zconform checkout (the suite takes about a second in one process)")
	suite := fs.String("suite", "", "a prebuilt conformance suite (go test -c -o conformance.test ./suites/conformance) to run instead of the one compiled in")
	progressFlag := fs.Bool("progress", isTerminal(stderr), "print a line per case as it ends, with its time (default: when stderr is a terminal)")
	verbose := fs.Bool("v", false, "verbose Ginkgo output")
	targetFile := fs.String("target", "", "a target file (YAML): run against that real endpoint instead of the fake (serially)")
	slow := fs.Bool("slow", false, "with -target: include the cases that wait for real (a grant's minute, an access token's hour)")
	destructive := fs.Bool("destructive", false, "with -target: include the cases that evict tokens and exhaust rate limits (production needs test_user: true)")
	deviations := fs.String("deviations", "", "an expected-deviations file: cases that deviate as written are reported as deviations, not failures")
	breaks := fs.String("break", "", "comma-separated seed IDs (K4-…) or deviations (DEV-…) whose rules the fake breaks, to watch the suite catch them (e.g. K4-TOKEN-CODE-b)")
	via := fs.String("via", "direct", "how to reach the bundled fake: direct (its listener, path-prefixed URLs) or proxy (Zoho's real host names, https://accounts.zoho.com, ..., through the fake's intercepting proxy, as an unchanged client would)")
	fakeLimits := fs.String("fake-limits", "", `limits the fake runs apart from the profile's contract, as YAML, e.g. "{grant_lifetime: 61s}": to watch the suite catch them`)
	grace := fs.Duration("grace", defaultGrace, "when the run is stopped (SIGINT, SIGTERM): how long the suite may take to revoke the run's tokens and write its reports before it is killed")
	fs.Usage = func() {
		fmt.Fprintln(stderr, "Usage: zconform run [flags]\n\nRuns the conformance catalogue against the bundled fake and writes JUnit,\nGinkgo JSON, results JSON and a Markdown/HTML summary.\nExit status: 0 when every case that ran passed; 130 or 143 when stopped\nby SIGINT or SIGTERM (the suite then revokes the run's tokens and\nwrites its reports, within -grace).\n\nFlags:")
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
	// A label filter that does not parse, or selects nothing, is said
	// first: a run of no case is not a pass.
	if n, err := conformance.Matching(*labels); err != nil {
		fmt.Fprintf(stderr, "zconform run: -label-filter %q does not parse: %v\n", *labels, firstLine(err.Error()))
		return 2
	} else if n == 0 {
		fmt.Fprintf(stderr, "zconform run: -label-filter %q matches none of the %d cases: `zconform catalogue` lists the cases and their labels\n", *labels, len(fixtures.Load().Cases))
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
	switch *via {
	case "direct", "proxy":
	default:
		fmt.Fprintf(stderr, "zconform run: -via %q: use direct or proxy\n", *via)
		return 2
	}
	if *via == "proxy" && *targetFile != "" {
		fmt.Fprintln(stderr, "zconform run: -via proxy reaches the bundled fake through its proxy on Zoho's host names; a -target is reached at the URLs its file names")
		return 2
	}
	targetName, runProfile := "fake", *profile
	if *via == "proxy" {
		targetName = "fake via proxy"
	}
	if runProfile == "" {
		runProfile = zoho.Kaizen4
	}
	if *targetFile != "" {
		if *breaks != "" || *fakeLimits != "" {
			fmt.Fprintln(stderr, "zconform run: -break and -fake-limits apply to the bundled fake, not to a -target")
			return 2
		}
		// Check the file (and the production rule) before building anything.
		real, err := target.OpenReal(*targetFile, *slow, *destructive)
		if err != nil {
			fmt.Fprintf(stderr, "zconform run: %v\n", err)
			return 2
		}
		targetName = real.Name()
		if *profile == "" {
			runProfile = real.Profile()
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
	if *grace <= 0 {
		fmt.Fprintln(stderr, "zconform run: -grace must be positive")
		return 2
	}
	if *suite != "" {
		if _, err := os.Stat(*suite); err != nil {
			fmt.Fprintf(stderr, "zconform run: -suite: %v\n", err)
			return 2
		}
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
	// From here on a SIGINT or SIGTERM stops the run in order: the suite
	// gets it once, revokes what the run created and writes its reports;
	// zconform waits for that (at most -grace), then says what became of
	// the run's tokens.
	stop := make(chan os.Signal, 1)
	signal.Notify(stop, os.Interrupt, syscall.SIGTERM)
	defer signal.Stop(stop)
	started := time.Now()
	it := interruption{out: outDir, targetName: targetName, profile: runProfile, real: *targetFile != "", labels: *labels, started: started, grace: *grace}
	results := filepath.Join(outDir, reports.ResultsFile)
	_ = os.Remove(results) // a crashed or stopped run must not leave the last verdict behind

	if err := os.MkdirAll(outDir, 0o755); err != nil {
		fmt.Fprintf(stderr, "zconform run: cannot create the report folder: %v\n", err)
		return 1
	}
	var suiteArgs []string
	if *labels != "" {
		suiteArgs = append(suiteArgs, "-ginkgo.label-filter="+*labels)
	}
	if *verbose {
		suiteArgs = append(suiteArgs, "-ginkgo.v")
	}
	if os.Getenv("CI") != "" || !isTerminal(stdout) {
		suiteArgs = append(suiteArgs, "-ginkgo.no-color")
	}
	var cmd *exec.Cmd
	switch {
	case *procs > 1:
		// in parallel: Ginkgo's CLI is the server of its processes, and it
		// runs a go test -c binary
		root, err := moduleRoot()
		if err != nil {
			fmt.Fprintf(stderr, "zconform run: -procs %d needs the ginkgo CLI of the zconform checkout (%v); without it, run with -procs 1 (the default)\n", *procs, err)
			return 2
		}
		bin := *suite
		if bin == "" {
			bin = filepath.Join(root, "bin", "conformance.test")
			fmt.Fprintf(stderr, "zconform run: building the conformance suite for %d processes (go test -c; a first build compiles every package and can take a minute)\n", *procs)
			build := exec.Command("go", "test", "-c", "-o", bin, suitePackage)
			build.Dir, build.Stdout, build.Stderr = root, stderr, stderr
			procgroup.Own(build)
			if err := build.Start(); err != nil {
				fmt.Fprintf(stderr, "zconform run: building the suite failed: %v\n", err)
				return 1
			}
			done := make(chan error, 1)
			go func() { done <- build.Wait() }()
			select {
			case err := <-done:
				if err != nil {
					fmt.Fprintf(stderr, "zconform run: building the suite failed: %v\n", err)
					return 1
				}
			case sig := <-stop:
				// a build has nothing to clean up
				procgroup.Kill(build)
				<-done
				it.sig, it.phase = sig, "while the suite was being built"
				return it.finish(stdout, stderr)
			}
		}
		a := []string{"tool", "ginkgo", "run", "--procs", fmt.Sprint(*procs)}
		for _, f := range suiteArgs {
			a = append(a, "--"+strings.TrimPrefix(f, "-ginkgo."))
		}
		cmd = exec.Command("go", append(a, bin)...)
		cmd.Dir = root
	case *suite != "":
		cmd = exec.Command(*suite, suiteArgs...)
	default:
		// the suite compiled into this binary, in one process
		self, err := os.Executable()
		if err != nil {
			fmt.Fprintf(stderr, "zconform run: cannot find its own executable to run the suite: %v\n", err)
			return 1
		}
		cmd = exec.Command(self, append([]string{suiteCommand}, suiteArgs...)...)
	}
	cleanup, err := os.CreateTemp("", "zconform-cleanup-*.json")
	if err != nil {
		fmt.Fprintf(stderr, "zconform run: %v\n", err)
		return 1
	}
	cleanup.Close()
	it.cleanup = cleanup.Name()
	_ = os.Remove(it.cleanup) // the suite creates it when it opens a real target
	defer os.Remove(it.cleanup)
	cmd.Env = append(os.Environ(), target.EnvProfile+"="+*profile, target.EnvOut+"="+outDir, target.EnvFakeBreaks+"="+*breaks,
		target.EnvFakeLimits+"="+*fakeLimits, target.EnvVia+"="+*via,
		target.EnvTarget+"="+*targetFile, target.EnvSlow+"="+flag01(*slow), target.EnvDestructive+"="+flag01(*destructive),
		reports.EnvDeviations+"="+*deviations, target.EnvCleanupReport+"="+it.cleanup,
		conformance.EnvRandomizeAll+"=") // a user's run keeps the catalogue's order
	cmd.Stdout, cmd.Stderr = stdout, stderr
	if *progressFlag && *procs == 1 {
		// the progress lines replace Ginkgo's line of dots
		cmd.Env = append(cmd.Env, conformance.EnvProgress+"=1")
		filter := &dotLineFilter{w: stdout}
		defer filter.Flush()
		cmd.Stdout = filter
	}
	// The suite runs in a process group of its own: a terminal's Ctrl-C
	// reaches zconform alone, which forwards it once, to the whole group
	// (the ginkgo CLI and its processes too), as the terminal would have.
	procgroup.Own(cmd)
	if err := cmd.Start(); err != nil {
		fmt.Fprintf(stderr, "zconform run: starting the suite: %v\n", err)
		return 1
	}
	done := make(chan error, 1)
	go func() { done <- cmd.Wait() }()
	var runErr error
	select {
	case runErr = <-done:
	case sig := <-stop:
		it.sig = sig
		what := "it writes its reports"
		if it.real {
			what = "it revokes the tokens the run created and writes its reports"
		}
		fmt.Fprintf(stderr, "\nzconform run: %s: stopping the suite; %s (waiting up to %s)\n", sigName(sig), what, *grace)
		procgroup.Signal(cmd, sig)
		deadline := time.NewTimer(*grace)
		defer deadline.Stop()
		until := time.Now().Add(*grace)
	wait:
		for {
			select {
			case runErr = <-done:
				break wait
			case again := <-stop:
				// Not forwarded: a second interrupt makes Ginkgo skip its
				// cleanup, and the run's tokens would stay live.
				fmt.Fprintf(stderr, "zconform run: %s again: not forwarded (the suite would skip its cleanup); waiting for it at most %s more, then it is killed\n",
					sigName(again), time.Until(until).Round(time.Second))
			case <-deadline.C:
				fmt.Fprintf(stderr, "zconform run: the suite did not stop within %s: killing it and its process group\n", *grace)
				procgroup.Kill(cmd)
				it.killed = true
				runErr = <-done
				break wait
			}
		}
	}
	if it.sig != nil {
		return it.finish(stdout, stderr)
	}

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

// defaultGrace is how long a stopped run waits for the suite to clean up.
const defaultGrace = 60 * time.Second

// interruption is a run stopped by a signal, and what zconform knows of
// it: enough to make sure the reports say so and to tell, in one line,
// what became of the run's tokens.
type interruption struct {
	sig        os.Signal
	phase      string // "" while the suite ran, else when the signal came
	killed     bool   // the suite outlived the grace and was killed
	out        string
	targetName string
	profile    string
	labels     string
	real       bool
	started    time.Time
	grace      time.Duration
	cleanup    string // the suite's cleanup report ($ZCONFORM_CLEANUP_REPORT)
}

// finish makes sure the reports exist and say the run was interrupted,
// prints where they are and the verdict (last), and returns the exit
// status of a process killed by the signal (128+n).
func (it interruption) finish(stdout, stderr io.Writer) int {
	r, err := reports.ReadResults(filepath.Join(it.out, reports.ResultsFile))
	fromSuite := err == nil
	if !fromSuite {
		if werr := it.writeResults(); werr != nil {
			fmt.Fprintf(stderr, "zconform run: writing the reports of the interrupted run: %v\n", werr)
		} else {
			r, err = reports.ReadResults(filepath.Join(it.out, reports.ResultsFile))
		}
	}
	if err == nil {
		files := "junit.xml, ginkgo.json, results.json, summary.md, summary.html"
		if !fromSuite {
			files = "junit.xml, results.json, summary.md, summary.html (written by zconform: the suite wrote none)"
		}
		fmt.Fprintf(stdout, "\nreports in %s: %s\n", relative(it.out), files)
		fmt.Fprintln(stdout, r.Verdict())
	}
	fmt.Fprintln(stdout, it.verdict(r, fromSuite))
	if s, ok := it.sig.(syscall.Signal); ok {
		return 128 + int(s)
	}
	return 1
}

// interrupted reports whether the suite's results say it was interrupted.
func interrupted(r reports.Results) bool {
	for _, f := range r.RunFailures {
		if strings.Contains(strings.ToLower(f.Message), "interrupted") || f.State == "interrupted" {
			return true
		}
	}
	for _, c := range r.Cases {
		if c.State == "interrupted" {
			return true
		}
	}
	return false
}

// writeResults writes the reports of a run whose suite wrote none: no
// case, one run failure saying the run was interrupted and by what.
func (it interruption) writeResults() error {
	var why string
	switch {
	case it.phase != "":
		why = "zconform run was stopped " + it.phase + ", before any case ran"
	case it.killed:
		why = fmt.Sprintf("the suite did not finish within %s and was killed before it wrote its reports", it.grace)
	default:
		why = "the suite stopped without writing its reports"
	}
	_ = os.Remove(filepath.Join(it.out, reports.GinkgoJSONFile)) // an older run's
	_, err := reports.WriteResults(it.out, reports.Results{
		Run: reports.RunMeta{Target: it.targetName, Profile: it.profile, Started: it.started, LabelFilter: it.labels},
		RunFailures: []reports.RunFailure{{Node: "suite", State: "interrupted",
			Message: "Interrupted by " + sigName(it.sig) + ": " + why}},
		Notes: []string{it.tokens()},
	})
	return err
}

// verdict is the run's last line.
func (it interruption) verdict(r reports.Results, fromSuite bool) string {
	var b strings.Builder
	b.WriteString("INTERRUPTED: ")
	switch {
	case it.phase != "":
		fmt.Fprintf(&b, "the run was stopped by %s %s, before any case ran", sigName(it.sig), it.phase)
	case !fromSuite:
		fmt.Fprintf(&b, "the run was stopped by %s; the suite wrote no reports", sigName(it.sig))
	default:
		var passed, failed, skipped, deviated, done int
		for _, c := range r.Cases {
			if c.State == "interrupted" {
				continue
			}
			done++
			switch c.Outcome {
			case reports.Passed:
				passed++
			case reports.Failed:
				failed++
			case reports.Skipped:
				skipped++
			case reports.Deviated:
				deviated++
			}
		}
		counts := fmt.Sprintf("%d passed, %d failed, %d skipped", passed, failed, skipped)
		if deviated > 0 {
			counts += fmt.Sprintf(", %d deviated", deviated)
		}
		if interrupted(r) {
			fmt.Fprintf(&b, "the run was stopped by %s after %d %s (%s)", sigName(it.sig), done, plural(done, "case", "cases"), counts)
		} else {
			fmt.Fprintf(&b, "%s came as the run ended, after %d %s (%s)", sigName(it.sig), done, plural(done, "case", "cases"), counts)
		}
	}
	b.WriteString("; ")
	b.WriteString(it.tokens())
	return b.String()
}

// tokens says what became of the tokens the run created, from the suite's
// cleanup report.
func (it interruption) tokens() string {
	if it.phase != "" {
		return "no token was created"
	}
	if !it.real {
		return "its tokens were on the bundled fake and went with it"
	}
	rep, ok, err := target.ReadCleanupReport(it.cleanup)
	switch {
	case it.cleanup == "" || (!ok && err == nil):
		return fmt.Sprintf("it had not opened %s, so it created no token there", it.targetName)
	case err != nil:
		return fmt.Sprintf("WARNING: whether its tokens on %s were revoked is unknown (%v)", it.targetName, err)
	case !rep.Closed && it.killed:
		return fmt.Sprintf("WARNING: the suite was killed before it revoked its tokens: tokens it created on %s may still be live", it.targetName)
	case !rep.Closed:
		return fmt.Sprintf("WARNING: the suite stopped without revoking its tokens: tokens it created on %s may still be live", it.targetName)
	case rep.Error != "":
		return fmt.Sprintf("WARNING: %d of its %d tokens on %s may still be live: %s", rep.Created-rep.Revoked-rep.Gone, rep.Created, it.targetName, rep.Error)
	case rep.Created == 0:
		return fmt.Sprintf("it held no live token on %s", it.targetName)
	}
	if rep.Gone == 0 {
		return fmt.Sprintf("its %d %s on %s %s revoked", rep.Created, plural(rep.Created, "token", "tokens"), it.targetName, plural(rep.Created, "was", "were"))
	}
	return fmt.Sprintf("its %d tokens on %s were revoked (%d at the end, %d already gone)", rep.Created, it.targetName, rep.Revoked, rep.Gone)
}

func plural(n int, one, many string) string {
	if n == 1 {
		return one
	}
	return many
}

// sigName is SIGINT or SIGTERM (or what the signal calls itself).
func sigName(sig os.Signal) string {
	switch sig {
	case os.Interrupt:
		return "SIGINT"
	case syscall.SIGTERM:
		return "SIGTERM"
	}
	return sig.String()
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
			return "", errors.New("not inside the zconform checkout")
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

package conformance

import (
	"errors"
	"fmt"
	"io"
	"os"
	"strings"
	"sync"
	"time"

	. "github.com/onsi/ginkgo/v2"
	"github.com/onsi/ginkgo/v2/types"
	. "github.com/onsi/gomega"
	"github.com/zconform/zconform/fixtures"
	"github.com/zconform/zconform/reports"
	"github.com/zconform/zconform/suites/cases"
	"github.com/zconform/zconform/suites/target"
)

// Run runs the suite in this process with Ginkgo's configuration from
// flag.CommandLine (the -ginkgo.* flags) and reports whether it passed.
// `go test` calls it from TestConformance; the zconform binary calls it
// from its suite subcommand, so that an installed zconform needs no Go
// toolchain and no checkout.
// Its optional arguments go to RunSpecs (a types.SuiteConfig, say).
func Run(t GinkgoTestingT, args ...any) bool {
	register()
	RegisterFailHandler(Fail)
	return RunSpecs(t, "zconform conformance", args...)
}

var registerOnce sync.Once

// register declares the suite's nodes and specs (once): Ginkgo builds its
// tree from what is declared before RunSpecs.
func register() {
	registerOnce.Do(func() {
		BeforeSuite(func(ctx SpecContext) {
			var err error
			profile, err = target.Profile()
			Expect(err).NotTo(HaveOccurred())
			if _, err := deviations(); err != nil {
				Fail(err.Error())
			}
			shared, err = target.Open(ctx)
			if err != nil {
				Fail(err.Error()) // one clear message, before any case runs
			}
			if shared == nil {
				// a fake configured apart from the contract is another contract:
				// the reports say so, and the cases it touches fail
				if offContract, err = target.OffContract(profile); err != nil {
					Fail(err.Error())
				}
			}
			if shared != nil {
				if suiteConfig, _ := GinkgoConfiguration(); suiteConfig.ParallelTotal > 1 {
					shared.Close()
					Fail("a real target runs serially (its grant tokens and caps are shared): run without -p")
				}
				profile, targetName = shared.Profile(), shared.Name()
				// Revoke what the run created, also when it fails or is interrupted.
				DeferCleanup(shared.Close)
			}
		}, NodeTimeout(2*time.Minute))

		// The tree must hold exactly one spec per catalogue case: a table
		// built from data loaded too late would be empty without an error.
		ReportBeforeSuite(func(r Report) {
			Expect(r.PreRunStats.TotalSpecs).To(Equal(len(catalogue.Cases)),
				"the suite has %d specs but the catalogue %d cases", r.PreRunStats.TotalSpecs, len(catalogue.Cases))
			progress.total = r.PreRunStats.SpecsThatWillRun
		})

		// A line per case as it ends, on stderr, when $ZCONFORM_PROGRESS
		// asks for it (zconform run does on a terminal, or with -progress).
		ReportAfterEach(func(r SpecReport) {
			if os.Getenv(EnvProgress) != "" && r.State != types.SpecStateInvalid && !(r.State == types.SpecStateSkipped && r.RunTime == 0 && r.Failure.Message == "") {
				progress.line(os.Stderr, r)
			}
		})

		ReportAfterSuite("zconform reports", func(r Report) {
			p, err := target.Profile()
			if err != nil {
				p = "unknown"
			}
			dir := target.OutDir()
			name := targetName
			if path := os.Getenv(target.EnvTarget); path != "" {
				// a file that does not load (BeforeSuite said why) is named by its
				// path: the run was never against the fake
				name = path
				if f, err := target.LoadFile(path); err == nil {
					name = f.Name
				}
			}
			devs, err := deviations()
			Expect(err).NotTo(HaveOccurred())
			_, err = reports.Write(dir, r, reports.RunMeta{
				Target: name, Profile: p, Started: r.StartTime, LabelFilter: r.SuiteConfig.LabelFilter, Deviations: devs,
				OffContract: offContractOf(p), Breaks: reports.BreaksFromEnv(),
			})
			Expect(err).NotTo(HaveOccurred(), "writing the reports to %s", dir)
			if target.OutDirIsTemporary() {
				// run directly (go test, ginkgo): a temporary folder, never a
				// user's out/; say where
				fmt.Fprintf(os.Stderr, "zconform conformance: reports in %s (set ZCONFORM_OUT to choose the folder)\n", dir)
			} else if os.Getenv("ZCONFORM_QUIET") == "" {
				fmt.Fprintf(GinkgoWriter, "reports in %s (%s)\n", dir, time.Since(r.EndTime).Round(time.Millisecond))
			}
		})

		Describe("zconform conformance", func() {
			for _, a := range fixtures.Areas {
				Describe(a.Title, func() {
					DescribeTable("cases", runCase, entries(a.Area))
				})
			}
		})
	})
}

// catalogue is the embedded case catalogue the specs are built from.
var catalogue = fixtures.Load()

var (
	profile string
	// shared is the real target of $ZCONFORM_TARGET, nil for the fake.
	shared *target.Real
	// targetName names the target in the reports.
	targetName = target.FakeName()
	// offContract says how the fake is configured apart from the contract.
	offContract string
)

// deviations loads the run's expected-deviations file, checking its case IDs.
func deviations() (*reports.Deviations, error) {
	d, err := reports.DeviationsFromEnv()
	if err != nil || d == nil {
		return d, err
	}
	ids := make([]string, len(catalogue.Cases))
	for i, c := range catalogue.Cases {
		ids[i] = c.ID
	}
	return d, d.Check(ids)
}

// CaseLabels is a case's label taxonomy: case:, seed:, area:, basis:, needs:,
// and the plain destructive and slow. `zconform run` matches a label
// filter against them before it starts the suite.
func CaseLabels(c fixtures.Case) []string {
	l := []string{"case:" + c.ID, "area:" + string(c.Area), "basis:" + string(c.Basis)}
	for _, s := range c.Seeds {
		l = append(l, "seed:"+string(s))
	}
	for _, n := range c.Needs {
		l = append(l, "needs:"+string(n))
		if n == fixtures.NeedDestructive || n == fixtures.NeedSlow {
			l = append(l, string(n))
		}
	}
	return l
}

// Matching counts the catalogue's cases a Ginkgo label filter selects; a
// filter that does not parse is an error in Ginkgo's words.
func Matching(filter string) (int, error) {
	if strings.TrimSpace(filter) == "" {
		return len(catalogue.Cases), nil
	}
	match, err := types.ParseLabelFilter(filter)
	if err != nil {
		return 0, err
	}
	n := 0
	for _, c := range catalogue.Cases {
		if match(CaseLabels(c)) {
			n++
		}
	}
	return n, nil
}

func entries(a fixtures.Area) []TableEntry {
	var out []TableEntry
	for _, c := range catalogue.InArea(a) {
		out = append(out, Entry(c.ID+": "+c.Title, Labels(CaseLabels(c)), types.CodeLocation{FileName: c.File, LineNumber: c.Line}, c))
	}
	return out
}

func runCase(ctx SpecContext, c fixtures.Case) {
	var t target.Target = shared
	if shared == nil {
		f, err := target.NewFake(profile)
		if err != nil {
			Fail(err.Error())
		}
		DeferCleanup(f.Close)
		t = f
	}
	seeds := make([]string, len(c.Seeds))
	for i, s := range c.Seeds {
		seeds[i] = string(s)
	}
	needs := make([]string, len(c.Needs))
	for i, n := range c.Needs {
		needs[i] = string(n)
	}
	AddReportEntry(reports.EntryName, reports.CaseMeta{
		ID: c.ID, Title: c.Title, Area: string(c.Area), Seeds: seeds, Basis: string(c.Basis), Needs: needs,
		Target: t.Name(), DC: string(c.Stimulus.DC), Profile: t.Profile(), File: c.File, Line: c.Line,
	}, ReportEntryVisibilityNever)
	if reason := cases.Unsupported(t, c); reason != "" {
		Skip(reason)
	}
	res, err := cases.Run(ctx, t, c)
	if res.Observed != nil {
		AddReportEntry(reports.ObservedEntryName, *res.Observed, ReportEntryVisibilityNever)
	}
	var skipped *cases.Skipped
	if errors.As(err, &skipped) {
		Skip(skipped.Reason)
	}
	if err != nil {
		Fail(err.Error())
	}
}

// offContractOf is the run's off-contract note. ReportAfterSuite runs on
// the first process only, which ran BeforeSuite, unless the suite did not
// start: then it is worked out again.
func offContractOf(profile string) string {
	if offContract != "" || os.Getenv(target.EnvTarget) != "" {
		return offContract
	}
	s, _ := target.OffContract(profile)
	return s
}

// EnvProgress, when set, makes the suite print a line per case as it ends.
const EnvProgress = "ZCONFORM_PROGRESS"

// EnvRandomizeAll, when set, makes the go test suite run the cases in
// random order (the project's tests set it).
const EnvRandomizeAll = "ZCONFORM_RANDOMIZE_ALL"

// progressLines counts the cases for the progress lines.
type progressLines struct {
	total, done int
}

var progress progressLines

// caseID is the case ID of a spec ("TOKEN-CODE-REUSED: …" → its ID).
func caseID(r SpecReport) string {
	for _, l := range r.Labels() {
		if id, ok := strings.CutPrefix(l, "case:"); ok {
			return id
		}
	}
	return r.LeafNodeText
}

// line prints one case's progress: [n/total], outcome, ID, time, and the
// reason of a failure or skip.
func (p *progressLines) line(w io.Writer, r SpecReport) {
	p.done++
	outcome := map[types.SpecState]string{types.SpecStatePassed: "pass", types.SpecStateSkipped: "skip", types.SpecStatePending: "pending"}[r.State]
	if outcome == "" {
		outcome = "FAIL"
	}
	why := r.Failure.Message
	if i := strings.IndexByte(why, '\n'); i >= 0 {
		why = why[:i]
	}
	if len(why) > 100 {
		why = why[:100] + "…"
	}
	fmt.Fprintf(w, "[%*d/%d] %-4s %-45s %6s  %s\n", len(fmt.Sprint(p.total)), p.done, p.total, outcome, caseID(r), r.RunTime.Round(time.Millisecond), why)
}

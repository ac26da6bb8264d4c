package conformance_test

import (
	"fmt"
	"os"
	"testing"
	"time"

	. "github.com/onsi/ginkgo/v2"
	. "github.com/onsi/gomega"
	"github.com/zconform/zconform/fixtures"
	"github.com/zconform/zconform/reports"
	"github.com/zconform/zconform/suites/target"
)

var catalogue = fixtures.Load()

func TestConformance(t *testing.T) {
	RegisterFailHandler(Fail)
	RunSpecs(t, "zconform conformance")
}

var (
	profile string
	// shared is the real target of $ZCONFORM_TARGET, nil for the fake.
	shared *target.Real
	// targetName names the target in the reports.
	targetName = "fake"
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

var _ = BeforeSuite(func(ctx SpecContext) {
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

// The tree must hold exactly one spec per catalogue case: a table built
// from data loaded too late would be empty without an error.
var _ = ReportBeforeSuite(func(r Report) {
	Expect(r.PreRunStats.TotalSpecs).To(Equal(len(catalogue.Cases)),
		"the suite has %d specs but the catalogue %d cases", r.PreRunStats.TotalSpecs, len(catalogue.Cases))
})

var _ = ReportAfterSuite("zconform reports", func(r Report) {
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
	files, err := reports.Write(dir, r, reports.RunMeta{
		Target: name, Profile: p, Started: r.StartTime, LabelFilter: r.SuiteConfig.LabelFilter, Deviations: devs,
		OffContract: offContractOf(p),
	})
	Expect(err).NotTo(HaveOccurred(), "writing the reports to %s", dir)
	if os.Getenv("ZCONFORM_QUIET") == "" {
		fmt.Fprintf(GinkgoWriter, "reports in %s (%s)\n", dir, time.Since(r.EndTime).Round(time.Millisecond))
	}
	_ = files
})

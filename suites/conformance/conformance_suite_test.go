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

var profile string

var _ = BeforeSuite(func() {
	var err error
	profile, err = target.Profile()
	Expect(err).NotTo(HaveOccurred())
})

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
	files, err := reports.Write(dir, r, reports.RunMeta{
		Target: "fake", Profile: p, Started: r.StartTime, LabelFilter: r.SuiteConfig.LabelFilter,
	})
	Expect(err).NotTo(HaveOccurred(), "writing the reports to %s", dir)
	if os.Getenv("ZCONFORM_QUIET") == "" {
		fmt.Fprintf(GinkgoWriter, "reports in %s (%s)\n", dir, time.Since(r.EndTime).Round(time.Millisecond))
	}
	_ = files
})

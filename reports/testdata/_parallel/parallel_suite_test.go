// Package parallel_test is a small conformance-like Ginkgo suite that
// reports/parallel_test.go runs under `ginkgo -p`, to check that Write
// reads the CaseMeta of specs that ran on other processes. Its directory
// starts with "_" so that `go test ./...` and `ginkgo -r` leave it alone.
package parallel_test

import (
	"fmt"
	"os"
	"testing"
	"time"

	. "github.com/onsi/ginkgo/v2"
	"github.com/onsi/ginkgo/v2/types"
	. "github.com/onsi/gomega"

	"github.com/zconform/zconform/reports"
)

func TestParallel(t *testing.T) {
	RegisterFailHandler(Fail)
	RunSpecs(t, "zconform conformance (reports e2e)")
}

// A real-looking grant token and client secret: they must not reach the
// report files.
const (
	grant  = "1000.0123456789abcdef0123456789abcdef.fedcba9876543210fedcba9876543210"
	secret = "0123456789abcdef0123456789abcdef0123456789"
)

type tcase struct {
	meta    reports.CaseMeta
	outcome string // pass, fail, skip
}

func entries() []TableEntry {
	var out []TableEntry
	for i := range 8 {
		outcome := "pass"
		switch i {
		case 2:
			outcome = "fail"
		case 5:
			outcome = "skip"
		}
		basis := "seed"
		if i == 7 {
			basis = "assumed"
		}
		m := reports.CaseMeta{
			ID: fmt.Sprintf("E2E-%d", i), Title: fmt.Sprintf("case number %d", i), Area: "token-exchange",
			Seeds: []string{"K4-NOTE-" + fmt.Sprint(i+1)}, Basis: basis, Target: "fake", DC: "us", Profile: "kaizen4",
			File: "fixtures/catalogue/e2e.yaml", Line: 10 * (i + 1),
		}
		out = append(out, Entry(m.ID+": "+m.Title,
			Label("case:"+m.ID, "seed:"+m.Seeds[0], "area:"+m.Area, "basis:"+m.Basis),
			types.CodeLocation{FileName: m.File, LineNumber: m.Line},
			tcase{m, outcome}))
	}
	return out
}

var _ = DescribeTable("conformance", func(tc tcase) {
	AddReportEntry(reports.EntryName, tc.meta)
	// Long enough that every process gets some of the specs.
	time.Sleep(150 * time.Millisecond)
	switch tc.outcome {
	case "skip":
		Skip("needs a virtual clock: target staging has none")
	case "fail":
		AddReportEntry(reports.ObservedEntryName, reports.Observed{Step: "second exchange", Status: 200})
		GinkgoWriter.Printf("sent code=%s client_secret=%s\n", grant, secret)
		Fail(fmt.Sprintf("%s: a used grant token must get invalid_code\nsent: code=%s client_secret=%s\ncame back: HTTP 200 {}", tc.meta.Seeds[0], grant, secret))
	}
	Expect(true).To(BeTrue())
}, entries())

var _ = ReportAfterSuite("zconform reports", func(report types.Report) {
	dir := os.Getenv("ZCONFORM_E2E_OUT")
	if dir == "" {
		return
	}
	_, err := reports.Write(dir, report, reports.RunMeta{Target: "fake", Profile: "kaizen4", Started: report.StartTime,
		LabelFilter: report.SuiteConfig.LabelFilter, Breaks: reports.BreaksFromEnv()})
	Expect(err).NotTo(HaveOccurred())
})

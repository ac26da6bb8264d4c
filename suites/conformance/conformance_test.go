package conformance_test

import (
	"errors"
	. "github.com/onsi/ginkgo/v2"
	"github.com/onsi/ginkgo/v2/types"
	"github.com/zconform/zconform/fixtures"
	"github.com/zconform/zconform/reports"
	"github.com/zconform/zconform/suites/cases"
	"github.com/zconform/zconform/suites/target"
)

// labels builds a case's label taxonomy: case:, seed:, area:, basis:,
// needs:, and the plain destructive and slow.
func labels(c fixtures.Case) Labels {
	l := Labels{"case:" + c.ID, "area:" + string(c.Area), "basis:" + string(c.Basis)}
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

func entries(a fixtures.Area) []TableEntry {
	var out []TableEntry
	for _, c := range catalogue.InArea(a) {
		out = append(out, Entry(c.ID+": "+c.Title, labels(c), types.CodeLocation{FileName: c.File, LineNumber: c.Line}, c))
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

var _ = Describe("zconform conformance", func() {
	for _, a := range fixtures.Areas {
		Describe(a.Title, func() {
			DescribeTable("cases", runCase, entries(a.Area))
		})
	}
})

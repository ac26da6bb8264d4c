package cases_test

import (
	"context"
	"errors"
	"fmt"
	"net/http"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"sync"
	"testing"

	"github.com/zconform/zconform/fakeserver"
	"github.com/zconform/zconform/fixtures"
	"github.com/zconform/zconform/fixtures/zoho"
	"github.com/zconform/zconform/suites/cases"
	"github.com/zconform/zconform/suites/target"
)

func fake(t *testing.T, profile string, breaks ...zoho.SeedID) *target.Fake {
	t.Helper()
	f, err := target.NewFake(profile)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(f.Close)
	if err := f.Break(breaks...); err != nil {
		t.Fatal(err)
	}
	return f
}

// Every case passes against the fake in every profile.
func TestEveryCasePassesAgainstTheFake(t *testing.T) {
	cat := fixtures.Load()
	for _, profile := range zoho.ProfileNames() {
		for _, c := range cat.Cases {
			t.Run(profile+"/"+c.ID, func(t *testing.T) {
				t.Parallel()
				if _, err := cases.Run(context.Background(), fake(t, profile), c); err != nil {
					t.Fatalf("%v", err)
				}
			})
		}
	}
}

// Every case fails against a fake that breaks its rule, with a message that
// names the rule: a case that cannot fail proves nothing. A fault case
// (needs: [faults]) has no rule to break: it must fail against a fake whose
// fault injection does nothing, with a message that names its row.
func TestEveryCaseFailsAgainstItsBreak(t *testing.T) {
	cat := fixtures.Load()
	proven, faultOff, without := 0, 0, []string{}
	for _, c := range cat.Cases {
		isFault := c.NeedsAny(fixtures.NeedFaults)
		switch {
		case len(c.Proof) > 0:
			proven++
		case isFault:
			faultOff++
		default:
			without = append(without, c.ID)
		}
		for _, profile := range c.ProofProfiles {
			if isFault {
				t.Run(profile+"/"+c.ID+"/fault-off", func(t *testing.T) {
					t.Parallel()
					res, err := cases.Run(context.Background(), faultless{fake(t, profile)}, c)
					var fail *cases.Failure
					if !errors.As(err, &fail) {
						t.Fatalf("with its fault switched off, case %s did not fail (err = %v): it cannot tell the fault from a good answer", c.ID, err)
					}
					keptWhatCameBack(t, res, fail)
					if msg := err.Error(); !strings.Contains(msg, c.Location()) {
						t.Errorf("the failure does not name the row %s:\n%s", c.Location(), msg)
					}
				})
			}
			for _, id := range c.Proof {
				t.Run(profile+"/"+c.ID+"/"+string(id), func(t *testing.T) {
					t.Parallel()
					res, err := cases.Run(context.Background(), fake(t, profile, id), c)
					var fail *cases.Failure
					if !errors.As(err, &fail) {
						t.Fatalf("with break %s on, case %s did not fail (err = %v): it cannot catch that violation", id, c.ID, err)
					}
					keptWhatCameBack(t, res, fail)
					// a seed's break is named by the failure; a deviation
					// (DEV-) has no rule of its own to name, only the row
					named := strings.HasPrefix(string(id), "DEV-") || strings.Contains(err.Error(), string(id))
					if msg := err.Error(); !named || !strings.Contains(msg, c.Location()) {
						t.Errorf("the failure does not name the rule %s and the row %s:\n%s", id, c.Location(), msg)
					}
				})
			}
			for i, o := range c.ProofLimits {
				t.Run(fmt.Sprintf("%s/%s/limits-%d", profile, c.ID, i), func(t *testing.T) {
					t.Parallel()
					con := fixtures.MustContract(profile)
					l, err := fixtures.ApplyLimits(con.Limits, o)
					if err != nil {
						t.Fatal(err)
					}
					diff := fixtures.DiffLimits(con.Limits, l)
					if len(diff) == 0 {
						t.Skipf("%v changes nothing under %s", o, profile)
					}
					f := fake(t, profile)
					if err := f.SetLimits(l); err != nil {
						t.Fatal(err)
					}
					res, err := cases.Run(context.Background(), f, c)
					var fail *cases.Failure
					if !errors.As(err, &fail) {
						t.Fatalf("against a fake with %v, case %s did not fail (err = %v): it cannot tell that target from the contract", diff, c.ID, err)
					}
					keptWhatCameBack(t, res, fail)
				})
			}
		}
		if len(c.ProofLimits) > 0 && len(c.Proof) == 0 && !isFault {
			proven++
			without = slices.DeleteFunc(without, func(id string) bool { return id == c.ID })
		}
	}
	t.Logf("catalogue: %d cases, %d proven by a break or a limit, %d by switching the fault off, %d without %v", len(cat.Cases), proven, faultOff, len(without), without)
}

// keptWhatCameBack checks that a failed case kept what the target
// answered at the step that failed, for results.json and `zconform diff`.
func keptWhatCameBack(t *testing.T, res cases.Result, fail *cases.Failure) {
	t.Helper()
	switch {
	case res.Observed == nil:
		t.Errorf("the case failed at step %q, but Result.Observed is nil: the reports would show no answer", fail.Step)
	case res.Observed.Step != fail.Step:
		t.Errorf("the case failed at step %q, but Result.Observed is the answer of step %q", fail.Step, res.Observed.Step)
	}
}

// Every deviation of the fake (a DEV- break) is caught by at least one case
// that names it as its proof: a deviation nobody catches is a bug a target
// could have unseen.
func TestEveryDeviationIsCaught(t *testing.T) {
	cat := fixtures.Load()
	for _, id := range fakeserver.Deviations() {
		caught := false
		for _, c := range cat.Cases {
			caught = caught || slices.Contains(c.Proof, id)
		}
		if !caught {
			t.Errorf("deviation %s (%s) is the proof of no case", id, effect(id))
		}
	}
}

func effect(id zoho.SeedID) string { e, _ := fakeserver.BreakEffect(id); return e }

// faultless is the fake with fault injection that does nothing: a fault
// case run against it must fail.
type faultless struct{ *target.Fake }

func (faultless) InjectFault(fakeserver.Fault) (int, error) { return 0, nil }

// notYetCovered are the ZA- seed IDs (docs/zoho-oauth-beyond.md) whose
// fake behaviour, case and break are still being built (issue 15). The
// list only shrinks: an ID on it that a case covers fails the test until
// it is taken off, and the issue is done when it is empty.
var notYetCovered = map[zoho.SeedID]bool{}

// Every seed ID is covered, and proven by at least one case.
func TestEverySeedIsCoveredAndProven(t *testing.T) {
	cat := fixtures.Load()
	for _, s := range zoho.Seeds() {
		covered, proven := false, false
		for _, c := range cat.Cases {
			covered = covered || slices.Contains(c.Seeds, s.ID)
			proven = proven || slices.Contains(c.Proof, s.ID)
		}
		if notYetCovered[s.ID] {
			if covered || proven {
				t.Errorf("seed %s: covered by a case: %v, proven by a break: %v; take it off notYetCovered", s.ID, covered, proven)
			}
			continue
		}
		if !covered || !proven {
			t.Errorf("seed %s: covered by a case: %v, proven by a break: %v", s.ID, covered, proven)
		}
	}
}

// Every case has a procedure and every procedure a case.
func TestEveryCheckHasACaseAndEveryCaseACheck(t *testing.T) {
	used := map[string]bool{}
	for _, c := range fixtures.Load().Cases {
		used[c.Check] = true
		if !slices.Contains(cases.Checks(), c.Check) {
			t.Errorf("%s: case %s names check %q, which has no procedure", c.Location(), c.ID, c.Check)
		}
	}
	for _, name := range cases.Checks() {
		if !used[name] {
			t.Errorf("procedure %q runs no catalogue case: add a case or remove it", name)
		}
	}
}

// A target without a clock or console skips the cases that need them, with
// the reason.
func TestUnsupportedSaysWhy(t *testing.T) {
	c, _ := fixtures.Load().ByID("TOKEN-CODE-EXPIRED")
	if got := cases.Unsupported(bare{fake(t, zoho.Kaizen4)}, c); !strings.Contains(got, "virtual clock") || !strings.Contains(got, "bare") {
		t.Errorf("Unsupported = %q", got)
	}
	if got := cases.Unsupported(fake(t, zoho.Kaizen4), c); got != "" {
		t.Errorf("the fake has a clock, Unsupported = %q", got)
	}
	c, _ = fixtures.Load().ByID("NET-TOKEN-HANG")
	if got := cases.Unsupported(bare{fake(t, zoho.Kaizen4)}, c); !strings.Contains(got, "fault injection") || !strings.Contains(got, "bare") {
		t.Errorf("Unsupported = %q", got)
	}
	if got := cases.Unsupported(fake(t, zoho.Kaizen4), c); got != "" {
		t.Errorf("the fake injects faults, Unsupported = %q", got)
	}
}

// bare is a target with only the mandatory methods.
type bare struct{ f *target.Fake }

func (b bare) Name() string                  { return "bare" }
func (b bare) Profile() string               { return b.f.Profile() }
func (b bare) Limits() zoho.Limits           { return b.f.Limits() }
func (b bare) AccountsURL(dc zoho.DC) string { return b.f.AccountsURL(dc) }
func (b bare) APIURL(dc zoho.DC) string      { return b.f.APIURL(dc) }
func (b bare) HTTP() *http.Client            { return b.f.HTTP() }
func (b bare) Close()                        {}

// A real target skips what it cannot run, each with its reason.
func TestRealTargetSkipReasons(t *testing.T) {
	path := filepath.Join(t.TempDir(), "target.yaml")
	if err := os.WriteFile(path, []byte(`name: staging
test_user: true
data_centres:
  us: {accounts: https://accounts.zoho.com, api: https://www.zohoapis.com}
client:
  id: 1000.STAGINGCLIENT00000000000000000
  secret_env: ZC_CASES_SECRET
  redirect_uri: https://www.example.com/callback
`), 0o644); err != nil {
		t.Fatal(err)
	}
	t.Setenv("ZC_CASES_SECRET", "0123456789abcdef0123456789abcdef0123456789")
	cat := fixtures.Load()
	for _, opt := range []struct {
		slow, destructive bool
		want              map[string]string
	}{
		{false, false, map[string]string{
			"CAP-ACCESS-TOKENS-OLDEST-EVICTED": "run with --destructive",
			"TOKEN-CODE-EXPIRED":               "run with --slow",
			"REFRESH-AFTER-A-YEAR":             "needs a virtual clock",
			"REG-NAME-SPECIAL":                 "needs a console",
			"TOKEN-CODE-REUSED":                "",
			"NET-TOKEN-HANG":                   "needs fault injection on the wire",
			"NET-REFRESH-THROTTLED":            "needs fault injection on the wire",
			"DC-GRANT-AT-OTHER-DC":             "needs the EU DC: the target file names no URLs for eu (add it under data_centres to include this case)",
			"API-TOKEN-AT-OTHER-DC":            "needs the EU DC: the target file names no URLs for eu (add it under data_centres to include this case)",
			"API-TOKEN-BEARER":                 "",
		}},
		{true, true, map[string]string{
			"CAP-ACCESS-TOKENS-OLDEST-EVICTED": "needs a virtual clock",
			"TOKEN-CODE-EXPIRED":               "",
			"REFRESH-AFTER-A-YEAR":             "needs a virtual clock",
			"NET-TOKEN-500-HTML":               "needs fault injection on the wire",
			"DC-GRANT-AT-OTHER-DC":             "needs the EU DC",
			"API-TOKEN-AT-OTHER-DC":            "needs the EU DC",
			"REFRESH-AT-OTHER-DC":              "needs a console",
		}},
	} {
		real, err := target.OpenReal(path, opt.slow, opt.destructive)
		if err != nil {
			t.Fatal(err)
		}
		for id, want := range opt.want {
			c, ok := cat.ByID(id)
			if !ok {
				t.Fatalf("no case %s", id)
			}
			got := cases.Unsupported(real, c)
			if (want == "") != (got == "") || !strings.Contains(got, want) {
				t.Errorf("slow=%v destructive=%v %s: Unsupported = %q, want %q", opt.slow, opt.destructive, id, got, want)
			}
		}
	}
}

// A real target reaches only the DCs its target file names: every case
// that would touch another DC is skipped, with the DC in the reason, and
// runs once the file names it. The fake names every DC.
func TestUnsupportedSkipsTheDCsTheFileDoesNotName(t *testing.T) {
	t.Setenv("ZC_CASES_SECRET", "0123456789abcdef0123456789abcdef0123456789")
	open := func(userDC string, dcs ...string) *target.Real {
		t.Helper()
		body := "name: staging\nuser_dc: " + userDC + "\ndata_centres:\n"
		for _, dc := range dcs {
			body += fmt.Sprintf("  %s: {accounts: https://accounts.%s.staging.example, api: https://api.%s.staging.example}\n", dc, dc, dc)
		}
		body += "client:\n  id: 1000.STAGINGCLIENT00000000000000000\n  secret_env: ZC_CASES_SECRET\n  redirect_uri: https://www.example.com/callback\n"
		path := filepath.Join(t.TempDir(), "target.yaml")
		if err := os.WriteFile(path, []byte(body), 0o644); err != nil {
			t.Fatal(err)
		}
		r, err := target.OpenReal(path, true, true)
		if err != nil {
			t.Fatal(err)
		}
		return r
	}
	cat := fixtures.Load()
	usOnly, usEU, euOnly := open("us", "us"), open("us", "us", "eu"), open("eu", "eu")
	f := fake(t, zoho.Kaizen4)
	crossDC := map[string]zoho.DC{} // case -> the DC a US user's file must add
	for _, c := range cat.Cases {
		for _, dc := range cases.DCsOf(usOnly, c) {
			if dc != zoho.US {
				crossDC[c.ID] = dc
			}
		}
		if got := cases.Unsupported(f, c); strings.Contains(got, "DC") {
			t.Errorf("the fake names every DC, yet %s: %q", c.ID, got)
		}
		got := cases.Unsupported(usOnly, c)
		if dc, cross := crossDC[c.ID]; cross {
			if got == "" {
				t.Errorf("%s touches %s and runs against a file that names only us", c.ID, dc)
			}
		} else if strings.Contains(got, "DC") {
			t.Errorf("%s touches only us, yet: %q", c.ID, got)
		}
		// An EU user whose file names only eu: whatever reaches the US DC
		// (the stimulus' default) is skipped.
		if slices.Contains(cases.DCsOf(euOnly, c), zoho.US) {
			if got := cases.Unsupported(euOnly, c); got == "" {
				t.Errorf("%s reaches US and runs against a file that names only eu", c.ID)
			}
		}
	}
	// The cross-DC cases, with the DC they need.
	want := map[string]zoho.DC{
		"DC-GRANT-AT-OTHER-DC": zoho.EU, "DC-MULTI-DC-ENABLED": zoho.EU, "DC-MULTI-DC-OTHER-SECRET": zoho.EU,
		"DC-REDIRECT-NAMES-USER-DC": zoho.EU, "DC-CN-SEPARATE": zoho.CN,
		"REFRESH-AT-OTHER-DC": zoho.EU, "API-TOKEN-AT-OTHER-DC": zoho.EU,
		"DEV-CODE-AT-OTHER-DC": zoho.EU, "DEV-POLL-OTHER-DC": zoho.EU, // the device flow
		"SERVERINFO-AT-ANOTHER-DC": zoho.EU, // ZA-SERVERINFO
	}
	if fmt.Sprint(crossDC) != fmt.Sprint(want) {
		t.Errorf("cross-DC cases %v, want %v", crossDC, want)
	}
	for id, dc := range map[string]zoho.DC{"DC-GRANT-AT-OTHER-DC": zoho.EU, "API-TOKEN-AT-OTHER-DC": zoho.EU} {
		c, _ := cat.ByID(id)
		reason := fmt.Sprintf("needs the %s DC: the target file names no URLs for %s (add it under data_centres to include this case)", strings.ToUpper(string(dc)), dc)
		if got := cases.Unsupported(usOnly, c); got != reason {
			t.Errorf("%s: Unsupported = %q, want %q", id, got, reason)
		}
		if got := cases.Unsupported(usEU, c); got != "" {
			t.Errorf("%s with eu named: Unsupported = %q, want it to run", id, got)
		}
	}
	// A case that needs a console is skipped for that, whatever the DCs.
	c, _ := cat.ByID("DC-CN-SEPARATE")
	if got := cases.Unsupported(usEU, c); !strings.Contains(got, "console") {
		t.Errorf("DC-CN-SEPARATE: %q", got)
	}
}

// limitCandidates are the cases a limit can touch: all but the network
// area's, which read no limit.
func limitCandidates(cat *fixtures.Catalogue) []fixtures.Case {
	var out []fixtures.Case
	for _, c := range cat.Cases {
		if !c.NeedsAny(fixtures.NeedFaults) {
			out = append(out, c)
		}
	}
	return out
}

// caughtBy runs the cases against a fake with limits l under profile and
// returns the first case that fails (they run a few at a time and stop at
// the first failure), or "".
func caughtBy(t *testing.T, profile string, l zoho.Limits, candidates []fixtures.Case) string {
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	var (
		mu     sync.Mutex
		caught string
		wg     sync.WaitGroup
	)
	sem := make(chan struct{}, 4)
	for _, c := range candidates {
		wg.Go(func() {
			sem <- struct{}{}
			defer func() { <-sem }()
			if ctx.Err() != nil {
				return
			}
			f := fake(t, profile)
			if err := f.SetLimits(l); err != nil {
				t.Error(err)
				return
			}
			_, err := cases.Run(ctx, f, c)
			var fail *cases.Failure
			if errors.As(err, &fail) {
				mu.Lock()
				if caught == "" {
					caught = c.ID
				}
				mu.Unlock()
				cancel()
			}
		})
	}
	wg.Wait()
	return caught
}

// A target configured one unit away from its profile's contract, in any
// limit, fails at least one case: the suite reads no number from the
// target. This is the mutation test of the limit profile: each change is a
// profile mutant, and the catalogue must kill every one.
func TestEveryLimitDifferenceIsCaught(t *testing.T) {
	candidates := limitCandidates(fixtures.Load())
	for _, profile := range zoho.ProfileNames() {
		con := fixtures.MustContract(profile)
		for _, change := range fixtures.LimitChanges(con.Limits) {
			l, err := fixtures.ApplyLimits(con.Limits, change)
			if err != nil {
				t.Fatalf("%s: %v: %v", profile, change, err)
			}
			diff := fixtures.DiffLimits(con.Limits, l)
			t.Run(fmt.Sprintf("%s/%v", profile, diff), func(t *testing.T) {
				t.Parallel()
				if id := caughtBy(t, profile, l, candidates); id == "" {
					t.Errorf("a fake with %v passes every case under %s: the suite cannot tell it from the contract", diff, profile)
				}
			})
		}
	}
}

// The check above can fail: without the case of the grant's exact edges,
// a grant that lives one second too long goes unseen.
func TestALimitDifferenceCanGoUnseen(t *testing.T) {
	var candidates []fixtures.Case
	for _, c := range limitCandidates(fixtures.Load()) {
		if c.ID != "TOKEN-CODE-LIFETIME-EDGES" {
			candidates = append(candidates, c)
		}
	}
	con := fixtures.MustContract(zoho.Kaizen4)
	l, err := fixtures.ApplyLimits(con.Limits, map[string]any{"grant_lifetime": "61s"})
	if err != nil {
		t.Fatal(err)
	}
	if id := caughtBy(t, zoho.Kaizen4, l, candidates); id != "" {
		t.Fatalf("%s caught a grant living 61s: the control of TestEveryLimitDifferenceIsCaught is wrong", id)
	}
}

// Package cases runs catalogue cases against a target: one procedure per
// check named in the catalogue, each sending the case's stimulus, injecting
// its fault and comparing what comes back with the expectation of the
// target's profile. A mismatch is a *Failure that names the rule and says
// what was sent and what came back, secrets redacted.
//
// The package has no Ginkgo in it, so the same procedures serve the
// conformance suite and the tests that prove each case can fail.
package cases

import (
	"context"
	"errors"
	"fmt"
	"slices"
	"sort"
	"strings"

	"github.com/zconform/zconform/fixtures"
	"github.com/zconform/zconform/fixtures/zoho"
	"github.com/zconform/zconform/reports"
	"github.com/zconform/zconform/suites/target"
)

// check is one procedure.
type check func(r *run) error

var checks = map[string]check{
	"register":              checkRegister,
	"authorize":             checkAuthorize,
	"self-client-code":      checkSelfClientCode,
	"exchange":              checkExchange,
	"dc-exchange":           checkDCExchange,
	"refresh":               checkRefresh,
	"access-token-lifetime": checkAccessTokenLifetime,
	"access-token-cap":      checkAccessTokenCap,
	"refresh-token-cap":     checkRefreshTokenCap,
	"grant-rate":            checkGrantRate,
	"refresh-throttle":      checkRefreshThrottle,
	"fault":                 checkFault,
	"api-token":             checkAPIToken,
	"revoke":                checkRevoke,
	"consent":               checkConsent,
	"implicit":              checkImplicit,
	"device":                checkDevice,            // the device flow (device.go)
	"js-refresh":            checkJSRefresh,         // ZA-JS-REFRESH (beyond_checks.go)
	"api-scope":             checkAPIScope,          // ZA-API-SCOPE (beyond_checks.go)
	"client-credentials":    checkClientCredentials, // ZA-CC-* (clientcreds.go)
	"pkce":                  checkPKCE,              // ZA-PKCE-* (pkce.go)
	"revoke-v2":             checkRevokeV2,          // ZA-REVOKE-V2 (revokev2.go)
	"server-info":           checkServerInfo,        // ZA-SERVERINFO (revokev2.go)
}

func init() {
	fixtures.RegisterChecks(Checks()...)
}

// Checks lists the procedures, sorted.
func Checks() []string {
	out := make([]string, 0, len(checks))
	for k := range checks {
		out = append(out, k)
	}
	sort.Strings(out)
	return out
}

// Result is what a run observed, for the reports.
type Result struct {
	// Observed is the answer of the checked step; for a case that failed,
	// the answer at the step that failed (or, when that step recorded
	// none, the target's last answer under the step's name).
	Observed *reports.Observed
	// Transcript lists every request and answer, redacted.
	Transcript []string
}

// Failure is a case whose target broke its rule.
type Failure struct {
	Case     fixtures.Case
	Step     string
	Want     string
	Got      string
	Detail   string
	Sent     []string
	Unexpect bool // a setup step failed rather than the checked one
}

// Rule names the seed rules of the case, e.g.
// "K4-TOKEN-CODE-b (grant token already used: invalid_code)".
func (f *Failure) Rule() string {
	var parts []string
	for _, id := range f.Case.Seeds {
		s, _ := zoho.LookupSeed(id)
		parts = append(parts, fmt.Sprintf("%s (%s)", id, s.Rule))
	}
	if len(parts) == 0 {
		parts = append(parts, fmt.Sprintf("%s rule: %s", f.Case.Basis, f.Case.Title))
	}
	return strings.Join(parts, "; ")
}

func (f *Failure) Error() string {
	var b strings.Builder
	fmt.Fprintf(&b, "%s (%s) broke %s\n", f.Case.ID, f.Case.Location(), f.Rule())
	fmt.Fprintf(&b, "  step: %s\n", f.Step)
	if f.Detail != "" {
		fmt.Fprintf(&b, "  %s\n", f.Detail)
	}
	fmt.Fprintf(&b, "  want: %s\n  got:  %s\n", f.Want, f.Got)
	if len(f.Sent) > 0 {
		b.WriteString("  sent and received:\n")
		for _, s := range f.Sent {
			fmt.Fprintf(&b, "    %s\n", s)
		}
	}
	return zoho.Redact(b.String())
}

// Skipped is returned by Run when the case cannot run against the target,
// with the reason.
type Skipped struct{ Reason string }

func (s *Skipped) Error() string { return "skipped: " + s.Reason }

// Unsupported says why the target cannot run the case ("" when it can).
func Unsupported(t target.Target, c fixtures.Case) string {
	var missing []string
	rt, realTime := t.(target.RealTime)
	if c.NeedsAny(fixtures.NeedDestructive) && realTime && !rt.Destructive() {
		return fmt.Sprintf("destructive (evicts the user's tokens or exhausts a rate limit on %s): run with --destructive to include it", t.Name())
	}
	if c.NeedsAny(fixtures.NeedClock) {
		if _, ok := t.(target.Clock); !ok {
			switch {
			case realTime && c.NeedsAny(fixtures.NeedSlow) && rt.Slow():
				// waits for real
			case realTime && c.NeedsAny(fixtures.NeedSlow):
				return fmt.Sprintf("slow (waits for real on %s, which has no virtual clock): run with --slow to include it", t.Name())
			default:
				missing = append(missing, "a virtual clock")
			}
		}
	}
	if c.NeedsAny(fixtures.NeedConsole) {
		if _, ok := t.(target.Console); !ok {
			missing = append(missing, "a console to register clients and mint codes")
		}
	}
	if c.NeedsAny(fixtures.NeedFaults) {
		if _, ok := t.(target.Faulter); !ok {
			missing = append(missing, "fault injection on the wire (a fake's)")
		}
	}
	if len(missing) > 0 {
		return fmt.Sprintf("needs %s: target %s has none", strings.Join(missing, " and "), t.Name())
	}
	return unnamedDCs(t, c)
}

// unnamedDCs says which DCs the case would reach that the target does not
// name ("" when it names them all, or is no DCNamer and so serves every
// DC): a run sends requests only to the URLs its target file names.
func unnamedDCs(t target.Target, c fixtures.Case) string {
	n, ok := t.(target.DCNamer)
	if !ok {
		return ""
	}
	named := n.NamedDCs()
	var missing []zoho.DC
	for _, dc := range DCsOf(t, c) {
		if !slices.Contains(named, dc) {
			missing = append(missing, dc)
		}
	}
	switch len(missing) {
	case 0:
		return ""
	case 1:
		return fmt.Sprintf("needs the %s DC: the target file names no URLs for %s (add it under data_centres to include this case)",
			strings.ToUpper(string(missing[0])), missing[0])
	}
	upper := make([]string, len(missing))
	lower := make([]string, len(missing))
	for i, dc := range missing {
		upper[i], lower[i] = strings.ToUpper(string(dc)), string(dc)
	}
	return fmt.Sprintf("needs the %s DCs: the target file names no URLs for %s (add them under data_centres to include this case)",
		strings.Join(upper, " and "), strings.Join(lower, ", "))
}

// DCsOf lists the DCs whose Accounts server or API domain a case reaches on
// a target, in the order it first reaches them: the stimulus' DC; on a
// target with a grant source (a real one), the user's DC, where its grants
// and tokens come from; for the dc-exchange check the user's DC (US on a
// target without a grant source) besides the stimulus' "other" DC; for
// the variant other-dc of the refresh and api-token checks, the other DC
// of the multi-DC pair (otherDC: EU for a US stimulus).
func DCsOf(t target.Target, c fixtures.Case) []zoho.DC {
	var out []zoho.DC
	add := func(dc zoho.DC) {
		if dc != "" && !slices.Contains(out, dc) {
			out = append(out, dc)
		}
	}
	stimulus := c.Stimulus.DC
	if stimulus == "" {
		stimulus = zoho.US
	}
	add(stimulus)
	home := zoho.US
	if src, ok := t.(target.GrantSource); ok {
		home = src.UserDC()
		add(home)
	}
	switch {
	case c.Check == "dc-exchange":
		add(home)
	case (c.Check == "refresh" || c.Check == "api-token") && c.Stimulus.Variant == "other-dc":
		add(otherDC(stimulus))
	case c.Check == "device" && (c.Stimulus.Variant == "other-dc" || c.Stimulus.Variant == "foreign-dc"):
		add(otherDC(stimulus)) // the user's DC, or the DC that does not know the app (device.go)
	}
	return out
}

// ErrUnknownCheck is returned for a case whose check has no procedure.
var ErrUnknownCheck = errors.New("the case's check has no procedure")

// Run runs one case against a target. It returns nil when the target
// behaves as the case expects under the target's profile, a *Failure when
// it does not, and another error when the case could not run.
func Run(ctx context.Context, t target.Target, c fixtures.Case) (Result, error) {
	f, ok := checks[c.Check]
	if !ok {
		return Result{}, fmt.Errorf("%s: %w: %q", c.Location(), ErrUnknownCheck, c.Check)
	}
	contract, err := fixtures.ContractFor(t.Profile())
	if err != nil {
		return Result{}, fmt.Errorf("%s: target %s: %w", c.Location(), t.Name(), err)
	}
	r := &run{ctx: ctx, t: t, c: c, profile: t.Profile(), contract: contract, limits: contract.Limits}
	r.want = c.ExpectFor(r.profile)
	if !r.want.OK && r.want.Error == "" {
		return Result{}, fmt.Errorf("%s: case %s has no expectation for profile %s", c.Location(), c.ID, r.profile)
	}
	err = f(r)
	r.observeFailure(err)
	if r.waited > 0 && r.observed != nil {
		r.observed.Waited = fmt.Sprintf("waited %s for real (margin %s around each limit)", r.waited, slowMargin)
	}
	res := Result{Observed: r.observed, Transcript: slices.Clone(r.sent)}
	var skip *Skipped
	if errors.As(err, &skip) {
		return res, skip
	}
	var fail *Failure
	if errors.As(err, &fail) {
		fail.Case = c
		fail.Sent = res.Transcript
	}
	return res, err
}

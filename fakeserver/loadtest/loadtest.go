// Package loadtest drives the fake Zoho Accounts server (package fakeserver)
// with many concurrent simulated integrations over loopback HTTP, checks the
// fake's documented invariants afterwards, and reports throughput and
// latency per operation. Its benchmarks put the fake side by side with a
// bare net/http handler (the ceiling) and github.com/oauth2-proxy/mockoidc,
// and measure the heap a live token and an idle server cost.
//
// Each worker is one integration: a Web-based client registered by its own
// user in one of the chosen DCs. A cycle of an integration is what an
// install does over its life: authorize (starting at accounts.zoho.com, as
// real integrations do, or at the user's own Accounts server for CN), the
// code exchange at the accounts-server the redirect names, API calls at the
// api_domain the token response names, a refresh of the new refresh token
// and of the user's oldest kept one, and a revoke. Most cycles revoke their
// refresh token; every KeepEvery-th keeps it (and revokes only its first
// access token), so that kept tokens pile up against the documented caps
// (refresh tokens per user, access tokens per refresh token) and the fake
// evicts the oldest.
//
// The driver keeps a model of what each user should hold, so the checks
// afterwards are exact: the fake's live tokens are the model's, in order,
// and no more; no cap is exceeded (also sampled during the run); codes are
// unique and a code is exchanged at most once; revoked and evicted tokens
// are refused on the wire; held tokens still work.
package loadtest

import (
	"bufio"
	"context"
	"errors"
	"fmt"
	"os"
	"runtime"
	"slices"
	"strings"
	"time"

	"github.com/zconform/zconform/fixtures/zoho"
)

// Bounds on a run, so that a load run stays a short, local affair.
const (
	MaxWorkers  = 1024
	MaxDuration = 10 * time.Minute
	MaxCycles   = 10_000_000
)

// Config says how hard and how long to drive the fake.
type Config struct {
	// Workers is the number of concurrent integrations (default 16).
	Workers int `json:"workers"`
	// Duration is how long to drive the fake (default 10s); with Cycles
	// set, the run ends at whichever comes first.
	Duration time.Duration `json:"duration_ns"`
	// Cycles caps the cycles of all workers together (0: no cap).
	Cycles int `json:"cycles,omitempty"`
	// DCs are the data centres the integrations are spread over, round
	// robin (default: every DC).
	DCs []zoho.DC `json:"dcs"`
	// APICalls is how many API calls each cycle makes (default 3;
	// negative: none).
	APICalls int `json:"api_calls"`
	// Refreshes is how many times each cycle refreshes its new refresh
	// token (default 1; negative: none); each cycle also refreshes the
	// user's oldest kept one.
	Refreshes int `json:"refreshes"`
	// KeepEvery makes every KeepEvery-th cycle of an integration keep its
	// refresh token instead of revoking it (default 8; negative: never).
	KeepEvery int `json:"keep_every"`
	// ReplayEvery makes every ReplayEvery-th cycle exchange its code a
	// second time, which must fail (default 10; negative: never).
	ReplayEvery int `json:"replay_every"`
	// Verify caps the tokens of each kind checked on the wire after the run
	// (default 2000; negative: all of them). The state checks are complete
	// whatever it is.
	Verify int `json:"verify"`
	// Profile is the fake's limit profile (default kaizen4).
	Profile string `json:"profile"`
	// Ceiling drives, after the fake, a bare net/http handler the same way
	// (same client, cycles and request bodies; fixed copies of the fake's
	// answers) for as long, and reports it beside the fake.
	Ceiling bool `json:"ceiling"`
}

// DefaultConfig is the configuration of a plain "zconform load".
func DefaultConfig() Config {
	var dcs []zoho.DC
	for _, d := range zoho.DataCentres() {
		dcs = append(dcs, d.DC)
	}
	return Config{Workers: 16, Duration: 10 * time.Second, DCs: dcs, APICalls: 3, Refreshes: 1,
		KeepEvery: 8, ReplayEvery: 10, Verify: 2000, Profile: zoho.Kaizen4, Ceiling: true}
}

// normalize fills in defaults and checks the bounds.
func (c *Config) normalize() error {
	d := DefaultConfig()
	if c.Workers == 0 {
		c.Workers = d.Workers
	}
	if c.Duration == 0 {
		c.Duration = d.Duration
	}
	if len(c.DCs) == 0 {
		c.DCs = d.DCs
	}
	switch {
	case c.APICalls == 0:
		c.APICalls = d.APICalls
	case c.APICalls < 0:
		c.APICalls = 0
	}
	switch {
	case c.Refreshes == 0:
		c.Refreshes = d.Refreshes
	case c.Refreshes < 0:
		c.Refreshes = 0
	}
	if c.KeepEvery == 0 {
		c.KeepEvery = d.KeepEvery
	}
	if c.ReplayEvery == 0 {
		c.ReplayEvery = d.ReplayEvery
	}
	if c.Verify == 0 {
		c.Verify = d.Verify
	}
	if c.Profile == "" {
		c.Profile = d.Profile
	}
	switch {
	case c.Workers < 1 || c.Workers > MaxWorkers:
		return fmt.Errorf("workers must be between 1 and %d, not %d", MaxWorkers, c.Workers)
	case c.Duration < 0 || c.Duration > MaxDuration:
		return fmt.Errorf("duration must be positive and at most %s, not %s", MaxDuration, c.Duration)
	case c.Cycles < 0 || c.Cycles > MaxCycles:
		return fmt.Errorf("cycles must be between 0 and %d, not %d", MaxCycles, c.Cycles)
	case c.APICalls > 100:
		return fmt.Errorf("api calls per cycle must be at most 100, not %d", c.APICalls)
	case c.Refreshes > 100:
		return fmt.Errorf("refreshes per cycle must be at most 100, not %d", c.Refreshes)
	}
	if _, err := zoho.Profile(c.Profile); err != nil {
		return err
	}
	seen := map[zoho.DC]bool{}
	for i, dc := range c.DCs {
		p, err := zoho.ParseDC(string(dc))
		if err != nil {
			return err
		}
		if seen[p] {
			return fmt.Errorf("data centre %s is listed twice", p)
		}
		seen[p], c.DCs[i] = true, p
	}
	return nil
}

// ParseDCs reads a comma-separated list of DCs ("us,eu,in"); "all" or ""
// is every DC.
func ParseDCs(s string) ([]zoho.DC, error) {
	s = strings.TrimSpace(s)
	if s == "" || strings.EqualFold(s, "all") {
		return DefaultConfig().DCs, nil
	}
	var out []zoho.DC
	for _, part := range strings.Split(s, ",") {
		if part = strings.TrimSpace(part); part == "" {
			continue
		}
		dc, err := zoho.ParseDC(part)
		if err != nil {
			return nil, err
		}
		out = append(out, dc)
	}
	if len(out) == 0 {
		return nil, errors.New("no data centre given: list some, e.g. us,eu,in, or all")
	}
	return out, nil
}

// Machine describes where a run happened.
type Machine struct {
	CPU        string `json:"cpu,omitempty"`
	NumCPU     int    `json:"num_cpu"`
	GOMAXPROCS int    `json:"gomaxprocs"`
	GOOS       string `json:"goos"`
	GOARCH     string `json:"goarch"`
	Go         string `json:"go"`
}

// ThisMachine describes the running machine (the CPU model on Linux only).
func ThisMachine() Machine {
	m := Machine{NumCPU: runtime.NumCPU(), GOMAXPROCS: runtime.GOMAXPROCS(0), GOOS: runtime.GOOS, GOARCH: runtime.GOARCH, Go: runtime.Version()}
	if f, err := os.Open("/proc/cpuinfo"); err == nil {
		defer f.Close()
		sc := bufio.NewScanner(f)
		for sc.Scan() {
			if k, v, ok := strings.Cut(sc.Text(), ":"); ok && strings.TrimSpace(k) == "model name" {
				m.CPU = strings.TrimSpace(v)
				break
			}
		}
	}
	return m
}

// OpStats are the latencies of one operation, as the client saw them
// (request sent to body read).
type OpStats struct {
	Op    string        `json:"op"`
	Count uint64        `json:"count"`
	P50   time.Duration `json:"p50_ns"`
	P99   time.Duration `json:"p99_ns"`
	Max   time.Duration `json:"max_ns"`
	Mean  time.Duration `json:"mean_ns"`
}

// Check is one invariant checked after (or during) the run.
type Check struct {
	Name    string `json:"name"`
	Checked int    `json:"checked"`
	Failed  int    `json:"failed"`
	// Examples are a few failures, secrets redacted.
	Examples []string `json:"examples,omitempty"`
}

// Report is the outcome of a run.
type Report struct {
	Config   Config        `json:"config"`
	Machine  Machine       `json:"machine"`
	Elapsed  time.Duration `json:"elapsed_ns"`
	Cycles   int64         `json:"cycles"`
	Requests int64         `json:"requests"`
	// CyclesPerSec and RequestsPerSec are over the load phase only.
	CyclesPerSec   float64   `json:"cycles_per_sec"`
	RequestsPerSec float64   `json:"requests_per_sec"`
	Ops            []OpStats `json:"ops"`
	// Errors counts unexpected answers during the cycles; ErrorExamples
	// shows a few. An integration stops at its first.
	Errors        int      `json:"errors"`
	ErrorExamples []string `json:"error_examples,omitempty"`
	Checks        []Check  `json:"checks"`
	// LiveRefreshTokens and LiveAccessTokens are what the integrations'
	// users hold at the end, as the fake reports it.
	LiveRefreshTokens int `json:"live_refresh_tokens"`
	LiveAccessTokens  int `json:"live_access_tokens"`
	// Evicted counts the tokens the caps evicted during the run (per the
	// model): refresh tokens and access tokens.
	EvictedRefreshTokens int64 `json:"evicted_refresh_tokens"`
	EvictedAccessTokens  int64 `json:"evicted_access_tokens"`
	// HeapAlloc is the process's heap after the run and a GC: the fake's
	// state and the driver's model together.
	HeapAlloc uint64 `json:"heap_alloc_bytes"`
	// Ceiling is the same load against a bare handler (Config.Ceiling).
	Ceiling *CeilingReport `json:"ceiling,omitempty"`
}

// OK reports whether the run had no unexpected answer and every check held.
func (r *Report) OK() bool {
	if r.Errors > 0 {
		return false
	}
	for _, c := range r.Checks {
		if c.Failed > 0 {
			return false
		}
	}
	return true
}

// Failures lists the checks that failed.
func (r *Report) Failures() []Check {
	var out []Check
	for _, c := range r.Checks {
		if c.Failed > 0 {
			out = append(out, c)
		}
	}
	return out
}

// Text writes the report for a person.
func (r *Report) Text() string {
	var b strings.Builder
	c := r.Config
	fmt.Fprintf(&b, "zconform load: %d integrations over %s (%s profile), %s\n", c.Workers, joinDCs(c.DCs), c.Profile, r.Elapsed.Round(time.Millisecond))
	fmt.Fprintf(&b, "machine: %s, %d CPUs (GOMAXPROCS %d), %s/%s, %s\n", orUnknown(r.Machine.CPU), r.Machine.NumCPU, r.Machine.GOMAXPROCS, r.Machine.GOOS, r.Machine.GOARCH, r.Machine.Go)
	fmt.Fprintf(&b, "cycle: authorize, exchange, %d API calls, %d refresh(es) of the new refresh token and 1 of the user's oldest kept one, revoke;\n", c.APICalls, c.Refreshes)
	fmt.Fprintf(&b, "       one cycle in %d keeps its refresh token (and revokes an access token instead), one in %d replays its code\n\n", c.KeepEvery, c.ReplayEvery)
	fmt.Fprintf(&b, "throughput: %d cycles (%.0f/s), %d requests (%.0f/s)\n\n", r.Cycles, r.CyclesPerSec, r.Requests, r.RequestsPerSec)
	fmt.Fprintf(&b, "%-13s %9s %10s %10s %10s %10s\n", "operation", "count", "p50", "p99", "max", "mean")
	for _, o := range r.Ops {
		fmt.Fprintf(&b, "%-13s %9d %10s %10s %10s %10s\n", o.Op, o.Count, fmtDur(o.P50), fmtDur(o.P99), fmtDur(o.Max), fmtDur(o.Mean))
	}
	if c := r.Ceiling; c != nil {
		fmt.Fprintf(&b, "\nceiling, a bare net/http handler driven the same way: %d cycles (%.0f/s), %d requests (%.0f/s)\n", c.Cycles, c.CyclesPerSec, c.Requests, c.RequestsPerSec)
		fmt.Fprintf(&b, "the fake runs at %.2f of the ceiling's cycles/s (goal: at least 0.5, i.e. within 2x)\n\n", c.FakeShare)
		ceil := map[string]OpStats{}
		for _, o := range c.Ops {
			ceil[o.Op] = o
		}
		fmt.Fprintf(&b, "%-13s %10s %10s %12s %12s\n", "operation", "fake p50", "fake p99", "ceiling p50", "ceiling p99")
		for _, o := range r.Ops {
			co := ceil[o.Op]
			fmt.Fprintf(&b, "%-13s %10s %10s %12s %12s\n", o.Op, fmtDur(o.P50), fmtDur(o.P99), fmtDur(co.P50), fmtDur(co.P99))
		}
		if c.Errors > 0 {
			fmt.Fprintf(&b, "the ceiling run had %d unexpected answers (a harness bug): %v\n", c.Errors, c.ErrorExamples)
		}
	}
	fmt.Fprintf(&b, "\nat the end: %d live refresh tokens, %d live access tokens; evicted by the caps during the run: %d refresh, %d access tokens; heap %.1f MiB\n",
		r.LiveRefreshTokens, r.LiveAccessTokens, r.EvictedRefreshTokens, r.EvictedAccessTokens, float64(r.HeapAlloc)/(1<<20))
	fmt.Fprintf(&b, "\ninvariants:\n")
	for _, ch := range r.Checks {
		mark := "ok  "
		if ch.Failed > 0 {
			mark = "FAIL"
		}
		fmt.Fprintf(&b, "  %s %-58s %8d checked", mark, ch.Name, ch.Checked)
		if ch.Failed > 0 {
			fmt.Fprintf(&b, ", %d failed", ch.Failed)
		}
		b.WriteByte('\n')
		for _, e := range ch.Examples {
			fmt.Fprintf(&b, "         %s\n", e)
		}
	}
	if r.Errors > 0 {
		fmt.Fprintf(&b, "\n%d unexpected answers during the cycles:\n", r.Errors)
		for _, e := range r.ErrorExamples {
			fmt.Fprintf(&b, "  %s\n", e)
		}
	}
	if r.OK() {
		b.WriteString("\nresult: PASS\n")
	} else {
		b.WriteString("\nresult: FAIL\n")
	}
	return b.String()
}

func joinDCs(dcs []zoho.DC) string {
	s := make([]string, len(dcs))
	for i, d := range dcs {
		s[i] = string(d)
	}
	return strings.Join(s, ",")
}

func orUnknown(s string) string {
	if s == "" {
		return "unknown CPU"
	}
	return s
}

func fmtDur(d time.Duration) string {
	switch {
	case d >= time.Second:
		return fmt.Sprintf("%.2fs", d.Seconds())
	case d >= time.Millisecond:
		return fmt.Sprintf("%.2fms", float64(d)/1e6)
	default:
		return fmt.Sprintf("%.1fµs", float64(d)/1e3)
	}
}

// Run drives a fresh fake (on 127.0.0.1, a free port) as cfg says, checks
// the invariants and returns the report. Cancelling ctx ends the load phase
// early (between cycles); the checks still run. An error means the run
// could not be set up or cfg is out of bounds; a failed invariant is in the
// report (see Report.OK).
func Run(ctx context.Context, cfg Config) (*Report, error) {
	cfg.DCs = slices.Clone(cfg.DCs)
	if err := cfg.normalize(); err != nil {
		return nil, err
	}
	r, err := newRunner(cfg)
	if err != nil {
		return nil, err
	}
	defer r.close()
	return r.run(ctx), nil
}

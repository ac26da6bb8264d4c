package main

import (
	"context"
	"encoding/json"
	"errors"
	"flag"
	"fmt"
	"io"
	"os"
	"os/signal"
	"syscall"

	"github.com/zconform/zconform/fakeserver/loadtest"
)

// runLoad drives a fresh in-process fake over loopback with concurrent
// simulated integrations, checks the fake's invariants and prints the
// throughput and latencies (exit 0), or what broke (exit 1).
func runLoad(args []string, stdout, stderr io.Writer) int {
	d := loadtest.DefaultConfig()
	fs := flag.NewFlagSet("zconform load", flag.ContinueOnError)
	fs.SetOutput(stderr)
	workers := fs.Int("workers", d.Workers, fmt.Sprintf("concurrent integrations, one user and client each (at most %d)", loadtest.MaxWorkers))
	duration := fs.Duration("duration", d.Duration, fmt.Sprintf("how long to drive the fake (at most %s)", loadtest.MaxDuration))
	cycles := fs.Int("cycles", 0, "stop after this many cycles of all workers together (0: run for -duration)")
	dcs := fs.String("dcs", "all", "data centres to spread the integrations over, e.g. us,eu,in (all: every DC)")
	asJSON := fs.Bool("json", false, "print the report as JSON")
	apiCalls := fs.Int("api-calls", d.APICalls, "API calls per cycle")
	refreshes := fs.Int("refreshes", d.Refreshes, "refreshes of the cycle's new refresh token per cycle")
	keepEvery := fs.Int("keep-every", d.KeepEvery, "every Nth cycle keeps its refresh token instead of revoking it (negative: never)")
	verify := fs.Int("verify", d.Verify, "tokens of each kind checked on the wire afterwards (negative: all; 0: the default)")
	profile := fs.String("profile", d.Profile, "limit profile: kaizen4 or accounts-2025")
	ceiling := fs.Bool("ceiling", d.Ceiling, "then drive a bare net/http handler the same way, as long, and report the fake's share of its throughput")
	fs.Usage = func() {
		fmt.Fprintf(stderr, `Usage: zconform load [flags]

Starts a fake on 127.0.0.1 (a free port) and drives it over loopback HTTP with
concurrent simulated integrations, each doing the full cycle: authorize (the
fake consents by itself), the code exchange at the accounts-server named, API
calls, refreshes, a revoke. The grant-token rate limit is lifted; the caps
stay. Afterwards it checks the fake's invariants (no code exchanged twice, no
cap exceeded, no token lost, revoked and evicted tokens refused, held ones
working) and prints throughput and p50/p99 latency per operation. Then, with
-ceiling (the default), it drives a bare net/http handler the same way for as
long (same client, cycles and request bodies, fixed copies of the fake's
answers) and prints the fake's share of that ceiling. Exit 1 when an
invariant failed or an answer was unexpected.

Flags:
`)
		fs.PrintDefaults()
	}
	if err := fs.Parse(args); err != nil {
		if errors.Is(err, flag.ErrHelp) {
			return 0
		}
		return 2
	}
	if fs.NArg() > 0 {
		fmt.Fprintf(stderr, "zconform load: unexpected argument %q (flags only)\n", fs.Arg(0))
		return 2
	}
	list, err := loadtest.ParseDCs(*dcs)
	if err != nil {
		fmt.Fprintf(stderr, "zconform load: -dcs: %v\n", err)
		return 2
	}
	if *duration <= 0 {
		fmt.Fprintln(stderr, "zconform load: -duration must be positive")
		return 2
	}
	cfg := loadtest.Config{Workers: *workers, Duration: *duration, Cycles: *cycles, DCs: list, APICalls: *apiCalls,
		Refreshes: *refreshes, KeepEvery: *keepEvery, Verify: *verify, Profile: *profile, Ceiling: *ceiling}
	if cfg.APICalls == 0 {
		cfg.APICalls = -1 // zero means the default in Config; the flag's 0 means none
	}
	if cfg.Refreshes == 0 {
		cfg.Refreshes = -1
	}
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	defer stop()
	rep, err := loadtest.Run(ctx, cfg)
	if err != nil {
		fmt.Fprintf(stderr, "zconform load: %v\n", err)
		return 2
	}
	if *asJSON {
		enc := json.NewEncoder(stdout)
		enc.SetIndent("", "  ")
		_ = enc.Encode(struct {
			*loadtest.Report
			OK bool `json:"ok"`
		}{rep, rep.OK()})
	} else {
		fmt.Fprint(stdout, rep.Text())
	}
	if !rep.OK() {
		return 1
	}
	return 0
}

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
	"strings"
	"sync"
	"syscall"
	"time"

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
	progress := fs.Bool("progress", false, "print a line on stderr as each phase starts and ends and every interval of the load, with the time elapsed (default: when stderr is a terminal)")
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
invariant failed or an answer was unexpected. With -progress (the default
when stderr is a terminal) a line on stderr tells each phase and, every
interval, the load so far; stdout holds only the report.

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
	var rep *loadtest.Report
	if showProgress(fs, "progress", *progress, stderr) {
		tick := max(time.Second, (*duration / 20).Round(time.Second))
		rep, err = loadtest.RunWithProgress(ctx, cfg, tick, loadProgress(stderr))
	} else {
		rep, err = loadtest.Run(ctx, cfg)
	}
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

// showProgress says whether to print progress lines: as the flag says when
// it is given, else when w is a terminal.
func showProgress(fs *flag.FlagSet, name string, value bool, w io.Writer) bool {
	given := false
	fs.Visit(func(f *flag.Flag) { given = given || f.Name == name })
	if given {
		return value
	}
	return isTerminal(w)
}

// loadProgress prints a load run's progress, one line per event:
//
//	zconform load:   0.0s setup: 16 integrations over us, eu, ... (kaizen4 profile)
//	zconform load:   1.0s fake: 2812 cycles, 22745 requests in 1.0s (2812 cycles/s)
func loadProgress(w io.Writer) func(loadtest.Progress) {
	var mu sync.Mutex
	return func(p loadtest.Progress) {
		var line string
		rate := func() string {
			if p.Took <= 0 {
				return ""
			}
			return fmt.Sprintf(" (%.0f cycles/s)", float64(p.Cycles)/p.Took.Seconds())
		}
		stopped := ""
		if p.Stopped {
			stopped = ", stopped early"
		}
		switch p.Phase + "/" + p.Event {
		case "setup/start":
			c := p.Config
			dcs := make([]string, len(c.DCs))
			for i, dc := range c.DCs {
				dcs[i] = string(dc)
			}
			line = fmt.Sprintf("setup: %d integrations over %s (%s profile), each a user and a Web-based client", c.Workers, strings.Join(dcs, ", "), c.Profile)
			if c.Cycles > 0 {
				line += fmt.Sprintf("; the load runs %s or %d cycles, whichever ends first", c.Duration, c.Cycles)
			} else {
				line += fmt.Sprintf("; the load runs %s", c.Duration)
			}
		case "fake/start":
			line = "fake: driving the fake"
		case "ceiling/start":
			line = "ceiling: driving a bare net/http handler the same way, as long"
		case "fake/tick", "ceiling/tick":
			line = fmt.Sprintf("%s: %d cycles, %d requests so far in %s%s", p.Phase, p.Cycles, p.Requests, p.Took.Round(100*time.Millisecond), rate())
		case "fake/end", "ceiling/end":
			line = fmt.Sprintf("%s: %d cycles, %d requests in %s%s%s", p.Phase, p.Cycles, p.Requests, p.Took.Round(time.Millisecond), rate(), stopped)
		case "checks/start":
			line = "checks: the invariants, from the fake's state and on the wire"
		case "checks/end":
			line = fmt.Sprintf("checks: %d invariants checked in %s", p.Checks, p.Took.Round(time.Millisecond))
			if p.Failed > 0 {
				line += fmt.Sprintf(", %d FAILED", p.Failed)
			} else {
				line += ", all held"
			}
		case "done/end":
			line = "done: PASS"
			if !p.OK {
				line = "done: FAIL"
			}
			line += stopped
		default:
			line = p.Phase + ": " + p.Event
		}
		mu.Lock()
		defer mu.Unlock()
		fmt.Fprintf(w, "zconform load: %6.1fs %s\n", p.Elapsed.Seconds(), line)
	}
}

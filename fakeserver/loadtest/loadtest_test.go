package loadtest

import (
	"context"
	"strings"
	"testing"
	"time"

	"github.com/zconform/zconform/fixtures/zoho"
)

// TestRunHoldsInvariants runs a short load across every DC, with enough
// cycles per integration that both caps evict, and checks every token on
// the wire.
func TestRunHoldsInvariants(t *testing.T) {
	cycles := 1200
	if testing.Short() || raceEnabled {
		cycles = 400
	}
	rep, err := Run(context.Background(), Config{Workers: 6, Duration: time.Minute, Cycles: cycles, KeepEvery: 3, Verify: -1})
	if err != nil {
		t.Fatal(err)
	}
	t.Log("\n" + rep.Text())
	if !rep.OK() {
		t.Fatalf("the run failed: %d errors, failed checks %+v", rep.Errors, rep.Failures())
	}
	if rep.Cycles != int64(cycles) {
		t.Errorf("%d cycles, want %d", rep.Cycles, cycles)
	}
	if rep.EvictedRefreshTokens == 0 || rep.EvictedAccessTokens == 0 {
		t.Errorf("no eviction (refresh %d, access %d): the caps were not exercised", rep.EvictedRefreshTokens, rep.EvictedAccessTokens)
	}
	for _, c := range rep.Checks {
		if c.Checked == 0 && !strings.Contains(c.Name, "evicted refresh") {
			t.Errorf("check %q checked nothing", c.Name)
		}
	}
	ops := map[string]OpStats{}
	for _, o := range rep.Ops {
		ops[o.Op] = o
		if o.P50 <= 0 || o.P99 < o.P50 || o.Max < o.P99 {
			t.Errorf("op %s: implausible latencies %+v", o.Op, o)
		}
	}
	for _, name := range []string{"authorize", "exchange", "replay", "api", "refresh", "refresh-kept", "revoke", "whole cycle"} {
		if ops[name].Count == 0 {
			t.Errorf("no %s timed", name)
		}
	}
	if got, want := ops["exchange"].Count, uint64(cycles); got != want {
		t.Errorf("%d exchanges, want %d", got, want)
	}
}

// TestRunStopsOnTime checks that a duration-bound run ends near its
// duration and that a cancelled context ends it at once.
func TestRunStopsOnTime(t *testing.T) {
	start := time.Now()
	rep, err := Run(context.Background(), Config{Workers: 2, Duration: 300 * time.Millisecond, DCs: []zoho.DC{zoho.EU}})
	if err != nil {
		t.Fatal(err)
	}
	if !rep.OK() {
		t.Fatalf("failed: %s", rep.Text())
	}
	if rep.Elapsed > 2*time.Second || time.Since(start) > 30*time.Second {
		t.Errorf("a 300ms run took %s (load phase %s)", time.Since(start), rep.Elapsed)
	}
	ctx, cancel := context.WithCancel(context.Background())
	cancel()
	rep, err = Run(ctx, Config{Workers: 2, Duration: time.Minute})
	if err != nil {
		t.Fatal(err)
	}
	if rep.Elapsed > time.Second || !rep.OK() {
		t.Errorf("a cancelled run took %s, ok=%v", rep.Elapsed, rep.OK())
	}
}

func TestConfigBounds(t *testing.T) {
	for _, c := range []Config{
		{Workers: MaxWorkers + 1},
		{Workers: -1},
		{Duration: MaxDuration + time.Second},
		{Duration: -time.Second},
		{Cycles: MaxCycles + 1},
		{DCs: []zoho.DC{"mars"}},
		{DCs: []zoho.DC{"eu", "EU"}},
		{Profile: "nope"},
		{APICalls: 101},
	} {
		if _, err := Run(context.Background(), c); err == nil {
			t.Errorf("config %+v accepted", c)
		}
	}
	dcs, err := ParseDCs(" us, EU ,in")
	if err != nil || len(dcs) != 3 || dcs[1] != zoho.EU {
		t.Errorf("ParseDCs = %v, %v", dcs, err)
	}
	if all, _ := ParseDCs("all"); len(all) != len(zoho.DataCentres()) {
		t.Errorf("ParseDCs(all) = %v", all)
	}
	if _, err := ParseDCs(",,"); err == nil {
		t.Error("ParseDCs(\",,\") accepted")
	}
}

func TestHistogramQuantiles(t *testing.T) {
	var h histogram
	for i := 1; i <= 10000; i++ {
		h.add(time.Duration(i) * time.Microsecond)
	}
	for _, tc := range []struct {
		q    float64
		want time.Duration
	}{{0.5, 5000 * time.Microsecond}, {0.99, 9900 * time.Microsecond}, {1, 10000 * time.Microsecond}} {
		got := h.quantile(tc.q)
		if d := float64(got-tc.want) / float64(tc.want); d > 0.02 || d < -0.02 {
			t.Errorf("q%.2f = %s, want %s within 2%%", tc.q, got, tc.want)
		}
	}
	for _, ns := range []uint64{0, 1, 127, 128, 129, 1000, 123456, 1 << 40} {
		i := bucketOf(ns)
		if lo, hi := lowerBound(i), lowerBound(i+1); ns < lo || ns >= hi {
			t.Errorf("%d ns in bucket %d = [%d, %d)", ns, i, lo, hi)
		}
	}
	if h.mean() < 5000*time.Microsecond || h.mean() > 5001*time.Microsecond {
		t.Errorf("mean %s", h.mean())
	}
}

// TestCeiling drives the bare handler the same way after the fake: same
// cycles, no unexpected answer, a share of its throughput reported.
func TestCeiling(t *testing.T) {
	rep, err := Run(context.Background(), Config{Workers: 3, Duration: time.Minute, Cycles: 90, Ceiling: true, DCs: []zoho.DC{zoho.EU, zoho.CN}})
	if err != nil {
		t.Fatal(err)
	}
	t.Log("\n" + rep.Text())
	c := rep.Ceiling
	switch {
	case !rep.OK():
		t.Fatalf("the fake's run failed: %+v", rep.Failures())
	case c == nil:
		t.Fatal("no ceiling report")
	case c.Errors > 0:
		t.Fatalf("the ceiling run had unexpected answers: %v", c.ErrorExamples)
	case c.Cycles != 90 || c.Requests-replays(c.Ops) != rep.Requests-replays(rep.Ops):
		// replays come every 10th cycle of each integration, so their
		// number depends on how the cycles fell to the workers
		t.Errorf("ceiling: %d cycles, %d requests; the fake: %d, %d", c.Cycles, c.Requests, rep.Cycles, rep.Requests)
	case c.FakeShare <= 0:
		t.Errorf("fake share %v", c.FakeShare)
	}
	if !strings.Contains(rep.Text(), "of the ceiling's cycles/s") {
		t.Errorf("the text report lacks the ceiling:\n%s", rep.Text())
	}
}

func replays(ops []OpStats) int64 {
	for _, o := range ops {
		if o.Op == "replay" {
			return int64(o.Count)
		}
	}
	return 0
}

package main

import (
	"bytes"
	"encoding/json"
	"strings"
	"testing"
)

func TestLoadJSON(t *testing.T) {
	var out, errb bytes.Buffer
	code := runLoad([]string{"-workers", "3", "-duration", "5s", "-cycles", "60", "-dcs", "us,eu,cn", "-json"}, &out, &errb)
	if code != 0 {
		t.Fatalf("exit %d\nstdout: %s\nstderr: %s", code, out.String(), errb.String())
	}
	var rep struct {
		OK     bool  `json:"ok"`
		Cycles int64 `json:"cycles"`
		Config struct {
			Workers int      `json:"workers"`
			DCs     []string `json:"dcs"`
		} `json:"config"`
		Ops []struct {
			Op    string `json:"op"`
			Count int    `json:"count"`
			P50   int64  `json:"p50_ns"`
			P99   int64  `json:"p99_ns"`
		} `json:"ops"`
		Checks []struct {
			Name   string `json:"name"`
			Failed int    `json:"failed"`
		} `json:"checks"`
		Machine struct {
			NumCPU int `json:"num_cpu"`
		} `json:"machine"`
		Ceiling *struct {
			Cycles    int64   `json:"cycles"`
			FakeShare float64 `json:"fake_share"`
		} `json:"ceiling"`
	}
	if err := json.Unmarshal(out.Bytes(), &rep); err != nil {
		t.Fatalf("not JSON: %v\n%s", err, out.String())
	}
	if !rep.OK || rep.Cycles != 60 || rep.Config.Workers != 3 || strings.Join(rep.Config.DCs, ",") != "us,eu,cn" || rep.Machine.NumCPU == 0 {
		t.Errorf("report: %+v", rep)
	}
	if rep.Ceiling == nil || rep.Ceiling.Cycles != 60 || rep.Ceiling.FakeShare <= 0 {
		t.Errorf("ceiling: %+v", rep.Ceiling)
	}
	if len(rep.Ops) == 0 || len(rep.Checks) == 0 {
		t.Errorf("no ops or checks: %s", out.String())
	}
	for _, o := range rep.Ops {
		if o.Count == 0 || o.P50 <= 0 || o.P99 < o.P50 {
			t.Errorf("op %+v", o)
		}
	}
}

func TestLoadText(t *testing.T) {
	var out, errb bytes.Buffer
	if code := runLoad([]string{"-workers", "2", "-cycles", "20", "-dcs", "jp", "-ceiling=false"}, &out, &errb); code != 0 {
		t.Fatalf("exit %d: %s%s", code, out.String(), errb.String())
	}
	if strings.Contains(out.String(), "ceiling") {
		t.Errorf("-ceiling=false still drove the ceiling:\n%s", out.String())
	}
	for _, want := range []string{"throughput:", "p50", "p99", "exchange", "invariants:", "result: PASS", "machine:"} {
		if !strings.Contains(out.String(), want) {
			t.Errorf("no %q in\n%s", want, out.String())
		}
	}
}

func TestLoadBadFlags(t *testing.T) {
	for _, args := range [][]string{
		{"-dcs", "mars"},
		{"-workers", "100000"},
		{"-duration", "1h"},
		{"-duration", "0s"},
		{"extra"},
		{"-nope"},
	} {
		var out, errb bytes.Buffer
		if code := runLoad(args, &out, &errb); code != 2 {
			t.Errorf("%v: exit %d, want 2 (%s)", args, code, errb.String())
		}
		if errb.Len() == 0 {
			t.Errorf("%v: no message", args)
		}
	}
	var out, errb bytes.Buffer
	if code := runLoad([]string{"-h"}, &out, &errb); code != 0 || !strings.Contains(errb.String(), "-workers") {
		t.Errorf("-h: exit %d, %s", code, errb.String())
	}
}

package main

import (
	"os"
	"testing"
)

// TestMain lets the test binary stand in for zconform when a test runs
// `zconform run` in-process: run starts its own executable with the suite
// subcommand, which here is this binary.
func TestMain(m *testing.M) {
	if len(os.Args) > 1 && os.Args[1] == suiteCommand {
		os.Exit(runSuite(os.Args[2:], os.Stderr))
	}
	os.Exit(m.Run())
}

package main

import (
	"flag"
	"fmt"
	"io"

	"github.com/zconform/zconform/suites/conformance"
)

// suiteCommand is the hidden subcommand `zconform run` starts: the
// conformance suite, compiled into the binary, run in this process. Its
// arguments are Ginkgo's (-ginkgo.label-filter=…, -ginkgo.v); the target,
// profile and report folder come from the environment, as for the go test
// binary (suites/target).
const suiteCommand = "suite"

// suiteT is the suite's testing.T outside go test: it records a failure.
type suiteT struct{ failed bool }

func (t *suiteT) Fail() { t.failed = true }

// runSuite runs the compiled-in conformance suite and reports 0 when it
// passed, 1 when it did not, 2 on bad arguments.
func runSuite(args []string, stderr io.Writer) int {
	// Ginkgo's flags live on flag.CommandLine (its package registers them).
	flag.CommandLine.SetOutput(stderr)
	flag.CommandLine.Init("zconform "+suiteCommand, flag.ContinueOnError)
	if err := flag.CommandLine.Parse(args); err != nil {
		return 2
	}
	if flag.CommandLine.NArg() > 0 {
		fmt.Fprintf(stderr, "zconform %s: unexpected argument %q: it takes Ginkgo's flags only (-ginkgo.label-filter=…)\n", suiteCommand, flag.CommandLine.Arg(0))
		return 2
	}
	var t suiteT
	if !conformance.Run(&t) || t.failed {
		return 1
	}
	return 0
}

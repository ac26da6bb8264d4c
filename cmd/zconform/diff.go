package main

import (
	"encoding/json"
	"errors"
	"flag"
	"fmt"
	"io"
	"io/fs"
	"os"
	"path/filepath"

	"github.com/zconform/zconform/reports"
)

// Exit statuses of zconform diff.
const (
	diffNoRegression = 0
	diffRegressed    = 1
	diffBadInput     = 2
)

// runDiff compares two runs' results.json and prints what changed; its
// exit status says whether something regressed (see reports.Differences).
func runDiff(args []string, stdout, stderr io.Writer) int {
	fset := flag.NewFlagSet("zconform diff", flag.ContinueOnError)
	fset.SetOutput(stderr)
	asJSON := fset.Bool("json", false, "print the differences as JSON")
	fset.Usage = func() {
		fmt.Fprint(stderr, `Usage: zconform diff [-json] OLD NEW

Compares two conformance runs: OLD and NEW are results.json files, or the
report folders holding them (e.g. last night's out/ and tonight's). Prints,
grouped: the cases newly failing, newly passing, with a changed error code
or HTTP status, with other outcome changes (skipped, deviated), appeared
(only in NEW) and disappeared (only in OLD); and how the runs were set up
differently (target, expected profile, label filter, deviations file).

A regression is: a case newly failing (passed, deviated or skipped ->
failed); a case failing in both runs with another error code or HTTP
status; a case that disappeared; a run failure (BeforeSuite, interrupted,
...) that OLD did not have.

Exit status: 0 nothing regressed, 1 something regressed, 2 bad input.

Flags:
`)
		fset.PrintDefaults()
	}
	// Flags may come before, between or after the two paths.
	var paths []string
	for {
		if err := fset.Parse(args); err != nil {
			if errors.Is(err, flag.ErrHelp) {
				return diffNoRegression
			}
			return diffBadInput
		}
		if fset.NArg() == 0 {
			break
		}
		paths = append(paths, fset.Arg(0))
		args = fset.Args()[1:]
	}
	if len(paths) != 2 {
		fmt.Fprintf(stderr, "zconform diff: want two runs, OLD and NEW (results.json files or report folders), got %d argument(s)\n", len(paths))
		fmt.Fprintln(stderr, `Run "zconform diff -h" for help.`)
		return diffBadInput
	}
	var runs [2]reports.Results
	for i, label := range []string{"OLD", "NEW"} {
		path, err := resultsPath(paths[i])
		if err == nil {
			runs[i], err = reports.ReadResults(path)
		}
		if err != nil {
			fmt.Fprintf(stderr, "zconform diff: %s: %v\n", label, err)
			return diffBadInput
		}
		paths[i] = path
	}
	d := reports.Diff(runs[0], runs[1])
	d.Old.Path, d.New.Path = paths[0], paths[1]
	if *asJSON {
		enc := json.NewEncoder(stdout)
		enc.SetIndent("", "  ")
		if err := enc.Encode(d); err != nil {
			fmt.Fprintf(stderr, "zconform diff: %v\n", err)
			return diffBadInput
		}
	} else {
		fmt.Fprint(stdout, d.Text())
	}
	if d.Regressed {
		return diffRegressed
	}
	return diffNoRegression
}

// resultsPath is arg, or arg/results.json when arg is a folder.
func resultsPath(arg string) (string, error) {
	fi, err := os.Stat(arg)
	if errors.Is(err, fs.ErrNotExist) {
		return "", fmt.Errorf("%s: no such file or folder: give a results.json or the report folder holding it", arg)
	}
	if err != nil {
		return "", err
	}
	if !fi.IsDir() {
		return arg, nil
	}
	path := filepath.Join(arg, reports.ResultsFile)
	if _, err := os.Stat(path); err != nil {
		return "", fmt.Errorf("the folder %s holds no %s: give a run's report folder (zconform run -out) or its %s", arg, reports.ResultsFile, reports.ResultsFile)
	}
	return path, nil
}

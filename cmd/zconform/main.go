// Command zconform certifies Zoho OAuth 2.0 behaviour. Its subcommands:
//
//	zconform run        run the conformance catalogue against the bundled fake or a real endpoint, write reports
//	zconform catalogue  list the catalogue's cases
//	zconform diff       compare two runs' results.json, exit 1 on a regression
//	zconform fake       serve the fake Zoho Accounts server for clients in any language
//	zconform certify    certify a Zoho integration in any language against the fake
//	zconform version    print the version, commit, Go version and catalogue digest
//
// The binary carries everything: the conformance suite is compiled in (run
// starts it as `zconform suite`, a subcommand for its own use), so an
// installed zconform needs no Go toolchain and no checkout.
//
// Run "zconform help" or "zconform SUBCOMMAND -h" for the flags.
package main

import (
	"fmt"
	"io"
	"os"
)

func main() {
	os.Exit(run(os.Args[1:], os.Stdout, os.Stderr))
}

const usage = `zconform certifies Zoho OAuth 2.0 behaviour.

Usage:
  zconform run [flags]        run the conformance catalogue against the bundled fake; write reports
  zconform catalogue [flags]  list the catalogue's cases (table or -json)
  zconform diff OLD NEW       compare two runs' results.json: what newly fails, passes, changed; exit 1 on a regression
  zconform fake [flags]       serve the fake Zoho Accounts server (every DC, control API)
  zconform certify [flags]    certify a Zoho integration (any language) against the fake; write a certificate
  zconform adapter [flags]    serve the certifier's protocol for a built-in reference integration
  zconform load [flags]       drive the fake with concurrent integrations; check its invariants; report throughput and latency
  zconform grant [flags]      get a grant token from the fake without a person (a target file's grants.command)
  zconform version [-json]    print the version, commit, Go version and catalogue digest
  zconform help               show this help

Run "zconform SUBCOMMAND -h" for its flags.
`

func run(args []string, stdout, stderr io.Writer) int {
	if len(args) == 0 {
		fmt.Fprint(stderr, usage)
		return 2
	}
	switch args[0] {
	case "fake":
		return runFake(args[1:], stdout, stderr, nil)
	case "run":
		return runRun(args[1:], stdout, stderr)
	case "catalogue", "catalog":
		return runCatalogue(args[1:], stdout, stderr)
	case "diff":
		return runDiff(args[1:], stdout, stderr)
	case "grant":
		return runGrant(args[1:], stdout, stderr)
	case "certify":
		return runCertify(args[1:], stdout, stderr)
	case "load":
		return runLoad(args[1:], stdout, stderr)
	case "adapter":
		return runAdapter(args[1:], os.Stdin, stdout, stderr)
	case "version", "-version", "--version":
		return runVersion(args[1:], stdout, stderr)
	case suiteCommand:
		return runSuite(args[1:], stderr)
	case "help", "-h", "--help":
		fmt.Fprint(stdout, usage)
		return 0
	}
	fmt.Fprintf(stderr, "zconform: unknown subcommand %q\n\n%s", args[0], usage)
	return 2
}

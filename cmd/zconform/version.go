package main

import (
	"encoding/json"
	"flag"
	"fmt"
	"io"

	"github.com/zconform/zconform/certify"
	"github.com/zconform/zconform/fixtures"
	"github.com/zconform/zconform/internal/version"
)

// buildIdentity is what `zconform version` prints, and what every report
// and certificate records.
type buildIdentity struct {
	version.Info
	Catalogue   string `json:"catalogue"`
	Cases       int    `json:"cases"`
	ScenarioSet string `json:"scenario_set"`
}

func identity() buildIdentity {
	return buildIdentity{Info: version.Get(), Catalogue: fixtures.CatalogueDigest(), Cases: len(fixtures.Load().Cases), ScenarioSet: certify.ScenarioSet()}
}

// runVersion prints the build's identity: version, commit, Go version,
// the catalogue's digest and the certifier's scenario set.
func runVersion(args []string, stdout, stderr io.Writer) int {
	fs := flag.NewFlagSet("zconform version", flag.ContinueOnError)
	fs.SetOutput(stderr)
	asJSON := fs.Bool("json", false, "print JSON")
	if err := fs.Parse(args); err != nil {
		return 2
	}
	if fs.NArg() > 0 {
		fmt.Fprintf(stderr, "zconform version: unexpected argument %q\n", fs.Arg(0))
		return 2
	}
	id := identity()
	if *asJSON {
		data, _ := json.MarshalIndent(id, "", "  ")
		fmt.Fprintf(stdout, "%s\n", data)
		return 0
	}
	fmt.Fprintf(stdout, "zconform %s\ncommit:       %s\ngo:           %s\ncatalogue:    %s (%d cases)\nscenario set: %s\n",
		id.Version, id.Commit, id.Go, id.Catalogue, id.Cases, id.ScenarioSet)
	return 0
}

package main

import (
	"encoding/json"
	"errors"
	"flag"
	"fmt"
	"io"
	"strings"
	"text/tabwriter"

	"github.com/zconform/zconform/fixtures"
)

// runCatalogue lists the cases, as a table or as JSON.
func runCatalogue(args []string, stdout, stderr io.Writer) int {
	fs := flag.NewFlagSet("zconform catalogue", flag.ContinueOnError)
	fs.SetOutput(stderr)
	asJSON := fs.Bool("json", false, "print the cases as JSON")
	area := fs.String("area", "", "only the cases of one area")
	fs.Usage = func() {
		fmt.Fprintln(stderr, "Usage: zconform catalogue [-json] [-area AREA]\n\nLists the catalogue's cases (fixtures/catalogue.yaml).\n\nFlags:")
		fs.PrintDefaults()
	}
	if err := fs.Parse(args); err != nil {
		if errors.Is(err, flag.ErrHelp) {
			return 0
		}
		return 2
	}
	cat := fixtures.Load()
	cases := cat.Cases
	if *area != "" {
		cases = cat.InArea(fixtures.Area(*area))
		if len(cases) == 0 {
			var names []string
			for _, a := range fixtures.Areas {
				names = append(names, string(a.Area))
			}
			fmt.Fprintf(stderr, "zconform catalogue: no area %q: use one of %s\n", *area, strings.Join(names, ", "))
			return 2
		}
	}
	if *asJSON {
		type row struct {
			fixtures.Case
			Location string `json:"location"`
		}
		out := make([]row, len(cases))
		for i, c := range cases {
			out[i] = row{c, c.Location()}
		}
		enc := json.NewEncoder(stdout)
		enc.SetIndent("", "  ")
		if err := enc.Encode(out); err != nil {
			fmt.Fprintln(stderr, "zconform catalogue:", err)
			return 1
		}
		return 0
	}
	tw := tabwriter.NewWriter(stdout, 0, 0, 2, ' ', 0)
	fmt.Fprintln(tw, "ID\tAREA\tSEEDS\tBASIS\tNEEDS\tPROVEN BY\tROW")
	proven, byFault := 0, 0
	for _, c := range cases {
		var seeds, needs, proof []string
		for _, s := range c.Seeds {
			seeds = append(seeds, string(s))
		}
		for _, n := range c.Needs {
			needs = append(needs, string(n))
		}
		for _, p := range c.Proof {
			proof = append(proof, string(p))
		}
		if n := len(c.ProofLimits); n > 0 {
			proof = append(proof, fmt.Sprintf("%d limit changes", n))
		}
		switch {
		case len(proof) > 0:
			proven++
		case c.Stimulus.Fault != nil:
			byFault++
			proof = append(proof, "fault off")
		}
		fmt.Fprintf(tw, "%s\t%s\t%s\t%s\t%s\t%s\t%s\n", c.ID, c.Area, dash(seeds), c.Basis, dash(needs), dash(proof), c.Location())
	}
	tw.Flush()
	fmt.Fprintf(stdout, "\n%d cases, %d proven by a break or a limit change, %d by switching their fault off, %d without one\n", len(cases), proven, byFault, len(cases)-proven-byFault)
	return 0
}

func dash(s []string) string {
	if len(s) == 0 {
		return "-"
	}
	return strings.Join(s, ",")
}

// Package conformance is the zconform conformance suite: one Ginkgo spec per
// catalogue case (fixtures/catalogue.yaml), grouped by area, labelled by
// seed ID, area, basis and needs, run against the target the environment
// names (the bundled fake by default). It writes JUnit, JSON and summary
// reports after the suite. Run it with `go test`, `go tool ginkgo -p`, or as
// a prebuilt `go test -c` binary.
package conformance

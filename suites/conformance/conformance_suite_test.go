package conformance_test

import (
	"os"
	"testing"

	. "github.com/onsi/ginkgo/v2"
	"github.com/zconform/zconform/suites/conformance"
)

// TestConformance runs the suite under go test, ginkgo, or as a go test -c
// binary, failing on a pending spec. With $ZCONFORM_RANDOMIZE_ALL set (make
// test sets it) the cases run in random order, as with ginkgo
// --randomize-all: no case may depend on another. zconform run clears it:
// a user's run keeps the catalogue's order.
func TestConformance(t *testing.T) {
	suiteConfig, reporterConfig := GinkgoConfiguration()
	suiteConfig.FailOnPending = true
	if os.Getenv(conformance.EnvRandomizeAll) != "" {
		suiteConfig.RandomizeAllSpecs = true
	}
	conformance.Run(t, suiteConfig, reporterConfig)
}

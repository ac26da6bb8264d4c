package conformance_test

import (
	"testing"

	. "github.com/onsi/ginkgo/v2"
	"github.com/zconform/zconform/suites/conformance"
)

// TestConformance runs the suite under go test, ginkgo, or as a go test -c
// binary: in random order, and failing on a pending spec, unless the
// command line says otherwise (-ginkgo.seed=…).
func TestConformance(t *testing.T) {
	suiteConfig, reporterConfig := GinkgoConfiguration()
	suiteConfig.RandomizeAllSpecs = true
	suiteConfig.FailOnPending = true
	conformance.Run(t, suiteConfig, reporterConfig)
}

package reports

import (
	"os"
	"strings"
	"time"

	"github.com/zconform/zconform/fixtures"
	"github.com/zconform/zconform/internal/version"
)

// EntryName is the name of the Ginkgo report entry (AddReportEntry) that
// carries a spec's CaseMeta. Every conformance spec adds exactly one.
const EntryName = "zconform-case"

// ObservedEntryName is the name of the report entry that carries what the
// target last answered in a spec (an Observed), when the spec got that far.
const ObservedEntryName = "zconform-observed"

// CaseMeta describes the catalogue case a spec runs, and where it ran.
type CaseMeta struct {
	ID    string `json:"id"`
	Title string `json:"title"`
	// Area groups cases: registration, authorization, self-client,
	// token-exchange, refresh-revoke, caps-rate-limits, data-centres.
	Area string `json:"area"`
	// Seeds are the seed IDs (K4-...) the case covers.
	Seeds []string `json:"seeds"`
	// Basis is seed, doc, seen or assumed.
	Basis string `json:"basis"`
	// Needs are what the case needs from a target (clock, console, breaks,
	// destructive, slow).
	Needs   []string `json:"needs,omitempty"`
	Target  string   `json:"target"`
	DC      string   `json:"dc"`
	Profile string   `json:"profile"`
	// File and Line locate the case's row in the catalogue.
	File string `json:"file"`
	Line int    `json:"line"`
}

// Observed is the last answer a case saw from the target. In a
// deviations file (Deviation.Observed) it is what the target is known to
// answer, and a zero field means "any".
type Observed struct {
	Step   string `json:"step" yaml:"step"`
	Status int    `json:"http_status" yaml:"http_status"`
	// Error is the wire error code, page code or console message, if any.
	Error string `json:"error,omitempty" yaml:"error"`
	// Waited says how long the case waited for real, on a target without a
	// virtual clock, and with what margin.
	Waited string `json:"waited,omitempty" yaml:"-"`
}

// RunMeta describes a whole run.
type RunMeta struct {
	Target  string    `json:"target"`
	Profile string    `json:"profile"`
	Started time.Time `json:"started"`
	// LabelFilter is the --label-filter the run used, if any.
	LabelFilter string `json:"label_filter,omitempty"`
	// OffContract says how the target is known to be configured apart
	// from the expected profile's contract (a fake started with other
	// limits), "" when it is not: the cases its difference touches fail.
	OffContract string `json:"off_contract,omitempty"`
	// Breaks are the rules the bundled fake broke in the run, as
	// $ZCONFORM_FAKE_BREAKS names them (seed IDs K4-..., the fake's
	// deviations DEV-...; see BreaksFromEnv): empty for a fake that keeps
	// the contract and for a real target. The caller passes them.
	Breaks []string `json:"breaks,omitempty"`
	// Build is the zconform build that wrote the reports. Write, WriteResults
	// and FromReport set it to CurrentBuild, whatever the caller passed.
	Build Build `json:"build"`
	// Deviations are the target's expected deviations (LoadDeviations,
	// DeviationsFromEnv), if the run has any. FromReport applies them to
	// the cases, and results.json keeps them.
	Deviations *Deviations `json:"deviations,omitempty"`
	// Certificate names the integration a certification run (`zconform
	// certify`) judged. When set, the cases are the certification's
	// scenarios and every report reads as a certificate (see WriteResults).
	Certificate *Certificate `json:"certificate,omitempty"`
}

// Certificate names the integration on a certificate.
type Certificate struct {
	// Integration and Version are the integration's name and version, as
	// it gives them.
	Integration string `json:"integration"`
	Version     string `json:"version"`
	// Adapter is how it was driven: the adapter's name, path or command.
	Adapter string `json:"adapter"`
	// Zconform is the build that judged: version, commit, Go version.
	Zconform string `json:"zconform,omitempty"`
	// ScenarioSet names the scenarios judged: version and digest.
	ScenarioSet string `json:"scenario_set,omitempty"`
	// Fake says how the fake was set up: profile, clock, transport.
	Fake string `json:"fake,omitempty"`
}

// Build is a zconform build's identity, as `zconform version` prints it.
type Build struct {
	// Version is the module version ("v0.3.0"), or "(devel)" for a build
	// from a checkout.
	Version string `json:"version"`
	// Commit is the VCS revision ("-dirty" when the tree had changes), or
	// "unknown" when the build stamped none (go run, go test).
	Commit string `json:"commit"`
	// Go is the Go version of the build.
	Go string `json:"go"`
	// Catalogue is the digest of the case catalogue and contract the build
	// judges by (fixtures.CatalogueDigest): two runs with the same digest
	// ran the same cases with the same expectations.
	Catalogue string `json:"catalogue"`
}

// CurrentBuild is the running build's identity: internal/version's
// version, commit and Go version, and the embedded catalogue's digest.
func CurrentBuild() Build {
	v := version.Get()
	return Build{Version: v.Version, Commit: v.Commit, Go: v.Go, Catalogue: fixtures.CatalogueDigest()}
}

// String is "zconform v0.3.0, commit abc123def456, go1.26.8, catalogue
// sha256:0123456789ab"; "" for a zero Build (a results.json written before
// builds were recorded).
func (b Build) String() string {
	if b == (Build{}) {
		return ""
	}
	return "zconform " + orDash(b.Version) + ", commit " + orDash(b.Commit) + ", " + orDash(b.Go) + ", catalogue " + orDash(b.Catalogue)
}

// EnvFakeBreaks is the environment variable that lists, comma-separated,
// the rules the bundled fake breaks (the same as suites/target's
// EnvFakeBreaks, which the fake reads).
const EnvFakeBreaks = "ZCONFORM_FAKE_BREAKS"

// BreaksFromEnv returns the breaks of $ZCONFORM_FAKE_BREAKS, for
// RunMeta.Breaks: its comma-separated IDs, trimmed, in their order, each
// once; nil when it names none.
func BreaksFromEnv() []string {
	return ParseBreaks(os.Getenv(EnvFakeBreaks))
}

// ParseBreaks splits a comma-separated list of break IDs as BreaksFromEnv
// does.
func ParseBreaks(s string) []string {
	var out []string
	seen := map[string]bool{}
	for _, id := range strings.Split(s, ",") {
		if id = strings.TrimSpace(id); id != "" && !seen[id] {
			seen[id] = true
			out = append(out, id)
		}
	}
	return out
}

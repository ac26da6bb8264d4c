// Package target is the one place the suites learn what they run against:
// the bundled fake (the default) or, later, a real Zoho endpoint. It reads
// the run's settings from environment variables, so that every suite binary
// takes them whatever its flags (ginkgo passes custom flags to every suite).
package target

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io/fs"
	"net/http"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"time"

	"github.com/zconform/zconform/fakeserver"
	"github.com/zconform/zconform/fixtures"
	"github.com/zconform/zconform/fixtures/zoho"
)

// Environment variables that configure a run.
const (
	// EnvProfile names the profile to expect (default kaizen4).
	EnvProfile = "ZCONFORM_PROFILE"
	// EnvOut is the folder for reports (default: a temporary folder, see
	// OutDir).
	EnvOut = "ZCONFORM_OUT"
	// EnvSecretsJournal names a file to which the fake appends every secret
	// it issues, one a line: the project's tests grep the reports for them.
	EnvSecretsJournal = "ZCONFORM_SECRETS_JOURNAL"
	// EnvFakeBreaks lists seed IDs (comma-separated) whose rules the fake
	// breaks: to watch the suite catch a violation.
	EnvFakeBreaks = "ZCONFORM_FAKE_BREAKS"
	// EnvFakeLimits overrides limits of the fake (YAML or JSON with the
	// snake_case names of fixtures/contract.yaml, e.g. "{grant_lifetime:
	// 61s}"): a fake configured apart from the contract, which the run
	// names and whose differences the cases catch.
	EnvFakeLimits = "ZCONFORM_FAKE_LIMITS"
	// EnvCleanupReport names a file in which a real target records, as a
	// CleanupReport, that it was opened and what Close revoked: `zconform
	// run` reads it to say truthfully, after an interrupted run, whether
	// the run's tokens were revoked.
	EnvCleanupReport = "ZCONFORM_CLEANUP_REPORT"
)

// CleanupReport is what a real target did about the tokens a run created
// (see EnvCleanupReport). A report that is Opened but not Closed belongs to
// a run that stopped before its cleanup: its tokens may still be live.
type CleanupReport struct {
	Target string `json:"target"`
	Opened bool   `json:"opened"`
	Closed bool   `json:"closed"`
	// Created counts the tokens the run was issued and had not revoked
	// itself when Close began.
	Created int `json:"created"`
	// Revoked counts those the target revoked at Close; Gone those it no
	// longer knew (evicted, revoked by a case, or with their refresh
	// token). The others (Created-Revoked-Gone) could not be revoked: see
	// Error.
	Revoked int `json:"revoked"`
	Gone    int `json:"gone"`
	// Error says which tokens could not be revoked, redacted.
	Error string `json:"error,omitempty"`
}

// ReadCleanupReport reads a cleanup report; ok is false when there is none
// (the run never opened a real target).
func ReadCleanupReport(path string) (rep CleanupReport, ok bool, err error) {
	data, err := os.ReadFile(path)
	if errors.Is(err, fs.ErrNotExist) {
		return rep, false, nil
	}
	if err != nil {
		return rep, false, err
	}
	if err := json.Unmarshal(data, &rep); err != nil {
		return rep, false, fmt.Errorf("%s: %v", path, err)
	}
	return rep, true, nil
}

// DCNamer is a target that reaches only some data centres: a real target
// reaches only the DCs its target file names. A case that needs another DC
// is skipped (cases.Unsupported). A target without it serves every DC.
type DCNamer interface {
	NamedDCs() []zoho.DC
}

// Target is what a case runs against. Optional capabilities are separate
// interfaces (Console, Clock, Breaker, Faulter, Inspector): a case that needs one the
// target lacks is skipped with the reason.
type Target interface {
	// Name names the target in reports ("fake", or a target file's name).
	Name() string
	// Profile is the limit profile the target is expected to follow; the
	// expected numbers and answers are that profile's contract
	// (fixtures.ContractFor), never the target's own configuration.
	Profile() string
	AccountsURL(dc zoho.DC) string
	APIURL(dc zoho.DC) string
	// HTTP is the client to reach the target; it does not follow redirects.
	HTTP() *http.Client
	// Close releases what the target holds.
	Close()
}

// Console registers clients and users, enables multi-DC, mints self-client
// codes and scripts consent: the Developer Console and a person's clicks.
type Console interface {
	AddUser(fakeserver.UserSpec) (fakeserver.User, error)
	RegisterClient(fakeserver.ClientSpec) (fakeserver.Client, error)
	EnableMultiDC(clientID string, dc zoho.DC, opt fakeserver.MultiDC) (string, error)
	SelfClientCode(clientID string, req fakeserver.SelfClientCodeRequest) (string, error)
	ScriptConsent(clientID string, answers ...fakeserver.Consent) error
}

// Clock moves the target's time without waiting.
type Clock interface {
	Advance(d time.Duration) error
}

// Breaker switches on a break: the target then violates one rule.
type Breaker interface {
	Break(ids ...zoho.SeedID) error
}

// Faulter injects faults on the wire (fakeserver.Fault): HTTP-level ones
// (a status, a throttle answer, a body that is not JSON, ...) and
// connection-level ones (a hang, a reset, a connection closed mid-body).
// The fake has it; a real endpoint cannot, and skips the cases that need
// it. Faults lists the injected faults with their counters, so that a case
// can tell whether its fault fired.
type Faulter interface {
	InjectFault(fakeserver.Fault) (int, error)
	Faults() []fakeserver.FaultState
}

// Inspector reads the target's token state.
type Inspector interface {
	LiveAccessTokens(refreshToken string) []string
}

// ClientProvider gives the client a target file configures (real targets
// have no console to register one).
type ClientProvider interface {
	Client() fakeserver.Client
	Scope() string
}

// GrantSource gives fresh grant tokens of the account's user, and says
// where that user lives.
type GrantSource interface {
	HasGrants() bool
	Grant(ctx context.Context) (string, error)
	UserDC() zoho.DC
	RefreshToken() string
}

// RealTime is a target whose time only passes for real, and the run's
// opt-ins for slow and destructive cases.
type RealTime interface {
	Slow() bool
	Destructive() bool
}

// Fake is a target backed by a fresh in-process fake server, reached on
// its listener (path prefixes) or, with $ZCONFORM_VIA=proxy, through its
// intercepting proxy on Zoho's real host names.
type Fake struct {
	*fakeserver.Server
	proxy *fakeserver.Proxy
}

// EnvVia says how a run reaches the bundled fake: "proxy" sends every
// request to Zoho's real host names (https://accounts.zoho.com, ...)
// through the fake's intercepting proxy, as an unchanged client would;
// empty (or "direct") uses the fake's listener and its path prefixes.
const EnvVia = "ZCONFORM_VIA"

// Via is how the run reaches the bundled fake: "direct" or "proxy".
func Via() (string, error) {
	switch v := os.Getenv(EnvVia); v {
	case "", "direct":
		return "direct", nil
	case "proxy":
		return v, nil
	default:
		return "", fmt.Errorf("$%s=%q: use proxy or direct", EnvVia, v)
	}
}

// NewFake starts a fake with the given profile on a loopback port.
func NewFake(profile string) (*Fake, error) {
	if _, err := zoho.Profile(profile); err != nil {
		return nil, err
	}
	opts := []fakeserver.Option{fakeserver.WithProfile(profile)}
	if path := os.Getenv(EnvSecretsJournal); path != "" {
		j, err := openJournal(path)
		if err != nil {
			return nil, err
		}
		opts = append(opts, fakeserver.WithSecretJournal(j.write))
	}
	limits, err := FakeLimits(profile)
	if err != nil {
		return nil, err
	}
	via, err := Via()
	if err != nil {
		return nil, err
	}
	srv := fakeserver.New(opts...)
	f := &Fake{Server: srv}
	if via == "proxy" {
		if f.proxy, err = srv.StartProxy("127.0.0.1:0"); err != nil {
			srv.Close()
			return nil, err
		}
	}
	if err := srv.Break(FakeBreaks()...); err != nil {
		srv.Close()
		return nil, fmt.Errorf("$%s: %w", EnvFakeBreaks, err)
	}
	if err := srv.SetLimits(limits); err != nil {
		srv.Close()
		return nil, fmt.Errorf("$%s: %w", EnvFakeLimits, err)
	}
	return f, nil
}

// OffContract says how the bundled fake of a run is configured apart from
// the profile's contract ("" when it is not): other limits
// ($ZCONFORM_FAKE_LIMITS) or broken rules ($ZCONFORM_FAKE_BREAKS). Such a
// fake is a different contract: the cases its difference touches fail.
func OffContract(profile string) (string, error) {
	s, err := OffContractOf(profile, os.Getenv(EnvFakeLimits), FakeBreaks())
	if err != nil {
		return "", fmt.Errorf("$%s: %w", EnvFakeLimits, err)
	}
	return s, nil
}

// OffContractOf is OffContract for limit overrides and breaks given, not
// read from the environment.
func OffContractOf(profile, limits string, breaks []zoho.SeedID) (string, error) {
	con, err := fixtures.ContractFor(profile)
	if err != nil {
		return "", err
	}
	l, err := limitsOf(profile, limits)
	if err != nil {
		return "", err
	}
	var parts []string
	if d := fixtures.DiffLimits(con.Limits, l); len(d) > 0 {
		ds := make([]string, len(d))
		for i, x := range d {
			ds[i] = x.String()
		}
		parts = append(parts, fmt.Sprintf("the fake runs limits apart from the %s contract: %s", profile, strings.Join(ds, ", ")))
	}
	if len(breaks) > 0 {
		ids := make([]string, len(breaks))
		for i, id := range breaks {
			ids[i] = string(id)
		}
		parts = append(parts, "the fake breaks "+strings.Join(ids, ", "))
	}
	return strings.Join(parts, "; "), nil
}

// FakeLimits returns the limits the bundled fake runs under a profile: the
// fake's own profile with $ZCONFORM_FAKE_LIMITS applied.
func FakeLimits(profile string) (zoho.Limits, error) {
	l, err := limitsOf(profile, os.Getenv(EnvFakeLimits))
	if err != nil {
		return l, fmt.Errorf("$%s: %w", EnvFakeLimits, err)
	}
	return l, nil
}

func limitsOf(profile, overrides string) (zoho.Limits, error) {
	l, err := zoho.Profile(profile)
	if err != nil {
		return l, err
	}
	v := strings.TrimSpace(overrides)
	if v == "" {
		return l, nil
	}
	if err := l.Override([]byte(v)); err != nil {
		return l, err
	}
	return l, l.Validate()
}

// FakeBreaks returns the seed IDs of $ZCONFORM_FAKE_BREAKS.
func FakeBreaks() []zoho.SeedID {
	var out []zoho.SeedID
	for _, s := range strings.Split(os.Getenv(EnvFakeBreaks), ",") {
		if s = strings.TrimSpace(s); s != "" {
			out = append(out, zoho.SeedID(s))
		}
	}
	return out
}

// journal appends secrets to a file, one a line.
type journal struct {
	mu sync.Mutex
	f  *os.File
}

var (
	journalOnce sync.Once
	theJournal  *journal
	journalErr  error
)

func openJournal(path string) (*journal, error) {
	journalOnce.Do(func() {
		f, err := os.OpenFile(path, os.O_CREATE|os.O_APPEND|os.O_WRONLY, 0o600)
		if err != nil {
			journalErr = fmt.Errorf("$%s: %w", EnvSecretsJournal, err)
			return
		}
		theJournal = &journal{f: f}
	})
	return theJournal, journalErr
}

func (j *journal) write(secret string) {
	j.mu.Lock()
	defer j.mu.Unlock()
	_, _ = j.f.WriteString(secret + "\n")
}

// Name is "fake", or "fake via proxy".
func (f *Fake) Name() string { return FakeName() }

// FakeName names the bundled fake in reports: "fake", or "fake via proxy"
// when the run reaches it through its proxy ($ZCONFORM_VIA=proxy).
func FakeName() string {
	if v, _ := Via(); v == "proxy" {
		return "fake via proxy"
	}
	return "fake"
}

// HTTP is the fake's client: on its listener, or through its proxy
// trusting the proxy's CA. It does not follow redirects.
func (f *Fake) HTTP() *http.Client {
	if f.proxy == nil {
		return f.Client()
	}
	hc := f.proxy.HTTPClient()
	hc.CheckRedirect = func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse }
	return hc
}

// AccountsURL is the DC's Accounts server: Zoho's own through the proxy,
// else the fake's path-prefixed one.
func (f *Fake) AccountsURL(dc zoho.DC) string {
	if f.proxy != nil {
		d, _ := zoho.Lookup(dc)
		return d.AccountsURL()
	}
	return f.Server.AccountsURL(dc)
}

// APIURL is the DC's API domain: Zoho's own through the proxy, else the
// fake's path-prefixed one.
func (f *Fake) APIURL(dc zoho.DC) string {
	if f.proxy != nil {
		d, _ := zoho.Lookup(dc)
		return d.APIURL()
	}
	return f.Server.APIURL(dc)
}

// Close stops the proxy, if any, and the fake.
func (f *Fake) Close() {
	if f.proxy != nil {
		f.proxy.Close()
	}
	f.Server.Close()
}

// NamedDCs are every DC: the fake serves them all.
func (f *Fake) NamedDCs() []zoho.DC {
	var out []zoho.DC
	for _, d := range zoho.DataCentres() {
		out = append(out, d.DC)
	}
	return out
}

// Open returns the run's shared target: the real endpoint of
// $ZCONFORM_TARGET, opened with the run's opt-ins ($ZCONFORM_SLOW,
// $ZCONFORM_DESTRUCTIVE) and checked by a preflight; nil when the run goes
// against the bundled fake, which is fresh for every spec (NewFake).
func Open(ctx context.Context) (*Real, error) {
	path := os.Getenv(EnvTarget)
	if path == "" {
		return nil, nil
	}
	t, err := OpenReal(path, os.Getenv(EnvSlow) == "1", os.Getenv(EnvDestructive) == "1")
	if err != nil {
		return nil, err
	}
	if p := os.Getenv(EnvProfile); p != "" && p != t.Profile() {
		t.file.Profile = p // the run says which profile to expect
		if _, err := zoho.Profile(p); err != nil {
			return nil, fmt.Errorf("$%s: %w", EnvProfile, err)
		}
	}
	// From here on the run may create tokens (the preflight refreshes the
	// file's refresh token): the cleanup report says so until Close.
	t.cleanup = os.Getenv(EnvCleanupReport)
	t.writeCleanup(CleanupReport{Target: t.file.Name, Opened: true})
	if err := t.Preflight(ctx); err != nil {
		t.Close()
		return nil, err
	}
	return t, nil
}

// Profile returns the profile of the run (from $ZCONFORM_PROFILE, default
// kaizen4), or an error naming the profiles.
func Profile() (string, error) {
	p := os.Getenv(EnvProfile)
	if p == "" {
		return zoho.Kaizen4, nil
	}
	if _, err := zoho.Profile(p); err != nil {
		return "", fmt.Errorf("$%s: %w", EnvProfile, err)
	}
	return p, nil
}

// OutDir returns the reports folder: $ZCONFORM_OUT when it is set (as
// `zconform run` and `make` always set it), else a fresh temporary folder
// ("zconform-out-*" under os.TempDir), made on the first call and the same
// for the rest of the process. So `go test ./suites/conformance` and
// `ginkgo` (--dry-run too) never overwrite a user's reports; the suite
// prints the folder (OutDirIsTemporary says when it should). Should the
// temporary folder not be made, OutDir names one under os.TempDir all the
// same, and writing the reports there says what went wrong.
func OutDir() string {
	if d := os.Getenv(EnvOut); d != "" {
		return d
	}
	tempOutOnce.Do(func() {
		d, err := os.MkdirTemp("", "zconform-out-")
		if err != nil {
			d = filepath.Join(os.TempDir(), fmt.Sprintf("zconform-out-%d", os.Getpid()))
		}
		tempOut = d
	})
	return tempOut
}

// OutDirIsTemporary says whether OutDir is a temporary folder of this
// process's own, because $ZCONFORM_OUT is not set: the suite should then
// print where the reports went.
func OutDirIsTemporary() bool {
	return os.Getenv(EnvOut) == ""
}

// tempOut is OutDir's temporary folder, made once per process.
var (
	tempOutOnce sync.Once
	tempOut     string
)

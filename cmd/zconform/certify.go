package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"os"
	"os/exec"
	"os/signal"
	"path/filepath"
	"sort"
	"strings"
	"syscall"
	"time"

	"github.com/zconform/zconform/certify"
	"github.com/zconform/zconform/certify/reference"
	"github.com/zconform/zconform/fixtures/zoho"
	"github.com/zconform/zconform/reports"
)

// goIntegrations are the reference integrations built in: the careful one,
// the careless one, x/oauth2, and the adversarial ones that must fail
// every scenario.
var goIntegrations = map[string]func() certify.Integration{
	"careful":    func() certify.Integration { return &reference.Careful{} },
	"careless":   func() certify.Integration { return &reference.Careless{} },
	"oauth2":     func() certify.Integration { return &reference.OAuth2{} },
	"dies":       func() certify.Integration { return reference.Dies{} },
	"complainer": func() certify.Integration { return reference.Complainer{} },
	"liar":       func() certify.Integration { return reference.Liar{} },
	"deaf":       func() certify.Integration { return &reference.Deaf{} },
}

func goKinds() string {
	kinds := make([]string, 0, len(goIntegrations))
	for k := range goIntegrations {
		kinds = append(kinds, k)
	}
	sort.Strings(kinds)
	return strings.Join(kinds, "|")
}

// nodeSDKAdapter is the reference adapter of the official Zoho CRM Node SDK.
const nodeSDKAdapter = "certify/adapters/nodesdk"

// repoAdapter is a reference adapter kept in the repository: an
// integration in another language, driven over the process protocol.
type repoAdapter struct {
	dir           string   // under the module root
	name, version string   // on the certificate
	args          []string // the command, run in dir
	install       string   // what sets it up, for the message when it is missing
	check         func(dir string) error
}

// repoAdapters are the reference adapters, by -adapter name.
var repoAdapters = map[string]repoAdapter{
	"node-sdk": {dir: nodeSDKAdapter, name: "@zohocrm/nodejs-sdk-8.0", version: "2.0.0", args: []string{"node", "adapter.js"},
		install: "make deps (or npm ci --prefix certify/adapters/nodesdk)", check: hasNodeModules},
	"ts-sdk": {dir: "certify/adapters/tssdk", name: "@zohocrm/typescript-sdk-8.0", version: "3.0.0", args: []string{"node", "adapter.js"},
		install: "make deps (or npm ci --prefix certify/adapters/tssdk)", check: hasNodeModules},
	"simple-oauth2": {dir: "certify/adapters/simpleoauth2", name: "simple-oauth2", version: "5.1.0", args: []string{"node", "adapter.js"},
		install: "make deps (or npm ci --prefix certify/adapters/simpleoauth2)", check: hasNodeModules},
	// Debian's package installs for /usr/bin/python3, whatever python3 is
	// first on PATH
	"python-requests-oauthlib": {dir: "certify/adapters/python", name: "requests-oauthlib", version: "1.3.0+ds-1 (Debian 12)",
		args:    []string{"/usr/bin/python3", "requests_oauthlib_adapter.py"},
		install: "make deps as root (or apt-get install python3-requests-oauthlib)", check: hasRequestsOAuthlib},
	"python-stdlib": {dir: "certify/adapters/python", name: "zconform stdlib example adapter", version: "1",
		args: []string{"python3", "stdlib_adapter.py"}, install: "Python 3", check: hasPython},
}

func hasRequestsOAuthlib(string) error {
	if out, err := exec.Command("/usr/bin/python3", "-c", "import requests_oauthlib").CombinedOutput(); err != nil {
		return fmt.Errorf("/usr/bin/python3 cannot import requests_oauthlib: %s", strings.TrimSpace(string(out)))
	}
	return nil
}

func hasPython(string) error {
	_, err := exec.LookPath("python3")
	return err
}

func hasNodeModules(dir string) error {
	_, err := os.Stat(filepath.Join(dir, "node_modules"))
	return err
}

func adapterNames() string {
	names := []string{"go:" + goKinds(), "proc:" + goKinds()}
	var repo []string
	for k := range repoAdapters {
		repo = append(repo, k)
	}
	sort.Strings(repo)
	return strings.Join(append(append(names, repo...), "cmd"), ", ")
}

// runCertify drives an integration through the certification scenarios and
// writes the certificate.
func runCertify(args []string, stdout, stderr io.Writer) int {
	fs := flag.NewFlagSet("zconform certify", flag.ContinueOnError)
	fs.SetOutput(stderr)
	adapter := fs.String("adapter", "", `the integration: go:KIND (a Go reference in-process: careful, careless, oauth2, or
the adversarial dies, complainer, liar, deaf), proc:KIND (the same, as a process over the protocol),
a reference adapter of the repository (node-sdk, ...; -list names them), or cmd (any process
speaking the protocol, given with -cmd)`)
	command := fs.String("cmd", "", `with -adapter cmd: the command to start, e.g. "python3 my_adapter.py"`)
	name := fs.String("name", "", "the integration's name on the certificate (default: the adapter's)")
	version := fs.String("version", "", "the integration's version on the certificate")
	profile := fs.String("profile", zoho.Kaizen4, "the limit profile of the fake")
	out := fs.String("out", filepath.Join("out", "certify"), "folder for the certificate files")
	only := fs.String("only", "", "comma-separated scenario IDs to run (default: all)")
	timeout := fs.Duration("timeout", certify.ProcessTimeout, "how long a process integration may take to answer one message; one that does not is killed")
	list := fs.Bool("list", false, "list the scenarios and the adapters, and exit")
	via := fs.String("via", viaDirect, viaUsage)
	fs.Usage = func() {
		fmt.Fprintln(stderr, "Usage: zconform certify -adapter ADAPTER [flags]\n\nDrives a Zoho integration against the fake through Zoho's documented\nfailures and judges it; writes junit.xml, results.json, summary.md and\nsummary.html. Exit status 0 when no scenario failed.\n\nFlags:")
		fs.PrintDefaults()
	}
	if err := fs.Parse(args); err != nil {
		if errors.Is(err, flag.ErrHelp) {
			return 0
		}
		return 2
	}
	if fs.NArg() > 0 {
		fmt.Fprintf(stderr, "zconform certify: unexpected argument %q (flags only)\n", fs.Arg(0))
		return 2
	}
	if *list {
		fmt.Fprintf(stdout, "scenario set %s\n\n", certify.ScenarioSet())
		for _, s := range certify.Scenarios() {
			fmt.Fprintln(stdout, s.Describe())
		}
		fmt.Fprintf(stdout, "\nadapters: %s\n", adapterNames())
		return 0
	}
	if _, err := zoho.Profile(*profile); err != nil {
		fmt.Fprintf(stderr, "zconform certify: -profile: %v\n", err)
		return 2
	}
	if *timeout <= 0 {
		fmt.Fprintln(stderr, "zconform certify: -timeout must be positive, e.g. 30s")
		return 2
	}
	if *via != viaDirect && *via != viaProxy {
		fmt.Fprintf(stderr, "zconform certify: -via %q: use direct or proxy\n", *via)
		return 2
	}
	factory, opts, integName, integVersion, err := adapterFor(*adapter, *command, *timeout)
	if err != nil {
		fmt.Fprintf(stderr, "zconform certify: %v\n", err)
		return 2
	}
	if *via == viaProxy {
		if opts.Proxy, err = proxySetupFor(*out, stderr); err != nil {
			fmt.Fprintf(stderr, "zconform certify: %v\n", err)
			return 1
		}
	}
	if *name != "" {
		integName = *name
	}
	if *version != "" {
		integVersion = *version
	}
	opts.Profile = *profile
	for _, id := range strings.Split(*only, ",") {
		if id = strings.TrimSpace(id); id != "" {
			opts.Only = append(opts.Only, id)
		}
	}
	opts.Progress = func(v certify.Verdict) {
		fmt.Fprintf(stderr, "  %-31s %-4s %6s  %s\n", v.Scenario.ID, v.Outcome, v.Duration.Round(10*time.Millisecond), firstLine(v.Reason))
	}
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	defer stop()
	started := time.Now()
	fmt.Fprintf(stderr, "zconform certify: %s (%s) against the fake (%s), scenario set %s\n", integName, *adapter, *via, certify.ScenarioSet())
	verdicts, err := certify.Run(ctx, factory, opts)
	if err != nil {
		fmt.Fprintf(stderr, "zconform certify: %v\n", err)
		return 1
	}
	r := certificateResults(verdicts, reports.RunMeta{
		Target: integName, Profile: *profile, Started: started,
		Certificate: certify.CertificateMeta(integName, integVersion, *adapter, opts),
	})
	r.Duration = reports.Duration(time.Since(started))
	if ctx.Err() != nil {
		r.Notes = append(r.Notes, fmt.Sprintf("interrupted after %d of the scenarios", len(verdicts)))
	}
	dir, _ := filepath.Abs(*out)
	if _, err := reports.WriteResults(dir, r); err != nil {
		fmt.Fprintf(stderr, "zconform certify: writing the certificate: %v\n", err)
		return 1
	}
	for _, v := range verdicts {
		fmt.Fprintf(stdout, "%-31s %-4s %s\n", v.Scenario.ID, v.Outcome, v.Reason)
	}
	fmt.Fprintf(stdout, "\ncertificate in %s: junit.xml, results.json, summary.md, summary.html\n", relative(dir))
	fmt.Fprintf(stdout, "%s (%s)\n", r.Verdict(), r.Duration)
	if failed := r.Failed(); len(failed) > 0 {
		fmt.Fprintln(stdout, "failing scenarios:")
		for _, id := range failed {
			fmt.Fprintln(stdout, "  "+id)
		}
	}
	if ctx.Err() != nil || !r.Pass() {
		return 1
	}
	return 0
}

func firstLine(s string) string {
	s, _, _ = strings.Cut(s, "\n")
	if len(s) > 110 {
		s = s[:110] + "…"
	}
	return s
}

// adapterFor resolves -adapter.
func adapterFor(adapter, command string, timeout time.Duration) (certify.Factory, certify.Options, string, string, error) {
	kind, arg, _ := strings.Cut(adapter, ":")
	if ra, ok := repoAdapters[adapter]; ok {
		root, err := moduleRoot()
		if err != nil {
			return nil, certify.Options{}, "", "", fmt.Errorf("the %s adapter lives in the zconform checkout (%s): run zconform certify from the checkout after make deps, or certify your integration with -adapter cmd (%v)", adapter, ra.dir, err)
		}
		dir := filepath.Join(root, ra.dir)
		if ra.check != nil {
			if err := ra.check(dir); err != nil {
				return nil, certify.Options{}, "", "", fmt.Errorf("the %s adapter is not set up in %s (%v): run %s", adapter, ra.dir, err, ra.install)
			}
		}
		return certify.Command{Name: ra.name, Version: ra.version, Dir: dir, Args: ra.args, Timeout: timeout}.Factory(),
			certify.Options{}, ra.name, ra.version, nil
	}
	switch kind {
	case "go":
		mk, ok := goIntegrations[arg]
		if !ok {
			break
		}
		i := mk()
		return func() (certify.Integration, error) { return mk(), nil }, certify.Options{InProcess: true}, i.Name(), i.Version(), nil
	case "proc":
		mk, ok := goIntegrations[arg]
		if !ok {
			break
		}
		self, err := os.Executable()
		if err != nil {
			return nil, certify.Options{}, "", "", err
		}
		i := mk()
		return certify.Command{Name: i.Name(), Version: i.Version(), Args: []string{self, "adapter", "-kind", arg}, Timeout: timeout}.Factory(),
			certify.Options{}, i.Name() + " (over the protocol)", i.Version(), nil
	case "cmd":
		parts := strings.Fields(command)
		if len(parts) == 0 {
			return nil, certify.Options{}, "", "", errors.New("-adapter cmd needs -cmd with the command to start")
		}
		return certify.Command{Name: parts[0], Args: parts, Timeout: timeout}.Factory(), certify.Options{}, parts[0], "", nil
	}
	return nil, certify.Options{}, "", "", fmt.Errorf("-adapter %q: use one of %s", adapter, adapterNames())
}

// certificateResults turns verdicts into the reports' results.
func certificateResults(vs []certify.Verdict, run reports.RunMeta) reports.Results {
	r := reports.Results{Run: run}
	for _, v := range vs {
		seeds := make([]string, len(v.Scenario.Seeds))
		for i, s := range v.Scenario.Seeds {
			seeds[i] = string(s)
		}
		c := reports.CaseResult{
			ID: v.Scenario.ID, Title: v.Scenario.Title, Area: "certification", Seeds: seeds, Basis: v.Scenario.Basis,
			Target: run.Target, Profile: run.Profile, Reason: v.Reason, Duration: reports.Duration(v.Duration),
			Evidence: v.Evidence, // a pass's proof as well as a failure's
		}
		switch v.Outcome {
		case certify.Pass:
			c.Outcome = reports.Passed
		case certify.Fail:
			c.Outcome = reports.Failed
			c.Message = v.Reason + "\n\nevidence:\n  " + strings.Join(v.Evidence, "\n  ")
		default:
			c.Outcome, c.Reason = reports.Skipped, "not applicable: "+v.Reason
		}
		r.Cases = append(r.Cases, c)
	}
	return r
}

// runAdapter serves the process protocol for a built-in Go reference
// integration: the process path's own proof, and a model for adapters.
func runAdapter(args []string, stdin io.Reader, stdout, stderr io.Writer) int {
	fs := flag.NewFlagSet("zconform adapter", flag.ContinueOnError)
	fs.SetOutput(stderr)
	kind := fs.String("kind", "careful", goKinds())
	if err := fs.Parse(args); err != nil {
		return 2
	}
	mk, ok := goIntegrations[*kind]
	if !ok {
		fmt.Fprintf(stderr, "zconform adapter: -kind %q: use one of %s\n", *kind, goKinds())
		return 2
	}
	if *kind == "dies" {
		fmt.Fprintln(stderr, "zconform adapter: the dies reference exits at start")
		return 3
	}
	env, clock, err := certify.EnvFromEnvironment()
	if err != nil {
		fmt.Fprintf(stderr, "zconform adapter: %v\n", err)
		return 2
	}
	if err := certify.Serve(context.Background(), stdin, stdout, mk(), env, clock); err != nil {
		fmt.Fprintf(stderr, "zconform adapter: %v\n", err)
		return 1
	}
	return 0
}

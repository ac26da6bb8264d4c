package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"os"
	"os/signal"
	"path/filepath"
	"strings"
	"time"

	"github.com/zconform/zconform/certify"
	"github.com/zconform/zconform/certify/reference"
	"github.com/zconform/zconform/fixtures/zoho"
	"github.com/zconform/zconform/reports"
)

// goIntegrations are the reference integrations built in.
var goIntegrations = map[string]func() certify.Integration{
	"careful":  func() certify.Integration { return &reference.Careful{} },
	"careless": func() certify.Integration { return &reference.Careless{} },
	"oauth2":   func() certify.Integration { return &reference.OAuth2{} },
}

// nodeSDKAdapter is the reference adapter of the official Zoho CRM Node SDK.
const nodeSDKAdapter = "certify/adapters/nodesdk"

// runCertify drives an integration through the certification scenarios and
// writes the certificate.
func runCertify(args []string, stdout, stderr io.Writer) int {
	fs := flag.NewFlagSet("zconform certify", flag.ContinueOnError)
	fs.SetOutput(stderr)
	adapter := fs.String("adapter", "", `the integration: go:careful, go:careless, go:oauth2 (in-process Go references),
proc:careful|careless|oauth2 (the same, as a process over the protocol), node-sdk (the official Zoho CRM Node SDK),
or cmd (any process speaking the protocol, given with -cmd)`)
	command := fs.String("cmd", "", `with -adapter cmd: the command to start, e.g. "python3 my_adapter.py"`)
	name := fs.String("name", "", "the integration's name on the certificate (default: the adapter's)")
	version := fs.String("version", "", "the integration's version on the certificate")
	profile := fs.String("profile", zoho.Kaizen4, "the limit profile of the fake")
	out := fs.String("out", filepath.Join("out", "certify"), "folder for the certificate files")
	only := fs.String("only", "", "comma-separated scenario IDs to run (default: all)")
	list := fs.Bool("list", false, "list the scenarios and exit")
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
	if *list {
		for _, s := range certify.Scenarios() {
			fmt.Fprintln(stdout, s.Describe())
		}
		return 0
	}
	if _, err := zoho.Profile(*profile); err != nil {
		fmt.Fprintf(stderr, "zconform certify: -profile: %v\n", err)
		return 2
	}
	factory, opts, integName, integVersion, err := adapterFor(*adapter, *command)
	if err != nil {
		fmt.Fprintf(stderr, "zconform certify: %v\n", err)
		return 2
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
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt)
	defer stop()
	started := time.Now()
	verdicts, err := certify.Run(ctx, factory, opts)
	if err != nil {
		fmt.Fprintf(stderr, "zconform certify: %v\n", err)
		return 1
	}
	r := certificateResults(verdicts, reports.RunMeta{
		Target: integName, Profile: *profile, Started: started,
		Certificate: &reports.Certificate{Integration: integName, Version: integVersion, Adapter: *adapter},
	})
	dir, _ := filepath.Abs(*out)
	if _, err := reports.WriteResults(dir, r); err != nil {
		fmt.Fprintf(stderr, "zconform certify: writing the certificate: %v\n", err)
		return 1
	}
	for _, v := range verdicts {
		fmt.Fprintf(stdout, "%-28s %-4s %s\n", v.Scenario.ID, v.Outcome, v.Reason)
	}
	fmt.Fprintf(stdout, "\ncertificate in %s: junit.xml, results.json, summary.md, summary.html\n", relative(dir))
	fmt.Fprintln(stdout, r.Verdict())
	if failed := r.Failed(); len(failed) > 0 {
		fmt.Fprintln(stdout, "failing scenarios:")
		for _, id := range failed {
			fmt.Fprintln(stdout, "  "+id)
		}
	}
	if !r.Pass() {
		return 1
	}
	return 0
}

// adapterFor resolves -adapter.
func adapterFor(adapter, command string) (certify.Factory, certify.Options, string, string, error) {
	kind, arg, _ := strings.Cut(adapter, ":")
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
		return certify.NewProcess(i.Name(), i.Version(), "", self, "adapter", "-kind", arg), certify.Options{}, i.Name() + " (over the protocol)", i.Version(), nil
	case "node-sdk":
		root, err := moduleRoot()
		if err != nil {
			return nil, certify.Options{}, "", "", err
		}
		dir := filepath.Join(root, nodeSDKAdapter)
		if _, err := os.Stat(filepath.Join(dir, "node_modules")); err != nil {
			return nil, certify.Options{}, "", "", fmt.Errorf("the Node SDK adapter's packages are missing: run make deps (or npm ci --prefix %s)", nodeSDKAdapter)
		}
		return certify.NewProcess("@zohocrm/nodejs-sdk-8.0", "2.0.0", dir, "node", "adapter.js"), certify.Options{}, "@zohocrm/nodejs-sdk-8.0", "2.0.0", nil
	case "cmd":
		parts := strings.Fields(command)
		if len(parts) == 0 {
			return nil, certify.Options{}, "", "", errors.New("-adapter cmd needs -cmd with the command to start")
		}
		return certify.NewProcess(parts[0], "", "", parts...), certify.Options{}, parts[0], "", nil
	}
	return nil, certify.Options{}, "", "", fmt.Errorf("-adapter %q: use go:careful, go:careless, go:oauth2, proc:careful|careless|oauth2, node-sdk or cmd", adapter)
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
	kind := fs.String("kind", "careful", "careful, careless or oauth2")
	if err := fs.Parse(args); err != nil {
		return 2
	}
	mk, ok := goIntegrations[*kind]
	if !ok {
		fmt.Fprintf(stderr, "zconform adapter: -kind %q: use careful, careless or oauth2\n", *kind)
		return 2
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

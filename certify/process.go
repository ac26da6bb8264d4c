package certify

import (
	"bufio"
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/url"
	"os"
	"os/exec"
	"strings"
	"sync"
	"time"

	"github.com/zconform/zconform/fixtures/zoho"
	"github.com/zconform/zconform/internal/procgroup"
)

// The environment variables a process integration is started with.
const (
	EnvAccountsURL  = "ZCONFORM_ACCOUNTS_URL"
	EnvClientID     = "ZCONFORM_CLIENT_ID"
	EnvClientSecret = "ZCONFORM_CLIENT_SECRET"
	EnvRedirectURI  = "ZCONFORM_REDIRECT_URI"
	EnvScope        = "ZCONFORM_SCOPE"
	EnvWorkDir      = "ZCONFORM_WORKDIR"
)

// ProcessTimeout is how long a process integration may take to answer one
// message unless its Command says otherwise. One that does not answer in
// time is killed (with whatever it started): its later messages fail at
// once.
var ProcessTimeout = 30 * time.Second

// Process is an integration in any language, driven through a JSON-lines
// protocol. The certifier starts Command with the Env* variables set (the
// fake listens on loopback; or, certifying via the fake's proxy, the URLs
// are Zoho's real ones and the proxy's environment is set too: see
// ProxyEnv.Environ), then writes one JSON object a line on its
// stdin and reads exactly one JSON line from its stdout per message:
//
//	{"op":"redirect","query":{"code":"…","location":"eu","accounts-server":"…","state":"…"}}
//	{"op":"call"}
//	{"op":"calls","n":5}
//	{"op":"authorize"}
//	{"op":"device_start"}
//	{"op":"client_credentials","soid":"ZohoCRM.600000000001"}
//	{"op":"time","now":"2026-01-01T01:01:00Z","advanced_seconds":3660}
//	{"op":"stop"}
//
// redirect hands over what the user's browser brought back to the redirect
// URI; call makes one API call as the user; calls makes n at once
// (ParallelCaller); authorize asks for the URL the integration sends the
// user's browser to, answered in "authorize_url" (Authorizer); device_start
// starts the device flow's sign-in (DeviceSignIn), whose device then polls
// as time passes; client_credentials makes it a backend job on client
// credentials for the org soid (ClientCredentialsJob), whose calls then use
// such tokens; time says the certifier's clock moved on. Every answer is a Report: {"ok":true} or
// {"ok":false,"error":"…","needs_authorization":true} (or
// "unsupported":"why", also for an op the integration does not know).
// Anything else the integration prints goes to stderr, which the certifier
// keeps (redacted) as evidence.
type Process struct {
	name, version string
	command       []string
	dir           string
	timeout       time.Duration

	cmd    *exec.Cmd
	stdin  io.WriteCloser
	lines  chan string
	stderr *capped
	mu     sync.Mutex
	// exited is closed once the process has exited and its stderr is
	// all in (cmd.Wait returned, with waitErr).
	exited   chan struct{}
	waitOnce sync.Once
	waitErr  error
}

// wait waits for the process to exit (and its stderr to be copied), at
// most d; it may be called more than once.
func (p *Process) wait(d time.Duration) bool {
	p.waitOnce.Do(func() {
		go func() {
			p.waitErr = p.cmd.Wait()
			close(p.exited)
		}()
	})
	select {
	case <-p.exited:
		return true
	case <-time.After(d):
		return false
	}
}

// Command describes a process integration.
type Command struct {
	// Name and Version name the integration on the certificate.
	Name, Version string
	// Dir is the folder it starts in ("": the certifier's).
	Dir string
	// Args are the command and its arguments.
	Args []string
	// Timeout bounds the answer to each message (0: ProcessTimeout).
	Timeout time.Duration
}

// Factory returns a Factory that starts the command for each instance.
func (c Command) Factory() Factory {
	return func() (Integration, error) {
		if len(c.Args) == 0 {
			return nil, errors.New("no adapter command given")
		}
		t := c.Timeout
		if t <= 0 {
			t = ProcessTimeout
		}
		return &Process{name: c.Name, version: c.Version, command: c.Args, dir: c.Dir, timeout: t}, nil
	}
}

// NewProcess returns a Factory for a process integration.
func NewProcess(name, version, dir string, command ...string) Factory {
	return Command{Name: name, Version: version, Dir: dir, Args: command}.Factory()
}

// Name names the integration.
func (p *Process) Name() string { return p.name }

// Version is its version.
func (p *Process) Version() string { return p.version }

// capped keeps the last 64 KiB of a stream.
type capped struct {
	mu  sync.Mutex
	buf bytes.Buffer
}

func (c *capped) Write(b []byte) (int, error) {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.buf.Write(b)
	if c.buf.Len() > 64<<10 {
		rest := c.buf.Bytes()[c.buf.Len()-32<<10:]
		c.buf.Reset()
		c.buf.Write(rest)
	}
	return len(b), nil
}

func (c *capped) String() string {
	c.mu.Lock()
	defer c.mu.Unlock()
	return zoho.Redact(c.buf.String())
}

// Start runs the command.
func (p *Process) Start(ctx context.Context, env Env) error {
	cmd := exec.Command(p.command[0], p.command[1:]...)
	cmd.Dir = p.dir
	cmd.Env = append(os.Environ(),
		EnvAccountsURL+"="+env.AccountsURL, EnvClientID+"="+env.ClientID, EnvClientSecret+"="+env.ClientSecret,
		EnvRedirectURI+"="+env.RedirectURI, EnvScope+"="+env.Scope, EnvWorkDir+"="+env.WorkDir)
	if env.Proxy != nil {
		cmd.Env = env.Proxy.Environ(cmd.Env, p.dir)
	}
	stdin, err := cmd.StdinPipe()
	if err != nil {
		return err
	}
	stdout, err := cmd.StdoutPipe()
	if err != nil {
		return err
	}
	p.stderr = &capped{}
	cmd.Stderr = p.stderr
	procgroup.Own(cmd)
	if err := cmd.Start(); err != nil {
		return fmt.Errorf("start %s: %w", p.command[0], err)
	}
	p.cmd, p.stdin, p.lines, p.exited = cmd, stdin, make(chan string, 1), make(chan struct{})
	go func() {
		sc := bufio.NewScanner(stdout)
		sc.Buffer(make([]byte, 64<<10), 1<<20)
		for sc.Scan() {
			p.lines <- sc.Text()
		}
		close(p.lines)
	}()
	return nil
}

// send writes one message and reads its answer.
func (p *Process) send(ctx context.Context, msg map[string]any) Report {
	p.mu.Lock()
	defer p.mu.Unlock()
	data, _ := json.Marshal(msg)
	if _, err := p.stdin.Write(append(data, '\n')); err != nil {
		p.wait(time.Second)
		return Report{Error: fmt.Sprintf("the adapter exited or stopped reading (%v); its stderr: %s", err, p.stderrTail())}
	}
	timer := time.NewTimer(p.timeout)
	defer timer.Stop()
	select {
	case line, ok := <-p.lines:
		if !ok {
			p.wait(time.Second) // its last words on stderr
			return Report{Error: "the adapter exited; its stderr: " + p.stderrTail()}
		}
		var r Report
		if err := json.Unmarshal([]byte(line), &r); err != nil {
			return Report{Error: fmt.Sprintf("the adapter answered %q, not a JSON report", zoho.Redact(line))}
		}
		r.Error = zoho.Redact(r.Error)
		return r
	case <-timer.C:
		procgroup.Kill(p.cmd) // out of step now: later answers would answer the wrong message
		return Report{Error: fmt.Sprintf("the adapter did not answer %v within %s: killed", msg["op"], p.timeout)}
	case <-ctx.Done():
		return Report{Error: ctx.Err().Error()}
	}
}

// Redirect sends {"op":"redirect"}.
func (p *Process) Redirect(ctx context.Context, q url.Values) Report {
	query := map[string]string{}
	for k := range q {
		query[k] = q.Get(k)
	}
	return p.send(ctx, map[string]any{"op": "redirect", "query": query})
}

// Call sends {"op":"call"}.
func (p *Process) Call(ctx context.Context) Report { return p.send(ctx, map[string]any{"op": "call"}) }

// Calls sends {"op":"calls","n":n}.
func (p *Process) Calls(ctx context.Context, n int) Report {
	return p.send(ctx, map[string]any{"op": "calls", "n": n})
}

// Authorize sends {"op":"authorize"}.
func (p *Process) Authorize(ctx context.Context) Report {
	return p.send(ctx, map[string]any{"op": "authorize"})
}

// TimePassed sends {"op":"time"}.
func (p *Process) TimePassed(ctx context.Context, now time.Time, d time.Duration) Report {
	return p.send(ctx, map[string]any{"op": "time", "now": now.UTC().Format(time.RFC3339), "advanced_seconds": int(d.Seconds())})
}

// Close sends {"op":"stop"} and waits for the process, killing it if it
// lingers.
func (p *Process) Close() error {
	if p.cmd == nil {
		return nil
	}
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	p.send(ctx, map[string]any{"op": "stop"})
	_ = p.stdin.Close()
	if p.wait(5 * time.Second) {
		procgroup.Kill(p.cmd) // what it started and left behind
		return p.waitErr
	}
	procgroup.Kill(p.cmd)
	p.wait(5 * time.Second)
	return errors.New("the adapter did not stop: killed")
}

// stderrTail is the last lines the process printed on stderr, redacted,
// on one line.
func (p *Process) stderrTail() string {
	lines := strings.Split(strings.TrimSpace(p.stderr.String()), "\n")
	if len(lines) > 5 {
		lines = lines[len(lines)-5:]
	}
	s := strings.Join(lines, " | ")
	if s == "" {
		return "(nothing)"
	}
	return s
}

// Stderr is what the process printed on stderr (the last 32-64 KiB),
// redacted.
func (p *Process) Stderr() string {
	if p.stderr == nil {
		return ""
	}
	return p.stderr.String()
}

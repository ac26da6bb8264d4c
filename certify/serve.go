package certify

import (
	"bufio"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"net/url"
	"os"
	"sync"
	"time"
)

// EnvFromEnvironment is the Env a process integration is started with:
// the Env* variables, the default HTTP client, and a clock that starts at
// the wall clock and moves with the certifier's "time" messages.
func EnvFromEnvironment() (Env, *VirtualClock, error) {
	env := Env{
		AccountsURL: os.Getenv(EnvAccountsURL), ClientID: os.Getenv(EnvClientID), ClientSecret: os.Getenv(EnvClientSecret),
		RedirectURI: os.Getenv(EnvRedirectURI), Scope: os.Getenv(EnvScope), WorkDir: os.Getenv(EnvWorkDir),
		HTTPClient: &http.Client{Timeout: 30 * time.Second},
	}
	if env.AccountsURL == "" || env.ClientID == "" || env.ClientSecret == "" || env.RedirectURI == "" {
		return env, nil, fmt.Errorf("$%s, $%s, $%s and $%s must be set: the certifier sets them when it starts an adapter", EnvAccountsURL, EnvClientID, EnvClientSecret, EnvRedirectURI)
	}
	clock := &VirtualClock{}
	env.Now = clock.Now
	return env, clock, nil
}

// VirtualClock is the wall clock plus the time the certifier said passed.
type VirtualClock struct {
	mu     sync.Mutex
	offset time.Duration
}

// Now is the wall clock plus what has passed.
func (c *VirtualClock) Now() time.Time {
	c.mu.Lock()
	defer c.mu.Unlock()
	return time.Now().Add(c.offset)
}

// Advance adds d.
func (c *VirtualClock) Advance(d time.Duration) {
	c.mu.Lock()
	c.offset += d
	c.mu.Unlock()
}

// Serve speaks the process protocol (see Process) for a Go integration on
// in and out, until {"op":"stop"} or the end of in.
func Serve(ctx context.Context, in io.Reader, out io.Writer, integ Integration, env Env, clock *VirtualClock) error {
	if err := integ.Start(ctx, env); err != nil {
		return err
	}
	defer integ.Close()
	enc := json.NewEncoder(out)
	sc := bufio.NewScanner(in)
	sc.Buffer(make([]byte, 64<<10), 1<<20)
	for sc.Scan() {
		var msg struct {
			Op              string            `json:"op"`
			Query           map[string]string `json:"query"`
			Now             time.Time         `json:"now"`
			AdvancedSeconds int               `json:"advanced_seconds"`
			N               int               `json:"n"`
			SOID            string            `json:"soid"`
		}
		var r Report
		if err := json.Unmarshal(sc.Bytes(), &msg); err != nil {
			r = Report{Error: "not a protocol message: " + err.Error()}
		} else {
			switch msg.Op {
			case "redirect":
				q := url.Values{}
				for k, v := range msg.Query {
					q.Set(k, v)
				}
				r = integ.Redirect(ctx, q)
			case "call":
				r = integ.Call(ctx)
			case "calls":
				if pc, ok := integ.(ParallelCaller); ok && msg.N > 0 {
					r = pc.Calls(ctx, msg.N)
				} else {
					r = Report{Unsupported: "this integration does not take calls at once"}
				}
			case "authorize":
				if a, ok := integ.(Authorizer); ok {
					r = a.Authorize(ctx)
				} else {
					r = Report{Unsupported: "this integration does not start authorizations"}
				}
			case "device_start":
				if d, ok := integ.(DeviceSignIn); ok {
					r = d.DeviceStart(ctx)
				} else {
					r = Report{Unsupported: "this integration does not sign in with the device flow"}
				}
			case "client_credentials":
				if j, ok := integ.(ClientCredentialsJob); ok {
					r = j.ClientCredentials(ctx, msg.SOID)
				} else {
					r = Report{Unsupported: "this integration does not run as a backend job on client credentials"}
				}
			case "time":
				d := time.Duration(msg.AdvancedSeconds) * time.Second
				if clock != nil {
					clock.Advance(d)
				}
				r = integ.TimePassed(ctx, msg.Now, d)
			case "stop":
				return enc.Encode(Report{OK: true})
			default:
				r = Report{Unsupported: fmt.Sprintf("unknown op %q: the protocol has redirect, call, calls, authorize, device_start, client_credentials, time and stop", msg.Op)}
			}
		}
		if err := enc.Encode(r); err != nil {
			return err
		}
	}
	return sc.Err()
}

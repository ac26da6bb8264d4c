package loadtest

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"hash/maphash"
	"io"
	"net/http"
	"net/url"
	"runtime"
	"slices"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"github.com/zconform/zconform/fakeserver"
	"github.com/zconform/zconform/fixtures/zoho"
)

// The operations timed, in report order.
type op int

const (
	opAuthorize op = iota
	opExchange
	opReplay
	opAPI
	opRefresh
	opRefreshKept
	opRevoke
	opCycle
	numOps
)

var opNames = [numOps]string{"authorize", "exchange", "replay", "api", "refresh", "refresh-kept", "revoke", "whole cycle"}

const (
	redirectURI = "https://load.zconform.test/callback"
	scope       = "ZohoCRM.users.READ,ZohoCRM.org.READ"
	// requestTimeout bounds one request; a run stays bounded even if the
	// fake stopped answering.
	requestTimeout = 30 * time.Second
	maxErrExamples = 8
	maxExamples    = 5
)

// heldRT is a refresh token the model says the user holds, with its live
// access tokens, oldest first.
type heldRT struct {
	value string
	ats   []string
}

// ring keeps the last n strings added (all of them when n <= 0).
type ring struct {
	n     int
	items []string
	next  int
}

func (r *ring) add(s string) {
	if r.n <= 0 || len(r.items) < r.n {
		r.items = append(r.items, s)
		return
	}
	r.items[r.next] = s
	r.next = (r.next + 1) % r.n
}

// integration is one simulated integration and the driver's model of what
// its user holds at the fake.
type integration struct {
	idx      int
	dc       zoho.DC
	email    string
	client   fakeserver.Client
	secret   string // the client's secret in its home DC (the user's)
	authBase string // where authorization starts, with the fixed query
	wantAS   string // the accounts-server the redirect must name
	wantAPI  string // the api_domain the token responses must name

	held    []*heldRT // oldest first: the user's live refresh tokens
	tainted bool      // an unexpected answer left the model unsure
	// bare marks an integration driving the ceiling, whose answers are
	// fixed: the checks of state, code uniqueness and replays are skipped.
	bare bool

	// Samples of what is gone, for the checks on the wire.
	codes, revokedRTs, revokedATs, evictedRTs, evictedATs ring
	evictedRTCount, evictedATCount                        int64
}

// worker drives one integration and keeps its own counters.
type worker struct {
	r      *runner
	in     *integration
	hist   [numOps]histogram
	cycles int64
	reqs   int64
	errs   []string
	nerr   int
	buf    bytes.Buffer
	// replays are in-run second exchanges: checked, and failed (kept
	// apart from errors: a replay that works breaks an invariant).
	replays, replayFails int
	replayExamples       []string
	dupCodes             int
}

type runner struct {
	cfg    Config
	srv    *fakeserver.Server
	hc     *http.Client
	limits zoho.Limits
	ints   []*integration

	codeSeed maphash.Seed
	codesMu  sync.Mutex
	codeSeen map[uint64]struct{}

	claimed atomic.Int64 // cycles claimed (Cycles mode)
	stop    atomic.Bool

	// progress, when set, hears of each phase and, every tick, of the
	// load so far (counted only then: liveCycles, liveReqs).
	progress   func(Progress)
	tick       time.Duration
	began      time.Time
	phase      string
	liveCycles atomic.Int64
	liveReqs   atomic.Int64
}

// Progress is one step of a load run as it goes, for a live display
// ("zconform load -progress"): a phase that starts or ends, or a tick of
// the load so far.
type Progress struct {
	// Phase is "setup", "fake" (driving the fake), "checks" (the
	// invariants), "ceiling" (driving the bare handler) or "done".
	Phase string
	// Event is "start", "tick" (fake and ceiling, every interval) or "end".
	Event string
	// Elapsed is the time since the run began.
	Elapsed time.Duration
	// Took is the time since the phase started (ticks and ends).
	Took time.Duration
	// Cycles and Requests are the phase's so far (fake and ceiling).
	Cycles, Requests int64
	// Stopped says that the load phase ended early (the context was done).
	Stopped bool
	// Checks and Failed count the invariants checked and failed (the end
	// of checks); OK is the run's result (done).
	Checks, Failed int
	OK             bool
	// Config is the run's configuration, defaults filled in (setup).
	Config Config
}

// RunWithProgress is Run, telling progress (never two calls at once) as
// each phase starts and ends and, every tick, how far the load is.
func RunWithProgress(ctx context.Context, cfg Config, tick time.Duration, progress func(Progress)) (*Report, error) {
	began := time.Now()
	cfg.DCs = slices.Clone(cfg.DCs)
	if err := cfg.normalize(); err != nil {
		return nil, err
	}
	if tick <= 0 {
		tick = time.Second
	}
	if progress != nil {
		progress(Progress{Phase: "setup", Event: "start", Config: cfg})
	}
	r, err := newRunner(cfg)
	if err != nil {
		return nil, err
	}
	defer r.close()
	r.progress, r.tick, r.began = progress, tick, began
	rep := r.run(ctx)
	r.emit(Progress{Phase: "done", Event: "end", OK: rep.OK(), Stopped: ctx.Err() != nil})
	return rep, nil
}

// emit tells progress, if anyone listens.
func (r *runner) emit(p Progress) {
	if r.progress == nil {
		return
	}
	p.Elapsed = time.Since(r.began)
	r.progress(p)
}

func newRunner(cfg Config) (*runner, error) {
	srv := fakeserver.New(fakeserver.WithProfile(cfg.Profile), fakeserver.WithLimits(func(l *zoho.Limits) {
		l.GrantRate.Limit = 0 // the load's authorizations come far faster than 5 a minute; the caps stay
	}))
	tr := &http.Transport{
		Proxy: nil, ForceAttemptHTTP2: false, MaxIdleConns: 2 * cfg.Workers, MaxIdleConnsPerHost: 2 * cfg.Workers,
		IdleConnTimeout: 30 * time.Second,
	}
	r := &runner{
		cfg: cfg, srv: srv, limits: srv.Limits(), codeSeed: maphash.MakeSeed(), codeSeen: map[uint64]struct{}{},
		hc: &http.Client{Transport: tr, Timeout: requestTimeout, CheckRedirect: func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse }},
	}
	if !strings.HasPrefix(srv.URL, "http://127.0.0.1:") {
		r.close()
		return nil, fmt.Errorf("the fake listens on %s, not on 127.0.0.1: the load stays on loopback", srv.URL)
	}
	ringN := -1
	if cfg.Verify > 0 {
		ringN = max(4, 2*cfg.Verify/cfg.Workers+1)
	}
	for i := range cfg.Workers {
		in, err := r.newIntegration(i, cfg.DCs[i%len(cfg.DCs)], ringN)
		if err != nil {
			r.close()
			return nil, err
		}
		r.ints = append(r.ints, in)
	}
	return r, nil
}

func (r *runner) close() {
	r.hc.CloseIdleConnections()
	r.srv.Close()
}

// newIntegration creates the integration's user and Web-based client in
// dc. Authorization starts at accounts.zoho.com, where the client is
// enabled by multi-DC with the home secret, except in the isolated CN DC.
func (r *runner) newIntegration(i int, dc zoho.DC, ringN int) (*integration, error) {
	id := fmt.Sprintf("%04d", i)
	if i < 0 {
		id = "sample" // the ceiling's sample cycle
	}
	email := fmt.Sprintf("load%s@%s.load.zconform.test", id, dc)
	if _, err := r.srv.AddUser(fakeserver.UserSpec{Email: email, DC: dc, FirstName: "Load" + id}); err != nil {
		return nil, err
	}
	c, err := r.srv.RegisterClient(fakeserver.ClientSpec{
		Type: fakeserver.WebBased, Name: "Load " + id, Homepage: "https://load.zconform.test",
		RedirectURIs: []string{redirectURI}, User: email,
	})
	if err != nil {
		return nil, err
	}
	start := zoho.US
	if d, _ := zoho.Lookup(dc); d.Isolated {
		start = dc
	} else if dc != zoho.US {
		if _, err := r.srv.EnableMultiDC(c.ID, zoho.US, fakeserver.MultiDC{}); err != nil {
			return nil, err
		}
	}
	q := url.Values{"scope": {scope}, "client_id": {c.ID}, "response_type": {"code"}, "redirect_uri": {redirectURI},
		"access_type": {"offline"}, "prompt": {"consent"}}
	in := &integration{
		idx: i, dc: dc, email: email, client: c, secret: c.Secrets[dc],
		authBase: r.srv.AccountsURL(start) + "/oauth/v2/auth?" + q.Encode() + "&state=",
		wantAS:   r.srv.AccountsURL(dc), wantAPI: r.srv.APIURL(dc),
	}
	for _, rg := range []*ring{&in.codes, &in.revokedRTs, &in.revokedATs, &in.evictedRTs, &in.evictedATs} {
		rg.n = ringN
	}
	return in, nil
}

// drive runs one worker per integration until the duration is over, the
// cycles are used up or ctx is done, and returns the workers and the time.
func (r *runner) drive(ctx context.Context, ints []*integration) ([]*worker, time.Duration) {
	r.claimed.Store(0)
	r.stop.Store(false)
	workers := make([]*worker, len(ints))
	for i, in := range ints {
		workers[i] = &worker{r: r, in: in}
	}
	loadCtx, cancel := context.WithTimeout(ctx, r.cfg.Duration)
	defer cancel()
	stopped := make(chan struct{})
	go func() { <-loadCtx.Done(); r.stop.Store(true); close(stopped) }()
	start := time.Now()
	ticking, tickDone := make(chan struct{}), make(chan struct{})
	if r.progress != nil {
		r.liveCycles.Store(0)
		r.liveReqs.Store(0)
		r.emit(Progress{Phase: r.phase, Event: "start"})
		go func() {
			defer close(tickDone)
			t := time.NewTicker(r.tick)
			defer t.Stop()
			for {
				select {
				case <-ticking:
					return
				case <-t.C:
					r.emit(Progress{Phase: r.phase, Event: "tick", Took: time.Since(start), Cycles: r.liveCycles.Load(), Requests: r.liveReqs.Load()})
				}
			}
		}()
	} else {
		close(tickDone)
	}
	var wg sync.WaitGroup
	for _, w := range workers {
		wg.Add(1)
		go func() { defer wg.Done(); w.loop() }()
	}
	wg.Wait()
	elapsed := time.Since(start)
	close(ticking)
	<-tickDone
	if r.progress != nil {
		var cycles, reqs int64
		for _, w := range workers {
			cycles += w.cycles
			reqs += w.reqs
		}
		r.emit(Progress{Phase: r.phase, Event: "end", Took: elapsed, Cycles: cycles, Requests: reqs, Stopped: ctx.Err() != nil})
	}
	cancel()
	<-stopped
	return workers, elapsed
}

// phaseStats sums the workers' counters.
type phaseStats struct {
	cycles, requests           int64
	cyclesPerSec, requestsPerS float64
	ops                        []OpStats
}

func statsOf(workers []*worker, elapsed time.Duration) phaseStats {
	var st phaseStats
	var hist [numOps]histogram
	for _, w := range workers {
		st.cycles += w.cycles
		st.requests += w.reqs
		for i := range hist {
			hist[i].merge(&w.hist[i])
		}
	}
	if secs := elapsed.Seconds(); secs > 0 {
		st.cyclesPerSec = float64(st.cycles) / secs
		st.requestsPerS = float64(st.requests) / secs
	}
	for i := range hist {
		h := &hist[i]
		if h.n == 0 {
			continue
		}
		st.ops = append(st.ops, OpStats{Op: opNames[i], Count: h.n, P50: h.quantile(0.50), P99: h.quantile(0.99), Max: h.max, Mean: h.mean()})
	}
	return st
}

func (r *runner) run(ctx context.Context) *Report {
	rep := &Report{Config: r.cfg, Machine: ThisMachine()}
	// Cap checks during the run, a few times a second.
	monitorDone := make(chan struct{})
	var monitor Check
	monitor.Name = "caps held during the run (sampled)"
	var monWG sync.WaitGroup
	monWG.Add(1)
	go func() {
		defer monWG.Done()
		t := time.NewTicker(250 * time.Millisecond)
		defer t.Stop()
		for {
			select {
			case <-monitorDone:
				return
			case <-t.C:
				r.checkCaps(&monitor)
			}
		}
	}()
	r.phase = "fake"
	workers, elapsed := r.drive(ctx, r.ints)
	close(monitorDone)
	monWG.Wait()

	rep.Elapsed = elapsed
	st := statsOf(workers, elapsed)
	rep.Cycles, rep.Requests, rep.CyclesPerSec, rep.RequestsPerSec, rep.Ops = st.cycles, st.requests, st.cyclesPerSec, st.requestsPerS, st.ops
	replays := Check{Name: "a code exchanges once: in-run second exchanges refused"}
	dups := Check{Name: "codes are unique"}
	for _, w := range workers {
		rep.Errors += w.nerr
		for _, e := range w.errs {
			if len(rep.ErrorExamples) < maxErrExamples {
				rep.ErrorExamples = append(rep.ErrorExamples, e)
			}
		}
		replays.Checked += w.replays
		replays.Failed += w.replayFails
		addExamples(&replays, w.replayExamples...)
		dups.Failed += w.dupCodes
		rep.EvictedRefreshTokens += w.in.evictedRTCount
		rep.EvictedAccessTokens += w.in.evictedATCount
	}
	dups.Checked = len(r.codeSeen)

	checking := time.Now()
	r.emit(Progress{Phase: "checks", Event: "start"})
	r.checkCaps(&monitor)
	rep.Checks = append(rep.Checks, dups, replays, monitor)
	rep.Checks = append(rep.Checks, r.checkState(rep)...)
	rep.Checks = append(rep.Checks, r.checkWire()...)
	if r.progress != nil {
		end := Progress{Phase: "checks", Event: "end", Took: time.Since(checking), Checks: len(rep.Checks)}
		for _, c := range rep.Checks {
			if c.Failed > 0 {
				end.Failed++
			}
		}
		r.emit(end)
	}

	var ms runtime.MemStats
	runtime.GC()
	runtime.ReadMemStats(&ms)
	rep.HeapAlloc = ms.HeapAlloc

	if r.cfg.Ceiling && ctx.Err() == nil {
		r.phase = "ceiling"
		rep.Ceiling = r.runCeiling(ctx, rep)
	}
	return rep
}

func addExamples(c *Check, ex ...string) {
	for _, e := range ex {
		if len(c.Examples) < maxExamples {
			c.Examples = append(c.Examples, e)
		}
	}
}

// redact shortens a token for a report.
func redact(s string) string { return zoho.RedactValue(s) }

// claim says whether the worker may start one more cycle.
func (r *runner) claim() bool {
	if r.stop.Load() {
		return false
	}
	if r.cfg.Cycles > 0 && r.claimed.Add(1) > int64(r.cfg.Cycles) {
		return false
	}
	return true
}

func (w *worker) loop() {
	for n := 0; w.r.claim(); n++ {
		t0 := time.Now()
		if err := w.cycle(n); err != nil {
			w.in.tainted = true
			w.nerr++
			if len(w.errs) < maxErrExamples {
				w.errs = append(w.errs, fmt.Sprintf("integration %d (%s), cycle %d: %v", w.in.idx, w.in.dc, n, err))
			}
			return
		}
		w.hist[opCycle].add(time.Since(t0))
		w.cycles++
		if w.r.progress != nil {
			w.r.liveCycles.Add(1)
		}
	}
}

// answer is one response, read whole.
type answer struct {
	status int
	body   []byte
	loc    string
}

// do sends one request, times it under o and reads the answer.
func (w *worker) do(o op, method, u string, form url.Values, bearer string) (answer, error) {
	var body io.Reader
	if form != nil {
		body = strings.NewReader(form.Encode())
	}
	req, err := http.NewRequest(method, u, body)
	if err != nil {
		return answer{}, err
	}
	if form != nil {
		req.Header.Set("Content-Type", "application/x-www-form-urlencoded")
	}
	if bearer != "" {
		req.Header.Set("Authorization", "Zoho-oauthtoken "+bearer)
	}
	t0 := time.Now()
	resp, err := w.r.hc.Do(req)
	if err != nil {
		return answer{}, fmt.Errorf("%s: %w", opNames[o], err)
	}
	w.buf.Reset()
	_, err = io.Copy(&w.buf, io.LimitReader(resp.Body, 1<<20))
	resp.Body.Close()
	w.hist[o].add(time.Since(t0))
	w.reqs++
	if w.r.progress != nil {
		w.r.liveReqs.Add(1)
	}
	if err != nil {
		return answer{}, fmt.Errorf("%s: reading the body: %w", opNames[o], err)
	}
	return answer{status: resp.StatusCode, body: bytes.Clone(w.buf.Bytes()), loc: resp.Header.Get("Location")}, nil
}

type tokenJSON struct {
	AccessToken  string `json:"access_token"`
	RefreshToken string `json:"refresh_token"`
	APIDomain    string `json:"api_domain"`
	TokenType    string `json:"token_type"`
	ExpiresIn    int    `json:"expires_in"`
	Error        string `json:"error"`
	Status       string `json:"status"`
}

func (a answer) token() tokenJSON {
	var t tokenJSON
	_ = json.Unmarshal(a.body, &t)
	return t
}

func (a answer) String() string {
	b := string(a.body)
	if len(b) > 160 {
		b = b[:160] + "…"
	}
	return fmt.Sprintf("HTTP %d %s", a.status, zoho.Redact(b))
}

func (r *runner) tokenURL(as string) string  { return as + "/oauth/v2/token" }
func (r *runner) revokeURL(as string) string { return as + "/oauth/v2/token/revoke" }

func (in *integration) exchangeForm(code string) url.Values {
	return url.Values{"grant_type": {"authorization_code"}, "client_id": {in.client.ID}, "client_secret": {in.secret},
		"redirect_uri": {redirectURI}, "code": {code}}
}

func (in *integration) refreshForm(rt string) url.Values {
	return url.Values{"grant_type": {"refresh_token"}, "client_id": {in.client.ID}, "client_secret": {in.secret}, "refresh_token": {rt}}
}

// cycle runs one cycle of the integration; n counts its cycles.
func (w *worker) cycle(n int) error {
	r, in := w.r, w.in

	// Authorize: the fake consents as the client's user by itself.
	state := strconv.Itoa(n)
	a, err := w.do(opAuthorize, http.MethodGet, in.authBase+state, nil, "")
	if err != nil {
		return err
	}
	if a.status != http.StatusFound || a.loc == "" {
		return fmt.Errorf("authorize: want a 302 redirect, got %s", a)
	}
	loc, err := url.Parse(a.loc)
	if err != nil {
		return fmt.Errorf("authorize: bad Location: %v", err)
	}
	q := loc.Query()
	code, as := q.Get("code"), q.Get("accounts-server")
	switch {
	case code == "":
		return fmt.Errorf("authorize: no code in the redirect (error=%q)", q.Get("error"))
	case q.Get("state") != state && !in.bare:
		return fmt.Errorf("authorize: state %q came back as %q", state, q.Get("state"))
	case q.Get("location") != string(in.dc) || as != in.wantAS:
		return fmt.Errorf("authorize: the redirect names location %q, accounts-server %q; want %q, %q", q.Get("location"), as, in.dc, in.wantAS)
	}
	if !in.bare {
		w.noteCode(code)
	}

	// Exchange at the accounts-server named.
	a, err = w.do(opExchange, http.MethodPost, r.tokenURL(as), in.exchangeForm(code), "")
	if err != nil {
		return err
	}
	t := a.token()
	if a.status != http.StatusOK || t.AccessToken == "" || t.RefreshToken == "" {
		return fmt.Errorf("exchange: want tokens, got %s", a)
	}
	if t.APIDomain != in.wantAPI {
		return fmt.Errorf("exchange: api_domain %q, want %q", t.APIDomain, in.wantAPI)
	}
	rt := in.addRefresh(t.RefreshToken, t.AccessToken, r.limits)

	if r.cfg.ReplayEvery > 0 && n%r.cfg.ReplayEvery == r.cfg.ReplayEvery-1 {
		a, err = w.do(opReplay, http.MethodPost, r.tokenURL(as), in.exchangeForm(code), "")
		if err != nil {
			return err
		}
		w.replays++
		if t := a.token(); !in.bare && (a.status != http.StatusOK || t.Error != zoho.ErrInvalidCode) {
			w.replayFails++
			if t.AccessToken != "" { // the fake minted tokens the model does not know of
				in.tainted = true
			}
			if len(w.replayExamples) < maxExamples {
				w.replayExamples = append(w.replayExamples, fmt.Sprintf("code %s exchanged twice: %s", redact(code), a))
			}
		}
	}
	in.codes.add(code)

	api := func(k int) error {
		for i := range k {
			at := rt.ats[len(rt.ats)-1]
			path := "/crm/v8/users?type=CurrentUser"
			if i%2 == 1 {
				path = "/crm/v8/org"
			}
			a, err := w.do(opAPI, http.MethodGet, t.APIDomain+path, nil, at)
			if err != nil {
				return err
			}
			if a.status != http.StatusOK || !bytes.Contains(a.body, []byte(in.email)) {
				return fmt.Errorf("api %s with a live token: %s", path, a)
			}
		}
		return nil
	}
	if err := api((r.cfg.APICalls + 1) / 2); err != nil {
		return err
	}
	for range r.cfg.Refreshes {
		if err := w.refresh(opRefresh, as, rt); err != nil {
			return err
		}
	}
	if err := api(r.cfg.APICalls / 2); err != nil {
		return err
	}
	// The user's oldest kept refresh token: a long-lived install refreshing.
	if err := w.refresh(opRefreshKept, as, in.held[0]); err != nil {
		return err
	}

	// Revoke: the refresh token (with its access tokens), or, in a cycle
	// that keeps it, its first access token alone.
	if r.cfg.KeepEvery > 0 && n%r.cfg.KeepEvery == 0 {
		if len(rt.ats) == 0 || !inHeld(in, rt) {
			return nil // evicted already: nothing of it to revoke
		}
		at := rt.ats[0]
		if err := w.revoke(as, at); err != nil {
			return err
		}
		rt.ats = rt.ats[1:]
		in.revokedATs.add(at)
		return nil
	}
	if !inHeld(in, rt) {
		return nil // evicted by a newer one (only with a tiny cap)
	}
	if err := w.revoke(as, rt.value); err != nil {
		return err
	}
	in.dropRefresh(rt)
	in.revokedRTs.add(rt.value)
	for _, at := range rt.ats {
		in.revokedATs.add(at)
	}
	return nil
}

func inHeld(in *integration, rt *heldRT) bool {
	for _, h := range in.held {
		if h == rt {
			return true
		}
	}
	return false
}

func (w *worker) refresh(o op, as string, rt *heldRT) error {
	a, err := w.do(o, http.MethodPost, w.r.tokenURL(as), w.in.refreshForm(rt.value), "")
	if err != nil {
		return err
	}
	t := a.token()
	if a.status != http.StatusOK || t.AccessToken == "" || t.RefreshToken != "" {
		return fmt.Errorf("%s of a live refresh token: want an access token alone, got %s", opNames[o], a)
	}
	w.in.addAccess(rt, t.AccessToken, w.r.limits)
	return nil
}

func (w *worker) revoke(as, token string) error {
	a, err := w.do(opRevoke, http.MethodPost, w.r.revokeURL(as)+"?token="+url.QueryEscape(token), url.Values{}, "")
	if err != nil {
		return err
	}
	if a.status != http.StatusOK || a.token().Status != "success" {
		return fmt.Errorf("revoke of a live token: %s", a)
	}
	return nil
}

// noteCode records a code's hash; a code seen before is a duplicate.
func (w *worker) noteCode(code string) {
	h := maphash.String(w.r.codeSeed, code)
	w.r.codesMu.Lock()
	_, dup := w.r.codeSeen[h]
	w.r.codeSeen[h] = struct{}{}
	w.r.codesMu.Unlock()
	if dup {
		w.dupCodes++
	}
}

// addRefresh models an exchange: a new refresh token for the user, the
// oldest evicted past the per-user cap (K4-NOTE-7, K4-NOTE-8).
func (in *integration) addRefresh(rt, at string, l zoho.Limits) *heldRT {
	if c := l.RefreshTokensPerUser; c > 0 {
		for len(in.held) >= c {
			old := in.held[0]
			in.held = in.held[1:]
			in.evictedRTs.add(old.value)
			in.evictedRTCount++
			for _, a := range old.ats {
				in.evictedATs.add(a)
				in.evictedATCount++
			}
		}
	}
	h := &heldRT{value: rt, ats: []string{at}}
	in.held = append(in.held, h)
	return h
}

// addAccess models a refresh: a new access token under rt, its oldest
// evicted past the per-refresh-token cap. No token expires: the fake's
// clock does not move during a run.
func (in *integration) addAccess(rt *heldRT, at string, l zoho.Limits) {
	if c := l.AccessTokensPerRefreshToken; c > 0 {
		for len(rt.ats) >= c {
			in.evictedATs.add(rt.ats[0])
			in.evictedATCount++
			rt.ats = rt.ats[1:]
		}
	}
	rt.ats = append(rt.ats, at)
}

func (in *integration) dropRefresh(rt *heldRT) {
	for i, h := range in.held {
		if h == rt {
			in.held = append(in.held[:i], in.held[i+1:]...)
			return
		}
	}
}

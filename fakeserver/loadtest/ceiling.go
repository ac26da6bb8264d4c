package loadtest

import (
	"bytes"
	"context"
	"fmt"
	"io"
	"net"
	"net/http"
	"net/url"
	"strconv"
	"strings"
	"time"

	"github.com/zconform/zconform/fakeserver"
	"github.com/zconform/zconform/fixtures/zoho"
)

// CeilingReport is the same load, with the same client, cycles and request
// bodies, against a bare net/http handler that drains each request and
// answers a fixed copy of the fake's answer: what loopback HTTP and the
// driver cost by themselves on this machine.
type CeilingReport struct {
	Elapsed        time.Duration `json:"elapsed_ns"`
	Cycles         int64         `json:"cycles"`
	Requests       int64         `json:"requests"`
	CyclesPerSec   float64       `json:"cycles_per_sec"`
	RequestsPerSec float64       `json:"requests_per_sec"`
	Ops            []OpStats     `json:"ops"`
	// Errors counts answers the driver did not expect (a harness bug).
	Errors        int      `json:"errors"`
	ErrorExamples []string `json:"error_examples,omitempty"`
	// FakeShare is the fake's cycles per second over the ceiling's: 1 is
	// as fast as the bare handler; the goal is at least 0.5 (within 2x).
	FakeShare float64 `json:"fake_share"`
}

// ceilingAnswers are the fake's answers to one sample cycle, with the
// fake's base URL replaced by the ceiling's.
type ceilingAnswers struct {
	location                      string
	exchange, refresh, users, org []byte
	revoke                        []byte
	email                         string
	client                        fakeserver.Client
	query                         string
}

// sampleCycle runs one cycle against the fake for a user of its own (not
// one of the integrations, so that the checks do not see it) and keeps the
// answers for the ceiling to send.
func (r *runner) sampleCycle(ceilURL string) (*ceilingAnswers, error) {
	in, err := r.newIntegration(-1, zoho.US, 4)
	if err != nil {
		return nil, err
	}
	w := &worker{r: r, in: in}
	ans := &ceilingAnswers{email: in.email, client: in.client}
	ans.query = strings.TrimSuffix(in.authBase[strings.IndexByte(in.authBase, '?')+1:], "&state=")
	rewrite := func(b []byte) []byte { // in JSON as is, in the Location query-escaped
		b = bytes.ReplaceAll(b, []byte(r.srv.URL), []byte(ceilURL))
		return bytes.ReplaceAll(b, []byte(url.QueryEscape(r.srv.URL)), []byte(url.QueryEscape(ceilURL)))
	}

	a, err := w.do(opAuthorize, http.MethodGet, in.authBase+"0", nil, "")
	if err != nil || a.status != http.StatusFound {
		return nil, fmt.Errorf("sample authorize: %v %v", err, a)
	}
	ans.location = string(rewrite([]byte(a.loc)))
	loc, _ := url.Parse(a.loc)
	q := loc.Query()
	as := q.Get("accounts-server")
	a, err = w.do(opExchange, http.MethodPost, r.tokenURL(as), in.exchangeForm(q.Get("code")), "")
	if err != nil || a.status != http.StatusOK {
		return nil, fmt.Errorf("sample exchange: %v %v", err, a)
	}
	ans.exchange = rewrite(a.body)
	t := a.token()
	for _, p := range []struct {
		path string
		dst  *[]byte
	}{{"/crm/v8/users?type=CurrentUser", &ans.users}, {"/crm/v8/org", &ans.org}} {
		a, err = w.do(opAPI, http.MethodGet, t.APIDomain+p.path, nil, t.AccessToken)
		if err != nil || a.status != http.StatusOK {
			return nil, fmt.Errorf("sample API call: %v %v", err, a)
		}
		*p.dst = rewrite(a.body)
	}
	a, err = w.do(opRefresh, http.MethodPost, r.tokenURL(as), in.refreshForm(t.RefreshToken), "")
	if err != nil || a.status != http.StatusOK {
		return nil, fmt.Errorf("sample refresh: %v %v", err, a)
	}
	ans.refresh = rewrite(a.body)
	a, err = w.do(opRevoke, http.MethodPost, r.revokeURL(as)+"?token="+url.QueryEscape(t.RefreshToken), url.Values{}, "")
	if err != nil || a.status != http.StatusOK {
		return nil, fmt.Errorf("sample revoke: %v %v", err, a)
	}
	ans.revoke = rewrite(a.body)
	return ans, nil
}

// ceilingHandler is the bare handler: it drains the request and answers
// the fixed answer for the path (and, at the token endpoint, for the grant
// type), with the headers the fake sends.
func ceilingHandler(ans *ceilingAnswers) http.Handler {
	fixed := func(w http.ResponseWriter, status int, body []byte) {
		w.Header().Set("Content-Type", "application/json;charset=UTF-8")
		w.Header().Set("Content-Length", strconv.Itoa(len(body)))
		w.WriteHeader(status)
		_, _ = w.Write(body)
	}
	refreshGrant := []byte("grant_type=refresh_token")
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		body, _ := io.ReadAll(io.LimitReader(r.Body, 64<<10))
		p := r.URL.Path
		switch {
		case strings.HasSuffix(p, "/oauth/v2/auth"):
			w.Header().Set("Location", ans.location)
			w.WriteHeader(http.StatusFound)
		case strings.HasSuffix(p, "/oauth/v2/token/revoke"):
			fixed(w, http.StatusOK, ans.revoke)
		case strings.HasSuffix(p, "/oauth/v2/token"):
			if bytes.Contains(body, refreshGrant) {
				fixed(w, http.StatusOK, ans.refresh)
			} else {
				fixed(w, http.StatusOK, ans.exchange)
			}
		case strings.HasSuffix(p, "/crm/v8/users"):
			fixed(w, http.StatusOK, ans.users)
		case strings.HasSuffix(p, "/crm/v8/org"):
			fixed(w, http.StatusOK, ans.org)
		default:
			http.NotFound(w, r)
		}
	})
}

// runCeiling drives the ceiling with as many integrations, as long (or as
// many cycles) as the fake was driven.
func (r *runner) runCeiling(ctx context.Context, fake *Report) *CeilingReport {
	out := &CeilingReport{}
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		out.Errors, out.ErrorExamples = 1, []string{err.Error()}
		return out
	}
	ceilURL := "http://" + l.Addr().String()
	ans, err := r.sampleCycle(ceilURL)
	if err != nil {
		l.Close()
		out.Errors, out.ErrorExamples = 1, []string{err.Error()}
		return out
	}
	hs := &http.Server{Handler: ceilingHandler(ans), ReadHeaderTimeout: 10 * time.Second}
	go hs.Serve(l) //nolint:errcheck // returns on Close
	defer hs.Close()

	us, _ := zoho.Lookup(zoho.US)
	ints := make([]*integration, r.cfg.Workers)
	for i := range ints {
		ints[i] = &integration{
			idx: i, dc: zoho.US, email: ans.email, client: ans.client, secret: ans.client.Secret, bare: true,
			authBase: ceilURL + "/" + us.AccountsHost + "/oauth/v2/auth?" + ans.query + "&state=",
			wantAS:   ceilURL + "/" + us.AccountsHost, wantAPI: ceilURL + "/" + us.APIHost,
		}
		for _, rg := range []*ring{&ints[i].codes, &ints[i].revokedRTs, &ints[i].revokedATs, &ints[i].evictedRTs, &ints[i].evictedATs} {
			rg.n = 1
		}
	}
	workers, elapsed := r.drive(ctx, ints)
	st := statsOf(workers, elapsed)
	out.Elapsed, out.Cycles, out.Requests, out.CyclesPerSec, out.RequestsPerSec, out.Ops = elapsed, st.cycles, st.requests, st.cyclesPerSec, st.requestsPerS, st.ops
	for _, w := range workers {
		out.Errors += w.nerr
		for _, e := range w.errs {
			if len(out.ErrorExamples) < maxErrExamples {
				out.ErrorExamples = append(out.ErrorExamples, e)
			}
		}
	}
	if out.CyclesPerSec > 0 {
		out.FakeShare = fake.CyclesPerSec / out.CyclesPerSec
	}
	return out
}

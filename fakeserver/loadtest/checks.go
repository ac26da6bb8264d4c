package loadtest

import (
	"bytes"
	"fmt"
	"net/http"
	"slices"
	"sync"

	"github.com/zconform/zconform/fixtures/zoho"
)

// checkCaps reads every integration user's live tokens from the fake and
// counts a failure for each cap exceeded: refresh tokens per user, access
// tokens per refresh token.
func (r *runner) checkCaps(c *Check) {
	capRT, capAT := r.limits.RefreshTokensPerUser, r.limits.AccessTokensPerRefreshToken
	for _, in := range r.ints {
		toks, err := r.srv.Tokens(in.email)
		if err != nil {
			c.Failed++
			addExamples(c, fmt.Sprintf("%s: %v", in.email, err))
			continue
		}
		c.Checked++
		if capRT > 0 && len(toks.RefreshTokens) > capRT {
			c.Failed++
			addExamples(c, fmt.Sprintf("%s holds %d refresh tokens, cap %d", in.email, len(toks.RefreshTokens), capRT))
		}
		for _, rt := range toks.RefreshTokens {
			c.Checked++
			if capAT > 0 && len(rt.AccessTokens) > capAT {
				c.Failed++
				addExamples(c, fmt.Sprintf("refresh token %s has %d live access tokens, cap %d", redact(rt.Token), len(rt.AccessTokens), capAT))
			}
		}
	}
}

// checkState compares the fake's state (through its Go API) with the
// model, for every integration whose model is sure.
func (r *runner) checkState(rep *Report) []Check {
	capAT := r.limits.AccessTokensPerRefreshToken
	caps := Check{Name: "access tokens per refresh token <= cap (srv.LiveAccessTokens)"}
	lost := Check{Name: "no token lost: every token the model holds is live"}
	undead := Check{Name: "nothing live beyond the model (revoked, evicted stay gone)"}
	order := Check{Name: "live tokens in issue order (eviction takes the oldest)"}
	for _, in := range r.ints {
		toks, err := r.srv.Tokens(in.email)
		if err != nil {
			lost.Failed++
			addExamples(&lost, fmt.Sprintf("%s: %v", in.email, err))
			continue
		}
		var liveRTs, liveATs []string
		for _, rt := range toks.RefreshTokens {
			rep.LiveRefreshTokens++
			rep.LiveAccessTokens += len(rt.AccessTokens)
			liveRTs = append(liveRTs, rt.Token)
			for _, a := range rt.AccessTokens {
				liveATs = append(liveATs, a.Token)
			}
		}
		rep.LiveAccessTokens += len(toks.AccessTokens)
		for _, a := range toks.AccessTokens { // online tokens: the load makes none
			liveATs = append(liveATs, a.Token)
		}
		for _, h := range in.held {
			live := r.srv.LiveAccessTokens(h.value)
			caps.Checked++
			if capAT > 0 && len(live) > capAT {
				caps.Failed++
				addExamples(&caps, fmt.Sprintf("refresh token %s: %d live access tokens, cap %d", redact(h.value), len(live), capAT))
			}
		}
		if in.tainted {
			continue // an unexpected answer: the model may miss a token
		}
		var modelRTs, modelATs []string
		for _, h := range in.held {
			modelRTs = append(modelRTs, h.value)
			modelATs = append(modelATs, h.ats...)
		}
		liveSet := setOf(liveRTs, liveATs)
		modelSet := setOf(modelRTs, modelATs)
		missing, extra := 0, 0
		for _, t := range append(slices.Clone(modelRTs), modelATs...) {
			lost.Checked++
			if !liveSet[t] {
				missing++
				lost.Failed++
				addExamples(&lost, fmt.Sprintf("%s: token %s is gone, and no revoke or eviction explains it", in.email, redact(t)))
			}
		}
		for _, t := range append(slices.Clone(liveRTs), liveATs...) {
			undead.Checked++
			if !modelSet[t] {
				extra++
				undead.Failed++
				addExamples(&undead, fmt.Sprintf("%s: token %s is live, but it was revoked or evicted", in.email, redact(t)))
			}
		}
		order.Checked++
		if slices.Equal(liveRTs, modelRTs) && slices.Equal(liveATs, modelATs) {
			continue
		}
		if missing == 0 && extra == 0 {
			order.Failed++
			addExamples(&order, fmt.Sprintf("%s: the fake's tokens are the model's in another order", in.email))
		}
	}
	return []Check{caps, lost, undead, order}
}

func setOf(lists ...[]string) map[string]bool {
	m := map[string]bool{}
	for _, l := range lists {
		for _, s := range l {
			m[s] = true
		}
	}
	return m
}

// probe is one check on the wire.
type probe struct {
	in    *integration
	token string
}

// sample takes at most n items evenly spread (all when n <= 0).
func sample(ps []probe, n int) []probe {
	if n <= 0 || len(ps) <= n {
		return ps
	}
	out := make([]probe, 0, n)
	for i := range n {
		out = append(out, ps[i*len(ps)/n])
	}
	return out
}

// checkWire checks, over HTTP, samples of the codes, revoked and evicted
// tokens (all refused) and of the tokens the users hold (all working).
// Refreshing held refresh tokens mints tokens, so it comes last.
func (r *runner) checkWire() []Check {
	var codes, revRT, revAT, evRT, evAT, heldAT, heldRT []probe
	for _, in := range r.ints {
		for _, s := range in.codes.items {
			codes = append(codes, probe{in, s})
		}
		for _, s := range in.revokedRTs.items {
			revRT = append(revRT, probe{in, s})
		}
		for _, s := range in.revokedATs.items {
			revAT = append(revAT, probe{in, s})
		}
		for _, s := range in.evictedRTs.items {
			evRT = append(evRT, probe{in, s})
		}
		for _, s := range in.evictedATs.items {
			evAT = append(evAT, probe{in, s})
		}
		if in.tainted {
			continue
		}
		for _, h := range in.held {
			heldRT = append(heldRT, probe{in, h.value})
			for _, a := range h.ats {
				heldAT = append(heldAT, probe{in, a})
			}
		}
	}
	n := r.cfg.Verify
	refused := func(w *worker, p probe) (bool, string) {
		a, err := w.do(opRefresh, http.MethodPost, r.tokenURL(p.in.wantAS), p.in.refreshForm(p.token), "")
		if err != nil {
			return false, err.Error()
		}
		return a.status == http.StatusOK && a.token().Error == zoho.ErrInvalidCode, a.String()
	}
	apiRefused := func(w *worker, p probe) (bool, string) {
		a, err := w.do(opAPI, http.MethodGet, p.in.wantAPI+"/crm/v8/users?type=CurrentUser", nil, p.token)
		if err != nil {
			return false, err.Error()
		}
		return a.status == http.StatusUnauthorized && bytes.Contains(a.body, []byte(zoho.CodeInvalidToken)), a.String()
	}
	checks := []Check{
		r.wire("used codes refused on a second exchange (invalid_code)", sample(codes, n), func(w *worker, p probe) (bool, string) {
			a, err := w.do(opReplay, http.MethodPost, r.tokenURL(p.in.wantAS), p.in.exchangeForm(p.token), "")
			if err != nil {
				return false, err.Error()
			}
			return a.status == http.StatusOK && a.token().Error == zoho.ErrInvalidCode, a.String()
		}),
		r.wire("revoked refresh tokens refused (invalid_code)", sample(revRT, n), refused),
		r.wire("revoked access tokens refused by the API (401 INVALID_TOKEN)", sample(revAT, n), apiRefused),
		r.wire("evicted refresh tokens refused (invalid_code)", sample(evRT, n), refused),
		r.wire("evicted access tokens refused by the API (401 INVALID_TOKEN)", sample(evAT, n), apiRefused),
		r.wire("held access tokens work at the API", sample(heldAT, n), func(w *worker, p probe) (bool, string) {
			a, err := w.do(opAPI, http.MethodGet, p.in.wantAPI+"/crm/v8/users?type=CurrentUser", nil, p.token)
			if err != nil {
				return false, err.Error()
			}
			return a.status == http.StatusOK && bytes.Contains(a.body, []byte(p.in.email)), a.String()
		}),
	}
	checks = append(checks, r.wire("held refresh tokens still refresh", sample(heldRT, n), func(w *worker, p probe) (bool, string) {
		a, err := w.do(opRefresh, http.MethodPost, r.tokenURL(p.in.wantAS), p.in.refreshForm(p.token), "")
		if err != nil {
			return false, err.Error()
		}
		return a.status == http.StatusOK && a.token().AccessToken != "", a.String()
	}))
	return checks
}

// wire runs the probes with as many goroutines as the load had workers.
func (r *runner) wire(name string, ps []probe, ok func(*worker, probe) (bool, string)) Check {
	c := Check{Name: name, Checked: len(ps)}
	var mu sync.Mutex
	var wg sync.WaitGroup
	next := make(chan probe)
	for range min(r.cfg.Workers, max(1, len(ps))) {
		wg.Add(1)
		go func() {
			defer wg.Done()
			w := &worker{r: r}
			for p := range next {
				if good, got := ok(w, p); !good {
					mu.Lock()
					c.Failed++
					addExamples(&c, fmt.Sprintf("%s (%s): token %s: %s", p.in.email, p.in.dc, redact(p.token), got))
					mu.Unlock()
				}
			}
		}()
	}
	for _, p := range ps {
		next <- p
	}
	close(next)
	wg.Wait()
	return c
}

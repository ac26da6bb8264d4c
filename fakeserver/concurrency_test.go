package fakeserver_test

import (
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"net/url"
	"strings"
	"sync"
	"time"

	. "github.com/onsi/ginkgo/v2"
	. "github.com/onsi/gomega"

	"github.com/zconform/zconform/fakeserver"
	"github.com/zconform/zconform/fixtures/zoho"
)

// outcome is one concurrent call's answer. Goroutines never assert; the
// spec checks the outcomes afterwards.
type outcome struct {
	status int
	body   map[string]any
	raw    string
	loc    string
	err    error
}

func (o outcome) str(k string) string { s, _ := o.body[k].(string); return s }

func rawDo(hc *http.Client, req *http.Request) outcome {
	resp, err := hc.Do(req)
	if err != nil {
		return outcome{err: err}
	}
	defer resp.Body.Close()
	data, err := io.ReadAll(resp.Body)
	o := outcome{status: resp.StatusCode, raw: string(data), loc: resp.Header.Get("Location"), err: err}
	if strings.HasPrefix(resp.Header.Get("Content-Type"), "application/json") {
		var v any
		if err := json.Unmarshal(data, &v); err != nil && o.err == nil {
			o.err = fmt.Errorf("bad JSON %q: %w", data, err)
		}
		o.body, _ = v.(map[string]any)
	}
	return o
}

func rawPostForm(hc *http.Client, u string, form url.Values) outcome {
	req, err := http.NewRequest(http.MethodPost, u, strings.NewReader(form.Encode()))
	if err != nil {
		return outcome{err: err}
	}
	req.Header.Set("Content-Type", "application/x-www-form-urlencoded")
	return rawDo(hc, req)
}

func rawGet(hc *http.Client, u, auth string) outcome {
	req, err := http.NewRequest(http.MethodGet, u, nil)
	if err != nil {
		return outcome{err: err}
	}
	if auth != "" {
		req.Header.Set("Authorization", auth)
	}
	return rawDo(hc, req)
}

// together runs n calls at once (released together) and returns their
// outcomes in call order.
func together(n int, call func(i int) outcome) []outcome {
	out := make([]outcome, n)
	start := make(chan struct{})
	var wg sync.WaitGroup
	for i := 0; i < n; i++ {
		wg.Add(1)
		go func() {
			defer wg.Done()
			<-start
			out[i] = call(i)
		}()
	}
	close(start)
	wg.Wait()
	return out
}

func expectNoTransportErrors(outs []outcome) {
	GinkgoHelper()
	for i, o := range outs {
		Expect(o.err).NotTo(HaveOccurred(), "call %d", i)
		Expect(o.status).To(BeNumerically("<", 500), "call %d: %s", i, o.raw)
	}
}

var _ = Describe("Concurrency", func() {
	for _, p := range allProfiles {
		Context("under "+p.Name, Label("profile:"+p.Name), func() {
			var (
				f   *fake
				web fakeserver.Client
			)
			BeforeEach(func() {
				f = newFake(p)
				web = f.webClient(zoho.US)
			})
			tokenURL := func() string { return f.AccountsURL(zoho.US) + "/oauth/v2/token" }

			It("gives exactly one success for 100 concurrent exchanges of one grant", func() {
				code := f.grant(zoho.US, web)
				form := exchangeForm(web, zoho.US, code)
				outs := together(100, func(int) outcome { return rawPostForm(f.hc, tokenURL(), form) })
				expectNoTransportErrors(outs)
				ok, invalid := 0, 0
				for _, o := range outs {
					Expect(o.status).To(Equal(http.StatusOK))
					switch {
					case o.str("access_token") != "":
						ok++
					case o.str("error") == zoho.ErrInvalidCode:
						invalid++
					}
				}
				Expect(ok).To(Equal(1))
				Expect(invalid).To(Equal(99))
				toks, err := f.Tokens("dev@us.zconform.test")
				Expect(err).NotTo(HaveOccurred())
				Expect(toks.RefreshTokens).To(HaveLen(1))
			})

			It("gives at most one success when concurrent exchanges of one grant fail and succeed", func() {
				code := f.grant(zoho.US, web)
				good := exchangeForm(web, zoho.US, code)
				bad := exchangeForm(web, zoho.US, code)
				bad.Set("client_secret", zoho.NewClientSecret())
				outs := together(60, func(i int) outcome {
					if i%2 == 0 {
						return rawPostForm(f.hc, tokenURL(), bad)
					}
					return rawPostForm(f.hc, tokenURL(), good)
				})
				expectNoTransportErrors(outs)
				ok := 0
				for _, o := range outs {
					if o.str("access_token") != "" {
						ok++
					}
				}
				Expect(ok).To(BeNumerically("<=", 1))
			})

			It("never exceeds the access-token cap under concurrent refreshes", func() {
				t := f.offlineTokens(zoho.US, web)
				form := refreshForm(web, zoho.US, t.RefreshToken())
				outs := together(100, func(int) outcome { return rawPostForm(f.hc, tokenURL(), form) })
				expectNoTransportErrors(outs)
				var minted []string
				throttled := 0
				for _, o := range outs {
					switch {
					case o.str("access_token") != "":
						minted = append(minted, o.str("access_token"))
					case o.status == http.StatusBadRequest && o.str("error") == zoho.ErrThrottled:
						throttled++
					default:
						Fail("unexpected answer: " + o.raw)
					}
				}
				if p.ThrottleLimit > 0 {
					Expect(minted).To(HaveLen(p.ThrottleLimit))
					Expect(throttled).To(Equal(100 - p.ThrottleLimit))
				} else {
					Expect(minted).To(HaveLen(100))
				}
				live := f.LiveAccessTokens(t.RefreshToken())
				Expect(len(live)).To(Equal(min(p.AccessCap, len(minted)+1)))
				toks, err := f.Tokens("dev@us.zconform.test")
				Expect(err).NotTo(HaveOccurred())
				Expect(toks.RefreshTokens[0].AccessTokens).To(HaveLen(len(live)))
				// exactly the live ones work
				works := 0
				for _, a := range append(minted, t.AccessToken()) {
					if f.crmUsers(zoho.US, a).Status == http.StatusOK {
						works++
					}
				}
				Expect(works).To(Equal(len(live)))
			})

			It("never exceeds the access-token cap without a throttle either", func() {
				g := newFake(p, fakeserver.WithLimits(func(l *zoho.Limits) { l.RefreshThrottle = zoho.Rate{} }))
				c := g.webClient(zoho.US)
				t := g.offlineTokens(zoho.US, c)
				form := refreshForm(c, zoho.US, t.RefreshToken())
				outs := together(100, func(int) outcome {
					return rawPostForm(g.hc, g.AccountsURL(zoho.US)+"/oauth/v2/token", form)
				})
				expectNoTransportErrors(outs)
				for _, o := range outs {
					Expect(o.str("access_token")).NotTo(BeEmpty(), o.raw)
				}
				Expect(g.LiveAccessTokens(t.RefreshToken())).To(HaveLen(p.AccessCap))
			})

			It("never exceeds the grant rate limit under concurrent authorizations", func() {
				q := authParams(web)
				outs := together(50, func(int) outcome {
					return rawGet(f.hc, f.AccountsURL(zoho.US)+"/oauth/v2/auth?"+q.Encode(), "")
				})
				expectNoTransportErrors(outs)
				granted, denied := 0, 0
				for _, o := range outs {
					switch {
					case o.status == http.StatusFound && strings.Contains(o.loc, "code="):
						granted++
					case errorPageCode([]byte(o.raw)) == zoho.ErrAccessDenied:
						denied++
					}
				}
				Expect(granted).To(Equal(p.GrantLimit))
				Expect(denied).To(Equal(50 - p.GrantLimit))

				// self-client codes share the limit of their client
				sc := f.selfClient(zoho.US, "")
				var mu sync.Mutex
				var codes []string
				together(50, func(int) outcome {
					code, err := f.SelfClientCode(sc.ID, fakeserver.SelfClientCodeRequest{Scopes: []string{testScope}})
					if err == nil {
						mu.Lock()
						codes = append(codes, code)
						mu.Unlock()
					}
					return outcome{}
				})
				Expect(codes).To(HaveLen(p.GrantLimit))
			})

			It("never exceeds the refresh-token cap under concurrent exchanges", func() {
				// enough grants for twice the cap: one client per GrantLimit grants
				var clients []fakeserver.Client
				var forms []url.Values
				for len(forms) < 2*p.RefreshCap {
					c := f.webClient(zoho.US)
					clients = append(clients, c)
					for i := 0; i < p.GrantLimit && len(forms) < 2*p.RefreshCap; i++ {
						forms = append(forms, exchangeForm(c, zoho.US, f.grant(zoho.US, c)))
					}
				}
				outs := together(len(forms), func(i int) outcome { return rawPostForm(f.hc, tokenURL(), forms[i]) })
				expectNoTransportErrors(outs)
				for _, o := range outs {
					Expect(o.str("refresh_token")).NotTo(BeEmpty(), o.raw)
				}
				live := f.refreshTokensOf("dev@us.zconform.test")
				if p.RefreshCapPerClient {
					// every client holds fewer than the cap
					Expect(live).To(HaveLen(len(forms)))
				} else {
					Expect(live).To(HaveLen(p.RefreshCap))
				}
				Expect(len(live)).To(BeNumerically("<=", p.RefreshCap*len(clients)))
			})

			It("never exceeds the refresh-token cap per user when one client makes them all", func() {
				g := newFake(p, fakeserver.WithLimits(func(l *zoho.Limits) { l.GrantRate = zoho.Rate{} }))
				c := g.webClient(zoho.US)
				var forms []url.Values
				for i := 0; i < 2*p.RefreshCap+5; i++ {
					forms = append(forms, exchangeForm(c, zoho.US, g.grant(zoho.US, c)))
				}
				outs := together(len(forms), func(i int) outcome {
					return rawPostForm(g.hc, g.AccountsURL(zoho.US)+"/oauth/v2/token", forms[i])
				})
				expectNoTransportErrors(outs)
				var rts []string
				for _, o := range outs {
					Expect(o.str("refresh_token")).NotTo(BeEmpty(), o.raw)
					rts = append(rts, o.str("refresh_token"))
				}
				live := g.refreshTokensOf("dev@us.zconform.test")
				Expect(live).To(HaveLen(p.RefreshCap))
				// exactly the live ones refresh
				works := 0
				for _, rt := range rts {
					if g.refresh(zoho.US, c, rt).Err() == "" {
						works++
					}
				}
				Expect(works).To(Equal(p.RefreshCap))
			})
		})
	}

	It("survives a mixed load of every endpoint and the Go API (run with -race)", func() {
		f := newFake(profileKaizen4, fakeserver.WithLimits(func(l *zoho.Limits) { l.GrantRate = zoho.Rate{} }))
		web := f.webClient(zoho.US)
		sc := f.selfClient(zoho.US, "")
		t := f.offlineTokens(zoho.US, web)
		_, err := f.EnableMultiDC(web.ID, zoho.EU, fakeserver.MultiDC{})
		Expect(err).NotTo(HaveOccurred())
		tokenURL := f.AccountsURL(zoho.US) + "/oauth/v2/token"
		outs := together(200, func(i int) outcome {
			switch i % 10 {
			case 0:
				return rawGet(f.hc, f.AccountsURL(zoho.US)+"/oauth/v2/auth?"+authParams(web).Encode(), "")
			case 1:
				// another goroutine may switch the profile back to kaizen4
				// and with it the grant rate limit: a refusal is fine here
				code, err := f.SelfClientCode(sc.ID, fakeserver.SelfClientCodeRequest{Scopes: []string{testScope}})
				if err != nil {
					return rawGet(f.hc, f.URL+"/", "")
				}
				return rawPostForm(f.hc, tokenURL, exchangeForm(sc, zoho.US, code))
			case 2:
				return rawPostForm(f.hc, tokenURL, refreshForm(web, zoho.US, t.RefreshToken()))
			case 3:
				return rawGet(f.hc, f.APIURL(zoho.US)+"/crm/v8/users?type=CurrentUser", "Zoho-oauthtoken "+t.AccessToken())
			case 4:
				return rawGet(f.hc, f.AccountsURL(zoho.US)+"/oauth/user/info", "Bearer "+t.AccessToken())
			case 5:
				_ = f.Advance(time.Second)
				_, _ = f.Tokens("dev@us.zconform.test")
				_ = f.LiveAccessTokens(t.RefreshToken())
				_ = f.Requests()
				_ = f.Clients()
				return rawGet(f.hc, f.ControlURL()+"/requests?since=3", "")
			case 6:
				if i%20 == 6 {
					_ = f.Break(zoho.Note8)
				} else {
					f.Unbreak(zoho.Note8)
				}
				_ = f.SetProfile(zoho.Kaizen4)
				return rawGet(f.hc, f.ControlURL()+"/limits", "")
			case 7:
				_, _ = f.RegisterClient(fakeserver.ClientSpec{Type: fakeserver.Device, Name: fmt.Sprint("tv ", i), Homepage: testHomepage})
				_, _ = f.AddUser(fakeserver.UserSpec{Email: fmt.Sprintf("u%d@example.com", i), DC: zoho.EU})
				return rawGet(f.hc, f.ControlURL()+"/users", "")
			case 8:
				o := rawPostForm(f.hc, tokenURL, refreshForm(web, zoho.US, t.RefreshToken()))
				if a := o.str("access_token"); a != "" {
					return rawPostForm(f.hc, f.AccountsURL(zoho.US)+"/oauth/v2/token/revoke", url.Values{"token": {a}})
				}
				return o
			default:
				return rawGet(f.hc, f.URL+"/", "")
			}
		})
		expectNoTransportErrors(outs)
		Expect(len(f.LiveAccessTokens(t.RefreshToken()))).To(BeNumerically("<=", 30))
		Expect(len(f.Requests())).To(BeNumerically(">=", 120))
	})
})

package fakeserver_test

import (
	"errors"
	"net/http"
	"time"

	. "github.com/onsi/ginkgo/v2"
	. "github.com/onsi/gomega"

	"github.com/zconform/zconform/fakeserver"
	"github.com/zconform/zconform/fixtures/zoho"
)

// refreshTokensOf lists a user's live refresh tokens, oldest first.
func (f *fake) refreshTokensOf(email string) []string {
	GinkgoHelper()
	toks, err := f.Tokens(email)
	Expect(err).NotTo(HaveOccurred())
	var out []string
	for _, rt := range toks.RefreshTokens {
		out = append(out, rt.Token)
	}
	return out
}

var (
	_ = registerSeedCheck(zoho.Note4, func(f *fake) {
		web := f.webClient(zoho.US)
		for i := 0; i < f.p.GrantLimit; i++ {
			f.grant(zoho.US, web)
		}
		expectAuthError(f.authorize(zoho.US, authParams(web)), zoho.ErrAccessDenied)
		// the limit is per client
		f.grant(zoho.US, f.webClient(zoho.US))
		f.advance(f.p.GrantWindow - time.Second)
		expectAuthError(f.authorize(zoho.US, authParams(web)), zoho.ErrAccessDenied)
		f.advance(time.Second)
		expectTokens(f.exchange(zoho.US, web, f.grant(zoho.US, web)))

		// self-client codes count too
		sc := f.selfClient(zoho.US, "")
		for i := 0; i < f.p.GrantLimit; i++ {
			f.selfCode(sc, 0)
		}
		code, err := f.SelfClientCode(sc.ID, fakeserver.SelfClientCodeRequest{Scopes: []string{testScope}})
		var rerr *fakeserver.RegistrationError
		Expect(errors.As(err, &rerr)).To(BeTrue(), "code %s issued past the limit", code)
		Expect(rerr.Seed).To(Equal(zoho.Note4))
		Expect(rerr.Message).To(ContainSubstring("Access Denied"))
		Expect(code).To(BeEmpty())
		f.advance(f.p.GrantWindow)
		f.selfCode(sc, 0)
	})

	_ = registerSeedCheck(zoho.Note7, func(f *fake) {
		web := f.webClient(zoho.US)
		user := "dev@us.zconform.test"
		t := f.offlineTokens(zoho.US, web)
		f.mintAccess(zoho.US, web, t.RefreshToken(), f.p.AccessCap+5)
		Expect(f.LiveAccessTokens(t.RefreshToken())).To(HaveLen(f.p.AccessCap))
		toks, err := f.Tokens(user)
		Expect(err).NotTo(HaveOccurred())
		Expect(toks.RefreshTokens).To(HaveLen(1))
		Expect(toks.RefreshTokens[0].AccessTokens).To(HaveLen(f.p.AccessCap))

		for i := 0; i < f.p.RefreshCap+2; i++ {
			f.offlineTokens(zoho.US, web)
		}
		Expect(f.refreshTokensOf(user)).To(HaveLen(f.p.RefreshCap))
		// another client of the same user: the cap is per user (kaizen4) or
		// per user and client (accounts-2025)
		other := f.webClient(zoho.US)
		f.offlineTokens(zoho.US, other)
		if f.p.RefreshCapPerClient {
			Expect(f.refreshTokensOf(user)).To(HaveLen(f.p.RefreshCap + 1))
		} else {
			Expect(f.refreshTokensOf(user)).To(HaveLen(f.p.RefreshCap))
		}
	})

	_ = registerSeedCheck(zoho.Note8, func(f *fake) {
		web := f.webClient(zoho.US)
		t := f.offlineTokens(zoho.US, web)
		ats := append([]string{t.AccessToken()}, f.mintAccess(zoho.US, web, t.RefreshToken(), f.p.AccessCap)...)
		Expect(ats).To(HaveLen(f.p.AccessCap + 1)) // the 31st (15+1st) access token
		f.expectTokenRejected(zoho.US, ats[0])
		f.expectTokenWorks(zoho.US, ats[1])
		f.expectTokenWorks(zoho.US, ats[len(ats)-1])
		Expect(f.LiveAccessTokens(t.RefreshToken())).To(Equal(ats[1:]))

		alice := f.addUser("alice@example.com", zoho.US)
		c := f.register(fakeserver.ClientSpec{
			Type: fakeserver.WebBased, Name: "alice app", Homepage: testHomepage,
			RedirectURIs: []string{testRedirectURI}, User: alice.Email,
		})
		var issued []tokenResult
		for i := 0; i < f.p.RefreshCap; i++ {
			issued = append(issued, f.offlineTokens(zoho.US, c))
		}
		f.expectTokenWorks(zoho.US, issued[0].AccessToken())
		newest := f.offlineTokens(zoho.US, c) // the 21st
		expectTokenError(f.refresh(zoho.US, c, issued[0].RefreshToken()), zoho.ErrInvalidCode)
		f.expectTokenRejected(zoho.US, issued[0].AccessToken())
		Expect(f.LiveAccessTokens(issued[0].RefreshToken())).To(BeEmpty())
		f.expectTokenWorks(zoho.US, issued[1].AccessToken())
		f.expectTokenWorks(zoho.US, newest.AccessToken())
		expectTokens(f.refresh(zoho.US, c, issued[1].RefreshToken()))
		expectTokens(f.refresh(zoho.US, c, newest.RefreshToken()))
		var want []string
		for _, r := range issued[1:] {
			want = append(want, r.RefreshToken())
		}
		Expect(f.refreshTokensOf(alice.Email)).To(Equal(append(want, newest.RefreshToken())))
	})
)

var _ = Describe("Limits and profiles", func() {
	It("has the two profiles of section 4, kaizen4 first and by default", func() {
		Expect(zoho.ProfileNames()).To(Equal([]string{zoho.Kaizen4, zoho.Accounts2025}))
		f := fakeserver.New()
		DeferCleanup(f.Close)
		Expect(f.Profile()).To(Equal(zoho.Kaizen4))
		Expect(f.Limits()).To(Equal(zoho.MustProfile(zoho.Kaizen4)))
	})

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

			It("runs the numbers of the doc", func() {
				l := f.Limits()
				Expect(f.Profile()).To(Equal(p.Name))
				Expect(l.GrantLifetime).To(Equal(p.GrantLifetime))
				Expect(l.SelfClientLifetimes).To(Equal([]time.Duration{3 * time.Minute, 5 * time.Minute, 7 * time.Minute, 10 * time.Minute}))
				Expect(l.SelfClientDefaultLifetime).To(Equal(3 * time.Minute))
				Expect(l.GrantRate).To(Equal(zoho.Rate{Limit: p.GrantLimit, Window: p.GrantWindow}))
				Expect(l.AccessTokenLifetime).To(Equal(time.Hour))
				Expect(l.AccessTokensPerRefreshToken).To(Equal(p.AccessCap))
				Expect(l.RefreshTokensPerUser).To(Equal(p.RefreshCap))
				Expect(l.RefreshTokensPerClient).To(Equal(p.RefreshCapPerClient))
				Expect(l.RefreshThrottle).To(Equal(zoho.Rate{Limit: p.ThrottleLimit, Window: p.ThrottleWindow}))
				Expect(l.WrongSecretError).To(Equal(p.WrongSecret))
				Expect(l.FailedExchangeBurnsGrant).To(BeTrue())
			})

			It("counts grant tokens in a sliding window", func() {
				step := p.GrantWindow / time.Duration(p.GrantLimit)
				for i := 0; i < p.GrantLimit; i++ {
					f.grant(zoho.US, web)
					f.advance(step)
				}
				// the first grant has just left the window
				f.grant(zoho.US, web)
				expectAuthError(f.authorize(zoho.US, authParams(web)), zoho.ErrAccessDenied)
				f.advance(step)
				f.grant(zoho.US, web)
			})

			It("lets refused grant attempts not count", func() {
				for i := 0; i < p.GrantLimit; i++ {
					f.grant(zoho.US, web)
				}
				for i := 0; i < 20; i++ {
					expectAuthError(f.authorize(zoho.US, authParams(web)), zoho.ErrAccessDenied)
				}
				f.advance(p.GrantWindow)
				for i := 0; i < p.GrantLimit; i++ {
					f.grant(zoho.US, web)
				}
			})

			It("counts the refresh-token cap per user: another user has their own", func() {
				alice := f.addUser("alice@example.com", zoho.US)
				t := f.offlineTokens(zoho.US, web)
				c := f.register(fakeserver.ClientSpec{
					Type: fakeserver.WebBased, Name: "alice app", Homepage: testHomepage,
					RedirectURIs: []string{testRedirectURI}, User: alice.Email,
				})
				for i := 0; i < p.RefreshCap+1; i++ {
					f.offlineTokens(zoho.US, c)
				}
				Expect(f.refreshTokensOf(alice.Email)).To(HaveLen(p.RefreshCap))
				Expect(f.refreshTokensOf("dev@us.zconform.test")).To(Equal([]string{t.RefreshToken()}))
				expectTokens(f.refresh(zoho.US, web, t.RefreshToken()))
			})

			if p.ThrottleLimit > 0 {
				It("throttles refreshes with HTTP 400 Access Denied, per refresh token", func() {
					t := f.offlineTokens(zoho.US, web)
					for i := 0; i < p.ThrottleLimit; i++ {
						expectTokens(f.refresh(zoho.US, web, t.RefreshToken()))
					}
					r := f.refresh(zoho.US, web, t.RefreshToken())
					Expect(r.Status).To(Equal(http.StatusBadRequest))
					Expect(r.ContentType()).To(Equal("application/json;charset=UTF-8"))
					Expect(r.Raw()).To(Equal(`{"error":"Access Denied","error_description":"You have made too many requests continuously. Please try again after some time."}`))
					// another refresh token is not throttled
					t2 := f.offlineTokens(zoho.US, web)
					expectTokens(f.refresh(zoho.US, web, t2.RefreshToken()))
					f.advance(p.ThrottleWindow - time.Second)
					Expect(f.refresh(zoho.US, web, t.RefreshToken()).Status).To(Equal(http.StatusBadRequest))
					f.advance(time.Second)
					expectTokens(f.refresh(zoho.US, web, t.RefreshToken()))
				})
			} else {
				It("does not throttle refreshes", func() {
					t := f.offlineTokens(zoho.US, web)
					for i := 0; i < p.AccessCap+10; i++ {
						expectTokens(f.refresh(zoho.US, web, t.RefreshToken()))
					}
					Expect(f.LiveAccessTokens(t.RefreshToken())).To(HaveLen(p.AccessCap))
				})
			}

			It("lets expired access tokens leave the cap", func() {
				t := f.offlineTokens(zoho.US, web)
				f.advance(time.Hour)
				Expect(f.LiveAccessTokens(t.RefreshToken())).To(BeEmpty())
				fresh := f.mintAccess(zoho.US, web, t.RefreshToken(), 2)
				Expect(f.LiveAccessTokens(t.RefreshToken())).To(Equal(fresh))
			})
		})
	}

	Describe("overrides", func() {
		It("applies WithLimits after the profile", func() {
			f := newFake(profileAccounts2025, fakeserver.WithLimits(func(l *zoho.Limits) {
				l.AccessTokensPerRefreshToken = 3
				l.RefreshThrottle = zoho.Rate{}
			}))
			Expect(f.Limits().GrantLifetime).To(Equal(120 * time.Second))
			web := f.webClient(zoho.US)
			t := f.offlineTokens(zoho.US, web)
			ats := append([]string{t.AccessToken()}, f.mintAccess(zoho.US, web, t.RefreshToken(), 20)...)
			Expect(f.LiveAccessTokens(t.RefreshToken())).To(Equal(ats[len(ats)-3:]))
		})

		It("switches profiles and limits at run time", func() {
			f := newFake(profileKaizen4)
			Expect(f.SetProfile(zoho.Accounts2025)).To(Succeed())
			Expect(f.Profile()).To(Equal(zoho.Accounts2025))
			Expect(f.Limits()).To(Equal(zoho.MustProfile(zoho.Accounts2025)))
			web := f.webClient(zoho.US)
			code := f.grant(zoho.US, web)
			f.advance(100 * time.Second)
			expectTokens(f.exchange(zoho.US, web, code))

			Expect(f.SetProfile("nope")).To(MatchError(ContainSubstring("kaizen4, accounts-2025")))
			l := f.Limits()
			l.GrantLifetime = 5 * time.Second
			Expect(f.SetLimits(l)).To(Succeed())
			code = f.grant(zoho.US, web)
			f.advance(6 * time.Second)
			expectTokenError(f.exchange(zoho.US, web, code), zoho.ErrInvalidCode)
			l.GrantLifetime = 0
			l.WrongSecretError = "nope"
			Expect(f.SetLimits(l)).To(MatchError(And(ContainSubstring("grant_lifetime must be positive"), ContainSubstring("wrong_secret_error"))))
			Expect(f.Limits().GrantLifetime).To(Equal(5 * time.Second))
		})

		It("refuses an unknown profile or invalid limits at New", func() {
			Expect(func() { fakeserver.New(fakeserver.WithProfile("nope")) }).To(Panic())
			Expect(func() {
				fakeserver.New(fakeserver.WithLimits(func(l *zoho.Limits) { l.AccessTokenLifetime = 0 }))
			}).To(Panic())
		})
	})
})

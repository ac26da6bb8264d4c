package fakeserver_test

import (
	"errors"
	"fmt"
	"net/http"
	"slices"
	"time"

	. "github.com/onsi/ginkgo/v2"
	. "github.com/onsi/gomega"

	"github.com/zconform/zconform/fakeserver"
	"github.com/zconform/zconform/fixtures/zoho"
)

// fullSpec fills every field the console has for the type.
func fullSpec(t fakeserver.ClientType) fakeserver.ClientSpec {
	s := fakeserver.ClientSpec{
		Type: t, Name: "zconform " + string(t), Homepage: testHomepage, RedirectURIs: []string{testRedirectURI},
	}
	if t == fakeserver.JavaScript {
		s.JSDomains = []string{testHomepage}
	}
	return s
}

func withoutField(s fakeserver.ClientSpec, field string) fakeserver.ClientSpec {
	switch field {
	case "name":
		s.Name = ""
	case "homepage":
		s.Homepage = ""
	case "redirect_uris":
		s.RedirectURIs = nil
	case "js_domains":
		s.JSDomains = nil
	default:
		panic(field)
	}
	return s
}

// fieldMessage is the console's message for each field (the seed's words).
var fieldMessage = map[string]string{
	"name": zoho.MsgClientName, "homepage": zoho.MsgHomepage,
	"redirect_uris": zoho.MsgRedirectURI, "js_domains": zoho.MsgJSDomain,
}

// expectRegError asserts that the console refuses spec with the message.
func expectRegError(f *fake, spec fakeserver.ClientSpec, field, message string, seed zoho.SeedID) {
	GinkgoHelper()
	c, err := f.RegisterClient(spec)
	var rerr *fakeserver.RegistrationError
	Expect(errors.As(err, &rerr)).To(BeTrue(), "the console registered %+v as %s (err %v)", spec, c.ID, err)
	Expect(rerr.Field).To(Equal(field))
	Expect(rerr.Message).To(Equal(message))
	Expect(rerr.Seed).To(Equal(seed))
}

// mandatoryCheck is the seed's matrix for one client type: the complete
// form registers, leaving out a mandatory field is refused with that
// field's message, leaving out an optional one registers.
func mandatoryCheck(t fakeserver.ClientType, seed zoho.SeedID, required ...string) seedCheck {
	return func(f *fake) {
		n := 0
		prepare := func(s fakeserver.ClientSpec) fakeserver.ClientSpec {
			if t == fakeserver.SelfClient { // one self client per user
				n++
				s.User = f.addUser(fmt.Sprintf("self%d@example.com", n), zoho.US).Email
			}
			return s
		}
		c := f.register(prepare(fullSpec(t)))
		Expect(c.Type).To(Equal(t))
		fields := []string{"name", "homepage", "redirect_uris"}
		if t == fakeserver.JavaScript {
			fields = append(fields, "js_domains")
		}
		for _, field := range fields {
			spec := prepare(withoutField(fullSpec(t), field))
			if slices.Contains(required, field) {
				expectRegError(f, spec, field, fieldMessage[field], seed)
			} else {
				f.register(spec)
			}
		}
		bare := prepare(fakeserver.ClientSpec{Type: t})
		if len(required) == 0 {
			c := f.register(bare)
			Expect(c.ID).To(MatchRegexp(zoho.ClientIDPattern.String()))
		} else {
			expectRegError(f, bare, required[0], fieldMessage[required[0]], seed)
		}
	}
}

var (
	_ = registerSeedCheck(zoho.RegMandatoryJS, mandatoryCheck(fakeserver.JavaScript, zoho.RegMandatoryJS, "name", "homepage", "redirect_uris", "js_domains"))
	_ = registerSeedCheck(zoho.RegMandatoryWeb, mandatoryCheck(fakeserver.WebBased, zoho.RegMandatoryWeb, "name", "homepage", "redirect_uris"))
	_ = registerSeedCheck(zoho.RegMandatoryMobile, mandatoryCheck(fakeserver.Mobile, zoho.RegMandatoryMobile, "name", "homepage", "redirect_uris"))
	_ = registerSeedCheck(zoho.RegMandatorySelf, mandatoryCheck(fakeserver.SelfClient, zoho.RegMandatorySelf))
	_ = registerSeedCheck(zoho.RegMandatoryDevice, mandatoryCheck(fakeserver.Device, zoho.RegMandatoryDevice, "name", "homepage"))

	_ = registerSeedCheck(zoho.RegName, func(f *fake) {
		for _, name := range []string{"My App!", "crm-sync", "me@example", "x#y", "tab\tname", "<b>app</b>", "app.io", "50%"} {
			spec := fullSpec(fakeserver.WebBased)
			spec.Name = name
			expectRegError(f, spec, "name", zoho.MsgClientName, zoho.RegName)
		}
		for _, name := range []string{"My_App & Co", "CRM sync 2", "Zoho_CRM_Sync"} {
			spec := fullSpec(fakeserver.WebBased)
			spec.Name = name
			Expect(f.register(spec).Name).To(Equal(name))
		}
	})

	_ = registerSeedCheck(zoho.RegJSDomain, func(f *fake) {
		for _, domains := range [][]string{
			{"example.com"}, {"www.example.com"}, {"ftp://example.com"}, {"httpx"},
			{"https://ok.example.com,example.com"}, {"https://ok.example.com", "//example.com"},
		} {
			spec := fullSpec(fakeserver.JavaScript)
			spec.JSDomains = domains
			expectRegError(f, spec, "js_domains", zoho.MsgJSDomain, zoho.RegJSDomain)
		}
		spec := fullSpec(fakeserver.JavaScript)
		spec.JSDomains = []string{"https://a.example.com, http://b.example.com:8080"}
		Expect(f.register(spec).JSDomains).To(Equal([]string{"https://a.example.com", "http://b.example.com:8080"}))
	})

	_ = registerSeedCheck(zoho.RegRedirect, func(f *fake) {
		for _, t := range []fakeserver.ClientType{fakeserver.WebBased, fakeserver.JavaScript, fakeserver.Mobile, fakeserver.Device} {
			for _, uri := range []string{
				"www.your-domain.com/callback", "your-domain", "ftp://www.your-domain.com/callback", "https://",
				"https://www.your-domain.com/callback#frag", "javascript:alert(1)", "https://www.your domain.com/callback",
			} {
				spec := fullSpec(t)
				spec.RedirectURIs = []string{uri}
				expectRegError(f, spec, "redirect_uris", zoho.MsgRedirectURI, zoho.RegRedirect)
			}
		}
		spec := fullSpec(fakeserver.WebBased)
		spec.RedirectURIs = []string{"https://www.your-domain.com/callback, http://localhost:3000/callback"}
		Expect(f.register(spec).RedirectURIs).To(Equal([]string{"https://www.your-domain.com/callback", "http://localhost:3000/callback"}))
	})

	_ = registerSeedCheck(zoho.RegHomepage, func(f *fake) {
		for _, t := range []fakeserver.ClientType{fakeserver.WebBased, fakeserver.JavaScript, fakeserver.Mobile, fakeserver.Device} {
			for _, hp := range []string{"www.yourdomain.com", "yourdomain", "https://", "mailto:dev@yourdomain.com", "ftp://www.yourdomain.com"} {
				spec := fullSpec(t)
				spec.Homepage = hp
				expectRegError(f, spec, "homepage", zoho.MsgHomepage, zoho.RegHomepage)
			}
		}
		spec := fullSpec(fakeserver.WebBased)
		spec.Homepage = "https://www.yourdomain.com"
		Expect(f.register(spec).Homepage).To(Equal("https://www.yourdomain.com"))
	})

	_ = registerSeedCheck(zoho.SelfScope, func(f *fake) {
		sc := f.selfClient(zoho.US, "")
		for _, scopes := range [][]string{{"ZohoCRM.user.ALL"}, {"ZohoCRM.users.ALL", "ZohoCRM.user.ALL"}, {"ZohoCRM.users.ALL,ZohoCRM.user.ALL"}, {"ZohoCRM.users.EVERYTHING"}} {
			code, err := f.SelfClientCode(sc.ID, fakeserver.SelfClientCodeRequest{Scopes: scopes})
			var rerr *fakeserver.RegistrationError
			Expect(errors.As(err, &rerr)).To(BeTrue(), "a code was issued for %v: %s (err %v)", scopes, code, err)
			Expect(code).To(BeEmpty())
			Expect(rerr.Field).To(Equal("scopes"))
			Expect(rerr.Message).To(HavePrefix(zoho.MsgInvalidScope))
			Expect(rerr.Seed).To(Equal(zoho.SelfScope))
		}
		// the console's HTTP form says the same and carries no code
		r := f.ctl(http.MethodPost, "/clients/"+sc.ID+"/self-client-code", `{"scopes":["ZohoCRM.user.ALL"]}`)
		Expect(r.Status).To(Equal(http.StatusBadRequest))
		Expect(r.JSON()).To(Equal(map[string]any{"error": zoho.MsgInvalidScope + ": ZohoCRM.user.ALL", "field": "scopes", "seed": string(zoho.SelfScope)}))
		// a correct scope gives a code that works
		t := expectTokens(f.exchange(zoho.US, sc, f.selfCode(sc, 0, "ZohoCRM.users.ALL")))
		Expect(t.RefreshToken()).To(MatchRegexp(zoho.TokenPattern.String()))
	})
)

var _ = Describe("The developer console", func() {
	var f *fake
	BeforeEach(func() { f = newFake(profileKaizen4) })

	It("issues client IDs and secrets in Zoho's formats for every client type", func() {
		seen := map[string]bool{}
		for _, t := range fakeserver.ClientTypes {
			spec := fullSpec(t)
			if t == fakeserver.SelfClient {
				spec = fakeserver.ClientSpec{Type: t}
			}
			c := f.register(spec)
			Expect(c.ID).To(MatchRegexp(zoho.ClientIDPattern.String()))
			Expect(c.Secret).To(MatchRegexp(zoho.ClientSecretPattern.String()))
			Expect(c.DC).To(Equal(zoho.US))
			Expect(c.User).To(Equal("dev@us.zconform.test"))
			Expect(c.Secrets).To(Equal(map[zoho.DC]string{zoho.US: c.Secret}))
			Expect(seen).NotTo(HaveKey(c.ID))
			Expect(seen).NotTo(HaveKey(c.Secret))
			seen[c.ID], seen[c.Secret] = true, true
			got, err := f.RegisteredClient(c.ID)
			Expect(err).NotTo(HaveOccurred())
			Expect(got).To(Equal(c))
		}
		Expect(f.Clients()).To(HaveLen(len(fakeserver.ClientTypes)))
	})

	It("keeps fixed credentials and refuses badly formed or duplicate ones", func() {
		spec := fullSpec(fakeserver.WebBased)
		spec.ID, spec.Secret = "1000.ABCDEFGHIJKLMNOPQRSTUVWXYZ0123", "0123456789abcdef0123456789abcdef01234567ab"
		c := f.register(spec)
		Expect(c.ID).To(Equal(spec.ID))
		Expect(c.Secret).To(Equal(spec.Secret))
		_, err := f.RegisterClient(spec)
		Expect(err).To(MatchError(ContainSubstring("already registered")))
		for _, bad := range []fakeserver.ClientSpec{
			{Type: fakeserver.SelfClient, ID: "1000.abc"},
			{Type: fakeserver.SelfClient, ID: "1000.ABCDEFGHIJKLMNOPQRSTUVWXYZ0124", Secret: "NOTHEX"},
		} {
			_, err := f.RegisterClient(bad)
			Expect(err).To(MatchError(ContainSubstring("Zoho's format")))
		}
	})

	It("refuses an unknown client type, DC or user with a clear message", func() {
		_, err := f.RegisterClient(fakeserver.ClientSpec{Type: "desktop"})
		var rerr *fakeserver.RegistrationError
		Expect(errors.As(err, &rerr)).To(BeTrue())
		Expect(rerr.Field).To(Equal("type"))
		Expect(rerr.Message).To(ContainSubstring("javascript, web, mobile, self, device"))
		spec := fullSpec(fakeserver.WebBased)
		spec.DC = "xx"
		_, err = f.RegisterClient(spec)
		Expect(err).To(MatchError(ContainSubstring("unknown data centre")))
		spec.DC, spec.User = zoho.EU, "nobody@example.com"
		_, err = f.RegisterClient(spec)
		Expect(err).To(MatchError(ContainSubstring("no user")))
	})

	It("registers a developer's clients in their own DC's console", func() {
		eu := f.addUser("dev@eu.example", zoho.EU)
		c, err := f.RegisterClient(fakeserver.ClientSpec{Type: fakeserver.SelfClient, User: eu.Email})
		Expect(err).NotTo(HaveOccurred())
		Expect(c.DC).To(Equal(zoho.EU))
		_, err = f.RegisterClient(fakeserver.ClientSpec{Type: fakeserver.SelfClient, User: eu.Email, DC: zoho.US})
		Expect(err).To(MatchError(ContainSubstring("user dev@eu.example lives in EU and registers clients in the EU console: leave dc out or set it to eu")))
		_, err = f.RegisterClient(fakeserver.ClientSpec{Type: fakeserver.WebBased, Name: "EU app", Homepage: "https://www.example.com",
			RedirectURIs: []string{"https://www.example.com/cb"}, User: eu.Email, DC: zoho.EU})
		Expect(err).NotTo(HaveOccurred())
	})

	It("parses client type names as people write them", func() {
		for in, want := range map[string]fakeserver.ClientType{
			"web": fakeserver.WebBased, "Web-based": fakeserver.WebBased, "JS": fakeserver.JavaScript,
			"JavaScript": fakeserver.JavaScript, "Self Client": fakeserver.SelfClient, "self_client": fakeserver.SelfClient,
			"mobile": fakeserver.Mobile, "DEVICE": fakeserver.Device,
		} {
			got, err := fakeserver.ParseClientType(in)
			Expect(err).NotTo(HaveOccurred())
			Expect(got).To(Equal(want), in)
		}
		_, err := fakeserver.ParseClientType("desktop")
		Expect(err).To(HaveOccurred())
	})

	It("treats blank fields as missing", func() {
		spec := fullSpec(fakeserver.WebBased)
		spec.Name = "   "
		expectRegError(f, spec, "name", zoho.MsgClientName, zoho.RegMandatoryWeb)
		spec = fullSpec(fakeserver.WebBased)
		spec.RedirectURIs = []string{" , "}
		expectRegError(f, spec, "redirect_uris", zoho.MsgRedirectURI, zoho.RegMandatoryWeb)
	})

	It("has no JavaScript domain field for the other client types [assumed]", func() {
		for _, t := range []fakeserver.ClientType{fakeserver.WebBased, fakeserver.Mobile, fakeserver.Device, fakeserver.SelfClient} {
			spec := fullSpec(t)
			spec.JSDomains = []string{testHomepage}
			_, err := f.RegisterClient(spec)
			var rerr *fakeserver.RegistrationError
			Expect(errors.As(err, &rerr)).To(BeTrue(), string(t))
			Expect(rerr.Field).To(Equal("js_domains"))
		}
	})

	It("gives each user one self client [assumed]", func() {
		first := f.selfClient(zoho.US, "")
		_, err := f.RegisterClient(fakeserver.ClientSpec{Type: fakeserver.SelfClient})
		var rerr *fakeserver.RegistrationError
		Expect(errors.As(err, &rerr)).To(BeTrue())
		Expect(rerr.Field).To(Equal("type"))
		Expect(rerr.Message).To(ContainSubstring(first.ID))
		other := f.addUser("other@example.com", zoho.US)
		second := f.selfClient(zoho.US, other.Email)
		Expect(second.User).To(Equal(other.Email))
		// a self client in another DC belongs to that DC's default user
		Expect(f.selfClient(zoho.EU, "").User).To(Equal("dev@eu.zconform.test"))
	})

	Context("self client Generate Code", func() {
		It("offers the profile's lifetimes only and refuses other clients", func() {
			sc := f.selfClient(zoho.US, "")
			for _, d := range []time.Duration{3 * time.Minute, 5 * time.Minute, 7 * time.Minute, 10 * time.Minute} {
				f.selfCode(sc, d)
			}
			_, err := f.SelfClientCode(sc.ID, fakeserver.SelfClientCodeRequest{Scopes: []string{testScope}, Lifetime: 4 * time.Minute})
			Expect(err).To(MatchError(ContainSubstring("3m0s, 5m0s, 7m0s, 10m0s")))
			_, err = f.SelfClientCode(sc.ID, fakeserver.SelfClientCodeRequest{})
			var rerr *fakeserver.RegistrationError
			Expect(errors.As(err, &rerr)).To(BeTrue())
			Expect(rerr.Message).To(Equal(zoho.MsgInvalidScope))
			web := f.webClient(zoho.US)
			_, err = f.SelfClientCode(web.ID, fakeserver.SelfClientCodeRequest{Scopes: []string{testScope}})
			Expect(err).To(MatchError(ContainSubstring("for self clients")))
			_, err = f.SelfClientCode("1000.NOSUCHCLIENT000000000000000000", fakeserver.SelfClientCodeRequest{Scopes: []string{testScope}})
			Expect(err).To(MatchError(ContainSubstring("no client")))
		})

		It("accepts scopes added to the server", func() {
			sc := f.selfClient(zoho.US, "")
			_, err := f.SelfClientCode(sc.ID, fakeserver.SelfClientCodeRequest{Scopes: []string{"ZohoCRM.custom.ALL"}})
			Expect(err).To(HaveOccurred())
			f.AddScopes("ZohoCRM.custom.ALL")
			f.selfCode(sc, 0, "ZohoCRM.custom.ALL")
			g := newFake(profileKaizen4, fakeserver.WithScopes("ZohoDesk.tickets.READ"))
			g.selfCode(g.selfClient(zoho.US, ""), 0, "ZohoDesk.tickets.READ")
		})

		It("issues codes for the client's own user, exchangeable without a redirect URI", func() {
			alice := f.addUser("alice@example.com", zoho.US)
			sc := f.selfClient(zoho.US, alice.Email)
			t := expectTokens(f.exchange(zoho.US, sc, f.selfCode(sc, 0)))
			Expect(t.RefreshToken()).NotTo(BeEmpty())
			info := f.userInfo(zoho.US, "Bearer", t.AccessToken())
			Expect(info.Status).To(Equal(http.StatusOK))
			Expect(info.JSON()).To(HaveKeyWithValue("Email", alice.Email))
		})
	})

	It("answers registration errors on the control API with the console's exact message", func() {
		for _, c := range []struct{ body, field, msg, seed string }{
			{`{"type":"web","name":"My App!","homepage":"https://a.example.com","redirect_uris":["https://a.example.com/cb"]}`, "name", zoho.MsgClientName, "K4-REG-NAME"},
			{`{"type":"web","name":"App","homepage":"a.example.com","redirect_uris":["https://a.example.com/cb"]}`, "homepage", zoho.MsgHomepage, "K4-REG-HOMEPAGE"},
			{`{"type":"web","name":"App","homepage":"https://a.example.com","redirect_uris":["a.example.com/cb"]}`, "redirect_uris", zoho.MsgRedirectURI, "K4-REG-REDIRECT"},
			{`{"type":"javascript","name":"App","homepage":"https://a.example.com","redirect_uris":["https://a.example.com/cb"],"js_domains":["a.example.com"]}`, "js_domains", zoho.MsgJSDomain, "K4-REG-JSDOMAIN"},
			{`{"type":"javascript","name":"App","homepage":"https://a.example.com","redirect_uris":["https://a.example.com/cb"]}`, "js_domains", zoho.MsgJSDomain, "K4-REG-MANDATORY-JS"},
			{`{"type":"web","name":"App","homepage":"https://a.example.com"}`, "redirect_uris", zoho.MsgRedirectURI, "K4-REG-MANDATORY-WEB"},
			{`{"type":"mobile","homepage":"https://a.example.com","redirect_uris":["https://a.example.com/cb"]}`, "name", zoho.MsgClientName, "K4-REG-MANDATORY-MOBILE"},
			{`{"type":"device","name":"App"}`, "homepage", zoho.MsgHomepage, "K4-REG-MANDATORY-DEVICE"},
		} {
			r := f.ctl(http.MethodPost, "/clients", c.body)
			Expect(r.Status).To(Equal(http.StatusBadRequest), c.body)
			Expect(r.JSON()).To(Equal(map[string]any{"error": c.msg, "field": c.field, "seed": c.seed}), c.body)
		}
		var self fakeserver.Client
		f.ctlOK(http.MethodPost, "/clients", `{"type":"self"}`, &self)
		Expect(self.ID).To(MatchRegexp(zoho.ClientIDPattern.String()))
		var device fakeserver.Client
		f.ctlOK(http.MethodPost, "/clients", `{"type":"device","name":"TV app","homepage":"https://tv.example.com"}`, &device)
		Expect(device.Type).To(Equal(fakeserver.Device))
	})
})

package fakeserver_test

import (
	"encoding/json"
	"fmt"
	"net/http"
	"net/url"
	"strings"
	"time"

	"github.com/zconform/zconform/fakeserver"
	"github.com/zconform/zconform/fixtures/zoho"
)

// postToken calls a token endpoint with form parameters and decodes the
// JSON answer.
func postToken(hc *http.Client, tokenURL string, form url.Values) map[string]any {
	resp, err := hc.PostForm(tokenURL, form)
	if err != nil {
		panic(err)
	}
	defer resp.Body.Close()
	var body map[string]any
	if err := json.NewDecoder(resp.Body).Decode(&body); err != nil {
		panic(err)
	}
	return body
}

// The whole redirect flow against the fake: register a client, authorize,
// exchange the grant token, and see the grant die after one minute of
// virtual time.
func Example() {
	srv := fakeserver.New()
	defer srv.Close()

	app, err := srv.RegisterClient(fakeserver.ClientSpec{
		Type: fakeserver.WebBased, Name: "Example app", Homepage: "https://example.com",
		RedirectURIs: []string{"https://example.com/callback"},
	})
	if err != nil {
		panic(err)
	}
	hc := srv.Client() // does not follow redirects
	authorize := func() url.Values {
		q := url.Values{
			"client_id": {app.ID}, "response_type": {"code"}, "scope": {"ZohoCRM.users.ALL"},
			"redirect_uri": {"https://example.com/callback"}, "access_type": {"offline"}, "state": {"s1"},
		}
		resp, err := hc.Get(srv.AccountsURL(zoho.US) + "/oauth/v2/auth?" + q.Encode())
		if err != nil {
			panic(err)
		}
		resp.Body.Close()
		loc, _ := url.Parse(resp.Header.Get("Location"))
		return loc.Query()
	}
	exchange := func(redirect url.Values) map[string]any {
		return postToken(hc, redirect.Get("accounts-server")+"/oauth/v2/token", url.Values{
			"grant_type": {"authorization_code"}, "client_id": {app.ID}, "client_secret": {app.Secret},
			"redirect_uri": {"https://example.com/callback"}, "code": {redirect.Get("code")},
		})
	}

	redirect := authorize()
	fmt.Println("location:", redirect.Get("location"), "state:", redirect.Get("state"))
	tokens := exchange(redirect)
	fmt.Println("expires_in:", tokens["expires_in"], "refresh token issued:", tokens["refresh_token"] != nil)
	fmt.Println("same grant again:", exchange(redirect)["error"])

	late := authorize()
	_ = srv.Advance(61 * time.Second) // virtual: returns at once
	fmt.Println("grant after 61 s:", exchange(late)["error"])
	// Output:
	// location: us state: s1
	// expires_in: 3600 refresh token issued: true
	// same grant again: invalid_code
	// grant after 61 s: invalid_code
}

// The console refuses a client as Zoho's Developer Console does.
func ExampleServer_RegisterClient() {
	srv := fakeserver.NewUnstarted() // console only: no listener needed
	_, err := srv.RegisterClient(fakeserver.ClientSpec{
		Type: fakeserver.WebBased, Name: "Sales-App", Homepage: "https://example.com",
		RedirectURIs: []string{"https://example.com/callback"},
	})
	fmt.Println(err)
	self, err := srv.RegisterClient(fakeserver.ClientSpec{Type: fakeserver.SelfClient})
	fmt.Println(self.Type, err)
	// Output:
	// console: Enter a valid client name (field name)
	// self <nil>
}

// A self client's code lives as long as the lifetime chosen in the console.
func ExampleServer_SelfClientCode() {
	srv := fakeserver.New()
	defer srv.Close()
	self, _ := srv.RegisterClient(fakeserver.ClientSpec{Type: fakeserver.SelfClient})

	_, err := srv.SelfClientCode(self.ID, fakeserver.SelfClientCodeRequest{Scopes: []string{"ZohoCRM.user.ALL"}})
	fmt.Println(err)

	code, _ := srv.SelfClientCode(self.ID, fakeserver.SelfClientCodeRequest{
		Scopes: []string{"ZohoCRM.users.ALL"}, Lifetime: 10 * time.Minute,
	})
	_ = srv.Advance(9 * time.Minute)
	tokens := postToken(srv.Client(), srv.AccountsURL(zoho.US)+"/oauth/v2/token", url.Values{
		"grant_type": {"authorization_code"}, "client_id": {self.ID}, "client_secret": {self.Secret}, "code": {code},
	})
	fmt.Println("after 9 of 10 minutes:", tokens["token_type"])
	// Output:
	// console: Enter valid scopes: ZohoCRM.user.ALL (field scopes)
	// after 9 of 10 minutes: Bearer
}

// A break makes the fake violate exactly one documented rule, so a test
// can show that its check would catch the violation.
func ExampleServer_Break() {
	srv := fakeserver.New()
	defer srv.Close()
	self, _ := srv.RegisterClient(fakeserver.ClientSpec{Type: fakeserver.SelfClient})
	code, _ := srv.SelfClientCode(self.ID, fakeserver.SelfClientCodeRequest{Scopes: []string{"ZohoCRM.users.ALL"}})
	form := url.Values{"grant_type": {"authorization_code"}, "client_id": {self.ID}, "client_secret": {self.Secret}, "code": {code}}
	tokenURL := srv.AccountsURL(zoho.US) + "/oauth/v2/token"

	_ = srv.Break(zoho.TokenCodeB) // grant tokens can be used again
	effect, _ := fakeserver.BreakEffect(zoho.TokenCodeB)
	fmt.Println(effect)
	fmt.Println(postToken(srv.Client(), tokenURL, form)["token_type"], postToken(srv.Client(), tokenURL, form)["token_type"])
	// Output:
	// grant tokens can be used again
	// Bearer Bearer
}

// Multi-DC: a user of the EU DC authorizes a US client at accounts.zoho.com;
// the redirect sends the client to the EU Accounts server, which answers
// invalid_client until the client is enabled in the EU.
func ExampleServer_EnableMultiDC() {
	srv := fakeserver.New()
	defer srv.Close()
	_, _ = srv.AddUser(fakeserver.UserSpec{Email: "eve@example.eu", DC: zoho.EU})
	app, _ := srv.RegisterClient(fakeserver.ClientSpec{
		Type: fakeserver.WebBased, Name: "Global app", Homepage: "https://example.com",
		RedirectURIs: []string{"https://example.com/callback"},
	})
	exchange := func(secret string) any {
		_ = srv.ScriptConsent(app.ID, fakeserver.Consent{User: "eve@example.eu"})
		q := url.Values{"client_id": {app.ID}, "response_type": {"code"}, "scope": {"ZohoCRM.users.ALL"}, "redirect_uri": {"https://example.com/callback"}}
		resp, _ := srv.Client().Get(srv.AccountsURL(zoho.US) + "/oauth/v2/auth?" + q.Encode())
		resp.Body.Close()
		loc, _ := url.Parse(resp.Header.Get("Location"))
		redirect := loc.Query()
		fmt.Println("location:", redirect.Get("location"), "accounts-server is EU:", strings.HasSuffix(redirect.Get("accounts-server"), "/accounts.zoho.eu"))
		body := postToken(srv.Client(), redirect.Get("accounts-server")+"/oauth/v2/token", url.Values{
			"grant_type": {"authorization_code"}, "client_id": {app.ID}, "client_secret": {secret},
			"redirect_uri": {"https://example.com/callback"}, "code": {redirect.Get("code")},
		})
		if e, ok := body["error"]; ok {
			return e
		}
		return body["token_type"]
	}
	fmt.Println(exchange(app.Secret))
	euSecret, _ := srv.EnableMultiDC(app.ID, zoho.EU, fakeserver.MultiDC{SeparateSecret: true})
	fmt.Println(exchange(euSecret))
	// Output:
	// location: eu accounts-server is EU: true
	// invalid_client
	// location: eu accounts-server is EU: true
	// Bearer
}

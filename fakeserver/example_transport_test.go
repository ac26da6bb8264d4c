package fakeserver_test

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"net/http"
	"net/url"
	"strings"
	"time"

	"github.com/zconform/zconform/fakeserver"
	"github.com/zconform/zconform/fixtures/zoho"
	"golang.org/x/oauth2"
)

// zohoCRM is the kind of small Zoho client an application has: it
// hard-codes Zoho's US endpoints and only lets the caller choose the
// *http.Client. It refreshes its access token when the API says 401.
type zohoCRM struct {
	http                 *http.Client
	clientID, secret     string
	redirectURI          string
	refreshToken, access string
	refreshes            int
}

func (z *zohoCRM) token(form url.Values) (map[string]any, error) {
	form.Set("client_id", z.clientID)
	form.Set("client_secret", z.secret)
	resp, err := z.http.PostForm("https://accounts.zoho.com/oauth/v2/token", form)
	if err != nil {
		return nil, err
	}
	defer resp.Body.Close()
	var body map[string]any
	if err := json.NewDecoder(resp.Body).Decode(&body); err != nil {
		return nil, err
	}
	if e, ok := body["error"].(string); ok { // Zoho sends errors with HTTP 200
		return nil, errors.New("zoho: " + e)
	}
	return body, nil
}

// Connect exchanges a grant token for tokens.
func (z *zohoCRM) Connect(code string) error {
	body, err := z.token(url.Values{"grant_type": {"authorization_code"}, "code": {code}, "redirect_uri": {z.redirectURI}})
	if err != nil {
		return err
	}
	z.access, _ = body["access_token"].(string)
	z.refreshToken, _ = body["refresh_token"].(string)
	return nil
}

func (z *zohoCRM) refresh() error {
	body, err := z.token(url.Values{"grant_type": {"refresh_token"}, "refresh_token": {z.refreshToken}})
	if err != nil {
		return err
	}
	z.access, _ = body["access_token"].(string)
	z.refreshes++
	return nil
}

// CurrentUser returns the signed-in user's email, refreshing once on 401.
func (z *zohoCRM) CurrentUser() (string, error) {
	for attempt := 0; ; attempt++ {
		req, _ := http.NewRequest(http.MethodGet, "https://www.zohoapis.com/crm/v8/users?type=CurrentUser", nil)
		req.Header.Set("Authorization", "Zoho-oauthtoken "+z.access)
		resp, err := z.http.Do(req)
		if err != nil {
			return "", err
		}
		var body struct {
			Users []struct {
				Email string `json:"email"`
			} `json:"users"`
			Code string `json:"code"`
		}
		err = json.NewDecoder(resp.Body).Decode(&body)
		resp.Body.Close()
		switch {
		case err != nil:
			return "", err
		case resp.StatusCode == http.StatusUnauthorized && attempt == 0:
			if err := z.refresh(); err != nil {
				return "", err
			}
			continue
		case resp.StatusCode != http.StatusOK:
			return "", errors.New("zoho: " + body.Code)
		}
		return body.Users[0].Email, nil
	}
}

// Testing a client that hard-codes https://accounts.zoho.com and
// https://www.zohoapis.com, unchanged and in-process: the fake answers
// Zoho's own host names through srv.HTTPClient(), expires the client's
// grant, overflows the access-token cap under it and revokes its refresh
// token, all on the virtual clock.
func ExampleServer_HTTPClient() {
	srv := fakeserver.NewUnstarted() // in-process only: no listener
	defer srv.Close()
	app, _ := srv.RegisterClient(fakeserver.ClientSpec{
		Type: fakeserver.WebBased, Name: "CRM sync", Homepage: "https://app.example",
		RedirectURIs: []string{"https://app.example/callback"},
	})
	authorize := func() string {
		r, err := srv.Authorize(zoho.US, url.Values{
			"client_id": {app.ID}, "response_type": {"code"}, "redirect_uri": {"https://app.example/callback"},
			"scope": {"ZohoCRM.users.ALL"}, "access_type": {"offline"}, "prompt": {"consent"},
		})
		if err != nil {
			panic(err)
		}
		return r.Code
	}
	crm := &zohoCRM{http: srv.HTTPClient(), clientID: app.ID, secret: app.Secret, redirectURI: "https://app.example/callback"}

	// A grant token lives one minute.
	late := authorize()
	_ = srv.Advance(61 * time.Second)
	fmt.Println("connect with a stale grant:", crm.Connect(late))

	if err := crm.Connect(authorize()); err != nil {
		panic(err)
	}
	user, err := crm.CurrentUser()
	fmt.Println("user:", user, err)

	// An hour later the access token is dead; the client refreshes.
	_ = srv.Advance(61 * time.Minute)
	user, err = crm.CurrentUser()
	fmt.Println("after an hour:", user, err, "refreshes:", crm.refreshes)

	// 30 other installations share the refresh token and each mint an
	// access token: the 31st active one evicts ours.
	for range 30 {
		other := *crm
		_ = other.refresh()
	}
	user, err = crm.CurrentUser()
	fmt.Println("after the cap overflowed:", user, err, "refreshes:", crm.refreshes)

	// Revoked: the next refresh fails, and the client must re-authorize.
	srv.Revoke(crm.refreshToken)
	_ = srv.Advance(61 * time.Minute)
	_, err = crm.CurrentUser()
	fmt.Println("after revoke:", err)

	// Anything but Zoho's hosts fails loudly.
	_, err = crm.http.Get("https://app.example/callback")
	fmt.Println(strings.Contains(err.Error(), "serves only Zoho's host names"))
	// Output:
	// connect with a stale grant: zoho: invalid_code
	// user: dev@us.zconform.test <nil>
	// after an hour: dev@us.zconform.test <nil> refreshes: 1
	// after the cap overflowed: dev@us.zconform.test <nil> refreshes: 2
	// after revoke: zoho: invalid_code
	// true
}

// golang.org/x/oauth2 with Zoho's real endpoint, against the fake in one
// line: srv.OAuth2Context.
func ExampleServer_OAuth2Context() {
	srv := fakeserver.NewUnstarted()
	defer srv.Close()
	app, _ := srv.RegisterClient(fakeserver.ClientSpec{
		Type: fakeserver.WebBased, Name: "CRM sync", Homepage: "https://app.example",
		RedirectURIs: []string{"https://app.example/callback"},
	})
	cfg := oauth2.Config{
		ClientID: app.ID, ClientSecret: app.Secret, RedirectURL: "https://app.example/callback",
		Scopes: []string{"ZohoCRM.users.ALL"},
		Endpoint: oauth2.Endpoint{
			AuthURL: "https://accounts.zoho.com/oauth/v2/auth", TokenURL: "https://accounts.zoho.com/oauth/v2/token",
			AuthStyle: oauth2.AuthStyleInParams,
		},
	}
	ctx := srv.OAuth2Context(context.Background())
	r, _ := srv.Authorize(zoho.US, url.Values{
		"client_id": {app.ID}, "response_type": {"code"}, "redirect_uri": {cfg.RedirectURL},
		"scope": {"ZohoCRM.users.ALL"}, "access_type": {"offline"},
	})
	tok, err := cfg.Exchange(ctx, r.Code)
	fmt.Println(tok.TokenType, tok.Extra("api_domain"), err)

	_, err = cfg.Exchange(ctx, r.Code) // a grant works once
	var re *oauth2.RetrieveError
	fmt.Println(errors.As(err, &re), re.ErrorCode)

	// A 503 from the token endpoint, once.
	_, _ = srv.InjectFault(fakeserver.Fault{Kind: fakeserver.FaultStatus, Endpoint: fakeserver.EndpointToken, Times: 1,
		Status: http.StatusServiceUnavailable, Body: "<html>Service Unavailable</html>", Header: map[string]string{"Retry-After": "30"}})
	_, err = cfg.TokenSource(ctx, &oauth2.Token{RefreshToken: tok.RefreshToken}).Token()
	fmt.Println(errors.As(err, &re), re.Response.StatusCode, re.Response.Header.Get("Retry-After"))
	_, err = cfg.TokenSource(ctx, &oauth2.Token{RefreshToken: tok.RefreshToken}).Token()
	fmt.Println("then:", err)
	// Output:
	// Bearer https://www.zohoapis.com <nil>
	// true invalid_code
	// true 503 30
	// then: <nil>
}

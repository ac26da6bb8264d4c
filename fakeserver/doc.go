// Package fakeserver is a fake Zoho Accounts server (and the few API
// endpoints that show whether an access token works) that behaves as Zoho's
// documentation says, for every data centre, on a controllable clock, with a
// switch to break each documented rule.
//
// Use it like net/http/httptest:
//
//	srv := fakeserver.New()
//	defer srv.Close()
//	client, _ := srv.RegisterClient(fakeserver.ClientSpec{Type: fakeserver.WebBased, ...})
//	tokenURL := srv.AccountsURL(zoho.US) + "/oauth/v2/token"
//
// One listener serves every DC. A DC's Accounts server is served under the
// path prefix of its real host name (http://127.0.0.1:PORT/accounts.zoho.eu)
// and its API domain likewise (http://127.0.0.1:PORT/www.zohoapis.eu). The
// same handler also answers requests whose Host is a real Zoho host name, so
// it can be mounted in-process on Zoho's own names; the location,
// accounts-server and api_domain it sends always name the URLs the request
// came in on.
//
// Time is virtual by default: nothing in the fake sleeps, and a test moves
// time with Advance. The state (clients, users, grants, tokens, the request
// log) is per Server, so parallel tests never share it.
//
// Break switches off one documented rule (a seed ID, K4-...) or turns on one
// deviation (DEV-..., see Deviations): a plausible bug of a Zoho-compatible
// server, for proving that a check can fail. The rule code (token.go,
// tokens.go, authorize.go, console.go, api.go, handler.go) holds Zoho's rules;
// what a break needs beyond a switch is in breaks.go, housekeeping in
// sweep.go (its queues and indexes in index.go) and the request log in requestlog.go.
package fakeserver

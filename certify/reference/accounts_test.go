package reference

import "testing"

// The Accounts server of another DC is found by the whole host name (or
// the fake's whole path segment): an app set up for AU or CN is not
// mistaken for one set up for the US.
func TestAccountsOfAnotherDC(t *testing.T) {
	for _, c := range []struct{ base, location, want string }{
		{"https://accounts.zoho.com", "eu", "https://accounts.zoho.eu"},
		{"https://accounts.zoho.com.au", "eu", "https://accounts.zoho.eu"},
		{"https://accounts.zoho.com.cn", "us", "https://accounts.zoho.com"},
		{"http://127.0.0.1:8080/accounts.zoho.com.au", "in", "http://127.0.0.1:8080/accounts.zoho.in"},
		{"http://127.0.0.1:8080/t/abc/accounts.zoho.com/", "eu", "http://127.0.0.1:8080/t/abc/accounts.zoho.eu"},
	} {
		if got, ok := accountsOf(c.base, c.location); !ok || got != c.want {
			t.Errorf("accountsOf(%q, %q) = %q, %v; want %q", c.base, c.location, got, ok, c.want)
		}
	}
	if got, ok := accountsOf("https://example.com", "eu"); ok {
		t.Errorf("accountsOf of a host that is no Accounts server = %q, want none", got)
	}
}

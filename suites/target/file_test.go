package target_test

import (
	"net/url"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/zconform/zconform/fixtures/zoho"
	"github.com/zconform/zconform/suites/target"
)

const goodFile = `name: staging-us
profile: kaizen4
user_dc: us
data_centres:
  us: {accounts: https://accounts.staging.example, api: https://api.staging.example}
client:
  id: 1000.STAGINGCLIENT00000000000000000
  secret_env: ZC_TEST_SECRET
  redirect_uri: https://www.example.com/callback
grants:
  codes_env: ZC_TEST_CODES
`

func write(t *testing.T, body string) string {
	t.Helper()
	p := filepath.Join(t.TempDir(), "target.yaml")
	if err := os.WriteFile(p, []byte(body), 0o644); err != nil {
		t.Fatal(err)
	}
	return p
}

func TestTargetFileChecks(t *testing.T) {
	cases := []struct {
		name, body, want string
	}{
		{"plain http", strings.Replace(goodFile, "https://accounts.staging.example", "http://accounts.staging.example", 1), "plain HTTP"},
		{"unknown field", goodFile + "colour: red\n", "field colour not found"},
		{"bad client id", strings.Replace(goodFile, "1000.STAGINGCLIENT00000000000000000", "abc", 1), "not a Zoho client ID"},
		{"no secret env", strings.Replace(goodFile, "  secret_env: ZC_TEST_SECRET\n", "", 1), "client.secret_env is missing"},
		{"bad profile", strings.Replace(goodFile, "profile: kaizen4", "profile: kaizen5", 1), `unknown profile "kaizen5"`},
		{"bad DC", strings.Replace(goodFile, "user_dc: us", "user_dc: mars", 1), `unknown data centre "mars"`},
		{"no name", strings.Replace(goodFile, "name: staging-us\n", "", 1), "name is missing"},
		{"empty", "", "empty"},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			_, err := target.LoadFile(write(t, c.body))
			if err == nil || !strings.Contains(err.Error(), c.want) {
				t.Fatalf("err = %v, want %q", err, c.want)
			}
		})
	}
	f, err := target.LoadFile(write(t, goodFile))
	if err != nil {
		t.Fatal(err)
	}
	if f.URLs("us").Accounts != "https://accounts.staging.example" || f.Production() {
		t.Errorf("URLs: %+v, production %v", f.URLs("us"), f.Production())
	}
	// A DC the file does not name never gets Zoho's URLs: its URLs are on
	// the reserved .invalid domain, which reaches nothing.
	for _, dc := range []zoho.DC{"eu", "in", "cn"} {
		u := f.URLs(dc)
		for _, raw := range []string{u.Accounts, u.API} {
			if !strings.HasSuffix(hostOf(t, raw), ".invalid") {
				t.Errorf("URLs(%s) = %+v: a DC the file does not name must reach nothing", dc, u)
			}
		}
	}
	if got := f.NamedDCs(); len(got) != 1 || got[0] != "us" {
		t.Errorf("NamedDCs = %v, want [us]", got)
	}
}

func hostOf(t *testing.T, raw string) string {
	t.Helper()
	u, err := url.Parse(raw)
	if err != nil {
		t.Fatal(err)
	}
	return u.Hostname()
}

// A target file must name the URLs of the user's DC: nothing falls back to
// Zoho's production hosts. The refusal shows how to write them.
func TestTargetFileMustNameTheUsersDC(t *testing.T) {
	noDCs := strings.Replace(goodFile, "data_centres:\n  us: {accounts: https://accounts.staging.example, api: https://api.staging.example}\n", "", 1)
	_, err := target.LoadFile(write(t, noDCs))
	for _, want := range []string{
		"target.yaml: invalid target file:",
		"data_centres names no URLs for the user's DC (user_dc: us)",
		"a run sends requests only to the URLs the file names",
		"data_centres: {us: {accounts: https://accounts.zoho.com, api: https://www.zohoapis.com}}",
	} {
		if err == nil || !strings.Contains(err.Error(), want) {
			t.Errorf("a file without data_centres: err = %v, want %q", err, want)
		}
	}
	t.Logf("the refusal:\n%v", err)

	// naming another DC than the user's is not enough
	euUser := strings.Replace(goodFile, "user_dc: us", "user_dc: EU", 1)
	_, err = target.LoadFile(write(t, euUser))
	if err == nil || !strings.Contains(err.Error(), "(user_dc: eu)") || !strings.Contains(err.Error(), "data_centres: {eu: {accounts: https://accounts.zoho.eu, api: https://www.zohoapis.eu}}") {
		t.Errorf("an EU user with only us named: err = %v", err)
	}
	// DC codes are case-insensitive
	upper := strings.Replace(goodFile, "  us: {", "  US: {", 1)
	if f, err := target.LoadFile(write(t, upper)); err != nil || !f.Names("us") {
		t.Errorf("data_centres.US: %v", err)
	}
	// an unknown user DC is one complaint, not two
	_, err = target.LoadFile(write(t, strings.Replace(goodFile, "user_dc: us", "user_dc: mars", 1)))
	if err == nil || strings.Contains(err.Error(), "names no URLs") {
		t.Errorf("user_dc: mars: %v", err)
	}
}

func TestOpenRealSecretsAndProductionRule(t *testing.T) {
	path := write(t, goodFile)
	t.Setenv("ZC_TEST_SECRET", "")
	if _, err := target.OpenReal(path, false, false); err == nil || !strings.Contains(err.Error(), "$ZC_TEST_SECRET is empty") {
		t.Fatalf("missing secret: %v", err)
	}
	t.Setenv("ZC_TEST_SECRET", "0123456789abcdef0123456789abcdef0123456789")
	t.Setenv("ZC_TEST_CODES", "1000.aa,1000.bb")
	r, err := target.OpenReal(path, false, true)
	if err != nil {
		t.Fatalf("staging with destructive: %v", err)
	}
	for _, want := range []string{"1000.aa", "1000.bb"} {
		if got, err := r.Grant(t.Context()); err != nil || got != want {
			t.Fatalf("Grant = %q, %v; want %q", got, err, want)
		}
	}
	if _, err := r.Grant(t.Context()); err == nil || !strings.Contains(err.Error(), "every grant token in $ZC_TEST_CODES is used") {
		t.Fatalf("exhausted list: %v", err)
	}

	// Zoho's production hosts, named explicitly, are accepted; the
	// production rules apply to them.
	const prodUS = "data_centres:\n  us: {accounts: https://accounts.zoho.com, api: https://www.zohoapis.com}\n"
	prod := write(t, strings.Replace(goodFile, "data_centres:\n  us: {accounts: https://accounts.staging.example, api: https://api.staging.example}\n", prodUS, 1))
	if _, err := target.OpenReal(prod, false, true); err == nil || !strings.Contains(err.Error(), "test_user: true") {
		t.Fatalf("destructive against production without test_user: %v", err)
	}
	r, err = target.OpenReal(prod, false, false)
	if err != nil {
		t.Fatalf("non-destructive against production: %v", err)
	}
	if r.AccountsURL("us") != "https://accounts.zoho.com" || r.APIURL("us") != "https://www.zohoapis.com" || !strings.HasSuffix(hostOf(t, r.AccountsURL("eu")), ".invalid") {
		t.Errorf("production US named: us %s %s, eu %s", r.AccountsURL("us"), r.APIURL("us"), r.AccountsURL("eu"))
	}
	withTestUser := write(t, strings.Replace(goodFile, "data_centres:\n  us: {accounts: https://accounts.staging.example, api: https://api.staging.example}\n", prodUS+"test_user: true\n", 1))
	if _, err := target.OpenReal(withTestUser, false, true); err != nil {
		t.Fatalf("destructive against production with test_user: %v", err)
	}
	// a production host of another DC, named next to a staging user DC,
	// is production too
	mixed := write(t, strings.Replace(goodFile, "api: https://api.staging.example}\n", "api: https://api.staging.example}\n  eu: {accounts: https://accounts.zoho.eu, api: https://www.zohoapis.eu}\n", 1))
	if _, err := target.OpenReal(mixed, false, true); err == nil || !strings.Contains(err.Error(), "test_user: true") {
		t.Fatalf("destructive with production EU named, without test_user: %v", err)
	}
}

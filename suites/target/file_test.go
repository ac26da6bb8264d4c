package target_test

import (
	"os"
	"path/filepath"
	"strings"
	"testing"

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
	if f.URLs("us").Accounts != "https://accounts.staging.example" || f.URLs("eu").Accounts != "https://accounts.zoho.eu" || f.Production() {
		t.Errorf("URLs: %+v %+v, production %v", f.URLs("us"), f.URLs("eu"), f.Production())
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

	prod := write(t, strings.Replace(goodFile, "data_centres:\n  us: {accounts: https://accounts.staging.example, api: https://api.staging.example}\n", "", 1))
	if _, err := target.OpenReal(prod, false, true); err == nil || !strings.Contains(err.Error(), "test_user: true") {
		t.Fatalf("destructive against production without test_user: %v", err)
	}
	if _, err := target.OpenReal(prod, false, false); err != nil {
		t.Fatalf("non-destructive against production: %v", err)
	}
	withTestUser := write(t, strings.Replace(goodFile, "data_centres:\n  us: {accounts: https://accounts.staging.example, api: https://api.staging.example}\n", "test_user: true\n", 1))
	if _, err := target.OpenReal(withTestUser, false, true); err != nil {
		t.Fatalf("destructive against production with test_user: %v", err)
	}
}

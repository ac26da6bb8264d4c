package target_test

import (
	"strings"
	"testing"

	"github.com/zconform/zconform/fixtures/zoho"
	"github.com/zconform/zconform/suites/target"
)

// FuzzTargetFile feeds ParseFile (LoadFile's parser) any bytes: it answers
// a checked file or an error naming the file, never panics, and a file it
// accepts answers URLs for every DC.
func FuzzTargetFile(f *testing.F) {
	for _, s := range []string{
		goodFileFuzz,
		goodFileFuzz + "test_user: true\nallow_http: true\ntls_ca: ca.pem\n",
		strings.Replace(goodFileFuzz, "grants:\n", "grants:\n  command: [./get-code.sh, --dc, us]\n  rate: {limit: 5, window: 1m}\n  refresh_token_env: ZC_RT\n", 1),
		strings.Replace(goodFileFuzz, "client:\n", "client:\n  secrets_env: {eu: ZC_EU_SECRET}\n  dc: eu\n  scope: ZohoCRM.users.ALL,ZohoCRM.org.READ\n", 1),
		"name: prod\nclient: {id: 1000.ABCDEFGHIJKLMNOPQRSTUVWXYZ0123, secret_env: S, redirect_uri: https://example.com/cb}\n",
		"name: x\ndata_centres:\n  mars: {accounts: 'http://[::1', api: ftp://x}\n  eu: {accounts: https://accounts.zoho.eu}\n",
		"name: &a x\nprofile: *a\n",
		"---\n---\n",
		"",
		"name: [\n",
		"name: \"\\xff\\u0000\"\n",
		"grants: {rate: {limit: -1, window: 99999999999h}}\n",
	} {
		f.Add([]byte(s))
	}
	f.Fuzz(func(t *testing.T, data []byte) {
		const name = "fuzz/target.yaml"
		file, err := target.ParseFile(name, data)
		if err != nil {
			if file != nil {
				t.Fatalf("ParseFile returned a file and an error: %v", err)
			}
			if !strings.HasPrefix(err.Error(), name+": ") {
				t.Fatalf("the error does not name the file: %v", err)
			}
			return
		}
		if file.Name == "" || !zoho.ClientIDPattern.MatchString(file.Client.ID) || file.Client.SecretEnv == "" {
			t.Fatalf("accepted a file without name, client ID or secret_env: %+v", file)
		}
		if _, err := zoho.Profile(file.Profile); err != nil {
			t.Fatalf("accepted profile %q: %v", file.Profile, err)
		}
		if _, err := zoho.ParseDC(string(file.UserDC)); err != nil {
			t.Fatalf("accepted user_dc %q", file.UserDC)
		}
		for _, d := range zoho.DataCentres() {
			u := file.URLs(d.DC)
			if u.Accounts == "" || u.API == "" {
				t.Fatalf("no URLs for %s: %+v", d.DC, u)
			}
		}
		_ = file.Production()
	})
}

const goodFileFuzz = `name: staging-us
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

package target_test

import (
	"net/url"
	"strings"
	"testing"

	"github.com/zconform/zconform/fixtures/zoho"
	"github.com/zconform/zconform/suites/target"
)

// FuzzTargetFile feeds ParseFile (LoadFile's parser) any bytes: it answers
// a checked file or an error naming the file, never panics, and a file it
// accepts names the user's DC, answers its own URLs for the DCs it names
// and, for every other DC, URLs that reach nothing.
func FuzzTargetFile(f *testing.F) {
	for _, s := range []string{
		goodFileFuzz,
		goodFileFuzz + "test_user: true\nallow_http: true\ntls_ca: ca.pem\n",
		strings.Replace(goodFileFuzz, "grants:\n", "grants:\n  command: [./get-code.sh, --dc, us]\n  rate: {limit: 5, window: 1m}\n  refresh_token_env: ZC_RT\n", 1),
		strings.Replace(goodFileFuzz, "client:\n", "client:\n  secrets_env: {eu: ZC_EU_SECRET}\n  dc: eu\n  scope: ZohoCRM.users.ALL,ZohoCRM.org.READ\n", 1),
		"name: prod\nclient: {id: 1000.ABCDEFGHIJKLMNOPQRSTUVWXYZ0123, secret_env: S, redirect_uri: https://example.com/cb}\n",
		"name: prod\ndata_centres: {us: {accounts: https://accounts.zoho.com, api: https://www.zohoapis.com}}\nclient: {id: 1000.ABCDEFGHIJKLMNOPQRSTUVWXYZ0123, secret_env: S, redirect_uri: https://example.com/cb}\n",
		strings.Replace(goodFileFuzz, "user_dc: us\n", "user_dc: EU\n", 1) + "  EU: {accounts: https://a.example/eu/, api: https://b.example}\n",
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
		if !file.Names(file.UserDC) {
			t.Fatalf("accepted a file that names no URLs for the user's DC %s", file.UserDC)
		}
		for _, d := range zoho.DataCentres() {
			u := file.URLs(d.DC)
			if u.Accounts == "" || u.API == "" {
				t.Fatalf("no URLs for %s: %+v", d.DC, u)
			}
			if file.Names(d.DC) {
				continue
			}
			for _, raw := range []string{u.Accounts, u.API} {
				p, err := url.Parse(raw)
				if err != nil || !strings.HasSuffix(p.Hostname(), ".invalid") {
					t.Fatalf("URLs(%s) = %+v for a DC the file does not name: it must reach nothing", d.DC, u)
				}
			}
		}
		if !file.Production() {
			for _, dc := range file.NamedDCs() {
				for _, raw := range []string{file.URLs(dc).Accounts, file.URLs(dc).API} {
					if p, err := url.Parse(raw); err == nil {
						if _, _, zohos := zoho.HostRole(p.Hostname()); zohos {
							t.Fatalf("names Zoho's %s and is not production", raw)
						}
					}
				}
			}
		}
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

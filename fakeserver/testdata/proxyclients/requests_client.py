"""A Zoho OAuth client written with Python requests, as an application
would write it: it hard-codes Zoho's real US URLs and knows nothing of
zconform. The test (fakeserver/proxy_clients_test.go) points it at the fake
by the environment alone:

    HTTPS_PROXY=http://127.0.0.1:PORT   the zconform proxy
    REQUESTS_CA_BUNDLE=/path/ca.pem     the proxy's CA, to trust

It exchanges a grant token, calls the API at the api_domain it was given,
refreshes once, and prints what it saw as one JSON object on stdout.
The application's own settings come from ZC_CLIENT_ID, ZC_CLIENT_SECRET,
ZC_REDIRECT_URI and ZC_CODE.
"""

import json
import os
import sys

import requests

TOKEN_URL = "https://accounts.zoho.com/oauth/v2/token"
TIMEOUT = 20  # seconds, per request


def version(resp):
    return {10: "HTTP/1.0", 11: "HTTP/1.1", 20: "HTTP/2"}.get(resp.raw.version, str(resp.raw.version))


def main():
    cid, secret = os.environ["ZC_CLIENT_ID"], os.environ["ZC_CLIENT_SECRET"]
    out = {"client": "python-requests", "requests_version": requests.__version__}
    with requests.Session() as s:
        r = s.post(TOKEN_URL, data={
            "grant_type": "authorization_code", "client_id": cid, "client_secret": secret,
            "redirect_uri": os.environ["ZC_REDIRECT_URI"], "code": os.environ["ZC_CODE"],
        }, timeout=TIMEOUT)
        tok = r.json()
        out.update(exchange_status=r.status_code, http_version=version(r),
                   access_token=tok.get("access_token", ""), refresh_token=tok.get("refresh_token", ""),
                   api_domain=tok.get("api_domain", ""), token_type=tok.get("token_type", ""),
                   exchange_error=tok.get("error", ""))

        r = s.get(out["api_domain"] + "/crm/v8/users", params={"type": "CurrentUser"},
                  headers={"Authorization": "Zoho-oauthtoken " + out["access_token"]}, timeout=TIMEOUT)
        users = r.json().get("users") or [{}]
        out.update(api_status=r.status_code, email=users[0].get("email", ""))

        r = s.post(TOKEN_URL, data={
            "grant_type": "refresh_token", "client_id": cid, "client_secret": secret,
            "refresh_token": out["refresh_token"],
        }, timeout=TIMEOUT)
        ref = r.json()
        out.update(refresh_status=r.status_code, refreshed_access_token=ref.get("access_token", ""),
                   refresh_returned_refresh_token="refresh_token" in ref, refresh_error=ref.get("error", ""))
    json.dump(out, sys.stdout)
    print()


if __name__ == "__main__":
    main()

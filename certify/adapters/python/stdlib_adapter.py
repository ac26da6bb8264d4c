#!/usr/bin/env python3
"""A careful Zoho OAuth 2.0 integration in plain Python (standard library
only), speaking zconform's certifier protocol. It is the example to copy
when you write an adapter for your own integration: it passes every
certification scenario, and each rule it follows is written next to the code
that follows it.

    zconform certify -adapter cmd -cmd "python3 stdlib_adapter.py" -name "my app" -version 1

The certifier starts it with these variables set:

    ZCONFORM_ACCOUNTS_URL    the Accounts server the app is set up for (the fake
                             serves every data centre under one origin, e.g.
                             http://127.0.0.1:PORT/accounts.zoho.com)
    ZCONFORM_CLIENT_ID, ZCONFORM_CLIENT_SECRET, ZCONFORM_REDIRECT_URI
    ZCONFORM_SCOPE           e.g. ZohoCRM.users.ALL
    ZCONFORM_WORKDIR         an empty folder (this adapter keeps nothing on disk)

then writes one JSON message a line on stdin, and reads exactly one JSON
answer a line on stdout per message:

    {"op":"authorize"}                 -> {"ok":true,"authorize_url":"…"}
    {"op":"redirect","query":{…}}      the browser came back: exchange the code
    {"op":"call"}                      one API call as the user
    {"op":"calls","n":5}               n API calls at the same time
    {"op":"time","now":"…","advanced_seconds":3660}   the certifier's clock moved
    {"op":"stop"}                      -> {"ok":true}, then exit 0

An answer is {"ok":true}, {"ok":false,"error":"…","needs_authorization":…} or
{"ok":false,"unsupported":"why"}. stdout carries nothing else; notes go to
stderr. The client secret and the tokens are never printed.
"""

import json
import os
import re
import secrets
import sys
import threading
import time
import urllib.error
import urllib.parse
import urllib.request
from concurrent.futures import ThreadPoolExecutor
from http.client import HTTPException

# stdout is the protocol: keep it for answers, and send any stray print() to stderr.
PROTOCOL = sys.stdout
sys.stdout = sys.stderr


def need(name):
    value = os.environ.get(name, "")
    if not value:
        print(f"stdlib_adapter: ${name} is not set (the certifier sets it)", file=sys.stderr)
        sys.exit(2)
    return value


ACCOUNTS_URL = need("ZCONFORM_ACCOUNTS_URL").rstrip("/")
CLIENT_ID = need("ZCONFORM_CLIENT_ID")
CLIENT_SECRET = need("ZCONFORM_CLIENT_SECRET")
REDIRECT_URI = need("ZCONFORM_REDIRECT_URI")
SCOPE = os.environ.get("ZCONFORM_SCOPE") or "ZohoCRM.users.ALL"

# Zoho's Accounts servers, one per data centre (the only hosts that get the client secret).
ZOHO_ACCOUNTS_HOSTS = {
    "accounts.zoho.com", "accounts.zoho.eu", "accounts.zoho.in", "accounts.zoho.com.au",
    "accounts.zoho.jp", "accounts.zohocloud.ca", "accounts.zoho.sa", "accounts.zoho.uk",
    "accounts.zoho.com.cn",
}
EARLY = 30  # seconds: refresh this long before the access token expires
BACKOFF = 60  # seconds without token requests after a throttle or a 5xx
TIMEOUT = 10  # seconds for one HTTP request: a server that never answers must not block the app


# ---- never print a secret ----------------------------------------------------

ZOHO_TOKEN = re.compile(r"\b1000\.[0-9a-f]{32}\.[0-9a-f]{32}\b")  # codes and tokens


def redact(text):
    text = text.replace(CLIENT_SECRET, "[client secret]")
    return ZOHO_TOKEN.sub(lambda m: m.group(0)[:9] + "…[redacted]", text)


def note(message):
    print("stdlib_adapter: " + redact(message), file=sys.stderr, flush=True)


# ---- the certifier's clock ------------------------------------------------------

# Tokens expire by the certifier's virtual clock, not the wall clock: "time"
# messages say how far it moved. A real app uses time.time() and needs none of this.
clock_offset = 0.0


def now():
    return time.time() + clock_offset


# ---- HTTP -------------------------------------------------------------------------

class Failed(Exception):
    """What the integration reports when something did not work."""

    def __init__(self, message, needs_authorization=False):
        super().__init__(message)
        self.needs_authorization = needs_authorization


class TokenError(Exception):
    """The token endpoint answered without a token."""

    def __init__(self, status, error, retry_after):
        super().__init__(f"{error or 'no access token'} (HTTP {status})")
        self.status, self.error, self.retry_after = status, error, retry_after


def http(method, url, form=None, headers=None):
    """One HTTP request: (status, headers, body) whatever the status.
    A network failure raises OSError or HTTPException."""
    data = urllib.parse.urlencode(form).encode() if form else None
    request = urllib.request.Request(url, data=data, method=method, headers=headers or {})
    try:
        with urllib.request.urlopen(request, timeout=TIMEOUT) as response:
            return response.status, response.headers, response.read()
    except urllib.error.HTTPError as e:  # 4xx and 5xx are answers, not failures
        with e:
            return e.code, e.headers, e.read()


def token_request(accounts, **params):
    """POST {accounts}/oauth/v2/token. Zoho answers errors with HTTP 200 and
    {"error":"…"}: only an answer with an access_token is a token."""
    form = {"client_id": CLIENT_ID, "client_secret": CLIENT_SECRET, **params}
    status, headers, body = http("POST", accounts + "/oauth/v2/token", form)
    try:
        answer = json.loads(body)
    except ValueError:
        answer = {}  # an HTML error page, or an answer cut short
    if not isinstance(answer, dict):
        answer = {}
    if status == 200 and answer.get("access_token") and not answer.get("error"):
        return answer
    raise TokenError(status, answer.get("error"), headers.get("Retry-After"))


# ---- the integration ----------------------------------------------------------------

class Zoho:
    def __init__(self):
        self.lock = threading.Lock()  # one refresh at a time, shared by concurrent calls
        self.accounts = ACCOUNTS_URL  # the user's Accounts server, from the redirect
        self.api_domain = None
        self.access_token = None
        self.refresh_token = None
        self.expires_at = 0.0  # by now()
        self.no_token_request_before = 0.0  # backing off until then
        self.states = set()  # the states of the authorizations this app started

    def authorize_url(self):
        """Where to send the user's browser. prompt=consent: Zoho issues a
        refresh token on a repeated consent only when asked again."""
        state = secrets.token_urlsafe(16)
        self.states.add(state)
        query = {"scope": SCOPE, "client_id": CLIENT_ID, "response_type": "code",
                 "access_type": "offline", "prompt": "consent", "redirect_uri": REDIRECT_URI, "state": state}
        return ACCOUNTS_URL + "/oauth/v2/auth?" + urllib.parse.urlencode(query)

    def redirect(self, query):
        """The browser came back to the redirect URI: exchange the code once,
        at the Accounts server the redirect names (the user's data centre)."""
        if query.get("error"):
            raise Failed("authorization refused: " + query["error"], needs_authorization=True)
        if not query.get("code"):
            raise Failed("the redirect carries no code", needs_authorization=True)
        # Once the app has started authorizations, a redirect must carry one of
        # their states. (The certifier may start one itself: then there is none.)
        if self.states:
            if query.get("state") not in self.states:
                raise Failed("the redirect's state is not one this app sent", needs_authorization=True)
            self.states.discard(query["state"])
        accounts = (query.get("accounts-server") or ACCOUNTS_URL).rstrip("/")
        if not self.is_zoho_accounts_server(accounts):
            raise Failed(f"the redirect names {accounts}, not a Zoho Accounts server", needs_authorization=True)
        try:
            answer = token_request(accounts, grant_type="authorization_code", code=query["code"],
                                   redirect_uri=REDIRECT_URI)
        except TokenError as e:
            # invalid_code: the code expired or was used. Never send it again.
            raise Failed("code exchange failed: " + str(e), needs_authorization=e.error == "invalid_code")
        except (OSError, HTTPException) as e:
            raise Failed(f"code exchange failed: {e!r}")
        with self.lock:
            self.accounts = accounts  # the refresh token works only there
            self.refresh_token = answer.get("refresh_token")
            self.keep(answer)
        note(f"connected: tokens from {accounts}, API at {self.api_domain}")

    @staticmethod
    def is_zoho_accounts_server(url):
        """The redirect's query comes from a browser: anyone can forge it. Send
        the client secret only to a Zoho Accounts server, or to the origin of the
        configured one (the fake serves every data centre there)."""
        u, home = urllib.parse.urlsplit(url), urllib.parse.urlsplit(ACCOUNTS_URL)
        if (u.scheme, u.netloc) == (home.scheme, home.netloc):
            return True
        return u.scheme == "https" and u.hostname in ZOHO_ACCOUNTS_HOSTS and u.path in ("", "/")

    def keep(self, answer):
        self.access_token = answer["access_token"]
        # Some older Zoho answers give expires_in in milliseconds, with expires_in_sec beside it.
        self.expires_at = now() + float(answer.get("expires_in_sec") or answer.get("expires_in") or 3600)
        self.api_domain = (answer.get("api_domain") or self.api_domain or "").rstrip("/")

    def token(self):
        """The access token to use: the one held, until shortly before it
        expires (a token per call would evict tokens still in use); then one
        refresh, shared by every caller waiting on the lock."""
        with self.lock:
            if self.access_token is None or now() >= self.expires_at - EARLY:
                self.refresh()
            return self.access_token

    def token_after_401(self, rejected):
        """The API refused a token before its time (revoked or evicted):
        refresh once, unless another caller already did."""
        with self.lock:
            if self.access_token in (None, rejected):
                self.refresh()
            return self.access_token

    def refresh(self):
        """Get a new access token; call with the lock held."""
        if not self.refresh_token:
            raise Failed("not authorized", needs_authorization=True)
        if now() < self.no_token_request_before:
            raise Failed("backing off: the token endpoint asked us to slow down")
        try:
            answer = token_request(self.accounts, grant_type="refresh_token", refresh_token=self.refresh_token)
        except (OSError, HTTPException) as e:
            # The network failed, not the refresh token: keep it, try again next call.
            raise Failed(f"refresh failed: {e!r}")
        except TokenError as e:
            if e.error == "invalid_code":
                # Revoked, or evicted by the user's 21st refresh token: final.
                self.access_token = self.refresh_token = None
                raise Failed("the refresh token is no longer valid: authorize again", needs_authorization=True)
            if e.error or e.status == 429 or e.status >= 500:
                # Throttled ("Access Denied"), or the server is in trouble: wait.
                wait = BACKOFF
                if e.retry_after and e.retry_after.isdigit():
                    wait = max(wait, int(e.retry_after))
                self.no_token_request_before = now() + wait
                note(f"no token request for {wait} s")
            raise Failed("refresh failed: " + str(e))
        self.keep(answer)
        note("refreshed the access token")

    def call(self):
        """GET the current user at the user's api_domain, with Zoho-oauthtoken."""
        token = self.token()
        status = self.get_current_user(token)
        if status == 401:
            status = self.get_current_user(self.token_after_401(token))
        if status != 200:
            raise Failed(f"the API answered HTTP {status}")

    def get_current_user(self, token):
        try:
            status, _, _ = http("GET", self.api_domain + "/crm/v8/users?type=CurrentUser",
                                headers={"Authorization": "Zoho-oauthtoken " + token})
        except (OSError, HTTPException) as e:
            raise Failed(f"API call failed: {e!r}")
        return status


# ---- the protocol ------------------------------------------------------------------

def report(action):
    """Run action() and turn its outcome into a protocol answer."""
    try:
        return action() or {"ok": True}
    except Failed as e:
        return {"ok": False, "error": str(e), "needs_authorization": e.needs_authorization}
    except Exception as e:  # a bug: say so rather than die
        return {"ok": False, "error": f"adapter error: {e!r}", "needs_authorization": False}


def calls(zoho, n):
    """n API calls at the same time; the first failure is the answer."""
    with ThreadPoolExecutor(max_workers=n) as pool:
        reports = list(pool.map(lambda _: report(zoho.call), range(n)))
    return next((r for r in reports if not r["ok"]), {"ok": True})


def advance(seconds):
    global clock_offset
    clock_offset += seconds


def handle(zoho, msg):
    op = msg.get("op")
    if op == "authorize":
        return {"ok": True, "authorize_url": zoho.authorize_url()}
    if op == "redirect":
        return report(lambda: zoho.redirect(msg.get("query") or {}))
    if op == "call":
        return report(zoho.call)
    if op == "calls":
        n = msg.get("n", 1)
        if not isinstance(n, int) or not 1 <= n <= 100:
            return {"ok": False, "error": f"calls: n must be 1 to 100, not {n!r}"}
        return calls(zoho, n)
    if op == "time":
        advance(float(msg.get("advanced_seconds") or 0))
        return {"ok": True}
    if op == "stop":
        return {"ok": True}
    return {"ok": False, "unsupported": f"unknown op {op!r}: this adapter knows authorize, redirect, call, calls, time, stop"}


def answer(obj):
    PROTOCOL.write(redact(json.dumps(obj)) + "\n")
    PROTOCOL.flush()


def main():
    zoho = Zoho()
    for line in sys.stdin:
        if not line.strip():
            continue
        try:
            msg = json.loads(line)
            if not isinstance(msg, dict):
                raise ValueError("not a JSON object")
        except ValueError as e:
            answer({"ok": False, "error": f"bad message: {e}"})
            continue
        try:
            reply = handle(zoho, msg)
        except Exception as e:  # a bug: say so rather than die
            reply = {"ok": False, "error": f"adapter error: {e!r}"}
        answer(reply)
        if msg.get("op") == "stop":
            return


if __name__ == "__main__":
    main()

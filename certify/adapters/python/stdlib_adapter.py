#!/usr/bin/env python3
"""A careful Zoho OAuth 2.0 integration in plain Python (standard library
only), speaking zconform's certifier protocol: a web app (the browser's
redirect), a device (the device flow) or a backend job (client credentials).
It is the example to copy when you write an adapter for your own
integration: it passes every certification scenario, and each rule it
follows is written next to the code that follows it.

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
    {"op":"device_start"}              sign in with the device flow (a TV app, a CLI)
    {"op":"client_credentials","soid":"ZohoCRM.…"}   become a backend job for that org
    {"op":"time","now":"…","advanced_seconds":3660}   the certifier's clock moved;
                                       a device signing in polls if it is time
    {"op":"stop"}                      -> {"ok":true}, then exit 0

An answer is {"ok":true}, {"ok":false,"error":"…","needs_authorization":…} or
{"ok":false,"unsupported":"why"}. While a device sign-in waits for the user,
"time" answers {"ok":false} (neither signed in nor given up); once it holds
tokens {"ok":true}; once it gave up {"ok":false,…,"needs_authorization":true}.
stdout carries nothing else; notes go to stderr. The client secret and the
tokens are never printed.
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

# Zoho's Accounts servers, one per data centre, by the location code Zoho
# sends (location, user_location). They are the only hosts that get the client secret.
ZOHO_ACCOUNTS = {
    "us": "accounts.zoho.com", "eu": "accounts.zoho.eu", "in": "accounts.zoho.in",
    "au": "accounts.zoho.com.au", "jp": "accounts.zoho.jp", "ca": "accounts.zohocloud.ca",
    "sa": "accounts.zoho.sa", "uk": "accounts.zoho.uk", "cn": "accounts.zoho.com.cn",
}
ZOHO_ACCOUNTS_HOSTS = set(ZOHO_ACCOUNTS.values())
EARLY = 30  # seconds: refresh this long before the access token expires
BACKOFF = 60  # seconds without token requests after a throttle or a 5xx
TIMEOUT = 10  # seconds for one HTTP request: a server that never answers must not block the app
POLL_WINDOW = 30  # seconds: Zoho answers slow_down to two device polls within 30 s (ZA-DEV-SLOWDOWN)
POLL_MARGIN = 2  # seconds more: Zoho times the polls as they arrive, and the network can bunch them up


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


def json_object(body):
    """The JSON object an answer carries, or {} for anything else."""
    try:
        answer = json.loads(body)
    except ValueError:
        return {}  # an HTML error page, or an answer cut short
    return answer if isinstance(answer, dict) else {}


def token_request(accounts, **params):
    """POST {accounts}/oauth/v2/token. Zoho answers errors with HTTP 200 and
    {"error":"…"}: only an answer with an access_token is a token."""
    form = {"client_id": CLIENT_ID, "client_secret": CLIENT_SECRET, **params}
    status, headers, body = http("POST", accounts + "/oauth/v2/token", form)
    answer = json_object(body)
    if status == 200 and answer.get("access_token") and not answer.get("error"):
        return answer
    raise TokenError(status, answer.get("error"), headers.get("Retry-After"))


def accounts_server_of(location):
    """The Accounts server of the data centre Zoho names by location ("eu"),
    in the form of the configured one: https://accounts.zoho.eu, or on the
    fake, which serves every data centre under one origin,
    http://127.0.0.1:PORT/accounts.zoho.eu. None for a location it does not
    know. (A real app may also ask GET https://accounts.zoho.com/oauth/serverinfo,
    which lists them: ZA-SERVERINFO.)"""
    host = ZOHO_ACCOUNTS.get(location)
    if not host:
        return None
    u = urllib.parse.urlsplit(ACCOUNTS_URL)
    if u.hostname in ZOHO_ACCOUNTS_HOSTS:
        return "https://" + host
    head, _, last = u.path.rpartition("/")
    if last in ZOHO_ACCOUNTS_HOSTS:
        return urllib.parse.urlunsplit((u.scheme, u.netloc, head + "/" + host, "", ""))
    return None


# ---- the device flow (a TV app, a CLI: no browser to redirect) ------------------------

def device_code_request():
    """POST {AS}/oauth/v3/device/code (ZA-DEV-INIT), at the Accounts server
    the app is registered at, with the parameters in the query string as
    Zoho's page shows them (no secret among them). access_type=offline: a
    refresh token, so that the device stays signed in; prompt=consent: as for
    the browser flow, a user who consented before gets a refresh token again
    only when asked."""
    query = {"grant_type": "device_request", "client_id": CLIENT_ID, "scope": SCOPE,
             "access_type": "offline", "prompt": "consent"}
    status, _, body = http("POST", ACCOUNTS_URL + "/oauth/v3/device/code?" + urllib.parse.urlencode(query))
    return status, json_object(body)


def device_poll(accounts, code):
    """POST {accounts}/oauth/v3/device/token (ZA-DEV-POLL): the device code
    goes as `code`, not RFC 8628's device_code. The client secret goes in the
    form body, not in the URL, where logs and proxies would keep it."""
    form = {"client_id": CLIENT_ID, "client_secret": CLIENT_SECRET, "grant_type": "device_token", "code": code}
    status, _, body = http("POST", accounts + "/oauth/v3/device/token", form)
    return status, json_object(body)


class DeviceSignIn:
    """A device sign-in in progress: its device code, the Accounts server it
    is polled at (the app's, after other_dc the user's), and when to poll next."""

    def __init__(self, code, pace):
        self.code = code
        self.accounts = ACCOUNTS_URL
        self.pace = pace  # seconds between two polls
        self.next_poll = now() + pace


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
        self.device = None  # a device sign-in in progress (DeviceSignIn)
        self.device_ended = None  # why the last device sign-in ended without tokens
        self.soid = None  # a backend job's org, on client credentials

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
        if self.soid:
            return self.job_token()  # a backend job has no refresh token: it asks again
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
            self.back_off(e)
            raise Failed("refresh failed: " + str(e))
        self.keep(answer)
        note("refreshed the access token")

    def back_off(self, e):
        """After a failed token request: throttled ("Access Denied"), or the
        server is in trouble, wait before the next one."""
        if e.error or e.status == 429 or e.status >= 500:
            wait = BACKOFF
            if e.retry_after and e.retry_after.isdigit():
                wait = max(wait, int(e.retry_after))
            self.no_token_request_before = now() + wait
            note(f"no token request for {wait} s")

    # ---- a backend job on client credentials (a Self Client: no user) ----

    def client_credentials(self, soid):
        """From now on this app is a backend job (a nightly sync) for the org
        soid, <Service>.<org id>: its calls use client-credentials tokens. It
        asks for the first one at once."""
        if not soid:
            raise Failed("client_credentials: no soid: a backend job names its org (ZohoCRM.<org id>)")
        with self.lock:
            self.soid = soid
            self.access_token = self.refresh_token = None
            self.refresh()

    def job_token(self):
        """A client-credentials token (ZA-CC-TOKEN), asked at the Accounts
        server the app is set up for (the Self Client's home DC), with the
        scope and the org's soid: without soid Zoho answers missing_org_info
        (ZA-CC-SOID). The token lives an hour (expires_in) and is kept as long
        (token() asks again only when it is about to expire). The answer never
        carries a refresh token, and none is looked for. Call with the lock held."""
        if now() < self.no_token_request_before:
            raise Failed("backing off: the token endpoint asked us to slow down")
        try:
            answer = token_request(ACCOUNTS_URL, grant_type="client_credentials", scope=SCOPE, soid=self.soid)
        except (OSError, HTTPException) as e:
            raise Failed(f"client credentials failed: {e!r}")
        except TokenError as e:
            self.back_off(e)
            raise Failed("client credentials failed: " + str(e))
        self.keep(answer)
        note(f"a client-credentials token for {self.soid}")

    # ---- the device flow ----

    def device_start(self):
        """Ask for a device code and show the user where to enter the user
        code; the device then polls as time passes (device_time_passed)."""
        try:
            status, answer = device_code_request()
        except (OSError, HTTPException) as e:
            raise Failed(f"device sign-in failed: {e!r}")
        if answer.get("error") or not answer.get("device_code"):
            raise Failed(f"device sign-in failed: no device code: {answer.get('error') or f'HTTP {status}'}")
        # interval (like expires_in) is in milliseconds: 5000 is 5 s. Whatever
        # it says, Zoho answers slow_down to two polls within 30 s (ZA-DEV-SLOWDOWN).
        interval = float(answer.get("interval") or 0) / 1000
        with self.lock:
            self.device = DeviceSignIn(answer["device_code"], max(interval, POLL_WINDOW) + POLL_MARGIN)
            self.device_ended = None
        url = answer.get("verification_url") or answer.get("verification_uri")  # Zoho says _url
        note(f"device: to sign in, go to {url} and enter {answer.get('user_code')}")

    def device_time_passed(self):
        """Poll, if a sign-in is waiting and its pace allows, and say where it
        stands: {"ok":true} once signed in, needs_authorization once it gave
        up, {"ok":false} (and nothing else) while it waits for the user."""
        with self.lock:
            d = self.device
            if d is None:
                if self.device_ended:
                    return {"ok": False, "error": self.device_ended, "needs_authorization": True}
                return {"ok": True}
            if now() < d.next_poll:
                return {"ok": False}
            d.next_poll = now() + d.pace
            followed = False
            while True:
                try:
                    status, answer = device_poll(d.accounts, d.code)
                except (OSError, HTTPException) as e:
                    return {"ok": False, "error": f"device sign-in: poll failed: {e!r}"}  # again at the next turn
                error = answer.get("error")
                if not error and answer.get("access_token"):
                    # ZA-DEV-TOKENS: the tokens of the user's DC, whose Accounts
                    # server then refreshes them, and whose api_domain serves the API.
                    self.accounts = d.accounts
                    self.refresh_token = answer.get("refresh_token")
                    self.keep(answer)
                    self.device = None
                    note(f"device: signed in: tokens from {d.accounts}, API at {self.api_domain}")
                    return {"ok": True}
                if not error:
                    # an error page (a 5xx) or an answer cut short: poll again at the next turn
                    return {"ok": False, "error": f"device sign-in: HTTP {status} without a token or an error"}
                if error == "authorization_pending":  # ZA-DEV-PENDING: the user has not acted yet
                    return {"ok": False}
                if error == "slow_down":  # ZA-DEV-SLOWDOWN: polled within 30 s: wait longer
                    d.next_poll = now() + d.pace + POLL_WINDOW
                    return {"ok": False}
                if error == "other_dc" and not followed:
                    # ZA-DEV-OTHERDC: the user lives in another DC (user_location):
                    # poll the same code there, at once (each DC times its own polls).
                    to = accounts_server_of(answer.get("user_location"))
                    if to:
                        note(f"device: the user is in {answer.get('user_location')}: polling {to}")
                        d.accounts, followed = to, True
                        continue
                    error = f"other_dc names a location it does not know ({answer.get('user_location')!r})"
                # access_denied (ZA-DEV-DENIED), expired (ZA-DEV-EXPIRED), or an
                # error it does not know: this code is done. Never poll it again;
                # only a new sign-in (device_start) can help.
                self.device = None
                self.device_ended = f"device sign-in: {error}: sign in again"
                note(self.device_ended)
                return {"ok": False, "error": self.device_ended, "needs_authorization": True}

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
    if op == "device_start":
        return report(zoho.device_start)
    if op == "client_credentials":
        return report(lambda: zoho.client_credentials(msg.get("soid")))
    if op == "time":
        advance(float(msg.get("advanced_seconds") or 0))
        return report(zoho.device_time_passed)  # a device signing in polls, if it is time
    if op == "stop":
        return {"ok": True}
    return {"ok": False, "unsupported": f"unknown op {op!r}: this adapter knows authorize, redirect, call, calls, "
                                        "device_start, client_credentials, time, stop"}


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

#!/usr/bin/python3
"""Reference adapter: lets zconform's integration certifier drive
requests-oauthlib's OAuth2Session (Debian's python3-requests-oauthlib 1.3.0,
with oauthlib 3.2.2 and requests 2.28) through the certifier's process
protocol. It behaves like a small Python web app that connects to Zoho the way
requests-oauthlib's documentation shows: authorization_url() to send the user
to Zoho, fetch_token(code=...) at the configured Accounts server when the
browser comes back, and an OAuth2Session with auto_refresh_url and
token_updater for every API call. It adds nothing the library does not do (no
retries, no extra refreshes, no multi-DC handling, no locking), so what the
certifier observes is the library.

Run it with Debian's interpreter, which is the one the package installs for:

    apt-get install -y python3-requests-oauthlib
    /usr/bin/python3 certify/adapters/python/requests_oauthlib_adapter.py   # started by the certifier

Environment (set by the certifier):

    ZCONFORM_ACCOUNTS_URL    Accounts server the app is set up for, e.g.
                             http://127.0.0.1:PORT/accounts.zoho.com (the fake) or
                             https://accounts.zoho.com
    ZCONFORM_CLIENT_ID       client ID
    ZCONFORM_CLIENT_SECRET   client secret
    ZCONFORM_REDIRECT_URI    redirect URI registered for the client
    ZCONFORM_SCOPE           scopes, comma-separated (Zoho's way)
    ZCONFORM_WORKDIR         empty folder (unused: the token store is in memory)

Protocol: one JSON object per line on stdin, exactly one JSON line on stdout
per message; everything else goes to stderr. Messages: authorize, redirect,
call, calls, time, stop (see README.md). Secrets and tokens are never printed.
"""

import json
import logging
import os
import re
import sys
import threading
import traceback

# stdout carries the protocol only: keep it for the answers and send anything
# else that prints (the library, its dependencies) to stderr.
PROTOCOL = sys.stdout
sys.stdout = sys.stderr

try:
    import oauthlib
    import requests
    import requests_oauthlib
    from oauthlib.oauth2 import OAuth2Error
    from requests_oauthlib import OAuth2Session
except ImportError as e:
    sys.stderr.write(
        f"requests_oauthlib_adapter: cannot import requests_oauthlib with {sys.executable} ({e}).\n"
        "Install Debian's package (apt-get install -y python3-requests-oauthlib) and run this adapter\n"
        "with the interpreter it installs for: /usr/bin/python3 requests_oauthlib_adapter.py\n"
    )
    sys.exit(2)


# ---- configuration ---------------------------------------------------------------

def need(name):
    value = os.environ.get(name, "")
    if not value:
        sys.stderr.write(f"requests_oauthlib_adapter: set {name}\n")
        sys.exit(2)
    return value


ACCOUNTS_URL = need("ZCONFORM_ACCOUNTS_URL").rstrip("/")
CLIENT_ID = need("ZCONFORM_CLIENT_ID")
CLIENT_SECRET = need("ZCONFORM_CLIENT_SECRET")
REDIRECT_URI = need("ZCONFORM_REDIRECT_URI")
SCOPES = [s for s in re.split(r"[,\s]+", os.environ.get("ZCONFORM_SCOPE", "")) if s]

# The app is set up for one Accounts server, as in the library's examples:
# one authorization URL and one token URL.
AUTHORIZATION_URL = ACCOUNTS_URL + "/oauth/v2/auth"
TOKEN_URL = ACCOUNTS_URL + "/oauth/v2/token"

# oauthlib refuses plain http (InsecureTransportError) for every URL it
# touches, token endpoint and API alike. The fake listens on http on loopback;
# oauthlib's documented switch for local testing lets it through. Against
# Zoho (https) it is not set.
if ACCOUNTS_URL.startswith("http://"):
    os.environ["OAUTHLIB_INSECURE_TRANSPORT"] = "1"

# ZCONFORM_ROL_MULTI_DC=1 (not part of the protocol, and not what the library
# does): the app itself exchanges the code, and later refreshes, at the
# Accounts server the redirect names (Zoho's multi-DC rule), to look past the
# DC failure at what the library does next. Off by default.
MULTI_DC = os.environ.get("ZCONFORM_ROL_MULTI_DC") == "1"


# ---- redaction --------------------------------------------------------------------

# Values that must never reach stdout or stderr: the client secret, every code
# the adapter was given, every token it holds, and anything shaped like a Zoho
# token ("1000.<32 hex>.<32 hex>").
secrets = {CLIENT_SECRET}
ZOHO_TOKEN = re.compile(r"\b(1000\.[0-9a-f]{4})[0-9a-f]{12,}\.[0-9a-f]{8,}\b")


def redact(text):
    text = str(text)
    for s in list(secrets):
        if s and len(s) >= 8:
            text = text.replace(s, s[:6] + "…[redacted]")
    return ZOHO_TOKEN.sub(r"\1…[redacted]", text)


def note(message):
    sys.stderr.write("requests_oauthlib_adapter: " + redact(message) + "\n")
    sys.stderr.flush()


class Redacting(logging.Filter):
    def filter(self, record):
        record.msg, record.args = redact(record.getMessage()), None
        return True


# The library logs tokens, bodies and headers at DEBUG; the adapter shows
# WARNING and above, redacted, on stderr.
_handler = logging.StreamHandler(sys.stderr)
_handler.addFilter(Redacting())
logging.basicConfig(level=logging.WARNING, handlers=[_handler])

note(
    f"requests-oauthlib {requests_oauthlib.__version__}, oauthlib {oauthlib.__version__}, "
    f"requests {requests.__version__}; token URL {TOKEN_URL}; scope {' '.join(SCOPES) or '-'}"
)


# ---- the app's token store -----------------------------------------------------------

# A real app keeps the token in its database; token_updater is how
# requests-oauthlib hands it a refreshed one. Here the store is a dict.
store = {"token": None, "token_url": TOKEN_URL}


def save_token(token):
    """token_updater: called by OAuth2Session after an automatic refresh."""
    for k in ("access_token", "refresh_token"):
        if token.get(k):
            secrets.add(token[k])
    store["token"] = token


# ---- answers ----------------------------------------------------------------------------

_out = threading.Lock()


def answer(obj):
    with _out:
        PROTOCOL.write(redact(json.dumps(obj)) + "\n")
        PROTOCOL.flush()


def failure(err):
    """An exception as a protocol report. oauthlib raises an OAuth2Error
    subclass for an answer carrying {"error":…}, whatever the HTTP status; its
    .error is Zoho's error code (a code oauthlib does not know, such as
    invalid_code, becomes CustomOAuth2Error)."""
    note("error: " + "".join(traceback.format_exception(err)).rstrip())
    if isinstance(err, OAuth2Error):
        text = f"{type(err).__name__}: {err.error}"
        if err.description:
            text += f" ({err.description})"
        # invalid_code is final for a grant and for a refresh token: only a
        # new authorization helps.
        return {"ok": False, "error": text, "needs_authorization": err.error == "invalid_code"}
    return {"ok": False, "error": f"{type(err).__name__}: {err}", "needs_authorization": False}


# ---- operations -------------------------------------------------------------------------

def authorize(_msg):
    """The user clicks "connect": authorization_url() with Zoho's
    access_type=offline (to get a refresh token). The library makes the state;
    an app keeps it in the user's session."""
    oauth = OAuth2Session(CLIENT_ID, redirect_uri=REDIRECT_URI, scope=SCOPES)
    url, state = oauth.authorization_url(AUTHORIZATION_URL, access_type="offline")
    note(f"authorization URL made with state {state[:4]}…")
    return {"ok": True, "authorize_url": url}


def redirect(msg):
    """The browser came back to the redirect URI: fetch_token(code=...) at the
    configured token URL, with the client ID and secret in the body (Zoho does
    not take HTTP Basic in its docs; include_client_id=True puts both in the
    body). location, accounts-server and state are not given to the library:
    fetch_token has no way to take the first two, and with code= it checks no
    state (it does only with authorization_response=, against the state of the
    same session, which the adapter does not have when the certifier started
    the authorization)."""
    q = msg.get("query") or {}
    if q.get("error"):
        return {"ok": False, "error": str(q["error"]), "needs_authorization": True}
    code = q.get("code")
    if not code:
        return {"ok": False, "error": "the redirect carries no code", "needs_authorization": True}
    secrets.add(str(code))
    if (q.get("accounts-server") or q.get("location")) and not MULTI_DC:
        note(f"redirect names location={q.get('location', '-')} accounts-server={q.get('accounts-server', '-')}; "
             f"the app exchanges at {TOKEN_URL}")
    token_url = TOKEN_URL
    if MULTI_DC and q.get("accounts-server"):
        token_url = str(q["accounts-server"]).rstrip("/") + "/oauth/v2/token"
        note(f"ZCONFORM_ROL_MULTI_DC: the app exchanges at {token_url}")
    oauth = OAuth2Session(CLIENT_ID, redirect_uri=REDIRECT_URI, scope=SCOPES)
    try:
        token = oauth.fetch_token(token_url, code=str(code), client_secret=CLIENT_SECRET, include_client_id=True)
    except Exception as err:  # noqa: BLE001 - every failure becomes a report
        return failure(err)
    store["token_url"] = token_url
    save_token(token)
    note(f"token: api_domain={token.get('api_domain')} expires_in={token.get('expires_in')} "
         f"refresh_token={'yes' if token.get('refresh_token') else 'no'}")
    return {"ok": True}


def call(_msg=None):
    """One API call as the user: an OAuth2Session from the stored token, with
    the documented automatic refresh (auto_refresh_url, auto_refresh_kwargs
    with the client credentials Zoho wants in the body, token_updater), then
    GET {api_domain}/crm/v8/users?type=CurrentUser. The session refreshes when
    oauthlib finds the token's expires_at in the past, and sends
    Authorization: Bearer (the token_type Zoho returns)."""
    token = store["token"]
    if not token:
        return {"ok": False, "error": "not authorized", "needs_authorization": True}
    oauth = OAuth2Session(
        CLIENT_ID,
        token=token,
        auto_refresh_url=store["token_url"],
        auto_refresh_kwargs={"client_id": CLIENT_ID, "client_secret": CLIENT_SECRET},
        token_updater=save_token,
    )
    api_domain = str(token.get("api_domain") or "").rstrip("/")
    try:
        r = oauth.get(api_domain + "/crm/v8/users", params={"type": "CurrentUser"})
    except Exception as err:  # noqa: BLE001
        return failure(err)
    if r.status_code != 200:
        try:
            body = r.json()
            detail = f"{body.get('code', '?')} ({body.get('message', '')})"
        except ValueError:
            detail = r.text[:200]
        return {"ok": False, "error": f"HTTP {r.status_code}: {detail}", "needs_authorization": False}
    return {"ok": True}


def calls(msg):
    """n API calls at the same time, one thread each, as a threaded web server
    would make them; ok when all succeeded, else the first failure (in call
    order)."""
    n = msg.get("n", 1)
    if not isinstance(n, int) or not 1 <= n <= 100:
        return {"ok": False, "error": f"calls: n must be an integer from 1 to 100, not {n!r}",
                "needs_authorization": False}
    reports = [None] * n
    start = threading.Barrier(n)

    def one(i):
        start.wait()
        reports[i] = call()

    threads = [threading.Thread(target=one, args=(i,)) for i in range(n)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    failed = [r for r in reports if not r["ok"]]
    if failed:
        note(f"calls: {len(failed)} of {n} failed")
        return failed[0]
    return {"ok": True}


def time_passed(msg):
    """The certifier's clock moved on by advanced_seconds. oauthlib judges
    expiry by the token's expires_at (wall-clock seconds, set from expires_in
    when the token arrived) against time.time(); moving expires_at back by the
    time that passed makes it see that time."""
    try:
        advanced = float(msg.get("advanced_seconds") or 0)
    except (TypeError, ValueError):
        advanced = 0
    token = store["token"]
    if advanced > 0 and token and token.get("expires_at") is not None:
        token["expires_at"] = float(token["expires_at"]) - advanced
        note(f"moved the token's expires_at back by {advanced:g}s")
    return {"ok": True}


OPS = {"authorize": authorize, "redirect": redirect, "call": call, "calls": calls, "time": time_passed}


def main():
    for line in sys.stdin:
        if not line.strip():
            continue
        try:
            msg = json.loads(line)
            if not isinstance(msg, dict):
                raise ValueError("not a JSON object")
        except ValueError as err:
            answer({"ok": False, "error": f"bad message: {err}", "needs_authorization": False})
            continue
        op = msg.get("op")
        if op == "stop":
            answer({"ok": True})
            return
        handler = OPS.get(op)
        if handler is None:
            answer({"ok": False, "unsupported": f"unknown op {op!r}: the adapter knows "
                                                "authorize, redirect, call, calls, time and stop"})
            continue
        try:
            result = handler(msg)
        except Exception as err:  # noqa: BLE001 - an adapter bug still gets an answer
            result = failure(err)
        answer(result)


if __name__ == "__main__":
    main()
    sys.exit(0)

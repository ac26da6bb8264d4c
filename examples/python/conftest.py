"""pytest fixtures that give a test suite a fake Zoho Accounts server.

Copy this file into your suite's folder. It needs the Python standard library
and pytest only (Debian's python3-pytest). The fake is zconform's:

* by default the fixture starts the `zconform` binary (the path in
  $ZCONFORM_BIN, else `zconform` on PATH) as
  `zconform fake -addr 127.0.0.1:0 -ready-file <tmp>`, waits for the ready
  file and stops the fake when the session ends;
* with $ZCONFORM_URL set (e.g. http://zconform:8080, a service container of
  the image, or a binary the CI job started) it uses that fake and starts
  nothing; $ZCONFORM_CONTROL_TOKEN is then sent to its control API if set.

Fixtures:

    zconform_fake   (session)  the fake: its URLs and its control API
    zoho_app        (test)     a web client and a fresh user registered on it

`zoho_app.authorize()` scripts the user's consent and runs Zoho's
authorization, `zoho_app.exchange()` trades the code for tokens and
`zoho_app.current_user()` calls the API. See test_zoho_oauth.py.
"""

import json
import os
import secrets
import shutil
import subprocess
import tempfile
import time
import urllib.error
import urllib.parse
import urllib.request
import uuid

import pytest

CONTROL_PREFIX = "/_zconform/v1"
READY_TIMEOUT = 15  # seconds for the fake to listen
HTTP_TIMEOUT = 10  # seconds for one request: a fake that hangs must not hang the suite
REDIRECT_URI = "https://app.example/callback"  # never fetched: the test reads the redirect
SCOPE = "ZohoCRM.users.ALL"


class Fake:
    """A running fake: its base URL, its URLs per DC and its control API."""

    def __init__(self, url, control_token=None):
        self.url = url.rstrip("/")
        self.control_url = self.url + CONTROL_PREFIX
        self._control_token = control_token or None
        # The index names every DC's Accounts server and API domain, as seen
        # from here (the fake answers with the URL it was reached on).
        self.data_centres = self.control("GET", "")["data_centres"]

    def accounts_server(self, dc="us"):
        return self.data_centres[dc]["accounts_server"]

    def api_domain(self, dc="us"):
        return self.data_centres[dc]["api_domain"]

    def control(self, method, path, body=None):
        """Calls the control API; answers its JSON, raises on an HTTP error."""
        headers = {"Accept": "application/json"}
        data = None
        if body is not None:
            data = json.dumps(body).encode()
            headers["Content-Type"] = "application/json"
        if self._control_token:
            headers["Authorization"] = "Bearer " + self._control_token
        req = urllib.request.Request(self.control_url + path, data=data, headers=headers, method=method)
        try:
            with urllib.request.urlopen(req, timeout=HTTP_TIMEOUT) as resp:
                return json.load(resp)
        except urllib.error.HTTPError as err:
            detail = err.read().decode(errors="replace")
            raise AssertionError(f"control API {method} {CONTROL_PREFIX}{path}: HTTP {err.code}: {detail}") from None


def _find_binary():
    binary = os.environ.get("ZCONFORM_BIN") or shutil.which("zconform")
    if not binary:
        pytest.fail(
            "zconform not found: put it on PATH (a release archive, or "
            "go install github.com/zconform/zconform/cmd/zconform@VERSION), "
            "set $ZCONFORM_BIN to it, or set $ZCONFORM_URL to a running fake",
            pytrace=False,
        )
    return binary


def _start(binary, workdir):
    """Starts `zconform fake` and waits for its ready file; returns (process, ready info, token)."""
    ready = os.path.join(workdir, "ready.json")
    log_path = os.path.join(workdir, "fake.log")
    # A control token of its own: no other process on this machine can
    # script the fake while the suite runs.
    token = secrets.token_hex(16)
    env = dict(os.environ, ZCONFORM_CONTROL_TOKEN=token)
    with open(log_path, "wb") as log:
        proc = subprocess.Popen(
            [binary, "fake", "-addr", "127.0.0.1:0", "-ready-file", ready, "-log", "text"],
            stdin=subprocess.DEVNULL, stdout=log, stderr=subprocess.STDOUT, env=env,
        )

    def log_tail():
        with open(log_path, "rb") as f:
            return f.read()[-4000:].decode(errors="replace")

    deadline = time.monotonic() + READY_TIMEOUT
    # The fake writes the file atomically once it listens: when it is
    # there, it is whole.
    while not os.path.exists(ready):
        if proc.poll() is not None:
            pytest.fail(f"{binary} fake exited with status {proc.returncode} before it was ready:\n{log_tail()}", pytrace=False)
        if time.monotonic() > deadline:
            _stop(proc)
            pytest.fail(f"{binary} fake was not ready after {READY_TIMEOUT}s:\n{log_tail()}", pytrace=False)
        time.sleep(0.02)
    with open(ready) as f:
        return proc, json.load(f), token


def _stop(proc):
    if proc.poll() is None:
        proc.terminate()  # SIGTERM: the fake stops and removes its ready file
        try:
            proc.wait(timeout=10)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.wait()


@pytest.fixture(scope="session")
def zconform_fake():
    url = os.environ.get("ZCONFORM_URL")
    if url:
        yield Fake(url, os.environ.get("ZCONFORM_CONTROL_TOKEN"))
        return
    binary = _find_binary()
    with tempfile.TemporaryDirectory(prefix="zconform-") as workdir:
        proc, info, token = _start(binary, workdir)
        try:
            # info also has control_api, profile, data_centres and clients.
            yield Fake(info["url"], token)
        finally:
            _stop(proc)


class ZohoApp:
    """A web-based client and a user registered on the fake, and what an
    app does with them: authorize, exchange a code, call the API."""

    def __init__(self, fake, user, client):
        self.fake, self.user, self.client = fake, user, client
        self.redirect_uri, self.scope = REDIRECT_URI, SCOPE

    def authorize(self):
        """Runs Zoho's authorization with the user's consent scripted.

        Answers the redirect's query: code, location (the user's DC),
        accounts-server (where the code must be exchanged) and state.
        """
        # Script the consent: the next authorization of this client is
        # approved by this user (POST /clients/{id}/consent takes a list of
        # answers; {"deny": true} refuses).
        self.fake.control("POST", f"/clients/{self.client['id']}/consent", {"answers": [{"user": self.user["email"]}]})
        state = secrets.token_urlsafe(8)
        query = urllib.parse.urlencode({
            "scope": self.scope, "client_id": self.client["id"], "response_type": "code",
            "access_type": "offline", "redirect_uri": self.redirect_uri, "state": state,
        })
        opener = urllib.request.build_opener(_NoRedirect)
        try:
            opener.open(f"{self.fake.accounts_server()}/oauth/v2/auth?{query}", timeout=HTTP_TIMEOUT)
        except urllib.error.HTTPError as err:
            if err.code != 302:
                raise AssertionError(f"authorization: HTTP {err.code}, not a redirect: {err.read()[:500]!r}") from None
            location = err.headers["Location"]
        else:
            raise AssertionError("authorization: the fake did not redirect to the app")
        assert location.startswith(self.redirect_uri + "?"), location
        answer = dict(urllib.parse.parse_qsl(urllib.parse.urlsplit(location).query))
        assert answer.get("state") == state, answer
        assert answer.get("code"), answer
        return answer

    def exchange(self, code, accounts_server, client=None):
        """Exchanges a grant token at the Accounts server the redirect named
        (for a self client's code: its user's DC's).

        Answers (HTTP status, JSON body): Zoho answers errors with HTTP 200
        and {"error": ...}, so the status alone says nothing.
        """
        client = client or self.client
        fields = {"grant_type": "authorization_code", "client_id": client["id"],
                  "client_secret": client["secret"], "code": code}
        if client["type"] != "self":
            fields["redirect_uri"] = self.redirect_uri  # a self client has none
        return _post_form(accounts_server + "/oauth/v2/token", fields)

    def current_user(self, tokens):
        """Calls the CRM API as the token's user, at the api_domain the token answer named."""
        return _get_json(tokens["api_domain"] + "/crm/v8/users?type=CurrentUser", tokens["access_token"])


@pytest.fixture
def zoho_app(zconform_fake):
    """A web-based client and a fresh user of the app, registered on the
    fake over the control API. Each test gets its own: tests share no codes
    or tokens, and the order they run in does not matter."""
    fake = zconform_fake
    email = f"user-{uuid.uuid4().hex[:12]}@example.com"
    user = fake.control("POST", "/users", {"email": email, "dc": "us", "first_name": "Pat", "last_name": "Tester"})
    # Registered by the fake's default developer (dev@us.zconform.test), who
    # would also be the one to consent unless a test scripts another user.
    client = fake.control("POST", "/clients", {
        "type": "web",
        "name": "pytest example",
        "homepage": "https://app.example",
        "redirect_uris": [REDIRECT_URI],
    })
    return ZohoApp(fake, user, client)


class _NoRedirect(urllib.request.HTTPRedirectHandler):
    def redirect_request(self, req, fp, code, msg, headers, newurl):
        return None  # the redirect goes to the app: read it, do not follow it


def _post_form(url, fields):
    req = urllib.request.Request(url, data=urllib.parse.urlencode(fields).encode(), method="POST",
                                 headers={"Content-Type": "application/x-www-form-urlencoded"})
    try:
        with urllib.request.urlopen(req, timeout=HTTP_TIMEOUT) as resp:
            return resp.status, json.load(resp)
    except urllib.error.HTTPError as err:
        return err.code, json.loads(err.read() or b"null")


def _get_json(url, access_token):
    req = urllib.request.Request(url, headers={"Authorization": "Zoho-oauthtoken " + access_token})
    try:
        with urllib.request.urlopen(req, timeout=HTTP_TIMEOUT) as resp:
            return resp.status, json.load(resp)
    except urllib.error.HTTPError as err:
        return err.code, json.loads(err.read() or b"null")

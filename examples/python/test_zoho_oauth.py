"""An integration's tests against zconform's fake Zoho Accounts server.

Run with Debian's pytest (standard library otherwise):

    ZCONFORM_BIN=/path/to/zconform /usr/bin/python3 -m pytest -v examples/python

The fixtures (conftest.py) start the fake and register a user and a client
over its control API; each test then does what an app does: the
authorization, the code exchange at the Accounts server the redirect
named, an API call at the api_domain the token answer named.
"""


def test_code_exchanged_and_api_called(zoho_app):
    redirect = zoho_app.authorize()
    # Zoho's redirect says where the user's account lives: the code must be
    # exchanged there, not at a fixed URL.
    assert redirect["location"] == "us"
    assert redirect["accounts-server"] == zoho_app.fake.accounts_server("us")

    status, tokens = zoho_app.exchange(redirect["code"], redirect["accounts-server"])
    assert status == 200
    assert "error" not in tokens, tokens
    assert tokens["token_type"] == "Bearer"
    assert tokens["expires_in"] == 3600
    assert tokens["refresh_token"]  # access_type=offline, first consent
    assert tokens["api_domain"] == zoho_app.fake.api_domain("us")

    status, body = zoho_app.current_user(tokens)
    assert status == 200, body
    assert [u["email"] for u in body["users"]] == [zoho_app.user["email"]]


def test_reused_code_is_invalid_code(zoho_app):
    redirect = zoho_app.authorize()
    status, tokens = zoho_app.exchange(redirect["code"], redirect["accounts-server"])
    assert status == 200 and "access_token" in tokens, tokens

    # A grant token works once. Zoho answers the second exchange with
    # HTTP 200 and an error body, not with an HTTP error.
    status, again = zoho_app.exchange(redirect["code"], redirect["accounts-server"])
    assert (status, again) == (200, {"error": "invalid_code"})


def test_self_client_code(zconform_fake, zoho_app):
    # The console's self client: its Generate Code, over the control API.
    fake = zconform_fake
    client = fake.control("POST", "/clients", {"type": "self", "user": zoho_app.user["email"]})
    code = fake.control("POST", f"/clients/{client['id']}/self-client-code",
                        {"scopes": [zoho_app.scope], "lifetime": "3m"})["code"]

    status, tokens = zoho_app.exchange(code, fake.accounts_server("us"), client=client)
    assert status == 200 and "access_token" in tokens, tokens
    status, body = zoho_app.current_user(tokens)
    assert status == 200, body
    assert body["users"][0]["email"] == zoho_app.user["email"]

// Reference adapter: lets zconform's integration certifier drive
// simple-oauth2 (5.1.0), the generic Node.js OAuth 2.0 client, through the
// certifier's process protocol. It behaves like a small web app that a Node
// team wires to Zoho from simple-oauth2's README: one AuthorizationCode
// client whose tokenHost is the configured Accounts server, tokenPath
// /oauth/v2/token and authorizePath /oauth/v2/auth; authorizeURL() for the
// connect button, getToken() on the redirect, expired()/refresh() before each
// API call, and the API called with fetch at the token's api_domain with
// "Authorization: Zoho-oauthtoken …". It adds nothing the library does not do
// (no retries, no multi-DC handling, no check of the token answer), so what
// the certifier observes is simple-oauth2.
//
// Environment (set by the certifier):
//
//   ZCONFORM_ACCOUNTS_URL    Accounts server the app is set up for, e.g.
//                            http://127.0.0.1:PORT/accounts.zoho.com (the fake) or
//                            https://accounts.zoho.com
//   ZCONFORM_CLIENT_ID       client ID
//   ZCONFORM_CLIENT_SECRET   client secret
//   ZCONFORM_REDIRECT_URI    redirect URI registered for the client
//   ZCONFORM_SCOPE           scopes, e.g. ZohoCRM.users.ALL
//   ZCONFORM_WORKDIR         empty folder (unused: the app keeps its token in memory)
//   HTTPS_PROXY              optional (zconform certify -via proxy): fetch goes
//                            through it (undici's EnvHttpProxyAgent); the token
//                            requests through global-agent, if preloaded
//   ZCONFORM_SIMPLEOAUTH2_KEEP_REFRESH_WORKAROUND
//                            optional, not part of the protocol: "1" puts the old
//                            refresh token back after refresh() (see call())
//
// Protocol: one JSON object per line on stdin, exactly one JSON line on stdout
// per message; everything else goes to stderr. Messages: authorize, redirect,
// call, calls, time, stop (see README.md). Secrets and tokens are never
// printed.

import { createRequire } from "node:module";
import * as crypto from "node:crypto";
import * as readline from "node:readline";
import * as util from "node:util";

// stdout carries the protocol only. Anything printed through console goes
// to stderr (after redaction).
for (const m of ["log", "info", "warn", "error", "debug", "trace"]) {
  console[m] = (...args) => {
    process.stderr.write(redact(util.format(...args)) + "\n");
  };
}

// ---- configuration ---------------------------------------------------------

function need(name) {
  const v = process.env[name];
  if (v == null || v === "") {
    process.stderr.write(`adapter: set ${name}\n`);
    process.exit(2);
  }
  return v;
}

const accountsURL = need("ZCONFORM_ACCOUNTS_URL").replace(/\/+$/, "");
const clientID = need("ZCONFORM_CLIENT_ID");
const clientSecret = need("ZCONFORM_CLIENT_SECRET");
const redirectURI = need("ZCONFORM_REDIRECT_URI");
const scope = process.env.ZCONFORM_SCOPE || "ZohoCRM.users.ALL";
need("ZCONFORM_WORKDIR");

// ---- redaction ---------------------------------------------------------------

// Values that must never reach stdout or stderr: the client secret (also as
// the HTTP Basic credentials simple-oauth2 sends), every code the adapter was
// given, and every token it got.
const formEncode = (v) =>
  encodeURIComponent(v)
    .replace(/%20/g, "+")
    .replace(/[!'()*]/g, (c) => `%${c.charCodeAt(0).toString(16).toUpperCase()}`);
const basic = Buffer.from(`${formEncode(clientID)}:${formEncode(clientSecret)}`).toString("base64");
const secrets = new Set([clientSecret, basic]);

function remember(token) {
  for (const k of ["access_token", "refresh_token"]) {
    if (token && typeof token.token[k] === "string") secrets.add(token.token[k]);
  }
}

function redact(text) {
  let out = String(text);
  for (const s of secrets) {
    if (s && s.length >= 8) {
      out = out.split(s).join(s.slice(0, 6) + "…[redacted]");
    }
  }
  // Zoho-shaped tokens ("1000.<hex>.<hex>") that slipped through.
  out = out.replace(/\b(1000\.[0-9a-f]{4})[0-9a-f]{12,}\.[0-9a-f]{8,}\b/g, "$1…[redacted]");
  return out;
}

function note(msg) {
  process.stderr.write("adapter: " + redact(msg) + "\n");
}

// ---- the library ---------------------------------------------------------------

// Imported after console is redirected. simple-oauth2 logs through `debug`
// (DEBUG=*simple-oauth2*), including the Basic credentials and the form
// body: route that through the redaction too.
const { AuthorizationCode } = await import("simple-oauth2");
const libRequire = createRequire(createRequire(import.meta.url).resolve("simple-oauth2"));
libRequire("debug").log = (...args) => process.stderr.write(redact(util.format(...args)) + "\n");

// The app's configuration, from simple-oauth2's README. Zoho's Accounts
// servers have no path (tokenHost https://accounts.zoho.com, tokenPath
// /oauth/v2/token); the fake serves a DC under a path prefix
// (http://127.0.0.1:PORT/accounts.zoho.com), which the library's URL
// resolution (new URL(tokenPath, tokenHost)) would drop, so the prefix goes
// in front of the paths. For a real Accounts server this is exactly the
// README's configuration.
const accounts = new URL(accountsURL);
const prefix = accounts.pathname.replace(/\/+$/, "");
const client = new AuthorizationCode({
  client: { id: clientID, secret: clientSecret },
  auth: {
    tokenHost: accounts.origin,
    tokenPath: prefix + "/oauth/v2/token",
    authorizePath: prefix + "/oauth/v2/auth",
  },
});
note(`configured: tokenHost ${accounts.origin}, tokenPath ${prefix}/oauth/v2/token, scope ${scope}`);

// Behind a proxy (zconform certify -via proxy, as behind a corporate one):
// simple-oauth2's token requests go through http.request, which the
// certifier's global-agent preload routes to HTTPS_PROXY; Node's built-in
// fetch, used for the API call, ignores both HTTPS_PROXY and global-agent
// (Node 20), so the app routes it as a Node app must: undici's
// EnvHttpProxyAgent (HTTPS_PROXY, NO_PROXY) as fetch's global dispatcher.
// Trust in the proxy's CA comes from NODE_EXTRA_CA_CERTS.
if (process.env.HTTPS_PROXY || process.env.https_proxy) {
  const { EnvHttpProxyAgent, setGlobalDispatcher } = await import("undici");
  setGlobalDispatcher(new EnvHttpProxyAgent());
  note(
    `through the proxy ${process.env.HTTPS_PROXY || process.env.https_proxy}: fetch by undici's EnvHttpProxyAgent, ` +
      `http.request by ${globalThis.GLOBAL_AGENT ? "global-agent" : "nothing (no global-agent loaded: NODE_OPTIONS=--require global-agent/bootstrap)"}`,
  );
}

let accessToken = null; // the app's AccessToken, kept in memory
let issuedState = null; // the state of the last authorize URL

// ---- answers -----------------------------------------------------------------

function answer(obj) {
  return new Promise((resolve) => {
    process.stdout.write(redact(JSON.stringify(obj)) + "\n", () => resolve());
  });
}

// Zoho errors after which only a new authorization helps.
const REAUTHORIZE = new Set(["invalid_code", "access_denied"]);

// failure turns what the library (or fetch) threw into a report. simple-oauth2
// throws a Boom error for an HTTP error status or a network error; Zoho's
// error code, if any, is in the parsed body (err.data.payload).
function failure(err) {
  let zohoError = null;
  let text;
  if (err && err.isBoom) {
    const payload = err.data && err.data.payload;
    if (payload && typeof payload === "object" && !Buffer.isBuffer(payload) && payload.error) {
      zohoError = String(payload.error);
    }
    const cause = err.data instanceof Error ? ` (${err.data.code || err.data.message})` : "";
    text = `HTTP ${err.output.statusCode}: ${zohoError || err.message}${cause}`;
  } else if (err instanceof Error) {
    const cause = err.cause ? ` (${err.cause.code || err.cause.message})` : "";
    text = `${err.name}: ${err.message}${cause}`;
  } else {
    text = String(err);
  }
  note("error: " + ((err && err.stack) || text));
  return { ok: false, error: text, needs_authorization: zohoError != null && REAUTHORIZE.has(zohoError) };
}

// What the library handed back as a token: its field names, never values
// (a field present but undefined is marked so).
function describe(token) {
  const fields = Object.entries(token.token).map(([k, v]) => (v === undefined ? `${k}=undefined` : k));
  return fields.join(",") || "(none)";
}

// ---- operations --------------------------------------------------------------

// authorize: the user clicks "connect". authorizeURL() with the README's
// parameters, plus access_type=offline (Zoho's, for a refresh token) passed
// the way the README passes non-standard parameters.
function authorize() {
  issuedState = crypto.randomBytes(16).toString("hex");
  const url = client.authorizeURL({
    redirect_uri: redirectURI,
    scope,
    state: issuedState,
    access_type: "offline",
  });
  return { ok: true, authorize_url: url };
}

async function redirect(msg) {
  const q = msg.query || {};
  if (q.error) {
    // The user came back without a code: nothing for the library to do.
    return { ok: false, error: String(q.error), needs_authorization: true };
  }
  if (!q.code) {
    return { ok: false, error: "the redirect carries no code", needs_authorization: true };
  }
  secrets.add(String(q.code));
  if (q["accounts-server"] || q.location) {
    // simple-oauth2 has one tokenHost; the README reads nothing else.
    note(
      `redirect names location=${q.location ?? "-"} accounts-server=${q["accounts-server"] ?? "-"}; ` +
        `getToken() exchanges at ${accounts.origin}${prefix}/oauth/v2/token`,
    );
  }
  // state: the library does not check it and the README does not show a
  // check; the adapter only notes whether it is the one it issued.
  if (issuedState != null) {
    note(`redirect state ${q.state === issuedState ? "matches" : "differs from"} the issued one`);
  }
  let token;
  try {
    token = await client.getToken({ code: String(q.code), redirect_uri: redirectURI, scope });
  } catch (err) {
    return failure(err);
  }
  accessToken = token;
  remember(token);
  note(`getToken() resolved with a token whose fields are: ${describe(token)}`);
  return { ok: true };
}

// simple-oauth2 5.1.0 means to keep the old refresh token when the refresh
// answer has none (Zoho's never has), but copies `this.refresh_token`, which
// is undefined: the second refresh sends an empty refresh_token.
// ZCONFORM_SIMPLEOAUTH2_KEEP_REFRESH_WORKAROUND=1 (not part of the protocol,
// and not what the library does) puts the old one back, to look past the bug.
const keepRefreshWorkaround = process.env.ZCONFORM_SIMPLEOAUTH2_KEEP_REFRESH_WORKAROUND === "1";

// call: the README's refresh pattern (refresh when expired(), replace the
// token with refresh()'s), then the API with fetch. A failed refresh fails
// the call: the app has nothing better to send.
async function call() {
  if (accessToken == null) {
    return { ok: false, error: "not authorized", needs_authorization: true };
  }
  if (accessToken.expired()) {
    const previous = accessToken;
    try {
      accessToken = await accessToken.refresh();
    } catch (err) {
      return failure(err);
    }
    if (keepRefreshWorkaround && accessToken.token.refresh_token === undefined) {
      accessToken = client.createToken({ ...accessToken.token, refresh_token: previous.token.refresh_token });
    }
    remember(accessToken);
    note(`refresh() resolved with a token whose fields are: ${describe(accessToken)}`);
  }
  const { access_token: token, api_domain: apiDomain } = accessToken.token;
  let resp;
  let body;
  try {
    resp = await fetch(`${apiDomain}/crm/v8/users?type=CurrentUser`, {
      headers: { Authorization: `Zoho-oauthtoken ${token}` },
    });
    body = await resp.text();
  } catch (err) {
    return failure(err);
  }
  if (resp.ok) {
    return { ok: true };
  }
  let detail = "";
  try {
    const j = JSON.parse(body);
    detail = [j.code, j.message].filter(Boolean).join(" ");
  } catch {
    // not JSON
  }
  return { ok: false, error: `HTTP ${resp.status}${detail ? ": " + detail : ""}`, needs_authorization: false };
}

// calls: n API calls at once, each as call() does it (the README's pattern
// has no coordination between concurrent refreshes).
async function calls(msg) {
  const n = Number(msg.n);
  if (!Number.isInteger(n) || n < 1 || n > 1000) {
    return { ok: false, error: `calls needs n from 1 to 1000, got ${JSON.stringify(msg.n)}`, needs_authorization: false };
  }
  const results = await Promise.all(Array.from({ length: n }, () => call()));
  note(`${n} concurrent calls: ${results.filter((r) => r.ok).length} ok`);
  return results.find((r) => !r.ok) ?? { ok: true };
}

// time: expired() compares the token's expires_at (a Date computed from
// expires_in when the token arrived) with Date.now(). The adapter moves
// expires_at back by the virtual time that passed, re-creating the token with
// createToken() the way the README restores a persisted token.
let lastNow = null;

function time(msg) {
  let advanced = Number(msg.advanced_seconds);
  const now = msg.now ? Date.parse(msg.now) : NaN;
  if (!Number.isFinite(advanced)) {
    advanced = lastNow != null && Number.isFinite(now) ? (now - lastNow) / 1000 : 0;
  }
  if (Number.isFinite(now)) lastNow = now;
  if (!(advanced > 0) || accessToken == null) {
    return { ok: true };
  }
  const expiresAt = accessToken.token.expires_at;
  if (!(expiresAt instanceof Date)) {
    note("the token has no expires_at: nothing to move");
    return { ok: true };
  }
  accessToken = client.createToken({
    ...accessToken.token,
    expires_at: new Date(expiresAt.getTime() - advanced * 1000),
  });
  note(`moved the token's expires_at back by ${advanced}s`);
  return { ok: true };
}

// ---- the loop ----------------------------------------------------------------

const rl = readline.createInterface({ input: process.stdin, crlfDelay: Infinity, terminal: false });
for await (const line of rl) {
  if (line.trim() === "") continue;
  let msg;
  try {
    msg = JSON.parse(line);
    if (msg === null || typeof msg !== "object" || Array.isArray(msg)) {
      throw new Error("not a JSON object");
    }
  } catch (err) {
    await answer({ ok: false, error: "bad message: " + err.message, needs_authorization: false });
    continue;
  }
  let result;
  try {
    switch (msg.op) {
      case "authorize":
        result = authorize();
        break;
      case "redirect":
        result = await redirect(msg);
        break;
      case "call":
        result = await call();
        break;
      case "calls":
        result = await calls(msg);
        break;
      case "time":
        result = time(msg);
        break;
      case "stop":
        // The token lives in memory only; the README's apps do not revoke
        // at shutdown.
        await answer({ ok: true });
        process.exit(0);
        break;
      default:
        result = {
          ok: false,
          error: `unknown op ${JSON.stringify(msg.op)}`,
          needs_authorization: false,
          unsupported: `unknown op ${JSON.stringify(msg.op)}: the adapter knows authorize, redirect, call, calls, time and stop`,
        };
    }
  } catch (err) {
    result = failure(err);
  }
  await answer(result);
}
process.exit(0);

// Reference adapter: lets zconform's integration certifier drive the official
// Zoho CRM TypeScript SDK (@zohocrm/typescript-sdk-8.0 3.0.0, shipped as
// compiled CommonJS in dist/) through the certifier's process protocol. It
// behaves like a small web app built on the SDK the way the SDK's README sets
// one up: one configured data centre (Environment), an OAuthBuilder with the
// grant token from the redirect, a FileStore, and the users API. It adds
// nothing the SDK does not do (no retries, no extra refreshes, no multi-DC
// handling), so what the certifier observes is the SDK.
//
// Environment (set by the certifier):
//
//   ZCONFORM_ACCOUNTS_URL    Accounts server the app is set up for, e.g.
//                            http://127.0.0.1:PORT/accounts.zoho.com (the fake) or
//                            https://accounts.zoho.com
//   ZCONFORM_CLIENT_ID       client ID
//   ZCONFORM_CLIENT_SECRET   client secret
//   ZCONFORM_REDIRECT_URI    redirect URI registered for the client
//   ZCONFORM_SCOPE           scopes (informational: the SDK never starts authorization)
//   ZCONFORM_WORKDIR         empty folder for the token store and the SDK's log
//   ZCONFORM_API_URL         optional, not part of the protocol: the API domain
//                            to configure when it cannot be derived from
//                            ZCONFORM_ACCOUNTS_URL
//
// Protocol: one JSON object per line on stdin, exactly one JSON line on stdout
// per message; everything else goes to stderr. Messages: redirect, call,
// calls, authorize, time, stop (see README.md). Secrets and tokens are never
// printed.

import * as fs from "node:fs";
import * as path from "node:path";
import * as readline from "node:readline";
import * as util from "node:util";

// stdout carries the protocol only. Anything the SDK or its dependencies
// print through console goes to stderr (after redaction).
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

const SDK = "@zohocrm/typescript-sdk-8.0";
const accountsURL = need("ZCONFORM_ACCOUNTS_URL").replace(/\/+$/, "");
const clientID = need("ZCONFORM_CLIENT_ID");
const clientSecret = need("ZCONFORM_CLIENT_SECRET");
const redirectURI = need("ZCONFORM_REDIRECT_URI");
const scope = process.env.ZCONFORM_SCOPE || "";
const workDir = need("ZCONFORM_WORKDIR");
const storePath = path.join(workDir, "sdk_tokens.csv");
const logPath = path.join(workDir, "sdk.log");

// ---- redaction ---------------------------------------------------------------

// Values that must never reach stdout or stderr: the client secret, every
// grant token the adapter was given, and every token in the store.
const secrets = new Set([clientSecret]);

function storeSecrets() {
  // FileStore columns: id,user_name,client_id,client_secret,refresh_token,
  // access_token,grant_token,expiry_time,redirect_url,api_domain
  try {
    const lines = fs.readFileSync(storePath, "utf-8").split("\n").slice(1);
    for (const line of lines) {
      const f = line.split(",");
      for (const i of [3, 4, 5, 6]) {
        if (f[i]) secrets.add(f[i]);
      }
    }
  } catch {
    // no store yet
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

// ---- the SDK ------------------------------------------------------------------

// Imported after console is redirected, so nothing the SDK does at load time
// can reach stdout.
const ZOHOCRMSDK = await import(SDK);

// Via the certifier's proxy (zconform certify -via proxy: ZCONFORM_VIA=proxy,
// ZCONFORM_ACCOUNTS_URL https://accounts.zoho.com) the app runs as in
// production, its environment alone pointing the SDK at the fake: the SDK's
// got calls https.request, whose agent global-agent replaces (NODE_OPTIONS
// --require global-agent/bootstrap, GLOBAL_AGENT_HTTPS_PROXY; Node ignores
// HTTPS_PROXY), and NODE_EXTRA_CA_CERTS trusts the proxy's CA. Without
// global-agent the SDK would look Zoho's hosts up for real: refuse to start.
if (process.env.ZCONFORM_VIA === "proxy" && globalThis.GLOBAL_AGENT == null) {
  process.stderr.write(
    "adapter: ZCONFORM_VIA=proxy but global-agent is not loaded, so the SDK would bypass the proxy: " +
      "run make deps (npm ci --prefix certify/adapters/tssdk, which installs global-agent) and start node with " +
      "NODE_OPTIONS=--require global-agent/bootstrap (zconform certify -via proxy does)\n",
  );
  process.exit(2);
}

// The app's configured data centre, as the SDK's README sets it up: a
// DataCenter's PRODUCTION() environment for Zoho's own Accounts servers
// (USDataCenter.PRODUCTION() for https://accounts.zoho.com), and
// for anything else (the fake, a staging deployment) a custom Environment
// whose middle argument is the full token URL.
async function configuredEnvironment() {
  const tokenURL = accountsURL + "/oauth/v2/token";
  const known = await ZOHOCRMSDK.DataCenter.get(tokenURL);
  if (known != null) {
    return known;
  }
  const apiURL = (process.env.ZCONFORM_API_URL || deriveAPIURL(accountsURL)).replace(/\/+$/, "");
  return new ZOHOCRMSDK.Environment(apiURL, tokenURL, apiURL);
}

// deriveAPIURL maps an Accounts server to its DC's API domain the way Zoho's
// DC table does (accounts.zoho.eu -> www.zohoapis.eu, accounts.zohocloud.ca
// -> www.zohoapis.ca), whether the Zoho host name is the URL's host or, as on
// the fake, its last path segment.
function deriveAPIURL(accounts) {
  const u = new URL(accounts);
  const map = (h) => {
    const m = /^accounts\.zoho(?:cloud)?\.(.+)$/.exec(h);
    return m ? "www.zohoapis." + m[1] : null;
  };
  const segs = u.pathname.split("/").filter((s) => s !== "");
  if (segs.length > 0) {
    const api = map(segs[segs.length - 1]);
    if (api != null) {
      segs[segs.length - 1] = api;
      return u.origin + "/" + segs.join("/");
    }
  }
  const api = map(u.hostname);
  if (api != null) {
    u.hostname = api;
    return u.origin + u.pathname.replace(/\/+$/, "");
  }
  process.stderr.write(
    `adapter: cannot derive the API domain from ZCONFORM_ACCOUNTS_URL ${accountsURL}; set ZCONFORM_API_URL\n`,
  );
  process.exit(2);
}

const environment = await configuredEnvironment();
const store = new ZOHOCRMSDK.FileStore(storePath);
const logger = new ZOHOCRMSDK.LogBuilder().level(ZOHOCRMSDK.Levels.INFO).filePath(logPath).build();
// The README's SDKConfigBuilder line, with autoRefreshFields off: field
// metadata downloads would add API calls the certifier would have to tell
// apart from the app's.
const sdkConfig = new ZOHOCRMSDK.SDKConfigBuilder().pickListValidation(false).autoRefreshFields(false).build();
note(
  `configured data centre: api ${environment.getUrl()}, token URL ${environment.getAccountsUrl()}` +
    (scope ? `, scope ${scope}` : "") +
    (globalThis.GLOBAL_AGENT != null && globalThis.GLOBAL_AGENT.HTTPS_PROXY
      ? `, through the proxy ${globalThis.GLOBAL_AGENT.HTTPS_PROXY} (global-agent)`
      : ""),
);

// ---- answers -----------------------------------------------------------------

function answer(obj) {
  return new Promise((resolve) => {
    process.stdout.write(redact(JSON.stringify(obj)) + "\n", () => resolve());
  });
}

// Zoho errors after which only a new authorization helps. Matched at the
// start of the message: SDKException.toString() appends to the message in
// place ("undefined" when the exception has no details).
const REAUTHORIZE = /^(invalid_code|access_denied)\b/;

function failure(err) {
  storeSecrets();
  let code = null;
  let message;
  if (err instanceof ZOHOCRMSDK.SDKException || (err && err.code !== undefined && err.message !== undefined)) {
    code = err.code != null ? String(err.code) : null;
    message = err.message != null ? String(err.message) : "";
  } else if (err instanceof Error) {
    message = `${err.name}: ${err.message}`;
  } else {
    message = String(err);
  }
  const text = code && message ? `${code}: ${message}` : code || message || "unknown error";
  // The SDK reports a token-endpoint error as SDKException("INVALID TOKEN
  // ERROR", <Zoho's error>): the message is Zoho's error code.
  const needs = REAUTHORIZE.test(message.trim()) || code === "SDK UNINITIALIZED ERROR";
  if (err && err.stack) {
    note("error: " + err.stack);
  }
  return { ok: false, error: text, needs_authorization: needs };
}

// ---- operations --------------------------------------------------------------

async function redirect(msg) {
  const q = msg.query || {};
  if (q.error) {
    // The user came back without a code: nothing for the SDK to do.
    return { ok: false, error: String(q.error), needs_authorization: true };
  }
  if (!q.code) {
    return { ok: false, error: "the redirect carries no code", needs_authorization: true };
  }
  secrets.add(String(q.code));
  if (q["accounts-server"] || q.location) {
    // The SDK has no way to take these: the exchange goes to the configured
    // Environment's token URL whatever the redirect says.
    note(
      `redirect names location=${q.location ?? "-"} accounts-server=${q["accounts-server"] ?? "-"}; ` +
        `the SDK exchanges at ${environment.getAccountsUrl()}`,
    );
  }
  // state: the SDK does not start authorization, so there is no state of the
  // app's to compare it with; an app would check it before this point.
  const token = new ZOHOCRMSDK.OAuthBuilder()
    .clientId(clientID)
    .clientSecret(clientSecret)
    .grantToken(String(q.code))
    .redirectURL(redirectURI)
    .build();
  try {
    // initialize() exchanges the grant token at once (unless the store
    // already holds a row for this grant token), then names the user with
    // GET /crm/v8/users?type=CurrentUser and GET /crm/v8/org, and saves the
    // tokens in the store. "(await new InitializeBuilder())" is the README's
    // own form. Unlike the Node SDK 2.0.0, a second initialize() in the same
    // process (re-authorization) works, so the adapter needs no guard here.
    await (await new ZOHOCRMSDK.InitializeBuilder())
      .environment(environment)
      .token(token)
      .store(store)
      .SDKConfig(sdkConfig)
      .resourcePath(workDir)
      .logger(logger)
      .initialize();
  } catch (err) {
    return failure(err);
  }
  storeSecrets();
  return { ok: true };
}

async function call() {
  try {
    const params = new ZOHOCRMSDK.ParameterMap();
    await params.add(ZOHOCRMSDK.Users.GetUsersParam.TYPE, "CurrentUser");
    const resp = await new ZOHOCRMSDK.Users.UsersOperations().getUsers(params);
    storeSecrets();
    if (resp == null) {
      return { ok: false, error: "no response", needs_authorization: false };
    }
    const status = resp.getStatusCode();
    const obj = resp.getObject();
    if (obj instanceof ZOHOCRMSDK.Users.ResponseWrapper) {
      return { ok: true };
    }
    if (obj instanceof ZOHOCRMSDK.Users.APIException) {
      const code = obj.getCode() != null ? obj.getCode().getValue() : null;
      const message = obj.getMessage() != null ? obj.getMessage() : null;
      return {
        ok: false,
        error: `HTTP ${status}: ${code ?? "?"}${message ? ` (${message})` : ""}`,
        needs_authorization: false,
      };
    }
    return { ok: false, error: `HTTP ${status} with no users in the answer`, needs_authorization: false };
  } catch (err) {
    return failure(err);
  }
}

// calls: the SDK's operations are plain promises on one process-wide
// Initializer, so n concurrent calls are n getUsers() promises in flight at
// once, exactly as an app serving n requests would have them.
async function calls(msg) {
  const n = Number.isInteger(msg.n) && msg.n > 0 ? msg.n : 1;
  const results = await Promise.all(Array.from({ length: n }, () => call()));
  const bad = results.filter((r) => !r.ok);
  note(`${n} concurrent calls: ${n - bad.length} ok, ${bad.length} failed`);
  return bad.length === 0 ? { ok: true } : bad[0];
}

// authorize: the SDK has no authorization step. It takes a grant token (or a
// refresh or access token) that the app got somehow; no class or function in
// it builds an /oauth/v2/auth URL, knows the scopes, or makes a state.
const AUTHORIZE_UNSUPPORTED =
  `${SDK} 3.0.0 cannot build an authorization URL: it only takes a grant token the app already ` +
  "has (OAuthBuilder().grantToken()); nothing in it builds /oauth/v2/auth, scopes or a state";

// time: the SDK compares the expiry it stored (wall-clock ms since the epoch,
// column expiry_time of the FileStore) with Date.now() before every request
// and refreshes when less than 5 s are left. Once a token has an id, every
// request reads it afresh from the store (findTokenById), so moving the
// stored expiry back by the virtual time that passed makes it see that time.
let lastNow = null;

function time(msg) {
  let advanced = Number(msg.advanced_seconds);
  if (!Number.isFinite(advanced)) {
    const now = msg.now ? Date.parse(msg.now) : NaN;
    advanced = lastNow != null && Number.isFinite(now) ? (now - lastNow) / 1000 : 0;
  }
  if (msg.now && Number.isFinite(Date.parse(msg.now))) {
    lastNow = Date.parse(msg.now);
  }
  if (!(advanced > 0) || !fs.existsSync(storePath)) {
    return { ok: true };
  }
  const lines = fs.readFileSync(storePath, "utf-8").split("\n");
  let shifted = 0;
  for (let i = 1; i < lines.length; i++) {
    const f = lines[i].split(",");
    if (f.length > 7 && /^[0-9]+$/.test(f[7])) {
      f[7] = String(Number(f[7]) - Math.round(advanced * 1000));
      lines[i] = f.join(",");
      shifted++;
    }
  }
  fs.writeFileSync(storePath, lines.join("\n"));
  note(`moved ${shifted} stored expiry time(s) back by ${advanced}s`);
  return { ok: true };
}

function stop() {
  // The store holds the client secret and the tokens: do not leave it behind.
  // The SDK's log (no tokens: it prints Authorization as "can't disclose")
  // stays in the work folder.
  try {
    fs.rmSync(storePath, { force: true });
  } catch (err) {
    note("removing the token store: " + err.message);
  }
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
      case "redirect":
        result = await redirect(msg);
        break;
      case "call":
        result = await call();
        break;
      case "calls":
        result = await calls(msg);
        break;
      case "authorize":
        result = { ok: false, unsupported: AUTHORIZE_UNSUPPORTED };
        break;
      case "time":
        result = time(msg);
        break;
      case "stop":
        stop();
        await answer({ ok: true });
        process.exit(0);
        break;
      default:
        result = {
          ok: false,
          unsupported: `unknown op ${JSON.stringify(msg.op)}: the adapter knows authorize, redirect, call, calls, time and stop`,
        };
    }
  } catch (err) {
    result = failure(err);
  }
  await answer(result);
}
// stdin closed without a stop: clean up all the same.
stop();
process.exit(0);

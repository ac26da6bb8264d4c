// Runs the official Zoho CRM Node SDK (@zohocrm/nodejs-sdk-8.0) against the
// zconform fake server, as a user would: a custom Environment whose API base
// and token URL point at the fake, an OAuthBuilder with a grant token (or a
// refresh token), a FileStore in a scratch directory, then the users API
// (type=CurrentUser) and the org API.
//
// Driven by fakeserver/realclients_test.go. Input is taken from environment
// variables:
//
//   ZC_API_BASE       API domain as the fake serves it, e.g. http://127.0.0.1:PORT/www.zohoapis.com
//   ZC_TOKEN_URL      full token URL, e.g. http://127.0.0.1:PORT/accounts.zoho.com/oauth/v2/token
//   ZC_CLIENT_ID      client ID
//   ZC_CLIENT_SECRET  client secret
//   ZC_GRANT_TOKEN    grant token (code) to exchange, or
//   ZC_REFRESH_TOKEN  refresh token to use instead
//   ZC_REDIRECT_URL   redirect URI (optional; a self-client code needs none)
//   ZC_WORK_DIR       scratch directory for the token store, resources and log
//   ZC_OUT            file to write the JSON result to (default: stdout)
//
// The result is one JSON object: {"ok": true, "token": {...}, "users": [...],
// "org": [...]} or {"ok": false, "stage": "...", "error": {"code", "message"}}.
// The exit status is 0 either way; it is non-zero only if the script itself
// breaks (bad input).
import * as fs from "node:fs";
import * as path from "node:path";
import * as ZOHOCRMSDK from "@zohocrm/nodejs-sdk-8.0";

function need(name) {
  const v = process.env[name];
  if (v == null || v === "") {
    process.stderr.write(`script.js: set ${name}\n`);
    process.exit(2);
  }
  return v;
}

function emit(result) {
  const text = JSON.stringify(result);
  if (process.env.ZC_OUT) {
    fs.writeFileSync(process.env.ZC_OUT, text + "\n");
  } else {
    process.stdout.write(text + "\n");
  }
}

function describeError(err) {
  if (err == null) {
    return { code: null, message: "unknown error" };
  }
  const out = {
    code: err.code != null ? String(err.code) : null,
    message: err.message != null ? String(err.message) : String(err),
  };
  if (err.details != null) {
    out.details = err.details;
  }
  if (err.cause != null) {
    out.cause = String(err.cause);
  }
  return out;
}

// apiResult turns an SDK APIResponse into plain data.
function apiResult(response, pick) {
  if (response == null) {
    return { status: null };
  }
  const out = { status: response.getStatusCode() };
  const obj = response.getObject();
  if (obj == null) {
    return out;
  }
  if (typeof obj.getCode === "function" && typeof obj.getMessage === "function") {
    // APIException
    out.exception = {
      code: obj.getCode() != null ? obj.getCode().getValue() : null,
      message: obj.getMessage() != null ? obj.getMessage().getValue() : null,
      status: obj.getStatus() != null ? obj.getStatus().getValue() : null,
    };
    return out;
  }
  Object.assign(out, pick(obj));
  return out;
}

async function main() {
  const apiBase = need("ZC_API_BASE");
  const tokenURL = need("ZC_TOKEN_URL");
  const clientID = need("ZC_CLIENT_ID");
  const clientSecret = need("ZC_CLIENT_SECRET");
  const workDir = need("ZC_WORK_DIR");
  const grant = process.env.ZC_GRANT_TOKEN || "";
  const refresh = process.env.ZC_REFRESH_TOKEN || "";
  if (grant === "" && refresh === "") {
    process.stderr.write("script.js: set ZC_GRANT_TOKEN or ZC_REFRESH_TOKEN\n");
    process.exit(2);
  }

  // The middle argument is the full token URL; the SDK posts to it as is.
  const environment = new ZOHOCRMSDK.Environment(apiBase, tokenURL, apiBase);
  let builder = new ZOHOCRMSDK.OAuthBuilder().clientId(clientID).clientSecret(clientSecret);
  if (grant !== "") {
    builder = builder.grantToken(grant);
  } else {
    builder = builder.refreshToken(refresh);
  }
  if (process.env.ZC_REDIRECT_URL) {
    builder = builder.redirectURL(process.env.ZC_REDIRECT_URL);
  }
  const token = builder.build();
  const store = new ZOHOCRMSDK.FileStore(path.join(workDir, "tokens.csv"));
  const logger = new ZOHOCRMSDK.LogBuilder()
    .level(ZOHOCRMSDK.Levels.INFO)
    .filePath(path.join(workDir, "sdk.log"))
    .build();
  const sdkConfig = new ZOHOCRMSDK.SDKConfigBuilder().pickListValidation(false).autoRefreshFields(false).build();

  try {
    // initialize() exchanges the grant (or refresh) token at once, then
    // calls GET /crm/v8/users?type=CurrentUser and GET /crm/v8/org to name
    // the token's user ("<email>:<org zgid>") for the token store.
    await (await new ZOHOCRMSDK.InitializeBuilder())
      .environment(environment)
      .token(token)
      .store(store)
      .SDKConfig(sdkConfig)
      .resourcePath(workDir)
      .logger(logger)
      .initialize();
  } catch (err) {
    emit({ ok: false, stage: "initialize", error: describeError(err) });
    return;
  }

  const result = { ok: true };
  const init = await ZOHOCRMSDK.Initializer.getInitializer();
  const t = init.getToken();
  result.token = {
    access_token: t.getAccessToken(),
    refresh_token: t.getRefreshToken() || null,
    expires_in: t.getExpiresIn(), // the SDK's absolute expiry, ms since the epoch, as a string
    api_domain: t.getAPIDomain() || null,
    user: t.getUserSignature() != null ? t.getUserSignature().getName() : null,
    environment_url: init.getEnvironment().getUrl(),
    accounts_url: init.getEnvironment().getAccountsUrl(),
  };

  try {
    const params = new ZOHOCRMSDK.ParameterMap();
    await params.add(ZOHOCRMSDK.Users.GetUsersParam.TYPE, "CurrentUser");
    const resp = await new ZOHOCRMSDK.Users.UsersOperations().getUsers(params);
    result.users = apiResult(resp, (w) => ({
      users: (w.getUsers() || []).map((u) => ({
        id: u.getId() != null ? String(u.getId()) : null,
        email: u.getEmail(),
        full_name: u.getFullName(),
      })),
    }));
  } catch (err) {
    result.ok = false;
    result.stage = "users";
    result.error = describeError(err);
    emit(result);
    return;
  }

  try {
    const resp = await new ZOHOCRMSDK.Org.OrgOperations().getOrganization();
    result.org = apiResult(resp, (w) => ({
      org: (w.getOrg() || []).map((o) => ({
        id: o.getId() != null ? String(o.getId()) : null,
        company_name: o.getCompanyName(),
        primary_email: o.getPrimaryEmail(),
        zgid: o.getZgid() != null ? String(o.getZgid()) : null,
      })),
    }));
  } catch (err) {
    result.ok = false;
    result.stage = "org";
    result.error = describeError(err);
  }
  emit(result);
}

main().catch((err) => {
  emit({ ok: false, stage: "script", error: describeError(err) });
});

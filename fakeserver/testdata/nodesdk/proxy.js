// Runs the official Zoho CRM Node SDK (@zohocrm/nodejs-sdk-8.0) configured
// exactly as production code configures it: USDataCenter.PRODUCTION() (or
// EUDataCenter.PRODUCTION() for an EU user), Zoho's real https:// hosts,
// no URL of the fake anywhere. The fake is reached through the environment
// alone: node --require global-agent/bootstrap with GLOBAL_AGENT_HTTPS_PROXY
// (the zconform proxy) and NODE_EXTRA_CA_CERTS (the proxy's CA).
//
// Driven by fakeserver/proxy_nodesdk_test.go. Input is taken from
// environment variables:
//
//   ZC_DC             the data centre the app is configured with: us or eu
//   ZC_CLIENT_ID      client ID
//   ZC_CLIENT_SECRET  client secret
//   ZC_GRANT_TOKEN    grant token (code) to exchange, or
//   ZC_REFRESH_TOKEN  refresh token to use instead
//   ZC_REDIRECT_URL   redirect URI (optional; a self-client code needs none)
//   ZC_WORK_DIR       the token store (tokens.csv, kept across runs), the
//                     resources and the SDK's log
//   ZC_OUT            file to write the JSON result to (default: stdout)
//
// The result is one JSON object: {"ok": true, "global_agent": true,
// "configured": {...}, "token": {...}, "after_init": {...}, "users": {...},
// "org": {...}, "after_calls": {...}} or {"ok": false, "stage": "...",
// "error": {...}}. The exit status is 0 either way; it is non-zero only if
// the script itself breaks (bad input, global-agent not loaded).
import * as fs from "node:fs";
import * as path from "node:path";
import * as ZOHOCRMSDK from "@zohocrm/nodejs-sdk-8.0";

function need(name) {
  const v = process.env[name];
  if (v == null || v === "") {
    process.stderr.write(`proxy.js: set ${name}\n`);
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
    out.exception = {
      code: obj.getCode() != null ? obj.getCode().getValue() : null,
      message: obj.getMessage() != null ? obj.getMessage().getValue() : null,
    };
    return out;
  }
  Object.assign(out, pick(obj));
  return out;
}

// environmentOf is where the SDK will send its next calls.
async function environmentOf() {
  const init = await ZOHOCRMSDK.Initializer.getInitializer();
  const env = init.getEnvironment();
  return { url: env.getUrl(), accounts_url: env.getAccountsUrl() };
}

async function main() {
  // The fake must be reached through the proxy, never by a URL: refuse to
  // run without global-agent, or the SDK would try the real Zoho.
  if (global.GLOBAL_AGENT == null) {
    process.stderr.write("proxy.js: run with node --require global-agent/bootstrap and GLOBAL_AGENT_HTTPS_PROXY set\n");
    process.exit(2);
  }
  const dc = need("ZC_DC");
  const clientID = need("ZC_CLIENT_ID");
  const clientSecret = need("ZC_CLIENT_SECRET");
  const workDir = need("ZC_WORK_DIR");
  const grant = process.env.ZC_GRANT_TOKEN || "";
  const refresh = process.env.ZC_REFRESH_TOKEN || "";
  if (grant === "" && refresh === "") {
    process.stderr.write("proxy.js: set ZC_GRANT_TOKEN or ZC_REFRESH_TOKEN\n");
    process.exit(2);
  }

  let environment;
  switch (dc) {
    case "us":
      environment = ZOHOCRMSDK.USDataCenter.PRODUCTION();
      break;
    case "eu":
      environment = ZOHOCRMSDK.EUDataCenter.PRODUCTION();
      break;
    default:
      process.stderr.write(`proxy.js: ZC_DC=${dc}: want us or eu\n`);
      process.exit(2);
  }
  const result = {
    ok: true,
    global_agent: true,
    configured: { url: environment.getUrl(), accounts_url: environment.getAccountsUrl() },
  };

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
  const storeFile = path.join(workDir, "tokens.csv");
  const store = new ZOHOCRMSDK.FileStore(storeFile);
  const logger = new ZOHOCRMSDK.LogBuilder()
    .level(ZOHOCRMSDK.Levels.INFO)
    .filePath(path.join(workDir, "sdk.log"))
    .build();
  const sdkConfig = new ZOHOCRMSDK.SDKConfigBuilder().pickListValidation(false).autoRefreshFields(false).build();

  try {
    await (await new ZOHOCRMSDK.InitializeBuilder())
      .environment(environment)
      .token(token)
      .store(store)
      .SDKConfig(sdkConfig)
      .resourcePath(workDir)
      .logger(logger)
      .initialize();
  } catch (err) {
    emit({ ...result, ok: false, stage: "initialize", error: describeError(err) });
    return;
  }

  const init = await ZOHOCRMSDK.Initializer.getInitializer();
  const t = init.getToken();
  result.token = {
    access_token: t.getAccessToken(),
    refresh_token: t.getRefreshToken() || null,
    expires_in: t.getExpiresIn(),
    api_domain: t.getAPIDomain() || null,
    user: t.getUserSignature() != null ? t.getUserSignature().getName() : null,
  };
  result.after_init = await environmentOf();

  try {
    const params = new ZOHOCRMSDK.ParameterMap();
    await params.add(ZOHOCRMSDK.Users.GetUsersParam.TYPE, "CurrentUser");
    const resp = await new ZOHOCRMSDK.Users.UsersOperations().getUsers(params);
    result.users = apiResult(resp, (w) => ({
      users: (w.getUsers() || []).map((u) => ({ id: u.getId() != null ? String(u.getId()) : null, email: u.getEmail() })),
    }));
  } catch (err) {
    emit({ ...result, ok: false, stage: "users", error: describeError(err) });
    return;
  }
  try {
    const resp = await new ZOHOCRMSDK.Org.OrgOperations().getOrganization();
    result.org = apiResult(resp, (w) => ({
      org: (w.getOrg() || []).map((o) => ({
        id: o.getId() != null ? String(o.getId()) : null,
        primary_email: o.getPrimaryEmail(),
        zgid: o.getZgid() != null ? String(o.getZgid()) : null,
      })),
    }));
  } catch (err) {
    emit({ ...result, ok: false, stage: "org", error: describeError(err) });
    return;
  }
  result.after_calls = await environmentOf();
  emit(result);
}

main().catch((err) => {
  emit({ ok: false, stage: "script", error: describeError(err) });
});

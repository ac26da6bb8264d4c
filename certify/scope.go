package certify

// harnessScope is the scope the harness's user grants the integration under
// test: the CRM users and org APIs, which integrations call (the official
// SDKs name the token's user with GET /crm/v8/users?type=CurrentUser and GET
// /crm/v8/org). The fake checks scopes per API (ZA-API-SCOPE): a token
// without ZohoCRM.org.READ or .ALL gets OAUTH_SCOPE_MISMATCH at /crm/v8/org.
const harnessScope = "ZohoCRM.users.ALL,ZohoCRM.org.ALL"

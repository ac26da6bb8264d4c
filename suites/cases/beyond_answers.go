package cases

import (
	"encoding/base64"
	"encoding/json"
	"fmt"
	"net/url"
	"slices"
	"strings"

	"github.com/zconform/zconform/fixtures"
	"github.com/zconform/zconform/fixtures/zoho"
)

// The whole-answer checks of docs/zoho-oauth-beyond.md: the shapes section
// 7's settings give the contract's answers (the refresh throttle's, the
// token endpoint's, the implicit flow's), and the implicit flow's id_token
// (ZA-JS-TOKEN). Like answers.go, they read the contract, never the target.

// throttled is the contract's refresh-throttle answer in the shape its
// section 7 settings give it: HTTP 200 with refresh_throttle_http_200,
// "status":"failure" in the body with refresh_throttle_status_failure.
func (r *run) throttled() fixtures.Answer {
	th := r.contract.Answers.Throttled
	if r.limits.RefreshThrottleHTTP200 {
		th.Status = 200
	}
	if r.limits.RefreshThrottleStatusFailure {
		var m map[string]any
		if json.Unmarshal([]byte(th.Body), &m) == nil {
			m["status"] = "failure"
			b, _ := json.Marshal(m)
			th.Body = string(b)
		}
	}
	return th
}

// sectionSevenMember says whether a token answer may carry member k beyond
// the seed's under the contract: scope (token_answer_scope),
// expires_in_sec (expires_in_milliseconds).
func (r *run) sectionSevenMember(k string) bool {
	return (k == "scope" && r.limits.TokenAnswerScope) || (k == "expires_in_sec" && r.limits.ExpiresInMilliseconds)
}

// tokenShapeProblems checks a token answer's expiry and scope against the
// contract: expires_in the access-token lifetime in seconds (or, with
// expires_in_milliseconds, in milliseconds with expires_in_sec in
// seconds), and scope present exactly when token_answer_scope says so.
func (r *run) tokenShapeProblems(a answer) []string {
	var problems []string
	secs := r.limits.AccessTokenLifetime.Seconds()
	if r.limits.ExpiresInMilliseconds {
		if a.json["expires_in"] != secs*1000 {
			problems = append(problems, fmt.Sprintf("expires_in %v, want %v (milliseconds: the %s contract's expires_in_milliseconds)", a.json["expires_in"], secs*1000, r.profile))
		}
		if a.json["expires_in_sec"] != secs {
			problems = append(problems, fmt.Sprintf("expires_in_sec %v, want %v (seconds)", a.json["expires_in_sec"], secs))
		}
	} else if a.json["expires_in"] != secs {
		problems = append(problems, fmt.Sprintf("expires_in %v, want %v (seconds: the %s contract's access-token lifetime)", a.json["expires_in"], secs, r.profile))
	}
	if sc, _ := a.json["scope"].(string); r.limits.TokenAnswerScope && strings.TrimSpace(sc) == "" {
		problems = append(problems, fmt.Sprintf("scope is missing (the %s contract's token_answer_scope)", r.profile))
	}
	return problems
}

// implicitMembers are the implicit fragment's members beyond access_token,
// expires_in, location, token_type and state under the contract and the
// request q: api_domain (unless implicit_without_api_domain), id_token with
// the email scope, granted_for_session when the user grants access for the
// session (r.sessionGrant).
func (r *run) implicitMembers(q url.Values) []string {
	var out []string
	if !r.limits.ImplicitWithoutAPIDomain {
		out = append(out, "api_domain")
	}
	if slices.ContainsFunc(zoho.SplitScopes(q.Get("scope")), func(s string) bool { return strings.EqualFold(s, zoho.ScopeEmail) }) {
		out = append(out, "id_token")
	}
	if r.sessionGrant {
		out = append(out, "granted_for_session")
	}
	return out
}

// idTokenProblems checks the implicit flow's id_token (ZA-JS-TOKEN): a JWT
// (header.payload.signature, base64url) whose header names a signing
// algorithm and whose claims carry aud (the client ID sent), iss (the
// Accounts server of the user's DC), sub (a ZUID), email and exp. The
// signature is not verified: the key's location is [assumed].
func (r *run) idTokenProblems(tok string, q url.Values, dc zoho.DC) []string {
	parts := strings.Split(tok, ".")
	if len(parts) != 3 || parts[2] == "" {
		return []string{"id_token is not a signed JWT (header.payload.signature)"}
	}
	var header, claims map[string]any
	for i, v := range []*map[string]any{&header, &claims} {
		data, err := base64.RawURLEncoding.DecodeString(parts[i])
		if err != nil || json.Unmarshal(data, v) != nil {
			return []string{"id_token's " + []string{"header", "payload"}[i] + " is not base64url JSON"}
		}
	}
	var problems []string
	if alg, _ := header["alg"].(string); alg == "" || strings.EqualFold(alg, "none") {
		problems = append(problems, fmt.Sprintf("id_token's alg %v is no signing algorithm", header["alg"]))
	}
	switch aud := claims["aud"].(type) {
	case string:
		if aud != q.Get("client_id") {
			problems = append(problems, fmt.Sprintf("id_token's aud %q, want the client ID %s", aud, q.Get("client_id")))
		}
	default:
		problems = append(problems, fmt.Sprintf("id_token's aud %v, want the client ID %s", aud, q.Get("client_id")))
	}
	if iss, _ := claims["iss"].(string); iss != r.t.AccountsURL(dc) {
		problems = append(problems, fmt.Sprintf("id_token's iss %v, want %s (the user's DC)", claims["iss"], r.t.AccountsURL(dc)))
	}
	if sub, _ := claims["sub"].(string); !zuidFormat.MatchString(sub) {
		problems = append(problems, fmt.Sprintf("id_token's sub %v is not a ZUID", claims["sub"]))
	}
	if email, _ := claims["email"].(string); !strings.Contains(email, "@") {
		problems = append(problems, fmt.Sprintf("id_token's email %v is not an email address", claims["email"]))
	}
	if exp, _ := claims["exp"].(float64); exp <= 0 {
		problems = append(problems, fmt.Sprintf("id_token's exp %v is not a time", claims["exp"]))
	}
	return problems
}

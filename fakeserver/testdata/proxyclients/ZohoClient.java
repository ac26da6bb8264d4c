// A Zoho OAuth client written with java.net.http.HttpClient, as an
// application would write it: it hard-codes Zoho's real US URLs and knows
// nothing of zconform. The test (fakeserver/proxy_clients_test.go) runs it
// as a single source file (java ZohoClient.java) and points it at the fake
// by standard JVM configuration alone:
//
//   -Dhttps.proxyHost=127.0.0.1 -Dhttps.proxyPort=PORT      the zconform proxy
//   -Djavax.net.ssl.trustStore=truststore.p12               the proxy's CA
//   -Djavax.net.ssl.trustStorePassword=...                  (keytool -importcert)
//
// It exchanges a grant token, calls the API at the api_domain it was given,
// refreshes once, and prints what it saw as one JSON object on stdout. The
// application's own settings come from ZC_CLIENT_ID, ZC_CLIENT_SECRET,
// ZC_REDIRECT_URI and ZC_CODE. The first argument chooses how the client
// is built: "selector" (HttpClient.newBuilder().proxy(ProxySelector.getDefault()))
// or "default" (HttpClient.newBuilder() with no proxy set).

import java.net.ProxySelector;
import java.net.URI;
import java.net.URLEncoder;
import java.net.http.HttpClient;
import java.net.http.HttpRequest;
import java.net.http.HttpResponse;
import java.nio.charset.StandardCharsets;
import java.security.cert.X509Certificate;
import java.time.Duration;
import java.util.LinkedHashMap;
import java.util.Map;
import java.util.regex.Matcher;
import java.util.regex.Pattern;

public class ZohoClient {
    static final String TOKEN_URL = "https://accounts.zoho.com/oauth/v2/token";
    static final Duration TIMEOUT = Duration.ofSeconds(20);

    public static void main(String[] args) throws Exception {
        String mode = args.length > 0 ? args[0] : "selector";
        HttpClient.Builder b = HttpClient.newBuilder().connectTimeout(TIMEOUT);
        if (mode.equals("selector")) {
            b.proxy(ProxySelector.getDefault());
        }
        HttpClient http = b.build();
        String id = System.getenv("ZC_CLIENT_ID"), secret = System.getenv("ZC_CLIENT_SECRET");
        Map<String, Object> out = new LinkedHashMap<>();
        out.put("client", "java-httpclient");
        out.put("java_version", System.getProperty("java.version"));
        out.put("proxy_mode", mode);
        out.put("client_version", http.version().toString());
        out.put("client_has_proxy_selector", http.proxy().isPresent());

        HttpResponse<String> r = http.send(post(form(
                "grant_type", "authorization_code", "client_id", id, "client_secret", secret,
                "redirect_uri", System.getenv("ZC_REDIRECT_URI"), "code", System.getenv("ZC_CODE"))),
                HttpResponse.BodyHandlers.ofString());
        out.put("exchange_status", r.statusCode());
        out.put("http_version", r.version() == HttpClient.Version.HTTP_1_1 ? "HTTP/1.1" : "HTTP/2");
        out.put("access_token", field(r.body(), "access_token"));
        out.put("refresh_token", field(r.body(), "refresh_token"));
        out.put("api_domain", field(r.body(), "api_domain"));
        out.put("token_type", field(r.body(), "token_type"));
        out.put("exchange_error", field(r.body(), "error"));
        r.sslSession().ifPresent(s -> {
            try {
                X509Certificate leaf = (X509Certificate) s.getPeerCertificates()[0];
                out.put("peer_issuer", leaf.getIssuerX500Principal().getName());
                out.put("tls_protocol", s.getProtocol());
            } catch (Exception e) {
                out.put("peer_issuer", "error: " + e);
            }
        });

        HttpRequest api = HttpRequest.newBuilder(URI.create(out.get("api_domain") + "/crm/v8/users?type=CurrentUser"))
                .timeout(TIMEOUT).header("Authorization", "Zoho-oauthtoken " + out.get("access_token")).GET().build();
        r = http.send(api, HttpResponse.BodyHandlers.ofString());
        out.put("api_status", r.statusCode());
        out.put("email", field(r.body(), "email"));

        r = http.send(post(form("grant_type", "refresh_token", "client_id", id, "client_secret", secret,
                "refresh_token", (String) out.get("refresh_token"))), HttpResponse.BodyHandlers.ofString());
        out.put("refresh_status", r.statusCode());
        out.put("refreshed_access_token", field(r.body(), "access_token"));
        out.put("refresh_returned_refresh_token", r.body().contains("\"refresh_token\""));
        out.put("refresh_error", field(r.body(), "error"));

        System.out.println(json(out));
    }

    static HttpRequest post(String body) {
        return HttpRequest.newBuilder(URI.create(TOKEN_URL)).timeout(TIMEOUT)
                .header("Content-Type", "application/x-www-form-urlencoded")
                .POST(HttpRequest.BodyPublishers.ofString(body)).build();
    }

    static String form(String... kv) {
        StringBuilder sb = new StringBuilder();
        for (int i = 0; i < kv.length; i += 2) {
            if (sb.length() > 0) sb.append('&');
            sb.append(URLEncoder.encode(kv[i], StandardCharsets.UTF_8)).append('=')
                    .append(URLEncoder.encode(kv[i + 1] == null ? "" : kv[i + 1], StandardCharsets.UTF_8));
        }
        return sb.toString();
    }

    // field reads a string member of a flat JSON object (the JDK has no JSON
    // parser; Zoho's token answers are flat and their values plain).
    static String field(String body, String name) {
        Matcher m = Pattern.compile("\"" + Pattern.quote(name) + "\"\\s*:\\s*\"([^\"\\\\]*)\"").matcher(body);
        return m.find() ? m.group(1) : "";
    }

    static String json(Map<String, Object> m) {
        StringBuilder sb = new StringBuilder("{");
        for (Map.Entry<String, Object> e : m.entrySet()) {
            if (sb.length() > 1) sb.append(',');
            sb.append(quote(e.getKey())).append(':');
            Object v = e.getValue();
            sb.append(v instanceof Number || v instanceof Boolean ? v.toString() : quote(String.valueOf(v)));
        }
        return sb.append('}').toString();
    }

    static String quote(String s) {
        StringBuilder sb = new StringBuilder("\"");
        for (char c : s.toCharArray()) {
            if (c == '"' || c == '\\') sb.append('\\').append(c);
            else if (c < 0x20) sb.append(String.format("\\u%04x", (int) c));
            else sb.append(c);
        }
        return sb.append('"').toString();
    }
}

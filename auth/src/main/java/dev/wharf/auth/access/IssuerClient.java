package dev.wharf.auth.access;

import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.ObjectMapper;
import dev.wharf.auth.http.BoundedBody;
import java.io.IOException;
import java.net.InetAddress;
import java.net.URI;
import java.net.URLEncoder;
import java.net.http.HttpClient;
import java.net.http.HttpRequest;
import java.net.http.HttpResponse;
import java.nio.charset.StandardCharsets;
import java.time.Duration;
import java.util.Locale;
import java.util.Map;
import java.util.StringJoiner;

/**
 * The HTTP side of an OIDC issuer: the https rule, the discovery document, and small JSON requests, each bounded by
 * {@link #TIMEOUT} and {@link #MAX_BODY}. Redirects are not followed: a provider's endpoints are where its discovery
 * document says. Thread-safe (the JDK HttpClient is; this class holds nothing else that changes).
 */
final class IssuerClient {
    /** How long one request to the provider may take, connect included. */
    static final Duration TIMEOUT = Duration.ofSeconds(10);
    /** The largest response body read: discovery documents and key sets are a few KiB. */
    static final int MAX_BODY = 512 * 1024;
    private static final ObjectMapper JSON = new ObjectMapper();

    private final URI issuer;
    private final HttpClient http;

    IssuerClient(URI issuer, HttpClient http) {
        this.issuer = checkIssuer(issuer);
        this.http = http;
    }

    /** A client that follows no redirects and connects within {@link #TIMEOUT}. */
    static HttpClient defaultHttp() {
        return HttpClient.newBuilder().connectTimeout(TIMEOUT).followRedirects(HttpClient.Redirect.NEVER).build();
    }

    URI issuer() {
        return issuer;
    }

    /**
     * The issuer as configured: an absolute https URL without query, fragment or user info; http only for a loopback
     * host (a provider on the same machine, as in tests).
     */
    static URI checkIssuer(URI issuer) {
        if (issuer == null || !issuer.isAbsolute() || issuer.getHost() == null || issuer.getRawQuery() != null
                || issuer.getRawFragment() != null || issuer.getRawUserInfo() != null) {
            throw new IllegalArgumentException("the OIDC issuer must be an absolute https URL without query, "
                    + "fragment or user info, not '" + issuer + "'");
        }
        String scheme = issuer.getScheme().toLowerCase(Locale.ROOT);
        if (scheme.equals("https")) {
            return issuer;
        }
        if (scheme.equals("http") && isLoopback(issuer.getHost())) {
            return issuer;
        }
        throw new IllegalArgumentException("the OIDC issuer must use https (http only on a loopback address), not '"
                + issuer + "'");
    }

    /** Whether a URL found in a discovery document may be used with this issuer: https, or http on loopback. */
    URI checkEndpoint(String field, String value) throws OidcTokenException {
        URI u;
        try {
            u = value == null ? null : new URI(value);
        } catch (java.net.URISyntaxException e) {
            u = null;
        }
        if (u == null || !u.isAbsolute() || u.getHost() == null || u.getScheme() == null) {
            throw unavailable("the discovery document of " + issuer + " has no usable " + field, null);
        }
        String scheme = u.getScheme().toLowerCase(Locale.ROOT);
        if (!(scheme.equals("https") || (scheme.equals("http") && isLoopback(u.getHost())))) {
            throw unavailable("the discovery document of " + issuer + " names a " + field
                    + " that is not https: " + u, null);
        }
        return u;
    }

    static boolean isLoopback(String host) {
        String h = host.startsWith("[") && host.endsWith("]") ? host.substring(1, host.length() - 1) : host;
        if (h.equalsIgnoreCase("localhost")) {
            return true;
        }
        // Only literal addresses: a name other than localhost is never resolved here.
        if (h.matches("[0-9.]+") || h.contains(":")) {
            try {
                return InetAddress.getByName(h).isLoopbackAddress();
            } catch (IOException e) {
                return false;
            }
        }
        return false;
    }

    /** {@code <issuer>/.well-known/openid-configuration}, a terminating '/' of the issuer removed first. */
    URI discoveryUri() {
        String s = issuer.toString();
        while (s.endsWith("/")) {
            s = s.substring(0, s.length() - 1);
        }
        return URI.create(s + "/.well-known/openid-configuration");
    }

    /** The discovery document, checked: its {@code issuer} is exactly the configured one. */
    JsonNode discovery() throws OidcTokenException {
        JsonNode doc = getJson(discoveryUri());
        JsonNode iss = doc.get("issuer");
        if (iss == null || !iss.isTextual() || !iss.asText().equals(issuer.toString())) {
            throw unavailable("the discovery document at " + discoveryUri() + " names the issuer '"
                    + (iss == null ? "" : abbreviate(iss.asText())) + "', not the configured '" + issuer
                    + "' (they must match exactly, trailing '/' included)", null);
        }
        return doc;
    }

    /** GET {@code uri}, expecting 200 and a JSON object. */
    JsonNode getJson(URI uri) throws OidcTokenException {
        HttpRequest request = HttpRequest.newBuilder(uri).timeout(TIMEOUT).header("Accept", "application/json")
                .GET().build();
        HttpResponse<byte[]> response = send(request);
        if (response.statusCode() != 200) {
            throw unavailable("GET " + uri + " answered HTTP " + response.statusCode(), null);
        }
        return parseObject(uri, response.body());
    }

    /**
     * POST a form to {@code uri}; returns the status and the JSON object of the answer (OAuth endpoints answer JSON
     * for errors too). A body that is not a JSON object is an error. {@code authorization}: an Authorization header
     * value, or null.
     */
    Answer postForm(URI uri, Map<String, String> form, String authorization) throws OidcTokenException {
        StringJoiner body = new StringJoiner("&");
        for (Map.Entry<String, String> e : form.entrySet()) {
            body.add(URLEncoder.encode(e.getKey(), StandardCharsets.UTF_8) + "="
                    + URLEncoder.encode(e.getValue(), StandardCharsets.UTF_8));
        }
        HttpRequest.Builder builder = HttpRequest.newBuilder(uri).timeout(TIMEOUT)
                .header("Accept", "application/json")
                .header("Content-Type", "application/x-www-form-urlencoded")
                .POST(HttpRequest.BodyPublishers.ofString(body.toString()));
        if (authorization != null) {
            builder.header("Authorization", authorization);
        }
        HttpRequest request = builder.build();
        HttpResponse<byte[]> response = send(request);
        return new Answer(response.statusCode(), parseObject(uri, response.body()));
    }

    /** A status and a JSON object. */
    record Answer(int status, JsonNode json) {
    }

    private HttpResponse<byte[]> send(HttpRequest request) throws OidcTokenException {
        try {
            return http.send(request, BoundedBody.handler(MAX_BODY));
        } catch (InterruptedException e) {
            Thread.currentThread().interrupt();
            throw unavailable(request.method() + " " + request.uri() + " was interrupted", e);
        } catch (java.net.http.HttpTimeoutException e) {
            throw unavailable(request.method() + " " + request.uri() + " took longer than " + TIMEOUT.toSeconds()
                    + " s", e);
        } catch (java.net.ConnectException e) {
            throw unavailable("the OIDC provider " + issuer + " is unreachable: " + request.method() + " "
                    + request.uri() + " could not connect (" + e.getClass().getSimpleName() + ")", e);
        } catch (IOException e) {
            throw unavailable(request.method() + " " + request.uri() + " failed: " + e.getMessage(), e);
        }
    }

    private static JsonNode parseObject(URI uri, byte[] body) throws OidcTokenException {
        try {
            JsonNode node = JSON.readTree(body);
            if (node == null || !node.isObject()) {
                throw unavailable(uri + " answered something other than a JSON object", null);
            }
            return node;
        } catch (IOException e) {
            throw unavailable(uri + " answered something other than JSON", null);
        }
    }

    static OidcTokenException unavailable(String message, Throwable cause) {
        return new OidcTokenException(OidcTokenException.Kind.PROVIDER_UNAVAILABLE, message, cause);
    }

    /** At most 100 characters of a provider's text, for messages. */
    static String abbreviate(String s) {
        String clean = s.replaceAll("\\p{Cntrl}", "?");
        return clean.length() <= 100 ? clean : clean.substring(0, 100) + "...";
    }
}

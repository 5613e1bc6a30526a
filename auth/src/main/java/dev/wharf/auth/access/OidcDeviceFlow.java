package dev.wharf.auth.access;

import com.fasterxml.jackson.databind.JsonNode;
import java.net.URI;
import java.net.URLEncoder;
import java.net.http.HttpClient;
import java.nio.charset.StandardCharsets;
import java.time.Clock;
import java.time.Duration;
import java.time.Instant;
import java.util.Base64;
import java.util.LinkedHashMap;
import java.util.Map;
import java.util.Objects;

/**
 * The OAuth 2.0 device authorization grant (RFC 8628) against an OIDC issuer, for {@code wharf login --oidc}: ask
 * the provider's {@code device_authorization_endpoint} for a user code, let the user confirm it in a browser, and
 * poll the {@code token_endpoint} until the provider hands out the tokens. The poll keeps the provider's
 * {@code interval} (5 s when it names none) and adds 5 s on each {@code slow_down}, as the RFC says. One flow per
 * object; not for concurrent use.
 */
public final class OidcDeviceFlow {
    static final String GRANT_TYPE = "urn:ietf:params:oauth:grant-type:device_code";
    static final Duration DEFAULT_INTERVAL = Duration.ofSeconds(5);
    static final Duration SLOW_DOWN_STEP = Duration.ofSeconds(5);
    /** The longest wait between polls, whatever the provider asks. */
    static final Duration MAX_INTERVAL = Duration.ofSeconds(60);
    /** How long a flow may last when the provider names no {@code expires_in}, and at most. */
    static final Duration MAX_FLOW = Duration.ofMinutes(30);

    /** Waits between polls; tests pass one that records the waits. */
    @FunctionalInterface
    public interface Sleeper {
        void sleep(Duration d) throws InterruptedException;
    }

    private final IssuerClient provider;
    private final String clientId;
    private final String clientSecret;
    private final Clock clock;
    private final Sleeper sleeper;

    /**
     * @param issuer       the OIDC issuer (https, or http on loopback)
     * @param clientId     the client registered at the provider for the device grant
     * @param clientSecret its secret, sent as Basic credentials; null for a public client
     */
    public OidcDeviceFlow(URI issuer, String clientId, String clientSecret) {
        this(issuer, clientId, clientSecret, IssuerClient.defaultHttp(), Clock.systemUTC(), d -> Thread.sleep(d.toMillis()));
    }

    public OidcDeviceFlow(URI issuer, String clientId, String clientSecret, HttpClient http, Clock clock,
                          Sleeper sleeper) {
        this.provider = new IssuerClient(issuer, Objects.requireNonNull(http, "http"));
        if (clientId == null || clientId.isBlank()) {
            throw new IllegalArgumentException("the OIDC client id must not be blank");
        }
        this.clientId = clientId;
        this.clientSecret = clientSecret;
        this.clock = clock;
        this.sleeper = sleeper;
    }

    /**
     * What the user must do: open {@code verificationUri} and type {@code userCode}, or open
     * {@code verificationUriComplete} (null when the provider names none), before {@code expiresAt}.
     */
    public record Prompt(String userCode, URI verificationUri, URI verificationUriComplete, Instant expiresAt,
                         Duration interval) {
    }

    /** The tokens the provider handed out. {@link #toString} names none of them. */
    public record Tokens(String idToken, String accessToken) {
        @Override
        public String toString() {
            return "Tokens[idToken=(" + idToken.length() + " characters), accessToken=(hidden)]";
        }
    }

    /** A started flow: the prompt for the user and the code to poll with. */
    public final class Pending {
        private final String deviceCode;
        private final Prompt prompt;
        private final URI tokenEndpoint;

        private Pending(String deviceCode, Prompt prompt, URI tokenEndpoint) {
            this.deviceCode = deviceCode;
            this.prompt = prompt;
            this.tokenEndpoint = tokenEndpoint;
        }

        public Prompt prompt() {
            return prompt;
        }

        /**
         * Polls until the user confirms, denies, or the code expires.
         *
         * @throws OidcTokenException REFUSED when the user denied or the code expired, PROVIDER_UNAVAILABLE when
         *                            the provider failed
         */
        public Tokens await() throws OidcTokenException, InterruptedException {
            Duration interval = prompt.interval();
            while (true) {
                sleeper.sleep(interval);
                if (!clock.instant().isBefore(prompt.expiresAt())) {
                    throw OidcTokenException.refused("the user code expired before it was confirmed; run the "
                            + "login again");
                }
                Map<String, String> form = new LinkedHashMap<>();
                form.put("grant_type", GRANT_TYPE);
                form.put("device_code", deviceCode);
                form.put("client_id", clientId);
                IssuerClient.Answer a = provider.postForm(tokenEndpoint, form, basic());
                if (a.status() == 200) {
                    String idToken = a.json().path("id_token").asText("");
                    if (idToken.isEmpty()) {
                        throw IssuerClient.unavailable("the token endpoint " + tokenEndpoint + " answered without "
                                + "an id_token: does the client have the 'openid' scope?", null);
                    }
                    return new Tokens(idToken, a.json().path("access_token").asText(""));
                }
                String error = a.json().path("error").asText("");
                switch (error) {
                    case "authorization_pending":
                        break;
                    case "slow_down":
                        interval = min(interval.plus(SLOW_DOWN_STEP), MAX_INTERVAL);
                        break;
                    case "access_denied":
                        throw OidcTokenException.refused("the login was denied at the provider");
                    case "expired_token":
                        throw OidcTokenException.refused("the user code expired before it was confirmed; run the "
                                + "login again");
                    default:
                        throw IssuerClient.unavailable("the token endpoint " + tokenEndpoint + " answered HTTP "
                                + a.status() + " " + describeError(a.json()), null);
                }
            }
        }
    }

    /** Asks the provider for a device code and a user code. */
    public Pending start(String scope) throws OidcTokenException {
        JsonNode doc = provider.discovery();
        String endpoint = doc.path("device_authorization_endpoint").asText(null);
        if (endpoint == null) {
            throw IssuerClient.unavailable(provider.issuer() + " offers no device authorization grant (its discovery "
                    + "document has no device_authorization_endpoint)", null);
        }
        URI deviceEndpoint = provider.checkEndpoint("device_authorization_endpoint", endpoint);
        URI tokenEndpoint = provider.checkEndpoint("token_endpoint", doc.path("token_endpoint").asText(null));
        Map<String, String> form = new LinkedHashMap<>();
        form.put("client_id", clientId);
        form.put("scope", scope);
        IssuerClient.Answer a = provider.postForm(deviceEndpoint, form, basic());
        if (a.status() != 200) {
            throw IssuerClient.unavailable("the device authorization endpoint " + deviceEndpoint + " answered HTTP "
                    + a.status() + " " + describeError(a.json()), null);
        }
        JsonNode j = a.json();
        String deviceCode = j.path("device_code").asText("");
        String userCode = j.path("user_code").asText("");
        // "verification_url" is what some providers (Google) send instead.
        String verification = j.path("verification_uri").asText(j.path("verification_url").asText(""));
        if (deviceCode.isEmpty() || userCode.isEmpty() || verification.isEmpty()) {
            throw IssuerClient.unavailable("the device authorization endpoint " + deviceEndpoint + " answered "
                    + "without device_code, user_code or verification_uri", null);
        }
        URI verificationUri = provider.checkEndpoint("verification_uri", verification);
        String completeText = j.path("verification_uri_complete").asText("");
        URI complete = completeText.isEmpty() ? null
                : provider.checkEndpoint("verification_uri_complete", completeText);
        long expiresIn = j.path("expires_in").asLong(MAX_FLOW.toSeconds());
        Duration lifetime = expiresIn <= 0 ? MAX_FLOW : min(Duration.ofSeconds(expiresIn), MAX_FLOW);
        long intervalSeconds = j.path("interval").asLong(DEFAULT_INTERVAL.toSeconds());
        Duration interval = intervalSeconds <= 0 ? DEFAULT_INTERVAL
                : min(Duration.ofSeconds(intervalSeconds), MAX_INTERVAL);
        Prompt prompt = new Prompt(IssuerClient.abbreviate(userCode), verificationUri, complete,
                clock.instant().plus(lifetime), interval);
        return new Pending(deviceCode, prompt, tokenEndpoint);
    }

    private String basic() {
        if (clientSecret == null) {
            return null;
        }
        // RFC 6749 2.3.1: each part form-encoded before Basic.
        String pair = URLEncoder.encode(clientId, StandardCharsets.UTF_8) + ":"
                + URLEncoder.encode(clientSecret, StandardCharsets.UTF_8);
        return "Basic " + Base64.getEncoder().encodeToString(pair.getBytes(StandardCharsets.UTF_8));
    }

    private static String describeError(JsonNode json) {
        String error = json.path("error").asText("");
        String description = json.path("error_description").asText("");
        if (error.isEmpty()) {
            return "(no OAuth error)";
        }
        return "(" + IssuerClient.abbreviate(error) + (description.isEmpty() ? ""
                : ": " + IssuerClient.abbreviate(description)) + ")";
    }

    private static Duration min(Duration a, Duration b) {
        return a.compareTo(b) <= 0 ? a : b;
    }
}

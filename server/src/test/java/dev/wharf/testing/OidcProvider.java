package dev.wharf.testing;

import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.ObjectMapper;
import com.fasterxml.jackson.databind.node.ObjectNode;
import java.io.IOException;
import java.io.UncheckedIOException;
import java.net.CookieManager;
import java.net.URI;
import java.net.URLEncoder;
import java.net.http.HttpClient;
import java.net.http.HttpRequest;
import java.net.http.HttpResponse;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.time.Duration;
import java.util.Base64;
import java.util.HashMap;
import java.util.List;
import java.util.Map;
import java.util.UUID;
import java.util.regex.Matcher;
import java.util.regex.Pattern;
import org.junit.jupiter.api.extension.AfterAllCallback;
import org.junit.jupiter.api.extension.BeforeAllCallback;
import org.junit.jupiter.api.extension.ExtensionContext;

/**
 * A real OIDC provider on 127.0.0.1: Ory Hydra (built by server/src/test/oidc-provider/build.sh, which .ci/run
 * calls) with {@code DSN=memory}, started once per test class as a JUnit extension. {@link #createClient} registers
 * a client with a chosen id; {@link #mintIdToken} runs a real authorization code flow through Hydra's public port and
 * accepts its login and consent through the admin API, so the ID token is Hydra's own, signed with its own key, with
 * the groups claim set in the consent session.
 *
 * <pre>{@code
 * @RegisterExtension
 * static final OidcProvider oidc = new OidcProvider();
 * ...
 * oidc.createClient("wharf");
 * String idToken = oidc.mintIdToken("wharf", "alice", List.of("ci"));
 * }</pre>
 *
 * <p>Hydra's usage statistics are switched off ({@code SQA_OPT_OUT}): it talks to nothing but the test.
 */
public final class OidcProvider implements BeforeAllCallback, AfterAllCallback {
    /** The Hydra version server/src/test/oidc-provider/go.mod pins; the binary's cache path names it. */
    public static final String HYDRA_VERSION = "v2.3.0";
    /** The claim the consent session puts the groups in. */
    public static final String GROUPS_CLAIM = "groups";
    private static final String REDIRECT = "http://127.0.0.1:9/callback";
    private static final ObjectMapper JSON = new ObjectMapper();

    private final Map<String, String> secrets = new HashMap<>();
    private final HttpClient http = HttpClient.newBuilder().connectTimeout(Duration.ofSeconds(5))
            .followRedirects(HttpClient.Redirect.NEVER).build();
    private ChildProcess process;
    private Path dir;
    private int publicPort;
    private int adminPort;

    /** The Hydra binary, or a failure that says how to build it. */
    public static Path hydra() {
        return Tools.built("hydra", HYDRA_VERSION, "WHARF_HYDRA", "server/src/test/oidc-provider/build.sh");
    }

    @Override
    public void beforeAll(ExtensionContext context) throws Exception {
        start();
    }

    @Override
    public void afterAll(ExtensionContext context) {
        stop();
    }

    /** Starts Hydra on two free loopback ports and waits until its admin API is ready. */
    public void start() throws IOException {
        Path binary = hydra();
        dir = Files.createTempDirectory("wharf-hydra-");
        publicPort = Ports.free();
        adminPort = Ports.free();
        Map<String, String> env = new HashMap<>();
        env.put("DSN", "memory");
        env.put("SECRETS_SYSTEM", UUID.randomUUID().toString());
        env.put("URLS_SELF_ISSUER", "http://127.0.0.1:" + publicPort);
        // No login or consent UI: the test accepts both through the admin API.
        env.put("URLS_LOGIN", "http://127.0.0.1:9/login");
        env.put("URLS_CONSENT", "http://127.0.0.1:9/consent");
        env.put("SERVE_PUBLIC_HOST", "127.0.0.1");
        env.put("SERVE_PUBLIC_PORT", Integer.toString(publicPort));
        env.put("SERVE_ADMIN_HOST", "127.0.0.1");
        env.put("SERVE_ADMIN_PORT", Integer.toString(adminPort));
        env.put("SQA_OPT_OUT", "true");
        env.put("LOG_LEVEL", "warn");
        env.put("LOG_LEAK_SENSITIVE_VALUES", "false");
        process = ChildProcess.start(List.of(binary.toString(), "serve", "all", "--dev", "--sqa-opt-out"),
                dir.resolve("hydra.log"), env, dir);
        process.awaitReady("hydra", Duration.ofSeconds(60), () -> status(admin("/health/ready")) == 200
                && status(issuer().resolve("/.well-known/openid-configuration")) == 200);
    }

    /** Stops Hydra (by its PID) and deletes its directory. */
    public void stop() {
        if (process != null) {
            process.stop(Duration.ofSeconds(10));
            process = null;
        }
        ChildProcess.deleteTree(dir);
    }

    /** The issuer, exactly as Hydra names it: {@code http://127.0.0.1:<port>}, no trailing '/'. */
    public URI issuer() {
        return URI.create("http://127.0.0.1:" + publicPort);
    }

    /** The public port (discovery, keys, authorization, token). */
    public int publicPort() {
        return publicPort;
    }

    /** Hydra's log, for failure messages. */
    public String logTail() {
        return process == null ? "" : process.logTail(40);
    }

    /** Registers a confidential client {@code clientId} for the authorization code flow; returns its secret. */
    public String createClient(String clientId) {
        String secret = UUID.randomUUID().toString();
        ObjectNode body = JSON.createObjectNode();
        body.put("client_id", clientId);
        body.put("client_secret", secret);
        body.putArray("grant_types").add("authorization_code");
        body.putArray("response_types").add("code");
        body.putArray("redirect_uris").add(REDIRECT);
        body.put("scope", "openid profile email");
        body.put("token_endpoint_auth_method", "client_secret_basic");
        JsonNode created = json(send(HttpRequest.newBuilder(admin("/admin/clients"))
                .header("Content-Type", "application/json")
                .POST(HttpRequest.BodyPublishers.ofString(body.toString())).build()), 201);
        if (!clientId.equals(created.path("client_id").asText())) {
            throw new AssertionError("hydra created client " + created.path("client_id") + ", not " + clientId);
        }
        secrets.put(clientId, secret);
        return secret;
    }

    /**
     * A fresh ID token of Hydra's for {@code subject}, issued to {@code clientId} (made with {@link #createClient}),
     * with {@code preferred_username} = subject and {@code groups} in the {@link #GROUPS_CLAIM} claim.
     */
    public String mintIdToken(String clientId, String subject, List<String> groups) {
        ObjectNode claims = JSON.createObjectNode();
        claims.put("preferred_username", subject);
        claims.set(GROUPS_CLAIM, JSON.valueToTree(groups));
        return mintIdToken(clientId, subject, claims);
    }

    /** A fresh ID token for {@code subject} with these extra claims in the consent session's id_token. */
    public String mintIdToken(String clientId, String subject, ObjectNode idTokenClaims) {
        String secret = secrets.get(clientId);
        if (secret == null) {
            throw new IllegalStateException("no client " + clientId + ": call createClient first");
        }
        // The browser's part: one cookie jar across the redirects, as Hydra ties its CSRF cookies to them.
        HttpClient browser = HttpClient.newBuilder().connectTimeout(Duration.ofSeconds(5))
                .followRedirects(HttpClient.Redirect.NEVER).cookieHandler(new CookieManager()).build();
        String state = UUID.randomUUID().toString();
        URI authorize = issuer().resolve("/oauth2/auth?response_type=code&client_id=" + enc(clientId)
                + "&redirect_uri=" + enc(REDIRECT) + "&scope=" + enc("openid profile email") + "&state=" + state
                + "&nonce=" + UUID.randomUUID());
        String loginChallenge = query(redirect(browser, authorize), "login_challenge");
        JsonNode login = json(send(HttpRequest.newBuilder(admin("/admin/oauth2/auth/requests/login/accept"
                + "?login_challenge=" + enc(loginChallenge))).header("Content-Type", "application/json")
                .PUT(HttpRequest.BodyPublishers.ofString("{\"subject\":" + JSON.valueToTree(subject) + "}"))
                .build()), 200);
        String consentChallenge = query(redirect(browser, URI.create(login.path("redirect_to").asText())),
                "consent_challenge");
        ObjectNode consent = JSON.createObjectNode();
        consent.putArray("grant_scope").add("openid").add("profile").add("email");
        consent.putObject("session").set("id_token", idTokenClaims);
        JsonNode accepted = json(send(HttpRequest.newBuilder(admin("/admin/oauth2/auth/requests/consent/accept"
                + "?consent_challenge=" + enc(consentChallenge))).header("Content-Type", "application/json")
                .PUT(HttpRequest.BodyPublishers.ofString(consent.toString())).build()), 200);
        String code = query(redirect(browser, URI.create(accepted.path("redirect_to").asText())), "code");
        String basic = Base64.getEncoder().encodeToString((enc(clientId) + ":" + enc(secret))
                .getBytes(StandardCharsets.UTF_8));
        JsonNode tokens = json(send(HttpRequest.newBuilder(issuer().resolve("/oauth2/token"))
                .header("Authorization", "Basic " + basic)
                .header("Content-Type", "application/x-www-form-urlencoded")
                .POST(HttpRequest.BodyPublishers.ofString("grant_type=authorization_code&code=" + enc(code)
                        + "&redirect_uri=" + enc(REDIRECT))).build()), 200);
        String idToken = tokens.path("id_token").asText("");
        if (idToken.isEmpty()) {
            throw new AssertionError("hydra's token answer has no id_token");
        }
        return idToken;
    }

    /**
     * Adds a new key ({@code RS256} or {@code ES256}) to Hydra's ID token key set; Hydra signs the next ID tokens
     * with it. Returns its kid.
     */
    public String rotateIdTokenKey(String alg) {
        JsonNode set = json(send(HttpRequest.newBuilder(admin("/admin/keys/hydra.openid.id-token"))
                .header("Content-Type", "application/json")
                .POST(HttpRequest.BodyPublishers.ofString("{\"alg\":\"" + alg + "\",\"use\":\"sig\",\"kid\":\""
                        + UUID.randomUUID() + "\"}")).build()), 201);
        return set.path("keys").path(0).path("kid").asText();
    }

    private URI admin(String pathAndQuery) {
        return URI.create("http://127.0.0.1:" + adminPort + pathAndQuery);
    }

    private int status(URI uri) {
        try {
            return http.send(HttpRequest.newBuilder(uri).timeout(Duration.ofSeconds(2)).build(),
                    HttpResponse.BodyHandlers.discarding()).statusCode();
        } catch (IOException e) {
            return -1;
        } catch (InterruptedException e) {
            Thread.currentThread().interrupt();
            return -1;
        }
    }

    private HttpResponse<String> send(HttpRequest request) {
        return send(http, request);
    }

    private static HttpResponse<String> send(HttpClient client, HttpRequest request) {
        try {
            return client.send(HttpRequest.newBuilder(request, (k, v) -> true).timeout(Duration.ofSeconds(10))
                    .build(), HttpResponse.BodyHandlers.ofString());
        } catch (IOException e) {
            throw new UncheckedIOException(request.method() + " " + request.uri(), e);
        } catch (InterruptedException e) {
            Thread.currentThread().interrupt();
            throw new AssertionError("interrupted", e);
        }
    }

    /** Follows one redirect as a browser would and returns where it points. */
    private URI redirect(HttpClient browser, URI uri) {
        HttpResponse<String> r = send(browser, HttpRequest.newBuilder(uri).GET().build());
        String location = r.headers().firstValue("Location").orElse(null);
        if (r.statusCode() / 100 != 3 || location == null) {
            throw new AssertionError("GET " + uri + " answered " + r.statusCode() + ", not a redirect: " + r.body()
                    + "\n--- hydra ---\n" + logTail());
        }
        return uri.resolve(location);
    }

    private JsonNode json(HttpResponse<String> r, int expected) {
        if (r.statusCode() != expected) {
            throw new AssertionError(r.request().method() + " " + r.request().uri() + " answered " + r.statusCode()
                    + ": " + r.body() + "\n--- hydra ---\n" + logTail());
        }
        try {
            return JSON.readTree(r.body());
        } catch (IOException e) {
            throw new AssertionError("not JSON: " + r.body(), e);
        }
    }

    private static String query(URI uri, String name) {
        Matcher m = Pattern.compile("(?:^|&)" + Pattern.quote(name) + "=([^&]*)").matcher(
                uri.getRawQuery() == null ? "" : uri.getRawQuery());
        if (!m.find()) {
            throw new AssertionError(uri + " has no " + name);
        }
        return java.net.URLDecoder.decode(m.group(1), StandardCharsets.UTF_8);
    }

    private static String enc(String s) {
        return URLEncoder.encode(s, StandardCharsets.UTF_8);
    }
}

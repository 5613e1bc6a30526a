package dev.wharf.access;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertTrue;

import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.ObjectMapper;
import dev.wharf.testing.DistributionRegistry;
import dev.wharf.testing.Exec;
import dev.wharf.testing.ImageSeeder;
import dev.wharf.testing.ImageSeeder.Image;
import dev.wharf.testing.InProcessWharf;
import dev.wharf.testing.OidcProvider;
import dev.wharf.testing.Ports;
import dev.wharf.testing.RealRegistry;
import dev.wharf.testing.TestCa;
import dev.wharf.testing.WharfYaml;
import java.io.ByteArrayOutputStream;
import java.io.OutputStream;
import java.io.PrintStream;
import java.net.URLEncoder;
import java.net.http.HttpResponse;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.time.Duration;
import java.util.ArrayList;
import java.util.Base64;
import java.util.List;
import java.util.Map;
import java.util.concurrent.TimeUnit;
import org.junit.jupiter.api.AfterAll;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.MethodOrderer;
import org.junit.jupiter.api.Order;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.TestMethodOrder;
import org.junit.jupiter.api.Timeout;
import org.junit.jupiter.api.extension.ExtendWith;
import org.junit.jupiter.api.extension.RegisterExtension;
import org.junit.jupiter.api.io.TempDir;

/**
 * {@code auth.oidc} end to end: a real OIDC provider (Ory Hydra on loopback) mints ID tokens, wharf (in front of a
 * real docker-registry) takes them as passwords on {@code /token} and as Basic on {@code /v2}. A user whose OIDC
 * group maps to a wharf group in the private project's {@code pull} pulls; one outside it gets 403 DENIED; a
 * tampered, foreign or garbled ID token gets 401; a provider that cannot be reached answers 503, not 401; crane logs
 * in with the ID token as its password over TLS and pulls; an OIDC user whose mapped group is in {@code auth.admins}
 * logs in to the console and the admin API; and no ID token shows in a log or an error body.
 */
@Timeout(value = 5, unit = TimeUnit.MINUTES)
@ExtendWith(RealRegistry.class)
@TestMethodOrder(MethodOrderer.OrderAnnotation.class)
class OidcPullTest {
    @RegisterExtension
    static final OidcProvider HYDRA = new OidcProvider();
    private static final ObjectMapper JSON = new ObjectMapper();
    private static final String ACCEPT = "application/vnd.oci.image.manifest.v1+json";
    private static final String CLIENT = "wharf";
    /** Every ID token and wharf token the tests use: none may appear in a log line or an error body. */
    private static final List<String> SECRETS = new ArrayList<>();
    private static final List<String> BODIES = new ArrayList<>();
    private static final ByteArrayOutputStream SERVER_LOG = new ByteArrayOutputStream();
    private static PrintStream originalErr;
    private static PrintStream originalOut;

    @TempDir
    static Path tmp;
    private static Image image;
    private static String upstreamUrl;
    private static InProcessWharf wharf;
    private static Path audit;
    private static Path access;
    private static String aliceToken;
    private static String malloryToken;

    /** Writes to both streams: the console keeps its output and the test gets a copy of wharf's log. */
    private static PrintStream tee(PrintStream original) {
        return new PrintStream(new OutputStream() {
            @Override
            public void write(int b) {
                original.write(b);
                synchronized (SERVER_LOG) {
                    SERVER_LOG.write(b);
                }
            }

            @Override
            public void write(byte[] b, int off, int len) {
                original.write(b, off, len);
                synchronized (SERVER_LOG) {
                    SERVER_LOG.write(b, off, len);
                }
            }
        }, true, StandardCharsets.UTF_8);
    }

    static String authYaml(String issuer) {
        return "auth:\n  auditLog: " + audit + "\n  failedLogins: {burst: 100, refill: 1s}\n  admins: [builders]\n"
                + "  oidc:\n    issuer: '" + issuer + "'\n    clientId: " + CLIENT + "\n    groupsClaim: "
                + OidcProvider.GROUPS_CLAIM + "\n    groups: {platform: [builders]}\n";
    }

    static String projects() {
        return "projects:\n  - {name: priv, upstream: '" + upstreamUrl + "', visibility: private, pull: [builders]}\n";
    }

    @BeforeAll
    static void start(DistributionRegistry upstream, ImageSeeder seeder) throws Exception {
        originalErr = System.err;
        originalOut = System.out;
        System.setErr(tee(originalErr));
        System.setOut(tee(originalOut));
        image = seeder.pushOciImage(upstream.url(), "team/app", "v1", 1 << 20, 3001);
        upstreamUrl = upstream.url().toString();
        audit = tmp.resolve("audit.log");
        access = tmp.resolve("access.log");
        HYDRA.createClient(CLIENT);
        HYDRA.createClient("other-app");
        aliceToken = secret(HYDRA.mintIdToken(CLIENT, "alice", List.of("platform", "unmapped")));
        malloryToken = secret(HYDRA.mintIdToken(CLIENT, "mallory", List.of("sales")));
        wharf = InProcessWharf.start(tmp.resolve("storage"), WharfYaml.config().adminListen("127.0.0.1:0")
                .accessLog(access).raw(authYaml(HYDRA.issuer().toString()) + projects()));
    }

    @AfterAll
    static void stop() {
        try {
            if (wharf != null) {
                wharf.close();
            }
        } finally {
            System.setErr(originalErr);
            System.setOut(originalOut);
        }
    }

    static String secret(String s) {
        SECRETS.add(s);
        return s;
    }

    static HttpResponse<byte[]> get(InProcessWharf w, String path, String... headers) throws Exception {
        HttpResponse<byte[]> r = w.get(path, headers);
        if (r.statusCode() >= 400) {
            BODIES.add(new String(r.body(), StandardCharsets.UTF_8));
        }
        return r;
    }

    static String basic(String user, String password) {
        return "Basic " + Base64.getEncoder().encodeToString((user + ":" + password).getBytes(StandardCharsets.UTF_8));
    }

    static String scope() {
        return "repository:priv/" + image.repo() + ":pull";
    }

    static HttpResponse<byte[]> tokenResponse(String user, String password) throws Exception {
        return get(wharf, "/token?service=wharf&scope=" + URLEncoder.encode(scope(), StandardCharsets.UTF_8),
                "Authorization", basic(user, password));
    }

    static JsonNode claims(String token) throws Exception {
        return JSON.readTree(Base64.getUrlDecoder().decode(token.split("\\.")[1]));
    }

    static String manifest() {
        return "/v2/priv/" + image.repo() + "/manifests/v1";
    }

    static String blob() {
        return "/v2/priv/" + image.repo() + "/blobs/" + image.layerDigests().get(0);
    }

    @Test
    @Order(1)
    void aUserInTheMappedGroupGetsATokenAndPullsAManifestAndABlob() throws Exception {
        HttpResponse<byte[]> t = tokenResponse("alice", aliceToken);
        assertEquals(200, t.statusCode(), new String(t.body(), StandardCharsets.UTF_8));
        String token = secret(JSON.readTree(t.body()).get("token").asText());
        JsonNode claims = claims(token);
        assertEquals("oidc:alice", claims.get("sub").asText());
        assertEquals(1, claims.get("access").size(), claims.toString());
        assertEquals("priv/" + image.repo(), claims.get("access").get(0).get("name").asText());

        HttpResponse<byte[]> m = get(wharf, manifest(), "Accept", ACCEPT, "Authorization", "Bearer " + token);
        assertEquals(200, m.statusCode());
        assertEquals(image.manifestDigest(), ImageSeeder.sha256(m.body()));
        HttpResponse<byte[]> b = get(wharf, blob(), "Authorization", "Bearer " + token);
        assertEquals(200, b.statusCode());
        assertEquals(image.layerDigests().get(0), ImageSeeder.sha256(b.body()));
        // Basic with the ID token straight on /v2 works too (the user name is the client's business, not the
        // token's: the token names the user).
        HttpResponse<byte[]> direct = get(wharf, manifest(), "Accept", ACCEPT, "Authorization",
                basic("alice", aliceToken));
        assertEquals(200, direct.statusCode());
        assertEquals(image.manifestDigest(), ImageSeeder.sha256(direct.body()));
    }

    @Test
    @Order(2)
    void aUserOutsideTheGroupLogsInButIsDeniedThePullWith403() throws Exception {
        // The ID token is genuine, so /token answers 200 (Docker token spec: a scope the user does not hold is
        // left out of the token, not refused); the token grants nothing on the private project.
        HttpResponse<byte[]> t = tokenResponse("mallory", malloryToken);
        assertEquals(200, t.statusCode(), new String(t.body(), StandardCharsets.UTF_8));
        String token = secret(JSON.readTree(t.body()).get("token").asText());
        JsonNode claims = claims(token);
        assertEquals("oidc:mallory", claims.get("sub").asText());
        assertEquals(0, claims.get("access").size(), "no scope granted: " + claims);
        HttpResponse<byte[]> m = get(wharf, manifest(), "Accept", ACCEPT, "Authorization", "Bearer " + token);
        assertEquals(403, m.statusCode());
        assertEquals("DENIED", JSON.readTree(m.body()).get("errors").get(0).get("code").asText());
        HttpResponse<byte[]> b = get(wharf, blob(), "Authorization", "Bearer " + token);
        assertEquals(403, b.statusCode());
        // Basic with the ID token on /v2: the login is right, the pull is not allowed.
        HttpResponse<byte[]> direct = get(wharf, manifest(), "Accept", ACCEPT, "Authorization",
                basic("mallory", malloryToken));
        assertEquals(403, direct.statusCode());
        assertEquals("DENIED", JSON.readTree(direct.body()).get("errors").get(0).get("code").asText());
    }

    @Test
    @Order(3)
    void tamperedForeignAndGarbledIdTokensGet401() throws Exception {
        String[] parts = HYDRA.mintIdToken(CLIENT, "eve", List.of("sales")).split("\\.");
        secret(String.join(".", parts));
        String payload = new String(Base64.getUrlDecoder().decode(parts[1]), StandardCharsets.UTF_8);
        assertTrue(payload.contains("\"sales\""), payload);
        String raised = Base64.getUrlEncoder().withoutPadding().encodeToString(
                payload.replace("\"sales\"", "\"platform\"").getBytes(StandardCharsets.UTF_8));
        Map<String, String> bad = new java.util.LinkedHashMap<>();
        bad.put("groups raised, signature kept", parts[0] + "." + raised + "." + parts[2]);
        bad.put("signature cut", parts[0] + "." + parts[1] + ".");
        bad.put("issued to another client", HYDRA.mintIdToken("other-app", "alice", List.of("platform")));
        bad.put("garbled", parts[0] + "." + parts[1] + "." + new StringBuilder(parts[2]).reverse());
        for (Map.Entry<String, String> e : bad.entrySet()) {
            secret(e.getValue());
            HttpResponse<byte[]> t = tokenResponse("eve", e.getValue());
            assertEquals(401, t.statusCode(), e.getKey() + " on /token");
            HttpResponse<byte[]> m = get(wharf, manifest(), "Accept", ACCEPT, "Authorization",
                    basic("eve", e.getValue()));
            assertEquals(401, m.statusCode(), e.getKey() + " as Basic on /v2");
            assertTrue(new String(m.body(), StandardCharsets.UTF_8).contains("UNAUTHORIZED"), e.getKey());
        }
    }

    @Test
    @Order(4)
    void aProviderThatCannotBeReachedAnswers503NotAWrongPassword() throws Exception {
        int closed = Ports.free(); // nothing listens there: discovery cannot be fetched
        try (InProcessWharf down = InProcessWharf.start(tmp.resolve("storage-down"), WharfYaml.config()
                .adminListen("127.0.0.1:0").raw(authYaml("http://127.0.0.1:" + closed) + projects()))) {
            HttpResponse<byte[]> t = get(down, "/token?service=wharf&scope="
                    + URLEncoder.encode(scope(), StandardCharsets.UTF_8), "Authorization", basic("alice", aliceToken));
            assertEquals(503, t.statusCode(), new String(t.body(), StandardCharsets.UTF_8));
            assertEquals("UNAVAILABLE", JSON.readTree(t.body()).get("errors").get(0).get("code").asText());
            HttpResponse<byte[]> m = get(down, manifest(), "Accept", ACCEPT, "Authorization",
                    basic("alice", aliceToken));
            assertEquals(503, m.statusCode());
        }
    }

    @Test
    @Order(5)
    void craneLogsInWithTheIdTokenOverTlsAndPulls() throws Exception {
        TestCa ca = TestCa.create("wharf oidc CA", tmp.resolve("ca"));
        TestCa.Issued cert = ca.server("localhost", "127.0.0.1");
        try (InProcessWharf tls = InProcessWharf.start(tmp.resolve("storage-tls"), WharfYaml.config()
                .adminListen("127.0.0.1:0").raw("tls:\n  cert: " + cert.certificatePem() + "\n  key: "
                        + cert.keyPem() + "\n" + authYaml(HYDRA.issuer().toString()) + projects()))) {
            Path dockerConfig = Files.createDirectories(tmp.resolve("crane-config"));
            Map<String, String> env = Map.of("SSL_CERT_FILE", ca.certificatePem().toString(), "DOCKER_CONFIG",
                    dockerConfig.toString());
            String ref = tls.hostPort() + "/priv/" + image.reference();
            Duration limit = Duration.ofMinutes(2);
            Exec.Result anonymous = Exec.run(limit, env, null, List.of("crane", "digest", ref));
            assertFalse(anonymous.ok(), anonymous.describe());
            Exec.run(limit, env, null, List.of("crane", "auth", "login", tls.hostPort(), "-u", "alice", "-p",
                    aliceToken)).orFail();
            Exec.Result digest = Exec.run(limit, env, null, List.of("crane", "digest", ref)).orFail();
            assertEquals(image.manifestDigest(), digest.output().trim());
            Path layout = tmp.resolve("crane-layout");
            Exec.run(limit, env, null, List.of("crane", "pull", "--format", "oci", ref, layout.toString())).orFail();
            assertTrue(Files.exists(layout.resolve("blobs/sha256/" + image.layerDigests().get(0)
                    .substring("sha256:".length()))), "the layer is in crane's layout");
            BODIES.add(anonymous.output() + digest.output());
        }
    }

    @Test
    @Order(6)
    void anOidcUserInAnAdminGroupLogsInToTheConsoleAndOthersDoNot() throws Exception {
        java.net.http.HttpClient client = java.net.http.HttpClient.newHttpClient();
        String base = "http://127.0.0.1:" + wharf.server().adminPort();
        for (String[] c : new String[][] {{"alice", aliceToken, "303", "200"}, {"mallory", malloryToken, "401",
                "401"}}) {
            HttpResponse<String> r = client.send(java.net.http.HttpRequest.newBuilder(java.net.URI.create(base
                            + "/ui/login")).header("Origin", base)
                    .header("Content-Type", "application/x-www-form-urlencoded")
                    .POST(java.net.http.HttpRequest.BodyPublishers.ofString("username=" + c[0] + "&secret="
                            + URLEncoder.encode(c[1], StandardCharsets.UTF_8))).build(),
                    HttpResponse.BodyHandlers.ofString());
            assertEquals(Integer.parseInt(c[2]), r.statusCode(), c[0] + " on /ui/login: " + r.body());
            BODIES.add(r.body());
            // The same check guards /api/v1: Basic with the ID token.
            HttpResponse<String> api = client.send(java.net.http.HttpRequest.newBuilder(java.net.URI.create(base
                    + "/api/v1/projects")).header("Authorization", basic(c[0], c[1])).build(),
                    HttpResponse.BodyHandlers.ofString());
            assertEquals(Integer.parseInt(c[3]), api.statusCode(), c[0] + " on /api/v1: " + api.body());
            if (api.statusCode() >= 400) {
                BODIES.add(api.body());
            }
        }
        // Checking an ID token may ask the provider (a network call): the admin API does it on its own executor,
        // never on an event loop ("wharf-io"), which would stall every connection the loop serves.
        String refusedLine = null;
        long deadline = System.nanoTime() + TimeUnit.SECONDS.toNanos(5);
        while (refusedLine == null && System.nanoTime() < deadline) {
            synchronized (SERVER_LOG) {
                refusedLine = SERVER_LOG.toString(StandardCharsets.UTF_8).lines()
                        .filter(l -> l.contains("AdminApi - admin request GET /api/v1/projects")).findFirst()
                        .orElse(null);
            }
            Thread.sleep(50);
        }
        assertTrue(refusedLine != null && refusedLine.startsWith("[wharf-admin]"),
                "mallory's refusal was decided on the admin executor: " + refusedLine);
    }

    @Test
    @Order(7)
    void noIdTokenAppearsInAnyLogOrErrorBody() throws Exception {
        // One more failed login and one pull, so the audit log has both kinds of line.
        assertEquals(401, tokenResponse("eve", secret(aliceToken.substring(0, aliceToken.length() - 4) + "AAAA"))
                .statusCode());
        long deadline = System.nanoTime() + TimeUnit.SECONDS.toNanos(10);
        String log = "";
        while (System.nanoTime() < deadline && !(log.contains("login_failed") && log.contains("oidc:alice"))) {
            Thread.sleep(100);
            log = Files.exists(audit) ? Files.readString(audit) : "";
        }
        assertTrue(log.contains("login_failed"), log);
        assertTrue(log.contains("oidc:alice"), "the audit log names the OIDC principal: " + log);
        Thread.sleep(500); // the access log's writer thread
        String server;
        synchronized (SERVER_LOG) {
            server = SERVER_LOG.toString(StandardCharsets.UTF_8);
        }
        assertTrue(server.contains("client auth on"), "wharf's own log was captured");
        String everything = log + Files.readString(access) + server + String.join("\n", BODIES);
        assertTrue(BODIES.size() > 5, "error bodies were collected");
        List<String> secrets = List.copyOf(SECRETS);
        assertTrue(secrets.size() > 8, "tokens were collected");
        for (int i = 0; i < secrets.size(); i++) {
            String s = secrets.get(i);
            assertFalse(everything.contains(s), "secret #" + i + " appears in a log or an error body");
            // Nor its signature alone (a log that cut the token would still leak the part that proves it).
            String sig = s.substring(s.lastIndexOf('.') + 1);
            if (sig.length() > 20) {
                assertFalse(everything.contains(sig), "the signature of secret #" + i + " appears");
            }
        }
    }
}

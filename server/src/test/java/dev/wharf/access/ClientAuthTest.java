package dev.wharf.access;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertNotNull;
import static org.junit.jupiter.api.Assertions.assertTrue;

import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.ObjectMapper;
import dev.wharf.auth.access.AccessTokens;
import dev.wharf.auth.access.Principal;
import dev.wharf.auth.access.Scope;
import dev.wharf.auth.access.TokenKey;
import dev.wharf.testing.DistributionRegistry;
import dev.wharf.testing.ImageSeeder;
import dev.wharf.testing.ImageSeeder.Image;
import dev.wharf.testing.InProcessWharf;
import dev.wharf.testing.RealRegistry;
import dev.wharf.testing.WharfYaml;
import java.net.URI;
import java.net.http.HttpClient;
import java.net.http.HttpRequest;
import java.net.http.HttpResponse;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.nio.file.attribute.PosixFilePermissions;
import java.security.SecureRandom;
import java.time.Clock;
import java.time.Duration;
import java.time.Instant;
import java.time.ZoneOffset;
import java.util.ArrayList;
import java.util.Base64;
import java.util.List;
import java.util.Map;
import java.util.concurrent.TimeUnit;
import org.bouncycastle.crypto.generators.OpenBSDBCrypt;
import org.junit.jupiter.api.AfterAll;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.Timeout;
import org.junit.jupiter.api.extension.ExtendWith;
import org.junit.jupiter.api.io.TempDir;

/**
 * Client auth end to end, over HTTP with the JDK client against wharf in front of a real registry: the 401
 * challenge, the token endpoint (several scopes, only what the user holds), Basic on /v2, isolation between
 * projects that share blobs, 403 for a robot without rights, forged tokens refused, the htpasswd reload, the
 * failed-login throttle, admin users on /api/v1, the audit log, and no secret in any log or error body.
 */
@Timeout(value = 5, unit = TimeUnit.MINUTES)
@ExtendWith(RealRegistry.class)
class ClientAuthTest {
    private static final ObjectMapper JSON = new ObjectMapper();
    private static final String ACCEPT = "application/vnd.oci.image.manifest.v1+json";
    /** Every secret the tests use: none may appear in a log line or an error body. */
    private static final List<String> SECRETS = new ArrayList<>();
    private static final List<String> BODIES = new ArrayList<>();

    @TempDir
    static Path tmp;
    private static Image image;
    private static InProcessWharf wharf;
    private static Path htpasswd;
    private static Path audit;
    private static Path access;
    private static Path keyFile;
    private static final HttpClient HTTP = HttpClient.newHttpClient();

    static String pw(String name) {
        String p = "pw-" + name + "-" + Long.toHexString(new SecureRandom().nextLong());
        SECRETS.add(p);
        return p;
    }

    private static final String ROBOT = "robot$ci";
    private static final String ROBOT_PW = pw("robot");
    private static final String NONE_PW = pw("none");
    private static final String CAROL_PW = pw("carol");
    private static final String ALICE_PW = pw("alice");
    private static String bobPw = pw("bob");

    static String entry(String user, String password) {
        byte[] salt = new byte[16];
        new SecureRandom().nextBytes(salt);
        return user + ":" + OpenBSDBCrypt.generate("2y", password.toCharArray(), salt, 5) + "\n";
    }

    static void writeHtpasswd() throws Exception {
        Path next = tmp.resolve("htpasswd.next");
        Files.writeString(next, entry(ROBOT, ROBOT_PW) + entry("robot$none", NONE_PW) + entry("carol", CAROL_PW)
                + entry("alice", ALICE_PW) + entry("bob", bobPw));
        Files.move(next, htpasswd, java.nio.file.StandardCopyOption.REPLACE_EXISTING,
                java.nio.file.StandardCopyOption.ATOMIC_MOVE);
    }

    static String authYaml(String extra) {
        return "auth:\n  htpasswd: " + htpasswd + "\n  groups: {ci: ['robot$ci']}\n  admins: [alice]\n"
                + "  tokenKey: " + keyFile + "\n  auditLog: " + audit + "\n" + extra;
    }

    @BeforeAll
    static void start(DistributionRegistry upstream, ImageSeeder seeder) throws Exception {
        image = seeder.pushOciImage(upstream.url(), "team/app", "v1", 1 << 20, 1001);
        htpasswd = tmp.resolve("htpasswd");
        audit = tmp.resolve("audit.log");
        access = tmp.resolve("access.log");
        keyFile = tmp.resolve("token.pem");
        TokenKey.readOrGenerate(keyFile);
        writeHtpasswd();
        String projects = "projects:\n"
                + "  - {name: pub, upstream: '" + upstream.url() + "'}\n"
                + "  - {name: priv, upstream: '" + upstream.url() + "', visibility: private, pull: [ci, bob]}\n"
                + "  - {name: other, upstream: '" + upstream.url() + "', visibility: private, pull: [carol]}\n";
        wharf = InProcessWharf.start(tmp.resolve("storage"), WharfYaml.config().adminListen("127.0.0.1:0")
                .accessLog(access).raw(authYaml("") + projects));
    }

    @AfterAll
    static void stop() {
        if (wharf != null) {
            wharf.close();
        }
    }

    static HttpResponse<byte[]> get(String path, String... headers) throws Exception {
        HttpResponse<byte[]> r = wharf.get(path, headers);
        if (r.statusCode() >= 400) {
            BODIES.add(new String(r.body(), StandardCharsets.UTF_8)); // error bodies; a 200 from /token is a token
        }
        return r;
    }

    static String basic(String user, String password) {
        return "Basic " + Base64.getEncoder().encodeToString((user + ":" + password).getBytes(StandardCharsets.UTF_8));
    }

    static String token(String user, String password, String... scopes) throws Exception {
        StringBuilder q = new StringBuilder("/token?service=wharf");
        for (String s : scopes) {
            q.append("&scope=").append(java.net.URLEncoder.encode(s, StandardCharsets.UTF_8));
        }
        HttpResponse<byte[]> r = user == null ? get(q.toString()) : get(q.toString(), "Authorization",
                basic(user, password));
        assertEquals(200, r.statusCode(), new String(r.body(), StandardCharsets.UTF_8));
        String t = JSON.readTree(r.body()).get("token").asText();
        SECRETS.add(t);
        return t;
    }

    static String manifest(String project) {
        return "/v2/" + project + "/" + image.repo() + "/manifests/v1";
    }

    static String blob(String project) {
        return "/v2/" + project + "/" + image.repo() + "/blobs/" + image.layerDigests().get(0);
    }

    @Test
    void aPrivateProjectChallengesExactlyAndAPublicOneServesAnyone() throws Exception {
        HttpResponse<byte[]> r = get(manifest("priv"), "Accept", ACCEPT);
        assertEquals(401, r.statusCode());
        assertEquals("Bearer realm=\"http://" + wharf.hostPort() + "/token\",service=\"wharf\",scope=\"repository:priv/"
                + image.repo() + ":pull\"", r.headers().firstValue("WWW-Authenticate").orElseThrow());
        assertTrue(new String(r.body(), StandardCharsets.UTF_8).contains("UNAUTHORIZED"));
        HttpResponse<byte[]> base = get("/v2/");
        assertEquals(401, base.statusCode(), "GET /v2/ challenges when a project is private");
        assertEquals("Bearer realm=\"http://" + wharf.hostPort() + "/token\",service=\"wharf\"",
                base.headers().firstValue("WWW-Authenticate").orElseThrow());
        assertEquals(200, get(manifest("pub"), "Accept", ACCEPT).statusCode(), "a public project needs no login");
    }

    @Test
    void theTokenFlowPullsAndATokenForOneProjectNeverReadsAnother() throws Exception {
        String robot = token(ROBOT, ROBOT_PW, "repository:priv/" + image.repo() + ":pull");
        HttpResponse<byte[]> m = get(manifest("priv"), "Accept", ACCEPT, "Authorization", "Bearer " + robot);
        assertEquals(200, m.statusCode());
        assertEquals(image.manifestDigest(), ImageSeeder.sha256(m.body()));
        HttpResponse<byte[]> b = get(blob("priv"), "Authorization", "Bearer " + robot);
        assertEquals(200, b.statusCode());
        assertEquals(image.layerDigests().get(0), ImageSeeder.sha256(b.body()));

        // carol may pull "other", which shares every blob with "priv"; her token reads "other" ...
        String carol = token("carol", CAROL_PW, "repository:other/" + image.repo() + ":pull");
        assertEquals(200, get(blob("other"), "Authorization", "Bearer " + carol).statusCode());
        // ... and never "priv", though the blob is on disk and linked there (a warm cache hit).
        HttpResponse<byte[]> cross = get(blob("priv"), "Authorization", "Bearer " + carol);
        assertEquals(403, cross.statusCode());
        assertTrue(new String(cross.body(), StandardCharsets.UTF_8).contains("DENIED"));
        // The robot's token for "priv" does not read "other" either.
        assertEquals(403, get(blob("other"), "Authorization", "Bearer " + robot).statusCode());
        // A token for one repository is not a token for another of the same project: a new challenge.
        HttpResponse<byte[]> otherRepo = get("/v2/priv/team/else/manifests/v1", "Authorization", "Bearer " + robot);
        assertEquals(401, otherRepo.statusCode());
        assertTrue(otherRepo.headers().firstValue("WWW-Authenticate").orElseThrow()
                .contains("error=\"insufficient_scope\""));
    }

    @Test
    void severalScopesInOneRequestGrantOnlyWhatTheUserHolds() throws Exception {
        String t = token(ROBOT, ROBOT_PW, "repository:priv/a:pull,push", "repository:other/a:pull",
                "repository:pub/b:pull repository:priv/c:pull", "registry:catalog:*");
        JsonNode claims = JSON.readTree(Base64.getUrlDecoder().decode(t.split("\\.")[1]));
        List<String> granted = new ArrayList<>();
        claims.get("access").forEach(a -> granted.add(a.get("name").asText() + ":" + a.get("actions")));
        assertEquals(List.of("priv/a:[\"pull\"]", "pub/b:[\"pull\"]", "priv/c:[\"pull\"]"), granted);
        assertEquals(ROBOT, claims.get("sub").asText());
        assertEquals("wharf", claims.get("aud").asText());
        // Anonymous: public scopes only.
        JsonNode anon = JSON.readTree(Base64.getUrlDecoder().decode(
                token(null, null, "repository:pub/b:pull", "repository:priv/a:pull").split("\\.")[1]));
        assertEquals(1, anon.get("access").size());
        assertEquals("pub/b", anon.get("access").get(0).get("name").asText());
    }

    @Test
    void aRobotWithoutRightsGets403AndWrongPasswordsGet401() throws Exception {
        HttpResponse<byte[]> r = get(manifest("priv"), "Accept", ACCEPT, "Authorization", basic("robot$none", NONE_PW));
        assertEquals(403, r.statusCode());
        assertEquals("DENIED", JSON.readTree(r.body()).get("errors").get(0).get("code").asText());
        String none = token("robot$none", NONE_PW, "repository:priv/" + image.repo() + ":pull");
        assertEquals(403, get(manifest("priv"), "Accept", ACCEPT, "Authorization", "Bearer " + none).statusCode());
        assertEquals(401, get("/token?service=wharf", "Authorization", basic("carol", "wrong-" + CAROL_PW))
                .statusCode());
        assertEquals(200, get(manifest("priv"), "Accept", ACCEPT, "Authorization", basic(ROBOT, ROBOT_PW))
                .statusCode(), "Basic straight on /v2");
        assertEquals(200, get(manifest("priv"), "Accept", ACCEPT, "Authorization", basic("bob", bobPw))
                .statusCode(), "a user listed in pull by name");
    }

    @Test
    void forgedExpiredMisaddressedUnsignedAndResignedTokensAreRefused() throws Exception {
        String scope = "repository:priv/" + image.repo() + ":pull";
        String good = token(ROBOT, ROBOT_PW, scope);
        TokenKey key = TokenKey.read(keyFile);
        Principal robot = Principal.user(ROBOT);
        List<Scope> access = List.of(Scope.pull("priv/" + image.repo()));
        Map<String, String> forged = new java.util.LinkedHashMap<>();
        String[] parts = good.split("\\.");
        String otherClaims = Base64.getUrlEncoder().withoutPadding().encodeToString(new String(
                Base64.getUrlDecoder().decode(parts[1]), StandardCharsets.UTF_8).replace(ROBOT, "carol")
                .getBytes(StandardCharsets.UTF_8));
        forged.put("claims changed, signature kept", parts[0] + "." + otherClaims + "." + parts[2]);
        forged.put("expired", new AccessTokens(key, "wharf", Duration.ofMinutes(5),
                Clock.fixed(Instant.now().minus(Duration.ofHours(1)), ZoneOffset.UTC)).issue(robot, access).token());
        forged.put("wrong audience", new AccessTokens(key, "someone-else", Duration.ofMinutes(5),
                Clock.systemUTC()).issue(robot, access).token());
        forged.put("wrong scope", new AccessTokens(key, "wharf", Duration.ofMinutes(5), Clock.systemUTC())
                .issue(robot, List.of(Scope.pull("priv/team/else"))).token());
        String noneHeader = Base64.getUrlEncoder().withoutPadding().encodeToString(
                "{\"alg\":\"none\",\"typ\":\"JWT\"}".getBytes(StandardCharsets.UTF_8));
        forged.put("alg none", noneHeader + "." + parts[1] + ".");
        Path otherKey = tmp.resolve("other-key.pem");
        forged.put("re-signed with another key", new AccessTokens(TokenKey.readOrGenerate(otherKey), "wharf",
                Duration.ofMinutes(5), Clock.systemUTC()).issue(robot, access).token());
        forged.put("HS256 keyed with the public key", hs256(parts[1], key));
        forged.put("garbage", "not.a.token");
        for (Map.Entry<String, String> f : forged.entrySet()) {
            SECRETS.add(f.getValue());
            HttpResponse<byte[]> r = get(manifest("priv"), "Accept", ACCEPT, "Authorization", "Bearer " + f.getValue());
            assertEquals(401, r.statusCode(), f.getKey());
        }
        assertEquals(200, get(manifest("priv"), "Accept", ACCEPT, "Authorization", "Bearer " + good).statusCode(),
                "the genuine token still works");
    }

    private static String hs256(String claims, TokenKey key) throws Exception {
        String header = Base64.getUrlEncoder().withoutPadding().encodeToString(
                "{\"alg\":\"HS256\",\"typ\":\"JWT\"}".getBytes(StandardCharsets.UTF_8));
        javax.crypto.Mac mac = javax.crypto.Mac.getInstance("HmacSHA256");
        mac.init(new javax.crypto.spec.SecretKeySpec(key.publicKey().getEncoded(), "HmacSHA256"));
        byte[] sig = mac.doFinal((header + "." + claims).getBytes(StandardCharsets.US_ASCII));
        return header + "." + claims + "." + Base64.getUrlEncoder().withoutPadding().encodeToString(sig);
    }

    @Test
    void aChangedPasswordTakesEffectWithoutRestartAndTheOldStops() throws Exception {
        String old = bobPw;
        assertEquals(200, get(manifest("priv"), "Accept", ACCEPT, "Authorization", basic("bob", old)).statusCode());
        bobPw = pw("bob-new");
        writeHtpasswd();
        long deadline = System.nanoTime() + TimeUnit.SECONDS.toNanos(20);
        int status = 0;
        while (System.nanoTime() < deadline) {
            status = get(manifest("priv"), "Accept", ACCEPT, "Authorization", basic("bob", bobPw)).statusCode();
            if (status == 200) {
                break;
            }
            Thread.sleep(200);
        }
        assertEquals(200, status, "the new password works within seconds");
        assertEquals(401, get(manifest("priv"), "Accept", ACCEPT, "Authorization", basic("bob", old)).statusCode(),
                "the old password stops working");
        assertEquals(401, get("/token?service=wharf", "Authorization", basic("bob", old)).statusCode());
    }

    @Test
    void adminUsersUseTheApiOnTheAdminPortAndMetricsLeaveThePublicPort() throws Exception {
        URI admin = URI.create("http://127.0.0.1:" + wharf.server().adminPort() + "/api/v1/projects");
        assertEquals(200, HTTP.send(HttpRequest.newBuilder(admin).header("Authorization", basic("alice", ALICE_PW))
                .build(), HttpResponse.BodyHandlers.ofByteArray()).statusCode());
        String aliceToken = token("alice", ALICE_PW);
        assertEquals(200, HTTP.send(HttpRequest.newBuilder(admin).header("Authorization", "Bearer " + aliceToken)
                .build(), HttpResponse.BodyHandlers.ofByteArray()).statusCode(), "an admin's wharf token");
        HttpResponse<byte[]> bob = HTTP.send(HttpRequest.newBuilder(admin).header("Authorization",
                basic(ROBOT, ROBOT_PW)).build(), HttpResponse.BodyHandlers.ofByteArray());
        assertEquals(401, bob.statusCode(), "a user who is not an admin");
        BODIES.add(new String(bob.body(), StandardCharsets.UTF_8));
        assertEquals(404, get("/metrics").statusCode(), "/metrics is on the admin address only");
        assertEquals(404, get("/api/v1/projects", "Authorization", basic("alice", ALICE_PW)).statusCode());
    }

    @Test
    void theAuditLogNamesPullsAndFailedLoginsAndNoLogOrBodyHoldsASecret() throws Exception {
        assertEquals(200, get(manifest("priv"), "Accept", ACCEPT, "Authorization", basic(ROBOT, ROBOT_PW))
                .statusCode());
        assertEquals(401, get("/token?service=wharf", "Authorization", basic("carol", "bad-" + CAROL_PW))
                .statusCode());
        SECRETS.add("bad-" + CAROL_PW);
        long deadline = System.nanoTime() + TimeUnit.SECONDS.toNanos(10);
        String log = "";
        while (System.nanoTime() < deadline && !(log.contains("login_failed") && log.contains("\"pull\""))) {
            Thread.sleep(100);
            log = Files.exists(audit) ? Files.readString(audit) : "";
        }
        JsonNode pull = null;
        JsonNode failed = null;
        for (String line : log.lines().toList()) {
            JsonNode n = JSON.readTree(line);
            if (n.get("audit").asText().equals("pull") && ROBOT.equals(n.path("user").asText())) {
                pull = n;
            }
            if (n.get("audit").asText().equals("login_failed") && "carol".equals(n.path("user").asText())) {
                failed = n;
            }
        }
        assertNotNull(pull, log);
        assertEquals("priv/" + image.repo(), pull.get("repository").asText());
        assertEquals("127.0.0.1", pull.get("remote").asText());
        assertNotNull(failed, log);
        Thread.sleep(500); // the access log's writer thread
        String everything = log + Files.readString(access) + String.join("\n", BODIES);
        assertTrue(BODIES.size() > 3, "error bodies were collected");
        List<String> secrets = List.copyOf(SECRETS);
        for (int i = 0; i < secrets.size(); i++) {
            assertFalse(everything.contains(secrets.get(i)), "secret #" + i + " appears in a log or an error body");
        }
    }

    @Test
    void failedLoginsAreThrottledWith429AndRetryAfter(DistributionRegistry upstream) throws Exception {
        String projects = "projects:\n  - {name: priv, upstream: '" + upstream.url()
                + "', visibility: private, pull: [ci]}\n";
        try (InProcessWharf slow = InProcessWharf.start(tmp.resolve("storage-throttle"), WharfYaml.config()
                .adminListen("127.0.0.1:0").raw(authYaml("  failedLogins: {burst: 2, refill: 1m}\n") + projects))) {
            for (int i = 0; i < 2; i++) {
                assertEquals(401, slow.get("/token?service=wharf", "Authorization", basic("carol", "guess" + i))
                        .statusCode());
            }
            HttpResponse<byte[]> r = slow.get("/token?service=wharf", "Authorization", basic("carol", "guess9"));
            assertEquals(429, r.statusCode());
            long retry = Long.parseLong(r.headers().firstValue("Retry-After").orElseThrow());
            assertTrue(retry >= 1 && retry <= 60, "Retry-After " + retry);
            // The right password is refused too while the bucket is empty: no guess gets through by luck.
            assertEquals(429, slow.get("/token?service=wharf", "Authorization", basic("carol", CAROL_PW))
                    .statusCode());
        }
    }

    @Test
    void theGeneratedKeyIsOwnerOnly(DistributionRegistry upstream) throws Exception {
        Path storage = tmp.resolve("storage-genkey");
        String yaml = "auth:\n  htpasswd: " + htpasswd + "\n  auditLog: stderr\nprojects:\n  - {name: priv, upstream: '"
                + upstream.url() + "', visibility: private, pull: [ci]}\n";
        try (InProcessWharf w = InProcessWharf.start(storage, WharfYaml.config().adminListen("127.0.0.1:0")
                .raw(yaml))) {
            Path key = storage.resolve("auth/token-key.pem");
            assertEquals("rw-------", PosixFilePermissions.toString(Files.getPosixFilePermissions(key)));
            assertTrue(Files.readString(key).contains("PRIVATE KEY"));
            assertEquals(401, w.get("/v2/").statusCode());
        }
    }
}

package dev.wharf.server.upstreamauth;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertTrue;

import com.fasterxml.jackson.databind.ObjectMapper;
import dev.wharf.testing.DistributionRegistry;
import dev.wharf.testing.Exec;
import dev.wharf.testing.ImageSeeder;
import dev.wharf.testing.InProcessWharf;
import dev.wharf.testing.TestCa;
import dev.wharf.testing.CountTap;
import dev.wharf.testing.TcpRelay;
import dev.wharf.testing.ThrottleTap;
import dev.wharf.testing.TokenServer;
import dev.wharf.testing.Tools;
import java.io.InputStream;
import java.net.InetSocketAddress;
import java.net.URI;
import java.net.http.HttpClient;
import java.net.http.HttpRequest;
import java.net.http.HttpResponse;
import java.nio.file.Path;
import java.security.MessageDigest;
import java.time.Duration;
import java.util.ArrayList;
import java.util.HexFormat;
import java.util.List;
import java.util.Map;
import java.util.Set;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.TimeUnit;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/**
 * Bearer token auth against a real registry: {@code docker-registry} with {@code auth: token} and TLS, both with a
 * certificate the test generates (BouncyCastle), and a {@link TokenServer} standing in for auth.docker.io that signs
 * the JWTs. wharf trusts the registry through the project's {@code caFile} and pulls with the project's
 * credentials. Token requests are counted: one per (realm, service, scope, identity), shared by concurrent requests;
 * a token that dies in the middle of a large pull is refreshed once and the pull goes on.
 */
class TokenAuthRegistryTest {
    private static final String USER = "puller";
    private static final String PASSWORD = "tok-Pass-6d0c1e";
    private static final HttpClient HTTP = HttpClient.newBuilder().connectTimeout(Duration.ofSeconds(5)).build();

    @TempDir
    Path dir;

    /** Registry, token server and CA of one test. */
    private record Upstream(TestCa ca, TokenServer tokens, DistributionRegistry registry) implements AutoCloseable {
        @Override
        public void close() {
            try {
                registry.close();
            } finally {
                tokens.close();
            }
        }

        ImageSeeder seeder(String... repos) {
            Map<String, List<String>> access = new java.util.LinkedHashMap<>();
            for (String r : repos) {
                access.put(r, List.of("pull", "push"));
            }
            return ImageSeeder.withAuthorization("Bearer " + tokens.mint("seeder", access, Duration.ofMinutes(30)),
                    ca.clientContext());
        }
    }

    private Upstream upstream(TokenServer.Builder tokenSettings, TestCa ca) {
        TestCa.Issued tls = ca.server("localhost", "127.0.0.1");
        TokenServer tokens = tokenSettings.start();
        try {
            DistributionRegistry registry = DistributionRegistry.builder()
                    .tls(tls.certificatePem(), tls.keyPem())
                    .extraYaml(tokens.registryAuthYaml(tokens.realm(), ca.certificatePem()))
                    .start();
            return new Upstream(ca, tokens, registry);
        } catch (RuntimeException | Error e) {
            tokens.close();
            throw e;
        }
    }

    private String project(String name, URI upstream, TestCa ca) {
        return "projects:\n  - name: " + name + "\n    upstream: " + upstream + "\n    caFile: " + ca.certificatePem()
                + "\n    username: " + USER + "\n    password: " + PASSWORD + "\n    visibility: public\n";
    }

    @Test
    void tokensAreCachedPerScopeAndSharedByConcurrentRequests() throws Exception {
        Path skopeo = Tools.require("skopeo");
        TestCa ca = TestCa.create("wharf token test CA", dir.resolve("ca"));
        TokenServer.Builder settings = TokenServer.builder(ca.signer("wharf token signer"))
                .user(USER, PASSWORD)
                .policy((user, repo, requested) -> user != null && !repo.equals("team/secret")
                        && requested.contains("pull") ? Set.of("pull") : Set.of());
        try (Upstream up = upstream(settings, ca);
             ImageSeeder seeder = up.seeder("team/app", "team/other", "team/secret", "team/conc")) {
            URI registry = up.registry().url();
            ImageSeeder.Image v1 = seeder.pushOciImage(registry, "team/app", "v1", 64 << 10, 1);
            seeder.pushOciImage(registry, "team/app", "v2", 64 << 10, 2);
            seeder.pushOciImage(registry, "team/other", "v1", 64 << 10, 3);
            seeder.pushOciImage(registry, "team/secret", "v1", 4096, 4);
            List<ImageSeeder.Blob> blobs = new ArrayList<>();
            for (int i = 0; i < 8; i++) {
                blobs.add(seeder.pushRandomBlob(registry, "team/conc", 256 << 10, 100 + i));
            }
            long seedTokens = up.tokens().requests().size();
            assertEquals(0, seedTokens, "seeding used a minted token, not the token endpoint");

            try (InProcessWharf wharf = InProcessWharf.start(dir.resolve("store"),
                    project("tok", URI.create("https://127.0.0.1:" + up.registry().port()), ca))) {
                // A whole pull of team/app:v1: manifest, config, two layers, each with its own upstream request.
                Exec.Result pull = Exec.run(Duration.ofSeconds(120), skopeo.toString(), "copy",
                        "--src-tls-verify=false", "docker://" + wharf.hostPort() + "/tok/team/app:v1",
                        "oci:" + dir.resolve("out-v1") + ":v1");
                assertEquals(0, pull.exitCode(), pull.describe());
                long appRequests = up.registry().countRequests("*", "/v2/team/app/");
                assertTrue(appRequests >= 4, "upstream requests for team/app: " + appRequests);
                assertEquals(1, up.tokens().requestsFor("repository:team/app:pull"),
                        "one token for the whole pull: " + up.tokens().requests());
                assertTrue(up.tokens().requests().stream().allMatch(r -> USER.equals(r.user())),
                        "token requests carry the project's credentials: " + up.tokens().requests());
                assertEquals(v1.manifestDigest(), ImageSeeder.sha256(wharf.get("/v2/tok/team/app/manifests/v1",
                        "Accept", ImageSeeder.OCI_MANIFEST).body()));

                // Another tag of the same repository: the cached token serves it.
                pull = Exec.run(Duration.ofSeconds(120), skopeo.toString(), "copy", "--src-tls-verify=false",
                        "docker://" + wharf.hostPort() + "/tok/team/app:v2", "oci:" + dir.resolve("out-v2") + ":v2");
                assertEquals(0, pull.exitCode(), pull.describe());
                assertEquals(1, up.tokens().requestsFor("repository:team/app:pull"), up.tokens().requests().toString());

                // Another repository is another scope: one more token.
                pull = Exec.run(Duration.ofSeconds(120), skopeo.toString(), "copy", "--src-tls-verify=false",
                        "docker://" + wharf.hostPort() + "/tok/team/other:v1", "oci:" + dir.resolve("out-o") + ":v1");
                assertEquals(0, pull.exitCode(), pull.describe());
                assertEquals(1, up.tokens().requestsFor("repository:team/other:pull"));

                // Eight blobs of a repository wharf has never asked about, requested at once: each gets a 401 from
                // the registry, and all of them wait on one token fetch.
                List<CompletableFuture<HttpResponse<byte[]>>> gets = new ArrayList<>();
                for (ImageSeeder.Blob b : blobs) {
                    gets.add(HTTP.sendAsync(HttpRequest.newBuilder(URI.create(wharf.url() + "/v2/tok/team/conc/blobs/"
                            + b.digest())).timeout(Duration.ofSeconds(60)).build(),
                            HttpResponse.BodyHandlers.ofByteArray()));
                }
                for (int i = 0; i < blobs.size(); i++) {
                    HttpResponse<byte[]> r = gets.get(i).get(60, TimeUnit.SECONDS);
                    assertEquals(200, r.statusCode());
                    assertEquals(blobs.get(i).digest(), ImageSeeder.sha256(r.body()));
                }
                long concTokens = up.tokens().requestsFor("repository:team/conc:pull");
                long conc401 = up.registry().requests().stream()
                        .filter(r -> r.path().startsWith("/v2/team/conc/") && r.status() == 401).count();
                assertEquals(1, concTokens, "concurrent requests share one token fetch: " + up.tokens().requests());
                assertTrue(conc401 >= 1, "the registry challenged the first requests");

                // A repository the token server grants nothing on: one token, one refusal, no loop.
                HttpResponse<byte[]> denied = wharf.get("/v2/tok/team/secret/manifests/v1");
                assertEquals(403, denied.statusCode(), new String(denied.body()));
                var err = new ObjectMapper().readTree(denied.body()).get("errors").get(0);
                assertEquals("DENIED", err.get("code").asText());
                assertTrue(err.get("message").asText().contains("project tok"), err.toString());
                assertEquals(1, up.tokens().requestsFor("repository:team/secret:pull"));

                long total = up.registry().requests().stream().filter(r -> r.userAgent().startsWith("wharf"))
                        .count();
                long tokenTotal = up.tokens().requests().size();
                System.out.printf("token auth: wharf made %d registry requests with %d token requests%n", total,
                        tokenTotal);
                assertEquals(4, tokenTotal, "one token per repository: " + up.tokens().requests());
            }
        }
    }

    @Test
    void largePullSurvivesTokenExpiry() throws Exception {
        TestCa ca = TestCa.create("wharf token test CA", dir.resolve("ca"));
        // The registry stops accepting a token 4 s after it is issued, while the response says 60 s (the spec's
        // minimum lifetime, so wharf keeps it for 54 s): wharf meets a dead token and must refresh it.
        Duration tokenLife = Duration.ofSeconds(4);
        TokenServer.Builder settings = TokenServer.builder(ca.signer("wharf token signer"))
                .user(USER, PASSWORD).validFor(tokenLife).expiresIn(60);
        long size = 128L << 20;
        try (Upstream up = upstream(settings, ca);
             ImageSeeder seeder = up.seeder("team/big")) {
            ImageSeeder.Image image = seeder.pushOciImage(up.registry().url(), "team/big", "v1", size, 42);
            String bigLayer = image.layerDigests().get(1);
            long bigSize = image.layerSizes().get(1);
            // ~8 s for the big layer: twice as long as a token lives.
            try (TcpRelay hop = TcpRelay.toLocalPort(up.registry().port(), new CountTap(),
                    new ThrottleTap(16L << 20));
                 InProcessWharf wharf = InProcessWharf.start(dir.resolve("store"),
                         project("big", URI.create("https://127.0.0.1:" + hop.port()), ca))) {
                HttpResponse<byte[]> manifest = wharf.get("/v2/big/team/big/manifests/v1",
                        "Accept", ImageSeeder.OCI_MANIFEST);
                assertEquals(200, manifest.statusCode());
                assertEquals(1, up.tokens().requestsFor("repository:team/big:pull"));

                long start = System.nanoTime();
                CompletableFuture<String> big = HTTP.sendAsync(HttpRequest.newBuilder(URI.create(wharf.url()
                        + "/v2/big/team/big/blobs/" + bigLayer)).timeout(Duration.ofMinutes(3)).build(),
                        HttpResponse.BodyHandlers.ofInputStream()).thenApply(r -> {
                            assertEquals(200, r.statusCode());
                            return sha256(r.body());
                        });
                // Past the token's death, while the big layer still streams: the rest of the pull.
                Thread.sleep(tokenLife.toMillis() + 1500);
                assertFalse(big.isDone(), () -> "the big layer should still be streaming when the token has died: "
                        + big.handle((d, e) -> e == null ? "done, " + d : "failed, " + e).join());
                for (String digest : List.of(image.configDigest(), image.layerDigests().get(0))) {
                    HttpResponse<byte[]> r = wharf.get("/v2/big/team/big/blobs/" + digest);
                    assertEquals(200, r.statusCode(), new String(r.body()));
                    assertEquals(digest, ImageSeeder.sha256(r.body()));
                }
                assertFalse(big.isDone(), "the rest of the pull should have happened during the big layer");
                assertEquals(bigLayer, big.get(3, TimeUnit.MINUTES));
                double seconds = (System.nanoTime() - start) / 1e9;
                assertTrue(seconds > tokenLife.toSeconds(), "the big layer took " + seconds + " s");

                long tokens = up.tokens().requestsFor("repository:team/big:pull");
                long rejected = up.registry().requests().stream()
                        .filter(r -> r.path().startsWith("/v2/team/big/") && r.status() == 401).count();
                System.out.printf("token expiry: %d MiB layer in %.1f s, %d token requests, %d registry 401s%n",
                        bigSize >> 20, seconds, tokens, rejected);
                assertTrue(tokens >= 2, "the dead token was refreshed: " + up.tokens().requests());
                assertTrue(rejected >= 2, "the registry rejected the dead token at least once (and the first, "
                        + "token-less request): " + rejected);
            }
        }
    }

    private static String sha256(InputStream in) {
        try (in) {
            MessageDigest sha = MessageDigest.getInstance("SHA-256");
            byte[] buf = new byte[1 << 16];
            int n;
            while ((n = in.read(buf)) > 0) {
                sha.update(buf, 0, n);
            }
            return "sha256:" + HexFormat.of().formatHex(sha.digest());
        } catch (Exception e) {
            throw new AssertionError(e);
        }
    }
}

package dev.wharf.server.pullthrough;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

import com.fasterxml.jackson.databind.ObjectMapper;
import dev.wharf.testing.DistributionRegistry;
import dev.wharf.testing.GateTap;
import dev.wharf.testing.ImageSeeder;
import dev.wharf.testing.InProcessWharf;
import dev.wharf.testing.Nginx;
import dev.wharf.testing.Ports;
import dev.wharf.testing.Pulls;
import dev.wharf.testing.RealRegistry;
import dev.wharf.testing.RequestLogTap;
import dev.wharf.testing.TcpRelay;
import dev.wharf.testing.WharfYaml;
import java.net.URI;
import java.net.http.HttpRequest;
import java.net.http.HttpResponse;
import java.nio.file.Files;
import java.nio.file.Path;
import java.time.Duration;
import java.util.ArrayList;
import java.util.List;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.TimeUnit;
import org.junit.jupiter.api.AfterAll;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.TestInstance;
import org.junit.jupiter.api.Timeout;
import org.junit.jupiter.api.io.TempDir;

/**
 * Issue 8 item 13: a narrow {@code Accept} must not bypass the tag cache or stale-if-error. The upstream is a real
 * {@code docker-registry} behind nginx, which answers a real 429 (Docker Hub's body and headers) while a flag file
 * exists; a {@link TcpRelay} in front of nginx logs every request line wharf sends and can hold requests
 * ({@link GateTap}) so that concurrent clients meet one upstream call in flight. Upstream calls are counted in the
 * registry's own access log.
 */
@Timeout(value = 3, unit = TimeUnit.MINUTES)
@TestInstance(TestInstance.Lifecycle.PER_CLASS)
class NarrowAcceptRegistryTest {
    private static final ObjectMapper JSON = new ObjectMapper();
    /** What containerd sends (shared/DESIGN.md): the broad Accept that records a tag. */
    private static final String BROAD = "application/vnd.docker.distribution.manifest.v2+json, "
            + "application/vnd.docker.distribution.manifest.list.v2+json, application/vnd.oci.image.manifest.v1+json, "
            + "application/vnd.oci.image.index.v1+json, */*";
    private static final String OCI_ONLY = ImageSeeder.OCI_MANIFEST;
    private static final String DOCKER_ONLY = ImageSeeder.DOCKER_MANIFEST;
    /** Long enough that the within-TTL checks cannot miss it on a loaded machine; the wait past it is a sleep. */
    private static final Duration TAG_TTL = Duration.ofSeconds(5);

    @TempDir
    Path tmp;
    private DistributionRegistry registry;
    private ImageSeeder seeder;
    private Nginx nginx;
    private Path rateLimited;
    private TcpRelay relay;
    private InProcessWharf wharf;

    @BeforeAll
    void start(@TempDir Path dir) throws Exception {
        registry = DistributionRegistry.start();
        seeder = new ImageSeeder();
        int front = Ports.free();
        nginx = Nginx.start(""
                + "server {\n"
                + "  listen 127.0.0.1:" + front + ";\n"
                + "  location / {\n"
                + "    if (-f " + dir.resolve("ratelimited") + ") {\n"
                + "      add_header Retry-After 3600 always;\n"
                + "      return 429 '{\"errors\":[{\"code\":\"TOOMANYREQUESTS\",\"message\":\"You have reached your "
                + "pull rate limit.\"}]}';\n"
                + "    }\n"
                + "    proxy_pass http://127.0.0.1:" + registry.port() + ";\n"
                + "    proxy_set_header Host $host;\n"
                + "    proxy_http_version 1.1;\n"
                + "    proxy_set_header Connection \"\";\n"
                + "    proxy_buffering off;\n"
                + "  }\n"
                + "}\n", Nginx.address("127.0.0.1", front));
        rateLimited = dir.resolve("ratelimited");
        relay = TcpRelay.toLocalPort(front, new RequestLogTap(), new GateTap());
        wharf = InProcessWharf.start(dir.resolve("store"), WharfYaml.config()
                .project(WharfYaml.project("hub", relay.url()).tagTtl(TAG_TTL.toSeconds() + "s")));
    }

    @AfterAll
    void stop() throws Exception {
        relay.tap(GateTap.class).open();
        for (AutoCloseable c : new AutoCloseable[] {wharf, relay, nginx, seeder, registry}) {
            if (c != null) {
                c.close();
            }
        }
    }

    @Test
    void aNarrowAcceptTheCachedManifestSatisfiesIsAnsweredFromTheCacheAndServedStaleUnderA429() throws Exception {
        ImageSeeder.Image image = seeder.pushOciImage(registry.url(), "narrow/app", "v1", 64 << 10, 1301);
        URI tag = wharf.url().resolve("/v2/hub/narrow/app/manifests/v1");
        HttpResponse<byte[]> warm = Pulls.getBytes(tag, "Accept", BROAD);
        assertEquals(200, warm.statusCode(), Pulls.utf8(warm.body()));
        long warmedAt = System.nanoTime();
        RequestLogTap log = relay.tap(RequestLogTap.class);
        assertEquals(1, log.count(null, "/narrow/app/manifests/"), "the warm-up is one upstream GET: " + log.requests());

        HttpResponse<byte[]> narrow = Pulls.getBytes(tag, "Accept", OCI_ONLY);
        assertEquals(200, narrow.statusCode(), Pulls.utf8(narrow.body()));
        assertArrayEquals(image.manifest(), narrow.body());
        assertEquals(OCI_ONLY, narrow.headers().firstValue("Content-Type").orElse(""));
        HttpResponse<Void> narrowHead = Pulls.HTTP.send(HttpRequest.newBuilder(tag)
                .method("HEAD", HttpRequest.BodyPublishers.noBody()).header("Accept", OCI_ONLY).build(),
                HttpResponse.BodyHandlers.discarding());
        assertEquals(200, narrowHead.statusCode());
        assertEquals(image.manifestDigest(), narrowHead.headers().firstValue("Docker-Content-Digest").orElse(""));
        assertTrue(System.nanoTime() - warmedAt < TAG_TTL.toNanos(), "the machine was too slow to check within the TTL");
        assertEquals(1, log.count(null, "/narrow/app/manifests/"),
                "a narrow Accept the cached manifest satisfies makes no upstream call: " + log.requests());

        Files.createFile(rateLimited);
        try {
            long wait = warmedAt + TAG_TTL.toNanos() + TimeUnit.MILLISECONDS.toNanos(500) - System.nanoTime();
            if (wait > 0) {
                TimeUnit.NANOSECONDS.sleep(wait);
            }
            long seen = log.count(null, "/narrow/app/manifests/");
            HttpResponse<byte[]> stale = Pulls.getBytes(tag, "Accept", OCI_ONLY);
            assertEquals(200, stale.statusCode(), "past the TTL under a 429: " + Pulls.utf8(stale.body()));
            assertArrayEquals(image.manifest(), stale.body());
            String warning = stale.headers().firstValue("Warning").orElse("");
            assertTrue(warning.startsWith("110 "), "a stale manifest carries a 110 Warning, got '" + warning + "'");
            assertEquals(1, log.count("HEAD", "/narrow/app/manifests/v1"),
                    "wharf revalidated with one HEAD: " + log.requests());
            assertEquals(seen + 1, log.count(null, "/narrow/app/manifests/"), "and nothing else: " + log.requests());
            assertTrue(nginx.count(r -> r.status() == 429 && r.uri().contains("/manifests/v1")) >= 1,
                    "the upstream did answer 429: " + nginx.requests());
        } finally {
            Files.deleteIfExists(rateLimited);
        }
    }

    @Test
    void aNarrowAcceptTheCachedManifestCannotSatisfyGoesUpstreamOnceForConcurrentClientsAndItsNotFoundIsRemembered()
            throws Exception {
        ImageSeeder.Index index = seeder.pushIndex(registry.url(), "narrow/multi", "v1",
                List.of(ImageSeeder.Platform.LINUX_AMD64, ImageSeeder.Platform.LINUX_ARM64), 1302);
        URI tag = wharf.url().resolve("/v2/hub/narrow/multi/manifests/v1");
        HttpResponse<byte[]> warm = Pulls.getBytes(tag, "Accept", BROAD);
        assertEquals(200, warm.statusCode(), Pulls.utf8(warm.body()));
        assertArrayEquals(index.manifest(), warm.body());
        long getsBefore = registry.countRequests("GET", "/narrow/multi/manifests/v1");
        RequestLogTap log = relay.tap(RequestLogTap.class);
        long relayedBefore = log.count("GET", "/narrow/multi/manifests/v1");

        GateTap gate = relay.tap(GateTap.class);
        gate.shut();
        List<CompletableFuture<HttpResponse<byte[]>>> clients = new ArrayList<>();
        try {
            for (int i = 0; i < 5; i++) {
                clients.add(Pulls.HTTP.sendAsync(HttpRequest.newBuilder(tag).timeout(Duration.ofSeconds(60))
                        .header("Accept", DOCKER_ONLY).build(), HttpResponse.BodyHandlers.ofByteArray()));
            }
            assertTrue(Pulls.await(Duration.ofSeconds(30),
                    () -> log.count("GET", "/narrow/multi/manifests/v1") > relayedBefore),
                    "wharf never asked the upstream: " + log.requests());
            // The gate holds that one call. The other four clients' requests reach wharf meanwhile; without sharing,
            // each would be one more request line at the relay. A margin a loaded machine cannot miss:
            TimeUnit.SECONDS.sleep(2);
            assertEquals(relayedBefore + 1, log.count("GET", "/narrow/multi/manifests/v1"),
                    "five concurrent identical GETs share one upstream call: " + log.requests());
        } finally {
            gate.open();
        }
        for (CompletableFuture<HttpResponse<byte[]>> c : clients) {
            HttpResponse<byte[]> r = Pulls.result(c, Duration.ofSeconds(60));
            assertNotFound(r);
        }
        assertEquals(getsBefore + 1, registry.countRequests("GET", "/narrow/multi/manifests/v1"),
                "distribution saw one GET for the five");

        for (int i = 0; i < 5; i++) {
            assertNotFound(Pulls.getBytes(tag, "Accept", DOCKER_ONLY));
        }
        assertEquals(getsBefore + 1, registry.countRequests("GET", "/narrow/multi/manifests/v1"),
                "the upstream's 404 for this Accept is remembered: " + log.requests());
        HttpResponse<byte[]> broad = Pulls.getBytes(tag, "Accept", BROAD);
        assertEquals(200, broad.statusCode(), "the 404 is remembered for that Accept only");
        assertArrayEquals(index.manifest(), broad.body());
    }

    private static void assertNotFound(HttpResponse<byte[]> r) throws Exception {
        assertEquals(404, r.statusCode(), Pulls.utf8(r.body()));
        assertEquals("MANIFEST_UNKNOWN", JSON.readTree(r.body()).path("errors").path(0).path("code").asText(),
                Pulls.utf8(r.body()));
    }
}

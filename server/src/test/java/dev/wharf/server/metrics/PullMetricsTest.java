package dev.wharf.server.metrics;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertNotNull;
import static org.junit.jupiter.api.Assertions.assertTrue;

import dev.wharf.testing.DistributionRegistry;
import dev.wharf.testing.ImageSeeder;
import dev.wharf.testing.InProcessWharf;
import dev.wharf.testing.RealRegistry;
import dev.wharf.testing.StoredBlobs;
import dev.wharf.testing.WharfYaml;
import java.net.http.HttpResponse;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.List;
import java.util.Map;
import java.util.concurrent.TimeUnit;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.Timeout;
import org.junit.jupiter.api.extension.ExtendWith;
import org.junit.jupiter.api.io.TempDir;

/**
 * A scripted cold pull (manifest by tag, config, layers) from a real registry, then a warm pull, then a tag past its
 * TTL (revalidated) and with the upstream gone (stale): after each step /metrics parses as Prometheus text and every
 * counter holds exactly what the step did.
 */
@Timeout(value = 3, unit = TimeUnit.MINUTES)
@ExtendWith(RealRegistry.class)
class PullMetricsTest {
    private static final String REPO = "metrics/app";
    /** What containerd sends when it resolves a tag: index types included, so wharf keeps the tag. */
    static final String ACCEPT = String.join(", ", ImageSeeder.DOCKER_MANIFEST, ImageSeeder.DOCKER_MANIFEST_LIST,
            ImageSeeder.OCI_MANIFEST, ImageSeeder.OCI_INDEX, "*/*");

    @TempDir
    Path tmp;

    @Test
    void coldThenWarmPullCountsExactly(DistributionRegistry registry, ImageSeeder seeder) throws Exception {
        ImageSeeder.Image image = seeder.pushOciImage(registry.url(), REPO, "v1", 3 << 20, 4242);
        int blobs = image.blobDigests().size();
        long m = image.manifestSize();
        long b = image.totalBlobBytes();
        try (InProcessWharf wharf = InProcessWharf.start(tmp.resolve("store"), WharfYaml.config()
                .accessLog(tmp.resolve("access.log"))
                .project(WharfYaml.project("hub", registry.url()).tagTtl("1h"))
                .project(WharfYaml.project("fast", registry.url()).tagTtl("1ms")))) {
            // ---- cold pull
            pull(wharf, "hub", image);
            PrometheusText s = Scrapes.settled(wharf, "hub", 1 + blobs);
            assertContractFamilies(s);
            assertEquals(1, s.sum("wharf_cache_total", "project", "hub", "kind", "manifest", "result", "miss"),
                    s.show("wharf_cache_total"));
            assertEquals(blobs, s.sum("wharf_cache_total", "project", "hub", "kind", "blob", "result", "miss"),
                    s.show("wharf_cache_total"));
            assertEquals(0, s.sum("wharf_cache_total", "result", "hit"), s.show("wharf_cache_total"));
            assertEquals(m + b, s.sum("wharf_served_bytes_total", "project", "hub", "source", "upstream"),
                    s.show("wharf_served_bytes_total"));
            assertEquals(0, s.sum("wharf_served_bytes_total", "source", "cache"),
                    s.show("wharf_served_bytes_total"));
            assertEquals(m + b, s.sum("wharf_upstream_bytes_total", "project", "hub"),
                    s.show("wharf_upstream_bytes_total"));
            assertEquals(1 + blobs, s.sum("wharf_upstream_requests_total", "project", "hub", "method", "GET",
                    "status", "200"), s.show("wharf_upstream_requests_total"));
            assertEquals(1 + blobs, s.sum("wharf_upstream_requests_total"),
                    s.show("wharf_upstream_requests_total"));
            assertEquals(1 + blobs, s.sum("wharf_upstream_duration_seconds_count", "project", "hub"));
            assertEquals(0, s.sum("wharf_fill_joins_total"));
            assertEquals(0, s.sum("wharf_digest_mismatch_total"));
            assertEquals(1 + blobs, registry.countRequests("GET", "/v2/" + REPO + "/"),
                    "what the upstream served: " + registry.requests());

            // ---- warm pull: everything from the cache, nothing upstream. A fill links its blob to the project when
            // its digest matches, and commits it (fsync, rename) after the client has the last byte; a request
            // before the commit joins the fill (a miss), so wait for the links and the commits as a later pull
            // would find them.
            for (String digest : image.blobDigests()) {
                awaitLink(tmp.resolve("store"), "hub", digest);
            }
            StoredBlobs.await(wharf.server().store(), image.blobDigests());
            pull(wharf, "hub", image);
            s = Scrapes.settled(wharf, "hub", 2 * (1 + blobs));
            assertEquals(1, s.sum("wharf_cache_total", "project", "hub", "kind", "manifest", "result", "hit"),
                    s.show("wharf_cache_total"));
            assertEquals(blobs, s.sum("wharf_cache_total", "project", "hub", "kind", "blob", "result", "hit"),
                    s.show("wharf_cache_total"));
            assertEquals(1 + blobs, s.sum("wharf_cache_total", "result", "miss"), s.show("wharf_cache_total"));
            assertEquals(m + b, s.sum("wharf_served_bytes_total", "project", "hub", "source", "cache"),
                    s.show("wharf_served_bytes_total"));
            assertEquals(m + b, s.sum("wharf_served_bytes_total", "project", "hub", "source", "upstream"));
            assertEquals(m + b, s.sum("wharf_upstream_bytes_total"), s.show("wharf_upstream_bytes_total"));
            assertEquals(1 + blobs, s.sum("wharf_upstream_requests_total"),
                    s.show("wharf_upstream_requests_total"));
            assertEquals(2, s.sum("wharf_requests_total", "project", "hub", "kind", "manifest", "method", "GET",
                    "status", "200"), s.show("wharf_requests_total"));
            assertEquals(2 * blobs, s.sum("wharf_requests_total", "project", "hub", "kind", "blob", "method",
                    "GET", "status", "200"), s.show("wharf_requests_total"));
            assertEquals(0, s.sum("wharf_fill_joins_total"));
            assertEquals(0, s.sum("wharf_fills_inflight"));
            assertEquals(1 + blobs, registry.countRequests("GET", "/v2/" + REPO + "/"),
                    "the warm pull must not reach the upstream: " + registry.requests());

            // ---- project "fast" (tag TTL 1ms): miss, then revalidated (HEAD, same digest), then stale
            String tagPath = "/v2/fast/" + REPO + "/manifests/v1";
            assertManifest(image, wharf.get(tagPath, "Accept", ACCEPT));
            // The config is stored (for hub) but not linked to fast: its upstream confirms it with a HEAD first.
            assertEquals(200, wharf.get("/v2/fast/" + REPO + "/blobs/" + image.configDigest()).statusCode());
            Thread.sleep(20);
            assertManifest(image, wharf.get(tagPath, "Accept", ACCEPT));
            registry.stop();
            Thread.sleep(20);
            HttpResponse<byte[]> stale = wharf.get(tagPath, "Accept", ACCEPT);
            assertManifest(image, stale);
            assertTrue(stale.headers().firstValue("warning").orElse("").contains("Stale"), "Warning header");
            s = Scrapes.settled(wharf, "fast", 4);
            long config = image.blobSizes().get(0);
            assertEquals(1, s.sum("wharf_cache_total", "project", "fast", "kind", "manifest", "result", "miss"),
                    s.show("wharf_cache_total"));
            assertEquals(1, s.sum("wharf_cache_total", "project", "fast", "kind", "manifest", "result",
                    "revalidated"), s.show("wharf_cache_total"));
            assertEquals(1, s.sum("wharf_cache_total", "project", "fast", "kind", "manifest", "result", "stale"),
                    s.show("wharf_cache_total"));
            assertEquals(1, s.sum("wharf_cache_total", "project", "fast", "kind", "blob", "result",
                    "revalidated"), s.show("wharf_cache_total"));
            assertEquals(4, s.sum("wharf_cache_total", "project", "fast"), s.show("wharf_cache_total"));
            assertEquals(m, s.sum("wharf_served_bytes_total", "project", "fast", "source", "upstream"),
                    s.show("wharf_served_bytes_total"));
            assertEquals(config + 2 * m, s.sum("wharf_served_bytes_total", "project", "fast", "source", "cache"),
                    s.show("wharf_served_bytes_total"));
            assertEquals(m, s.sum("wharf_upstream_bytes_total", "project", "fast"),
                    s.show("wharf_upstream_bytes_total"));
            assertEquals(1, s.sum("wharf_upstream_requests_total", "project", "fast", "method", "GET",
                    "status", "200"), s.show("wharf_upstream_requests_total"));
            assertEquals(2, s.sum("wharf_upstream_requests_total", "project", "fast", "method", "HEAD",
                    "status", "200"), s.show("wharf_upstream_requests_total"));
            assertEquals(1, s.sum("wharf_upstream_requests_total", "project", "fast", "method", "HEAD",
                    "status", "error"), s.show("wharf_upstream_requests_total"));
            assertEquals(m + b, s.sum("wharf_upstream_bytes_total", "project", "hub"), "hub unchanged");
        }
    }

    /** The client side of a pull: the manifest by tag, then the config and every layer, each checked. */
    private static void pull(InProcessWharf wharf, String project, ImageSeeder.Image image) throws Exception {
        assertManifest(image, wharf.get("/v2/" + project + "/" + REPO + "/manifests/" + image.tag(),
                "Accept", ACCEPT));
        List<String> digests = image.blobDigests();
        for (int i = 0; i < digests.size(); i++) {
            HttpResponse<byte[]> r = wharf.get("/v2/" + project + "/" + REPO + "/blobs/" + digests.get(i));
            assertEquals(200, r.statusCode(), "blob " + digests.get(i));
            assertEquals(image.blobSizes().get(i), r.body().length, "blob size");
            assertEquals(digests.get(i), ImageSeeder.sha256(r.body()), "blob digest");
        }
    }

    private static void awaitLink(Path store, String project, String digest) throws InterruptedException {
        Path link = store.resolve("projects").resolve(project).resolve("links").resolve("sha256")
                .resolve(digest.substring("sha256:".length()));
        long deadline = System.nanoTime() + 10_000_000_000L;
        while (!Files.exists(link)) {
            assertTrue(System.nanoTime() < deadline, "blob never linked: " + link);
            Thread.sleep(10);
        }
    }

    private static void assertManifest(ImageSeeder.Image image, HttpResponse<byte[]> r) {
        assertEquals(200, r.statusCode(), () -> new String(r.body(), StandardCharsets.UTF_8));
        assertArrayEquals(image.manifest(), r.body(), "manifest bytes");
    }

    /** Every family of the contract that exists before storage is wired or anything is evicted. */
    private static void assertContractFamilies(PrometheusText s) {
        Map<String, String> expected = Map.of(
                "wharf_requests_total", "counter",
                "wharf_request_duration_seconds_bucket", "histogram",
                "wharf_cache_total", "counter",
                "wharf_served_bytes_total", "counter",
                "wharf_upstream_bytes_total", "counter",
                "wharf_upstream_requests_total", "counter",
                "wharf_upstream_duration_seconds_bucket", "histogram",
                "wharf_fills_inflight", "gauge",
                "wharf_fill_joins_total", "counter");
        expected.forEach((name, type) -> assertEquals(type, s.typeOf(name), name + " in " + s.names()));
        assertNotNull(s.typeOf("jvm_memory_used_bytes"), "JVM metrics: " + s.names());
        assertTrue(s.names().stream().anyMatch(n -> n.startsWith("netty_allocator_")), "Netty allocator metrics: "
                + s.names());
    }
}

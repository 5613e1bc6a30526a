package dev.wharf.s3;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertNotNull;
import static org.junit.jupiter.api.Assertions.assertNull;
import static org.junit.jupiter.api.Assertions.assertTrue;

import dev.wharf.storage.Digest;
import dev.wharf.testing.CountTap;
import dev.wharf.testing.DistributionRegistry;
import dev.wharf.testing.Fetch;
import dev.wharf.testing.ImageSeeder;
import dev.wharf.testing.InProcessWharf;
import dev.wharf.testing.Pulls;
import dev.wharf.testing.RealRegistry;
import dev.wharf.testing.SeaweedS3;
import dev.wharf.testing.StoredBlobs;
import dev.wharf.testing.TcpRelay;
import dev.wharf.testing.WharfYaml;
import java.net.URI;
import java.net.http.HttpClient;
import java.net.http.HttpRequest;
import java.net.http.HttpResponse;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.time.Duration;
import java.util.List;
import java.util.Map;
import java.util.concurrent.TimeUnit;
import org.junit.jupiter.api.MethodOrderer;
import org.junit.jupiter.api.Order;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.TestMethodOrder;
import org.junit.jupiter.api.Timeout;
import org.junit.jupiter.api.extension.ExtendWith;
import org.junit.jupiter.api.extension.RegisterExtension;
import org.junit.jupiter.api.io.TempDir;

/**
 * The S3 tier against a real SeaweedFS and a real registry upstream: a cold pull lands in the bucket (verified, by
 * multipart for a blob of several parts); a second wharf with an empty hot tier serves tag, manifest and blobs from
 * the bucket with no upstream connection; a hot-tier eviction is read back from S3; redirect answers 307 to a
 * presigned URL that serves the right bytes; S3 stopped mid-run: pulls pass through, the hot tier still serves, and
 * caching resumes by itself when S3 is back. Each test uses its own key prefix in the one bucket. The S3-down test
 * runs last: it stops the shared server.
 */
@Timeout(value = 5, unit = TimeUnit.MINUTES)
@ExtendWith(RealRegistry.class)
@TestMethodOrder(MethodOrderer.OrderAnnotation.class)
class S3StorageTest {
    /** Three 8 MiB parts and a bit: the multipart path, not the single PUT. */
    private static final long LAYER = 20 * Pulls.MiB + 12345;

    @RegisterExtension
    static final SeaweedS3 s3 = new SeaweedS3();

    @TempDir
    Path tmp;

    private WharfYaml config(TcpRelay hop, String prefix, boolean redirect) {
        return WharfYaml.config()
                .project(WharfYaml.project("up", "http://127.0.0.1:" + hop.port()).tagTtl("1h"))
                .s3(s3.storageYaml(prefix, redirect));
    }

    private void skopeoCopy(InProcessWharf wharf, String name) {
        dev.wharf.testing.Tools.require("skopeo");
        dev.wharf.testing.Exec.Result copied = dev.wharf.testing.Exec.run(Duration.ofSeconds(120), "skopeo", "copy",
                "--src-tls-verify=false", "--preserve-digests", "docker://" + wharf.hostPort() + "/up/s3/cold:v1",
                "oci:" + tmp.resolve("layout-" + name) + ":x");
        assertTrue(copied.ok(), copied.describe());
    }

    private static String blobKey(String prefix, String digest) {
        Digest d = Digest.parse(digest);
        return prefix + "blobs/sha256/" + d.hex().substring(0, 2) + "/" + d.hex();
    }

    @Test
    @Order(1)
    void coldPullLandsInTheBucketAndAnEmptyHotTierServesFromIt(DistributionRegistry registry, ImageSeeder seeder)
            throws Exception {
        String prefix = "cold/";
        ImageSeeder.Image image = seeder.pushOciImage(registry.url(), "s3/cold", "v1", LAYER, 4101);
        try (TcpRelay hop = TcpRelay.toLocalPort(registry.port(), new CountTap())) {
            String tagKey = prefix + "projects/up/repos/s3/cold/_tags/v1";
            try (InProcessWharf a = InProcessWharf.start(tmp.resolve("a"), config(hop, prefix, false))) {
                // A real client (skopeo accepts an index too, so the tag is stored), then every blob checked.
                skopeoCopy(a, "a");
                Pulls.pullImage(a.hostPort(), "up", image);
                // The tag is persisted after the manifest's answer: wait for it rather than race the close.
                assertTrue(Pulls.await(Duration.ofSeconds(30), () -> s3.keys(prefix).containsKey(tagKey)),
                        "tag in the bucket: " + s3.keys(prefix));
                // A blob's upload completes after its clients have their last byte (the client never waits for the
                // store): wait for every blob object, boundedly, before closing wharf (which would abort uploads).
                awaitBlobsInBucket(prefix, image);
            }
            Map<String, Long> keys = s3.keys(prefix);
            for (int i = 0; i < image.blobDigests().size(); i++) {
                String key = blobKey(prefix, image.blobDigests().get(i));
                assertEquals(image.blobSizes().get(i), keys.get(key), key + " in " + keys.keySet());
                assertEquals(image.blobDigests().get(i), ImageSeeder.sha256(s3.get(key)), "bytes under " + key);
            }
            assertNotNull(keys.get(blobKey(prefix, image.manifestDigest())), "manifest in the bucket: " + keys);
            assertTrue(keys.containsKey(prefix + "projects/up/links/sha256/"
                    + Digest.parse(image.blobDigests().get(0)).hex()), "link in the bucket: " + keys);
            assertEquals(List.of(), s3.incompleteUploads(prefix), "multipart uploads left open");

            long connections = hop.tap(CountTap.class).connections();
            Path hot = tmp.resolve("b");
            try (InProcessWharf b = InProcessWharf.start(hot, config(hop, prefix, false))) {
                skopeoCopy(b, "b");
                Pulls.pullImage(b.hostPort(), "up", image);
                assertEquals(connections, hop.tap(CountTap.class).connections(),
                        "a wharf with an empty hot tier went to the upstream for content the bucket holds");
                String layer = image.blobDigests().get(0);
                assertTrue(Pulls.await(Duration.ofSeconds(30), () -> Files.exists(Pulls.blobFile(hot, layer))),
                        "the read from S3 filled the hot tier");

                // Evict from the hot tier only: the bucket keeps it, and the next GET streams it from S3.
                assertTrue(b.server().store().delete(Digest.parse(layer)).isPresent(), "evicted locally");
                assertFalse(Files.exists(Pulls.blobFile(hot, layer)));
                assertEquals(image.blobSizes().get(0), s3.keys(prefix).get(blobKey(prefix, layer)),
                        "the local eviction deleted from the bucket");
                Fetch again = Pulls.get(b.hostPort(), "/v2/up/s3/cold/blobs/" + layer, 0, null,
                        Duration.ofSeconds(60));
                assertTrue(again.whole() && layer.equals(again.digest()), again.describe());
                assertEquals(connections, hop.tap(CountTap.class).connections(),
                        "the re-read after eviction went to the upstream");
            }
        }
    }

    @Test
    @Order(2)
    void redirectAnswers307ToAPresignedUrlWithTheRightBytes(DistributionRegistry registry, ImageSeeder seeder)
            throws Exception {
        String prefix = "redirect/";
        ImageSeeder.Image image = seeder.pushOciImage(registry.url(), "s3/redirect", "v1", 3 * Pulls.MiB, 4202);
        String layer = image.blobDigests().get(0);
        try (TcpRelay hop = TcpRelay.toLocalPort(registry.port(), new CountTap());
             InProcessWharf plain = InProcessWharf.start(tmp.resolve("a"), config(hop, prefix, false))) {
            Pulls.pullImage(plain.hostPort(), "up", image); // lands in the bucket
            awaitBlobsInBucket(prefix, image); // uploads complete after the clients' last byte
        }
        try (TcpRelay hop = TcpRelay.toLocalPort(registry.port(), new CountTap());
             InProcessWharf wharf = InProcessWharf.start(tmp.resolve("b"), config(hop, prefix, true))) {
            HttpClient http = HttpClient.newBuilder().followRedirects(HttpClient.Redirect.NEVER).build();
            HttpResponse<byte[]> first = http.send(HttpRequest.newBuilder(
                    wharf.url().resolve("/v2/up/s3/redirect/blobs/" + layer)).build(),
                    HttpResponse.BodyHandlers.ofByteArray());
            assertEquals(307, first.statusCode(), new String(first.body(), StandardCharsets.UTF_8));
            URI location = URI.create(first.headers().firstValue("Location").orElseThrow());
            assertEquals(s3.endpoint().getPort(), location.getPort(), "Location " + location);
            HttpResponse<byte[]> bytes = http.send(HttpRequest.newBuilder(location).build(),
                    HttpResponse.BodyHandlers.ofByteArray());
            assertEquals(200, bytes.statusCode());
            assertEquals(layer, ImageSeeder.sha256(bytes.body()), "bytes of the presigned URL");
            assertEquals(0, hop.tap(CountTap.class).connections(), "a redirect needs no upstream call");
        }
    }

    /**
     * Wrong bytes for a digest from the upstream: the client is aborted, and the bucket holds nothing under the
     * digest key and no multipart upload left open. The upstream is an in-process fake (the JDK's HttpServer) because
     * a real registry never serves bytes that do not match the digest asked for; that fault is the one under test.
     */
    @Test
    @Order(3)
    void aDigestMismatchLeavesNoObjectAndNoOpenUpload() throws Exception {
        String prefix = "mismatch/";
        byte[] wrong = new byte[(int) LAYER];
        new java.util.Random(77).nextBytes(wrong);
        String digest = "sha256:" + "ab".repeat(32);
        com.sun.net.httpserver.HttpServer fake = com.sun.net.httpserver.HttpServer.create(
                new java.net.InetSocketAddress(java.net.InetAddress.getLoopbackAddress(), 0), 0);
        fake.createContext("/v2/", ex -> {
            try (ex) {
                String path = ex.getRequestURI().getPath();
                if (!path.equals("/v2/s3/bad/blobs/" + digest)) {
                    ex.sendResponseHeaders(path.equals("/v2/") ? 200 : 404, -1);
                    return;
                }
                ex.getResponseHeaders().set("Content-Type", "application/octet-stream");
                ex.sendResponseHeaders(200, wrong.length);
                ex.getResponseBody().write(wrong);
            }
        });
        fake.start();
        try (InProcessWharf wharf = InProcessWharf.start(tmp.resolve("a"), WharfYaml.config()
                .project(WharfYaml.project("up", "http://127.0.0.1:" + fake.getAddress().getPort()))
                .s3(s3.storageYaml(prefix, false)))) {
            Fetch fetch = Pulls.get(wharf.hostPort(), "/v2/up/s3/bad/blobs/" + digest, 0, null,
                    Duration.ofSeconds(60));
            assertFalse(fetch.whole() && digest.equals(fetch.digest()), fetch.describe());
            // The abort is sent after the client's stream ends: give it a bounded moment.
            assertTrue(Pulls.await(Duration.ofSeconds(30), () -> s3.incompleteUploads(prefix).isEmpty()),
                    "multipart uploads left open: " + s3.incompleteUploads(prefix));
            assertEquals(Map.of(), s3.keys(prefix + "blobs/"), "objects under the blob keys");
            assertFalse(Files.exists(Pulls.blobFile(tmp.resolve("a"), digest)), "committed to the hot tier");
        } finally {
            fake.stop(0);
        }
    }

    @Test
    @Order(4)
    void duAndVerifyWorkAgainstTheBucket(DistributionRegistry registry, ImageSeeder seeder) throws Exception {
        String prefix = "cli/";
        ImageSeeder.Image image = seeder.pushOciImage(registry.url(), "s3/cli", "v1", 2 * Pulls.MiB, 4401);
        Path hot = tmp.resolve("a");
        int linked = image.blobDigests().size() + 1; // the manifest, its config and layers
        WharfYaml yaml;
        try (TcpRelay hop = TcpRelay.toLocalPort(registry.port(), new CountTap())) {
            yaml = config(hop, prefix, false).storage(hot);
            try (InProcessWharf wharf = InProcessWharf.start(hot, config(hop, prefix, false))) {
                Pulls.pullImage(wharf.hostPort(), "up", image);
                assertTrue(Pulls.await(Duration.ofSeconds(30),
                        () -> s3.keys(prefix + "projects/up/links/").size() == linked), "links: " + s3.keys(prefix));
                awaitBlobsInBucket(prefix, image); // links are written at verification, blobs after their upload
            }
        }
        Path file = tmp.resolve("wharf.yaml");
        Files.writeString(file, yaml.toString());
        long layerSize = image.blobSizes().get(0);

        var du = dev.wharf.testing.WharfCli.run(Duration.ofSeconds(90), "du", "--config", file.toString());
        assertTrue(du.ok(), du.output());
        String bucketRows = du.output().substring(du.output().indexOf("PROJECT (S3)"));
        // up links the manifest, its config and layers, all in the bucket, none missing.
        assertTrue(bucketRows.lines().anyMatch(l -> l.matches("up\\s+" + linked + "\\s.*\\s0")), du.output());

        // Wrong bytes under the layer's key (what a damaged object would be): verify finds and deletes it.
        String key = blobKey(prefix, image.blobDigests().get(0));
        s3.client().putObject(b -> b.bucket(s3.bucket()).key(key),
                software.amazon.awssdk.core.sync.RequestBody.fromBytes(new byte[(int) layerSize]));
        var verify = dev.wharf.testing.WharfCli.run(Duration.ofSeconds(90), "verify", "--config", file.toString());
        assertEquals(1, verify.exitCode(), verify.output());
        assertTrue(verify.output().contains("CORRUPT " + image.blobDigests().get(0) + " in the bucket"),
                verify.output());
        assertNull(s3.keys(prefix).get(key), "the corrupt object is still in the bucket");
        var again = dev.wharf.testing.WharfCli.run(Duration.ofSeconds(90), "verify", "--config", file.toString());
        assertEquals(0, again.exitCode(), again.output());
    }

    @Test
    @Order(9)
    void s3DownPassesThroughAndCachingResumesWhenItIsBack(DistributionRegistry registry, ImageSeeder seeder)
            throws Exception {
        String prefix = "down/";
        ImageSeeder.Image warm = seeder.pushOciImage(registry.url(), "s3/down", "warm", 2 * Pulls.MiB, 4301);
        ImageSeeder.Image cold = seeder.pushOciImage(registry.url(), "s3/down", "cold", LAYER, 4302);
        ImageSeeder.Image later = seeder.pushOciImage(registry.url(), "s3/down", "later", 2 * Pulls.MiB, 4303);
        Path hot = tmp.resolve("a");
        try (TcpRelay hop = TcpRelay.toLocalPort(registry.port(), new CountTap());
             InProcessWharf wharf = InProcessWharf.start(hot, config(hop, prefix, false))) {
            Pulls.pullImage(wharf.hostPort(), "up", warm);
            awaitBlobsInBucket(prefix, warm); // and so committed to the hot tier, which follows the upload
            StoredBlobs.await(hot, warm.blobDigests());
            s3.stop();
            try {
                // The hot tier still serves, with no upstream call.
                long connections = hop.tap(CountTap.class).connections();
                Pulls.pullImage(wharf.hostPort(), "up", warm);
                assertEquals(connections, hop.tap(CountTap.class).connections(), "hot tier content went upstream");
                // A cold blob passes through, whole and right, and is not cached.
                Pulls.pullImage(wharf.hostPort(), "up", cold);
                String coldLayer = cold.blobDigests().get(0);
                assertFalse(Files.exists(Pulls.blobFile(hot, coldLayer)), "cached while S3 was down");
                HttpResponse<byte[]> ready = wharf.get("/readyz");
                assertEquals(200, ready.statusCode());
                String body = new String(ready.body(), StandardCharsets.UTF_8);
                assertTrue(body.startsWith("ready (degraded: S3 bucket "), body);
                assertTrue(new String(wharf.get("/metrics").body(), StandardCharsets.UTF_8)
                        .contains("wharf_s3_up 0.0"), "wharf_s3_up while down");
            } finally {
                s3.start();
            }
            assertTrue(Pulls.await(Duration.ofSeconds(30), () -> {
                try {
                    return new String(wharf.get("/readyz").body(), StandardCharsets.UTF_8).equals("ready\n");
                } catch (Exception e) {
                    return false;
                }
            }), "wharf did not see S3 back");
            Pulls.pullImage(wharf.hostPort(), "up", later);
            awaitBlobsInBucket(prefix, later);
            StoredBlobs.await(hot, later.blobDigests());
            String key = blobKey(prefix, later.blobDigests().get(0));
            assertEquals(later.blobSizes().get(0), s3.keys(prefix).get(key), "caching resumed: " + s3.keys(prefix));
            assertTrue(Files.exists(Pulls.blobFile(hot, later.blobDigests().get(0))), "hot tier resumed");
            assertNull(s3.keys(prefix).get(blobKey(prefix, cold.blobDigests().get(0))),
                    "the passed-through blob reached the bucket");
            assertEquals(List.of(), s3.incompleteUploads(prefix), "multipart uploads left open");
        }
    }

    /**
     * Waits (30 s at most) until every blob of {@code image} is an object in the bucket: a fill's upload completes
     * after its clients have their last byte, so a test that closes wharf or reads the bucket right after a pull
     * must wait for it (closing wharf earlier would abort the upload).
     */
    private void awaitBlobsInBucket(String prefix, ImageSeeder.Image image) throws InterruptedException {
        List<String> blobKeys = new java.util.ArrayList<>();
        image.blobDigests().forEach(d -> blobKeys.add(blobKey(prefix, d)));
        assertTrue(Pulls.await(Duration.ofSeconds(30), () -> s3.keys(prefix).keySet().containsAll(blobKeys)),
                "blobs in the bucket: " + s3.keys(prefix));
    }
}

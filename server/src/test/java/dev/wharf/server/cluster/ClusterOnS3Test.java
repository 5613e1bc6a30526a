package dev.wharf.server.cluster;

import static dev.wharf.server.cluster.ClusterTest.awaitRedis;
import static dev.wharf.server.cluster.ClusterTest.awaitTrue;
import static dev.wharf.server.cluster.ClusterTest.pull;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertTrue;

import dev.wharf.server.metrics.PrometheusText;
import dev.wharf.server.metrics.Scrapes;
import dev.wharf.storage.Digest;
import dev.wharf.testing.CountTap;
import dev.wharf.testing.DistributionRegistry;
import dev.wharf.testing.ImageSeeder;
import dev.wharf.testing.InProcessWharf;
import dev.wharf.testing.Ports;
import dev.wharf.testing.Pulls;
import dev.wharf.testing.RealRegistry;
import dev.wharf.testing.RedisServer;
import dev.wharf.testing.SeaweedS3;
import dev.wharf.testing.TcpRelay;
import dev.wharf.testing.ThrottleTap;
import dev.wharf.testing.WharfProcess;
import dev.wharf.testing.WharfYaml;
import java.io.IOException;
import java.io.InputStream;
import java.io.UncheckedIOException;
import java.net.URI;
import java.net.http.HttpResponse;
import java.nio.charset.StandardCharsets;
import java.nio.file.Path;
import java.security.MessageDigest;
import java.time.Duration;
import java.util.ArrayList;
import java.util.HexFormat;
import java.util.List;
import java.util.Map;
import java.util.Set;
import java.util.concurrent.CountDownLatch;
import java.util.concurrent.ExecutorService;
import java.util.concurrent.Executors;
import java.util.concurrent.Future;
import java.util.concurrent.TimeUnit;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.Timeout;
import org.junit.jupiter.api.extension.ExtendWith;
import org.junit.jupiter.api.extension.RegisterExtension;
import org.junit.jupiter.api.io.TempDir;

/**
 * Issue 12's deployment shape: wharf replicas sharing one S3 bucket (a real SeaweedFS) and one Redis (Debian's
 * redis-server), each with its own hot-tier directory, in front of one real docker-registry behind a
 * {@link CountTap}. Cold clients spread over the replicas cost one upstream fetch and leave one whole object in the
 * bucket; a replica that joins later serves everything from the bucket and Redis alone; a tag resolved on one
 * replica is served by another within its TTL without an upstream call; a lease holder killed with SIGKILL mid-fill
 * (a child process, as in ClusterTest) leaves no object in the bucket and a retry leaves one whole one. Each test
 * uses its own key prefix.
 */
@Timeout(value = 8, unit = TimeUnit.MINUTES)
@ExtendWith(RealRegistry.class)
class ClusterOnS3Test {
    private static final String TYPES = "application/vnd.oci.image.manifest.v1+json,"
            + "application/vnd.oci.image.index.v1+json,application/vnd.docker.distribution.manifest.v2+json";

    @RegisterExtension
    static final SeaweedS3 s3 = new SeaweedS3();

    @TempDir
    Path tmp;

    /** One replica: its own hot tier under {@code tmp/name}, the shared bucket under {@code prefix}, the Redis. */
    private InProcessWharf replica(String name, URI upstream, RedisServer redis, String prefix) throws Exception {
        return InProcessWharf.start(tmp.resolve(name), WharfYaml.config()
                .project(WharfYaml.project("up", upstream).tagTtl("5m"))
                .s3(s3.storageYaml(prefix, false))
                .raw(ClusterTest.clusterYaml(tmp, redis, Ports.free())));
    }

    @Test
    void eightColdClientsOnThreeReplicasLeaveOneObjectAndALaterReplicaNeedsNoUpstream(DistributionRegistry registry,
            ImageSeeder seeder) throws Exception {
        String prefix = "cluster-cold/";
        long size = 64L << 20;
        ImageSeeder.Image image = seeder.pushOciImage(registry.url(), "cluster/s3", "v1", size, 1301);
        // The image's data layer (a small base layer comes first): a tar a little larger than size.
        int big = image.blobDigests().size() - 1;
        String layer = image.blobDigests().get(big);
        long layerSize = image.blobSizes().get(big);
        assertTrue(layerSize >= size, "the seeded data layer's size: " + layerSize);
        ExecutorService pool = Executors.newFixedThreadPool(8);
        try (RedisServer redis = RedisServer.start();
                TcpRelay hop = TcpRelay.toLocalPort(registry.port(), new CountTap());
                InProcessWharf a = replica("a", URI.create(hop.url()), redis, prefix);
                InProcessWharf b = replica("b", URI.create(hop.url()), redis, prefix);
                InProcessWharf c = replica("c", URI.create(hop.url()), redis, prefix)) {
            awaitRedis(a, b, c);
            // The tag, the config and the base layer through a: what a client does before the data layer.
            String tagPath = "/v2/up/cluster/s3/manifests/v1";
            HttpResponse<byte[]> manifest = a.get(tagPath, "Accept", TYPES);
            assertEquals(200, manifest.statusCode(), Pulls.utf8(manifest.body()));
            assertEquals(image.manifestDigest(), manifest.headers().firstValue("Docker-Content-Digest").orElseThrow());
            for (String small : image.blobDigests().subList(0, big)) {
                ClusterTest.Pull p = pull(a.url().resolve("/v2/up/cluster/s3/blobs/" + small));
                assertTrue(p.complete() && small.equals(p.digest()), small + ": " + p);
            }

            // (1) 8 cold clients of the layer over the 3 replicas: a starts the fill, the others arrive during it.
            String path = "/v2/up/cluster/s3/blobs/" + layer;
            List<Future<ClusterTest.Pull>> pulls = new ArrayList<>();
            long before = hop.tap(CountTap.class).downstreamBytes();
            pulls.add(pool.submit(() -> pull(a.url().resolve(path))));
            awaitTrue("a's fill to start", () -> hop.tap(CountTap.class).downstreamBytes() > before);
            for (InProcessWharf r : List.of(b, c, a, b, c, b, c)) {
                pulls.add(pool.submit(() -> pull(r.url().resolve(path))));
            }
            for (int i = 0; i < pulls.size(); i++) {
                ClusterTest.Pull p = pulls.get(i).get(5, TimeUnit.MINUTES);
                assertTrue(p.complete(), "client " + i + " did not complete: " + p);
                assertEquals(layer, p.digest(), "client " + i + " read wrong bytes");
            }
            assertEquals(1, registry.countRequests("GET", "/blobs/" + layer),
                    "upstream GETs of the layer: " + registry.requests());
            long upstreamBytes = hop.tap(CountTap.class).downstreamBytes() - before;
            assertTrue(upstreamBytes < layerSize + (1 << 20),
                    "the upstream sent " + upstreamBytes + " bytes for one blob");

            // The bucket: one whole object under the layer's key, nothing beside it, no multipart upload left open.
            String key = blobKey(prefix, layer);
            assertTrue(Pulls.await(Duration.ofSeconds(60), () -> s3.keys(prefix).containsKey(key)
                    && s3.incompleteUploads(prefix).isEmpty()), "the layer in the bucket and no open upload: "
                    + s3.keys(prefix) + ", open: " + s3.incompleteUploads(prefix));
            assertEquals(Map.of(key, layerSize), s3.keys(key), "objects under the layer's key");
            assertEquals(layer, objectDigest(key), "bytes under " + key);
            // b and c got the layer either by joining a's fill over the internal port or, if it had ended, from the
            // bucket: either way they upload nothing (a joiner's fill skips its upload: the holder's makes the one
            // copy), so the bucket is written once per blob. Which of the two happened depends on timing: printed.
            for (InProcessWharf r : List.of(a, b, c)) {
                PrometheusText m = Scrapes.scrape(r);
                double completed = m.samples().stream()
                        .filter(x -> x.name().equals("wharf_s3_request_duration_seconds_count")
                                && "CompleteMultipartUpload".equals(x.labels().get("operation")))
                        .mapToDouble(PrometheusText.Sample::value).sum();
                String name = r == a ? "a" : r == b ? "b" : "c";
                System.out.printf("replica %s: cluster joins %.0f, multipart uploads completed %.0f%n",
                        name, m.sum("wharf_cluster_joins_total"), completed);
                if (r != a) {
                    assertEquals(0.0, completed, "multipart uploads completed by replica " + name);
                }
            }
            Set<String> expected = new java.util.TreeSet<>(List.of(blobKey(prefix, image.manifestDigest())));
            image.blobDigests().forEach(digest -> expected.add(blobKey(prefix, digest)));
            assertEquals(expected, s3.keys(prefix + "blobs/").keySet(), "blob objects in the bucket");

            // (2) A fourth replica, empty hot tier, same bucket and Redis: tag, manifest and blobs, no upstream call.
            long connections = hop.tap(CountTap.class).connections();
            Path hot = tmp.resolve("d");
            try (InProcessWharf d = replica("d", URI.create(hop.url()), redis, prefix)) {
                awaitRedis(d);
                Pulls.pullImage(d.hostPort(), "up", image); // by tag, then the manifest's blobs, each digest checked
                HttpResponse<byte[]> byDigest = d.get("/v2/up/cluster/s3/manifests/" + image.manifestDigest(),
                        "Accept", TYPES);
                assertEquals(200, byDigest.statusCode(), Pulls.utf8(byDigest.body()));
                assertEquals(image.manifestDigest(), Pulls.sha256(byDigest.body()), "the manifest by digest");
                assertEquals(connections, hop.tap(CountTap.class).connections(),
                        "a replica with an empty hot tier went upstream for what the bucket and Redis hold: "
                                + registry.requests());
                assertTrue(Pulls.await(Duration.ofSeconds(30), () -> java.nio.file.Files.exists(
                        Pulls.blobFile(hot, layer))), "d's read from the bucket did not fill its hot tier");
            }
            assertEquals(1, registry.countRequests("GET", "/blobs/" + layer), "upstream GETs of the layer, in all");
            assertEquals(List.of(), s3.incompleteUploads(prefix), "multipart uploads left open");
        } finally {
            pool.shutdownNow();
        }
    }

    /** (3) ClusterTest covers this on disk only; here each replica's tags also live in the shared bucket. */
    @Test
    void aTagResolvedOnOneReplicaIsServedByAnotherWithinItsTtlWithoutAnUpstreamCall(DistributionRegistry registry,
            ImageSeeder seeder) throws Exception {
        String prefix = "cluster-tag/";
        ImageSeeder.Image image = seeder.pushOciImage(registry.url(), "cluster/s3tag", "v1", 4096, 1302);
        try (RedisServer redis = RedisServer.start();
                TcpRelay hop = TcpRelay.toLocalPort(registry.port(), new CountTap());
                InProcessWharf a = replica("a", URI.create(hop.url()), redis, prefix);
                InProcessWharf b = replica("b", URI.create(hop.url()), redis, prefix)) {
            awaitRedis(a, b);
            String path = "/v2/up/cluster/s3tag/manifests/v1";
            HttpResponse<byte[]> first = a.get(path, "Accept", TYPES);
            assertEquals(200, first.statusCode(), Pulls.utf8(first.body()));
            assertTrue(registry.countRequests("*", "/manifests/v1") >= 1, "a asked its upstream: "
                    + registry.requests());
            long connections = hop.tap(CountTap.class).connections();

            HttpResponse<byte[]> onB = b.get(path, "Accept", TYPES);
            assertEquals(200, onB.statusCode(), Pulls.utf8(onB.body()));
            assertEquals(image.manifestDigest(), onB.headers().firstValue("Docker-Content-Digest").orElseThrow());
            assertEquals(new String(first.body(), StandardCharsets.UTF_8),
                    new String(onB.body(), StandardCharsets.UTF_8));
            assertEquals(connections, hop.tap(CountTap.class).connections(),
                    "b went upstream for a tag a resolved within its TTL: " + registry.requests());
            assertEquals(0, registry.countRequests("*", "/manifests/" + image.manifestDigest()),
                    "nobody fetched the manifest by digest upstream");
        }
    }

    /**
     * (4) kill -9 of the lease holder mid-fill, on the bucket: the holder (a child process, so the kill is real) fills
     * a 128 MiB blob through a throttled upstream while b and c join it; then it is killed. Its client sees an
     * aborted stream, b's and c's either the right bytes or an abort, and the bucket has no object under the blob's
     * key (an open multipart upload may be left; it is not an object). A retry on b takes the lease over and leaves
     * exactly one whole object with the right digest.
     */
    @Test
    void killingTheLeaseHolderMidFillLeavesNoObjectAndARetryLeavesOneWholeOne(DistributionRegistry registry,
            ImageSeeder seeder) throws Exception {
        String prefix = "cluster-kill/";
        long size = 128L << 20;
        ImageSeeder.Blob blob = seeder.pushRandomBlob(registry.url(), "cluster/s3killed", size, 1303);
        String key = blobKey(prefix, blob.digest());
        ExecutorService pool = Executors.newFixedThreadPool(3);
        try (RedisServer redis = RedisServer.start();
                TcpRelay hop = TcpRelay.toLocalPort(registry.port(), new CountTap(), new ThrottleTap(2 << 20));
                WharfProcess holder = WharfProcess.builder().project("up", URI.create(hop.url()))
                        .s3(s3.storageYaml(prefix, false))
                        .extraYaml(ClusterTest.clusterYaml(tmp, redis, Ports.free())).start();
                InProcessWharf b = replica("b", URI.create(hop.url()), redis, prefix);
                InProcessWharf c = replica("c", URI.create(hop.url()), redis, prefix)) {
            awaitRedis(b, c);
            String path = "/v2/up/cluster/s3killed/blobs/" + blob.digest();
            Future<ClusterTest.Pull> onHolder = pool.submit(() -> pull(holder.url().resolve(path)));
            awaitTrue("the holder's fill to start", () -> hop.tap(CountTap.class).downstreamBytes() > (1 << 20));
            CountDownLatch joined = new CountDownLatch(2);
            Future<ClusterTest.Pull> onB = pool.submit(() -> ClusterTest.pull(b.url().resolve(path), joined));
            Future<ClusterTest.Pull> onC = pool.submit(() -> ClusterTest.pull(c.url().resolve(path), joined));
            assertTrue(joined.await(30, TimeUnit.SECONDS), "the joiners got no first MiB in 30 s");
            long upstreamAtKill = hop.tap(CountTap.class).downstreamBytes();
            assertTrue(upstreamAtKill < size / 2, "the kill would not be mid-fill: " + upstreamAtKill + " bytes in");
            holder.kill9(); // SIGKILL to the child's PID; returns once it is gone
            assertEquals(Map.of(), s3.keys(key), "objects under the blob's key right after the kill");

            ClusterTest.Pull h = onHolder.get(2, TimeUnit.MINUTES);
            assertFalse(h.complete(), "the killed holder's client completed: " + h);
            for (ClusterTest.Pull p : List.of(onB.get(2, TimeUnit.MINUTES), onC.get(2, TimeUnit.MINUTES))) {
                assertTrue(!p.complete() || blob.digest().equals(p.digest()), "a joiner was given wrong bytes: " + p);
                System.out.println("joiner after the kill: " + p);
            }
            assertEquals(1, registry.countRequests("GET", "/blobs/" + blob.digest()),
                    "upstream GETs before the retry: " + registry.requests());
            // Only the killed fill has read the upstream, and it was cut: nothing may have become an object.
            assertEquals(Map.of(), s3.keys(key), "objects under the blob's key once the clients ended");
            System.out.println("multipart uploads left open by the kill: " + s3.incompleteUploads(key).size());

            hop.tap(ThrottleTap.class).setBytesPerSecond(0);
            ClusterTest.Pull retry = pull(b.url().resolve(path));
            assertTrue(retry.complete(), "the retry did not complete: " + retry);
            assertEquals(blob.digest(), retry.digest(), "the retry's bytes");
            assertTrue(Pulls.await(Duration.ofSeconds(60), () -> s3.keys(key).containsKey(key)),
                    "the blob in the bucket after the retry: " + s3.keys(prefix));
            assertEquals(Map.of(key, size), s3.keys(key), "objects under the blob's key after the retry");
            assertEquals(blob.digest(), objectDigest(key), "bytes under " + key);
        } finally {
            pool.shutdownNow();
        }
    }

    private static String blobKey(String prefix, String digest) {
        String hex = Digest.parse(digest).hex();
        return prefix + "blobs/sha256/" + hex.substring(0, 2) + "/" + hex;
    }

    /** The digest of the object under {@code key}, streamed (the object is tens of MiB). */
    private static String objectDigest(String key) {
        try (InputStream in = s3.client().getObject(b -> b.bucket(s3.bucket()).key(key))) {
            MessageDigest sha = Pulls.sha256();
            byte[] buf = new byte[64 << 10];
            for (int n; (n = in.read(buf)) > 0; ) {
                sha.update(buf, 0, n);
            }
            return "sha256:" + HexFormat.of().formatHex(sha.digest());
        } catch (IOException e) {
            throw new UncheckedIOException(e);
        }
    }
}

package dev.wharf.server.cluster;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertTrue;

import dev.wharf.server.metrics.Scrapes;
import dev.wharf.storage.Digest;
import dev.wharf.testing.CountTap;
import dev.wharf.testing.DistributionRegistry;
import dev.wharf.testing.ImageSeeder;
import dev.wharf.testing.InProcessWharf;
import dev.wharf.testing.Ports;
import dev.wharf.testing.RealRegistry;
import dev.wharf.testing.RedisServer;
import dev.wharf.testing.TcpRelay;
import dev.wharf.testing.TestCa;
import dev.wharf.testing.ThrottleTap;
import dev.wharf.testing.WharfProcess;
import dev.wharf.testing.WharfYaml;
import java.io.IOException;
import java.io.InputStream;
import java.net.URI;
import java.net.http.HttpClient;
import java.net.http.HttpRequest;
import java.net.http.HttpResponse;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.security.MessageDigest;
import java.time.Duration;
import java.util.ArrayList;
import java.util.HexFormat;
import java.util.List;
import java.util.concurrent.CountDownLatch;
import java.util.concurrent.ExecutorService;
import java.util.concurrent.Executors;
import java.util.concurrent.Future;
import java.util.concurrent.TimeUnit;
import java.util.function.BooleanSupplier;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.Timeout;
import org.junit.jupiter.api.extension.ExtendWith;
import org.junit.jupiter.api.io.TempDir;

/**
 * Three wharf replicas with one real Redis (Debian's redis-server) in front of one real docker-registry behind a
 * {@link CountTap}: cluster-wide single fetch, a lease holder killed with SIGKILL mid-fill, Redis taken away and
 * brought back, and a tag revalidation shared between replicas. Replicas run in this JVM except the one that is
 * killed, which is a child process (a real kill -9).
 */
@Timeout(value = 8, unit = TimeUnit.MINUTES)
@ExtendWith(RealRegistry.class)
class ClusterTest {
    private static final String SECRET = "cluster-test-secret-0123456789";
    private static final HttpClient HTTP = HttpClient.newBuilder().version(HttpClient.Version.HTTP_1_1)
            .connectTimeout(Duration.ofSeconds(5)).build();

    @TempDir
    Path tmp;

    private String clusterYaml(RedisServer redis, int peerPort) throws IOException {
        return clusterYaml(tmp, redis, peerPort);
    }

    /**
     * The {@code cluster:} section of one replica whose internal port is {@code peerPort}; the shared secret file is
     * written once under {@code dir}. Package-private: ClusterOnS3Test builds its replicas with it.
     */
    static String clusterYaml(Path dir, RedisServer redis, int peerPort) throws IOException {
        Path secret = dir.resolve("cluster-secret");
        if (!Files.exists(secret)) {
            Files.writeString(secret, SECRET + "\n", StandardCharsets.UTF_8);
        }
        return "cluster:\n  redis:\n    address: " + redis.address() + "\n  listen: 127.0.0.1:" + peerPort
                + "\n  advertise: http://127.0.0.1:" + peerPort + "\n  secretFile: " + secret + "\n";
    }

    private InProcessWharf replica(String name, URI upstream, RedisServer redis, String tagTtl) throws Exception {
        WharfYaml.Project project = WharfYaml.project("up", upstream);
        if (tagTtl != null) {
            project.tagTtl(tagTtl);
        }
        return InProcessWharf.start(tmp.resolve(name), WharfYaml.config().project(project)
                .raw(clusterYaml(redis, Ports.free())));
    }

    /** (a) 8 cold clients of a 256 MiB blob over 3 replicas: right bytes, one upstream fetch, quick first MiB. */
    @Test
    void eightColdClientsOnThreeReplicasShareOneUpstreamFetch(DistributionRegistry registry, ImageSeeder seeder)
            throws Exception {
        long size = 256L << 20;
        ImageSeeder.Blob blob = seeder.pushRandomBlob(registry.url(), "cluster/big", size, 1201);
        ExecutorService pool = Executors.newFixedThreadPool(8);
        try (RedisServer redis = RedisServer.start();
                TcpRelay hop = TcpRelay.toLocalPort(registry.port(), new CountTap());
                InProcessWharf a = replica("a", URI.create(hop.url()), redis, null);
                InProcessWharf b = replica("b", URI.create(hop.url()), redis, null);
                InProcessWharf c = replica("c", URI.create(hop.url()), redis, null)) {
            awaitRedis(a, b, c);
            String path = "/v2/up/cluster/big/blobs/" + blob.digest();
            List<Future<Pull>> pulls = new ArrayList<>();
            pulls.add(pool.submit(() -> pull(a.url().resolve(path))));
            awaitTrue("a's fill to start", () -> hop.tap(CountTap.class).downstreamBytes() > 0);
            InProcessWharf[] order = {b, c, a, b, c, b, c};
            for (InProcessWharf r : order) {
                pulls.add(pool.submit(() -> pull(r.url().resolve(path))));
            }
            for (int i = 0; i < pulls.size(); i++) {
                Pull p = pulls.get(i).get(5, TimeUnit.MINUTES);
                assertTrue(p.complete(), "client " + i + " did not complete: " + p);
                assertEquals(blob.digest(), p.digest(), "client " + i + " read wrong bytes");
                boolean onHolder = i == 0 || order[i - 1] == a;
                System.out.printf("cluster client %d (%s): first MiB after %d ms%n", i, onHolder ? "holder" : "joiner",
                        p.firstMiBNanos() / 1_000_000);
                if (!onHolder) {
                    // The acceptance bound: a joiner on another replica streams as the holder's clients do.
                    assertTrue(p.firstMiBNanos() <= 1_000_000_000L, "client " + i + " on a non-holder replica got "
                            + "its first MiB after " + p.firstMiBNanos() / 1_000_000 + " ms");
                }
            }
            assertEquals(1, registry.countRequests("GET", "/blobs/" + blob.digest()),
                    "upstream GETs of the blob: " + registry.requests());
            long upstreamBytes = hop.tap(CountTap.class).downstreamBytes();
            assertTrue(upstreamBytes < size + (1 << 20), "the upstream sent " + upstreamBytes + " bytes for one blob");
            assertEquals(1, Scrapes.scrape(b).sum("wharf_cluster_joins_total"), "b's cross-replica joins");
            assertEquals(1, Scrapes.scrape(c).sum("wharf_cluster_joins_total"), "c's cross-replica joins");
            assertEquals(0, Scrapes.scrape(a).sum("wharf_cluster_joins_total"), "a held the lease");
        } finally {
            pool.shutdownNow();
        }
    }

    /** (b) kill -9 of the lease holder mid-fill: aborted or right bytes, never wrong bytes; a retry completes. */
    @Test
    void killingTheLeaseHolderAbortsItsClientsAndARetryTakesTheLeaseOver(DistributionRegistry registry,
                                                                         ImageSeeder seeder) throws Exception {
        long size = 24L << 20;
        ImageSeeder.Blob blob = seeder.pushRandomBlob(registry.url(), "cluster/killed", size, 1202);
        ExecutorService pool = Executors.newFixedThreadPool(4);
        int holderPeer = Ports.free();
        try (RedisServer redis = RedisServer.start();
                TcpRelay hop = TcpRelay.toLocalPort(registry.port(), new CountTap(), new ThrottleTap(2 << 20));
                WharfProcess holder = WharfProcess.builder().project("up", URI.create(hop.url()))
                        .extraYaml(clusterYaml(redis, holderPeer)).start();
                InProcessWharf b = replica("b", URI.create(hop.url()), redis, null);
                InProcessWharf c = replica("c", URI.create(hop.url()), redis, null)) {
            awaitRedis(b, c);
            String path = "/v2/up/cluster/killed/blobs/" + blob.digest();
            Future<Pull> onHolder = pool.submit(() -> pull(holder.url().resolve(path)));
            awaitTrue("the holder's fill to start", () -> hop.tap(CountTap.class).downstreamBytes() > (1 << 20));
            CountDownLatch joined = new CountDownLatch(2);
            Future<Pull> onB = pool.submit(() -> pull(b.url().resolve(path), joined));
            Future<Pull> onC = pool.submit(() -> pull(c.url().resolve(path), joined));
            assertTrue(joined.await(30, TimeUnit.SECONDS), "the joiners got no first MiB in 30 s");
            holder.kill9();

            Pull h = onHolder.get(2, TimeUnit.MINUTES);
            assertFalse(h.complete(), "the killed holder's client completed: " + h);
            for (Pull p : List.of(onB.get(2, TimeUnit.MINUTES), onC.get(2, TimeUnit.MINUTES))) {
                assertTrue(!p.complete() || p.digest().equals(blob.digest()), "a joiner was given wrong bytes: " + p);
            }
            assertEquals(1, registry.countRequests("GET", "/blobs/" + blob.digest()),
                    "upstream GETs before the retry: " + registry.requests());

            hop.tap(ThrottleTap.class).setBytesPerSecond(0);
            Pull retry = pull(b.url().resolve(path));
            assertTrue(retry.complete(), "the retry did not complete: " + retry);
            assertEquals(blob.digest(), retry.digest());
            Scrapes.awaitSum(b, 1, "wharf_cluster_lease_takeovers_total");
        } finally {
            pool.shutdownNow();
        }
    }

    /** (c) Redis stopped mid-run: pulls stay correct, each replica alone; Redis back: single fetch again. */
    @Test
    void redisDownMeansEachReplicaFillsAloneUntilItIsBack(DistributionRegistry registry, ImageSeeder seeder)
            throws Exception {
        long size = 8L << 20;
        ImageSeeder.Blob during = seeder.pushRandomBlob(registry.url(), "cluster/redis", size, 1203);
        ImageSeeder.Blob alone = seeder.pushRandomBlob(registry.url(), "cluster/redis", size, 1204);
        ImageSeeder.Blob after = seeder.pushRandomBlob(registry.url(), "cluster/redis", size, 1205);
        ExecutorService pool = Executors.newFixedThreadPool(3);
        try (RedisServer redis = RedisServer.start();
                TcpRelay hop = TcpRelay.toLocalPort(registry.port(), new CountTap(), new ThrottleTap(2 << 20));
                InProcessWharf a = replica("a", URI.create(hop.url()), redis, null);
                InProcessWharf b = replica("b", URI.create(hop.url()), redis, null);
                InProcessWharf c = replica("c", URI.create(hop.url()), redis, null)) {
            awaitRedis(a, b, c);
            ThrottleTap throttle = hop.tap(ThrottleTap.class);

            // A cluster fill in progress when Redis goes away: holder and joiner finish with the right bytes.
            String duringPath = "/v2/up/cluster/redis/blobs/" + during.digest();
            Future<Pull> first = pool.submit(() -> pull(a.url().resolve(duringPath)));
            awaitTrue("a's fill to start", () -> hop.tap(CountTap.class).downstreamBytes() > 0);
            CountDownLatch joined = new CountDownLatch(1);
            Future<Pull> second = pool.submit(() -> pull(b.url().resolve(duringPath), joined));
            assertTrue(joined.await(30, TimeUnit.SECONDS), "b's client got no first MiB in 30 s");
            redis.stop();
            throttle.setBytesPerSecond(0);
            for (Future<Pull> f : List.of(first, second)) {
                Pull p = f.get(2, TimeUnit.MINUTES);
                assertTrue(p.complete(), "a pull did not complete with Redis gone: " + p);
                assertEquals(during.digest(), p.digest());
            }
            assertEquals(1, registry.countRequests("GET", "/blobs/" + during.digest()), "upstream GETs");

            // Redis down: each replica fills alone (correct, up to one upstream fetch each), and says so.
            for (InProcessWharf r : List.of(a, b, c)) {
                Scrapes.awaitSum(r, 0, "wharf_cluster_redis_up");
                HttpResponse<byte[]> ready = r.get("/readyz");
                assertEquals(200, ready.statusCode());
                String body = new String(ready.body(), StandardCharsets.UTF_8);
                assertTrue(body.contains("degraded") && body.contains("Redis"), "/readyz: " + body);
            }
            String alonePath = "/v2/up/cluster/redis/blobs/" + alone.digest();
            List<Future<Pull>> pulls = new ArrayList<>();
            for (InProcessWharf r : List.of(a, b, c)) {
                pulls.add(pool.submit(() -> pull(r.url().resolve(alonePath))));
            }
            for (Future<Pull> f : pulls) {
                Pull p = f.get(2, TimeUnit.MINUTES);
                assertTrue(p.complete(), "a pull without Redis did not complete: " + p);
                assertEquals(alone.digest(), p.digest());
            }
            long aloneGets = registry.countRequests("GET", "/blobs/" + alone.digest());
            assertTrue(aloneGets >= 1 && aloneGets <= 3, "upstream GETs without Redis: " + aloneGets);

            // Redis back, same wharfs: single fetch again.
            redis.restart();
            awaitRedis(a, b, c);
            throttle.setBytesPerSecond(2 << 20);
            String afterPath = "/v2/up/cluster/redis/blobs/" + after.digest();
            long before = hop.tap(CountTap.class).downstreamBytes();
            pulls.clear();
            pulls.add(pool.submit(() -> pull(a.url().resolve(afterPath))));
            awaitTrue("a's fill to start", () -> hop.tap(CountTap.class).downstreamBytes() > before);
            pulls.add(pool.submit(() -> pull(b.url().resolve(afterPath))));
            pulls.add(pool.submit(() -> pull(c.url().resolve(afterPath))));
            Thread.sleep(500); // let b and c join while the upstream crawls, then let it run
            throttle.setBytesPerSecond(0);
            for (Future<Pull> f : pulls) {
                Pull p = f.get(2, TimeUnit.MINUTES);
                assertTrue(p.complete(), "a pull after Redis came back did not complete: " + p);
                assertEquals(after.digest(), p.digest());
            }
            assertEquals(1, registry.countRequests("GET", "/blobs/" + after.digest()),
                    "upstream GETs once Redis is back: " + registry.requests());
        } finally {
            pool.shutdownNow();
        }
    }

    /** (d) A tag revalidated on one replica is served within its TTL by the others with no upstream call. */
    @Test
    void aTagRevalidatedOnOneReplicaIsServedByTheOthersWithoutAnUpstreamCall(DistributionRegistry registry,
                                                                            ImageSeeder seeder) throws Exception {
        ImageSeeder.Image image = seeder.pushOciImage(registry.url(), "cluster/tagged", "v1", 4096, 1206);
        try (RedisServer redis = RedisServer.start();
                InProcessWharf a = replica("a", registry.url(), redis, "5m");
                InProcessWharf b = replica("b", registry.url(), redis, "5m");
                InProcessWharf c = replica("c", registry.url(), redis, "5m")) {
            awaitRedis(a, b, c);
            String path = "/v2/up/cluster/tagged/manifests/v1";
            String accept = "Accept";
            String types = "application/vnd.oci.image.manifest.v1+json,application/vnd.oci.image.index.v1+json,"
                    + "application/vnd.docker.distribution.manifest.v2+json";
            HttpResponse<byte[]> first = a.get(path, accept, types);
            assertEquals(200, first.statusCode(), new String(first.body(), StandardCharsets.UTF_8));
            long upstreamCalls = registry.countRequests("*", "/manifests/v1");
            assertTrue(upstreamCalls >= 1, "a asked its upstream: " + registry.requests());
            String digest = first.headers().firstValue("Docker-Content-Digest").orElseThrow();
            assertEquals(image.manifestDigest(), digest);

            for (InProcessWharf other : List.of(b, c)) {
                HttpResponse<byte[]> r = other.get(path, accept, types);
                assertEquals(200, r.statusCode(), new String(r.body(), StandardCharsets.UTF_8));
                assertEquals(digest, r.headers().firstValue("Docker-Content-Digest").orElseThrow());
                assertEquals(new String(first.body(), StandardCharsets.UTF_8),
                        new String(r.body(), StandardCharsets.UTF_8));
                assertEquals(1, Scrapes.scrape(other).sum("wharf_cluster_shared_tags_total"),
                        "tags served from the cluster");
            }
            assertEquals(upstreamCalls, registry.countRequests("*", "/manifests/v1"),
                    "upstream manifest calls after b and c: " + registry.requests());
            assertEquals(0, registry.countRequests("*", "/manifests/" + digest),
                    "nobody fetched the manifest by digest upstream");
        }
    }

    /**
     * A tag first seen by a HEAD (containerd's first call) is shared too: the other replicas answer their HEADs with
     * no upstream call, and a GET of the tag on one of them fetches the manifest by digest (the HEAD brought no body
     * to share), never the tag again.
     */
    @Test
    void aTagLearntFromAHeadIsSharedAndAGetFetchesItOnlyByDigest(DistributionRegistry registry,
                                                                  ImageSeeder seeder) throws Exception {
        ImageSeeder.Image image = seeder.pushOciImage(registry.url(), "cluster/headed", "v1", 4096, 1207);
        try (RedisServer redis = RedisServer.start();
                InProcessWharf a = replica("a", registry.url(), redis, "5m");
                InProcessWharf b = replica("b", registry.url(), redis, "5m");
                InProcessWharf c = replica("c", registry.url(), redis, "5m")) {
            awaitRedis(a, b, c);
            String path = "/v2/up/cluster/headed/manifests/v1";
            String types = "application/vnd.oci.image.manifest.v1+json,application/vnd.oci.image.index.v1+json,"
                    + "application/vnd.docker.distribution.manifest.v2+json";
            HttpResponse<byte[]> first = a.head(path, "Accept", types);
            assertEquals(200, first.statusCode());
            assertEquals(image.manifestDigest(), first.headers().firstValue("Docker-Content-Digest").orElseThrow());
            String length = first.headers().firstValue("Content-Length").orElseThrow();
            assertEquals(1, registry.countRequests("HEAD", "/cluster/headed/manifests/v1"),
                    "a's HEAD: " + registry.requests());
            assertEquals(0, registry.countRequests("GET", "/cluster/headed/manifests/"), "a HEAD fetches no body");

            for (InProcessWharf other : List.of(b, c)) {
                HttpResponse<byte[]> r = other.head(path, "Accept", types);
                assertEquals(200, r.statusCode());
                assertEquals(image.manifestDigest(), r.headers().firstValue("Docker-Content-Digest").orElseThrow());
                assertEquals(length, r.headers().firstValue("Content-Length").orElseThrow());
                assertEquals(1, Scrapes.scrape(other).sum("wharf_cluster_shared_tags_total"),
                        "tags served from the cluster");
            }
            assertEquals(1, tagCalls(registry, "cluster/headed"),
                    "upstream calls for the tag after b's and c's HEADs: " + registry.requests());

            HttpResponse<byte[]> got = b.get(path, "Accept", types);
            assertEquals(200, got.statusCode(), new String(got.body(), StandardCharsets.UTF_8));
            assertEquals(image.manifestDigest(), got.headers().firstValue("Docker-Content-Digest").orElseThrow());
            assertEquals(Long.parseLong(length), got.body().length);
            assertEquals(image.manifestDigest(), Digest.of("sha256", got.body()).toString(), "b's GET body");
            assertEquals(1, tagCalls(registry, "cluster/headed"),
                    "upstream calls for the tag after b's GET: " + registry.requests());
            assertEquals(1, registry.countRequests("GET", "/manifests/" + image.manifestDigest()),
                    "b fetched the body by digest once: " + registry.requests());

            // b now holds the body and says so: c's GET takes it from b, with no upstream call at all.
            HttpResponse<byte[]> fromPeer = c.get(path, "Accept", types);
            assertEquals(200, fromPeer.statusCode());
            assertArrayEquals(got.body(), fromPeer.body());
            assertEquals(1, registry.countRequests("GET", "/manifests/" + image.manifestDigest()),
                    "upstream GETs by digest after c's GET: " + registry.requests());
            assertEquals(1, tagCalls(registry, "cluster/headed"), "tag calls: " + registry.requests());
        }
    }

    /**
     * The internal port serves peers only: no secret (or a wrong one) is 401, the registry API is not there, a bad
     * digest is 400; with the secret a stored blob comes back whole.
     */
    @Test
    void theInternalPortAnswersOnlyRequestsWithTheClusterSecret(DistributionRegistry registry, ImageSeeder seeder)
            throws Exception {
        ImageSeeder.Blob blob = seeder.pushRandomBlob(registry.url(), "cluster/internal", 100_000, 1207);
        try (RedisServer redis = RedisServer.start();
                InProcessWharf a = replica("a", registry.url(), redis, null)) {
            assertEquals(200, a.get("/v2/up/cluster/internal/blobs/" + blob.digest()).statusCode());
            URI peer = URI.create("http://127.0.0.1:" + a.server().peerPort());
            String path = "/cluster/v1/blobs/" + blob.digest();
            assertEquals(401, peerGet(peer.resolve(path), null).statusCode(), "no secret");
            assertEquals(401, peerGet(peer.resolve(path), SECRET + "x").statusCode(), "a wrong secret");
            assertEquals(404, peerGet(peer.resolve("/v2/up/cluster/internal/blobs/" + blob.digest()), SECRET)
                    .statusCode(), "the registry API on the internal port");
            assertEquals(400, peerGet(peer.resolve("/cluster/v1/blobs/sha256:nothex"), SECRET).statusCode());
            assertEquals(404, peerGet(peer.resolve("/cluster/v1/blobs/sha256:" + "0".repeat(64)), SECRET)
                    .statusCode(), "a blob this replica does not have");
            HttpResponse<byte[]> ok = peerGet(peer.resolve(path), SECRET);
            assertEquals(200, ok.statusCode());
            MessageDigest sha = MessageDigest.getInstance("SHA-256");
            assertEquals(blob.digest(), "sha256:" + HexFormat.of().formatHex(sha.digest(ok.body())));
        }
    }

    private static HttpResponse<byte[]> peerGet(URI uri, String secret) throws Exception {
        HttpRequest.Builder b = HttpRequest.newBuilder(uri).timeout(Duration.ofSeconds(10));
        if (secret != null) {
            b.header("X-Wharf-Cluster-Secret", secret);
        }
        return HTTP.send(b.build(), HttpResponse.BodyHandlers.ofByteArray());
    }

    /** A Redis with a password: the right passwordFile connects; a wrong one leaves the replica alone, and says so. */
    @Test
    void aRedisPasswordFromPasswordFileIsSentAndAWrongOneLeavesTheReplicaAlone(DistributionRegistry registry)
            throws Exception {
        try (RedisServer redis = RedisServer.start("redis-test-password")) {
            Path right = Files.writeString(tmp.resolve("right"), "redis-test-password\n");
            Path wrong = Files.writeString(tmp.resolve("wrong"), "not-the-password\n");
            try (InProcessWharf good = InProcessWharf.start(tmp.resolve("good"), WharfYaml.config()
                            .project(WharfYaml.project("up", registry.url()))
                            .raw(clusterYaml(redis, Ports.free()).replace("    address: " + redis.address() + "\n",
                                    "    address: " + redis.address() + "\n    passwordFile: " + right + "\n")));
                    InProcessWharf bad = InProcessWharf.start(tmp.resolve("bad"), WharfYaml.config()
                            .project(WharfYaml.project("up", registry.url()))
                            .raw(clusterYaml(redis, Ports.free()).replace("    address: " + redis.address() + "\n",
                                    "    address: " + redis.address() + "\n    passwordFile: " + wrong + "\n")))) {
                awaitRedis(good);
                Thread.sleep(1500); // the bad one has tried (and been refused) several times by now
                assertEquals(0, Scrapes.scrape(bad).sum("wharf_cluster_redis_up"), "a wrong password connected");
                String body = new String(bad.get("/readyz").body(), StandardCharsets.UTF_8);
                assertTrue(body.startsWith("ready (degraded:"), "/readyz: " + body);
                assertEquals("ready\n", new String(good.get("/readyz").body(), StandardCharsets.UTF_8));
            }
        }
    }

    /**
     * {@code cluster.redis.tls} with {@code caFile}, against a Redis that listens on TLS only: replicas that trust its
     * CA reach it and share a tag through it; a replica given another CA refuses the server's certificate and stays
     * alone (degraded, never connected in the clear).
     */
    @Test
    void redisOverTlsTrustsOnlyTheConfiguredCa(DistributionRegistry registry, ImageSeeder seeder) throws Exception {
        ImageSeeder.Image image = seeder.pushOciImage(registry.url(), "cluster/tls", "v1", 4096, 1208);
        TestCa ca = TestCa.create("redis-ca", Files.createDirectories(tmp.resolve("ca")));
        TestCa.Issued cert = ca.server("127.0.0.1");
        TestCa other = TestCa.create("other-ca", Files.createDirectories(tmp.resolve("other-ca")));
        try (RedisServer redis = RedisServer.startTls(cert.certificatePem(), cert.keyPem(), ca.certificatePem())) {
            java.util.function.Function<Path, String> tlsYaml = caFile -> {
                try {
                    return clusterYaml(redis, Ports.free()).replace("    address: " + redis.address() + "\n",
                            "    address: " + redis.address() + "\n    tls: true\n    caFile: " + caFile + "\n");
                } catch (IOException e) {
                    throw new java.io.UncheckedIOException(e);
                }
            };
            WharfYaml.Project project = WharfYaml.project("up", registry.url()).tagTtl("5m");
            try (InProcessWharf a = InProcessWharf.start(tmp.resolve("a"),
                            WharfYaml.config().project(project).raw(tlsYaml.apply(ca.certificatePem())));
                    InProcessWharf b = InProcessWharf.start(tmp.resolve("b"),
                            WharfYaml.config().project(project).raw(tlsYaml.apply(ca.certificatePem())));
                    InProcessWharf stranger = InProcessWharf.start(tmp.resolve("stranger"),
                            WharfYaml.config().project(project).raw(tlsYaml.apply(other.certificatePem())))) {
                awaitRedis(a, b);
                String path = "/v2/up/cluster/tls/manifests/v1";
                String types = "application/vnd.oci.image.manifest.v1+json,application/vnd.oci.image.index.v1+json";
                HttpResponse<byte[]> first = a.get(path, "Accept", types);
                assertEquals(200, first.statusCode());
                HttpResponse<byte[]> shared = b.get(path, "Accept", types);
                assertEquals(200, shared.statusCode());
                assertArrayEquals(first.body(), shared.body());
                assertEquals(1, tagCalls(registry, "cluster/tls"),
                        "b's tag came through Redis over TLS: " + registry.requests());
                assertEquals(1, Scrapes.scrape(b).sum("wharf_cluster_shared_tags_total"));

                Thread.sleep(1500); // the stranger has tried (and refused the certificate) several times by now
                assertEquals(0, Scrapes.scrape(stranger).sum("wharf_cluster_redis_up"),
                        "a replica that does not trust the CA connected");
                String body = new String(stranger.get("/readyz").body(), StandardCharsets.UTF_8);
                assertTrue(body.startsWith("ready (degraded: Redis"), "/readyz: " + body);
                assertEquals(image.manifestDigest(), first.headers().firstValue("Docker-Content-Digest").orElseThrow());
            }
        }
    }

    /** The upstream's HEADs and GETs of {@code repository}'s tag v1 (the seeder's PUT of it is not one). */
    private static long tagCalls(DistributionRegistry registry, String repository) {
        String path = "/" + repository + "/manifests/v1";
        return registry.countRequests("HEAD", path) + registry.countRequests("GET", path);
    }

    /** Waits (bounded) until every replica reaches Redis. */
    static void awaitRedis(InProcessWharf... replicas) throws Exception {
        for (InProcessWharf r : replicas) {
            Scrapes.awaitSum(r, 1, "wharf_cluster_redis_up");
        }
    }

    static void awaitTrue(String what, BooleanSupplier condition) throws InterruptedException {
        long deadline = System.nanoTime() + 30_000_000_000L;
        while (!condition.getAsBoolean()) {
            assertTrue(System.nanoTime() < deadline, "waited 30 s for " + what);
            Thread.sleep(10);
        }
    }

    /**
     * One client's pull: {@code complete} when the whole body arrived (status 200 and every byte the Content-Length
     * announced), its digest, and the time from the request to its first MiB.
     */
    record Pull(boolean complete, String digest, long bytes, long firstMiBNanos, String error) {
    }

    static Pull pull(URI uri) {
        return pull(uri, null);
    }

    /**
     * Streams a GET, hashing as it reads; counts {@code firstMiB} down once a MiB arrived. Never throws.
     * Package-private: ClusterOnS3Test's kill -9 case waits for its joiners with it.
     */
    static Pull pull(URI uri, CountDownLatch firstMiB) {
        long start = System.nanoTime();
        long firstAt = -1;
        long n = 0;
        try {
            HttpResponse<InputStream> r = HTTP.send(HttpRequest.newBuilder(uri).timeout(Duration.ofMinutes(3))
                    .build(), HttpResponse.BodyHandlers.ofInputStream());
            long length = r.headers().firstValueAsLong("Content-Length").orElse(-1);
            MessageDigest sha = MessageDigest.getInstance("SHA-256");
            byte[] buf = new byte[64 << 10];
            try (InputStream in = r.body()) {
                for (int k; (k = in.read(buf)) > 0; ) {
                    sha.update(buf, 0, k);
                    n += k;
                    if (firstAt < 0 && n >= (1 << 20)) {
                        firstAt = System.nanoTime() - start;
                        if (firstMiB != null) {
                            firstMiB.countDown();
                        }
                    }
                }
            }
            String digest = "sha256:" + HexFormat.of().formatHex(sha.digest());
            boolean complete = r.statusCode() == 200 && length == n;
            return new Pull(complete, digest, n, firstAt, complete ? null : "status " + r.statusCode() + ", "
                    + n + " of " + length + " bytes");
        } catch (IOException | RuntimeException | java.security.NoSuchAlgorithmException e) {
            return new Pull(false, null, n, firstAt, e.toString());
        } catch (InterruptedException e) {
            Thread.currentThread().interrupt();
            return new Pull(false, null, n, firstAt, e.toString());
        }
    }
}

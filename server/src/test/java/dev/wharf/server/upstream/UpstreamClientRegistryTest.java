package dev.wharf.server.upstream;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertNull;
import static org.junit.jupiter.api.Assertions.assertTrue;
import static org.junit.jupiter.api.Assertions.fail;

import dev.wharf.testing.NettyLeaks;
import dev.wharf.auth.upstream.BearerTokens;
import io.netty.channel.EventLoopGroup;
import io.netty.channel.nio.NioEventLoopGroup;
import io.netty.handler.codec.http.DefaultHttpHeaders;
import io.netty.handler.codec.http.HttpMethod;
import java.io.IOException;
import java.net.InetAddress;
import java.net.ServerSocket;
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
import java.util.Comparator;
import java.util.HexFormat;
import java.util.List;
import java.util.Random;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.atomic.AtomicLong;
import java.util.stream.Stream;
import org.junit.jupiter.api.AfterAll;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.BeforeEach;
import org.junit.jupiter.api.Test;

/**
 * UpstreamClient against a real registry: Debian's docker-registry (CNCF distribution 2.8) on 127.0.0.1 with a
 * temporary filesystem store, no auth. Blobs are pushed with the JDK HttpClient, then read through the client.
 */
class UpstreamClientRegistryTest {
    private static final String REGISTRY_BINARY = "/usr/bin/docker-registry";
    private static final String REPO = "wharf/test";
    private static final long T = RecordingListener.TIMEOUT_S;

    private static EventLoopGroup group;
    private static Process registry;
    private static Path dir;
    private static String base;
    private static byte[] small;
    private static String smallDigest;
    private static byte[] large;
    private static String largeDigest;

    private UpstreamClient client;

    @BeforeAll
    static void startRegistry() throws Exception {
        if (!Files.isExecutable(Path.of(REGISTRY_BINARY))) {
            fail("required tool missing: docker-registry (CNCF distribution) at " + REGISTRY_BINARY
                    + "; install the Debian package docker-registry");
        }
        dir = Files.createTempDirectory("wharf-upstream-registry");
        int port;
        try (ServerSocket s = new ServerSocket(0, 1, InetAddress.getByName("127.0.0.1"))) {
            port = s.getLocalPort();
        }
        base = "http://127.0.0.1:" + port;
        Path config = dir.resolve("config.yml");
        Files.writeString(config, String.join("\n",
                "version: 0.1",
                "log:",
                "  level: warn",
                "  accesslog:",
                "    disabled: true",
                "storage:",
                "  filesystem:",
                "    rootdirectory: " + dir.resolve("data"),
                "http:",
                "  addr: 127.0.0.1:" + port,
                ""));
        registry = new ProcessBuilder(REGISTRY_BINARY, "serve", config.toString())
                .redirectErrorStream(true)
                .redirectOutput(dir.resolve("registry.log").toFile())
                .start();
        HttpClient http = HttpClient.newBuilder().connectTimeout(Duration.ofSeconds(2)).build();
        long deadline = System.nanoTime() + TimeUnit.SECONDS.toNanos(30);
        while (true) {
            if (!registry.isAlive()) {
                fail("docker-registry exited with " + registry.exitValue() + ": "
                        + Files.readString(dir.resolve("registry.log")));
            }
            try {
                HttpResponse<Void> r = http.send(HttpRequest.newBuilder(URI.create(base + "/v2/"))
                        .timeout(Duration.ofSeconds(2)).build(), HttpResponse.BodyHandlers.discarding());
                if (r.statusCode() == 200) {
                    break;
                }
            } catch (IOException e) {
                // not listening yet
            }
            if (System.nanoTime() > deadline) {
                fail("docker-registry did not answer GET /v2/ within 30 s: "
                        + Files.readString(dir.resolve("registry.log")));
            }
            Thread.sleep(100);
        }
        Random random = new Random(42);
        small = new byte[1000];
        random.nextBytes(small);
        smallDigest = push(http, small);
        large = new byte[3 * 1024 * 1024 + 17];
        random.nextBytes(large);
        largeDigest = push(http, large);
        group = new NioEventLoopGroup(2);
    }

    @AfterAll
    static void stopRegistry() throws Exception {
        if (group != null) {
            group.shutdownGracefully(0, 1, TimeUnit.SECONDS).await(10, TimeUnit.SECONDS);
        }
        if (registry != null) {
            registry.destroy(); // SIGTERM to this process only, by its own handle
            if (!registry.waitFor(10, TimeUnit.SECONDS)) {
                registry.destroyForcibly().waitFor(10, TimeUnit.SECONDS);
            }
        }
        if (dir != null) {
            try (Stream<Path> s = Files.walk(dir)) {
                s.sorted(Comparator.reverseOrder()).forEach(p -> p.toFile().delete());
            }
        }
        NettyLeaks.assertNoLeaks();
    }

    @BeforeEach
    void newClient() {
        client = new UpstreamClient(group, new BearerTokens(), Duration.ofSeconds(2), Duration.ofMillis(500));
    }

    @AfterEach
    void closeClient() {
        client.close();
    }

    /** Monolithic upload: POST to start, PUT ?digest= with the bytes. Returns the digest. */
    private static String push(HttpClient http, byte[] blob) throws Exception {
        String digest = "sha256:" + sha256(blob);
        HttpResponse<String> start = http.send(HttpRequest.newBuilder(URI.create(base + "/v2/" + REPO
                + "/blobs/uploads/")).POST(HttpRequest.BodyPublishers.noBody()).build(),
                HttpResponse.BodyHandlers.ofString());
        assertEquals(202, start.statusCode(), start.body());
        String location = start.headers().firstValue("Location").orElseThrow();
        URI upload = URI.create(base).resolve(location);
        String sep = upload.getRawQuery() == null ? "?" : "&";
        HttpResponse<String> put = http.send(HttpRequest.newBuilder(URI.create(upload + sep + "digest=" + digest))
                .header("Content-Type", "application/octet-stream")
                .PUT(HttpRequest.BodyPublishers.ofByteArray(blob)).build(), HttpResponse.BodyHandlers.ofString());
        assertEquals(201, put.statusCode(), put.body());
        return digest;
    }

    private static String sha256(byte[] b) throws Exception {
        return HexFormat.of().formatHex(MessageDigest.getInstance("SHA-256").digest(b));
    }

    private static UpstreamEndpoint endpoint() {
        return new UpstreamEndpoint(URI.create(base), null, null, "local");
    }

    private static UpstreamRequest blob(HttpMethod method, String digest) {
        return new UpstreamRequest(method, "/v2/" + REPO + "/blobs/" + digest, null, new DefaultHttpHeaders(), REPO);
    }

    @Test
    void streamsBlob() throws Exception {
        RecordingListener l = new RecordingListener();
        client.exchange(endpoint(), blob(HttpMethod.GET, smallDigest), l);
        l.awaitComplete();
        l.assertStatus(200);
        assertEquals(1, l.headersCalls.get());
        assertArrayEquals(small, l.bytes());
        assertEquals(String.valueOf(small.length), l.headers.get("Content-Length"));
        assertEquals(smallDigest, l.headers.get("Docker-Content-Digest"));
    }

    @Test
    void streamsLargeBlobByteExact() throws Exception {
        RecordingListener l = new RecordingListener();
        client.exchange(endpoint(), blob(HttpMethod.GET, largeDigest), l);
        l.awaitComplete();
        assertEquals(largeDigest, "sha256:" + sha256(l.bytes()));
    }

    @Test
    void fetchesBlob() throws Exception {
        UpstreamResponse r = client.fetch(endpoint(), blob(HttpMethod.GET, smallDigest), 4096).get(T, TimeUnit.SECONDS);
        assertEquals(200, r.status());
        assertArrayEquals(small, r.body());
    }

    @Test
    void headHasLengthButNoBodyAndLeavesTheConnectionUsable() throws Exception {
        UpstreamResponse h = client.fetch(endpoint(), blob(HttpMethod.HEAD, largeDigest), 0).get(T, TimeUnit.SECONDS);
        assertEquals(200, h.status());
        assertEquals(String.valueOf(large.length), h.headers().get("Content-Length"));
        assertEquals(0, h.body().length);

        RecordingListener l = new RecordingListener();
        client.exchange(endpoint(), blob(HttpMethod.HEAD, smallDigest), l);
        l.awaitComplete();
        assertEquals(0, l.chunks.get());

        // had the codec waited for the HEAD's Content-Length bytes, this GET would read garbage or hang
        UpstreamResponse g = client.fetch(endpoint(), blob(HttpMethod.GET, smallDigest), 4096).get(T, TimeUnit.SECONDS);
        assertArrayEquals(small, g.body());
        assertEquals(1, client.connectionsOpened());
    }

    @Test
    void unknownBlobIs404() throws Exception {
        String missing = "sha256:" + "0".repeat(64);
        UpstreamResponse r = client.fetch(endpoint(), blob(HttpMethod.GET, missing), 4096).get(T, TimeUnit.SECONDS);
        assertEquals(404, r.status());
        assertTrue(new String(r.body(), StandardCharsets.UTF_8).contains("BLOB_UNKNOWN"));
        UpstreamResponse h = client.fetch(endpoint(), blob(HttpMethod.HEAD, missing), 4096).get(T, TimeUnit.SECONDS);
        assertEquals(404, h.status());
    }

    @Test
    void apiVersionCheck() throws Exception {
        UpstreamResponse r = client.fetch(endpoint(),
                new UpstreamRequest(HttpMethod.GET, "/v2/", null, new DefaultHttpHeaders(), null), 4096)
                .get(T, TimeUnit.SECONDS);
        assertEquals(200, r.status());
        assertEquals("registry/2.0", r.headers().get("Docker-Distribution-API-Version"));
    }

    @Test
    void reusesConnections() throws Exception {
        for (int i = 0; i < 5; i++) {
            UpstreamResponse r = client.fetch(endpoint(), blob(HttpMethod.GET, smallDigest), 4096)
                    .get(T, TimeUnit.SECONDS);
            assertEquals(200, r.status());
        }
        RecordingListener l = new RecordingListener();
        client.exchange(endpoint(), blob(HttpMethod.GET, largeDigest), l);
        l.awaitComplete();
        assertEquals(1, client.connectionsOpened(), "sequential exchanges share one keep-alive connection");

        // concurrent exchanges need their own connections, which are then pooled
        List<CompletableFuture<UpstreamResponse>> fs = new ArrayList<>();
        for (int i = 0; i < 4; i++) {
            fs.add(client.fetch(endpoint(), blob(HttpMethod.GET, largeDigest), large.length));
        }
        for (CompletableFuture<UpstreamResponse> f : fs) {
            assertArrayEquals(large, f.get(T, TimeUnit.SECONDS).body());
        }
        long opened = client.connectionsOpened();
        assertTrue(opened >= 2 && opened <= 4, "opened " + opened);
        for (int i = 0; i < 4; i++) {
            client.fetch(endpoint(), blob(HttpMethod.HEAD, smallDigest), 0).get(T, TimeUnit.SECONDS);
        }
        assertEquals(opened, client.connectionsOpened());
    }

    @Test
    void pausedTransferResumesAndDeliversEveryByte() throws Exception {
        // Idle-read timeout is 500 ms; the transfer is paused for 2 s, twice. Only reading time counts as idle.
        RecordingListener l = new RecordingListener();
        AtomicLong pausedAt = new AtomicLong();
        l.onChunkHook = (t, n) -> {
            // Chunks are up to 1 MiB, so the 3 MiB blob arrives in at least 4: pause after the first and the third.
            if (n == 1 || n == 3) {
                t.pause();
                pausedAt.set(System.nanoTime());
                group.schedule(t::resume, 2, TimeUnit.SECONDS);
            }
        };
        long start = System.nanoTime();
        client.exchange(endpoint(), blob(HttpMethod.GET, largeDigest), l);
        l.awaitComplete();
        assertTrue(System.nanoTime() - start >= TimeUnit.SECONDS.toNanos(4), "both pauses happened");
        assertEquals(large.length, l.bytes().length);
        assertEquals(largeDigest, "sha256:" + sha256(l.bytes()));
        assertNull(l.violation.get());
    }

    @Test
    void concurrentStreamsWithPauseAndResumeFromOtherThreads() throws Exception {
        // Hunts races between the event loops and a listener that throttles from its own threads, as a slow
        // client's writer would.
        java.util.concurrent.ScheduledExecutorService other = java.util.concurrent.Executors.newScheduledThreadPool(4);
        try {
            List<RecordingListener> ls = new ArrayList<>();
            Random random = new Random(7);
            for (int i = 0; i < 16; i++) {
                RecordingListener l = new RecordingListener();
                int every = 3 + random.nextInt(10);
                l.onChunkHook = (t, n) -> {
                    if (n % every == 0) {
                        // Pause, then resume 5 ms later, both from other threads. The resume is scheduled by the
                        // task that paused, so the two reach the transfer in that order (as a real throttling
                        // writer would call them); two independent tasks could run resume first and leave the
                        // transfer paused for good, which would be the test's race, not the client's.
                        other.execute(() -> {
                            t.pause();
                            other.schedule(t::resume, 5, TimeUnit.MILLISECONDS);
                        });
                    }
                };
                ls.add(l);
                client.exchange(endpoint(), blob(i % 4 == 3 ? HttpMethod.HEAD : HttpMethod.GET, largeDigest), l);
            }
            for (int i = 0; i < ls.size(); i++) {
                RecordingListener l = ls.get(i).awaitComplete();
                assertEquals(i % 4 == 3 ? 0 : large.length, l.bytes().length);
            }
            assertTrue(client.connectionsOpened() <= 16);
        } finally {
            other.shutdownNow();
        }
    }

    @Test
    void listenerMayRunNextExchangeFromOnComplete() throws Exception {
        CompletableFuture<UpstreamResponse> second = new CompletableFuture<>();
        RecordingListener l = new RecordingListener() {
            @Override
            public void onComplete() {
                super.onComplete();
                client.fetch(endpoint(), blob(HttpMethod.GET, smallDigest), 4096).whenComplete((r, e) -> {
                    if (e != null) {
                        second.completeExceptionally(e);
                    } else {
                        second.complete(r);
                    }
                });
            }
        };
        client.exchange(endpoint(), blob(HttpMethod.GET, smallDigest), l);
        l.awaitComplete();
        assertArrayEquals(small, second.get(T, TimeUnit.SECONDS).body());
        assertEquals(1, client.connectionsOpened());
    }
}

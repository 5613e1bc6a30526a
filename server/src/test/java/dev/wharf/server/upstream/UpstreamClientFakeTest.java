package dev.wharf.server.upstream;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertInstanceOf;
import static org.junit.jupiter.api.Assertions.assertNull;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import dev.wharf.testing.NettyLeaks;
import dev.wharf.auth.upstream.BearerTokens;
import dev.wharf.auth.upstream.Credentials;
import io.netty.channel.EventLoopGroup;
import io.netty.channel.nio.NioEventLoopGroup;
import io.netty.handler.codec.http.DefaultHttpHeaders;
import io.netty.handler.codec.http.HttpHeaders;
import io.netty.handler.codec.http.HttpMethod;
import java.io.IOException;
import java.io.OutputStream;
import java.net.InetAddress;
import java.net.ServerSocket;
import java.net.URI;
import java.nio.charset.StandardCharsets;
import java.time.Duration;
import java.util.ArrayList;
import java.util.Base64;
import java.util.List;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.ExecutionException;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.atomic.AtomicInteger;
import java.util.concurrent.atomic.AtomicReference;
import org.junit.jupiter.api.AfterAll;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.BeforeEach;
import org.junit.jupiter.api.Test;

/**
 * UpstreamClient against in-process fakes, only for what a real registry (distribution 2.8) cannot be made to do:
 * a Bearer challenge without a scope (distribution always names one on repository requests), a redirect of a
 * manifest HEAD on the same host, redirect loops, connections cut mid-body, chunked bodies cut short,
 * close-delimited bodies, keep-alive connections that die, stalled responses, oversized bodies, and aborts and
 * pauses timed to the byte, and what headers arrive (no registry logs them). Token auth, Basic auth, TLS, an
 * oversized body and the egress proxy run against real registries in
 * {@link UpstreamClientRealRegistryTest}; a cross-host redirect that must drop Authorization in
 * {@code upstreamauth.BlobRedirectTest} and {@code DockerHubTest}; plain transfers in
 * {@link UpstreamClientRegistryTest}.
 */
class UpstreamClientFakeTest {
    private static final long T = RecordingListener.TIMEOUT_S;
    private static EventLoopGroup group;

    private final List<AutoCloseable> closeables = new ArrayList<>();
    private UpstreamClient client;

    @BeforeAll
    static void startGroup() {
        group = new NioEventLoopGroup(2);
    }

    @AfterAll
    static void stopGroup() throws Exception {
        group.shutdownGracefully(0, 1, TimeUnit.SECONDS).await(10, TimeUnit.SECONDS);
        NettyLeaks.assertNoLeaks();
    }

    @BeforeEach
    void newClient() {
        client = new UpstreamClient(group, new BearerTokens(), Duration.ofSeconds(2), Duration.ofSeconds(2));
    }

    @AfterEach
    void close() throws Exception {
        client.close();
        for (AutoCloseable c : closeables) {
            c.close();
        }
    }

    private <T extends AutoCloseable> T track(T c) {
        closeables.add(c);
        return c;
    }

    private static UpstreamEndpoint endpoint(String base) {
        return endpoint(base, null);
    }

    private static UpstreamEndpoint endpoint(String base, Credentials creds) {
        return new UpstreamEndpoint(URI.create(base), null, creds, "fakeproj");
    }

    private static UpstreamRequest get(String path, String repository) {
        return new UpstreamRequest(HttpMethod.GET, path, null, new DefaultHttpHeaders(), repository);
    }

    private static UpstreamResponse await(CompletableFuture<UpstreamResponse> f) throws Exception {
        return f.get(T, TimeUnit.SECONDS);
    }

    private static Throwable awaitFailure(CompletableFuture<UpstreamResponse> f) throws Exception {
        ExecutionException e = assertThrows(ExecutionException.class, () -> f.get(T, TimeUnit.SECONDS));
        return e.getCause();
    }

    private static String str(UpstreamResponse r) {
        return new String(r.body(), StandardCharsets.UTF_8);
    }

    /** A fake registry with a fake token endpoint: 401 + Bearer challenge unless the token in {@code valid}. */
    private FakeHttp bearerRegistry(AtomicReference<String> valid, boolean scopeInChallenge) throws IOException {
        FakeHttp fake = track(FakeHttp.http());
        AtomicInteger issued = new AtomicInteger();
        String realm = fake.base() + "/token";
        fake.on("/token", ex -> FakeHttp.respond(ex, 200,
                "{\"token\":\"tok-" + issued.incrementAndGet() + "\",\"expires_in\":300}"));
        fake.on("/v2/", ex -> {
            String auth = ex.getRequestHeaders().getFirst("Authorization");
            if (auth != null && auth.equals("Bearer " + valid.get())) {
                FakeHttp.respond(ex, 200, "{\"manifest\":true}");
                return;
            }
            ex.getResponseHeaders().set("WWW-Authenticate", "Bearer realm=\"" + realm + "\",service=\"fake\""
                    + (scopeInChallenge ? ",scope=\"repository:library/x:pull\"" : ""));
            FakeHttp.respond(ex, 401,
                    "{\"errors\":[{\"code\":\"UNAUTHORIZED\",\"message\":\"authentication required\"}]}");
        });
        return fake;
    }

    @Test
    void scopeDefaultsToRepositoryPull() throws Exception {
        FakeHttp fake = bearerRegistry(new AtomicReference<>("tok-1"), false);
        UpstreamResponse r = await(client.fetch(endpoint(fake.base()),
                get("/v2/library/x/manifests/latest", "library/x"), 1 << 20));
        assertEquals(200, r.status());
        FakeHttp.Seen tokenRequest = fake.seen.stream().filter(s -> s.path().equals("/token")).findFirst().get();
        assertEquals("service=fake&scope=repository%3Alibrary%2Fx%3Apull", tokenRequest.query());
    }

    @Test
    void relativeRedirectOnSameHostKeepsAuthorizationAndHead() throws Exception {
        String expected = "Basic " + Base64.getEncoder().encodeToString("u:p".getBytes(StandardCharsets.UTF_8));
        FakeHttp fake = track(FakeHttp.http());
        fake.on("/v2/", ex -> {
            if (!expected.equals(ex.getRequestHeaders().getFirst("Authorization"))) {
                ex.getResponseHeaders().set("WWW-Authenticate", "Basic realm=\"fake\"");
                FakeHttp.respond(ex, 401, "");
            } else if (ex.getRequestURI().getPath().endsWith("/old")) {
                FakeHttp.redirect(ex, 301, "new");
            } else {
                ex.getResponseHeaders().set("Docker-Content-Digest", "sha256:abc");
                FakeHttp.respond(ex, 200, "manifest-body");
            }
        });
        UpstreamRequest head = new UpstreamRequest(HttpMethod.HEAD, "/v2/a/manifests/old", null,
                new DefaultHttpHeaders(), "a");
        UpstreamResponse r = await(client.fetch(endpoint(fake.base(), new Credentials("u", "p")), head, 1024));
        assertEquals(200, r.status());
        assertEquals(0, r.body().length);
        assertEquals("sha256:abc", r.headers().get("Docker-Content-Digest"));
        FakeHttp.Seen last = fake.seen.get(fake.seen.size() - 1);
        assertEquals("/v2/a/manifests/new", last.path());
        assertEquals("HEAD", last.method());
        assertEquals(expected, last.authorization());
    }

    @Test
    void tooManyRedirects() throws Exception {
        FakeHttp fake = track(FakeHttp.http());
        fake.on("/v2/loop/", ex -> {
            int n = Integer.parseInt(ex.getRequestURI().getPath().substring("/v2/loop/".length()));
            FakeHttp.redirect(ex, 302, "/v2/loop/" + (n + 1));
        });
        RecordingListener l = new RecordingListener();
        client.exchange(endpoint(fake.base()), get("/v2/loop/0", "loop"), l);
        Throwable e = l.awaitError();
        assertInstanceOf(UpstreamException.class, e);
        assertTrue(e.getMessage().contains("too many redirects"), e.getMessage());
        assertTrue(e.getMessage().contains("fakeproj"), e.getMessage());
        assertEquals(0, l.headersCalls.get());
        assertEquals(6, fake.count("/v2/loop/"), "the first request and 5 followed redirects");
    }

    @Test
    void connectionCutMidBodyIsAnError() throws Exception {
        FakeHttp.Raw raw = track(new FakeHttp.Raw(s -> {
            FakeHttp.Raw.write(s, "HTTP/1.1 200 OK\r\nContent-Length: 1000\r\n\r\n" + "x".repeat(100));
            // then close: 900 bytes short
        }));
        RecordingListener l = new RecordingListener();
        client.exchange(endpoint(raw.base()), get("/v2/a/blobs/sha256:00", "a"), l);
        Throwable e = l.awaitError();
        assertInstanceOf(UpstreamException.class, e);
        assertTrue(e.getMessage().contains("fakeproj"), e.getMessage());
        assertEquals(1, l.headersCalls.get());
        assertEquals(100, l.bytes().length);

        Throwable f = awaitFailure(client.fetch(endpoint(raw.base()), get("/v2/a/blobs/sha256:00", "a"), 4096));
        assertInstanceOf(UpstreamException.class, f);
    }

    @Test
    void chunkedBodyCutMidwayIsAnError() throws Exception {
        FakeHttp.Raw raw = track(new FakeHttp.Raw(s -> FakeHttp.Raw.write(s,
                "HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n5\r\nhello\r\n")));
        RecordingListener l = new RecordingListener();
        client.exchange(endpoint(raw.base()), get("/v2/a/tags/list", "a"), l);
        l.awaitError();
        assertEquals("hello", new String(l.bytes(), StandardCharsets.US_ASCII));
    }

    @Test
    void closeDelimitedBodyCompletes() throws Exception {
        FakeHttp.Raw raw = track(new FakeHttp.Raw(s -> FakeHttp.Raw.write(s,
                "HTTP/1.1 200 OK\r\nConnection: close\r\n\r\nall of it")));
        UpstreamResponse r = await(client.fetch(endpoint(raw.base()), get("/v2/a/tags/list", "a"), 4096));
        assertEquals("all of it", str(r));
    }

    @Test
    void deadKeepAliveConnectionIsRetriedOnAFreshOne() throws Exception {
        // The first connection answers once, then drops the next request unanswered (a server that timed the
        // idle connection out just as it was reused). The client must retry on a new connection.
        AtomicInteger connections = new AtomicInteger();
        FakeHttp.Raw raw = track(new FakeHttp.Raw(s -> {
            int n = connections.incrementAndGet();
            FakeHttp.Raw.write(s, "HTTP/1.1 200 OK\r\nContent-Length: 3\r\n\r\nok" + n);
            if (n == 1) {
                try {
                    FakeHttp.Raw.readHead(s.getInputStream());
                } catch (IOException e) {
                    // closing anyway
                }
            }
        }));
        UpstreamEndpoint ep = endpoint(raw.base());
        assertEquals("ok1", str(await(client.fetch(ep, get("/v2/a/tags/list", "a"), 64))));
        assertEquals("ok2", str(await(client.fetch(ep, get("/v2/a/tags/list", "a"), 64))));
        assertEquals(2, client.connectionsOpened());
    }

    @Test
    void stalledResponseTimesOut() throws Exception {
        FakeHttp.Raw raw = track(new FakeHttp.Raw(s -> {
            FakeHttp.Raw.write(s, "HTTP/1.1 200 OK\r\nContent-Length: 10\r\n\r\n12345");
            sleep(6000);
        }));
        try (UpstreamClient fast = new UpstreamClient(group, new BearerTokens(), Duration.ofSeconds(2),
                Duration.ofMillis(300))) {
            long start = System.nanoTime();
            RecordingListener l = new RecordingListener();
            fast.exchange(endpoint(raw.base()), get("/v2/a/blobs/sha256:00", "a"), l);
            Throwable e = l.awaitError();
            long ms = TimeUnit.NANOSECONDS.toMillis(System.nanoTime() - start);
            assertTrue(e.getMessage().contains("no data"), e.getMessage());
            assertTrue(ms < 4000, "timed out after " + ms + " ms");
        }
    }

    @Test
    void connectionRefusedNamesProjectAndUpstream() throws Exception {
        int port;
        try (ServerSocket s = new ServerSocket(0, 1, InetAddress.getByName("127.0.0.1"))) {
            port = s.getLocalPort();
        }
        String base = "http://127.0.0.1:" + port;
        UpstreamEndpoint ep = new UpstreamEndpoint(URI.create(base), null, null, "refused-project");
        Throwable e = awaitFailure(client.fetch(ep, get("/v2/a/manifests/latest", "a"), 1024));
        assertInstanceOf(UpstreamException.class, e);
        assertTrue(e.getMessage().startsWith("upstream " + base + " of project refused-project: connection refused"),
                e.getMessage());
    }

    @Test
    void endpointPathIsInsertedAfterV2AndHeadersAreOurs() throws Exception {
        FakeHttp fake = track(FakeHttp.http());
        fake.on("/", ex -> FakeHttp.respond(ex, 200, "{}"));
        HttpHeaders h = new DefaultHttpHeaders()
                .set("Accept", "application/vnd.oci.image.index.v1+json")
                .set("Authorization", "Bearer client-secret")
                .set("Accept-Encoding", "gzip")
                .set("Cookie", "c=1");
        UpstreamRequest req = new UpstreamRequest(HttpMethod.GET, "/v2/library/nginx/manifests/latest", "n=10&x=%2F",
                h, "library/nginx");
        await(client.fetch(endpoint(fake.base() + "/v2/dockerhub"), req, 1024));
        FakeHttp.Seen s = fake.seen.get(0);
        assertEquals("/v2/dockerhub/library/nginx/manifests/latest", s.path());
        assertEquals("n=10&x=%2F", s.query());
        assertEquals("wharf/0.1", s.userAgent());
        assertEquals("application/vnd.oci.image.index.v1+json", s.accept());
        assertNull(s.authorization(), "a client's Authorization is never forwarded");
        assertNull(s.acceptEncoding());
        assertEquals("127.0.0.1:" + fake.port(), s.host());

        await(client.fetch(endpoint(fake.base() + "/mirror/"), get("/v2/a/tags/list", "a"), 1024));
        assertEquals("/mirror/v2/a/tags/list", fake.seen.get(1).path());
    }

    @Test
    void chunkedBodyLargerThanMaxFailsFetch() throws Exception {
        // chunked: no Content-Length to check up front (distribution always sends one; the Content-Length case runs
        // against it in UpstreamClientRealRegistryTest)
        FakeHttp.Raw raw = track(new FakeHttp.Raw(s -> FakeHttp.Raw.write(s,
                "HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n400\r\n" + "z".repeat(1024) + "\r\n400\r\n"
                        + "z".repeat(1024) + "\r\n0\r\n\r\n")));
        Throwable c = awaitFailure(client.fetch(endpoint(raw.base()), get("/v2/a/manifests/big", "a"), 1500));
        assertTrue(c.getMessage().contains("larger than 1500"), c.getMessage());
    }

    @Test
    void abortClosesWithoutFurtherCallbacks() throws Exception {
        FakeHttp fake = track(FakeHttp.http());
        byte[] big = new byte[4 << 20];
        fake.on("/v2/", ex -> {
            ex.sendResponseHeaders(200, big.length);
            try (OutputStream out = ex.getResponseBody()) {
                out.write(big);
            } catch (IOException e) {
                // the client aborted
            }
        });
        RecordingListener l = new RecordingListener();
        l.onChunkHook = (t, n) -> {
            if (n == 1) {
                t.abort();
            }
        };
        client.exchange(endpoint(fake.base()), get("/v2/a/blobs/sha256:00", "a"), l);
        long deadline = System.nanoTime() + TimeUnit.SECONDS.toNanos(T);
        while (l.chunks.get() == 0 && System.nanoTime() < deadline) {
            Thread.sleep(10);
        }
        Thread.sleep(300);
        assertEquals(1, l.chunks.get());
        assertFalse(l.done.isDone(), "no terminal callback after abort");
        assertNull(l.violation.get());
    }

    @Test
    void readTimeoutDoesNotFireWhilePaused() throws Exception {
        // The fake sends half the body, then the rest only after the client has been paused for 3 timeouts.
        FakeHttp.Raw raw = track(new FakeHttp.Raw(s -> {
            FakeHttp.Raw.write(s, "HTTP/1.1 200 OK\r\nContent-Length: 10\r\n\r\n12345");
            sleep(200);
            FakeHttp.Raw.write(s, "67890");
        }));
        try (UpstreamClient fast = new UpstreamClient(group, new BearerTokens(), Duration.ofSeconds(2),
                Duration.ofMillis(300))) {
            RecordingListener l = new RecordingListener();
            l.onHeadersHook = t -> {
                t.pause();
                group.schedule(t::resume, 1000, TimeUnit.MILLISECONDS);
            };
            fast.exchange(endpoint(raw.base()), get("/v2/a/blobs/sha256:00", "a"), l);
            l.awaitComplete();
            assertEquals("1234567890", new String(l.bytes(), StandardCharsets.US_ASCII));
        }
    }

    private static void sleep(long ms) {
        try {
            Thread.sleep(ms);
        } catch (InterruptedException e) {
            Thread.currentThread().interrupt();
        }
    }
}

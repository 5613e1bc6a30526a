package dev.wharf.server.upstream;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertInstanceOf;
import static org.junit.jupiter.api.Assertions.assertNull;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import dev.wharf.testing.NettyLeaks;
import dev.wharf.auth.upstream.BearerTokens;
import dev.wharf.auth.upstream.Credentials;
import dev.wharf.server.egress.EgressProxy;
import io.netty.channel.EventLoopGroup;
import io.netty.channel.nio.NioEventLoopGroup;
import io.netty.handler.codec.http.DefaultHttpHeaders;
import io.netty.handler.codec.http.HttpHeaders;
import io.netty.handler.codec.http.HttpMethod;
import java.io.IOException;
import java.io.InputStream;
import java.io.OutputStream;
import java.net.InetAddress;
import java.net.ServerSocket;
import java.net.Socket;
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
 * UpstreamClient against in-process fakes, for behaviour the real registry (distribution 2.8, run without auth in
 * {@link UpstreamClientRegistryTest}) cannot produce here: token auth (auth.docker.io cannot run here), redirects
 * to another host, redirect loops, connections cut mid-body, stalled responses, path prefixes and proxies.
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
    void bearerChallengeThenCachedTokenIsSentUpFront() throws Exception {
        AtomicReference<String> valid = new AtomicReference<>("tok-1");
        FakeHttp fake = bearerRegistry(valid, true);
        UpstreamEndpoint ep = endpoint(fake.base());

        UpstreamResponse r = await(client.fetch(ep, get("/v2/library/x/manifests/latest", "library/x"), 1 << 20));
        assertEquals(200, r.status());
        assertEquals("{\"manifest\":true}", str(r));
        assertEquals(2, fake.count("/v2/"));
        assertEquals(1, fake.count("/token"));
        FakeHttp.Seen tokenRequest = fake.seen.stream().filter(s -> s.path().equals("/token")).findFirst().get();
        assertEquals("service=fake&scope=repository%3Alibrary%2Fx%3Apull", tokenRequest.query());

        // the second request sends the cached token up front: one round trip, no new token
        r = await(client.fetch(ep, get("/v2/library/x/manifests/latest", "library/x"), 1 << 20));
        assertEquals(200, r.status());
        assertEquals(3, fake.count("/v2/"));
        assertEquals(1, fake.count("/token"));
        List<String> auths = fake.seen.stream().filter(s -> s.path().startsWith("/v2/"))
                .map(FakeHttp.Seen::authorization).toList();
        assertEquals(java.util.Arrays.asList(null, "Bearer tok-1", "Bearer tok-1"), auths);
        // the 401 body was drained and its connection reused
        assertEquals(1, client.connectionsOpened());
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
    void rejectedTokenIsRefreshedOnceThenThe401IsGiven() throws Exception {
        FakeHttp fake = bearerRegistry(new AtomicReference<>("never"), true);
        UpstreamResponse r = await(client.fetch(endpoint(fake.base()),
                get("/v2/library/x/manifests/latest", "library/x"), 1 << 20));
        assertEquals(401, r.status());
        assertTrue(str(r).contains("UNAUTHORIZED"));
        assertEquals(3, fake.count("/v2/"), "first try, first token, refreshed token");
        assertEquals(2, fake.count("/token"));
        List<String> auths = fake.seen.stream().filter(s -> s.path().startsWith("/v2/"))
                .map(FakeHttp.Seen::authorization).toList();
        assertEquals(java.util.Arrays.asList(null, "Bearer tok-1", "Bearer tok-2"), auths);
    }

    @Test
    void tokenEndpointFailureIsAnUpstreamError() throws Exception {
        FakeHttp fake = track(FakeHttp.http());
        fake.on("/token", ex -> FakeHttp.respond(ex, 401, "{\"details\":\"incorrect username or password\"}"));
        fake.on("/v2/", ex -> {
            ex.getResponseHeaders().set("WWW-Authenticate", "Bearer realm=\"" + fake.base() + "/token\"");
            FakeHttp.respond(ex, 401, "");
        });
        Throwable e = awaitFailure(client.fetch(endpoint(fake.base(), new Credentials("bob", "hunter2")),
                get("/v2/library/x/manifests/latest", "library/x"), 1 << 20));
        assertInstanceOf(UpstreamException.class, e);
        assertTrue(e.getMessage().contains("fakeproj") && e.getMessage().contains("401"), e.getMessage());
        assertFalse(e.getMessage().contains("hunter2"), e.getMessage());
    }

    @Test
    void basicChallengeWithCredentials() throws Exception {
        String expected = "Basic " + Base64.getEncoder().encodeToString("alice:pw".getBytes(StandardCharsets.UTF_8));
        FakeHttp fake = track(FakeHttp.http());
        fake.on("/v2/", ex -> {
            if (expected.equals(ex.getRequestHeaders().getFirst("Authorization"))) {
                FakeHttp.respond(ex, 200, "ok");
            } else {
                ex.getResponseHeaders().set("WWW-Authenticate", "Basic realm=\"fake\"");
                FakeHttp.respond(ex, 401, "no");
            }
        });
        UpstreamResponse r = await(client.fetch(endpoint(fake.base(), new Credentials("alice", "pw")),
                get("/v2/a/tags/list", "a"), 1024));
        assertEquals(200, r.status());
        assertEquals(2, fake.count("/v2/"));
        // remembered: the next request sends Basic up front
        await(client.fetch(endpoint(fake.base(), new Credentials("alice", "pw")), get("/v2/a/tags/list", "a"), 1024));
        assertEquals(3, fake.count("/v2/"));
        assertEquals(expected, fake.seen.get(2).authorization());
        // without credentials the 401 is the answer, after one request
        UpstreamResponse anon = await(client.fetch(endpoint(fake.base()), get("/v2/b/tags/list", "b"), 1024));
        assertEquals(401, anon.status());
        assertEquals(4, fake.count("/v2/"));
    }

    @Test
    void redirectToAnotherHostDropsAuthorization() throws Exception {
        // The second host is 127.0.0.2 (another loopback address): another host name, like a CDN. It rejects any
        // request that carries Authorization, so the test passes only if the header was dropped.
        FakeHttp cdn = track(FakeHttp.http("127.0.0.2"));
        cdn.on("/blob", ex -> {
            if (ex.getRequestHeaders().containsKey("Authorization")) {
                FakeHttp.respond(ex, 403, "credentials leaked to the CDN");
            } else {
                FakeHttp.respond(ex, 200, "blob-bytes");
            }
        });
        AtomicReference<String> valid = new AtomicReference<>("tok-1");
        FakeHttp registry = bearerRegistry(valid, true);
        registry.on("/v2/library/x/blobs/", ex -> {
            if (!"Bearer tok-1".equals(ex.getRequestHeaders().getFirst("Authorization"))) {
                ex.getResponseHeaders().set("WWW-Authenticate", "Bearer realm=\"" + registry.base() + "/token\"");
                FakeHttp.respond(ex, 401, "");
                return;
            }
            FakeHttp.redirect(ex, 307, cdn.base() + "/blob?sig=abc");
        });
        RecordingListener l = new RecordingListener();
        client.exchange(endpoint(registry.base()), get("/v2/library/x/blobs/sha256:00", "library/x"), l);
        l.awaitComplete();
        l.assertStatus(200);
        assertEquals("blob-bytes", new String(l.bytes(), StandardCharsets.UTF_8));
        assertEquals(1, cdn.seen.size());
        assertNull(cdn.seen.get(0).authorization());
        assertEquals("sig=abc", cdn.seen.get(0).query());
        assertEquals("127.0.0.2:" + cdn.port(), cdn.seen.get(0).host());
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
    void bodyLargerThanMaxFailsFetch() throws Exception {
        FakeHttp fake = track(FakeHttp.http());
        fake.on("/v2/", ex -> FakeHttp.respond(ex, 200, "y".repeat(5000)));
        Throwable e = awaitFailure(client.fetch(endpoint(fake.base()), get("/v2/a/manifests/big", "a"), 1000));
        assertInstanceOf(UpstreamException.class, e);
        assertTrue(e.getMessage().contains("larger than 1000"), e.getMessage());

        // chunked: no Content-Length to check up front
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

    @Test
    void connectThroughHttpProxy() throws Exception {
        FakeHttp fake = track(FakeHttp.http());
        fake.on("/v2/", ex -> FakeHttp.respond(ex, 200, "via proxy"));
        ConnectProxy proxy = track(new ConnectProxy());
        try (UpstreamClient proxied = new UpstreamClient(group, new BearerTokens(), Duration.ofSeconds(2),
                Duration.ofSeconds(2), new EgressProxy("127.0.0.1", proxy.port(), List.of("example.com")))) {
            UpstreamResponse r = await(proxied.fetch(endpoint(fake.base()), get("/v2/a/tags/list", "a"), 1024));
            assertEquals("via proxy", str(r));
            assertEquals(List.of("127.0.0.1:" + fake.port()), proxy.targets);
        }
    }

    private static void sleep(long ms) {
        try {
            Thread.sleep(ms);
        } catch (InterruptedException e) {
            Thread.currentThread().interrupt();
        }
    }

    /** A minimal HTTP CONNECT proxy: reads the CONNECT head, dials the target, pipes both ways. */
    static final class ConnectProxy implements AutoCloseable {
        final ServerSocket socket = new ServerSocket(0, 50, InetAddress.getByName("127.0.0.1"));
        final List<String> targets = new java.util.concurrent.CopyOnWriteArrayList<>();

        ConnectProxy() throws IOException {
            Thread t = new Thread(() -> {
                while (!socket.isClosed()) {
                    try {
                        Socket client = socket.accept();
                        new Thread(() -> serve(client)).start();
                    } catch (IOException e) {
                        return;
                    }
                }
            });
            t.setDaemon(true);
            t.start();
        }

        int port() {
            return socket.getLocalPort();
        }

        private void serve(Socket client) {
            try (client) {
                String head = FakeHttp.Raw.readHead(client.getInputStream());
                String[] line = head.split("\r\n")[0].split(" ");
                if (!line[0].equals("CONNECT")) {
                    FakeHttp.Raw.write(client, "HTTP/1.1 405 Method Not Allowed\r\nContent-Length: 0\r\n\r\n");
                    return;
                }
                targets.add(line[1]);
                String[] hp = line[1].split(":");
                try (Socket upstream = new Socket(hp[0], Integer.parseInt(hp[1]))) {
                    FakeHttp.Raw.write(client, "HTTP/1.1 200 Connection established\r\n\r\n");
                    Thread up = new Thread(() -> pipe(client, upstream));
                    up.setDaemon(true);
                    up.start();
                    pipe(upstream, client);
                }
            } catch (IOException e) {
                // done
            }
        }

        private static void pipe(Socket from, Socket to) {
            try {
                InputStream in = from.getInputStream();
                OutputStream out = to.getOutputStream();
                byte[] buf = new byte[8192];
                int n;
                while ((n = in.read(buf)) != -1) {
                    out.write(buf, 0, n);
                    out.flush();
                }
                to.shutdownOutput();
            } catch (IOException e) {
                // a side closed
            }
        }

        @Override
        public void close() throws IOException {
            socket.close();
        }
    }
}

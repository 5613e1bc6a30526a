package dev.wharf.auth.upstream;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertNotEquals;
import static org.junit.jupiter.api.Assertions.assertNull;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import com.sun.net.httpserver.HttpExchange;
import com.sun.net.httpserver.HttpServer;
import java.io.IOException;
import java.net.InetAddress;
import java.net.InetSocketAddress;
import java.net.http.HttpClient;
import java.nio.charset.StandardCharsets;
import java.time.Clock;
import java.time.Duration;
import java.time.Instant;
import java.time.ZoneId;
import java.time.ZoneOffset;
import java.util.ArrayList;
import java.util.Base64;
import java.util.List;
import java.util.Map;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.CopyOnWriteArrayList;
import java.util.concurrent.CountDownLatch;
import java.util.concurrent.ExecutionException;
import java.util.concurrent.Executors;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.atomic.AtomicInteger;
import java.util.function.Function;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.BeforeEach;
import org.junit.jupiter.api.Test;

/**
 * The token endpoint is an in-process fake (JDK HttpServer on 127.0.0.1): it stands in for auth.docker.io, which
 * cannot be reached or run here, and lets the test count requests and control expiry.
 */
class BearerTokensTest {

    private static final long TIMEOUT_S = 10;

    private HttpServer server;
    private final List<Recorded> requests = new CopyOnWriteArrayList<>();
    private volatile Function<Recorded, Reply> reply;
    private final AtomicInteger issued = new AtomicInteger();
    private final MutableClock clock = new MutableClock(Instant.parse("2024-01-01T00:00:00Z"));
    private HttpClient http;
    private BearerTokens tokens;
    private Challenge challenge;

    record Recorded(String query, String authorization) {
    }

    record Reply(int status, String body) {
    }

    @BeforeEach
    void start() throws IOException {
        server = HttpServer.create(new InetSocketAddress(InetAddress.getLoopbackAddress(), 0), 0);
        server.setExecutor(Executors.newCachedThreadPool());
        server.createContext("/token", this::handle);
        server.start();
        reply = r -> new Reply(200, "{\"token\":\"tok-" + issued.incrementAndGet() + "\",\"expires_in\":300}");
        http = HttpClient.newBuilder().connectTimeout(Duration.ofSeconds(5)).build();
        tokens = new BearerTokens(http, clock);
        challenge = new Challenge("bearer", Map.of("realm", "http://127.0.0.1:" + server.getAddress().getPort()
                + "/token", "service", "fake registry"));
    }

    @AfterEach
    void stop() {
        server.stop(0);
        ((java.util.concurrent.ExecutorService) server.getExecutor()).shutdownNow();
    }

    private void handle(HttpExchange ex) throws IOException {
        Recorded r = new Recorded(ex.getRequestURI().getRawQuery(), ex.getRequestHeaders().getFirst("Authorization"));
        requests.add(r);
        Reply rep = reply.apply(r);
        byte[] b = rep.body().getBytes(StandardCharsets.UTF_8);
        ex.getResponseHeaders().set("Content-Type", "application/json");
        ex.sendResponseHeaders(rep.status(), b.length);
        ex.getResponseBody().write(b);
        ex.close();
    }

    private String get(String scope, Credentials c) throws Exception {
        return tokens.token(challenge, scope, c).get(TIMEOUT_S, TimeUnit.SECONDS);
    }

    @Test
    void requestCarriesEncodedServiceAndScopeAndIsCached() throws Exception {
        assertEquals("tok-1", get("repository:library/nginx:pull", null));
        assertEquals("tok-1", get("repository:library/nginx:pull", null));
        assertEquals(1, requests.size());
        assertEquals("service=fake+registry&scope=repository%3Alibrary%2Fnginx%3Apull", requests.get(0).query());
        // another scope is another key
        assertEquals("tok-2", get("repository:library/redis:pull", null));
        assertEquals(2, requests.size());
    }

    @Test
    void missingParamsAreOmitted() throws Exception {
        challenge = new Challenge("bearer", Map.of("realm", challenge.realm()));
        get(null, null);
        assertNull(requests.get(0).query());
    }

    @Test
    void concurrentCallersShareOneFetch() throws Exception {
        CountDownLatch release = new CountDownLatch(1);
        reply = r -> {
            try {
                release.await(TIMEOUT_S, TimeUnit.SECONDS);
            } catch (InterruptedException e) {
                Thread.currentThread().interrupt();
            }
            return new Reply(200, "{\"token\":\"shared\",\"expires_in\":300}");
        };
        List<CompletableFuture<String>> fs = new ArrayList<>();
        for (int i = 0; i < 20; i++) {
            fs.add(tokens.token(challenge, "repository:a:pull", null));
        }
        // let the single request reach the server before releasing it
        long deadline = System.nanoTime() + TimeUnit.SECONDS.toNanos(TIMEOUT_S);
        while (requests.isEmpty() && System.nanoTime() < deadline) {
            Thread.sleep(10);
        }
        release.countDown();
        for (CompletableFuture<String> f : fs) {
            assertEquals("shared", f.get(TIMEOUT_S, TimeUnit.SECONDS));
        }
        assertEquals(1, requests.size());
    }

    @Test
    void refreshesShortlyBeforeExpiry() throws Exception {
        // 300 s lifetime: refresh margin is min(10%, 30 s) = 30 s, so the token is handed out until t+270 s.
        assertEquals("tok-1", get("s", null));
        clock.advance(Duration.ofSeconds(269));
        assertEquals("tok-1", get("s", null));
        clock.advance(Duration.ofSeconds(2));
        assertEquals("tok-2", get("s", null));
        assertEquals(2, requests.size());
    }

    @Test
    void shortExpiresInIsRaisedToSixtySeconds() throws Exception {
        reply = r -> new Reply(200, "{\"token\":\"t" + issued.incrementAndGet() + "\",\"expires_in\":5}");
        assertEquals("t1", get("s", null));
        // 60 s lifetime, 6 s margin: still cached at 53 s
        clock.advance(Duration.ofSeconds(53));
        assertEquals("t1", get("s", null));
        clock.advance(Duration.ofSeconds(2));
        assertEquals("t2", get("s", null));
    }

    @Test
    void defaultLifetimeWithoutExpiresIn() throws Exception {
        reply = r -> new Reply(200, "{\"token\":\"t" + issued.incrementAndGet() + "\"}");
        assertEquals("t1", get("s", null));
        clock.advance(Duration.ofSeconds(50));
        assertEquals("t1", get("s", null));
        clock.advance(Duration.ofSeconds(5));
        assertEquals("t2", get("s", null));
    }

    @Test
    void issuedAtCountsFromIssue() throws Exception {
        // issued 100 s before our now, 300 s lifetime: refresh at issue + 270 s = now + 170 s
        String issuedAt = clock.instant().minusSeconds(100).atOffset(ZoneOffset.ofHours(2)).toString();
        reply = r -> new Reply(200, "{\"token\":\"t" + issued.incrementAndGet() + "\",\"expires_in\":300,"
                + "\"issued_at\":\"" + issuedAt + "\"}");
        assertEquals("t1", get("s", null));
        clock.advance(Duration.ofSeconds(169));
        assertEquals("t1", get("s", null));
        clock.advance(Duration.ofSeconds(2));
        assertEquals("t2", get("s", null));
    }

    @Test
    void acceptsAccessToken() throws Exception {
        reply = r -> new Reply(200, "{\"access_token\":\"oauth\",\"expires_in\":300}");
        assertEquals("oauth", get("s", null));
    }

    @Test
    void tokenWinsOverAccessToken() throws Exception {
        reply = r -> new Reply(200, "{\"access_token\":\"oauth\",\"token\":\"reg\"}");
        assertEquals("reg", get("s", null));
    }

    @Test
    void basicHeaderOnlyWithCredentials() throws Exception {
        get("s", null);
        assertNull(requests.get(0).authorization());
        Credentials c = new Credentials("alice", "s3cret:pw");
        get("s", c);
        assertEquals(2, requests.size(), "credentials are part of the cache key");
        String expected = "Basic " + Base64.getEncoder().encodeToString(
                "alice:s3cret:pw".getBytes(StandardCharsets.UTF_8));
        assertEquals(expected, requests.get(1).authorization());
    }

    @Test
    void invalidateForcesNewFetch() throws Exception {
        assertEquals("tok-1", get("s", null));
        tokens.invalidate(challenge, "s", null);
        assertEquals("tok-2", get("s", null));
        assertEquals("tok-2", get("s", null));
        assertEquals(2, requests.size());
    }

    @Test
    void errorStatusNamesRealmAndStatusButNoSecret() throws Exception {
        reply = r -> new Reply(401, "{\"details\":\"incorrect username or password\",\"token\":\"leaked\"}");
        Credentials c = new Credentials("bob", "hunter2");
        ExecutionException e = assertThrows(ExecutionException.class,
                () -> tokens.token(challenge, "s", c).get(TIMEOUT_S, TimeUnit.SECONDS));
        String msg = rootMessage(e);
        assertTrue(msg.contains(challenge.realm()), msg);
        assertTrue(msg.contains("401"), msg);
        assertFalse(msg.contains("hunter2"), msg);
        assertFalse(msg.contains("leaked"), msg);
        // a failure is not cached
        reply = r -> new Reply(200, "{\"token\":\"ok\"}");
        assertEquals("ok", get("s", c));
    }

    @Test
    void responseWithoutTokenFails() {
        reply = r -> new Reply(200, "{\"nothing\":true}");
        ExecutionException e = assertThrows(ExecutionException.class,
                () -> tokens.token(challenge, "s", null).get(TIMEOUT_S, TimeUnit.SECONDS));
        assertTrue(rootMessage(e).contains("neither token nor access_token"), rootMessage(e));
    }

    @Test
    void unreachableRealmFails() throws Exception {
        int port;
        try (java.net.ServerSocket s = new java.net.ServerSocket(0, 1, InetAddress.getLoopbackAddress())) {
            port = s.getLocalPort();
        }
        Challenge dead = new Challenge("bearer", Map.of("realm", "http://127.0.0.1:" + port + "/token"));
        ExecutionException e = assertThrows(ExecutionException.class,
                () -> tokens.token(dead, "s", null).get(TIMEOUT_S, TimeUnit.SECONDS));
        assertTrue(rootMessage(e).contains("127.0.0.1:" + port), rootMessage(e));
    }

    @Test
    void challengeWithoutRealmFails() {
        Challenge none = new Challenge("bearer", Map.of("service", "x"));
        assertTrue(tokens.token(none, "s", null).isCompletedExceptionally());
        tokens.invalidate(none, "s", null); // no throw
    }

    @Test
    void noArgConstructorWorks() throws Exception {
        BearerTokens plain = new BearerTokens();
        assertEquals("tok-1", plain.token(challenge, "s", null).get(TIMEOUT_S, TimeUnit.SECONDS));
        assertNotEquals(0, requests.size());
    }

    private static String rootMessage(Throwable t) {
        StringBuilder b = new StringBuilder();
        for (Throwable c = t; c != null; c = c.getCause()) {
            b.append(c.getMessage()).append(" | ");
        }
        return b.toString();
    }

    // ---- issue 8: hostile upstreams (items 7, 8, 11)

    private TokenOwner owner(String project, String upstreamHost) {
        return new TokenOwner(project, upstreamHost);
    }

    @Test
    void plainHttpRealmOnAnotherHostGetsNoBasicCredentials() throws Exception {
        Credentials bob = new Credentials("bob", "hunter2");
        tokens.token(challenge, "repository:a:pull", bob, null, owner("p", "registry.example"))
                .get(TIMEOUT_S, TimeUnit.SECONDS);
        assertNull(requests.get(0).authorization(), "credentials went to a plain-http realm on another host");
        // On the project's own upstream host, the realm gets them.
        tokens.token(challenge, "repository:a:pull", bob, null, owner("p", "127.0.0.1"))
                .get(TIMEOUT_S, TimeUnit.SECONDS);
        assertEquals(BearerTokens.basic(bob), requests.get(1).authorization());
    }

    @Test
    void tokensAreKeptApartByProjectAndByCredentials() throws Exception {
        String scope = "repository:a:pull";
        TokenOwner p = owner("p", "127.0.0.1");
        String first = tokens.token(challenge, scope, new Credentials("AWS", "one"), null, p)
                .get(TIMEOUT_S, TimeUnit.SECONDS);
        // Same user name, another password (ECR's user is always "AWS"): another token.
        String second = tokens.token(challenge, scope, new Credentials("AWS", "two"), null, p)
                .get(TIMEOUT_S, TimeUnit.SECONDS);
        // Same credentials, another project: another token.
        String third = tokens.token(challenge, scope, new Credentials("AWS", "one"), null, owner("q", "127.0.0.1"))
                .get(TIMEOUT_S, TimeUnit.SECONDS);
        assertEquals(3, requests.size());
        assertEquals(3, java.util.Set.of(first, second, third).size());
        // and each is cached under its own key
        assertEquals(first, tokens.token(challenge, scope, new Credentials("AWS", "one"), null, p)
                .get(TIMEOUT_S, TimeUnit.SECONDS));
        assertEquals(3, requests.size());
    }

    @Test
    void anOversizedTokenResponseIsRefused() {
        String big = "x".repeat(2 << 20);
        reply = r -> new Reply(200, "{\"token\":\"" + big + "\",\"expires_in\":300}");
        ExecutionException e = assertThrows(ExecutionException.class,
                () -> tokens.token(challenge, "repository:a:pull", null).get(TIMEOUT_S, TimeUnit.SECONDS));
        assertTrue(e.getCause().getMessage().contains("larger than"), e.getCause().getMessage());
    }

    @Test
    void aTokenResponseThatTricklesFailsAtTheDeadline() throws Exception {
        server.createContext("/slow", ex -> {
            ex.sendResponseHeaders(200, 4000);
            try (var out = ex.getResponseBody()) {
                for (int i = 0; i < 40; i++) { // a byte every 250 ms: never idle, never done within the deadline
                    out.write('{');
                    out.flush();
                    Thread.sleep(250);
                }
            } catch (IOException | InterruptedException gone) {
                // the client gave up
            }
        });
        tokens.deadline(Duration.ofSeconds(1));
        Challenge slow = new Challenge("bearer", Map.of("realm", "http://127.0.0.1:" + server.getAddress().getPort()
                + "/slow"));
        long start = System.nanoTime();
        ExecutionException e = assertThrows(ExecutionException.class,
                () -> tokens.token(slow, "repository:a:pull", null).get(TIMEOUT_S, TimeUnit.SECONDS));
        assertTrue(e.getCause().getMessage().contains("within 1000 ms"), e.getCause().getMessage());
        assertTrue(System.nanoTime() - start < TimeUnit.SECONDS.toNanos(5));
    }

    /** A clock the test moves by hand. */
    static final class MutableClock extends Clock {
        private volatile Instant now;

        MutableClock(Instant start) {
            this.now = start;
        }

        void advance(Duration d) {
            now = now.plus(d);
        }

        @Override
        public ZoneId getZone() {
            return ZoneOffset.UTC;
        }

        @Override
        public Clock withZone(ZoneId zone) {
            return this;
        }

        @Override
        public Instant instant() {
            return now;
        }
    }
}

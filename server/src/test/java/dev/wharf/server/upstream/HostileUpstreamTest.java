package dev.wharf.server.upstream;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertNull;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import dev.wharf.testing.NettyLeaks;
import dev.wharf.auth.upstream.BearerTokens;
import dev.wharf.server.config.UpstreamLimits;
import dev.wharf.server.egress.EgressProxy;
import io.netty.channel.EventLoopGroup;
import io.netty.channel.nio.NioEventLoopGroup;
import io.netty.handler.codec.http.DefaultHttpHeaders;
import io.netty.handler.codec.http.HttpMethod;
import java.net.InetAddress;
import java.net.URI;
import java.time.Duration;
import java.util.ArrayList;
import java.util.List;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.ExecutionException;
import java.util.concurrent.TimeUnit;
import org.junit.jupiter.api.AfterAll;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.Test;

/**
 * Issue 8, "hostile upstreams", at the upstream client: redirects to internal addresses, oversized error bodies,
 * manifests that never finish, idle connections and pools. The upstreams are in-process fakes ({@link FakeHttp}):
 * a real registry does not redirect to metadata addresses, trickle a manifest or send a 5 MiB 404.
 *
 * <p>No test connects anywhere but 127.0.0.1. Redirects to other addresses are refused before any connection; so
 * that a broken check could not connect out either, the client sends every non-loopback host through an egress
 * proxy that is itself a local fake, which records the CONNECT and refuses it.
 */
class HostileUpstreamTest {
    private static final long T = RecordingListener.TIMEOUT_S;
    private static EventLoopGroup group;
    private final List<AutoCloseable> closeables = new ArrayList<>();

    @BeforeAll
    static void startGroup() {
        group = new NioEventLoopGroup(2);
    }

    @AfterAll
    static void stopGroup() throws Exception {
        group.shutdownGracefully(0, 1, TimeUnit.SECONDS).await(10, TimeUnit.SECONDS);
        NettyLeaks.assertNoLeaks();
    }

    @AfterEach
    void close() throws Exception {
        for (AutoCloseable c : closeables) {
            c.close();
        }
    }

    private <C extends AutoCloseable> C track(C c) {
        closeables.add(c);
        return c;
    }

    /** A local stand-in for the outside world: it records each CONNECT and refuses it. */
    private FakeHttp.Raw outside() throws Exception {
        return track(new FakeHttp.Raw(s -> FakeHttp.Raw.write(s,
                "HTTP/1.1 403 Forbidden\r\nContent-Length: 0\r\nConnection: close\r\n\r\n")));
    }

    private UpstreamClient client(UpstreamLimits limits, FakeHttp.Raw outside) {
        EgressProxy proxy = outside == null ? null
                : new EgressProxy("127.0.0.1", outside.socket.getLocalPort(), List.of("127.0.0.1"));
        return track(new UpstreamClient(group, new BearerTokens(), Duration.ofSeconds(2), Duration.ofSeconds(2),
                proxy, limits));
    }

    private static UpstreamLimits limits(Duration deadline, Duration idle) {
        UpstreamLimits d = UpstreamLimits.DEFAULTS;
        return new UpstreamLimits(d.manifestSize(), d.tags(), deadline, d.minUpstreamRate(),
                d.minUpstreamRateWindow(), idle);
    }

    private static UpstreamEndpoint endpoint(String base) {
        return new UpstreamEndpoint(URI.create(base), null, null, "hostile");
    }

    private static UpstreamRequest get(String path) {
        return new UpstreamRequest(HttpMethod.GET, path, null, new DefaultHttpHeaders(), "a");
    }

    private static Throwable failure(CompletableFuture<UpstreamResponse> f) {
        ExecutionException e = assertThrows(ExecutionException.class, () -> f.get(T, TimeUnit.SECONDS));
        return e.getCause();
    }

    // ---------------------------------------------------------------- item 6: redirects

    @Test
    void redirectToALoopbackSecretIsRefusedWhenTheUpstreamIsNotOnLoopback() throws Exception {
        FakeHttp secret = track(FakeHttp.http());
        secret.on("/", ex -> FakeHttp.respond(ex, 200, "the secret"));
        FakeHttp upstream = track(FakeHttp.http());
        upstream.on("/v2/", ex -> FakeHttp.redirect(ex, 307, secret.base() + "/latest/meta-data/"));
        UpstreamClient client = client(UpstreamLimits.DEFAULTS, null);
        // The upstream is named "localhost"; for the check that name is a public address, as a real registry's is.
        InetAddress publicAddress = InetAddress.getByAddress("localhost", new byte[] {(byte) 198, 51, 100, 7});
        client.resolveRedirectsWith(host -> CompletableFuture.completedFuture(List.of(publicAddress)));
        String base = "http://localhost:" + upstream.port();
        Throwable e = failure(client.fetch(endpoint(base), get("/v2/a/manifests/latest"), 1 << 20));
        assertTrue(e.getMessage().contains("refused"), e.getMessage());
        assertEquals(0, secret.seen.size(), "the secret server saw a request");
        assertEquals(1, upstream.seen.size());
    }

    @Test
    void redirectToTheMetadataAddressIsRefusedBeforeConnecting() throws Exception {
        FakeHttp.Raw outside = outside();
        FakeHttp upstream = track(FakeHttp.http());
        upstream.on("/v2/", ex -> FakeHttp.redirect(ex, 302, "http://169.254.169.254/latest/meta-data/"));
        UpstreamClient client = client(UpstreamLimits.DEFAULTS, outside);
        Throwable e = failure(client.fetch(endpoint(upstream.base()), get("/v2/a/manifests/latest"), 1 << 20));
        assertTrue(e.getMessage().contains("link-local or metadata"), e.getMessage());
        assertEquals(List.of(), outside.requestHeads, "a connection to 169.254.169.254 was attempted");
        assertEquals(1, client.connectionsOpened());
    }

    @Test
    void redirectToAPrivateAddressIsRefusedForAnUpstreamThatIsNotPrivate() throws Exception {
        FakeHttp.Raw outside = outside();
        FakeHttp upstream = track(FakeHttp.http());
        upstream.on("/v2/", ex -> FakeHttp.redirect(ex, 302, "http://10.0.0.1/blob"));
        UpstreamClient client = client(UpstreamLimits.DEFAULTS, outside);
        Throwable e = failure(client.fetch(endpoint(upstream.base()), get("/v2/a/blobs/sha256:00"), 1 << 20));
        assertTrue(e.getMessage().contains("a private address"), e.getMessage());
        assertEquals(List.of(), outside.requestHeads, "a connection to 10.0.0.1 was attempted");
    }

    @Test
    void redirectsThatStayPublicOrOnTheUpstreamsOwnRangeAreFollowed() throws Exception {
        FakeHttp target = track(FakeHttp.http());
        target.on("/", ex -> FakeHttp.respond(ex, 200, "blob"));
        FakeHttp upstream = track(FakeHttp.http());
        upstream.on("/v2/", ex -> FakeHttp.redirect(ex, 307, target.base() + "/blob"));
        UpstreamClient client = client(UpstreamLimits.DEFAULTS, null);
        // A loopback upstream may redirect to loopback (every test registry here does).
        UpstreamResponse r = client.fetch(endpoint(upstream.base()), get("/v2/a/blobs/sha256:00"), 1 << 20)
                .get(T, TimeUnit.SECONDS);
        assertEquals(200, r.status());
    }

    @Test
    void theGuardsRules() throws Exception {
        RedirectGuard guard = new RedirectGuard(host -> CompletableFuture.failedFuture(
                new AssertionError("no name is looked up here: " + host)));
        UpstreamEndpoint https = endpoint("https://127.0.0.1:8443");
        URI from = URI.create("https://127.0.0.1:8443/v2/a/blobs/sha256:00");
        assertTrue(check(guard, https, from, "http://127.0.0.1:8080/x").contains("https to http"));
        assertNull(check(guard, https, from, "https://127.0.0.2:9/x"));
        for (String forbidden : List.of("169.254.169.254", "[fe80::1]", "[fd00:ec2::254]", "224.0.0.1")) {
            assertTrue(check(guard, https, from, "https://" + forbidden + "/x").contains("link-local"), forbidden);
        }
        UpstreamEndpoint publicOne = endpoint("https://203.0.113.9");
        URI fromPublic = URI.create("https://203.0.113.9/v2/a/blobs/sha256:00");
        for (String inside : List.of("10.0.0.1", "172.16.0.1", "192.168.1.1", "127.0.0.1", "[::1]", "[fc00::1]",
                "100.64.0.1", "0.0.0.0")) {
            assertTrue(check(guard, publicOne, fromPublic, "https://" + inside + "/x").contains("refused"), inside);
        }
        assertNull(check(guard, publicOne, fromPublic, "https://198.51.100.1/x"));
        UpstreamEndpoint allowing = new UpstreamEndpoint(URI.create("https://203.0.113.9"), null, null, "p", true);
        assertNull(check(guard, allowing, fromPublic, "https://10.0.0.1/x"));
        assertTrue(check(guard, allowing, fromPublic, "https://169.254.169.254/x").contains("link-local"));
        UpstreamEndpoint privateOne = endpoint("https://10.1.2.3");
        assertNull(check(guard, privateOne, URI.create("https://10.1.2.3/v2/"), "https://10.9.9.9/x"));
        assertTrue(check(guard, privateOne, URI.create("https://10.1.2.3/v2/"), "https://127.0.0.1/x")
                .contains("loopback"));
    }

    private static String check(RedirectGuard guard, UpstreamEndpoint endpoint, URI from, String to)
            throws Exception {
        return guard.check(endpoint, from, URI.create(to)).get(T, TimeUnit.SECONDS);
    }

    // ---------------------------------------------------------------- item 7: error bodies

    @Test
    void anOversizedErrorBodyIsCutAndTheStatusStands() throws Exception {
        FakeHttp upstream = track(FakeHttp.http());
        String big = "e".repeat(5 << 20);
        upstream.on("/v2/", ex -> FakeHttp.respond(ex, 404, big));
        UpstreamClient client = client(UpstreamLimits.DEFAULTS, null);
        UpstreamResponse r = client.fetch(endpoint(upstream.base()), get("/v2/a/manifests/latest"), 4 << 20)
                .get(T, TimeUnit.SECONDS);
        assertEquals(404, r.status());
        assertEquals(BodyAggregator.MAX_ERROR_BODY, r.body().length);
    }

    // ---------------------------------------------------------------- item 8: the manifest deadline

    @Test
    void aManifestThatTricklesFailsAtTheDeadline() throws Exception {
        FakeHttp.Raw upstream = track(new FakeHttp.Raw(s -> {
            FakeHttp.Raw.write(s, "HTTP/1.1 200 OK\r\nContent-Type: application/json\r\nContent-Length: 60\r\n\r\n");
            try {
                for (int i = 0; i < 60; i++) { // a byte every 200 ms: never idle for the 2 s read timeout
                    FakeHttp.Raw.write(s, " ");
                    Thread.sleep(200);
                }
            } catch (InterruptedException | RuntimeException gone) {
                // the client gave up
            }
        }));
        UpstreamClient client = client(limits(Duration.ofSeconds(1), Duration.ofSeconds(60)), null);
        long start = System.nanoTime();
        Throwable e = failure(client.fetch(endpoint(upstream.base()), get("/v2/a/manifests/latest"), 1 << 20));
        assertTrue(e.getMessage().contains("limits.manifestDeadline"), e.getMessage());
        assertTrue(System.nanoTime() - start < TimeUnit.SECONDS.toNanos(5), "the deadline did not cut it short");
    }

    // ---------------------------------------------------------------- item 10: idle connections and pools

    @Test
    void idleConnectionsCloseAndTheirPoolsGo() throws Exception {
        FakeHttp upstream = track(FakeHttp.http());
        upstream.on("/v2/", ex -> FakeHttp.respond(ex, 200, "ok"));
        FakeHttp target = track(FakeHttp.http());
        target.on("/", ex -> FakeHttp.respond(ex, 200, "redirected"));
        upstream.on("/v2/a/blobs/", ex -> FakeHttp.redirect(ex, 307,
                "http://localhost:" + target.port() + "/blob"));
        UpstreamClient client = client(limits(Duration.ofSeconds(60), Duration.ofMillis(500)), null);
        assertEquals(200, client.fetch(endpoint(upstream.base()), get("/v2/a/manifests/x"), 1024)
                .get(T, TimeUnit.SECONDS).status());
        assertEquals(200, client.fetch(endpoint(upstream.base()), get("/v2/a/blobs/sha256:00"), 1024)
                .get(T, TimeUnit.SECONDS).status());
        assertEquals(2, client.connectionsOpen());
        assertEquals(2, client.poolCount());
        long deadline = System.nanoTime() + TimeUnit.SECONDS.toNanos(10);
        while ((client.connectionsOpen() > 0 || client.poolCount() > 0) && System.nanoTime() < deadline) {
            Thread.sleep(50);
        }
        assertEquals(0, client.connectionsOpen(), "idle connections still open");
        assertEquals(0, client.poolCount(), "pools of idle hosts still kept");
        // and the client still works afterwards
        assertEquals(200, client.fetch(endpoint(upstream.base()), get("/v2/a/manifests/x"), 1024)
                .get(T, TimeUnit.SECONDS).status());
    }
}

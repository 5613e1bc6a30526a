package dev.wharf.server.http;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertTrue;

import dev.wharf.storage.BlobInfo;
import dev.wharf.storage.Digest;
import dev.wharf.testing.ImageSeeder;
import dev.wharf.testing.InProcessWharf;
import dev.wharf.testing.Pulls;
import dev.wharf.testing.RawHttp;
import dev.wharf.testing.RealRegistry;
import dev.wharf.testing.WharfYaml;
import java.io.InputStream;
import java.net.InetSocketAddress;
import java.net.Socket;
import java.net.URI;
import java.net.http.HttpRequest;
import java.net.http.HttpResponse;
import java.nio.file.Path;
import java.time.Duration;
import java.util.ArrayList;
import java.util.List;
import java.util.Optional;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.extension.RegisterExtension;
import org.junit.jupiter.api.io.TempDir;

/**
 * {@code limits:} against raw sockets, with short timeouts so the tests run fast: half request heads, idle
 * keep-alive connections, clients that read nothing, and one connection too many.
 */
class ClientLimitsTest {
    @RegisterExtension
    static final RealRegistry upstream = RealRegistry.plain().inProcessWharf(r -> WharfYaml.oneProject("hub", r.url())
            .limit("headerTimeout", "1s").limit("idleTimeout", "2s").limit("writeTimeout", "1s"));

    @Test
    void halfARequestHeadIsClosedAfterTheHeaderTimeout(InProcessWharf wharf) throws Exception {
        try (Socket s = RawHttp.connect(wharf.server().port(), Duration.ofSeconds(10))) {
            long start = System.nanoTime();
            RawHttp.send(s, "GET /v2/ HTTP/1.1\r\nHost: wharf\r\n");
            assertTrue(RawHttp.closedWithin(s, Duration.ofSeconds(10)), "a half head keeps its connection");
            assertTrue(System.nanoTime() - start >= Duration.ofMillis(900).toNanos(), "closed before the timeout");
        }
        try (Socket silent = RawHttp.connect(wharf.server().port(), Duration.ofSeconds(10))) {
            assertTrue(RawHttp.closedWithin(silent, Duration.ofSeconds(10)), "a silent connection stays open");
        }
    }

    @Test
    void anIdleKeepAliveConnectionClosesAfterTheIdleTimeoutNotBefore(InProcessWharf wharf) throws Exception {
        try (Socket s = RawHttp.connect(wharf.server().port(), Duration.ofSeconds(10))) {
            InputStream in = s.getInputStream();
            for (int i = 0; i < 2; i++) {
                RawHttp.send(s, RawHttp.request("GET", "/v2/"));
                assertEquals(200, RawHttp.read(in, false).status());
            }
            long answered = System.nanoTime();
            assertTrue(RawHttp.closedWithin(s, Duration.ofSeconds(10)), "an idle connection stays open");
            long open = System.nanoTime() - answered;
            // 2s idle; the 1s header timeout must not apply between requests.
            assertTrue(open >= Duration.ofMillis(1800).toNanos(), "closed after " + open / 1_000_000 + " ms");
        }
    }

    @Test
    void aClientThatReadsNothingIsAbortedAndItsBlobLeaseReleased(InProcessWharf wharf, ImageSeeder seeder)
            throws Exception {
        URI registry = upstream.registry().url();
        ImageSeeder.Blob blob = seeder.pushRandomBlob(registry, "lib/big", 32 * Pulls.MiB, 81);
        String path = "/v2/hub/lib/big/blobs/" + blob.digest();
        HttpResponse<Void> warm = Pulls.HTTP.send(HttpRequest.newBuilder(wharf.url().resolve(path)).build(),
                HttpResponse.BodyHandlers.discarding());
        assertEquals(200, warm.statusCode());
        Digest digest = Digest.parse(blob.digest());
        var store = wharf.server().store();
        assertTrue(Pulls.await(Duration.ofSeconds(10), () -> store.blobInfo(digest).isPresent()
                && !store.blobInfo(digest).get().pinned()), "the warm-up's lease is still held");

        try (Socket s = new Socket()) {
            s.setReceiveBufferSize(4096);
            s.connect(new InetSocketAddress("127.0.0.1", wharf.server().port()), 5_000);
            RawHttp.send(s, RawHttp.request("GET", path));
            assertTrue(Pulls.await(Duration.ofSeconds(10), () -> pinned(store.blobInfo(digest))),
                    "the response never took its lease");
            // The client reads nothing: after the 1s write timeout the response is aborted and the lease goes.
            assertTrue(Pulls.await(Duration.ofSeconds(15), () -> !pinned(store.blobInfo(digest))),
                    "a client that reads nothing holds its blob lease");
            assertTrue(RawHttp.closedWithin(s, Duration.ofSeconds(10)), "the stalled response was not aborted");
        }
    }

    private static boolean pinned(Optional<BlobInfo> info) {
        return info.isPresent() && info.get().pinned();
    }

    @Test
    void connectionsBeyondMaxConnectionsGet503AndAreClosed(@TempDir Path dir) throws Exception {
        try (InProcessWharf small = InProcessWharf.start(dir, WharfYaml.oneProject("hub", "http://127.0.0.1:9")
                .limit("maxConnections", 2))) {
            List<Socket> held = new ArrayList<>();
            try {
                for (int i = 0; i < 2; i++) {
                    Socket s = RawHttp.connect(small.server().port(), Duration.ofSeconds(10));
                    held.add(s);
                    RawHttp.send(s, RawHttp.request("GET", "/v2/"));
                    assertEquals(200, RawHttp.read(s.getInputStream(), false).status());
                }
                try (Socket third = RawHttp.connect(small.server().port(), Duration.ofSeconds(10))) {
                    RawHttp.send(third, RawHttp.request("GET", "/v2/"));
                    RawHttp.Response refused = RawHttp.read(third.getInputStream(), false);
                    assertEquals(503, refused.status(), refused.text());
                    assertEquals("1", refused.header("Retry-After"));
                    assertTrue(RawHttp.closedWithin(third, Duration.ofSeconds(5)), "the refused connection stays");
                }
                held.remove(0).close();
                assertTrue(Pulls.await(Duration.ofSeconds(10), () -> statusOfNewConnection(small) == 200),
                        "a slot freed by a close is not given to a new connection");
            } finally {
                for (Socket s : held) {
                    s.close();
                }
            }
        }
    }

    private static int statusOfNewConnection(InProcessWharf wharf) {
        try (Socket s = RawHttp.connect(wharf.server().port(), Duration.ofSeconds(5))) {
            RawHttp.send(s, RawHttp.request("GET", "/v2/", "Connection: close"));
            return RawHttp.read(s.getInputStream(), false).status();
        } catch (java.io.IOException e) {
            return -1;
        }
    }
}

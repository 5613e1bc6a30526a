package dev.wharf.server.app;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

import dev.wharf.testing.DistributionRegistry;
import dev.wharf.testing.ImageSeeder;
import dev.wharf.testing.CountTap;
import dev.wharf.testing.RealRegistry;
import dev.wharf.testing.TcpRelay;
import dev.wharf.testing.ThrottleTap;
import dev.wharf.testing.WharfProcess;
import java.io.InputStream;
import java.net.InetSocketAddress;
import java.net.URI;
import java.net.http.HttpClient;
import java.net.http.HttpRequest;
import java.net.http.HttpResponse;
import java.security.MessageDigest;
import java.time.Duration;
import java.util.HexFormat;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.atomic.AtomicLong;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.extension.ExtendWith;

/**
 * SIGTERM during a cold pull: wharf stops accepting but finishes the response in flight, the client gets the
 * whole blob, and the process exits 0. The upstream sits behind a throttled relay so the pull is still running
 * when the signal arrives.
 */
@ExtendWith(RealRegistry.class)
class GracefulStopTest {
    private static final long SIZE = 256L << 20;

    @Test
    void sigtermFinishesInFlightPullAndExitsZero(DistributionRegistry registry, ImageSeeder seeder) throws Exception {
        ImageSeeder.Blob blob = seeder.pushRandomBlob(registry.url(), "big/blob", SIZE, 7);
        try (TcpRelay hop = TcpRelay.toLocalPort(registry.port(), new CountTap(), new ThrottleTap(64L << 20));
             WharfProcess wharf = WharfProcess.builder()
                     .project("p", URI.create(hop.url())).stopTimeout(Duration.ofSeconds(40)).start()) {
            HttpClient http = HttpClient.newHttpClient();
            AtomicLong received = new AtomicLong();
            CompletableFuture<String> digest = CompletableFuture.supplyAsync(() -> {
                try {
                    HttpResponse<InputStream> r = http.send(HttpRequest.newBuilder(
                            URI.create(wharf.url() + "/v2/p/big/blob/blobs/" + blob.digest())).build(),
                            HttpResponse.BodyHandlers.ofInputStream());
                    MessageDigest sha = MessageDigest.getInstance("SHA-256");
                    try (InputStream in = r.body()) {
                        byte[] buf = new byte[1 << 16];
                        int n;
                        while ((n = in.read(buf)) > 0) {
                            sha.update(buf, 0, n);
                            received.addAndGet(n);
                        }
                    }
                    return "sha256:" + HexFormat.of().formatHex(sha.digest());
                } catch (Exception e) {
                    return "failed: " + e;
                }
            });
            long deadline = System.nanoTime() + TimeUnit.SECONDS.toNanos(30);
            while (received.get() < (16L << 20) && System.nanoTime() < deadline) {
                Thread.sleep(20);
            }
            assertTrue(received.get() > 0 && received.get() < SIZE,
                    "the pull must be in flight when SIGTERM is sent (received " + received.get() + ")");
            int exit = wharf.stop();
            assertEquals(blob.digest(), digest.get(60, TimeUnit.SECONDS), "the client must get the whole blob");
            assertEquals(SIZE, received.get());
            assertEquals(0, exit, "wharf must exit 0 after a SIGTERM drain; log:\n" + wharf.log());
        }
    }
}

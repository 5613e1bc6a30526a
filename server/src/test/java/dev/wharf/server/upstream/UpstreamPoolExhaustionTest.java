package dev.wharf.server.upstream;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.ObjectMapper;
import dev.wharf.testing.DistributionRegistry;
import dev.wharf.testing.Fetch;
import dev.wharf.testing.ImageSeeder;
import dev.wharf.testing.InProcessWharf;
import dev.wharf.testing.Pulls;
import dev.wharf.testing.RealRegistry;
import dev.wharf.testing.RequestLogTap;
import dev.wharf.testing.TcpRelay;
import dev.wharf.testing.ThrottleTap;
import dev.wharf.testing.WharfYaml;
import java.net.URI;
import java.net.http.HttpResponse;
import java.nio.file.Path;
import java.time.Duration;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.TimeUnit;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.Timeout;
import org.junit.jupiter.api.extension.ExtendWith;
import org.junit.jupiter.api.io.TempDir;

/**
 * The upstream connection pool runs out (issue 8 item 21): with {@code limits.upstreamConnections: 1} a slow blob
 * transfer from a real registry (behind a throttling relay) holds the one connection, so a manifest request waits
 * {@code limits.upstreamAcquireTimeout} for it and then gets a 503 OCI error with Retry-After that says why; the
 * blob still arrives whole, and once it has, the pool serves the manifest.
 */
@Timeout(value = 2, unit = TimeUnit.MINUTES)
@ExtendWith(RealRegistry.class)
class UpstreamPoolExhaustionTest {
    private static final ObjectMapper JSON = new ObjectMapper();
    private static final String ACCEPT = ImageSeeder.OCI_MANIFEST;

    @TempDir
    Path tmp;

    @Test
    void aRequestThatFindsEveryConnectionBusyGetsA503AfterTheAcquireTimeoutAndThePoolRecovers(
            DistributionRegistry registry, ImageSeeder seeder) throws Exception {
        ImageSeeder.Blob blob = seeder.pushRandomBlob(registry.url(), "pool/big", 2 * Pulls.MiB, 2101);
        ImageSeeder.Image image = seeder.pushOciImage(registry.url(), "pool/app", "v1", 4096, 2102);
        try (TcpRelay relay = TcpRelay.toLocalPort(registry.port(), new RequestLogTap(), new ThrottleTap(256 << 10));
             InProcessWharf wharf = InProcessWharf.start(tmp.resolve("store"), WharfYaml.oneProject("hub", relay.url())
                     .limit("upstreamConnections", 1).limit("upstreamAcquireTimeout", "1s"))) {
            RequestLogTap log = relay.tap(RequestLogTap.class);
            // 2 MiB at 256 KiB/s: the blob holds the pool's one connection for about 8 s.
            CompletableFuture<Fetch> slow = CompletableFuture.supplyAsync(() -> {
                try {
                    return Pulls.get(wharf.url().resolve("/v2/hub/pool/big/blobs/" + blob.digest()), null, null,
                            Duration.ofSeconds(90));
                } catch (InterruptedException e) {
                    throw new IllegalStateException(e);
                }
            });
            assertTrue(Pulls.await(Duration.ofSeconds(30), () -> log.count("GET", "/pool/big/blobs/") == 1),
                    "the blob GET never reached the upstream: " + log.requests());

            URI manifest = wharf.url().resolve("/v2/hub/pool/app/manifests/v1");
            long asked = System.nanoTime();
            HttpResponse<byte[]> busy = Pulls.getBytes(manifest, "Accept", ACCEPT);
            long waitedMillis = TimeUnit.NANOSECONDS.toMillis(System.nanoTime() - asked);
            assertEquals(503, busy.statusCode(), Pulls.utf8(busy.body()));
            assertTrue(busy.headers().firstValue("Content-Type").orElse("").startsWith("application/json"));
            JsonNode error = JSON.readTree(busy.body()).path("errors").path(0);
            assertEquals("UNAVAILABLE", error.path("code").asText(), Pulls.utf8(busy.body()));
            String message = error.path("message").asText();
            assertTrue(message.contains("no free connection") && message.contains("project hub"), message);
            assertTrue(busy.headers().firstValue("Retry-After").isPresent(), busy.headers().map().toString());
            assertTrue(waitedMillis >= 900, "answered after " + waitedMillis + " ms, before the acquire timeout");
            assertEquals(0, log.count(null, "/pool/app/manifests/"), "the manifest request never got a connection");
            assertTrue(!slow.isDone(), "the blob was meant to hold the connection throughout");

            relay.tap(ThrottleTap.class).setBytesPerSecond(0);
            Fetch whole = slow.get(60, TimeUnit.SECONDS);
            assertTrue(whole.clean(), whole.describe());
            assertEquals(blob.digest(), whole.digest());

            HttpResponse<byte[]> recovered = Pulls.getBytes(manifest, "Accept", ACCEPT);
            assertEquals(200, recovered.statusCode(), "the pool recovered: " + Pulls.utf8(recovered.body()));
            assertArrayEquals(image.manifest(), recovered.body());
        }
    }
}

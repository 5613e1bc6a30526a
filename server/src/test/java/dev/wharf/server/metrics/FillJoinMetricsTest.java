package dev.wharf.server.metrics;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.ObjectMapper;
import dev.wharf.testing.DistributionRegistry;
import dev.wharf.testing.ImageSeeder;
import dev.wharf.testing.RealRegistry;
import dev.wharf.testing.InProcessWharf;
import dev.wharf.testing.CountTap;
import dev.wharf.testing.TcpRelay;
import dev.wharf.testing.ThrottleTap;
import dev.wharf.testing.WharfYaml;
import java.io.InputStream;
import java.net.InetSocketAddress;
import java.net.URI;
import java.net.http.HttpClient;
import java.net.http.HttpRequest;
import java.net.http.HttpResponse;
import java.nio.file.Files;
import java.nio.file.Path;
import java.security.MessageDigest;
import java.time.Duration;
import java.util.ArrayList;
import java.util.HexFormat;
import java.util.List;
import java.util.concurrent.ExecutorService;
import java.util.concurrent.Executors;
import java.util.concurrent.Future;
import java.util.concurrent.TimeUnit;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.extension.ExtendWith;
import org.junit.jupiter.api.Timeout;
import org.junit.jupiter.api.io.TempDir;

/**
 * N clients of one cold blob: the first starts the fill, the other N-1 join it while the upstream transfer is held
 * to a crawl (so none can arrive after the commit), then it runs at full speed. wharf_fill_joins_total is N-1, the
 * upstream sends the blob once, and each client's access-log line names the fill.
 */
@Timeout(value = 3, unit = TimeUnit.MINUTES)
@ExtendWith(RealRegistry.class)
class FillJoinMetricsTest {
    private static final int CLIENTS = 4;
    private static final long SIZE = 6L << 20;
    private static final HttpClient HTTP = HttpClient.newBuilder().version(HttpClient.Version.HTTP_1_1)
            .connectTimeout(Duration.ofSeconds(5)).build();

    @TempDir
    Path tmp;

    @Test
    void concurrentClientsOfAColdBlobJoinOneFill(DistributionRegistry registry, ImageSeeder seeder) throws Exception {
        ExecutorService clients = Executors.newFixedThreadPool(CLIENTS);
        try {
            ImageSeeder.Blob blob = seeder.pushRandomBlob(registry.url(), "metrics/joins", SIZE, 77);
            // 16 KiB/s until every client is in: the fill cannot finish before the last one has joined.
            try (TcpRelay hop = TcpRelay.toLocalPort(registry.port(), new CountTap(), new ThrottleTap(16 << 10));
                    InProcessWharf wharf = InProcessWharf.start(tmp.resolve("store"),
                            WharfYaml.oneProject("up", hop.url()).accessLog(tmp.resolve("access.log")))) {
                URI uri = wharf.url().resolve("/v2/up/metrics/joins/blobs/" + blob.digest());
                List<Future<String>> results = new ArrayList<>();
                results.add(clients.submit(() -> fetch(uri)));
                awaitFillRunning(wharf);
                for (int i = 1; i < CLIENTS; i++) {
                    results.add(clients.submit(() -> fetch(uri)));
                }
                long deadline = System.nanoTime() + 10_000_000_000L;
                while (wharf.server().inFlight() < CLIENTS) {
                    assertTrue(System.nanoTime() < deadline, "only " + wharf.server().inFlight() + " of " + CLIENTS
                            + " requests reached wharf in 10 s");
                    Thread.sleep(10);
                }
                hop.tap(ThrottleTap.class).setBytesPerSecond(0);
                for (Future<String> f : results) {
                    assertEquals(blob.digest(), f.get(2, TimeUnit.MINUTES), "digest a client read");
                }
                PrometheusText s = Scrapes.settled(wharf, "up", CLIENTS);
                assertEquals(CLIENTS - 1, s.sum("wharf_fill_joins_total"), () -> s.show("wharf_fill_joins_total")
                        + "; " + s.show("wharf_cache_total") + "; access log: " + readQuietly(tmp.resolve("access.log")));
                assertEquals(CLIENTS, s.sum("wharf_cache_total", "project", "up", "kind", "blob", "result", "miss"),
                        s.show("wharf_cache_total"));
                assertEquals(CLIENTS * SIZE, s.sum("wharf_served_bytes_total", "project", "up", "source", "upstream"),
                        s.show("wharf_served_bytes_total"));
                assertEquals(SIZE, s.sum("wharf_upstream_bytes_total", "project", "up"),
                        s.show("wharf_upstream_bytes_total"));
                assertEquals(1, s.sum("wharf_upstream_requests_total", "project", "up", "method", "GET", "status",
                        "200"), s.show("wharf_upstream_requests_total"));
                assertEquals(1, registry.countRequests("GET", "/blobs/" + blob.digest()),
                        "upstream GETs: " + registry.requests());
                deadline = System.nanoTime() + 10_000_000_000L;
                while (Scrapes.scrape(wharf).sum("wharf_fills_inflight") != 0) {
                    assertTrue(System.nanoTime() < deadline, "a fill still in flight 10 s after the commit");
                    Thread.sleep(20);
                }

                String blobPath = "/v2/up/metrics/joins/blobs/" + blob.digest();
                List<JsonNode> lines = AccessLogLines.await(tmp.resolve("access.log"), blobPath, CLIENTS);
                int joined = 0;
                for (JsonNode line : lines) {
                    assertEquals("miss", line.get("cache").asText(), line.toString());
                    assertEquals(blob.digest(), line.get("fill").asText(), line.toString());
                    assertEquals(SIZE, line.get("bytes").asLong(), line.toString());
                    joined += line.get("fillJoined").asBoolean() ? 1 : 0;
                }
                assertEquals(CLIENTS - 1, joined, "access-log lines of clients that joined the fill");
            }
        } finally {
            clients.shutdownNow();
        }
    }

    private static String readQuietly(Path file) {
        try {
            return Files.readString(file);
        } catch (java.io.IOException e) {
            return e.toString();
        }
    }

    /** Waits (at most 10 s) until wharf reports a fill in flight: the first client's fill has started. */
    private static void awaitFillRunning(InProcessWharf wharf) throws Exception {
        long deadline = System.nanoTime() + 10_000_000_000L;
        while (Scrapes.scrape(wharf).sum("wharf_fills_inflight") < 1) {
            assertTrue(System.nanoTime() < deadline, "no fill in flight after 10 s");
            Thread.sleep(10);
        }
    }

    /** Streams a GET, hashing as it reads; returns the body's digest. */
    private static String fetch(URI uri) throws Exception {
        HttpResponse<InputStream> r = HTTP.send(HttpRequest.newBuilder(uri).timeout(Duration.ofSeconds(60)).build(),
                HttpResponse.BodyHandlers.ofInputStream());
        assertEquals(200, r.statusCode());
        MessageDigest sha = MessageDigest.getInstance("SHA-256");
        byte[] buf = new byte[64 << 10];
        try (InputStream in = r.body()) {
            for (int n; (n = in.read(buf)) > 0; ) {
                sha.update(buf, 0, n);
            }
        }
        return "sha256:" + HexFormat.of().formatHex(sha.digest());
    }

    /** Reads the access log's JSON lines. */
    static final class AccessLogLines {
        private static final ObjectMapper JSON = new ObjectMapper();

        private AccessLogLines() {
        }

        /**
         * Waits (at most 10 s) until {@code file} holds {@code count} lines for {@code path}, then checks that no
         * more arrive. The scrapes of /metrics are logged too; they are left out.
         */
        static List<JsonNode> await(Path file, String path, int count) throws Exception {
            long deadline = System.nanoTime() + 10_000_000_000L;
            while (System.nanoTime() < deadline && read(file, path).size() < count) {
                Thread.sleep(20);
            }
            Thread.sleep(200);
            List<JsonNode> lines = read(file, path);
            assertEquals(count, lines.size(), "access-log lines for " + path + ": " + lines);
            return lines;
        }

        private static List<JsonNode> read(Path file, String path) throws Exception {
            List<JsonNode> parsed = new ArrayList<>();
            if (Files.exists(file)) {
                for (String line : Files.readAllLines(file)) {
                    JsonNode j = JSON.readTree(line);
                    if (j.get("path").asText().equals(path)) {
                        parsed.add(j);
                    }
                }
            }
            return parsed;
        }
    }
}

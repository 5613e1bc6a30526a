package dev.wharf.server.metrics;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertNotEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

import dev.wharf.testing.InProcessWharf;
import dev.wharf.testing.Ports;
import dev.wharf.testing.WharfYaml;
import java.net.URI;
import java.net.http.HttpClient;
import java.net.http.HttpRequest;
import java.net.http.HttpResponse;
import java.nio.file.Files;
import java.nio.file.Path;
import java.time.Duration;
import java.util.concurrent.TimeUnit;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.Timeout;
import org.junit.jupiter.api.io.TempDir;

/**
 * With {@code admin.listen} set, /metrics and /api/v1 answer on the admin address only, /healthz and /readyz on
 * both, and /v2 on the registry address only. /readyz turns 503 when storage stops being writable.
 */
@Timeout(value = 2, unit = TimeUnit.MINUTES)
class AdminListenerTest {
    private static final HttpClient HTTP = HttpClient.newBuilder().connectTimeout(Duration.ofSeconds(5)).build();

    @TempDir
    Path tmp;

    @Test
    void adminEndpointsMoveToTheAdminAddress() throws Exception {
        int adminPort = Ports.free();
        try (InProcessWharf wharf = InProcessWharf.start(tmp.resolve("store"),
                WharfYaml.oneProject("hub", "http://127.0.0.1:9").adminListen("127.0.0.1:" + adminPort)
                        .accessLog(tmp.resolve("access.log")))) {
            assertEquals(adminPort, wharf.server().adminPort());
            URI admin = URI.create("http://127.0.0.1:" + adminPort);
            assertEquals(200, wharf.get("/v2/").statusCode());

            HttpResponse<String> metrics = get(admin.resolve("/metrics"));
            assertEquals(200, metrics.statusCode());
            assertTrue(metrics.headers().firstValue("content-type").orElse("").startsWith("text/plain"));
            PrometheusText s = PrometheusText.parse(metrics.body());
            assertEquals(1, s.sum("wharf_requests_total", "kind", "other", "method", "GET", "status", "200"),
                    "the /v2/ request, counted on the registry address: " + s.show("wharf_requests_total"));

            HttpResponse<byte[]> registryMetrics = wharf.get("/metrics");
            assertEquals(404, registryMetrics.statusCode(), "/metrics on the registry address");
            assertTrue(new String(registryMetrics.body()).contains("admin.listen"));
            assertEquals(404, wharf.get("/api/v1/cache").statusCode(), "/api/v1 on the registry address");
            HttpResponse<String> api = get(admin.resolve("/api/v1/cache"));
            assertTrue(!api.body().contains("admin.listen"), "/api/v1 on the admin address goes to the admin API: "
                    + api.statusCode() + " " + api.body());

            for (String probe : new String[] {"/healthz", "/readyz"}) {
                assertEquals(200, wharf.get(probe).statusCode(), probe + " on the registry address");
                assertEquals(200, get(admin.resolve(probe)).statusCode(), probe + " on the admin address");
            }
            HttpResponse<String> v2 = get(admin.resolve("/v2/"));
            assertEquals(404, v2.statusCode(), "/v2/ on the admin address");
        }
    }

    @Test
    void readyzFailsWhileStorageIsNotWritable() throws Exception {
        Path store = tmp.resolve("store");
        try (InProcessWharf wharf = InProcessWharf.start(store,
                WharfYaml.oneProject("hub", "http://127.0.0.1:9").accessLog(tmp.resolve("access.log")))) {
            assertEquals(200, wharf.get("/readyz").statusCode());
            // Root ignores permission bits, so make the temp directory unusable another way: a file in its place.
            Path temp = store.resolve("tmp");
            Path aside = store.resolve("tmp.aside");
            Files.move(temp, aside);
            Files.writeString(temp, "not a directory");
            String body = awaitReadyz(wharf, 503);
            assertTrue(body.contains("storage not writable"), body);
            assertEquals(200, wharf.get("/healthz").statusCode(), "liveness does not depend on storage");
            Files.delete(temp);
            Files.move(aside, temp);
            awaitReadyz(wharf, 200);
        }
    }

    /** Polls /readyz (the storage probe runs every 5 s) until it answers {@code status}; at most 20 s. */
    private static String awaitReadyz(InProcessWharf wharf, int status) throws Exception {
        long deadline = System.nanoTime() + 20_000_000_000L;
        HttpResponse<byte[]> r;
        while ((r = wharf.get("/readyz")).statusCode() != status) {
            assertTrue(System.nanoTime() < deadline, "/readyz still " + r.statusCode() + " after 20 s: "
                    + new String(r.body()));
            Thread.sleep(100);
        }
        assertNotEquals(0, r.body().length);
        return new String(r.body());
    }

    private static HttpResponse<String> get(URI uri) throws Exception {
        return HTTP.send(HttpRequest.newBuilder(uri).timeout(Duration.ofSeconds(30)).build(),
                HttpResponse.BodyHandlers.ofString());
    }
}

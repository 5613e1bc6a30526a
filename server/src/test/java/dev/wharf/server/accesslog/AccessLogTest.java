package dev.wharf.server.accesslog;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertNotNull;
import static org.junit.jupiter.api.Assertions.assertTrue;

import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.ObjectMapper;
import dev.wharf.testing.StoredBlobs;
import dev.wharf.testing.DistributionRegistry;
import dev.wharf.testing.ImageSeeder;
import dev.wharf.testing.InProcessWharf;
import dev.wharf.testing.RealRegistry;
import dev.wharf.testing.WharfYaml;
import java.net.http.HttpResponse;
import java.nio.file.Files;
import java.nio.file.Path;
import java.time.Instant;
import java.util.ArrayList;
import java.util.HashMap;
import java.util.List;
import java.util.Map;
import java.util.Set;
import java.util.TreeSet;
import java.util.concurrent.TimeUnit;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.Timeout;
import org.junit.jupiter.api.extension.ExtendWith;
import org.junit.jupiter.api.io.TempDir;

/**
 * wharf in front of a real registry writes exactly one JSON line per request, with the documented fields, and
 * nothing secret: not the client's Authorization header, not the query string.
 */
@Timeout(value = 3, unit = TimeUnit.MINUTES)
@ExtendWith(RealRegistry.class)
class AccessLogTest {
    private static final ObjectMapper JSON = new ObjectMapper();
    private static final String TOKEN = "s3cr3t-client-token-4711";
    private static final String QUERY_SECRET = "s3cr3t-query-0815";
    private static final String ACCEPT = String.join(", ", ImageSeeder.OCI_MANIFEST, ImageSeeder.OCI_INDEX, "*/*");
    private static final Set<String> FIELDS = Set.of("time", "remote", "method", "path", "status", "bytes",
            "durationMs", "project", "kind", "cache", "fill", "fillJoined", "userAgent");

    @TempDir
    Path tmp;

    @Test
    void oneLinePerRequestWithItsFieldsAndNoSecrets(DistributionRegistry registry, ImageSeeder seeder) throws Exception {
        Path file = tmp.resolve("access.log");
        ImageSeeder.Image image = seeder.pushOciImage(registry.url(), "log/app", "v1", 0, 5);
        String config = image.configDigest();
        String missing = "sha256:" + "0".repeat(64);
        try (InProcessWharf wharf = InProcessWharf.start(tmp.resolve("store"),
                WharfYaml.oneProject("hub", registry.url()).accessLog(file))) {
            String q = "?token=" + QUERY_SECRET;
            String[] auth = {"Authorization", "Bearer " + TOKEN, "Accept", ACCEPT};
            assertEquals(200, wharf.get("/v2/" + q, auth).statusCode());
            assertEquals(200, wharf.get("/v2/hub/log/app/manifests/v1" + q, auth).statusCode());
            assertEquals(200, wharf.head("/v2/hub/log/app/manifests/v1" + q, auth).statusCode());
            assertEquals(200, wharf.get("/v2/hub/log/app/blobs/" + config + q, auth).statusCode());
            // The fill links the blob to hub when its digest matches and commits it (fsync, rename) after the client
            // has its last byte; a request before the commit joins the fill (a miss). Wait for both.
            awaitLink(tmp.resolve("store"), "hub", config);
            StoredBlobs.await(wharf.server().store(), config);
            assertEquals(200, wharf.get("/v2/hub/log/app/blobs/" + config + q, auth).statusCode());
            assertEquals(404, wharf.get("/v2/hub/log/app/blobs/" + missing + q, auth).statusCode());
            HttpResponse<byte[]> put = wharf.send("PUT", "/v2/hub/log/app/manifests/v2" + q, auth);
            assertEquals(405, put.statusCode());
            assertEquals(200, wharf.get("/healthz" + q, auth).statusCode());

            List<JsonNode> lines = await(file, 8);
            for (JsonNode line : lines) {
                Set<String> names = new TreeSet<>();
                line.fieldNames().forEachRemaining(names::add);
                assertEquals(new TreeSet<>(FIELDS), names, line.toString());
                assertNotNull(Instant.parse(line.get("time").asText()));
                assertEquals("127.0.0.1", line.get("remote").asText());
                assertTrue(line.get("durationMs").asDouble() >= 0, line.toString());
                assertFalse(line.get("path").asText().contains("?"), "query logged: " + line);
            }
            Map<String, List<JsonNode>> by = new HashMap<>();
            for (JsonNode line : lines) {
                by.computeIfAbsent(line.get("method").asText() + " " + line.get("path").asText(),
                        k -> new ArrayList<>()).add(line);
            }
            JsonNode base = one(by, "GET /v2/");
            assertEquals(200, base.get("status").asInt());
            assertEquals("none", base.get("project").asText());
            assertEquals("other", base.get("kind").asText());
            assertTrue(base.get("cache").isNull());

            JsonNode manifest = one(by, "GET /v2/hub/log/app/manifests/v1");
            assertEquals("hub", manifest.get("project").asText());
            assertEquals("manifest", manifest.get("kind").asText());
            assertEquals("miss", manifest.get("cache").asText());
            assertEquals(image.manifestSize(), manifest.get("bytes").asLong());
            JsonNode head = one(by, "HEAD /v2/hub/log/app/manifests/v1");
            assertEquals("hit", head.get("cache").asText());
            assertEquals(0, head.get("bytes").asLong());

            List<JsonNode> blobs = by.get("GET /v2/hub/log/app/blobs/" + config);
            assertEquals(2, blobs.size(), by.keySet().toString());
            JsonNode cold = blobs.stream().filter(b -> b.get("cache").asText().equals("miss")).findFirst()
                    .orElseThrow(() -> new AssertionError("no miss among " + blobs));
            JsonNode warm = blobs.stream().filter(b -> b.get("cache").asText().equals("hit")).findFirst()
                    .orElseThrow(() -> new AssertionError("no hit among " + blobs));
            assertEquals(config, cold.get("fill").asText(), "the fill the cold request started");
            assertFalse(cold.get("fillJoined").asBoolean());
            assertTrue(warm.get("fill").isNull(), warm.toString());
            assertEquals(image.blobSizes().get(0), cold.get("bytes").asLong());
            assertEquals(image.blobSizes().get(0), warm.get("bytes").asLong());
            assertEquals("blob", warm.get("kind").asText());

            assertEquals(404, one(by, "GET /v2/hub/log/app/blobs/" + missing).get("status").asInt());
            assertEquals(405, one(by, "PUT /v2/hub/log/app/manifests/v2").get("status").asInt());
            assertEquals(200, one(by, "GET /healthz").get("status").asInt());

            String text = Files.readString(file);
            assertFalse(text.contains(TOKEN), "the client's token is in the access log");
            assertFalse(text.contains(QUERY_SECRET), "the query string is in the access log");
            assertFalse(text.toLowerCase().contains("authorization"), "a header name is in the access log");
        }
    }

    @Test
    void levelWarnLogsOnlyFailures() throws Exception {
        Path file = tmp.resolve("warn.log");
        try (InProcessWharf wharf = InProcessWharf.start(tmp.resolve("store"),
                WharfYaml.oneProject("hub", "http://127.0.0.1:9").accessLog(file).accessLogLevel("warn"))) {
            assertEquals(200, wharf.get("/v2/").statusCode());
            assertEquals(200, wharf.get("/healthz").statusCode());
            assertEquals(405, wharf.send("DELETE", "/v2/hub/a/manifests/v1").statusCode());
            assertEquals(502, wharf.get("/v2/hub/a/manifests/v1").statusCode());
            List<JsonNode> lines = await(file, 2);
            assertEquals(List.of(405, 502), lines.stream().map(l -> l.get("status").asInt()).sorted().toList());
        }
    }

    private static void awaitLink(Path store, String project, String digest) throws InterruptedException {
        Path link = store.resolve("projects").resolve(project).resolve("links").resolve("sha256")
                .resolve(digest.substring("sha256:".length()));
        long deadline = System.nanoTime() + 10_000_000_000L;
        while (!Files.exists(link)) {
            assertTrue(System.nanoTime() < deadline, "blob never linked: " + link);
            Thread.sleep(10);
        }
    }

    private static JsonNode one(Map<String, List<JsonNode>> by, String key) {
        List<JsonNode> l = by.get(key);
        assertNotNull(l, key + " not logged; logged: " + by.keySet());
        assertEquals(1, l.size(), key + " logged " + l.size() + " times: " + l);
        return l.get(0);
    }

    /** Waits (at most 10 s) until {@code file} holds {@code count} lines, then checks that no more arrive. */
    static List<JsonNode> await(Path file, int count) throws Exception {
        long deadline = System.nanoTime() + 10_000_000_000L;
        while (System.nanoTime() < deadline) {
            if (Files.exists(file) && Files.readAllLines(file).size() >= count) {
                break;
            }
            Thread.sleep(20);
        }
        Thread.sleep(300);
        List<String> lines = Files.exists(file) ? Files.readAllLines(file) : List.of();
        assertEquals(count, lines.size(), "access-log lines: " + String.join("\n", lines));
        List<JsonNode> parsed = new ArrayList<>();
        for (String line : lines) {
            parsed.add(JSON.readTree(line));
        }
        return parsed;
    }
}

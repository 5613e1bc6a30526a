package dev.wharf.server.registry;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertTrue;

import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.ObjectMapper;
import dev.wharf.testing.InProcessWharf;
import dev.wharf.testing.WharfYaml;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.stream.Stream;
import org.junit.jupiter.api.AfterAll;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.Arguments;
import org.junit.jupiter.params.provider.MethodSource;

/**
 * Malformed names, references, digests, methods and unknown projects: each gets its exact status and OCI code,
 * as JSON, and nothing is created outside the storage root. The raw socket keeps paths exactly as written (an
 * HTTP client library would normalise {@code ..} away before wharf saw it).
 */
class BadInputTest {
    private static final ObjectMapper JSON = new ObjectMapper();
    private static final String HEX = "a".repeat(64);
    @TempDir
    static Path dir;
    static InProcessWharf wharf;
    static Path storage;

    @BeforeAll
    static void start() throws Exception {
        storage = dir.resolve("store");
        // The upstream is a port nothing listens on: every case here must be decided before wharf asks it.
        wharf = InProcessWharf.start(storage,
                WharfYaml.config().project(WharfYaml.project("hub", "http://127.0.0.1:9").aliases("docker.io")));
    }

    @AfterAll
    static void stop() {
        wharf.close();
    }

    static Stream<Arguments> cases() {
        return Stream.of(
                Arguments.of("GET", "/v2/hub/Library/nginx/manifests/latest", 400, "NAME_INVALID"),
                Arguments.of("GET", "/v2/hub/library/NGINX/blobs/sha256:" + HEX, 400, "NAME_INVALID"),
                Arguments.of("GET", "/v2/hub/library/../../../etc/manifests/latest", 400, "NAME_INVALID"),
                Arguments.of("GET", "/v2/hub/library/%2e%2e/%2e%2e/etc/manifests/latest", 400, "NAME_INVALID"),
                Arguments.of("GET", "/v2/hub/%2e%2e/manifests/latest", 400, "NAME_INVALID"),
                Arguments.of("GET", "/v2/hub/a//b/manifests/latest", 400, "NAME_INVALID"),
                Arguments.of("GET", "/v2/hub/a_-b/manifests/latest", 400, "NAME_INVALID"),
                Arguments.of("GET", "/v2/hub/-a/manifests/latest", 400, "NAME_INVALID"),
                Arguments.of("GET", "/v2/hub/" + "a".repeat(256) + "/manifests/latest", 400, "NAME_INVALID"),
                Arguments.of("GET", "/v2/hub/" + "ab/".repeat(90) + "c/manifests/latest", 400, "NAME_INVALID"),
                Arguments.of("GET", "/v2/hub/library/nginx/manifests/sha256:totallywrong", 400, "DIGEST_INVALID"),
                Arguments.of("HEAD", "/v2/hub/library/nginx/manifests/sha256:totallywrong", 400, null),
                Arguments.of("GET", "/v2/hub/library/nginx/manifests/md5:" + "a".repeat(32), 400, "DIGEST_INVALID"),
                Arguments.of("GET", "/v2/hub/library/nginx/manifests/sha256:" + HEX.toUpperCase(), 400, "DIGEST_INVALID"),
                Arguments.of("GET", "/v2/hub/library/nginx/blobs/sha256:" + HEX + "0", 400, "DIGEST_INVALID"),
                Arguments.of("GET", "/v2/hub/library/nginx/blobs/sha256:../../etc/passwd", 404, "UNSUPPORTED"),
                Arguments.of("GET", "/v2/hub/library/nginx/blobs/sha256%3A" + HEX, 400, "DIGEST_INVALID"),
                Arguments.of("GET", "/v2/hub/library/nginx/blobs/latest", 400, "DIGEST_INVALID"),
                Arguments.of("GET", "/v2/hub/library/nginx/referrers/nope", 400, "DIGEST_INVALID"),
                Arguments.of("GET", "/v2/hub/library/nginx/manifests/.INVALID_MANIFEST_NAME", 404, "MANIFEST_UNKNOWN"),
                Arguments.of("GET", "/v2/hub/library/nginx/manifests/-latest", 404, "MANIFEST_UNKNOWN"),
                Arguments.of("GET", "/v2/hub/library/nginx/manifests/" + "t".repeat(129), 404, "MANIFEST_UNKNOWN"),
                Arguments.of("GET", "/v2/hub/library/nginx/manifests/..", 404, "MANIFEST_UNKNOWN"),
                Arguments.of("GET", "/v2/hub/library/nginx/manifests/a%2fb", 404, "MANIFEST_UNKNOWN"),
                Arguments.of("GET", "/v2/hub/library/nginx/tags/list?n=abc", 400, "PAGINATION_NUMBER_INVALID"),
                Arguments.of("GET", "/v2/hub/library/nginx/tags/list?n=-1", 400, "PAGINATION_NUMBER_INVALID"),
                Arguments.of("GET", "/v2/nosuch/library/nginx/manifests/latest", 404, "NAME_UNKNOWN"),
                Arguments.of("GET", "/v2/library/nginx/manifests/latest", 404, "NAME_UNKNOWN"),
                Arguments.of("GET", "/v2/library/nginx/manifests/latest?ns=quay.io", 404, "NAME_UNKNOWN"),
                Arguments.of("GET", "/v2/hub/library/nginx/whatever/latest", 404, "UNSUPPORTED"),
                Arguments.of("GET", "/v3/", 404, "UNSUPPORTED"),
                Arguments.of("PUT", "/v2/hub/library/nginx/manifests/latest", 405, "UNSUPPORTED"),
                Arguments.of("DELETE", "/v2/hub/library/nginx/blobs/sha256:" + HEX, 405, "UNSUPPORTED"),
                Arguments.of("POST", "/v2/hub/library/nginx/blobs/uploads/", 405, "UNSUPPORTED"),
                Arguments.of("PATCH", "/v2/hub/library/nginx/blobs/uploads/1234", 405, "UNSUPPORTED"),
                Arguments.of("GET", "/v2/hub/library/nginx/blobs/uploads/1234", 405, "UNSUPPORTED"));
    }

    @ParameterizedTest(name = "{0} {1} -> {2} {3}")
    @MethodSource("cases")
    void badInputGetsExactStatusAndCode(String method, String path, int status, String code) throws Exception {
        String raw = wharf.raw(method, path);
        int statusLineEnd = raw.indexOf("\r\n");
        assertTrue(statusLineEnd > 0, raw);
        String statusLine = raw.substring(0, statusLineEnd);
        assertEquals(status, Integer.parseInt(statusLine.split(" ")[1]), raw);
        String head = raw.substring(0, raw.indexOf("\r\n\r\n"));
        String body = raw.substring(raw.indexOf("\r\n\r\n") + 4);
        if (code == null) {
            assertEquals("", body, "a HEAD has no body");
            return;
        }
        assertTrue(head.toLowerCase().contains("content-type: application/json"), head);
        JsonNode err = JSON.readTree(body).get("errors").get(0);
        assertEquals(code, err.get("code").asText(), body);
        assertFalse(err.get("message").asText().isEmpty(), body);
        assertNothingOutsideStorage();
    }

    @Test
    void unreachableUpstreamIs502NamingProjectAndUpstream() throws Exception {
        var r = wharf.get("/v2/hub/library/nginx/manifests/latest");
        assertEquals(502, r.statusCode());
        JsonNode err = JSON.readTree(r.body()).get("errors").get(0);
        assertEquals("UNAVAILABLE", err.get("code").asText());
        String message = err.get("message").asText();
        assertTrue(message.contains("project hub") && message.contains("http://127.0.0.1:9"), message);
        var blob = wharf.get("/v2/library/nginx/blobs/sha256:" + HEX + "?ns=docker.io");
        assertEquals(502, blob.statusCode());
        assertEquals("UNAVAILABLE", JSON.readTree(blob.body()).get("errors").get(0).get("code").asText());
    }

    @Test
    void baseEndpointAnswers() throws Exception {
        var r = wharf.get("/v2/");
        assertEquals(200, r.statusCode());
        assertEquals("registry/2.0", r.headers().firstValue("Docker-Distribution-API-Version").orElseThrow());
    }

    private static void assertNothingOutsideStorage() throws Exception {
        try (var files = Files.list(dir)) {
            assertEquals(java.util.List.of(storage), files.toList(), "only the storage root may exist in " + dir);
        }
        assertFalse(Files.exists(storage.resolve("etc")));
        assertFalse(Files.exists(dir.getParent().resolve("etc")));
    }
}

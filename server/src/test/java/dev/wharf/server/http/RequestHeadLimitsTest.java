package dev.wharf.server.http;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.ObjectMapper;
import dev.wharf.testing.InProcessWharf;
import dev.wharf.testing.RawHttp;
import dev.wharf.testing.WharfYaml;
import java.io.InputStream;
import java.net.Socket;
import java.nio.file.Path;
import java.time.Duration;
import org.junit.jupiter.api.AfterAll;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/**
 * Request heads wharf will not take (issue 8 item 21): a request line over 8 KiB gets 400, a header section over
 * 16 KiB gets 431, and a request with both Content-Length and Transfer-Encoding gets 400 (RFC 9112 section 6.3: a
 * proxy that read the other length would see another request). Each answer is OCI error JSON and closes the
 * connection. Over a raw socket, which sends the bytes exactly as written.
 */
class RequestHeadLimitsTest {
    private static final ObjectMapper JSON = new ObjectMapper();
    @TempDir
    static Path dir;
    static InProcessWharf wharf;

    @BeforeAll
    static void start() throws Exception {
        // Nothing listens upstream: every answer here must come before wharf would ask it.
        wharf = InProcessWharf.start(dir.resolve("store"), WharfYaml.oneProject("hub", "http://127.0.0.1:9"));
    }

    @AfterAll
    static void stop() {
        wharf.close();
    }

    @Test
    void aRequestLineOverTheLimitGets400AndTheConnectionCloses() throws Exception {
        String path = "/v2/hub/" + "a/".repeat(4500) + "manifests/latest";
        assertRefused(RawHttp.request("GET", path), 400, "request line too long");
    }

    @Test
    void headersOverTheLimitGet431AndTheConnectionCloses() throws Exception {
        String[] headers = new String[40];
        for (int i = 0; i < headers.length; i++) {
            headers[i] = "X-Padding-" + i + ": " + "p".repeat(500);
        }
        assertRefused(RawHttp.request("GET", "/v2/", headers), 431, "request header fields too large");
    }

    @Test
    void oneHeaderOverTheLimitGets431() throws Exception {
        assertRefused(RawHttp.request("GET", "/v2/", "Cookie: " + "c".repeat(20_000)), 431,
                "request header fields too large");
    }

    @Test
    void contentLengthWithTransferEncodingGets400AndTheConnectionCloses() throws Exception {
        // The body is one chunk of 5 bytes; by Content-Length it would be 0 bytes and "5\r\nhello..." the next request.
        String request = "POST /api/v1/prefetch HTTP/1.1\r\nHost: wharf\r\nContent-Length: 0\r\n"
                + "Transfer-Encoding: chunked\r\n\r\n5\r\nhello\r\n0\r\n\r\n";
        assertRefused(request, 400, "both Content-Length and Transfer-Encoding");
        String onV2 = "GET /v2/ HTTP/1.1\r\nHost: wharf\r\nTransfer-Encoding: chunked\r\nContent-Length: 3\r\n\r\n"
                + "0\r\n\r\n";
        assertRefused(onV2, 400, "both Content-Length and Transfer-Encoding");
    }

    @Test
    void aRequestWithinTheLimitsOnTheSameServerIsAnswered() throws Exception {
        try (Socket s = RawHttp.connect(wharf.server().port(), Duration.ofSeconds(10))) {
            String[] headers = new String[20];
            for (int i = 0; i < headers.length; i++) {
                headers[i] = "X-Padding-" + i + ": " + "p".repeat(500);
            }
            RawHttp.send(s, RawHttp.request("GET", "/v2/", headers) + "GET /v2/ HTTP/1.1\r\nHost: wharf\r\n"
                    + "Content-Length: 0\r\n\r\n");
            InputStream in = s.getInputStream();
            assertEquals(200, RawHttp.read(in, false).status(), "10 KiB of headers are within the 16 KiB limit");
            assertEquals(200, RawHttp.read(in, false).status(), "Content-Length alone is fine");
        }
    }

    private static void assertRefused(String request, int status, String message) throws Exception {
        try (Socket s = RawHttp.connect(wharf.server().port(), Duration.ofSeconds(10))) {
            RawHttp.send(s, request);
            RawHttp.Response r = RawHttp.read(s.getInputStream(), false);
            assertEquals(status, r.status(), r.text());
            assertTrue(r.header("Content-Type").startsWith("application/json"), r.headers().toString());
            JsonNode error = JSON.readTree(r.body()).path("errors").path(0);
            assertEquals("UNSUPPORTED", error.path("code").asText(), r.text());
            assertTrue(error.path("message").asText().contains(message), r.text());
            assertEquals("close", r.header("Connection"), r.headers().toString());
            assertTrue(RawHttp.closedWithin(s, Duration.ofSeconds(10)), "the connection must close");
        }
    }
}

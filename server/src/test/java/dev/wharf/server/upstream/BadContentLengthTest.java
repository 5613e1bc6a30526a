package dev.wharf.server.upstream;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.ObjectMapper;
import dev.wharf.testing.InProcessWharf;
import dev.wharf.testing.WharfYaml;
import java.net.URI;
import java.net.http.HttpClient;
import java.net.http.HttpRequest;
import java.net.http.HttpResponse;
import java.nio.file.Path;
import java.time.Duration;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.ValueSource;
import org.junit.jupiter.api.io.TempDir;

/**
 * A blob HEAD that the upstream answers with a Content-Length that is no length gets a 502 naming the upstream, never
 * a 500 (issue 8 item 9). The upstream is an in-process fake because a real registry always sends a true length.
 */
class BadContentLengthTest {
    private static final ObjectMapper JSON = new ObjectMapper();
    private static final HttpClient HTTP = HttpClient.newBuilder().connectTimeout(Duration.ofSeconds(5)).build();
    private static final String DIGEST = "sha256:" + "b".repeat(64);

    @TempDir
    Path tmp;

    @ParameterizedTest
    @ValueSource(strings = {"-5", "12abc", "1, 2", "1,1", "+5", "99999999999999999999", "0x10", ""})
    void aBlobHeadWithABadContentLengthIsA502(String length) throws Exception {
        try (FakeHttp.Raw fake = new FakeHttp.Raw(s -> FakeHttp.Raw.write(s, "HTTP/1.1 200 OK\r\n"
                + "Docker-Content-Digest: " + DIGEST + "\r\nContent-Length: " + length + "\r\nConnection: close\r\n\r\n"));
             InProcessWharf wharf = InProcessWharf.start(tmp.resolve("store-" + System.nanoTime()),
                     WharfYaml.oneProject("up", fake.base()))) {
            URI uri = wharf.url().resolve("/v2/up/library/x/blobs/" + DIGEST);
            HttpResponse<String> head = HTTP.send(HttpRequest.newBuilder(uri).timeout(Duration.ofSeconds(15))
                    .method("HEAD", HttpRequest.BodyPublishers.noBody()).build(), HttpResponse.BodyHandlers.ofString());
            assertEquals(502, head.statusCode(), "Content-Length '" + length + "': " + head.headers().map());
            // A HEAD has no body: the same request as a GET shows the error JSON.
            HttpResponse<String> get = HTTP.send(HttpRequest.newBuilder(uri).timeout(Duration.ofSeconds(15)).build(),
                    HttpResponse.BodyHandlers.ofString());
            assertEquals(502, get.statusCode(), get.body());
            JsonNode error = JSON.readTree(get.body()).path("errors").path(0);
            assertEquals("UNAVAILABLE", error.path("code").asText(), get.body());
            assertTrue(error.path("message").asText().contains("upstream http://127.0.0.1:"), get.body());
        }
    }
}

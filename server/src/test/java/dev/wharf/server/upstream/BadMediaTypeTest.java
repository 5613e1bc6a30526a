package dev.wharf.server.upstream;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

import dev.wharf.testing.InProcessWharf;
import dev.wharf.testing.WharfYaml;
import java.net.URI;
import java.net.http.HttpClient;
import java.net.http.HttpRequest;
import java.net.http.HttpResponse;
import java.nio.charset.StandardCharsets;
import java.nio.file.Path;
import java.time.Duration;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/**
 * Issue 8, item 9: a manifest whose Content-Type holds non-ASCII or control characters, or is no media type, or
 * whose own {@code mediaType} is none, gets a 502 naming the upstream, never a 500 and never no answer at all. The
 * upstream is an in-process fake ({@link FakeHttp.Raw}): a real registry cannot send a bad Content-Type.
 */
class BadMediaTypeTest {
    private static final HttpClient HTTP = HttpClient.newBuilder().connectTimeout(Duration.ofSeconds(5)).build();
    private static final String MANIFEST = "{\"schemaVersion\":2,\"mediaType\":\"application/vnd.oci.image.manifest."
            + "v1+json\",\"config\":{},\"layers\":[]}";

    @TempDir
    Path tmp;

    /** Answers every request with a manifest and the given Content-Type line (null: none) and body. */
    private static FakeHttp.Raw upstream(String contentType, String body) throws Exception {
        byte[] b = body.getBytes(StandardCharsets.UTF_8);
        return new FakeHttp.Raw(s -> FakeHttp.Raw.write(s, "HTTP/1.1 200 OK\r\n"
                + (contentType == null ? "" : "Content-Type: " + contentType + "\r\n")
                + "Content-Length: " + b.length + "\r\nConnection: close\r\n\r\n" + body));
    }

    private HttpResponse<String> pull(String contentType, String body, String method) throws Exception {
        try (FakeHttp.Raw fake = upstream(contentType, body);
                InProcessWharf wharf = InProcessWharf.start(tmp.resolve("store-" + System.nanoTime()),
                        WharfYaml.oneProject("up", fake.base()))) {
            URI uri = wharf.url().resolve("/v2/up/library/x/manifests/latest");
            return HTTP.send(HttpRequest.newBuilder(uri).timeout(Duration.ofSeconds(15))
                    .method(method, HttpRequest.BodyPublishers.noBody()).build(),
                    HttpResponse.BodyHandlers.ofString());
        }
    }

    private void assertBadGateway(String contentType, String body) throws Exception {
        HttpResponse<String> r = pull(contentType, body, "GET");
        assertEquals(502, r.statusCode(), contentType + ": " + r.body());
        assertTrue(r.body().contains("project up (upstream http://127.0.0.1:"), r.body());
        assertTrue(r.body().contains("not a valid media type"), r.body());
    }

    @Test
    void aContentTypeWithNonAsciiIsA502() throws Exception {
        assertBadGateway("application/vnd.oci.image.manifest.v1+json\u00e9", MANIFEST);
    }

    @Test
    void aContentTypeWithAControlCharacterIsA502() throws Exception {
        // Netty's response decoder already refuses control characters in a header: a malformed response, 502.
        HttpResponse<String> r = pull("application/vnd.oci.image.manifest.v1+json\u000b", MANIFEST, "GET");
        assertEquals(502, r.statusCode(), r.body());
        assertTrue(r.body().contains("upstream http://127.0.0.1:") && r.body().contains("of project up"), r.body());
    }

    @Test
    void aContentTypeThatIsNoMediaTypeIsA502() throws Exception {
        assertBadGateway("manifest, of course", MANIFEST);
    }

    @Test
    void aManifestMediaTypeThatIsNoMediaTypeIsA502() throws Exception {
        assertBadGateway(null, MANIFEST.replace("application/vnd.oci.image.manifest.v1+json", "oci manifest\\u0001"));
    }

    @Test
    void aGoodOneIsServed() throws Exception {
        HttpResponse<String> r = pull("application/vnd.oci.image.manifest.v1+json; charset=utf-8", MANIFEST, "GET");
        assertEquals(200, r.statusCode(), r.body());
        assertEquals("application/vnd.oci.image.manifest.v1+json", r.headers().firstValue("Content-Type").orElse(""));
    }
}

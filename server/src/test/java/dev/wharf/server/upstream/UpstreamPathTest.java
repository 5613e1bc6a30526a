package dev.wharf.server.upstream;

import static org.junit.jupiter.api.Assertions.assertEquals;

import io.netty.handler.codec.http.DefaultHttpHeaders;
import io.netty.handler.codec.http.HttpMethod;
import java.net.URI;
import org.junit.jupiter.api.Test;

/**
 * {@link UpstreamUrls}, the pure URL functions of the upstream client: an endpoint path joined with a request path
 * (a Harbor proxy project's {@code /v2/<project>}, or a plain prefix), the first URL of an exchange, origins, and
 * the redacted form of a URL for messages and logs. No-proxy matching is tested with {@code EgressProxy}.
 */
class UpstreamPathTest {

    @Test
    void endpointPathAfterV2() {
        assertEquals("/v2/dockerhub/library/nginx/manifests/latest",
                UpstreamUrls.upstreamPath("/v2/dockerhub", "/v2/library/nginx/manifests/latest"));
        assertEquals("/v2/dockerhub/library/nginx/manifests/latest",
                UpstreamUrls.upstreamPath("/v2/dockerhub/", "/v2/library/nginx/manifests/latest"));
        assertEquals("/v2/dockerhub/", UpstreamUrls.upstreamPath("/v2/dockerhub", "/v2/"));
        assertEquals("/v2/a/tags/list", UpstreamUrls.upstreamPath("/v2", "/v2/a/tags/list"));
    }

    @Test
    void otherPathsArePrefixed() {
        assertEquals("/mirror/v2/a/tags/list", UpstreamUrls.upstreamPath("/mirror", "/v2/a/tags/list"));
        assertEquals("/v2x/v2/a/tags/list", UpstreamUrls.upstreamPath("/v2x", "/v2/a/tags/list"));
    }

    @Test
    void emptyOrSlashChangesNothing() {
        assertEquals("/v2/a/tags/list", UpstreamUrls.upstreamPath("", "/v2/a/tags/list"));
        assertEquals("/v2/a/tags/list", UpstreamUrls.upstreamPath("/", "/v2/a/tags/list"));
        assertEquals("/v2/a/tags/list", UpstreamUrls.upstreamPath(null, "/v2/a/tags/list"));
    }

    @Test
    void firstUriKeepsOriginAndQueryButNoUserInfo() {
        UpstreamEndpoint ep = new UpstreamEndpoint(URI.create("https://user:pw@Harbor.example.com:8443/v2/hub"),
                null, null, "p");
        UpstreamRequest r = new UpstreamRequest(HttpMethod.GET, "/v2/a/b/tags/list", "n=10&last=x",
                new DefaultHttpHeaders(), "a/b");
        assertEquals(URI.create("https://Harbor.example.com:8443/v2/hub/a/b/tags/list?n=10&last=x"),
                UpstreamUrls.firstUri(ep, r));
    }

    @Test
    void originsAndRedaction() {
        assertEquals("https://registry-1.docker.io:443",
                UpstreamUrls.origin(URI.create("https://Registry-1.docker.io/v2/")));
        assertEquals("http://h:80", UpstreamUrls.origin(URI.create("http://h/")));
        assertEquals("https://cdn.example.com/blob/x",
                UpstreamUrls.redact(URI.create("https://u:p@cdn.example.com/blob/x?X-Amz-Signature=secret")));
    }
}

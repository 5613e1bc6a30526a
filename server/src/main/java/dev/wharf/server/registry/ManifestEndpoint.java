package dev.wharf.server.registry;

import dev.wharf.server.http.Exchange;
import dev.wharf.server.http.Route;
import dev.wharf.server.pullthrough.Manifest;
import dev.wharf.server.pullthrough.ManifestSource;
import io.netty.handler.codec.http.DefaultHttpHeaders;
import io.netty.handler.codec.http.HttpHeaderNames;
import io.netty.handler.codec.http.HttpHeaders;
import io.netty.handler.codec.http.HttpResponseStatus;
import java.util.List;

/**
 * {@code GET/HEAD /v2/<name>/manifests/<reference>}: asks the {@link ManifestSource} and answers with the manifest's
 * bytes (or, for a HEAD answered from upstream headers, its size), its media type and digest. A manifest served
 * stale because the upstream failed carries a {@code Warning} header.
 */
public final class ManifestEndpoint {
    private final ManifestSource manifests;

    public ManifestEndpoint(ManifestSource manifests) {
        this.manifests = manifests;
    }

    public void handle(Exchange ex, Route.Manifest route) {
        // Clients built on containers/image (skopeo, podman, CRI-O) send one Accept header per media type: the
        // header fields together are the list (RFC 9110 5.3), so join them; the first alone is a different question.
        List<String> accepts = ex.request().headers().getAll(HttpHeaderNames.ACCEPT);
        String accept = accepts.isEmpty() ? null : String.join(", ", accepts);
        ex.answer(manifests.manifest(route.project(), route.name(), route.reference(), accept, ex.isHead()),
                m -> send(ex, m));
    }

    private static void send(Exchange ex, Manifest m) {
        ex.cacheResult(m.cache());
        HttpHeaders h = new DefaultHttpHeaders()
                .set(HttpHeaderNames.CONTENT_TYPE, m.mediaType())
                .set("Docker-Content-Digest", m.digest().toString())
                .set(HttpHeaderNames.ETAG, "\"" + m.digest() + "\"");
        if (m.stale()) {
            h.set(HttpHeaderNames.WARNING, "110 wharf \"Response is Stale\"");
        }
        if (m.body() != null) {
            ex.bytes(HttpResponseStatus.OK, h, m.body());
        } else {
            ex.headersOnly(HttpResponseStatus.OK, h, m.size());
        }
    }
}

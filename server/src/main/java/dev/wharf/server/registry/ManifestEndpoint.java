package dev.wharf.server.registry;

import dev.wharf.server.http.Exchange;
import dev.wharf.server.http.Route;
import dev.wharf.server.pullthrough.Manifest;
import dev.wharf.server.pullthrough.ManifestSource;
import io.netty.handler.codec.http.HttpHeaderNames;
import io.netty.handler.codec.http.HttpHeaders;
import io.netty.handler.codec.http.HttpResponseStatus;
import java.util.List;

/**
 * {@code GET/HEAD /v2/<name>/manifests/<reference>}: asks the {@link ManifestSource} and answers with the manifest's
 * bytes (or, for a HEAD answered from upstream headers, its size), its media type and digest. A manifest served
 * stale because the upstream failed carries a {@code Warning} header. A manifest answered from memory goes out with
 * its head encoded once ({@link PreparedHeads}), on the event loop, without a future.
 */
public final class ManifestEndpoint {
    private final ManifestSource manifests;
    private final PreparedHeads heads = new PreparedHeads();

    public ManifestEndpoint(ManifestSource manifests) {
        this.manifests = manifests;
    }

    public void handle(Exchange ex, Route.Manifest route) {
        String accept = accept(ex.request().headers());
        Manifest hot = manifests.hot(route.project(), route.name(), route.reference(), accept);
        if (hot != null) {
            ex.cacheResult(hot.cache());
            ex.prepared(heads.of(hot), hot.body());
            return;
        }
        ex.answer(manifests.manifest(route.project(), route.name(), route.reference(), accept, ex.isHead()),
                m -> send(ex, m));
    }

    /**
     * The Accept list. Clients built on containers/image (skopeo, podman, CRI-O) send one Accept header per media
     * type: the header fields together are the list (RFC 9110 5.3), so join them; the first alone is a different
     * question.
     */
    private static String accept(HttpHeaders headers) {
        String first = headers.get(HttpHeaderNames.ACCEPT);
        if (first == null) {
            return null;
        }
        List<String> accepts = headers.getAll(HttpHeaderNames.ACCEPT);
        return accepts.size() == 1 ? first : String.join(", ", accepts);
    }

    private void send(Exchange ex, Manifest m) {
        ex.cacheResult(m.cache());
        if (m.body() != null && !m.stale()) {
            ex.prepared(heads.of(m), m.body());
        } else if (m.body() != null) {
            ex.bytes(HttpResponseStatus.OK, PreparedHeads.headers(m), m.body());
        } else {
            ex.headersOnly(HttpResponseStatus.OK, PreparedHeads.headers(m), m.size());
        }
    }
}

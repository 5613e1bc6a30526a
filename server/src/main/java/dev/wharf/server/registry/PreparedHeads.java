package dev.wharf.server.registry;

import com.github.benmanes.caffeine.cache.Cache;
import com.github.benmanes.caffeine.cache.Caffeine;
import dev.wharf.server.http.PreparedHead;
import dev.wharf.server.pullthrough.Manifest;
import dev.wharf.storage.Digest;
import io.netty.handler.codec.http.DefaultHttpHeaders;
import io.netty.handler.codec.http.HttpHeaderNames;
import io.netty.handler.codec.http.HttpHeaders;
import io.netty.handler.codec.http.HttpResponseStatus;

/**
 * The encoded response head of each cached manifest ({@link PreparedHead}), so a warm HEAD or GET of a manifest
 * writes bytes made once instead of building and encoding headers per request.
 *
 * <p>Keyed by the identity of the manifest's body array, the one the tag cache holds in memory (weak keys compare by
 * identity): every answer from memory for that manifest, by tag or digest, in any project, finds the same head. When
 * the cache drops the body (eviction, its size bound), no answer carries that array any more and the head goes with
 * it at the next collection; when a tag moves, its answer carries the new manifest's body and so finds, or makes,
 * that manifest's head. A head is used only for the digest and media type it was made with (the same bytes linked
 * with another media type get their own). Concurrency: Caffeine's map; two requests that make the same head at once
 * both make it and the last one stays, which is benign since both are equal.
 */
final class PreparedHeads {
    private final Cache<byte[], Entry> heads = Caffeine.newBuilder().weakKeys().maximumSize(10_000).build();

    private record Entry(Digest digest, String mediaType, PreparedHead head) {
    }

    /** The head for {@code m}: 200, its media type, digest and ETag, and its length. {@code m} has its body. */
    PreparedHead of(Manifest m) {
        Entry e = heads.getIfPresent(m.body());
        if (e != null && e.digest.equals(m.digest()) && e.mediaType.equals(m.mediaType())) {
            return e.head;
        }
        PreparedHead head = PreparedHead.of(HttpResponseStatus.OK, headers(m), m.body().length);
        heads.put(m.body(), new Entry(m.digest(), m.mediaType(), head));
        return head;
    }

    /** A manifest answer's headers, apart from those every response gets. */
    static HttpHeaders headers(Manifest m) {
        HttpHeaders h = new DefaultHttpHeaders()
                .set(HttpHeaderNames.CONTENT_TYPE, m.mediaType())
                .set("Docker-Content-Digest", m.digest().toString())
                .set(HttpHeaderNames.ETAG, "\"" + m.digest() + "\"");
        if (m.stale()) {
            h.set(HttpHeaderNames.WARNING, "110 wharf \"Response is Stale\"");
        }
        return h;
    }
}

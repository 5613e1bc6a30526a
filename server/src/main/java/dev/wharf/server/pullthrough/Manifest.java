package dev.wharf.server.pullthrough;

import dev.wharf.server.api.CacheResult;
import dev.wharf.storage.Digest;

/**
 * A manifest answer: digest, media type, and either the exact bytes (GET) or only the size (HEAD answered from
 * upstream headers). {@code stale} marks a cached copy served because the upstream failed; {@code cache} says where
 * the answer came from (metrics and access log).
 */
public record Manifest(Digest digest, String mediaType, byte[] body, long size, boolean stale, CacheResult cache) {
    /** A manifest with its bytes, as fetched from the upstream; {@link #as} marks one read from the cache. */
    public static Manifest of(Digest digest, String mediaType, byte[] body) {
        return new Manifest(digest, mediaType, body, body.length, false, CacheResult.MISS);
    }

    public Manifest as(CacheResult result) {
        return new Manifest(digest, mediaType, body, size, stale, result);
    }

    public Manifest asStale() {
        return new Manifest(digest, mediaType, body, size, true, CacheResult.STALE);
    }
}

package dev.wharf.server.registry;

import dev.wharf.storage.Digest;

/**
 * A manifest answer: digest, media type, and either the exact bytes (GET) or only the size (HEAD answered from
 * upstream headers). {@code stale} marks a cached copy served because the upstream failed.
 */
record Manifest(Digest digest, String mediaType, byte[] body, long size, boolean stale) {
    static Manifest of(Digest digest, String mediaType, byte[] body) {
        return new Manifest(digest, mediaType, body, body.length, false);
    }

    Manifest asStale() {
        return new Manifest(digest, mediaType, body, size, true);
    }
}

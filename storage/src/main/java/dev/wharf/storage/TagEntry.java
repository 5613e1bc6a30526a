package dev.wharf.storage;

import java.time.Instant;

/** What the cache knows about one tag: the manifest it pointed at, its media type, and when the upstream last said so. */
public record TagEntry(Digest digest, String mediaType, Instant fetchedAt) {
    public TagEntry {
        if (digest == null || mediaType == null || fetchedAt == null) {
            throw new IllegalArgumentException("tag entry fields are required");
        }
    }
}

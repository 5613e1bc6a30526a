package dev.wharf.storage;

import java.util.List;

/**
 * One blob removed from the store, with the tag entries that went with it (a manifest takes the tags that point at
 * it; a layer takes none).
 *
 * @param digest      the blob
 * @param size        its size in bytes
 * @param reason      why it went
 * @param removedTags the tag entries deleted with it
 */
public record Eviction(Digest digest, long size, Reason reason, List<TagRef> removedTags) {
    public Eviction {
        removedTags = List.copyOf(removedTags);
    }

    /** Why a blob left the store. The lower-case name is the metrics label. */
    public enum Reason {
        /** The store was above its high watermark; least recently used first ({@code storage.maxSize}). */
        SIZE,
        /** Not pulled for longer than {@code retention.unusedFor}. */
        UNUSED,
        /** Deleted by an operator (admin API). */
        ADMIN,
        /** Moved aside because its content does not match its digest. */
        QUARANTINE;

        /** The label for metrics and logs. */
        public String label() {
            return name().toLowerCase(java.util.Locale.ROOT);
        }
    }
}

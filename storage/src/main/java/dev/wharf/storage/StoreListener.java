package dev.wharf.storage;

import java.util.Collection;

/**
 * Told about changes to a {@link ContentStore} (see {@link ContentStore#addListener}). Callbacks run synchronously on
 * the thread that made the change: a storage I/O thread or the evictor, never an event loop the store knows of. Keep
 * them short and non-blocking; an exception is logged and ignored.
 */
public interface StoreListener {
    /** A blob was committed (renamed into place) for the first time. */
    default void committed(Digest digest, long size) {
    }

    /** A blob was evicted or deleted; its tags are gone from disk already. */
    default void evicted(Eviction eviction) {
    }

    /** Tag entries were deleted on their own (admin: delete a tag or a repository), not with an eviction. */
    default void tagsDeleted(Collection<TagRef> tags) {
    }

    /**
     * A transfer could not be cached because the store is full (or a write failed for lack of space): its bytes go
     * to the clients but nothing is stored. {@code cause} is the write error.
     */
    default void passedThrough(Digest digest, Throwable cause) {
    }
}

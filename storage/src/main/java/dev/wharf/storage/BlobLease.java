package dev.wharf.storage;

import java.util.concurrent.atomic.AtomicBoolean;

/**
 * A pin on one digest: while any lease on it is open, the blob is never evicted, so a response that serves it (from
 * the committed file, or from a fill that commits while the response streams) is never cut short by eviction. Taking
 * one records an access (recency). Obtained from {@link ContentStore#use}; close it exactly when the response ends
 * (closing twice is harmless). Cheap: a map lookup, an uncontended monitor and a volatile write, no I/O.
 */
public final class BlobLease implements AutoCloseable {
    private final ContentStore store;
    private final BlobIndex.Entry entry;
    private final AtomicBoolean closed = new AtomicBoolean();

    BlobLease(ContentStore store, BlobIndex.Entry entry) {
        this.store = store;
        this.entry = entry;
    }

    /** The pinned digest. */
    public Digest digest() {
        return entry.digest;
    }

    /**
     * Size of the blob if it is committed now, else -1. While the lease is open a committed blob stays committed, and
     * a pending one turns committed when a fill of it commits.
     */
    public long size() {
        return entry.size;
    }

    /** True if the blob is committed in the store now. */
    public boolean stored() {
        return entry.size >= 0;
    }

    /** Releases the pin. Idempotent. */
    @Override
    public void close() {
        if (closed.compareAndSet(false, true)) {
            store.release(entry);
        }
    }

    @Override
    public String toString() {
        return "BlobLease[" + entry.digest + (closed.get() ? ", closed]" : "]");
    }
}

package dev.wharf.storage;

import java.io.IOException;
import java.util.concurrent.atomic.AtomicLong;
import java.util.concurrent.atomic.LongAdder;
import java.util.function.LongSupplier;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

/**
 * Capacity accounting: the hard cap, the bytes reserved by writes not yet committed, what counts as "out of space",
 * and the transfers passed through uncached because of it. Lock-free: {@link #claim} is a CAS loop on the pending
 * total, so two writers can never both take the last free bytes; the committed total is read from the index.
 */
final class Capacity {
    private static final Logger log = LoggerFactory.getLogger(Capacity.class);
    private static final long PASS_THROUGH_LOG_INTERVAL_NANOS = 60_000_000_000L;

    private final LongSupplier storedBytes;
    private final Listeners listeners;
    private final AtomicLong pendingBytes = new AtomicLong();
    private final LongAdder passThroughs = new LongAdder();
    private final AtomicLong lastPassThroughLog = new AtomicLong(System.nanoTime() - PASS_THROUGH_LOG_INTERVAL_NANOS);
    private volatile long limit;

    Capacity(LongSupplier storedBytes, Listeners listeners) {
        this.storedBytes = storedBytes;
        this.listeners = listeners;
    }

    void setLimit(long bytes) {
        if (bytes < 0) {
            throw new IllegalArgumentException("negative capacity: " + bytes);
        }
        limit = bytes;
    }

    long limit() {
        return limit;
    }

    long pending() {
        return pendingBytes.get();
    }

    /** Fails like a full disk if the store is at its hard capacity (a new temp file would not fit a byte). */
    void checkRoomForTemp() throws StorageFullException {
        long cap = limit;
        if (cap > 0 && storedBytes.getAsLong() + pendingBytes.get() >= cap) {
            throw full(cap);
        }
    }

    /** Reserves {@code n} bytes for a write about to happen; fails like a full disk if the hard capacity is hit. */
    void claim(long n) throws StorageFullException {
        for (;;) {
            long pending = pendingBytes.get();
            long cap = limit;
            if (cap > 0 && storedBytes.getAsLong() + pending + n > cap) {
                throw full(cap);
            }
            if (pendingBytes.compareAndSet(pending, pending + n)) {
                return;
            }
        }
    }

    /** Returns bytes reserved with {@link #claim} (written and then committed, or deleted). */
    void release(long n) {
        pendingBytes.addAndGet(-n);
    }

    private static StorageFullException full(long cap) {
        return new StorageFullException("No space left on device: the store's capacity of " + cap
                + " bytes is reached");
    }

    /** See {@link ContentStore#isOutOfSpace}. */
    static boolean isOutOfSpace(Throwable t) {
        for (Throwable c = t; c != null; c = c.getCause() == c ? null : c.getCause()) {
            if (c instanceof StorageFullException) {
                return true;
            }
            String m = c.getMessage();
            if (c instanceof IOException && m != null
                    && (m.contains("No space left on device") || m.contains("Disk quota exceeded"))) {
                return true;
            }
        }
        return false;
    }

    /** A fill of {@code digest} gave up caching for lack of space: counted, told to listeners, logged at most once a minute. */
    void passedThrough(Digest digest, Throwable cause) {
        passThroughs.increment();
        long now = System.nanoTime();
        long last = lastPassThroughLog.get();
        if (now - last >= PASS_THROUGH_LOG_INTERVAL_NANOS && lastPassThroughLog.compareAndSet(last, now)) {
            log.warn("storage is full: passing blobs through to clients without caching them ({} so far, this one "
                    + "{}): {}; logged at most once a minute", passThroughs.sum(), digest, cause.getMessage());
        }
        listeners.passedThrough(digest, cause);
    }

    long passThroughCount() {
        return passThroughs.sum();
    }
}

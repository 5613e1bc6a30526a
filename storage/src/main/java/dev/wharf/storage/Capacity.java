package dev.wharf.storage;

import java.io.IOException;
import java.nio.file.FileStore;
import java.nio.file.Files;
import java.nio.file.Path;
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

    /**
     * A failed write counts as "out of space" when the store's filesystem has less than this left: a write of one
     * fill chunk or one small file cannot fit, whatever the operating system's (localised) error text says.
     */
    static final long LOW_SPACE = 1 << 20;

    private final LongSupplier storedBytes;
    private final Listeners listeners;
    /** Bytes this process may still write on the store's filesystem, or -1 if that cannot be told. */
    private final LongSupplier usableSpace;
    private final AtomicLong pendingBytes = new AtomicLong();
    private final LongAdder passThroughs = new LongAdder();
    private final AtomicLong lastPassThroughLog = new AtomicLong(System.nanoTime() - PASS_THROUGH_LOG_INTERVAL_NANOS);
    private volatile long limit;

    Capacity(LongSupplier storedBytes, Listeners listeners, LongSupplier usableSpace) {
        this.storedBytes = storedBytes;
        this.listeners = listeners;
        this.usableSpace = usableSpace;
    }

    /** The usable space of the filesystem holding {@code path} ({@link FileStore#getUsableSpace}), or -1. */
    static long usableSpace(Path path) {
        try {
            return Files.getFileStore(path).getUsableSpace();
        } catch (IOException | RuntimeException e) {
            return -1;
        }
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

    /**
     * See {@link ContentStore#outOfSpace}: {@link #isOutOfSpace(Throwable)}, or an I/O error while the store's
     * filesystem has less than {@link #LOW_SPACE} left. The JDK does not expose the errno of a failed write, and its
     * message is the C library's {@code strerror} in the process's locale ("Auf dem Gerät ist kein Speicherplatz
     * mehr verfügbar" under {@code LANG=de_DE.UTF-8}), so the free space is what tells a full disk everywhere.
     */
    boolean outOfSpace(Throwable t) {
        if (isOutOfSpace(t)) {
            return true;
        }
        boolean io = false;
        for (Throwable c = t; c != null && !io; c = c.getCause() == c ? null : c.getCause()) {
            io = c instanceof IOException;
        }
        if (!io) {
            return false;
        }
        long usable = usableSpace.getAsLong();
        return usable >= 0 && usable < LOW_SPACE;
    }

    /** See {@link ContentStore#isOutOfSpace}: the hard cap, or the English error text of ENOSPC or EDQUOT. */
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

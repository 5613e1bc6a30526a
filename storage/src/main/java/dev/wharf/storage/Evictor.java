package dev.wharf.storage;

import java.time.Duration;
import java.time.Instant;
import java.util.List;
import java.util.Objects;
import java.util.concurrent.RejectedExecutionException;
import java.util.concurrent.ScheduledThreadPoolExecutor;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.atomic.AtomicBoolean;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

/**
 * Keeps a {@link ContentStore} within its bounds: {@code storage.maxSize} (above the high watermark, the least
 * recently used unpinned blobs go until the store is at or below the low watermark) and {@code retention.unusedFor}
 * (blobs not used for that long go). It also persists recency ({@link ContentStore#flushRecency}) every period and
 * at close.
 *
 * <p>Threading: everything runs on the evictor's own daemon thread ({@code wharf-evictor}), never on the caller's:
 * a periodic sweep every {@code period}, and a sweep requested by the store whenever a commit or the release of a
 * lease finds it above the high watermark ({@link #requestSweep}, which any thread, an event loop included, may
 * call: it only queues one task, and requests made while one is queued are merged into it). {@link #sweep} is
 * synchronized, so a direct call (tests) never runs beside the thread's own.
 *
 * <p>What a sweep never removes: a blob a lease pins (a response serves it, or clients stream its fill), and a
 * blob used after the sweep took its snapshot (each eviction re-checks the last access under the entry's monitor).
 * A fill in progress is not in the index at all until it commits.
 */
public final class Evictor implements AutoCloseable {
    private static final Logger log = LoggerFactory.getLogger(Evictor.class);

    /**
     * The bounds.
     *
     * @param maxSize       storage cap in bytes, 0 for none
     * @param highWatermark fraction of maxSize above which a sweep evicts (0 &lt; low &lt; high &lt;= 1)
     * @param lowWatermark  fraction of maxSize a sweep evicts down to
     * @param unusedFor     evict blobs not used for this long, or null for no retention limit
     */
    public record Policy(long maxSize, double highWatermark, double lowWatermark, Duration unusedFor) {
        public Policy {
            if (maxSize < 0) {
                throw new IllegalArgumentException("negative maxSize: " + maxSize);
            }
            if (!(lowWatermark > 0 && lowWatermark < highWatermark && highWatermark <= 1)) {
                throw new IllegalArgumentException("watermarks must satisfy 0 < low < high <= 1: low "
                        + lowWatermark + ", high " + highWatermark);
            }
            if (unusedFor != null && (unusedFor.isNegative() || unusedFor.isZero())) {
                throw new IllegalArgumentException("unusedFor must be positive: " + unusedFor);
            }
        }

        /** No bounds: only recency is persisted. */
        public static final Policy UNBOUNDED = new Policy(0, 0.95, 0.85, null);

        /** Stored bytes above which a sweep evicts; Long.MAX_VALUE without maxSize. */
        public long highBytes() {
            return maxSize == 0 ? Long.MAX_VALUE : (long) (maxSize * highWatermark);
        }

        /** Stored bytes a size sweep evicts down to. */
        public long lowBytes() {
            return maxSize == 0 ? Long.MAX_VALUE : (long) (maxSize * lowWatermark);
        }
    }

    /**
     * What one sweep did.
     *
     * @param unusedBlobs blobs evicted for retention
     * @param unusedBytes their bytes
     * @param sizeBlobs   blobs evicted for size
     * @param sizeBytes   their bytes
     * @param pinned      candidates passed over because a lease held them (or they were used during the sweep)
     */
    public record Result(int unusedBlobs, long unusedBytes, int sizeBlobs, long sizeBytes, int pinned) {
        /** Blobs evicted in all. */
        public int evicted() {
            return unusedBlobs + sizeBlobs;
        }
    }

    private final ContentStore store;
    private final Policy policy;
    private final Duration period;
    private final ScheduledThreadPoolExecutor thread;
    private final AtomicBoolean requested = new AtomicBoolean();
    private volatile boolean closed;

    /** An evictor for {@code store}; nothing runs until {@link #start}. {@code period}: sweeps and recency flushes. */
    public Evictor(ContentStore store, Policy policy, Duration period) {
        this.store = Objects.requireNonNull(store, "store");
        this.policy = Objects.requireNonNull(policy, "policy");
        this.period = Objects.requireNonNull(period, "period");
        if (period.isNegative() || period.isZero()) {
            throw new IllegalArgumentException("period must be positive: " + period);
        }
        this.thread = new ScheduledThreadPoolExecutor(1, r -> {
            Thread t = new Thread(r, "wharf-evictor");
            t.setDaemon(true);
            return t;
        });
        this.thread.setRemoveOnCancelPolicy(true);
        this.thread.setExecuteExistingDelayedTasksAfterShutdownPolicy(false);
    }

    /** The bounds this evictor applies. */
    public Policy policy() {
        return policy;
    }

    /** Starts the periodic sweeps, asks the store to call for one when it goes above the high watermark, and sweeps once now. */
    public Evictor start() {
        store.setPressure(policy.highBytes(), this::requestSweep);
        long millis = period.toMillis();
        thread.scheduleWithFixedDelay(this::periodic, millis, millis, TimeUnit.MILLISECONDS);
        requestSweep();
        return this;
    }

    /** Queues a sweep on the evictor's thread unless one is queued already. Never blocks. */
    public void requestSweep() {
        if (closed || !requested.compareAndSet(false, true)) {
            return;
        }
        try {
            thread.execute(() -> {
                requested.set(false);
                sweepQuietly();
            });
        } catch (RejectedExecutionException e) {
            requested.set(false); // closed meanwhile
        }
    }

    /**
     * One sweep, on the calling thread: retention first (blobs unused for longer than {@code unusedFor}, by the
     * store's clock), then size (least recently used first, if above the high watermark, down to the low one).
     */
    public synchronized Result sweep() {
        int unusedBlobs = 0;
        long unusedBytes = 0;
        int sizeBlobs = 0;
        long sizeBytes = 0;
        int pinned = 0;
        if (policy.unusedFor() != null) {
            Instant cutoff = store.clock().instant().minus(policy.unusedFor());
            for (BlobInfo blob : store.evictionCandidates()) {
                if (!blob.lastAccess().isBefore(cutoff)) {
                    break; // sorted: the rest are newer
                }
                if (blob.pinned()) {
                    pinned++;
                    continue;
                }
                var evicted = store.evict(blob.digest(), Eviction.Reason.UNUSED, cutoff);
                if (evicted.isPresent()) {
                    unusedBlobs++;
                    unusedBytes += evicted.get().size();
                } else {
                    pinned++;
                }
            }
        }
        if (policy.maxSize() > 0 && store.storedBytes() > policy.highBytes()) {
            long target = policy.lowBytes();
            List<BlobInfo> candidates = store.evictionCandidates();
            for (BlobInfo blob : candidates) {
                if (store.storedBytes() <= target) {
                    break;
                }
                if (blob.pinned()) {
                    pinned++;
                    continue;
                }
                // Only if not used since the snapshot: a blob used meanwhile is no longer the least recent.
                var evicted = store.evict(blob.digest(), Eviction.Reason.SIZE, blob.lastAccess().plusMillis(1));
                if (evicted.isPresent()) {
                    sizeBlobs++;
                    sizeBytes += evicted.get().size();
                } else {
                    pinned++;
                }
            }
            if (store.storedBytes() > policy.highBytes()) {
                log.warn("storage holds {} bytes, above the high watermark of {} bytes, after evicting all it could: "
                        + "{} blobs are in use; retrying when they are released", store.storedBytes(),
                        policy.highBytes(), pinned);
            }
        }
        Result result = new Result(unusedBlobs, unusedBytes, sizeBlobs, sizeBytes, pinned);
        if (result.evicted() > 0) {
            log.info("evicted {} blobs ({} bytes) over storage.maxSize and {} blobs ({} bytes) unused for {}; storage "
                    + "now holds {} bytes in {} blobs", sizeBlobs, sizeBytes, unusedBlobs, unusedBytes,
                    policy.unusedFor(), store.storedBytes(), store.blobCount());
        }
        return result;
    }

    private void periodic() {
        sweepQuietly();
        try {
            store.flushRecency();
        } catch (RuntimeException e) {
            log.warn("persisting recency failed", e);
        }
    }

    private void sweepQuietly() {
        try {
            sweep();
        } catch (RuntimeException e) {
            log.error("eviction sweep failed", e);
        }
    }

    /** Stops the thread (waiting for a sweep in progress) and persists recency one last time. */
    @Override
    public void close() {
        closed = true;
        store.setPressure(Long.MAX_VALUE, null);
        thread.shutdown();
        try {
            if (!thread.awaitTermination(10, TimeUnit.SECONDS)) {
                log.warn("the evictor did not stop within 10 s");
            }
        } catch (InterruptedException e) {
            Thread.currentThread().interrupt();
        }
        store.flushRecency();
    }
}

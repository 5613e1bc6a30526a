package dev.wharf.storage.fill;

import dev.wharf.storage.ContentStore;
import dev.wharf.storage.Digest;
import java.io.IOException;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;
import java.util.Objects;
import java.util.Optional;
import java.util.concurrent.ConcurrentHashMap;
import java.util.concurrent.Executor;

/**
 * The fills in progress, one per digest. Every request for a digest that is being fetched joins the same
 * {@link BlobFill}; a fill leaves this registry when it commits or fails, so the next request after a failure
 * starts a new one.
 *
 * <p>Concurrency: {@link #acquire} is atomic per digest (a ConcurrentHashMap compute), so two racing requests can
 * never both become the starter. A fill removes itself ({@code remove(digest, fill)}, so never a successor) on the
 * I/O thread before its {@code result()} completes: a caller who saw the result and asks again never gets the old
 * fill back. A request that arrives between a fill's rename and its removal joins the old fill, which is about to
 * be COMMITTED; one that arrives after the removal finds the blob in the store. A FAILED fill still in the map
 * (between its failure and its clean-up) is replaced by a new one rather than joined.
 */
public final class Fills {
    private final ContentStore store;
    private final Executor io;
    private final Executor hashing;
    private final ConcurrentHashMap<Digest, BlobFill> fills = new ConcurrentHashMap<>();
    /** Copies each fill to the shared store before it commits, or null. */
    private final BlobUploads uploads;

    /**
     * {@code io} runs the appends, fsync and rename; it must be bounded and must not be a Netty event loop. A task it
     * rejects fails that fill (nothing is ever written on the caller's thread), so give it a queue rather than a
     * rejecting hand-off.
     */
    public Fills(ContentStore store, Executor io) {
        this(store, io, HashThreads.SHARED, null);
    }

    /**
     * The whole form: each fill's digest is computed on {@code hashing} in parallel with its appends (null: the shared
     * hash threads, as many as cores; CPU-bound work, so about as many threads as cores is enough; a rejected task
     * fails that fill), and each fill is also uploaded through {@code uploads} (null for none) and commits only once
     * it is.
     */
    public Fills(ContentStore store, Executor io, Executor hashing, BlobUploads uploads) {
        this.store = Objects.requireNonNull(store, "store");
        this.io = Objects.requireNonNull(io, "io");
        this.hashing = hashing == null ? HashThreads.SHARED : hashing;
        this.uploads = uploads;
    }

    /**
     * Joins the running fill for {@code digest}, or starts one. {@code started} is true for exactly one caller per
     * fill: that caller must fetch the upstream and drive the writer side; the others only read.
     * If the blob is already committed in the store when a fill would be created (a request that raced a commit),
     * the returned fill is already COMMITTED ({@code size()} and {@code result()} complete) and {@code started} is
     * false. If no temp file can be created (disk full, tmp/ unwritable), the returned fill is already FAILED with
     * that cause and {@code started} is false, unless the cause is a lack of space: then the returned fill is a
     * running pass-through (nothing will be stored), {@code started} is true, and it is not registered, so no one
     * else joins it.
     *
     * <p>Creating a fill costs an index lookup and a file creation on the calling thread; joining costs neither.
     */
    public Acquired acquire(Digest digest) {
        return acquire(digest, null);
    }

    /**
     * As {@link #acquire(Digest)}; {@code origin} (e.g. {@code project/repository}, never credentials) labels a fill
     * this call starts in {@link #snapshot}. A call that joins a running fill counts as one more client of it.
     */
    public Acquired acquire(Digest digest, String origin) {
        return acquire(digest, origin, true);
    }

    /**
     * As {@link #acquire(Digest, String)}; {@code upload} false for a fill whose bytes come from the shared store
     * itself (a hot-tier miss read through), which must not be uploaded again.
     */
    public Acquired acquire(Digest digest, String origin, boolean upload) {
        Objects.requireNonNull(digest, "digest");
        BlobFill[] finished = new BlobFill[1];
        boolean[] started = new boolean[1];
        BlobFill fill = fills.compute(digest, (d, existing) -> {
            if (existing != null && existing.state() != BlobFill.State.FAILED && !existing.isPassThrough()) {
                existing.joinedOnce();
                return existing;
            }
            Optional<Long> stored = store.blobSize(d);
            if (stored.isPresent()) {
                finished[0] = BlobFill.committed(d, store.blobPath(d), stored.get());
                return null;
            }
            Path temp;
            try {
                temp = store.newTempFile();
            } catch (IOException e) {
                if (store.outOfSpace(e)) {
                    // The disk is full: this transfer passes through uncached, for its starter alone.
                    finished[0] = BlobFill.passThrough(d, store, io, hashing, e, this::remove);
                    started[0] = true;
                    return null;
                }
                finished[0] = BlobFill.failed(d, new IOException("cannot start a fill of " + d + ": " + e, e));
                return null;
            }
            started[0] = true;
            BlobFill created = new BlobFill(d, store, io, hashing, temp, this::remove,
                    upload && uploads != null ? uploads.start(d, temp) : null);
            created.origin(origin);
            return created;
        });
        return fill != null ? new Acquired(fill, started[0]) : new Acquired(finished[0], started[0]);
    }

    /**
     * The fill of {@code digest} running now (STARTING or STREAMING, not a pass-through), or null; never starts one.
     * A peer replica streaming this replica's fill joins it this way. A map lookup.
     */
    public BlobFill running(Digest digest) {
        BlobFill fill = fills.get(digest);
        if (fill == null || fill.isPassThrough()) {
            return null;
        }
        BlobFill.State s = fill.state();
        return s == BlobFill.State.STARTING || s == BlobFill.State.STREAMING ? fill : null;
    }

    /** Number of fills in progress. */
    public int inFlight() {
        return fills.size();
    }

    /**
     * A read-only view of the fills in progress, for status pages: reads volatile fields only, takes no lock that a
     * fill's writer holds, and copies nothing but these numbers.
     */
    public List<View> snapshot() {
        List<View> out = new ArrayList<>();
        for (BlobFill f : fills.values()) {
            out.add(new View(f.digest(), f.origin(), f.state(), f.available(), f.expectedSize(), 1 + f.joined(),
                    f.startedNanos()));
        }
        return out;
    }

    /**
     * One fill in progress.
     *
     * @param origin       what its starter said it is for (e.g. {@code project/repository}), or null
     * @param bytes        bytes received and readable so far
     * @param size         the size the upstream announced, or -1 before its headers came
     * @param clients      the starter plus every request that joined it
     * @param startedNanos {@code System.nanoTime()} when it started
     */
    public record View(Digest digest, String origin, BlobFill.State state, long bytes, long size, int clients,
                       long startedNanos) {
    }

    private void remove(BlobFill fill) {
        fills.remove(fill.digest(), fill);
    }

    /** The result of {@link #acquire}. */
    public record Acquired(BlobFill fill, boolean started) {
    }
}

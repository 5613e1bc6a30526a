package dev.wharf.storage;

import java.util.concurrent.Executor;

/**
 * The fills in progress, one per digest. Every request for a digest that is being fetched joins the same
 * {@link BlobFill}; a fill leaves this registry when it commits or fails, so the next request after a failure
 * starts a new one.
 *
 * <p>Concurrency: {@link #acquire} is atomic per digest (a ConcurrentHashMap compute), so two racing requests can
 * never both become the starter.
 */
public final class Fills {

    /** {@code io} runs the appends, fsync and rename; it must be bounded and must not be a Netty event loop. */
    public Fills(ContentStore store, Executor io) {
        throw new UnsupportedOperationException("TODO");
    }

    /**
     * Joins the running fill for {@code digest}, or starts one. {@code started} is true for exactly one caller per
     * fill: that caller must fetch the upstream and drive the writer side; the others only read.
     * If the blob is already committed in the store when a fill would be created (a request that raced a commit),
     * the returned fill is already COMMITTED ({@code size()} and {@code result()} complete) and {@code started} is
     * false.
     */
    public Acquired acquire(Digest digest) {
        throw new UnsupportedOperationException("TODO");
    }

    /** Number of fills in progress. */
    public int inFlight() {
        throw new UnsupportedOperationException("TODO");
    }

    /** The result of {@link #acquire}. */
    public record Acquired(BlobFill fill, boolean started) {
    }
}

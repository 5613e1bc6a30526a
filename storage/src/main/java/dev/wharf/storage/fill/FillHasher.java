package dev.wharf.storage.fill;

import dev.wharf.storage.Digest;
import java.io.IOException;
import java.security.MessageDigest;
import java.util.concurrent.ConcurrentLinkedQueue;
import java.util.concurrent.Executor;
import java.util.concurrent.RejectedExecutionException;
import java.util.concurrent.atomic.AtomicInteger;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

/**
 * A fill's running digest, updated on the hash executor in parallel with {@link FillDrain}'s file writes: both read
 * the same offered chunk (each through its own view), and the chunk is released when both are done with it. So the
 * SHA-256 of a cold pull, the most CPU it costs, runs on its own thread beside the write and off every client's path;
 * a client waits for it only at its last byte. At the end of the body the digest goes to the drainer
 * ({@link FillDrain#digested}), which checks it and commits. Concurrency: the same queue-drain idiom as
 * {@link FillDrain} ({@code wip}), so the {@link MessageDigest} is touched by one thread at a time, in offer order.
 */
final class FillHasher {
    private static final Logger log = LoggerFactory.getLogger(BlobFill.class);
    /** Chunks one run hashes before it yields the thread to other fills (at most HIGH_WATER bytes are queued). */
    private static final int BUDGET = 64;
    private static final Object END = new Object();

    private final BlobFill fill;
    private final FillDrain drain;
    private final Executor executor;
    private final ConcurrentLinkedQueue<Object> ops = new ConcurrentLinkedQueue<>();
    private final AtomicInteger wip = new AtomicInteger();
    // Hash thread only.
    private final MessageDigest hasher;

    FillHasher(BlobFill fill, FillDrain drain, Executor executor, MessageDigest hasher) {
        this.fill = fill;
        this.drain = drain;
        this.executor = executor;
        this.hasher = hasher;
    }

    void offer(FillDrain.Chunk chunk) {
        ops.add(chunk);
        schedule();
    }

    /** The body ended: hash what is queued, then hand the digest to the drainer. */
    void complete() {
        ops.add(END);
        schedule();
    }

    /** Drops every queued chunk (the fill failed). Any thread. */
    void dropQueued() {
        Object op;
        while ((op = ops.poll()) != null) {
            if (op instanceof FillDrain.Chunk chunk) {
                chunk.done(fill);
            }
        }
    }

    private void schedule() {
        if (wip.getAndIncrement() != 0) {
            return;
        }
        try {
            executor.execute(this::run);
        } catch (RejectedExecutionException e) {
            fill.failInternal(new IOException("hash executor rejected the fill of " + fill.digest(), e));
            dropQueued();
            wip.set(0);
        }
    }

    private void run() {
        for (;;) {
            int seen = wip.get();
            int budget = BUDGET;
            Object op;
            while (budget > 0 && (op = ops.poll()) != null) {
                budget--;
                try {
                    if (op == END) {
                        if (fill.state() == BlobFill.State.STREAMING) {
                            drain.digested(Digest.of(fill.digest().algorithm(), hasher));
                        }
                    } else {
                        FillDrain.Chunk chunk = (FillDrain.Chunk) op;
                        try {
                            if (fill.state() == BlobFill.State.STREAMING) {
                                hasher.update(chunk.forHash());
                            }
                        } finally {
                            chunk.done(fill);
                        }
                    }
                } catch (Throwable t) {
                    log.error("hashing the fill of {} broke", fill.digest(), t);
                    fill.failInternal(t);
                }
            }
            if (budget == 0 && !ops.isEmpty()) {
                try {
                    executor.execute(this::run); // keeps the wip token
                    return;
                } catch (RejectedExecutionException e) {
                    continue;
                }
            }
            if (wip.compareAndSet(seen, 0)) {
                return;
            }
        }
    }
}

package dev.wharf.storage.fill;

import dev.wharf.storage.AtomicFiles;
import dev.wharf.storage.ContentStore;
import dev.wharf.storage.Digest;
import dev.wharf.storage.DigestMismatchException;
import java.io.IOException;
import java.nio.ByteBuffer;
import java.nio.channels.FileChannel;
import java.nio.file.StandardOpenOption;
import java.security.MessageDigest;
import java.util.concurrent.ConcurrentLinkedQueue;
import java.util.concurrent.RejectedExecutionException;
import java.util.concurrent.atomic.AtomicInteger;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

/**
 * A fill's writer queue and the drainer that empties it on the I/O executor: appends, hashing, the size and digest
 * check, fsync, commit, the switch to pass-through and clean-up. Concurrency: {@link #drain} never runs on two
 * threads at once. {@link #schedule} submits it only on the 0→1 transition of {@code wip}, and it exits only by a CAS
 * of {@code wip} back to 0 from the value it saw before its last pass, so an op queued after that read makes the CAS
 * fail and is handled by another pass (the queue-drain idiom). So the channel, the hasher, {@code written},
 * {@code claimed} and {@code cleanedUp} are touched by one thread at a time, ordered by the executor hand-off and
 * the {@code wip} atomics. A rejected submission fails the fill; the caller's thread then only drops chunks and
 * deletes the temp file, never appends. Full argument: docs/architecture.md, "Concurrency of a fill".
 */
final class FillDrain {
    private static final Logger log = LoggerFactory.getLogger(BlobFill.class);
    /** Ops one drain run handles before it yields the I/O thread to other fills. */
    private static final int DRAIN_BUDGET = 64;
    /** The queued op that ends the body; ordered after every chunk the writer offered before it. */
    private static final Object COMPLETE = new Object();

    /** The upload to the shared store ended ({@code failure} null: it is visible there); queued by its future. */
    private record Uploaded(Throwable failure) {
    }

    /** One offered chunk; {@code release} runs exactly once, by whoever polls it. */
    record Chunk(ByteBuffer buffer, Runnable release, int length) {
    }

    private final BlobFill fill;
    private final ConcurrentLinkedQueue<Object> ops = new ConcurrentLinkedQueue<>();
    private final AtomicInteger wip = new AtomicInteger();

    // Drainer only.
    private final MessageDigest hasher;
    private FileChannel channel;
    private long written;
    private boolean cleanedUp;
    /** Bytes reserved with {@link ContentStore#claimSpace} for the temp file. */
    private long claimed;

    FillDrain(BlobFill fill, MessageDigest hasher) {
        this.fill = fill;
        this.hasher = hasher;
    }

    /** A fill finished from the start: nothing will ever drain. */
    void markFinished(long size) {
        written = size;
        cleanedUp = true;
    }

    /** Queues a chunk and makes sure a drain runs. */
    void offer(Chunk chunk) {
        ops.add(chunk);
        schedule();
    }

    /** Queues the end of the body, after every chunk queued before it. */
    void complete() {
        ops.add(COMPLETE);
        schedule();
    }

    /** Drops every queued chunk, releasing each (the fill failed). Any thread; poll hands each chunk to one. */
    void dropQueued() {
        Object op;
        while ((op = ops.poll()) != null) {
            if (op instanceof Chunk chunk) {
                BlobFill.runQuietly(chunk.release(), "release");
            }
        }
    }

    void schedule() {
        if (wip.getAndIncrement() != 0) {
            return; // a drain is running or submitted; it will see this op
        }
        try {
            fill.io.execute(this::drain);
        } catch (RejectedExecutionException e) {
            // The executor is shut down or saturated. Nothing may be written on the caller's thread, so fail; the
            // drain below then only releases chunks and deletes the temp file, and we own the wip token for it.
            fill.markFailed(new IOException("storage executor rejected the fill of " + fill.digest(), e));
            drain();
        }
    }

    private void drain() {
        for (;;) {
            int seen = wip.get();
            int budget = DRAIN_BUDGET;
            Object op;
            while (budget > 0 && (op = ops.poll()) != null) {
                budget--;
                try {
                    if (op == COMPLETE) {
                        finish();
                    } else if (op instanceof Uploaded uploaded) {
                        uploaded(uploaded.failure());
                    } else {
                        append((Chunk) op);
                    }
                } catch (Throwable t) {
                    // A bug, not an I/O error (those are handled inside); never leave the fill stuck.
                    log.error("fill of {} broke", fill.digest(), t);
                    fill.failInternal(t);
                }
            }
            if (fill.state() == BlobFill.State.FAILED && !cleanedUp) {
                cleanUp();
            }
            if (budget == 0 && !ops.isEmpty()) {
                try {
                    fill.io.execute(this::drain); // keeps the wip token: no one else submits meanwhile
                    return;
                } catch (RejectedExecutionException e) {
                    continue; // already on the I/O thread; carry on here
                }
            }
            if (wip.compareAndSet(seen, 0)) {
                return;
            }
        }
    }

    private void append(Chunk chunk) {
        boolean inWindow = false;
        try {
            if (fill.state() != BlobFill.State.STREAMING) {
                return; // failed: drop unwritten
            }
            ByteBuffer source = chunk.buffer();
            ByteBuffer forDigest = source.duplicate();
            boolean inFile = false;
            if (!fill.passThrough) {
                try {
                    fill.store.claimSpace(chunk.length());
                    claimed += chunk.length();
                    FileChannel out = channel();
                    long position = written;
                    while (source.hasRemaining()) {
                        position += out.write(source, position);
                    }
                    hasher.update(forDigest);
                    written = position;
                    fill.available = position;
                    inFile = true;
                    if (fill.upload != null) {
                        fill.upload.written(position);
                    }
                } catch (IOException e) {
                    if (!fill.store.outOfSpace(e)) {
                        fill.failInternal(new IOException(
                                "writing the fill of " + fill.digest() + " failed: " + e.getMessage(), e));
                        return;
                    }
                    startPassThrough(e); // and keep this chunk (whole: forDigest still holds all of it) in memory
                }
            }
            if (!inFile) {
                inWindow = keepInMemory(forDigest, chunk.length());
            }
        } finally {
            BlobFill.runQuietly(chunk.release(), "release");
            if (!inWindow) {
                fill.unqueued(chunk.length());
            }
        }
        fill.waiters.wakeUpTo(written);
    }

    /** The disk is full mid-transfer: stop caching, go on through memory (see "Pass-through"). */
    private void startPassThrough(Throwable cause) {
        if (fill.upload != null) {
            fill.upload.abort(); // the rest of the bytes will not be in the file: the copy can never be whole
        }
        fill.onDone.accept(fill); // leave Fills first: from now on a new request starts its own transfer
        synchronized (fill.lock) {
            fill.fileLimit = written;
            fill.passThrough = true;
            fill.window.closeToJoinersLocked(claimed);
        }
        closeChannel();
        fill.store.passedThrough(fill.digest(), cause);
    }

    /** Hashes and keeps a copy of the chunk for the readers; false (and the fill fails) if none is left. */
    private boolean keepInMemory(ByteBuffer bytes, int length) {
        ByteBuffer copy = ByteBuffer.allocate(length);
        copy.put(bytes.duplicate()).flip();
        hasher.update(bytes);
        if (!fill.window.keep(written, copy)) {
            fill.failInternal(new IOException(
                    "storage is full and no client is left to pass " + fill.digest() + " through to"));
            return false;
        }
        written += length;
        fill.available = written;
        return true;
    }

    private void finish() {
        if (fill.state() != BlobFill.State.STREAMING) {
            return;
        }
        Digest digest = fill.digest();
        long size = fill.expected;
        if (written != size) {
            fill.failInternal(new IOException(
                    "upstream body of " + digest + " ended after " + written + " of " + size + " bytes"));
            return;
        }
        Digest actual = Digest.of(digest.algorithm(), hasher);
        if (!actual.equals(digest)) {
            fill.failInternal(new DigestMismatchException(digest, actual));
            return;
        }
        if (fill.passThrough) {
            endPassThrough();
            return;
        }
        if (fill.upload != null) {
            try {
                FileChannel out = channel();
                out.force(false);
                out.close();
                channel = null;
            } catch (IOException e) {
                fill.failInternal(new IOException("syncing the fill of " + digest + " failed: " + e.getMessage(), e));
                return;
            }
            // Verified: the shared store may make it visible now; the local commit waits for that (uploaded()).
            fill.upload.complete(size).whenComplete((v, err) -> {
                ops.add(new Uploaded(err));
                schedule();
            });
            return;
        }
        commitLocally();
    }

    /** The upload ended: commit locally, or, if the shared store failed, deliver from the file without storing. */
    private void uploaded(Throwable failure) {
        if (fill.state() != BlobFill.State.STREAMING) {
            return;
        }
        if (failure == null) {
            commitLocally();
            return;
        }
        log.warn("cannot store {} in the shared store, passing it through: {}", fill.digest(), failure.toString());
        startPassThrough(failure);
        endPassThrough();
    }

    private void commitLocally() {
        Digest digest = fill.digest();
        try {
            FileChannel out = channel();
            out.force(false);
            out.close();
            channel = null;
            fill.store.commit(fill.temp, digest);
        } catch (IOException e) {
            if (fill.store.outOfSpace(e)) {
                // Every byte is in the temp file and verified; only the commit lacks space: the readers finish
                // from the file, nothing is stored.
                startPassThrough(e);
                endPassThrough();
                return;
            }
            fill.failInternal(new IOException("committing the fill of " + digest + " failed: " + e.getMessage(), e));
            return;
        }
        fill.store.releaseSpace(claimed); // now counted as committed bytes
        claimed = 0;
        if (fill.toCommitted()) {
            // Leave the registry before result() completes, so whoever sees the result and asks again gets a new fill.
            fill.onDone.accept(fill);
            fill.result.complete(fill.finalPath);
            fill.waiters.wakeAll();
        }
    }

    /** A passed-through blob arrived whole and verified: PASSED_THROUGH, result() completes with null. */
    private void endPassThrough() {
        boolean deleteTemp;
        synchronized (fill.lock) {
            if (fill.state() != BlobFill.State.STREAMING) {
                return;
            }
            fill.state = BlobFill.State.PASSED_THROUGH;
            deleteTemp = fill.window.takeTempForDeletionLocked();
        }
        fill.onDone.accept(fill);
        if (deleteTemp) {
            fill.window.deletePassedTemp();
        }
        fill.result.complete(null);
        fill.waiters.wakeAll();
    }

    /** Closes the temp file's write channel, if open. */
    private void closeChannel() {
        if (channel != null) {
            try {
                channel.close();
            } catch (IOException e) {
                log.debug("closing the fill of {}: {}", fill.digest(), e.toString());
            }
            channel = null;
        }
    }

    private void cleanUp() {
        cleanedUp = true;
        if (fill.upload != null) {
            fill.upload.abort();
        }
        closeChannel();
        boolean deleteTemp;
        synchronized (fill.lock) {
            deleteTemp = fill.window.takeTempOnFailureLocked();
        }
        if (deleteTemp) {
            AtomicFiles.deleteQuietly(fill.temp);
            fill.store.releaseSpace(claimed);
        }
        fill.onDone.accept(fill);
        fill.result.completeExceptionally(fill.failure);
        fill.waiters.wakeAll();
    }

    private FileChannel channel() throws IOException {
        if (channel == null) {
            channel = FileChannel.open(fill.temp, StandardOpenOption.WRITE);
        }
        return channel;
    }
}

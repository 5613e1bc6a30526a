package dev.wharf.storage.fill;

import dev.wharf.storage.AtomicFiles;
import dev.wharf.storage.ContentStore;
import dev.wharf.storage.Digest;
import dev.wharf.storage.DigestMismatchException;
import java.io.IOException;
import java.nio.ByteBuffer;
import java.nio.channels.FileChannel;
import com.sun.nio.file.ExtendedOpenOption;
import java.nio.file.Files;
import java.nio.file.StandardOpenOption;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.List;
import java.util.concurrent.ConcurrentLinkedQueue;
import java.util.concurrent.RejectedExecutionException;
import java.util.concurrent.atomic.AtomicInteger;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

/**
 * A fill's writer queue and the drainer that empties it on the I/O executor: appends (gathered into large writes),
 * the size check, the digest check once {@link FillHasher} hands the digest over, then fsync and commit; the switch to
 * pass-through and clean-up. Concurrency: {@link #drain} never runs on two threads at once. {@link #schedule} submits
 * it only on the 0→1 transition of {@code wip}, and it exits only by a CAS of {@code wip} back to 0 from the value it
 * saw before its last pass, so an op queued after that read makes the CAS fail and is handled by another pass (the
 * queue-drain idiom). So the channel, {@code written}, {@code claimed}, {@code pending} and {@code cleanedUp} are
 * touched by one thread at a time, ordered by the executor hand-off and the {@code wip} atomics. A rejected
 * submission fails the fill; the caller's thread then only drops chunks and deletes the temp file, never appends.
 * Full argument: docs/architecture.md, "Concurrency of a fill".
 *
 * <p>Crash safety of the commit, which runs after the clients have their last byte: the client waits only for the
 * digest (a mismatch still aborts it, its last byte withheld), never for fsync or rename. A crash (kill -9, power)
 * between the last byte and the rename loses only the cache entry: the bytes live under {@code tmp/} with a name
 * that is never a digest, so nothing reads them as a blob, and the store deletes {@code tmp/} at start-up
 * ({@link ContentStore#cleanTemp}). A blob appears under {@code blobs/} only by the rename of a file that was
 * verified and then fsynced ({@link ContentStore#commit} also fsyncs the directory), so after any crash a name
 * under {@code blobs/} holds the whole verified content or does not exist. The project's link may be written before
 * the rename (at verification); a link without its blob is harmless: it says the upstream served the digest, which
 * is true, and grants nothing until a verified blob is committed under that digest.
 */
final class FillDrain {
    private static final Logger log = LoggerFactory.getLogger(BlobFill.class);
    /** Ops one drain run handles before it yields the I/O thread to other fills. */
    private static final int DRAIN_BUDGET = 64;
    /** At most this many queued chunks, and about this many bytes, go into one gathering write. */
    private static final int MAX_BATCH = 64;
    private static final long MAX_BATCH_BYTES = 4L << 20;
    /** The queued op that ends the body; ordered after every chunk the writer offered before it. */
    private static final Object COMPLETE = new Object();

    /**
     * One offered chunk, read by the drainer ({@link #buffer}, never moved: each use takes a view) and by the hasher
     * ({@link #forHash}, its own view of the same bytes); released once both are done with it ({@link #done}).
     */
    static final class Chunk {
        private final ByteBuffer buffer;
        private final ByteBuffer forHash;
        private final Runnable release;
        final int length;
        private final AtomicInteger holders = new AtomicInteger(2);

        Chunk(ByteBuffer buffer, Runnable release) {
            this.buffer = buffer;
            this.forHash = buffer.duplicate();
            this.release = release;
            this.length = buffer.remaining();
        }

        /** A fresh view of the whole chunk, for the drainer. */
        ByteBuffer view() {
            return buffer.duplicate();
        }

        /** The hasher's view (hash thread only). */
        ByteBuffer forHash() {
            return forHash;
        }

        /** One of the two readers is done: the second releases the buffer and unqueues its bytes. */
        void done(BlobFill fill) {
            if (holders.decrementAndGet() == 0) {
                BlobFill.runQuietly(release, "release");
                fill.unqueued(length);
            }
        }
    }

    /** The upload to the shared store ended ({@code failure} null: it is visible there); queued by its future. */
    private record Uploaded(Throwable failure) {
    }

    /** The digest of the whole body, from the hasher; ordered after COMPLETE. */
    private record Digested(Digest actual) {
    }

    private final BlobFill fill;
    private final ConcurrentLinkedQueue<Object> ops = new ConcurrentLinkedQueue<>();
    private final AtomicInteger wip = new AtomicInteger();

    // Drainer only.
    private FileChannel channel;
    /** The temp file opened for direct I/O (the stream-tee's writes), or null. */
    private FileChannel direct;
    /** Whether the stream-tee is on: decided at the first append ({@link #teeStarts}), off for good once off. */
    private Boolean teeing;
    /** The tee's block being filled, or null (none yet, or the last one was full and written). */
    private TeeWindow.Block current;
    /** The alignment direct writes need on the temp file's file system. */
    private int directAlignment = TeeBlocks.ALIGN;
    /** Bytes taken from the upstream: in the file, in the tee's blocks, or (pass-through) in memory. */
    private long written;
    private boolean cleanedUp;
    /** Bytes reserved with {@link ContentStore#claimSpace} for the temp file. */
    private long claimed;
    /** An op polled while gathering a batch of chunks, handled next. */
    private Object pending;
    private final List<Chunk> batch = new ArrayList<>(MAX_BATCH);

    FillDrain(BlobFill fill) {
        this.fill = fill;
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

    /** The hasher's digest of the whole body (it queued COMPLETE here before it got its own end). */
    void digested(Digest actual) {
        ops.add(new Digested(actual));
        schedule();
    }

    /** Drops every queued chunk (the fill failed). Any thread; poll hands each chunk to one. */
    void dropQueued() {
        Object op;
        while ((op = ops.poll()) != null) {
            if (op instanceof Chunk chunk) {
                chunk.done(fill);
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

    private Object next() {
        Object op = pending;
        if (op != null) {
            pending = null;
            return op;
        }
        return ops.poll();
    }

    private void drain() {
        for (;;) {
            int seen = wip.get();
            int budget = DRAIN_BUDGET;
            Object op;
            while (budget > 0 && (op = next()) != null) {
                budget--;
                try {
                    if (op == COMPLETE) {
                        bodyEnded();
                    } else if (op instanceof Digested d) {
                        verify(d.actual());
                    } else if (op instanceof Uploaded uploaded) {
                        uploaded(uploaded.failure());
                    } else {
                        appendBatch((Chunk) op);
                    }
                } catch (Throwable t) {
                    // A bug, not an I/O error (those are handled inside); never leave the fill stuck.
                    log.error("fill of {} broke", fill.digest(), t);
                    fill.failInternal(t);
                }
            }
            if (fill.state() == BlobFill.State.FAILED && !cleanedUp) {
                if (pending instanceof Chunk chunk) {
                    pending = null;
                    chunk.done(fill);
                }
                cleanUp();
            }
            if (budget == 0 && (pending != null || !ops.isEmpty())) {
                try {
                    fill.io.execute(this::drain); // keeps the wip token: no one else submits meanwhile
                    return;
                } catch (RejectedExecutionException e) {
                    continue; // already on the I/O thread; carry on here
                }
            }
            if (pending == null && wip.compareAndSet(seen, 0)) {
                return;
            }
        }
    }

    /** Gathers {@code first} and the chunks queued right behind it, then appends them with one gathering write. */
    private void appendBatch(Chunk first) {
        batch.add(first);
        long bytes = first.length;
        while (batch.size() < MAX_BATCH && bytes < MAX_BATCH_BYTES) {
            Object op = ops.poll();
            if (op == null) {
                break;
            }
            if (op instanceof Chunk chunk) {
                batch.add(chunk);
                bytes += chunk.length;
            } else {
                pending = op;
                break;
            }
        }
        try {
            append(bytes);
        } finally {
            for (Chunk chunk : batch) {
                chunk.done(fill);
            }
            batch.clear();
        }
        fill.waiters.wakeUpTo(written);
    }

    private void append(long bytes) {
        if (fill.state() != BlobFill.State.STREAMING) {
            return; // failed: drop unwritten
        }
        ByteBuffer[] views = new ByteBuffer[batch.size()];
        for (int i = 0; i < views.length; i++) {
            views[i] = batch.get(i).view();
        }
        if (!fill.passThrough) {
            try {
                fill.store.claimSpace(bytes);
                claimed += bytes;
                if (teeStarts()) {
                    appendTee(views);
                } else {
                    appendBuffered(views);
                }
                return;
            } catch (IOException e) {
                // Whatever part of the batch reached the file lies beyond fileLimit and is never read from there;
                // the views still hold what was not taken yet (a tee block's bytes move to memory in the switch).
                if (!writeFailed(e)) {
                    return;
                }
            }
        }
        for (ByteBuffer view : views) {
            if (view.hasRemaining() && !keepInMemory(view, view.remaining())) {
                return;
            }
        }
    }

    /** Writes the rest of {@code views} through the page cache at {@code written}: the bytes are readable at once. */
    private void appendBuffered(ByteBuffer[] views) throws IOException {
        FileChannel out = channel();
        out.position(written);
        long left = 0;
        for (ByteBuffer v : views) {
            left += v.remaining();
        }
        while (left > 0) {
            long n = out.write(views);
            left -= n;
            written += n;
            fill.available = written;
            durableUpTo(written); // per write: if the next one fails, the views hold exactly what is not in the file
        }
    }

    /**
     * The stream-tee: copies the views into the window's blocks, publishes them to the readers at once (before any
     * disk write), and writes each block as it fills with direct I/O. If the pool has no block left, the rest of the
     * fill goes through the page cache.
     */
    private void appendTee(ByteBuffer[] views) throws IOException {
        for (int i = 0; i < views.length; i++) {
            ByteBuffer v = views[i];
            while (v.hasRemaining()) {
                if (current == null) {
                    current = fill.tee.add(written);
                    if (current == null) {
                        teeing = false;
                        fill.trimTee();
                        appendBuffered(Arrays.copyOfRange(views, i, views.length));
                        return;
                    }
                }
                int at = (int) (written - current.start);
                int n = Math.min(v.remaining(), TeeBlocks.BLOCK - at);
                ByteBuffer part = v.duplicate();
                part.limit(part.position() + n);
                current.buffer.duplicate().position(at).put(part);
                v.position(v.position() + n);
                written += n;
                fill.available = written; // the bytes are in the block: readable now
                if (at + n == TeeBlocks.BLOCK) {
                    fill.waiters.wakeUpTo(written); // readers go on while the block is written
                    TeeWindow.Block full = current;
                    current = null;
                    writeDirect(full.buffer.duplicate().clear(), full.start);
                    durableUpTo(full.end());
                    fill.trimTee();
                }
            }
        }
    }

    /** The tail of a tee'd body: the last, partial block goes to the file (its aligned part with direct I/O). */
    private void flushTail() throws IOException {
        TeeWindow.Block last = current;
        current = null;
        if (last != null) {
            int length = (int) (written - last.start);
            int aligned = length - length % directAlignment;
            if (aligned > 0) {
                writeDirect(last.buffer.duplicate().clear().limit(aligned), last.start);
            }
            if (aligned < length) {
                ByteBuffer rest = last.buffer.duplicate().clear().limit(length).position(aligned);
                FileChannel out = channel();
                long at = last.start + aligned;
                while (rest.hasRemaining()) {
                    at += out.write(rest, at);
                }
            }
        }
        durableUpTo(written);
    }

    /**
     * Whether this fill tees: on if it has a window and the temp file opens for direct I/O on a file system whose
     * alignment the blocks meet; decided once. Off, the fill writes through the page cache as before.
     */
    private boolean teeStarts() {
        if (teeing == null) {
            teeing = false;
            if (fill.tee != null) {
                try {
                    int align = (int) Files.getFileStore(fill.temp).getBlockSize();
                    if (align > 0 && TeeBlocks.ALIGN % align == 0) {
                        direct = FileChannel.open(fill.temp, StandardOpenOption.WRITE, ExtendedOpenOption.DIRECT);
                        directAlignment = align;
                        teeing = true;
                    }
                } catch (IOException | UnsupportedOperationException e) {
                    log.debug("no direct I/O for the fill of {} ({}): writing through the page cache",
                            fill.digest(), e.toString());
                }
            }
        }
        return teeing;
    }

    /**
     * Writes an aligned block at {@code position} with direct I/O. A direct write the file system refuses for another
     * reason than space goes through the page cache instead, for this and every later block of the fill.
     */
    private void writeDirect(ByteBuffer block, long position) throws IOException {
        if (direct != null) {
            try {
                long at = position;
                while (block.hasRemaining()) {
                    at += direct.write(block, at);
                }
                return;
            } catch (IOException e) {
                if (fill.store.outOfSpace(e)) {
                    throw e;
                }
                log.debug("direct write of the fill of {} refused ({}): writing through the page cache",
                        fill.digest(), e.toString());
                closeQuietly(direct);
                direct = null;
            }
        }
        FileChannel out = channel();
        long at = position + block.position();
        while (block.hasRemaining()) {
            at += out.write(block, at);
        }
    }

    /** The file holds every byte below {@code bytes}: readers may take them from it, the upload may send them. */
    private void durableUpTo(long bytes) {
        fill.durable = bytes;
        BlobUpload upload = fill.upload();
        if (upload != null) {
            upload.written(bytes);
        }
    }

    /** The body ended: its size must be the announced one; the digest check follows when the hasher is done. */
    private void bodyEnded() {
        if (fill.state() != BlobFill.State.STREAMING) {
            return;
        }
        long size = fill.expected;
        if (written != size) {
            fill.failInternal(new IOException(
                    "upstream body of " + fill.digest() + " ended after " + written + " of " + size + " bytes"));
            return;
        }
        if (fill.passThrough) {
            return;
        }
        try {
            if (Boolean.TRUE.equals(teeing)) {
                flushTail();
            }
            fill.allDurable = true;
            fill.trimTee();
        } catch (IOException e) {
            writeFailed(e);
        }
    }

    /**
     * A write to the temp file failed: for lack of space the fill turns to pass-through (true: go on through
     * memory), for any other cause it fails (false).
     */
    private boolean writeFailed(IOException e) {
        if (!fill.store.outOfSpace(e)) {
            fill.failInternal(new IOException(
                    "writing the fill of " + fill.digest() + " failed: " + e.getMessage(), e));
            return false;
        }
        startPassThrough(e, true);
        return true;
    }

    /**
     * The hasher's digest: on a match the clients may have their last byte at once (see the crash-safety note at the
     * head of the class), then the temp file is fsynced and renamed into place.
     */
    private void verify(Digest actual) {
        if (fill.state() != BlobFill.State.STREAMING) {
            return; // failed meanwhile (a short body fails at COMPLETE, which came first)
        }
        Digest digest = fill.digest();
        if (!actual.equals(digest)) {
            fill.failInternal(new DigestMismatchException(digest, actual));
            return;
        }
        if (fill.passThrough) {
            endPassThrough(null);
            return;
        }
        fill.verifiedNow();
        BlobUpload upload = fill.upload();
        if (upload != null) {
            // Verified: the shared store may make it visible now; the local commit waits for that (uploaded()), so a
            // blob is never in the hot tier without being in the bucket (unless another replica's fill uploads it).
            upload.complete(fill.expected).whenComplete((v, err) -> {
                ops.add(new Uploaded(err));
                schedule();
            });
            return;
        }
        commitLocally();
    }

    /** The upload ended: commit locally, or, if the shared store failed, let the readers finish without storing. */
    private void uploaded(Throwable failure) {
        if (fill.state() != BlobFill.State.STREAMING) {
            return;
        }
        if (failure == null) {
            commitLocally();
            return;
        }
        log.warn("cannot store {} in the shared store; its clients get it whole from the temp file, nothing is "
                + "stored: {}", fill.digest(), failure.toString());
        startPassThrough(failure, false);
        endPassThrough(null);
    }

    /** Fsyncs and renames the verified temp file into place (the clients may have had their last byte already). */
    private void commitLocally() {
        Digest digest = fill.digest();
        try {
            FileChannel out = channel();
            out.force(false); // the direct writes' data too: fsync is per file, and flushes the device's cache
            out.close();
            channel = null;
            closeQuietly(direct);
            direct = null;
            fill.store.commit(fill.temp, digest);
        } catch (IOException | RuntimeException e) {
            // Verified and released to the clients already, so never FAILED from here: every byte is in the temp
            // file, the readers still streaming finish from it, and only the cache entry is lost.
            boolean space = fill.store.outOfSpace(e);
            if (!space) {
                log.warn("committing the fill of {} failed; its clients get it whole from the temp file, nothing is "
                        + "stored: {}", digest, e.toString());
            }
            startPassThrough(e, space);
            endPassThrough(space ? null
                    : new IOException("committing the fill of " + digest + " failed: " + e.getMessage(), e));
            return;
        }
        fill.store.releaseSpace(claimed); // now counted as committed bytes
        claimed = 0;
        if (fill.toCommitted()) {
            // Leave the registry before result() completes, so whoever sees the result and asks again gets a new fill.
            fill.onDone.accept(fill);
            fill.result.complete(fill.finalPath);
            fill.waiters.wakeAll();
            fill.trimTee(); // the readers still streaming keep the blocks they have not passed
        }
    }

    /** Stops caching: the disk is full mid-transfer (or the commit failed), go on through memory ("Pass-through"). */
    private void startPassThrough(Throwable cause, boolean countAsFull) {
        if (fill.upload() != null) {
            fill.upload().abort(); // the rest of the bytes will not be in the file: the copy can never be whole
        }
        fill.onDone.accept(fill); // leave Fills first: from now on a new request starts its own transfer
        long inFile = fill.durable; // a tee'd fill's bytes beyond it are only in the tee's blocks: move them
        synchronized (fill.lock) {
            fill.fileLimit = inFile;
            fill.passThrough = true;
            fill.window.closeToJoinersLocked(claimed);
        }
        for (long at = inFile; fill.tee != null && at < written; ) {
            ByteBuffer copy = fill.tee.copy(at, written, TeeBlocks.BLOCK);
            if (copy == null) {
                throw new IllegalStateException("the tee lost bytes at " + at + " of " + fill.digest());
            }
            int length = copy.remaining();
            if (!fill.window.keep(at, copy)) {
                fill.failInternal(new IOException(
                        "storage is full and no client is left to pass " + fill.digest() + " through to"));
                break;
            }
            fill.held(length);
            at += length;
        }
        if (fill.tee != null) {
            synchronized (fill.lock) {
                fill.tee.closeLocked(); // readers holding a block keep it until they release it
            }
        }
        teeing = false;
        current = null;
        closeChannel();
        if (countAsFull) {
            fill.store.passedThrough(fill.digest(), cause);
        }
    }

    /**
     * Keeps a copy of a chunk for the readers (counted in the writer's backpressure until every reader is past it);
     * false (and the fill fails) if no reader is left.
     */
    private boolean keepInMemory(ByteBuffer bytes, int length) {
        ByteBuffer copy = ByteBuffer.allocate(length);
        copy.put(bytes).flip();
        if (!fill.window.keep(written, copy)) {
            fill.failInternal(new IOException(
                    "storage is full and no client is left to pass " + fill.digest() + " through to"));
            return false;
        }
        fill.held(length);
        written += length;
        fill.available = written;
        return true;
    }

    /**
     * A passed-through blob arrived whole and verified: PASSED_THROUGH; result() completes with null, or with
     * {@code commitFailure} when it was verified but its commit failed for another reason than space.
     */
    private void endPassThrough(Throwable commitFailure) {
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
        // result() before verified(): whoever counts the outcome on result() has counted it before a client can have
        // its last byte (nothing follows here, unlike a commit).
        if (commitFailure == null) {
            fill.result.complete(null);
        } else {
            fill.result.completeExceptionally(commitFailure);
        }
        fill.verifiedNow();
        fill.waiters.wakeAll();
    }

    /** Closes the temp file's write channels, if open. */
    private void closeChannel() {
        closeQuietly(channel);
        channel = null;
        closeQuietly(direct);
        direct = null;
    }

    private void closeQuietly(FileChannel ch) {
        if (ch != null) {
            try {
                ch.close();
            } catch (IOException e) {
                log.debug("closing the fill of {}: {}", fill.digest(), e.toString());
            }
        }
    }

    private void cleanUp() {
        cleanedUp = true;
        if (fill.upload() != null) {
            fill.upload().abort();
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
        fill.result.completeExceptionally(fill.failure); // first, as in endPassThrough: counted before any abort
        fill.verified.completeExceptionally(fill.failure);
        fill.waiters.wakeAll();
    }

    private FileChannel channel() throws IOException {
        if (channel == null) {
            channel = FileChannel.open(fill.temp, StandardOpenOption.WRITE);
        }
        return channel;
    }
}

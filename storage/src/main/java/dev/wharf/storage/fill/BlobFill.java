package dev.wharf.storage.fill;

import dev.wharf.storage.ContentStore;
import dev.wharf.storage.Digest;
import java.io.IOException;
import java.nio.ByteBuffer;
import java.nio.channels.FileChannel;
import java.nio.file.NoSuchFileException;
import java.nio.file.Path;
import java.nio.file.StandardOpenOption;
import java.util.Objects;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.Executor;
import java.util.concurrent.atomic.AtomicBoolean;
import java.util.concurrent.atomic.AtomicLong;
import java.util.function.Consumer;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

/**
 * One upstream transfer of one blob, shared by every client that wants that digest while it runs (the stream-tee):
 * its state, the writer API ({@link #begin}, {@link #offer}, {@link #complete}, {@link #fail}) and the reader API
 * ({@link #openReader}, {@link #whenAvailable}, {@link #newReader}). The work is done by {@link FillDrain} (appends,
 * verify and commit, on the I/O executor; nothing is written on the caller's thread), {@link FillHasher} (the
 * digest, on the hash executor, in parallel with the appends), {@link FillWaiters} and {@link PassThroughWindow}
 * (storage full). Concurrency: the writer is one thread calling in order; readers are
 * any number on any thread; the drainer is one at a time. {@code lock} guards state transitions, the waiters and
 * the window; the first of FAILED, COMMITTED and PASSED_THROUGH wins under it. {@code available} is published only
 * after the bytes are in the file (or the window), and {@code fileLimit} before any {@code available} beyond it.
 * The full argument, lifecycle and reader contract: docs/architecture.md, "Fills".
 */
public final class BlobFill {
    private static final Logger log = LoggerFactory.getLogger(BlobFill.class);

    /**
     * Queued (offered, not yet written) bytes above which {@link #offer} returns false. The queued chunks are the
     * upstream connection's receive buffers, from Netty's pool: with 8 MiB here the pool held four of its 4 MiB
     * chunks for good after 8 cold pulls of 1 GiB, with 4 MiB one ({@code netty_allocator_memory_used}), and
     * hashing and writing keep pace as well (issue 11, bench/RESULTS.md).
     */
    static final long HIGH_WATER = 4L << 20;
    /** Queued bytes at or below which a paused writer is resumed. */
    static final long LOW_WATER = 1L << 20;

    /**
     * What the fill is doing now. PASSED_THROUGH: the blob reached its clients whole and verified, but was not
     * stored (storage full).
     */
    public enum State { STARTING, STREAMING, COMMITTED, FAILED, PASSED_THROUGH }

    private final Digest digest;
    final ContentStore store;
    final Executor io;
    final Path temp;
    final Path finalPath;
    final Consumer<BlobFill> onDone;
    /** The copy to the shared store, or null (none configured, or the bytes come from it); see {@link #upload()}. */
    private final BlobUpload upload;
    /** Set once by {@link #skipUpload()}: another replica's fill of the same blob makes the shared copy. */
    private volatile boolean uploadSkipped;
    private final CompletableFuture<Long> size = new CompletableFuture<>();
    final CompletableFuture<Path> result = new CompletableFuture<>();
    final CompletableFuture<Long> verified = new CompletableFuture<>();

    // Shared; see the class comment.
    final Object lock = new Object();
    volatile State state;
    volatile Throwable failure;
    volatile long expected = -1;
    volatile long available;
    /** Bytes readable from the temp file: all of them until a pass-through begins, then frozen. */
    volatile long fileLimit = Long.MAX_VALUE;
    /**
     * Bytes in the temp file (drainer only writes it). Equal to {@code available} when the fill writes through the
     * page cache; behind it while the stream-tee's blocks wait for their direct write ({@link TeeWindow}).
     */
    volatile long durable;
    /** Every byte of the body is in the file (so the window's last, partial block is too). */
    volatile boolean allDurable;
    /** The stream-tee's memory, or null (a finished fill, a pass-through from the start, or direct writes off). */
    final TeeWindow tee;
    /** Written under the lock by the drainer. */
    volatile boolean passThrough;
    private volatile Runnable resume;
    private volatile boolean completeCalled;
    private final AtomicLong queued = new AtomicLong();
    private final AtomicBoolean paused = new AtomicBoolean();
    final FillWaiters waiters = new FillWaiters(lock);
    final PassThroughWindow window = new PassThroughWindow(this);
    private final FillDrain drain;
    /** Null for a fill finished from the start. */
    private final FillHasher hasher;

    // Writer only.
    private long offered;

    // For the read-only view (Fills.snapshot): when the fill started, what it is for, and who joined it.
    private final long startedNanos = System.nanoTime();
    private volatile String origin;
    private final java.util.concurrent.atomic.AtomicInteger joined = new java.util.concurrent.atomic.AtomicInteger();

    /**
     * A running fill writing to {@code temp} (an empty file the store just created) on {@code io}, hashing on
     * {@code hashing}; {@code onDone} may run more than once.
     */
    BlobFill(Digest digest, ContentStore store, Executor io, Executor hashing, Path temp, Consumer<BlobFill> onDone) {
        this(digest, store, io, hashing, temp, onDone, null);
    }

    /** As above, copying the bytes to the shared store through {@code upload} (null for none). */
    BlobFill(Digest digest, ContentStore store, Executor io, Executor hashing, Path temp, Consumer<BlobFill> onDone,
             BlobUpload upload) {
        this(digest, store, io, hashing, temp, onDone, upload, TeeBlocks.configured());
    }

    /** As above, with the stream-tee's blocks from {@code blocks} (null: write through the page cache). */
    BlobFill(Digest digest, ContentStore store, Executor io, Executor hashing, Path temp, Consumer<BlobFill> onDone,
             BlobUpload upload, TeeBlocks blocks) {
        this.upload = upload;
        this.tee = temp != null && blocks != null ? new TeeWindow(this, blocks) : null;
        this.digest = Objects.requireNonNull(digest, "digest");
        this.store = Objects.requireNonNull(store, "store");
        this.io = Objects.requireNonNull(io, "io");
        this.temp = temp; // null only for passThrough(...)
        this.finalPath = store.blobPath(digest);
        this.onDone = Objects.requireNonNull(onDone, "onDone");
        this.drain = new FillDrain(this);
        this.hasher = new FillHasher(this, drain, Objects.requireNonNull(hashing, "hashing"),
                digest.newMessageDigest());
        this.state = State.STARTING;
    }

    /**
     * A running fill that caches nothing: no temp file could be created for lack of space, so every byte passes
     * through memory. Not registered in {@link Fills}: only its starter reads it.
     */
    static BlobFill passThrough(Digest digest, ContentStore store, Executor io, Executor hashing, Throwable cause,
                                Consumer<BlobFill> onDone) {
        BlobFill fill = new BlobFill(digest, store, io, hashing, null, onDone);
        synchronized (fill.lock) {
            fill.fileLimit = 0;
            fill.passThrough = true;
            fill.window.noTempLocked();
        }
        store.passedThrough(digest, cause);
        return fill;
    }

    /** A finished fill, for a request that found the blob already stored or could not start. */
    private BlobFill(Digest digest, Path finalPath, long size, Throwable failure) {
        this.digest = Objects.requireNonNull(digest, "digest");
        this.store = null;
        this.upload = null;
        this.tee = null;
        this.io = Runnable::run;
        this.temp = null;
        this.finalPath = finalPath;
        this.onDone = fill -> { };
        this.drain = new FillDrain(this);
        this.hasher = null;
        this.drain.markFinished(size);
        this.completeCalled = true;
        this.waiters.markDone();
        if (failure == null) {
            this.state = State.COMMITTED;
            this.expected = size;
            this.available = size;
            this.durable = size;
            this.allDurable = true;
            this.size.complete(size);
            this.verified.complete(size);
            this.result.complete(finalPath);
        } else {
            this.state = State.FAILED;
            this.failure = failure;
            this.size.completeExceptionally(failure);
            this.verified.completeExceptionally(failure);
            this.result.completeExceptionally(failure);
        }
    }

    /** A fill that is already COMMITTED: the blob of {@code size} bytes is stored at {@code path}. */
    static BlobFill committed(Digest digest, Path path, long size) {
        if (size < 0) {
            throw new IllegalArgumentException("negative size: " + size);
        }
        return new BlobFill(digest, Objects.requireNonNull(path, "path"), size, null);
    }

    /** A fill that is already FAILED with {@code cause}, for a fill that could not even start (no temp file). */
    static BlobFill failed(Digest digest, Throwable cause) {
        return new BlobFill(digest, null, -1, Objects.requireNonNull(cause, "cause"));
    }

    /** The digest this fill must produce. */
    public Digest digest() {
        return digest;
    }

    /** System.nanoTime() when this fill was created. */
    public long startedNanos() {
        return startedNanos;
    }

    /** What the starter said the fill is for (e.g. {@code project/repository}), or null. */
    public String origin() {
        return origin;
    }

    void origin(String what) {
        this.origin = what;
    }

    /** Requests that joined this fill after its starter (counted by {@link Fills#acquire}). */
    public int joined() {
        return joined.get();
    }

    void joinedOnce() {
        joined.incrementAndGet();
    }

    /** The size the upstream announced, or -1 before {@link #begin}. */
    public long expectedSize() {
        return expected;
    }

    /** Current state. */
    public State state() {
        return state;
    }

    /**
     * Completes with the blob's size when the writer calls {@link #begin}; fails if the fill fails first.
     * Each call returns a new dependent future, so a caller's {@code orTimeout} or {@code cancel} cannot touch the
     * fill's own.
     */
    public CompletableFuture<Long> size() {
        return size.copy();
    }

    /**
     * Completes with the committed path after verification, with {@code null} if the blob was verified but passed
     * through without being stored (storage full; state PASSED_THROUGH), or exceptionally with the failure cause.
     * Each call returns a new dependent future, as {@link #size()} does.
     */
    public CompletableFuture<Path> result() {
        return result.copy();
    }

    /**
     * Completes with the blob's size once every byte is readable and the digest matched: from then on a client may
     * send its last byte. It comes before {@link #result()}: the fsync and rename follow it (a crash between loses
     * only the cache entry; see {@link FillDrain}). Fails with the fill's cause (digest mismatch, short body,
     * upstream error): a client still streaming must then abort, its last byte withheld. A dependent copy per call,
     * as {@link #size()}.
     */
    public CompletableFuture<Long> verified() {
        return verified.copy();
    }

    /**
     * Bytes of the blob readable so far: from the file channel below {@link Reader#fileLimit()}, from
     * {@link Reader#memory} above it.
     */
    public long available() {
        return available;
    }

    /** True once the fill gave up caching and passes its bytes through memory (storage full). */
    public boolean isPassThrough() {
        return passThrough;
    }

    /**
     * Registers a reader of this fill; it holds the bytes it has not read yet should the fill turn to pass-through.
     * Register before streaming (before {@link #openReader}) and close the reader when done. Returns null if the fill
     * can no longer be joined: it turned to pass-through after bytes went by (it has already left {@link Fills}, so
     * the caller should acquire again and start or join another transfer).
     */
    public Reader newReader() {
        return window.newReader();
    }

    /**
     * One client's cursor on the fill (the bytes themselves are held by the {@link PassThroughWindow}).
     * {@link #advance} tells the fill how far the client got, so a pass-through can drop the memory every reader is
     * past. Thread-safe; normally used from one client's event loop.
     */
    public final class Reader implements AutoCloseable {
        volatile long position;
        boolean closed; // guarded by lock

        Reader() {
        }

        /**
         * Bytes below this offset are read from the file ({@link #openReader()}), bytes from it on with
         * {@link #memory}. Long.MAX_VALUE unless the fill passes through. Read {@link BlobFill#available()} first,
         * then this.
         */
        public long fileLimit() {
            return Math.min(fileLimit, durable);
        }

        /**
         * Up to {@code max} bytes at {@code offset} (below {@link BlobFill#available()}) from the stream-tee's memory,
         * within one block, or null if it does not hold them (then they are in the file: below {@link #fileLimit()},
         * read after this call). The caller sends {@link Held#data()} and must {@link Held#release()} it once sent
         * or dropped: until then the block is not reused.
         */
        public Held recent(long offset, int max) {
            return tee == null ? null : tee.recent(offset, available, max);
        }

        /**
         * Up to {@code max} bytes at {@code offset} (at or above {@link #fileLimit()}, below
         * {@link BlobFill#available()}) from the pass-through memory, as a read-only buffer the caller may keep.
         *
         * @throws IllegalStateException if those bytes are not held (an offset this reader already passed)
         */
        public ByteBuffer memory(long offset, int max) {
            if (tee != null) {
                ByteBuffer copy = tee.copy(offset, available, max);
                if (copy != null) {
                    return copy;
                }
            }
            return window.memory(offset, max);
        }

        /** Everything below {@code offset} has been sent; the fill may drop it. */
        public void advance(long offset) {
            if (offset <= position) {
                return;
            }
            position = offset;
            window.advanced();
            trimTee();
        }

        /** Unregisters; idempotent. The last reader of a finished pass-through deletes the temp file. */
        @Override
        public void close() {
            window.close(this);
        }
    }

    /**
     * Bytes of the stream-tee's memory lent to a client ({@link Reader#recent}): send {@link #data()}, then
     * {@link #release()} exactly once, whether the send worked or not.
     */
    public static final class Held {
        private final ByteBuffer data;
        private final Runnable release;

        Held(ByteBuffer data, Runnable release) {
            this.data = data;
            this.release = release;
        }

        /** The bytes, read-only; valid until {@link #release()}. */
        public ByteBuffer data() {
            return data;
        }

        /** Lets go of the bytes. */
        public void release() {
            release.run();
        }
    }

    /**
     * Drops the tee's blocks that are in the file and that every reader is past (or beyond its cap); all of them once
     * the fill is over and no reader is left. Any thread.
     */
    void trimTee() {
        if (tee == null) {
            return;
        }
        synchronized (lock) {
            long min = window.minPositionLocked();
            State s = state;
            boolean over = s == State.COMMITTED || s == State.FAILED || s == State.PASSED_THROUGH;
            if (s == State.FAILED || (over && min == Long.MAX_VALUE)) {
                tee.closeLocked();
                return;
            }
            tee.trimLocked(allDurable ? Long.MAX_VALUE : durable, min);
        }
    }

    // ---- writer side (one upstream connection, calls in order) ----

    /**
     * The upstream's headers arrived: the body will be {@code size} bytes. Ignored if the fill has already failed;
     * a negative size fails it.
     *
     * @throws IllegalStateException if called twice
     */
    public void begin(long size) {
        if (size < 0) {
            failInternal(new IOException("upstream announced a negative size for " + digest + ": " + size));
            return;
        }
        synchronized (lock) {
            if (state == State.FAILED) {
                return;
            }
            if (state != State.STARTING) {
                throw new IllegalStateException("begin called twice on the fill of " + digest);
            }
            expected = size;
            state = State.STREAMING;
        }
        this.size.complete(size);
    }

    /**
     * Queues a chunk for appending; the fill owns {@code chunk} until {@code release} runs. {@code release} runs
     * exactly once, once the chunk has been written (or dropped because the fill failed, or at once if the fill is
     * not streaming), on the I/O thread or the calling one, so the caller can free its buffer. Returns false when the
     * queue is above its high-water mark: the caller should stop reading the upstream until the callback given to
     * {@link #onWritable} runs. Bytes beyond the size given to {@link #begin} fail the fill at once.
     */
    public boolean offer(ByteBuffer chunk, Runnable release) {
        Objects.requireNonNull(chunk, "chunk");
        Objects.requireNonNull(release, "release");
        State s = state;
        if (s != State.STREAMING || completeCalled) {
            if (s == State.STARTING) {
                failInternal(new IllegalStateException("bytes offered before begin on the fill of " + digest));
            }
            runQuietly(release, "release");
            return true;
        }
        int length = chunk.remaining();
        offered += length;
        if (offered > expected) {
            failInternal(new IOException(
                    "upstream sent more than the announced " + expected + " bytes for " + digest));
            runQuietly(release, "release");
            return true;
        }
        long nowQueued = queued.addAndGet(length);
        FillDrain.Chunk queuedChunk = new FillDrain.Chunk(chunk, release);
        drain.offer(queuedChunk); // the drainer and the hasher read it in parallel; the second one done releases it
        if (state == State.STREAMING) {
            hasher.offer(queuedChunk);
        } else {
            queuedChunk.done(this); // failed meanwhile (a rejected drain fails at once): the hasher's share is dropped
        }
        if (nowQueued <= HIGH_WATER) {
            return true;
        }
        paused.set(true);
        // The drainer may have taken queued below the low-water mark before paused was set (see "Backpressure").
        return queued.get() <= LOW_WATER && paused.compareAndSet(true, false);
    }

    /**
     * Sets the callback run when a paused writer may read again. It may run on any thread, even before the
     * {@code offer} that paused returns; it also runs if the fill fails while the writer is paused.
     */
    public void onWritable(Runnable resume) {
        this.resume = resume;
    }

    /** The upstream body ended: verify size and digest, then commit or fail. */
    public void complete() {
        State s = state;
        if (s == State.STARTING) {
            failInternal(new IllegalStateException("complete called before begin on the fill of " + digest));
            return;
        }
        if (completeCalled || s != State.STREAMING) {
            return;
        }
        completeCalled = true;
        drain.complete(); // first: the hasher's digest must reach the drainer after COMPLETE
        hasher.complete();
    }

    /**
     * The upstream failed: delete the temp file and fail every reader with {@code cause}. Idempotent. Ignored once
     * {@link #complete} has been called: the body is whole, and verification decides.
     */
    /**
     * This fill's bytes come from another replica that is filling the same blob and uploads it to the shared store
     * itself: keep this copy local (the hot tier) and upload nothing, so the bucket is written once per blob, not
     * once per replica. Call before the first byte is offered; idempotent. A fill without an upload ignores it.
     */
    public void skipUpload() {
        if (upload != null && !uploadSkipped) {
            uploadSkipped = true;
            upload.abort();
        }
    }

    /** The upload to the shared store this fill still makes, or null (none, or {@link #skipUpload() skipped}). */
    BlobUpload upload() {
        return uploadSkipped ? null : upload;
    }

    public void fail(Throwable cause) {
        if (completeCalled) {
            return;
        }
        failInternal(cause != null ? cause : new IOException("fill of " + digest + " failed"));
    }

    /** Bytes no longer queued (written, dropped, or trimmed from the window): maybe resume the writer. */
    void unqueued(long bytes) {
        long left = queued.addAndGet(-bytes);
        if (left <= LOW_WATER && paused.compareAndSet(true, false)) {
            runQuietly(resume, "resume");
        }
    }

    /** A copy of {@code bytes} went into the pass-through window: it holds the writer back until trimmed. */
    void held(long bytes) {
        queued.addAndGet(bytes);
    }

    /** Every byte is readable and the digest matched (drainer only): clients may send their last byte. */
    void verifiedNow() {
        verified.complete(expected);
    }

    /** Window bytes left memory: they no longer hold the writer back. */
    void freed(long bytes) {
        if (bytes > 0) {
            unqueued(bytes);
        }
    }

    // ---- reader side (any number of clients) ----

    /**
     * Opens a read channel on the fill's bytes: the temp file while streaming, the committed file after commit.
     * The caller closes it. Safe against a concurrent commit (the channel stays valid after the rename, and a reader
     * that opens during the rename finds the committed file). Only bytes below {@link #available()} are meaningful.
     *
     * @throws IOException if the fill has failed (its cause attached), or the file cannot be opened
     */
    public FileChannel openReader() throws IOException {
        State s = state;
        if (s == State.FAILED) {
            throw failedException();
        }
        if (s == State.COMMITTED) {
            return FileChannel.open(finalPath, StandardOpenOption.READ);
        }
        if (temp == null) {
            throw new IOException("the fill of " + digest + " keeps no file: it passes its bytes through memory");
        }
        try {
            return FileChannel.open(temp, StandardOpenOption.READ);
        } catch (NoSuchFileException gone) {
            // Renamed by a commit (atomically: one of the two names always exists) or deleted by a failure.
            try {
                return FileChannel.open(finalPath, StandardOpenOption.READ);
            } catch (NoSuchFileException e) {
                if (state == State.FAILED) {
                    throw failedException();
                }
                throw e;
            }
        }
    }

    /**
     * Runs {@code callback} once, on the storage executor or the calling thread, as soon as {@link #available()}
     * exceeds {@code offset} or the fill reaches COMMITTED or FAILED (whichever comes first; if already true, at once).
     * Keep the callback short (hand off to the reader's own thread): it runs on the I/O thread that appended.
     */
    public void whenAvailable(long offset, Runnable callback) {
        Objects.requireNonNull(callback, "callback");
        waiters.whenAvailable(offset, () -> available, callback);
    }

    @Override
    public String toString() {
        return "BlobFill[" + digest + ", " + state + ", " + available + "/" + expected + "]";
    }

    // ---- failure and commit ----

    void failInternal(Throwable cause) {
        if (markFailed(cause)) {
            drain.schedule(); // the drainer deletes the temp file, fails result() and wakes the waiters
        }
    }

    /** Turns FAILED (first failure wins), fails size(), drops the queue and unpauses the writer. */
    boolean markFailed(Throwable cause) {
        synchronized (lock) {
            if (state == State.COMMITTED || state == State.FAILED || state == State.PASSED_THROUGH) {
                return false;
            }
            failure = cause;
            state = State.FAILED;
            window.clearLocked(); // readers abort on FAILED; the writer's backpressure no longer matters
            if (tee != null) {
                tee.closeLocked();
            }
        }
        log.debug("fill of {} failed: {}", digest, cause.toString());
        size.completeExceptionally(cause);
        drain.dropQueued();
        if (hasher != null) {
            hasher.dropQueued();
        }
        if (paused.compareAndSet(true, false)) {
            runQuietly(resume, "resume");
        }
        return true;
    }

    /** STREAMING → COMMITTED under the lock; false if the fill ended otherwise first. Drainer only. */
    boolean toCommitted() {
        synchronized (lock) {
            if (state != State.STREAMING) {
                // Cannot happen (fail is ignored after complete), but if it did: the renamed file is verified
                // content, harmless to keep; the failure path reports the failure.
                return false;
            }
            state = State.COMMITTED;
            return true;
        }
    }

    private IOException failedException() {
        Throwable cause = failure;
        return new IOException("fill of " + digest + " failed: " + cause.getMessage(), cause);
    }

    static void runQuietly(Runnable callback, String what) {
        if (callback == null) {
            return;
        }
        try {
            callback.run();
        } catch (Throwable t) {
            log.warn("{} callback threw", what, t);
        }
    }
}

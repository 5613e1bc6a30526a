package dev.wharf.storage;

import java.io.IOException;
import java.nio.ByteBuffer;
import java.nio.channels.FileChannel;
import java.nio.file.NoSuchFileException;
import java.nio.file.Path;
import java.nio.file.StandardOpenOption;
import java.security.MessageDigest;
import java.util.ArrayDeque;
import java.util.ArrayList;
import java.util.Comparator;
import java.util.List;
import java.util.Objects;
import java.util.PriorityQueue;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.ConcurrentLinkedQueue;
import java.util.concurrent.Executor;
import java.util.concurrent.RejectedExecutionException;
import java.util.concurrent.atomic.AtomicBoolean;
import java.util.concurrent.atomic.AtomicInteger;
import java.util.concurrent.atomic.AtomicLong;
import java.util.function.Consumer;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

/**
 * One upstream transfer of one blob, shared by every client that wants that digest while it runs (the stream-tee).
 *
 * <p>The writer (the upstream response) hands chunks to {@link #offer}; they are appended to a temp file on the
 * storage I/O executor while a running digest is updated. Readers (client responses) read the temp file from their
 * own offset up to {@link #available()}, each at its own pace, and ask {@link #whenAvailable} to be called back when
 * more bytes arrive. At {@link #complete()} the size and digest are compared: on a match the file is fsynced and
 * renamed into place ({@link ContentStore#commit}) and {@link #result()} completes with the blob's path; on a
 * mismatch ({@link DigestMismatchException}), a short or long body, or {@link #fail}, the temp file is deleted and
 * {@link #result()} completes exceptionally, so readers abort.
 *
 * <p>Lifecycle: STARTING (no size yet) → {@link #begin(long)} → STREAMING → COMMITTED | FAILED. A fill that fails
 * before {@code begin} (upstream 404, network error) fails {@link #size()} too, so every joined client gets the
 * same error the first one got.
 *
 * <p>What a reader may rely on: when a {@link #whenAvailable} callback runs, either {@link #available()} is beyond
 * the offset it gave, or {@link #result()} is done. {@link #state()} turns FAILED as soon as the fill fails;
 * {@code result()} fails and the waiters are woken a moment later, once the temp file is deleted (after the append in
 * progress, if any). A reader that joins after the commit reads the committed file through {@link #openReader}.
 * A reader must not end its response before {@link #result()} completes: until the digest is compared, the last
 * bytes of a bad blob look just like those of a good one, and an abort is the only honest signal of a bad one.
 *
 * <h2>Concurrency</h2>
 * Three kinds of thread meet here.
 * <ul>
 * <li><b>The writer</b> ({@code begin}, {@code offer}, {@code complete}, {@code fail}): one upstream connection,
 *     calls in order. It alone touches {@code offered} (bytes offered so far, for the too-long check at once).
 * <li><b>The drainer</b>: appends, hashing, fsync, commit and clean-up run in {@link #drain}, which runs on the
 *     {@code io} executor and never on two threads at once: {@link #schedule} submits it only on the 0→1 transition
 *     of {@code wip}, and it exits only by a CAS of {@code wip} back to 0 from the value it saw before its last pass
 *     over the queue, so an op queued after that read makes the CAS fail and is handled by another pass (the
 *     queue-drain idiom of RxJava and Reactor). So {@code channel}, {@code hasher}, {@code written} and
 *     {@code cleanedUp} are touched by one thread at a time, and successive drain runs are ordered by the executor
 *     hand-off and the {@code wip} atomics. The drainer yields the thread after {@value #DRAIN_BUDGET} ops, so one
 *     fast upstream cannot starve the other fills that share a bounded executor.
 * <li><b>Readers</b> (any number, any thread): read {@code available} (volatile) and register waiters.
 * </ul>
 * {@code available} is written by the drainer only after the bytes are in the file (a positional write to the
 * shared page cache), so a reader that sees N available can read N bytes through its own channel.
 *
 * <p>{@code lock} guards {@code state} transitions, the waiter queue and {@code done}. The lost-wake-up argument:
 * a reader registers a waiter under the lock only if {@code available <= offset} and not {@code done}; the drainer
 * publishes {@code available} (or sets {@code done}) before it takes the lock to collect waiters. Either the reader's
 * check sees the new value and runs its callback at once, or its waiter is in the queue when the drainer collects.
 * Each waiter is removed from the queue exactly once, under the lock, and run outside it (callbacks may re-enter).
 *
 * <p>Chunks: each offered chunk is released exactly once. Either {@code offer} releases it at once (the fill is not
 * streaming, or the chunk overflows the size), or it is put on the lock-free queue, and then whoever polls it (the
 * drainer, or {@link #fail} dropping the queue) owns it and releases it; {@code poll} hands each element to exactly
 * one thread. A chunk queued just after a failure dropped the queue is polled by the drainer, which sees FAILED and
 * releases it unwritten.
 *
 * <p>Backpressure: {@code queued} counts offered-but-unwritten bytes. Above {@link #HIGH_WATER} the writer sets
 * {@code paused} and gets false; the drainer, on taking {@code queued} to {@link #LOW_WATER} or below, runs the
 * resume callback if it wins the CAS of {@code paused} from true to false. The writer re-checks {@code queued} after
 * setting {@code paused}, and also tries that CAS: if the drainer emptied the queue between the writer's add and
 * its set of {@code paused}, one of the two wins and either the writer goes on (offer returns true) or resume runs.
 * Resume may run on the I/O thread before {@code offer} has even returned false, so the writer must hop to its own
 * event loop in the callback (a Netty {@code setAutoRead(true)} scheduled there runs after the pause).
 *
 * <p>Failure vs commit: {@link #fail} is ignored once {@link #complete} has been called (an upstream that closes its
 * connection after the last byte must not abort a good fill); from then on only verification decides. Internal
 * failures (too long, write error, short body, digest mismatch, commit error) go through {@link #failInternal}; the
 * transition to FAILED, COMMITTED or PASSED_THROUGH is made under the lock, first one wins.
 *
 * <h2>Pass-through (storage full)</h2>
 * When an append fails for lack of space ({@link ContentStore#isOutOfSpace}: ENOSPC, EDQUOT, or the store's hard
 * capacity), the fill does not fail its clients: it stops caching and passes the rest of the bytes through memory.
 * The drainer (1) removes the fill from {@link Fills} so later requests start their own transfer instead of joining
 * one whose early bytes they could not get, (2) under the lock freezes {@code fileLimit} at the bytes already in
 * the temp file and turns {@code passThrough} on, (3) tells the store (counted, logged at most once a minute). From
 * then on each chunk is hashed, copied into {@code window} (a queue of heap segments, guarded by the lock) and
 * published through {@code available} as before; so {@code fileLimit} is always published before any
 * {@code available} beyond it, and a reader that reads {@code available} first and {@code fileLimit} second never
 * takes memory bytes for file bytes. Readers ({@link Reader}, registered with {@link #newReader} before they stream)
 * read {@code [0, fileLimit)} from the temp file and the rest from the window, and report how far they got; a
 * segment leaves the window once every registered reader is past it. Window bytes stay counted in {@code queued}
 * until then, so the writer's backpressure now follows the slowest reader (in this degraded mode a slow client does
 * slow the transfer: nothing else bounds the memory). If no reader is left, the fill fails (no one to pass to).
 * At the end the digest is still checked (a mismatch aborts the readers as usual); on a match the state turns
 * PASSED_THROUGH and {@link #result()} completes with {@code null}: nothing was stored. The temp file is deleted
 * when the last reader closes (the readers may still be reading its first part), and the space claimed for it is
 * returned to the store then. A commit that fails for lack of space (the fsync, or the directory for the final
 * name) ends the same way, with every byte in the temp file.
 */
public final class BlobFill {
    private static final Logger log = LoggerFactory.getLogger(BlobFill.class);

    /** Queued (offered, not yet written) bytes above which {@link #offer} returns false. */
    static final long HIGH_WATER = 8L << 20;
    /** Queued bytes at or below which a paused writer is resumed. */
    static final long LOW_WATER = 2L << 20;
    /** Ops one drain run handles before it yields the I/O thread to other fills. */
    private static final int DRAIN_BUDGET = 64;
    /** The queued op that ends the body; ordered after every chunk the writer offered before it. */
    private static final Object COMPLETE = new Object();

    /**
     * What the fill is doing now. PASSED_THROUGH: the blob reached its clients whole and verified, but was not
     * stored (storage full; see the class comment).
     */
    public enum State { STARTING, STREAMING, COMMITTED, FAILED, PASSED_THROUGH }

    /** Bytes of a pass-through blob held in memory, from {@code start}; read-only, never changed. */
    private record Segment(long start, ByteBuffer data) {
        long end() {
            return start + data.capacity();
        }
    }

    private record Chunk(ByteBuffer buffer, Runnable release, int length) {
    }

    private record Waiter(long offset, long seq, Runnable callback) {
    }

    private static final Comparator<Waiter> BY_OFFSET =
            Comparator.comparingLong(Waiter::offset).thenComparingLong(Waiter::seq);

    private final Digest digest;
    private final ContentStore store;
    private final Executor io;
    private final Path temp;
    private final Path finalPath;
    private final Consumer<BlobFill> onDone;
    private final CompletableFuture<Long> size = new CompletableFuture<>();
    private final CompletableFuture<Path> result = new CompletableFuture<>();

    // Shared; see the class comment.
    private final Object lock = new Object();
    private volatile State state;
    private volatile Throwable failure;
    private volatile long expected = -1;
    private volatile long available;
    /** Bytes readable from the temp file: all of them until a pass-through begins, then frozen. */
    private volatile long fileLimit = Long.MAX_VALUE;
    /** Written under the lock by the drainer; see "Pass-through" in the class comment. */
    private volatile boolean passThrough;
    private volatile Runnable resume;
    private volatile boolean completeCalled;
    private final ConcurrentLinkedQueue<Object> ops = new ConcurrentLinkedQueue<>();
    private final AtomicInteger wip = new AtomicInteger();
    private final AtomicLong queued = new AtomicLong();
    private final AtomicBoolean paused = new AtomicBoolean();

    // Guarded by lock.
    private final PriorityQueue<Waiter> waiters = new PriorityQueue<>(BY_OFFSET);
    private boolean done;
    private long waiterSeq;
    private final List<Reader> readers = new ArrayList<>();
    private final ArrayDeque<Segment> window = new ArrayDeque<>();
    /** No new reader may join: the fill turned to pass-through after bytes went by. */
    private boolean closedToJoiners;
    /** The temp file was deleted (or never existed), and its claimed space returned. */
    private boolean tempGone;
    /** Space claimed for the temp file, returned when it is deleted after a pass-through. */
    private long passClaimed;

    // Writer only.
    private long offered;

    // Drainer only.
    private final MessageDigest hasher;
    private FileChannel channel;
    private long written;
    private boolean cleanedUp;
    /** Bytes reserved with {@link ContentStore#claimSpace} for the temp file. */
    private long claimed;

    /** A running fill writing to {@code temp} (an empty file the store just created); {@code onDone} may run more than once. */
    BlobFill(Digest digest, ContentStore store, Executor io, Path temp, Consumer<BlobFill> onDone) {
        this.digest = Objects.requireNonNull(digest, "digest");
        this.store = Objects.requireNonNull(store, "store");
        this.io = Objects.requireNonNull(io, "io");
        this.temp = temp; // null only for passThrough(...)
        this.finalPath = store.blobPath(digest);
        this.onDone = Objects.requireNonNull(onDone, "onDone");
        this.hasher = digest.newMessageDigest();
        this.state = State.STARTING;
    }

    /**
     * A running fill that caches nothing: no temp file could be created for lack of space, so every byte passes
     * through memory (see the class comment). Not registered in {@link Fills}: only its starter reads it.
     */
    static BlobFill passThrough(Digest digest, ContentStore store, Executor io, Throwable cause,
                                Consumer<BlobFill> onDone) {
        BlobFill fill = new BlobFill(digest, store, io, null, onDone);
        synchronized (fill.lock) {
            fill.fileLimit = 0;
            fill.passThrough = true;
            fill.tempGone = true;
        }
        store.passedThrough(digest, cause);
        return fill;
    }

    /** A finished fill, for a request that found the blob already stored or could not start. */
    private BlobFill(Digest digest, Path finalPath, long size, Throwable failure) {
        this.digest = Objects.requireNonNull(digest, "digest");
        this.store = null;
        this.io = Runnable::run;
        this.temp = null;
        this.finalPath = finalPath;
        this.onDone = fill -> { };
        this.hasher = null;
        this.cleanedUp = true;
        this.completeCalled = true;
        this.done = true;
        if (failure == null) {
            this.state = State.COMMITTED;
            this.expected = size;
            this.available = size;
            this.written = size;
            this.size.complete(size);
            this.result.complete(finalPath);
        } else {
            this.state = State.FAILED;
            this.failure = failure;
            this.size.completeExceptionally(failure);
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
        synchronized (lock) {
            if (closedToJoiners) {
                return null;
            }
            Reader reader = new Reader();
            readers.add(reader);
            return reader;
        }
    }

    /**
     * One client's cursor on the fill. {@link #advance} tells the fill how far the client got, so a pass-through can
     * drop the memory every reader is past. Thread-safe; normally used from one client's event loop.
     */
    public final class Reader implements AutoCloseable {
        private volatile long position;
        private boolean closed; // guarded by lock

        private Reader() {
        }

        /**
         * Bytes below this offset are read from the file ({@link #openReader()}), bytes from it on with
         * {@link #memory}. Long.MAX_VALUE unless the fill passes through. Read {@link BlobFill#available()} first,
         * then this: see the class comment.
         */
        public long fileLimit() {
            return fileLimit;
        }

        /**
         * Up to {@code max} bytes at {@code offset} (at or above {@link #fileLimit()}, below
         * {@link BlobFill#available()}) from the pass-through memory, as a read-only buffer the caller may keep.
         *
         * @throws IllegalStateException if those bytes are not held (an offset this reader already passed)
         */
        public ByteBuffer memory(long offset, int max) {
            synchronized (lock) {
                for (Segment segment : window) {
                    if (offset < segment.start()) {
                        break;
                    }
                    if (offset < segment.end()) {
                        ByteBuffer b = segment.data().duplicate();
                        int from = (int) (offset - segment.start());
                        b.position(from);
                        b.limit((int) Math.min(b.capacity(), (long) from + max));
                        return b.slice();
                    }
                }
            }
            throw new IllegalStateException("bytes at " + offset + " of " + digest + " are not held in memory");
        }

        /** Everything below {@code offset} has been sent; the fill may drop it. */
        public void advance(long offset) {
            if (offset <= position) {
                return;
            }
            position = offset;
            if (passThrough) {
                long freed;
                synchronized (lock) {
                    freed = trimLocked();
                }
                freed(freed);
            }
        }

        /** Unregisters; idempotent. The last reader of a finished pass-through deletes the temp file. */
        @Override
        public void close() {
            long freed;
            boolean deleteTemp;
            synchronized (lock) {
                if (closed) {
                    return;
                }
                closed = true;
                readers.remove(this);
                freed = passThrough ? trimLocked() : 0;
                deleteTemp = takeTempForDeletionLocked();
            }
            freed(freed);
            if (deleteTemp) {
                deletePassedTemp();
            }
        }
    }

    /** Drops the window segments every reader is past; returns their bytes. Caller holds the lock. */
    private long trimLocked() {
        long min = Long.MAX_VALUE;
        for (Reader r : readers) {
            min = Math.min(min, r.position);
        }
        long freed = 0;
        while (!window.isEmpty() && window.peekFirst().end() <= min) {
            freed += window.pollFirst().data().capacity();
        }
        return freed;
    }

    /** Window bytes left memory: they no longer hold the writer back. */
    private void freed(long bytes) {
        if (bytes > 0) {
            long left = queued.addAndGet(-bytes);
            if (left <= LOW_WATER && paused.compareAndSet(true, false)) {
                runQuietly(resume, "resume");
            }
        }
    }

    /** True (once) when a passed-through fill's temp file may go: finished and no reader left. Caller holds the lock. */
    private boolean takeTempForDeletionLocked() {
        if (state == State.PASSED_THROUGH && readers.isEmpty() && !tempGone) {
            tempGone = true;
            return true;
        }
        return false;
    }

    private void deletePassedTemp() {
        AtomicFiles.deleteQuietly(temp);
        long bytes;
        synchronized (lock) {
            bytes = passClaimed;
        }
        store.releaseSpace(bytes);
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
        ops.add(new Chunk(chunk, release, length));
        schedule();
        if (nowQueued <= HIGH_WATER) {
            return true;
        }
        paused.set(true);
        // The drainer may have taken queued below the low-water mark before paused was set; see the class comment.
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
        ops.add(COMPLETE);
        schedule();
    }

    /**
     * The upstream failed: delete the temp file and fail every reader with {@code cause}. Idempotent. Ignored once
     * {@link #complete} has been called: the body is whole, and verification decides.
     */
    public void fail(Throwable cause) {
        if (completeCalled) {
            return;
        }
        failInternal(cause != null ? cause : new IOException("fill of " + digest + " failed"));
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
        synchronized (lock) {
            if (!done && available <= offset) {
                waiters.add(new Waiter(offset, waiterSeq++, callback));
                return;
            }
        }
        runQuietly(callback, "waiter");
    }

    @Override
    public String toString() {
        return "BlobFill[" + digest + ", " + state + ", " + available + "/" + expected + "]";
    }

    // ---- failure ----

    private void failInternal(Throwable cause) {
        if (markFailed(cause)) {
            schedule(); // the drainer deletes the temp file, fails result() and wakes the waiters
        }
    }

    /** Turns FAILED (first failure wins), fails size(), drops the queue and unpauses the writer. */
    private boolean markFailed(Throwable cause) {
        synchronized (lock) {
            if (state == State.COMMITTED || state == State.FAILED || state == State.PASSED_THROUGH) {
                return false;
            }
            failure = cause;
            state = State.FAILED;
            window.clear(); // readers abort on FAILED; the writer's backpressure no longer matters
        }
        log.debug("fill of {} failed: {}", digest, cause.toString());
        size.completeExceptionally(cause);
        Object op;
        while ((op = ops.poll()) != null) {
            if (op instanceof Chunk chunk) {
                runQuietly(chunk.release(), "release");
            }
        }
        if (paused.compareAndSet(true, false)) {
            runQuietly(resume, "resume");
        }
        return true;
    }

    private IOException failedException() {
        Throwable cause = failure;
        return new IOException("fill of " + digest + " failed: " + cause.getMessage(), cause);
    }

    // ---- the drainer ----

    private void schedule() {
        if (wip.getAndIncrement() != 0) {
            return; // a drain is running or submitted; it will see this op
        }
        try {
            io.execute(this::drain);
        } catch (RejectedExecutionException e) {
            // The executor is shut down or saturated. Nothing may be written on the caller's thread, so fail; the
            // drain below then only releases chunks and deletes the temp file, and we own the wip token for it.
            markFailed(new IOException("storage executor rejected the fill of " + digest, e));
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
                    } else {
                        append((Chunk) op);
                    }
                } catch (Throwable t) {
                    // A bug, not an I/O error (those are handled inside); never leave the fill stuck.
                    log.error("fill of {} broke", digest, t);
                    failInternal(t);
                }
            }
            if (state == State.FAILED && !cleanedUp) {
                cleanUp();
            }
            if (budget == 0 && !ops.isEmpty()) {
                try {
                    io.execute(this::drain); // keeps the wip token: no one else submits meanwhile
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
            if (state != State.STREAMING) {
                return; // failed: drop unwritten
            }
            ByteBuffer source = chunk.buffer();
            ByteBuffer forDigest = source.duplicate();
            boolean inFile = false;
            if (!passThrough) {
                try {
                    store.claimSpace(chunk.length());
                    claimed += chunk.length();
                    FileChannel out = channel();
                    long position = written;
                    while (source.hasRemaining()) {
                        position += out.write(source, position);
                    }
                    hasher.update(forDigest);
                    written = position;
                    available = position;
                    inFile = true;
                } catch (IOException e) {
                    if (!ContentStore.isOutOfSpace(e)) {
                        failInternal(new IOException("writing the fill of " + digest + " failed: " + e.getMessage(),
                                e));
                        return;
                    }
                    startPassThrough(e); // and keep this chunk (whole: forDigest still holds all of it) in memory
                }
            }
            if (!inFile) {
                inWindow = keepInMemory(forDigest, chunk.length());
            }
        } finally {
            runQuietly(chunk.release(), "release");
            if (!inWindow) {
                long left = queued.addAndGet(-chunk.length());
                if (left <= LOW_WATER && paused.compareAndSet(true, false)) {
                    runQuietly(resume, "resume");
                }
            }
        }
        wakeUpTo(written);
    }

    /** The disk is full mid-transfer: stop caching, go on through memory (see "Pass-through"). Drainer only. */
    private void startPassThrough(IOException cause) {
        onDone.accept(this); // leave Fills first: from now on a new request starts its own transfer
        synchronized (lock) {
            fileLimit = written;
            passThrough = true;
            closedToJoiners = true;
            passClaimed = claimed;
        }
        closeChannel();
        store.passedThrough(digest, cause);
    }

    /** Hashes and keeps a copy of the chunk for the readers; false (and the fill fails) if none is left. */
    private boolean keepInMemory(ByteBuffer bytes, int length) {
        ByteBuffer copy = ByteBuffer.allocate(length);
        copy.put(bytes.duplicate()).flip();
        hasher.update(bytes);
        boolean kept;
        synchronized (lock) {
            kept = !readers.isEmpty();
            if (kept) {
                window.addLast(new Segment(written, copy.asReadOnlyBuffer()));
            }
        }
        if (!kept) {
            failInternal(new IOException("storage is full and no client is left to pass " + digest + " through to"));
            return false;
        }
        written += length;
        available = written;
        return true;
    }

    private void finish() {
        if (state != State.STREAMING) {
            return;
        }
        long size = expected;
        if (written != size) {
            failInternal(new IOException(
                    "upstream body of " + digest + " ended after " + written + " of " + size + " bytes"));
            return;
        }
        Digest actual = Digest.of(digest.algorithm(), hasher);
        if (!actual.equals(digest)) {
            failInternal(new DigestMismatchException(digest, actual));
            return;
        }
        if (passThrough) {
            endPassThrough();
            return;
        }
        try {
            FileChannel out = channel();
            out.force(false);
            out.close();
            channel = null;
            store.commit(temp, digest);
        } catch (IOException e) {
            if (ContentStore.isOutOfSpace(e)) {
                // Every byte is in the temp file and verified; only the commit lacks space: the readers finish
                // from the file, nothing is stored.
                startPassThrough(e);
                endPassThrough();
                return;
            }
            failInternal(new IOException("committing the fill of " + digest + " failed: " + e.getMessage(), e));
            return;
        }
        store.releaseSpace(claimed); // now counted as committed bytes
        claimed = 0;
        synchronized (lock) {
            if (state != State.STREAMING) {
                // Cannot happen (fail is ignored after complete), but if it did: the renamed file is verified
                // content, harmless to keep; the failure path reports the failure.
                return;
            }
            state = State.COMMITTED;
        }
        // Leave the registry before result() completes, so whoever sees the result and asks again gets a new fill.
        onDone.accept(this);
        result.complete(finalPath);
        wakeAll();
    }

    /** A passed-through blob arrived whole and verified: PASSED_THROUGH, result() completes with null. Drainer only. */
    private void endPassThrough() {
        boolean deleteTemp;
        synchronized (lock) {
            if (state != State.STREAMING) {
                return;
            }
            state = State.PASSED_THROUGH;
            deleteTemp = takeTempForDeletionLocked();
        }
        onDone.accept(this);
        if (deleteTemp) {
            deletePassedTemp();
        }
        result.complete(null);
        wakeAll();
    }

    /** Closes the temp file's write channel, if open. Drainer only. */
    private void closeChannel() {
        if (channel != null) {
            try {
                channel.close();
            } catch (IOException e) {
                log.debug("closing the fill of {}: {}", digest, e.toString());
            }
            channel = null;
        }
    }

    private void cleanUp() {
        cleanedUp = true;
        closeChannel();
        boolean deleteTemp;
        synchronized (lock) {
            deleteTemp = !tempGone;
            tempGone = true;
        }
        if (deleteTemp) {
            AtomicFiles.deleteQuietly(temp);
            store.releaseSpace(claimed);
        }
        onDone.accept(this);
        result.completeExceptionally(failure);
        wakeAll();
    }

    private FileChannel channel() throws IOException {
        if (channel == null) {
            channel = FileChannel.open(temp, StandardOpenOption.WRITE);
        }
        return channel;
    }

    private void wakeUpTo(long availableNow) {
        List<Runnable> ready = null;
        synchronized (lock) {
            while (!waiters.isEmpty() && waiters.peek().offset() < availableNow) {
                if (ready == null) {
                    ready = new ArrayList<>();
                }
                ready.add(waiters.poll().callback());
            }
        }
        runAll(ready);
    }

    private void wakeAll() {
        List<Runnable> ready = new ArrayList<>();
        synchronized (lock) {
            done = true;
            Waiter waiter;
            while ((waiter = waiters.poll()) != null) {
                ready.add(waiter.callback());
            }
        }
        runAll(ready);
    }

    private static void runAll(List<Runnable> callbacks) {
        if (callbacks != null) {
            for (Runnable callback : callbacks) {
                runQuietly(callback, "waiter");
            }
        }
    }

    private static void runQuietly(Runnable callback, String what) {
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

package dev.wharf.storage;

import java.nio.ByteBuffer;
import java.nio.channels.FileChannel;
import java.nio.file.Path;
import java.util.concurrent.CompletableFuture;

/**
 * One upstream transfer of one blob, shared by every client that wants that digest while it runs (the stream-tee).
 *
 * <p>The writer (the upstream response) hands chunks to {@link #offer}; they are appended to a temp file on the
 * storage I/O executor while a running digest is updated. Readers (client responses) read the temp file from their
 * own offset up to {@link #available()}, each at its own pace, and ask {@link #whenAvailable} to be called back when
 * more bytes arrive. At {@link #complete()} the digest is compared: on a match the file is fsynced and renamed into
 * place ({@link ContentStore#commit}) and {@link #result()} completes; on a mismatch, a short or long body, or
 * {@link #fail}, the temp file is deleted and {@link #result()} completes exceptionally, so readers abort.
 *
 * <p>Lifecycle: STARTING (no size yet) → {@link #begin(long)} → STREAMING → COMMITTED | FAILED. A fill that fails
 * before {@code begin} (upstream 404, network error) fails {@link #size()} too, so every joined client gets the
 * same error the first one got.
 *
 * <p>Concurrency (argued here, as the style guide asks): the writer side ({@code begin}, {@code offer},
 * {@code complete}, {@code fail}) is called by one upstream connection, in order. Appends run one at a time on the
 * I/O executor (serialised by this fill), so the file position and the digest are touched by one thread at a time.
 * {@code available} is published with a volatile write after the bytes are in the file, so a reader that sees
 * N available can read N bytes through its own channel. Waiters are kept under this fill's lock and called outside
 * it.
 */
public final class BlobFill {

    /** What the fill is doing now. */
    public enum State { STARTING, STREAMING, COMMITTED, FAILED }

    /** The digest this fill must produce. */
    public Digest digest() {
        throw new UnsupportedOperationException("TODO");
    }

    /** Current state. */
    public State state() {
        throw new UnsupportedOperationException("TODO");
    }

    /** Completes with the blob's size when the writer calls {@link #begin}; fails if the fill fails first. */
    public CompletableFuture<Long> size() {
        throw new UnsupportedOperationException("TODO");
    }

    /** Completes with the committed path after verification, or exceptionally with the failure cause. */
    public CompletableFuture<Path> result() {
        throw new UnsupportedOperationException("TODO");
    }

    /** Bytes appended to the file so far and readable by any reader channel. */
    public long available() {
        throw new UnsupportedOperationException("TODO");
    }

    // ---- writer side (one upstream connection, calls in order) ----

    /** The upstream's headers arrived: the body will be {@code size} bytes. */
    public void begin(long size) {
        throw new UnsupportedOperationException("TODO");
    }

    /**
     * Queues a chunk for appending. {@code release} runs once the chunk has been written (or dropped because the
     * fill failed), so the caller can free its buffer. Returns false when the queue is above its high-water mark:
     * the caller should stop reading the upstream until {@code resume} (given at {@link Fills#acquire}) is called.
     */
    public boolean offer(ByteBuffer chunk, Runnable release) {
        throw new UnsupportedOperationException("TODO");
    }

    /** Sets the callback run when a paused writer may read again. */
    public void onWritable(Runnable resume) {
        throw new UnsupportedOperationException("TODO");
    }

    /** The upstream body ended: verify size and digest, then commit or fail. */
    public void complete() {
        throw new UnsupportedOperationException("TODO");
    }

    /** The upstream failed: delete the temp file and fail every reader with {@code cause}. Idempotent. */
    public void fail(Throwable cause) {
        throw new UnsupportedOperationException("TODO");
    }

    // ---- reader side (any number of clients) ----

    /**
     * Opens a read channel on the fill's bytes: the temp file while streaming, the committed file after commit.
     * The caller closes it. Safe against a concurrent commit (the channel stays valid after the rename).
     * Throws if the fill has failed.
     */
    public FileChannel openReader() throws java.io.IOException {
        throw new UnsupportedOperationException("TODO");
    }

    /**
     * Runs {@code callback} once, on the storage executor or the calling thread, as soon as {@link #available()}
     * exceeds {@code offset} or the fill reaches COMMITTED or FAILED (whichever comes first; if already true, at once).
     */
    public void whenAvailable(long offset, Runnable callback) {
        throw new UnsupportedOperationException("TODO");
    }
}

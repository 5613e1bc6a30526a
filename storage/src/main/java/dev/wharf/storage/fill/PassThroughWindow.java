package dev.wharf.storage.fill;

import dev.wharf.storage.AtomicFiles;
import java.nio.ByteBuffer;
import java.util.ArrayDeque;
import java.util.ArrayList;
import java.util.List;

/**
 * A fill's storage-full mode: the registered readers, and the bytes past the temp file's frozen end held in memory
 * until every reader is past them. Concurrency: everything here is guarded by the fill's lock (shared, so a state
 * change and the window never disagree). The drainer appends segments; readers on their own threads read, advance
 * and close. Window bytes stay counted in the fill's {@code queued} until trimmed, so the writer's backpressure
 * follows the slowest reader. The temp file is deleted once: by whichever of the last reader's close and the
 * drainer's end of a passed-through fill comes second ({@code tempGone} decides, under the lock).
 */
final class PassThroughWindow {
    /** Bytes of a pass-through blob held in memory, from {@code start}; read-only, never changed. */
    private record Segment(long start, ByteBuffer data) {
        long end() {
            return start + data.capacity();
        }
    }

    private final BlobFill fill;
    // Guarded by fill.lock.
    private final List<BlobFill.Reader> readers = new ArrayList<>();
    private final ArrayDeque<Segment> segments = new ArrayDeque<>();
    /** No new reader may join: the fill turned to pass-through after bytes went by. */
    private boolean closedToJoiners;
    /** The temp file was deleted (or never existed), and its claimed space returned. */
    private boolean tempGone;
    /** Space claimed for the temp file, returned when it is deleted after a pass-through. */
    private long passClaimed;

    PassThroughWindow(BlobFill fill) {
        this.fill = fill;
    }

    /** There is no temp file (a pass-through from the first byte). Caller holds the lock. */
    void noTempLocked() {
        tempGone = true;
    }

    /** The drainer switches to memory; {@code claimed} bytes of temp file are returned at its deletion. Caller holds the lock. */
    void closeToJoinersLocked(long claimed) {
        closedToJoiners = true;
        passClaimed = claimed;
    }

    /** See {@link BlobFill#newReader}. */
    BlobFill.Reader newReader() {
        synchronized (fill.lock) {
            if (closedToJoiners) {
                return null;
            }
            BlobFill.Reader reader = fill.new Reader();
            readers.add(reader);
            return reader;
        }
    }

    /** Keeps {@code copy} at {@code start} if a reader is left to read it; false otherwise. Drainer only. */
    boolean keep(long start, ByteBuffer copy) {
        synchronized (fill.lock) {
            if (readers.isEmpty()) {
                return false;
            }
            segments.addLast(new Segment(start, copy.asReadOnlyBuffer()));
            return true;
        }
    }

    /** Drops every segment (the fill failed; readers abort). Caller holds the lock. */
    void clearLocked() {
        segments.clear();
    }

    /** See {@link BlobFill.Reader#memory}. */
    ByteBuffer memory(long offset, int max) {
        synchronized (fill.lock) {
            for (Segment segment : segments) {
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
        throw new IllegalStateException("bytes at " + offset + " of " + fill.digest() + " are not held in memory");
    }

    /** A reader moved on: drop what every reader is past. */
    void advanced() {
        if (fill.passThrough) {
            long freed;
            synchronized (fill.lock) {
                freed = trimLocked();
            }
            fill.freed(freed);
        }
    }

    /** Unregisters {@code reader} once; the last reader of a finished pass-through deletes the temp file. */
    void close(BlobFill.Reader reader) {
        long freed;
        boolean deleteTemp;
        synchronized (fill.lock) {
            if (reader.closed) {
                return;
            }
            reader.closed = true;
            readers.remove(reader);
            freed = fill.passThrough ? trimLocked() : 0;
            deleteTemp = takeTempForDeletionLocked();
        }
        fill.freed(freed);
        fill.trimTee();
        if (deleteTemp) {
            deletePassedTemp();
        }
    }

    /** The lowest position of a registered reader, or Long.MAX_VALUE if none is left. Caller holds the lock. */
    long minPositionLocked() {
        long min = Long.MAX_VALUE;
        for (BlobFill.Reader r : readers) {
            min = Math.min(min, r.position);
        }
        return min;
    }

    /** Drops the segments every reader is past; returns their bytes. Caller holds the lock. */
    private long trimLocked() {
        long min = minPositionLocked();
        long freed = 0;
        while (!segments.isEmpty() && segments.peekFirst().end() <= min) {
            freed += segments.pollFirst().data().capacity();
        }
        return freed;
    }

    /** True (once) when a passed-through fill's temp file may go: finished and no reader left. Caller holds the lock. */
    boolean takeTempForDeletionLocked() {
        if (fill.state() == BlobFill.State.PASSED_THROUGH && readers.isEmpty() && !tempGone) {
            tempGone = true;
            return true;
        }
        return false;
    }

    /** True (once) when a failed fill's temp file is to be deleted. Caller holds the lock. */
    boolean takeTempOnFailureLocked() {
        boolean delete = !tempGone;
        tempGone = true;
        return delete;
    }

    void deletePassedTemp() {
        AtomicFiles.deleteQuietly(fill.temp);
        long bytes;
        synchronized (fill.lock) {
            bytes = passClaimed;
        }
        fill.store.releaseSpace(bytes);
    }
}

package dev.wharf.storage.fill;

import java.nio.ByteBuffer;
import java.util.concurrent.ConcurrentLinkedQueue;
import java.util.concurrent.atomic.AtomicLong;

/**
 * The memory a fill streams its clients from while it writes the same bytes to disk with direct I/O
 * ({@link TeeWindow}): blocks of {@link #BLOCK} bytes, direct and aligned for {@code O_DIRECT}, reused rather than
 * freed, and at most {@link #BUDGET} bytes of them in all. A fill that finds the budget spent writes through the
 * page cache instead, as before, so the budget bounds this memory however many fills run. Thread-safe.
 */
final class TeeBlocks {
    /** One block: the unit of a direct write and of the window. A multiple of any file system's block size. */
    static final int BLOCK = 1 << 20;
    /** Alignment of each block's address (the largest block size direct I/O asks for on common file systems). */
    static final int ALIGN = 4096;
    /**
     * All blocks together, in use or free: three fills' windows, or one fill's window and the blocks its clients'
     * sockets still hold. 12 MiB rather than 24 (issue 11): the blocks stay in wharf's resident memory once taken,
     * and with 24 MiB a wharf's RSS peaked at 151 MiB over 8 cold pulls and 8 concurrent ones, against a goal of
     * 128 in a 256 MiB container. With 12 the cold pull kept pace with the peer (1.01x in bench/RESULTS.md).
     */
    static final long BUDGET = 12L << 20;

    /** Set to false to write every fill through the page cache (no direct I/O, no window). */
    static final String PROPERTY = "wharf.storage.directWrites";

    private static final TeeBlocks SHARED = new TeeBlocks(BUDGET);

    /** The shared pool, or null if {@value #PROPERTY} is false. */
    static TeeBlocks configured() {
        return Boolean.parseBoolean(System.getProperty(PROPERTY, "true")) ? SHARED : null;
    }

    private final long budget;
    private final ConcurrentLinkedQueue<ByteBuffer> free = new ConcurrentLinkedQueue<>();
    private final AtomicLong allocated = new AtomicLong();

    TeeBlocks(long budget) {
        this.budget = budget;
    }

    /** A cleared block of {@link #BLOCK} bytes, or null if the budget is spent. */
    ByteBuffer take() {
        ByteBuffer b = free.poll();
        if (b != null) {
            return b.clear();
        }
        long now = allocated.addAndGet(BLOCK);
        if (now > budget) {
            allocated.addAndGet(-BLOCK);
            return null;
        }
        try {
            return ByteBuffer.allocateDirect(BLOCK + ALIGN).alignedSlice(ALIGN).limit(BLOCK).slice();
        } catch (OutOfMemoryError e) { // direct memory exhausted elsewhere: do without
            allocated.addAndGet(-BLOCK);
            return null;
        }
    }

    /** Returns a block no one reads any more. */
    void give(ByteBuffer block) {
        free.add(block);
    }

    /** Blocks back in the pool, ready for reuse. */
    int freeBlocks() {
        return free.size();
    }

    /** Bytes of blocks allocated so far (in use or free). */
    long allocated() {
        return allocated.get();
    }
}

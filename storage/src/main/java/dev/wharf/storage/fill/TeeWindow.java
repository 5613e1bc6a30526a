package dev.wharf.storage.fill;

import java.nio.ByteBuffer;
import java.util.ArrayDeque;
import java.util.concurrent.atomic.AtomicInteger;

/**
 * The stream-tee's memory: the last bytes a fill took from its upstream, in {@link TeeBlocks} blocks, from which its
 * clients are served while the same blocks are written to the temp file with direct I/O. So no client waits for a
 * block's write, and the write skips the page cache, whose cost on a fresh page was most of a cold pull
 * (bench/RESULTS.md). The fill as a whole still goes no faster than the disk: a full block is written before the
 * drainer goes on, and the upstream is paused once {@link BlobFill#HIGH_WATER} received bytes wait to be written.
 *
 * <p>A block leaves the window only once it is in the file ({@code durable}) and every reader is past it, or the
 * window holds more than {@link #CAP} bytes; a reader left behind reads the file, so every byte below
 * {@link BlobFill#available()} is in the window or in the file. A slow client therefore never holds the upstream
 * back. A reader gets a block with a reference ({@link BlobFill.Held}): the block goes back to the pool only when
 * the window and every reader have let go of it, so bytes on their way to a socket are never overwritten.
 *
 * <p>Concurrency: guarded by the fill's lock, like {@link PassThroughWindow}; the drainer fills the newest block
 * beyond {@code available} only, and readers read below it.
 */
final class TeeWindow {
    /**
     * Window bytes above which blocks in the file are dropped even if a reader has not passed them: 4 MiB, under
     * 2 ms of a loopback client at 2.5 GB/s, so a client that far behind is slow and reads the file instead.
     */
    static final long CAP = 4L * TeeBlocks.BLOCK;

    /** One block of the window: bytes {@code [start, start + BLOCK)}; its first reference is the window's. */
    static final class Block {
        final long start;
        final ByteBuffer buffer;
        private final TeeBlocks pool;
        private final AtomicInteger refs = new AtomicInteger(1);

        Block(long start, ByteBuffer buffer, TeeBlocks pool) {
            this.start = start;
            this.buffer = buffer;
            this.pool = pool;
        }

        long end() {
            return start + buffer.capacity();
        }

        void retain() {
            refs.incrementAndGet();
        }

        void release() {
            int left = refs.decrementAndGet();
            if (left == 0) {
                pool.give(buffer);
            } else if (left < 0) {
                throw new IllegalStateException("block at " + start + " released once too often");
            }
        }
    }

    private final BlobFill fill;
    private final TeeBlocks pool;
    // Guarded by fill.lock.
    private final ArrayDeque<Block> blocks = new ArrayDeque<>();
    private boolean closed;

    TeeWindow(BlobFill fill, TeeBlocks pool) {
        this.fill = fill;
        this.pool = pool;
    }

    /** A new block for bytes from {@code start} (drainer only), or null if the pool is spent or the window closed. */
    Block add(long start) {
        ByteBuffer buffer = pool.take();
        if (buffer == null) {
            return null;
        }
        Block block = new Block(start, buffer, pool);
        synchronized (fill.lock) {
            if (!closed) {
                blocks.addLast(block);
                return block;
            }
        }
        block.release();
        return null;
    }

    /**
     * Bytes from {@code offset}, at most {@code max}, below {@code available}, within one block, with a reference
     * the caller must release; null if the window does not hold {@code offset}.
     */
    BlobFill.Held recent(long offset, long available, int max) {
        synchronized (fill.lock) {
            for (Block block : blocks) {
                if (offset >= block.start && offset < block.end()) {
                    long upTo = Math.min(Math.min(block.end(), available), offset + max);
                    if (upTo <= offset) {
                        return null;
                    }
                    ByteBuffer view = block.buffer.duplicate();
                    view.limit((int) (upTo - block.start)).position((int) (offset - block.start));
                    block.retain();
                    return new BlobFill.Held(view.slice().asReadOnlyBuffer(), block::release);
                }
            }
            return null;
        }
    }

    /** A copy of what {@link #recent} would give, for a caller that keeps it long (a range's last byte), or null. */
    ByteBuffer copy(long offset, long available, int max) {
        BlobFill.Held held = recent(offset, available, max);
        if (held == null) {
            return null;
        }
        try {
            ByteBuffer copy = ByteBuffer.allocate(held.data().remaining());
            copy.put(held.data()).flip();
            return copy.asReadOnlyBuffer();
        } finally {
            held.release();
        }
    }

    /**
     * Drops the blocks that are in the file ({@code durable}) and that every reader is past ({@code minReader}), or
     * all in the file but the newest {@link #CAP} bytes. Caller holds the lock.
     */
    void trimLocked(long durable, long minReader) {
        while (!blocks.isEmpty()) {
            Block first = blocks.peekFirst();
            long held = (long) blocks.size() * TeeBlocks.BLOCK;
            boolean inFile = first.end() <= durable;
            if (!inFile || (first.end() > minReader && held <= CAP)) {
                return;
            }
            blocks.pollFirst().release();
        }
    }

    /** Drops every block and takes no more (the fill failed, passed through, or is done with no reader). Caller holds the lock. */
    void closeLocked() {
        closed = true;
        Block b;
        while ((b = blocks.pollFirst()) != null) {
            b.release();
        }
    }

    /** Blocks held now (for tests). */
    int sizeLocked() {
        return blocks.size();
    }
}

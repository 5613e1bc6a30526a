package dev.wharf.server.http;

import dev.wharf.server.logging.RateLimitedLog;
import dev.wharf.storage.fill.BlobFill;
import io.netty.buffer.ByteBuf;
import io.netty.buffer.CompositeByteBuf;
import io.netty.buffer.Unpooled;
import io.netty.channel.ChannelFuture;
import io.netty.channel.EventLoop;
import io.netty.handler.codec.http.DefaultHttpContent;
import io.netty.util.ReferenceCountUtil;
import io.netty.util.concurrent.Future;
import io.netty.util.concurrent.GenericFutureListener;
import java.io.IOException;
import java.nio.ByteBuffer;
import java.nio.channels.FileChannel;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

/**
 * Streams bytes {@code [offset, end)} of a blob that a {@link BlobFill} is still writing, to one client, at that
 * client's pace: at most one slice is in flight at a time, and the next is written only when the previous one
 * reached the socket. A slow client therefore holds nothing but its own file position; the fill and the other
 * clients never wait for it.
 *
 * <p>If the fill passes through (storage full), the bytes below the reader's {@code fileLimit} still come from the
 * temp file and the rest from the fill's memory, as read-only slices the client's buffers keep alive until sent;
 * each slice sent is reported with {@link BlobFill.Reader#advance}, so the fill can drop what every client is past.
 * {@code available()} is read before {@code fileLimit()}, so a memory byte is never taken for a file byte.
 *
 * <p>While the fill writes with direct I/O (the stream-tee, {@code TeeWindow} in the storage module), the newest
 * bytes are sent from its memory ({@link BlobFill.Reader#recent}) as soon as they arrive, never waiting for the
 * disk; a client that fell behind that window reads the file, below {@code fileLimit()} (read after
 * {@code recent()}, which is what makes the file hold any byte the window has dropped).
 *
 * <p>Threading: every step runs on the client channel's event loop; the fill's callback only schedules the next
 * step there. If the fill fails after the headers went out, the connection is aborted (closed with the response's
 * last byte still held back, for a range too) because that is the only signal left that the body is not whole. If the client goes
 * away, only this stream stops; the fill goes on for the others and for the cache.
 */
public final class FillStream {
    private static final Logger LOG = LoggerFactory.getLogger(FillStream.class);
    /** One line per aborted client would flood the log when many share a bad fill: rate-limited. */
    private static final RateLimitedLog ABORTS = new RateLimitedLog(LOG);
    /** At most this many pass-through bytes go out in one write. */
    private static final int MAX_MEMORY_WRITE = 1 << 20;
    /** Where sendfile cannot be used (TLS, HTTP/2), at most this many file bytes are read for one write. */
    private static final int MAX_READ = 256 << 10;

    private final Exchange exchange;
    private final BlobFill fill;
    private final BlobFill.Reader reader;
    /** The fill's file, opened when the first byte is to come from it (a tee'd fill may never need it). */
    private FileChannel file;
    private final long end;
    private final long size;
    private final EventLoop loop;
    private final GenericFutureListener<Future<? super Void>> onClose;
    private long offset;
    private boolean done;

    private FillStream(Exchange exchange, BlobFill fill, BlobFill.Reader reader, FileChannel file, long offset,
                       long end, long size) {
        this.size = size;
        this.exchange = exchange;
        this.fill = fill;
        this.reader = reader;
        this.file = file;
        this.offset = offset;
        this.end = end;
        this.loop = exchange.ctx().channel().eventLoop();
        this.onClose = f -> loop.execute(this::clientGone);
    }

    /**
     * Starts streaming; the response headers must already be sent with {@link Exchange#startStream}. {@code reader}
     * was registered with {@link BlobFill#newReader} before the fill could have moved past {@code offset}; this
     * stream closes it when it ends.
     */
    public static void start(Exchange exchange, BlobFill fill, BlobFill.Reader reader, long offset, long end,
                             long size) {
        FileChannel ch = null;
        if (offset < reader.fileLimit()) {
            try {
                ch = fill.openReader();
            } catch (IOException | RuntimeException e) {
                LOG.warn("cannot read fill of {}: {}", fill.digest(), e.toString());
                reader.close();
                exchange.abort();
                return;
            }
        }
        reader.advance(offset);
        FillStream s = new FillStream(exchange, fill, reader, ch, offset, end, size);
        exchange.ctx().channel().closeFuture().addListener(s.onClose);
        s.loop.execute(s::step);
    }

    private void step() {
        if (done) {
            return;
        }
        // The response has a Content-Length, so a client takes the body as whole once it holds every byte, whatever
        // the connection does next. The last byte of the response (of the blob, or of a range) is therefore held back
        // until the digest of the whole blob is checked: on a mismatch the abort leaves the client one byte short,
        // which it must report as an error. A range waits for the rest of the blob for this.
        long limit = Math.max(end - 1, 0);
        if (offset >= limit) {
            if (end < size) {
                holdLastByteOfRange();
            } else {
                sendLastAfterCheck(null);
            }
            return;
        }
        if (fill.state() == BlobFill.State.FAILED) {
            ABORTS.warn("failed",
                    "fill of {} failed after {} of {} bytes were sent; aborting the client connection",
                    fill.digest(), offset, end);
            finish();
            exchange.abort();
            return;
        }
        long available = Math.min(fill.available(), limit);
        if (available > offset) {
            long start = offset;
            BlobFill.Held recent = reader.recent(start, (int) Math.min(available - start, MAX_MEMORY_WRITE));
            if (recent != null) {
                sendRecent(start, recent);
                return;
            }
            long fileEnd = reader.fileLimit(); // after available() and recent(): see the class comment
            long upTo = start < fileEnd ? Math.min(available, fileEnd) - start
                    : Math.min(available - start, MAX_MEMORY_WRITE);
            long count = exchange.canSendFile() ? upTo : Math.min(upTo, MAX_READ);
            Object body;
            try {
                body = body(start, count, fileEnd);
            } catch (RuntimeException e) {
                LOG.warn("cannot send bytes {}..{} of {}: {}", start, start + count, fill.digest(), e.toString());
                finish();
                exchange.abort();
                return;
            }
            offset = start + count;
            exchange.writeBody(body).addListener(f -> sent(f.isSuccess(), start, count));
            return;
        }
        fill.whenAvailable(offset, () -> loop.execute(this::step));
    }

    /**
     * Sends bytes the stream-tee still holds in memory (the fill writes them to disk beside this send); the block is
     * let go once the write is done, whether it worked or not.
     */
    private void sendRecent(long start, BlobFill.Held recent) {
        int count = recent.data().remaining();
        offset = start + count;
        ChannelFuture written;
        try {
            written = exchange.writeBody(content(Unpooled.wrappedBuffer(recent.data())));
        } catch (RuntimeException e) {
            recent.release();
            LOG.warn("cannot send bytes {}..{} of {}: {}", start, start + count, fill.digest(), e.toString());
            finish();
            exchange.abort();
            return;
        }
        written.addListener(f -> {
            recent.release();
            sent(f.isSuccess(), start, count);
        });
    }

    /** A slice's write ended: on to the next one, or the client is gone. */
    private void sent(boolean success, long start, long count) {
        if (success) {
            exchange.addBytesSent(count);
            reader.advance(start + count);
            step();
        } else {
            clientGone();
        }
    }

    /**
     * A range that stops short of the blob's end: its last byte is taken as soon as it is there, and sent once the
     * whole blob passed its check. The reader lets go of the fill at once, because in pass-through mode a reader
     * that stays behind holds the writer back with it; the byte is kept as a slice of the file channel (readable
     * after the temp file's rename or deletion) or of the fill's memory (the caller may keep it).
     */
    private void holdLastByteOfRange() {
        if (fill.state() == BlobFill.State.FAILED) {
            ABORTS.warn("range",
                    "fill of {} failed before the range's last byte was sent; aborting the client connection",
                    fill.digest());
            finish();
            exchange.abort();
            return;
        }
        if (fill.available() < end) {
            fill.whenAvailable(offset, () -> loop.execute(this::step));
            return;
        }
        Object held;
        try {
            held = body(offset, end - offset, reader.fileLimit()); // after available(): see the class comment
        } catch (RuntimeException e) {
            LOG.warn("cannot hold the last byte of a range of {}: {}", fill.digest(), e.toString());
            finish();
            exchange.abort();
            return;
        }
        reader.advance(end);
        reader.close();
        sendLastAfterCheck(held);
    }

    /**
     * Sends bytes {@code [offset, end)} (already taken: {@code held}, or null to read them then) and ends the
     * response only once the fill verified the blob's digest; aborts it, one byte short, if the check fails.
     */
    private void sendLastAfterCheck(Object held) {
        done = true;
        // verified(), not result(): the fsync and rename follow the last byte (a crash between them loses only the
        // cache entry), so the client waits for the digest alone.
        fill.verified().whenComplete((verifiedSize, err) -> loop.execute(() -> {
            if (err != null) {
                ReferenceCountUtil.release(held);
                finish();
                ABORTS.warn("check", "fill of {} failed its check before the last byte was sent; aborting the client "
                        + "connection: {}", fill.digest(), err.getMessage());
                exchange.abort();
                return;
            }
            long start = offset;
            long count = end - offset;
            offset = end;
            if (count == 0) {
                ReferenceCountUtil.release(held);
                finish();
                exchange.endStream();
                return;
            }
            Object body = held;
            if (body == null) {
                try {
                    body = body(start, count, reader.fileLimit());
                } catch (RuntimeException e) {
                    finish();
                    LOG.warn("cannot send the last bytes of {}: {}", fill.digest(), e.toString());
                    exchange.abort();
                    return;
                }
            }
            exchange.writeBody(body).addListener(f -> {
                finish();
                if (f.isSuccess()) {
                    exchange.addBytesSent(count);
                    exchange.endStream();
                } else {
                    exchange.abort();
                }
            });
        }));
    }

    /** Bytes {@code [from, from + count)}: a file slice below {@code fileEnd}, else the fill's memory. */
    private Object body(long from, long count, long fileEnd) {
        if (from < fileEnd) {
            if (from + count > fileEnd) {
                throw new IllegalStateException("a slice crosses the end of the file part at " + fileEnd);
            }
            if (file == null) {
                try {
                    file = fill.openReader();
                } catch (IOException e) {
                    throw new IllegalStateException("cannot read the fill's file: " + e, e);
                }
            }
            if (exchange.canSendFile()) {
                return new FileSegment(file, from, count);
            }
            // TLS or HTTP/2: read the slice into a pooled buffer (the step caps it at one chunk).
            ByteBuf buf = exchange.ctx().alloc().buffer((int) count);
            try {
                int read = 0;
                while (read < count) {
                    int n = buf.writeBytes(file, from + read, (int) count - read);
                    if (n < 0) {
                        throw new IllegalStateException("the fill's file ended at " + (from + read));
                    }
                    read += n;
                }
            } catch (IOException | RuntimeException e) {
                buf.release();
                throw e instanceof RuntimeException re ? re : new IllegalStateException(e);
            }
            return new DefaultHttpContent(buf);
        }
        ByteBuffer first = reader.memory(from, (int) count);
        if (first.remaining() == count) {
            return content(Unpooled.wrappedBuffer(first));
        }
        CompositeByteBuf all = Unpooled.compositeBuffer();
        all.addComponent(true, Unpooled.wrappedBuffer(first));
        long pos = from + first.remaining();
        while (pos < from + count) {
            ByteBuffer next = reader.memory(pos, (int) (from + count - pos));
            ByteBuf part = Unpooled.wrappedBuffer(next);
            all.addComponent(true, part);
            pos += next.remaining();
        }
        return content(all);
    }

    /** A raw buffer where the HTTP/1.1 encoder takes one; an HTTP/2 stream takes only HTTP objects. */
    private Object content(ByteBuf buf) {
        return exchange.canSendFile() ? buf : new DefaultHttpContent(buf);
    }

    private void clientGone() {
        if (!done) {
            finish();
            exchange.abort();
        }
    }

    private void finish() {
        done = true;
        exchange.ctx().channel().closeFuture().removeListener(onClose);
        if (file != null) {
            Exchange.closeQuietly(file);
        }
        reader.close();
    }
}

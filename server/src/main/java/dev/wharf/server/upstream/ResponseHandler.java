package dev.wharf.server.upstream;

import io.netty.buffer.ByteBuf;
import io.netty.channel.Channel;
import io.netty.channel.ChannelHandlerContext;
import io.netty.channel.ChannelInboundHandlerAdapter;
import io.netty.channel.pool.FixedChannelPool;
import io.netty.handler.codec.http.HttpContent;
import io.netty.handler.codec.http.HttpHeaderNames;
import io.netty.handler.codec.http.HttpHeaders;
import io.netty.handler.codec.http.HttpObject;
import io.netty.handler.codec.http.HttpResponse;
import io.netty.handler.codec.http.HttpUtil;
import io.netty.handler.codec.http.LastHttpContent;
import io.netty.handler.ssl.SslHandler;
import io.netty.util.ReferenceCountUtil;
import io.netty.util.concurrent.ScheduledFuture;
import java.util.concurrent.TimeUnit;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

/**
 * One request and its response on one pooled connection, which it owns from acquire to release. Installed in the
 * pipeline after the codec, it writes the request, reads the response, and either hands it to the exchange's
 * listener (a final response) or drains it and runs the exchange's next step (a retry with credentials, a
 * redirect). It is also the listener's {@link ResponseListener.Transfer}, and keeps the idle-read timer. Everything
 * runs on the connection's event loop; the transfer methods move onto it.
 */
final class ResponseHandler extends ChannelInboundHandlerAdapter implements ResponseListener.Transfer {
    private static final Logger log = LoggerFactory.getLogger(ResponseHandler.class);
    private static final String NAME = "exchange";
    /** An intermediate (401, 3xx) body larger than this closes the connection instead of being drained. */
    static final long MAX_DRAIN_BYTES = 64 * 1024;

    private final UpstreamExchange exchange;
    private final FixedChannelPool pool;
    private final Channel ch;
    private final boolean reused;
    private final long readIdleTimeoutNanos;
    private boolean done;
    private boolean released;
    private HttpResponse response;
    private boolean finalResponse;
    private boolean skippingInformational;
    private Runnable next;
    private boolean keepAlive;
    private long expectedLength = -1;
    private long received;
    private boolean paused;
    private long lastReadNanos;
    private ScheduledFuture<?> timer;

    ResponseHandler(UpstreamExchange exchange, FixedChannelPool pool, Channel ch, long readIdleTimeoutNanos) {
        this.exchange = exchange;
        this.pool = pool;
        this.ch = ch;
        this.reused = Boolean.TRUE.equals(ch.attr(ConnectionPools.REUSED).get());
        this.readIdleTimeoutNanos = readIdleTimeoutNanos;
    }

    /** Sends the request; on the connection's event loop. */
    void start() {
        if (exchange.isFinished()) {
            done = true;
            release(true); // nothing was written: still clean
            return;
        }
        if (!ch.isActive()) {
            failTransfer(closedCause(UpstreamFailures.CLOSED_BEFORE_REQUEST));
            return;
        }
        if (ch.pipeline().get(NAME) != null) {
            ch.pipeline().remove(NAME); // cannot happen; a stale handler would steal this attempt's reads
        }
        ch.pipeline().addBefore(IdleGuard.NAME, NAME, this);
        ch.config().setAutoRead(true);
        lastReadNanos = System.nanoTime();
        scheduleTimer(readIdleTimeoutNanos);
        log.debug("{} {}{}", exchange.request().method(), UpstreamUrls.redact(exchange.uri()),
                reused ? " (reused connection)" : "");
        ch.writeAndFlush(exchange.buildRequest()).addListener(f -> {
            if (!f.isSuccess()) {
                failTransfer(f.cause());
            }
        });
    }

    @Override
    public void channelRead(ChannelHandlerContext ctx, Object msg) {
        if (done || exchange.isFinished()) { // finished without done: aborted from another thread, release is queued
            ReferenceCountUtil.release(msg);
            return;
        }
        lastReadNanos = System.nanoTime();
        if (msg instanceof HttpObject o && o.decoderResult().isFailure()) {
            ReferenceCountUtil.release(msg);
            failTransfer(UpstreamFailures.malformedResponse(o.decoderResult().cause()));
            return;
        }
        if (msg instanceof HttpResponse r) {
            onResponse(r);
        }
        if (msg instanceof HttpContent c) {
            if (done) {
                c.release();
            } else {
                onContent(c);
            }
        } else if (!(msg instanceof HttpResponse)) {
            ReferenceCountUtil.release(msg);
        }
    }

    private void onResponse(HttpResponse r) {
        int code = r.status().code();
        if (code >= 100 && code < 200) {
            skippingInformational = true; // e.g. 100 Continue: the real response follows
            return;
        }
        response = r;
        keepAlive = HttpUtil.isKeepAlive(r);
        next = exchange.nextStep(r);
        log.debug("{} {} -> {}", exchange.request().method(), UpstreamUrls.redact(exchange.uri()), code);
        if (next != null) {
            if (contentLength(r.headers()) > MAX_DRAIN_BYTES) {
                done = true;
                release(false);
                next.run();
            }
            return;
        }
        finalResponse = true;
        boolean chunked = HttpUtil.isTransferEncodingChunked(r);
        if (!RequestBuilder.isHead(exchange.request()) && !chunked && code != 204 && code != 304) {
            expectedLength = contentLength(r.headers());
        }
        try {
            exchange.listener().onHeaders(code, r.headers(), this);
        } catch (RuntimeException e) {
            listenerFailed("onHeaders", e);
        }
    }

    private void onContent(HttpContent c) {
        boolean last = c instanceof LastHttpContent;
        if (skippingInformational) {
            c.release();
            skippingInformational = !last;
            return;
        }
        if (response == null) {
            c.release();
            failTransfer(UpstreamFailures.bodyWithoutResponse());
            return;
        }
        if (!finalResponse) {
            c.release(); // draining an intermediate response
            if (last) {
                done = true;
                release(keepAlive);
                next.run();
            }
            return;
        }
        ByteBuf buf = c.content();
        int n = buf.readableBytes();
        received += n;
        if (n > 0) {
            try {
                exchange.listener().onContent(buf); // ownership passes to the listener
            } catch (RuntimeException e) {
                listenerFailed("onContent", e);
                return;
            }
        } else {
            c.release();
        }
        if (!last || done) {
            return;
        }
        if (expectedLength >= 0 && received != expectedLength) {
            failTransfer(UpstreamFailures.bodyEndedEarly(received, expectedLength));
            return;
        }
        done = true;
        release(keepAlive);
        exchange.markFinished();
        try {
            exchange.listener().onComplete();
        } catch (RuntimeException e) {
            log.warn("response listener threw in onComplete", e);
        }
    }

    @Override
    public void channelInactive(ChannelHandlerContext ctx) {
        if (!done) {
            if (response == null) {
                failTransfer(closedCause(UpstreamFailures.CLOSED_BEFORE_RESPONSE));
            } else if (finalResponse) {
                failTransfer(UpstreamFailures.closedInBody(received, expectedLength));
            } else {
                failTransfer(UpstreamFailures.closedInIntermediate(response.status().code()));
            }
        }
        ctx.fireChannelInactive();
    }

    @Override
    public void exceptionCaught(ChannelHandlerContext ctx, Throwable cause) {
        if (!done) {
            failTransfer(cause);
        } else {
            ctx.fireExceptionCaught(cause);
        }
    }

    /** Why a connection closed early: its failed TLS handshake if that is the reason, else {@code what}. */
    private Throwable closedCause(String what) {
        SslHandler tls = ch.attr(ConnectionPools.TLS).get();
        if (tls != null && tls.handshakeFuture().isDone() && !tls.handshakeFuture().isSuccess()) {
            return tls.handshakeFuture().cause();
        }
        return new UpstreamException(what);
    }

    private void listenerFailed(String callback, RuntimeException e) {
        log.warn("response listener threw in {}; aborting the upstream transfer", callback, e);
        failTransfer(e);
    }

    private void failTransfer(Throwable cause) {
        if (done) {
            return;
        }
        done = true;
        release(false);
        exchange.connectionFailed(cause, response == null, reused);
    }

    /** Hands the connection back: to the pool when {@code reuse} and still open, else closed. Once. */
    private void release(boolean reuse) {
        if (released) {
            return;
        }
        released = true;
        if (timer != null) {
            timer.cancel(false);
        }
        if (ch.pipeline().context(this) != null) {
            ch.pipeline().remove(this);
        }
        ch.config().setAutoRead(true); // a pooled connection must read, or it never sees the server close it
        if (reuse && ch.isActive()) {
            ch.attr(ConnectionPools.REUSED).set(Boolean.TRUE);
            pool.release(ch);
        } else {
            ch.close().addListener(f -> pool.release(ch));
        }
    }

    private void scheduleTimer(long delayNanos) {
        timer = ch.eventLoop().schedule(this::checkIdle, delayNanos, TimeUnit.NANOSECONDS);
    }

    /** Idle-read timeout that counts only time spent reading: a paused transfer is never idle. */
    private void checkIdle() {
        if (done) {
            return;
        }
        if (paused) {
            scheduleTimer(readIdleTimeoutNanos);
            return;
        }
        long idle = System.nanoTime() - lastReadNanos;
        if (idle >= readIdleTimeoutNanos) {
            failTransfer(UpstreamFailures.readTimeout(idle));
        } else {
            scheduleTimer(readIdleTimeoutNanos - idle);
        }
    }

    @Override
    public void pause() {
        onLoop(() -> {
            if (!done && !paused) {
                paused = true;
                ch.config().setAutoRead(false);
            }
        });
    }

    @Override
    public void resume() {
        onLoop(() -> {
            if (!done && paused) {
                paused = false;
                lastReadNanos = System.nanoTime();
                ch.config().setAutoRead(true);
            }
        });
    }

    @Override
    public void abort() {
        exchange.markFinished(); // at once, from any thread: the listener gave up, no more callbacks
        onLoop(() -> {
            if (!done) {
                done = true;
                release(false);
            }
        });
    }

    private void onLoop(Runnable r) {
        if (ch.eventLoop().inEventLoop()) {
            r.run();
        } else {
            ch.eventLoop().execute(r);
        }
    }

    /** The Content-Length of a response, or -1 when absent or not a number. */
    static long contentLength(HttpHeaders headers) {
        String v = headers.get(HttpHeaderNames.CONTENT_LENGTH);
        if (v == null) {
            return -1;
        }
        try {
            return Long.parseLong(v.trim());
        } catch (NumberFormatException e) {
            return -1;
        }
    }
}

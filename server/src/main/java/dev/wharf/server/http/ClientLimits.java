package dev.wharf.server.http;

import io.netty.buffer.ByteBuf;
import io.netty.buffer.Unpooled;
import io.netty.channel.Channel;
import io.netty.channel.ChannelDuplexHandler;
import io.netty.channel.ChannelFutureListener;
import io.netty.channel.ChannelHandlerContext;
import io.netty.channel.ChannelInboundHandlerAdapter;
import io.netty.channel.ChannelOutboundBuffer;
import io.netty.channel.ChannelPipeline;
import io.netty.channel.ChannelPromise;
import io.netty.handler.codec.http.DefaultFullHttpResponse;
import io.netty.handler.codec.http.HttpHeaderNames;
import io.netty.handler.codec.http.HttpHeaderValues;
import io.netty.handler.codec.http.HttpRequest;
import io.netty.handler.codec.http.HttpResponseStatus;
import io.netty.handler.codec.http.HttpVersion;
import io.netty.handler.codec.http.LastHttpContent;
import io.netty.handler.timeout.IdleStateEvent;
import io.netty.handler.timeout.IdleStateHandler;
import io.netty.util.ReferenceCountUtil;
import io.netty.util.concurrent.ScheduledFuture;
import java.nio.charset.StandardCharsets;
import java.time.Duration;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.atomic.AtomicInteger;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

/**
 * The limits on one client connection ({@code limits:} in the config), as handlers around the HTTP codec:
 * <ul>
 *   <li>a request head must be complete {@code headerTimeout} after the connection opened, or after the first byte
 *       that follows the previous request's end;</li>
 *   <li>with no request in flight, {@code idleTimeout} without a byte in or out closes the connection;</li>
 *   <li>a response whose pending bytes make no progress for {@code writeTimeout} is aborted by closing the
 *       connection, so every {@link Exchange#whenFinished} action (a blob lease) runs;</li>
 *   <li>{@link Cap} counts a listener's connections; one too many gets {@link #refuse} instead of the registry.</li>
 * </ul>
 * Netty's {@link IdleStateHandler} (with {@code observeOutput}, so a slow reader that still takes bytes is not
 * idle) measures the idle and write times; {@link Watch} decides what an idle event means. Threading: every
 * handler here runs on the connection's event loop, and all state is the connection's own.
 */
public final class ClientLimits {
    private static final Logger LOG = LoggerFactory.getLogger(ClientLimits.class);

    private ClientLimits() {
    }

    /** Adds the timeout handlers around the codec named {@code codec}, which must be in {@code pipeline} already. */
    public static void install(ChannelPipeline pipeline, String codec, Duration headerTimeout, Duration idleTimeout,
                               Duration writeTimeout) {
        Watch watch = new Watch(headerTimeout.toMillis());
        pipeline.addBefore(codec, "limits-idle", new IdleStateHandler(true, 0, writeTimeout.toMillis(),
                idleTimeout.toMillis(), TimeUnit.MILLISECONDS));
        pipeline.addBefore(codec, "limits-bytes", watch.bytes);
        pipeline.addAfter(codec, "limits-watch", watch);
    }

    /** The last handler of a connection beyond the cap: its first request gets 503 and the connection closes. */
    public static ChannelInboundHandlerAdapter refuse() {
        return new ChannelInboundHandlerAdapter() {
            private boolean answered;

            @Override
            public void channelRead(ChannelHandlerContext ctx, Object msg) {
                ReferenceCountUtil.release(msg);
                if (msg instanceof HttpRequest && !answered) {
                    answered = true;
                    byte[] body = "too many connections; retry shortly\n".getBytes(StandardCharsets.UTF_8);
                    DefaultFullHttpResponse resp = new DefaultFullHttpResponse(HttpVersion.HTTP_1_1,
                            HttpResponseStatus.SERVICE_UNAVAILABLE, Unpooled.wrappedBuffer(body));
                    resp.headers().set(HttpHeaderNames.CONTENT_TYPE, "text/plain; charset=utf-8")
                            .set(HttpHeaderNames.CONTENT_LENGTH, body.length)
                            .set(HttpHeaderNames.RETRY_AFTER, "1")
                            .set(HttpHeaderNames.CONNECTION, HttpHeaderValues.CLOSE);
                    ctx.writeAndFlush(resp).addListener(ChannelFutureListener.CLOSE);
                }
            }

            @Override
            public void exceptionCaught(ChannelHandlerContext ctx, Throwable cause) {
                ctx.close();
            }
        };
    }

    /** Counts one listener's open connections against {@code limits.maxConnections}; thread-safe. */
    public static final class Cap {
        private final AtomicInteger open = new AtomicInteger();
        private final int max;

        public Cap(int max) {
            this.max = max;
        }

        /** Counts {@code ch} until it closes and returns true, or returns false (not counted) when it is one too many. */
        public boolean admit(Channel ch) {
            if (open.incrementAndGet() > max) {
                open.decrementAndGet();
                LOG.debug("refusing connection from {}: {} connections open", ch.remoteAddress(), max);
                return false;
            }
            ch.closeFuture().addListener(f -> open.decrementAndGet());
            return true;
        }

        /** Open connections now. */
        public int open() {
            return open.get();
        }
    }

    /**
     * Sits after the codec: sees each request head and end arrive and each response end leave, runs the header timer
     * and turns idle events into closes. {@link #bytes} sits before the codec and starts the header timer when the
     * first byte of a new request arrives.
     */
    private static final class Watch extends ChannelDuplexHandler {
        private final long headerMillis;
        /** Requests whose heads arrived and whose responses have not all been written. */
        private int inFlight;
        /** Between a request head and its last content. */
        private boolean inBody;
        private ScheduledFuture<?> headerTimer;
        final ChannelInboundHandlerAdapter bytes = new ChannelInboundHandlerAdapter() {
            @Override
            public void channelActive(ChannelHandlerContext ctx) {
                startHeaderTimer(ctx);
                ctx.fireChannelActive();
            }

            @Override
            public void channelRead(ChannelHandlerContext ctx, Object msg) {
                if (!inBody && msg instanceof ByteBuf buf && buf.isReadable()) {
                    startHeaderTimer(ctx);
                }
                ctx.fireChannelRead(msg);
            }
        };

        Watch(long headerMillis) {
            this.headerMillis = headerMillis;
        }

        private void startHeaderTimer(ChannelHandlerContext ctx) {
            if (headerTimer == null) {
                headerTimer = ctx.executor().schedule(() -> {
                    headerTimer = null;
                    LOG.debug("closing {}: request head not complete within {} ms", ctx.channel().remoteAddress(),
                            headerMillis);
                    ctx.channel().close();
                }, headerMillis, TimeUnit.MILLISECONDS);
            }
        }

        private void stopHeaderTimer() {
            if (headerTimer != null) {
                headerTimer.cancel(false);
                headerTimer = null;
            }
        }

        @Override
        public void channelRead(ChannelHandlerContext ctx, Object msg) {
            if (msg instanceof HttpRequest) {
                stopHeaderTimer();
                inFlight++;
                inBody = true;
            }
            if (msg instanceof LastHttpContent) {
                inBody = false;
            }
            ctx.fireChannelRead(msg);
        }

        @Override
        public void write(ChannelHandlerContext ctx, Object msg, ChannelPromise promise) {
            if (msg instanceof LastHttpContent || msg instanceof EncodedResponse) {
                promise = promise.unvoid();
                promise.addListener(f -> inFlight = Math.max(0, inFlight - 1));
            }
            ctx.write(msg, promise);
        }

        @Override
        public void userEventTriggered(ChannelHandlerContext ctx, Object evt) {
            if (evt instanceof IdleStateEvent idle) {
                switch (idle.state()) {
                    case WRITER_IDLE -> {
                        if (pendingWrites(ctx.channel())) {
                            LOG.debug("aborting the response to {}: the client read nothing within the write "
                                    + "timeout", ctx.channel().remoteAddress());
                            ctx.channel().close();
                        }
                    }
                    case ALL_IDLE -> {
                        if (inFlight == 0 && headerTimer == null) {
                            LOG.debug("closing idle connection {}", ctx.channel().remoteAddress());
                            ctx.channel().close();
                        }
                    }
                    default -> {
                    }
                }
                return;
            }
            ctx.fireUserEventTriggered(evt);
        }

        private static boolean pendingWrites(Channel ch) {
            ChannelOutboundBuffer out = ch.unsafe().outboundBuffer();
            return out != null && (out.current() != null || out.totalPendingWriteBytes() > 0);
        }

        @Override
        public void channelInactive(ChannelHandlerContext ctx) {
            stopHeaderTimer();
            ctx.fireChannelInactive();
        }
    }
}

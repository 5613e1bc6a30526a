package dev.wharf.server.http;

import io.netty.channel.ChannelHandler;
import io.netty.channel.ChannelHandlerContext;
import io.netty.channel.ChannelInboundHandlerAdapter;
import io.netty.channel.ChannelInitializer;
import io.netty.channel.ChannelPipeline;
import io.netty.channel.socket.SocketChannel;
import io.netty.handler.codec.http2.Http2FrameCodec;
import io.netty.handler.codec.http2.Http2FrameCodecBuilder;
import io.netty.handler.codec.http2.Http2MultiplexHandler;
import io.netty.handler.codec.http2.Http2Settings;
import io.netty.handler.codec.http2.Http2StreamChannel;
import io.netty.handler.codec.http2.Http2StreamFrameToHttpObjectCodec;
import io.netty.handler.ssl.ApplicationProtocolNames;
import io.netty.handler.ssl.ApplicationProtocolNegotiationHandler;
import io.netty.handler.stream.ChunkedWriteHandler;
import io.netty.handler.timeout.IdleStateEvent;
import io.netty.handler.timeout.IdleStateHandler;
import java.time.Duration;
import java.util.concurrent.TimeUnit;
import java.util.function.Supplier;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

/**
 * The handlers of a client connection. Plain HTTP: the HTTP/1.1 codec and the request handler. With TLS: the
 * current {@link TlsContext}'s handler, then by ALPN either HTTP/1.1 as above or HTTP/2, where each stream is a
 * child channel that converts frames to HTTP/1.1 objects, so {@link RequestHandler} and {@link Exchange} serve a
 * stream exactly as they serve a connection. Where sendfile cannot work (TLS, HTTP/2 streams) a
 * {@link ChunkedWriteHandler} sends files in chunks at the channel's pace (see {@link Exchange#canSendFile}).
 */
public final class ClientPipeline {
    private static final Logger LOG = LoggerFactory.getLogger(ClientPipeline.class);
    static final int MAX_INITIAL_LINE = 8192;
    static final int MAX_HEADER_SIZE = 16384;
    private static final int MAX_CHUNK = 8192;
    /** HTTP/2 streams one connection may have open at once (each is a request in flight). */
    private static final int MAX_STREAMS = 256;

    private ClientPipeline() {
    }

    /**
     * The end of an HTTP/2 connection's pipeline: a connection's failure (a reset by the client) closes it, and so
     * does an idle period with no stream open.
     */
    private static final class ConnectionErrors extends ChannelInboundHandlerAdapter {
        private final Http2FrameCodec codec;

        ConnectionErrors(Http2FrameCodec codec) {
            this.codec = codec;
        }

        @Override
        public void userEventTriggered(ChannelHandlerContext ctx, Object evt) {
            if (evt instanceof IdleStateEvent && codec.connection().numActiveStreams() == 0) {
                LOG.debug("closing idle HTTP/2 connection {}", ctx.channel().remoteAddress());
                ctx.close();
                return;
            }
            ctx.fireUserEventTriggered(evt);
        }

        @Override
        public void exceptionCaught(ChannelHandlerContext ctx, Throwable cause) {
            LOG.debug("HTTP/2 connection {} failed: {}", ctx.channel().remoteAddress(), cause.toString());
            ctx.close();
        }
    }

    /** Plain HTTP/1.1: the codec with the limits around it, or the 503 of a connection beyond the cap. */
    private static void http1(ChannelPipeline p, Limits limits, Supplier<ChannelHandler> handler) {
        p.addLast("codec", new RequestCodec(MAX_INITIAL_LINE, MAX_HEADER_SIZE, MAX_CHUNK));
        ClientLimits.install(p, "codec", limits.headerTimeout(), limits.idleTimeout(), limits.writeTimeout());
        if (!limits.cap().admit(p.channel())) {
            p.addLast("refuse", ClientLimits.refuse());
            return;
        }
        p.addLast("registry", handler.get());
    }

    /** HTTP/1.1 after TLS (the connection was counted before the handshake). */
    private static void http1AfterAdmission(ChannelPipeline p, Limits limits, Supplier<ChannelHandler> handler) {
        p.addBefore("chunks", "codec", new RequestCodec(MAX_INITIAL_LINE, MAX_HEADER_SIZE, MAX_CHUNK));
        ClientLimits.install(p, "codec", limits.headerTimeout(), limits.idleTimeout(), limits.writeTimeout());
        p.addLast("registry", handler.get());
    }

    /** The client limits of one listener: the timeouts around the HTTP/1.1 codec and its connection cap. */
    public record Limits(Duration headerTimeout, Duration idleTimeout, Duration writeTimeout, ClientLimits.Cap cap) {
    }

    /**
     * Sets up {@code ch}; {@code tls} may be null (plain HTTP); {@code handler} makes one request handler. A
     * connection beyond the cap gets 503 on plain HTTP and HTTP/1.1; under TLS it is closed before the handshake,
     * which costs less than one.
     */
    public static void configure(SocketChannel ch, TlsContext tls, Limits limits, Supplier<ChannelHandler> handler) {
        ChannelPipeline p = ch.pipeline();
        if (tls == null) {
            http1(p, limits, handler);
            return;
        }
        if (!limits.cap().admit(ch)) {
            ch.close();
            return;
        }
        // Read once per connection: a reload changes what later connections get, never this one.
        p.addLast("tls", tls.current().newHandler(ch.alloc()));
        p.addLast("alpn", new ApplicationProtocolNegotiationHandler(ApplicationProtocolNames.HTTP_1_1) {
            @Override
            protected void configurePipeline(ChannelHandlerContext ctx, String protocol) {
                ChannelPipeline pipeline = ctx.pipeline();
                if (ApplicationProtocolNames.HTTP_2.equals(protocol)) {
                    Http2FrameCodec codec = Http2FrameCodecBuilder.forServer()
                            .initialSettings(Http2Settings.defaultSettings().maxConcurrentStreams(MAX_STREAMS))
                            .build();
                    // No stream open and no byte either way for idleTimeout: the connection goes (a stream's
                    // own slowness is the client's business, as a slow HTTP/1.1 body is bounded by writeTimeout).
                    pipeline.addLast("limits-idle", new IdleStateHandler(true, 0, 0,
                            limits.idleTimeout().toMillis(), TimeUnit.MILLISECONDS));
                    pipeline.addLast("h2", codec);
                    pipeline.addLast("streams", new Http2MultiplexHandler(new ChannelInitializer<Http2StreamChannel>() {
                        @Override
                        protected void initChannel(Http2StreamChannel stream) {
                            stream.pipeline().addLast("codec", new Http2StreamFrameToHttpObjectCodec(true));
                            stream.pipeline().addLast("chunks", new ChunkedWriteHandler());
                            stream.pipeline().addLast("registry", handler.get());
                        }
                    }));
                    pipeline.addLast("errors", new ConnectionErrors(codec));
                } else if (ApplicationProtocolNames.HTTP_1_1.equals(protocol)) {
                    pipeline.addLast("chunks", new ChunkedWriteHandler());
                    http1AfterAdmission(pipeline, limits, handler);
                } else {
                    throw new IllegalStateException("unexpected ALPN protocol " + protocol);
                }
            }

            @Override
            protected void handshakeFailure(ChannelHandlerContext ctx, Throwable cause) {
                // A client that speaks plain HTTP to the TLS port, or does not trust the certificate: its own error.
                LOG.debug("TLS handshake with {} failed: {}", ctx.channel().remoteAddress(), cause.toString());
                ctx.close();
            }
        });
    }
}

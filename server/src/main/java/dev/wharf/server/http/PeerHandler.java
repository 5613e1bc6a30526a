package dev.wharf.server.http;

import io.netty.channel.ChannelHandlerContext;
import io.netty.channel.ChannelInboundHandlerAdapter;
import io.netty.handler.codec.http.HttpRequest;
import io.netty.util.ReferenceCountUtil;
import java.util.concurrent.atomic.AtomicInteger;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

/**
 * The request handler of the internal replica-to-replica listener: one request at a time per connection (auto-read
 * off, the next read once the response ended), each handed to the {@link PeerEndpoint}. Peers never pipeline, so a
 * second request while one is in flight closes the connection. Request bodies are discarded (peers only GET).
 *
 * <p>Threading: every field is touched on the connection's event loop only; the response's end hops back to it.
 */
public final class PeerHandler extends ChannelInboundHandlerAdapter {
    private static final Logger LOG = LoggerFactory.getLogger(PeerHandler.class);

    private final PeerEndpoint endpoint;
    private final AtomicInteger active;
    private boolean inFlight;

    /** {@code active} counts peer responses not finished yet (shared with the registry's, for a graceful drain). */
    public PeerHandler(PeerEndpoint endpoint, AtomicInteger active) {
        this.endpoint = endpoint;
        this.active = active;
    }

    @Override
    public void channelActive(ChannelHandlerContext ctx) {
        ctx.channel().config().setAutoRead(false);
        ctx.read();
        ctx.fireChannelActive();
    }

    @Override
    public void handlerAdded(ChannelHandlerContext ctx) {
        if (ctx.channel().isActive()) {
            ctx.channel().config().setAutoRead(false);
            ctx.read();
        }
    }

    @Override
    public void channelRead(ChannelHandlerContext ctx, Object msg) {
        try {
            if (!(msg instanceof HttpRequest req)) {
                return; // a body part: peers send none worth reading
            }
            if (inFlight) {
                LOG.debug("closing peer connection {}: a second request while one is in flight",
                        ctx.channel().remoteAddress());
                ctx.close();
                return;
            }
            inFlight = true;
            active.incrementAndGet();
            Exchange ex = new Exchange(ctx, req, () -> {
                active.decrementAndGet();
                ctx.executor().execute(() -> {
                    inFlight = false;
                    if (ctx.channel().isActive()) {
                        ctx.read();
                    }
                });
            });
            if (req.decoderResult().isFailure()) {
                ex.closeAfterResponse();
                ex.error(RequestHandler.malformed(req.decoderResult().cause()));
                return;
            }
            try {
                endpoint.handle(ex);
            } catch (RuntimeException e) {
                ex.fail(e);
            }
        } finally {
            ReferenceCountUtil.release(msg);
        }
    }

    @Override
    public void channelReadComplete(ChannelHandlerContext ctx) {
        if (!inFlight && ctx.channel().isActive()) {
            ctx.read(); // the request's body parts (or nothing yet): read on until a request comes
        }
        ctx.fireChannelReadComplete();
    }

    @Override
    public void exceptionCaught(ChannelHandlerContext ctx, Throwable cause) {
        LOG.debug("peer connection {} failed: {}", ctx.channel().remoteAddress(), cause.toString());
        ctx.close();
    }
}

package dev.wharf.server.upstream;

import io.netty.channel.ChannelHandler;
import io.netty.channel.ChannelHandlerContext;
import io.netty.channel.ChannelInboundHandlerAdapter;
import io.netty.util.ReferenceCountUtil;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

/**
 * Last in every upstream connection's pipeline. Between exchanges no handler owns the connection: anything read
 * then is unexpected (the framing can no longer be trusted) and closes it; exceptions close it quietly instead of
 * reaching the pipeline's tail as warnings. While a {@link ResponseHandler} owns the connection it sits just
 * before this one.
 */
@ChannelHandler.Sharable
final class IdleGuard extends ChannelInboundHandlerAdapter {
    private static final Logger log = LoggerFactory.getLogger(IdleGuard.class);
    static final String NAME = "idle-guard";
    static final IdleGuard INSTANCE = new IdleGuard();

    private IdleGuard() {
    }

    @Override
    public void channelRead(ChannelHandlerContext ctx, Object msg) {
        ReferenceCountUtil.release(msg);
        ctx.close();
    }

    @Override
    public void exceptionCaught(ChannelHandlerContext ctx, Throwable cause) {
        log.debug("idle upstream connection {} failed: {}", ctx.channel(), cause.toString());
        ctx.close();
    }
}

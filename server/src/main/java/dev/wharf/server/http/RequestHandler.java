package dev.wharf.server.http;

import dev.wharf.server.registry.ErrorCode;
import dev.wharf.server.registry.RegistryException;
import io.netty.channel.ChannelHandlerContext;
import io.netty.channel.ChannelInboundHandlerAdapter;
import io.netty.handler.codec.DecoderResult;
import io.netty.handler.codec.http.DefaultHttpHeaders;
import io.netty.handler.codec.http.HttpContent;
import io.netty.handler.codec.http.HttpHeaderNames;
import io.netty.handler.codec.http.HttpHeaders;
import io.netty.handler.codec.http.HttpMethod;
import io.netty.handler.codec.http.HttpRequest;
import io.netty.handler.codec.http.HttpResponseStatus;
import io.netty.handler.codec.http.LastHttpContent;
import io.netty.util.ReferenceCountUtil;
import java.nio.charset.StandardCharsets;
import java.util.function.BooleanSupplier;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

/**
 * The last handler of a client connection: parses each request into a {@link Route} and hands it to the
 * {@link Endpoints}. One request at a time per connection: reading stops when a request arrives and resumes when
 * its response is done, so pipelined requests cannot interleave their responses. Request bodies are discarded:
 * wharf is read-only, and write methods get 405 UNSUPPORTED.
 */
public final class RequestHandler extends ChannelInboundHandlerAdapter {
    private static final Logger LOG = LoggerFactory.getLogger(RequestHandler.class);

    private final Router router;
    private final Endpoints endpoints;
    private final BooleanSupplier ready;
    private final java.util.concurrent.atomic.AtomicInteger active;
    private final dev.wharf.server.metrics.WharfMetrics metrics;
    private final dev.wharf.server.admin.AdminApi admin;
    /** A response is being produced; touched on the event loop only. */
    private boolean inFlight;

    /** {@code active} counts requests whose responses are not finished yet (shared by all connections). */
    public RequestHandler(Router router, Endpoints endpoints, BooleanSupplier ready,
                          java.util.concurrent.atomic.AtomicInteger active, dev.wharf.server.metrics.WharfMetrics metrics,
                          dev.wharf.server.admin.AdminApi admin) {
        this.metrics = metrics;
        this.admin = admin;
        this.router = router;
        this.endpoints = endpoints;
        this.ready = ready;
        this.active = active;
    }

    @Override
    public void channelActive(ChannelHandlerContext ctx) {
        ctx.channel().config().setAutoRead(false);
        ctx.read();
        ctx.fireChannelActive();
    }

    @Override
    public void channelRead(ChannelHandlerContext ctx, Object msg) {
        if (msg instanceof HttpRequest req) {
            inFlight = true;
            try {
                handle(ctx, req);
            } finally {
                ReferenceCountUtil.release(msg);
            }
        } else if (msg instanceof HttpContent content) {
            boolean last = content instanceof LastHttpContent;
            content.release();
            if (!last || !inFlight) {
                ctx.read();
            }
        } else {
            ReferenceCountUtil.release(msg);
        }
    }

    private void handle(ChannelHandlerContext ctx, HttpRequest req) {
        active.incrementAndGet();
        long start = System.nanoTime();
        String[] labels = {"none", "other"};
        Exchange[] self = new Exchange[1];
        Exchange ex = new Exchange(ctx, req, () -> {
            active.decrementAndGet();
            metrics.request(labels[0], labels[1], req.method().name(), self[0].status(), System.nanoTime() - start);
            readNext(ctx);
        });
        self[0] = ex;
        DecoderResult dr = req.decoderResult();
        if (dr.isFailure()) {
            ex.error(RegistryException.badRequest(ErrorCode.UNSUPPORTED, "malformed HTTP request"));
            ctx.channel().close();
            return;
        }
        String uri = req.uri();
        String path = uri.indexOf('?') >= 0 ? uri.substring(0, uri.indexOf('?')) : uri;
        if (path.equals("/healthz")) {
            text(ex, HttpResponseStatus.OK, "ok\n");
            return;
        }
        if (path.equals("/api/v1") || path.startsWith("/api/v1/")) {
            labels[1] = "admin";
            try {
                admin.handle(ex);
            } catch (RegistryException e) {
                ex.error(e);
            } catch (RuntimeException e) {
                ex.fail(e);
            }
            return;
        }
        if (path.equals("/metrics")) {
            ex.bytes(HttpResponseStatus.OK, new DefaultHttpHeaders().set(HttpHeaderNames.CONTENT_TYPE,
                    "text/plain; version=0.0.4; charset=utf-8"), metrics.scrape().getBytes(StandardCharsets.UTF_8));
            return;
        }
        if (path.equals("/readyz")) {
            boolean ok = ready.getAsBoolean();
            text(ex, ok ? HttpResponseStatus.OK : HttpResponseStatus.SERVICE_UNAVAILABLE, ok ? "ready\n" : "not ready\n");
            return;
        }
        try {
            HttpMethod m = req.method();
            boolean read = m.equals(HttpMethod.GET) || m.equals(HttpMethod.HEAD);
            if (!read) {
                HttpHeaders allow = new DefaultHttpHeaders().set(HttpHeaderNames.ALLOW, "GET, HEAD");
                ex.error(new RegistryException(ErrorCode.UNSUPPORTED, HttpResponseStatus.METHOD_NOT_ALLOWED,
                        "wharf is a read-only pull-through cache: " + m + " is not supported", allow));
                return;
            }
            Route route = router.route(uri);
            labels[0] = route.project() == null ? "none" : route.project().name();
            labels[1] = route.kindLabel();
            switch (route.kind()) {
                case BASE -> ex.bytes(HttpResponseStatus.OK, jsonHeaders(), "{}".getBytes(StandardCharsets.UTF_8));
                case MANIFEST -> endpoints.manifest(ex, route);
                case BLOB -> endpoints.blob(ex, route);
                case TAGS -> endpoints.tags(ex, route);
                case REFERRERS -> endpoints.referrers(ex, route);
                case UPLOAD -> ex.error(new RegistryException(ErrorCode.UNSUPPORTED,
                        HttpResponseStatus.METHOD_NOT_ALLOWED, "wharf is a read-only pull-through cache"));
            }
        } catch (RegistryException e) {
            ex.error(e);
        } catch (RuntimeException e) {
            ex.fail(e);
        }
    }

    private void readNext(ChannelHandlerContext ctx) {
        if (!ctx.executor().inEventLoop()) {
            ctx.executor().execute(() -> readNext(ctx));
            return;
        }
        inFlight = false;
        if (ctx.channel().isActive()) {
            ctx.read();
        }
    }

    private static HttpHeaders jsonHeaders() {
        return new DefaultHttpHeaders().set(HttpHeaderNames.CONTENT_TYPE, "application/json");
    }

    private static void text(Exchange ex, HttpResponseStatus st, String body) {
        ex.bytes(st, new DefaultHttpHeaders().set(HttpHeaderNames.CONTENT_TYPE, "text/plain; charset=utf-8"),
                body.getBytes(StandardCharsets.UTF_8));
    }

    @Override
    public void exceptionCaught(ChannelHandlerContext ctx, Throwable cause) {
        LOG.debug("client connection {} failed: {}", ctx.channel().remoteAddress(), cause.toString());
        ctx.close();
    }
}

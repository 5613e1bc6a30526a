package dev.wharf.server.http;

import dev.wharf.server.accesslog.AccessEntry;
import dev.wharf.server.accesslog.AccessLog;
import dev.wharf.server.metrics.WharfMetrics;
import dev.wharf.server.api.ErrorCode;
import dev.wharf.server.api.RegistryException;
import io.netty.channel.Channel;
import io.netty.channel.ChannelHandlerContext;
import io.netty.channel.ChannelInboundHandlerAdapter;
import io.netty.handler.codec.DecoderResult;
import io.netty.handler.codec.http.DefaultFullHttpResponse;
import io.netty.handler.codec.http.DefaultHttpHeaders;
import io.netty.handler.codec.http.HttpContent;
import io.netty.handler.codec.http.HttpHeaderNames;
import io.netty.handler.codec.http.HttpHeaders;
import io.netty.handler.codec.http.HttpMethod;
import io.netty.handler.codec.http.HttpRequest;
import io.netty.handler.codec.http.HttpResponseStatus;
import io.netty.handler.codec.http.TooLongHttpHeaderException;
import io.netty.handler.codec.http.TooLongHttpLineException;
import io.netty.handler.codec.http.HttpUtil;
import io.netty.handler.codec.http.HttpVersion;
import io.netty.handler.codec.http.LastHttpContent;
import io.netty.handler.ssl.SslHandler;
import io.netty.util.ReferenceCountUtil;
import java.net.InetSocketAddress;
import java.net.SocketAddress;
import java.nio.charset.StandardCharsets;
import java.util.concurrent.atomic.AtomicInteger;
import java.util.function.Supplier;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;
import dev.wharf.server.api.CacheResult;

/**
 * The last handler of a client connection: parses each request into a {@link Route} and hands it to the
 * {@link Endpoints}. One request at a time per connection, answered in the order they came: the codec may decode
 * several pipelined requests from one read, so a request that arrives while another is in flight waits in
 * {@code queued} (with everything that follows it) and reading stops until the queue is empty again; one read that
 * brings more than {@link #MAX_QUEUED} messages closes the connection. Request bodies are discarded: wharf is
 * read-only, and write methods get 405 UNSUPPORTED; only the admin API (once {@link AdminEndpoint#refuse} found its
 * token right) and the admission webhook get their (bounded) bodies. The webhook answers only over TLS: this is where a plain-HTTP request to it is refused.
 *
 * <p>When a response ends, the request is counted in the metrics and written to the access log, here and only
 * here, from what the handlers recorded on the {@link Exchange}.
 */
public final class RequestHandler extends ChannelInboundHandlerAdapter {
    private static final Logger LOG = LoggerFactory.getLogger(RequestHandler.class);

    private final Router router;
    private final Endpoints endpoints;
    private final Supplier<String> notReady;
    private final AtomicInteger active;
    private final WharfMetrics metrics;
    private final AdminEndpoint admin;
    /** The admission webhook, or null when no rewrite rules are configured. */
    private final AdmissionEndpoint admission;
    private final AccessLog accessLog;
    private final Serves serves;
    private final RegistryAccess access;
    private final Supplier<String> degraded;
    /** Messages of one read beyond this close the connection (a pipelined request is two or more). */
    static final int MAX_QUEUED = 256;
    // Touched on the event loop only:
    /** Reading is driven by requests (auto-read is off). */
    private boolean reading;
    /** A response is being produced. */
    private boolean inFlight;
    /** The current request's body has ended (its LastHttpContent was dispatched). */
    private boolean bodyDone = true;
    /** Requests (and their contents) that arrived while another was in flight, in order; retained. */
    private final java.util.ArrayDeque<Object> queued = new java.util.ArrayDeque<>();
    /** The queue is being worked off (dispatch may finish a response synchronously and call back). */
    private boolean draining;
    /**
     * A request whose body is still arriving (admin API or admission webhook), the body so far (null when larger
     * than {@link #bodyLimit}), and who takes it; event loop only.
     */
    private Exchange bodyExchange;
    private java.io.ByteArrayOutputStream body;
    private int bodyLimit;
    private java.util.function.BiConsumer<Exchange, byte[]> bodyTaker;
    private HttpResponseStatus bodyTooLarge;

    /** Which endpoints one listen address serves. */
    public enum Serves {
        /** Everything on one address (no {@code admin.listen}): /v2, /metrics, /healthz, /readyz, /api/v1, /ui. */
        ALL,
        /** The registry address when {@code admin.listen} is set: /v2, /healthz and /readyz. */
        REGISTRY,
        /** The admin address: /metrics, /healthz, /readyz, /api/v1 and the web console under /ui. */
        ADMIN
    }

    /**
     * {@code notReady} gives null when ready, else why not (never blocks); {@code active} counts requests whose
     * responses are not finished yet (shared by all connections).
     */
    public RequestHandler(Router router, Endpoints endpoints, Supplier<String> notReady,
                          AtomicInteger active, WharfMetrics metrics,
                          AdminEndpoint admin, AdmissionEndpoint admission, AccessLog accessLog,
                          Serves serves) {
        this(router, endpoints, notReady, active, metrics, admin, admission, accessLog, serves, RegistryAccess.OPEN);
    }

    /** As above, with {@code access} deciding who may pull (client auth). */
    public RequestHandler(Router router, Endpoints endpoints, Supplier<String> notReady,
                          AtomicInteger active, WharfMetrics metrics,
                          AdminEndpoint admin, AdmissionEndpoint admission, AccessLog accessLog,
                          Serves serves, RegistryAccess access) {
        this(router, endpoints, notReady, () -> null, active, metrics, admin, admission, accessLog, serves, access);
    }

    /**
     * As above; {@code degraded} gives null, or what a ready /readyz adds about a degraded mode (a cluster replica
     * without Redis fills alone); never blocks.
     */
    public RequestHandler(Router router, Endpoints endpoints, Supplier<String> notReady, Supplier<String> degraded,
                          AtomicInteger active, WharfMetrics metrics,
                          AdminEndpoint admin, AdmissionEndpoint admission, AccessLog accessLog,
                          Serves serves, RegistryAccess access) {
        this.degraded = degraded;
        this.access = access;
        this.metrics = metrics;
        this.admin = admin;
        this.admission = admission;
        this.router = router;
        this.endpoints = endpoints;
        this.notReady = notReady;
        this.active = active;
        this.accessLog = accessLog;
        this.serves = serves;
    }

    @Override
    public void channelActive(ChannelHandlerContext ctx) {
        startReading(ctx);
        ctx.fireChannelActive();
    }

    /** Added after the connection became active (after the TLS handshake chose HTTP/1.1): start reading now. */
    @Override
    public void handlerAdded(ChannelHandlerContext ctx) {
        if (ctx.channel().isActive()) {
            startReading(ctx);
        }
    }

    /** Reading is by request from here on: one request, then its response, then the next read. */
    private void startReading(ChannelHandlerContext ctx) {
        if (!reading) {
            reading = true;
            ctx.channel().config().setAutoRead(false);
            ctx.read();
        }
    }

    @Override
    public void channelRead(ChannelHandlerContext ctx, Object msg) {
        // A content never waits behind nothing: only a request meeting one in flight starts the queue.
        if (!queued.isEmpty() || (inFlight && msg instanceof HttpRequest)) {
            if (queued.size() >= MAX_QUEUED) {
                ReferenceCountUtil.release(msg);
                LOG.debug("closing {}: more than {} pipelined messages in one read", ctx.channel().remoteAddress(),
                        MAX_QUEUED);
                ctx.close();
                return;
            }
            queued.add(msg);
            return;
        }
        dispatch(ctx, msg);
    }

    private void dispatch(ChannelHandlerContext ctx, Object msg) {
        if (msg instanceof HttpRequest req) {
            inFlight = true;
            bodyDone = msg instanceof LastHttpContent;
            try {
                handle(ctx, req);
                if (msg instanceof LastHttpContent whole && bodyExchange != null) {
                    // An HTTP/2 stream's request can arrive whole (headers that end the stream): its body is here.
                    bodyContent(ctx, whole.retain());
                }
            } finally {
                ReferenceCountUtil.release(msg);
            }
            return;
        }
        if (msg instanceof LastHttpContent) {
            bodyDone = true;
        }
        if (msg instanceof HttpContent content && bodyExchange != null) {
            bodyContent(ctx, content);
        } else {
            ReferenceCountUtil.release(msg);
        }
    }

    /** Works off the queue in order until a request is in flight; contents of that request go to it at once. */
    private void drain(ChannelHandlerContext ctx) {
        if (draining) {
            return;
        }
        draining = true;
        try {
            while (!queued.isEmpty() && (!inFlight || !(queued.peek() instanceof HttpRequest))) {
                dispatch(ctx, queued.poll());
            }
        } finally {
            draining = false;
        }
    }

    /** Reads on when nothing waits in the queue and either nothing is in flight or its body is still coming. */
    private void readIfWanted(ChannelHandlerContext ctx) {
        if (!draining && queued.isEmpty() && (!inFlight || !bodyDone) && ctx.channel().isActive()) {
            ctx.read();
        }
    }

    /**
     * The answer to a request the codec could not decode: 431 for a header section over the limit, 400 for a request
     * line over it, for both Content-Length and Transfer-Encoding (RFC 9112 6.3), and for anything else malformed.
     * The connection closes after it, since where the next request starts is unknown.
     */
    static RegistryException malformed(Throwable cause) {
        if (cause instanceof TooLongHttpHeaderException) {
            return new RegistryException(ErrorCode.UNSUPPORTED, HttpResponseStatus.REQUEST_HEADER_FIELDS_TOO_LARGE,
                    "request header fields too large (at most " + ClientPipeline.MAX_HEADER_SIZE + " bytes)");
        }
        if (cause instanceof TooLongHttpLineException) {
            return RegistryException.badRequest(ErrorCode.UNSUPPORTED,
                    "request line too long (at most " + ClientPipeline.MAX_INITIAL_LINE + " bytes)");
        }
        if (cause instanceof RequestCodec.AmbiguousLengthException) {
            return RegistryException.badRequest(ErrorCode.UNSUPPORTED,
                    "a request may not carry both Content-Length and Transfer-Encoding");
        }
        return RegistryException.badRequest(ErrorCode.UNSUPPORTED, "malformed HTTP request");
    }

    private void handle(ChannelHandlerContext ctx, HttpRequest req) {
        active.incrementAndGet();
        long start = System.nanoTime();
        long startMillis = System.currentTimeMillis();
        String[] labels = {"none", "other"};
        Exchange[] self = new Exchange[1];
        Route[] routed = new Route[1];
        Exchange ex = new Exchange(ctx, req, () -> {
            active.decrementAndGet();
            try {
                finished(ctx, self[0], labels[0], labels[1], startMillis, System.nanoTime() - start);
                if (routed[0] != null) {
                    access.finished(self[0], routed[0], remote(ctx.channel().remoteAddress()));
                }
            } finally {
                readNext(ctx);
            }
        });
        self[0] = ex;
        DecoderResult dr = req.decoderResult();
        if (dr.isFailure()) {
            ex.closeAfterResponse();
            ex.error(malformed(dr.cause()));
            return;
        }
        String uri = req.uri();
        String path = uri.indexOf('?') >= 0 ? uri.substring(0, uri.indexOf('?')) : uri;
        if (path.equals("/healthz")) {
            text(ex, HttpResponseStatus.OK, "ok\n");
            return;
        }
        if (path.equals("/readyz")) {
            String problem = notReady.get();
            String detail = problem == null ? degraded.get() : null;
            text(ex, problem == null ? HttpResponseStatus.OK : HttpResponseStatus.SERVICE_UNAVAILABLE,
                    problem != null ? "not ready: " + problem + "\n"
                            : detail == null ? "ready\n" : "ready (degraded: " + detail + ")\n");
            return;
        }
        boolean consolePath = path.equals("/ui") || path.startsWith("/ui/"); // the web console, beside /api/v1
        boolean adminPath = path.equals("/metrics") || path.equals("/api/v1") || path.startsWith("/api/v1/")
                || consolePath;
        if (adminPath && serves == Serves.REGISTRY) {
            text(ex, HttpResponseStatus.NOT_FOUND, path + " is served on the admin address (admin.listen)\n");
            return;
        }
        if (!adminPath && serves == Serves.ADMIN) {
            text(ex, HttpResponseStatus.NOT_FOUND,
                    "not found: the admin address serves /metrics, /healthz, /readyz, /api/v1 and /ui\n");
            return;
        }
        if (path.equals("/api/v1") || path.startsWith("/api/v1/") || consolePath) {
            labels[1] = "admin";
            RegistryException refused = admin.refuse(ex);
            if (refused != null) {
                ex.closeAfterResponse(); // the body, if any, is never read
                ex.error(refused);
                return;
            }
            // The admin API reads request bodies (POST /api/v1/prefetch): collect it, then hand over (bodyContent).
            collectBody(ctx, req, ex, AdminEndpoint.MAX_BODY, HttpResponseStatus.REQUEST_ENTITY_TOO_LARGE,
                    admin::handle);
            return;
        }
        if (path.equals(AdmissionEndpoint.PATH)) {
            labels[1] = "admission";
            admission(ctx, req, ex);
            return;
        }
        if (path.equals("/metrics")) {
            ex.bytes(HttpResponseStatus.OK, new DefaultHttpHeaders().set(HttpHeaderNames.CONTENT_TYPE,
                    "text/plain; version=0.0.4; charset=utf-8"), metrics.scrape().getBytes(StandardCharsets.UTF_8));
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
            routed[0] = route;
            if (route instanceof Route.Token token) {
                access.token(ex, token);
                return;
            }
            access.authorize(ex, route, () -> {
                try {
                    dispatchRoute(ex, route);
                } catch (RegistryException e) {
                    ex.error(e);
                } catch (RuntimeException e) {
                    ex.fail(e);
                }
            });
        } catch (RegistryException e) {
            ex.error(e);
        } catch (RuntimeException e) {
            ex.fail(e);
        }
    }

    /** Hands an authorised /v2 request to its endpoint. */
    private void dispatchRoute(Exchange ex, Route route) {
        {
            if (route instanceof Route.Base) {
                ex.bytes(HttpResponseStatus.OK, jsonHeaders(), "{}".getBytes(StandardCharsets.UTF_8));
            } else if (route instanceof Route.Manifest manifest) {
                endpoints.manifest(ex, manifest);
            } else if (route instanceof Route.Blob blob) {
                endpoints.blob(ex, blob);
            } else if (route instanceof Route.Tags tags) {
                endpoints.tags(ex, tags);
            } else if (route instanceof Route.Referrers referrers) {
                endpoints.referrers(ex, referrers);
            } else {
                ex.error(new RegistryException(ErrorCode.UNSUPPORTED,
                        HttpResponseStatus.METHOD_NOT_ALLOWED, "wharf is a read-only pull-through cache"));
            }
        }
    }

    /** Counts a finished request and writes its access-log line. Runs once per request, on any thread. */
    private void finished(ChannelHandlerContext ctx, Exchange ex, String project, String kind, long startMillis,
                          long nanos) {
        int status = ex.status();
        String method = ex.request().method().name();
        metrics.request(project, kind, method, status, nanos);
        CacheResult cache = ex.cacheResult();
        if (cache != null && status >= 200 && status < 300) {
            metrics.served(project, kind, cache.label(), ex.bytesSent());
        }
        if (ex.fillJoined()) {
            metrics.fillJoin();
        }
        String uri = ex.request().uri();
        int q = uri.indexOf('?');
        accessLog.log(new AccessEntry(startMillis, remote(ctx.channel().remoteAddress()),
                method, q >= 0 ? uri.substring(0, q) : uri, status, ex.bytesSent(), nanos, project, kind,
                cache == null ? null : cache.label(), ex.fill() == null ? null : ex.fill().toString(),
                ex.fillJoined(), ex.request().headers().get(HttpHeaderNames.USER_AGENT)));
    }

    private static String remote(SocketAddress address) {
        if (address instanceof InetSocketAddress inet) {
            return inet.getAddress() == null ? inet.getHostString() : inet.getAddress().getHostAddress();
        }
        return address == null ? null : address.toString();
    }

    /**
     * {@code /admission/rewrite}: refused unless rewrite rules are configured (404), the connection is TLS (403;
     * the API server calls webhooks over HTTPS only, and a Pod spec is not for plain text) and the method is POST
     * (405); then its body is collected and handed to the webhook.
     */
    private void admission(ChannelHandlerContext ctx, HttpRequest req, Exchange ex) {
        if (admission == null) {
            text(ex, HttpResponseStatus.NOT_FOUND, "not found: the admission webhook needs rewrite.rules in the "
                    + "config\n");
            return;
        }
        if (!overTls(ctx)) {
            text(ex, HttpResponseStatus.FORBIDDEN, "the admission webhook is served only over TLS: set tls.cert and "
                    + "tls.key, and call https://<wharf>" + AdmissionEndpoint.PATH + "\n");
            return;
        }
        if (!req.method().equals(HttpMethod.POST)) {
            HttpHeaders allow = new DefaultHttpHeaders().set(HttpHeaderNames.ALLOW, "POST");
            ex.error(new RegistryException(ErrorCode.UNSUPPORTED, HttpResponseStatus.METHOD_NOT_ALLOWED,
                    AdmissionEndpoint.PATH + " takes POST of an AdmissionReview, not " + req.method(), allow));
            return;
        }
        collectBody(ctx, req, ex, AdmissionEndpoint.MAX_BODY, HttpResponseStatus.BAD_REQUEST, admission::handle);
    }

    /** True if this request came over TLS: an SslHandler on this channel, or on an HTTP/2 stream's connection. */
    private static boolean overTls(ChannelHandlerContext ctx) {
        if (ctx.pipeline().get(SslHandler.class) != null) {
            return true;
        }
        Channel parent = ctx.channel().parent();
        return parent != null && parent.pipeline().get(SslHandler.class) != null;
    }

    /** Collects the body of {@code req} (bodyContent), at most {@code limit} bytes, then hands it to {@code taker}. */
    private void collectBody(ChannelHandlerContext ctx, HttpRequest req, Exchange ex, int limit,
                             HttpResponseStatus tooLarge, java.util.function.BiConsumer<Exchange, byte[]> taker) {
        bodyExchange = ex;
        body = new java.io.ByteArrayOutputStream();
        bodyLimit = limit;
        bodyTooLarge = tooLarge;
        bodyTaker = taker;
        if (bodyDone) {
            bodyContent(ctx, LastHttpContent.EMPTY_LAST_CONTENT); // a request that came whole (no body follows)
            return;
        }
        if (HttpUtil.is100ContinueExpected(req)) {
            ctx.writeAndFlush(new DefaultFullHttpResponse(
                    HttpVersion.HTTP_1_1, HttpResponseStatus.CONTINUE));
        }
    }

    /** One part of a collected request body (at most bodyLimit bytes), handed over after the last. */
    private void bodyContent(ChannelHandlerContext ctx, HttpContent content) {
        try {
            if (body != null) {
                int n = content.content().readableBytes();
                if (body.size() + n > bodyLimit) {
                    body = null;
                } else {
                    content.content().readBytes(body, n);
                }
            }
        } catch (java.io.IOException e) {
            body = null; // cannot happen with a ByteArrayOutputStream
        } finally {
            content.release();
        }
        if (!(content instanceof LastHttpContent)) {
            return; // more to come: channelReadComplete reads on
        }
        Exchange ex = bodyExchange;
        byte[] bytes = body == null ? null : body.toByteArray();
        java.util.function.BiConsumer<Exchange, byte[]> taker = bodyTaker;
        bodyExchange = null;
        body = null;
        bodyTaker = null;
        if (bytes == null) {
            ex.error(new RegistryException(ErrorCode.UNSUPPORTED, bodyTooLarge,
                    "request body larger than " + bodyLimit + " bytes"));
            return;
        }
        try {
            taker.accept(ex, bytes);
        } catch (RegistryException e) {
            ex.error(e);
        } catch (RuntimeException e) {
            ex.fail(e);
        }
    }

    @Override
    public void channelReadComplete(ChannelHandlerContext ctx) {
        readIfWanted(ctx);
        ctx.fireChannelReadComplete();
    }

    @Override
    public void channelInactive(ChannelHandlerContext ctx) {
        if (bodyExchange != null) {
            Exchange ex = bodyExchange;
            bodyExchange = null;
            body = null;
            bodyTaker = null;
            ex.abort(); // the client left before its body ended: finish the request's bookkeeping
        }
        while (!queued.isEmpty()) {
            ReferenceCountUtil.release(queued.poll());
        }
        ctx.fireChannelInactive();
    }

    private void readNext(ChannelHandlerContext ctx) {
        if (!ctx.executor().inEventLoop()) {
            ctx.executor().execute(() -> readNext(ctx));
            return;
        }
        inFlight = false;
        drain(ctx);
        readIfWanted(ctx);
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

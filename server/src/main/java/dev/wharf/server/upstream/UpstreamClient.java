package dev.wharf.server.upstream;

import com.github.benmanes.caffeine.cache.Cache;
import com.github.benmanes.caffeine.cache.Caffeine;
import dev.wharf.auth.BearerTokens;
import dev.wharf.auth.Challenge;
import dev.wharf.server.egress.EgressProxy;
import io.netty.bootstrap.Bootstrap;
import io.netty.buffer.ByteBuf;
import io.netty.channel.Channel;
import io.netty.channel.ChannelHandlerContext;
import io.netty.channel.ChannelInboundHandlerAdapter;
import io.netty.channel.AdaptiveRecvByteBufAllocator;
import io.netty.channel.ChannelOption;
import io.netty.channel.ChannelPipeline;
import io.netty.channel.EventLoopGroup;
import io.netty.channel.group.ChannelGroup;
import io.netty.channel.group.DefaultChannelGroup;
import io.netty.channel.pool.AbstractChannelPoolMap;
import io.netty.channel.pool.ChannelHealthChecker;
import io.netty.channel.pool.ChannelPoolHandler;
import io.netty.channel.pool.FixedChannelPool;
import io.netty.channel.socket.nio.NioSocketChannel;
import io.netty.handler.codec.http.HttpClientCodec;
import io.netty.handler.codec.http.HttpDecoderConfig;
import io.netty.handler.codec.http.HttpHeaderNames;
import io.netty.handler.codec.http.HttpHeaders;
import io.netty.handler.codec.http.HttpMethod;
import io.netty.handler.proxy.HttpProxyHandler;
import io.netty.handler.ssl.SslContext;
import io.netty.handler.ssl.SslHandler;
import io.netty.resolver.NoopAddressResolverGroup;
import io.netty.util.ReferenceCountUtil;
import io.netty.util.concurrent.GlobalEventExecutor;
import java.io.IOException;
import java.net.InetSocketAddress;
import java.net.URI;
import java.time.Duration;
import java.util.Arrays;
import java.util.Locale;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.atomic.AtomicLong;
import javax.net.ssl.SSLException;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

/**
 * Netty HTTP/1.1 client for upstream registries: pooled keep-alive connections per (scheme, host, port), TLS,
 * the Bearer (and Basic) challenge flow, redirects followed by hand, connect and idle-read timeouts.
 *
 * <p>Flow of one exchange: send the request (with a cached token for its scope if one is known); on 401 with a
 * {@code WWW-Authenticate} challenge, get a token from {@link BearerTokens} for the challenge's realm, service and
 * scope (the challenge's scope, else {@code repository:<name>:pull}) and retry once; on 301/302/303/307/308 follow
 * {@code Location} (relative or absolute) up to 5 hops, dropping {@code Authorization} whenever the host changes;
 * hand the final response to the listener. Bodies of intermediate responses are drained and the connections
 * reused.
 *
 * <p>Never forwards a client's credentials: only headers in {@link UpstreamRequest#headers()} plus Host, User-Agent
 * and an Authorization this client made itself are sent.
 *
 * <p>Concurrency: the pools (Netty's, thread-safe), the remembered challenges (a Caffeine cache) and the counters
 * are the only state shared between exchanges. One exchange's own state is touched by one thread at a time: every
 * step is started by the completion of the step before it (a pool acquire, a channel event, a token future), and
 * those hand-offs order the accesses. See {@link UpstreamExchange}.
 */
public final class UpstreamClient implements AutoCloseable {

    private static final Logger log = LoggerFactory.getLogger(UpstreamClient.class);

    static final String USER_AGENT = "wharf/0.1";
    /** Connections per (scheme, host, port); further acquires queue. Blob streams hold theirs for long. */
    static final int MAX_CONNECTIONS_PER_ORIGIN = 128;
    /** How long an exchange may wait for a free pooled connection before failing. */
    static final long ACQUIRE_TIMEOUT_MILLIS = 60_000;
    private static final int MAX_REMEMBERED_CHALLENGES = 10_000;

    private final EventLoopGroup group;
    private final BearerTokens tokens;
    private final long connectTimeoutMillis;
    private final long readIdleTimeoutNanos;
    private final EgressProxy proxy;
    private final PoolMap pools = new PoolMap();
    private final ChannelGroup channels = new DefaultChannelGroup("wharf-upstream", GlobalEventExecutor.INSTANCE);
    /** Last challenge seen per (upstream endpoint, repository), so later requests can send a token up front. */
    private final Cache<AuthKey, Challenge> challenges =
            Caffeine.newBuilder().maximumSize(MAX_REMEMBERED_CHALLENGES).build();
    private final AtomicLong connectionsOpened = new AtomicLong();
    private volatile SslContext defaultSslContext;
    private volatile boolean closed;
    /** Sees every exchange (metrics, rate limits); see {@link #observe}. */
    private volatile UpstreamObserver observer = UpstreamObserver.NONE;

    public UpstreamClient(EventLoopGroup group, BearerTokens tokens, Duration connectTimeout, Duration readIdleTimeout) {
        this(group, tokens, connectTimeout, readIdleTimeout, null);
    }

    /** As above, with an outbound CONNECT proxy for every upstream host not in its no-proxy list; proxy may be null. */
    public UpstreamClient(EventLoopGroup group, BearerTokens tokens, Duration connectTimeout, Duration readIdleTimeout,
            EgressProxy proxy) {
        if (group == null || tokens == null || connectTimeout == null || readIdleTimeout == null) {
            throw new NullPointerException("group, tokens and timeouts are required");
        }
        if (connectTimeout.isNegative() || connectTimeout.isZero() || readIdleTimeout.isNegative()
                || readIdleTimeout.isZero()) {
            throw new IllegalArgumentException("timeouts must be positive");
        }
        this.group = group;
        this.tokens = tokens;
        this.connectTimeoutMillis = Math.max(1, Math.min(Integer.MAX_VALUE, connectTimeout.toMillis()));
        this.readIdleTimeoutNanos = readIdleTimeout.toNanos();
        this.proxy = proxy;
    }

    /** Streams one exchange to {@code listener}. */
    public void exchange(UpstreamEndpoint endpoint, UpstreamRequest request, ResponseListener listener) {
        if (endpoint == null || request == null || listener == null) {
            throw new NullPointerException("endpoint, request and listener are required");
        }
        UpstreamExchange ex = new UpstreamExchange(this, endpoint, request,
                observer.observe(endpoint, request, listener), group.next());
        if (closed) {
            ex.fail("client closed", null);
            return;
        }
        ex.start();
    }

    /**
     * Runs one exchange and reads the whole body (at most {@code maxBody} bytes, else fails with
     * {@link UpstreamException}). For manifests, tag lists, referrers and HEADs.
     *
     * <p>The future completes on an event loop: chain blocking work with an {@code *Async} method.
     */
    public CompletableFuture<UpstreamResponse> fetch(UpstreamEndpoint endpoint, UpstreamRequest request, int maxBody) {
        CompletableFuture<UpstreamResponse> result = new CompletableFuture<>();
        exchange(endpoint, request, new Aggregator(endpoint, request, maxBody, result));
        return result;
    }

    /**
     * Lets {@code observer} see (and wrap the listener of) every exchange from now on, in addition to the observers
     * added before: the last one added sees each callback first. Call at start-up, before the first exchange.
     */
    public synchronized void observe(UpstreamObserver added) {
        UpstreamObserver before = this.observer;
        this.observer = before == UpstreamObserver.NONE ? added
                : (endpoint, request, listener) -> added.observe(endpoint, request,
                        before.observe(endpoint, request, listener));
    }

    /** Connections opened since start (a reused connection is not counted again). */
    public long connectionsOpened() {
        return connectionsOpened.get();
    }

    @Override
    public void close() {
        closed = true;
        pools.close();
        channels.close();
    }

    // ---- package-private plumbing used by UpstreamExchange ----

    BearerTokens tokens() {
        return tokens;
    }

    long readIdleTimeoutNanos() {
        return readIdleTimeoutNanos;
    }

    boolean isClosed() {
        return closed;
    }

    Challenge knownChallenge(UpstreamEndpoint endpoint, String repository) {
        return challenges.getIfPresent(AuthKey.of(endpoint, repository));
    }

    void rememberChallenge(UpstreamEndpoint endpoint, String repository, Challenge challenge) {
        challenges.put(AuthKey.of(endpoint, repository), challenge);
    }

    /** The pool for {@code uri}'s origin; TLS from the endpoint (or the JDK default) when it is https. */
    FixedChannelPool pool(URI uri, UpstreamEndpoint endpoint) throws SSLException {
        String scheme = uri.getScheme().toLowerCase(Locale.ROOT);
        SslContext ssl = null;
        if (scheme.equals("https")) {
            ssl = endpoint.sslContext() != null ? endpoint.sslContext() : defaultSslContext();
        }
        return pools.get(new PoolKey(scheme, hostOf(uri), portOf(uri), ssl));
    }

    private SslContext defaultSslContext() throws SSLException {
        SslContext c = defaultSslContext;
        if (c == null) {
            synchronized (this) {
                c = defaultSslContext;
                if (c == null) {
                    try {
                        c = UpstreamTls.clientSslContext(null);
                    } catch (SSLException e) {
                        throw e;
                    } catch (IOException e) {
                        throw new SSLException(e.getMessage(), e);
                    }
                    defaultSslContext = c;
                }
            }
        }
        return c;
    }

    /** The first URL of an exchange: the endpoint's origin, its path joined with the request path, the query. */
    static URI firstUri(UpstreamEndpoint endpoint, UpstreamRequest request) {
        URI base = endpoint.base();
        if (base == null || base.getScheme() == null || base.getHost() == null) {
            throw new IllegalArgumentException("upstream URL needs a scheme and a host: " + base);
        }
        String scheme = base.getScheme().toLowerCase(Locale.ROOT);
        if (!scheme.equals("http") && !scheme.equals("https")) {
            throw new IllegalArgumentException("upstream URL scheme must be http or https: " + base);
        }
        StringBuilder s = new StringBuilder(scheme).append("://").append(base.getHost());
        if (base.getPort() != -1) {
            s.append(':').append(base.getPort());
        }
        s.append(upstreamPath(base.getRawPath(), request.path()));
        if (request.query() != null && !request.query().isEmpty()) {
            s.append('?').append(request.query());
        }
        return URI.create(s.toString());
    }

    /**
     * Joins an endpoint path and a request path: {@code /v2/dockerhub} + {@code /v2/library/nginx/manifests/x} is
     * {@code /v2/dockerhub/library/nginx/manifests/x}; a base not starting with {@code /v2} is a plain prefix; an
     * empty or {@code /} base changes nothing.
     */
    static String upstreamPath(String basePath, String requestPath) {
        String path = requestPath == null || requestPath.isEmpty() ? "/v2/" : requestPath;
        if (basePath == null) {
            return path;
        }
        String b = basePath;
        while (b.endsWith("/")) {
            b = b.substring(0, b.length() - 1);
        }
        if (b.isEmpty()) {
            return path;
        }
        boolean baseIsV2 = b.equals("/v2") || b.startsWith("/v2/");
        if (baseIsV2 && (path.equals("/v2") || path.startsWith("/v2/"))) {
            return b + path.substring(3);
        }
        return b + (path.startsWith("/") ? path : "/" + path);
    }

    /** {@code scheme://host:port}, lower-case, with the default port made explicit. */
    static String origin(URI uri) {
        return uri.getScheme().toLowerCase(Locale.ROOT) + "://" + hostOf(uri) + ":" + portOf(uri);
    }

    static String hostOf(URI uri) {
        String h = uri.getHost().toLowerCase(Locale.ROOT);
        if (h.startsWith("[") && h.endsWith("]")) {
            h = h.substring(1, h.length() - 1);
        }
        return h;
    }

    static int portOf(URI uri) {
        if (uri.getPort() != -1) {
            return uri.getPort();
        }
        return "https".equalsIgnoreCase(uri.getScheme()) ? 443 : 80;
    }

    /** The URL as it may appear in messages and logs: no user info, no query (signed redirect URLs carry keys). */
    static String redact(URI uri) {
        StringBuilder s = new StringBuilder(uri.getScheme()).append("://").append(uri.getHost());
        if (uri.getPort() != -1) {
            s.append(':').append(uri.getPort());
        }
        if (uri.getRawPath() != null) {
            s.append(uri.getRawPath());
        }
        return s.toString();
    }

    static String describe(UpstreamEndpoint endpoint) {
        URI b = endpoint.base();
        return "upstream " + (b == null ? "?" : redact(b)) + " of project " + endpoint.project();
    }

    // ---- pools ----

    /** Pool key; the TLS context is part of it because two projects may trust different CAs for one host. */
    private record PoolKey(String scheme, String host, int port, SslContext ssl) {
        @Override
        public boolean equals(Object o) {
            return o instanceof PoolKey k && k.scheme.equals(scheme) && k.host.equals(host) && k.port == port
                    && k.ssl == ssl;
        }

        @Override
        public int hashCode() {
            return Arrays.hashCode(new Object[] {scheme, host, port, System.identityHashCode(ssl)});
        }
    }

    private final class PoolMap extends AbstractChannelPoolMap<PoolKey, FixedChannelPool> {
        @Override
        protected FixedChannelPool newPool(PoolKey key) {
            if (closed) {
                throw new IllegalStateException("client closed");
            }
            boolean proxied = proxy != null && proxy.appliesTo(key.host);
            Bootstrap b = new Bootstrap()
                    .group(group)
                    .channel(NioSocketChannel.class)
                    .option(ChannelOption.CONNECT_TIMEOUT_MILLIS, (int) connectTimeoutMillis)
                    .option(ChannelOption.TCP_NODELAY, true)
                    .option(ChannelOption.SO_KEEPALIVE, true)
                    // Blob bodies are large: read them in chunks of up to 1 MiB instead of Netty's default 64 KiB, so
                    // a fill handles (appends, wake-ups, socket writes to its clients) far fewer, larger pieces.
                    .option(ChannelOption.RCVBUF_ALLOCATOR, new AdaptiveRecvByteBufAllocator(4096, 65536, 1 << 20))
                    .remoteAddress(InetSocketAddress.createUnresolved(key.host, key.port));
            if (proxied) {
                // The proxy resolves the target; local DNS may not know it (split-horizon networks).
                b.resolver(NoopAddressResolverGroup.INSTANCE);
            }
            return new FixedChannelPool(b, new PoolHandler(key, proxied), ChannelHealthChecker.ACTIVE,
                    FixedChannelPool.AcquireTimeoutAction.FAIL, ACQUIRE_TIMEOUT_MILLIS, MAX_CONNECTIONS_PER_ORIGIN,
                    Integer.MAX_VALUE, true, true);
        }
    }

    /** Builds each new connection's pipeline: [proxy] [tls] http codec, idle guard. */
    private final class PoolHandler implements ChannelPoolHandler {
        private final PoolKey key;
        private final boolean proxied;

        PoolHandler(PoolKey key, boolean proxied) {
            this.key = key;
            this.proxied = proxied;
        }

        @Override
        public void channelCreated(Channel ch) {
            connectionsOpened.incrementAndGet();
            channels.add(ch);
            ChannelPipeline p = ch.pipeline();
            if (proxied) {
                HttpProxyHandler h = new HttpProxyHandler(new InetSocketAddress(proxy.host(), proxy.port()));
                h.setConnectTimeoutMillis(connectTimeoutMillis);
                p.addLast("proxy", h);
            }
            if (key.ssl != null) {
                SslHandler tls = UpstreamTls.newHandler(key.ssl, ch.alloc(), key.host, key.port);
                p.addLast("tls", tls);
                ch.attr(UpstreamExchange.TLS).set(tls);
            }
            HttpDecoderConfig decoder = new HttpDecoderConfig()
                    .setMaxInitialLineLength(8192)
                    .setMaxHeaderSize(65536)
                    .setMaxChunkSize(1 << 20);
            // The codec remembers each request's method, so a HEAD response's Content-Length is not waited for.
            p.addLast("http", new HttpClientCodec(decoder, false, false));
            p.addLast(IdleGuard.NAME, IdleGuard.INSTANCE);
            log.debug("new upstream connection to {}://{}:{}{}", key.scheme, key.host, key.port,
                    proxied ? " via proxy" : "");
        }

        @Override
        public void channelAcquired(Channel ch) {
        }

        @Override
        public void channelReleased(Channel ch) {
        }
    }

    /**
     * Last in every pipeline. Between exchanges no handler owns the connection: anything read then is unexpected
     * (the framing can no longer be trusted) and closes it; exceptions close it quietly instead of reaching the
     * pipeline's tail as warnings.
     */
    @io.netty.channel.ChannelHandler.Sharable
    static final class IdleGuard extends ChannelInboundHandlerAdapter {
        static final String NAME = "idle-guard";
        static final IdleGuard INSTANCE = new IdleGuard();

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

    /**
     * Where a challenge was seen: the endpoint (origin and path, since one Harbor host serves several proxy
     * projects whose scopes differ) and the repository.
     */
    private record AuthKey(String endpoint, String repository) {
        static AuthKey of(UpstreamEndpoint endpoint, String repository) {
            String path = endpoint.base().getRawPath() == null ? "" : endpoint.base().getRawPath();
            return new AuthKey(origin(endpoint.base()) + path, repository);
        }
    }

    /** Collects a whole body for {@link #fetch}; every chunk is copied and released at once. */
    private static final class Aggregator implements ResponseListener {
        private final UpstreamEndpoint endpoint;
        private final UpstreamRequest request;
        private final int maxBody;
        private final CompletableFuture<UpstreamResponse> result;
        private int status;
        private HttpHeaders headers;
        private Transfer transfer;
        private byte[] body = new byte[0];
        private int size;

        Aggregator(UpstreamEndpoint endpoint, UpstreamRequest request, int maxBody,
                CompletableFuture<UpstreamResponse> result) {
            this.endpoint = endpoint;
            this.request = request;
            this.maxBody = Math.max(0, maxBody);
            this.result = result;
        }

        @Override
        public void onHeaders(int status, HttpHeaders headers, Transfer transfer) {
            this.status = status;
            this.headers = headers;
            this.transfer = transfer;
            long length = isHead(request) ? -1 : contentLength(headers);
            if (length > maxBody) {
                tooLarge();
            } else if (length > 0) {
                body = new byte[(int) length];
            }
        }

        @Override
        public void onContent(ByteBuf chunk) {
            try {
                if (result.isDone()) {
                    return;
                }
                int n = chunk.readableBytes();
                if ((long) size + n > maxBody) {
                    tooLarge();
                    return;
                }
                if (size + n > body.length) {
                    body = Arrays.copyOf(body, Math.min(maxBody, Math.max(size + n, body.length * 2)));
                }
                chunk.readBytes(body, size, n);
                size += n;
            } finally {
                chunk.release();
            }
        }

        @Override
        public void onComplete() {
            result.complete(new UpstreamResponse(status, headers,
                    size == body.length ? body : Arrays.copyOf(body, size)));
        }

        @Override
        public void onError(Throwable cause) {
            result.completeExceptionally(cause);
        }

        private void tooLarge() {
            transfer.abort();
            String path = request.path();
            result.completeExceptionally(new UpstreamException(describe(endpoint) + ": response body of "
                    + request.method() + " " + path + " is larger than " + maxBody + " bytes"));
        }
    }

    static boolean isHead(UpstreamRequest request) {
        return HttpMethod.HEAD.equals(request.method());
    }

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

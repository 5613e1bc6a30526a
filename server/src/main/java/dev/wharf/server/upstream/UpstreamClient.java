package dev.wharf.server.upstream;

import dev.wharf.auth.upstream.BearerTokens;
import dev.wharf.server.config.UpstreamLimits;
import dev.wharf.server.egress.EgressProxy;
import io.netty.channel.EventLoopGroup;
import io.netty.util.concurrent.DefaultThreadFactory;
import java.time.Duration;
import java.util.concurrent.ArrayBlockingQueue;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.ThreadPoolExecutor;
import java.util.concurrent.TimeUnit;

/**
 * Netty HTTP/1.1 client for upstream registries: pooled keep-alive connections per origin ({@link ConnectionPools}),
 * TLS ({@link UpstreamTls}), the Bearer and Basic challenge flow ({@link UpstreamAuth}), redirects followed by hand
 * and dead keep-alive connections retried ({@link UpstreamExchange}), connect and idle-read timeouts. Each call runs
 * one {@link UpstreamExchange}; its final response goes to a {@link ResponseListener}, streamed, or whole through
 * {@link #fetch}. Never forwards a client's credentials ({@link RequestBuilder}).
 *
 * <p>Shared between exchanges, and thread-safe: the pools, the remembered challenges ({@link KnownChallenges}) and
 * the observer chain. Everything else belongs to one exchange. See docs/architecture.md, "Upstream client".
 */
public final class UpstreamClient implements AutoCloseable {

    private final EventLoopGroup group;
    private final BearerTokens tokens;
    private final long readIdleTimeoutNanos;
    private final ConnectionPools pools;
    private final KnownChallenges challenges = new KnownChallenges();
    private final UpstreamLimits limits;
    /** Looks up redirect targets (blocking DNS) off the event loops; bounded, and a full queue fails the redirect. */
    private final ThreadPoolExecutor resolving = new ThreadPoolExecutor(0, 4, 30, TimeUnit.SECONDS,
            new ArrayBlockingQueue<>(256), new DefaultThreadFactory("wharf-resolve", true));
    private volatile RedirectGuard redirects;
    /** Sees every exchange (metrics, rate limits); see {@link #observe}. */
    private volatile UpstreamObserver observer = UpstreamObserver.NONE;

    public UpstreamClient(EventLoopGroup group, BearerTokens tokens, Duration connectTimeout, Duration readIdleTimeout) {
        this(group, tokens, connectTimeout, readIdleTimeout, null);
    }

    /** As above, with an outbound CONNECT proxy for every upstream host not in its no-proxy list; proxy may be null. */
    public UpstreamClient(EventLoopGroup group, BearerTokens tokens, Duration connectTimeout, Duration readIdleTimeout,
            EgressProxy proxy) {
        this(group, tokens, connectTimeout, readIdleTimeout, proxy, UpstreamLimits.DEFAULTS);
    }

    /** As above, with what wharf tolerates from upstreams ({@code limits:}). */
    public UpstreamClient(EventLoopGroup group, BearerTokens tokens, Duration connectTimeout, Duration readIdleTimeout,
            EgressProxy proxy, UpstreamLimits limits) {
        if (group == null || tokens == null || connectTimeout == null || readIdleTimeout == null) {
            throw new NullPointerException("group, tokens and timeouts are required");
        }
        if (connectTimeout.isNegative() || connectTimeout.isZero() || readIdleTimeout.isNegative()
                || readIdleTimeout.isZero()) {
            throw new IllegalArgumentException("timeouts must be positive");
        }
        this.group = group;
        this.tokens = tokens;
        this.readIdleTimeoutNanos = readIdleTimeout.toNanos();
        this.limits = limits == null ? UpstreamLimits.DEFAULTS : limits;
        this.pools = new ConnectionPools(group, Math.max(1, Math.min(Integer.MAX_VALUE, connectTimeout.toMillis())),
                proxy, this.limits.upstreamIdle().toNanos(), this.limits.upstreamConnections(),
                this.limits.upstreamAcquireTimeout().toMillis(), resolving);
        this.redirects = new RedirectGuard(RedirectGuard.Resolver.blocking(resolving),
                host -> proxy != null && proxy.appliesTo(host));
    }

    /** Streams one exchange to {@code listener}. */
    /**
     * Streams one exchange to {@code listener}. A body that arrives slower than {@code limits.minUpstreamRate}
     * (measured over {@code limits.minUpstreamRateWindow}, not counting time the listener paused it) fails it.
     */
    public void exchange(UpstreamEndpoint endpoint, UpstreamRequest request, ResponseListener listener) {
        exchange(endpoint, request, listener, false);
    }

    /** {@code whole}: a {@link #fetch}, under the overall deadline rather than the minimum rate. */
    private void exchange(UpstreamEndpoint endpoint, UpstreamRequest request, ResponseListener listener,
            boolean whole) {
        if (endpoint == null || request == null || listener == null) {
            throw new NullPointerException("endpoint, request and listener are required");
        }
        UpstreamExchange ex = new UpstreamExchange(this, endpoint, request,
                observer.observe(endpoint, request, listener), group.next(), whole);
        if (isClosed()) {
            ex.fail(UpstreamFailures.CLIENT_CLOSED, null);
            return;
        }
        ex.start();
    }

    /**
     * Runs one exchange and reads the whole body (at most {@code maxBody} bytes, else fails with
     * {@link UpstreamException}), within {@code limits.manifestDeadline} in all. For manifests, tag lists,
     * referrers and HEADs. An error answer's body is cut at {@link BodyAggregator#MAX_ERROR_BODY}.
     *
     * <p>The future completes on an event loop: chain blocking work with an {@code *Async} method.
     */
    public CompletableFuture<UpstreamResponse> fetch(UpstreamEndpoint endpoint, UpstreamRequest request, int maxBody) {
        CompletableFuture<UpstreamResponse> result = new CompletableFuture<>();
        exchange(endpoint, request, new BodyAggregator(endpoint, request, maxBody, result), true);
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
        return pools.connectionsOpened();
    }

    /** Connections open now, in use or idle in a pool. */
    public int connectionsOpen() {
        return pools.connectionsOpen();
    }

    /** Pools (one per origin and TLS context) that exist now; a pool with no connection left is dropped. */
    public int poolCount() {
        return pools.poolCount();
    }

    /** What this client tolerates from upstreams. */
    public UpstreamLimits limits() {
        return limits;
    }

    @Override
    public void close() {
        pools.close();
        resolving.shutdownNow();
    }

    /** Tests: resolve redirect targets with {@code resolver} (to play a host name in another range). */
    void resolveRedirectsWith(RedirectGuard.Resolver resolver) {
        redirects = new RedirectGuard(resolver, host -> false);
    }

    RedirectGuard redirects() {
        return redirects;
    }

    BearerTokens tokens() {
        return tokens;
    }

    KnownChallenges challenges() {
        return challenges;
    }

    ConnectionPools pools() {
        return pools;
    }

    long readIdleTimeoutNanos() {
        return readIdleTimeoutNanos;
    }

    boolean isClosed() {
        return pools.isClosed();
    }
}

package dev.wharf.server.upstream;

import dev.wharf.server.egress.EgressProxy;
import dev.wharf.server.net.Transport;
import io.netty.bootstrap.Bootstrap;
import io.netty.channel.AdaptiveRecvByteBufAllocator;
import io.netty.channel.Channel;
import io.netty.channel.ChannelOption;
import io.netty.channel.ChannelPipeline;
import io.netty.channel.EventLoopGroup;
import io.netty.channel.group.ChannelGroup;
import io.netty.channel.group.DefaultChannelGroup;
import io.netty.channel.pool.AbstractChannelPoolMap;
import io.netty.channel.pool.ChannelHealthChecker;
import io.netty.channel.pool.ChannelPoolHandler;
import io.netty.channel.pool.FixedChannelPool;
import io.netty.handler.codec.http.HttpClientCodec;
import io.netty.handler.codec.http.HttpDecoderConfig;
import io.netty.handler.proxy.HttpProxyHandler;
import io.netty.handler.ssl.SslContext;
import io.netty.handler.ssl.SslHandler;
import io.netty.resolver.NoopAddressResolverGroup;
import io.netty.util.AttributeKey;
import io.netty.util.concurrent.GlobalEventExecutor;
import java.io.IOException;
import java.net.InetSocketAddress;
import java.net.URI;
import java.util.Arrays;
import java.util.Locale;
import java.util.Map;
import java.util.concurrent.ConcurrentHashMap;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.atomic.AtomicInteger;
import java.util.concurrent.atomic.AtomicLong;
import io.netty.util.concurrent.ScheduledFuture;
import javax.net.ssl.SSLException;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

/**
 * The client's keep-alive connections: one Netty {@link FixedChannelPool} per (scheme, host, port, TLS context),
 * each new connection built as [egress proxy] [tls] http codec, {@link IdleGuard}. Pools are Netty's and
 * thread-safe; the map creates each one once. A connection handed back clean is marked {@link #REUSED}, so a
 * request that dies on it before any response may be retried on another.
 *
 * <p>Bounded: a connection idle in its pool for {@code limits.upstreamIdle} is closed (a timer per released
 * connection, on its event loop, cancelled when it is acquired again), and a pool left with no connection and none
 * acquired is dropped from the map, so hosts reached once by a redirect do not keep a pool for ever. An exchange
 * that looked up a pool just before it was dropped finds it closed, and looks again ({@link UpstreamExchange}).
 */
final class ConnectionPools implements AutoCloseable {
    private static final Logger log = LoggerFactory.getLogger(ConnectionPools.class);


    /** Set on a connection that went back to its pool after a clean exchange. */
    static final AttributeKey<Boolean> REUSED = AttributeKey.valueOf("wharf.upstream.reused");
    /** The connection's TLS handler, to tell a failed handshake from a plain close. */
    static final AttributeKey<SslHandler> TLS = AttributeKey.valueOf("wharf.upstream.tls");
    /** The timer that closes a connection left idle in its pool. */
    private static final AttributeKey<ScheduledFuture<?>> IDLE_CLOSE = AttributeKey.valueOf("wharf.upstream.idle");

    private final EventLoopGroup group;
    private final long connectTimeoutMillis;
    private final EgressProxy proxy;
    private final PoolMap pools = new PoolMap();
    private final ChannelGroup channels = new DefaultChannelGroup("wharf-upstream", GlobalEventExecutor.INSTANCE);
    private final AtomicLong connectionsOpened = new AtomicLong();
    /** Open connections per pool, to drop a pool once its last one closed. */
    private final Map<PoolKey, AtomicInteger> open = new ConcurrentHashMap<>();
    private final long idleNanos;
    /** Connections per (scheme, host, port); further acquires queue. Blob streams hold theirs for long. */
    private final int maxPerOrigin;
    /** How long an exchange may wait for a free pooled connection before failing. */
    private final long acquireTimeoutMillis;
    private volatile SslContext defaultSslContext;
    private volatile boolean closed;
    /** Resolves the names of direct connections, refusing link-local and metadata answers. */
    private final ConnectTimeGuard resolver;

    /**
     * {@code proxy} is the egress proxy for the hosts it applies to, or null; {@code lookups} runs the DNS look-ups
     * of direct connections (never an event loop).
     */
    ConnectionPools(EventLoopGroup group, long connectTimeoutMillis, EgressProxy proxy, long idleNanos,
                    int maxPerOrigin, long acquireTimeoutMillis, java.util.concurrent.Executor lookups) {
        this.resolver = new ConnectTimeGuard(java.net.InetAddress::getAllByName, lookups);
        this.idleNanos = idleNanos;
        this.maxPerOrigin = maxPerOrigin;
        this.acquireTimeoutMillis = acquireTimeoutMillis;
        this.group = group;
        this.connectTimeoutMillis = connectTimeoutMillis;
        this.proxy = proxy;
    }

    /** The pool for {@code uri}'s origin; TLS from the endpoint (or the JDK default) when it is https. */
    FixedChannelPool pool(URI uri, UpstreamEndpoint endpoint) throws SSLException {
        String scheme = uri.getScheme().toLowerCase(Locale.ROOT);
        SslContext ssl = null;
        if (scheme.equals("https")) {
            ssl = endpoint.sslContext() != null ? endpoint.sslContext() : defaultSslContext();
        }
        return pools.get(new PoolKey(scheme, UpstreamUrls.hostOf(uri), UpstreamUrls.portOf(uri), ssl));
    }

    /** Connections opened since start (a reused connection is not counted again). */
    long connectionsOpened() {
        return connectionsOpened.get();
    }

    long acquireTimeoutMillis() {
        return acquireTimeoutMillis;
    }

    int connectionsOpen() {
        return channels.size();
    }

    int poolCount() {
        int n = 0;
        for (var ignored : pools) {
            n++;
        }
        return n;
    }

    boolean isClosed() {
        return closed;
    }

    /** The last connection of {@code key}'s pool closed: drop the pool unless a connection is being had from it. */
    private void maybeDrop(PoolKey key) {
        AtomicInteger n = open.get(key);
        if (closed || n == null || n.get() > 0 || !pools.contains(key)) {
            return;
        }
        FixedChannelPool pool = pools.get(key);
        if (pool.acquiredChannelCount() == 0 && n.get() == 0) {
            open.remove(key, n);
            pools.remove(key);
            log.debug("dropped the idle upstream pool of {}://{}:{}", key.scheme, key.host, key.port);
        }
    }

    @Override
    public void close() {
        closed = true;
        pools.close();
        channels.close();
        resolver.close();
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
                throw new IllegalStateException(UpstreamFailures.CLIENT_CLOSED);
            }
            boolean proxied = proxy != null && proxy.appliesTo(key.host);
            Bootstrap b = new Bootstrap()
                    .group(group)
                    .channel(Transport.socketChannelFor(group))
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
            } else {
                // A name that resolves to a link-local or metadata address is never connected to, whatever it
                // answered when a redirect to it was judged (DNS rebinding).
                b.resolver(resolver);
            }
            return new FixedChannelPool(b, new PoolHandler(key, proxied), ChannelHealthChecker.ACTIVE,
                    FixedChannelPool.AcquireTimeoutAction.FAIL, acquireTimeoutMillis, maxPerOrigin,
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
            open.computeIfAbsent(key, k -> new AtomicInteger()).incrementAndGet();
            ch.closeFuture().addListener(f -> {
                AtomicInteger n = open.get(key);
                if (n != null && n.decrementAndGet() == 0) {
                    maybeDrop(key);
                }
            });
            ChannelPipeline p = ch.pipeline();
            if (proxied) {
                HttpProxyHandler h = new HttpProxyHandler(new InetSocketAddress(proxy.host(), proxy.port()));
                h.setConnectTimeoutMillis(connectTimeoutMillis);
                p.addLast("proxy", h);
            }
            if (key.ssl != null) {
                SslHandler tls = UpstreamTls.newHandler(key.ssl, ch.alloc(), key.host, key.port);
                p.addLast("tls", tls);
                ch.attr(TLS).set(tls);
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
            ScheduledFuture<?> idle = ch.attr(IDLE_CLOSE).getAndSet(null);
            if (idle != null) {
                idle.cancel(false);
            }
        }

        @Override
        public void channelReleased(Channel ch) {
            if (ch.isActive()) {
                ch.attr(IDLE_CLOSE).set(ch.eventLoop().schedule(() -> {
                    log.debug("closing upstream connection {}: idle for {} ms", ch,
                            TimeUnit.NANOSECONDS.toMillis(idleNanos));
                    ch.close();
                }, idleNanos, TimeUnit.NANOSECONDS));
            }
        }
    }
}

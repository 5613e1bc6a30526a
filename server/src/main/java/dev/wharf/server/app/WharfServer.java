package dev.wharf.server.app;

import dev.wharf.auth.upstream.BearerTokens;
import dev.wharf.server.accesslog.AccessLog;
import dev.wharf.server.access.ClientAccess;
import dev.wharf.server.admin.AdminApi;
import dev.wharf.server.api.RegistryException;
import dev.wharf.server.console.Console;
import dev.wharf.server.console.ConsoleData;
import dev.wharf.server.http.AdminEndpoint;
import dev.wharf.server.cluster.Cluster;
import dev.wharf.server.http.Exchange;
import dev.wharf.server.http.PeerHandler;
import dev.wharf.server.config.ConfigException;
import dev.wharf.server.config.HostPort;
import dev.wharf.server.config.ProjectConfig;
import dev.wharf.server.config.TlsConfig;
import dev.wharf.server.config.WharfConfig;
import dev.wharf.server.egress.EgressProxy;
import dev.wharf.server.http.ClientLimits;
import dev.wharf.server.http.AdmissionEndpoint;
import dev.wharf.server.http.ClientPipeline;
import dev.wharf.server.http.RequestHandler;
import dev.wharf.server.http.TlsContext;
import dev.wharf.server.http.Router;
import dev.wharf.server.metrics.Readiness;
import dev.wharf.server.net.ListenProbe;
import dev.wharf.server.net.Transport;
import dev.wharf.server.metrics.UpstreamMeter;
import dev.wharf.server.metrics.WharfMetrics;
import dev.wharf.server.upstream.Project;
import dev.wharf.server.upstream.Projects;
import dev.wharf.server.upstream.RateLimits;
import dev.wharf.server.upstream.Upstreams;
import dev.wharf.server.registry.BlobEndpoint;
import dev.wharf.server.registry.ManifestEndpoint;
import dev.wharf.server.registry.ReferrersEndpoint;
import dev.wharf.server.registry.RegistryEndpoints;
import dev.wharf.server.registry.TagListEndpoint;
import dev.wharf.server.pullthrough.BlobSource;
import dev.wharf.server.pullthrough.ManifestSource;
import dev.wharf.server.pullthrough.ReferrerSource;
import dev.wharf.server.pullthrough.TagCache;
import dev.wharf.server.pullthrough.TagLists;
import dev.wharf.server.upstream.UpstreamClient;
import dev.wharf.server.webhook.ImageRewriter;
import dev.wharf.server.webhook.LoopbackManifestCheck;
import dev.wharf.server.webhook.RewriteWebhook;
import dev.wharf.storage.ContentStore;
import dev.wharf.storage.StoreLock;
import dev.wharf.storage.StoreLockedException;
import dev.wharf.storage.Eviction;
import dev.wharf.storage.Evictor;
import dev.wharf.storage.fill.Fills;
import dev.wharf.storage.StoreListener;
import dev.wharf.storage.TagRef;
import io.netty.bootstrap.ServerBootstrap;
import io.netty.channel.Channel;
import io.netty.channel.ChannelHandler;
import io.netty.channel.ChannelInitializer;
import io.netty.channel.ChannelOption;
import io.netty.channel.EventLoopGroup;
import io.netty.channel.WriteBufferWaterMark;
import io.netty.channel.group.ChannelGroup;
import io.netty.channel.group.DefaultChannelGroup;
import io.netty.channel.socket.SocketChannel;
import io.netty.handler.ssl.SslProvider;
import io.netty.util.concurrent.DefaultThreadFactory;
import io.netty.util.concurrent.GlobalEventExecutor;
import java.io.IOException;
import java.net.Inet6Address;
import java.net.InetAddress;
import java.net.InetSocketAddress;
import java.net.URI;
import java.net.http.HttpClient;
import dev.wharf.storage.s3.S3Tier;
import java.time.Clock;
import java.time.Duration;
import java.util.Arrays;
import java.util.ArrayList;
import java.util.List;
import java.util.concurrent.ArrayBlockingQueue;
import java.util.concurrent.ThreadPoolExecutor;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.atomic.AtomicBoolean;
import java.util.concurrent.atomic.AtomicInteger;
import java.util.function.Supplier;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

/** The running server: wires config, storage, upstream client and the Netty pipeline; start and stop. */
public final class WharfServer implements AutoCloseable {
    private static final Logger LOG = LoggerFactory.getLogger(WharfServer.class);

    private final WharfConfig config;
    /** epoll where it loads, else NIO ({@code transport:}); every bootstrap of the server uses it. */
    private final Transport transport;
    /** One event loop per core: the client connections, and (with epoll) one listening socket each. */
    private final int ioLoops = Runtime.getRuntime().availableProcessors();
    /** Accepts for NIO's single listening socket; unused with epoll, whose listeners live on {@link #workers}. */
    private final EventLoopGroup boss;
    private final EventLoopGroup workers;
    private final EventLoopGroup upstreamLoops;
    private final ThreadPoolExecutor storageIo;
    private final AtomicBoolean draining = new AtomicBoolean();
    private final AtomicInteger active = new AtomicInteger();
    private final ChannelGroup clients =
            new DefaultChannelGroup(GlobalEventExecutor.INSTANCE);
    private final WharfMetrics metrics = new WharfMetrics();
    /** How often the evictor sweeps (retention; size is also swept on every commit above the high watermark). */
    private static final Duration EVICTION_PERIOD = Duration.ofMinutes(1);
    /** Storage tasks that may wait for a thread; beyond it requests get 503 (see the constructor). */
    private static final int STORAGE_QUEUE = 100_000;
    /** How long a rewrite rule's checkUpstream waits for wharf to resolve the rewritten image. */
    private static final Duration REWRITE_CHECK_DEADLINE = Duration.ofSeconds(2);
    private UpstreamClient upstreamClient;
    /** Built at start; their credential sources (ECR token refresh) are closed with the server. */
    private final List<Project> projects = new ArrayList<>();
    private ContentStore store;
    /** The S3 bucket behind the hot tier (storage.s3), or null. */
    private S3Tier s3;
    /** Held from start to close: one server per storage directory. */
    private StoreLock storeLock;
    /** Applies storage.maxSize and retention.unusedFor, and persists recency; its own thread. */
    private Evictor evictor;
    /** The first of the registry address's listening sockets (with epoll there is one per event loop). */
    private Channel serverChannel;
    /** Every listening socket of the registry address, and of the admin address. */
    private final List<Channel> listeners = new ArrayList<>();
    private final List<Channel> adminListeners = new ArrayList<>();
    private AdminApi admin;
    /** Client auth ({@code auth:}), or null when anyone may pull. */
    private ClientAccess access;
    private Console console;
    /** The admin listener ({@code admin.listen}), or null when /metrics and /api/v1 share the registry address. */
    private Channel adminChannel;
    private Readiness readiness;
    private AccessLog accessLog = AccessLog.OFF;
    /** This replica's part in a cluster ({@code cluster:}), or null on its own. */
    private Cluster cluster;
    /** The internal replica-to-replica listener ({@code cluster.listen}), or null. */
    private Channel peerChannel;
    /** The registry listener's certificate and key ({@code tls}), or null for plain HTTP. */
    private TlsContext tls;
    /** How often the TLS files are checked for a change. */
    private static final Duration TLS_RELOAD_PERIOD = Duration.ofSeconds(5);

    public WharfServer(WharfConfig config) {
        this.config = config;
        try {
            this.transport = Transport.choose(config.transport());
        } catch (IllegalStateException e) {
            throw new ConfigException(e.getMessage() + " (config " + config.source() + ")");
        }
        if (transport.fallbackReason() != null && !"nio".equalsIgnoreCase(config.transport())) {
            LOG.info("using the JDK's NIO transport: {}", transport.fallbackReason());
        }
        this.boss = transport.isEpoll() ? null : transport.group(1, "wharf-accept");
        this.workers = transport.group(ioLoops, "wharf-io");
        this.upstreamLoops = transport.group(ioLoops, "wharf-upstream");
        // Bounded: file appends, fsyncs, renames and small reads. Callers never wait on it from an event loop, and
        // nothing runs on the caller when it is full: a rejected task fails its request with 503 (Exchange.fail) or
        // its fill, so no disk work ever lands on an event loop.
        this.storageIo = new ThreadPoolExecutor(8, 8, 60, TimeUnit.SECONDS, new ArrayBlockingQueue<>(STORAGE_QUEUE),
                new DefaultThreadFactory("wharf-storage", true), new ThreadPoolExecutor.AbortPolicy());
    }

    /**
     * Takes the storage directory's lock, binds the listen address and starts serving.
     *
     * @throws StoreLockedException if another server uses the storage directory
     */
    public WharfServer start() throws IOException, InterruptedException {
        // Before cleanTemp: a second server on the directory would delete the first one's fills in progress.
        storeLock = StoreLock.acquire(config.storagePath());
        try {
            return startServing();
        } catch (IOException | InterruptedException | RuntimeException | Error e) {
            storeLock.close();
            storeLock = null;
            throw e;
        }
    }

    private WharfServer startServing() throws IOException, InterruptedException {
        tls = loadTls(config.tls());
        if (config.s3() != null) {
            // The SDK's S3 client is built only here, only when storage.s3 is configured.
            s3 = S3Tier.open(config.s3(), metrics::s3Request);
            metrics.s3Up(s3.health()::up);
            LOG.info("S3 bucket {} behind the hot tier {} ({})", config.s3().bucket(), config.storagePath(),
                    config.s3().endpoint() == null ? "AWS" : config.s3().endpoint());
        }
        store = new ContentStore(config.storagePath(), Clock.systemUTC(), s3 == null ? null : s3.remote());
        store.cleanTemp();
        Fills fills = new Fills(store, storageIo, null, s3);
        metrics.gauge("wharf_fills_inflight", fills::inFlight);
        EgressProxy egress = egressProxy();
        // Token requests take the same way out as registry traffic: a realm behind the proxy must be reachable too.
        BearerTokens tokens = new BearerTokens(egress == null ? HttpClient.Builder.NO_PROXY : egress.selector())
                .deadline(config.upstreamLimits().manifestDeadline());
        upstreamClient = new UpstreamClient(upstreamLoops, tokens, Duration.ofSeconds(10), Duration.ofSeconds(60),
                egress, config.upstreamLimits());
        RateLimits rateLimits = new RateLimits(metrics::ratelimitRemaining);
        upstreamClient.observe(rateLimits);
        upstreamClient.observe(new UpstreamMeter(metrics));
        for (ProjectConfig pc : config.projects()) {
            // One endpoint per upstreams: entry, each with its credentials (fixed, ECR tokens, or none).
            projects.add(ProjectUpstreams.build(pc, egress == null ? null : egress.selector()));
        }
        Projects all = new Projects(projects, config.defaultProject());
        metrics.zeroes(config.projects().stream().map(ProjectConfig::name).toList(),
                Arrays.stream(Eviction.Reason.values()).map(Eviction.Reason::label).toList());
        Upstreams upstreams = new Upstreams(upstreamClient);
        TagCache tagCache = new TagCache();
        if (config.cluster() != null) {
            cluster = Cluster.start(config.cluster(), store, fills, storageIo, metrics);
        }
        ManifestSource manifests = new ManifestSource(store, upstreams, storageIo, Clock.systemUTC(), metrics,
                tagCache, cluster == null ? dev.wharf.server.pullthrough.SharedTags.NONE : cluster.tags());
        startEvictor(manifests, tagCache);
        RegistryEndpoints endpoints = new RegistryEndpoints(
                new ManifestEndpoint(manifests),
                new BlobEndpoint(new BlobSource(store, fills, upstreams, storageIo, metrics, s3,
                        cluster == null ? dev.wharf.server.pullthrough.FillOrigin.ALONE : cluster.fills())),
                new TagListEndpoint(new TagLists(upstreams)),
                new ReferrersEndpoint(new ReferrerSource(upstreams)));
        Router router = new Router(all);
        // Prefetch jobs and the webhook's checks call wharf's own listener: over TLS they trust exactly its certificate.
        javax.net.ssl.SSLContext loopbackTls = tls == null ? null : tls.loopbackClientContext();
        access = ClientAuthWiring.build(config);
        admin = new AdminApi(config.operations().adminToken(), store, all, tagCache, this::registryUrl, loopbackTls,
                access == null ? null : access::isAdmin);
        console = new Console(admin::authorizes, new ConsoleData(metrics, store, all, tagCache, fills, rateLimits,
                admin.prefetchJobs(), config.operations().maxSize()));
        AdminEndpoint adminAndConsole = adminAndConsole(admin, console);
        // checkUpstream asks wharf itself, through its own address, so the answer is what the kubelet's pull gets.
        AdmissionEndpoint admission = config.rewrite().rules().isEmpty() ? null
                : new RewriteWebhook(new ImageRewriter(config.rewrite().rules(),
                        new LoopbackManifestCheck(this::registryUrl, REWRITE_CHECK_DEADLINE, loopbackTls)));

        readiness = new Readiness(store.root().resolve("tmp"), draining::get,
                Duration.ofSeconds(5));
        readiness.start();
        var ops = config.operations();
        if (ops.accessLog()) {
            accessLog = AccessLog.open(ops.accessLogPath(), ops.accessLogLevel(), metrics);
        }
        // With admin.listen set, /metrics and /api/v1 move to that address; /healthz and /readyz answer on both.
        RequestHandler.Serves registryServes = ops.adminListen() == null
                ? RequestHandler.Serves.ALL : RequestHandler.Serves.REGISTRY;
        serverChannel = bind(config.listen(), tls, registryServes, router, endpoints, adminAndConsole, admission);
        if (ops.adminListen() != null) {
            adminChannel = bind(ops.adminListen(), null, RequestHandler.Serves.ADMIN, router, endpoints, adminAndConsole,
                    admission);
            LOG.info("admin endpoints (/metrics, /healthz, /readyz, /api/v1, the console /ui) on {}", adminChannel.localAddress());
        }
        if (cluster != null) {
            peerChannel = bindPeers(config.cluster().listen());
            LOG.info("cluster: Redis {}:{}{}, replica-to-replica port {}, advertised as {}",
                    config.cluster().redisHost(), config.cluster().redisPort(),
                    config.cluster().redisTls() ? " (TLS)" : "", peerChannel.localAddress(),
                    config.cluster().advertise());
        }
        readiness.configLoaded();
        LOG.info("wharf listening on {}{} ({} transport, {} listening sockets) with storage {} ({}), projects: {}",
                serverChannel.localAddress(),
                tls == null ? "" : " (HTTPS, HTTP/2 and HTTP/1.1, " + tls.provider() + " TLS)", transport.name(),
                listeners.size(),
                config.storagePath().toAbsolutePath(), config.source(),
                config.projects().stream().map(p -> p.name() + "=" + p.upstream()).toList());
        if (admission != null) {
            LOG.info("admission webhook at {} with {} rewrite rules (served over TLS only)", AdmissionEndpoint.PATH,
                    config.rewrite().rules().size());
        }
        return this;
    }

    /**
     * The TLS context for {@code tls}, watched for changes; null without it. A file that does not load is a config
     * error naming the file.
     */
    private TlsContext loadTls(TlsConfig tlsConfig) {
        if (tlsConfig == null) {
            return null;
        }
        SslProvider provider;
        if ("jdk".equals(tlsConfig.provider())) {
            provider = SslProvider.JDK;
        } else if (TlsContext.openSslAvailable()) {
            provider = SslProvider.OPENSSL;
        } else if (tlsConfig.provider() == null) {
            LOG.warn("BoringSSL (netty-tcnative) does not load on this machine; serving TLS with the JDK's engine");
            provider = SslProvider.JDK;
        } else {
            throw new ConfigException("tls.provider: openssl, but BoringSSL (netty-tcnative) does not load on this "
                    + "machine; use jdk (config " + config.source() + ")");
        }
        try {
            return TlsContext.load(tlsConfig.cert(), tlsConfig.key(), provider).watch(TLS_RELOAD_PERIOD);
        } catch (IllegalArgumentException e) {
            throw new ConfigException(e.getMessage() + " (config " + config.source() + ")");
        }
    }

    /** The admin API and the web console behind one endpoint: {@code /ui...} goes to the console. */
    private static AdminEndpoint adminAndConsole(AdminApi admin, Console console) {
        return new AdminEndpoint() {
            @Override
            public RegistryException refuse(Exchange ex) {
                return Console.owns(pathOf(ex)) ? console.refuse(ex) : admin.refuse(ex);
            }

            @Override
            public void handle(Exchange ex, byte[] body) {
                if (Console.owns(pathOf(ex))) {
                    console.handle(ex, body);
                } else {
                    admin.handle(ex, body);
                }
            }

            private String pathOf(Exchange ex) {
                String uri = ex.request().uri();
                int q = uri.indexOf('?');
                return q >= 0 ? uri.substring(0, q) : uri;
            }
        };
    }

    private Channel bind(HostPort address, TlsContext tls, RequestHandler.Serves serves, Router router,
                         RegistryEndpoints endpoints, AdminEndpoint admin, AdmissionEndpoint admission)
            throws IOException, InterruptedException {
        ServerBootstrap b = clientBootstrap(transport.configure(new ServerBootstrap()), tls, () -> new RequestHandler(
                router, endpoints, readiness::problem, WharfServer.this::degraded, active, metrics, admin, admission,
                accessLog, serves, access == null ? dev.wharf.server.http.RegistryAccess.OPEN : access));
        InetSocketAddress at = new InetSocketAddress(address.host(), address.port());
        int count = transport.listeners(ioLoops);
        if (count > 1) {
            // SO_REUSEPORT would let this server share a port another process of the same user listens on: a plain
            // bind first fails as it always did when the address is taken (and picks the port for port 0).
            // (claim fails for an unresolved address, so getAddress() below is never null: never the wildcard.)
            at = new InetSocketAddress(at.getAddress(), ListenProbe.claim(at));
        }
        Channel first = null;
        for (int i = 0; i < count; i++) {
            Channel ch = b.bind(at).sync().channel();
            (serves == RequestHandler.Serves.ADMIN ? adminListeners : listeners).add(ch);
            if (first == null) {
                first = ch;
            }
        }
        return first;
    }

    /**
     * The internal listener on {@code cluster.listen}: other replicas stream fills and fetch manifests here (plain
     * HTTP/1.1, the registry's client limits, the cluster's secret checked per request).
     */
    private Channel bindPeers(HostPort address) throws InterruptedException {
        // One plain listener (no SO_REUSEPORT: the internal port is not shared between event loops).
        ServerBootstrap b = clientBootstrap(new ServerBootstrap().channel(transport.serverChannel()), null,
                () -> new PeerHandler(cluster.peers(), active));
        return b.bind(new InetSocketAddress(address.host(), address.port())).sync().channel();
    }

    /**
     * {@code base} (its channel class set) with what every listener of client connections shares: the event loops,
     * the backlog, TCP_NODELAY, the write water marks, and each connection tracked and given the client pipeline
     * under {@code limits} (a cap on connections per listener) with {@code tls} (or none) and {@code handler}.
     */
    private ServerBootstrap clientBootstrap(ServerBootstrap base, TlsContext tls, Supplier<ChannelHandler> handler) {
        var limits = config.limits();
        ClientLimits.Cap cap = new ClientLimits.Cap(limits.maxConnections());
        return base.group(boss == null ? workers : boss, workers)
                .option(ChannelOption.SO_BACKLOG, 1024)
                .childOption(ChannelOption.TCP_NODELAY, true)
                .childOption(ChannelOption.WRITE_BUFFER_WATER_MARK, new WriteBufferWaterMark(256 << 10, 1 << 20))
                .childHandler(new ChannelInitializer<SocketChannel>() {
                    @Override
                    protected void initChannel(SocketChannel ch) {
                        clients.add(ch);
                        ClientPipeline.configure(ch, tls, new ClientPipeline.Limits(limits.headerTimeout(),
                                limits.idleTimeout(), limits.writeTimeout(), cap), handler);
                    }
                });
    }

    /**
     * What a ready /readyz adds, or null: the S3 bucket is down (blobs pass through uncached), a cluster replica lost
     * Redis (it fills alone), or both, joined by "; ". Never blocks: both read a state their probes keep.
     */
    private String degraded() {
        String bucket = s3 == null || s3.health().up() ? null
                : "S3 bucket " + config.s3().bucket() + " unreachable, blobs pass through uncached: "
                        + s3.health().lastError();
        String redis = cluster == null ? null : cluster.degraded();
        return bucket == null ? redis : redis == null ? bucket : bucket + "; " + redis;
    }

    /** The bound internal cluster port, or -1 without {@code cluster:}. */
    public int peerPort() {
        return peerChannel == null ? -1 : ((InetSocketAddress) peerChannel.localAddress()).getPort();
    }

    /**
     * Bounded storage: the storage gauges, the eviction listener (the manifest source forgets what was evicted; the
     * metrics count it) and the evictor with {@code storage.maxSize}, its watermarks and {@code retention.unusedFor}.
     */
    private void startEvictor(ManifestSource manifests, TagCache tagCache) {
        metrics.storageGauges(store::storedBytes, store::blobCount);
        store.addListener(new StoreListener() {
            @Override
            public void evicted(Eviction eviction) {
                manifests.evicted(eviction);
                metrics.eviction(eviction.reason().label(), eviction.size());
            }

            @Override
            public void tagsDeleted(java.util.Collection<TagRef> tags) {
                tagCache.tagsDeleted(tags);
            }
        });
        var ops = config.operations();
        Evictor.Policy policy = new Evictor.Policy(ops.maxSize(), ops.highWatermark(), ops.lowWatermark(),
                ops.unusedFor());
        evictor = new Evictor(store, policy, EVICTION_PERIOD).start();
        if (ops.maxSize() > 0 || ops.unusedFor() != null) {
            LOG.info("storage bounds: maxSize {} bytes (evicting above {} down to {}), unused blobs kept for {}",
                    ops.maxSize() == 0 ? "unbounded" : ops.maxSize(), policy.highBytes(), policy.lowBytes(),
                    ops.unusedFor() == null ? "ever" : ops.unusedFor());
        }
    }

    /** The content store (tests, and the admin API's wiring). Null before {@link #start}. */
    public ContentStore store() {
        return store;
    }

    /** The outbound proxy: {@code egress.proxy}, else HTTPS_PROXY/HTTP_PROXY; null when there is none. */
    private EgressProxy egressProxy() {
        EgressProxy egress;
        try {
            egress = EgressProxy.resolve(config.operations().egressProxy(), config.operations().noProxy(),
                    System.getenv());
        } catch (IllegalArgumentException e) {
            throw new ConfigException(e.getMessage() + " (config " + config.source() + ")");
        }
        if (egress != null) {
            LOG.info("upstream traffic and token requests go through proxy {} (from {})", egress,
                    config.operations().egressProxy() != null ? "egress.proxy" : "the environment");
        }
        return egress;
    }

    /**
     * The registry's own address as a client on this machine reaches it (a wildcard listen address becomes the
     * loopback address): where the admin API's prefetch jobs pull through.
     */
    public URI registryUrl() {
        InetSocketAddress bound = (InetSocketAddress) serverChannel.localAddress();
        InetAddress host = bound.getAddress().isAnyLocalAddress()
                ? InetAddress.getLoopbackAddress() : bound.getAddress();
        String literal = host instanceof Inet6Address ? "[" + host.getHostAddress() + "]" : host.getHostAddress();
        return URI.create((tls == null ? "http://" : "https://") + literal + ":" + bound.getPort());
    }

    /** The bound port (useful with port 0). */
    public int port() {
        return ((InetSocketAddress) serverChannel.localAddress()).getPort();
    }

    /** The bound admin port, or -1 when {@code admin.listen} is not set. */
    public int adminPort() {
        return adminChannel == null ? -1 : ((InetSocketAddress) adminChannel.localAddress()).getPort();
    }

    /** The metrics registry (tests, and wiring done by other parts of the server). */
    public WharfMetrics metrics() {
        return metrics;
    }

    /**
     * Graceful stop: stop accepting, let responses in flight finish (up to {@code timeout}), then close. Readiness
     * turns false at once so a load balancer stops sending; the admin listener, if any, keeps answering (503 on
     * /readyz) until the close.
     */
    public void drainAndClose(Duration timeout) {
        draining.set(true);
        closeListeners(false);
        long deadline = System.nanoTime() + timeout.toNanos();
        int left;
        while ((left = active.get()) > 0 && System.nanoTime() < deadline) {
            try {
                Thread.sleep(50);
            } catch (InterruptedException e) {
                Thread.currentThread().interrupt();
                break;
            }
        }
        if (left > 0) {
            LOG.warn("stopping with {} responses still in flight after {}", left, timeout);
        } else {
            LOG.info("all responses finished; stopping");
        }
        close();
    }

    /** Closes the registry address's listeners, and the admin address's too when {@code admin} is set. */
    private void closeListeners(boolean admin) {
        for (Channel ch : listeners) {
            ch.close().awaitUninterruptibly();
        }
        if (admin) {
            for (Channel ch : adminListeners) {
                ch.close().awaitUninterruptibly();
            }
        }
    }

    /** The socket transport in use: epoll or NIO. */
    public Transport transport() {
        return transport;
    }

    /** Requests whose responses are not finished. */
    public int inFlight() {
        return active.get();
    }

    @Override
    public void close() {
        draining.set(true);
        closeListeners(true);
        if (peerChannel != null) {
            peerChannel.close().awaitUninterruptibly();
        }
        clients.close().awaitUninterruptibly(5, TimeUnit.SECONDS);
        workers.shutdownGracefully(0, 5, TimeUnit.SECONDS).awaitUninterruptibly();
        if (boss != null) {
            boss.shutdownGracefully(0, 1, TimeUnit.SECONDS).awaitUninterruptibly();
        }
        if (upstreamClient != null) {
            upstreamClient.close();
        }
        ProjectUpstreams.close(projects);
        upstreamLoops.shutdownGracefully(0, 2, TimeUnit.SECONDS).awaitUninterruptibly();
        if (console != null) {
            console.close();
        }
        if (admin != null) {
            admin.close();
        }
        if (access != null) {
            ClientAuthWiring.close(access);
        }
        if (readiness != null) {
            readiness.close();
        }
        if (s3 != null) {
            s3.close();
        }
        if (tls != null) {
            tls.close();
        }
        accessLog.close();
        if (cluster != null) {
            cluster.close(); // its leases expire by themselves; fills that need them have ended with the clients
        }
        if (evictor != null) {
            evictor.close(); // after the clients: no lease is taken any more; persists recency
        }
        storageIo.shutdown();
        try {
            storageIo.awaitTermination(10, TimeUnit.SECONDS);
        } catch (InterruptedException e) {
            Thread.currentThread().interrupt();
        }
        if (storeLock != null) {
            storeLock.close(); // last: no fill writes any more
            storeLock = null;
        }
    }
}

package dev.wharf.server;

import dev.wharf.auth.BearerTokens;
import dev.wharf.auth.Credentials;
import dev.wharf.server.config.ProjectConfig;
import dev.wharf.server.config.WharfConfig;
import dev.wharf.server.http.RequestHandler;
import dev.wharf.server.http.Router;
import dev.wharf.server.proxy.Project;
import dev.wharf.server.proxy.Projects;
import dev.wharf.server.proxy.Upstreams;
import dev.wharf.server.registry.BlobHandler;
import dev.wharf.server.registry.ManifestHandler;
import dev.wharf.server.registry.ReferrersHandler;
import dev.wharf.server.registry.RegistryEndpoints;
import dev.wharf.server.registry.TagListHandler;
import dev.wharf.server.upstream.UpstreamClient;
import dev.wharf.server.upstream.UpstreamEndpoint;
import dev.wharf.storage.ContentStore;
import dev.wharf.storage.Fills;
import io.netty.bootstrap.ServerBootstrap;
import io.netty.channel.Channel;
import io.netty.channel.ChannelInitializer;
import io.netty.channel.ChannelOption;
import io.netty.channel.EventLoopGroup;
import io.netty.channel.WriteBufferWaterMark;
import io.netty.channel.nio.NioEventLoopGroup;
import io.netty.channel.socket.SocketChannel;
import io.netty.channel.socket.nio.NioServerSocketChannel;
import io.netty.handler.codec.http.HttpServerCodec;
import io.netty.util.concurrent.DefaultThreadFactory;
import java.io.IOException;
import java.net.InetSocketAddress;
import java.nio.file.Files;
import java.time.Clock;
import java.time.Duration;
import java.util.ArrayList;
import java.util.List;
import java.util.concurrent.ArrayBlockingQueue;
import java.util.concurrent.ThreadPoolExecutor;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.atomic.AtomicBoolean;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

/** The running server: wires config, storage, upstream client and the Netty pipeline; start and stop. */
public final class WharfServer implements AutoCloseable {
    private static final Logger LOG = LoggerFactory.getLogger(WharfServer.class);

    private final WharfConfig config;
    private final EventLoopGroup boss = new NioEventLoopGroup(1, new DefaultThreadFactory("wharf-accept", true));
    private final EventLoopGroup workers = new NioEventLoopGroup(0, new DefaultThreadFactory("wharf-io", true));
    private final EventLoopGroup upstreamLoops = new NioEventLoopGroup(0, new DefaultThreadFactory("wharf-upstream", true));
    private final ThreadPoolExecutor storageIo;
    private final AtomicBoolean draining = new AtomicBoolean();
    private final java.util.concurrent.atomic.AtomicInteger active = new java.util.concurrent.atomic.AtomicInteger();
    private final io.netty.channel.group.ChannelGroup clients =
            new io.netty.channel.group.DefaultChannelGroup(io.netty.util.concurrent.GlobalEventExecutor.INSTANCE);
    private final dev.wharf.server.metrics.WharfMetrics metrics = new dev.wharf.server.metrics.WharfMetrics();
    private UpstreamClient upstreamClient;
    private ContentStore store;
    private Channel serverChannel;

    public WharfServer(WharfConfig config) {
        this.config = config;
        // Bounded: file appends, fsyncs, renames and small reads. Callers never wait on it from an event loop.
        this.storageIo = new ThreadPoolExecutor(8, 8, 60, TimeUnit.SECONDS, new ArrayBlockingQueue<>(100_000),
                new DefaultThreadFactory("wharf-storage", true), new ThreadPoolExecutor.CallerRunsPolicy());
    }

    /** Binds the listen address and starts serving. */
    public WharfServer start() throws IOException, InterruptedException {
        store = new ContentStore(config.storagePath());
        store.cleanTemp();
        Fills fills = new Fills(store, storageIo);
        metrics.gauge("wharf_fills_inflight", fills::inFlight);
        upstreamClient = new UpstreamClient(upstreamLoops, new BearerTokens(), Duration.ofSeconds(10), Duration.ofSeconds(60), null);
        List<Project> projects = new ArrayList<>();
        for (ProjectConfig pc : config.projects()) {
            Credentials credentials = pc.username() == null ? null : new Credentials(pc.username(), pc.password());
            projects.add(new Project(pc, new UpstreamEndpoint(pc.upstream(), UpstreamSsl.forProject(pc), credentials,
                    pc.name())));
        }
        Projects all = new Projects(projects, config.defaultProject());
        Upstreams upstreams = new Upstreams(upstreamClient);
        RegistryEndpoints endpoints = new RegistryEndpoints(
                new ManifestHandler(store, upstreams, storageIo, Clock.systemUTC()),
                new BlobHandler(store, fills, upstreams, storageIo),
                new TagListHandler(upstreams),
                new ReferrersHandler(upstreams));
        Router router = new Router(all);
        dev.wharf.server.admin.AdminApi admin = new dev.wharf.server.admin.AdminApi();

        ServerBootstrap b = new ServerBootstrap()
                .group(boss, workers)
                .channel(NioServerSocketChannel.class)
                .option(ChannelOption.SO_BACKLOG, 1024)
                .childOption(ChannelOption.TCP_NODELAY, true)
                .childOption(ChannelOption.WRITE_BUFFER_WATER_MARK, new WriteBufferWaterMark(256 << 10, 1 << 20))
                .childHandler(new ChannelInitializer<SocketChannel>() {
                    @Override
                    protected void initChannel(SocketChannel ch) {
                        clients.add(ch);
                        ch.pipeline().addLast("codec", new HttpServerCodec(8192, 16384, 8192));
                        ch.pipeline().addLast("registry",
                                new RequestHandler(router, endpoints, WharfServer.this::isReady, active, metrics, admin));
                    }
                });
        serverChannel = b.bind(new InetSocketAddress(config.listen().host(), config.listen().port())).sync().channel();
        LOG.info("wharf listening on {} with storage {} ({}), projects: {}", serverChannel.localAddress(),
                config.storagePath().toAbsolutePath(), config.source(),
                config.projects().stream().map(p -> p.name() + "=" + p.upstream()).toList());
        return this;
    }

    /** The bound port (useful with port 0). */
    public int port() {
        return ((InetSocketAddress) serverChannel.localAddress()).getPort();
    }

    private boolean isReady() {
        return !draining.get() && serverChannel != null && serverChannel.isActive()
                && Files.isWritable(config.storagePath());
    }

    /**
     * Graceful stop: stop accepting, let responses in flight finish (up to {@code timeout}), then close. Readiness
     * turns false at once so a load balancer stops sending.
     */
    public void drainAndClose(Duration timeout) {
        draining.set(true);
        if (serverChannel != null) {
            serverChannel.close().awaitUninterruptibly();
        }
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

    /** Requests whose responses are not finished. */
    public int inFlight() {
        return active.get();
    }

    @Override
    public void close() {
        draining.set(true);
        if (serverChannel != null) {
            serverChannel.close().awaitUninterruptibly();
        }
        clients.close().awaitUninterruptibly(5, TimeUnit.SECONDS);
        workers.shutdownGracefully(0, 5, TimeUnit.SECONDS).awaitUninterruptibly();
        boss.shutdownGracefully(0, 1, TimeUnit.SECONDS).awaitUninterruptibly();
        if (upstreamClient != null) {
            upstreamClient.close();
        }
        upstreamLoops.shutdownGracefully(0, 2, TimeUnit.SECONDS).awaitUninterruptibly();
        storageIo.shutdown();
        try {
            storageIo.awaitTermination(10, TimeUnit.SECONDS);
        } catch (InterruptedException e) {
            Thread.currentThread().interrupt();
        }
    }
}

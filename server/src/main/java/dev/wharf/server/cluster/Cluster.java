package dev.wharf.server.cluster;

import dev.wharf.server.config.ClusterConfig;
import dev.wharf.server.http.PeerEndpoint;
import dev.wharf.server.metrics.WharfMetrics;
import dev.wharf.server.pullthrough.FillOrigin;
import dev.wharf.server.pullthrough.SharedTags;
import dev.wharf.storage.ContentStore;
import dev.wharf.storage.fill.Fills;
import io.netty.util.concurrent.DefaultThreadFactory;
import java.time.Clock;
import java.util.concurrent.Executor;
import java.util.concurrent.ExecutorService;
import java.util.concurrent.Executors;
import java.util.concurrent.ScheduledExecutorService;

/**
 * This replica's part in a cluster ({@code cluster:}): the Redis link, the fill leases, the shared tag
 * revalidations and what the internal port serves. The app wires its three faces in: {@link #fills()} into the
 * blob source, {@link #tags()} into the manifest source and {@link #peers()} onto {@code cluster.listen}.
 */
public final class Cluster implements AutoCloseable {
    private final ScheduledExecutorService scheduler =
            Executors.newSingleThreadScheduledExecutor(new DefaultThreadFactory("wharf-cluster-timer", true));
    /** Small, quick steps only (each starts asynchronous work); never an event loop's. */
    private final ExecutorService executor =
            Executors.newFixedThreadPool(4, new DefaultThreadFactory("wharf-cluster", true));
    private final RedisLink redis;
    private final ClusterFills fills;
    private final SharedTagResults tags;
    private final PeerService peers;

    private Cluster(ClusterConfig config, ContentStore store, Fills localFills, Executor io,
                    WharfMetrics metrics) {
        String advertise = config.advertise().toString();
        this.redis = new RedisLink(config, scheduler);
        PeerClient client = new PeerClient(config.secret(), executor, scheduler);
        this.fills = new ClusterFills(redis, new FillLeases(redis, advertise), client, advertise, executor, scheduler,
                metrics);
        this.tags = new SharedTagResults(redis, client, advertise, executor, scheduler, Clock.systemUTC());
        this.peers = new PeerService(config.secret(), store, localFills, io);
        metrics.redisUp(redis::up);
    }

    /** Starts connecting to Redis (in the background: a replica starts, and serves alone, while Redis is down). */
    public static Cluster start(ClusterConfig config, ContentStore store, Fills fills, Executor io,
                                WharfMetrics metrics) {
        Cluster c = new Cluster(config, store, fills, io, metrics);
        c.redis.start();
        return c;
    }

    public FillOrigin fills() {
        return fills;
    }

    public SharedTags tags() {
        return tags;
    }

    public PeerEndpoint peers() {
        return peers;
    }

    /** Null while Redis is reached; else what /readyz says about it (the replica stays ready: it fills alone). */
    public String degraded() {
        return redis.up() ? null : "Redis unreachable: cluster-wide single fetch is off, this replica fills alone";
    }

    @Override
    public void close() {
        redis.close();
        scheduler.shutdownNow();
        executor.shutdownNow();
    }
}

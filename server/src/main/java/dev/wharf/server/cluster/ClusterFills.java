package dev.wharf.server.cluster;

import dev.wharf.server.api.Failures;
import dev.wharf.server.logging.RateLimitedLog;
import dev.wharf.server.metrics.WharfMetrics;
import dev.wharf.server.pullthrough.FillOrigin;
import dev.wharf.storage.fill.BlobFill;
import java.time.Duration;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.Executor;
import java.util.concurrent.ScheduledExecutorService;
import java.util.concurrent.ScheduledFuture;
import java.util.concurrent.TimeUnit;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

/**
 * Cluster-wide single fetch: the first replica to miss a digest takes its fill lease and fetches from the upstream;
 * the others stream that fill from it over the internal port into fills of their own (their clients share them, and
 * each checks the digest before it commits). A joiner whose holder cannot be reached before a byte arrived tries
 * again until the lease is released or expires, then takes it over. With Redis down every replica fills alone.
 *
 * <p>Threading: Lettuce completes its futures on its event loops; every decision here hops to {@code executor}
 * (nothing blocks there either: each step starts asynchronous work). A fill's lease is renewed on the scheduler.
 */
final class ClusterFills implements FillOrigin {
    private static final Logger LOG = LoggerFactory.getLogger(ClusterFills.class);
    private static final RateLimitedLog ALONE = new RateLimitedLog(LOG);
    /** How long a joiner keeps trying a lease whose holder does not answer: past the lease's TTL. */
    static final Duration PATIENCE = FillLeases.TTL.multipliedBy(2);
    static final Duration RETRY = Duration.ofMillis(250);

    private final RedisLink redis;
    private final FillLeases leases;
    private final PeerClient peers;
    private final String advertise;
    private final Executor executor;
    private final ScheduledExecutorService scheduler;
    private final WharfMetrics metrics;

    ClusterFills(RedisLink redis, FillLeases leases, PeerClient peers, String advertise, Executor executor,
                 ScheduledExecutorService scheduler, WharfMetrics metrics) {
        this.redis = redis;
        this.leases = leases;
        this.peers = peers;
        this.advertise = advertise;
        this.executor = executor;
        this.scheduler = scheduler;
        this.metrics = metrics;
    }

    @Override
    public void feed(BlobFill fill, String project, Fetch fetch) {
        attempt(fill, project, fetch, System.nanoTime() + PATIENCE.toNanos());
    }

    private void attempt(BlobFill fill, String project, Fetch fetch, long deadline) {
        if (!redis.up()) {
            alone(fill, fetch, "Redis is unreachable");
            return;
        }
        leases.acquire(fill.digest(), project).whenCompleteAsync((outcome, err) -> {
            if (err != null) {
                alone(fill, fetch, "Redis failed: " + Failures.unwrap(err));
            } else if (outcome instanceof FillLeases.Mine mine) {
                if (mine.takeover()) {
                    metrics.leaseTakeover();
                    LOG.info("took over the fill lease of {}: its previous holder never released it", fill.digest());
                }
                hold(fill, mine);
                fetch.upstream();
            } else if (outcome instanceof FillLeases.Theirs theirs) {
                join(fill, project, fetch, deadline, theirs);
            }
        }, executor);
    }

    /** Streams the holder's fill; another project's fill is joined only once this project's upstream confirms. */
    private void join(BlobFill fill, String project, Fetch fetch, long deadline, FillLeases.Theirs theirs) {
        if (theirs.advertise().equals(advertise)) {
            // A lease this replica's previous life left behind (it restarted within the TTL): wait for it to expire.
            retry(fill, project, fetch, deadline, "its own stale lease");
            return;
        }
        CompletableFuture<Void> allowed = theirs.project().equals(project)
                ? CompletableFuture.completedFuture(null) : fetch.confirm();
        allowed.thenCompose(v -> peers.streamBlob(theirs.advertise(), fill.digest(), fill))
                .whenCompleteAsync((v, err) -> {
                    if (err == null) {
                        metrics.clusterJoin();
                        return;
                    }
                    Throwable cause = Failures.unwrap(err);
                    if (cause instanceof PeerClient.NotStarted) {
                        retry(fill, project, fetch, deadline, cause.getMessage());
                    } else {
                        fill.fail(cause); // this project's upstream does not have it (confirm), or worse
                    }
                }, executor);
    }

    private void retry(BlobFill fill, String project, Fetch fetch, long deadline, String why) {
        if (System.nanoTime() - deadline > 0) {
            LOG.warn("the fill lease of {} is held by a replica that does not serve it ({}); fetching it here",
                    fill.digest(), why);
            fetch.upstream();
            return;
        }
        LOG.debug("fill of {}: {}; trying the lease again", fill.digest(), why);
        scheduler.schedule(() -> executor.execute(() -> attempt(fill, project, fetch, deadline)),
                RETRY.toMillis(), TimeUnit.MILLISECONDS);
    }

    private void alone(BlobFill fill, Fetch fetch, String why) {
        ALONE.warn("alone", "filling {} without the cluster: {}", fill.digest(), why);
        fetch.upstream();
    }

    /** Renews the lease every third of its TTL until the fill ends, then releases it. */
    private void hold(BlobFill fill, FillLeases.Mine lease) {
        long period = FillLeases.TTL.toMillis() / 3;
        ScheduledFuture<?> renewal = scheduler.scheduleWithFixedDelay(() -> leases.renew(lease).whenComplete(
                (mine, err) -> {
                    if (err == null && !mine) {
                        LOG.warn("lost the fill lease of {} while filling (Redis restarted or was paused); the fill "
                                + "goes on", fill.digest());
                    }
                }), period, period, TimeUnit.MILLISECONDS);
        fill.result().whenComplete((path, err) -> {
            renewal.cancel(false);
            leases.release(lease).exceptionally(t -> null); // Redis down: the lease expires by itself
        });
    }
}

package dev.wharf.server.cluster;

import dev.wharf.storage.Digest;
import java.time.Duration;
import java.util.List;
import java.util.UUID;
import java.util.concurrent.CompletableFuture;

/**
 * The cluster's fill leases in Redis: one replica per digest fetches from the upstream. A lease is the key
 * {@code wharf:fill:<digest>} set with NX and a TTL to {@code <advertise> <token> <project>}; its holder renews
 * it while the fill runs and deletes it when the fill ends, both by Lua scripts that compare the value first, so a
 * replica never renews or deletes another's lease. Beside it {@code wharf:filling:<digest>} outlives the lease
 * ({@link #MARKER_TTL}) and is deleted only with it: a new lease that finds a marker took over from a holder that
 * never released (it died, or lost Redis). The protocol and its failure cases: docs/architecture.md, "Cluster".
 */
final class FillLeases {
    /** How long a lease lives unless renewed; its holder renews every third of it. */
    static final Duration TTL = Duration.ofSeconds(6);
    static final Duration MARKER_TTL = Duration.ofMinutes(30);

    private static final String ACQUIRE = """
            if redis.call('SET', KEYS[1], ARGV[1], 'NX', 'PX', ARGV[2]) then
              local old = redis.call('GET', KEYS[2])
              redis.call('SET', KEYS[2], ARGV[1], 'PX', ARGV[3])
              return {1, old or ''}
            end
            return {0, redis.call('GET', KEYS[1]) or ''}
            """;
    private static final String RENEW = """
            if redis.call('GET', KEYS[1]) == ARGV[1] then
              return {redis.call('PEXPIRE', KEYS[1], ARGV[2])}
            end
            return {0}
            """;
    private static final String RELEASE = """
            if redis.call('GET', KEYS[1]) == ARGV[1] then
              redis.call('DEL', KEYS[1])
              if redis.call('GET', KEYS[2]) == ARGV[1] then
                redis.call('DEL', KEYS[2])
              end
              return {1}
            end
            return {0}
            """;

    private final RedisLink redis;
    private final String advertise;

    FillLeases(RedisLink redis, String advertise) {
        this.redis = redis;
        this.advertise = advertise;
    }

    /** What {@link #acquire} found. */
    sealed interface Outcome permits Mine, Theirs {
    }

    /** This replica holds the lease; {@code takeover}: a previous holder never released its own. */
    record Mine(Digest digest, String value, boolean takeover) implements Outcome {
    }

    /** Another replica holds it: stream from {@code advertise}; {@code project} started that fill. */
    record Theirs(String advertise, String project) implements Outcome {
    }

    /** Takes the lease of {@code digest} for a fill of {@code project}, or says who holds it. */
    CompletableFuture<Outcome> acquire(Digest digest, String project) {
        String value = advertise + " " + UUID.randomUUID() + " " + project;
        return redis.eval(ACQUIRE, keys(digest), value, Long.toString(TTL.toMillis()),
                Long.toString(MARKER_TTL.toMillis())).thenApply(reply -> {
                    long won = (Long) reply.get(0);
                    String other = String.valueOf(reply.get(1));
                    if (won == 1) {
                        return new Mine(digest, value, !other.isEmpty());
                    }
                    String[] parts = other.split(" ", 3);
                    if (parts.length != 3) {
                        throw new IllegalStateException("unreadable fill lease of " + digest);
                    }
                    return new Theirs(parts[0], parts[2]);
                });
    }

    /** Extends {@code lease} by a TTL; completes with false when it is no longer this replica's. */
    CompletableFuture<Boolean> renew(Mine lease) {
        return redis.eval(RENEW, new String[] {keys(lease.digest())[0]}, lease.value(),
                Long.toString(TTL.toMillis())).thenApply(reply -> ((Long) reply.get(0)) == 1);
    }

    /** Deletes {@code lease} (and its marker) if it is still this replica's. */
    CompletableFuture<List<Object>> release(Mine lease) {
        return redis.eval(RELEASE, keys(lease.digest()), lease.value());
    }

    private static String[] keys(Digest digest) {
        return new String[] {"wharf:fill:" + digest, "wharf:filling:" + digest};
    }
}

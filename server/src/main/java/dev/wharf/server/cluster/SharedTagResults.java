package dev.wharf.server.cluster;

import dev.wharf.server.pullthrough.SharedTags;
import dev.wharf.storage.Digest;
import dev.wharf.storage.TagEntry;
import java.time.Clock;
import java.time.Duration;
import java.time.Instant;
import java.util.Optional;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.Executor;
import java.util.concurrent.ScheduledExecutorService;
import java.util.concurrent.TimeUnit;

/**
 * Tag revalidations in Redis: {@code wharf:tag:<project>/<repository>:<tag>} holds what a replica's upstream said
 * ({@code digest}, media type, fetched-at, the internal address of the publisher if it holds the body, size) and
 * expires with the tag's TTL. A
 * replica that finds none takes {@code wharf:tagrv:<key>} (NX, {@link #REVALIDATION_LEASE}) and asks its upstream;
 * the others wait up to {@link #WAIT} for its answer, then ask theirs. Redis down: nothing shared, nothing waited.
 *
 * <p>Threading: Redis futures complete on Lettuce's event loops; answers are handed on through {@code executor}.
 */
final class SharedTagResults implements SharedTags {
    static final Duration REVALIDATION_LEASE = Duration.ofSeconds(10);
    static final Duration WAIT = Duration.ofSeconds(3);
    static final Duration POLL = Duration.ofMillis(100);

    private final RedisLink redis;
    private final PeerClient peers;
    private final String advertise;
    private final Executor executor;
    private final ScheduledExecutorService scheduler;
    private final Clock clock;

    SharedTagResults(RedisLink redis, PeerClient peers, String advertise, Executor executor,
                     ScheduledExecutorService scheduler, Clock clock) {
        this.redis = redis;
        this.peers = peers;
        this.advertise = advertise;
        this.executor = executor;
        this.scheduler = scheduler;
        this.clock = clock;
    }

    @Override
    public CompletableFuture<Optional<Shared>> find(String tagKey) {
        if (!redis.up()) {
            return CompletableFuture.completedFuture(Optional.empty());
        }
        return redis.get("wharf:tag:" + tagKey).thenCompose(value -> {
            Optional<Shared> found = parse(value);
            if (found.isPresent()) {
                return CompletableFuture.completedFuture(found);
            }
            return redis.set("wharf:tagrv:" + tagKey, advertise, REVALIDATION_LEASE.toMillis(), true)
                    .thenCompose(mine -> mine ? CompletableFuture.completedFuture(Optional.<Shared>empty())
                            : await(tagKey, System.nanoTime() + WAIT.toNanos()));
        }).exceptionally(t -> Optional.empty()).thenApplyAsync(x -> x, executor);
    }

    /** Polls for the answer of the replica revalidating the tag, until {@code deadline}. */
    private CompletableFuture<Optional<Shared>> await(String tagKey, long deadline) {
        CompletableFuture<Optional<Shared>> out = new CompletableFuture<>();
        scheduler.schedule(() -> redis.get("wharf:tag:" + tagKey).whenComplete((value, err) -> {
            Optional<Shared> found = err == null ? parse(value) : Optional.empty();
            if (found.isPresent() || err != null || System.nanoTime() - deadline > 0) {
                out.complete(found);
            } else {
                await(tagKey, deadline).whenComplete((v, e) -> out.complete(e == null ? v : Optional.empty()));
            }
        }), POLL.toMillis(), TimeUnit.MILLISECONDS);
        return out;
    }

    @Override
    public void publish(String tagKey, TagEntry entry, long size, boolean holdsBody, Duration ttl) {
        long left = ttl.minus(Duration.between(entry.fetchedAt(), clock.instant())).toMillis();
        if (left <= 0 || !redis.up()) {
            return;
        }
        String value = entry.digest() + "\n" + entry.mediaType() + "\n" + entry.fetchedAt().toEpochMilli() + "\n"
                + (holdsBody ? advertise : "") + "\n" + size;
        redis.set("wharf:tag:" + tagKey, value, left, false).exceptionally(t -> false);
    }

    @Override
    public CompletableFuture<byte[]> body(Shared shared) {
        if (shared.publisher() == null) {
            return CompletableFuture.failedFuture(new IllegalStateException("the publisher of " + shared.digest()
                    + " answered a HEAD and holds no body"));
        }
        return peers.manifest(shared.publisher(), shared.digest());
    }

    /** A published value, or empty when absent or unreadable (then the replica asks its own upstream). */
    static Optional<Shared> parse(String value) {
        if (value == null) {
            return Optional.empty();
        }
        String[] parts = value.split("\n", -1);
        if (parts.length != 5) {
            return Optional.empty();
        }
        try {
            long size = Long.parseLong(parts[4]);
            if (size < 0) {
                return Optional.empty();
            }
            return Optional.of(new Shared(Digest.parse(parts[0]), parts[1],
                    Instant.ofEpochMilli(Long.parseLong(parts[2])), size, parts[3].isEmpty() ? null : parts[3]));
        } catch (IllegalArgumentException e) {
            return Optional.empty();
        }
    }
}

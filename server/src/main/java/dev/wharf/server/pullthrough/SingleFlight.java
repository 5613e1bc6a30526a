package dev.wharf.server.pullthrough;

import dev.wharf.server.api.Failures;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.ConcurrentHashMap;
import java.util.function.Supplier;

/**
 * Concurrent callers with the same key share one call: the first runs it, the others get its future.
 *
 * <p>Concurrency: the first caller wins {@code putIfAbsent} with its own future and removes it when the call
 * completes, so a later caller starts a fresh call. Removal is {@code remove(key, future)}, so a completed call can
 * never remove its successor. The call runs outside the map, so a slow call never blocks other keys.
 */
public final class SingleFlight<K, V> {
    private final ConcurrentHashMap<K, CompletableFuture<V>> inflight = new ConcurrentHashMap<>();

    /** The running call for {@code key}, or {@code call} started now. */
    public CompletableFuture<V> run(K key, Supplier<CompletableFuture<V>> call) {
        CompletableFuture<V> mine = new CompletableFuture<>();
        CompletableFuture<V> existing = inflight.putIfAbsent(key, mine);
        if (existing != null) {
            return existing;
        }
        try {
            call.get().whenComplete((v, err) -> {
                inflight.remove(key, mine);
                if (err != null) {
                    mine.completeExceptionally(Failures.unwrap(err));
                } else {
                    mine.complete(v);
                }
            });
        } catch (RuntimeException e) {
            inflight.remove(key, mine);
            mine.completeExceptionally(e);
        }
        return mine;
    }
}

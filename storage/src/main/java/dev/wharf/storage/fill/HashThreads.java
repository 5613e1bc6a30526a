package dev.wharf.storage.fill;

import java.util.concurrent.Executor;
import java.util.concurrent.LinkedBlockingQueue;
import java.util.concurrent.ThreadFactory;
import java.util.concurrent.ThreadPoolExecutor;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.atomic.AtomicInteger;

/**
 * The threads that compute the fills' digests: as many as there are cores (hashing is CPU-bound; more would only
 * take turns), daemon, and gone after a minute idle, so the pool needs no shutdown. The queue holds at most one task
 * per running fill ({@link FillHasher} submits only when it goes from idle to busy), so it is bounded by the fills in
 * flight though it has no capacity of its own.
 */
final class HashThreads {
    static final Executor SHARED = create();

    private HashThreads() {
    }

    private static Executor create() {
        int n = Math.max(1, Runtime.getRuntime().availableProcessors());
        AtomicInteger count = new AtomicInteger();
        ThreadFactory factory = r -> {
            Thread t = new Thread(r, "wharf-hash-" + count.incrementAndGet());
            t.setDaemon(true);
            return t;
        };
        ThreadPoolExecutor pool = new ThreadPoolExecutor(n, n, 60, TimeUnit.SECONDS, new LinkedBlockingQueue<>(),
                factory);
        pool.allowCoreThreadTimeOut(true);
        return pool;
    }
}

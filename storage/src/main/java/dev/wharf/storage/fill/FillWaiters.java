package dev.wharf.storage.fill;

import java.util.ArrayList;
import java.util.Comparator;
import java.util.List;
import java.util.PriorityQueue;
import java.util.function.LongSupplier;

/**
 * The readers of one fill waiting for bytes beyond an offset, woken in offset order as the drainer appends, and all
 * at once when the fill ends. Concurrency: guarded by the fill's lock (shared, not its own). A reader waits only if,
 * under that lock, {@code available <= offset} and not {@code done}; the drainer publishes {@code available} (or sets
 * {@code done}) before it takes the lock to collect, so either the reader sees the new value and runs at once, or
 * its waiter is queued when the drainer collects: no lost wake-up. Each waiter leaves the queue exactly once, under
 * the lock, and runs outside it (callbacks may re-enter the fill).
 */
final class FillWaiters {
    private record Waiter(long offset, long seq, Runnable callback) {
    }

    private static final Comparator<Waiter> BY_OFFSET =
            Comparator.comparingLong(Waiter::offset).thenComparingLong(Waiter::seq);

    private final Object lock;
    // Guarded by lock.
    private final PriorityQueue<Waiter> waiters = new PriorityQueue<>(BY_OFFSET);
    private boolean done;
    private long seq;

    FillWaiters(Object lock) {
        this.lock = lock;
    }

    /** A fill that is finished from the start: every waiter runs at once. */
    void markDone() {
        synchronized (lock) {
            done = true;
        }
    }

    /** See {@link BlobFill#whenAvailable}: queues {@code callback} or runs it now. */
    void whenAvailable(long offset, LongSupplier available, Runnable callback) {
        synchronized (lock) {
            if (!done && available.getAsLong() <= offset) {
                waiters.add(new Waiter(offset, seq++, callback));
                return;
            }
        }
        BlobFill.runQuietly(callback, "waiter");
    }

    /** Runs the waiters below {@code availableNow}. Drainer only, after publishing {@code available}. */
    void wakeUpTo(long availableNow) {
        List<Runnable> ready = null;
        synchronized (lock) {
            while (!waiters.isEmpty() && waiters.peek().offset() < availableNow) {
                if (ready == null) {
                    ready = new ArrayList<>();
                }
                ready.add(waiters.poll().callback());
            }
        }
        runAll(ready);
    }

    /** The fill is done: no one waits from now on, and every waiter runs. */
    void wakeAll() {
        List<Runnable> ready = new ArrayList<>();
        synchronized (lock) {
            done = true;
            Waiter waiter;
            while ((waiter = waiters.poll()) != null) {
                ready.add(waiter.callback());
            }
        }
        runAll(ready);
    }

    private static void runAll(List<Runnable> callbacks) {
        if (callbacks != null) {
            for (Runnable callback : callbacks) {
                BlobFill.runQuietly(callback, "waiter");
            }
        }
    }
}

package dev.wharf.server.upstream;

import java.time.Duration;
import java.util.function.LongSupplier;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

/**
 * One upstream endpoint's circuit breaker: after {@code threshold} consecutive failures (connection error, 5xx,
 * 429) the endpoint is skipped for {@code openFor}; then one request may try it (half-open). Its success closes the
 * breaker, its failure opens it for another {@code openFor}. Transitions are logged.
 *
 * <p>Concurrency: every request of the project meets here, on many event loops at once. All state is guarded by
 * {@code this}; each method is a few comparisons and writes and never blocks, so the lock is held for nanoseconds
 * once or twice per upstream request. Half-open lets exactly one request through: {@link #tryAcquire} hands out the
 * trial under the lock and refuses others until that trial reports. A trial that never reports (its caller vanished)
 * would keep the endpoint skipped forever, so a trial older than {@code openFor} is given up and another may start.
 * Reports of requests that began before a transition (a slow success arriving after the breaker opened) still
 * count: a success from the endpoint is evidence it works, whenever it was asked.
 */
public final class CircuitBreaker {
    private static final Logger LOG = LoggerFactory.getLogger(CircuitBreaker.class);

    /** Consecutive failures that open the breaker. */
    public static final int DEFAULT_THRESHOLD = 3;
    /** How long an open breaker skips its endpoint before a trial request. */
    public static final Duration DEFAULT_OPEN_FOR = Duration.ofSeconds(30);

    /** Where the breaker stands. */
    public enum State { CLOSED, OPEN, HALF_OPEN }

    private final String name;
    private final int threshold;
    private final long openForNanos;
    private final LongSupplier nanoTime;

    private State state = State.CLOSED;
    private int failures;
    /** OPEN: when the trial may start; HALF_OPEN: when the trial in flight is given up. */
    private long until;
    /** The last failure's reason and wall-clock time (for status pages), or null if none yet. */
    private String lastError;
    private java.time.Instant lastErrorAt;

    /** A breaker with the defaults (3 failures, 30 s), on the system clock. */
    public CircuitBreaker(String name) {
        this(name, DEFAULT_THRESHOLD, DEFAULT_OPEN_FOR, System::nanoTime);
    }

    /** {@code name} appears in the log lines (the endpoint and its project, never credentials). */
    public CircuitBreaker(String name, int threshold, Duration openFor, LongSupplier nanoTime) {
        if (threshold < 1 || openFor.isNegative() || openFor.isZero()) {
            throw new IllegalArgumentException("threshold >= 1 and a positive openFor are required");
        }
        this.name = name;
        this.threshold = threshold;
        this.openForNanos = openFor.toNanos();
        this.nanoTime = nanoTime;
    }

    /**
     * Whether a request may go to this endpoint now. True when closed; when open, false until {@code openFor} has
     * passed, then true once (the half-open trial, which must be followed by {@link #success} or {@link #failure}).
     */
    public synchronized boolean tryAcquire() {
        switch (state) {
            case CLOSED:
                return true;
            case OPEN:
                if (nanoTime.getAsLong() - until < 0) {
                    return false;
                }
                state = State.HALF_OPEN;
                until = nanoTime.getAsLong() + openForNanos;
                LOG.info("{}: trying it again after {} s (circuit half-open)", name, openForNanos / 1_000_000_000L);
                return true;
            case HALF_OPEN:
                if (nanoTime.getAsLong() - until < 0) {
                    return false; // the trial is still out
                }
                until = nanoTime.getAsLong() + openForNanos;
                LOG.info("{}: the trial request never reported; trying again", name);
                return true;
            default:
                throw new IllegalStateException(state.toString());
        }
    }

    /** The endpoint answered (anything but 5xx or 429). */
    public synchronized void success() {
        if (state != State.CLOSED) {
            LOG.info("{}: answering again; using it (circuit closed)", name);
        }
        state = State.CLOSED;
        failures = 0;
    }

    /** The endpoint failed: no connection, a 5xx, or a 429. {@code why} goes into the log line. */
    public synchronized void failure(String why) {
        failures++;
        lastError = why;
        lastErrorAt = java.time.Instant.now();
        switch (state) {
            case CLOSED:
                if (failures >= threshold) {
                    open();
                    LOG.warn("{}: {} consecutive failures (last: {}); skipping it for {} s (circuit open)", name,
                            failures, why, openForNanos / 1_000_000_000L);
                }
                break;
            case HALF_OPEN:
                open();
                LOG.warn("{}: the trial request failed ({}); skipping it for another {} s", name, why,
                        openForNanos / 1_000_000_000L);
                break;
            case OPEN:
                break; // a request that began before the breaker opened: already counted out
            default:
                throw new IllegalStateException(state.toString());
        }
    }

    public synchronized State state() {
        return state;
    }

    /** The reason given with the last {@link #failure}, or null if this endpoint never failed. */
    public synchronized String lastError() {
        return lastError;
    }

    /** When the last {@link #failure} was counted, or null. */
    public synchronized java.time.Instant lastErrorAt() {
        return lastErrorAt;
    }

    private void open() {
        state = State.OPEN;
        until = nanoTime.getAsLong() + openForNanos;
    }

    @Override
    public synchronized String toString() {
        return "CircuitBreaker[" + name + ", " + state + ", failures=" + failures + "]";
    }
}

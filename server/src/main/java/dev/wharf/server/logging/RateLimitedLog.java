package dev.wharf.server.logging;

import java.time.Duration;
import java.util.Map;
import java.util.concurrent.ConcurrentHashMap;
import java.util.function.LongSupplier;
import org.slf4j.Logger;
import org.slf4j.helpers.FormattingTuple;
import org.slf4j.helpers.MessageFormatter;

/**
 * A WARN that a client can trigger at will (random digests, a scanner) must not write one line per request: per key,
 * the first occurrence is logged, then at most one line per interval, which says how many similar lines it stood
 * for ("N similar messages suppressed"). Keys name a kind of event (say, the project and the failure's type), never
 * a digest or a client's input: at most {@link #MAX_KEYS} are tracked, and past that every key shares one budget.
 *
 * <p>Thread safety: {@link ConcurrentHashMap#compute} decides per key, atomically, whether a line is written; the
 * write itself happens outside the map.
 */
public final class RateLimitedLog {
    /** How many keys get their own budget; beyond, they share one. */
    static final int MAX_KEYS = 1024;
    private static final String OVERFLOW = "(other)";

    private final Logger log;
    private final long intervalNanos;
    private final LongSupplier nanoTime;
    private final Map<String, Window> windows = new ConcurrentHashMap<>();

    /** Logs through {@code log}, each key at most once a minute after its first line. */
    public RateLimitedLog(Logger log) {
        this(log, Duration.ofMinutes(1), System::nanoTime);
    }

    /** For tests: the interval and the clock. */
    public RateLimitedLog(Logger log, Duration interval, LongSupplier nanoTime) {
        this.log = log;
        this.intervalNanos = interval.toNanos();
        this.nanoTime = nanoTime;
    }

    /** One window of one key: when it started and what it held back. */
    private record Window(long startedNanos, long suppressed, boolean write, long reported) {
    }

    /** A WARN line, {@code format} and {@code args} as for SLF4J, rate-limited under {@code key}. */
    public void warn(String key, String format, Object... args) {
        if (log.isWarnEnabled()) {
            write(false, key, format, args);
        }
    }

    /**
     * An ERROR line, rate-limited under {@code key}; a trailing {@link Throwable} in {@code args} is logged with its
     * stack trace, as SLF4J does, on the lines that are written.
     */
    public void error(String key, String format, Object... args) {
        if (log.isErrorEnabled()) {
            write(true, key, format, args);
        }
    }

    private void write(boolean error, String key, String format, Object... args) {
        String k = windows.size() >= MAX_KEYS && !windows.containsKey(key) ? OVERFLOW : key;
        long now = nanoTime.getAsLong();
        Window w = windows.compute(k, (ignored, old) -> {
            if (old == null || now - old.startedNanos() >= intervalNanos) {
                return new Window(now, 0, true, old == null ? 0 : old.suppressed());
            }
            return new Window(old.startedNanos(), old.suppressed() + 1, false, 0);
        });
        if (!w.write()) {
            return;
        }
        FormattingTuple formatted = MessageFormatter.arrayFormat(format, args);
        String line = formatted.getMessage();
        if (w.reported() > 0) {
            line += " (" + w.reported() + " similar message" + (w.reported() == 1 ? "" : "s")
                    + " suppressed in the last " + intervalNanos / 1_000_000_000L + " s)";
        }
        if (error) {
            log.error(line, formatted.getThrowable());
        } else if (formatted.getThrowable() != null) {
            log.warn(line, formatted.getThrowable());
        } else {
            log.warn(line);
        }
    }
}

package dev.wharf.server.upstream;

import io.netty.buffer.ByteBuf;
import io.netty.handler.codec.http.HttpHeaders;
import java.time.Clock;
import java.time.Duration;
import java.time.Instant;
import java.util.Map;
import java.util.Optional;
import java.util.concurrent.ConcurrentHashMap;
import java.util.function.ObjLongConsumer;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

/**
 * The pull quota each upstream reports, per project: Docker Hub's {@code RateLimit-Limit: 100;w=21600},
 * {@code RateLimit-Remaining: 76;w=21600} and {@code Docker-RateLimit-Source} (the IP or account counted), read from
 * every upstream response that carries them. The last values are kept per project; a WARN is logged when the
 * remaining count falls below 10% of the limit: once when it crosses the line, then at most once a minute while it
 * stays below.
 *
 * <p>Concurrency: responses of one project arrive on several event loops at once. The last snapshot per project is
 * a {@link ConcurrentHashMap} entry replaced whole, so a reader sees one response's values, never a mix; two
 * responses racing leave either one, which is as good (both are "recent"). The warning state per project is
 * updated inside {@code compute}, which serialises updates of one project, so a crossing is logged once even when
 * many responses cross it together. Nothing here blocks: it runs on event loops.
 */
public final class RateLimits implements UpstreamObserver {
    private static final Logger LOG = LoggerFactory.getLogger(RateLimits.class);

    /** Remaining below this fraction of the limit is logged. */
    static final double LOW_FRACTION = 0.10;
    /** While low, the warning is repeated at most this often per project. */
    static final Duration WARN_INTERVAL = Duration.ofMinutes(1);

    /**
     * What an upstream last said about its quota.
     *
     * @param limit     requests allowed per window, or -1 when not sent
     * @param remaining requests left in the window, or -1 when not sent
     * @param window    the window ({@code w=} in seconds), or null
     * @param source    {@code Docker-RateLimit-Source}, or null
     * @param at        when the response arrived
     */
    public record Snapshot(long limit, long remaining, Duration window, String source, Instant at) {
        /** Whether the remaining count is known to be below 10% of the limit. */
        public boolean low() {
            return limit > 0 && remaining >= 0 && remaining < limit * LOW_FRACTION;
        }
    }

    /** Per project: whether the last snapshot was low, and when the last warning was logged. */
    private record WarnState(boolean low, Instant lastWarned) {
    }

    private final Clock clock;
    private final ObjLongConsumer<String> remainingGauge;
    private final Map<String, Snapshot> last = new ConcurrentHashMap<>();
    private final Map<String, WarnState> warnings = new ConcurrentHashMap<>();

    /** @param remainingGauge told every new remaining count (the metrics gauge); called on event loops */
    public RateLimits(ObjLongConsumer<String> remainingGauge) {
        this(Clock.systemUTC(), remainingGauge);
    }

    RateLimits(Clock clock, ObjLongConsumer<String> remainingGauge) {
        this.clock = clock;
        this.remainingGauge = remainingGauge == null ? (p, r) -> { } : remainingGauge;
    }

    /** The last quota the project's upstream reported, if it ever did. */
    public Optional<Snapshot> last(String project) {
        return Optional.ofNullable(last.get(project));
    }

    @Override
    public ResponseListener observe(UpstreamEndpoint endpoint, UpstreamRequest request, ResponseListener listener) {
        String project = endpoint.project();
        return new ResponseListener() {
            @Override
            public void onHeaders(int status, HttpHeaders headers, Transfer transfer) {
                try {
                    record(project, headers);
                } catch (RuntimeException e) {
                    LOG.debug("cannot read rate-limit headers from project {}: {}", project, e.toString());
                }
                listener.onHeaders(status, headers, transfer);
            }

            @Override
            public void onContent(ByteBuf chunk) {
                listener.onContent(chunk);
            }

            @Override
            public void onComplete() {
                listener.onComplete();
            }

            @Override
            public void onError(Throwable cause) {
                listener.onError(cause);
            }
        };
    }

    /**
     * Reads the quota headers of one response, if any. Returns true when this call logged a warning (for tests).
     */
    boolean record(String project, HttpHeaders headers) {
        String limitHeader = headers.get("RateLimit-Limit");
        String remainingHeader = headers.get("RateLimit-Remaining");
        if (limitHeader == null && remainingHeader == null) {
            return false;
        }
        Quota limit = Quota.parse(limitHeader);
        Quota remaining = Quota.parse(remainingHeader);
        Duration window = remaining.window != null ? remaining.window : limit.window;
        String source = headers.get("Docker-RateLimit-Source");
        Snapshot s = new Snapshot(limit.count, remaining.count, window, source, clock.instant());
        last.put(project, s);
        if (s.remaining() >= 0) {
            remainingGauge.accept(project, s.remaining());
        }
        boolean[] warn = new boolean[1];
        warnings.compute(project, (p, prev) -> {
            boolean wasLow = prev != null && prev.low();
            if (!s.low()) {
                if (wasLow) {
                    LOG.info("project {}: upstream pull quota recovered: {} of {} left{}", p, s.remaining(),
                            s.limit(), describe(s));
                }
                return new WarnState(false, prev == null ? null : prev.lastWarned());
            }
            Instant lastWarned = prev == null ? null : prev.lastWarned();
            if (!wasLow || lastWarned == null || !s.at().isBefore(lastWarned.plus(WARN_INTERVAL))) {
                warn[0] = true;
                return new WarnState(true, s.at());
            }
            return new WarnState(true, lastWarned);
        });
        if (warn[0]) {
            LOG.warn("project {}: upstream pull quota is low: {} of {} requests left{}; cached content is served, "
                    + "uncached pulls will fail with 429 once it is used up", project, s.remaining(), s.limit(),
                    describe(s));
        }
        return warn[0];
    }

    private static String describe(Snapshot s) {
        StringBuilder b = new StringBuilder();
        if (s.window() != null) {
            b.append(" per ").append(human(s.window()));
        }
        if (s.source() != null) {
            b.append(" (counted for ").append(s.source()).append(')');
        }
        return b.toString();
    }

    private static String human(Duration d) {
        long sec = d.getSeconds();
        if (sec % 3600 == 0) {
            return sec / 3600 + "h";
        }
        if (sec % 60 == 0) {
            return sec / 60 + "m";
        }
        return sec + "s";
    }

    /** One {@code count[;w=seconds]} value; count -1 when absent or unreadable. */
    private record Quota(long count, Duration window) {
        static Quota parse(String header) {
            if (header == null) {
                return new Quota(-1, null);
            }
            // "100;w=21600"; a few servers send several comma-separated policies: the first is the one in force.
            String first = header.split(",", 2)[0].trim();
            String[] parts = first.split(";");
            long count = -1;
            try {
                count = Long.parseLong(parts[0].trim());
            } catch (NumberFormatException e) {
                // unreadable: unknown
            }
            Duration window = null;
            for (int i = 1; i < parts.length; i++) {
                String p = parts[i].trim();
                if (p.startsWith("w=")) {
                    try {
                        window = Duration.ofSeconds(Long.parseLong(p.substring(2).trim()));
                    } catch (NumberFormatException e) {
                        // no window then
                    }
                }
            }
            return new Quota(count < 0 ? -1 : count, window);
        }
    }
}

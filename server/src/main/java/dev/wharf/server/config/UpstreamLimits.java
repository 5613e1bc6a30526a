package dev.wharf.server.config;

import java.time.Duration;

/**
 * What wharf tolerates from an upstream (issue 8, "hostile upstreams"): how large a manifest may be, how long a tag
 * list, how long a manifest or token fetch may take in all, how slowly a blob may trickle in, and how long an idle
 * upstream connection is kept. Read from the {@code limits:} section by {@link LimitsReader}; immutable.
 *
 * @param manifestSize          largest manifest (and referrers index) read from an upstream, in bytes
 *                              ({@code limits.manifestSize}, 4 MiB, as distribution)
 * @param tags                  longest upstream tag list walked ({@code limits.tags}, 100000)
 * @param manifestDeadline      overall deadline of one manifest, tag-list page, referrers or token fetch
 *                              ({@code limits.manifestDeadline}, 60s)
 * @param minUpstreamRate       a blob transfer slower than this many bytes per second fails its fill
 *                              ({@code limits.minUpstreamRate}, 16KiB)
 * @param minUpstreamRateWindow the window the rate is measured over ({@code limits.minUpstreamRateWindow}, 30s)
 * @param upstreamIdle          an upstream connection idle in its pool this long is closed
 *                              ({@code limits.upstreamIdle}, 60s)
 * @param upstreamConnections   connections open at once to one upstream origin (scheme, host, port); further
 *                              requests wait for one ({@code limits.upstreamConnections}, 128)
 * @param upstreamAcquireTimeout how long a request waits for a free upstream connection before it fails
 *                              ({@code limits.upstreamAcquireTimeout}, 60s)
 */
public record UpstreamLimits(long manifestSize, int tags, Duration manifestDeadline, long minUpstreamRate,
                             Duration minUpstreamRateWindow, Duration upstreamIdle, int upstreamConnections,
                             Duration upstreamAcquireTimeout) {
    /** The defaults, used for every key the file leaves out. */
    public static final UpstreamLimits DEFAULTS = new UpstreamLimits(4L << 20, 100_000, Duration.ofSeconds(60),
            16L << 10, Duration.ofSeconds(30), Duration.ofSeconds(60), 128, Duration.ofSeconds(60));

    /**
     * The largest {@code manifestSize} the config accepts; what was stored under any setting is at most this, so
     * readers of stored manifests that know no config (the admin catalog) read up to it.
     */
    public static final int MANIFEST_SIZE_CEILING = 1 << 30;

    public UpstreamLimits {
        if (manifestSize <= 0 || manifestSize > MANIFEST_SIZE_CEILING || tags <= 0 || minUpstreamRate < 0
                || isNotPositive(manifestDeadline) || isNotPositive(minUpstreamRateWindow)
                || isNotPositive(upstreamIdle) || upstreamConnections <= 0 || isNotPositive(upstreamAcquireTimeout)) {
            throw new IllegalArgumentException("upstream limits must be positive");
        }
    }

    /** These limits with the upstream connection pool's defaults. */
    public UpstreamLimits(long manifestSize, int tags, Duration manifestDeadline, long minUpstreamRate,
                          Duration minUpstreamRateWindow, Duration upstreamIdle) {
        this(manifestSize, tags, manifestDeadline, minUpstreamRate, minUpstreamRateWindow, upstreamIdle, 128,
                Duration.ofSeconds(60));
    }

    /** These limits with another upstream connection pool: {@code connections} per origin, waits of {@code acquire}. */
    public UpstreamLimits withPool(int connections, Duration acquire) {
        return new UpstreamLimits(manifestSize, tags, manifestDeadline, minUpstreamRate, minUpstreamRateWindow,
                upstreamIdle, connections, acquire);
    }

    /** {@link #manifestSize} as an int, for the body limit of a fetch. */
    public int manifestBytes() {
        return (int) manifestSize;
    }

    private static boolean isNotPositive(Duration d) {
        return d == null || d.isNegative() || d.isZero();
    }
}

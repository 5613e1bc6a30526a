package dev.wharf.server.config;

import com.fasterxml.jackson.databind.node.ObjectNode;
import java.time.Duration;
import java.util.Set;

/**
 * Reads the {@code limits:} section: the bounds wharf puts on its upstreams ({@link UpstreamLimits}). Every key is
 * optional and defaults as {@link UpstreamLimits#DEFAULTS} says.
 */
final class LimitsReader {
    private static final Set<String> UPSTREAM_KEYS = Set.of("manifestSize", "tags", "manifestDeadline",
            "minUpstreamRate", "minUpstreamRateWindow", "upstreamIdle");

    private final ConfigReader values;

    LimitsReader(ConfigReader values) {
        this.values = values;
    }

    /** The upstream limits of the top-level mapping; the defaults when {@code limits} is absent. */
    UpstreamLimits upstream(ObjectNode top) {
        UpstreamLimits d = UpstreamLimits.DEFAULTS;
        if (!top.has("limits")) {
            return d;
        }
        ObjectNode l = values.mapping(top.get("limits"), "limits", UPSTREAM_KEYS);
        long manifestSize = d.manifestSize();
        if (l.has("manifestSize")) {
            manifestSize = values.size(l.get("manifestSize"), "limits.manifestSize");
            if (manifestSize > UpstreamLimits.MANIFEST_SIZE_CEILING) {
                throw values.fail("limits.manifestSize", "must be at most 1GiB");
            }
        }
        int tags = d.tags();
        if (l.has("tags")) {
            if (!l.get("tags").canConvertToInt() || l.get("tags").asInt() <= 0) {
                throw values.fail("limits.tags", "must be a whole number larger than 0");
            }
            tags = l.get("tags").asInt();
        }
        long rate = d.minUpstreamRate();
        if (l.has("minUpstreamRate")) {
            rate = values.size(l.get("minUpstreamRate"), "limits.minUpstreamRate");
        }
        return new UpstreamLimits(manifestSize, tags, duration(l, "manifestDeadline", d.manifestDeadline()), rate,
                duration(l, "minUpstreamRateWindow", d.minUpstreamRateWindow()),
                duration(l, "upstreamIdle", d.upstreamIdle()));
    }

    private Duration duration(ObjectNode l, String key, Duration fallback) {
        if (!l.has(key)) {
            return fallback;
        }
        Duration v = values.duration(l.get(key), "limits." + key);
        if (v.isZero()) {
            throw values.fail("limits." + key, "must be longer than 0");
        }
        return v;
    }
}

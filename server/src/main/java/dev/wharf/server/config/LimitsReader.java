package dev.wharf.server.config;

import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.node.ObjectNode;
import java.time.Duration;
import java.util.Set;

/**
 * Reads the {@code limits} section: the timeouts and the connection cap that keep hostile clients in check, and
 * what wharf tolerates from upstreams ({@link UpstreamLimits}). The section and each key are optional; a missing
 * key keeps its default ({@link LimitsConfig#DEFAULTS}).
 */
final class LimitsReader {
    private static final Set<String> KEYS = Set.of("headerTimeout", "idleTimeout", "writeTimeout", "maxConnections",
            "manifestSize", "tags", "manifestDeadline", "minUpstreamRate", "minUpstreamRateWindow", "upstreamIdle",
            "upstreamConnections", "upstreamAcquireTimeout");

    private final ConfigReader values;

    LimitsReader(ConfigReader values) {
        this.values = values;
    }

    /** The {@code limits} section of the top-level mapping, or the defaults when it is absent. */
    LimitsConfig limits(ObjectNode top) {
        LimitsConfig d = LimitsConfig.DEFAULTS;
        if (!top.has("limits")) {
            return d;
        }
        ObjectNode l = values.mapping(top.get("limits"), "limits", KEYS);
        return new LimitsConfig(
                timeout(l, "headerTimeout", d.headerTimeout()),
                timeout(l, "idleTimeout", d.idleTimeout()),
                timeout(l, "writeTimeout", d.writeTimeout()),
                l.has("maxConnections") ? count(l.get("maxConnections"), "limits.maxConnections") : d.maxConnections(),
                upstream(l));
    }

    /** The upstream keys of the {@code limits} mapping. */
    private UpstreamLimits upstream(ObjectNode l) {
        UpstreamLimits d = UpstreamLimits.DEFAULTS;
        long manifestSize = d.manifestSize();
        if (l.has("manifestSize")) {
            manifestSize = values.size(l.get("manifestSize"), "limits.manifestSize");
            if (manifestSize > UpstreamLimits.MANIFEST_SIZE_CEILING) {
                throw values.fail("limits.manifestSize", "must be at most 1GiB");
            }
        }
        int tags = l.has("tags") ? count(l.get("tags"), "limits.tags") : d.tags();
        long rate = l.has("minUpstreamRate")
                ? values.size(l.get("minUpstreamRate"), "limits.minUpstreamRate") : d.minUpstreamRate();
        return new UpstreamLimits(manifestSize, tags, timeout(l, "manifestDeadline", d.manifestDeadline()), rate,
                timeout(l, "minUpstreamRateWindow", d.minUpstreamRateWindow()),
                timeout(l, "upstreamIdle", d.upstreamIdle()),
                l.has("upstreamConnections") ? count(l.get("upstreamConnections"), "limits.upstreamConnections")
                        : d.upstreamConnections(),
                timeout(l, "upstreamAcquireTimeout", d.upstreamAcquireTimeout()));
    }

    private Duration timeout(ObjectNode l, String key, Duration fallback) {
        if (!l.has(key)) {
            return fallback;
        }
        Duration d = values.duration(l.get(key), "limits." + key);
        if (d.toMillis() < 1) {
            throw values.fail("limits." + key, "must be at least 1ms");
        }
        return d;
    }

    private int count(JsonNode node, String key) {
        if (node == null || !node.canConvertToInt() || !node.isIntegralNumber() || node.asInt() < 1) {
            throw values.fail(key, "must be a whole number of at least 1");
        }
        return node.asInt();
    }
}

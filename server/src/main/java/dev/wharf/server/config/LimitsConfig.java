package dev.wharf.server.config;

import java.time.Duration;

/**
 * What wharf allows a client connection ({@code limits:}), so that a slow or hostile client cannot hold a
 * connection, a blob lease or an event loop's attention for ever. Immutable; parsed by {@link LimitsReader}.
 *
 * @param headerTimeout  a request head must be complete this long after its first byte arrived (or after the
 *                       connection opened) ({@code limits.headerTimeout}, 30s)
 * @param idleTimeout    a keep-alive connection with no request in flight is closed after this long
 *                       ({@code limits.idleTimeout}, 120s)
 * @param writeTimeout   a response whose client reads nothing for this long is aborted ({@code limits.writeTimeout},
 *                       120s)
 * @param maxConnections open client connections per listen address; beyond it a new connection gets 503 and is
 *                       closed ({@code limits.maxConnections}, 10000)
 */
public record LimitsConfig(Duration headerTimeout, Duration idleTimeout, Duration writeTimeout, int maxConnections) {
    public static final LimitsConfig DEFAULTS =
            new LimitsConfig(Duration.ofSeconds(30), Duration.ofSeconds(120), Duration.ofSeconds(120), 10_000);
}

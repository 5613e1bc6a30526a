package dev.wharf.server.config;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.time.Duration;
import org.junit.jupiter.api.Test;

/** The {@code limits:} section and the project key {@code allowPrivateRedirects} (issue 8). */
class ConfigLoaderUpstreamLimitsTest {
    @Test
    void defaultsWhenAbsent() {
        WharfConfig c = ConfigLoader.parse("projects: [{name: a, upstream: 'http://x'}]", "t");
        assertEquals(UpstreamLimits.DEFAULTS, c.upstreamLimits());
        assertEquals(4L << 20, c.upstreamLimits().manifestSize());
        assertEquals(100_000, c.upstreamLimits().tags());
        assertEquals(Duration.ofSeconds(60), c.upstreamLimits().manifestDeadline());
        assertEquals(16L << 10, c.upstreamLimits().minUpstreamRate());
        assertEquals(Duration.ofSeconds(30), c.upstreamLimits().minUpstreamRateWindow());
        assertEquals(Duration.ofSeconds(60), c.upstreamLimits().upstreamIdle());
        assertFalse(c.projects().get(0).allowPrivateRedirects());
    }

    @Test
    void everyKeyParses() {
        WharfConfig c = ConfigLoader.parse("""
                limits:
                  manifestSize: 1MiB
                  tags: 500
                  manifestDeadline: 5s
                  minUpstreamRate: 1KiB
                  minUpstreamRateWindow: 2s
                  upstreamIdle: 500ms
                  upstreamConnections: 4
                  upstreamAcquireTimeout: 2s
                projects: [{name: a, upstream: 'http://x', allowPrivateRedirects: true}]
                """, "t");
        assertEquals(new UpstreamLimits(1L << 20, 500, Duration.ofSeconds(5), 1024, Duration.ofSeconds(2),
                Duration.ofMillis(500), 4, Duration.ofSeconds(2)), c.upstreamLimits());
        assertTrue(c.projects().get(0).allowPrivateRedirects());
    }

    @Test
    void badValuesNameTheKey() {
        assertTrue(assertThrows(ConfigException.class, () -> ConfigLoader.parse("limits: {tags: 0}", "t"))
                .getMessage().contains("limits.tags"));
        assertTrue(assertThrows(ConfigException.class, () -> ConfigLoader.parse("limits: {upstreamIdle: 0s}", "t"))
                .getMessage().contains("limits.upstreamIdle"));
        assertTrue(assertThrows(ConfigException.class, () -> ConfigLoader.parse("limits: {manifestSize: 2GiB}", "t"))
                .getMessage().contains("limits.manifestSize"));
        assertTrue(assertThrows(ConfigException.class, () -> ConfigLoader.parse("limits: {upstreamConnections: 0}", "t"))
                .getMessage().contains("limits.upstreamConnections"));
        assertTrue(assertThrows(ConfigException.class,
                () -> ConfigLoader.parse("limits: {upstreamAcquireTimeout: 0s}", "t"))
                .getMessage().contains("limits.upstreamAcquireTimeout"));
        assertTrue(assertThrows(ConfigException.class, () -> ConfigLoader.parse("limits: {nope: 1}", "t"))
                .getMessage().contains("limits.nope"));
    }
}

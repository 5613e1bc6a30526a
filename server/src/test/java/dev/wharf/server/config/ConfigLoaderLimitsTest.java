package dev.wharf.server.config;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.time.Duration;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.CsvSource;

class ConfigLoaderLimitsTest {
    @Test
    void limitsParse() {
        WharfConfig c = ConfigLoader.parse("""
                limits:
                  headerTimeout: 5s
                  idleTimeout: 1m
                  writeTimeout: 1500ms
                  maxConnections: 20
                """, "t.yaml");
        assertEquals(new LimitsConfig(Duration.ofSeconds(5), Duration.ofMinutes(1), Duration.ofMillis(1500), 20),
                c.limits());
    }

    @Test
    void defaultsWhenAbsentOrPartial() {
        assertEquals(new LimitsConfig(Duration.ofSeconds(30), Duration.ofSeconds(120), Duration.ofSeconds(120), 10_000),
                ConfigLoader.parse("listen: 127.0.0.1:5000\n", "t.yaml").limits());
        LimitsConfig partial = ConfigLoader.parse("limits:\n  idleTimeout: 10s\n", "t.yaml").limits();
        assertEquals(Duration.ofSeconds(10), partial.idleTimeout());
        assertEquals(Duration.ofSeconds(30), partial.headerTimeout());
        assertEquals(10_000, partial.maxConnections());
        assertEquals(LimitsConfig.DEFAULTS, ConfigLoader.defaults().limits());
    }

    @ParameterizedTest
    @CsvSource(delimiter = '|', value = {
            "limits:\\n  headerTimeot: 5s|limits.headerTimeot",
            "limits:\\n  headerTimeout: soon|limits.headerTimeout",
            "limits:\\n  idleTimeout: 0s|limits.idleTimeout",
            "limits:\\n  writeTimeout: [1s]|limits.writeTimeout",
            "limits:\\n  maxConnections: 0|limits.maxConnections",
            "limits:\\n  maxConnections: many|limits.maxConnections",
            "limits:\\n  maxConnections: 1.5|limits.maxConnections",
            "limits: 5|limits"})
    void badLimitsStopStartUpNamingKeyAndFile(String yaml, String key) {
        ConfigException e = assertThrows(ConfigException.class,
                () -> ConfigLoader.parse(yaml.replace("\\n", "\n"), "bad.yaml"));
        assertTrue(e.getMessage().contains("'" + key + "'") && e.getMessage().contains("bad.yaml"), e.getMessage());
    }
}

package dev.wharf.fuzz;

import com.code_intelligence.jazzer.junit.FuzzTest;
import dev.wharf.server.config.ConfigException;
import dev.wharf.server.config.ConfigLoader;
import java.nio.charset.StandardCharsets;
import java.util.concurrent.TimeUnit;
import org.junit.jupiter.api.Timeout;

/** wharf's YAML config: a config, or a {@link ConfigException} naming what is wrong, for any text. */
class ConfigFuzzTest {
    @FuzzTest(maxDuration = "5s")
    @Timeout(value = 60, unit = TimeUnit.SECONDS)
    void configYaml(byte[] input) {
        String yaml = new String(input, StandardCharsets.UTF_8);
        try {
            ConfigLoader.parse(yaml, "fuzz", name -> name.startsWith("WHARF_") ? "x" : null);
        } catch (ConfigException expected) {
            // an invalid config, said so
        }
    }
}

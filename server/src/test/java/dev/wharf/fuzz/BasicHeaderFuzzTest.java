package dev.wharf.fuzz;

import static org.junit.jupiter.api.Assertions.assertNotNull;
import static org.junit.jupiter.api.Assertions.assertTrue;
import static org.junit.jupiter.api.Assertions.fail;

import com.code_intelligence.jazzer.junit.FuzzTest;
import dev.wharf.auth.access.AccessTokens;
import dev.wharf.auth.access.BasicCredentials;
import dev.wharf.auth.access.Scope;
import dev.wharf.auth.access.TokenKey;
import java.io.IOException;
import java.io.UncheckedIOException;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.time.Clock;
import java.time.Duration;
import java.util.List;
import java.util.concurrent.TimeUnit;
import org.junit.jupiter.api.Timeout;

/** {@code Authorization: Basic} values: malformed ones are empty, never thrown; toString never shows the password. */
class BasicHeaderFuzzTest {
    @FuzzTest(maxDuration = "2s")
    @Timeout(value = 60, unit = TimeUnit.SECONDS)
    void basicHeaders(byte[] input) {
        String text = new String(input, StandardCharsets.ISO_8859_1);
        BasicCredentials.parse(text).ifPresent(c -> {
            assertNotNull(c.password());
            assertTrue(!c.user().isEmpty() && c.user().indexOf(':') < 0, "user " + c.user());
            assertTrue(c.toString().endsWith("password=***]"), "toString hides the password");
        });
        BasicCredentials.parse("Basic " + java.util.Base64.getEncoder().encodeToString(input));
    }
}

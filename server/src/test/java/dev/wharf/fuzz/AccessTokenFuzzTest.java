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

/** Bearer tokens: whatever the fuzzer makes is refused ({@link AccessTokens.Refused}), never thrown otherwise and never accepted: only wharf's key signs. */
class AccessTokenFuzzTest {
    private static final AccessTokens TOKENS = tokens();

    private static AccessTokens tokens() {
        try {
            Path dir = Files.createTempDirectory("wharf-fuzz-key");
            return new AccessTokens(TokenKey.readOrGenerate(dir.resolve("key.pem")), "wharf", Duration.ofMinutes(5),
                    Clock.systemUTC());
        } catch (IOException e) {
            throw new UncheckedIOException(e);
        }
    }

    @FuzzTest(maxDuration = "2s")
    @Timeout(value = 60, unit = TimeUnit.SECONDS)
    void bearerTokens(byte[] input) {
        String text = new String(input, StandardCharsets.UTF_8);
        try {
            TOKENS.verify(text);
            fail("a token not signed by wharf's key was accepted");
        } catch (AccessTokens.Refused expected) {
            assertNotNull(expected.getMessage());
        }
    }
}

package dev.wharf.fuzz;

import static org.junit.jupiter.api.Assertions.assertNotNull;

import com.code_intelligence.jazzer.junit.FuzzTest;
import dev.wharf.auth.upstream.Challenge;
import java.nio.charset.StandardCharsets;
import java.util.List;
import java.util.concurrent.TimeUnit;
import org.junit.jupiter.api.Timeout;

/** {@code WWW-Authenticate} values from an upstream: malformed parts are skipped, never thrown. */
class ChallengeFuzzTest {
    @FuzzTest(maxDuration = "2s")
    @Timeout(value = 60, unit = TimeUnit.SECONDS)
    void challenges(byte[] input) {
        String text = new String(input, StandardCharsets.ISO_8859_1);
        List<Challenge> parsed = Challenge.parse(text);
        for (Challenge c : parsed) {
            assertNotNull(c.scheme());
            assertNotNull(c.params());
        }
        Challenge.parseAll(List.of(text, text));
    }
}

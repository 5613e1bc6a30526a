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

/** Token-request scopes: only well-formed repository scopes are kept; nothing else is thrown but too many. */
class TokenScopeFuzzTest {
    @FuzzTest(maxDuration = "2s")
    @Timeout(value = 60, unit = TimeUnit.SECONDS)
    void scopes(byte[] input) {
        String text = new String(input, StandardCharsets.UTF_8);
        try {
            for (Scope s : Scope.parseAll(List.of(text, text))) {
                assertTrue(s.type().equals("repository"), s.text());
                assertTrue(!s.name().isEmpty() && !s.name().contains(":") && !s.name().contains(".."), s.text());
                assertTrue(!s.actions().isEmpty(), s.text());
            }
        } catch (IllegalArgumentException e) {
            assertTrue(e.getMessage().startsWith("more than"), e.getMessage());
        }
    }

}

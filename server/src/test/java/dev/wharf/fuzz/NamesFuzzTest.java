package dev.wharf.fuzz;

import static org.junit.jupiter.api.Assertions.assertEquals;

import com.code_intelligence.jazzer.junit.FuzzTest;
import dev.wharf.server.api.Reference;
import dev.wharf.server.api.RegistryException;
import dev.wharf.server.api.RepositoryName;
import dev.wharf.storage.Digest;
import java.nio.charset.StandardCharsets;
import java.util.concurrent.TimeUnit;
import org.junit.jupiter.api.Timeout;

/** Repository names, references and digests from a request path: valid, or the documented error, nothing else. */
class NamesFuzzTest {
    @FuzzTest(maxDuration = "2s")
    @Timeout(value = 60, unit = TimeUnit.SECONDS)
    void namesReferencesAndDigests(byte[] input) {
        String text = new String(input, StandardCharsets.UTF_8);
        try {
            assertEquals(text, new RepositoryName(text).value());
        } catch (RegistryException expected) {
            // invalid name: 400 NAME_INVALID
        }
        try {
            Reference.parse(text);
        } catch (RegistryException expected) {
            // not a tag or digest
        }
        try {
            Digest d = Digest.parse(text);
            assertEquals(d, Digest.parse(d.toString()), "a parsed digest survives its own text");
        } catch (IllegalArgumentException expected) {
            // not a digest
        }
        Digest.looksLikeDigest(text);
    }
}

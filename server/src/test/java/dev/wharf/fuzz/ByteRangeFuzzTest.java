package dev.wharf.fuzz;

import static org.junit.jupiter.api.Assertions.assertTrue;

import com.code_intelligence.jazzer.junit.FuzzTest;
import dev.wharf.server.api.ByteRange;
import dev.wharf.server.api.RegistryException;
import java.nio.charset.StandardCharsets;
import java.util.concurrent.TimeUnit;
import org.junit.jupiter.api.Timeout;

/**
 * {@code Range} headers against a blob size. Input: the size as decimal text, a newline, then the header. A parsed
 * range always lies inside the blob and is not empty; anything else is a 416 ({@link RegistryException}).
 */
class ByteRangeFuzzTest {
    @FuzzTest(maxDuration = "2s")
    @Timeout(value = 60, unit = TimeUnit.SECONDS)
    void rangeHeaders(byte[] input) {
        String text = new String(input, StandardCharsets.UTF_8);
        int nl = text.indexOf('\n');
        long size;
        try {
            size = nl < 0 ? 1024 : Math.abs(Long.parseLong(text.substring(0, nl).trim()));
        } catch (NumberFormatException e) {
            size = text.length();
        }
        if (size < 0) {
            size = Long.MAX_VALUE; // Math.abs(Long.MIN_VALUE)
        }
        String header = nl < 0 ? text : text.substring(nl + 1);
        try {
            ByteRange r = ByteRange.parse(header, size);
            if (r != null) {
                assertTrue(0 <= r.start() && r.start() < r.end() && r.end() <= size, r + " outside " + size);
            }
        } catch (RegistryException expected) {
            // unsatisfiable or malformed: 416
        }
    }
}

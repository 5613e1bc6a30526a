package dev.wharf.server.pullthrough;

import static org.junit.jupiter.api.Assertions.assertNotNull;

import com.code_intelligence.jazzer.junit.FuzzTest;
import java.io.IOException;
import java.nio.charset.StandardCharsets;
import java.util.Arrays;
import java.util.concurrent.TimeUnit;
import org.junit.jupiter.api.Timeout;

/**
 * One page of an upstream's tag list (input: the Link header, a newline, the JSON body): tags and a next link, or
 * an IOException for a body that is not JSON; nothing else (see dev.wharf.fuzz for how fuzzing runs).
 */
class TagListsFuzzTest {
    @FuzzTest(maxDuration = "2s")
    @Timeout(value = 60, unit = TimeUnit.SECONDS)
    void tagListPages(byte[] input) {
        int nl = -1;
        for (int i = 0; i < input.length; i++) {
            if (input[i] == '\n') {
                nl = i;
                break;
            }
        }
        String link = nl < 0 ? null : new String(input, 0, nl, StandardCharsets.ISO_8859_1);
        byte[] body = nl < 0 ? input : Arrays.copyOfRange(input, nl + 1, input.length);
        try {
            TagLists.Page page = TagLists.page(body, link);
            assertNotNull(page.tags());
            page.tags().forEach(t -> assertNotNull(t));
        } catch (IOException expected) {
            // not JSON: "upstream sent a malformed tag list"
        }
    }
}

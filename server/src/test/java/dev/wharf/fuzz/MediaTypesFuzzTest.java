package dev.wharf.fuzz;

import com.code_intelligence.jazzer.junit.FuzzTest;
import dev.wharf.server.api.MediaTypes;
import java.nio.charset.StandardCharsets;
import java.util.concurrent.TimeUnit;
import org.junit.jupiter.api.Timeout;

/**
 * Manifest media-type sniffing of an upstream's body, and a client's {@code Accept} header against a media type
 * (input: the Accept value, a newline, the media type). Neither throws on any input.
 */
class MediaTypesFuzzTest {
    @FuzzTest(maxDuration = "2s")
    @Timeout(value = 60, unit = TimeUnit.SECONDS)
    void sniffAndAccepts(byte[] input) {
        MediaTypes.sniff(input);
        String text = new String(input, StandardCharsets.ISO_8859_1);
        int nl = text.indexOf('\n');
        String accept = nl < 0 ? text : text.substring(0, nl);
        String type = nl < 0 ? "application/vnd.oci.image.manifest.v1+json" : text.substring(nl + 1);
        MediaTypes.accepts(accept, type);
        MediaTypes.accepts(null, type);
        MediaTypes.isBroad(accept);
    }
}

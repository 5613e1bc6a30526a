package dev.wharf.server.api;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.util.Locale;
import java.util.Random;
import org.junit.jupiter.api.Test;

/**
 * {@link MediaTypes#accepts}, which scans the Accept header in place, answers as the split-and-compare it replaced
 * ({@link #reference}): on the headers real clients send and on 100,000 random ones built from ranges, parameters,
 * blanks, case and commas (fixed seed).
 */
class MediaTypesAcceptTest {
    private static final String OCI = "application/vnd.oci.image.manifest.v1+json";
    private static final String DOCKER = "application/vnd.docker.distribution.manifest.v2+json";

    @Test
    void headersRealClientsSend() {
        String containerd = DOCKER + ", application/vnd.docker.distribution.manifest.list.v2+json, " + OCI
                + ", application/vnd.oci.image.index.v1+json, */*";
        assertTrue(MediaTypes.accepts(containerd, OCI));
        assertTrue(MediaTypes.accepts(null, OCI));
        assertTrue(MediaTypes.accepts("  ", OCI));
        assertTrue(MediaTypes.accepts("application/*", OCI));
        assertTrue(MediaTypes.accepts("Application/VND.OCI.image.manifest.v1+json; q=0.5", OCI));
        assertFalse(MediaTypes.accepts(DOCKER, OCI));
        assertFalse(MediaTypes.accepts("text/*, " + DOCKER, OCI));
        assertFalse(MediaTypes.accepts("application/vnd.oci.image.manifest.v1+jsonx", OCI));
    }

    @Test
    void randomHeadersGetTheReferenceAnswer() {
        Random random = new Random(20261205);
        String[] ranges = {OCI, DOCKER, "*/*", "application/*", "text/*", "APPLICATION/VND.OCI.IMAGE.MANIFEST.V1+JSON",
                "application/vnd.oci.image.manifest.v1", "application", "*", "/*", "", "a/b"};
        String[] extras = {"", " ", "\t", ";q=0.9", " ; q=1", ";", ","};
        String[] types = {OCI, DOCKER, "application/vnd.oci.image.index.v1+json", "text/plain", OCI + "; charset=x"};
        for (int i = 0; i < 100_000; i++) {
            StringBuilder accept = new StringBuilder();
            int parts = 1 + random.nextInt(4);
            for (int p = 0; p < parts; p++) {
                if (p > 0) {
                    accept.append(random.nextBoolean() ? "," : ", ");
                }
                accept.append(extras[random.nextInt(extras.length)]).append(ranges[random.nextInt(ranges.length)])
                        .append(extras[random.nextInt(extras.length)]);
            }
            String type = types[random.nextInt(types.length)];
            String header = accept.toString();
            assertEquals(reference(header, type), MediaTypes.accepts(header, type), "'" + header + "' / " + type);
        }
    }

    /** The implementation before the in-place scan: split on commas, strip parameters and blanks, compare. */
    private static boolean reference(String accept, String mediaType) {
        if (accept == null || accept.isBlank()) {
            return true;
        }
        String type = base(mediaType);
        for (String part : accept.split(",")) {
            String range = base(part);
            if (range.isEmpty()) {
                continue; // an empty range matches no media type (the in-place scan skips it too)
            }
            if (range.equals("*/*") || range.equals(type)
                    || (range.endsWith("/*") && type.startsWith(range.substring(0, range.length() - 1)))) {
                return true;
            }
        }
        return false;
    }

    private static String base(String mediaRange) {
        int semi = mediaRange.indexOf(';');
        String s = semi >= 0 ? mediaRange.substring(0, semi) : mediaRange;
        return s.trim().toLowerCase(Locale.ROOT);
    }
}

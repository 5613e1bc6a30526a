package dev.wharf.server.api;

import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.ObjectMapper;
import java.io.IOException;
import java.util.Locale;

/** Content negotiation for manifests, and a manifest's media type read from its own body. */
public final class MediaTypes {
    private static final ObjectMapper JSON = new ObjectMapper();

    private MediaTypes() {
    }

    /** True if a client that sent {@code accept} takes {@code mediaType}; no Accept header takes anything. */
    public static boolean accepts(String accept, String mediaType) {
        if (accept == null || accept.isBlank()) {
            return true;
        }
        String type = base(mediaType);
        // Each comma-separated range, without its parameters and surrounding blanks, compared in place: a warm
        // manifest HEAD asks this on the event loop, and splitting the header allocated on every request.
        int n = accept.length();
        for (int i = 0; i < n; ) {
            int comma = accept.indexOf(',', i);
            int end = comma < 0 ? n : comma;
            int start = i;
            int semi = accept.indexOf(';', start);
            int e = semi >= 0 && semi < end ? semi : end;
            while (start < e && accept.charAt(start) <= ' ') {
                start++;
            }
            while (e > start && accept.charAt(e - 1) <= ' ') {
                e--;
            }
            int len = e - start;
            if (len > 0 && (len == 3 && accept.startsWith("*/*", start)
                    || len == type.length() && accept.regionMatches(true, start, type, 0, len)
                    || len >= 2 && accept.charAt(e - 1) == '*' && accept.charAt(e - 2) == '/'
                            && type.length() >= len - 1 && type.regionMatches(true, 0, accept, start, len - 1))) {
                return true;
            }
            i = end + 1;
        }
        return false;
    }

    /**
     * True if an answer to {@code accept} is what any client would get: the client takes index types (or
     * anything). Only such answers may update the tag index; an answer negotiated down to one platform's
     * manifest must not replace a multi-arch index for everyone else.
     */
    public static boolean isBroad(String accept) {
        return accepts(accept, "application/vnd.oci.image.index.v1+json")
                || accepts(accept, "application/vnd.docker.distribution.manifest.list.v2+json");
    }

    /** Media type from the manifest's own {@code mediaType} field, for upstreams that send no Content-Type. */
    public static String sniff(byte[] body) {
        try {
            JsonNode node = JSON.readTree(body);
            if (node != null && node.hasNonNull("mediaType")) {
                return node.get("mediaType").asText();
            }
            if (node != null && node.has("manifests")) {
                return "application/vnd.oci.image.index.v1+json";
            }
        } catch (IOException ignored) {
            // not JSON: fall through
        }
        return "application/vnd.oci.image.manifest.v1+json";
    }

    /** RFC 6838 section 4.2: {@code type/subtype}, each a restricted-name of at most 127 characters. */
    private static final java.util.regex.Pattern MEDIA_TYPE = java.util.regex.Pattern.compile(
            "[A-Za-z0-9][A-Za-z0-9!#$&^_.+-]{0,126}/[A-Za-z0-9][A-Za-z0-9!#$&^_.+-]{0,126}");

    /** Whether {@code type} (no parameters) is a media type by RFC 6838's syntax. */
    public static boolean isValid(String type) {
        return type != null && MEDIA_TYPE.matcher(type).matches();
    }

    /**
     * Whether a header value is printable ASCII (and tabs): anything else (non-ASCII, control characters) is never
     * passed on to a client, since it could not be sent back as a header.
     */
    public static boolean isPrintableAscii(String value) {
        for (int i = 0; i < value.length(); i++) {
            char c = value.charAt(i);
            if ((c < 0x20 && c != '\t') || c > 0x7e) {
                return false;
            }
        }
        return true;
    }

    private static String base(String mediaRange) {
        int semi = mediaRange.indexOf(';');
        String s = semi >= 0 ? mediaRange.substring(0, semi) : mediaRange;
        return s.trim().toLowerCase(Locale.ROOT);
    }
}

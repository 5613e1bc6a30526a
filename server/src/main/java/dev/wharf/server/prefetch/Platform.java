package dev.wharf.server.prefetch;

import com.fasterxml.jackson.databind.JsonNode;
import java.util.Locale;

/**
 * A platform to prefetch, {@code os/arch[/variant]} ({@code linux/amd64}, {@code linux/arm/v7}). Without a variant
 * it matches every variant of the architecture.
 */
public record Platform(String os, String architecture, String variant) {
    public Platform {
        if (os == null || os.isEmpty() || architecture == null || architecture.isEmpty()) {
            throw new IllegalArgumentException("platform needs an os and an architecture");
        }
    }

    /** Parses {@code os/arch[/variant]}. */
    public static Platform parse(String text) {
        String[] parts = text == null ? new String[0] : text.strip().toLowerCase(Locale.ROOT).split("/", -1);
        if (parts.length < 2 || parts.length > 3 || parts[0].isEmpty() || parts[1].isEmpty()
                || (parts.length == 3 && parts[2].isEmpty())) {
            throw new IllegalArgumentException("'" + text + "' is not a platform: os/arch[/variant], e.g. linux/amd64");
        }
        return new Platform(parts[0], parts[1], parts.length == 3 ? parts[2] : null);
    }

    /** True if an index entry's {@code platform} object is this platform. */
    public boolean matches(JsonNode platform) {
        if (platform == null || !platform.isObject()) {
            return false;
        }
        if (!os.equals(platform.path("os").asText()) || !architecture.equals(platform.path("architecture").asText())) {
            return false;
        }
        if (variant == null) {
            return true;
        }
        String theirs = platform.path("variant").asText("");
        // arm64 images often leave out the variant that is implied: v8.
        return variant.equals(theirs) || (theirs.isEmpty() && architecture.equals("arm64") && variant.equals("v8"));
    }

    /** The platform of an index entry, as text ({@code linux/arm64/v8}), or {@code unknown}. */
    public static String describe(JsonNode platform) {
        if (platform == null || !platform.isObject()) {
            return "unknown";
        }
        String v = platform.path("variant").asText("");
        return platform.path("os").asText("?") + "/" + platform.path("architecture").asText("?")
                + (v.isEmpty() ? "" : "/" + v);
    }

    @Override
    public String toString() {
        return os + "/" + architecture + (variant == null ? "" : "/" + variant);
    }
}

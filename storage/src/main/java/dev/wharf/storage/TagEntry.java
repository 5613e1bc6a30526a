package dev.wharf.storage;

import java.time.DateTimeException;
import java.time.Instant;
import java.util.HashMap;
import java.util.Map;
import java.util.Optional;

/** What the cache knows about one tag: the manifest it pointed at, its media type, and when the upstream last said so. */
public record TagEntry(Digest digest, String mediaType, Instant fetchedAt) {
    public TagEntry {
        if (digest == null || mediaType == null || fetchedAt == null) {
            throw new IllegalArgumentException("tag entry fields are required");
        }
    }

    /** The entry as stored (a tag file, a tag object): a version header and {@code key=value} lines. */
    public String encode() {
        return "# wharf tag v1\n"
                + "digest=" + digest + "\n"
                + "mediaType=" + mediaType + "\n"
                + "fetchedAt=" + fetchedAt + "\n";
    }

    /** Parses {@link #encode}'s text; empty if it is corrupt. */
    public static Optional<TagEntry> decode(String text) {
        Map<String, String> fields = new HashMap<>();
        for (String line : text.split("\n")) {
            if (line.isEmpty() || line.startsWith("#")) {
                continue;
            }
            int eq = line.indexOf('=');
            if (eq <= 0) {
                return Optional.empty();
            }
            fields.put(line.substring(0, eq), line.substring(eq + 1));
        }
        String digest = fields.get("digest");
        String mediaType = fields.get("mediaType");
        String fetchedAt = fields.get("fetchedAt");
        if (digest == null || mediaType == null || mediaType.isEmpty() || fetchedAt == null) {
            return Optional.empty();
        }
        try {
            return Optional.of(new TagEntry(Digest.parse(digest), mediaType, Instant.parse(fetchedAt)));
        } catch (IllegalArgumentException | DateTimeException e) {
            return Optional.empty();
        }
    }
}

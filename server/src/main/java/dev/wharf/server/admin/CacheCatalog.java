package dev.wharf.server.admin;

import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.ObjectMapper;
import dev.wharf.server.config.UpstreamLimits;
import dev.wharf.storage.ContentStore;
import dev.wharf.storage.Digest;
import dev.wharf.storage.TagEntry;
import java.io.IOException;
import java.util.ArrayList;
import java.util.HashMap;
import java.util.LinkedHashSet;
import java.util.List;
import java.util.Map;
import java.util.Optional;
import java.util.Set;

/**
 * What the cache holds for a repository, with sizes: each tag's manifest and everything it reaches that is stored
 * (for an index, the platform manifests pulled so far, their configs and layers). Sizes are bytes of stored blobs;
 * a blob shared by two tags counts once in the repository's size. "Complete" means every blob a tag reaches is
 * stored, so a pull of it needs nothing from the upstream (an index of which one platform was pulled is not).
 *
 * <p>One instance per admin request: it memoizes what each manifest reaches, which is not worth keeping longer.
 * Reads the store only; runs on the admin executor, never an event loop.
 */
public final class CacheCatalog {
    private static final ObjectMapper JSON = new ObjectMapper();

    /** A cached tag and what it reaches. */
    public record TagInfo(String name, TagEntry entry, Set<Digest> stored, boolean complete, long bytes) {
    }

    /** A repository's tags and their union. */
    public record RepositoryInfo(String name, List<TagInfo> tags, long bytes, int blobs, boolean complete) {
    }

    private record Reach(Set<Digest> stored, boolean complete) {
    }

    private final ContentStore store;
    private final Map<Digest, Reach> reached = new HashMap<>();

    public CacheCatalog(ContentStore store) {
        this.store = store;
    }

    /** The repository's tags, with sizes; empty tags list if it has none. */
    public RepositoryInfo repository(String project, String repository) throws IOException {
        List<TagInfo> tags = new ArrayList<>();
        for (String tag : store.tags(project, repository)) {
            tag(project, repository, tag).ifPresent(tags::add);
        }
        Set<Digest> union = new LinkedHashSet<>();
        boolean complete = true;
        for (TagInfo t : tags) {
            union.addAll(t.stored());
            complete &= t.complete();
        }
        return new RepositoryInfo(repository, tags, bytes(union), union.size(), complete);
    }

    /** One tag, if cached (a corrupt tag file reads as absent). */
    public Optional<TagInfo> tag(String project, String repository, String tag) {
        return store.tag(project, repository, tag).map(entry -> {
            Reach r = reach(entry.digest(), 0);
            return new TagInfo(tag, entry, r.stored(), r.complete(), bytes(r.stored()));
        });
    }

    private Reach reach(Digest digest, int depth) {
        Reach known = reached.get(digest);
        if (known != null) {
            return known;
        }
        Set<Digest> stored = new LinkedHashSet<>();
        boolean complete = true;
        Optional<byte[]> body;
        try {
            body = store.readSmall(digest, UpstreamLimits.MANIFEST_SIZE_CEILING);
        } catch (IOException e) {
            body = Optional.empty();
        }
        if (body.isEmpty()) {
            complete = false;
        } else {
            stored.add(digest);
            JsonNode json = parse(body.get());
            for (JsonNode child : json.path("manifests")) {
                Digest d = digestOf(child);
                if (d == null) {
                    continue;
                }
                if (depth >= 3) {
                    complete = false;
                    continue;
                }
                Reach r = reach(d, depth + 1);
                stored.addAll(r.stored());
                complete &= r.complete();
            }
            List<JsonNode> blobs = new ArrayList<>();
            if (json.has("config")) {
                blobs.add(json.get("config"));
            }
            json.path("layers").forEach(blobs::add);
            for (JsonNode blob : blobs) {
                Digest d = digestOf(blob);
                String type = blob.path("mediaType").asText("");
                if (d == null || type.contains("foreign") || type.contains("nondistributable")) {
                    continue;
                }
                if (store.blobSize(d).isPresent()) {
                    stored.add(d);
                } else {
                    complete = false;
                }
            }
        }
        Reach r = new Reach(stored, complete);
        reached.put(digest, r);
        return r;
    }

    private long bytes(Set<Digest> digests) {
        long sum = 0;
        for (Digest d : digests) {
            sum += store.blobSize(d).orElse(0L);
        }
        return sum;
    }

    private static JsonNode parse(byte[] body) {
        try {
            JsonNode node = JSON.readTree(body);
            return node == null ? JSON.createObjectNode() : node;
        } catch (IOException e) {
            return JSON.createObjectNode(); // a blob read through the manifest path that is not JSON reaches nothing
        }
    }

    private static Digest digestOf(JsonNode descriptor) {
        try {
            return Digest.parse(descriptor.path("digest").asText(null));
        } catch (IllegalArgumentException e) {
            return null;
        }
    }
}

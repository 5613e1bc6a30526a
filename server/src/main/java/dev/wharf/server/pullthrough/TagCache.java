package dev.wharf.server.pullthrough;

import com.github.benmanes.caffeine.cache.Cache;
import com.github.benmanes.caffeine.cache.Caffeine;
import dev.wharf.storage.Digest;
import dev.wharf.storage.Eviction;
import dev.wharf.storage.TagEntry;
import dev.wharf.storage.TagRef;
import java.util.Collection;
import java.util.Optional;
import java.util.function.Supplier;

/**
 * The manifests' memory layer in front of the store: tag entries, which manifests each project's upstream served or
 * confirmed (with their media types), and manifest bodies. It lets a warm HEAD or GET of a manifest be answered
 * without leaving the event loop. All three are bounded Caffeine caches.
 *
 * <p>Concurrency: every map is Caffeine's, safe for any thread. Writers of one tag race benignly: each writes what
 * the upstream said at that moment. Forgetting (eviction, the admin API) may race with a fetch in flight that writes
 * the entry back when it completes; that too is benign, since it writes what the upstream has just said. An evicted
 * manifest's body and links are dropped before the evictor returns, so nothing evicted is answered as cached.
 */
public final class TagCache {
    private final Cache<String, Optional<TagEntry>> tags = Caffeine.newBuilder().maximumSize(200_000).build();
    /** (project@digest) → media type, for manifests the project's upstream served or confirmed. */
    private final Cache<String, String> linkedTypes = Caffeine.newBuilder().maximumSize(200_000).build();
    private final Cache<Digest, byte[]> bodies = Caffeine.newBuilder()
            .maximumWeight(128L << 20).weigher((Digest d, byte[] b) -> b.length + 64).build();

    /** The key of one tag of one repository in one project. */
    static String tagKey(String project, String repository, String tag) {
        return project + "/" + repository + ":" + tag;
    }

    /** The cached entry, or null when this tag is not in memory (empty: known to be absent). */
    Optional<TagEntry> tagIfPresent(String key) {
        return tags.getIfPresent(key);
    }

    /** The entry, loaded with {@code loader} (which reads the store) when it is not in memory. */
    Optional<TagEntry> tag(String key, Supplier<Optional<TagEntry>> loader) {
        return tags.get(key, k -> loader.get());
    }

    void putTag(String key, TagEntry entry) {
        tags.put(key, Optional.of(entry));
    }

    /** Remembers that the tag is gone upstream. */
    void absent(String key) {
        tags.put(key, Optional.empty());
    }

    /** The media type of {@code digest} if {@code project}'s upstream served or confirmed it, else null. */
    String linkedType(String project, Digest digest) {
        return linkedTypes.getIfPresent(project + "@" + digest);
    }

    void linked(String project, Digest digest, String mediaType) {
        linkedTypes.put(project + "@" + digest, mediaType);
    }

    byte[] body(Digest digest) {
        return bodies.getIfPresent(digest);
    }

    void body(Digest digest, byte[] body) {
        bodies.put(digest, body);
    }

    /**
     * Forgets a blob the store evicted or quarantined: its body, every project's link to it, and the tags that went
     * with it, so nothing evicted is answered from memory as if it were still cached. {@code projects} are the
     * store's project names, or null when they could not be listed (then every link to the digest is dropped by a
     * scan). A tag cached in memory without its file still names the digest, but its body is gone from memory and
     * disk, so it is fetched again, never served stale.
     */
    public void evicted(Eviction eviction, Collection<String> projects) {
        Digest digest = eviction.digest();
        bodies.invalidate(digest);
        if (projects != null) {
            for (String project : projects) {
                linkedTypes.invalidate(project + "@" + digest);
            }
        } else {
            String suffix = "@" + digest;
            linkedTypes.asMap().keySet().removeIf(k -> k.endsWith(suffix));
        }
        tagsDeleted(eviction.removedTags());
    }

    /** Forgets tag entries deleted from the store (with an evicted manifest, or by the admin API). */
    public void tagsDeleted(Collection<TagRef> removed) {
        for (TagRef ref : removed) {
            tags.invalidate(tagKey(ref.project(), ref.repository(), ref.tag()));
        }
    }

    /**
     * Drops the in-memory tag entries of {@code repository} (the name as stored, {@code library/} included) in
     * {@code project}: one {@code tag}, or all of them when it is null. The admin API calls this after deleting the
     * tags from the store, so a deleted tag is not answered from memory.
     */
    public void forgetTags(String project, String repository, String tag) {
        if (tag != null) {
            tags.invalidate(tagKey(project, repository, tag));
            return;
        }
        String prefix = project + "/" + repository + ":";
        tags.asMap().keySet().removeIf(k -> k.startsWith(prefix));
    }
}

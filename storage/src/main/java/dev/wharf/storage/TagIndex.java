package dev.wharf.storage;

import java.util.ArrayList;
import java.util.List;
import java.util.Map;
import java.util.Optional;
import java.util.Set;
import java.util.concurrent.ConcurrentHashMap;

/**
 * The tag files of a {@link ContentStore} in memory: tag → digest, and its reverse, digest → tags, so evicting a
 * manifest finds the tags that point at it without walking {@code projects/}. Rebuilt at start-up by reading every
 * tag file; kept current by the store's tag writes and deletes.
 *
 * <p>Concurrency: the store serialises the writers of one tag (its per-tag stripe lock around the file write and
 * the call here), so the forward and reverse maps of one tag change in a fixed order. The reverse sets are changed
 * only inside {@code compute} on their digest's key, which is atomic per key, and a set that becomes empty leaves
 * the map in the same step. Readers get snapshots.
 */
final class TagIndex {
    private final ConcurrentHashMap<TagRef, Digest> targets = new ConcurrentHashMap<>();
    private final ConcurrentHashMap<Digest, Set<TagRef>> byDigest = new ConcurrentHashMap<>();

    /** {@code ref} now points at {@code digest}. */
    void put(TagRef ref, Digest digest) {
        Digest old = targets.put(ref, digest);
        if (old != null && !old.equals(digest)) {
            unlink(old, ref);
        }
        byDigest.compute(digest, (d, set) -> {
            Set<TagRef> s = set != null ? set : ConcurrentHashMap.newKeySet();
            s.add(ref);
            return s;
        });
    }

    /** Forgets {@code ref}; returns the digest it pointed at. */
    Optional<Digest> remove(TagRef ref) {
        Digest old = targets.remove(ref);
        if (old != null) {
            unlink(old, ref);
        }
        return Optional.ofNullable(old);
    }

    /** The digest {@code ref} points at, if known. */
    Optional<Digest> target(TagRef ref) {
        return Optional.ofNullable(targets.get(ref));
    }

    /** The tags pointing at {@code digest} (a snapshot). */
    List<TagRef> pointingAt(Digest digest) {
        Set<TagRef> set = byDigest.get(digest);
        return set == null ? List.of() : new ArrayList<>(set);
    }

    /** Every known tag and its digest (a snapshot). */
    Map<TagRef, Digest> all() {
        return Map.copyOf(targets);
    }

    int size() {
        return targets.size();
    }

    private void unlink(Digest digest, TagRef ref) {
        byDigest.computeIfPresent(digest, (d, set) -> {
            set.remove(ref);
            return set.isEmpty() ? null : set;
        });
    }
}

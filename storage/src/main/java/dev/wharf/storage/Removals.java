package dev.wharf.storage;

import java.io.IOException;
import java.time.Instant;
import java.util.ArrayList;
import java.util.List;
import java.util.Optional;
import java.util.concurrent.atomic.LongAdder;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

/**
 * Takes one blob out of the store (eviction, admin delete) with what hangs on it, its tags and every project's
 * link, and counts what left per {@link Eviction.Reason}; quarantines are counted here too. The {@link Evictor}
 * decides what goes; this class only removes. Concurrency: each removal holds the digest's stripe lock, so it never
 * interleaves with a commit of the same name; the index's monitor decides between it and a pin (see BlobIndex).
 */
final class Removals {
    private static final Logger log = LoggerFactory.getLogger(ContentStore.class);

    private final BlobIndex index;
    private final TagIndex tagIndex;
    private final StripeLocks locks;
    private final BlobStore blobs;
    private final TagStore tags;
    private final LinkStore links;
    private final Listeners listeners;
    private final LongAdder[] evictedBlobs = adders(Eviction.Reason.values().length);
    private final LongAdder[] evictedBytes = adders(Eviction.Reason.values().length);

    Removals(BlobIndex index, TagIndex tagIndex, StripeLocks locks, BlobStore blobs, TagStore tags, LinkStore links,
             Listeners listeners) {
        this.index = index;
        this.tagIndex = tagIndex;
        this.locks = locks;
        this.blobs = blobs;
        this.tags = tags;
        this.links = links;
        this.listeners = listeners;
    }

    /**
     * See {@link ContentStore#evict}. Tags first, then links, then the file: a delete, never a truncation, so a crash
     * leaves the whole file or none, and a crash half-way leaves a blob that is merely less linked.
     */
    Optional<Eviction> evict(Digest digest, Eviction.Reason reason, Instant usedBefore) {
        long before = usedBefore.isAfter(Instant.ofEpochMilli(Long.MAX_VALUE / 2)) ? Long.MAX_VALUE
                : usedBefore.toEpochMilli();
        Eviction eviction;
        synchronized (locks.digest(digest)) {
            BlobIndex.Entry e = index.beginEvict(digest, before);
            if (e == null) {
                return Optional.empty();
            }
            List<TagRef> removedTags = deleteTagsPointingAt(digest);
            links.deleteAll(digest);
            try {
                blobs.delete(digest);
            } catch (IOException ex) {
                log.warn("cannot delete blob {} for eviction: {}", digest, ex.toString());
                index.finishEvict(e);
                index.committed(digest, e.size, e.lastAccess); // still there: keep counting it
                return Optional.empty();
            }
            index.finishEvict(e);
            eviction = new Eviction(digest, e.size, reason, removedTags);
        }
        record(eviction);
        return Optional.of(eviction);
    }

    /** Deletes the tags that point at {@code digest}; the caller holds the digest's stripe lock. */
    List<TagRef> deleteTagsPointingAt(Digest digest) {
        List<TagRef> removed = new ArrayList<>();
        for (TagRef ref : tagIndex.pointingAt(digest)) {
            synchronized (locks.tag(ref)) {
                if (!tagIndex.target(ref).map(digest::equals).orElse(false)) {
                    continue; // re-pointed meanwhile
                }
                try {
                    tags.delete(ref);
                    tagIndex.remove(ref);
                    removed.add(ref);
                } catch (IOException e) {
                    log.warn("cannot delete tag {} of evicted manifest {}: {}", ref, digest, e.toString());
                }
            }
        }
        return removed;
    }

    /** Counts a blob that left the store and tells the listeners. */
    void record(Eviction eviction) {
        evictedBlobs[eviction.reason().ordinal()].increment();
        evictedBytes[eviction.reason().ordinal()].add(eviction.size());
        listeners.evicted(eviction);
    }

    long count(Eviction.Reason reason) {
        return evictedBlobs[reason.ordinal()].sum();
    }

    long bytes(Eviction.Reason reason) {
        return evictedBytes[reason.ordinal()].sum();
    }

    private static LongAdder[] adders(int n) {
        LongAdder[] adders = new LongAdder[n];
        for (int i = 0; i < n; i++) {
            adders[i] = new LongAdder();
        }
        return adders;
    }
}

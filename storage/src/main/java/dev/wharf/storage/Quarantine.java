package dev.wharf.storage;

import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.NoSuchFileException;
import java.nio.file.Path;
import java.util.List;
import java.util.Optional;
import java.util.UUID;
import java.util.function.ObjLongConsumer;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

/**
 * Blobs whose bytes failed verification, moved to {@code quarantine/<alg>/<hex>.<millis>-<id>} where nothing serves
 * them, and blobs that vanished from blobs/ behind the store's back. Each move is one atomic rename under the
 * digest's stripe lock, so a reader sees the old file or none, and a commit of the same name never interleaves.
 */
final class Quarantine {
    private static final Logger log = LoggerFactory.getLogger(ContentStore.class);

    private final StoreLayout layout;
    private final FileBlobStore blobs;
    private final BlobIndex index;
    private final StripeLocks locks;
    private final Removals removals;
    private final ObjLongConsumer<Digest> committed;

    Quarantine(StoreLayout layout, FileBlobStore blobs, BlobIndex index, StripeLocks locks, Removals removals,
               ObjLongConsumer<Digest> committed) {
        this.layout = layout;
        this.blobs = blobs;
        this.index = index;
        this.locks = locks;
        this.removals = removals;
        this.committed = committed;
    }

    /** See {@link ContentStore#quarantine}. */
    Optional<Path> quarantine(Digest digest) throws IOException {
        Path dir = layout.quarantine.resolve(digest.algorithm());
        Files.createDirectories(dir);
        Path target = dir.resolve(digest.hex() + "." + System.currentTimeMillis() + "-" + UUID.randomUUID());
        BlobIndex.Entry entry;
        List<TagRef> removedTags;
        synchronized (locks.digest(digest)) {
            // Unlike eviction, a lease does not hold a corrupt blob back: a client mid-read keeps its open file.
            entry = index.beginEvict(digest, Long.MAX_VALUE, true);
            try {
                blobs.moveOut(digest, target);
            } catch (IOException e) {
                if (entry != null) {
                    index.finishEvict(entry);
                    if (!(e instanceof NoSuchFileException)) {
                        index.committed(digest, entry.size, entry.lastAccess); // still in place
                    }
                }
                if (e instanceof NoSuchFileException) {
                    return Optional.empty();
                }
                throw e;
            }
            removedTags = removals.deleteTagsPointingAt(digest);
            if (entry != null) {
                index.finishEvict(entry);
            }
        }
        AtomicFiles.syncDirectory(dir);
        AtomicFiles.syncDirectory(blobs.path(digest).getParent());
        if (entry != null) {
            removals.record(new Eviction(digest, entry.size, Eviction.Reason.QUARANTINE, removedTags));
        }
        return Optional.of(target);
    }

    /** See {@link ContentStore#restoreFromQuarantine}. */
    void restore(Path quarantined, Digest digest) throws IOException {
        Path source = quarantined.toAbsolutePath().normalize();
        if (!source.startsWith(layout.quarantine)) {
            throw new IllegalArgumentException("not a quarantined file of this store: " + quarantined);
        }
        synchronized (locks.digest(digest)) {
            if (index.size(digest) >= 0) {
                Files.deleteIfExists(source);
                return;
            }
            long size = Files.size(source);
            blobs.commit(source, digest);
            committed.accept(digest, size);
        }
    }

    /** See {@link ContentStore#forgetMissing}. */
    boolean forgetMissing(Digest digest) {
        synchronized (locks.digest(digest)) {
            if (blobs.exists(digest)) {
                return false;
            }
            BlobIndex.Entry entry = index.beginEvict(digest, Long.MAX_VALUE, true);
            if (entry == null) {
                return false;
            }
            index.finishEvict(entry);
        }
        log.warn("blob {} is gone from {} (quarantined by wharf verify, or deleted by hand): it will be fetched again",
                digest, layout.blobs);
        return true;
    }
}

package dev.wharf.storage;

import java.io.IOException;
import java.nio.file.Path;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

/**
 * Rebuilds a store's in-memory index at start-up from its backends: every blob with its size and last use, every
 * tag with its digest. Runs once, in the constructor, before the store is shared; the blob scan may use many
 * threads (the file store stats its prefix directories in parallel), which only call the index's thread-safe load.
 */
final class IndexLoader {
    private static final Logger log = LoggerFactory.getLogger(ContentStore.class);

    private IndexLoader() {
    }

    /** Fills {@code index} and {@code tagIndex}; returns how long it took, in milliseconds. */
    static long rebuild(Path root, BlobStore blobs, TagStore tags, BlobIndex index, TagIndex tagIndex)
            throws IOException {
        long start = System.nanoTime();
        blobs.scan(index::load);
        tags.forEach((ref, entry) -> tagIndex.put(ref, entry.digest()));
        long millis = (System.nanoTime() - start) / 1_000_000;
        log.info("indexed {} blobs ({} bytes) and {} tags under {} in {} ms", index.count(), index.bytes(),
                tagIndex.size(), root, millis);
        return millis;
    }
}

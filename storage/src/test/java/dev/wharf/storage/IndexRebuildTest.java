package dev.wharf.storage;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.nio.file.attribute.FileTime;
import java.time.Instant;
import java.util.HexFormat;
import java.util.Random;
import java.util.concurrent.TimeUnit;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.Timeout;
import org.junit.jupiter.api.io.TempDir;

/** Start-up: the index is rebuilt from disk quickly, with sizes and last accesses, and ignores what is not a blob. */
@Timeout(value = 10, unit = TimeUnit.MINUTES)
class IndexRebuildTest {
    static final int BLOBS = 100_000;
    /** Generous: the point is "seconds, not minutes" on a slow CI disk; the measured time is printed. */
    static final long BOUND_MILLIS = 15_000;

    @TempDir
    Path root;

    @Test
    void aHundredThousandBlobsAreIndexedQuickly() throws Exception {
        Random random = new Random(42);
        byte[] hex = new byte[32];
        long expectedBytes = 0;
        long oldest = Instant.parse("2024-01-01T00:00:00Z").toEpochMilli();
        String oldestHex = null;
        long createStart = System.nanoTime();
        for (int i = 0; i < BLOBS; i++) {
            random.nextBytes(hex);
            String name = HexFormat.of().formatHex(hex);
            Path dir = root.resolve("blobs/sha256").resolve(name.substring(0, 2));
            Files.createDirectories(dir);
            int size = 1 + (i % 64);
            Path file = Files.write(dir.resolve(name), new byte[size]);
            expectedBytes += size;
            if (i == 12_345) {
                Files.setLastModifiedTime(file, FileTime.fromMillis(oldest));
                oldestHex = name;
            }
        }
        // Things the walk must skip: not digests, or in the wrong prefix directory.
        Files.writeString(root.resolve("blobs/sha256/00/notadigest~"), "x");
        Files.writeString(root.resolve("blobs/sha256/00/" + "ab".repeat(32)), "wrong prefix");
        Files.createDirectories(root.resolve("blobs/md5/aa"));
        Files.writeString(root.resolve("blobs/md5/aa/" + "aa".repeat(16)), "unknown algorithm");
        long createMillis = (System.nanoTime() - createStart) / 1_000_000;

        long start = System.nanoTime();
        ContentStore store = new ContentStore(root);
        long millis = (System.nanoTime() - start) / 1_000_000;

        System.out.printf("[IndexRebuildTest] %d blobs: created in %d ms, index rebuilt in %d ms (store reports %d ms)%n",
                BLOBS, createMillis, millis, store.indexRebuildMillis());
        assertEquals(BLOBS, store.blobCount());
        assertEquals(expectedBytes, store.storedBytes());
        assertEquals(oldestHex, store.evictionCandidates().get(0).digest().hex(), "mtime is the last access");
        assertTrue(millis < BOUND_MILLIS, "rebuilding the index of " + BLOBS + " blobs took " + millis + " ms");
    }

    @Test
    void anEmptyStoreStartsEmpty() throws IOException {
        ContentStore store = new ContentStore(root);
        assertEquals(0, store.blobCount());
        assertEquals(0, store.storedBytes());
        assertEquals(0, store.tagCount());
    }
}

package dev.wharf.storage;

import static dev.wharf.storage.fill.FillTesting.WAIT_SECONDS;
import static dev.wharf.storage.fill.FillTesting.awaitTrue;
import static dev.wharf.storage.fill.FillTesting.randomBytes;
import static dev.wharf.storage.fill.FillTesting.sha256;
import static java.nio.charset.StandardCharsets.UTF_8;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.io.IOException;
import java.nio.ByteBuffer;
import java.nio.channels.FileChannel;
import java.nio.file.Files;
import java.nio.file.NoSuchFileException;
import java.nio.file.Path;
import java.nio.file.StandardOpenOption;
import java.time.Clock;
import java.time.Duration;
import java.time.Instant;
import java.time.ZoneId;
import java.time.ZoneOffset;
import java.util.ArrayList;
import java.util.List;
import java.util.Set;
import java.util.concurrent.CopyOnWriteArrayList;
import java.util.concurrent.ExecutorService;
import java.util.concurrent.Executors;
import java.util.concurrent.Future;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.atomic.AtomicBoolean;
import java.util.concurrent.atomic.AtomicLong;
import java.util.stream.Collectors;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.Timeout;
import org.junit.jupiter.api.io.TempDir;

/** Bounded storage: LRU above the high watermark, retention by last use, pins, tags going with their manifest. */
@Timeout(value = 120, unit = TimeUnit.SECONDS)
class EvictorTest {
    static final Instant T0 = Instant.parse("2024-06-01T00:00:00Z");

    @TempDir
    Path root;

    /** A clock the test moves by hand. */
    static final class FakeClock extends Clock {
        private final AtomicLong millis;

        FakeClock(Instant start) {
            this.millis = new AtomicLong(start.toEpochMilli());
        }

        void advance(Duration d) {
            millis.addAndGet(d.toMillis());
        }

        @Override
        public ZoneId getZone() {
            return ZoneOffset.UTC;
        }

        @Override
        public Clock withZone(ZoneId zone) {
            return this;
        }

        @Override
        public long millis() {
            return millis.get();
        }

        @Override
        public Instant instant() {
            return Instant.ofEpochMilli(millis.get());
        }
    }

    private static Digest put(ContentStore store, int seed, int size) throws IOException {
        byte[] content = randomBytes(seed, size);
        Digest d = sha256(content);
        store.putSmall(d, content);
        return d;
    }

    private static Set<Digest> stored(ContentStore store) {
        return store.blobs().stream().map(BlobInfo::digest).collect(Collectors.toSet());
    }

    @Test
    void aboveTheHighWatermarkTheLeastRecentlyUsedGoUntilTheLowWatermark() throws Exception {
        FakeClock clock = new FakeClock(T0);
        ContentStore store = new ContentStore(root, clock);
        List<Digest> blobs = new ArrayList<>();
        for (int i = 0; i < 10; i++) {
            blobs.add(put(store, i, 1000));
            clock.advance(Duration.ofMinutes(1));
        }
        // Use the three oldest again: they become the most recent.
        for (int i = 0; i < 3; i++) {
            store.use(blobs.get(i)).close();
            clock.advance(Duration.ofMinutes(1));
        }
        Evictor evictor = new Evictor(store, new Evictor.Policy(10_000, 0.9, 0.5, null), Duration.ofHours(1));
        assertEquals(10_000, store.storedBytes());
        Evictor.Result result = evictor.sweep();

        assertEquals(5, result.sizeBlobs(), "10000 bytes (above 9000) down to at most 5000 in blobs of 1000");
        assertEquals(5000, result.sizeBytes());
        assertEquals(5000, store.storedBytes());
        assertEquals(Set.of(blobs.get(8), blobs.get(9), blobs.get(0), blobs.get(1), blobs.get(2)), stored(store),
                "the five least recently used (3..7) went");
        for (int i = 3; i < 8; i++) {
            assertFalse(Files.exists(store.blobPath(blobs.get(i))), "file of blob " + i + " still there");
            assertTrue(store.blobSize(blobs.get(i)).isEmpty());
        }
        assertEquals(5, store.evictedCount(Eviction.Reason.SIZE));
        assertEquals(5000, store.evictedBytes(Eviction.Reason.SIZE));
        assertEquals(0, evictor.sweep().evicted(), "below the high watermark nothing more goes");
    }

    @Test
    void aPinnedBlobIsNeverEvictedAndGoesOnceReleased() throws Exception {
        FakeClock clock = new FakeClock(T0);
        ContentStore store = new ContentStore(root, clock);
        Digest oldest = put(store, 1, 1000);
        clock.advance(Duration.ofMinutes(1));
        Digest newer = put(store, 2, 1000);
        clock.advance(Duration.ofMinutes(1));
        BlobLease lease = store.use(oldest);
        clock.advance(Duration.ofMinutes(1));
        store.use(newer).close(); // newer is now the most recent, so oldest would be the first to go
        try (Evictor evictor = new Evictor(store, new Evictor.Policy(1500, 0.9, 0.5, null), Duration.ofHours(1))) {
            Evictor.Result result = evictor.sweep();
            assertEquals(1, result.pinned());
            assertEquals(Set.of(oldest), stored(store), "the pinned blob stays, the other one goes");
            assertEquals(1000, store.storedBytes());
            put(store, 3, 1000); // above the watermark again, and only the new blob is free
            evictor.start();
            awaitTrue(() -> store.blobCount() == 1, "the evictor's sweep after the commit");
            assertEquals(Set.of(oldest), stored(store));
            assertTrue(Files.exists(store.blobPath(oldest)));
            put(store, 4, 1000);
            awaitTrue(() -> store.blobCount() == 1, "the sweep after the next commit");
            assertEquals(Set.of(oldest), stored(store));
            lease.close(); // the release finds the store above its high watermark... it is not: 1000 <= 1350
            assertEquals(Set.of(oldest), stored(store));
            put(store, 5, 1000); // 2000 > 1350: a sweep; oldest is now free and the least recent
            awaitTrue(() -> !stored(store).contains(oldest), "the released blob evicted");
        }
    }

    @Test
    void retentionRemovesBlobsUnusedForLongerThanTheSettingAndKeepsRecentOnes() throws Exception {
        FakeClock clock = new FakeClock(T0);
        ContentStore store = new ContentStore(root, clock);
        Digest stale = put(store, 1, 100);
        Digest usedLater = put(store, 2, 100);
        clock.advance(Duration.ofDays(3));
        Digest young = put(store, 3, 100);
        clock.advance(Duration.ofDays(3));
        store.use(usedLater).close(); // used at day 6
        Evictor evictor = new Evictor(store, new Evictor.Policy(0, 0.95, 0.85, Duration.ofDays(7)),
                Duration.ofHours(1));
        assertEquals(0, evictor.sweep().evicted(), "at day 6 nothing is older than 7 days");
        clock.advance(Duration.ofDays(2)); // day 8: stale unused for 8 days, young for 5, usedLater for 2
        Evictor.Result result = evictor.sweep();
        assertEquals(1, result.unusedBlobs());
        assertEquals(Set.of(usedLater, young), stored(store));
        assertFalse(Files.exists(store.blobPath(stale)));
        clock.advance(Duration.ofDays(3)); // day 11: young unused for 8 days, usedLater for 5
        assertEquals(1, evictor.sweep().unusedBlobs());
        assertEquals(Set.of(usedLater), stored(store));
        assertEquals(2, store.evictedCount(Eviction.Reason.UNUSED));
    }

    @Test
    void recencySurvivesARestart() throws Exception {
        FakeClock clock = new FakeClock(T0);
        ContentStore store = new ContentStore(root, clock);
        Digest a = put(store, 1, 100);
        clock.advance(Duration.ofMinutes(1));
        Digest b = put(store, 2, 100);
        clock.advance(Duration.ofMinutes(1));
        Digest c = put(store, 3, 100);
        clock.advance(Duration.ofMinutes(1));
        store.use(a).close(); // order by last use: b, c, a
        assertEquals(List.of(b, c, a), lruOrder(store), "before the restart");
        try (Evictor evictor = new Evictor(store, Evictor.Policy.UNBOUNDED, Duration.ofHours(1))) {
            evictor.start();
        } // close() persists recency
        assertEquals(T0.plus(Duration.ofMinutes(3)).toEpochMilli(),
                Files.getLastModifiedTime(store.blobPath(a)).toMillis(), "a's use is on disk as its mtime");

        ContentStore reopened = new ContentStore(root, clock);
        assertEquals(List.of(b, c, a), lruOrder(reopened), "the LRU order after the restart");
        Evictor evictor = new Evictor(reopened, new Evictor.Policy(250, 0.9, 0.8, null), Duration.ofHours(1));
        evictor.sweep();
        assertEquals(Set.of(c, a), stored(reopened), "b, the least recently used, went first");
    }

    @Test
    void recencyIsNotWrittenPerAccessButOncePerFlush() throws Exception {
        FakeClock clock = new FakeClock(T0);
        ContentStore store = new ContentStore(root, clock);
        Digest a = put(store, 1, 100);
        store.flushRecency();
        for (int i = 0; i < 1000; i++) {
            clock.advance(Duration.ofMillis(5));
            store.use(a).close();
        }
        assertEquals(T0.toEpochMilli(), Files.getLastModifiedTime(store.blobPath(a)).toMillis(),
                "no write on the serving path");
        assertEquals(1, store.flushRecency(), "1000 accesses, one file touched");
        assertEquals(T0.plusMillis(5000).toEpochMilli(), Files.getLastModifiedTime(store.blobPath(a)).toMillis());
        assertEquals(0, store.flushRecency());
    }

    @Test
    void evictingAManifestTakesItsTagsAndLinksWithItAndTellsTheListeners() throws Exception {
        FakeClock clock = new FakeClock(T0);
        ContentStore store = new ContentStore(root, clock);
        byte[] manifest = "{\"schemaVersion\":2,\"mediaType\":\"application/vnd.oci.image.manifest.v1+json\"}"
                .getBytes(UTF_8);
        Digest m = sha256(manifest);
        store.putSmall(m, manifest);
        Digest other = put(store, 9, 50);
        String type = "application/vnd.oci.image.manifest.v1+json";
        store.link("hub", m, type);
        store.link("quay", m, type);
        store.link("hub", other, null);
        store.putTag("hub", "library/nginx", "latest", new TagEntry(m, type, T0));
        store.putTag("hub", "library/nginx", "1.27", new TagEntry(m, type, T0));
        store.putTag("quay", "x/y", "v1", new TagEntry(m, type, T0));
        store.putTag("hub", "library/nginx", "other", new TagEntry(other, type, T0));
        // A tag that pointed at m and was re-pointed must not go.
        store.putTag("hub", "library/redis", "moved", new TagEntry(m, type, T0));
        store.putTag("hub", "library/redis", "moved", new TagEntry(other, type, T0));

        // Restart first, so the reverse tag index comes from the rebuild, not from the writes above.
        ContentStore reopened = new ContentStore(root, clock);
        List<Eviction> seen = new CopyOnWriteArrayList<>();
        reopened.addListener(new StoreListener() {
            @Override
            public void evicted(Eviction eviction) {
                seen.add(eviction);
            }
        });
        assertEquals(3, reopened.tagsPointingAt(m).size());
        Eviction e = reopened.evict(m, Eviction.Reason.SIZE, Instant.MAX).orElseThrow();

        assertEquals(Set.of(new TagRef("hub", "library/nginx", "latest"), new TagRef("hub", "library/nginx", "1.27"),
                new TagRef("quay", "x/y", "v1")), Set.copyOf(e.removedTags()));
        assertEquals(List.of(e), seen);
        assertEquals(manifest.length, e.size());
        assertTrue(reopened.tag("hub", "library/nginx", "latest").isEmpty());
        assertTrue(reopened.tag("quay", "x/y", "v1").isEmpty());
        assertEquals(other, reopened.tag("hub", "library/nginx", "other").orElseThrow().digest());
        assertEquals(other, reopened.tag("hub", "library/redis", "moved").orElseThrow().digest());
        assertTrue(reopened.link("hub", m).isEmpty());
        assertTrue(reopened.link("quay", m).isEmpty());
        assertTrue(reopened.link("hub", other).isPresent());
        assertTrue(reopened.readSmall(m, 1 << 20).isEmpty());
        assertEquals(List.of(), reopened.tagsPointingAt(m));
    }

    @Test
    void deletingATagTellsTheListenersAndTheReverseIndex() throws Exception {
        ContentStore store = new ContentStore(root);
        Digest m = put(store, 1, 100);
        store.putTag("hub", "a/b", "t", new TagEntry(m, "application/json", T0));
        List<TagRef> deleted = new CopyOnWriteArrayList<>();
        store.addListener(new StoreListener() {
            @Override
            public void tagsDeleted(java.util.Collection<TagRef> tags) {
                deleted.addAll(tags);
            }
        });
        assertTrue(store.deleteTag("hub", "a/b", "t"));
        assertEquals(List.of(new TagRef("hub", "a/b", "t")), deleted);
        assertEquals(List.of(), store.tagsPointingAt(m));
        assertTrue(store.evict(m, Eviction.Reason.ADMIN, Instant.MAX).orElseThrow().removedTags().isEmpty());
    }

    @Test
    void quarantineTakesABlobOutOfTheIndexEvenIfPinned() throws Exception {
        ContentStore store = new ContentStore(root);
        Digest d = put(store, 1, 100);
        BlobLease lease = store.use(d);
        assertTrue(store.quarantine(d).isPresent());
        assertTrue(store.blobSize(d).isEmpty());
        assertEquals(0, store.storedBytes());
        lease.close();
        BlobLease again = store.use(d);
        assertFalse(again.stored());
        again.close();
        assertEquals(0, store.blobCount());
    }

    /**
     * Races on purpose: threads take leases and read the blob while they hold them, others commit the same digests
     * again and again, and the evictor evicts without pause. A leased blob must always be readable whole, and at the
     * end the index must agree with the disk.
     */
    @Test
    void leasesCommitsAndEvictionsRacingKeepTheIndexTrueAndPinnedBlobsWhole() throws Exception {
        ContentStore store = new ContentStore(root);
        int n = 16;
        List<byte[]> contents = new ArrayList<>();
        List<Digest> digests = new ArrayList<>();
        for (int i = 0; i < n; i++) {
            byte[] c = randomBytes(1000 + i, 4096 + i);
            contents.add(c);
            digests.add(sha256(c));
        }
        ExecutorService pool = Executors.newFixedThreadPool(6);
        AtomicBoolean stop = new AtomicBoolean();
        AtomicLong reads = new AtomicLong();
        AtomicLong evictions = new AtomicLong();
        try {
            List<Future<?>> tasks = new ArrayList<>();
            for (int t = 0; t < 2; t++) {
                int seed = t;
                tasks.add(pool.submit(() -> {
                    java.util.Random random = new java.util.Random(seed);
                    while (!stop.get()) {
                        int i = random.nextInt(n);
                        store.putSmall(digests.get(i), contents.get(i));
                    }
                    return null;
                }));
            }
            for (int t = 0; t < 3; t++) {
                int seed = 10 + t;
                tasks.add(pool.submit(() -> {
                    java.util.Random random = new java.util.Random(seed);
                    while (!stop.get()) {
                        int i = random.nextInt(n);
                        try (BlobLease lease = store.use(digests.get(i))) {
                            if (lease.stored()) {
                                byte[] read = readAll(store.blobPath(digests.get(i)));
                                if (!java.util.Arrays.equals(contents.get(i), read)) {
                                    throw new AssertionError("a leased blob was not whole: " + read.length);
                                }
                                reads.incrementAndGet();
                            }
                        }
                    }
                    return null;
                }));
            }
            tasks.add(pool.submit(() -> {
                java.util.Random random = new java.util.Random(99);
                while (!stop.get()) {
                    if (store.evict(digests.get(random.nextInt(n)), Eviction.Reason.SIZE, Instant.MAX).isPresent()) {
                        evictions.incrementAndGet();
                    }
                }
                return null;
            }));
            Thread.sleep(3000);
            stop.set(true);
            for (Future<?> f : tasks) {
                f.get(WAIT_SECONDS, TimeUnit.SECONDS);
            }
        } finally {
            pool.shutdownNow();
        }
        System.out.printf("[EvictorTest] race: %d leased reads, %d evictions%n", reads.get(), evictions.get());
        assertTrue(reads.get() > 100 && evictions.get() > 100, "the race did not happen: " + reads + "/" + evictions);
        long bytesOnDisk = 0;
        int filesOnDisk = 0;
        for (int i = 0; i < n; i++) {
            boolean onDisk = Files.exists(store.blobPath(digests.get(i)));
            assertEquals(onDisk, store.blobSize(digests.get(i)).isPresent(), "index and disk disagree on " + i);
            if (onDisk) {
                bytesOnDisk += Files.size(store.blobPath(digests.get(i)));
                filesOnDisk++;
            }
        }
        assertEquals(bytesOnDisk, store.storedBytes());
        assertEquals(filesOnDisk, store.blobCount());
        assertEquals(bytesOnDisk, new ContentStore(root).storedBytes(), "a rebuild agrees");
    }

    private static byte[] readAll(Path file) throws IOException {
        try (FileChannel ch = FileChannel.open(file, StandardOpenOption.READ)) {
            ByteBuffer b = ByteBuffer.allocate((int) ch.size());
            while (b.hasRemaining() && ch.read(b) >= 0) {
                // read on
            }
            return b.array();
        } catch (NoSuchFileException e) {
            throw new AssertionError("a leased blob's file was gone", e);
        }
    }

    private static List<Digest> lruOrder(ContentStore store) {
        return store.evictionCandidates().stream().map(BlobInfo::digest).toList();
    }
}

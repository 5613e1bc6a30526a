package dev.wharf.server.storagebounds;

import static dev.wharf.testing.Pulls.MiB;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertTrue;

import dev.wharf.server.metrics.PrometheusText;
import dev.wharf.server.metrics.Scrapes;
import dev.wharf.storage.ContentStore;
import dev.wharf.storage.Digest;
import dev.wharf.storage.Eviction;
import dev.wharf.testing.DistributionRegistry;
import dev.wharf.testing.Fetch;
import dev.wharf.testing.ImageSeeder;
import dev.wharf.testing.InProcessWharf;
import dev.wharf.testing.Pulls;
import dev.wharf.testing.StoredBlobs;
import dev.wharf.testing.RealRegistry;
import dev.wharf.testing.WharfYaml;
import java.nio.file.Files;
import java.nio.file.Path;
import java.time.Duration;
import java.util.ArrayList;
import java.util.List;
import java.util.concurrent.ExecutorService;
import java.util.concurrent.Executors;
import java.util.concurrent.Future;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.atomic.AtomicLong;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.Timeout;
import org.junit.jupiter.api.extension.ExtendWith;
import org.junit.jupiter.api.io.TempDir;

/**
 * storage.maxSize against a real upstream: usage settles under the cap, a blob that slow clients are streaming is
 * pinned while eviction runs around it, an evicted image can be pulled again, and recency survives a restart.
 */
@Timeout(value = 3, unit = TimeUnit.MINUTES)
@ExtendWith(RealRegistry.class)
class EvictionTest {
    private static DistributionRegistry registry;
    private static ImageSeeder seeder;

    @TempDir
    Path tmp;

    @BeforeAll
    static void startRegistry(DistributionRegistry r, ImageSeeder s) {
        registry = r;
        seeder = s;
    }

    /** The config after {@code storage.path}: the bounds, then the one project "up" in front of the registry. */
    private static WharfYaml bounds(String maxSize, double high, double low) {
        return WharfYaml.oneProject("up", registry.url()).storageBounds(maxSize, high, low);
    }

    @Test
    void usageSettlesUnderTheCapAndAnEvictedImageCanBePulledAgain() throws Exception {
        List<ImageSeeder.Image> images = new ArrayList<>();
        long pushed = 0;
        for (int i = 0; i < 6; i++) {
            ImageSeeder.Image image = seeder.pushOciImage(registry.url(), "bounds/img" + i, "v1", 3 * MiB, 500 + i,
                    ImageSeeder.Compression.NONE);
            images.add(image);
            pushed += image.totalBlobBytes() + image.manifestSize();
        }
        long cap = 8 * MiB;
        Path storage = tmp.resolve("store");
        try (InProcessWharf wharf = InProcessWharf.start(storage, bounds("8MiB", 0.9, 0.7))) {
            ContentStore store = wharf.server().store();
            for (ImageSeeder.Image image : images) {
                Pulls.pullImage(wharf.hostPort(), "up", image);
                // The commit follows the client's last byte: wait for it, so what the store holds below is settled
                // (each image is the most recently used when it lands, so eviction never takes it before this sees it).
                StoredBlobs.await(store, image.blobDigests());
            }
            assertTrue(pushed > 2 * cap, "the test must pull more than the cap: " + pushed);
            assertTrue(Pulls.await(Duration.ofSeconds(20), () -> store.storedBytes() <= cap * 9 / 10),
                    "storage did not settle under the high watermark: " + store.storedBytes());
            long onDisk = Pulls.bytesUnder(storage.resolve("blobs"));
            System.out.printf("[EvictionTest] pulled %d MiB through an 8 MiB cap: %d bytes stored (%d on disk), "
                            + "%d blobs evicted (%d bytes)%n", pushed / MiB, store.storedBytes(), onDisk,
                    store.evictedCount(Eviction.Reason.SIZE), store.evictedBytes(Eviction.Reason.SIZE));
            assertTrue(onDisk <= cap, "blobs/ holds " + onDisk + " bytes, above the cap of " + cap);
            assertEquals(onDisk, store.storedBytes(), "the index and the disk agree");
            assertTrue(store.evictedBytes(Eviction.Reason.SIZE) >= pushed - cap);
            Pulls.assertBlobsIntact(storage);
            // A real scrape says the same as the store: what was evicted, by reason, and what is left.
            PrometheusText s = Scrapes.awaitSum(wharf, store.evictedCount(Eviction.Reason.SIZE),
                    "wharf_evictions_total", "reason", "size");
            assertTrue(s.sum("wharf_evictions_total", "reason", "size") > 0, s.show("wharf_evictions_total"));
            assertEquals(store.evictedBytes(Eviction.Reason.SIZE),
                    s.sum("wharf_evicted_bytes_total", "reason", "size"), s.show("wharf_evicted_bytes_total"));
            for (String other : List.of("unused", "admin", "quarantine")) {
                assertEquals(0, s.sum("wharf_evictions_total", "reason", other), s.show("wharf_evictions_total"));
            }
            assertEquals(store.storedBytes(), s.sum("wharf_storage_bytes"), s.show("wharf_storage_bytes"));
            assertEquals(store.blobCount(), s.sum("wharf_storage_blobs"), s.show("wharf_storage_blobs"));
            // Link and tag writes of the last pull may still be between their temp file and its rename.
            assertTrue(Pulls.await(Duration.ofSeconds(10), () -> Pulls.files(storage.resolve("tmp")).isEmpty()),
                    "temp files left: " + Pulls.files(storage.resolve("tmp")));

            // The first image was the least recently used: its layers are gone, and so are its manifest and tag.
            ImageSeeder.Image first = images.get(0);
            String layer = first.layerDigests().get(first.layerDigests().size() - 1);
            assertFalse(Files.exists(Pulls.blobFile(storage, layer)), "the oldest image's big layer was kept");
            assertFalse(Files.exists(Pulls.blobFile(storage, first.manifestDigest())));
            assertFalse(Files.exists(storage.resolve("projects/up/repos/bounds/img0/_tags/v1")),
                    "the tag of an evicted manifest stays on disk");
            assertTrue(store.link("up", Digest.parse(layer)).isEmpty(), "the link of an evicted blob stays");

            long layerGets = registry.countRequests("GET", "/blobs/" + layer);
            Pulls.pullImage(wharf.hostPort(), "up", first);
            assertEquals(layerGets + 1, registry.countRequests("GET", "/blobs/" + layer),
                    "the evicted layer was fetched again from the upstream");
            assertTrue(Pulls.await(Duration.ofSeconds(20), () -> store.storedBytes() <= cap * 9 / 10),
                    "storage did not settle again: " + store.storedBytes());
            Pulls.assertBlobsIntact(storage);
        }
    }

    @Test
    void fourSlowClientsStreamingABlobDuringEvictionGetItWholeBecauseTheirLeasesPinIt() throws Exception {
        ImageSeeder.Blob shared = seeder.pushRandomBlob(registry.url(), "bounds/slow", 24 * MiB, 601);
        List<ImageSeeder.Blob> fillers = new ArrayList<>();
        for (int i = 0; i < 3; i++) {
            fillers.add(seeder.pushRandomBlob(registry.url(), "bounds/filler", 8 * MiB, 610 + i));
        }
        ImageSeeder.Blob last = seeder.pushRandomBlob(registry.url(), "bounds/filler", 16 * MiB, 620);
        Digest sharedDigest = Digest.parse(shared.digest());
        Path storage = tmp.resolve("store");
        ExecutorService clients = Executors.newFixedThreadPool(4);
        // Cap 40 MiB: evict above 36 MiB down to 20 MiB.
        try (InProcessWharf wharf = InProcessWharf.start(storage, bounds("40MiB", 0.9, 0.5))) {
            ContentStore store = wharf.server().store();
            String path = "/v2/up/bounds/slow/blobs/" + shared.digest();
            List<AtomicLong> progress = new ArrayList<>();
            List<Future<Fetch>> slow = new ArrayList<>();
            for (int i = 0; i < 4; i++) {
                AtomicLong p = new AtomicLong();
                progress.add(p);
                // 4 MiB/s: six seconds for the whole blob, while the fill itself takes well under one.
                slow.add(clients.submit(() -> Pulls.get(wharf.hostPort(), path, 4 * MiB, p, Duration.ofSeconds(90))));
            }
            assertTrue(Pulls.await(Duration.ofSeconds(30), () -> store.blobSize(sharedDigest).isPresent()
                    && progress.stream().allMatch(p -> p.get() >= 2 * MiB)), "the slow clients did not get going");
            assertTrue(store.blobInfo(sharedDigest).orElseThrow().pinned(), "the streamed blob is not pinned");

            // Pull the fillers fast while the slow clients are mid-blob: 24 + 16 MiB crosses the high watermark.
            for (ImageSeeder.Blob filler : fillers) {
                Fetch f = Pulls.get(wharf.hostPort(), "/v2/up/bounds/filler/blobs/" + filler.digest(), 0, null,
                        Duration.ofSeconds(30));
                assertTrue(f.whole() && filler.digest().equals(f.digest()), f.describe());
            }
            assertTrue(Pulls.await(Duration.ofSeconds(10), () -> store.evictedCount(Eviction.Reason.SIZE) >= 2),
                    "no eviction ran while the slow clients streamed: " + store.storedBytes() + " bytes stored");
            long minProgress = progress.stream().mapToLong(AtomicLong::get).min().orElseThrow();
            assertTrue(slow.stream().noneMatch(Future::isDone) && minProgress < shared.size(),
                    "the slow clients were done before the eviction: the test proves nothing");
            assertTrue(store.blobSize(sharedDigest).isPresent(),
                    "the blob the slow clients are streaming was evicted (it was the least recently used)");
            assertTrue(Files.exists(Pulls.blobFile(storage, shared.digest())));
            System.out.printf("[EvictionTest] during the stream: %d blobs evicted around the pinned one; the slowest "
                    + "client had %d of %d MiB%n", store.evictedCount(Eviction.Reason.SIZE), minProgress / MiB,
                    shared.size() / MiB);

            for (Future<Fetch> f : slow) {
                Fetch fetch = f.get(90, TimeUnit.SECONDS);
                assertTrue(fetch.whole(), "a slow client did not get the blob whole: " + fetch.describe());
                assertEquals(shared.digest(), fetch.digest());
            }
            assertEquals(1, registry.countRequests("GET", "/blobs/" + shared.digest()), "one upstream fetch");

            // Released, it is the least recently used blob: the next pressure takes it first.
            assertTrue(Pulls.await(Duration.ofSeconds(5), () -> !store.blobInfo(sharedDigest).orElseThrow().pinned()),
                    "the leases were not released when the responses ended");
            Fetch f = Pulls.get(wharf.hostPort(), "/v2/up/bounds/filler/blobs/" + last.digest(), 0, null,
                    Duration.ofSeconds(30));
            assertTrue(f.whole(), f.describe());
            assertTrue(Pulls.await(Duration.ofSeconds(10), () -> store.blobSize(sharedDigest).isEmpty()),
                    "once released, the least recently used blob was not evicted");
            assertTrue(Pulls.await(Duration.ofSeconds(10), () -> store.storedBytes() <= 36 * MiB),
                    "storage did not settle under the high watermark: " + store.storedBytes());
            Pulls.assertBlobsIntact(storage);
        } finally {
            clients.shutdownNow();
        }
    }

    @Test
    void recencySurvivesARestart() throws Exception {
        List<ImageSeeder.Blob> blobs = new ArrayList<>();
        for (int i = 0; i < 3; i++) {
            blobs.add(seeder.pushRandomBlob(registry.url(), "bounds/recency", MiB, 700 + i));
        }
        Path storage = tmp.resolve("store");
        WharfYaml unbounded = WharfYaml.oneProject("up", registry.url());
        try (InProcessWharf wharf = InProcessWharf.start(storage, unbounded)) {
            for (ImageSeeder.Blob b : blobs) { // committed in the order a, b, c
                assertTrue(Pulls.get(wharf.hostPort(), "/v2/up/bounds/recency/blobs/" + b.digest(), 0, null,
                        Duration.ofSeconds(30)).whole());
                StoredBlobs.await(wharf.server().store(), b.digest()); // the commit follows the last byte
                Thread.sleep(50);
            }
            // a is used again: by last use the order is now b, c, a (by commit time it would still be a, b, c).
            assertTrue(Pulls.get(wharf.hostPort(), "/v2/up/bounds/recency/blobs/" + blobs.get(0).digest(), 0, null,
                    Duration.ofSeconds(30)).whole());
        }
        // Restart with a cap that holds two of the three 1 MiB blobs: the start-up sweep evicts one, by recency.
        try (InProcessWharf wharf = InProcessWharf.start(storage, bounds("3MiB", 0.9, 0.7))) {
            ContentStore store = wharf.server().store();
            assertTrue(Pulls.await(Duration.ofSeconds(10), () -> store.blobCount() == 2),
                    "the start-up sweep did not evict: " + store.blobCount() + " blobs");
            assertFalse(Files.exists(Pulls.blobFile(storage, blobs.get(1).digest())),
                    "b, the least recently used before the restart, should have gone");
            assertTrue(Files.exists(Pulls.blobFile(storage, blobs.get(0).digest())),
                    "a was used last before the restart, but was evicted: recency was lost");
            assertTrue(Files.exists(Pulls.blobFile(storage, blobs.get(2).digest())));
        }
    }
}

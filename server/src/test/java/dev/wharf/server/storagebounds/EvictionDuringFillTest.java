package dev.wharf.server.storagebounds;

import static dev.wharf.testing.Pulls.MiB;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

import dev.wharf.storage.ContentStore;
import dev.wharf.storage.Digest;
import dev.wharf.storage.Eviction;
import dev.wharf.testing.DistributionRegistry;
import dev.wharf.testing.Fetch;
import dev.wharf.testing.ImageSeeder;
import dev.wharf.testing.InProcessWharf;
import dev.wharf.testing.Pulls;
import dev.wharf.testing.RealRegistry;
import dev.wharf.testing.TcpRelay;
import dev.wharf.testing.ThrottleTap;
import dev.wharf.testing.WharfYaml;
import java.nio.file.Path;
import java.time.Duration;
import java.util.ArrayList;
import java.util.List;
import java.util.concurrent.ExecutorService;
import java.util.concurrent.Executors;
import java.util.concurrent.Future;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.atomic.AtomicLong;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.Timeout;
import org.junit.jupiter.api.extension.ExtendWith;
import org.junit.jupiter.api.io.TempDir;

/**
 * Eviction racing a streaming fill of the same digest (issue 8 item 21). A 24 MiB blob is filled slowly from a real
 * registry (a throttling relay in front of it) while its clients stream it; other blobs pulled meanwhile through a
 * second project fill the store, so the fill's commit pushes usage over the high watermark and eviction runs the
 * moment the streamed blob enters the index, with the low watermark below what it alone needs. Its clients (one
 * of them reading slower than the fill) must each get the blob whole or see the response cut short, never a short
 * blob passed as whole; the store's index, its files and its temp directory must agree afterwards; and a later
 * request for the digest gets it whole, from the store or fetched again.
 */
@Timeout(value = 3, unit = TimeUnit.MINUTES)
@ExtendWith(RealRegistry.class)
class EvictionDuringFillTest {
    @TempDir
    Path tmp;

    @Test
    void aBlobEvictedAsItsFillCommitsLeavesItsReadersAndTheStoreConsistent(DistributionRegistry registry,
                                                                           ImageSeeder seeder) throws Exception {
        ImageSeeder.Blob streamed = seeder.pushRandomBlob(registry.url(), "race/streamed", 24 * MiB, 2201);
        List<ImageSeeder.Blob> fillers = new ArrayList<>();
        for (int i = 0; i < 3; i++) {
            fillers.add(seeder.pushRandomBlob(registry.url(), "race/filler", 8 * MiB, 2210 + i));
        }
        Digest digest = Digest.parse(streamed.digest());
        Path storage = tmp.resolve("store");
        ExecutorService clients = Executors.newFixedThreadPool(4);
        // 8 MiB/s: the fill takes about 3 s. Cap 40 MiB: evict above 36 MiB down to 8 MiB.
        try (TcpRelay slowUpstream = TcpRelay.toLocalPort(registry.port(), new ThrottleTap(8 * MiB));
             InProcessWharf wharf = InProcessWharf.start(storage, WharfYaml.config()
                     .project(WharfYaml.project("slow", slowUpstream.url()))
                     .project(WharfYaml.project("fast", registry.url()))
                     .storageBounds("40MiB", 0.9, 0.2))) {
            ContentStore store = wharf.server().store();
            String path = "/v2/slow/race/streamed/blobs/" + streamed.digest();
            List<AtomicLong> progress = new ArrayList<>();
            List<Future<Fetch>> readers = new ArrayList<>();
            long[] paces = {0, 0, 0, 3 * MiB}; // three follow the fill; one reads slower than it arrives
            for (long pace : paces) {
                AtomicLong p = new AtomicLong();
                progress.add(p);
                readers.add(clients.submit(() -> Pulls.get(wharf.hostPort(), path, pace, p, Duration.ofSeconds(90))));
            }
            assertTrue(Pulls.await(Duration.ofSeconds(30), () -> progress.stream().allMatch(p -> p.get() >= MiB)),
                    "the readers did not get going");
            assertTrue(store.blobSize(digest).isEmpty(), "the fill was done before the fillers: the test proves nothing");

            // 24 MiB of other blobs while the fill streams: with the streamed blob's 24 MiB, 48 MiB > 36 MiB.
            for (ImageSeeder.Blob filler : fillers) {
                Fetch f = Pulls.get(wharf.hostPort(), "/v2/fast/race/filler/blobs/" + filler.digest(), 0, null,
                        Duration.ofSeconds(30));
                assertTrue(f.whole() && filler.digest().equals(f.digest()), f.describe());
            }
            assertTrue(store.blobSize(digest).isEmpty() || readers.stream().anyMatch(r -> !r.isDone()),
                    "the fill committed and every reader finished before the pressure: the test proves nothing");
            // The commit lands while the slow reader is mid-blob: its lease pins the blob against the eviction the
            // commit triggers (the blob is the newest, but the low watermark needs it gone too).
            assertTrue(Pulls.await(Duration.ofSeconds(30), () -> store.blobSize(digest).isPresent()
                    || readers.get(3).isDone()), "the fill never committed");
            if (!readers.get(3).isDone()) {
                assertTrue(store.blobInfo(digest).map(b -> b.pinned()).orElse(false)
                        || readers.get(3).isDone(), "a blob a reader is streaming is not pinned at its commit");
            }

            for (Future<Fetch> r : readers) {
                Fetch f = r.get(90, TimeUnit.SECONDS);
                if (f.whole()) {
                    assertEquals(streamed.digest(), f.digest(), "a whole response with the wrong bytes");
                } else {
                    // Cut short: the client can tell (fewer bytes than Content-Length, no clean end).
                    assertTrue(f.bytes() < streamed.size() || !f.eof(), "a short blob passed as whole: " + f.describe());
                }
                assertTrue(f.whole(), "a reader of the fill was cut off by the eviction: " + f.describe());
            }
            assertTrue(Pulls.await(Duration.ofSeconds(20), () -> store.evictedCount(Eviction.Reason.SIZE) >= 3),
                    "no eviction ran: " + store.storedBytes() + " bytes stored");
            // Every fill's temp file renamed (the commit follows the clients' last byte) before the settle is judged.
            assertTrue(Pulls.await(Duration.ofSeconds(10), () -> Pulls.files(storage.resolve("tmp")).isEmpty()),
                    "temp files left: " + Pulls.files(storage.resolve("tmp")));
            assertTrue(Pulls.await(Duration.ofSeconds(20), () -> store.storedBytes() <= 36 * MiB),
                    "storage did not settle under the high watermark: " + store.storedBytes());
            assertEquals(Pulls.bytesUnder(storage.resolve("blobs")), store.storedBytes(), "the index and the disk agree");
            Pulls.assertBlobsIntact(storage);
            System.out.printf("[EvictionDuringFillTest] %d blobs evicted; the streamed blob is %s%n",
                    store.evictedCount(Eviction.Reason.SIZE), store.blobSize(digest).isPresent() ? "kept" : "evicted");

            Fetch again = Pulls.get(wharf.hostPort(), path, 0, null, Duration.ofSeconds(60));
            assertTrue(again.whole(), again.describe());
            assertEquals(streamed.digest(), again.digest());
            long upstreamGets = registry.countRequests("GET", "/blobs/" + streamed.digest());
            assertTrue(upstreamGets >= 1 && upstreamGets <= 2, "upstream GETs of the streamed blob: " + upstreamGets);
            Pulls.assertBlobsIntact(storage);
        } finally {
            clients.shutdownNow();
        }
    }
}

package dev.wharf.faults;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertTrue;

import dev.wharf.testing.DistributionRegistry;
import dev.wharf.testing.Fetch;
import dev.wharf.testing.ImageSeeder;
import dev.wharf.testing.CountTap;
import dev.wharf.testing.Pulls;
import dev.wharf.testing.StoredBlobs;
import dev.wharf.testing.RealRegistry;
import dev.wharf.testing.TcpRelay;
import dev.wharf.testing.ThrottleTap;
import dev.wharf.testing.WharfProcess;
import java.net.InetSocketAddress;
import java.net.URI;
import java.nio.file.Files;
import java.nio.file.Path;
import java.time.Duration;
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
 * wharf (a child JVM) is killed with SIGKILL in the middle of a fill: nothing is committed under the blob's
 * name, the partial file in tmp/ is deleted at the next start, and the blob is then fetched again and stored whole.
 */
@Timeout(value = 3, unit = TimeUnit.MINUTES)
@ExtendWith(RealRegistry.class)
class CrashTest {
    private static final long SIZE = 64 * Pulls.MiB;
    private static final long SLOW = 4 * Pulls.MiB;

    @TempDir
    Path tmp;

    @Test
    void aKillMidFillCommitsNothingAndTheRestartFetchesAgain(DistributionRegistry registry, ImageSeeder seeder) throws Exception {
        ExecutorService clients = Executors.newSingleThreadExecutor();
        try (TcpRelay hop = TcpRelay.toLocalPort(registry.port(), new CountTap(), new ThrottleTap(SLOW))) {
            ImageSeeder.Blob blob = seeder.pushRandomBlob(registry.url(), "faults/crash", SIZE, 8003);
            Path storage = tmp.resolve("store");
            Path committed = Pulls.blobFile(storage, blob.digest());
            try (WharfProcess wharf = WharfProcess.builder()
                    .project("up", URI.create(hop.url()))
                    .storage(storage)
                    .jvmArgs("-Xmx128m")
                    .start()) {
                URI uri = wharf.url().resolve("/v2/up/faults/crash/blobs/" + blob.digest());
                AtomicLong progress = new AtomicLong();
                Future<Fetch> partial = clients.submit(() -> Pulls.get(uri, null, progress, Duration.ofSeconds(60)));
                assertTrue(Pulls.await(Duration.ofSeconds(30), () -> progress.get() >= 2 * Pulls.MiB),
                        "the client got only " + progress.get() + " bytes\n--- wharf log ---\n" + wharf.log());
                long oldPid = wharf.pid();
                wharf.kill9();
                assertFalse(wharf.isAlive());

                Fetch cut = Pulls.result(partial, Duration.ofSeconds(30));
                assertFalse(cut.clean(), "a client of a killed server cannot have a clean response: " + cut.describe());
                assertTrue(cut.bytes() < SIZE, cut.describe());
                System.out.printf("[CrashTest] killed wharf (pid %d) after the client read %.1f MiB (upstream sent "
                        + "%.1f MiB)%n", oldPid, cut.bytes() / (double) Pulls.MiB, hop.tap(CountTap.class).downstreamBytes() / (double) Pulls.MiB);

                assertFalse(Files.exists(committed), "a partial blob was committed at " + committed);
                assertTrue(Pulls.files(storage.resolve("blobs")).isEmpty(),
                        "blobs/ holds " + Pulls.files(storage.resolve("blobs")));
                List<Path> partials = Pulls.files(storage.resolve("tmp"));
                assertEquals(1, partials.size(), "the partial fill should be the one file in tmp/: " + partials);
                long partialSize = Pulls.size(partials.get(0));
                assertTrue(partialSize > 0 && partialSize < SIZE, "partial fill size " + partialSize);

                hop.tap(ThrottleTap.class).setBytesPerSecond(0);
                wharf.restart();
                assertTrue(wharf.isAlive());
                assertTrue(Pulls.files(storage.resolve("tmp")).isEmpty(),
                        "tmp/ was not cleaned at start-up: " + Pulls.files(storage.resolve("tmp")));

                Fetch whole = Pulls.get(uri, null, null, Duration.ofSeconds(60));
                assertTrue(whole.clean(), whole.describe() + "\n--- wharf log ---\n" + wharf.log());
                assertEquals(SIZE, whole.bytes());
                assertEquals(blob.digest(), whole.digest());

                // The first GET is logged once the registry notices its client is gone; wait for it, bounded.
                String blobPath = "/blobs/" + blob.digest();
                Pulls.await(Duration.ofSeconds(10), () -> registry.countRequests("GET", blobPath) >= 2);
                assertEquals(2, registry.countRequests("GET", blobPath),
                        "upstream GETs: one before the crash, one after: " + registry.requests());
                StoredBlobs.await(storage, blob.digest()); // the commit follows the client's last byte
                assertEquals(blob.digest(), ImageSeeder.sha256(committed), "the committed file's SHA-256");
            }
        } finally {
            clients.shutdownNow();
        }
    }

    /**
     * The new window: the client has every byte (the digest matched), the fsync and rename have not run yet, and
     * wharf is killed. Whenever the kill lands, blobs/ holds the whole verified blob or nothing, tmp/ is cleaned at
     * the next start, and the next pull gets the blob whole (from the store, or fetched again).
     */
    @Test
    void aKillRightAfterTheLastByteLeavesTheBlobWholeOrAbsent(DistributionRegistry registry, ImageSeeder seeder)
            throws Exception {
        ImageSeeder.Blob blob = seeder.pushRandomBlob(registry.url(), "faults/crash-late", SIZE, 8004);
        Path storage = tmp.resolve("store-late");
        Path committed = Pulls.blobFile(storage, blob.digest());
        try (WharfProcess wharf = WharfProcess.builder()
                .project("up", registry.url())
                .storage(storage)
                .jvmArgs("-Xmx128m")
                .start()) {
            URI uri = wharf.url().resolve("/v2/up/faults/crash-late/blobs/" + blob.digest());
            Fetch first = Pulls.get(uri, null, null, Duration.ofSeconds(60));
            wharf.kill9();
            boolean committedAtKill = Files.exists(committed);
            assertTrue(first.clean(), first.describe());
            assertEquals(blob.digest(), first.digest());
            assertFalse(wharf.isAlive());
            System.out.printf("[CrashTest] killed right after the last byte: the blob was %s%n",
                    committedAtKill ? "already committed" : "not committed yet (the kill landed before the rename)");

            List<Path> stored = Pulls.files(storage.resolve("blobs"));
            assertTrue(stored.isEmpty() || stored.equals(List.of(committed)), "blobs/ holds " + stored);
            if (!stored.isEmpty()) {
                assertEquals(blob.digest(), ImageSeeder.sha256(committed), "a committed blob is whole and verified");
            }

            wharf.restart();
            assertTrue(Pulls.files(storage.resolve("tmp")).isEmpty(),
                    "tmp/ was not cleaned at start-up: " + Pulls.files(storage.resolve("tmp")));
            Fetch again = Pulls.get(uri, null, null, Duration.ofSeconds(60));
            assertTrue(again.clean(), again.describe() + "\n--- wharf log ---\n" + wharf.log());
            assertEquals(blob.digest(), again.digest());
            StoredBlobs.await(storage, blob.digest());
            assertEquals(blob.digest(), ImageSeeder.sha256(committed), "the committed file's SHA-256");
            long gets = registry.countRequests("GET", "/blobs/" + blob.digest());
            assertEquals(stored.isEmpty() ? 2 : 1, gets, "fetched again only if the kill lost the cache entry");
        }
    }
}

package dev.wharf.server.storagebounds;

import static dev.wharf.testing.Pulls.MiB;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertTrue;

import dev.wharf.server.metrics.Scrapes;
import dev.wharf.storage.ContentStore;
import dev.wharf.storage.Digest;
import dev.wharf.testing.DistributionRegistry;
import dev.wharf.testing.Fetch;
import dev.wharf.testing.ImageSeeder;
import dev.wharf.testing.InProcessWharf;
import dev.wharf.testing.Pulls;
import dev.wharf.testing.StoredBlobs;
import dev.wharf.testing.RealRegistry;
import dev.wharf.testing.WharfYaml;
import java.io.IOException;
import java.net.URI;
import java.net.http.HttpClient;
import java.net.http.HttpRequest;
import java.net.http.HttpResponse;
import java.nio.ByteBuffer;
import java.nio.channels.FileChannel;
import java.nio.file.Files;
import java.nio.file.Path;
import java.nio.file.StandardOpenOption;
import java.time.Duration;
import java.util.ArrayList;
import java.util.List;
import java.util.concurrent.ExecutorService;
import java.util.concurrent.Executors;
import java.util.concurrent.Future;
import java.util.concurrent.TimeUnit;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.BeforeEach;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.Timeout;
import org.junit.jupiter.api.extension.ExtendWith;
import org.junit.jupiter.api.io.TempDir;

/**
 * Disk full: wharf's storage is a real 64 MiB tmpfs, mounted by the test, so writes fail with the kernel's ENOSPC.
 * Pulls of content that does not fit still succeed, byte for byte, the pass-through is counted, and nothing corrupt
 * is left behind. The mount needs root (CI runs as root); where it is refused the test fails and says why, rather
 * than testing a simulated limit.
 */
@Timeout(value = 3, unit = TimeUnit.MINUTES)
@ExtendWith(RealRegistry.class)
class DiskFullTest {
    private static DistributionRegistry registry;
    private static ImageSeeder seeder;

    @TempDir
    Path tmp;
    Path storage;
    boolean mounted;

    @BeforeAll
    static void startRegistry(DistributionRegistry r, ImageSeeder s) {
        registry = r;
        seeder = s;
    }

    @BeforeEach
    void mountSmallStorage() throws Exception {
        storage = tmp.resolve("store");
        Files.createDirectories(storage);
        String[] mount = {"mount", "-t", "tmpfs", "-o", "size=64m", "tmpfs", storage.toString()};
        mounted = run(mount) == 0;
        assertTrue(mounted, "DiskFullTest needs a real full disk: `" + String.join(" ", mount) + "` failed ("
                + lastOutput + "); run it as root where mounts are allowed, as CI (.ci/run) does");
        System.out.println("[DiskFullTest] storage: a real 64 MiB tmpfs mounted at " + storage);
    }

    @AfterEach
    void unmount() throws Exception {
        if (mounted && run("umount", storage.toString()) != 0) {
            run("umount", "-l", storage.toString());
        }
    }

    /** What the last failed {@link #run} printed, for the failure message. */
    private static String lastOutput = "";

    private static int run(String... command) throws InterruptedException {
        try {
            Process p = new ProcessBuilder(command).redirectErrorStream(true).start();
            String out = new String(p.getInputStream().readAllBytes());
            if (!p.waitFor(30, TimeUnit.SECONDS)) {
                p.destroyForcibly();
                return -1;
            }
            if (p.exitValue() != 0) {
                lastOutput = "exit " + p.exitValue() + ": " + out.trim();
                System.out.println("[DiskFullTest] " + String.join(" ", command) + ": " + out.trim());
            }
            return p.exitValue();
        } catch (IOException e) {
            lastOutput = e.toString();
            System.out.println("[DiskFullTest] " + String.join(" ", command) + ": " + e);
            return -1;
        }
    }

    private InProcessWharf start() throws Exception {
        return InProcessWharf.start(storage, WharfYaml.oneProject("up", registry.url()));
    }

    @Test
    void aBlobLargerThanTheDiskReachesEveryClientWholeAndIsNotStored() throws Exception {
        ImageSeeder.Blob big = seeder.pushRandomBlob(registry.url(), "full/big", 96 * MiB, 801);
        ImageSeeder.Image small = seeder.pushOciImage(registry.url(), "full/small", "v1", MiB, 802,
                ImageSeeder.Compression.NONE);
        ExecutorService clients = Executors.newFixedThreadPool(3);
        try (InProcessWharf wharf = start()) {
            ContentStore store = wharf.server().store();
            String path = "/v2/up/full/big/blobs/" + big.digest();
            List<Future<Fetch>> fetches = new ArrayList<>();
            // One starter and two that join the same fill; one of them reads slowly (about 6 s).
            fetches.add(clients.submit(() -> Pulls.get(wharf.hostPort(), path, 0, null, Duration.ofSeconds(90))));
            fetches.add(clients.submit(() -> Pulls.get(wharf.hostPort(), path, 0, null, Duration.ofSeconds(90))));
            fetches.add(clients.submit(() -> Pulls.get(wharf.hostPort(), path, 16 * MiB, null,
                    Duration.ofSeconds(90))));
            for (Future<Fetch> f : fetches) {
                Fetch fetch = f.get(120, TimeUnit.SECONDS);
                assertTrue(fetch.whole(), "a client did not get the blob whole: " + fetch.describe());
                assertEquals(big.digest(), fetch.digest());
            }
            long upstreamGets = registry.countRequests("GET", "/blobs/" + big.digest());
            System.out.printf("[DiskFullTest] 96 MiB blob to 3 clients through a 64 MiB store: %d pass-through(s), "
                    + "%d upstream GET(s)%n", store.passThroughCount(), upstreamGets);
            assertTrue(store.passThroughCount() >= 1, "the pass-through was not counted");
            assertTrue(upstreamGets <= 3, "more upstream fetches than clients: " + upstreamGets);
            assertTrue(passThroughMetric(wharf) >= 1, "wharf_passthrough_total did not count it");

            // Nothing stored, nothing half written, and the temp file is gone (so its space is free again).
            assertTrue(store.blobSize(Digest.parse(big.digest())).isEmpty());
            assertFalse(Files.exists(Pulls.blobFile(storage, big.digest())));
            assertTrue(Pulls.await(Duration.ofSeconds(10), () -> Pulls.files(storage.resolve("tmp")).isEmpty()),
                    "temp files left: " + Pulls.files(storage.resolve("tmp")));
            Pulls.assertBlobsIntact(storage);

            // With its space back, the store caches again.
            Pulls.pullImage(wharf.hostPort(), "up", small);
            StoredBlobs.await(storage, small.blobDigests()); // the commit follows the client's last byte
            for (String digest : small.blobDigests()) {
                assertTrue(Files.exists(Pulls.blobFile(storage, digest)), "not cached after the pass-through: " + digest);
            }
            Pulls.assertBlobsIntact(storage);
        } finally {
            clients.shutdownNow();
        }
    }

    @Test
    void withTheDiskCompletelyFullAWholeImagePullStillSucceeds() throws Exception {
        ImageSeeder.Image image = seeder.pushOciImage(registry.url(), "full/image", "v1", 8 * MiB, 803,
                ImageSeeder.Compression.NONE);
        try (InProcessWharf wharf = start()) {
            ContentStore store = wharf.server().store();
            Path filler = storage.resolve("filler");
            fillDisk(filler);
            Pulls.pullImage(wharf.hostPort(), "up", image);
            Pulls.pullImage(wharf.hostPort(), "up", image); // and again: still nothing is cached, still whole
            System.out.printf("[DiskFullTest] full store: image pulled twice, %d pass-throughs%n",
                    store.passThroughCount());
            assertTrue(store.passThroughCount() >= 2 * image.blobDigests().size() - 1,
                    "pass-throughs counted: " + store.passThroughCount());
            for (String digest : image.blobDigests()) {
                assertFalse(Files.exists(Pulls.blobFile(storage, digest)));
            }
            assertTrue(Pulls.await(Duration.ofSeconds(10), () -> Pulls.files(storage.resolve("tmp")).isEmpty()),
                    "temp files left: " + Pulls.files(storage.resolve("tmp")));
            Pulls.assertBlobsIntact(storage);

            Files.deleteIfExists(filler);
            Pulls.pullImage(wharf.hostPort(), "up", image);
            StoredBlobs.await(storage, image.blobDigests()); // the commit follows the client's last byte
            for (String digest : image.blobDigests()) {
                assertTrue(Files.exists(Pulls.blobFile(storage, digest)), "not cached once space was back: " + digest);
            }
            Pulls.assertBlobsIntact(storage);
        }
    }

    /** At most this many MiB are written to fill a disk: far above the test's 64 MiB tmpfs, so the loop is bounded. */
    private static final int FILL_LIMIT_MIB = 4096;

    /** Writes zeros to {@code file} until the filesystem refuses more (fails past {@link #FILL_LIMIT_MIB}). */
    private static void fillDisk(Path file) throws IOException {
        ByteBuffer zeros = ByteBuffer.allocate(1 << 20);
        try (FileChannel ch = FileChannel.open(file, StandardOpenOption.CREATE_NEW, StandardOpenOption.WRITE)) {
            for (int mib = 0; ; mib++) {
                if (mib >= FILL_LIMIT_MIB) {
                    throw new AssertionError("the disk under " + file + " took " + FILL_LIMIT_MIB + " MiB without filling up");
                }
                zeros.clear();
                try {
                    while (zeros.hasRemaining()) {
                        ch.write(zeros);
                    }
                } catch (IOException e) {
                    if (ContentStore.isOutOfSpace(e)) {
                        break;
                    }
                    throw e;
                }
            }
        }
        // The last partial megabyte may have left a few pages: fill those too, a byte at a time in 4 KiB steps.
        try (FileChannel ch = FileChannel.open(file, StandardOpenOption.WRITE, StandardOpenOption.APPEND)) {
            ByteBuffer page = ByteBuffer.allocate(4096);
            for (int pages = 0; pages < 256; pages++) { // a MiB at most: what the loop above could have left
                page.clear();
                try {
                    ch.write(page);
                } catch (IOException e) {
                    break;
                }
            }
        }
    }

    private static double passThroughMetric(InProcessWharf wharf) throws Exception {
        return Scrapes.scrape(wharf).sum("wharf_passthrough_total", "project", "up");
    }
}

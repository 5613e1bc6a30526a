package dev.wharf.faults;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

import dev.wharf.testing.DistributionRegistry;
import dev.wharf.testing.Fetch;
import dev.wharf.testing.ImageSeeder;
import dev.wharf.testing.InProcessWharf;
import dev.wharf.testing.Pulls;
import dev.wharf.testing.StoredBlobs;
import dev.wharf.testing.RealRegistry;
import dev.wharf.testing.WharfYaml;
import java.net.URI;
import java.nio.file.Path;
import java.time.Duration;
import java.util.ArrayList;
import java.util.List;
import java.util.concurrent.CountDownLatch;
import java.util.concurrent.ExecutorService;
import java.util.concurrent.Executors;
import java.util.concurrent.Future;
import java.util.concurrent.TimeUnit;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.Timeout;
import org.junit.jupiter.api.extension.ExtendWith;
import org.junit.jupiter.api.io.TempDir;

/** Eight clients ask for one uncached 256 MiB blob at once: the upstream serves it exactly once. */
@Timeout(value = 4, unit = TimeUnit.MINUTES)
@ExtendWith(RealRegistry.class)
class DedupeTest {
    private static final int CLIENTS = 8;
    private static final long SIZE = 256 * Pulls.MiB;

    @TempDir
    Path tmp;

    @Test
    void eightConcurrentClientsShareOneUpstreamFetch(DistributionRegistry registry, ImageSeeder seeder) throws Exception {
        ImageSeeder.Blob blob = seeder.pushRandomBlob(registry.url(), "faults/dedupe", SIZE, 8001);
        Path storage = tmp.resolve("store");
        ExecutorService clients = Executors.newFixedThreadPool(CLIENTS);
        try (InProcessWharf wharf = InProcessWharf.start(storage, WharfYaml.oneProject("up", registry.url()))) {
            URI uri = wharf.url().resolve("/v2/up/faults/dedupe/blobs/" + blob.digest());
            CountDownLatch go = new CountDownLatch(1);
            List<Future<Fetch>> futures = new ArrayList<>();
            for (int i = 0; i < CLIENTS; i++) {
                futures.add(clients.submit(() -> {
                    go.await();
                    return Pulls.get(uri, null, null, Duration.ofMinutes(2));
                }));
            }
            long start = System.nanoTime();
            go.countDown();
            List<Fetch> results = new ArrayList<>();
            for (Future<Fetch> f : futures) {
                results.add(Pulls.result(f, Duration.ofMinutes(3)));
            }
            for (int i = 0; i < CLIENTS; i++) {
                Fetch r = results.get(i);
                assertTrue(r.clean(), "client " + i + ": " + r.describe());
                assertEquals(SIZE, r.contentLength(), "client " + i + " Content-Length");
                assertEquals(SIZE, r.bytes(), "client " + i + " bytes");
                assertEquals(blob.digest(), r.digest(), "client " + i + " digest");
            }
            long slowest = results.stream().mapToLong(Fetch::doneNanos).max().orElseThrow();
            System.out.printf("[DedupeTest] %d clients x %d MiB done in %.2f s%n", CLIENTS, SIZE / Pulls.MiB,
                    Pulls.seconds(slowest - start));
            assertEquals(1, registry.countRequests("GET", "/blobs/" + blob.digest()),
                    "upstream GETs of the blob: " + registry.requests());
            StoredBlobs.await(storage, blob.digest()); // the commit follows the clients' last byte
            assertEquals(SIZE, Pulls.size(Pulls.blobFile(storage, blob.digest())), "committed blob size");
        } finally {
            clients.shutdownNow();
        }
    }
}

package dev.wharf.faults;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

import dev.wharf.storage.ContentStore;
import dev.wharf.storage.Digest;
import dev.wharf.testing.DistributionRegistry;
import dev.wharf.testing.Fetch;
import dev.wharf.testing.ImageSeeder;
import dev.wharf.testing.InProcessWharf;
import dev.wharf.testing.Pulls;
import dev.wharf.testing.RawHttp;
import dev.wharf.testing.RealRegistry;
import dev.wharf.testing.TcpRelay;
import dev.wharf.testing.ThrottleTap;
import dev.wharf.testing.WharfYaml;
import java.io.InputStream;
import java.net.InetSocketAddress;
import java.net.Socket;
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
 * One client of a fill that stops reading must not stall the others beyond {@code limits.writeTimeout} (issue 8
 * items 1 and 8). In a normal fill readers are independent ({@link SlowClientTest}); in pass-through mode (storage
 * full: the rest of the blob goes through a bounded memory window) the window follows the slowest reader, so a client
 * that reads nothing holds every other client back until its write timeout aborts it. Here the store's hard cap
 * ({@link ContentStore#setCapacityLimit}, the stand-in for a full disk that {@code DiskFullTest} shows with a real
 * tmpfs) lets the first 4 MiB of a 48 MiB blob from a real registry be cached and no more. Four clients join the fill
 * while a throttling relay holds the upstream back; one of them, on a socket with a 4 KiB receive buffer, reads
 * nothing. With a 2 s write timeout, the three readers get the blob whole, the stalled one is cut off with less.
 */
@Timeout(value = 2, unit = TimeUnit.MINUTES)
@ExtendWith(RealRegistry.class)
class StalledClientPassThroughTest {
    @TempDir
    Path tmp;

    @Test
    void aClientThatReadsNothingIsAbortedAfterTheWriteTimeoutAndTheOthersGetThePassedThroughBlobWhole(
            DistributionRegistry registry, ImageSeeder seeder) throws Exception {
        long size = 48 * Pulls.MiB;
        ImageSeeder.Blob blob = seeder.pushRandomBlob(registry.url(), "faults/stall", size, 2301);
        ExecutorService readers = Executors.newFixedThreadPool(3);
        try (TcpRelay relay = TcpRelay.toLocalPort(registry.port(), new ThrottleTap(Pulls.MiB));
             InProcessWharf wharf = InProcessWharf.start(tmp.resolve("store"),
                     WharfYaml.oneProject("up", relay.url()).limit("writeTimeout", "2s"))) {
            ContentStore store = wharf.server().store();
            store.setCapacityLimit(4 * Pulls.MiB);
            String path = "/v2/up/faults/stall/blobs/" + blob.digest();
            long passedBefore = store.passThroughCount();

            try (Socket stalled = new Socket()) {
                stalled.setReceiveBufferSize(4096);
                stalled.connect(new InetSocketAddress("127.0.0.1", wharf.server().port()), 5_000);
                RawHttp.send(stalled, RawHttp.request("GET", path));
                List<AtomicLong> progress = new ArrayList<>();
                List<Future<Fetch>> fetches = new ArrayList<>();
                for (int i = 0; i < 3; i++) {
                    AtomicLong p = new AtomicLong();
                    progress.add(p);
                    fetches.add(readers.submit(() -> Pulls.get(wharf.hostPort(), path, 0, p, Duration.ofSeconds(90))));
                }
                // All four joined one fill while the upstream trickles (1 MiB/s); then let it run.
                assertTrue(Pulls.await(Duration.ofSeconds(30), () -> progress.stream().allMatch(p -> p.get() > 0)),
                        "the readers did not get going");
                assertTrue(progress.stream().allMatch(p -> p.get() < 4 * Pulls.MiB),
                        "the cache filled up before all clients joined: the test proves nothing");
                relay.tap(ThrottleTap.class).setBytesPerSecond(0);
                long released = System.nanoTime();

                for (Future<Fetch> f : fetches) {
                    Fetch fetch = f.get(90, TimeUnit.SECONDS);
                    assertTrue(fetch.whole(), "a reading client did not get the blob whole: " + fetch.describe());
                    assertEquals(blob.digest(), fetch.digest());
                }
                double seconds = Pulls.seconds(System.nanoTime() - released);
                // Held back by the stalled client until its 2 s write timeout, then a 48 MiB transfer on loopback.
                assertTrue(seconds < 30, "the readers waited " + seconds + " s for the stalled client");
                assertTrue(store.passThroughCount() > passedBefore, "the fill never went to pass-through");
                assertTrue(store.blobSize(Digest.parse(blob.digest())).isEmpty(), "the blob was stored after all");

                // The stalled client was cut off: fewer bytes than the blob, then the end of the connection.
                long got = 0;
                InputStream in = stalled.getInputStream();
                byte[] buf = new byte[64 << 10];
                stalled.setSoTimeout(10_000);
                try {
                    int n;
                    while ((n = in.read(buf)) > 0) {
                        got += n;
                    }
                } catch (java.io.IOException reset) {
                    // a reset is an abort too
                }
                assertTrue(got < size, "the stalled client got " + got + " bytes: it was never aborted");
                System.out.printf("[StalledClientPassThroughTest] readers done %.1f s after the upstream was "
                        + "released; the stalled client had %d KiB when it was cut off%n", seconds, got >> 10);
            }
        } finally {
            readers.shutdownNow();
        }
    }
}

package dev.wharf.faults;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertTrue;

import dev.wharf.testing.DistributionRegistry;
import dev.wharf.testing.Fetch;
import dev.wharf.testing.ImageSeeder;
import dev.wharf.testing.InProcessWharf;
import dev.wharf.testing.CountTap;
import dev.wharf.testing.Pulls;
import dev.wharf.testing.RealRegistry;
import dev.wharf.testing.TcpRelay;
import dev.wharf.testing.ThrottleTap;
import dev.wharf.testing.WharfYaml;
import java.net.InetSocketAddress;
import java.net.URI;
import java.nio.file.Files;
import java.nio.file.Path;
import java.time.Duration;
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
 * Stream-tee: with the upstream throttled to 8 MiB/s by a real TCP hop, a client of a cold 64 MiB blob gets its
 * first bytes while the upstream transfer is still running, and a client that joins mid-fill gets the whole blob.
 */
@Timeout(value = 2, unit = TimeUnit.MINUTES)
@ExtendWith(RealRegistry.class)
class TeeTest {
    private static final long SIZE = 64 * Pulls.MiB;
    private static final long RATE = 8 * Pulls.MiB;
    /** "Well before": the transfer takes ~8 s; the first MiB must arrive at least this much before it ends. */
    private static final long MARGIN_NANOS = TimeUnit.SECONDS.toNanos(3);

    @TempDir
    Path tmp;

    @Test
    void clientsReadWhileTheUpstreamTransferRuns(DistributionRegistry registry, ImageSeeder seeder) throws Exception {
        ExecutorService clients = Executors.newFixedThreadPool(2);
        try (TcpRelay hop = TcpRelay.toLocalPort(registry.port(), new CountTap(), new ThrottleTap(RATE))) {
            ImageSeeder.Blob blob = seeder.pushRandomBlob(registry.url(), "faults/tee", SIZE, 8002);
            Path storage = tmp.resolve("store");
            try (InProcessWharf wharf = InProcessWharf.start(storage, WharfYaml.oneProject("up", hop.url()))) {
                URI uri = wharf.url().resolve("/v2/up/faults/tee/blobs/" + blob.digest());
                AtomicLong firstProgress = new AtomicLong();
                Future<Fetch> first = clients.submit(() -> Pulls.get(uri, null, firstProgress, Duration.ofSeconds(90)));

                // Join mid-fill: once the first client has a quarter of the blob.
                assertTrue(Pulls.await(Duration.ofSeconds(30), () -> firstProgress.get() >= SIZE / 4),
                        "the first client got only " + firstProgress.get() + " bytes in 30 s");
                long upstreamAtJoin = hop.tap(CountTap.class).downstreamBytes();
                boolean committedAtJoin = Files.exists(Pulls.blobFile(storage, blob.digest()));
                Future<Fetch> second = clients.submit(() -> Pulls.get(uri, null, null, Duration.ofSeconds(90)));

                Fetch a = Pulls.result(first, Duration.ofSeconds(100));
                Fetch b = Pulls.result(second, Duration.ofSeconds(100));
                long upstreamEnd = hop.tap(CountTap.class).lastDownstreamNanos();

                assertTrue(a.clean(), "first client: " + a.describe());
                assertEquals(blob.digest(), a.digest());
                assertEquals(SIZE, a.bytes());
                assertTrue(b.clean(), "second client: " + b.describe());
                assertEquals(blob.digest(), b.digest());
                assertEquals(SIZE, b.bytes());

                assertFalse(committedAtJoin, "the second client was meant to join mid-fill, but the blob was committed");
                assertTrue(upstreamAtJoin < SIZE, "the upstream had already sent " + upstreamAtJoin + " bytes at the join");
                assertTrue(b.startNanos() < upstreamEnd, "the second client started after the upstream transfer ended");

                System.out.printf("[TeeTest] first MiB at %.2f s, upstream last byte at %.2f s, first client done at "
                                + "%.2f s, second client (joined at %.2f s with %d MiB upstream) done at %.2f s%n",
                        Pulls.seconds(a.firstMiBNanos() - a.startNanos()), Pulls.seconds(upstreamEnd - a.startNanos()),
                        Pulls.seconds(a.doneNanos() - a.startNanos()), Pulls.seconds(b.startNanos() - a.startNanos()),
                        upstreamAtJoin / Pulls.MiB, Pulls.seconds(b.doneNanos() - a.startNanos()));
                assertTrue(a.firstMiBNanos() > 0, "no first MiB time recorded");
                assertTrue(a.firstMiBNanos() + MARGIN_NANOS < upstreamEnd,
                        "the client's first MiB came only " + Pulls.seconds(upstreamEnd - a.firstMiBNanos())
                                + " s before the upstream transfer ended: wharf is not streaming while it fills");
                assertTrue(a.firstMiBNanos() + MARGIN_NANOS < a.doneNanos(),
                        "the client's first MiB came only " + Pulls.seconds(a.doneNanos() - a.firstMiBNanos())
                                + " s before its own completion");
                assertEquals(1, registry.countRequests("GET", "/blobs/" + blob.digest()),
                        "the joining client must share the running fill");
                assertTrue(hop.tap(CountTap.class).downstreamBytes() >= SIZE && hop.tap(CountTap.class).downstreamBytes() < SIZE + Pulls.MiB,
                        "bytes through the hop: " + hop.tap(CountTap.class).downstreamBytes());
            }
        } finally {
            clients.shutdownNow();
        }
    }
}

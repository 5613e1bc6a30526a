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
import java.io.InputStream;
import java.io.OutputStream;
import java.net.InetSocketAddress;
import java.net.Socket;
import java.net.URI;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.time.Duration;
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
 * A slow client never slows the fill or the other clients, and a client that goes away never stops the fill.
 */
@Timeout(value = 2, unit = TimeUnit.MINUTES)
@ExtendWith(RealRegistry.class)
class SlowClientTest {
    private static DistributionRegistry registry;
    private static ImageSeeder seeder;

    @TempDir
    Path tmp;

    @BeforeAll
    static void startRegistry(DistributionRegistry r, ImageSeeder s) {
        registry = r;
        seeder = s;
    }

    @Test
    void aSlowClientDoesNotHoldBackTheFastOneOrTheFill() throws Exception {
        long size = 128 * Pulls.MiB;
        long slowRate = 16 * Pulls.MiB; // ~8 s for the whole blob; the fill itself takes about a second
        ImageSeeder.Blob blob = seeder.pushRandomBlob(registry.url(), "faults/slow", size, 8007);
        Path storage = tmp.resolve("store");
        Path committed = Pulls.blobFile(storage, blob.digest());
        ExecutorService clients = Executors.newFixedThreadPool(2);
        try (InProcessWharf wharf = InProcessWharf.start(storage, WharfYaml.oneProject("up", registry.url()))) {
            URI uri = wharf.url().resolve("/v2/up/faults/slow/blobs/" + blob.digest());
            AtomicLong slowProgress = new AtomicLong();
            Future<Fetch> slow = clients.submit(() -> Pulls.get(uri, Pulls.rate(slowRate), slowProgress,
                    Duration.ofSeconds(60)));
            Future<Fetch> fast = clients.submit(() -> Pulls.get(uri, null, null, Duration.ofSeconds(60)));

            // Watch for the commit while the slow client reads.
            long commitNanos = 0;
            long slowBytesAtCommit = -1;
            long deadline = System.nanoTime() + TimeUnit.SECONDS.toNanos(60);
            while (System.nanoTime() < deadline && !slow.isDone()) {
                if (Files.isRegularFile(committed)) {
                    slowBytesAtCommit = slowProgress.get();
                    commitNanos = System.nanoTime();
                    break;
                }
                Thread.sleep(10);
            }
            Fetch f = Pulls.result(fast, Duration.ofSeconds(60));
            long slowBytesAtFastDone = slowProgress.get();
            Fetch s = Pulls.result(slow, Duration.ofSeconds(70));

            assertTrue(f.clean(), "fast: " + f.describe());
            assertEquals(blob.digest(), f.digest());
            assertTrue(s.clean(), "slow: " + s.describe());
            assertEquals(blob.digest(), s.digest());
            assertEquals(size, s.bytes());

            System.out.printf("[SlowClientTest] fast client done at %.2f s, blob committed at %.2f s (slow client "
                            + "had %d MiB), slow client done at %.2f s (had %d MiB when the fast one finished)%n",
                    Pulls.seconds(f.doneNanos() - s.startNanos()), Pulls.seconds(commitNanos - s.startNanos()),
                    slowBytesAtCommit / Pulls.MiB, Pulls.seconds(s.doneNanos() - s.startNanos()),
                    slowBytesAtFastDone / Pulls.MiB);
            assertTrue(commitNanos > 0, "the blob was not committed while the slow client was still reading");
            assertTrue(slowBytesAtCommit < size * 3 / 4,
                    "the fill waited for the slow client: it had " + slowBytesAtCommit + " bytes at the commit");
            assertTrue(slowBytesAtFastDone < size / 2,
                    "the fast client waited for the slow one: the slow one had " + slowBytesAtFastDone + " bytes");
            assertTrue(f.doneNanos() + TimeUnit.SECONDS.toNanos(3) < s.doneNanos(),
                    "the fast client finished only " + Pulls.seconds(s.doneNanos() - f.doneNanos())
                            + " s before the slow one");
            assertEquals(1, registry.countRequests("GET", "/blobs/" + blob.digest()));
            assertEquals(blob.digest(), ImageSeeder.sha256(committed));
            Pulls.assertNoOpenFilesUnder(ProcessHandle.current().pid(), storage, "after both clients finished");
        } finally {
            clients.shutdownNow();
        }
    }

    @Test
    void aClientThatLeavesMidFillDoesNotStopTheFill() throws Exception {
        long size = 64 * Pulls.MiB;
        ImageSeeder.Blob blob = seeder.pushRandomBlob(registry.url(), "faults/leaver", size, 8008);
        Path storage = tmp.resolve("store");
        Path committed = Pulls.blobFile(storage, blob.digest());
        try (TcpRelay hop = TcpRelay.toLocalPort(registry.port(), new CountTap(), new ThrottleTap(16 * Pulls.MiB));
                InProcessWharf wharf = InProcessWharf.start(storage, WharfYaml.oneProject("up", hop.url()))) {
            String path = "/v2/up/faults/leaver/blobs/" + blob.digest();
            long read;
            // The only client of the fill (its starter) reads 4 MiB, then drops the connection.
            try (Socket socket = new Socket("127.0.0.1", wharf.url().getPort())) {
                socket.setSoTimeout(30_000);
                OutputStream out = socket.getOutputStream();
                out.write(("GET " + path + " HTTP/1.1\r\nHost: " + wharf.hostPort() + "\r\n\r\n")
                        .getBytes(StandardCharsets.ISO_8859_1));
                out.flush();
                InputStream in = socket.getInputStream();
                byte[] buffer = new byte[64 << 10];
                read = 0;
                int n;
                while (read < 4 * Pulls.MiB && (n = in.read(buffer)) > 0) {
                    read += n;
                }
            }
            long upstreamAtLeave = hop.tap(CountTap.class).downstreamBytes();
            boolean committedAtLeave = Files.exists(committed);
            assertTrue(read >= 4 * Pulls.MiB, "the client read only " + read + " bytes");
            assertFalse(committedAtLeave, "the client was meant to leave mid-fill, but the blob was already committed");
            assertTrue(upstreamAtLeave < size, "the upstream had sent everything before the client left");

            assertTrue(Pulls.await(Duration.ofSeconds(30), () -> Files.isRegularFile(committed)),
                    "the fill stopped when its only client left: upstream sent " + hop.tap(CountTap.class).downstreamBytes() + " bytes");
            System.out.printf("[SlowClientTest] client left after %d MiB (upstream at %d MiB); fill committed anyway%n",
                    read / Pulls.MiB, upstreamAtLeave / Pulls.MiB);
            assertEquals(blob.digest(), ImageSeeder.sha256(committed));
            assertEquals(1, registry.countRequests("GET", "/blobs/" + blob.digest()));

            Fetch warm = Pulls.get(wharf.url().resolve(path), null, null, Duration.ofSeconds(30));
            assertTrue(warm.clean(), warm.describe());
            assertEquals(blob.digest(), warm.digest());
            assertEquals(1, registry.countRequests("GET", "/blobs/" + blob.digest()), "served from the store");
            Pulls.assertNoOpenFilesUnder(ProcessHandle.current().pid(), storage, "after the leaver and a warm GET");
        }
    }
}

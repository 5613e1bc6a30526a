package dev.wharf.faults;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

import dev.wharf.testing.DistributionRegistry;
import dev.wharf.testing.Fetch;
import dev.wharf.testing.ImageSeeder;
import dev.wharf.testing.Pulls;
import dev.wharf.testing.StoredBlobs;
import dev.wharf.testing.RealRegistry;
import dev.wharf.testing.WharfProcess;
import java.io.IOException;
import java.net.URI;
import java.net.http.HttpResponse;
import java.nio.file.Files;
import java.nio.file.Path;
import java.time.Duration;
import java.util.concurrent.TimeUnit;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.Timeout;
import org.junit.jupiter.api.extension.ExtendWith;

/**
 * A 1 GiB blob through wharf with a 128 MiB heap, cold and then warm: wharf streams, never buffers, and stays
 * alive, with a resident set far below the blob's size.
 */
@Timeout(value = 4, unit = TimeUnit.MINUTES)
@ExtendWith(RealRegistry.class)
class MemoryTest {
    private static final long SIZE = 1L << 30;
    private static final long RSS_LIMIT_KIB = 600L << 10;

    @Test
    void aGibibyteBlobFlowsThroughA128MiBHeap(DistributionRegistry registry, ImageSeeder seeder) throws Exception {
        ImageSeeder.Blob blob = seeder.pushRandomBlob(registry.url(), "faults/huge", SIZE, 8006);
        try (WharfProcess wharf = WharfProcess.builder()
                .project("up", registry.url())
                .jvmArgs("-Xmx128m")
                .start()) {
            URI uri = wharf.url().resolve("/v2/up/faults/huge/blobs/" + blob.digest());

            Fetch cold = Pulls.get(uri, null, null, Duration.ofMinutes(2));
            assertTrue(cold.clean(), "cold: " + cold.describe() + "\n--- wharf log ---\n" + tail(wharf));
            assertEquals(SIZE, cold.bytes());
            assertEquals(blob.digest(), cold.digest());
            long coldHwm = vmHwmKiB(wharf.pid());
            // The fsync and rename follow the client's last byte: let them land, so the next GET is a warm one.
            StoredBlobs.await(wharf.storage(), blob.digest());

            Fetch warm = Pulls.get(uri, null, null, Duration.ofMinutes(2));
            assertTrue(warm.clean(), "warm: " + warm.describe() + "\n--- wharf log ---\n" + tail(wharf));
            assertEquals(SIZE, warm.bytes());
            assertEquals(blob.digest(), warm.digest());

            assertTrue(wharf.isAlive(), "wharf died:\n" + tail(wharf));
            HttpResponse<byte[]> ping = Pulls.getBytes(wharf.url().resolve("/v2/"));
            assertEquals(200, ping.statusCode(), "wharf answers after the transfers");
            assertEquals(1, registry.countRequests("GET", "/blobs/" + blob.digest()), "the warm pull is local");
            Path committed = Pulls.blobFile(wharf.storage(), blob.digest());
            assertEquals(SIZE, Files.size(committed));

            Pulls.assertNoOpenFilesUnder(wharf.pid(), wharf.storage(), "after the cold and warm GETs");

            long hwm = vmHwmKiB(wharf.pid());
            System.out.printf("[MemoryTest] 1 GiB cold in %.1f s (%.0f MiB/s), warm in %.1f s (%.0f MiB/s); "
                            + "wharf (-Xmx128m) peak RSS VmHWM %d MiB after cold, %d MiB at end%n",
                    Pulls.seconds(cold.doneNanos() - cold.startNanos()),
                    SIZE / Pulls.MiB / Pulls.seconds(cold.doneNanos() - cold.startNanos()),
                    Pulls.seconds(warm.doneNanos() - warm.startNanos()),
                    SIZE / Pulls.MiB / Pulls.seconds(warm.doneNanos() - warm.startNanos()), coldHwm >> 10, hwm >> 10);
            assertTrue(hwm > 0 && hwm < RSS_LIMIT_KIB, "wharf's peak RSS " + (hwm >> 10) + " MiB with a 128 MiB heap");
        }
    }

    /** VmHWM (peak resident set) of a process, in KiB, from /proc/PID/status. */
    private static long vmHwmKiB(long pid) throws IOException {
        for (String line : Files.readAllLines(Path.of("/proc/" + pid + "/status"))) {
            if (line.startsWith("VmHWM:")) {
                return Long.parseLong(line.replaceAll("[^0-9]", ""));
            }
        }
        throw new AssertionError("no VmHWM in /proc/" + pid + "/status");
    }

    private static String tail(WharfProcess wharf) {
        String log = wharf.log();
        return log.length() > 4000 ? log.substring(log.length() - 4000) : log;
    }
}

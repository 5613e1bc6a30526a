package dev.wharf.server.admin;

import static dev.wharf.server.admin.AdminTesting.blobFile;
import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertTrue;

import dev.wharf.testing.DistributionRegistry;
import dev.wharf.testing.Exec;
import dev.wharf.testing.ImageSeeder;
import dev.wharf.testing.ImageSeeder.Image;
import dev.wharf.testing.RealRegistry;
import dev.wharf.testing.WharfCli;
import dev.wharf.testing.WharfProcess;
import java.io.RandomAccessFile;
import java.nio.file.Files;
import java.nio.file.Path;
import java.time.Duration;
import java.util.List;
import java.util.concurrent.TimeUnit;
import java.util.stream.Stream;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.Timeout;
import org.junit.jupiter.api.extension.ExtendWith;

/**
 * Acceptance, verify: with wharf running (a child JVM), a byte of a stored layer is flipped on disk; {@code wharf
 * verify} (another child JVM, on the same storage) finds it, quarantines it and exits 1; the next pull through the
 * still-running wharf fetches the layer again (the upstream sees a second GET) and gets the right bytes; a second
 * verify finds everything good and exits 0.
 */
@Timeout(value = 4, unit = TimeUnit.MINUTES)
@ExtendWith(RealRegistry.class)
class VerifyCliTest {
    private static final Duration CLI_TIMEOUT = Duration.ofMinutes(2);

    @Test
    void aFlippedByteIsFoundQuarantinedAndFetchedAgainOnTheNextPull(DistributionRegistry upstream, ImageSeeder seeder) throws Exception {
        Image image = seeder.pushOciImage(upstream.url(), "library/verify-img", "v1", 3L << 20, 501);
        try (WharfProcess wharf = WharfProcess.builder()
                .project(WharfProcess.Project.of("hub", upstream.url()))
                .start()) {
            AdminTesting.pull(wharf.url(), "/v2/hub/", image);
            Path storage = wharf.storage();
            AdminTesting.awaitLinked(storage, "hub", AdminTesting.digestsOf(image));

            Exec.Result clean = WharfCli.run(CLI_TIMEOUT, "verify", "--storage", storage.toString());
            assertEquals(0, clean.exitCode(), clean.describe());
            int blobs = 1 + image.blobDigests().size();
            assertTrue(clean.output().contains("verified " + blobs + " blobs"), clean.output());
            assertTrue(clean.output().contains(blobs + " ok, 0 corrupt"), clean.output());

            String layer = image.layerDigests().get(1);
            Path file = blobFile(storage, layer);
            try (RandomAccessFile f = new RandomAccessFile(file.toFile(), "rw")) {
                f.seek(f.length() / 2);
                int b = f.read();
                f.seek(f.length() / 2);
                f.write(b ^ 0x40);
            }
            byte[] corrupted = Files.readAllBytes(file);

            Exec.Result found = WharfCli.run(CLI_TIMEOUT, "verify", "--config", wharf.configFile().toString());
            assertEquals(1, found.exitCode(), found.describe());
            assertTrue(found.output().contains("CORRUPT " + layer + ": its " + corrupted.length + " bytes hash to "
                    + ImageSeeder.sha256(corrupted)), found.output());
            assertTrue(found.output().contains((blobs - 1) + " ok, 1 corrupt"), found.output());
            assertFalse(Files.exists(file), "the bad layer left blobs/");
            String hex = layer.substring("sha256:".length());
            List<Path> quarantined;
            try (Stream<Path> files = Files.list(storage.resolve("quarantine/sha256"))) {
                quarantined = files.filter(p -> p.getFileName().toString().startsWith(hex + ".")).toList();
            }
            assertEquals(1, quarantined.size(), "one quarantined copy of the layer");
            assertArrayEquals(corrupted, Files.readAllBytes(quarantined.get(0)), "kept as found");

            String path = "/v2/library/verify-img/blobs/" + layer;
            long upstreamGets = upstream.countRequests("GET", path);
            assertEquals(1, upstreamGets, "the first pull fetched it once");
            byte[] again = AdminTesting.get(wharf.url(), "/v2/hub/library/verify-img/blobs/" + layer, null);
            assertEquals(layer, ImageSeeder.sha256(again), "the next pull gets the right bytes");
            assertEquals(2, upstream.countRequests("GET", path), "wharf fetched the layer from the upstream again");
            for (int i = 0; i < 500 && !Files.isRegularFile(file); i++) {
                Thread.sleep(20); // the client had the last byte a moment before the rename
            }
            assertEquals(layer, ImageSeeder.sha256(file), "and stored the good bytes");

            Exec.Result healed = WharfCli.run(CLI_TIMEOUT, "verify", "--storage", storage.toString());
            assertEquals(0, healed.exitCode(), healed.describe());
            assertTrue(healed.output().contains(blobs + " ok, 0 corrupt"), healed.output());
        }
    }

    @Test
    void aDirectoryThatIsNoStoreIsAUsageError() throws Exception {
        Path empty = Files.createTempDirectory("wharf-not-a-store");
        try {
            Exec.Result r = WharfCli.run(CLI_TIMEOUT, "verify", "--storage", empty.toString());
            assertEquals(2, r.exitCode(), r.describe());
            assertTrue(r.output().contains("no wharf storage at"), r.output());
            assertFalse(Files.exists(empty.resolve("blobs")), "verify never creates a store");
        } finally {
            Files.deleteIfExists(empty);
        }
    }
}

package dev.wharf.server.app;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

import dev.wharf.testing.Exec;
import dev.wharf.testing.WharfCli;
import dev.wharf.testing.WharfProcess;
import java.nio.file.Files;
import java.nio.file.Path;
import java.time.Duration;
import java.util.concurrent.TimeUnit;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.Timeout;
import org.junit.jupiter.api.io.TempDir;

/**
 * Two wharf processes on one storage directory: the second refuses to start (exit 2, a message naming the
 * directory) and leaves the first one's temp files alone; {@code du} and {@code verify} still run beside it.
 */
@Timeout(value = 3, unit = TimeUnit.MINUTES)
class OneServerPerStorageTest {
    @TempDir
    Path storage;

    @Test
    void aSecondServerOnTheSameStorageRefusesToStartAndDeletesNothing() throws Exception {
        WharfProcess.Builder settings = WharfProcess.builder().storage(storage)
                .project("hub", java.net.URI.create("http://127.0.0.1:9"));
        try (WharfProcess first = settings.start()) {
            // A fill in progress of the first server, as cleanTemp would find it.
            Path inFlight = Files.writeString(storage.resolve("tmp").resolve("fill-in-progress"), "partial");

            Exec.Result second = WharfProcess.builder().storage(storage)
                    .project("hub", java.net.URI.create("http://127.0.0.1:9"))
                    .runExpectingExit(Duration.ofSeconds(60));
            assertEquals(2, second.exitCode(), second.describe());
            assertTrue(second.output().contains("storage directory " + storage + " is in use by another wharf (pid "
                    + first.pid() + ")"), second.output());
            assertTrue(Files.exists(inFlight), "the second server deleted the first one's temp file");
            assertTrue(first.isAlive());

            // The read-only tools take no lock and clean nothing.
            Exec.Result du = WharfCli.run(Duration.ofSeconds(60), "du", "--storage", storage.toString());
            assertEquals(0, du.exitCode(), du.describe());
            Exec.Result verify = WharfCli.run(Duration.ofSeconds(60), "verify", "--storage", storage.toString());
            assertEquals(0, verify.exitCode(), verify.describe());
            assertTrue(Files.exists(inFlight), "du or verify deleted the server's temp file");
        }
        // The lock goes with the process: a new server starts on the directory.
        try (WharfProcess next = settings.start()) {
            assertTrue(next.isAlive());
        }
    }
}

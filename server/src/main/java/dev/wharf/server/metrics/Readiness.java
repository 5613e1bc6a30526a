package dev.wharf.server.metrics;

import java.io.IOException;
import java.nio.ByteBuffer;
import java.nio.channels.FileChannel;
import java.nio.file.Files;
import java.nio.file.Path;
import java.nio.file.StandardOpenOption;
import java.time.Duration;
import java.util.concurrent.Executors;
import java.util.concurrent.ScheduledExecutorService;
import java.util.concurrent.TimeUnit;
import java.util.function.BooleanSupplier;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

/**
 * What {@code GET /readyz} answers: ready when the config is loaded (the server finished starting), wharf is not
 * draining, and storage is writable.
 *
 * <p>Writability is probed by creating, writing, syncing and deleting a small file under {@code <storage>/tmp}:
 * once at start and then every {@code period} on a thread of its own, because a sick disk can block for a long
 * time and /readyz is answered on an event loop. The answer reads the last probe's result (a volatile), so it
 * never waits on the disk.
 */
public final class Readiness implements AutoCloseable {
    private static final Logger LOG = LoggerFactory.getLogger(Readiness.class);

    private final Path tmp;
    private final BooleanSupplier draining;
    private final Duration period;
    private final ScheduledExecutorService prober = Executors.newSingleThreadScheduledExecutor(r -> {
        Thread t = new Thread(r, "wharf-readiness");
        t.setDaemon(true);
        return t;
    });
    private volatile boolean configLoaded;
    /** Null when the last probe wrote and deleted its file; otherwise why it could not. */
    private volatile String storageProblem = "storage not probed yet";
    /** {@code tmp} is the storage's temp directory; {@code draining} turns true when a stop begins. */
    public Readiness(Path tmp, BooleanSupplier draining, Duration period) {
        this.tmp = tmp;
        this.draining = draining;
        this.period = period;
    }

    /** Probes storage once now (the caller's thread: start-up, not an event loop), then every period. */
    public void start() {
        probe();
        long millis = period.toMillis();
        prober.scheduleWithFixedDelay(this::probe, millis, millis, TimeUnit.MILLISECONDS);
    }

    /** The server finished starting with its config. */
    public void configLoaded() {
        this.configLoaded = true;
    }

    /** Null when ready; otherwise the reason it is not, for the /readyz body. Never blocks. */
    public String problem() {
        if (draining.getAsBoolean()) {
            return "draining";
        }
        if (!configLoaded) {
            return "starting: config not loaded yet";
        }
        return storageProblem;
    }

    private void probe() {
        Path probe = null;
        try {
            Files.createDirectories(tmp);
            probe = Files.createTempFile(tmp, ".readyz-", ".probe");
            try (FileChannel ch = FileChannel.open(probe, StandardOpenOption.WRITE)) {
                ch.write(ByteBuffer.wrap(new byte[] {'o', 'k'}));
                ch.force(false);
            }
            Files.delete(probe);
            probe = null;
            if (storageProblem != null) {
                LOG.info("storage {} is writable", tmp);
            }
            storageProblem = null;
        } catch (IOException | RuntimeException e) {
            String why = "storage not writable: " + tmp + ": " + e;
            if (!why.equals(storageProblem)) {
                LOG.warn("not ready: {}", why);
            }
            storageProblem = why;
        } finally {
            if (probe != null) {
                try {
                    Files.deleteIfExists(probe);
                } catch (IOException ignored) {
                    // the next probe reports the disk's state
                }
            }
        }
    }

    @Override
    public void close() {
        prober.shutdownNow();
    }
}

package dev.wharf.storage.s3;

import java.util.concurrent.Executors;
import java.util.concurrent.ScheduledExecutorService;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.atomic.AtomicBoolean;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

/**
 * Whether the bucket answers. The first request that fails for want of the server (no connection, a 5xx) marks it
 * down; while down, requests fail at once instead of each waiting for a timeout, and a probe asks the bucket every
 * second until it answers, then marks it up: recovery needs no restart. Concurrency: {@code up} is volatile and the
 * probe is scheduled at most once at a time ({@code probing}); a request and the probe may race to mark up, which
 * is benign.
 */
public final class BucketHealth {
    private static final Logger log = LoggerFactory.getLogger(BucketHealth.class);

    private final Runnable probe;
    private final ScheduledExecutorService timer = Executors.newSingleThreadScheduledExecutor(r -> {
        Thread t = new Thread(r, "wharf-s3-probe");
        t.setDaemon(true);
        return t;
    });
    private final AtomicBoolean probing = new AtomicBoolean();
    private volatile boolean up = true;
    private volatile String lastError = "";

    /** {@code probe} throws unless the bucket answers. */
    BucketHealth(Runnable probe) {
        this.probe = probe;
    }

    /** True unless the last request (or probe) found the server unreachable. */
    public boolean up() {
        return up;
    }

    /** Why the bucket is down (empty when up). Never holds credentials: SDK messages name host and status. */
    public String lastError() {
        return up ? "" : lastError;
    }

    void succeeded() {
        if (!up) {
            up = true;
            log.info("S3 bucket is reachable again: caching to it resumes");
        }
    }

    void failed(Throwable cause) {
        lastError = cause.toString();
        if (up) {
            up = false;
            log.warn("S3 bucket is unreachable, blobs pass through uncached until it is back: {}", cause.toString());
        }
        if (probing.compareAndSet(false, true)) {
            timer.schedule(this::probeOnce, 1, TimeUnit.SECONDS);
        }
    }

    private void probeOnce() {
        try {
            probe.run();
            probing.set(false);
            succeeded();
        } catch (RuntimeException e) {
            lastError = e.toString();
            timer.schedule(this::probeOnce, 1, TimeUnit.SECONDS);
        }
    }

    void close() {
        timer.shutdownNow();
    }
}

package dev.wharf.server.accesslog;

import com.fasterxml.jackson.core.JsonEncoding;
import com.fasterxml.jackson.core.JsonFactory;
import com.fasterxml.jackson.core.JsonGenerator;
import dev.wharf.server.metrics.WharfMetrics;
import java.io.BufferedOutputStream;
import java.io.ByteArrayOutputStream;
import java.io.IOException;
import java.io.OutputStream;
import java.nio.file.Files;
import java.nio.file.Path;
import java.nio.file.StandardOpenOption;
import java.time.Instant;
import java.time.format.DateTimeFormatter;
import java.util.Locale;
import java.util.concurrent.ArrayBlockingQueue;
import java.util.concurrent.BlockingQueue;
import java.util.concurrent.TimeUnit;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

/**
 * The access log: one JSON line per finished request, to stdout, stderr or a file (appended).
 *
 * <p>Threading: {@link #log} is called on event loops and never blocks: it offers the entry to a bounded queue
 * and, when the queue is full (the disk or the pipe behind it is slower than the traffic), drops the line and
 * counts it in {@code wharf_accesslog_dropped_total}. One writer thread owns the output stream and the JSON
 * generator; it formats, writes and flushes whenever the queue runs empty, so a burst costs one flush.
 */
public final class AccessLog implements AutoCloseable {
    private static final Logger LOG = LoggerFactory.getLogger(AccessLog.class);
    /** Lines held while the writer is behind: at about 300 bytes a line, under 20 MiB. */
    static final int QUEUE_CAPACITY = 65_536;
    private static final int MAX_USER_AGENT = 256;

    /** A log that writes nothing. */
    public static final AccessLog OFF = new AccessLog();

    private final BlockingQueue<AccessEntry> queue;
    private final OutputStream out;
    private final boolean closeOut;
    private final int minStatus;
    private final WharfMetrics metrics;
    private final Thread writer;
    private volatile boolean closing;

    private AccessLog() {
        this.queue = null;
        this.out = null;
        this.closeOut = false;
        this.minStatus = Integer.MAX_VALUE;
        this.metrics = null;
        this.writer = null;
    }

    private AccessLog(OutputStream out, boolean closeOut, int minStatus, WharfMetrics metrics, String where) {
        this.queue = new ArrayBlockingQueue<>(QUEUE_CAPACITY);
        this.out = out;
        this.closeOut = closeOut;
        this.minStatus = minStatus;
        this.metrics = metrics;
        this.writer = new Thread(this::run, "wharf-access-log");
        this.writer.setDaemon(true);
        this.writer.start();
        LOG.debug("access log to {} (requests with status >= {})", where, minStatus);
    }

    /**
     * Opens the access log.
     *
     * @param destination {@code stdout}, {@code stderr} or a file path (created with its parents, appended to)
     * @param level       {@code info} (every request), {@code warn} (status 400 and up) or {@code error} (500 and up)
     * @throws IOException naming the file when it cannot be opened for appending
     */
    public static AccessLog open(String destination, String level, WharfMetrics metrics) throws IOException {
        int minStatus = minStatus(level);
        switch (destination) {
            case "stdout":
                return new AccessLog(System.out, false, minStatus, metrics, "stdout");
            case "stderr":
                return new AccessLog(System.err, false, minStatus, metrics, "stderr");
            default:
                Path file = Path.of(destination);
                OutputStream os;
                try {
                    Path parent = file.toAbsolutePath().getParent();
                    if (parent != null) {
                        Files.createDirectories(parent);
                    }
                    os = Files.newOutputStream(file, StandardOpenOption.CREATE, StandardOpenOption.APPEND,
                            StandardOpenOption.WRITE);
                } catch (IOException e) {
                    throw new IOException("accessLog.path: cannot open " + file + " for appending: " + e, e);
                }
                return new AccessLog(new BufferedOutputStream(os, 64 << 10), true, minStatus, metrics,
                        file.toString());
        }
    }

    /** A log to {@code out} (left open on close); for tests of the queue. */
    static AccessLog toStream(OutputStream out, String level, WharfMetrics metrics) {
        return new AccessLog(out, false, minStatus(level), metrics, "a stream");
    }

    /** The lowest status a level logs. */
    static int minStatus(String level) {
        return switch (level.toLowerCase(Locale.ROOT)) {
            case "info" -> 0;
            case "warn" -> 400;
            case "error" -> 500;
            default -> throw new IllegalArgumentException("access log level must be info, warn or error: " + level);
        };
    }

    /** Queues one line; never blocks. */
    public void log(AccessEntry entry) {
        if (queue == null || entry.status() < minStatus || closing) {
            return;
        }
        if (!queue.offer(entry)) {
            metrics.accessLogDropped();
        }
    }

    private void run() {
        ByteArrayOutputStream line = new ByteArrayOutputStream(512);
        JsonFactory json = new JsonFactory();
        boolean failed = false;
        while (true) {
            AccessEntry e;
            try {
                e = queue.poll(100, TimeUnit.MILLISECONDS);
            } catch (InterruptedException ie) {
                e = null;
                closing = true;
            }
            if (e == null) {
                if (closing && queue.isEmpty()) {
                    break;
                }
                continue;
            }
            try {
                do {
                    line.reset();
                    try (JsonGenerator g = json.createGenerator(line, JsonEncoding.UTF8)) {
                        write(g, e);
                    }
                    line.write('\n');
                    line.writeTo(out);
                } while ((e = queue.poll()) != null);
                out.flush();
                failed = false;
            } catch (IOException | RuntimeException ex) {
                metrics.accessLogDropped();
                if (!failed) {
                    LOG.warn("cannot write the access log: {}", ex.toString());
                    failed = true;
                }
            }
        }
        try {
            out.flush();
            if (closeOut) {
                out.close();
            }
        } catch (IOException ex) {
            LOG.warn("cannot close the access log: {}", ex.toString());
        }
    }

    private static void write(JsonGenerator g, AccessEntry e) throws IOException {
        g.writeStartObject();
        g.writeStringField("time", DateTimeFormatter.ISO_INSTANT.format(Instant.ofEpochMilli(e.epochMillis())));
        g.writeStringField("remote", e.remote());
        g.writeStringField("method", e.method());
        g.writeStringField("path", e.path());
        g.writeNumberField("status", e.status());
        g.writeNumberField("bytes", e.bytes());
        g.writeNumberField("durationMs", Math.round(e.durationNanos() / 1_000.0) / 1_000.0);
        g.writeStringField("project", e.project());
        g.writeStringField("kind", e.kind());
        g.writeStringField("cache", e.cache());
        g.writeStringField("fill", e.fill());
        g.writeBooleanField("fillJoined", e.fillJoined());
        String ua = e.userAgent();
        g.writeStringField("userAgent", ua == null || ua.length() <= MAX_USER_AGENT ? ua
                : ua.substring(0, MAX_USER_AGENT));
        g.writeEndObject();
    }

    /** Writes what is queued (waiting at most 5 seconds), then closes a file destination. */
    @Override
    public void close() {
        if (writer == null) {
            return;
        }
        closing = true;
        try {
            writer.join(5_000);
        } catch (InterruptedException e) {
            Thread.currentThread().interrupt();
        }
    }
}

package dev.wharf.server.accesslog;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.ObjectMapper;
import dev.wharf.server.metrics.PrometheusText;
import dev.wharf.server.metrics.WharfMetrics;
import java.io.ByteArrayOutputStream;
import java.io.IOException;
import java.io.OutputStream;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.List;
import java.util.concurrent.CountDownLatch;
import java.util.concurrent.TimeUnit;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.Timeout;
import org.junit.jupiter.api.io.TempDir;

/** The access-log writer: JSON lines, appending, and a stuck destination that drops lines instead of blocking. */
@Timeout(value = 2, unit = TimeUnit.MINUTES)
class AccessLogWriterTest {
    private static final ObjectMapper JSON = new ObjectMapper();

    @TempDir
    Path tmp;

    @Test
    void aStuckDestinationDropsAndCountsInsteadOfBlocking() throws Exception {
        WharfMetrics metrics = new WharfMetrics();
        StuckStream out = new StuckStream();
        AccessLog log = AccessLog.toStream(out, "info", metrics);
        log.log(entry(200, "/first"));
        assertTrue(out.entered.await(10, TimeUnit.SECONDS), "the writer never wrote");
        // The writer is stuck in write(): the queue fills up, then every further line is dropped at once.
        int extra = 100;
        long start = System.nanoTime();
        for (int i = 0; i < AccessLog.QUEUE_CAPACITY + extra; i++) {
            log.log(entry(200, "/n/" + i));
        }
        long millis = TimeUnit.NANOSECONDS.toMillis(System.nanoTime() - start);
        assertTrue(millis < 5_000, "log() took " + millis + " ms for " + (AccessLog.QUEUE_CAPACITY + extra) + " lines");
        PrometheusText s = PrometheusText.parse(metrics.scrape());
        assertEquals(extra, s.sum("wharf_accesslog_dropped_total"), s.show("wharf_accesslog_dropped_total"));
        out.release.countDown();
        log.close();
        String text = out.written.toString(StandardCharsets.UTF_8);
        List<String> lines = text.lines().toList();
        assertEquals(1 + AccessLog.QUEUE_CAPACITY, lines.size(), "lines written");
        assertEquals("/first", JSON.readTree(lines.get(0)).get("path").asText());
        assertEquals("/n/" + (AccessLog.QUEUE_CAPACITY - 1), JSON.readTree(lines.get(lines.size() - 1)).get("path")
                .asText());
    }

    @Test
    void writesOneJsonObjectPerLineAndAppendsToAFile() throws Exception {
        Path file = tmp.resolve("logs/access.log");
        Files.createDirectories(file.getParent());
        Files.writeString(file, "an older line\n");
        AccessLog log = AccessLog.open(file.toString(), "info", new WharfMetrics());
        log.log(new AccessEntry(1_700_000_000_123L, "10.1.2.3", "GET", "/v2/hub/a/blobs/sha256:ab", 200, 1234,
                2_500_000, "hub", "blob", "miss", "sha256:ab", true, "containerd/1.6"));
        log.close();
        List<String> lines = Files.readAllLines(file);
        assertEquals(2, lines.size(), lines.toString());
        assertEquals("an older line", lines.get(0));
        JsonNode j = JSON.readTree(lines.get(1));
        assertEquals("2023-11-14T22:13:20.123Z", j.get("time").asText());
        assertEquals("10.1.2.3", j.get("remote").asText());
        assertEquals("GET", j.get("method").asText());
        assertEquals("/v2/hub/a/blobs/sha256:ab", j.get("path").asText());
        assertEquals(200, j.get("status").asInt());
        assertEquals(1234, j.get("bytes").asLong());
        assertEquals(2.5, j.get("durationMs").asDouble());
        assertEquals("hub", j.get("project").asText());
        assertEquals("blob", j.get("kind").asText());
        assertEquals("miss", j.get("cache").asText());
        assertEquals("sha256:ab", j.get("fill").asText());
        assertTrue(j.get("fillJoined").asBoolean());
        assertEquals("containerd/1.6", j.get("userAgent").asText());
    }

    @Test
    void levelsFilterByStatus() throws Exception {
        for (String level : new String[] {"info", "warn", "error"}) {
            ByteArrayOutputStream out = new ByteArrayOutputStream();
            AccessLog log = AccessLog.toStream(out, level, new WharfMetrics());
            for (int status : new int[] {200, 206, 404, 429, 502}) {
                log.log(entry(status, "/s/" + status));
            }
            log.close();
            List<Integer> statuses = out.toString(StandardCharsets.UTF_8).lines()
                    .map(l -> readQuietly(l).get("status").asInt()).toList();
            List<Integer> expected = switch (level) {
                case "info" -> List.of(200, 206, 404, 429, 502);
                case "warn" -> List.of(404, 429, 502);
                default -> List.of(502);
            };
            assertEquals(expected, statuses, "level " + level);
        }
    }

    @Test
    void aPathThatCannotBeOpenedIsNamed() throws Exception {
        Path dir = Files.createDirectories(tmp.resolve("a-directory"));
        IOException e = assertThrows(IOException.class, () -> AccessLog.open(dir.toString(), "info",
                new WharfMetrics()));
        assertTrue(e.getMessage().contains("accessLog.path") && e.getMessage().contains(dir.toString()),
                e.getMessage());
    }

    private static AccessEntry entry(int status, String path) {
        return new AccessEntry(System.currentTimeMillis(), "127.0.0.1", "GET", path, status, 0, 1000, "none",
                "other", null, null, false, null);
    }

    private static JsonNode readQuietly(String line) {
        try {
            return JSON.readTree(line);
        } catch (IOException e) {
            throw new AssertionError("not JSON: " + line, e);
        }
    }

    /** Blocks the first write until released, as a full pipe or a stalled disk would; records what it got. */
    private static final class StuckStream extends OutputStream {
        final CountDownLatch entered = new CountDownLatch(1);
        final CountDownLatch release = new CountDownLatch(1);
        final ByteArrayOutputStream written = new ByteArrayOutputStream();

        @Override
        public void write(int b) throws IOException {
            write(new byte[] {(byte) b}, 0, 1);
        }

        @Override
        public synchronized void write(byte[] b, int off, int len) throws IOException {
            entered.countDown();
            try {
                if (!release.await(60, TimeUnit.SECONDS)) {
                    throw new IOException("never released");
                }
            } catch (InterruptedException e) {
                Thread.currentThread().interrupt();
                throw new IOException(e);
            }
            written.write(b, off, len);
        }
    }
}

package dev.wharf.server.metrics;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertTrue;

import dev.wharf.testing.InProcessWharf;
import dev.wharf.testing.Pulls;
import dev.wharf.testing.WharfYaml;
import java.nio.file.Path;
import java.time.Duration;
import java.util.Random;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/** A client-chosen HTTP method never becomes a label value: unknown methods are counted as {@code other}. */
class MethodLabelTest {
    @Test
    void unknownMethodsCountAsOther(@TempDir Path dir) throws Exception {
        StringBuilder random = new StringBuilder("X");
        Random r = new Random(42);
        for (int i = 0; i < 300; i++) {
            random.append((char) ('A' + r.nextInt(26)));
        }
        try (InProcessWharf wharf = InProcessWharf.start(dir, WharfYaml.oneProject("hub", "http://127.0.0.1:9"))) {
            assertTrue(wharf.raw("FOOBAR", "/v2/").startsWith("HTTP/1.1 405"));
            assertTrue(wharf.raw(random.toString(), "/v2/hub/x/manifests/latest").startsWith("HTTP/1.1 405"));
            assertTrue(wharf.raw("GET", "/v2/").startsWith("HTTP/1.1 200"));
            String[] last = {""};
            // A request is counted when its response has been written: poll, bounded.
            boolean counted = Pulls.await(Duration.ofSeconds(10), () -> {
                last[0] = scrape(wharf);
                return sum(last[0], "wharf_requests_total{", "method=\"other\"") >= 2;
            });
            String metrics = last[0];
            assertTrue(counted, metrics);
            assertFalse(metrics.contains("FOOBAR"), "a client's method became a label value");
            assertFalse(metrics.contains(random.substring(0, 20)), "a client's method became a label value");
            assertTrue(metrics.contains("method=\"other\""), metrics);
            assertEquals(2.0, sum(metrics, "wharf_requests_total{", "method=\"other\""), metrics);
        }
    }

    private static String scrape(InProcessWharf wharf) {
        try {
            return new String(wharf.get("/metrics").body(), java.nio.charset.StandardCharsets.UTF_8);
        } catch (Exception e) {
            return "";
        }
    }

    private static double sum(String text, String prefix, String label) {
        return text.lines().filter(l -> l.startsWith(prefix) && l.contains(label))
                .mapToDouble(l -> Double.parseDouble(l.substring(l.lastIndexOf(' ') + 1))).sum();
    }
}

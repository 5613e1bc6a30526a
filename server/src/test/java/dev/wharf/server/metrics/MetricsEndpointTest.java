package dev.wharf.server.metrics;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

import dev.wharf.testing.InProcessWharf;
import java.nio.file.Path;
import java.util.regex.Matcher;
import java.util.regex.Pattern;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/** {@code /metrics} serves Prometheus text, and the request counter counts what was asked, by label. */
class MetricsEndpointTest {
    @TempDir
    Path dir;

    @Test
    void requestCounterCountsByLabels() throws Exception {
        try (InProcessWharf wharf = InProcessWharf.start(dir, """
                projects:
                  - name: hub
                    upstream: http://127.0.0.1:9
                """)) {
            for (int i = 0; i < 3; i++) {
                assertEquals(200, wharf.get("/v2/").statusCode());
            }
            assertEquals(400, wharf.get("/v2/hub/x/manifests/sha256:nope").statusCode());
            assertEquals(400, wharf.get("/v2/hub/x/manifests/sha256:nope").statusCode());
            var r = wharf.get("/metrics");
            assertEquals(200, r.statusCode());
            assertTrue(r.headers().firstValue("content-type").orElse("").startsWith("text/plain"));
            String text = new String(r.body());
            assertEquals(3.0, value(text, "wharf_requests_total", "kind=\"other\",method=\"GET\",project=\"none\",status=\"200\""));
            assertEquals(2.0, value(text, "wharf_requests_total", "kind=\"other\",method=\"GET\",project=\"none\",status=\"400\""));
            assertTrue(text.contains("wharf_request_duration_seconds_bucket"), "histogram buckets missing");
            assertTrue(text.contains("wharf_fills_inflight 0.0"), "fills gauge missing");
            assertTrue(text.contains("jvm_memory_used_bytes"), "JVM metrics missing");
        }
    }

    private static double value(String text, String name, String labels) {
        Matcher m = Pattern.compile("(?m)^" + name + "\\{" + Pattern.quote(labels) + "\\} (\\S+)$").matcher(text);
        assertTrue(m.find(), name + "{" + labels + "} not in:\n" + text.lines().filter(l -> l.startsWith(name)).toList());
        return Double.parseDouble(m.group(1));
    }
}

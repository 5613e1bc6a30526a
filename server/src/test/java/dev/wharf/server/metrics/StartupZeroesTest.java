package dev.wharf.server.metrics;

import static org.junit.jupiter.api.Assertions.assertEquals;

import dev.wharf.storage.Eviction;
import dev.wharf.testing.InProcessWharf;
import dev.wharf.testing.WharfYaml;
import java.nio.file.Path;
import java.util.List;
import java.util.Map;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/**
 * A freshly started wharf exports every contract counter at 0, for each configured project and each eviction
 * reason, so an alert on {@code rate(...)} sees the series before the first event.
 */
class StartupZeroesTest {
    private static final List<String> PROJECTS = List.of("hub", "quay");

    @TempDir
    Path tmp;

    @Test
    void everyContractCounterIsExportedAtZeroFromStartUp() throws Exception {
        try (InProcessWharf wharf = InProcessWharf.start(tmp.resolve("store"), WharfYaml.config()
                .project(WharfYaml.project("hub", "http://127.0.0.1:9"))
                .project(WharfYaml.project("quay", "http://127.0.0.1:9")))) {
            PrometheusText s = Scrapes.scrape(wharf);
            for (Map.Entry<String, String> e : WharfMetrics.CONTRACT.entrySet()) {
                if (e.getValue().equals("counter")) {
                    assertEquals("counter", s.typeOf(e.getKey()), e.getKey() + " not exported: " + s.names());
                    assertEquals(0, s.sum(e.getKey()), s.show(e.getKey()));
                }
            }
            for (String project : PROJECTS) {
                for (String name : List.of("wharf_digest_mismatch_total", "wharf_passthrough_total",
                        "wharf_upstream_bytes_total", "wharf_served_bytes_total", "wharf_cache_total",
                        "wharf_requests_total", "wharf_upstream_requests_total")) {
                    assertEquals(0, s.sum(name, "project", project), s.show(name));
                }
                for (String result : List.of("hit", "miss", "revalidated", "stale")) {
                    assertEquals(0, s.sum("wharf_cache_total", "project", project, "kind", "blob", "result",
                            result), s.show("wharf_cache_total"));
                }
            }
            for (Eviction.Reason reason : Eviction.Reason.values()) {
                assertEquals(0, s.sum("wharf_evictions_total", "reason", reason.label()),
                        s.show("wharf_evictions_total"));
                assertEquals(0, s.sum("wharf_evicted_bytes_total", "reason", reason.label()),
                        s.show("wharf_evicted_bytes_total"));
            }
            assertEquals(0, s.sum("wharf_storage_blobs"));
            assertEquals(0, s.sum("wharf_storage_bytes"));
        }
    }
}

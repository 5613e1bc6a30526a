package dev.wharf.server.metrics;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertThrows;

import org.junit.jupiter.api.Test;

/** The test parser is a real one: it reads valid exposition text and rejects text Prometheus would reject. */
class PrometheusTextTest {
    @Test
    void parsesSamplesAndRejectsBrokenText() throws Exception {
        PrometheusText ok = PrometheusText.parse("""
                # HELP wharf_cache_total answers
                # TYPE wharf_cache_total counter
                wharf_cache_total{kind="blob",project="hub",result="hit"} 3.0
                wharf_cache_total{kind="blob",project="hub",result="miss"} 2.0
                # TYPE wharf_fills_inflight gauge
                wharf_fills_inflight 1.0
                """);
        assertEquals(5.0, ok.sum("wharf_cache_total", "project", "hub"));
        assertEquals(3.0, ok.sum("wharf_cache_total", "result", "hit"));
        assertEquals("gauge", ok.typeOf("wharf_fills_inflight"));
        // A metric that is not there is not a metric at 0.
        assertThrows(AssertionError.class, () -> ok.sum("wharf_evictions_total"));
        assertThrows(AssertionError.class, () -> ok.sum("wharf_cache_total", "project", "other"));
        assertThrows(AssertionError.class, () -> PrometheusText.parse("wharf_cache_total{kind=\"blob} 3\n"));
        assertThrows(AssertionError.class, () -> PrometheusText.parse("wharf_cache_total three\n"));
    }
}

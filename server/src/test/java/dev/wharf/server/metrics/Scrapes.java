package dev.wharf.server.metrics;

import static org.junit.jupiter.api.Assertions.assertEquals;

import dev.wharf.testing.InProcessWharf;
import java.net.http.HttpResponse;
import java.nio.charset.StandardCharsets;

/** Scrapes wharf's /metrics and parses it with {@link PrometheusText}. */
public final class Scrapes {
    private Scrapes() {
    }

    public static PrometheusText scrape(InProcessWharf wharf) throws Exception {
        HttpResponse<byte[]> r = wharf.get("/metrics");
        assertEquals(200, r.statusCode());
        return PrometheusText.parse(new String(r.body(), StandardCharsets.UTF_8));
    }

    /**
     * Scrapes until {@code project} has {@code requests} finished requests (a request is counted when its response
     * has been written, which can be a moment after the client read the last byte), at most 10 seconds; then
     * returns that scrape. Fails if the count is not reached, or is exceeded.
     */
    static PrometheusText settled(InProcessWharf wharf, String project, long requests) throws Exception {
        long deadline = System.nanoTime() + 10_000_000_000L;
        while (true) {
            PrometheusText s = scrape(wharf);
            double seen = s.sum("wharf_requests_total", "project", project);
            if (seen == requests || System.nanoTime() > deadline) {
                assertEquals(requests, seen, "finished requests of " + project + ": " + s.show("wharf_requests_total"));
                return s;
            }
            Thread.sleep(20);
        }
    }

    /**
     * Scrapes until the sum of {@code name} (with {@code labels}, as in {@link PrometheusText#sum}) is
     * {@code expected}, at most 10 seconds (a counter is bumped just after the event the client saw); fails with the
     * last value otherwise, or at once when the metric is missing.
     */
    public static PrometheusText awaitSum(InProcessWharf wharf, double expected, String name, String... labels)
            throws Exception {
        long deadline = System.nanoTime() + 10_000_000_000L;
        while (true) {
            PrometheusText s = scrape(wharf);
            double seen = s.sum(name, labels);
            if (seen == expected || System.nanoTime() > deadline) {
                assertEquals(expected, seen, () -> java.util.Arrays.toString(labels) + ": " + s.show(name));
                return s;
            }
            Thread.sleep(20);
        }
    }
}

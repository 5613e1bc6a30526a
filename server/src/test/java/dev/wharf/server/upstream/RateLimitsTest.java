package dev.wharf.server.upstream;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertNull;
import static org.junit.jupiter.api.Assertions.assertTrue;

import io.netty.handler.codec.http.DefaultHttpHeaders;
import io.netty.handler.codec.http.HttpHeaders;
import java.time.Duration;
import java.util.ArrayList;
import dev.wharf.testing.ManualClock;
import java.time.Duration;
import java.util.List;
import org.junit.jupiter.api.Test;

/** Docker Hub's quota headers: parsed, kept per project, a low quota warned about once per crossing or minute. */
class RateLimitsTest {
    private static HttpHeaders quota(String limit, String remaining, String source) {
        HttpHeaders h = new DefaultHttpHeaders();
        if (limit != null) {
            h.set("RateLimit-Limit", limit);
        }
        if (remaining != null) {
            h.set("RateLimit-Remaining", remaining);
        }
        if (source != null) {
            h.set("Docker-RateLimit-Source", source);
        }
        return h;
    }

    @Test
    void dockerHubFormatIsParsedAndKeptPerProject() {
        List<String> gauge = new ArrayList<>();
        RateLimits limits = new RateLimits(new ManualClock(), (p, r) -> gauge.add(p + "=" + r));
        limits.record("hub", quota("100;w=21600", "76;w=21600", "203.0.113.7"));
        limits.record("other", quota("200", "150", null));
        RateLimits.Snapshot hub = limits.last("hub").orElseThrow();
        assertEquals(100, hub.limit());
        assertEquals(76, hub.remaining());
        assertEquals(Duration.ofHours(6), hub.window());
        assertEquals("203.0.113.7", hub.source());
        assertFalse(hub.low());
        RateLimits.Snapshot other = limits.last("other").orElseThrow();
        assertEquals(150, other.remaining());
        assertNull(other.window());
        assertEquals(List.of("hub=76", "other=150"), gauge);
        assertTrue(limits.last("none").isEmpty());
    }

    @Test
    void responsesWithoutQuotaHeadersChangeNothing() {
        RateLimits limits = new RateLimits(new ManualClock(), null);
        assertFalse(limits.record("hub", quota(null, null, "1.2.3.4")));
        assertTrue(limits.last("hub").isEmpty());
        limits.record("hub", quota("100;w=21600", "garbage", null));
        assertEquals(-1, limits.last("hub").orElseThrow().remaining());
        assertFalse(limits.last("hub").orElseThrow().low(), "unknown is not low");
    }

    @Test
    void lowQuotaIsWarnedOnceWhenCrossedThenAtMostOnceAMinute() {
        ManualClock clock = new ManualClock();
        RateLimits limits = new RateLimits(clock, null);
        assertFalse(limits.record("hub", quota("100;w=21600", "10;w=21600", null)), "10% is not below 10%");
        assertTrue(limits.record("hub", quota("100;w=21600", "9;w=21600", null)), "crossing below 10%");
        assertFalse(limits.record("hub", quota("100;w=21600", "8;w=21600", null)));
        clock.advance(Duration.ofSeconds(30));
        assertFalse(limits.record("hub", quota("100;w=21600", "5;w=21600", null)));
        assertFalse(limits.record("other", quota("100", "50", null)), "another project has its own state");
        clock.advance(Duration.ofSeconds(31));
        assertTrue(limits.record("hub", quota("100;w=21600", "4;w=21600", null)), "still low a minute later");
        assertFalse(limits.record("hub", quota("100;w=21600", "3;w=21600", null)));
        // The window resets: back above 10%, then below again is a new crossing, warned at once.
        assertFalse(limits.record("hub", quota("100;w=21600", "100;w=21600", null)));
        assertTrue(limits.record("hub", quota("100;w=21600", "2;w=21600", null)));
    }

    @Test
    void concurrentCrossingIsWarnedOnce() throws Exception {
        RateLimits limits = new RateLimits(new ManualClock(), null);
        limits.record("hub", quota("100", "50", null));
        int threads = 16;
        boolean[] warned = new boolean[threads];
        List<Thread> all = new ArrayList<>();
        java.util.concurrent.CountDownLatch go = new java.util.concurrent.CountDownLatch(1);
        for (int i = 0; i < threads; i++) {
            int n = i;
            Thread t = new Thread(() -> {
                try {
                    go.await();
                } catch (InterruptedException e) {
                    return;
                }
                warned[n] = limits.record("hub", quota("100", "1", null));
            });
            t.start();
            all.add(t);
        }
        go.countDown();
        for (Thread t : all) {
            t.join(10_000);
        }
        int count = 0;
        for (boolean w : warned) {
            count += w ? 1 : 0;
        }
        assertEquals(1, count);
    }
}

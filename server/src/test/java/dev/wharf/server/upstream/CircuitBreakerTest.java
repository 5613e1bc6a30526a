package dev.wharf.server.upstream;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertTrue;

import dev.wharf.server.upstream.CircuitBreaker.State;
import java.time.Duration;
import java.util.ArrayList;
import java.util.List;
import java.util.concurrent.CountDownLatch;
import java.util.concurrent.atomic.AtomicInteger;
import java.util.concurrent.atomic.AtomicLong;
import org.junit.jupiter.api.Test;

/** The breaker's states on a hand-moved clock, and its single half-open trial under contention. */
class CircuitBreakerTest {
    private final AtomicLong now = new AtomicLong(1_000_000_000L);
    private final CircuitBreaker breaker = new CircuitBreaker("upstream http://a of project p", 3,
            Duration.ofSeconds(30), now::get);

    @Test
    void opensAfterThreeConsecutiveFailuresAndASuccessResetsTheCount() {
        breaker.failure("HTTP 503");
        breaker.failure("HTTP 503");
        breaker.success();
        breaker.failure("HTTP 503");
        breaker.failure("connection refused");
        assertEquals(State.CLOSED, breaker.state(), "only consecutive failures count");
        assertTrue(breaker.tryAcquire());
        breaker.failure("HTTP 429");
        assertEquals(State.OPEN, breaker.state());
        assertFalse(breaker.tryAcquire(), "open: skipped");
    }

    @Test
    void theLastErrorIsRememberedForStatusPagesAndSurvivesASuccess() {
        assertEquals(null, breaker.lastError());
        assertEquals(null, breaker.lastErrorAt());
        java.time.Instant before = java.time.Instant.now();
        breaker.failure("HTTP 503");
        breaker.failure("connection refused");
        assertEquals("connection refused", breaker.lastError());
        assertTrue(!breaker.lastErrorAt().isBefore(before));
        breaker.success();
        assertEquals(State.CLOSED, breaker.state());
        assertEquals("connection refused", breaker.lastError(), "the last error stays after recovery");
    }

    @Test
    void halfOpenLetsOneTrialThroughAfterTheOpenPeriod() {
        open();
        advance(Duration.ofSeconds(29));
        assertFalse(breaker.tryAcquire());
        advance(Duration.ofSeconds(1));
        assertTrue(breaker.tryAcquire(), "after 30 s one request may try");
        assertEquals(State.HALF_OPEN, breaker.state());
        assertFalse(breaker.tryAcquire(), "only one trial at a time");
        breaker.failure("HTTP 502");
        assertEquals(State.OPEN, breaker.state(), "a failed trial opens it again");
        assertFalse(breaker.tryAcquire());
        advance(Duration.ofSeconds(30));
        assertTrue(breaker.tryAcquire());
        breaker.success();
        assertEquals(State.CLOSED, breaker.state(), "a successful trial closes it");
        assertTrue(breaker.tryAcquire());
        assertTrue(breaker.tryAcquire());
    }

    @Test
    void aTrialThatNeverReportsIsGivenUpAfterTheOpenPeriod() {
        open();
        advance(Duration.ofSeconds(30));
        assertTrue(breaker.tryAcquire());
        advance(Duration.ofSeconds(29));
        assertFalse(breaker.tryAcquire());
        advance(Duration.ofSeconds(1));
        assertTrue(breaker.tryAcquire(), "the lost trial does not keep the endpoint skipped forever");
    }

    @Test
    void manyThreadsRacingForTheTrialGetExactlyOne() throws Exception {
        open();
        advance(Duration.ofSeconds(30));
        int threads = 16;
        CountDownLatch start = new CountDownLatch(1);
        AtomicInteger granted = new AtomicInteger();
        List<Thread> all = new ArrayList<>();
        for (int i = 0; i < threads; i++) {
            Thread t = new Thread(() -> {
                try {
                    start.await();
                } catch (InterruptedException e) {
                    return;
                }
                for (int j = 0; j < 1000; j++) {
                    if (breaker.tryAcquire()) {
                        granted.incrementAndGet();
                    }
                }
            });
            t.start();
            all.add(t);
        }
        start.countDown();
        for (Thread t : all) {
            t.join(10_000);
        }
        assertEquals(1, granted.get(), "16 threads x 1000 tries, one trial");
    }

    private void open() {
        for (int i = 0; i < 3; i++) {
            breaker.failure("connection refused");
        }
        assertEquals(State.OPEN, breaker.state());
    }

    private void advance(Duration d) {
        now.addAndGet(d.toNanos());
    }
}

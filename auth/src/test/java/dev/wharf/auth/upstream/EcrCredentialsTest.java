package dev.wharf.auth.upstream;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertNotEquals;
import static org.junit.jupiter.api.Assertions.assertSame;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.io.IOException;
import java.time.Clock;
import java.time.Duration;
import java.time.Instant;
import java.time.ZoneOffset;
import java.util.ArrayList;
import java.util.List;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.CountDownLatch;
import java.util.concurrent.ExecutionException;
import java.util.concurrent.Executors;
import java.util.concurrent.ScheduledExecutorService;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.atomic.AtomicInteger;
import java.util.concurrent.atomic.AtomicReference;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.Test;

/** Caching, background refresh and invalidation of {@link EcrCredentials}, with a counting fetcher (no SDK). */
class EcrCredentialsTest {
    private final ScheduledExecutorService executor = Executors.newSingleThreadScheduledExecutor();
    private final MutableClock clock = new MutableClock(Instant.parse("2025-01-01T00:00:00Z"));

    @AfterEach
    void stop() {
        executor.shutdownNow();
    }

    @Test
    void cachesUntilExpiryMinusMarginThenFetchesAgain() throws Exception {
        Fetcher fetcher = new Fetcher(n -> token(n, clock.instant().plus(Duration.ofHours(12))));
        EcrCredentials ecr = new EcrCredentials(fetcher, "test", clock, executor, false);
        Credentials first = ecr.get().get(5, TimeUnit.SECONDS);
        assertEquals("AWS", first.username());
        assertEquals("pw-1", first.password());
        for (int i = 0; i < 10; i++) {
            assertSame(first, ecr.get().getNow(null), "a cached token is handed out at once, without a fetch");
        }
        // 12 h token: margin 5 min. Still the same token 11h54m later ...
        clock.advance(Duration.ofHours(11).plusMinutes(54));
        assertSame(first, ecr.get().get(5, TimeUnit.SECONDS));
        assertEquals(1, fetcher.calls.get());
        // ... but not past expiresAt - 5 min.
        clock.advance(Duration.ofMinutes(1).plusSeconds(1));
        assertEquals("pw-2", ecr.get().get(5, TimeUnit.SECONDS).password());
        assertEquals(2, fetcher.calls.get());
        ecr.close();
    }

    @Test
    void concurrentCallersShareOneFetch() throws Exception {
        CountDownLatch release = new CountDownLatch(1);
        Fetcher fetcher = new Fetcher(n -> {
            await(release);
            return token(n, clock.instant().plus(Duration.ofHours(12)));
        });
        EcrCredentials ecr = new EcrCredentials(fetcher, "test", clock, executor, false);
        List<CompletableFuture<Credentials>> waiting = new ArrayList<>();
        for (int i = 0; i < 50; i++) {
            waiting.add(ecr.get());
        }
        assertFalse(waiting.get(0).isDone(), "the fetch is held back, so nobody has a token yet");
        release.countDown();
        for (CompletableFuture<Credentials> f : waiting) {
            assertEquals("pw-1", f.get(5, TimeUnit.SECONDS).password());
        }
        assertEquals(1, fetcher.calls.get(), "50 concurrent callers, one GetAuthorizationToken");
        ecr.close();
    }

    @Test
    void refreshesInTheBackgroundBeforeExpiry() throws Exception {
        // Real time here: the refresh is a scheduled task. A 3 s token: margin 0.3 s, used until +2.7 s, refreshed
        // from +2.4 s.
        Fetcher fetcher = new Fetcher(n -> token(n, Instant.now().plusSeconds(3)));
        EcrCredentials ecr = new EcrCredentials(fetcher, "test", Clock.systemUTC(), executor, false);
        assertEquals("pw-1", ecr.get().get(5, TimeUnit.SECONDS).password());
        long deadline = System.nanoTime() + TimeUnit.SECONDS.toNanos(10);
        while (fetcher.calls.get() < 2 && System.nanoTime() < deadline) {
            Thread.sleep(20);
        }
        assertEquals(2, fetcher.calls.get(), "the token was refreshed with nobody asking");
        // The refresh publishes its token right after the fetch returns: wait for it, with a deadline.
        CompletableFuture<Credentials> now = ecr.get();
        while (!(now.isDone() && "pw-2".equals(now.getNow(null).password())) && System.nanoTime() < deadline) {
            Thread.sleep(10);
            now = ecr.get();
        }
        assertTrue(now.isDone(), "after a background refresh the token is at hand");
        assertEquals("pw-2", now.get().password());
        ecr.close();
    }

    @Test
    void invalidateDropsTheRejectedTokenOnceItIsOldEnough() throws Exception {
        Fetcher fetcher = new Fetcher(n -> token(n, clock.instant().plus(Duration.ofHours(12))));
        EcrCredentials ecr = new EcrCredentials(fetcher, "test", clock, executor, false);
        Credentials first = ecr.get().get(5, TimeUnit.SECONDS);

        clock.advance(Duration.ofSeconds(1));
        assertFalse(ecr.invalidate(first), "a token minted a second ago did not expire: the rejection is a denial");
        assertSame(first, ecr.get().getNow(null));
        assertEquals(1, fetcher.calls.get());

        clock.advance(EcrCredentials.MIN_AGE_TO_DROP);
        assertTrue(ecr.invalidate(first), "an older rejected token is dropped, and a retry is worth it");
        Credentials second = ecr.get().get(5, TimeUnit.SECONDS);
        assertEquals("pw-2", second.password());
        assertEquals(2, fetcher.calls.get());

        assertTrue(ecr.invalidate(first), "someone else's stale rejection: the newer token is kept, retry with it");
        assertSame(second, ecr.get().getNow(null));
        assertEquals(2, fetcher.calls.get(), "a stale rejection fetches nothing");
        assertTrue(ecr.mayMeanExpired(403) && ecr.mayMeanExpired(401));
        assertFalse(ecr.mayMeanExpired(400) || ecr.mayMeanExpired(404) || ecr.mayMeanExpired(500));
        EcrCredentials pub = new EcrCredentials(fetcher, "public", clock, executor, true);
        assertTrue(pub.mayMeanExpired(400), "ECR Public answers 400 instead of 401");
        ecr.close();
    }

    @Test
    void aFailedFetchFailsItsCallersAndTheNextCallTriesAgain() throws Exception {
        AtomicReference<IOException> fail = new AtomicReference<>(new IOException("AccessDenied: no ecr rights"));
        Fetcher fetcher = new Fetcher(n -> {
            IOException e = fail.getAndSet(null);
            if (e != null) {
                throw e;
            }
            return token(n, clock.instant().plus(Duration.ofHours(12)));
        });
        EcrCredentials ecr = new EcrCredentials(fetcher, "upstream U of project P", clock, executor, false);
        ExecutionException e = assertThrows(ExecutionException.class, () -> ecr.get().get(5, TimeUnit.SECONDS));
        assertTrue(e.getCause().getMessage().contains("upstream U of project P"), e.getCause().getMessage());
        assertTrue(e.getCause().getMessage().contains("AccessDenied"), e.getCause().getMessage());
        assertEquals("pw-2", ecr.get().get(5, TimeUnit.SECONDS).password(), "a failure is not cached");
        ecr.close();
        assertThrows(ExecutionException.class, () -> ecr.get().get(5, TimeUnit.SECONDS), "closed");
    }

    @Test
    void aTokenAlreadyExpiredByOurClockIsUsedBriefly() throws Exception {
        Fetcher fetcher = new Fetcher(n -> token(n, clock.instant().minusSeconds(60)));
        EcrCredentials ecr = new EcrCredentials(fetcher, "test", clock, executor, false);
        Credentials first = ecr.get().get(5, TimeUnit.SECONDS);
        assertSame(first, ecr.get().getNow(null), "used for a short while rather than fetched on every call");
        clock.advance(EcrCredentials.SKEWED_LIFETIME);
        assertNotEquals(first, ecr.get().get(5, TimeUnit.SECONDS));
        ecr.close();
    }

    @Test
    void fixedCredentialsAreTheirOwnSourceAndNeverRetried() {
        Credentials c = new Credentials("u", "p");
        assertSame(c, c.get().getNow(null));
        assertFalse(c.invalidate(c));
        assertFalse(c.toString().contains("p]"), c.toString());
    }

    private static EcrCredentials.Token token(int n, Instant expiresAt) {
        return new EcrCredentials.Token(new Credentials("AWS", "pw-" + n), expiresAt);
    }

    private static void await(CountDownLatch latch) {
        try {
            if (!latch.await(10, TimeUnit.SECONDS)) {
                throw new AssertionError("latch not released");
            }
        } catch (InterruptedException e) {
            Thread.currentThread().interrupt();
            throw new AssertionError(e);
        }
    }

    /** Counts its calls and answers the n-th with {@code answer.apply(n)}. */
    private static final class Fetcher implements EcrCredentials.TokenFetcher {
        final AtomicInteger calls = new AtomicInteger();
        private final ThrowingFunction answer;

        Fetcher(ThrowingFunction answer) {
            this.answer = answer;
        }

        @Override
        public EcrCredentials.Token fetch() throws IOException {
            return answer.apply(calls.incrementAndGet());
        }
    }

    @FunctionalInterface
    private interface ThrowingFunction {
        EcrCredentials.Token apply(int n) throws IOException;
    }

    /** A clock the test moves by hand. */
    private static final class MutableClock extends Clock {
        private volatile Instant now;

        MutableClock(Instant start) {
            this.now = start;
        }

        void advance(Duration d) {
            now = now.plus(d);
        }

        @Override
        public Instant instant() {
            return now;
        }

        @Override
        public ZoneOffset getZone() {
            return ZoneOffset.UTC;
        }

        @Override
        public Clock withZone(java.time.ZoneId zone) {
            return this;
        }
    }
}

package dev.wharf.auth.access;

import com.github.benmanes.caffeine.cache.Cache;
import com.github.benmanes.caffeine.cache.Caffeine;
import java.time.Clock;
import java.time.Duration;

/**
 * Slows down failed logins: a token bucket per client address and one per user name. Each failed login takes a
 * token from both; while either bucket is empty, logins from that address or for that user are refused before any
 * password is checked, with the time until a token comes back ({@code Retry-After}). Successful logins take nothing.
 *
 * <p>Threads: any. Each bucket is a small object whose two fields change under its own lock; the buckets live in
 * a bounded Caffeine cache (clients choose the keys), so an attacker spraying addresses or names evicts old
 * buckets rather than growing memory. A bucket evicted early forgets its failures: the bound on memory wins over
 * the bound on guesses, and the cache is large enough that this takes a spray of a hundred thousand keys.
 */
public final class LoginThrottle {
    private static final int MAX_BUCKETS = 100_000;

    private final int burst;
    private final Duration refill;
    private final Clock clock;
    private final Cache<String, Bucket> buckets;

    /**
     * @param burst  failed logins allowed at once per address and per user
     * @param refill how long it takes for one more to be allowed
     */
    public LoginThrottle(int burst, Duration refill, Clock clock) {
        if (burst < 1 || refill.isNegative() || refill.isZero()) {
            throw new IllegalArgumentException("burst must be at least 1 and refill longer than 0");
        }
        this.burst = burst;
        this.refill = refill;
        this.clock = clock;
        this.buckets = Caffeine.newBuilder().maximumSize(MAX_BUCKETS)
                .expireAfterAccess(refill.multipliedBy(burst).plusMinutes(1)).build();
    }

    /** How long a login from {@code address} for {@code user} (either may be null) must wait; zero: go ahead. */
    public Duration wait(String address, String user) {
        Duration a = address == null ? Duration.ZERO : waitFor("a:" + address);
        Duration u = user == null ? Duration.ZERO : waitFor("u:" + user);
        return a.compareTo(u) >= 0 ? a : u;
    }

    /** Records a failed login from {@code address} for {@code user} (either may be null). */
    public void failed(String address, String user) {
        if (address != null) {
            take("a:" + address);
        }
        if (user != null) {
            take("u:" + user);
        }
    }

    private Duration waitFor(String key) {
        Bucket b = buckets.getIfPresent(key);
        return b == null ? Duration.ZERO : b.waitTime(clock.millis());
    }

    private void take(String key) {
        buckets.get(key, k -> new Bucket(burst, clock.millis())).take(clock.millis());
    }

    /** Tokens as a fraction, refilled by elapsed time. */
    private final class Bucket {
        private double tokens;
        private long at;

        Bucket(double tokens, long at) {
            this.tokens = tokens;
            this.at = at;
        }

        private void refillTo(long now) {
            if (now > at) {
                tokens = Math.min(burst, tokens + (now - at) / (double) refill.toMillis());
                at = now;
            }
        }

        synchronized void take(long now) {
            refillTo(now);
            tokens = Math.max(0, tokens - 1);
        }

        synchronized Duration waitTime(long now) {
            refillTo(now);
            if (tokens >= 1) {
                return Duration.ZERO;
            }
            return Duration.ofMillis((long) Math.ceil((1 - tokens) * refill.toMillis()));
        }
    }
}

package dev.wharf.server.console;

import java.nio.charset.StandardCharsets;
import java.security.MessageDigest;
import java.security.NoSuchAlgorithmException;
import java.security.SecureRandom;
import java.time.Duration;
import java.util.Base64;
import java.util.HashMap;
import java.util.HexFormat;
import java.util.Iterator;
import java.util.Map;
import java.util.function.LongSupplier;

/**
 * The console's login sessions, in memory only and bounded: at most {@link #MAX_SESSIONS}; creating one more drops
 * the oldest. A session id is 32 random bytes (the cookie's value); it is kept here only as its SHA-256, so the map
 * lookup leaks nothing useful by its timing. A session ends {@link #IDLE} after its last use or {@link #LIFETIME}
 * after login, whichever comes first. Each has its own CSRF token, put into every form and checked on every POST.
 */
final class Sessions {
    static final int MAX_SESSIONS = 256;
    static final Duration IDLE = Duration.ofHours(1);
    static final Duration LIFETIME = Duration.ofHours(12);

    /** One login. {@code id} is the cookie value (known only to the new session's creator). */
    record Session(String id, String csrf, long createdNanos) {
    }

    private static final class Entry {
        final Session session;
        long lastUsedNanos;

        Entry(Session session) {
            this.session = session;
            this.lastUsedNanos = session.createdNanos();
        }
    }

    private final SecureRandom random = new SecureRandom();
    private final LongSupplier nanoTime;
    private final Map<String, Entry> byDigest = new HashMap<>();

    Sessions(LongSupplier nanoTime) {
        this.nanoTime = nanoTime;
    }

    /** A new session; the oldest is dropped when {@link #MAX_SESSIONS} are live. */
    synchronized Session create() {
        long now = nanoTime.getAsLong();
        prune(now);
        if (byDigest.size() >= MAX_SESSIONS) {
            String oldest = null;
            long oldestAt = 0;
            for (Map.Entry<String, Entry> e : byDigest.entrySet()) {
                long created = e.getValue().session.createdNanos();
                if (oldest == null || created - oldestAt < 0) { // nanoTime values compare by difference only
                    oldestAt = created;
                    oldest = e.getKey();
                }
            }
            byDigest.remove(oldest);
        }
        Session s = new Session(randomToken(), randomToken(), now);
        byDigest.put(digest(s.id()), new Entry(s));
        return s;
    }

    /** The live session with this cookie value, or null; a hit counts as a use. */
    synchronized Session find(String id) {
        if (id == null || id.isEmpty() || id.length() > 100) {
            return null;
        }
        long now = nanoTime.getAsLong();
        String key = digest(id);
        Entry e = byDigest.get(key);
        if (e == null) {
            return null;
        }
        if (expired(e, now)) {
            byDigest.remove(key);
            return null;
        }
        e.lastUsedNanos = now;
        return e.session;
    }

    synchronized void remove(String id) {
        if (id != null) {
            byDigest.remove(digest(id));
        }
    }

    synchronized int size() {
        return byDigest.size();
    }

    /** True if {@code presented} is this session's CSRF token (compared in constant time). */
    static boolean csrfMatches(Session s, String presented) {
        return presented != null && MessageDigest.isEqual(s.csrf().getBytes(StandardCharsets.UTF_8),
                presented.getBytes(StandardCharsets.UTF_8));
    }

    private void prune(long now) {
        for (Iterator<Entry> it = byDigest.values().iterator(); it.hasNext(); ) {
            if (expired(it.next(), now)) {
                it.remove();
            }
        }
    }

    private static boolean expired(Entry e, long now) {
        return now - e.lastUsedNanos > IDLE.toNanos() || now - e.session.createdNanos() > LIFETIME.toNanos();
    }

    private String randomToken() {
        byte[] b = new byte[32];
        random.nextBytes(b);
        return Base64.getUrlEncoder().withoutPadding().encodeToString(b);
    }

    private static String digest(String id) {
        try {
            return HexFormat.of().formatHex(MessageDigest.getInstance("SHA-256")
                    .digest(id.getBytes(StandardCharsets.UTF_8)));
        } catch (NoSuchAlgorithmException e) {
            throw new IllegalStateException(e);
        }
    }
}

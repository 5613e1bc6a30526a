package dev.wharf.server.console;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertNotEquals;
import static org.junit.jupiter.api.Assertions.assertNotNull;
import static org.junit.jupiter.api.Assertions.assertNull;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.util.concurrent.atomic.AtomicLong;
import org.junit.jupiter.api.Test;

/** The console's session store: random ids, idle and absolute expiry, the size bound, CSRF token checks. */
class SessionsTest {
    // Negative, as System.nanoTime() may be: times compare by difference only.
    private final AtomicLong now = new AtomicLong(-5_000_000_000L);
    private final Sessions sessions = new Sessions(now::get);

    @Test
    void aSessionIsFoundByItsIdOnlyAndHasItsOwnCsrfToken() {
        Sessions.Session a = sessions.create();
        Sessions.Session b = sessions.create();
        assertNotEquals(a.id(), b.id());
        assertNotEquals(a.csrf(), b.csrf());
        assertNotEquals(a.id(), a.csrf());
        assertTrue(a.id().length() >= 43, "32 random bytes, base64url");
        assertEquals(a, sessions.find(a.id()));
        assertNull(sessions.find(a.csrf()), "the CSRF token is no session id");
        assertNull(sessions.find(null));
        assertNull(sessions.find("x".repeat(500)));
        assertTrue(Sessions.csrfMatches(a, a.csrf()));
        assertFalse(Sessions.csrfMatches(a, b.csrf()));
        assertFalse(Sessions.csrfMatches(a, null));
        assertFalse(Sessions.csrfMatches(a, ""));
        sessions.remove(a.id());
        assertNull(sessions.find(a.id()), "logged out");
        assertNotNull(sessions.find(b.id()));
    }

    @Test
    void aSessionEndsWhenIdleTooLongOrTooOld() {
        Sessions.Session s = sessions.create();
        now.addAndGet(Sessions.IDLE.toNanos() - 1);
        assertNotNull(sessions.find(s.id()), "used just in time: the idle clock restarts");
        now.addAndGet(Sessions.IDLE.toNanos() + 1);
        assertNull(sessions.find(s.id()), "idle too long");

        Sessions.Session busy = sessions.create();
        long start = now.get();
        while (now.get() - start <= Sessions.LIFETIME.toNanos()) {
            assertNotNull(sessions.find(busy.id()), "in use and young enough");
            now.addAndGet(Sessions.IDLE.toNanos() / 2);
        }
        assertNull(sessions.find(busy.id()), "past its lifetime however busy");
    }

    @Test
    void theStoreIsBoundedAndDropsTheOldest() {
        Sessions.Session first = sessions.create();
        Sessions.Session second = null;
        for (int i = 1; i < Sessions.MAX_SESSIONS; i++) {
            now.incrementAndGet();
            Sessions.Session s = sessions.create();
            if (i == 1) {
                second = s;
            }
        }
        assertEquals(Sessions.MAX_SESSIONS, sessions.size());
        now.incrementAndGet();
        Sessions.Session newest = sessions.create();
        assertEquals(Sessions.MAX_SESSIONS, sessions.size());
        assertNull(sessions.find(first.id()), "the oldest made room");
        assertNotNull(sessions.find(second.id()));
        assertNotNull(sessions.find(newest.id()));
    }
}

package dev.wharf.server.logging;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.lang.reflect.Proxy;
import java.time.Duration;
import java.util.List;
import java.util.concurrent.CopyOnWriteArrayList;
import java.util.concurrent.atomic.AtomicLong;
import org.junit.jupiter.api.Test;
import org.slf4j.Logger;

/** The first line per key, then one per interval saying how many were held back. */
class RateLimitedLogTest {
    private final List<String> lines = new CopyOnWriteArrayList<>();
    private final AtomicLong now = new AtomicLong();
    private final RateLimitedLog log = new RateLimitedLog(recordingLogger(), Duration.ofMinutes(1), now::get);

    @Test
    void firstLineThenOncePerIntervalWithTheSuppressedCount() {
        for (int i = 0; i < 100; i++) {
            log.warn("fill/hub", "fill of {} failed", "sha256:" + i);
        }
        assertEquals(List.of("fill of sha256:0 failed"), lines);
        now.addAndGet(Duration.ofSeconds(61).toNanos());
        log.warn("fill/hub", "fill of {} failed", "sha256:x");
        assertEquals("fill of sha256:x failed (99 similar messages suppressed in the last 60 s)", lines.get(1));
        now.addAndGet(Duration.ofSeconds(61).toNanos());
        log.warn("fill/hub", "fill of {} failed", "sha256:y");
        assertEquals("fill of sha256:y failed", lines.get(2), "nothing was held back in that minute");
    }

    @Test
    void errorsKeepTheirStackTraceOnTheLinesWritten() {
        for (int i = 0; i < 10; i++) {
            log.error("npe", "internal error on {} {}", "GET", "/v2/x", new NullPointerException("boom"));
        }
        assertEquals(List.of("ERROR internal error on GET /v2/x +java.lang.NullPointerException: boom"), lines);
        now.addAndGet(Duration.ofMinutes(2).toNanos());
        log.error("npe", "internal error on {} {}", "GET", "/v2/y", new NullPointerException("boom"));
        assertEquals("ERROR internal error on GET /v2/y (9 similar messages suppressed in the last 60 s)"
                + " +java.lang.NullPointerException: boom", lines.get(1));
    }

    @Test
    void keysHaveTheirOwnBudgetUpToABound() {
        log.warn("a", "one");
        log.warn("b", "two");
        log.warn("a", "three");
        assertEquals(List.of("one", "two"), lines);
        for (int i = 0; i < 5 * RateLimitedLog.MAX_KEYS; i++) {
            log.warn("k" + i, "key {}", i);
        }
        assertTrue(lines.size() <= RateLimitedLog.MAX_KEYS + 2, "keys past the bound share one budget: "
                + lines.size());
    }

    private Logger recordingLogger() {
        return (Logger) Proxy.newProxyInstance(Logger.class.getClassLoader(), new Class<?>[] {Logger.class},
                (proxy, method, args) -> {
                    switch (method.getName()) {
                        case "isWarnEnabled", "isErrorEnabled":
                            return true;
                        case "warn", "error":
                            // RateLimitedLog formats itself: (line) or (line, throwable).
                            String text = (String) args[0];
                            if (args.length > 1 && args[1] instanceof Throwable t) {
                                text += " +" + t;
                            }
                            lines.add(method.getName().equals("error") ? "ERROR " + text : text);
                            return null;
                        case "getName":
                            return "test";
                        default:
                            return method.getReturnType() == boolean.class ? false : null;
                    }
                });
    }
}

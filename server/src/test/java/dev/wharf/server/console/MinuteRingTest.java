package dev.wharf.server.console;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertNull;

import dev.wharf.server.metrics.WharfMetrics;
import org.junit.jupiter.api.Test;

/** The per-minute samples behind the overview's "last hour": the window, and the bound of 61 samples. */
class MinuteRingTest {
    private static WharfMetrics.Totals hits(double n) {
        return new WharfMetrics.Totals(n, 1, 10 * n, 0, 0, 0, 0);
    }

    @Test
    void theWindowStartsAtTheOldestSampleAtMostAnHourOld() {
        MinuteRing ring = new MinuteRing();
        assertNull(ring.window(100, hits(5)), "no sample yet");
        ring.record(100, hits(5));
        ring.record(100, hits(999)); // a second sample in the same minute is ignored
        MinuteRing.Window early = ring.window(110, hits(25));
        assertEquals(10, early.minutes());
        assertEquals(20, early.totals().hits());
        assertEquals(200, early.totals().servedCache());
        assertEquals(0, early.totals().misses());
        for (long m = 101; m <= 200; m++) {
            ring.record(m, hits(m));
        }
        MinuteRing.Window hour = ring.window(200, hits(200));
        assertEquals(60, hour.minutes(), "an hour, not since start");
        assertEquals(60, hour.totals().hits());
        assertEquals(0.5, new WharfMetrics.Totals(1, 1, 0, 0, 0, 0, 0).hitRatio());
        assertEquals(Double.NaN, new WharfMetrics.Totals(0, 0, 0, 0, 0, 0, 0).hitRatio());
    }

    @Test
    void aGapLongerThanAnHourLeavesOnlyTheNewSample() {
        MinuteRing ring = new MinuteRing();
        ring.record(0, hits(1));
        ring.record(500, hits(7));
        MinuteRing.Window w = ring.window(505, hits(9));
        assertEquals(5, w.minutes());
        assertEquals(2, w.totals().hits());
    }
}

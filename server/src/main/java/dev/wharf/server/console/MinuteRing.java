package dev.wharf.server.console;

import dev.wharf.server.metrics.WharfMetrics;
import java.util.ArrayDeque;

/**
 * Per-minute samples of the metric totals for the last hour (61 at most, a few hundred bytes), so the overview can
 * show "last hour" next to "since start" without Prometheus: the window is now minus the oldest sample at most an
 * hour old. Sampled by the console's timer once a minute, and once at start.
 */
final class MinuteRing {
    static final int MINUTES = 60;

    private record Sample(long minute, WharfMetrics.Totals totals) {
    }

    private final ArrayDeque<Sample> samples = new ArrayDeque<>();

    /** Records the totals of {@code minute} (minutes on any monotonic scale); a second sample in a minute is ignored. */
    synchronized void record(long minute, WharfMetrics.Totals totals) {
        if (!samples.isEmpty() && samples.peekLast().minute() >= minute) {
            return;
        }
        samples.addLast(new Sample(minute, totals));
        while (samples.size() > MINUTES + 1 || samples.peekFirst().minute() < minute - MINUTES) {
            samples.pollFirst();
        }
    }

    /** What happened since the oldest sample at most an hour before {@code minute}, or null before any sample. */
    synchronized Window window(long minute, WharfMetrics.Totals now) {
        for (Sample s : samples) {
            if (s.minute() >= minute - MINUTES) {
                return new Window(minute - s.minute(), now.minus(s.totals()));
            }
        }
        return null;
    }

    /** The totals over the last {@code minutes} minutes (0 in the first minute after start). */
    record Window(long minutes, WharfMetrics.Totals totals) {
    }
}

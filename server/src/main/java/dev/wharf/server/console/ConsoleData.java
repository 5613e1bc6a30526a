package dev.wharf.server.console;

import dev.wharf.server.metrics.WharfMetrics;
import dev.wharf.server.prefetch.PrefetchJobs;
import dev.wharf.server.pullthrough.TagCache;
import dev.wharf.server.upstream.Projects;
import dev.wharf.server.upstream.RateLimits;
import dev.wharf.storage.ContentStore;
import dev.wharf.storage.fill.Fills;

/**
 * What the console reads and acts on, all owned elsewhere (the server wires them): the metrics, the store and its
 * fills, the projects with their circuit breakers and rate limits, the tag cache (to forget a deleted tag) and the
 * admin API's prefetch jobs. Keeps the per-minute samples of the metric totals.
 */
public final class ConsoleData {
    final WharfMetrics metrics;
    final ContentStore store;
    final Projects projects;
    final TagCache tagCache;
    final Fills fills;
    final RateLimits rateLimits;
    final PrefetchJobs jobs;
    /** {@code storage.maxSize} in bytes, 0 when unbounded. */
    final long maxSize;
    final MinuteRing ring = new MinuteRing();

    /** @param maxSize {@code storage.maxSize} in bytes, 0 when unbounded */
    public ConsoleData(WharfMetrics metrics, ContentStore store, Projects projects, TagCache tagCache, Fills fills,
                       RateLimits rateLimits, PrefetchJobs jobs, long maxSize) {
        this.metrics = metrics;
        this.store = store;
        this.projects = projects;
        this.tagCache = tagCache;
        this.fills = fills;
        this.rateLimits = rateLimits;
        this.jobs = jobs;
        this.maxSize = maxSize;
    }

    /** The current minute on the monotonic clock. */
    static long minute() {
        return System.nanoTime() / 60_000_000_000L;
    }

    /** Records this minute's totals. */
    void sample() {
        ring.record(minute(), metrics.totals());
    }
}

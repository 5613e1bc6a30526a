package dev.wharf.server.api;

/** Where the content of an answer came from; the {@code result} label of {@code wharf_cache_total}. */
public enum CacheResult {
    /** Served from storage (or memory) without asking the upstream. */
    HIT("hit"),
    /** Not cached: fetched from the upstream for this request, or streamed from a fill already running. */
    MISS("miss"),
    /** Cached, and a HEAD upstream confirmed it first (a tag past its TTL, or content stored for another project). */
    REVALIDATED("revalidated"),
    /** Cached, and served because the upstream failed (stale-if-error). */
    STALE("stale");

    private final String label;

    CacheResult(String label) {
        this.label = label;
    }

    /** The metric label and access-log value. */
    public String label() {
        return label;
    }
}

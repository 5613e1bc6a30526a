package dev.wharf.server.metrics;

import io.micrometer.core.instrument.Counter;
import io.micrometer.core.instrument.Gauge;
import io.micrometer.core.instrument.Meter;
import io.micrometer.core.instrument.Timer;
import io.micrometer.core.instrument.binder.jvm.ClassLoaderMetrics;
import io.micrometer.core.instrument.binder.jvm.JvmGcMetrics;
import io.micrometer.core.instrument.binder.jvm.JvmMemoryMetrics;
import io.micrometer.core.instrument.binder.jvm.JvmThreadMetrics;
import io.micrometer.core.instrument.binder.netty4.NettyAllocatorMetrics;
import io.micrometer.core.instrument.binder.system.ProcessorMetrics;
import io.micrometer.prometheusmetrics.PrometheusConfig;
import io.micrometer.prometheusmetrics.PrometheusMeterRegistry;
import io.netty.buffer.PooledByteBufAllocator;
import dev.wharf.server.api.CacheResult;
import java.time.Duration;
import java.util.Collection;
import java.util.List;
import java.util.Map;
import java.util.concurrent.ConcurrentHashMap;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.atomic.AtomicLong;
import java.util.concurrent.atomic.AtomicReferenceArray;
import java.util.function.Supplier;

/**
 * wharf's Prometheus metrics. The names in {@link #CONTRACT} are a contract: dashboards and outside checks rely on
 * them (README, "Metrics"). Every meter is named here and nowhere else.
 *
 * <p>Label cardinality stays bounded: {@code project} is a configured project name (or {@code none}), {@code kind}
 * one of a fixed few, {@code method} one of a fixed few or {@code other} (never the client's own token),
 * {@code status} an HTTP status code (or {@code error}), {@code result}, {@code source} and {@code reason} fixed
 * words.
 *
 * <p>Thread safety: Micrometer meters are thread-safe and registration is idempotent (the same name and tags give
 * the same meter), so every method here may be called from any thread, event loops included; none blocks.
 */
public final class WharfMetrics {
    /** The contract: every wharf metric family as Prometheus exposes it, with its type. */
    public static final Map<String, String> CONTRACT = Map.ofEntries(
            Map.entry("wharf_requests_total", "counter"),
            Map.entry("wharf_request_duration_seconds", "histogram"),
            Map.entry("wharf_cache_total", "counter"),
            Map.entry("wharf_served_bytes_total", "counter"),
            Map.entry("wharf_upstream_bytes_total", "counter"),
            Map.entry("wharf_upstream_requests_total", "counter"),
            Map.entry("wharf_upstream_duration_seconds", "histogram"),
            Map.entry("wharf_fills_inflight", "gauge"),
            Map.entry("wharf_fill_joins_total", "counter"),
            Map.entry("wharf_digest_mismatch_total", "counter"),
            Map.entry("wharf_storage_bytes", "gauge"),
            Map.entry("wharf_storage_blobs", "gauge"),
            Map.entry("wharf_evictions_total", "counter"),
            Map.entry("wharf_evicted_bytes_total", "counter"),
            Map.entry("wharf_upstream_ratelimit_remaining", "gauge"),
            Map.entry("wharf_passthrough_total", "counter"),
            Map.entry("wharf_accesslog_dropped_total", "counter"));

    /**
     * The S3 tier's families, present only with {@code storage.s3} (so outside {@link #CONTRACT}, which every
     * server exposes): request latency by operation and outcome, and whether the bucket answers (1) or not (0).
     */
    public static final Map<String, String> S3 = Map.of(
            "wharf_s3_request_duration_seconds", "histogram",
            "wharf_s3_up", "gauge");

    private final PrometheusMeterRegistry registry = new PrometheusMeterRegistry(PrometheusConfig.DEFAULT);

    private final Meter.MeterProvider<Counter> requests = Counter.builder("wharf_requests")
            .description("Client requests answered, by project, endpoint kind, method and status")
            .withRegistry(registry);
    private final Meter.MeterProvider<Timer> requestDuration = Timer.builder("wharf_request_duration")
            .description("Time from a client request to the end of its response")
            .publishPercentileHistogram().minimumExpectedValue(Duration.ofMillis(1))
            .maximumExpectedValue(Duration.ofMinutes(10)).withRegistry(registry);
    private final Meter.MeterProvider<Counter> cache = Counter.builder("wharf_cache")
            .description("2xx answers to manifest, blob and tag-list requests by where the content came from: "
                    + "hit, miss, revalidated (a HEAD upstream confirmed the cached copy) or stale (served cached "
                    + "because the upstream failed)")
            .withRegistry(registry);
    private final Meter.MeterProvider<Counter> served = Counter.builder("wharf_served_bytes")
            .description("Body bytes sent to clients in 2xx answers, by source: cache (stored or in-memory "
                    + "content) or upstream (content in transit from the upstream, fills joined included)")
            .withRegistry(registry);
    private final Meter.MeterProvider<Counter> upstreamBytes = Counter.builder("wharf_upstream_bytes")
            .description("Response body bytes received from upstream registries")
            .withRegistry(registry);
    private final Meter.MeterProvider<Counter> upstreamRequests = Counter.builder("wharf_upstream_requests")
            .description("Requests to upstream registries by method and final status (error: no response)")
            .withRegistry(registry);
    private final Meter.MeterProvider<Timer> upstreamDuration = Timer.builder("wharf_upstream_duration")
            .description("Time from sending an upstream request to the end of its response body")
            .publishPercentileHistogram().minimumExpectedValue(Duration.ofMillis(1))
            .maximumExpectedValue(Duration.ofMinutes(10)).withRegistry(registry);
    private final Counter fillJoins = Counter.builder("wharf_fill_joins")
            .description("Client requests that joined a blob fill another request had started")
            .register(registry);
    private final Meter.MeterProvider<Counter> digestMismatches = Counter.builder("wharf_digest_mismatch")
            .description("Upstream content whose bytes did not match their digest (never stored)")
            .withRegistry(registry);
    private final Meter.MeterProvider<Counter> evictions = Counter.builder("wharf_evictions")
            .description("Blobs evicted from storage, by reason")
            .withRegistry(registry);
    private final Meter.MeterProvider<Counter> evictedBytes = Counter.builder("wharf_evicted_bytes")
            .description("Bytes evicted from storage, by reason")
            .withRegistry(registry);
    private final Meter.MeterProvider<Counter> passThroughs = Counter.builder("wharf_passthrough")
            .description("Blob requests passed through from the upstream without being cached (storage full)")
            .withRegistry(registry);
    private final Meter.MeterProvider<Timer> s3Duration = Timer.builder("wharf_s3_request_duration")
            .description("Time of each request to the S3 bucket behind the hot tier, by operation and outcome")
            .publishPercentileHistogram().minimumExpectedValue(Duration.ofMillis(1))
            .maximumExpectedValue(Duration.ofMinutes(2)).withRegistry(registry);
    private final Counter accessLogDropped = Counter.builder("wharf_accesslog_dropped")
            .description("Access-log lines dropped because the writer fell behind")
            .register(registry);
    private final Counter clusterJoins = Counter.builder("wharf_cluster_joins")
            .description("Blob fills this replica streamed from another replica's fill (cluster) instead of the upstream")
            .register(registry);
    private final Counter leaseTakeovers = Counter.builder("wharf_cluster_lease_takeovers")
            .description("Fill leases this replica took over from a replica that died or lost its lease mid-fill")
            .register(registry);
    private final Counter sharedTags = Counter.builder("wharf_cluster_shared_tags")
            .description("Tag lookups answered from another replica's revalidation (cluster) with no upstream call")
            .register(registry);
    /** One value per project; each registered as a gauge once, on first report. */
    private final Map<String, AtomicLong> rateLimitRemaining = new ConcurrentHashMap<>();

    public WharfMetrics() {
        new JvmMemoryMetrics().bindTo(registry);
        new JvmGcMetrics().bindTo(registry);
        new JvmThreadMetrics().bindTo(registry);
        new ClassLoaderMetrics().bindTo(registry);
        new ProcessorMetrics().bindTo(registry);
        new NettyAllocatorMetrics(PooledByteBufAllocator.DEFAULT).bindTo(registry);
    }

    /**
     * Registers, at 0, the series of every contract counter that a configured project or a known reason will use, so
     * that {@code rate(...)} and {@code increase(...)} alerts see them from start-up rather than from the first event
     * (a counter that appears at 1 has no increase to report). Series labelled by an HTTP status exist at 0 for
     * {@code 200} only; other statuses appear on their first request. Call once at start-up.
     *
     * @param projects         the configured project names
     * @param evictionReasons  every {@code reason} label {@link #eviction} may be given
     */
    public void zeroes(Collection<String> projects, Collection<String> evictionReasons) {
        for (String project : projects) {
            for (String kind : List.of("manifest", "blob", "tags", "referrers")) {
                for (String method : List.of("GET", "HEAD")) {
                    requests.withTags("project", project, "kind", kind, "method", method, "status", "200");
                }
            }
            for (String kind : List.of("manifest", "blob", "tags")) {
                for (CacheResult result : CacheResult.values()) {
                    cache.withTags("project", project, "kind", kind, "result", result.label());
                }
            }
            for (String source : List.of("cache", "upstream")) {
                served.withTags("project", project, "source", source);
            }
            upstreamBytes(project);
            for (String method : List.of("GET", "HEAD")) {
                upstreamRequests.withTags("project", project, "method", method, "status", "200");
            }
            digestMismatches.withTags("project", project);
            passThroughs.withTags("project", project);
        }
        for (String reason : evictionReasons) {
            evictions.withTags("reason", reason);
            evictedBytes.withTags("reason", reason);
        }
    }

    /** The HTTP methods counted under their own name; any other (a client may send any token) is {@code other}. */
    private static final java.util.Set<String> METHODS =
            java.util.Set.of("GET", "HEAD", "POST", "PUT", "PATCH", "DELETE", "OPTIONS");

    /**
     * One finished request: {@code wharf_requests_total} and {@code wharf_request_duration_seconds}. {@code method}
     * is the client's, as sent: it becomes a label only if it is one of {@link #METHODS}, else {@code other}.
     */
    public void request(String project, String kind, String method, int status, long nanos) {
        String m = METHODS.contains(method) ? method : "other";
        meters.requests(project, kind, m, status).increment();
        meters.duration(project, kind).record(nanos, TimeUnit.NANOSECONDS);
    }

    /**
     * One 2xx answer with content of a manifest, blob or tag list: {@code wharf_cache_total} by {@code result}
     * (hit, miss, revalidated, stale) and {@code wharf_served_bytes_total} by source: {@code upstream} for a miss,
     * {@code cache} otherwise.
     */
    public void served(String project, String kind, String result, long bytes) {
        meters.cache(project, kind, result).increment();
        String source = result.equals("miss") ? "upstream" : "cache";
        meters.served(project, source).increment(bytes);
    }

    /**
     * The meters of {@link #request} and {@link #served}, found once per label set and then looked up without
     * allocating (a Micrometer {@code withTags} builds tags and an id on every call, on every request).
     * Concurrency: ConcurrentHashMaps; two threads that resolve one label set at once both get Micrometer's single
     * meter for it.
     */
    private final class HotMeters {
        private final Map<String, Map<String, Map<String, AtomicReferenceArray<Counter>>>> requestCounters =
                new ConcurrentHashMap<>();
        private final Map<String, Map<String, Timer>> durations = new ConcurrentHashMap<>();
        private final Map<String, Map<String, Map<String, Counter>>> cacheCounters = new ConcurrentHashMap<>();
        private final Map<String, Map<String, Counter>> servedCounters = new ConcurrentHashMap<>();

        Counter requests(String project, String kind, String method, int status) {
            AtomicReferenceArray<Counter> byStatus = level(level(level(requestCounters, project), kind), method,
                    STATUS_SLOTS);
            if (status < 0 || status >= byStatus.length()) {
                return requestCounter(project, kind, method, status);
            }
            Counter c = byStatus.get(status);
            if (c == null) {
                c = requestCounter(project, kind, method, status);
                byStatus.set(status, c); // a racing writer stores the same meter
            }
            return c;
        }

        private Counter requestCounter(String project, String kind, String method, int status) {
            return WharfMetrics.this.requests.withTags("project", project, "kind", kind, "method", method,
                    "status", Integer.toString(status));
        }

        Timer duration(String project, String kind) {
            Map<String, Timer> byKind = level(durations, project);
            Timer t = byKind.get(kind);
            if (t == null) {
                t = requestDuration.withTags("project", project, "kind", kind);
                byKind.put(kind, t);
            }
            return t;
        }

        Counter cache(String project, String kind, String result) {
            Map<String, Counter> byResult = level(level(cacheCounters, project), kind);
            Counter c = byResult.get(result);
            if (c == null) {
                c = WharfMetrics.this.cache.withTags("project", project, "kind", kind, "result", result);
                byResult.put(result, c);
            }
            return c;
        }

        Counter served(String project, String source) {
            Map<String, Counter> bySource = level(servedCounters, project);
            Counter c = bySource.get(source);
            if (c == null) {
                c = WharfMetrics.this.served.withTags("project", project, "source", source);
                bySource.put(source, c);
            }
            return c;
        }

        /** The map under {@code key}, made on first use (the lambda captures nothing: no allocation per call). */
        private static <V> Map<String, V> level(Map<String, Map<String, V>> map, String key) {
            Map<String, V> next = map.get(key);
            return next != null ? next : map.computeIfAbsent(key, k -> new ConcurrentHashMap<>());
        }

        private static AtomicReferenceArray<Counter> level(Map<String, AtomicReferenceArray<Counter>> map, String key,
                                                           int slots) {
            AtomicReferenceArray<Counter> next = map.get(key);
            return next != null ? next : map.computeIfAbsent(key, k -> new AtomicReferenceArray<>(slots));
        }
    }

    /** HTTP statuses below this have a slot of their own in {@link HotMeters}. */
    private static final int STATUS_SLOTS = 600;

    private final HotMeters meters = new HotMeters();

    /** A client joined a blob fill that another request started ({@code wharf_fill_joins_total}). */
    public void fillJoin() {
        fillJoins.increment();
    }

    /**
     * One upstream request ended ({@code wharf_upstream_requests_total}, {@code wharf_upstream_duration_seconds}).
     *
     * @param status the final HTTP status, or a negative number when no response arrived (label {@code error})
     */
    public void upstreamRequest(String project, String method, int status, long nanos) {
        String p = project == null ? "none" : project;
        upstreamRequests.withTags("project", p, "method", method, "status",
                status < 0 ? "error" : Integer.toString(status)).increment();
        upstreamDuration.withTags("project", p, "method", method).record(nanos, TimeUnit.NANOSECONDS);
    }

    /** The {@code wharf_upstream_bytes_total} counter of a project, to count body bytes as they arrive. */
    public Counter upstreamBytes(String project) {
        return upstreamBytes.withTags("project", project == null ? "none" : project);
    }

    /** Upstream content failed its digest check ({@code wharf_digest_mismatch_total}). */
    public void digestMismatch(String project) {
        digestMismatches.withTags("project", project).increment();
    }

    /**
     * The storage gauges {@code wharf_storage_bytes} and {@code wharf_storage_blobs}, read on every scrape (keep
     * the suppliers cheap: no directory walks). Call once.
     */
    public void storageGauges(Supplier<Long> bytes, Supplier<Long> blobs) {
        Gauge.builder("wharf_storage_bytes", bytes::get).description("Bytes of committed content in storage")
                .register(registry);
        Gauge.builder("wharf_storage_blobs", blobs::get).description("Committed blobs in storage")
                .register(registry);
    }

    /** One blob evicted ({@code wharf_evictions_total{reason}}, {@code wharf_evicted_bytes_total{reason}}). */
    public void eviction(String reason, long bytes) {
        evictions.withTags("reason", reason).increment();
        evictedBytes.withTags("reason", reason).increment(bytes);
    }

    /** The upstream reported how many requests it still allows ({@code wharf_upstream_ratelimit_remaining}). */
    public void ratelimitRemaining(String project, long remaining) {
        rateLimitRemaining.computeIfAbsent(project, p -> {
            AtomicLong v = new AtomicLong(remaining);
            Gauge.builder("wharf_upstream_ratelimit_remaining", v, AtomicLong::get)
                    .description("Requests the upstream says it still allows in its current window")
                    .tag("project", p).strongReference(true).register(registry);
            return v;
        }).set(remaining);
    }

    /** A blob was streamed to a client without being cached ({@code wharf_passthrough_total}). */
    /** One request to the S3 bucket ({@code ok}: it answered as expected, a 404 included). */
    public void s3Request(String operation, boolean ok, long nanos) {
        s3Duration.withTags("operation", operation, "outcome", ok ? "ok" : "error")
                .record(nanos, java.util.concurrent.TimeUnit.NANOSECONDS);
    }

    /** Registers {@code wharf_s3_up}: 1 while the bucket answers, 0 while S3 is down and blobs pass through. */
    public void s3Up(java.util.function.BooleanSupplier up) {
        Gauge.builder("wharf_s3_up", () -> up.getAsBoolean() ? 1 : 0)
                .description("Whether the S3 bucket behind the hot tier answers (0: blobs pass through uncached)")
                .register(registry);
    }

    public void passThrough(String project) {
        passThroughs.withTags("project", project).increment();
    }

    /** A fill streamed from another replica's fill ({@code wharf_cluster_joins_total}). */
    public void clusterJoin() {
        clusterJoins.increment();
    }

    /** A fill lease taken over from a replica that never released it ({@code wharf_cluster_lease_takeovers_total}). */
    public void leaseTakeover() {
        leaseTakeovers.increment();
    }

    /** A tag answered from another replica's revalidation ({@code wharf_cluster_shared_tags_total}). */
    public void sharedTag() {
        sharedTags.increment();
    }

    /** Whether this replica reaches its cluster's Redis now ({@code wharf_cluster_redis_up}: 1 or 0). */
    public void redisUp(java.util.function.BooleanSupplier up) {
        Gauge.builder("wharf_cluster_redis_up", () -> up.getAsBoolean() ? 1 : 0)
                .description("1 while this replica reaches the cluster's Redis; 0: each replica fills on its own")
                .register(registry);
    }

    /** An access-log line was dropped ({@code wharf_accesslog_dropped_total}). */
    public void accessLogDropped() {
        accessLogDropped.increment();
    }

    /** A gauge read on every scrape. */
    public void gauge(String name, Supplier<Number> value) {
        Gauge.builder(name, value).register(registry);
    }

    /**
     * The contract counters summed over their labels, as {@code /metrics} shows them at this moment: for status pages
     * that must agree with Prometheus. Cheap (a walk over the registered series).
     *
     * @param hits          {@code wharf_cache_total} with any result but {@code miss}
     * @param misses        {@code wharf_cache_total{result="miss"}}
     * @param servedCache   {@code wharf_served_bytes_total{source="cache"}}
     * @param servedUpstream {@code wharf_served_bytes_total{source="upstream"}}
     * @param upstreamBytes {@code wharf_upstream_bytes_total}
     * @param evictions     {@code wharf_evictions_total}
     * @param evictedBytes  {@code wharf_evicted_bytes_total}
     */
    public record Totals(double hits, double misses, double servedCache, double servedUpstream, double upstreamBytes,
                         double evictions, double evictedBytes) {
        /** The difference {@code this - earlier}, for a window. */
        public Totals minus(Totals earlier) {
            return new Totals(hits - earlier.hits, misses - earlier.misses, servedCache - earlier.servedCache,
                    servedUpstream - earlier.servedUpstream, upstreamBytes - earlier.upstreamBytes,
                    evictions - earlier.evictions, evictedBytes - earlier.evictedBytes);
        }

        /** Hits over all cache answers, or NaN when there were none. */
        public double hitRatio() {
            double all = hits + misses;
            return all == 0 ? Double.NaN : hits / all;
        }
    }

    /** The counters as they stand now; see {@link Totals}. */
    public Totals totals() {
        double hits = 0;
        double misses = 0;
        for (Counter c : registry.find("wharf_cache").counters()) {
            if ("miss".equals(c.getId().getTag("result"))) {
                misses += c.count();
            } else {
                hits += c.count();
            }
        }
        double servedCache = 0;
        double servedUpstream = 0;
        for (Counter c : registry.find("wharf_served_bytes").counters()) {
            if ("cache".equals(c.getId().getTag("source"))) {
                servedCache += c.count();
            } else {
                servedUpstream += c.count();
            }
        }
        return new Totals(hits, misses, servedCache, servedUpstream, sum("wharf_upstream_bytes"),
                sum("wharf_evictions"), sum("wharf_evicted_bytes"));
    }

    private double sum(String name) {
        double sum = 0;
        for (Counter c : registry.find(name).counters()) {
            sum += c.count();
        }
        return sum;
    }

    /** The Prometheus text exposition. */
    public String scrape() {
        return registry.scrape();
    }
}

package dev.wharf.server.pullthrough;

import com.github.benmanes.caffeine.cache.Cache;
import com.github.benmanes.caffeine.cache.Caffeine;
import dev.wharf.server.api.CacheResult;
import dev.wharf.server.api.ErrorCode;
import dev.wharf.server.api.Failures;
import dev.wharf.server.api.MediaTypes;
import dev.wharf.server.api.Reference;
import dev.wharf.server.api.RegistryException;
import dev.wharf.server.api.RepositoryName;
import dev.wharf.server.metrics.WharfMetrics;
import dev.wharf.server.upstream.Project;
import dev.wharf.server.upstream.UpstreamCall;
import dev.wharf.server.upstream.UpstreamException;
import dev.wharf.server.upstream.UpstreamFailures;
import dev.wharf.server.upstream.UpstreamResponse;
import dev.wharf.server.upstream.UpstreamRegistry;
import dev.wharf.server.upstream.Upstreams;
import dev.wharf.storage.ContentStore;
import dev.wharf.storage.Digest;
import dev.wharf.storage.Eviction;
import dev.wharf.storage.TagEntry;
import java.io.IOException;
import java.io.UncheckedIOException;
import java.time.Clock;
import java.time.Duration;
import java.time.Instant;
import java.util.Optional;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.Executor;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

/**
 * Where a manifest comes from: memory ({@link TagCache}), the store, or the project's upstream.
 *
 * <p>By digest: immutable; served from the store once this project's upstream served or confirmed it. By tag: within
 * the project's {@code tagTtl} the cached entry is trusted; after it a HEAD upstream revalidates it (a HEAD does not
 * count against Docker Hub's pull limit); if the upstream fails (network, 5xx, 429) the cached manifest is served
 * stale. Requests for the same (project, repository, reference, method, Accept) share one upstream call
 * ({@link SingleFlight}). Store reads and writes run on the storage executor {@code io}; the memory hot paths
 * answer on the caller's thread.
 */
public final class ManifestSource {
    private static final Logger LOG = LoggerFactory.getLogger(ManifestSource.class);

    private final ContentStore store;
    private final UpstreamRegistry upstreams;
    private final Executor io;
    private final Clock clock;
    private final WharfMetrics metrics;
    private final TagCache cache;
    private final SingleFlight<String, Manifest> inflight = new SingleFlight<>();
    /**
     * Upstream 404s for a tag by (project, repository, tag, Accept), each with the instant it is forgotten
     * ({@link #NEGATIVE_TTL} after it was seen). Bounded, since clients choose the keys.
     */
    private final Cache<String, Instant> notFound = Caffeine.newBuilder().maximumSize(10_000).build();
    /** How long an upstream 404 for a tag is remembered; short, so a newly pushed tag shows up soon. */
    static final Duration NEGATIVE_TTL = Duration.ofSeconds(30);

    private final SharedTags shared;

    public ManifestSource(ContentStore store, UpstreamRegistry upstreams, Executor io, Clock clock, WharfMetrics metrics,
                          TagCache cache) {
        this(store, upstreams, io, clock, metrics, cache, SharedTags.NONE);
    }

    /** As above; {@code shared} carries tag revalidations between the replicas of a cluster. */
    public ManifestSource(ContentStore store, UpstreamRegistry upstreams, Executor io, Clock clock, WharfMetrics metrics,
                          TagCache cache, SharedTags shared) {
        this.shared = shared;
        this.store = store;
        this.upstreams = upstreams;
        this.io = io;
        this.clock = clock;
        this.metrics = metrics;
        this.cache = cache;
    }

    /**
     * The manifest {@code reference} of {@code name} in {@code project}, for a client that accepts {@code accept}
     * (null: anything). A HEAD ({@code head}) of uncached content asks the upstream with a HEAD and may answer without
     * a body. Fails with a {@link RegistryException} for anything the client should be told.
     */
    public CompletableFuture<Manifest> manifest(Project project, RepositoryName name, Reference reference,
                                                String accept, boolean head) {
        CompletableFuture<Manifest> result = reference.isDigest()
                ? byDigest(project, name, reference.digest(), accept, head)
                : byTag(project, name, reference.tag(), accept, head);
        return result.thenApply(m -> {
            store.touch(m.digest()); // recency for eviction: a volatile write, no I/O
            return m;
        });
    }

    /**
     * The answer from memory alone, on the caller's thread, or null when answering needs the store, the upstream or a
     * revalidation ({@link #manifest} then). What {@link #manifest}'s hot paths answer, without its futures: a
     * manifest by digest this project's upstream served or confirmed, or a tag within its TTL whose media type the
     * client accepts, with its body in memory.
     */
    public Manifest hot(Project project, RepositoryName name, Reference reference, String accept) {
        Digest digest;
        String type;
        if (reference.isDigest()) {
            digest = reference.digest();
            type = cache.linkedType(project.name(), digest);
            if (type == null) {
                return null;
            }
        } else {
            Optional<TagEntry> entry = cache.tagIfPresent(TagCache.tagKey(project.name(), name.value(),
                    reference.tag()));
            if (entry == null || entry.isEmpty() || !isFresh(project, entry.get())
                    || !MediaTypes.accepts(accept, entry.get().mediaType())) {
                return null;
            }
            digest = entry.get().digest();
            type = entry.get().mediaType();
        }
        byte[] body = cache.body(digest);
        if (body == null) {
            return null;
        }
        store.touch(digest); // recency for eviction: a volatile write, no I/O
        return new Manifest(digest, type, body, body.length, false, CacheResult.HIT);
    }

    // ---------------------------------------------------------------- by digest

    private CompletableFuture<Manifest> byDigest(Project project, RepositoryName name, Digest digest, String accept,
                                                 boolean head) {
        String linkedType = cache.linkedType(project.name(), digest);
        byte[] hotBody = linkedType == null ? null : cache.body(digest);
        if (hotBody != null) {
            // Hot path (HEAD/GET by digest of a manifest this project has seen): no disk, no executor hop.
            return CompletableFuture.completedFuture(Manifest.of(digest, linkedType, hotBody).as(CacheResult.HIT));
        }
        return CompletableFuture.supplyAsync(() -> cached(project, digest), io).thenCompose(found -> {
            if (found.isPresent()) {
                return CompletableFuture.completedFuture(found.get());
            }
            String what = "manifest " + digest;
            if (storedBody(digest).isPresent()) {
                // Stored for another project: this project's upstream must confirm it first.
                var call = new UpstreamCall.ManifestHead(name, digest.toString(), acceptOrAll(accept));
                return upstreams.fetch(project, call).thenApplyAsync(resp -> {
                    requireOk(project, resp, what);
                    byte[] body = storedBody(digest).orElseThrow();
                    String type = mediaType(project, resp, body);
                    link(project, digest, type);
                    return Manifest.of(digest, type, body).as(CacheResult.REVALIDATED);
                }, io);
            }
            return inflight.run(key(project, name, digest.toString(), head, accept), () -> head
                    ? headUpstream(project, name, digest.toString(), accept, false)
                    : upstreams.fetch(project, new UpstreamCall.ManifestGet(name, digest.toString(), accept))
                            .thenApplyAsync(resp -> {
                                requireOk(project, resp, what);
                                Manifest m = verify(project, resp, digest);
                                persist(project, m);
                                return m;
                            }, io));
        });
    }

    /** The stored manifest if this project may see it. Runs on the I/O executor. */
    private Optional<Manifest> cached(Project project, Digest digest) {
        Optional<ContentStore.Link> link = store.link(project.name(), digest);
        if (link.isEmpty()) {
            return Optional.empty();
        }
        return storedBody(digest).map(body -> {
            String type = link.get().mediaType() == null ? MediaTypes.sniff(body) : link.get().mediaType();
            cache.linked(project.name(), digest, type);
            return Manifest.of(digest, type, body).as(CacheResult.HIT);
        });
    }

    private Optional<byte[]> storedBody(Digest digest) {
        byte[] b = cache.body(digest);
        if (b != null) {
            return Optional.of(b);
        }
        try {
            Optional<byte[]> read = store.readSmall(digest, upstreams.limits().manifestBytes());
            read.ifPresent(body -> cache.body(digest, body));
            return read;
        } catch (IOException e) {
            throw new UncheckedIOException(e);
        }
    }

    // ---------------------------------------------------------------- by tag

    private CompletableFuture<Manifest> byTag(Project project, RepositoryName name, String tag, String accept,
                                              boolean head) {
        String tagKey = TagCache.tagKey(project.name(), name.value(), tag);
        Optional<TagEntry> hot = cache.tagIfPresent(tagKey);
        if (hot != null && hot.isPresent() && isFresh(project, hot.get())
                && MediaTypes.accepts(accept, hot.get().mediaType())) {
            // Hot path (HEAD by tag within the TTL): answered from memory without leaving the event loop.
            byte[] body = cache.body(hot.get().digest());
            if (body != null) {
                return CompletableFuture.completedFuture(
                        Manifest.of(hot.get().digest(), hot.get().mediaType(), body).as(CacheResult.HIT));
            }
        }
        return CompletableFuture.supplyAsync(() -> cache.tag(tagKey,
                () -> store.tag(project.name(), name.value(), tag)), io).thenCompose(entry -> {
            Optional<Manifest> cachedManifest = entry
                    .filter(e -> MediaTypes.accepts(accept, e.mediaType()))
                    .flatMap(e -> storedBody(e.digest()).map(b -> Manifest.of(e.digest(), e.mediaType(), b)));
            if (cachedManifest.isPresent() && isFresh(project, entry.get())) {
                return CompletableFuture.completedFuture(cachedManifest.get().as(CacheResult.HIT));
            }
            if (cachedManifest.isPresent()) {
                return inflight.run(key(project, name, tag, true, "revalidate"),
                        () -> fromCluster(project, name, tag, tagKey, accept, false).thenCompose(m -> m.isPresent()
                                ? CompletableFuture.completedFuture(m.get())
                                : revalidate(project, name, tag, tagKey, entry.get(), cachedManifest.get())));
            }
            String nkey = key(project, name, tag, false, accept);
            Instant until = notFound.getIfPresent(nkey);
            if (until != null && clock.instant().isBefore(until)) {
                return CompletableFuture.<Manifest>failedFuture(RegistryException.notFound(
                        ErrorCode.MANIFEST_UNKNOWN, "manifest unknown: " + name + ":" + tag));
            }
            return inflight.run(key(project, name, tag, head, accept),
                    () -> fromCluster(project, name, tag, tagKey, accept, head).thenCompose(m -> m.isPresent()
                            ? CompletableFuture.completedFuture(m.get())
                            : fetchTag(project, name, tag, tagKey, accept, head))).whenComplete((m, t) -> {
                        if (t != null && Failures.unwrap(t) instanceof RegistryException re && re.statusCode() == 404) {
                            notFound.put(nkey, clock.instant().plus(NEGATIVE_TTL));
                        }
                    });
        });
    }

    /**
     * The tag as another replica of the cluster revalidated it within its TTL, with no upstream call for the tag. A
     * HEAD ({@code head}) is answered from what was published; a GET takes the body from the store, else from the
     * publisher, else (the publisher learnt the tag from a HEAD and holds none) from this replica's upstream by
     * digest, checked against it, and then publishes itself as the replica that holds it. Empty when there is no
     * such answer, or anything about it fails: then this replica asks its upstream as it would alone.
     */
    private CompletableFuture<Optional<Manifest>> fromCluster(Project project, RepositoryName name, String tag,
                                                              String tagKey, String accept, boolean head) {
        return shared.find(tagKey).thenCompose(found -> {
            if (found.isEmpty() || !MediaTypes.accepts(accept, found.get().mediaType())) {
                return CompletableFuture.completedFuture(Optional.<Manifest>empty());
            }
            SharedTags.Shared s = found.get();
            TagEntry entry = new TagEntry(s.digest(), s.mediaType(), s.fetchedAt());
            if (!isFresh(project, entry)) {
                return CompletableFuture.completedFuture(Optional.<Manifest>empty());
            }
            if (head) {
                return CompletableFuture.supplyAsync(() -> {
                    putTag(tagKey, project, name, tag, entry);
                    metrics.sharedTag();
                    return Optional.of(new Manifest(s.digest(), s.mediaType(), null, s.size(), false,
                            CacheResult.REVALIDATED));
                }, io);
            }
            boolean byDigest = s.publisher() == null;
            return CompletableFuture.supplyAsync(() -> storedBody(s.digest()), io).thenCompose(local -> local
                    .map(CompletableFuture::completedFuture).orElseGet(() -> byDigest
                            ? upstreams.fetch(project, new UpstreamCall.ManifestGet(name, s.digest().toString(),
                                    accept)).thenApply(resp -> {
                                        requireOk(project, resp, "manifest " + name + "@" + s.digest());
                                        return verify(project, resp, s.digest()).body();
                                    })
                            : shared.body(s)))
                    .thenApplyAsync(body -> {
                        if (!Digest.of(s.digest().algorithm(), body).equals(s.digest())) {
                            throw new IllegalStateException("a peer sent manifest bytes that are not " + s.digest());
                        }
                        Manifest m = Manifest.of(s.digest(), s.mediaType(), body);
                        persist(project, m);
                        if (byDigest) {
                            publishTag(tagKey, project, entry, m.size(), true); // the body is here now
                        }
                        putTag(tagKey, project, name, tag, entry);
                        metrics.sharedTag();
                        return Optional.of(m.as(CacheResult.REVALIDATED));
                    }, io)
                    .exceptionally(t -> {
                        LOG.debug("tag {}:{} of {} from the cluster failed, asking the upstream: {}", name, tag,
                                project.describe(), Failures.unwrap(t).toString());
                        return Optional.empty();
                    });
        });
    }

    private boolean isFresh(Project project, TagEntry e) {
        // In milliseconds, so that the hot path allocates no Instant or Duration.
        return clock.millis() - e.fetchedAt().toEpochMilli() < project.config().tagTtl().toMillis();
    }

    /** Past the TTL: HEAD upstream; same digest → serve the cache; changed → fetch; trouble → serve stale. */
    private CompletableFuture<Manifest> revalidate(Project project, RepositoryName name, String tag, String tagKey,
                                                   TagEntry entry, Manifest cachedManifest) {
        var call = new UpstreamCall.ManifestHead(name, tag, UpstreamCall.ALL_MANIFEST_TYPES);
        return upstreams.fetch(project, call).handle((resp, err) -> {
            if (err != null || UpstreamFailures.isServerTrouble(resp.status())) {
                String why = err != null ? Failures.unwrap(err).getMessage() : "HTTP " + resp.status();
                LOG.warn("serving stale manifest {}:{} ({}) of {}: upstream revalidation failed: {}",
                        name, tag, entry.digest(), project.describe(), why);
                return CompletableFuture.completedFuture(cachedManifest.asStale());
            }
            if (resp.status() == 404) {
                cache.absent(tagKey);
                return CompletableFuture.<Manifest>failedFuture(RegistryException.notFound(
                        ErrorCode.MANIFEST_UNKNOWN, "manifest " + name + ":" + tag
                                + " not found at " + project.describe()));
            }
            if (resp.status() != 200) {
                return CompletableFuture.<Manifest>failedFuture(Upstreams.error(project, resp,
                        ErrorCode.MANIFEST_UNKNOWN, "manifest " + name + ":" + tag));
            }
            String d = resp.header("Docker-Content-Digest");
            if (d != null && d.equals(entry.digest().toString())) {
                TagEntry renewed = new TagEntry(entry.digest(), entry.mediaType(), clock.instant());
                return CompletableFuture.supplyAsync(() -> {
                    publishTag(tagKey, project, renewed, cachedManifest.size(), true);
                    putTag(tagKey, project, name, tag, renewed);
                    return cachedManifest.as(CacheResult.REVALIDATED);
                }, io);
            }
            return fetchTag(project, name, tag, tagKey, UpstreamCall.ALL_MANIFEST_TYPES, false);
        }).thenCompose(f -> f);
    }

    private CompletableFuture<Manifest> fetchTag(Project project, RepositoryName name, String tag, String tagKey,
                                                 String accept, boolean head) {
        if (head) {
            return headUpstream(project, name, tag, accept, true).thenApplyAsync(m -> {
                if (MediaTypes.isBroad(accept)) {
                    // Published without a body (a HEAD brings none): the others answer HEADs from it, and a GET
                    // fetches the manifest by digest.
                    TagEntry e = new TagEntry(m.digest(), m.mediaType(), clock.instant());
                    publishTag(tagKey, project, e, m.size(), false);
                    putTag(tagKey, project, name, tag, e);
                }
                return m;
            }, io);
        }
        return upstreams.fetch(project, new UpstreamCall.ManifestGet(name, tag, accept))
                .thenApplyAsync(resp -> {
                    requireOk(project, resp, "manifest " + name + ":" + tag);
                    Manifest m = verify(project, resp, null);
                    persist(project, m);
                    if (MediaTypes.isBroad(accept)) {
                        TagEntry e = new TagEntry(m.digest(), m.mediaType(), clock.instant());
                        publishTag(tagKey, project, e, m.size(), true);
                        putTag(tagKey, project, name, tag, e);
                    }
                    return m;
                }, io)
                .exceptionallyCompose(t -> staleOr(project, name, tag, tagKey, accept, t));
    }

    /** Stale-if-error for a tag whose entry is past its TTL or whose body we hold. */
    private CompletableFuture<Manifest> staleOr(Project project, RepositoryName name, String tag, String tagKey,
                                                String accept, Throwable t) {
        Throwable cause = Failures.unwrap(t);
        boolean trouble = !(cause instanceof RegistryException re) || UpstreamFailures.isServerTrouble(re.statusCode());
        if (trouble) {
            Optional<TagEntry> entry = cache.tagIfPresent(tagKey);
            Optional<Manifest> stale = entry == null ? Optional.empty() : entry
                    .filter(e -> MediaTypes.accepts(accept, e.mediaType()))
                    .flatMap(e -> storedBody(e.digest()).map(b -> Manifest.of(e.digest(), e.mediaType(), b).asStale()));
            if (stale.isPresent()) {
                LOG.warn("serving stale manifest {}:{} of {}: {}", name, tag, project.describe(), cause.getMessage());
                return CompletableFuture.completedFuture(stale.get());
            }
        }
        return CompletableFuture.failedFuture(cause);
    }

    /** HEAD upstream; answers with the upstream's digest, type and size (nothing is stored but, for tags, the entry). */
    private CompletableFuture<Manifest> headUpstream(Project project, RepositoryName name, String reference,
                                                     String accept, boolean isTag) {
        var call = new UpstreamCall.ManifestHead(name, reference, accept);
        return upstreams.fetch(project, call).thenApply(resp -> {
            requireOk(project, resp, "manifest " + name + (isTag ? ":" : "@") + reference);
            String d = resp.header("Docker-Content-Digest");
            String type = contentType(project, resp);
            if (type == null) {
                type = "application/vnd.oci.image.manifest.v1+json";
            }
            String length = resp.header("Content-Length");
            if (d == null && !isTag) {
                d = reference;
            }
            if (d == null || length == null) {
                throw Upstreams.unreachable(project, new UpstreamException("upstream answered HEAD of manifest "
                        + name + ":" + reference + " without Docker-Content-Digest or Content-Length"));
            }
            Digest digest;
            try {
                digest = Digest.parse(d);
            } catch (IllegalArgumentException e) {
                throw Upstreams.unreachable(project, new UpstreamException("upstream sent a bad Docker-Content-Digest: "
                        + e.getMessage()));
            }
            if (!isTag && !digest.toString().equals(reference)) {
                throw Upstreams.unreachable(project, new UpstreamException("upstream answered manifest " + reference
                        + " with Docker-Content-Digest " + digest));
            }
            return new Manifest(digest, type, null, Long.parseLong(length.trim()), false, CacheResult.MISS);
        });
    }

    // ---------------------------------------------------------------- helpers

    private static void requireOk(Project project, UpstreamResponse resp, String what) {
        if (resp.status() != 200) {
            throw Upstreams.error(project, resp, ErrorCode.MANIFEST_UNKNOWN, what);
        }
    }

    /**
     * Checks the body against the requested digest (by-digest pulls) and against the upstream's
     * Docker-Content-Digest (if sent); a mismatch is the upstream's fault and is never stored.
     */
    private Manifest verify(Project project, UpstreamResponse resp, Digest expected) {
        byte[] body = resp.body();
        String header = resp.header("Docker-Content-Digest");
        Digest claimed = null;
        if (header != null) {
            try {
                claimed = Digest.parse(header.trim());
            } catch (IllegalArgumentException e) {
                claimed = null;
            }
        }
        String algorithm = expected != null ? expected.algorithm() : claimed != null ? claimed.algorithm() : "sha256";
        Digest actual = Digest.of(algorithm, body);
        if (expected != null && !expected.equals(actual)) {
            metrics.digestMismatch(project.name());
            throw Upstreams.unreachable(project, new UpstreamException("upstream sent manifest bytes with digest "
                    + actual + " for " + expected));
        }
        if (claimed != null && claimed.algorithm().equals(actual.algorithm()) && !claimed.equals(actual)) {
            metrics.digestMismatch(project.name());
            throw Upstreams.unreachable(project, new UpstreamException("upstream's Docker-Content-Digest " + claimed
                    + " does not match the manifest bytes (" + actual + ")"));
        }
        return Manifest.of(actual, mediaType(project, resp, body), body);
    }

    private void persist(Project project, Manifest m) {
        try {
            store.putSmall(m.digest(), m.body());
            cache.body(m.digest(), m.body());
            link(project, m.digest(), m.mediaType());
        } catch (IOException e) {
            // The client still gets the manifest; only the cache misses out.
            LOG.warn("cannot store manifest {}: {}", m.digest(), e.toString());
        }
    }

    private void link(Project project, Digest digest, String mediaType) {
        try {
            store.link(project.name(), digest, mediaType);
            cache.linked(project.name(), digest, mediaType);
        } catch (IOException e) {
            LOG.warn("cannot link manifest {} to project {}: {}", digest, project.name(), e.toString());
        }
    }

    /**
     * Shares what this replica's upstream said about a tag with the cluster, for the rest of the TTL ({@code size}:
     * the manifest's; {@code holdsBody}: its bytes are stored here, for the others to fetch).
     */
    private void publishTag(String tagKey, Project project, TagEntry entry, long size, boolean holdsBody) {
        shared.publish(tagKey, entry, size, holdsBody, project.config().tagTtl());
    }

    /** Stores the tag entry here (on disk and in memory). */
    private void putTag(String tagKey, Project project, RepositoryName name, String tag, TagEntry entry) {
        try {
            store.putTag(project.name(), name.value(), tag, entry);
        } catch (IOException e) {
            LOG.warn("cannot store tag {}:{} of project {}: {}", name, tag, project.name(), e.toString());
        }
        cache.putTag(tagKey, entry);
    }

    /**
     * Forgets a blob the store evicted or quarantined (see {@link TagCache#evicted}). The server registers this as a
     * store listener; it runs on the evictor's thread.
     */
    public void evicted(Eviction eviction) {
        java.util.List<String> projects;
        try {
            projects = store.projectNames();
        } catch (IOException e) {
            projects = null;
        }
        cache.evicted(eviction, projects);
    }

    private static String key(Project project, RepositoryName name, String reference, boolean head, String accept) {
        return project.name() + "\n" + name + "\n" + reference + "\n" + head + "\n" + accept;
    }

    private static String acceptOrAll(String accept) {
        return accept == null || accept.isBlank() ? UpstreamCall.ALL_MANIFEST_TYPES : accept;
    }

    /** The manifest's media type: the upstream's Content-Type, else its own {@code mediaType} field; both checked. */
    private static String mediaType(Project project, UpstreamResponse resp, byte[] body) {
        String type = contentType(project, resp);
        if (type != null) {
            return type;
        }
        String sniffed = MediaTypes.sniff(body);
        if (!MediaTypes.isValid(sniffed)) {
            throw Upstreams.unreachable(project, new UpstreamException(
                    "upstream sent a manifest whose mediaType is not a valid media type"));
        }
        return sniffed;
    }

    /**
     * The upstream's Content-Type without parameters, or null when it sent none. One with non-ASCII or control
     * characters, or that is not a media type (RFC 6838), is the upstream's fault: a 502 naming it.
     */
    private static String contentType(Project project, UpstreamResponse resp) {
        String t = resp.header("Content-Type");
        if (t == null || t.isBlank()) {
            return null;
        }
        int semi = t.indexOf(';');
        String type = (semi >= 0 ? t.substring(0, semi) : t).trim();
        if (!MediaTypes.isPrintableAscii(t) || !MediaTypes.isValid(type)) {
            throw Upstreams.unreachable(project, new UpstreamException(
                    "upstream sent a Content-Type that is not a valid media type"));
        }
        return type;
    }
}

package dev.wharf.server.registry;

import com.github.benmanes.caffeine.cache.Cache;
import com.github.benmanes.caffeine.cache.Caffeine;
import dev.wharf.server.api.CacheResult;
import dev.wharf.server.http.Exchange;
import dev.wharf.server.api.Failures;
import dev.wharf.server.http.Route;
import dev.wharf.server.metrics.WharfMetrics;
import dev.wharf.server.upstream.Project;
import dev.wharf.server.upstream.Upstreams;
import dev.wharf.server.upstream.UpstreamException;
import dev.wharf.server.upstream.UpstreamResponse;
import dev.wharf.storage.ContentStore;
import dev.wharf.storage.Digest;
import dev.wharf.storage.Eviction;
import dev.wharf.storage.TagEntry;
import dev.wharf.storage.TagRef;
import io.netty.handler.codec.http.DefaultHttpHeaders;
import io.netty.handler.codec.http.HttpHeaderNames;
import io.netty.handler.codec.http.HttpHeaders;
import io.netty.handler.codec.http.HttpMethod;
import io.netty.handler.codec.http.HttpResponseStatus;
import java.io.IOException;
import java.io.UncheckedIOException;
import java.security.MessageDigest;
import java.security.NoSuchAlgorithmException;
import java.time.Clock;
import java.time.Duration;
import java.time.Instant;
import java.util.HexFormat;
import java.util.Optional;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.ConcurrentHashMap;
import java.util.concurrent.Executor;
import java.util.function.Supplier;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;
import dev.wharf.server.api.ErrorCode;
import dev.wharf.server.api.MediaTypes;
import dev.wharf.server.api.RegistryException;

/**
 * {@code GET/HEAD /v2/<name>/manifests/<reference>}.
 *
 * <p>By digest: immutable; served from the store once this project's upstream served or confirmed it. By tag: the
 * tag index maps (project, repository, tag) to a digest; within the project's {@code tagTtl} it is trusted, after
 * it a HEAD upstream revalidates it (a HEAD does not count against Docker Hub's pull limit); if the upstream fails
 * (network, 5xx, 429) the cached manifest is served with a {@code Warning} header (stale-if-error).
 *
 * <p>Concurrency: requests for the same (project, repository, tag, method, Accept) share one upstream call through
 * {@link #inflight}: the first creates the future with computeIfAbsent and removes it when it completes, so a
 * later request starts a fresh call. Removal uses remove(key, future), so a completed call can never remove its
 * successor. Tag entries and manifest bytes are cached in memory (Caffeine, bounded) in front of the store; a
 * race between two writers of one tag is benign: both wrote what the upstream said at that moment.
 */
public final class ManifestHandler {
    private static final Logger LOG = LoggerFactory.getLogger(ManifestHandler.class);

    private final ContentStore store;
    private final Upstreams upstreams;
    private final Executor io;
    private final Clock clock;
    private final ConcurrentHashMap<String, CompletableFuture<Manifest>> inflight = new ConcurrentHashMap<>();
    private final Cache<String, Optional<TagEntry>> tags = Caffeine.newBuilder().maximumSize(200_000).build();
    /** (project@digest) → media type, for manifests the project's upstream served or confirmed. */
    private final Cache<String, String> linkedTypes = Caffeine.newBuilder().maximumSize(200_000).build();
    private final Cache<Digest, byte[]> bodies = Caffeine.newBuilder()
            .maximumWeight(128L << 20).weigher((Digest d, byte[] b) -> b.length + 64).build();

    private final WharfMetrics metrics;

    public ManifestHandler(ContentStore store, Upstreams upstreams, Executor io, Clock clock,
                           WharfMetrics metrics) {
        this.metrics = metrics;
        this.store = store;
        this.upstreams = upstreams;
        this.io = io;
        this.clock = clock;
    }

    public void handle(Exchange ex, Route route) {
        // Clients built on containers/image (skopeo, podman, CRI-O) send one Accept header per media type: the
        // header fields together are the list (RFC 9110 5.3), so join them; the first alone is a different question.
        java.util.List<String> accepts = ex.request().headers().getAll(HttpHeaderNames.ACCEPT);
        String accept = accepts.isEmpty() ? null : String.join(", ", accepts);
        CompletableFuture<Manifest> result = route.reference().isDigest()
                ? byDigest(route, route.reference().digest(), accept, ex.isHead())
                : byTag(route, route.reference().tag(), accept, ex.isHead());
        result.whenComplete((m, err) -> {
            if (err != null) {
                ex.fail(err);
            } else {
                send(ex, m);
            }
        });
    }

    private void send(Exchange ex, Manifest m) {
        store.touch(m.digest()); // recency for eviction: a volatile write, no I/O
        ex.cacheResult(m.cache());
        HttpHeaders h = new DefaultHttpHeaders()
                .set(HttpHeaderNames.CONTENT_TYPE, m.mediaType())
                .set("Docker-Content-Digest", m.digest().toString())
                .set(HttpHeaderNames.ETAG, "\"" + m.digest() + "\"");
        if (m.stale()) {
            h.set(HttpHeaderNames.WARNING, "110 wharf \"Response is Stale\"");
        }
        if (m.body() != null) {
            ex.bytes(HttpResponseStatus.OK, h, m.body());
        } else {
            ex.headersOnly(HttpResponseStatus.OK, h, m.size());
        }
    }

    // ---------------------------------------------------------------- by digest

    private CompletableFuture<Manifest> byDigest(Route route, Digest digest, String accept, boolean head) {
        Project project = route.project();
        String linkKey = project.name() + "@" + digest;
        String linkedType = linkedTypes.getIfPresent(linkKey);
        byte[] hotBody = linkedType == null ? null : bodies.getIfPresent(digest);
        if (hotBody != null) {
            // Hot path (HEAD/GET by digest of a manifest this project has seen): no disk, no executor hop.
            return CompletableFuture.completedFuture(Manifest.of(digest, linkedType, hotBody).as(CacheResult.HIT));
        }
        return CompletableFuture.supplyAsync(() -> cached(project, digest), io).thenCompose(found -> {
            if (found.isPresent()) {
                return CompletableFuture.completedFuture(found.get());
            }
            String path = "/v2/" + route.name() + "/manifests/" + digest;
            if (storedBody(digest).isPresent()) {
                // Stored for another project: this project's upstream must confirm it first.
                return upstreams.fetch(project, HttpMethod.HEAD, path, null, acceptOrAll(accept), route.name().value(), 0)
                        .thenApplyAsync(resp -> {
                            requireOk(project, resp, "manifest " + digest);
                            String type = contentType(resp, null);
                            byte[] body = storedBody(digest).orElseThrow();
                            link(project, digest, type == null ? sniff(body) : type);
                            return Manifest.of(digest, type == null ? sniff(body) : type, body)
                                    .as(CacheResult.REVALIDATED);
                        }, io);
            }
            return shared(key(project, route, digest.toString(), head, accept), () -> head
                    ? headUpstream(project, route, digest.toString(), accept, false)
                    : upstreams.fetch(project, HttpMethod.GET, path, null, accept, route.name().value(), Upstreams.MAX_MANIFEST)
                            .thenApplyAsync(resp -> {
                                requireOk(project, resp, "manifest " + digest);
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
            String type = link.get().mediaType() == null ? sniff(body) : link.get().mediaType();
            linkedTypes.put(project.name() + "@" + digest, type);
            return Manifest.of(digest, type, body).as(CacheResult.HIT);
        });
    }

    private Optional<byte[]> storedBody(Digest digest) {
        byte[] b = bodies.getIfPresent(digest);
        if (b != null) {
            return Optional.of(b);
        }
        try {
            Optional<byte[]> read = store.readSmall(digest, Upstreams.MAX_MANIFEST);
            read.ifPresent(body -> bodies.put(digest, body));
            return read;
        } catch (IOException e) {
            throw new UncheckedIOException(e);
        }
    }

    // ---------------------------------------------------------------- by tag

    private CompletableFuture<Manifest> byTag(Route route, String tag, String accept, boolean head) {
        Project project = route.project();
        String tagKey = project.name() + "/" + route.name() + ":" + tag;
        Optional<TagEntry> hot = tags.getIfPresent(tagKey);
        if (hot != null && hot.isPresent() && isFresh(project, hot.get())
                && MediaTypes.accepts(accept, hot.get().mediaType())) {
            // Hot path (HEAD by tag within the TTL): answered from memory without leaving the event loop.
            byte[] body = bodies.getIfPresent(hot.get().digest());
            if (body != null) {
                return CompletableFuture.completedFuture(
                        Manifest.of(hot.get().digest(), hot.get().mediaType(), body).as(CacheResult.HIT));
            }
        }
        return CompletableFuture.supplyAsync(() -> tagEntry(tagKey, project, route, tag), io).thenCompose(entry -> {
            Optional<Manifest> cachedManifest = entry
                    .filter(e -> MediaTypes.accepts(accept, e.mediaType()))
                    .flatMap(e -> storedBody(e.digest()).map(b -> Manifest.of(e.digest(), e.mediaType(), b)));
            if (cachedManifest.isPresent() && isFresh(project, entry.get())) {
                return CompletableFuture.completedFuture(cachedManifest.get().as(CacheResult.HIT));
            }
            if (cachedManifest.isPresent()) {
                return shared(key(project, route, tag, true, "revalidate"),
                        () -> revalidate(project, route, tag, tagKey, entry.get(), cachedManifest.get()));
            }
            return shared(key(project, route, tag, head, accept), () -> fetchTag(project, route, tag, tagKey, accept, head));
        });
    }

    private Optional<TagEntry> tagEntry(String tagKey, Project project, Route route, String tag) {
        return tags.get(tagKey, k -> store.tag(project.name(), route.name().value(), tag));
    }

    private boolean isFresh(Project project, TagEntry e) {
        Duration age = Duration.between(e.fetchedAt(), clock.instant());
        return age.compareTo(project.config().tagTtl()) < 0;
    }

    /** Past the TTL: HEAD upstream; same digest → serve the cache; changed → fetch; trouble → serve stale. */
    private CompletableFuture<Manifest> revalidate(Project project, Route route, String tag, String tagKey,
                                                   TagEntry entry, Manifest cachedManifest) {
        String path = "/v2/" + route.name() + "/manifests/" + tag;
        return upstreams.fetch(project, HttpMethod.HEAD, path, null, Upstreams.ALL_MANIFEST_TYPES, route.name().value(), 0)
                .handle((resp, err) -> {
                    if (err != null || Upstreams.isServerTrouble(resp.status())) {
                        String why = err != null ? Failures.unwrap(err).getMessage() : "HTTP " + resp.status();
                        LOG.warn("serving stale manifest {}:{} ({}) of {}: upstream revalidation failed: {}",
                                route.name(), tag, entry.digest(), project.describe(), why);
                        return CompletableFuture.completedFuture(cachedManifest.asStale());
                    }
                    if (resp.status() == 404) {
                        forgetTag(tagKey, project, route, tag);
                        return CompletableFuture.<Manifest>failedFuture(RegistryException.notFound(
                                ErrorCode.MANIFEST_UNKNOWN, "manifest " + route.name() + ":" + tag
                                        + " not found at " + project.describe()));
                    }
                    if (resp.status() != 200) {
                        return CompletableFuture.<Manifest>failedFuture(Upstreams.error(project, resp.status(),
                                resp.headers(), ErrorCode.MANIFEST_UNKNOWN, "manifest " + route.name() + ":" + tag));
                    }
                    String d = resp.headers().get("Docker-Content-Digest");
                    if (d != null && d.equals(entry.digest().toString())) {
                        TagEntry renewed = new TagEntry(entry.digest(), entry.mediaType(), clock.instant());
                        return CompletableFuture.supplyAsync(() -> {
                            putTag(tagKey, project, route, tag, renewed);
                            return cachedManifest.as(CacheResult.REVALIDATED);
                        }, io);
                    }
                    return fetchTag(project, route, tag, tagKey, Upstreams.ALL_MANIFEST_TYPES, false);
                }).thenCompose(f -> f);
    }

    private CompletableFuture<Manifest> fetchTag(Project project, Route route, String tag, String tagKey,
                                                 String accept, boolean head) {
        if (head) {
            return headUpstream(project, route, tag, accept, true).thenApplyAsync(m -> {
                if (MediaTypes.isBroad(accept)) {
                    putTag(tagKey, project, route, tag, new TagEntry(m.digest(), m.mediaType(), clock.instant()));
                }
                return m;
            }, io);
        }
        String path = "/v2/" + route.name() + "/manifests/" + tag;
        return upstreams.fetch(project, HttpMethod.GET, path, null, accept, route.name().value(), Upstreams.MAX_MANIFEST)
                .thenApplyAsync(resp -> {
                    requireOk(project, resp, "manifest " + route.name() + ":" + tag);
                    Manifest m = verify(project, resp, null);
                    persist(project, m);
                    if (MediaTypes.isBroad(accept)) {
                        putTag(tagKey, project, route, tag, new TagEntry(m.digest(), m.mediaType(), clock.instant()));
                    }
                    return m;
                }, io)
                .exceptionallyCompose(t -> staleOr(project, route, tag, tagKey, accept, t));
    }

    /** Stale-if-error for a tag whose entry is past its TTL or whose body we hold. */
    private CompletableFuture<Manifest> staleOr(Project project, Route route, String tag, String tagKey, String accept,
                                                Throwable t) {
        Throwable cause = Failures.unwrap(t);
        boolean trouble = !(cause instanceof RegistryException re)
                || re.status().code() >= 500 || re.status().code() == 429;
        if (trouble) {
            Optional<Manifest> stale = tags.getIfPresent(tagKey) == null ? Optional.empty()
                    : tags.getIfPresent(tagKey)
                    .filter(e -> MediaTypes.accepts(accept, e.mediaType()))
                    .flatMap(e -> storedBody(e.digest()).map(b -> Manifest.of(e.digest(), e.mediaType(), b).asStale()));
            if (stale.isPresent()) {
                LOG.warn("serving stale manifest {}:{} of {}: {}", route.name(), tag, project.describe(), cause.getMessage());
                return CompletableFuture.completedFuture(stale.get());
            }
        }
        return CompletableFuture.failedFuture(cause);
    }

    /** HEAD upstream; answers with the upstream's digest, type and size (nothing is stored but, for tags, the entry). */
    private CompletableFuture<Manifest> headUpstream(Project project, Route route, String reference, String accept,
                                                     boolean isTag) {
        String path = "/v2/" + route.name() + "/manifests/" + reference;
        return upstreams.fetch(project, HttpMethod.HEAD, path, null, accept, route.name().value(), 0).thenApply(resp -> {
            requireOk(project, resp, "manifest " + route.name() + (isTag ? ":" : "@") + reference);
            String d = resp.headers().get("Docker-Content-Digest");
            String type = contentType(resp, "application/vnd.oci.image.manifest.v1+json");
            String length = resp.headers().get(HttpHeaderNames.CONTENT_LENGTH);
            if (d == null && !isTag) {
                d = reference;
            }
            if (d == null || length == null) {
                throw Upstreams.unreachable(project, new UpstreamException("upstream answered HEAD of manifest "
                        + route.name() + ":" + reference + " without Docker-Content-Digest or Content-Length"));
            }
            Digest digest;
            try {
                digest = Digest.parse(d);
            } catch (IllegalArgumentException e) {
                throw Upstreams.unreachable(project, new UpstreamException("upstream sent a bad Docker-Content-Digest: " + e.getMessage()));
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
            throw Upstreams.error(project, resp.status(), resp.headers(), ErrorCode.MANIFEST_UNKNOWN, what);
        }
    }

    /**
     * Checks the body against the requested digest (by-digest pulls) and against the upstream's
     * Docker-Content-Digest (if sent); a mismatch is the upstream's fault and is never stored.
     */
    private Manifest verify(Project project, UpstreamResponse resp, Digest expected) {
        byte[] body = resp.body();
        String header = resp.headers().get("Docker-Content-Digest");
        Digest claimed = null;
        if (header != null) {
            try {
                claimed = Digest.parse(header.trim());
            } catch (IllegalArgumentException e) {
                claimed = null;
            }
        }
        String algorithm = expected != null ? expected.algorithm() : claimed != null ? claimed.algorithm() : "sha256";
        Digest actual = digestOf(algorithm, body);
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
        String type = contentType(resp, null);
        return Manifest.of(actual, type == null ? sniff(body) : type, body);
    }

    private void persist(Project project, Manifest m) {
        try {
            store.putSmall(m.digest(), m.body());
            bodies.put(m.digest(), m.body());
            link(project, m.digest(), m.mediaType());
        } catch (IOException e) {
            // The client still gets the manifest; only the cache misses out.
            LOG.warn("cannot store manifest {}: {}", m.digest(), e.toString());
        }
    }

    private void link(Project project, Digest digest, String mediaType) {
        try {
            store.link(project.name(), digest, mediaType);
            linkedTypes.put(project.name() + "@" + digest, mediaType);
        } catch (IOException e) {
            LOG.warn("cannot link manifest {} to project {}: {}", digest, project.name(), e.toString());
        }
    }

    private void putTag(String tagKey, Project project, Route route, String tag, TagEntry entry) {
        try {
            store.putTag(project.name(), route.name().value(), tag, entry);
        } catch (IOException e) {
            LOG.warn("cannot store tag {}:{} of project {}: {}", route.name(), tag, project.name(), e.toString());
        }
        tags.put(tagKey, Optional.of(entry));
    }

    private void forgetTag(String tagKey, Project project, Route route, String tag) {
        tags.put(tagKey, Optional.empty());
    }

    /**
     * Forgets a blob the store evicted or quarantined: its body, every project's link to it, and the tags that went
     * with it, so nothing evicted is answered from memory as if it were still cached. The server registers this as a
     * store listener; it runs on the evictor's thread. A tag cached in memory without its file (its write failed)
     * still names the digest, but its body is gone from memory and disk, so it is fetched again, never served stale.
     */
    public void evicted(Eviction eviction) {
        Digest digest = eviction.digest();
        bodies.invalidate(digest);
        try {
            for (String project : store.projectNames()) {
                linkedTypes.invalidate(project + "@" + digest);
            }
        } catch (IOException e) {
            String suffix = "@" + digest;
            linkedTypes.asMap().keySet().removeIf(k -> k.endsWith(suffix));
        }
        tagsDeleted(eviction.removedTags());
    }

    /** Forgets tag entries deleted from the store (with an evicted manifest, or by the admin API). */
    public void tagsDeleted(java.util.Collection<TagRef> removed) {
        for (TagRef ref : removed) {
            tags.invalidate(ref.project() + "/" + ref.repository() + ":" + ref.tag());
        }
    }

    /**
     * Drops the in-memory tag entries of {@code repository} (the name as stored, {@code library/} included) in
     * {@code project}: one {@code tag}, or all of them when it is null. The admin API calls this after deleting the
     * tags from the store, so a deleted tag is not answered from memory. A fetch of the tag already in flight may
     * write it back when it completes; that is benign: it writes what the upstream has just said.
     */
    public void forgetTags(String project, String repository, String tag) {
        if (tag != null) {
            tags.invalidate(project + "/" + repository + ":" + tag);
            return;
        }
        String prefix = project + "/" + repository + ":";
        tags.asMap().keySet().removeIf(k -> k.startsWith(prefix));
    }

    private CompletableFuture<Manifest> shared(String key, Supplier<CompletableFuture<Manifest>> call) {
        CompletableFuture<Manifest> mine = new CompletableFuture<>();
        CompletableFuture<Manifest> existing = inflight.putIfAbsent(key, mine);
        if (existing != null) {
            return existing;
        }
        try {
            call.get().whenComplete((m, err) -> {
                inflight.remove(key, mine);
                if (err != null) {
                    mine.completeExceptionally(Failures.unwrap(err));
                } else {
                    mine.complete(m);
                }
            });
        } catch (RuntimeException e) {
            inflight.remove(key, mine);
            mine.completeExceptionally(e);
        }
        return mine;
    }

    private static String key(Project project, Route route, String reference, boolean head, String accept) {
        return project.name() + "\n" + route.name() + "\n" + reference + "\n" + head + "\n" + accept;
    }

    private static String acceptOrAll(String accept) {
        return accept == null || accept.isBlank() ? Upstreams.ALL_MANIFEST_TYPES : accept;
    }

    private static String contentType(UpstreamResponse resp, String fallback) {
        String t = resp.headers().get(HttpHeaderNames.CONTENT_TYPE);
        if (t == null || t.isBlank()) {
            return fallback;
        }
        int semi = t.indexOf(';');
        return (semi >= 0 ? t.substring(0, semi) : t).trim();
    }

    /** Media type from the manifest's own {@code mediaType} field, for upstreams that send no Content-Type. */
    static String sniff(byte[] body) {
        try {
            var node = new com.fasterxml.jackson.databind.ObjectMapper().readTree(body);
            if (node != null && node.hasNonNull("mediaType")) {
                return node.get("mediaType").asText();
            }
            if (node != null && node.has("manifests")) {
                return "application/vnd.oci.image.index.v1+json";
            }
        } catch (IOException ignored) {
            // not JSON: fall through
        }
        return "application/vnd.oci.image.manifest.v1+json";
    }

    static Digest digestOf(String algorithm, byte[] body) {
        try {
            String jca = algorithm.equals("sha512") ? "SHA-512" : "SHA-256";
            byte[] d = MessageDigest.getInstance(jca).digest(body);
            return new Digest(algorithm.equals("sha512") ? "sha512" : "sha256", HexFormat.of().formatHex(d));
        } catch (NoSuchAlgorithmException e) {
            throw new IllegalStateException(e);
        }
    }

    Instant now() {
        return clock.instant();
    }
}

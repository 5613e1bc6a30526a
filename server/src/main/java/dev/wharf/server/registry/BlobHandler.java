package dev.wharf.server.registry;

import dev.wharf.server.http.CacheResult;
import dev.wharf.server.http.Exchange;
import dev.wharf.server.http.Failures;
import dev.wharf.server.http.FillStream;
import dev.wharf.server.http.Route;
import dev.wharf.server.metrics.WharfMetrics;
import dev.wharf.server.proxy.Project;
import dev.wharf.server.proxy.Upstreams;
import dev.wharf.server.upstream.ResponseListener;
import dev.wharf.server.upstream.UpstreamException;
import dev.wharf.storage.fill.BlobFill;
import dev.wharf.storage.BlobLease;
import dev.wharf.storage.ContentStore;
import dev.wharf.storage.Digest;
import dev.wharf.storage.DigestMismatchException;
import dev.wharf.storage.fill.Fills;
import io.netty.buffer.ByteBuf;
import io.netty.handler.codec.http.DefaultHttpHeaders;
import io.netty.handler.codec.http.HttpHeaderNames;
import io.netty.handler.codec.http.HttpHeaders;
import io.netty.handler.codec.http.HttpMethod;
import io.netty.handler.codec.http.HttpResponseStatus;
import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.Map;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.ConcurrentHashMap;
import java.util.concurrent.Executor;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

/**
 * {@code GET/HEAD /v2/<name>/blobs/<digest>}: warm from the store, cold through a shared {@link BlobFill}.
 *
 * <p>Isolation: a stored blob is served under a project only once that project's upstream served it (the fill it
 * started committed) or confirmed it with a HEAD. A client of project B that joins a fill project A started is
 * let in only after B's upstream confirms the digest.
 *
 * <p>Eviction: every request takes a {@link BlobLease} on its digest first and releases it when its response ends,
 * so the blob it serves (stored, or committed by a fill while it streams) is never evicted under it. If the disk is
 * full, a fill passes its bytes through to the clients registered as its readers; a request that comes after that
 * switch gets a null reader and starts its own transfer.
 *
 * <p>Concurrency: {@link #owners} maps each running fill to the project that started it; it is written by the
 * starter before anyone else can look the fill up for isolation purposes (inside the same request, right after
 * {@link Fills#acquire}), and removed when the fill ends. A joiner that finds no owner (the fill just ended) takes
 * the safe path and confirms with its upstream.
 */
public final class BlobHandler {
    private static final Logger LOG = LoggerFactory.getLogger(BlobHandler.class);

    private final ContentStore store;
    private final Fills fills;
    private final Upstreams upstreams;
    private final Executor io;
    private final Map<BlobFill, String> owners = new ConcurrentHashMap<>();
    private final WharfMetrics metrics;

    public BlobHandler(ContentStore store, Fills fills, Upstreams upstreams, Executor io,
                       WharfMetrics metrics) {
        this.store = store;
        this.fills = fills;
        this.upstreams = upstreams;
        this.io = io;
        this.metrics = metrics;
    }

    public void handle(Exchange ex, Route route) {
        Project project = route.project();
        Digest digest = route.digest();
        // Pins the blob (stored now, or committed by a fill while this response streams it) against eviction until
        // the response ends, and records the access for LRU and retention. A map lookup; no I/O.
        BlobLease lease = store.use(digest);
        ex.whenFinished(lease::close);
        var indexed = store.blobSize(digest);
        // A blob quarantined by `wharf verify` (or deleted by hand) behind the index's back is fetched again.
        var size = indexed.isPresent() && !ex.isHead() && Files.notExists(store.blobPath(digest))
                && store.forgetMissing(digest) ? java.util.Optional.<Long>empty() : indexed;
        if (size.isPresent()) {
            if (store.link(project.name(), digest).isPresent()) {
                ex.cacheResult(CacheResult.HIT);
                serveStored(ex, digest, size.get());
            } else {
                confirm(project, route, digest).thenRun(() -> {
                    ex.cacheResult(CacheResult.REVALIDATED);
                    serveStored(ex, digest, size.get());
                }).exceptionally(t -> fail(ex, t));
            }
            return;
        }
        ex.cacheResult(CacheResult.MISS);
        if (ex.isHead()) {
            headUpstream(ex, project, route, digest);
            return;
        }
        Fills.Acquired acquired = fills.acquire(digest);
        BlobFill fill = acquired.fill();
        if (acquired.started()) {
            owners.put(fill, project.name());
            fill.result().whenComplete((path, err) -> {
                owners.remove(fill);
                if (err == null && path != null) {
                    linkQuietly(project, digest);
                } else if (err == null) {
                    metrics.passThrough(project.name()); // delivered whole, not stored: storage is full
                }
            });
            // Registered before the upstream starts, so a pass-through (disk full) always has this client to feed.
            BlobFill.Reader reader = fill.newReader();
            startUpstream(project, route, fill);
            ex.fill(digest, false);
            join(ex, route, fill, reader);
        } else if (fill.state() == BlobFill.State.COMMITTED) {
            handle(ex, route);
        } else if (project.name().equals(owners.get(fill))) {
            ex.fill(digest, true);
            join(ex, route, fill, fill.newReader());
        } else {
            confirm(project, route, digest).thenRun(() -> {
                ex.fill(digest, true);
                join(ex, route, fill, fill.newReader());
            }).exceptionally(t -> fail(ex, t));
        }
    }

    private void serveStored(Exchange ex, Digest digest, long size) {
        ByteRange range = ByteRange.parse(ex.request().headers().get(HttpHeaderNames.RANGE), size);
        HttpHeaders h = blobHeaders(digest);
        Path path = store.blobPath(digest);
        if (range == null) {
            ex.file(HttpResponseStatus.OK, h, path, 0, size);
        } else {
            h.set(HttpHeaderNames.CONTENT_RANGE, range.contentRange(size));
            ex.file(HttpResponseStatus.PARTIAL_CONTENT, h, path, range.start(), range.length());
        }
    }

    /**
     * Streams the fill to this client through {@code reader}; a null reader means the fill turned to pass-through
     * (storage full) and left {@link Fills} before this client could join, so it starts or joins another transfer.
     */
    private void join(Exchange ex, Route route, BlobFill fill, BlobFill.Reader reader) {
        if (reader == null) {
            handle(ex, route);
            return;
        }
        ex.whenFinished(reader::close);
        fill.size().whenComplete((size, err) -> {
            if (err != null) {
                fail(ex, err);
                return;
            }
            ByteRange range;
            try {
                range = ByteRange.parse(ex.request().headers().get(HttpHeaderNames.RANGE), size);
            } catch (RegistryException e) {
                ex.error(e);
                return;
            }
            HttpHeaders h = blobHeaders(fill.digest());
            long start = 0;
            long end = size;
            HttpResponseStatus status = HttpResponseStatus.OK;
            if (range != null) {
                h.set(HttpHeaderNames.CONTENT_RANGE, range.contentRange(size));
                start = range.start();
                end = range.end();
                status = HttpResponseStatus.PARTIAL_CONTENT;
            }
            if (ex.startStream(status, h, end - start)) {
                FillStream.start(ex, fill, reader, start, end, size);
            }
        });
    }

    /** Fetches the blob from the upstream into the fill; this request is the fill's one writer. */
    private void startUpstream(Project project, Route route, BlobFill fill) {
        Digest digest = fill.digest();
        String path = "/v2/" + route.name() + "/blobs/" + digest;
        upstreams.exchange(project, HttpMethod.GET, path, null, route.name().value(), new ResponseListener() {
            private boolean failed;
            private Transfer transfer;

            @Override
            public void onHeaders(int status, HttpHeaders headers, Transfer transfer) {
                this.transfer = transfer;
                if (status != 200) {
                    failed = true;
                    fill.fail(Upstreams.error(project, status, headers, ErrorCode.BLOB_UNKNOWN, "blob " + digest));
                    return;
                }
                String length = headers.get(HttpHeaderNames.CONTENT_LENGTH);
                String upstreamDigest = headers.get("Docker-Content-Digest");
                if (length == null) {
                    failed = true;
                    transfer.abort();
                    fill.fail(Upstreams.unreachable(project, new UpstreamException(
                            "upstream sent blob " + digest + " without a Content-Length")));
                    return;
                }
                if (upstreamDigest != null && !upstreamDigest.equals(digest.toString())) {
                    failed = true;
                    transfer.abort();
                    fill.fail(Upstreams.unreachable(project, new UpstreamException(
                            "upstream answered blob " + digest + " with Docker-Content-Digest " + upstreamDigest)));
                    return;
                }
                fill.onWritable(transfer::resume);
                try {
                    fill.begin(Long.parseLong(length.trim()));
                } catch (NumberFormatException e) {
                    failed = true;
                    transfer.abort();
                    fill.fail(Upstreams.unreachable(project, new UpstreamException("bad Content-Length " + length)));
                }
            }

            @Override
            public void onContent(ByteBuf chunk) {
                if (failed) {
                    chunk.release();
                    return;
                }
                // Backpressure: the fill queues at most its high-water mark; above it the upstream stops reading
                // until the fill's writer has drained (onWritable -> resume, run on the connection's event loop
                // after this pause, so the two cannot be reordered).
                if (!fill.offer(chunk.nioBuffer(), chunk::release)) {
                    transfer.pause();
                }
            }

            @Override
            public void onComplete() {
                if (!failed) {
                    fill.complete();
                }
            }

            @Override
            public void onError(Throwable cause) {
                fill.fail(Upstreams.unreachable(project, cause));
            }
        });
        fill.result().whenComplete((p, err) -> {
            if (err != null) {
                LOG.warn("fill of {} for {} failed: {}", digest, project.describe(), err.getMessage());
                if (Failures.unwrap(err) instanceof DigestMismatchException) {
                    metrics.digestMismatch(project.name());
                }
            }
        });
    }

    private void headUpstream(Exchange ex, Project project, Route route, Digest digest) {
        String path = "/v2/" + route.name() + "/blobs/" + digest;
        upstreams.fetch(project, HttpMethod.HEAD, path, null, null, route.name().value(), 0).thenAccept(resp -> {
            if (resp.status() != 200) {
                ex.error(Upstreams.error(project, resp.status(), resp.headers(), ErrorCode.BLOB_UNKNOWN, "blob " + digest));
                return;
            }
            String length = resp.headers().get(HttpHeaderNames.CONTENT_LENGTH);
            HttpHeaders h = blobHeaders(digest);
            ex.headersOnly(HttpResponseStatus.OK, h, length == null ? 0 : Long.parseLong(length.trim()));
        }).exceptionally(t -> fail(ex, t));
    }

    /** Asks the project's upstream whether it has {@code digest}; links it if so, fails with 404 if not. */
    private CompletableFuture<Void> confirm(Project project, Route route, Digest digest) {
        String path = "/v2/" + route.name() + "/blobs/" + digest;
        return upstreams.fetch(project, HttpMethod.HEAD, path, null, null, route.name().value(), 0)
                .thenCompose(resp -> {
                    if (resp.status() != 200) {
                        return CompletableFuture.failedFuture(Upstreams.error(project, resp.status(), resp.headers(),
                                ErrorCode.BLOB_UNKNOWN, "blob " + digest));
                    }
                    return CompletableFuture.runAsync(() -> linkQuietly(project, digest), io);
                });
    }

    private void linkQuietly(Project project, Digest digest) {
        try {
            store.link(project.name(), digest, null);
        } catch (IOException e) {
            LOG.warn("cannot link {} to project {}: {}", digest, project.name(), e.toString());
        }
    }

    private static HttpHeaders blobHeaders(Digest digest) {
        return new DefaultHttpHeaders()
                .set(HttpHeaderNames.CONTENT_TYPE, "application/octet-stream")
                .set("Docker-Content-Digest", digest.toString())
                .set(HttpHeaderNames.ACCEPT_RANGES, "bytes")
                .set(HttpHeaderNames.ETAG, "\"" + digest + "\"");
    }

    private static Void fail(Exchange ex, Throwable t) {
        ex.fail(t);
        return null;
    }
}

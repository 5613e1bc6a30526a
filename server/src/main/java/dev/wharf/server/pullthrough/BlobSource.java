package dev.wharf.server.pullthrough;

import dev.wharf.server.api.CacheResult;
import dev.wharf.server.api.ErrorCode;
import dev.wharf.server.api.Failures;
import dev.wharf.server.api.RegistryException;
import dev.wharf.server.api.RepositoryName;
import dev.wharf.server.logging.RateLimitedLog;
import dev.wharf.server.metrics.WharfMetrics;
import dev.wharf.server.upstream.BlobSink;
import dev.wharf.server.upstream.Project;
import dev.wharf.server.upstream.ResponseListener;
import dev.wharf.server.upstream.UpstreamCall;
import dev.wharf.server.upstream.UpstreamRegistry;
import dev.wharf.server.upstream.Upstreams;
import dev.wharf.storage.fill.BlobFill;
import dev.wharf.storage.BlobLease;
import dev.wharf.storage.ContentStore;
import dev.wharf.storage.Digest;
import dev.wharf.storage.DigestMismatchException;
import dev.wharf.storage.fill.Fills;
import io.netty.buffer.ByteBuf;
import java.io.IOException;
import java.io.UncheckedIOException;
import java.net.URI;
import java.util.Optional;
import dev.wharf.storage.s3.S3Tier;
import java.nio.channels.FileChannel;
import java.nio.file.NoSuchFileException;
import java.nio.file.StandardOpenOption;
import java.util.Map;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.ConcurrentHashMap;
import java.util.concurrent.Executor;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

/**
 * Where a blob comes from: the store (warm), a fill that streams it from the upstream (cold, shared by every
 * concurrent request for the digest), or, for a HEAD of an uncached blob, the upstream's answer.
 *
 * <p>Isolation: a stored blob is served under a project only once that project's upstream served it (the fill it
 * started committed) or confirmed it with a HEAD. A client of project B that joins a fill project A started is let in
 * only after B's upstream confirms the digest. {@link #owners} maps each running fill to the project that started it;
 * the starter writes it before anyone can look the fill up (right after {@link Fills#acquire}), and it is removed
 * when the fill ends. A joiner that finds no owner (the fill just ended) takes the safe path and confirms.
 *
 * <p>Warm answers touch the disk (the link check, opening the file) on the storage executor only, never on the
 * caller's thread: a blob quarantined or deleted behind the store's back is noticed when its open fails, and then
 * fetched again.
 */
public final class BlobSource {
    private static final Logger LOG = LoggerFactory.getLogger(BlobSource.class);
    /** Fill failures a client can provoke at will (bad upstream content, an upstream down): rate-limited. */
    private static final RateLimitedLog FILL_FAILED = new RateLimitedLog(LOG);

    /** What a blob request is answered from. */
    public sealed interface Answer permits Stored, Streamed, Remote, Redirect {
    }

    /** A blob in the S3 bucket with {@code storage.s3.redirect}: answer 307 to this presigned URL. */
    public record Redirect(URI location, CacheResult cache) implements Answer {
    }

    /** A committed blob: {@code file} is open for a GET (the caller closes it), null for a HEAD. */
    public record Stored(FileChannel file, long size, CacheResult cache) implements Answer {
    }

    /** A fill in progress (or just committed), read through {@code reader}; {@code joined}: another request started it. */
    public record Streamed(BlobFill fill, BlobFill.Reader reader, boolean joined) implements Answer {
    }

    /** A HEAD of a blob that is not cached: the upstream has it, with this size. */
    public record Remote(long size) implements Answer {
    }

    private final ContentStore store;
    private final Fills fills;
    private final UpstreamRegistry upstreams;
    private final Executor io;
    private final WharfMetrics metrics;
    private final Map<BlobFill, String> owners = new ConcurrentHashMap<>();
    /** The bucket behind the hot tier, or null. */
    private final S3Tier bucket;
    private final FillOrigin origin;

    public BlobSource(ContentStore store, Fills fills, UpstreamRegistry upstreams, Executor io, WharfMetrics metrics) {
        this(store, fills, upstreams, io, metrics, null, FillOrigin.ALONE);
    }

    /**
     * With {@code bucket} (null for none), a blob missing from the hot tier is looked up in the bucket (one HEAD on
     * the storage executor) before the upstream: found, it streams from S3 through a fill that commits it to the hot
     * tier, or answers 307 to a presigned URL with {@code storage.s3.redirect}. {@code origin} says where the bytes of
     * each upstream fill this source starts come from (the cluster's lease holder, or the upstream itself).
     */
    public BlobSource(ContentStore store, Fills fills, UpstreamRegistry upstreams, Executor io, WharfMetrics metrics,
                      S3Tier bucket, FillOrigin origin) {
        this.bucket = bucket;
        this.origin = origin;
        this.store = store;
        this.fills = fills;
        this.upstreams = upstreams;
        this.io = io;
        this.metrics = metrics;
    }

    /**
     * Pins {@code digest} (stored now, or committed by a fill while it is streamed) against eviction until the lease
     * is closed, and records the access for LRU and retention. A map lookup; no I/O.
     */
    public BlobLease lease(Digest digest) {
        return store.use(digest);
    }

    /** Finds the answer for {@code digest} of {@code name} in {@code project}; a HEAD never starts a fill. */
    public CompletableFuture<Answer> open(Project project, RepositoryName name, Digest digest, boolean head) {
        var size = store.blobSize(digest); // the in-memory index
        if (size.isPresent() && bucket != null && bucket.settings().redirect() && !head) {
            return inBucket(project, name, digest, head);
        }
        if (size.isPresent()) {
            return warm(project, name, digest, size.get(), head);
        }
        if (bucket != null && bucket.health().up()) {
            return inBucket(project, name, digest, head);
        }
        return remote(project, name, digest, head);
    }

    /** Not in the hot tier (or redirecting): the bucket, if it holds the blob and the project may see it. */
    private CompletableFuture<Answer> inBucket(Project project, RepositoryName name, Digest digest, boolean head) {
        return CompletableFuture.supplyAsync(() -> {
            try {
                return bucket.blobSize(digest);
            } catch (IOException e) {
                return Optional.<Long>empty(); // the bucket is down: the hot tier or the upstream answers
            }
        }, io).thenCompose(size -> {
            if (size.isEmpty()) {
                var local = store.blobSize(digest);
                return local.isPresent() ? warm(project, name, digest, local.get(), head)
                        : remote(project, name, digest, head);
            }
            CompletableFuture<CacheResult> allowed = CompletableFuture
                    .supplyAsync(() -> store.link(project.name(), digest).isPresent(), io)
                    .thenCompose(linked -> linked ? CompletableFuture.completedFuture(CacheResult.HIT)
                            : confirm(project, name, digest).thenApply(v -> CacheResult.REVALIDATED));
            if (head) {
                return allowed.thenApply(result -> new Stored(null, size.get(), result));
            }
            if (bucket.settings().redirect()) {
                return allowed.thenApply(result -> new Redirect(bucket.presign(digest), result));
            }
            return allowed.thenCompose(result -> fromBucket(project, name, digest));
        });
    }

    /** Streams the blob from the bucket through a fill (joined if one runs) that commits it to the hot tier. */
    private CompletableFuture<Answer> fromBucket(Project project, RepositoryName name, Digest digest) {
        Fills.Acquired acquired = fills.acquire(digest, project.name() + "/" + name.value() + " (s3)", false);
        BlobFill fill = acquired.fill();
        if (acquired.started()) {
            owners.put(fill, project.name());
            fill.result().whenComplete((path, err) -> owners.remove(fill));
            BlobFill.Reader reader = fill.newReader();
            bucket.fillFromBucket(digest, fill);
            return streamed(project, name, fill, reader, false);
        }
        if (fill.state() == BlobFill.State.COMMITTED) {
            return open(project, name, digest, false);
        }
        // Linked or confirmed above: this project may see the blob, whoever's fill carries it.
        return streamed(project, name, fill, fill.newReader(), true);
    }

    private CompletableFuture<Answer> remote(Project project, RepositoryName name, Digest digest, boolean head) {
        if (head) {
            return upstreams.fetch(project, new UpstreamCall.BlobHead(name, digest)).thenApply(resp -> {
                if (resp.status() != 200) {
                    throw Upstreams.error(project, resp, ErrorCode.BLOB_UNKNOWN, "blob " + digest);
                }
                String length = resp.header("Content-Length");
                return new Remote(length == null ? 0 : Long.parseLong(length.trim()));
            });
        }
        return cold(project, name, digest);
    }

    private CompletableFuture<Answer> warm(Project project, RepositoryName name, Digest digest, long size,
                                           boolean head) {
        CompletableFuture<CacheResult> allowed = CompletableFuture
                .supplyAsync(() -> store.link(project.name(), digest).isPresent(), io)
                .thenCompose(linked -> linked ? CompletableFuture.completedFuture(CacheResult.HIT)
                        : confirm(project, name, digest).thenApply(v -> CacheResult.REVALIDATED));
        if (head) {
            return allowed.thenApply(result -> new Stored(null, size, result));
        }
        return allowed.thenComposeAsync(result -> {
            FileChannel file = openStored(digest);
            return file == null ? open(project, name, digest, false)
                    : CompletableFuture.completedFuture(new Stored(file, size, result));
        }, io);
    }

    /** Opens a stored blob; null when its file is gone (quarantined or deleted by hand), which the index forgets. */
    private FileChannel openStored(Digest digest) {
        try {
            return FileChannel.open(store.blobPath(digest), StandardOpenOption.READ);
        } catch (NoSuchFileException e) {
            store.forgetMissing(digest);
            return null;
        } catch (IOException e) {
            throw new UncheckedIOException(e);
        }
    }

    private CompletableFuture<Answer> cold(Project project, RepositoryName name, Digest digest) {
        Fills.Acquired acquired = fills.acquire(digest, project.name() + "/" + name.value());
        BlobFill fill = acquired.fill();
        if (acquired.started()) {
            owners.put(fill, project.name());
            // The link is written when the digest matches, on the fill's I/O thread, before the fsync and rename and
            // before that thread lets the fill leave Fills: so when the blob appears in the store, it is linked, and a
            // pull right after the first finds either the fill (joins it) or the linked blob, never a blob it must
            // confirm upstream. A crash before the rename leaves a link without its blob: harmless (the upstream did
            // serve the digest; the blob is fetched again on the next pull).
            fill.verified().whenComplete((verifiedSize, err) -> {
                if (err == null && !fill.isPassThrough()) {
                    linkQuietly(project, digest);
                }
            });
            fill.result().whenComplete((path, err) -> {
                owners.remove(fill);
                if (err == null && path == null) {
                    metrics.passThrough(project.name()); // delivered whole, not stored: storage is full
                }
            });
            // Registered before the upstream starts, so a pass-through (disk full) always has this client to feed.
            BlobFill.Reader reader = fill.newReader();
            origin.feed(fill, project.name(), new FillOrigin.Fetch() {
                @Override
                public void upstream() {
                    startUpstream(project, name, fill);
                }

                @Override
                public CompletableFuture<Void> confirm() {
                    return BlobSource.this.confirm(project, name, digest);
                }
            });
            return streamed(project, name, fill, reader, false);
        }
        if (fill.state() == BlobFill.State.COMMITTED) {
            return open(project, name, digest, false);
        }
        if (project.name().equals(owners.get(fill))) {
            return streamed(project, name, fill, fill.newReader(), true);
        }
        return confirm(project, name, digest).thenCompose(v -> streamed(project, name, fill, fill.newReader(), true));
    }

    /**
     * A null reader means the fill turned to pass-through (storage full) and left {@link Fills} before this client
     * could join, so it starts or joins another transfer.
     */
    private CompletableFuture<Answer> streamed(Project project, RepositoryName name, BlobFill fill,
                                               BlobFill.Reader reader, boolean joined) {
        if (reader == null) {
            return open(project, name, fill.digest(), false);
        }
        return CompletableFuture.completedFuture(new Streamed(fill, reader, joined));
    }

    /** Fetches the blob from the upstream into the fill; the request that started the fill is its one writer. */
    private void startUpstream(Project project, RepositoryName name, BlobFill fill) {
        Digest digest = fill.digest();
        upstreams.stream(project, new UpstreamCall.BlobGet(name, digest), new BlobSink() {
            @Override
            public void begin(long length, ResponseListener.Transfer transfer) {
                fill.onWritable(transfer::resume);
                fill.begin(length);
            }

            @Override
            public boolean offer(ByteBuf chunk) {
                return fill.offer(chunk.nioBuffer(), chunk::release);
            }

            @Override
            public void complete() {
                fill.complete();
            }

            @Override
            public void fail(Throwable cause) {
                fill.fail(cause);
            }
        });
        fill.result().whenComplete((p, err) -> {
            if (err != null) {
                Throwable cause = Failures.unwrap(err);
                if (cause instanceof RegistryException re && re.statusCode() == 404) {
                    // The upstream has no such blob: the client's 404 says so; a random digest is no warning.
                    LOG.debug("fill of {} for {} failed: {}", digest, project.describe(), err.getMessage());
                } else {
                    FILL_FAILED.warn(project.name() + "/" + cause.getClass().getSimpleName(),
                            "fill of {} for {} failed: {}", digest, project.describe(), err.getMessage());
                }
                if (Failures.unwrap(err) instanceof DigestMismatchException) {
                    metrics.digestMismatch(project.name());
                }
            }
        });
    }

    /** Asks the project's upstream whether it has {@code digest}; links it if so, fails with 404 if not. */
    private CompletableFuture<Void> confirm(Project project, RepositoryName name, Digest digest) {
        return upstreams.fetch(project, new UpstreamCall.BlobHead(name, digest)).thenCompose(resp -> {
            if (resp.status() != 200) {
                return CompletableFuture.failedFuture(Upstreams.error(project, resp, ErrorCode.BLOB_UNKNOWN,
                        "blob " + digest));
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
}

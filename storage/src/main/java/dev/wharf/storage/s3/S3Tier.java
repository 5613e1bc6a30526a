package dev.wharf.storage.s3;

import dev.wharf.storage.Digest;
import dev.wharf.storage.RemoteTier;
import dev.wharf.storage.fill.BlobFill;
import dev.wharf.storage.fill.BlobUpload;
import dev.wharf.storage.fill.BlobUploads;
import java.io.IOException;
import java.net.URI;
import java.nio.channels.FileChannel;
import java.nio.file.StandardOpenOption;
import java.time.Duration;
import java.util.Optional;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.LinkedBlockingQueue;
import java.util.concurrent.ThreadPoolExecutor;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.atomic.AtomicInteger;

/**
 * The S3 bucket behind the hot tier, built only when {@code storage.s3} is configured: the {@link RemoteTier} the
 * ContentStore reads through (links, tags, manifests), the {@link BlobUploads} the fills copy blobs with, a blob's
 * size and presigned URL, and the bucket as a fill source for hot-tier misses. Two bounded executors: uploads
 * (short steps) and reads (a blocking loop per transfer), so a slow client never holds up an upload.
 */
public final class S3Tier implements BlobUploads, AutoCloseable {
    /** How long a presigned URL of a 307 stays valid (distribution uses 20 minutes too). */
    static final Duration PRESIGN_TTL = Duration.ofMinutes(20);

    private final S3Settings settings;
    private final S3Bucket bucket;
    private final ObjectKeys keys;
    private final BucketBlobStore blobs;
    private final RemoteTier remote;
    private final ThreadPoolExecutor uploads = pool("wharf-s3-upload", 4);
    private final ThreadPoolExecutor reads = pool("wharf-s3-read", 16);
    private final BucketBlobReader reader;

    private S3Tier(S3Settings settings, S3Bucket.S3Timer timer) {
        this.settings = settings;
        this.bucket = new S3Bucket(settings, timer);
        this.keys = new ObjectKeys(settings.prefix());
        this.blobs = new BucketBlobStore(bucket, keys);
        this.remote = new RemoteTier(blobs, new BucketLinkStore(bucket, keys), new BucketTagStore(bucket, keys));
        this.reader = new BucketBlobReader(bucket, keys, reads);
    }

    /** Builds the client (no request yet: a bucket that is down at start-up is found so by the first request). */
    public static S3Tier open(S3Settings settings, S3Bucket.S3Timer timer) {
        return new S3Tier(settings, timer);
    }

    public S3Settings settings() {
        return settings;
    }

    /** The links, tags and small blobs in the bucket, for the ContentStore to read through. */
    public RemoteTier remote() {
        return remote;
    }

    /** The bucket's blobs (du, verify). */
    public BucketBlobStore blobs() {
        return blobs;
    }

    public BucketHealth health() {
        return bucket.health();
    }

    /** The size of the blob in the bucket; empty if it is not there. One HEAD. */
    public Optional<Long> blobSize(Digest digest) throws IOException {
        return blobs.size(digest);
    }

    /** Streams the blob from the bucket into {@code fill} (whose starter the caller is), on the read executor. */
    public void fillFromBucket(Digest digest, BlobFill fill) {
        reader.fill(digest, fill);
    }

    /** A presigned GET of the blob for {@code storage.s3.redirect}. No request. */
    public URI presign(Digest digest) {
        return bucket.presign(keys.blob(digest), PRESIGN_TTL);
    }

    /** The projects with objects under {@code projects/} in the bucket (du). */
    public java.util.List<String> projects() throws IOException {
        return bucket.children(keys.projects());
    }

    /** The object key of a blob (tests and tools). */
    public String blobKey(Digest digest) {
        return keys.blob(digest);
    }

    @Override
    public BlobUpload start(Digest digest, java.nio.file.Path temp) {
        if (!bucket.health().up()) {
            return failed(new IOException("S3 bucket " + settings.bucket() + " is unreachable: "
                    + bucket.health().lastError()));
        }
        try {
            return new MultipartBlobUpload(bucket, keys.blob(digest), FileChannel.open(temp, StandardOpenOption.READ),
                    uploads);
        } catch (IOException e) {
            return failed(e);
        }
    }

    private static BlobUpload failed(IOException cause) {
        return new BlobUpload() {
            @Override
            public void written(long bytes) {
            }

            @Override
            public CompletableFuture<Void> complete(long size) {
                return CompletableFuture.failedFuture(cause);
            }

            @Override
            public void abort() {
            }
        };
    }

    private static ThreadPoolExecutor pool(String name, int threads) {
        AtomicInteger n = new AtomicInteger();
        ThreadPoolExecutor pool = new ThreadPoolExecutor(threads, threads, 30, TimeUnit.SECONDS,
                new LinkedBlockingQueue<>(), r -> {
                    Thread t = new Thread(r, name + "-" + n.incrementAndGet());
                    t.setDaemon(true);
                    return t;
                });
        pool.allowCoreThreadTimeOut(true);
        return pool;
    }

    @Override
    public void close() {
        uploads.shutdownNow();
        reads.shutdownNow();
        bucket.close();
    }
}

package dev.wharf.storage.s3;

import dev.wharf.storage.Digest;
import dev.wharf.storage.fill.BlobFill;
import java.io.IOException;
import java.io.InputStream;
import java.nio.ByteBuffer;
import java.util.concurrent.Executor;
import java.util.concurrent.Semaphore;
import java.util.concurrent.TimeUnit;

/**
 * The bucket as a fill's source: a hot-tier miss of a blob the bucket holds streams it from S3 into a
 * {@link BlobFill}, which hands it to the client as it arrives, verifies the digest and commits it to the hot tier
 * (that fill uploads nothing). Runs on its own bounded executor with a blocking read loop; the fill's backpressure
 * parks the loop (a semaphore released by {@link BlobFill#onWritable}), so memory holds at most the fill's high-water
 * mark.
 */
final class BucketBlobReader {
    private static final int CHUNK = 64 * 1024;
    private static final long PAUSE_LIMIT_SECONDS = 120;

    private final S3Bucket bucket;
    private final ObjectKeys keys;
    private final Executor executor;

    BucketBlobReader(S3Bucket bucket, ObjectKeys keys, Executor executor) {
        this.bucket = bucket;
        this.keys = keys;
        this.executor = executor;
    }

    void fill(Digest digest, BlobFill fill) {
        try {
            executor.execute(() -> copy(digest, fill));
        } catch (RuntimeException e) {
            fill.fail(e);
        }
    }

    private void copy(Digest digest, BlobFill fill) {
        Semaphore writable = new Semaphore(0);
        fill.onWritable(writable::release);
        try (var object = bucket.open(keys.blob(digest))
                .orElseThrow(() -> new IOException("blob " + digest + " left the bucket"))) {
            Long length = object.response().contentLength();
            if (length == null) {
                throw new IOException("the bucket gave no length for " + digest);
            }
            fill.begin(length);
            InputStream in = object;
            for (;;) {
                if (fill.state() == BlobFill.State.FAILED) {
                    object.abort();
                    return;
                }
                byte[] chunk = new byte[CHUNK];
                int n = in.readNBytes(chunk, 0, CHUNK);
                if (n <= 0) {
                    break;
                }
                if (!fill.offer(ByteBuffer.wrap(chunk, 0, n), () -> { })
                        && !writable.tryAcquire(PAUSE_LIMIT_SECONDS, TimeUnit.SECONDS)) {
                    throw new IOException("the fill of " + digest + " stayed paused too long");
                }
            }
            fill.complete();
        } catch (IOException | RuntimeException e) {
            fill.fail(e);
        } catch (InterruptedException e) {
            Thread.currentThread().interrupt();
            fill.fail(e);
        }
    }
}

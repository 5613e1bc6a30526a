package dev.wharf.storage.s3;

import dev.wharf.storage.fill.BlobUpload;
import java.io.IOException;
import java.nio.channels.FileChannel;
import java.util.ArrayList;
import java.util.List;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.Executor;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;
import software.amazon.awssdk.services.s3.model.CompletedPart;

/**
 * One fill's copy into the bucket: an S3 multipart upload whose parts are ranges of the fill's temp file, each sent
 * once that range is written ({@link #written}), so memory holds no part. The object becomes visible only by the
 * CompleteMultipartUpload that {@link #complete} sends after the fill verified the digest; any failure or
 * {@link #abort} sends AbortMultipartUpload instead, so nothing unverified is ever visible under the digest key. A
 * blob of at most one part goes up as one PUT at {@link #complete}.
 *
 * <p>Concurrency: the fill's drainer calls in, one call at a time; the requests run on the tier's executor, one step
 * at a time per upload ({@code running}). Every field below is guarded by {@code this}; a step reads the range it
 * sends from the channel with positional reads, outside the lock. The temp file may be renamed (commit) or deleted
 * (failure) while a step reads: the open channel still reads it.
 */
final class MultipartBlobUpload implements BlobUpload {
    private static final Logger log = LoggerFactory.getLogger(MultipartBlobUpload.class);
    /** Part size: above S3's 5 MiB minimum, small enough that a part is quick to resend. */
    static final long PART = 8L << 20;

    private final S3Bucket bucket;
    private final String key;
    private final FileChannel file;
    private final Executor executor;
    private final CompletableFuture<Void> done = new CompletableFuture<>();

    private long written;
    private long sent;
    private long size = -1;
    private boolean running;
    private boolean aborted;
    private Throwable failure;
    private String uploadId;
    private final List<CompletedPart> parts = new ArrayList<>();

    MultipartBlobUpload(S3Bucket bucket, String key, FileChannel file, Executor executor) {
        this.bucket = bucket;
        this.key = key;
        this.file = file;
        this.executor = executor;
    }

    @Override
    public void written(long bytes) {
        synchronized (this) {
            written = bytes;
        }
        pump();
    }

    @Override
    public CompletableFuture<Void> complete(long size) {
        synchronized (this) {
            this.size = size;
            this.written = size;
        }
        pump();
        return done;
    }

    @Override
    public void abort() {
        synchronized (this) {
            aborted = true;
        }
        pump();
    }

    /** Starts the next step unless one runs or the upload has ended. */
    private void pump() {
        Runnable step;
        synchronized (this) {
            if (running || done.isDone()) {
                return;
            }
            if (aborted || failure != null) {
                step = this::discard;
            } else if (size >= 0) {
                step = this::finish;
            } else if (written - sent >= PART) {
                long start = sent;
                step = () -> sendPart(start, PART);
            } else {
                return;
            }
            running = true;
        }
        try {
            executor.execute(() -> run(step));
        } catch (RuntimeException e) {
            synchronized (this) {
                running = false;
                failure = e;
            }
            discard();
        }
    }

    private void run(Runnable step) {
        try {
            step.run();
        } catch (RuntimeException e) {
            synchronized (this) {
                failure = e;
            }
        } finally {
            synchronized (this) {
                running = false;
            }
        }
        pump();
    }

    private void sendPart(long start, long length) {
        try {
            String id;
            int number;
            synchronized (this) {
                if (uploadId == null) {
                    uploadId = bucket.createUpload(key);
                }
                id = uploadId;
                number = parts.size() + 1;
            }
            CompletedPart part = bucket.uploadPart(key, id, number, () -> new RangeInputStream(file, start, length),
                    length);
            synchronized (this) {
                parts.add(part);
                sent = start + length;
            }
        } catch (IOException e) {
            synchronized (this) {
                failure = e;
            }
        }
    }

    /** The blob is whole and verified: send what is left, then make it visible. */
    private void finish() {
        try {
            long total;
            synchronized (this) {
                total = size;
            }
            if (uploadId == null && total <= PART) {
                bucket.put(key, () -> new RangeInputStream(file, 0, total), total);
            } else {
                while (total - sent > PART) {
                    sendPart(sent, PART);
                    if (failure != null) {
                        throw failure instanceof IOException io ? io : new IOException(failure);
                    }
                }
                if (total > sent || parts.isEmpty()) {
                    sendPart(sent, total - sent);
                    if (failure != null) {
                        throw failure instanceof IOException io ? io : new IOException(failure);
                    }
                }
                bucket.completeUpload(key, uploadId, List.copyOf(parts));
            }
            closeFile();
            done.complete(null);
        } catch (IOException e) {
            synchronized (this) {
                failure = e;
            }
        }
    }

    /** Failed or aborted: discard the parts (best effort: a bucket that is down keeps them until it is back). */
    private void discard() {
        String id;
        Throwable cause;
        synchronized (this) {
            id = uploadId;
            cause = failure != null ? failure : new IOException("upload of " + key + " aborted");
        }
        if (id != null) {
            try {
                bucket.abortUpload(key, id);
            } catch (IOException e) {
                log.warn("cannot abort the multipart upload of {}: {}", key, e.toString());
            }
        }
        closeFile();
        done.completeExceptionally(cause);
    }

    private void closeFile() {
        try {
            file.close();
        } catch (IOException e) {
            log.debug("closing {}: {}", key, e.toString());
        }
    }
}

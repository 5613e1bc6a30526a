package dev.wharf.storage.fill;

import java.util.concurrent.CompletableFuture;

/**
 * A fill's copy to the shared store (an S3 multipart upload), fed from the fill's temp file as it grows. The fill's
 * drainer calls {@link #written} after each append, {@link #complete} once the digest matched, and {@link #abort} on
 * any failure or pass-through; the fill commits locally only after {@link #complete}'s future succeeds, so nothing
 * unverified is ever visible under the digest in either store. Calls come from the drainer, one at a time.
 */
public interface BlobUpload {
    /** The temp file now holds {@code bytes} bytes (monotonic). Must not block: uploads run elsewhere. */
    void written(long bytes);

    /** The blob is whole ({@code size} bytes) and verified: upload the rest and make it visible. */
    CompletableFuture<Void> complete(long size);

    /** Give up: nothing becomes visible, and what was uploaded is discarded. Idempotent; must not block. */
    void abort();
}

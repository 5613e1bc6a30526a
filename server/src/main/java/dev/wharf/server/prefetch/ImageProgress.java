package dev.wharf.server.prefetch;

import java.util.concurrent.atomic.AtomicLong;

/**
 * How far one image's prefetch has got: what the progress bars, the summary and {@code GET /api/v1/prefetch/<id>}
 * show.
 *
 * <p>Threading: one {@link ImagePuller} writes it (its blob downloads, on several threads, add bytes and layers
 * through atomics); any thread reads it. A reader may see counters from slightly different moments, which a
 * progress display tolerates.
 */
public final class ImageProgress {
    /** Where an image is. */
    public enum State { QUEUED, RESOLVING, PULLING, DONE, FAILED }

    private final ImageReference reference;
    private final AtomicLong bytesDone = new AtomicLong();
    private final AtomicLong layersDone = new AtomicLong();
    private volatile State state = State.QUEUED;
    private volatile String digest;
    private volatile int manifests;
    private volatile long bytesTotal;
    private volatile long layersTotal;
    private volatile String error;
    private volatile String note;
    private volatile long startedNanos;
    private volatile long finishedNanos;

    public ImageProgress(ImageReference reference) {
        this.reference = reference;
    }

    public ImageReference reference() {
        return reference;
    }

    public State state() {
        return state;
    }

    public boolean finished() {
        return state == State.DONE || state == State.FAILED;
    }

    /** The top manifest's digest (an index's, for a multi-platform image), once resolved. */
    public String digest() {
        return digest;
    }

    /** Image manifests pulled (one per platform), once resolved. */
    public int manifests() {
        return manifests;
    }

    /** Blob bytes (configs and layers) received and checked so far. */
    public long bytesDone() {
        return bytesDone.get();
    }

    /** Blob bytes to fetch, once resolved. */
    public long bytesTotal() {
        return bytesTotal;
    }

    public long layersDone() {
        return layersDone.get();
    }

    public long layersTotal() {
        return layersTotal;
    }

    /** Why it failed, or null. */
    public String error() {
        return error;
    }

    /** Something worth saying about a success (platforms the index lacks), or null. */
    public String note() {
        return note;
    }

    /** Seconds from start to finish (or to now while running); 0 while queued. */
    public double seconds() {
        long start = startedNanos;
        if (start == 0) {
            return 0;
        }
        long end = finishedNanos == 0 ? System.nanoTime() : finishedNanos;
        return (end - start) / 1e9;
    }

    void resolving() {
        startedNanos = System.nanoTime();
        state = State.RESOLVING;
    }

    void resolved(String topDigest, int imageManifests, long totalBytes, long totalLayers) {
        manifests = imageManifests;
        bytesTotal = totalBytes;
        layersTotal = totalLayers;
        digest = topDigest; // after the totals: a reader that sees the digest sees them too (volatile order)
        state = State.PULLING;
    }

    void note(String text) {
        note = text;
    }

    void addBytes(long n) {
        bytesDone.addAndGet(n);
    }

    void layerDone() {
        layersDone.incrementAndGet();
    }

    void done() {
        finishedNanos = System.nanoTime();
        state = State.DONE;
    }

    void failed(String why) {
        error = why;
        if (startedNanos == 0) {
            startedNanos = System.nanoTime();
        }
        finishedNanos = System.nanoTime();
        state = State.FAILED;
    }
}

package dev.wharf.server.cluster;

import dev.wharf.storage.Digest;
import dev.wharf.storage.fill.BlobFill;
import java.io.IOException;
import java.net.URI;
import java.net.http.HttpClient;
import java.net.http.HttpRequest;
import java.net.http.HttpResponse;
import java.nio.ByteBuffer;
import java.time.Duration;
import java.util.List;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.Executor;
import java.util.concurrent.Flow;
import java.util.concurrent.ScheduledExecutorService;
import java.util.concurrent.ScheduledFuture;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.atomic.AtomicBoolean;
import java.util.concurrent.atomic.AtomicLong;

/**
 * Requests to other replicas' internal port ({@code cluster.listen}): a blob streamed into a local {@link BlobFill}
 * as it arrives, and small manifest bodies. Every request carries the cluster's secret.
 *
 * <p>A blob stream is the writer side of the local fill: {@code begin} with the peer's Content-Length, each body
 * buffer offered in order, {@code complete} at the end, after which the fill checks the digest before it commits.
 * Backpressure: at most one body delivery is requested at a time, and none while the fill is above its high-water
 * mark (its {@code onWritable} requests the next). A stream that stops moving for {@link #STALL} (a holder that
 * vanished without closing the connection) is cancelled and fails the fill.
 */
final class PeerClient {
    static final String SECRET_HEADER = "X-Wharf-Cluster-Secret";
    static final Duration CONNECT = Duration.ofSeconds(2);
    static final Duration STALL = Duration.ofSeconds(30);
    static final int MAX_MANIFEST = 4 << 20;

    private final HttpClient http;
    private final String secret;
    private final ScheduledExecutorService scheduler;

    PeerClient(String secret, Executor executor, ScheduledExecutorService scheduler) {
        this.secret = secret;
        this.scheduler = scheduler;
        this.http = HttpClient.newBuilder().version(HttpClient.Version.HTTP_1_1).connectTimeout(CONNECT)
                .followRedirects(HttpClient.Redirect.NEVER).proxy(HttpClient.Builder.NO_PROXY).executor(executor)
                .build();
    }

    /** Why a peer stream did not start: nothing was written to the fill, so the caller may try elsewhere. */
    static final class NotStarted extends IOException {
        NotStarted(String message) {
            super(message);
        }
    }

    /**
     * Streams blob {@code digest} from {@code peer} into {@code fill}. The result completes when the stream ended
     * (the fill's own result says whether it verified), or fails with {@link NotStarted} when the peer had no such
     * blob or could not be reached before a byte was written (the fill is untouched then).
     */
    CompletableFuture<Void> streamBlob(String peer, Digest digest, BlobFill fill) {
        HttpRequest req = request(peer, "/cluster/v1/blobs/" + digest).build();
        CompletableFuture<Void> started = new CompletableFuture<>();
        http.sendAsync(req, info -> {
            if (info.statusCode() != 200) {
                started.completeExceptionally(new NotStarted("peer " + peer + " answered " + info.statusCode()
                        + " for " + digest));
                return HttpResponse.BodySubscribers.discarding();
            }
            long length = info.headers().firstValueAsLong("Content-Length").orElse(-1);
            if (length < 0) {
                started.completeExceptionally(new NotStarted("peer " + peer + " sent no Content-Length for " + digest));
                return HttpResponse.BodySubscribers.discarding();
            }
            // The holder answers with the blob: its fill uploads it to a shared bucket, so this copy stays local. Not
            // before this point: a joiner whose holder is dead takes the lease over and must upload itself.
            fill.skipUpload();
            fill.begin(length);
            started.complete(null);
            return new IntoFill(fill, peer);
        }).whenComplete((resp, err) -> {
            if (err != null && !started.isDone()) {
                started.completeExceptionally(new NotStarted("peer " + peer + " unreachable: " + err));
            } else if (err != null) {
                fill.fail(new IOException("stream of " + digest + " from peer " + peer + " broke: " + err, err));
            }
        });
        return started;
    }

    /** The bytes of manifest {@code digest} from {@code peer}; the caller checks the digest. */
    CompletableFuture<byte[]> manifest(String peer, Digest digest) {
        HttpRequest req = request(peer, "/cluster/v1/manifests/" + digest).timeout(Duration.ofSeconds(10)).build();
        return http.sendAsync(req, HttpResponse.BodyHandlers.ofByteArray()).thenApply(resp -> {
            if (resp.statusCode() != 200) {
                throw new IllegalStateException("peer " + peer + " answered " + resp.statusCode() + " for manifest "
                        + digest);
            }
            if (resp.body().length > MAX_MANIFEST) {
                throw new IllegalStateException("peer " + peer + " sent an oversized manifest " + digest);
            }
            return resp.body();
        });
    }

    private HttpRequest.Builder request(String peer, String path) {
        return HttpRequest.newBuilder(URI.create(peer + path)).GET().header(SECRET_HEADER, secret);
    }

    /** The writer side of one local fill fed from a peer's response body. */
    private final class IntoFill implements HttpResponse.BodySubscriber<Void> {
        private final BlobFill fill;
        private final String peer;
        private final CompletableFuture<Void> body = new CompletableFuture<>();
        /** A delivery is owed once the fill is writable again (set before offering, cleared by whoever requests). */
        private final AtomicBoolean owed = new AtomicBoolean();
        private final AtomicLong received = new AtomicLong();
        private volatile Flow.Subscription subscription;
        private volatile ScheduledFuture<?> watchdog;
        // The watchdog's own (one scheduler thread at a time).
        private long seenAt = System.nanoTime();
        private long lastSeen = -1;

        IntoFill(BlobFill fill, String peer) {
            this.fill = fill;
            this.peer = peer;
        }

        @Override
        public void onSubscribe(Flow.Subscription s) {
            subscription = s;
            fill.onWritable(() -> {
                if (owed.compareAndSet(true, false)) {
                    s.request(1);
                }
            });
            long period = STALL.toMillis() / 3;
            watchdog = scheduler.scheduleWithFixedDelay(this::checkStall, period, period, TimeUnit.MILLISECONDS);
            s.request(1);
        }

        @Override
        public void onNext(List<ByteBuffer> items) {
            owed.set(true);
            boolean writable = true;
            for (ByteBuffer b : items) {
                received.addAndGet(b.remaining());
                writable &= fill.offer(b, () -> { });
            }
            if (fill.state() == BlobFill.State.FAILED) {
                subscription.cancel(); // the fill gave up (a write failed, too many bytes): stop reading the peer
                stopWatching();
                return;
            }
            if (writable && owed.compareAndSet(true, false)) {
                subscription.request(1);
            }
        }

        @Override
        public void onError(Throwable t) {
            stopWatching();
            fill.fail(new IOException("stream of " + fill.digest() + " from peer " + peer + " broke: " + t, t));
            body.complete(null);
        }

        @Override
        public void onComplete() {
            stopWatching();
            fill.complete(); // a short body fails the size check; the digest is checked before commit
            body.complete(null);
        }

        @Override
        public java.util.concurrent.CompletionStage<Void> getBody() {
            return body;
        }

        /**
         * On the scheduler: a stream that received nothing for STALL while a delivery was requested is dead. While
         * {@code owed} is set the local fill holds the peer back (its own disk is the slow part), which is no stall.
         */
        private void checkStall() {
            long now = System.nanoTime();
            long got = received.get();
            if (got != lastSeen || owed.get()) {
                lastSeen = got;
                seenAt = now;
                return;
            }
            if (now - seenAt > STALL.toNanos()) {
                stopWatching();
                subscription.cancel();
                fill.fail(new IOException("stream of " + fill.digest() + " from peer " + peer + " stalled for "
                        + STALL.toSeconds() + " s"));
                body.complete(null);
            }
        }

        private void stopWatching() {
            ScheduledFuture<?> w = watchdog;
            if (w != null) {
                w.cancel(false);
            }
        }
    }
}

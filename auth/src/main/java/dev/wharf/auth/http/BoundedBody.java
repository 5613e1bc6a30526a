package dev.wharf.auth.http;

import java.io.IOException;
import java.net.http.HttpResponse;
import java.nio.ByteBuffer;
import java.util.List;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.CompletionStage;
import java.util.concurrent.Flow;

/**
 * A response body read whole into memory, up to a limit: a larger one (by its Content-Length, or as it arrives)
 * cancels the read and fails the response. For the small answers both sides of auth read whole: token servers
 * (auth.upstream) and OIDC discovery, keys and device-flow endpoints (auth.access).
 */
public final class BoundedBody implements HttpResponse.BodySubscriber<byte[]> {
    private final int max;
    private final CompletableFuture<byte[]> result = new CompletableFuture<>();
    private byte[] body = new byte[0];
    private int size;
    private Flow.Subscription subscription;

    private BoundedBody(int max) {
        this.max = max;
    }

    /** Reads bodies of at most {@code max} bytes. */
    public static HttpResponse.BodyHandler<byte[]> handler(int max) {
        return info -> {
            long length = info.headers().firstValueAsLong("Content-Length").orElse(-1);
            if (length > max) {
                return tooLarge(max);
            }
            return new BoundedBody(max);
        };
    }

    private static HttpResponse.BodySubscriber<byte[]> tooLarge(int max) {
        BoundedBody b = new BoundedBody(max);
        b.result.completeExceptionally(new IOException("response body is larger than " + max + " bytes"));
        return b;
    }

    @Override
    public CompletionStage<byte[]> getBody() {
        return result;
    }

    @Override
    public void onSubscribe(Flow.Subscription s) {
        subscription = s;
        if (result.isDone()) {
            s.cancel();
        } else {
            s.request(Long.MAX_VALUE);
        }
    }

    @Override
    public void onNext(List<ByteBuffer> items) {
        if (result.isDone()) {
            return;
        }
        for (ByteBuffer b : items) {
            int n = b.remaining();
            if ((long) size + n > max) {
                subscription.cancel();
                result.completeExceptionally(new IOException("response body is larger than " + max + " bytes"));
                return;
            }
            if (size + n > body.length) {
                body = java.util.Arrays.copyOf(body, Math.min(max, Math.max(size + n, body.length * 2)));
            }
            b.get(body, size, n);
            size += n;
        }
    }

    @Override
    public void onError(Throwable t) {
        result.completeExceptionally(t);
    }

    @Override
    public void onComplete() {
        result.complete(size == body.length ? body : java.util.Arrays.copyOf(body, size));
    }
}

package dev.wharf.server.upstream;

import io.netty.buffer.ByteBuf;
import io.netty.handler.codec.http.HttpHeaders;
import java.util.Arrays;
import java.util.concurrent.CompletableFuture;

/**
 * Collects a whole small body (manifests, tag lists, referrers, HEADs) for {@link UpstreamClient#fetch}, up to a
 * limit: a larger body aborts the transfer and fails the future. Every chunk is copied and released at once, so no
 * buffer outlives a callback. Runs on the connection's event loop, as {@link ResponseListener} promises. The
 * future completes on that loop too, so callers chain blocking work with an {@code *Async} method.
 */
final class BodyAggregator implements ResponseListener {
    /** An error answer's body (4xx, 5xx) is read up to this and cut there: only its status and start matter. */
    static final int MAX_ERROR_BODY = 64 * 1024;

    private final UpstreamEndpoint endpoint;
    private final UpstreamRequest request;
    private int maxBody;
    /** An error answer: a body over {@link #maxBody} is cut, not refused. */
    private boolean cut;
    private final CompletableFuture<UpstreamResponse> result;
    private int status;
    private HttpHeaders headers;
    private Transfer transfer;
    private byte[] body = new byte[0];
    private int size;

    BodyAggregator(UpstreamEndpoint endpoint, UpstreamRequest request, int maxBody,
            CompletableFuture<UpstreamResponse> result) {
        this.endpoint = endpoint;
        this.request = request;
        this.maxBody = Math.max(0, maxBody);
        this.result = result;
    }

    @Override
    public void onHeaders(int status, HttpHeaders headers, Transfer transfer) {
        this.status = status;
        this.headers = headers;
        this.transfer = transfer;
        if (status >= 400 && maxBody > MAX_ERROR_BODY) {
            maxBody = MAX_ERROR_BODY;
            cut = true;
        }
        long length = RequestBuilder.isHead(request) ? -1 : ResponseHandler.contentLength(headers);
        if (length > maxBody && !cut) {
            tooLarge();
        } else if (length > 0) {
            body = new byte[(int) Math.min(length, maxBody)];
        }
    }

    @Override
    public void onContent(ByteBuf chunk) {
        try {
            if (result.isDone()) {
                return;
            }
            int n = chunk.readableBytes();
            boolean full = (long) size + n > maxBody;
            if (full && !cut) {
                tooLarge();
                return;
            }
            n = Math.min(n, maxBody - size);
            if (size + n > body.length) {
                body = Arrays.copyOf(body, Math.min(maxBody, Math.max(size + n, body.length * 2)));
            }
            chunk.readBytes(body, size, n);
            size += n;
            if (full) {
                transfer.abort(); // an error body cut at its limit: the rest is not worth reading
                onComplete();
            }
        } finally {
            chunk.release();
        }
    }

    @Override
    public void onComplete() {
        result.complete(new UpstreamResponse(status, headers,
                size == body.length ? body : Arrays.copyOf(body, size)));
    }

    @Override
    public void onError(Throwable cause) {
        result.completeExceptionally(cause);
    }

    private void tooLarge() {
        transfer.abort();
        result.completeExceptionally(UpstreamFailures.bodyTooLarge(endpoint, request, maxBody));
    }
}

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
    private final UpstreamEndpoint endpoint;
    private final UpstreamRequest request;
    private final int maxBody;
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
        long length = RequestBuilder.isHead(request) ? -1 : ResponseHandler.contentLength(headers);
        if (length > maxBody) {
            tooLarge();
        } else if (length > 0) {
            body = new byte[(int) length];
        }
    }

    @Override
    public void onContent(ByteBuf chunk) {
        try {
            if (result.isDone()) {
                return;
            }
            int n = chunk.readableBytes();
            if ((long) size + n > maxBody) {
                tooLarge();
                return;
            }
            if (size + n > body.length) {
                body = Arrays.copyOf(body, Math.min(maxBody, Math.max(size + n, body.length * 2)));
            }
            chunk.readBytes(body, size, n);
            size += n;
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

package dev.wharf.server.upstream;

import io.netty.buffer.ByteBuf;
import io.netty.handler.codec.http.HttpHeaders;

/**
 * Receives one streamed upstream response, after redirects and authentication have been handled. Calls arrive
 * in order on the upstream connection's event loop: {@code onHeaders}, any number of {@code onContent}, then
 * exactly one of {@code onComplete} or {@code onError} (or {@code onError} alone if no response arrived).
 */
public interface ResponseListener {
    /** The final response's status and headers. {@code transfer} controls the body that follows. */
    void onHeaders(int status, HttpHeaders headers, Transfer transfer);

    /** A body chunk; the listener owns it and must release it. */
    void onContent(ByteBuf chunk);

    /** The body ended normally. */
    void onComplete();

    /** The exchange failed (connect error, timeout, connection cut mid-body, too many redirects, ...). */
    void onError(Throwable cause);

    /** Flow control of one streamed body. */
    interface Transfer {
        /** Stop reading from the upstream connection (backpressure). */
        void pause();

        /** Read again. */
        void resume();

        /** Give up: close the connection; no further callbacks except possibly onError. */
        void abort();
    }
}

package dev.wharf.server.metrics;

import dev.wharf.server.upstream.ResponseListener;
import dev.wharf.server.upstream.UpstreamEndpoint;
import dev.wharf.server.upstream.UpstreamObserver;
import dev.wharf.server.upstream.UpstreamRequest;
import io.micrometer.core.instrument.Counter;
import io.netty.buffer.ByteBuf;
import io.netty.handler.codec.http.HttpHeaders;

/**
 * Meters every upstream exchange: {@code wharf_upstream_requests_total} and {@code wharf_upstream_duration_seconds}
 * when it ends, {@code wharf_upstream_bytes_total} as body bytes arrive (so a long blob shows in rates while it
 * flows). One exchange is one logical request as the proxy asked for it; the client's auth retries and redirects
 * inside it are not counted separately.
 *
 * <p>Threading: the wrapper's fields are touched only from the exchange's callbacks, which
 * {@link ResponseListener} delivers one at a time and in order.
 */
public final class UpstreamMeter implements UpstreamObserver {
    private final WharfMetrics metrics;

    public UpstreamMeter(WharfMetrics metrics) {
        this.metrics = metrics;
    }

    @Override
    public ResponseListener observe(UpstreamEndpoint endpoint, UpstreamRequest request, ResponseListener listener) {
        return new Metered(endpoint.project(), request.method().name(), listener);
    }

    private final class Metered implements ResponseListener {
        private final String project;
        private final String method;
        private final ResponseListener delegate;
        private final Counter bytes;
        private final long start = System.nanoTime();
        private int status = -1;
        private boolean ended;

        Metered(String project, String method, ResponseListener delegate) {
            this.project = project;
            this.method = method;
            this.delegate = delegate;
            this.bytes = metrics.upstreamBytes(project);
        }

        @Override
        public void onHeaders(int status, HttpHeaders headers, Transfer transfer) {
            this.status = status;
            delegate.onHeaders(status, headers, transfer);
        }

        @Override
        public void onContent(ByteBuf chunk) {
            // Read before handing over: the delegate owns the chunk and may release it at once.
            bytes.increment(chunk.readableBytes());
            delegate.onContent(chunk);
        }

        @Override
        public void onComplete() {
            // Recorded before the delegate runs, so that by the time a client has its answer the counters hold it.
            end(status);
            delegate.onComplete();
        }

        @Override
        public void onError(Throwable cause) {
            end(status);
            delegate.onError(cause);
        }

        private void end(int finalStatus) {
            if (!ended) {
                ended = true;
                metrics.upstreamRequest(project, method, finalStatus, System.nanoTime() - start);
            }
        }
    }
}

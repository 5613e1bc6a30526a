package dev.wharf.server.upstream;

import dev.wharf.auth.BearerTokens;
import io.netty.channel.EventLoopGroup;
import java.time.Duration;
import java.util.concurrent.CompletableFuture;

/**
 * Netty HTTP/1.1 client for upstream registries: pooled keep-alive connections per (scheme, host, port), TLS,
 * the Bearer (and Basic) challenge flow, redirects followed by hand, connect and idle-read timeouts.
 *
 * <p>Flow of one exchange: send the request (with a cached token for its scope if one is known); on 401 with a
 * {@code WWW-Authenticate} challenge, get a token from {@link BearerTokens} for the challenge's realm, service and
 * scope (the challenge's scope, else {@code repository:<name>:pull}) and retry once; on 301/302/303/307/308 follow
 * {@code Location} (relative or absolute) up to 5 hops, dropping {@code Authorization} whenever the host changes;
 * hand the final response to the listener. Bodies of intermediate responses are drained and the connections
 * reused.
 *
 * <p>Never forwards a client's credentials: only headers in {@link UpstreamRequest#headers()} plus Host, User-Agent
 * and an Authorization this client made itself are sent.
 */
public final class UpstreamClient implements AutoCloseable {

    public UpstreamClient(EventLoopGroup group, BearerTokens tokens, Duration connectTimeout, Duration readIdleTimeout) {
        throw new UnsupportedOperationException("TODO");
    }

    /** Streams one exchange to {@code listener}. */
    public void exchange(UpstreamEndpoint endpoint, UpstreamRequest request, ResponseListener listener) {
        throw new UnsupportedOperationException("TODO");
    }

    /**
     * Runs one exchange and reads the whole body (at most {@code maxBody} bytes, else fails with
     * {@link UpstreamException}). For manifests, tag lists, referrers and HEADs.
     */
    public CompletableFuture<UpstreamResponse> fetch(UpstreamEndpoint endpoint, UpstreamRequest request, int maxBody) {
        throw new UnsupportedOperationException("TODO");
    }

    @Override
    public void close() {
        throw new UnsupportedOperationException("TODO");
    }
}

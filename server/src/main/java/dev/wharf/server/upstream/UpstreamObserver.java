package dev.wharf.server.upstream;

/**
 * Sees every upstream exchange the client runs (metrics): it may wrap the listener. Called on the thread that starts
 * the exchange; the listener it returns gets the callbacks in the order {@link ResponseListener} promises.
 */
@FunctionalInterface
public interface UpstreamObserver {
    /** Observes nothing. */
    UpstreamObserver NONE = (endpoint, request, listener) -> listener;

    /** Returns the listener the exchange reports to: {@code listener} itself, or a wrapper that delegates to it. */
    ResponseListener observe(UpstreamEndpoint endpoint, UpstreamRequest request, ResponseListener listener);
}

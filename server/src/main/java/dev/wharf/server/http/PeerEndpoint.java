package dev.wharf.server.http;

/**
 * What the internal replica-to-replica listener ({@code cluster.listen}) serves: the cluster implements it, this
 * package only carries requests to it ({@link PeerHandler}).
 */
public interface PeerEndpoint {
    /** Answers one request (any method, any path) on the internal port; exactly one response through {@code ex}. */
    void handle(Exchange ex);
}

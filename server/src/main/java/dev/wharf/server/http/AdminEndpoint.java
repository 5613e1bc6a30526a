package dev.wharf.server.http;

/**
 * The admin API ({@code /api/v1}) as the request handler sees it: it gets the request with its whole body, at most
 * {@link #MAX_BODY} bytes. Implemented by the admin package, so {@code http} imports no endpoint.
 */
public interface AdminEndpoint {
    /** Request bodies above this are refused (a prefetch list of thousands of images fits easily). */
    int MAX_BODY = 1 << 20;

    /** Answers one admin request; {@code body} is empty when the request had none. */
    void handle(Exchange exchange, byte[] body);
}

package dev.wharf.server.http;

import dev.wharf.server.api.RegistryException;

/**
 * The admin API ({@code /api/v1}) as the request handler sees it: it gets the request with its whole body, at most
 * {@link #MAX_BODY} bytes. Implemented by the admin package, so {@code http} imports no endpoint.
 */
public interface AdminEndpoint {
    /** Request bodies above this are refused (a prefetch list of thousands of images fits easily). */
    int MAX_BODY = 1 << 20;

    /**
     * Null when {@code exchange}'s request may go on (its token is right), else the error to answer at once: asked
     * before any of the body is read, so an unauthenticated client cannot make wharf read (or wait for) a body.
     * The default lets every request on (for test stand-ins; the admin API checks its token here).
     */
    default RegistryException refuse(Exchange exchange) {
        return null;
    }

    /** Answers one admin request; {@code body} is empty when the request had none. */
    void handle(Exchange exchange, byte[] body);
}

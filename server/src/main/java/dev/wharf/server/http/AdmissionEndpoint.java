package dev.wharf.server.http;

/**
 * The Kubernetes admission webhook ({@code POST /admission/rewrite}) as the request handler sees it: a TLS
 * request with its whole body, at most {@link #MAX_BODY} bytes. Implemented by the webhook package, so {@code http}
 * imports no endpoint. The request handler answers everything else itself: plain HTTP (403), another method (405),
 * a larger body (400).
 */
public interface AdmissionEndpoint {
    /** The webhook's path. */
    String PATH = "/admission/rewrite";
    /** Request bodies above this are refused; a Pod's AdmissionReview is a few KiB. */
    int MAX_BODY = 1 << 20;

    /** Answers one AdmissionReview in {@code body}; may answer later, from any thread. */
    void handle(Exchange exchange, byte[] body);
}

package dev.wharf.server.api;

import io.netty.handler.codec.http.DefaultHttpHeaders;
import io.netty.handler.codec.http.HttpHeaders;
import io.netty.handler.codec.http.HttpResponseStatus;

/**
 * The one exception that reaches a client: an OCI error code, the HTTP status, a message, and any extra response
 * headers (Retry-After, Content-Range). {@code Exchange.error} turns it into the error JSON, in that one place.
 */
public final class RegistryException extends RuntimeException {
    private final ErrorCode code;
    private final HttpResponseStatus status;
    private final HttpHeaders headers;

    public RegistryException(ErrorCode code, HttpResponseStatus status, String message) {
        this(code, status, message, new DefaultHttpHeaders());
    }

    public RegistryException(ErrorCode code, HttpResponseStatus status, String message, HttpHeaders headers) {
        super(message, null, false, false);
        this.code = code;
        this.status = status;
        this.headers = headers;
    }

    public ErrorCode code() {
        return code;
    }

    public HttpResponseStatus status() {
        return status;
    }

    /** The HTTP status code, for callers that keep clear of Netty's HTTP types. */
    public int statusCode() {
        return status.code();
    }

    /** Extra headers for the error response. */
    public HttpHeaders headers() {
        return headers;
    }

    public static RegistryException badRequest(ErrorCode code, String message) {
        return new RegistryException(code, HttpResponseStatus.BAD_REQUEST, message);
    }

    public static RegistryException notFound(ErrorCode code, String message) {
        return new RegistryException(code, HttpResponseStatus.NOT_FOUND, message);
    }
}

package dev.wharf.server.upstream;

import io.netty.channel.ConnectTimeoutException;
import io.netty.handler.proxy.ProxyConnectException;
import java.io.IOException;
import java.net.ConnectException;
import java.net.URI;
import java.net.UnknownHostException;
import java.util.concurrent.CompletionException;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.TimeoutException;
import javax.net.ssl.SSLException;

/**
 * Every upstream failure message is worded here, so they read alike: an {@link UpstreamException} names the
 * project and the upstream, says what went wrong, and ends with the request and its (redacted) URL. Also the one
 * test for "the upstream is in trouble, try another or serve stale" ({@link #isServerTrouble}) and the one way to
 * dig the message out of a wrapped cause ({@link #rootMessage}).
 */
public final class UpstreamFailures {
    static final String CLIENT_CLOSED = "client closed";
    static final String NOT_HTTP_URL = "not an http(s) URL";
    static final String CLOSED_BEFORE_REQUEST = "connection closed before the request was sent";
    static final String CLOSED_BEFORE_RESPONSE = "connection closed before a response";

    private UpstreamFailures() {
    }

    /** Whether an upstream status means the upstream, not the request, is in trouble: a 5xx or a 429. */
    public static boolean isServerTrouble(int status) {
        return status >= 500 || status == 429;
    }

    /** How an endpoint is named in every message: {@code upstream <url> of project <name>}. */
    static String describe(UpstreamEndpoint endpoint) {
        URI b = endpoint.base();
        return "upstream " + (b == null ? "?" : UpstreamUrls.redact(b)) + " of project " + endpoint.project();
    }

    /** The failure of an exchange: {@code what} went wrong, on {@code uri} (null before there was one). */
    static UpstreamException exchangeFailed(UpstreamEndpoint endpoint, UpstreamRequest request, URI uri, String what,
            Throwable cause) {
        String where = uri == null ? "" : " (" + request.method() + " " + UpstreamUrls.redact(uri) + ")";
        return new UpstreamException(describe(endpoint) + ": " + what + where, cause);
    }

    static UpstreamException bodyTooLarge(UpstreamEndpoint endpoint, UpstreamRequest request, int maxBody) {
        return new UpstreamException(describe(endpoint) + ": response body of " + request.method() + " "
                + request.path() + " is larger than " + maxBody + " bytes");
    }

    static String noSchemeOrHost(URI base) {
        return "upstream URL needs a scheme and a host: " + base;
    }

    static String notHttpScheme(URI base) {
        return "upstream URL scheme must be http or https: " + base;
    }

    static String badRequestUrl(IllegalArgumentException e) {
        return "bad request URL: " + e.getMessage();
    }

    static String cannotSetUpConnection(Exception e) {
        return "cannot set up a connection: " + e.getMessage();
    }

    static String tooManyRedirects(int max) {
        return "too many redirects (more than " + max + ")";
    }

    static String badRedirect(IllegalArgumentException e) {
        return "bad redirect Location (" + e.getMessage() + ")";
    }

    static String tokenFailed(Throwable cause) {
        return "token request failed: " + rootMessage(cause);
    }

    static String noCredentials(Throwable cause) {
        return "no upstream credentials: " + (cause == null ? "none given" : rootMessage(cause));
    }

    /**
     * Whether {@code t} is an exchange that found every pooled connection to its upstream in use for
     * {@code limits.upstreamAcquireTimeout}: wharf's own capacity ran out, not the upstream.
     */
    public static boolean isPoolExhausted(Throwable t) {
        for (Throwable c = t; c != null; c = c.getCause()) {
            if (c instanceof UpstreamException && c.getCause() instanceof TimeoutException) {
                return true;
            }
        }
        return false;
    }

    /** Why a connection to {@code uri}'s origin could not be had from the pool. */
    static String connectFailed(URI uri, Throwable c, ConnectionPools pools) {
        String target = UpstreamUrls.hostOf(uri) + ":" + UpstreamUrls.portOf(uri);
        if (c instanceof ConnectTimeoutException) {
            return "connect to " + target + " timed out";
        }
        if (c instanceof ConnectException) {
            return "connection refused by " + target + " (" + c.getMessage() + ")";
        }
        if (c instanceof UnknownHostException) {
            return "unknown host " + UpstreamUrls.hostOf(uri);
        }
        if (c instanceof TimeoutException) {
            return "no free connection to " + target + " within " + pools.acquireTimeoutMillis()
                    + " ms (limits.upstreamConnections are all in use; limits.upstreamAcquireTimeout)";
        }
        if (c instanceof ProxyConnectException) {
            return "proxy CONNECT to " + target + " failed (" + c.getMessage() + ")";
        }
        return "cannot connect to " + target + " (" + c + ")";
    }

    /** Why a request on a connection it had failed. */
    static String transferFailed(Throwable c) {
        if (c instanceof SSLException) {
            return "TLS failed: " + rootMessage(c);
        }
        if (c instanceof ProxyConnectException) {
            return "proxy CONNECT failed: " + c.getMessage();
        }
        if (c instanceof UpstreamException || c instanceof ReadTimeout) {
            return c.getMessage();
        }
        return rootMessage(c);
    }

    static UpstreamException malformedResponse(Throwable cause) {
        return new UpstreamException("malformed response: " + rootMessage(cause), cause);
    }

    static UpstreamException bodyWithoutResponse() {
        return new UpstreamException("body without a response");
    }

    static UpstreamException bodyEndedEarly(long received, long expected) {
        return new UpstreamException("body ended after " + received + " of " + expected + " bytes");
    }

    /** The connection closed during a final response's body; {@code expected} is -1 when unknown. */
    static UpstreamException closedInBody(long received, long expected) {
        return new UpstreamException("connection closed after " + received
                + (expected >= 0 ? " of " + expected : "") + " body bytes");
    }

    static UpstreamException closedInIntermediate(int status) {
        return new UpstreamException("connection closed while reading a " + status + " response");
    }

    static String deadlinePassed(java.time.Duration deadline) {
        return "no complete answer within " + deadline.toMillis() + " ms (limits.manifestDeadline)";
    }

    /** A streamed body came in slower than {@code limits.minUpstreamRate}. */
    static UpstreamException tooSlow(long bytes, long windowNanos, long minRate) {
        return new UpstreamException("transfer too slow: " + bytes + " bytes in "
                + TimeUnit.NANOSECONDS.toMillis(windowNanos) + " ms, below limits.minUpstreamRate of " + minRate
                + " bytes/s");
    }

    static ReadTimeout readTimeout(long idleNanos) {
        return new ReadTimeout("no data from upstream for " + TimeUnit.NANOSECONDS.toMillis(idleNanos) + " ms");
    }

    /** The message of {@code t}, or of the cause it wraps when it is only a wrapper. */
    static String rootMessage(Throwable t) {
        Throwable c = t;
        while (c.getCause() != null && c.getCause() != c && (c instanceof CompletionException
                || c.getMessage() == null)) {
            c = c.getCause();
        }
        return c.getMessage() != null ? c.getMessage() : c.getClass().getSimpleName();
    }

    /** The idle-read timer fired. Not retried on another connection: the upstream is slow, not gone. */
    static final class ReadTimeout extends IOException {
        ReadTimeout(String message) {
            super(message);
        }
    }
}

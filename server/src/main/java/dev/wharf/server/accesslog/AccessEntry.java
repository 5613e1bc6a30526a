package dev.wharf.server.accesslog;

/**
 * One finished request, as the access log writes it. Holds nothing secret: no header values but the User-Agent,
 * and the path without its query string.
 *
 * @param epochMillis   when the request arrived (wall clock)
 * @param remote        the client's IP address
 * @param method        the HTTP method
 * @param path          the request path, without the query string
 * @param status        the response status
 * @param bytes         body bytes sent
 * @param durationNanos from the request's arrival to the end of its response
 * @param project       the project it routed to, or {@code none}
 * @param kind          manifest, blob, tags, referrers, admin or other
 * @param cache         hit, miss, revalidated, stale, or null when the endpoint has no cache result
 * @param fill          the digest of the blob fill the response streamed from, or null
 * @param fillJoined    true when that fill was started by another request and this one joined it
 * @param userAgent     the client's User-Agent, or null
 */
public record AccessEntry(long epochMillis, String remote, String method, String path, int status, long bytes,
                          long durationNanos, String project, String kind, String cache, String fill,
                          boolean fillJoined, String userAgent) {
}

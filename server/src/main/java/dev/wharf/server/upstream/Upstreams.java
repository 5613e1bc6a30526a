package dev.wharf.server.upstream;

import dev.wharf.server.api.Failures;
import dev.wharf.server.api.ErrorCode;
import dev.wharf.server.api.RegistryException;
import io.netty.handler.codec.http.DefaultHttpHeaders;
import io.netty.handler.codec.http.HttpHeaderNames;
import io.netty.handler.codec.http.HttpHeaders;
import io.netty.handler.codec.http.HttpMethod;
import io.netty.handler.codec.http.HttpResponseStatus;
import java.util.concurrent.CompletableFuture;

/**
 * The one place where upstream answers become client errors. Every proxy path asks the upstream through here, so
 * a 404, a 429, a 5xx or an unreachable upstream is reported the same way whatever the endpoint. A project with
 * several upstream endpoints fails over between them here too ({@link UpstreamFailover}).
 */
public final class Upstreams {
    /** Manifests larger than this are refused (the spec asks registries to accept at least 4 MiB). */
    public static final int MAX_MANIFEST = 8 << 20;
    /** Accept list wharf sends when it revalidates a tag for no particular client. */
    public static final String ALL_MANIFEST_TYPES = String.join(", ",
            "application/vnd.oci.image.index.v1+json",
            "application/vnd.oci.image.manifest.v1+json",
            "application/vnd.docker.distribution.manifest.list.v2+json",
            "application/vnd.docker.distribution.manifest.v2+json");

    private final UpstreamFailover failover;

    public Upstreams(UpstreamClient client) {
        this.failover = new UpstreamFailover(client);
    }

    /** Reads a whole (small) upstream response; network failures become 502 naming the project. */
    public CompletableFuture<UpstreamResponse> fetch(Project project, HttpMethod method, String path, String query,
                                                     String accept, String repository, int maxBody) {
        HttpHeaders h = new DefaultHttpHeaders();
        if (accept != null && !accept.isEmpty()) {
            h.set(HttpHeaderNames.ACCEPT, accept);
        }
        return failover.fetch(project, new UpstreamRequest(method, path, query, h, repository), maxBody)
                .exceptionallyCompose(t -> CompletableFuture.failedFuture(unreachable(project, t)));
    }

    /** Streams an upstream response to {@code listener}. */
    public void exchange(Project project, HttpMethod method, String path, String accept, String repository,
                         ResponseListener listener) {
        HttpHeaders h = new DefaultHttpHeaders();
        if (accept != null && !accept.isEmpty()) {
            h.set(HttpHeaderNames.ACCEPT, accept);
        }
        failover.exchange(project, new UpstreamRequest(method, path, null, h, repository), listener);
    }

    /** True for answers where a cached copy should be served instead (stale-if-error). */
    public static boolean isServerTrouble(int status) {
        return status >= 500 || status == 429;
    }

    /** Maps a non-2xx upstream status to the client error. */
    public static RegistryException error(Project project, int status, HttpHeaders headers, ErrorCode notFound,
                                          String what) {
        if (status == 404) {
            return RegistryException.notFound(notFound, what + " not found at " + project.describe());
        }
        if (status == 429) {
            HttpHeaders h = new DefaultHttpHeaders();
            String retry = headers == null ? null : headers.get(HttpHeaderNames.RETRY_AFTER);
            if (retry != null) {
                h.set(HttpHeaderNames.RETRY_AFTER, retry);
            }
            return new RegistryException(ErrorCode.TOOMANYREQUESTS, HttpResponseStatus.TOO_MANY_REQUESTS,
                    project.describe() + " is rate-limiting wharf and " + what + " is not cached", h);
        }
        if (status == 401 || status == 403) {
            return new RegistryException(ErrorCode.DENIED, HttpResponseStatus.FORBIDDEN,
                    project.describe() + " denied access to " + what + " (HTTP " + status
                            + "); check the project's upstream credentials");
        }
        if (status == 400) {
            return RegistryException.notFound(notFound, project.describe() + " rejected the request for " + what
                    + " (HTTP 400)");
        }
        return new RegistryException(ErrorCode.UNAVAILABLE, HttpResponseStatus.BAD_GATEWAY,
                project.describe() + " answered HTTP " + status + " for " + what);
    }

    /** The error for an upstream that could not be reached at all. Already-mapped errors pass through. */
    public static RegistryException unreachable(Project project, Throwable t) {
        Throwable cause = Failures.unwrap(t);
        if (cause instanceof RegistryException re) {
            return re;
        }
        String msg = cause.getMessage() == null ? cause.getClass().getSimpleName() : cause.getMessage();
        // The upstream client's own messages already name the project and the upstream URL; say it once.
        boolean named = cause instanceof UpstreamException && msg.contains("of project " + project.name() + ":");
        return new RegistryException(ErrorCode.UNAVAILABLE, HttpResponseStatus.BAD_GATEWAY,
                named ? msg : project.describe() + ": " + msg);
    }
}

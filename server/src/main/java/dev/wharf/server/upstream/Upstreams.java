package dev.wharf.server.upstream;

import dev.wharf.server.api.Failures;
import dev.wharf.server.api.ErrorCode;
import dev.wharf.server.api.RegistryException;
import dev.wharf.server.config.UpstreamLimits;
import dev.wharf.storage.Digest;
import io.netty.buffer.ByteBuf;
import io.netty.handler.codec.http.DefaultHttpHeaders;
import io.netty.handler.codec.http.HttpHeaderNames;
import io.netty.handler.codec.http.HttpHeaders;
import io.netty.handler.codec.http.HttpResponseStatus;
import java.util.concurrent.CompletableFuture;

/**
 * The one place where upstream answers become client errors. Every proxy path asks the upstream through here, so
 * a 404, a 429, a 5xx or an unreachable upstream is reported the same way whatever the endpoint. A project with
 * several upstream endpoints fails over between them here too ({@link UpstreamFailover}).
 */
public final class Upstreams implements UpstreamRegistry {
    private final UpstreamFailover failover;
    private final UpstreamLimits limits;

    public Upstreams(UpstreamClient client) {
        this.failover = new UpstreamFailover(client);
        this.limits = client.limits();
    }

    @Override
    public UpstreamLimits limits() {
        return limits;
    }

    /** Runs {@code call} and reads its whole (small) answer; network failures become 502 naming the project. */
    @Override
    public CompletableFuture<UpstreamResponse> fetch(Project project, UpstreamCall call) {
        return failover.fetch(project, call.request(), call.maxBody(limits))
                .exceptionallyCompose(t -> CompletableFuture.failedFuture(unreachable(project, t)));
    }

    /**
     * Streams the blob of {@code call} into {@code sink}. The answer is checked first: anything but a 200 with a
     * Content-Length, and a Docker-Content-Digest (when sent) equal to the digest asked for, fails the sink with the
     * client's error and aborts the transfer.
     */
    @Override
    public void stream(Project project, UpstreamCall.BlobGet call, BlobSink sink) {
        Digest digest = call.digest();
        failover.exchange(project, call.request(), new ResponseListener() {
            private boolean failed;
            private Transfer transfer;

            @Override
            public void onHeaders(int status, HttpHeaders headers, Transfer transfer) {
                this.transfer = transfer;
                if (status != 200) {
                    refuse(null, error(project, status, headers, ErrorCode.BLOB_UNKNOWN, "blob " + digest));
                    return;
                }
                String length = headers.get(HttpHeaderNames.CONTENT_LENGTH);
                String upstreamDigest = headers.get("Docker-Content-Digest");
                if (length == null) {
                    refuse(transfer, "upstream sent blob " + digest + " without a Content-Length");
                    return;
                }
                if (upstreamDigest != null && !upstreamDigest.equals(digest.toString())) {
                    refuse(transfer, "upstream answered blob " + digest + " with Docker-Content-Digest " + upstreamDigest);
                    return;
                }
                long size;
                try {
                    size = Long.parseLong(length.trim());
                } catch (NumberFormatException e) {
                    refuse(transfer, "bad Content-Length " + length);
                    return;
                }
                sink.begin(size, transfer);
            }

            private void refuse(Transfer transfer, String why) {
                refuse(transfer, unreachable(project, new UpstreamException(why)));
            }

            private void refuse(Transfer transfer, RegistryException error) {
                failed = true;
                if (transfer != null) {
                    transfer.abort();
                }
                sink.fail(error);
            }

            @Override
            public void onContent(ByteBuf chunk) {
                if (failed) {
                    chunk.release();
                    return;
                }
                // Backpressure: above the sink's high-water mark the upstream stops reading until the sink resumes it
                // (on this connection's event loop, after this pause, so the two cannot be reordered).
                if (!sink.offer(chunk)) {
                    transfer.pause();
                }
            }

            @Override
            public void onComplete() {
                if (!failed) {
                    sink.complete();
                }
            }

            @Override
            public void onError(Throwable cause) {
                sink.fail(unreachable(project, cause));
            }
        });
    }

    /** Maps a non-2xx upstream answer to the client error. */
    public static RegistryException error(Project project, UpstreamResponse response, ErrorCode notFound, String what) {
        return error(project, response.status(), response.headers(), notFound, what);
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
        if (UpstreamFailures.isPoolExhausted(cause)) {
            // wharf's own connections to this upstream are all busy: a short wait and a retry will do.
            return new RegistryException(ErrorCode.UNAVAILABLE, HttpResponseStatus.SERVICE_UNAVAILABLE,
                    named ? msg : project.describe() + ": " + msg,
                    new DefaultHttpHeaders().set(HttpHeaderNames.RETRY_AFTER, "5"));
        }
        return new RegistryException(ErrorCode.UNAVAILABLE, HttpResponseStatus.BAD_GATEWAY,
                named ? msg : project.describe() + ": " + msg);
    }
}

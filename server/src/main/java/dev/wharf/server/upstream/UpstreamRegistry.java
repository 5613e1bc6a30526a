package dev.wharf.server.upstream;

import dev.wharf.server.config.UpstreamLimits;
import java.util.concurrent.CompletableFuture;

/**
 * What the pull-through layer asks of a project's upstream registry: run one {@link UpstreamCall} and read its small
 * answer, or stream a blob. {@link Upstreams} is the implementation over the network; unit tests of the pull-through
 * layer script their own.
 */
public interface UpstreamRegistry {
    /** Runs {@code call} and reads its whole (small) answer; a failure to reach the upstream fails the future. */
    CompletableFuture<UpstreamResponse> fetch(Project project, UpstreamCall call);

    /** Streams the blob of {@code call} into {@code sink} (see {@link BlobSink} for the order of the calls). */
    void stream(Project project, UpstreamCall.BlobGet call, BlobSink sink);

    /** What wharf tolerates from upstreams: body sizes, tag-list length. */
    default UpstreamLimits limits() {
        return UpstreamLimits.DEFAULTS;
    }
}

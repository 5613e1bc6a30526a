package dev.wharf.server.pullthrough;

import dev.wharf.server.api.ErrorCode;
import dev.wharf.server.api.RepositoryName;
import dev.wharf.server.upstream.Project;
import dev.wharf.server.upstream.UpstreamCall;
import dev.wharf.server.upstream.UpstreamRegistry;
import dev.wharf.server.upstream.Upstreams;
import dev.wharf.storage.Digest;
import java.nio.charset.StandardCharsets;
import java.util.concurrent.CompletableFuture;

/**
 * The referrers of a manifest, passed through from the upstream. An upstream without the referrers API (404) gets
 * the answer the spec asks of a registry that has no referrers: an empty image index.
 */
public final class ReferrerSource {
    private static final byte[] EMPTY = ("{\"schemaVersion\":2,\"mediaType\":\"" + UpstreamCall.IMAGE_INDEX
            + "\",\"manifests\":[]}").getBytes(StandardCharsets.UTF_8);

    /** An image index of referrers, and the {@code OCI-Filters-Applied} value the upstream sent (or null). */
    public record Referrers(byte[] index, String filtersApplied) {
    }

    private final UpstreamRegistry upstreams;

    public ReferrerSource(UpstreamRegistry upstreams) {
        this.upstreams = upstreams;
    }

    /** The referrers of {@code digest}; {@code query} is the raw {@code artifactType} filter query, or null. */
    public CompletableFuture<Referrers> referrers(Project project, RepositoryName name, Digest digest, String query) {
        return upstreams.fetch(project, new UpstreamCall.ReferrersGet(name, digest, query)).thenApply(resp -> {
            if (resp.status() == 404) {
                return new Referrers(EMPTY, null);
            }
            if (resp.status() != 200) {
                throw Upstreams.error(project, resp, ErrorCode.MANIFEST_UNKNOWN, "referrers of " + digest);
            }
            return new Referrers(resp.body(), resp.header("OCI-Filters-Applied"));
        });
    }
}

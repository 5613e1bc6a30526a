package dev.wharf.server.upstream;

import dev.wharf.server.api.RepositoryName;
import dev.wharf.server.config.UpstreamLimits;
import dev.wharf.storage.Digest;
import io.netty.handler.codec.http.DefaultHttpHeaders;
import io.netty.handler.codec.http.HttpHeaderNames;
import io.netty.handler.codec.http.HttpHeaders;
import io.netty.handler.codec.http.HttpMethod;

/**
 * One read operation against an upstream registry, in the manner of Jib's registry operations: each knows its
 * method, its {@code /v2} path, its Accept list and how large a body it may read, so no caller builds an upstream
 * path by hand and the pull-through layer never touches an HTTP type.
 */
public sealed interface UpstreamCall {
    /** One page of an upstream tag list. */
    int MAX_TAG_PAGE = 16 << 20;
    /** Accept list wharf sends when it revalidates a tag for no particular client. */
    String ALL_MANIFEST_TYPES = String.join(", ",
            "application/vnd.oci.image.index.v1+json",
            "application/vnd.oci.image.manifest.v1+json",
            "application/vnd.docker.distribution.manifest.list.v2+json",
            "application/vnd.docker.distribution.manifest.v2+json");
    /** The media type of an image index, which the referrers API answers with. */
    String IMAGE_INDEX = "application/vnd.oci.image.index.v1+json";

    /** The request as the upstream client sends it. */
    UpstreamRequest request();

    /** How many body bytes {@link Upstreams#fetch} may read (0 for HEAD), under {@code limits}. */
    int maxBody(UpstreamLimits limits);

    /** {@code HEAD /v2/<name>/blobs/<digest>}: does the upstream have the blob, and how large is it. */
    record BlobHead(RepositoryName name, Digest digest) implements UpstreamCall {
        public UpstreamRequest request() {
            return call(HttpMethod.HEAD, name, "blobs", digest.toString(), null, null);
        }

        public int maxBody(UpstreamLimits limits) {
            return 0;
        }
    }

    /** {@code GET /v2/<name>/blobs/<digest>}: streamed, never read whole (see {@link Upstreams#stream}). */
    record BlobGet(RepositoryName name, Digest digest) implements UpstreamCall {
        public UpstreamRequest request() {
            return call(HttpMethod.GET, name, "blobs", digest.toString(), null, null);
        }

        public int maxBody(UpstreamLimits limits) {
            return 0;
        }
    }

    /** {@code HEAD /v2/<name>/manifests/<reference>} with the client's Accept list (or all manifest types). */
    record ManifestHead(RepositoryName name, String reference, String accept) implements UpstreamCall {
        public UpstreamRequest request() {
            return call(HttpMethod.HEAD, name, "manifests", reference, null, accept);
        }

        public int maxBody(UpstreamLimits limits) {
            return 0;
        }
    }

    /** {@code GET /v2/<name>/manifests/<reference>}: the manifest's bytes, at most {@code limits.manifestSize}. */
    record ManifestGet(RepositoryName name, String reference, String accept) implements UpstreamCall {
        public UpstreamRequest request() {
            return call(HttpMethod.GET, name, "manifests", reference, null, accept);
        }

        public int maxBody(UpstreamLimits limits) {
            return limits.manifestBytes();
        }
    }

    /**
     * One page of {@code GET /v2/<name>/tags/list}: the first ({@link #first}) or the one a {@code Link} header named
     * ({@code path} already stripped of the upstream's own path prefix, {@code query} raw or null).
     */
    record TagListPage(RepositoryName name, String path, String query) implements UpstreamCall {
        /** The first page. */
        public static TagListPage first(RepositoryName name) {
            return new TagListPage(name, v2Path(name, "tags", "list"), null);
        }

        public UpstreamRequest request() {
            return new UpstreamRequest(HttpMethod.GET, path, query, accept("application/json"), name.value());
        }

        public int maxBody(UpstreamLimits limits) {
            return MAX_TAG_PAGE;
        }
    }

    /** {@code GET /v2/<name>/referrers/<digest>[?artifactType=…]}: the upstream's referrers index. */
    record ReferrersGet(RepositoryName name, Digest digest, String query) implements UpstreamCall {
        public UpstreamRequest request() {
            return call(HttpMethod.GET, name, "referrers", digest.toString(), query, IMAGE_INDEX);
        }

        public int maxBody(UpstreamLimits limits) {
            return limits.manifestBytes();
        }
    }

    /** {@code /v2/<name>/<kind>/<reference>}: the one place an upstream registry path is built. */
    static String v2Path(RepositoryName name, String kind, String reference) {
        return "/v2/" + name.value() + "/" + kind + "/" + reference;
    }

    private static UpstreamRequest call(HttpMethod method, RepositoryName name, String kind, String reference,
                                        String query, String accept) {
        return new UpstreamRequest(method, v2Path(name, kind, reference), query, accept(accept), name.value());
    }

    private static HttpHeaders accept(String accept) {
        HttpHeaders h = new DefaultHttpHeaders();
        if (accept != null && !accept.isEmpty()) {
            h.set(HttpHeaderNames.ACCEPT, accept);
        }
        return h;
    }
}

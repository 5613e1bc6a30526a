package dev.wharf.server.upstream;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertNull;

import org.junit.jupiter.api.Test;

/**
 * The repository a redirect target's path names, for the scope of its token when its challenge gives none
 * (registry.k8s.io sends {@code /v2/pause/...} to {@code /v2/k8s-artifacts-prod/images/pause/...}). Tests
 * {@link UpstreamUrls#repositoryInPath}: the last resource kind in the path wins, and paths outside {@code /v2/}
 * name no repository.
 */
class RedirectScopeTest {
    @Test
    void repositoryIsWhatPrecedesTheLastEndpointSegment() {
        assertEquals("k8s-artifacts-prod/images/pause",
                UpstreamUrls.repositoryInPath("/v2/k8s-artifacts-prod/images/pause/manifests/3.9"));
        assertEquals("a/b", UpstreamUrls.repositoryInPath("/v2/a/b/blobs/sha256:abc"));
        assertEquals("a/blobs/b", UpstreamUrls.repositoryInPath("/v2/a/blobs/b/manifests/latest"));
        assertEquals("x", UpstreamUrls.repositoryInPath("/v2/x/tags/list"));
        assertEquals("x", UpstreamUrls.repositoryInPath("/v2/x/referrers/sha256:abc"));
    }

    @Test
    void notARegistryPathHasNoRepository() {
        assertNull(UpstreamUrls.repositoryInPath("/docker/registry/v2/blobs/sha256/ab/abcd/data"));
        assertNull(UpstreamUrls.repositoryInPath("/v2/"));
        assertNull(UpstreamUrls.repositoryInPath(null));
        assertNull(UpstreamUrls.repositoryInPath("/v2/manifests/x"));
    }
}

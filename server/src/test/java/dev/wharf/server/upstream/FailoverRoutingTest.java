package dev.wharf.server.upstream;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

import dev.wharf.server.config.ConfigLoader;
import dev.wharf.server.config.WharfConfig;
import java.util.List;
import org.junit.jupiter.api.Test;

/** Every upstream of a failover list names its project for {@code ?ns=}; a primary host beats another's fallback. */
class FailoverRoutingTest {
    @Test
    void failoverUpstreamsRouteByNamespaceAndDockerHubAnywhereMeansLibraryPrefix() {
        WharfConfig c = ConfigLoader.parse("""
                projects:
                  - name: hub
                    upstreams: [https://mirror.gcr.io, https://registry-1.docker.io]
                  - name: quay-fallback
                    upstreams: [https://quay-mirror.example.com, https://quay.io]
                  - name: quay
                    upstream: https://quay.io
                """, "t.yaml");
        List<Project> ps = c.projects().stream().map(p -> new Project(p, null)).toList();
        Projects projects = new Projects(ps, null);
        assertTrue(c.projects().get(0).isDockerHub(), "Docker Hub second in the list still means library/");
        assertEquals("hub", projects.byNamespace("docker.io").orElseThrow().name());
        assertEquals("hub", projects.byNamespace("registry-1.docker.io").orElseThrow().name());
        assertEquals("hub", projects.byNamespace("mirror.gcr.io").orElseThrow().name());
        assertEquals("quay", projects.byNamespace("quay.io").orElseThrow().name(),
                "a project's primary upstream host wins over an earlier project's failover one");
        assertEquals("quay-fallback", projects.byNamespace("quay-mirror.example.com").orElseThrow().name());
        assertEquals("project hub (upstreams https://mirror.gcr.io, https://registry-1.docker.io)",
                projects.byName("hub").orElseThrow().describe());
    }
}

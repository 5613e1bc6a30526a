package dev.wharf.server.http;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertThrows;

import dev.wharf.server.config.ConfigLoader;
import dev.wharf.server.config.WharfConfig;
import dev.wharf.server.upstream.Project;
import dev.wharf.server.upstream.Projects;
import dev.wharf.server.api.ErrorCode;
import dev.wharf.server.api.RegistryException;
import java.util.List;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.CsvSource;

class RouterTest {
    private static Router router(String defaultProject) {
        WharfConfig c = ConfigLoader.parse("""
                projects:
                  - name: dockerhub
                    upstream: https://registry-1.docker.io
                  - name: quay
                    upstream: https://quay.io
                    aliases: [quay.example]
                  - name: harbor
                    upstream: https://harbor.example.com:8443/v2/proxy
                """ + (defaultProject == null ? "" : "defaultProject: " + defaultProject + "\n"), "t");
        List<Project> ps = c.projects().stream().map(p -> new Project(p, null)).toList();
        return new Router(new Projects(ps, c.defaultProject()));
    }

    @ParameterizedTest(name = "{0}")
    @CsvSource({
            // uri, project, upstream name, kind
            "/v2/dockerhub/library/nginx/manifests/latest, dockerhub, library/nginx, MANIFEST",
            "/v2/dockerhub/nginx/manifests/latest, dockerhub, library/nginx, MANIFEST",
            "/v2/quay/prometheus/node-exporter/tags/list, quay, prometheus/node-exporter, TAGS",
            "/v2/library/small/manifests/latest?ns=docker.io, dockerhub, library/small, MANIFEST",
            "/v2/small/manifests/latest?ns=index.docker.io, dockerhub, library/small, MANIFEST",
            "/v2/library/small/blobs/sha256:" + "0123456789abcdef0123456789abcdef0123456789abcdef0123456789abcdef"
                    + "?ns=registry-1.docker.io, dockerhub, library/small, BLOB",
            "/v2/a/b/manifests/v1?ns=quay.io, quay, a/b, MANIFEST",
            "/v2/a/b/manifests/v1?ns=quay.example, quay, a/b, MANIFEST",
            "/v2/a/b/manifests/v1?ns=harbor.example.com:8443, harbor, a/b, MANIFEST",
            "/v2/a/b/manifests/v1?ns=harbor, harbor, a/b, MANIFEST",
            "/v2/dockerhub/v2/library/nginx/manifests/latest, dockerhub, library/nginx, MANIFEST",
            "/v2/quay/v2/a/b/manifests/latest, quay, a/b, MANIFEST",
            "/v2/quay/manifests/manifests/latest, quay, manifests, MANIFEST",
            "/v2/quay/a/blobs/uploads/, quay, a, UPLOAD",
    })
    void routes(String uri, String project, String name, Route.Kind kind) {
        Route r = router(null).route(uri);
        assertEquals(project, r.project().name());
        assertEquals(name, r.name().value());
        assertEquals(kind, r.kind());
    }

    @Test
    void prefixBeatsNsAndDefault() {
        Route r = router("quay").route("/v2/dockerhub/x/manifests/latest?ns=quay.io");
        assertEquals("dockerhub", r.project().name());
    }

    @Test
    void defaultProjectServesBarePaths() {
        Route r = router("dockerhub").route("/v2/library/nginx/manifests/latest");
        assertEquals("dockerhub", r.project().name());
        assertEquals("library/nginx", r.name().value());
        assertEquals("library/nginx", r.clientName());
    }

    @Test
    void oneSegmentUnderAProjectNameIsARepositoryOfTheDefault() {
        // "/v2/quay/manifests/x" has no name after the project, so "quay" is the repository (default project).
        Route r = router("dockerhub").route("/v2/quay/manifests/x");
        assertEquals("dockerhub", r.project().name());
        assertEquals("library/quay", r.name().value());
    }

    @Test
    void noProjectIsNameUnknown() {
        RegistryException e = assertThrows(RegistryException.class,
                () -> router(null).route("/v2/library/nginx/manifests/latest"));
        assertEquals(ErrorCode.NAME_UNKNOWN, e.code());
        assertEquals(404, e.status().code());
    }

    @Test
    void baseEndpoint() {
        assertEquals(Route.Kind.BASE, router(null).route("/v2/").kind());
        assertEquals(Route.Kind.BASE, router(null).route("/v2").kind());
    }
    /** Projects that stand for Docker Hub without Docker Hub as their upstream host. */
    private static Router hubStandIns() {
        WharfConfig c = ConfigLoader.parse("""
                projects:
                  - name: docker.io
                    upstream: https://mirror.gcr.io
                  - name: mirror
                    upstream: https://mirror.example.com
                    aliases: [index.docker.io]
                  - name: harborhub
                    upstream: https://harbor.example.com/v2/dockerhub
                    dockerHub: true
                  - name: quay
                    upstream: https://quay.io
                """, "t");
        List<Project> ps = c.projects().stream().map(p -> new Project(p, null)).toList();
        return new Router(new Projects(ps, c.defaultProject()));
    }

    @ParameterizedTest(name = "{0}")
    @CsvSource({
            // uri, project, upstream name
            "/v2/docker.io/nginx/manifests/latest, docker.io, library/nginx",
            "/v2/nginx/manifests/latest?ns=docker.io, docker.io, library/nginx",
            "/v2/mirror/nginx/manifests/latest, mirror, library/nginx",
            "/v2/nginx/manifests/latest?ns=index.docker.io, mirror, library/nginx",
            "/v2/harborhub/nginx/manifests/latest, harborhub, library/nginx",
            "/v2/harborhub/bitnami/redis/manifests/latest, harborhub, bitnami/redis",
            "/v2/quay/nginx/manifests/latest, quay, nginx",
    })
    void aProjectThatStandsForDockerHubGetsLibrary(String uri, String project, String name) {
        Route r = hubStandIns().route(uri);
        assertEquals(project, r.project().name());
        assertEquals(name, r.name().value());
    }
}

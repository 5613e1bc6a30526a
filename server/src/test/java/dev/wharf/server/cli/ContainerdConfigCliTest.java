package dev.wharf.server.cli;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertTrue;

import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.dataformat.toml.TomlMapper;
import dev.wharf.server.config.ConfigLoader;
import dev.wharf.testing.Containerd;
import dev.wharf.testing.DistributionRegistry;
import dev.wharf.testing.Exec;
import dev.wharf.testing.ImageSeeder;
import dev.wharf.testing.ImageSeeder.Image;
import dev.wharf.testing.RealRegistry;
import dev.wharf.testing.WharfCli;
import dev.wharf.testing.WharfProcess;
import java.nio.file.Files;
import java.nio.file.Path;
import java.time.Duration;
import java.util.List;
import java.util.Set;
import java.util.concurrent.TimeUnit;
import java.util.stream.Collectors;
import java.util.stream.Stream;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.Timeout;
import org.junit.jupiter.api.extension.ExtendWith;
import org.junit.jupiter.api.io.TempDir;

/**
 * {@code wharf containerd-config}: the tree it writes parses as TOML and says what the contract says, and a real
 * containerd pulls through wharf with it, by project path and by {@code _default}/{@code ?ns=}, and straight from the
 * registry when wharf is down.
 */
@Timeout(value = 6, unit = TimeUnit.MINUTES)
@ExtendWith(RealRegistry.class)
class ContainerdConfigCliTest {
    private static final Duration CLI_TIMEOUT = Duration.ofSeconds(60);
    private static final TomlMapper TOML = new TomlMapper();
    private static final String URL = "https://wharf.example.com:5443";

    @Test
    void theEmbeddedDefaultsGiveAFilePerRegistryHostAndADefault(@TempDir Path tmp) throws Exception {
        Path out = tmp.resolve("certs.d");
        Exec.Result r = WharfCli.run(CLI_TIMEOUT, "containerd-config", "--url", URL + "/", "--ca", "/etc/wharf/ca.crt",
                "--out", out.toString());
        assertEquals(0, r.exitCode(), r.describe());
        Set<String> dirs;
        try (Stream<Path> s = Files.list(out)) {
            dirs = s.map(p -> p.getFileName().toString()).collect(Collectors.toSet());
        }
        assertEquals(Set.of("docker.io", "index.docker.io", "registry-1.docker.io", "ghcr.io", "quay.io", "gcr.io",
                "registry.k8s.io", "public.ecr.aws", "mcr.microsoft.com", "_default"), dirs);

        for (String registry : List.of("ghcr.io", "quay.io", "gcr.io", "registry.k8s.io", "public.ecr.aws",
                "mcr.microsoft.com")) {
            JsonNode toml = TOML.readTree(out.resolve(registry).resolve("hosts.toml").toFile());
            assertEquals("https://" + registry, toml.path("server").asText(), registry);
            assertProjectHost(toml, URL + "/v2/" + registry, "/etc/wharf/ca.crt");
        }
        for (String hub : List.of("docker.io", "index.docker.io", "registry-1.docker.io")) {
            JsonNode toml = TOML.readTree(out.resolve(hub).resolve("hosts.toml").toFile());
            assertEquals("https://registry-1.docker.io", toml.path("server").asText(), hub);
            assertProjectHost(toml, URL + "/v2/docker.io", "/etc/wharf/ca.crt");
        }
        JsonNode fallback = TOML.readTree(out.resolve("_default").resolve("hosts.toml").toFile());
        assertTrue(fallback.path("server").isMissingNode(), "no server: containerd falls back to the registry itself");
        assertEquals(1, fallback.path("host").size(), fallback.toString());
        JsonNode host = fallback.path("host").path(URL);
        assertEquals(List.of("pull", "resolve"), strings(host.path("capabilities")));
        assertFalse(host.path("override_path").asBoolean(false), "no project path: containerd adds ?ns=");
        assertEquals("/etc/wharf/ca.crt", host.path("ca").asText());

        Path dry = tmp.resolve("dry");
        Exec.Result dryRun = WharfCli.run(CLI_TIMEOUT, "containerd-config", "--url", URL, "--out", dry.toString(),
                "--dry-run");
        assertEquals(0, dryRun.exitCode(), dryRun.describe());
        assertFalse(Files.exists(dry), "--dry-run writes nothing");
        assertTrue(dryRun.output().contains("==> " + dry.resolve("quay.io").resolve("hosts.toml") + " <=="),
                dryRun.output());
        assertFalse(dryRun.output().contains("ca ="), "no --ca, no ca line");
        String quayToml = dryRun.output().split("==> " + dry.resolve("quay.io").resolve("hosts.toml") + " <==\n")[1]
                .split("==> ")[0];
        assertProjectHost(TOML.readTree(quayToml), URL + "/v2/quay.io", null);
    }

    @Test
    void hostsComeFromDottedNamesUpstreamsAndAliases() throws Exception {
        var config = ConfigLoader.parse("""
                projects:
                  - name: hub
                    upstream: https://registry-1.docker.io
                  - name: internal
                    upstream: http://10.0.0.7:5000/v2/base
                    aliases: [registry.internal, '[fd00::7]:5000']
                  - name: registry.internal
                    upstream: https://harbor.example.com
                """, "test");
        ContainerdHosts.Tree tree = ContainerdHosts.generate(config, "http://127.0.0.1:5000", null);
        List<String> namespaces = tree.files().stream().map(ContainerdHosts.HostsFile::namespace).toList();
        assertEquals(List.of("registry-1.docker.io", "docker.io", "index.docker.io", "[fd00::7]:5000",
                "10.0.0.7:5000", "registry.internal", "_default"), namespaces);
        JsonNode internal = TOML.readTree(file(tree, "10.0.0.7:5000"));
        assertEquals("http://10.0.0.7:5000", internal.path("server").asText(), "a plain-HTTP upstream stays plain");
        assertProjectHost(internal, "http://127.0.0.1:5000/v2/internal", null);
        JsonNode v6 = TOML.readTree(file(tree, "[fd00::7]:5000"));
        assertEquals("https://[fd00::7]:5000", v6.path("server").asText());
        assertEquals("https://registry-1.docker.io", TOML.readTree(file(tree, "docker.io")).path("server").asText());
        JsonNode dotted = TOML.readTree(file(tree, "registry.internal"));
        assertProjectHost(dotted, "http://127.0.0.1:5000/v2/registry.internal", null);
        assertEquals(List.of(new ContainerdHosts.Conflict("registry.internal", "registry.internal", "internal")),
                tree.conflicts(), "a project's name beats another's alias, as in wharf's ?ns= routing");
    }

    /**
     * One upstream registry under two names: as 127.0.0.1:PORT it is project "local" (not a host name, so its
     * directory is its upstream's host) and pulls go by project path; as localhost:PORT it has no directory, so
     * {@code _default} sends it to wharf with {@code ?ns=localhost:PORT}, which names project "mirror.test" by its
     * upstream host. With wharf stopped, both pulls go to the registry itself: {@code server} for the first, the
     * registry namespace (no server in _default) for the second.
     */
    @Test
    void containerdPullsThroughWharfAndFromTheRegistryWhenWharfIsDown(DistributionRegistry upstream,
            ImageSeeder seeder, @TempDir Path tmp) throws Exception {
        int port = upstream.port();
        Image byPath = seeder.pushOciImage(upstream.url(), "library/by-path", "v1", 96 << 10, 911);
        Image byNs = seeder.pushOciImage(upstream.url(), "library/by-ns", "v1", 96 << 10, 912);
        String pathRef = byPath.reference("127.0.0.1:" + port);
        String nsRef = byNs.reference("localhost:" + port);
        Path hosts = tmp.resolve("certs.d");
        try (WharfProcess wharf = WharfProcess.builder()
                .project(WharfProcess.Project.of("local", "http://127.0.0.1:" + port))
                .project(WharfProcess.Project.of("mirror.test", "http://localhost:" + port))
                .start();
                Containerd containerd = Containerd.start()) {
            Exec.Result r = WharfCli.run(CLI_TIMEOUT, "containerd-config", "--url", wharf.url().toString(),
                    "--config", wharf.configFile().toString(), "--out", hosts.toString());
            assertEquals(0, r.exitCode(), r.describe());
            JsonNode local = TOML.readTree(hosts.resolve("127.0.0.1:" + port).resolve("hosts.toml").toFile());
            assertEquals("http://127.0.0.1:" + port, local.path("server").asText());
            assertFalse(Files.exists(hosts.resolve("localhost:" + port)), "localhost:PORT goes by _default");

            Exec.Result pulled = containerd.pull(pathRef, hosts);
            assertTrue(pulled.ok(), pulled.describe() + "\n--- wharf ---\n" + wharf.log());
            Exec.Result pulledNs = containerd.pull(nsRef, hosts);
            assertTrue(pulledNs.ok(), pulledNs.describe() + "\n--- wharf ---\n" + wharf.log());
            for (String blob : byPath.blobDigests()) {
                assertTrue(linked(wharf.storage(), "local", blob), "by project path: wharf served " + blob);
                assertEquals(1, upstream.countRequests("GET", "/v2/library/by-path/blobs/" + blob),
                        "only wharf fetched it from the registry");
            }
            for (String blob : byNs.blobDigests()) {
                assertTrue(linked(wharf.storage(), "mirror.test", blob), "by ?ns=: wharf served " + blob);
                assertEquals(1, upstream.countRequests("GET", "/v2/library/by-ns/blobs/" + blob));
            }

            wharf.stop();
            assertTrue(containerd.removeImage(pathRef).ok());
            assertTrue(containerd.removeImage(nsRef).ok());
            Exec.Result direct = containerd.pull(pathRef, hosts);
            assertTrue(direct.ok(), "server fallback: " + direct.describe());
            Exec.Result directNs = containerd.pull(nsRef, hosts);
            assertTrue(directNs.ok(), "registry fallback: " + directNs.describe());
            String layer = byPath.blobDigests().get(byPath.blobDigests().size() - 1);
            assertEquals(2, upstream.countRequests("GET", "/v2/library/by-path/blobs/" + layer),
                    "containerd fetched the layer from the registry itself");
            String nsLayer = byNs.blobDigests().get(byNs.blobDigests().size() - 1);
            assertEquals(2, upstream.countRequests("GET", "/v2/library/by-ns/blobs/" + nsLayer));
        }
    }

    private static boolean linked(Path storage, String project, String digest) {
        return Files.exists(storage.resolve("projects").resolve(project).resolve("links").resolve("sha256")
                .resolve(digest.substring("sha256:".length())));
    }

    private static void assertProjectHost(JsonNode toml, String hostUrl, String ca) {
        assertEquals(1, toml.path("host").size(), "one host entry: " + toml);
        JsonNode host = toml.path("host").path(hostUrl);
        assertFalse(host.isMissingNode(), hostUrl + " in " + toml);
        assertEquals(List.of("pull", "resolve"), strings(host.path("capabilities")));
        assertTrue(host.path("override_path").asBoolean(), "override_path = true: " + toml);
        if (ca == null) {
            assertTrue(host.path("ca").isMissingNode(), toml.toString());
        } else {
            assertEquals(ca, host.path("ca").asText());
        }
    }

    private static String file(ContainerdHosts.Tree tree, String namespace) {
        return tree.files().stream().filter(f -> f.namespace().equals(namespace)).findFirst().orElseThrow().toml();
    }

    private static List<String> strings(JsonNode array) {
        return java.util.stream.StreamSupport.stream(array.spliterator(), false).map(JsonNode::asText).toList();
    }
}

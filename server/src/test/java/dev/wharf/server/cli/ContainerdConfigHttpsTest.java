package dev.wharf.server.cli;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertTrue;

import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.dataformat.toml.TomlMapper;
import dev.wharf.testing.Containerd;
import dev.wharf.testing.DistributionRegistry;
import dev.wharf.testing.Exec;
import dev.wharf.testing.ImageSeeder;
import dev.wharf.testing.ImageSeeder.Image;
import dev.wharf.testing.InProcessWharf;
import dev.wharf.testing.RealRegistry;
import dev.wharf.testing.WharfYaml;
import java.io.ByteArrayInputStream;
import java.io.ByteArrayOutputStream;
import java.io.PrintStream;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.time.Duration;
import java.util.concurrent.TimeUnit;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.Timeout;
import org.junit.jupiter.api.extension.ExtendWith;
import org.junit.jupiter.api.io.TempDir;
import picocli.CommandLine;

/**
 * {@code wharf tls init} and {@code wharf containerd-config --ca} together, over HTTPS: the CA and serving pair that
 * {@code tls init} writes serve wharf's TLS, and the hosts tree {@code containerd-config} writes makes a real
 * containerd pull through wharf verifying that certificate (no skip_verify), by project path and by
 * {@code _default}/{@code ?ns=}; with wharf stopped, the same pulls go to the registry itself.
 */
@Timeout(value = 6, unit = TimeUnit.MINUTES)
@ExtendWith(RealRegistry.class)
class ContainerdConfigHttpsTest {
    private static final TomlMapper TOML = new TomlMapper();

    private static Streams streams(ByteArrayOutputStream log) {
        PrintStream ps = new PrintStream(log, true, StandardCharsets.UTF_8);
        return new Streams(new ByteArrayInputStream(new byte[0]), ps, ps, false);
    }

    @Test
    void containerdPullsThroughWharfOverHttpsAndFromTheRegistryWhenWharfIsDown(DistributionRegistry upstream,
            ImageSeeder seeder, @TempDir Path tmp) throws Exception {
        int port = upstream.port();
        Image byPath = seeder.pushOciImage(upstream.url(), "library/tls-by-path", "v1", 96 << 10, 921);
        Image byNs = seeder.pushOciImage(upstream.url(), "library/tls-by-ns", "v1", 96 << 10, 922);
        String pathRef = byPath.reference("127.0.0.1:" + port);
        String nsRef = byNs.reference("localhost:" + port);

        ByteArrayOutputStream log = new ByteArrayOutputStream();
        Path tlsDir = tmp.resolve("tls");
        int init = new CommandLine(new TlsInitCommand(streams(log))).execute("--dir", tlsDir.toString(),
                "--host", "127.0.0.1", "--host", "localhost");
        assertEquals(0, init, log.toString(StandardCharsets.UTF_8));
        Path caCrt = tlsDir.resolve("ca.crt");
        assertTrue(Files.exists(caCrt) && Files.exists(tlsDir.resolve("tls.crt")) && Files.exists(tlsDir.resolve("tls.key")));

        Path storage = Files.createDirectories(tmp.resolve("storage"));
        WharfYaml yaml = WharfYaml.config()
                .listen("127.0.0.1:0")
                .storage(storage)
                .project(WharfYaml.project("local", "http://127.0.0.1:" + port))
                .project(WharfYaml.project("mirror.test", "http://localhost:" + port))
                .raw("tls:\n  cert: " + tlsDir.resolve("tls.crt") + "\n  key: " + tlsDir.resolve("tls.key") + "\n");
        Path configFile = tmp.resolve("wharf.yaml");
        Files.writeString(configFile, yaml.toString());
        Path hosts = tmp.resolve("certs.d");

        InProcessWharf wharf = InProcessWharf.start(yaml);
        boolean wharfUp = true;
        try (Containerd containerd = Containerd.builder().pullTimeout(Duration.ofSeconds(90)).start()) {
            String url = "https://127.0.0.1:" + wharf.server().port();
            int generated = new CommandLine(new ContainerdConfigCommand(streams(log))).execute("--url", url,
                    "--ca", caCrt.toString(), "--config", configFile.toString(), "--out", hosts.toString());
            assertEquals(0, generated, log.toString(StandardCharsets.UTF_8));
            JsonNode local = TOML.readTree(hosts.resolve("127.0.0.1:" + port).resolve("hosts.toml").toFile());
            assertEquals("http://127.0.0.1:" + port, local.path("server").asText());
            JsonNode host = local.path("host").path(url + "/v2/local");
            assertEquals(caCrt.toString(), host.path("ca").asText(), local.toString());
            assertTrue(host.path("skip_verify").isMissingNode(), "no skip_verify: " + local);
            JsonNode fallback = TOML.readTree(hosts.resolve("_default").resolve("hosts.toml").toFile());
            assertEquals(caCrt.toString(), fallback.path("host").path(url).path("ca").asText(), fallback.toString());
            assertFalse(Files.exists(hosts.resolve("localhost:" + port)), "localhost:PORT goes by _default");

            Exec.Result pulled = containerd.pull(pathRef, hosts);
            assertTrue(pulled.ok(), pulled.describe());
            Exec.Result pulledNs = containerd.pull(nsRef, hosts);
            assertTrue(pulledNs.ok(), pulledNs.describe());
            for (String blob : byPath.blobDigests()) {
                assertTrue(linked(storage, "local", blob), "by project path over HTTPS: wharf stored " + blob);
                assertEquals(1, upstream.countRequests("GET", "/v2/library/tls-by-path/blobs/" + blob),
                        "only wharf fetched it from the registry");
            }
            for (String blob : byNs.blobDigests()) {
                assertTrue(linked(storage, "mirror.test", blob), "by ?ns= over HTTPS: wharf stored " + blob);
                assertEquals(1, upstream.countRequests("GET", "/v2/library/tls-by-ns/blobs/" + blob));
            }

            wharf.close();
            wharfUp = false;
            assertTrue(containerd.removeImage(pathRef).ok());
            assertTrue(containerd.removeImage(nsRef).ok());
            Exec.Result direct = containerd.pull(pathRef, hosts);
            assertTrue(direct.ok(), "server fallback: " + direct.describe());
            Exec.Result directNs = containerd.pull(nsRef, hosts);
            assertTrue(directNs.ok(), "registry fallback: " + directNs.describe());
            String layer = byPath.blobDigests().get(byPath.blobDigests().size() - 1);
            assertEquals(2, upstream.countRequests("GET", "/v2/library/tls-by-path/blobs/" + layer),
                    "wharf down: containerd fetched the layer from the server entry");
            String nsLayer = byNs.blobDigests().get(byNs.blobDigests().size() - 1);
            assertEquals(2, upstream.countRequests("GET", "/v2/library/tls-by-ns/blobs/" + nsLayer));
        } finally {
            if (wharfUp) {
                wharf.close();
            }
        }
    }

    private static boolean linked(Path storage, String project, String digest) {
        return Files.exists(storage.resolve("projects").resolve(project).resolve("links").resolve("sha256")
                .resolve(digest.substring("sha256:".length())));
    }
}

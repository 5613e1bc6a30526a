package dev.wharf.server.upstreamauth;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertTrue;

import com.fasterxml.jackson.databind.ObjectMapper;
import dev.wharf.testing.DistributionRegistry;
import dev.wharf.testing.Exec;
import dev.wharf.testing.ImageSeeder;
import dev.wharf.testing.Ports;
import dev.wharf.testing.Tools;
import dev.wharf.testing.WharfProcess;
import java.net.URI;
import java.net.http.HttpClient;
import java.net.http.HttpRequest;
import java.net.http.HttpResponse;
import java.nio.file.Files;
import java.nio.file.Path;
import java.time.Duration;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/**
 * Upstream credentials against a real registry with {@code auth: htpasswd}: the right password (inline from an
 * environment variable, or from a mounted file) pulls; a wrong one fails with an error naming the project; no
 * password ever reaches wharf's log.
 */
class UpstreamCredentialsTest {
    private static final String USER = "puller";
    private static final String PASSWORD = "s3cret-Pass-4f1e9a";
    private static final String WRONG = "wrong-Pass-77b2c0";

    @TempDir
    Path dir;

    @Test
    void basicAuthUpstream() throws Exception {
        Path skopeo = Tools.require("skopeo");
        try (DistributionRegistry registry = DistributionRegistry.builder().htpasswdUser(USER, PASSWORD).start();
             ImageSeeder seeder = new ImageSeeder(USER, PASSWORD)) {
            ImageSeeder.Image image = seeder.pushOciImage(registry.url(), "team/app", "v1", 4096, 11);
            Path secret = dir.resolve("secret");
            Files.writeString(secret, PASSWORD + "\n");
            int port = Ports.free();
            Path config = dir.resolve("wharf.yaml");
            Files.writeString(config, "listen: 127.0.0.1:" + port + "\n"
                    + "storage:\n  path: " + dir.resolve("store") + "\n"
                    + "projects:\n"
                    + "  - name: env\n    upstream: " + registry.url() + "\n"
                    + "    username: " + USER + "\n    password: ${WHARF_TEST_UPSTREAM_PASSWORD}\n    visibility: public\n"
                    + "  - name: file\n    upstream: " + registry.url() + "\n"
                    + "    username: " + USER + "\n    passwordFile: " + secret + "\n    visibility: public\n"
                    + "  - name: bad\n    upstream: " + registry.url() + "\n"
                    + "    username: " + USER + "\n    password: " + WRONG + "\n    visibility: public\n");
            try (WharfProcess wharf = WharfProcess.builder().configFile(config).port(port)
                    .env("WHARF_TEST_UPSTREAM_PASSWORD", PASSWORD).start()) {
                Exec.Result inspect = Exec.run(Duration.ofSeconds(60), skopeo.toString(), "inspect", "--raw",
                        "--tls-verify=false", "docker://" + wharf.hostPort() + "/env/team/app:v1");
                assertEquals(0, inspect.exitCode(), inspect.describe());
                assertEquals(new String(image.manifest()).strip(), inspect.output().strip(),
                        "manifest through wharf must be the upstream's bytes");

                HttpClient http = HttpClient.newHttpClient();
                String layer = image.layerDigests().get(image.layerDigests().size() - 1);
                HttpResponse<byte[]> blob = http.send(HttpRequest.newBuilder(
                        URI.create(wharf.url() + "/v2/file/team/app/blobs/" + layer)).build(),
                        HttpResponse.BodyHandlers.ofByteArray());
                assertEquals(200, blob.statusCode());
                assertEquals(layer, ImageSeeder.sha256(blob.body()));

                HttpResponse<byte[]> denied = http.send(HttpRequest.newBuilder(
                        URI.create(wharf.url() + "/v2/bad/team/app/manifests/v1")).build(),
                        HttpResponse.BodyHandlers.ofByteArray());
                assertEquals(403, denied.statusCode(), new String(denied.body()));
                var err = new ObjectMapper().readTree(denied.body()).get("errors").get(0);
                assertEquals("DENIED", err.get("code").asText());
                assertTrue(err.get("message").asText().contains("project bad"), err.toString());

                String log = wharf.log();
                assertFalse(log.contains(PASSWORD), "the upstream password appears in wharf's log");
                assertFalse(log.contains(WRONG), "the (wrong) upstream password appears in wharf's log");
                assertFalse(new String(denied.body()).contains(WRONG), "the password appears in an error body");
            }
        }
    }
}

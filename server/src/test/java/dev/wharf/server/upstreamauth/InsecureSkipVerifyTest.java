package dev.wharf.server.upstreamauth;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

import com.fasterxml.jackson.databind.ObjectMapper;
import dev.wharf.testing.DistributionRegistry;
import dev.wharf.testing.Exec;
import dev.wharf.testing.ImageSeeder;
import dev.wharf.testing.Ports;
import dev.wharf.testing.TestCa;
import dev.wharf.testing.TokenServer;
import dev.wharf.testing.Tools;
import dev.wharf.testing.WharfProcess;
import java.net.URI;
import java.net.http.HttpClient;
import java.net.http.HttpRequest;
import java.net.http.HttpResponse;
import java.nio.file.Files;
import java.nio.file.Path;
import java.time.Duration;
import java.util.List;
import java.util.Map;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/**
 * {@code insecureSkipVerify} against a real registry whose certificate (and its token server's, over HTTPS) comes
 * from a CA nobody trusts: the project with it pulls, and wharf says so loudly at start-up, naming the project; a
 * project without it on the same upstream fails with a TLS error naming the project.
 */
class InsecureSkipVerifyTest {
    @TempDir
    Path dir;

    @Test
    void insecureProjectPullsAndIsLoggedLoudly() throws Exception {
        Path skopeo = Tools.require("skopeo");
        TestCa ca = TestCa.create("untrusted self-made CA", dir.resolve("ca"));
        TestCa.Issued tls = ca.server("registry.internal", "127.0.0.1");
        try (TokenServer tokens = TokenServer.builder(ca.signer("signer")).tls(tls)
                .policy(TokenServer.Policy.ANONYMOUS_PULL).start();
             DistributionRegistry registry = DistributionRegistry.builder().tls(tls.certificatePem(), tls.keyPem())
                     .extraYaml(tokens.registryAuthYaml(tokens.realm(), ca.certificatePem())).start();
             ImageSeeder seeder = ImageSeeder.withAuthorization("Bearer " + tokens.mint("seeder",
                     Map.of("team/app", List.of("pull", "push")), Duration.ofMinutes(10)), ca.clientContext())) {
            ImageSeeder.Image image = seeder.pushOciImage(registry.url(), "team/app", "v1", 8192, 5);
            int port = Ports.free();
            Path config = dir.resolve("wharf.yaml");
            Files.writeString(config, "listen: 127.0.0.1:" + port + "\n"
                    + "storage:\n  path: " + dir.resolve("store") + "\n"
                    + "projects:\n"
                    + "  - name: lab\n    upstream: " + registry.url() + "\n    insecureSkipVerify: true\n"
                    + "  - name: strict\n    upstream: " + registry.url() + "\n");
            try (WharfProcess wharf = WharfProcess.builder().configFile(config).port(port).start()) {
                String startLog = wharf.log();
                assertTrue(startLog.contains("WARN") && startLog.contains("INSECURE: project lab has insecureSkipVerify"),
                        startLog);
                assertTrue(!startLog.contains("project strict has insecureSkipVerify"), startLog);

                Exec.Result pull = Exec.run(Duration.ofSeconds(120), skopeo.toString(), "copy",
                        "--src-tls-verify=false", "docker://" + wharf.hostPort() + "/lab/team/app:v1",
                        "oci:" + dir.resolve("out") + ":v1");
                assertEquals(0, pull.exitCode(), pull.describe() + "\n" + wharf.log());
                assertEquals(1, tokens.requestsFor("repository:team/app:pull"),
                        "the token came from the HTTPS token server, trusted the same way: " + tokens.requests());

                HttpResponse<byte[]> strict = HttpClient.newHttpClient().send(HttpRequest.newBuilder(
                        URI.create(wharf.url() + "/v2/strict/team/app/manifests/v1")).build(),
                        HttpResponse.BodyHandlers.ofByteArray());
                assertEquals(502, strict.statusCode(), new String(strict.body()));
                String message = new ObjectMapper().readTree(strict.body()).get("errors").get(0).get("message")
                        .asText();
                assertTrue(message.contains("project strict") && message.contains("TLS"), message);
                assertEquals(image.manifestDigest(), ImageSeeder.sha256(HttpClient.newHttpClient().send(
                        HttpRequest.newBuilder(URI.create(wharf.url() + "/v2/lab/team/app/manifests/v1"))
                                .header("Accept", ImageSeeder.OCI_MANIFEST).build(),
                        HttpResponse.BodyHandlers.ofByteArray()).body()));
            }
        }
    }
}

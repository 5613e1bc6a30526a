package dev.wharf.server.upstreamauth;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

import dev.wharf.testing.DistributionRegistry;
import dev.wharf.testing.Exec;
import dev.wharf.testing.ImageSeeder;
import dev.wharf.testing.InProcessWharf;
import dev.wharf.testing.Nginx;
import dev.wharf.testing.Ports;
import dev.wharf.testing.Tools;
import java.net.URI;
import java.net.http.HttpClient;
import java.net.http.HttpRequest;
import java.net.http.HttpResponse;
import java.nio.file.Path;
import java.time.Duration;
import java.util.List;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/**
 * Blobs answered with a 307 to a second loopback host (127.0.0.2, nginx serving the registry's blob files) that
 * rejects any request carrying {@code Authorization}, the way S3 and CDNs behind Docker Hub, quay and ECR do. The
 * registry itself requires Basic auth ({@code htpasswd}) and sends the redirect (its {@code redirect} storage
 * middleware), so wharf holds credentials on the first hop and must drop them on the second.
 */
class BlobRedirectTest {
    private static final String USER = "puller";
    private static final String PASSWORD = "redirect-Pass-0a9f";

    @TempDir
    Path dir;

    @Test
    void blobsFollowTheRedirectWithoutAuthorization() throws Exception {
        Path skopeo = Tools.require("skopeo");
        int cdnPort = Ports.free();
        try (DistributionRegistry registry = DistributionRegistry.builder().htpasswdUser(USER, PASSWORD)
                .extraYaml("middleware:\n  storage:\n    - name: redirect\n      options:\n"
                        + "        baseurl: http://127.0.0.2:" + cdnPort + "/\n")
                .start();
             ImageSeeder seeder = new ImageSeeder(USER, PASSWORD);
             Nginx cdn = Nginx.start("server {\n"
                     + "  listen 127.0.0.2:" + cdnPort + ";\n"
                     + "  root " + registry.storageDir() + ";\n"
                     + "  location / {\n"
                     + "    if ($http_authorization) { return 403 'Authorization is not accepted here'; }\n"
                     + "    try_files $uri =404;\n"
                     + "  }\n"
                     + "}\n", Nginx.address("127.0.0.2", cdnPort))) {
            ImageSeeder.Image image = seeder.pushOciImage(registry.url(), "team/app", "v1", 1 << 20, 21);
            String layer = image.layerDigests().get(1);
            String hex = layer.substring("sha256:".length());
            String cdnPath = "/docker/registry/v2/blobs/sha256/" + hex.substring(0, 2) + "/" + hex + "/data";

            // The second host really does refuse a request with Authorization, and serves one without.
            HttpClient http = HttpClient.newHttpClient();
            URI cdnUri = URI.create("http://127.0.0.2:" + cdnPort + cdnPath);
            assertEquals(403, http.send(HttpRequest.newBuilder(cdnUri).header("Authorization", "Basic eDp5").build(),
                    HttpResponse.BodyHandlers.discarding()).statusCode());
            assertEquals(200, http.send(HttpRequest.newBuilder(cdnUri).build(),
                    HttpResponse.BodyHandlers.discarding()).statusCode());
            long probes = cdn.requests().size();

            try (InProcessWharf wharf = InProcessWharf.start(dir.resolve("store"), "projects:\n"
                    + "  - name: up\n    upstream: " + registry.url() + "\n"
                    + "    username: " + USER + "\n    password: " + PASSWORD + "\n    visibility: public\n")) {
                Exec.Result pull = Exec.run(Duration.ofSeconds(120), skopeo.toString(), "copy",
                        "--src-tls-verify=false", "docker://" + wharf.hostPort() + "/up/team/app:v1",
                        "oci:" + dir.resolve("out") + ":v1");
                assertEquals(0, pull.exitCode(), pull.describe());
            }

            List<DistributionRegistry.Request> blobGets = registry.requests().stream()
                    .filter(r -> r.userAgent().startsWith("wharf") && r.path().startsWith("/v2/team/app/blobs/"))
                    .toList();
            for (String blob : image.blobDigests()) {
                assertTrue(blobGets.stream().anyMatch(r -> r.path().endsWith(blob) && r.status() == 307),
                        "the registry (which requires auth) redirected " + blob + ": " + blobGets);
            }
            List<Nginx.Request> fromWharf = cdn.requests().subList((int) probes, cdn.requests().size());
            assertEquals(image.blobDigests().size(), fromWharf.size(), "one CDN request per blob: " + fromWharf);
            assertTrue(fromWharf.stream().allMatch(r -> r.status() == 200 && !r.authorization()), fromWharf.toString());
            assertTrue(fromWharf.stream().anyMatch(r -> r.uri().equals(cdnPath)), fromWharf.toString());
        }
    }
}

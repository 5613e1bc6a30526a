package dev.wharf.server.webhook;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.ObjectMapper;
import dev.wharf.testing.DistributionRegistry;
import dev.wharf.testing.ImageSeeder;
import dev.wharf.testing.InProcessWharf;
import dev.wharf.testing.RealRegistry;
import dev.wharf.testing.TestCa;
import dev.wharf.testing.WharfYaml;
import java.io.InputStream;
import java.net.URI;
import java.net.http.HttpClient;
import java.net.http.HttpRequest;
import java.net.http.HttpResponse;
import java.nio.charset.StandardCharsets;
import java.nio.file.Path;
import java.time.Duration;
import java.util.Base64;
import java.util.HashMap;
import java.util.Map;
import java.util.concurrent.TimeUnit;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.Timeout;
import org.junit.jupiter.api.extension.ExtendWith;
import org.junit.jupiter.api.io.TempDir;

/**
 * The admission webhook over real HTTPS: wharf serves TLS with a test CA's certificate, the JDK client trusts that
 * CA and POSTs an AdmissionReview fixture, and the {@code checkUpstream: true} rule makes wharf HEAD itself over
 * HTTPS, so only the image that exists upstream is rewritten.
 */
@Timeout(value = 3, unit = TimeUnit.MINUTES)
@ExtendWith(RealRegistry.class)
class RewriteWebhookHttpsTest {
    private static final ObjectMapper JSON = new ObjectMapper();
    private static final String RULES = """
            rewrite:
              rules:
                - name: hub-checked
                  matches: ['^docker.io/']
                  replace: 'wharf.example.com/hub'
                  checkUpstream: true
            """;

    @Test
    void postOverHttpsRewritesWhatWharfResolvesThroughItsOwnHttps(DistributionRegistry registry, ImageSeeder seeder,
            @TempDir Path tmp) throws Exception {
        seeder.pushOciImage(registry.url(), "library/nginx", "1.27", 1024, 31);
        TestCa ca = TestCa.create("wharf webhook CA", tmp.resolve("ca"));
        TestCa.Issued pair = ca.server("localhost", "127.0.0.1");
        try (InProcessWharf wharf = InProcessWharf.start(tmp.resolve("storage"), WharfYaml.oneProject("hub",
                registry.url()).raw(RULES + "tls:\n  cert: " + pair.certificatePem() + "\n  key: " + pair.keyPem()
                + "\n"))) {
            HttpClient client = HttpClient.newBuilder().sslContext(ca.clientContext())
                    .connectTimeout(Duration.ofSeconds(5)).build();
            byte[] review;
            try (InputStream in = getClass().getResourceAsStream("/admission/pod-mixed.json")) {
                review = in.readAllBytes();
            }
            HttpResponse<String> r = client.send(HttpRequest.newBuilder(
                    URI.create("https://127.0.0.1:" + wharf.server().port() + "/admission/rewrite"))
                    .timeout(Duration.ofSeconds(30)).header("Content-Type", "application/json")
                    .POST(HttpRequest.BodyPublishers.ofByteArray(review)).build(),
                    HttpResponse.BodyHandlers.ofString());
            assertEquals(200, r.statusCode(), r.body());
            JsonNode response = JSON.readTree(r.body()).path("response");
            assertEquals("705ab4f5-6393-11e8-b7cc-42010a800002", response.path("uid").asText(), r.body());
            assertTrue(response.path("allowed").asBoolean(), r.body());
            assertEquals("JSONPatch", response.path("patchType").asText(), r.body());
            JsonNode patch = JSON.readTree(Base64.getDecoder().decode(response.path("patch").asText()));
            Map<String, String> replaced = new HashMap<>();
            for (JsonNode op : patch) {
                replaced.put(op.path("path").asText(), op.path("value").asText());
            }
            assertEquals(Map.of("/spec/containers/0/image", "wharf.example.com/hub/library/nginx:1.27",
                    "/spec/containers/7/image", "wharf.example.com/hub/library/nginx:1.27"), replaced,
                    "only nginx:1.27 (containers nginx and nginx-again) exists upstream, and wharf's HEAD over its own HTTPS found it: " + patch);
        }
    }
}

package dev.wharf.server.webhook;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertTrue;

import dev.wharf.server.config.ConfigLoader;
import dev.wharf.testing.DistributionRegistry;
import dev.wharf.testing.ImageSeeder;
import dev.wharf.testing.InProcessWharf;
import dev.wharf.testing.Ports;
import dev.wharf.testing.RealRegistry;
import dev.wharf.testing.WharfYaml;
import java.net.URI;
import java.net.http.HttpResponse;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.time.Duration;
import java.util.concurrent.TimeUnit;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.extension.RegisterExtension;
import org.junit.jupiter.api.io.TempDir;

/**
 * The webhook against a running wharf whose project {@code hub} pulls from a real registry: {@code checkUpstream}
 * rewrites an image wharf resolves and leaves one it cannot; plain HTTP is refused. (The POST over HTTPS is
 * {@link RewriteWebhookHttpsTest}; the answer itself is covered by {@link RewriteWebhookTest}.)
 */
class RewriteWebhookWharfTest {
    private static final String RULES = """
            rewrite:
              rules:
                - name: hub-checked
                  matches: ['^docker.io/']
                  replace: 'wharf.example.com/hub'
                  checkUpstream: true
            """;

    @RegisterExtension
    static final RealRegistry upstream = RealRegistry.plain()
            .inProcessWharf(r -> WharfYaml.oneProject("hub", r.url()).raw(RULES));

    private static ImageRewriter rewriter(URI wharf) {
        return new ImageRewriter(ConfigLoader.parse("projects: [{name: hub, upstream: 'http://x'}]\n" + RULES,
                "test.yaml").rewrite().rules(), new LoopbackManifestCheck(() -> wharf, Duration.ofSeconds(2)));
    }

    @Test
    void checkUpstreamRewritesOnlyWhatWharfResolves(DistributionRegistry registry, ImageSeeder seeder,
                                                    InProcessWharf wharf) throws Exception {
        ImageSeeder.Image present = seeder.pushOciImage(registry.url(), "library/present", "1.0", 1024, 7);
        ImageRewriter rewriter = rewriter(wharf.url());
        assertEquals("wharf.example.com/hub/library/present:1.0", rewriter.rewrite("present:1.0").get(10, TimeUnit.SECONDS));
        assertEquals("wharf.example.com/hub/library/present@" + present.manifestDigest(),
                rewriter.rewrite("present@" + present.manifestDigest()).get(10, TimeUnit.SECONDS));
        assertEquals("absent:1.0", rewriter.rewrite("absent:1.0").get(10, TimeUnit.SECONDS));
        assertEquals("present:2.0", rewriter.rewrite("present:2.0").get(10, TimeUnit.SECONDS), "no such tag");
        assertEquals("quay.io/x/y", rewriter.rewrite("quay.io/x/y").get(10, TimeUnit.SECONDS), "matches no rule");
    }

    @Test
    void anUnreachableWharfLeavesTheImageWithinTheDeadline() throws Exception {
        URI nowhere = URI.create("http://127.0.0.1:" + Ports.free());
        long start = System.nanoTime();
        assertEquals("nginx", rewriter(nowhere).rewrite("nginx").get(10, TimeUnit.SECONDS));
        assertTrue(System.nanoTime() - start < TimeUnit.SECONDS.toNanos(5));
        assertFalse(new LoopbackManifestCheck(() -> nowhere, Duration.ofMillis(300))
                .resolves("hub/library/nginx", "latest").get(5, TimeUnit.SECONDS));
    }

    @Test
    void plainHttpIsRefused(InProcessWharf wharf) throws Exception {
        for (String method : new String[] {"POST", "GET"}) {
            HttpResponse<byte[]> r = wharf.send(method, "/admission/rewrite", "Content-Type", "application/json");
            String body = new String(r.body(), StandardCharsets.UTF_8);
            assertEquals(403, r.statusCode(), body);
            assertTrue(body.contains("only over TLS"), body);
        }
        // The registry on the same connection-less client is unaffected.
        assertEquals(200, wharf.get("/v2/").statusCode());
    }

    @Test
    void withoutRulesThereIsNoWebhook(DistributionRegistry registry, @TempDir Path dir) throws Exception {
        try (InProcessWharf plain = InProcessWharf.start(Files.createDirectories(dir.resolve("s")),
                WharfYaml.oneProject("hub", registry.url()))) {
            HttpResponse<byte[]> r = plain.send("POST", "/admission/rewrite");
            assertEquals(404, r.statusCode());
            assertTrue(new String(r.body(), StandardCharsets.UTF_8).contains("rewrite.rules"));
        }
    }
}

package dev.wharf.server.ecr;

import dev.wharf.auth.upstream.FakeEcrApi;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

import com.sun.net.httpserver.HttpExchange;
import com.sun.net.httpserver.HttpServer;
import dev.wharf.testing.InProcessWharf;
import java.io.IOException;
import java.net.InetAddress;
import java.net.InetSocketAddress;
import java.net.http.HttpResponse;
import java.nio.charset.StandardCharsets;
import java.nio.file.Path;
import java.time.Duration;
import java.time.Instant;
import java.util.Base64;
import java.util.concurrent.ExecutorService;
import java.util.concurrent.Executors;
import java.util.concurrent.atomic.AtomicInteger;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/**
 * ECR credentials in the Bearer flow, the way ECR Public uses them: the registry challenges for a token, and the
 * token endpoint takes Basic {@code AWS:<ECR password>}. When the ECR credentials expire, the token endpoint refuses
 * them; wharf then fetches fresh ones and retries once, and the client never sees the failure.
 *
 * <p>The registry and its token endpoint are an in-process fake ({@link BearerRegistry}): ECR Public is not reachable
 * from the tests, and distribution's token auth cannot tie its token endpoint to rotating ECR passwords.
 */
class EcrBearerRefreshTest {
    private static final String KEY = "AKIDWHARFBEARER00001";
    private static final byte[] MANIFEST = "{\"schemaVersion\":2}".getBytes(StandardCharsets.UTF_8);

    @TempDir
    Path tmp;

    @Test
    void aTokenEndpointRefusingExpiredEcrCredentialsLeadsToOneRefreshAndNoFailedRequest() throws Exception {
        try (FakeEcrApi api = new FakeEcrApi(false, KEY, "us-east-1", "pub");
             BearerRegistry registry = new BearerRegistry(api);
             InProcessWharf wharf = InProcessWharf.start(tmp.resolve("store"), """
                     projects:
                       - name: pub
                         upstream: %s
                         ecr: {region: us-east-1, endpoint: '%s', accessKeyId: %s, secretAccessKey: s}
                         visibility: public
                     """.formatted(registry.url(), api.endpoint(), KEY))) {
            HttpResponse<byte[]> first = wharf.get("/v2/pub/lib/app/manifests/v1");
            assertEquals(200, first.statusCode(), new String(first.body(), StandardCharsets.UTF_8));
            assertEquals(1, api.count());

            // The ECR credentials expire: the token endpoint now takes only the next password, and the registry
            // only tokens minted with it. Wait until wharf's credentials are old enough to be dropped on rejection.
            Thread.sleep(Math.max(0, Duration.between(Instant.now(), api.calls.get(0).at().plusSeconds(6))
                    .toMillis()));
            registry.current.set(2);

            HttpResponse<byte[]> second = wharf.get("/v2/pub/lib/app/manifests/v2"); // v1 is cached
            assertEquals(200, second.statusCode(), new String(second.body(), StandardCharsets.UTF_8));
            assertEquals(2, api.count(), "one refresh");
            assertTrue(registry.refusedTokenRequests.get() >= 1, "the stale credentials were refused");
            api.calls.forEach(c -> assertEquals("", c.problem(), c.toString()));
        }
    }

    /** Registry plus token endpoint: accepts the ECR password of generation {@link #current} only. */
    private static final class BearerRegistry implements AutoCloseable {
        final AtomicInteger current = new AtomicInteger(1);
        final AtomicInteger refusedTokenRequests = new AtomicInteger();
        private final FakeEcrApi api;
        private final HttpServer server;
        private final ExecutorService executor = Executors.newCachedThreadPool();

        BearerRegistry(FakeEcrApi api) throws IOException {
            this.api = api;
            server = HttpServer.create(new InetSocketAddress(InetAddress.getLoopbackAddress(), 0), 0);
            server.setExecutor(executor);
            server.createContext("/token", this::token);
            server.createContext("/v2/", this::registry);
            server.start();
        }

        String url() {
            return "http://127.0.0.1:" + server.getAddress().getPort();
        }

        private void token(HttpExchange ex) throws IOException {
            try (ex) {
                String expected = "Basic " + Base64.getEncoder().encodeToString(
                        ("AWS:" + api.password(current.get())).getBytes(StandardCharsets.UTF_8));
                if (!expected.equals(ex.getRequestHeaders().getFirst("Authorization"))) {
                    refusedTokenRequests.incrementAndGet();
                    send(ex, 403, "text/plain", "expired credentials");
                    return;
                }
                send(ex, 200, "application/json", "{\"token\":\"tok-" + current.get() + "\",\"expires_in\":300}");
            }
        }

        private void registry(HttpExchange ex) throws IOException {
            try (ex) {
                if (!("Bearer tok-" + current.get()).equals(ex.getRequestHeaders().getFirst("Authorization"))) {
                    ex.getResponseHeaders().set("WWW-Authenticate", "Bearer realm=\"" + url() + "/token\","
                            + "service=\"fake\",scope=\"repository:lib/app:pull\"");
                    send(ex, 401, "application/json", "{\"errors\":[{\"code\":\"UNAUTHORIZED\"}]}");
                    return;
                }
                ex.getResponseHeaders().set("Docker-Content-Digest", "sha256:" + sha256Hex(MANIFEST));
                ex.getResponseHeaders().set("Content-Type", "application/vnd.oci.image.manifest.v1+json");
                ex.sendResponseHeaders(200, MANIFEST.length);
                ex.getResponseBody().write(MANIFEST);
            }
        }

        private static void send(HttpExchange ex, int status, String type, String body) throws IOException {
            byte[] b = body.getBytes(StandardCharsets.UTF_8);
            ex.getResponseHeaders().set("Content-Type", type);
            ex.sendResponseHeaders(status, b.length);
            ex.getResponseBody().write(b);
        }

        private static String sha256Hex(byte[] b) {
            try {
                return java.util.HexFormat.of().formatHex(java.security.MessageDigest.getInstance("SHA-256").digest(b));
            } catch (java.security.NoSuchAlgorithmException e) {
                throw new IllegalStateException(e);
            }
        }

        @Override
        public void close() {
            server.stop(0);
            executor.shutdownNow();
        }
    }
}

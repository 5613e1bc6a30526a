package dev.wharf.server.upstream;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.ObjectMapper;
import com.sun.net.httpserver.HttpServer;
import dev.wharf.testing.DistributionRegistry;
import dev.wharf.testing.Exec;
import dev.wharf.testing.ImageSeeder;
import dev.wharf.testing.ImageSeeder.Image;
import dev.wharf.testing.InProcessWharf;
import dev.wharf.testing.Ports;
import dev.wharf.testing.RealRegistry;
import dev.wharf.testing.Tools;
import java.io.IOException;
import java.net.InetAddress;
import java.net.InetSocketAddress;
import java.net.ServerSocket;
import java.net.Socket;
import java.net.http.HttpResponse;
import java.nio.charset.StandardCharsets;
import java.nio.file.Path;
import java.time.Duration;
import java.util.concurrent.ExecutorService;
import java.util.concurrent.Executors;
import java.util.concurrent.atomic.AtomicInteger;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.extension.ExtendWith;
import org.junit.jupiter.api.io.TempDir;

/**
 * Failover between a project's upstream endpoints, against a real registry as the endpoint that works. The broken
 * endpoints are in-process stand-ins for what cannot be arranged otherwise: a backend that accepts connections and
 * drops them (a dead pod behind a load balancer), one that answers 503 or 429. Each counts the attempts it sees,
 * which is how the tests see the circuit breaker skip it.
 */
@ExtendWith(RealRegistry.class)
class UpstreamFailoverTest {
    private static final Duration TOOL_TIMEOUT = Duration.ofSeconds(120);
    private static final ObjectMapper JSON = new ObjectMapper();

    private static DistributionRegistry registry;
    private static Image first;
    private static Image second;
    private static Image third;

    @TempDir
    Path tmp;

    @BeforeAll
    static void seed(DistributionRegistry r, ImageSeeder seeder) {
        registry = r;
        first = seeder.pushOciImage(registry.url(), "team/first", "v1", 64 << 10, 101);
        second = seeder.pushOciImage(registry.url(), "team/second", "v1", 64 << 10, 102);
        third = seeder.pushOciImage(registry.url(), "team/third", "v1", 64 << 10, 103);
    }

    @Test
    void deadFirstEndpointIsFailedOverThenSkippedByTheBreaker() throws Exception {
        Tools.require("skopeo");
        try (DroppingEndpoint dead = new DroppingEndpoint();
             InProcessWharf wharf = InProcessWharf.start(tmp.resolve("store"), """
                     projects:
                       - name: hub
                         upstreams: [%s, %s]
                     """.formatted(dead.url(), registry.url()))) {
            long before = registry.countRequests("GET", "/v2/team/first/");
            copy(wharf, "hub/team/first:v1", first);
            assertTrue(registry.countRequests("GET", "/v2/team/first/") > before, "the registry served the pull");
            int afterFirstPull = dead.attempts.get();
            // manifest, config and two layers: 4 upstream requests, each trying the dead endpoint first until 3
            // consecutive failures open its breaker (parallel layer requests may each have tried it before).
            assertTrue(afterFirstPull >= 3, "attempts at the dead endpoint: " + afterFirstPull);

            copy(wharf, "hub/team/second:v1", second);
            assertEquals(afterFirstPull, dead.attempts.get(), "the next pull skips the dead endpoint entirely");
        }
    }

    @Test
    void refusedConnectionFailsOverAndEveryEndpointDownIs502NamingTheProject() throws Exception {
        int closed = Ports.free(); // nobody listens there
        int alsoClosed = Ports.free();
        try (InProcessWharf wharf = InProcessWharf.start(tmp.resolve("store"), """
                projects:
                  - name: refused
                    upstreams: [http://127.0.0.1:%d, %s]
                  - name: down
                    upstreams: [http://127.0.0.1:%d, http://127.0.0.1:%d]
                """.formatted(closed, registry.url(), closed, alsoClosed))) {
            HttpResponse<byte[]> manifest = wharf.get("/v2/refused/team/third/manifests/v1",
                    "Accept", ImageSeeder.OCI_MANIFEST);
            assertEquals(200, manifest.statusCode(), new String(manifest.body(), StandardCharsets.UTF_8));
            assertEquals(third.manifestDigest(), ImageSeeder.sha256(manifest.body()));
            String layer = third.layerDigests().get(1);
            HttpResponse<byte[]> blob = wharf.get("/v2/refused/team/third/blobs/" + layer);
            assertEquals(200, blob.statusCode());
            assertEquals(layer, ImageSeeder.sha256(blob.body()));

            long started = System.nanoTime();
            HttpResponse<byte[]> down = wharf.get("/v2/down/team/third/manifests/v1");
            assertTrue(System.nanoTime() - started < Duration.ofSeconds(30).toNanos(), "a dead project answers fast");
            assertEquals(502, down.statusCode());
            JsonNode error = JSON.readTree(down.body()).get("errors").get(0);
            assertEquals("UNAVAILABLE", error.get("code").asText());
            assertTrue(error.get("message").asText().contains("project down"), error.toString());
            HttpResponse<byte[]> blobDown = wharf.get("/v2/down/team/third/blobs/" + layer);
            assertEquals(502, blobDown.statusCode(), "a blob with every endpoint down");
        }
    }

    @Test
    void serverErrorsAndRateLimitsFailOverOnTheHeadersThenTheBreakerSkips() throws Exception {
        try (AnsweringEndpoint unavailable = new AnsweringEndpoint(503);
             AnsweringEndpoint limited = new AnsweringEndpoint(429);
             InProcessWharf wharf = InProcessWharf.start(tmp.resolve("store"), """
                     projects:
                       - name: five
                         upstreams: [%s, %s]
                       - name: four
                         upstreams: [%s, %s]
                     """.formatted(unavailable.url(), registry.url(), limited.url(), registry.url()))) {
            for (String project : new String[] {"five", "four"}) {
                AnsweringEndpoint broken = project.equals("five") ? unavailable : limited;
                // Streamed blob exchanges fail over on the response headers, before the fill gets a byte.
                for (String blob : third.layerDigests()) {
                    HttpResponse<byte[]> r = wharf.get("/v2/" + project + "/team/third/blobs/" + blob);
                    assertEquals(200, r.statusCode(), project + " " + blob);
                    assertEquals(blob, ImageSeeder.sha256(r.body()), "the second endpoint's bytes, whole");
                }
                HttpResponse<byte[]> config = wharf.get("/v2/" + project + "/team/third/blobs/"
                        + third.configDigest());
                assertEquals(200, config.statusCode());
                assertEquals(3, broken.requests.get(), project + ": three failures open the breaker");

                HttpResponse<byte[]> manifest = wharf.get("/v2/" + project + "/team/third/manifests/v1",
                        "Accept", ImageSeeder.OCI_MANIFEST);
                assertEquals(200, manifest.statusCode());
                assertEquals(3, broken.requests.get(), project + ": skipped while its breaker is open");
            }
        }
    }

    private void copy(InProcessWharf wharf, String reference, Image image) {
        Path layout = tmp.resolve("layout-" + reference.replaceAll("[^a-z0-9]", "-"));
        Exec.Result copied = Exec.run(TOOL_TIMEOUT, "skopeo", "copy", "--src-tls-verify=false",
                "--preserve-digests", "docker://" + wharf.hostPort() + "/" + reference, "oci:" + layout + ":x");
        assertTrue(copied.ok(), copied.describe());
        for (String digest : image.blobDigests()) {
            Path blob = layout.resolve("blobs/sha256/" + digest.substring("sha256:".length()));
            assertTrue(java.nio.file.Files.isRegularFile(blob), "blob " + digest + " in the copied layout");
        }
    }

    /** Accepts TCP connections on 127.0.0.1 and closes them at once, counting them: a dead backend. */
    private static final class DroppingEndpoint implements AutoCloseable {
        final AtomicInteger attempts = new AtomicInteger();
        private final ServerSocket server;
        private final Thread thread;

        DroppingEndpoint() throws IOException {
            server = new ServerSocket(0, 50, InetAddress.getLoopbackAddress());
            thread = new Thread(() -> {
                while (!server.isClosed()) {
                    try (Socket s = server.accept()) {
                        attempts.incrementAndGet();
                        s.setSoLinger(true, 0); // reset, like a dead process's port
                    } catch (IOException e) {
                        // closed
                    }
                }
            }, "dropping-endpoint");
            thread.setDaemon(true);
            thread.start();
        }

        String url() {
            return "http://127.0.0.1:" + server.getLocalPort();
        }

        @Override
        public void close() throws IOException {
            server.close();
        }
    }

    /** Answers every request with one status (and Retry-After for 429), counting them. */
    private static final class AnsweringEndpoint implements AutoCloseable {
        final AtomicInteger requests = new AtomicInteger();
        private final HttpServer server;
        private final ExecutorService executor = Executors.newCachedThreadPool();

        AnsweringEndpoint(int status) throws IOException {
            server = HttpServer.create(new InetSocketAddress(InetAddress.getLoopbackAddress(), 0), 0);
            server.setExecutor(executor);
            server.createContext("/", ex -> {
                try (ex) {
                    requests.incrementAndGet();
                    byte[] body = ("{\"errors\":[{\"code\":\"UNAVAILABLE\",\"message\":\"HTTP " + status + "\"}]}")
                            .getBytes(StandardCharsets.UTF_8);
                    ex.getResponseHeaders().set("Content-Type", "application/json");
                    if (status == 429) {
                        ex.getResponseHeaders().set("Retry-After", "60");
                    }
                    if (ex.getRequestMethod().equals("HEAD")) {
                        ex.sendResponseHeaders(status, -1);
                        return;
                    }
                    ex.sendResponseHeaders(status, body.length);
                    ex.getResponseBody().write(body);
                }
            });
            server.start();
        }

        String url() {
            return "http://127.0.0.1:" + server.getAddress().getPort();
        }

        @Override
        public void close() {
            server.stop(0);
            executor.shutdownNow();
        }
    }
}

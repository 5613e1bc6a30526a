package dev.wharf.faults;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

import dev.wharf.testing.DistributionRegistry;
import dev.wharf.testing.ImageSeeder;
import dev.wharf.testing.InProcessWharf;
import dev.wharf.testing.WharfYaml;
import java.io.ByteArrayOutputStream;
import java.io.OutputStream;
import java.io.PrintStream;
import java.nio.charset.StandardCharsets;
import java.nio.file.Path;
import java.util.List;
import java.util.Random;
import java.util.concurrent.TimeUnit;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.Timeout;
import org.junit.jupiter.api.extension.ExtendWith;
import org.junit.jupiter.api.io.TempDir;

/**
 * A client asking for random digests (a scanner, a broken script) must not flood wharf's log: 200 requests for
 * nonexistent blobs and manifests through wharf in front of a real registry write at most a handful of WARN lines
 * and no stack trace. slf4j-simple writes to whatever {@code System.err} is at the time, so the test tees it.
 */
@Timeout(value = 2, unit = TimeUnit.MINUTES)
@ExtendWith(dev.wharf.testing.RealRegistry.class)
class LogFloodTest {
    @TempDir
    Path tmp;

    @Test
    void twoHundredRandomDigestsWriteAtMostAHandfulOfWarnings(DistributionRegistry registry, ImageSeeder seeder)
            throws Exception {
        seeder.pushOciImage(registry.url(), "flood/app", "v1", 1024, 9001);
        ByteArrayOutputStream captured = new ByteArrayOutputStream();
        PrintStream original = System.err;
        String log;
        try (InProcessWharf wharf = InProcessWharf.start(tmp.resolve("store"),
                WharfYaml.oneProject("hub", registry.url()))) {
            System.setErr(new PrintStream(new Tee(original, captured), true, StandardCharsets.UTF_8));
            Random random = new Random(42);
            for (int i = 0; i < 200; i++) {
                String digest = "sha256:" + hex(random);
                String kind = i % 2 == 0 ? "blobs" : "manifests";
                int status = (i % 4 < 2 ? wharf.get("/v2/hub/flood/app/" + kind + "/" + digest)
                        : wharf.head("/v2/hub/flood/app/" + kind + "/" + digest)).statusCode();
                assertEquals(404, status, kind + " " + digest);
            }
        } finally {
            System.setErr(original);
            log = captured.toString(StandardCharsets.UTF_8);
        }
        assertQuiet(log, "200 random digests");
    }

    /**
     * An upstream whose manifests are larger than wharf accepts (8 MiB), asked 50 times: each client gets an error,
     * and the log gets a handful of lines, not one (or a stack trace) per request. The upstream is a fake (the
     * JDK's HTTP server on 127.0.0.1) because a real registry refuses to store such a manifest in the first place.
     */
    @Test
    void oversizedManifestsWriteAtMostAHandfulOfWarnings() throws Exception {
        byte[] big = new byte[9 << 20];
        java.util.Arrays.fill(big, (byte) ' ');
        big[0] = '{';
        big[big.length - 1] = '}';
        com.sun.net.httpserver.HttpServer fake = com.sun.net.httpserver.HttpServer.create(
                new java.net.InetSocketAddress(java.net.InetAddress.getLoopbackAddress(), 0), 0);
        fake.createContext("/v2/", ex -> {
            try (ex) {
                if (!ex.getRequestURI().getPath().contains("/manifests/")) {
                    ex.sendResponseHeaders(200, -1);
                    return;
                }
                ex.getResponseHeaders().set("Content-Type", "application/vnd.oci.image.manifest.v1+json");
                ex.getResponseHeaders().set("Docker-Content-Digest", "sha256:" + "0".repeat(64));
                if (ex.getRequestMethod().equals("HEAD")) {
                    ex.getResponseHeaders().set("Content-Length", Integer.toString(big.length));
                    ex.sendResponseHeaders(200, -1);
                    return;
                }
                ex.sendResponseHeaders(200, big.length);
                ex.getResponseBody().write(big);
            } catch (java.io.IOException e) {
                // wharf hung up after its limit: expected
            }
        });
        fake.start();
        PrintStream original = System.err;
        ByteArrayOutputStream captured = new ByteArrayOutputStream();
        String log;
        try (InProcessWharf wharf = InProcessWharf.start(tmp.resolve("store2"),
                WharfYaml.oneProject("fake", "http://127.0.0.1:" + fake.getAddress().getPort()))) {
            System.setErr(new PrintStream(new Tee(original, captured), true, StandardCharsets.UTF_8));
            for (int i = 0; i < 50; i++) {
                int status = wharf.get("/v2/fake/big/app/manifests/v" + (i % 5), "Accept",
                        "application/vnd.oci.image.manifest.v1+json").statusCode();
                assertTrue(status >= 400, "an oversized manifest was served: " + status);
            }
        } finally {
            System.setErr(original);
            fake.stop(0);
            log = captured.toString(StandardCharsets.UTF_8);
        }
        assertQuiet(log, "50 oversized manifests");
    }

    private static void assertQuiet(String log, String what) {
        List<String> warnings = log.lines().filter(l -> l.contains(" WARN ") || l.contains(" ERROR ")).toList();
        long traces = log.lines().filter(l -> l.startsWith("\tat ")).count();
        System.out.println("[LogFloodTest] " + what + ": " + warnings.size() + " WARN/ERROR line(s), " + traces
                + " stack frame(s)");
        assertTrue(warnings.size() <= 5, warnings.size() + " WARN/ERROR lines for " + what + ":\n"
                + String.join("\n", warnings.subList(0, Math.min(20, warnings.size()))));
        assertEquals(0, traces, "stack traces in the log:\n" + log.substring(0, Math.min(4000, log.length())));
    }

    private static String hex(Random random) {
        StringBuilder b = new StringBuilder();
        for (int i = 0; i < 64; i++) {
            b.append(Character.forDigit(random.nextInt(16), 16));
        }
        return b.toString();
    }

    /** Writes to both streams. */
    private static final class Tee extends OutputStream {
        private final OutputStream a;
        private final OutputStream b;

        Tee(OutputStream a, OutputStream b) {
            this.a = a;
            this.b = b;
        }

        @Override
        public synchronized void write(int c) throws java.io.IOException {
            a.write(c);
            b.write(c);
        }

        @Override
        public synchronized void write(byte[] buf, int off, int len) throws java.io.IOException {
            a.write(buf, off, len);
            b.write(buf, off, len);
        }

        @Override
        public synchronized void flush() throws java.io.IOException {
            a.flush();
            b.flush();
        }
    }
}

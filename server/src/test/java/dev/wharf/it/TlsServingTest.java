package dev.wharf.it;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertNotEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

import dev.wharf.testing.Containerd;
import dev.wharf.testing.DistributionRegistry;
import dev.wharf.testing.Exec;
import dev.wharf.testing.ImageSeeder;
import dev.wharf.testing.ImageSeeder.Image;
import dev.wharf.testing.InProcessWharf;
import dev.wharf.testing.RealRegistry;
import dev.wharf.testing.TestCa;
import dev.wharf.testing.Tools;
import dev.wharf.testing.WharfCli;
import dev.wharf.testing.WharfProcess;
import dev.wharf.testing.WharfYaml;
import java.math.BigInteger;
import java.net.URI;
import java.net.http.HttpClient;
import java.net.http.HttpRequest;
import java.net.http.HttpResponse;
import java.nio.file.Files;
import java.nio.file.Path;
import java.nio.file.StandardCopyOption;
import java.security.cert.X509Certificate;
import java.time.Duration;
import java.util.ArrayList;
import java.util.List;
import java.util.Map;
import java.util.concurrent.ConcurrentLinkedQueue;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.atomic.AtomicBoolean;
import java.util.concurrent.atomic.AtomicInteger;
import javax.net.ssl.SSLParameters;
import javax.net.ssl.SSLSocket;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.Timeout;
import org.junit.jupiter.api.extension.ExtendWith;
import org.junit.jupiter.api.io.TempDir;

/**
 * wharf serving HTTPS ({@code tls.cert}, {@code tls.key}) in front of a real registry, to real clients that verify
 * its certificate against a test CA: skopeo ({@code --src-cert-dir}), crane ({@code SSL_CERT_FILE}), containerd
 * ({@code ca =} in hosts.toml) and curl over HTTP/2 and HTTP/1.1; a certificate rotated by a symlink swap under a
 * loop of requests; and the start-up errors a bad pair gives.
 */
@Timeout(value = 5, unit = TimeUnit.MINUTES)
@ExtendWith(RealRegistry.class)
class TlsServingTest {
    private static final Duration TOOL_TIMEOUT = Duration.ofMinutes(2);
    private static final String MANIFEST_ACCEPT = "application/vnd.oci.image.manifest.v1+json";

    private static DistributionRegistry upstream;
    private static Image small;
    private static Image medium;

    @BeforeAll
    static void seed(DistributionRegistry r, ImageSeeder seeder) {
        upstream = r;
        small = seeder.pushOciImage(upstream.url(), "library/tls-small", "v1", 1 << 20, 301);
        medium = seeder.pushOciImage(upstream.url(), "library/tls-medium", "v1", 12 << 20, 302);
    }

    private static InProcessWharf startTls(Path tmp, Path cert, Path key) throws Exception {
        return InProcessWharf.start(tmp.resolve("storage"), WharfYaml.config()
                .project(WharfYaml.project("hub", upstream.url()).aliases("docker.io"))
                .raw("tls:\n  cert: " + cert + "\n  key: " + key + "\n"));
    }

    private static String https(InProcessWharf wharf) {
        return "https://127.0.0.1:" + wharf.server().port();
    }

    @Test
    void skopeoCraneAndContainerdPullOverHttpsVerifyingTheCertificate(@TempDir Path tmp) throws Exception {
        TestCa ca = TestCa.create("wharf tls CA", tmp.resolve("ca"));
        TestCa.Issued server = ca.server("localhost", "127.0.0.1");
        try (InProcessWharf wharf = startTls(tmp, server.certificatePem(), server.keyPem())) {
            String host = wharf.hostPort();

            Path certDir = Files.createDirectories(tmp.resolve("certs.d"));
            Files.copy(ca.certificatePem(), certDir.resolve("ca.crt"));
            Path skopeoLayout = tmp.resolve("skopeo-layout");
            Exec.run(TOOL_TIMEOUT, "skopeo", "copy", "--src-cert-dir", certDir.toString(), "--preserve-digests",
                    "docker://" + host + "/hub/" + medium.reference(), "oci:" + skopeoLayout + ":x").orFail();
            assertLayoutHolds(skopeoLayout, medium);

            Path craneLayout = tmp.resolve("crane-layout");
            Map<String, String> trustCa = Map.of("SSL_CERT_FILE", ca.certificatePem().toString());
            Exec.run(TOOL_TIMEOUT, trustCa, null, List.of("crane", "pull", "--format", "oci",
                    host + "/hub/" + small.reference(), craneLayout.toString())).orFail();
            assertLayoutHolds(craneLayout, small);
            Exec.Result digest = Exec.run(TOOL_TIMEOUT, trustCa, null,
                    List.of("crane", "digest", host + "/hub/" + medium.reference())).orFail();
            assertEquals(medium.manifestDigest(), digest.output().trim(), "crane digest through wharf over HTTPS");

            try (Containerd containerd = Containerd.builder().pullTimeout(Duration.ofSeconds(60)).start()) {
                Path hosts = tmp.resolve("hosts");
                Containerd.writeHostsToml(hosts, "docker.io", "server = \"https://registry-1.docker.io\"\n\n"
                        + "[host.\"" + https(wharf) + "\"]\n"
                        + "  capabilities = [\"pull\", \"resolve\"]\n"
                        + "  ca = \"" + ca.certificatePem() + "\"\n");
                Exec.Result pulled = containerd.pull("docker.io/" + small.reference(), hosts);
                assertTrue(pulled.ok(), pulled.describe());
                assertTrue(containerd.contentDigests().containsAll(small.blobDigests()),
                        "containerd holds every blob: " + containerd.contentDigests());
            }
        }
    }

    @Test
    void curlSpeaksHttp2AndHttp11OverTlsWithWholeBodies(@TempDir Path tmp) throws Exception {
        TestCa ca = TestCa.create("wharf tls CA", tmp.resolve("ca"));
        TestCa.Issued server = ca.server("localhost", "127.0.0.1");
        try (InProcessWharf wharf = startTls(tmp, server.certificatePem(), server.keyPem())) {
            String base = https(wharf) + "/v2/hub/" + medium.repo();
            Path manifest = tmp.resolve("manifest");
            assertEquals("2", curl(ca, "--http2", manifest, base + "/manifests/v1", "-H", "Accept: " + MANIFEST_ACCEPT));
            assertEquals(medium.manifestDigest(), ImageSeeder.sha256(manifest));

            String layer = largestLayer(medium);
            // Cold over HTTP/2 (streamed from the fill), warm over HTTP/2 and HTTP/1.1 (the stored file in chunks).
            for (String version : List.of("--http2", "--http2", "--http1.1")) {
                Path blob = tmp.resolve("blob");
                String said = curl(ca, version, blob, base + "/blobs/" + layer);
                assertEquals(version.equals("--http2") ? "2" : "1.1", said, "curl " + version);
                assertEquals(layer, ImageSeeder.sha256(blob), "the blob's bytes over " + version);
            }
            byte[] whole = Files.readAllBytes(tmp.resolve("blob"));
            Path part = tmp.resolve("part");
            assertEquals("2", curl(ca, "--http2", part, base + "/blobs/" + layer, "-r", "1000000-3099999"));
            assertTrue(java.util.Arrays.equals(java.util.Arrays.copyOfRange(whole, 1_000_000, 3_100_000),
                    Files.readAllBytes(part)), "a range over HTTP/2 is the blob's bytes");
            Path head = tmp.resolve("head");
            curl(ca, "--http2", head, base + "/blobs/" + layer, "-I");
            assertTrue(Files.readString(head).toLowerCase().contains("content-length: "
                    + medium.layerSizes().get(medium.layerDigests().indexOf(layer))), Files.readString(head));
        }
    }

    /**
     * cert-manager's way: tls.crt and tls.key link through {@code ..data}, which a rename points at a new folder.
     * Requests run throughout (on a kept HTTP/2 connection and on new ones); new connections see the new
     * certificate within a few reload periods, a download that started before the swap finishes, and no request
     * fails.
     */
    @Test
    void aRotatedCertificateReachesNewConnectionsWhileRequestsKeepSucceeding(@TempDir Path tmp) throws Exception {
        TestCa ca = TestCa.create("wharf tls CA", tmp.resolve("ca"));
        TestCa.Issued first = ca.server("localhost", "127.0.0.1");
        TestCa.Issued second = ca.server(TestCa.ecKeys(), "rotated.localhost", "localhost", "127.0.0.1");
        Path secret = Files.createDirectories(tmp.resolve("secret"));
        publish(secret, "..v1", first);
        Files.createSymbolicLink(secret.resolve("tls.crt"), Path.of("..data/tls.crt"));
        Files.createSymbolicLink(secret.resolve("tls.key"), Path.of("..data/tls.key"));

        try (InProcessWharf wharf = startTls(tmp, secret.resolve("tls.crt"), secret.resolve("tls.key"))) {
            int port = wharf.server().port();
            assertEquals(first.certificate().getSerialNumber(), servedSerial(ca, port));
            URI manifestUri = URI.create(https(wharf) + "/v2/hub/" + small.repo() + "/manifests/v1");
            String layer = largestLayer(medium);
            String blobUrl = https(wharf) + "/v2/hub/" + medium.repo() + "/blobs/" + layer;
            curl(ca, "--http2", tmp.resolve("warm"), blobUrl); // cached, so the slow download below reads the file

            AtomicBoolean stop = new AtomicBoolean();
            AtomicInteger ok = new AtomicInteger();
            ConcurrentLinkedQueue<String> failures = new ConcurrentLinkedQueue<>();
            HttpClient kept = HttpClient.newBuilder().sslContext(ca.clientContext())
                    .connectTimeout(Duration.ofSeconds(5)).build();
            Thread loop = new Thread(() -> {
                long deadline = System.nanoTime() + TimeUnit.SECONDS.toNanos(90);
                for (int i = 0; i < 2000 && !stop.get() && System.nanoTime() < deadline; i++) {
                    // Every fifth request on a new client, so a new connection (and handshake); the rest on one
                    // HTTP/2 connection that spans the swap.
                    HttpClient client = i % 5 == 0 ? HttpClient.newBuilder().sslContext(ca.clientContext())
                            .connectTimeout(Duration.ofSeconds(5)).build() : kept;
                    try {
                        HttpResponse<byte[]> r = client.send(HttpRequest.newBuilder(manifestUri)
                                        .timeout(Duration.ofSeconds(20)).header("Accept", MANIFEST_ACCEPT).build(),
                                HttpResponse.BodyHandlers.ofByteArray());
                        if (r.statusCode() != 200 || !small.manifestDigest().equals(ImageSeeder.sha256(r.body()))) {
                            failures.add("request " + i + ": status " + r.statusCode());
                        } else {
                            ok.incrementAndGet();
                        }
                        Thread.sleep(20);
                    } catch (Exception e) {
                        failures.add("request " + i + ": " + e);
                    }
                }
            }, "tls-rotation-loop");
            loop.start();
            // A slow download (about 8 s) on a connection made with the old certificate, across the swap.
            Path slowBody = tmp.resolve("slow");
            Process slow = new ProcessBuilder(Tools.require("curl").toString(), "-sS", "--fail", "--http1.1",
                    "--limit-rate", "1536K", "--cacert", ca.certificatePem().toString(), "-o", slowBody.toString(),
                    blobUrl).redirectErrorStream(true).redirectOutput(tmp.resolve("slow.out").toFile()).start();
            try {
                Thread.sleep(1500);
                publish(secret, "..v2", second);
                long deadline = System.nanoTime() + TimeUnit.SECONDS.toNanos(30);
                BigInteger served = servedSerial(ca, port);
                while (!served.equals(second.certificate().getSerialNumber()) && System.nanoTime() < deadline) {
                    Thread.sleep(250);
                    served = servedSerial(ca, port);
                }
                assertEquals(second.certificate().getSerialNumber(), served,
                        "a new connection gets the rotated certificate within 30 s");
                assertEquals(second.certificate(), servedCertificate(ca, port), "and it is the whole new one");
                int before = ok.get();
                long more = System.nanoTime() + TimeUnit.SECONDS.toNanos(20);
                while (ok.get() < before + 30 && System.nanoTime() < more && loop.isAlive()) {
                    Thread.sleep(100);
                }
                assertTrue(slow.waitFor(60, TimeUnit.SECONDS), "the slow download finished");
                assertEquals(0, slow.exitValue(), Files.readString(tmp.resolve("slow.out")));
                assertEquals(layer, ImageSeeder.sha256(slowBody), "the download begun before the swap is whole");
            } finally {
                stop.set(true);
                loop.join(30_000);
                slow.destroy();
            }
            assertFalse(loop.isAlive(), "the request loop stopped");
            assertTrue(failures.isEmpty(), "requests failed during the rotation: " + failures);
            assertTrue(ok.get() >= 30, "requests made during the rotation: " + ok.get());
            assertNotEquals(first.certificate().getSubjectX500Principal(),
                    second.certificate().getSubjectX500Principal());
        }
    }

    /**
     * A prefetch job pulls through wharf's own listener, which is HTTPS now: it trusts exactly the certificate wharf
     * serves, here one for a DNS name only, which the loopback address would not match.
     */
    @Test
    void prefetchJobsPullThroughTheTlsListener(@TempDir Path tmp) throws Exception {
        TestCa ca = TestCa.create("wharf tls CA", tmp.resolve("ca"));
        TestCa.Issued server = ca.server("wharf.example");
        String token = "prefetch-over-tls-token";
        try (InProcessWharf wharf = InProcessWharf.start(tmp.resolve("storage"), WharfYaml.config()
                .project(WharfYaml.project("hub", upstream.url()).aliases("docker.io"))
                .adminToken(token)
                .raw("tls:\n  cert: " + server.certificatePem() + "\n  key: " + server.keyPem() + "\n"))) {
            assertTrue(wharf.server().registryUrl().toString().startsWith("https://"),
                    wharf.server().registryUrl().toString());
            long before = upstream.countRequests("GET", "/v2/" + small.repo() + "/manifests/v1");
            Path out = tmp.resolve("job");
            String resolve = "wharf.example:" + wharf.server().port() + ":127.0.0.1";
            String base = "https://wharf.example:" + wharf.server().port();
            List<String> post = new ArrayList<>(List.of("curl", "-sS", "--fail", "--resolve", resolve,
                    "--cacert", ca.certificatePem().toString(), "-o", out.toString(),
                    "-H", "Authorization: Bearer " + token, "-H", "Content-Type: application/json",
                    "--data", "{\"images\": [\"docker.io/" + small.reference() + "\"]}",
                    base + "/api/v1/prefetch"));
            Exec.run(TOOL_TIMEOUT, Map.of(), null, post).orFail();
            String id = Files.readString(out).replaceAll("(?s).*\"id\"\\s*:\\s*\"([^\"]+)\".*", "$1");
            String state = "";
            for (int i = 0; i < 300 && !state.contains("\"state\":\"succeeded\"")
                    && !state.contains("\"state\":\"failed\""); i++) {
                Thread.sleep(100);
                Exec.run(TOOL_TIMEOUT, Map.of(), null, List.of("curl", "-sS", "--fail", "--resolve", resolve,
                        "--cacert", ca.certificatePem().toString(), "-o", out.toString(),
                        "-H", "Authorization: Bearer " + token, base + "/api/v1/prefetch/" + id)).orFail();
                state = Files.readString(out).replace(" ", "");
            }
            assertTrue(state.startsWith("{") && state.contains("\"state\":\"succeeded\""), state);
            assertTrue(upstream.countRequests("GET", "/v2/" + small.repo() + "/manifests/v1") > before
                    || upstream.countRequests("HEAD", "/v2/" + small.repo() + "/manifests/v1") > 0,
                    "the job pulled through wharf from the upstream");
        }
    }

    /** Beyond {@code limits.maxConnections} a TLS connection is closed before its handshake; below it, served. */
    @Test
    void theConnectionCapHoldsUnderTls(@TempDir Path tmp) throws Exception {
        TestCa ca = TestCa.create("wharf tls CA", tmp.resolve("ca"));
        TestCa.Issued server = ca.server("localhost", "127.0.0.1");
        try (InProcessWharf wharf = InProcessWharf.start(tmp.resolve("storage"), WharfYaml.config()
                .project(WharfYaml.project("hub", upstream.url()))
                .limit("maxConnections", 1)
                .raw("tls:\n  cert: " + server.certificatePem() + "\n  key: " + server.keyPem() + "\n"))) {
            int port = wharf.server().port();
            try (SSLSocket first = (SSLSocket) ca.clientContext().getSocketFactory().createSocket("127.0.0.1", port)) {
                first.startHandshake();
                Exception refused = org.junit.jupiter.api.Assertions.assertThrows(Exception.class,
                        () -> servedCertificate(ca, port), "a second connection while the first is open");
                assertTrue(refused instanceof java.io.IOException, refused.toString());
            }
            X509Certificate served = null;
            for (int i = 0; i < 50 && served == null; i++) { // the first connection's close is counted soon after
                try {
                    served = servedCertificate(ca, port);
                } catch (java.io.IOException e) {
                    Thread.sleep(100);
                }
            }
            assertEquals(server.certificate(), served, "a connection once the first has closed");
        }
    }

    /** What {@code wharf tls init} writes is what {@code tls:} serves, and clients trust it by its {@code ca.crt}. */
    @Test
    void servesWhatTlsInitWrites(@TempDir Path tmp) throws Exception {
        Path dir = tmp.resolve("tls");
        WharfCli.run(TOOL_TIMEOUT, "tls", "init", "--dir", dir.toString(), "--host", "localhost", "--host",
                "127.0.0.1").orFail();
        try (InProcessWharf wharf = startTls(tmp, dir.resolve("tls.crt"), dir.resolve("tls.key"))) {
            Path out = tmp.resolve("v2");
            Exec.Result r = Exec.run(TOOL_TIMEOUT, Map.of(), null, List.of("curl", "-sS", "--fail", "--http2",
                    "--cacert", dir.resolve("ca.crt").toString(), "-o", out.toString(), "-w", "%{http_version}",
                    https(wharf) + "/v2/")).orFail();
            assertEquals("2", r.output().trim());
        }
    }

    @Test
    void aBadPairStopsStartUpWithExitCode2NamingTheFile(@TempDir Path tmp) throws Exception {
        TestCa ca = TestCa.create("wharf tls CA", tmp.resolve("ca"));
        TestCa.Issued one = ca.server("localhost", "127.0.0.1");
        TestCa.Issued other = ca.server("other.localhost", "127.0.0.1");
        Path garbage = Files.writeString(tmp.resolve("garbage.key"), "-----BEGIN PRIVATE KEY-----\nnope\n");
        Path missing = tmp.resolve("missing.crt");
        record Case(Path cert, Path key, Path named) {
        }
        for (Case c : List.of(new Case(one.certificatePem(), garbage, garbage),
                new Case(one.certificatePem(), other.keyPem(), other.keyPem()),
                new Case(missing, one.keyPem(), missing))) {
            Exec.Result run = WharfProcess.builder()
                    .extraYaml("tls:\n  cert: " + c.cert() + "\n  key: " + c.key() + "\n")
                    .runExpectingExit(Duration.ofSeconds(60));
            assertEquals(2, run.exitCode(), run.describe());
            assertTrue(run.output().contains(c.named().toString()), "names " + c.named() + ":\n" + run.output());
        }
    }

    // ------------------------------------------------------------------------------------------------ helpers

    /** Runs curl against wharf trusting only {@code ca}; returns the HTTP version it spoke. */
    private static String curl(TestCa ca, String version, Path out, String url, String... extra) {
        List<String> command = new ArrayList<>(List.of("curl", "-sS", "--fail", version, "--cacert",
                ca.certificatePem().toString(), "-o", out.toString(), "-w", "%{http_version}"));
        command.addAll(List.of(extra));
        command.add(url);
        return Exec.run(TOOL_TIMEOUT, Map.of(), null, command).orFail().output().trim();
    }

    private static String largestLayer(Image image) {
        int best = 0;
        for (int i = 1; i < image.layerSizes().size(); i++) {
            if (image.layerSizes().get(i) > image.layerSizes().get(best)) {
                best = i;
            }
        }
        return image.layerDigests().get(best);
    }

    private static void assertLayoutHolds(Path layout, Image image) {
        for (String digest : image.blobDigests()) {
            Path blob = layout.resolve("blobs/sha256").resolve(digest.substring("sha256:".length()));
            assertTrue(Files.isRegularFile(blob), digest + " in " + layout);
            assertEquals(digest, ImageSeeder.sha256(blob), "bytes of " + digest + " in " + layout);
        }
        Path manifest = layout.resolve("blobs/sha256").resolve(image.manifestDigest().substring(7));
        assertTrue(Files.isRegularFile(manifest), "the upstream's manifest " + image.manifestDigest() + " in " + layout);
    }

    /** The certificate a new connection is served, checked against the CA and for 127.0.0.1. */
    private static X509Certificate servedCertificate(TestCa ca, int port) throws Exception {
        try (SSLSocket socket = (SSLSocket) ca.clientContext().getSocketFactory().createSocket("127.0.0.1", port)) {
            SSLParameters params = socket.getSSLParameters();
            params.setEndpointIdentificationAlgorithm("HTTPS");
            socket.setSSLParameters(params);
            socket.setSoTimeout(10_000);
            socket.startHandshake();
            return (X509Certificate) socket.getSession().getPeerCertificates()[0];
        }
    }

    private static BigInteger servedSerial(TestCa ca, int port) throws Exception {
        return servedCertificate(ca, port).getSerialNumber();
    }

    /** Writes a versioned folder and points {@code ..data} at it with one rename, as the kubelet does. */
    private static void publish(Path secret, String version, TestCa.Issued pair) throws Exception {
        Path dir = Files.createDirectories(secret.resolve(version));
        Files.copy(pair.certificatePem(), dir.resolve("tls.crt"));
        Files.copy(pair.keyPem(), dir.resolve("tls.key"));
        Path link = secret.resolve("..data_tmp");
        Files.deleteIfExists(link);
        Files.createSymbolicLink(link, Path.of(version));
        Files.move(link, secret.resolve("..data"), StandardCopyOption.ATOMIC_MOVE);
    }
}

package dev.wharf.server.http;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;

import dev.wharf.testing.ImageSeeder;
import dev.wharf.testing.InProcessWharf;
import dev.wharf.testing.Pulls;
import dev.wharf.testing.RawHttp;
import dev.wharf.testing.RealRegistry;
import dev.wharf.testing.TcpRelay;
import dev.wharf.testing.ThrottleTap;
import dev.wharf.testing.WharfYaml;
import java.io.InputStream;
import java.net.Socket;
import java.nio.file.Path;
import java.security.MessageDigest;
import java.time.Duration;
import java.util.HexFormat;
import org.junit.jupiter.api.AfterAll;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.extension.RegisterExtension;
import org.junit.jupiter.api.io.TempDir;

/**
 * Pipelined requests over one raw socket get their responses in request order, whole, even when the first is slow
 * (cold content through a throttled upstream) and the next could be answered at once.
 */
class PipeliningTest {
    @RegisterExtension
    static final RealRegistry upstream = RealRegistry.plain();
    @TempDir
    static Path dir;
    static TcpRelay relay;
    static InProcessWharf wharf;

    @BeforeAll
    static void start() throws Exception {
        relay = TcpRelay.toLocalPort(upstream.registry().port(), new ThrottleTap(256 << 10));
        wharf = InProcessWharf.start(dir.resolve("store"), WharfYaml.oneProject("hub", relay.url()));
    }

    @AfterAll
    static void stop() {
        wharf.close();
        relay.close();
    }

    @Test
    void aSlowColdBlobThenV2AreAnsweredInOrder() throws Exception {
        ImageSeeder.Blob blob = upstream.seeder().pushRandomBlob(upstream.registry().url(), "lib/slow", Pulls.MiB, 5);
        try (Socket s = RawHttp.connect(wharf.server().port(), Duration.ofSeconds(30))) {
            RawHttp.send(s, RawHttp.request("GET", "/v2/hub/lib/slow/blobs/" + blob.digest())
                    + RawHttp.request("GET", "/v2/"));
            InputStream in = s.getInputStream();
            RawHttp.Response first = RawHttp.read(in, false);
            assertEquals(200, first.status());
            assertEquals(blob.digest(), sha256(first.body()), "the first response is not the blob, whole");
            RawHttp.Response second = RawHttp.read(in, false);
            assertEquals(200, second.status());
            assertEquals("{}", second.text());
        }
    }

    @Test
    void aColdManifestThenV2AreAnsweredInOrder() throws Exception {
        ImageSeeder.Image image = upstream.seeder().pushOciImage(upstream.registry().url(), "lib/app", "v1", 1024, 6);
        try (Socket s = RawHttp.connect(wharf.server().port(), Duration.ofSeconds(30))) {
            RawHttp.send(s, RawHttp.request("GET", "/v2/hub/lib/app/manifests/v1",
                    "Accept: " + ImageSeeder.OCI_MANIFEST) + RawHttp.request("GET", "/v2/"));
            InputStream in = s.getInputStream();
            RawHttp.Response first = RawHttp.read(in, false);
            assertEquals(200, first.status(), first.text());
            assertArrayEquals(image.manifest(), first.body());
            RawHttp.Response second = RawHttp.read(in, false);
            assertEquals("{}", second.text());
        }
    }

    @Test
    void headThenGetPairsAreAnsweredInOrder() throws Exception {
        ImageSeeder.Blob blob = upstream.seeder().pushRandomBlob(upstream.registry().url(), "lib/pair", 300_000, 7);
        String path = "/v2/hub/lib/pair/blobs/" + blob.digest();
        try (Socket s = RawHttp.connect(wharf.server().port(), Duration.ofSeconds(30))) {
            RawHttp.send(s, RawHttp.request("HEAD", path) + RawHttp.request("GET", path)
                    + RawHttp.request("HEAD", "/v2/") + RawHttp.request("GET", "/v2/")
                    + RawHttp.request("HEAD", path) + RawHttp.request("GET", "/v2/"));
            InputStream in = s.getInputStream();
            RawHttp.Response head = RawHttp.read(in, true);
            assertEquals(200, head.status());
            assertEquals(Long.toString(blob.size()), head.header("Content-Length"));
            assertEquals(blob.digest(), head.header("Docker-Content-Digest"));
            RawHttp.Response get = RawHttp.read(in, false);
            assertEquals(blob.digest(), sha256(get.body()));
            RawHttp.Response headV2 = RawHttp.read(in, true);
            assertEquals("2", headV2.header("Content-Length"));
            assertEquals("{}", RawHttp.read(in, false).text());
            RawHttp.Response headAgain = RawHttp.read(in, true);
            assertEquals(blob.digest(), headAgain.header("Docker-Content-Digest"));
            assertEquals("{}", RawHttp.read(in, false).text());
        }
    }

    private static String sha256(byte[] bytes) throws Exception {
        return "sha256:" + HexFormat.of().formatHex(MessageDigest.getInstance("SHA-256").digest(bytes));
    }
}

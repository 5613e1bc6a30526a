package dev.wharf.server.http;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertNotEquals;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import dev.wharf.server.app.WharfServer;
import dev.wharf.server.config.ConfigLoader;
import dev.wharf.storage.Digest;
import dev.wharf.testing.ImageSeeder;
import dev.wharf.testing.InProcessWharf;
import dev.wharf.testing.Pulls;
import dev.wharf.testing.RawHttp;
import dev.wharf.testing.RealRegistry;
import dev.wharf.testing.RequestLogTap;
import dev.wharf.testing.TcpRelay;
import dev.wharf.testing.WharfYaml;
import java.io.InputStream;
import java.net.BindException;
import java.net.Socket;
import java.net.URI;
import java.net.http.HttpResponse;
import java.nio.file.Path;
import java.time.Duration;
import java.util.Arrays;
import java.util.HashMap;
import java.util.Map;
import java.util.Set;
import org.junit.jupiter.api.AfterAll;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.extension.RegisterExtension;
import org.junit.jupiter.api.io.TempDir;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.ValueSource;

/**
 * What a client gets is the same on both transports (native epoll and the JDK's NIO): manifest HEADs by tag and by
 * digest carry exactly the manifest's headers and no body, cold (built per request) and warm (the prepared head);
 * the prepared head follows a tag that moved and is not used for a manifest that was evicted; blobs whole and in
 * ranges, cold (slices of the fill) and warm (one file region), are the exact bytes. A real registry is the upstream,
 * behind a relay that logs its requests.
 */
class ServingTransportsTest {
    @RegisterExtension
    static final RealRegistry upstream = RealRegistry.plain();
    @TempDir
    static Path dir;
    static TcpRelay relay;
    static RequestLogTap log;
    static final Map<String, InProcessWharf> wharves = new HashMap<>();
    /** What containerd sends: broad enough that wharf keeps the tag (a narrow Accept is answered, not cached). */
    static final String ACCEPT_LIST = ImageSeeder.OCI_MANIFEST + ", " + ImageSeeder.DOCKER_MANIFEST + ", "
            + ImageSeeder.OCI_INDEX + ", " + ImageSeeder.DOCKER_MANIFEST_LIST;
    static final String ACCEPT = "Accept: " + ACCEPT_LIST;
    /** Every manifest answer carries exactly these headers. */
    static final Set<String> MANIFEST_HEADERS = Set.of("content-type", "docker-content-digest", "etag",
            "content-length", "docker-distribution-api-version", "connection");

    @BeforeAll
    static void start() throws Exception {
        log = new RequestLogTap();
        relay = TcpRelay.toLocalPort(upstream.registry().port(), log);
        for (String transport : new String[] {"epoll", "nio"}) {
            wharves.put(transport, InProcessWharf.start(dir.resolve("store-" + transport), WharfYaml.config()
                    .project(WharfYaml.project("hub", relay.url()))
                    .project(WharfYaml.project("moving", relay.url()).tagTtl("1s"))
                    .raw("transport: " + transport + "\n")));
        }
    }

    @AfterAll
    static void stop() {
        wharves.values().forEach(InProcessWharf::close);
        relay.close();
    }

    @Test
    void eachServerRunsTheTransportItWasGiven() {
        assertEquals("epoll", wharves.get("epoll").server().transport().name());
        assertEquals("nio", wharves.get("nio").server().transport().name());
    }

    @ParameterizedTest
    @ValueSource(strings = {"epoll", "nio"})
    void manifestHeadsCarryExactlyTheManifestHeadersAndNoBody(String transport) throws Exception {
        InProcessWharf wharf = wharves.get(transport);
        ImageSeeder.Image image = upstream.seeder().pushOciImage(upstream.registry().url(), "lib/head-" + transport,
                "v1", 512, 11);
        String byTag = "/v2/hub/lib/head-" + transport + "/manifests/v1";
        String byDigest = "/v2/hub/lib/head-" + transport + "/manifests/" + image.manifestDigest();
        try (Socket s = RawHttp.connect(wharf.server().port(), Duration.ofSeconds(30))) {
            InputStream in = s.getInputStream();
            long fetched = 0;
            for (int round = 0; round < 3; round++) { // cold, then answered from memory twice
                if (round == 2) {
                    fetched = manifestRequests("lib/head-" + transport);
                }
                for (String path : new String[] {byTag, byDigest}) {
                    RawHttp.send(s, RawHttp.request("HEAD", path, ACCEPT));
                    RawHttp.Response r = RawHttp.read(in, true);
                    assertManifestHeaders(r, image, "keep-alive", "round " + round + " HEAD " + path);
                }
                // The HEADs sent no body: the next response on the connection starts right after their heads.
                RawHttp.send(s, RawHttp.request("GET", "/v2/"));
                assertEquals("{}", RawHttp.read(in, false).text(), "round " + round);
                RawHttp.send(s, RawHttp.request("GET", byTag, ACCEPT));
                RawHttp.Response get = RawHttp.read(in, false);
                assertManifestHeaders(get, image, "keep-alive", "round " + round + " GET");
                assertArrayEquals(image.manifest(), get.body());
            }
            assertEquals(fetched, manifestRequests("lib/head-" + transport), "warm answers went upstream");
        }
    }

    @ParameterizedTest
    @ValueSource(strings = {"epoll", "nio"})
    void aHeadThatClosesTheConnectionSaysSoAndCloses(String transport) throws Exception {
        InProcessWharf wharf = wharves.get(transport);
        ImageSeeder.Image image = upstream.seeder().pushOciImage(upstream.registry().url(), "lib/close-" + transport,
                "v1", 512, 12);
        String byTag = "/v2/hub/lib/close-" + transport + "/manifests/v1";
        assertEquals(200, wharf.get(byTag, "Accept", ACCEPT_LIST).statusCode()); // a GET caches it
        try (Socket s = RawHttp.connect(wharf.server().port(), Duration.ofSeconds(30))) {
            RawHttp.send(s, RawHttp.request("HEAD", byTag, ACCEPT,
                    "Connection: close"));
            assertManifestHeaders(RawHttp.read(s.getInputStream(), true), image, "close", "HEAD with close");
            assertTrue(RawHttp.closedWithin(s, Duration.ofSeconds(10)), "the connection stayed open");
        }
    }

    @ParameterizedTest
    @ValueSource(strings = {"epoll", "nio"})
    void aTagThatMovedIsAnsweredWithTheNewManifestsHead(String transport) throws Exception {
        InProcessWharf wharf = wharves.get(transport);
        String repo = "lib/moving-" + transport;
        ImageSeeder.Image first = upstream.seeder().pushOciImage(upstream.registry().url(), repo, "v1", 512, 21);
        String byTag = "/v2/moving/" + repo + "/manifests/v1";
        for (int i = 0; i < 2; i++) {
            assertManifestHeaders(headOf(wharf, byTag), first, "keep-alive", "before the move");
        }
        ImageSeeder.Image second = upstream.seeder().pushOciImage(upstream.registry().url(), repo, "v1", 2048, 22);
        assertNotEquals(first.manifestDigest(), second.manifestDigest());
        // The tag is trusted for 1s; then a revalidation finds the new digest.
        assertTrue(Pulls.await(Duration.ofSeconds(20), () -> second.manifestDigest().equals(
                headOf(wharf, byTag).header("docker-content-digest"))), "the moved tag was not seen");
        for (int i = 0; i < 2; i++) {
            assertManifestHeaders(headOf(wharf, byTag), second, "keep-alive", "after the move");
        }
        assertManifestHeaders(headOf(wharf, "/v2/moving/" + repo + "/manifests/" + first.manifestDigest()), first,
                "keep-alive", "the old manifest by digest");
    }

    @ParameterizedTest
    @ValueSource(strings = {"epoll", "nio"})
    void anEvictedManifestIsFetchedAgainNotAnsweredFromMemory(String transport) throws Exception {
        InProcessWharf wharf = wharves.get(transport);
        String repo = "lib/evicted-" + transport;
        ImageSeeder.Image image = upstream.seeder().pushOciImage(upstream.registry().url(), repo, "v1", 512, 31);
        String byTag = "/v2/hub/" + repo + "/manifests/v1";
        // A GET caches the manifest (a cold HEAD is answered from the upstream's HEAD and stores nothing).
        assertArrayEquals(image.manifest(), wharf.get(byTag, "Accept", ACCEPT_LIST).body());
        long fetched = manifestRequests(repo);
        for (int i = 0; i < 3; i++) {
            assertManifestHeaders(headOf(wharf, byTag), image, "keep-alive", "warm");
        }
        assertEquals(fetched, manifestRequests(repo), "warm HEADs went upstream");
        assertTrue(wharf.server().store().delete(Digest.parse(image.manifestDigest())).isPresent(),
                "the manifest was not in the store");
        assertManifestHeaders(headOf(wharf, byTag), image, "keep-alive", "after the eviction");
        assertTrue(manifestRequests(repo) > fetched, "the evicted manifest was answered from memory");
    }

    @ParameterizedTest
    @ValueSource(strings = {"epoll", "nio"})
    void blobsWholeAndInRangesAreTheExactBytesColdAndWarm(String transport) throws Exception {
        InProcessWharf wharf = wharves.get(transport);
        int size = 3 << 20;
        long seed = "epoll".equals(transport) ? 41 : 42;
        String repo = "lib/blob-" + transport;
        ImageSeeder.Blob blob = upstream.seeder().pushRandomBlob(upstream.registry().url(), repo, size, seed);
        java.io.ByteArrayOutputStream content = new java.io.ByteArrayOutputStream(size);
        dev.wharf.testing.RandomBytes.write(content, size, seed);
        byte[] all = content.toByteArray();
        URI uri = wharf.url().resolve("/v2/hub/" + repo + "/blobs/" + blob.digest());
        // Cold, and a range first: the client streams slices of the fill from its offset.
        HttpResponse<byte[]> coldRange = Pulls.getBytes(uri, "Range", "bytes=1000-1049999");
        assertEquals(206, coldRange.statusCode());
        assertArrayEquals(Arrays.copyOfRange(all, 1000, 1_050_000), coldRange.body(), "cold range");
        HttpResponse<byte[]> whole = Pulls.getBytes(uri);
        assertEquals(200, whole.statusCode());
        assertArrayEquals(all, whole.body(), "whole blob");
        assertTrue(Pulls.await(Duration.ofSeconds(30), () -> wharf.server().store()
                .blobSize(Digest.parse(blob.digest())).isPresent()), "the blob was not committed");
        // Warm: one file region each.
        assertArrayEquals(all, Pulls.getBytes(uri).body(), "warm whole blob");
        String[][] ranges = {{"bytes=0-0", "0", "1"}, {"bytes=123456-2345678", "123456", "2345679"},
                {"bytes=-5000", String.valueOf(size - 5000), String.valueOf(size)},
                {"bytes=" + (size - 77) + "-", String.valueOf(size - 77), String.valueOf(size)}};
        for (String[] r : ranges) {
            HttpResponse<byte[]> part = Pulls.getBytes(uri, "Range", r[0]);
            assertEquals(206, part.statusCode(), r[0]);
            assertArrayEquals(Arrays.copyOfRange(all, Integer.parseInt(r[1]), Integer.parseInt(r[2])), part.body(),
                    r[0]);
        }
    }

    @Test
    void aSecondServerOnAPortInUseFailsToBindEvenWithReusePort() throws Exception {
        int port = wharves.get("epoll").server().port();
        String yaml = "listen: 127.0.0.1:" + port + "\nstorage:\n  path: " + dir.resolve("second")
                + "\ntransport: epoll\nprojects:\n  - name: hub\n    upstream: " + relay.url() + "\n";
        WharfServer second = new WharfServer(ConfigLoader.parse(yaml, "test config"));
        try {
            assertThrows(BindException.class, second::start);
        } finally {
            second.close();
        }
    }

    private static RawHttp.Response headOf(InProcessWharf wharf, String path) {
        try (Socket s = RawHttp.connect(wharf.server().port(), Duration.ofSeconds(30))) {
            RawHttp.send(s, RawHttp.request("HEAD", path, ACCEPT));
            return RawHttp.read(s.getInputStream(), true);
        } catch (java.io.IOException e) {
            throw new java.io.UncheckedIOException(e);
        }
    }

    private static long manifestRequests(String repo) {
        return log.count("GET", "/v2/" + repo + "/manifests/") + log.count("HEAD", "/v2/" + repo + "/manifests/");
    }

    private static void assertManifestHeaders(RawHttp.Response r, ImageSeeder.Image image, String connection,
                                              String what) {
        assertEquals(200, r.status(), what);
        assertEquals(MANIFEST_HEADERS, r.headers().keySet(), what);
        assertEquals(String.valueOf(image.manifest().length), r.header("content-length"), what);
        assertEquals(image.manifestDigest(), r.header("docker-content-digest"), what);
        assertEquals(ImageSeeder.OCI_MANIFEST, r.header("content-type"), what);
        assertEquals("\"" + image.manifestDigest() + "\"", r.header("etag"), what);
        assertEquals("registry/2.0", r.header("docker-distribution-api-version"), what);
        assertEquals(connection, r.header("connection"), what);
    }
}

package dev.wharf.faults;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertTrue;

import com.sun.net.httpserver.HttpExchange;
import com.sun.net.httpserver.HttpServer;
import dev.wharf.server.metrics.PrometheusText;
import dev.wharf.server.metrics.Scrapes;
import dev.wharf.testing.Fetch;
import dev.wharf.testing.InProcessWharf;
import dev.wharf.testing.Pulls;
import dev.wharf.testing.StoredBlobs;
import dev.wharf.testing.RandomBytes;
import dev.wharf.testing.WharfYaml;
import java.io.ByteArrayOutputStream;
import java.io.IOException;
import java.io.InputStream;
import java.io.OutputStream;
import java.io.UncheckedIOException;
import java.net.InetAddress;
import java.net.InetSocketAddress;
import java.net.URI;
import java.net.http.HttpRequest;
import java.net.http.HttpResponse;
import java.nio.file.Files;
import java.nio.file.Path;
import java.time.Duration;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.List;
import java.util.concurrent.CountDownLatch;
import java.util.concurrent.ExecutorService;
import java.util.concurrent.Executors;
import java.util.concurrent.Future;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.atomic.AtomicInteger;
import java.util.concurrent.atomic.AtomicReference;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.BeforeEach;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.Timeout;
import org.junit.jupiter.api.io.TempDir;

/**
 * An upstream that answers a blob GET with the wrong bytes, or cuts the body short: the client's stream is aborted,
 * nothing is committed, and the next request fetches again.
 *
 * <p>The upstream here is a fake (the JDK's com.sun.net.httpserver on 127.0.0.1), not the real registry the other
 * tests use, on purpose: a real registry verifies what it stores and will never serve bytes that do not match the
 * digest it is asked for, nor cut a body short on command. Those are exactly the faults under test (a corrupt
 * upstream cache, a proxy or network that truncates), so only a fake can produce them.
 */
@Timeout(value = 2, unit = TimeUnit.MINUTES)
class DigestMismatchTest {
    private static final int SIZE = 4 << 20;
    private static final String NAME = "faults/mismatch";

    enum Mode { WRONG, SLOW_WRONG, WRONG_LAST_BYTE_LATE, CUT, RIGHT }

    @TempDir
    Path tmp;

    private HttpServer fake;
    private final AtomicReference<Mode> mode = new AtomicReference<>(Mode.RIGHT);
    private final AtomicInteger blobGets = new AtomicInteger();
    private byte[] right;
    private byte[] wrong;
    private String digest;
    private InProcessWharf wharf;
    private Path storage;

    @BeforeEach
    void start() throws Exception {
        right = bytes(SIZE, 101);
        wrong = bytes(SIZE, 202);
        assertFalse(Arrays.equals(right, wrong));
        digest = Pulls.sha256(right);
        fake = HttpServer.create(new InetSocketAddress(InetAddress.getLoopbackAddress(), 0), 0);
        fake.setExecutor(Executors.newCachedThreadPool(r -> {
            Thread t = new Thread(r, "fake-upstream");
            t.setDaemon(true);
            return t;
        }));
        fake.createContext("/v2/", this::handle);
        fake.start();
        storage = tmp.resolve("store");
        wharf = InProcessWharf.start(storage, WharfYaml.oneProject("fake", "http://127.0.0.1:" + fake.getAddress().getPort()));
    }

    @AfterEach
    void stop() {
        if (wharf != null) {
            wharf.close();
        }
        if (fake != null) {
            fake.stop(0);
        }
    }

    private void handle(HttpExchange ex) throws IOException {
        String path = ex.getRequestURI().getPath();
        String expected = "/v2/" + NAME + "/blobs/" + digest;
        try (ex) {
            if (path.equals("/v2/") || path.equals("/v2")) {
                ex.sendResponseHeaders(200, -1);
                return;
            }
            if (!path.equals(expected)) {
                ex.sendResponseHeaders(404, -1);
                return;
            }
            ex.getResponseHeaders().set("Content-Type", "application/octet-stream");
            // The fake claims the requested digest, as a corrupt upstream cache would.
            ex.getResponseHeaders().set("Docker-Content-Digest", digest);
            if (ex.getRequestMethod().equals("HEAD")) {
                ex.getResponseHeaders().set("Content-Length", Integer.toString(SIZE));
                ex.sendResponseHeaders(200, -1);
                return;
            }
            blobGets.incrementAndGet();
            Mode m = mode.get();
            ex.sendResponseHeaders(200, SIZE);
            OutputStream out = ex.getResponseBody();
            switch (m) {
                case RIGHT -> out.write(right);
                case WRONG -> out.write(wrong);
                case SLOW_WRONG -> {
                    // Slowly enough (~0.5 s) that clients sent together all join the one fill.
                    for (int off = 0; off < SIZE; off += 256 << 10) {
                        out.write(wrong, off, 256 << 10);
                        out.flush();
                        sleep(30);
                    }
                }
                case WRONG_LAST_BYTE_LATE -> {
                    // All but the last byte at once, then a pause: a range that stops short of the end is all there
                    // long before the digest can be checked.
                    out.write(wrong, 0, SIZE - 1);
                    out.flush();
                    sleep(500);
                    out.write(wrong, SIZE - 1, 1);
                }
                case CUT -> {
                    out.write(right, 0, SIZE / 2);
                    out.flush();
                    // Closing a fixed-length body short throws "insufficient bytes written"; letting that escape the
                    // handler makes the server close the connection: the upstream cut mid-blob.
                    out.close();
                }
            }
        }
    }

    private URI blobUri() {
        return wharf.url().resolve("/v2/fake/" + NAME + "/blobs/" + digest);
    }

    @Test
    void wrongBytesAbortTheClientCommitNothingAndAreFetchedAgain() throws Exception {
        mode.set(Mode.WRONG);
        Fetch first = Pulls.get(blobUri(), null, null, Duration.ofSeconds(60));
        assertAborted(first);
        assertNothingCommitted();
        assertEquals(1, blobGets.get(), "upstream blob GETs after the first request");

        Fetch second = Pulls.get(blobUri(), null, null, Duration.ofSeconds(60));
        assertAborted(second);
        assertEquals(2, blobGets.get(), "a failed fill is not cached: the next request fetches again");
        assertNothingCommitted();
        // A real scrape counts both mismatches, and nothing passed through or stored.
        PrometheusText s = Scrapes.awaitSum(wharf, 2, "wharf_digest_mismatch_total", "project", "fake");
        assertEquals(0, s.sum("wharf_storage_blobs"), s.show("wharf_storage_blobs"));
        assertEquals(0, s.sum("wharf_passthrough_total", "project", "fake"), s.show("wharf_passthrough_total"));

        mode.set(Mode.RIGHT);
        Fetch third = Pulls.get(blobUri(), null, null, Duration.ofSeconds(60));
        assertTrue(third.clean(), third.describe());
        assertEquals(digest, third.digest());
        assertEquals(3, blobGets.get());
        assertCommitted();

        Fetch warm = Pulls.get(blobUri(), null, null, Duration.ofSeconds(60));
        assertTrue(warm.clean(), warm.describe());
        assertEquals(digest, warm.digest());
        assertEquals(3, blobGets.get(), "a committed blob is served from the store");
        s = Scrapes.awaitSum(wharf, 1, "wharf_storage_blobs");
        assertEquals(SIZE, s.sum("wharf_storage_bytes"), s.show("wharf_storage_bytes"));
        assertEquals(2, s.sum("wharf_digest_mismatch_total", "project", "fake"), "the right bytes are no mismatch");
    }

    @Test
    void aConnectionCutMidBlobAbortsTheClientCommitsNothingAndIsFetchedAgain() throws Exception {
        mode.set(Mode.CUT);
        Fetch cut = Pulls.get(blobUri(), null, null, Duration.ofSeconds(60));
        assertAborted(cut);
        assertTrue(cut.bytes() <= SIZE / 2, "at most the bytes the upstream sent reach the client: " + cut.describe());
        assertNothingCommitted();
        assertEquals(1, blobGets.get());

        mode.set(Mode.RIGHT);
        Fetch again = Pulls.get(blobUri(), null, null, Duration.ofSeconds(60));
        assertTrue(again.clean(), again.describe());
        assertEquals(digest, again.digest());
        assertEquals(2, blobGets.get(), "the request after the cut fetched the blob again");
        assertCommitted();
    }

    @Test
    void everyClientOfABadFillIsAbortedAndTheUpstreamIsAskedOnce() throws Exception {
        mode.set(Mode.SLOW_WRONG);
        int clients = 4;
        ExecutorService pool = Executors.newFixedThreadPool(clients);
        try {
            CountDownLatch go = new CountDownLatch(1);
            List<Future<Fetch>> futures = new ArrayList<>();
            for (int i = 0; i < clients; i++) {
                futures.add(pool.submit(() -> {
                    go.await();
                    return Pulls.get(blobUri(), null, null, Duration.ofSeconds(60));
                }));
            }
            go.countDown();
            for (Future<Fetch> f : futures) {
                assertAborted(Pulls.result(f, Duration.ofSeconds(60)));
            }
        } finally {
            pool.shutdownNow();
        }
        assertEquals(1, blobGets.get(), "the clients should have shared one fill");
        assertNothingCommitted();
        Scrapes.awaitSum(wharf, 1, "wharf_digest_mismatch_total", "project", "fake");

        mode.set(Mode.RIGHT);
        Fetch good = Pulls.get(blobUri(), null, null, Duration.ofSeconds(60));
        assertTrue(good.clean(), good.describe());
        assertEquals(digest, good.digest());
        assertEquals(2, blobGets.get());
        assertCommitted();
    }

    @Test
    void aColdRangeOfWrongBytesIsNeverAnsweredWithACleanPartialResponse() throws Exception {
        mode.set(Mode.WRONG_LAST_BYTE_LATE);
        // Every byte but the blob's last: before the fix the 206 ended cleanly before the digest was checked.
        Fetch range = rangeGet("bytes=0-" + (SIZE - 2));
        assertAborted(range);
        assertNothingCommitted();

        mode.set(Mode.RIGHT);
        Fetch good = rangeGet("bytes=0-" + (SIZE - 2));
        assertEquals(206, good.status(), good.describe());
        assertTrue(good.eof() && good.error() == null && good.bytes() == SIZE - 1, good.describe());
        assertEquals(Pulls.sha256(Arrays.copyOf(right, SIZE - 1)), good.digest());
        assertCommitted();
    }

    /** A GET of the blob with a {@code Range} header, read to the end or to the error that cuts it short. */
    private Fetch rangeGet(String range) throws InterruptedException {
        long start = System.nanoTime();
        HttpRequest request = HttpRequest.newBuilder(blobUri()).timeout(Duration.ofSeconds(60))
                .header("Range", range).GET().build();
        HttpResponse<InputStream> response;
        try {
            response = Pulls.HTTP.send(request, HttpResponse.BodyHandlers.ofInputStream());
        } catch (IOException e) {
            return new Fetch(-1, -1, 0, null, false, e.toString(), start, 0, System.nanoTime(), null);
        }
        long length = response.headers().firstValueAsLong("content-length").orElse(-1);
        ByteArrayOutputStream body = new ByteArrayOutputStream();
        String error = null;
        boolean eof = false;
        try (InputStream in = response.body()) {
            in.transferTo(body);
            eof = true;
        } catch (IOException e) {
            error = e.toString();
        }
        byte[] got = body.toByteArray();
        return new Fetch(response.statusCode(), length, got.length, Pulls.sha256(got), eof, error, start, 0,
                System.nanoTime(), response.headers());
    }

    /** The client must not see a complete, clean response: an IOException or fewer bytes than Content-Length. */
    private static void assertAborted(Fetch f) {
        boolean wholeAndClean = f.eof() && f.error() == null && f.contentLength() >= 0 && f.bytes() == f.contentLength();
        assertFalse(wholeAndClean, "the client received a complete, clean response for a bad blob: " + f.describe());
        assertTrue(f.error() != null || f.bytes() < f.contentLength() || f.status() >= 500,
                "the client was neither cut off nor given an error: " + f.describe());
    }

    private void assertNothingCommitted() throws InterruptedException {
        Pulls.assertNoOpenFilesUnder(ProcessHandle.current().pid(), storage, "after a failed fill");
        Path tmpDir = storage.resolve("tmp");
        boolean tmpEmpty = Pulls.await(Duration.ofSeconds(5), () -> Pulls.files(tmpDir).isEmpty());
        assertTrue(tmpEmpty, "tmp/ still holds " + Pulls.files(tmpDir));
        List<Path> blobs = Pulls.files(storage.resolve("blobs"));
        assertTrue(blobs.isEmpty(), "a bad blob was committed: " + blobs);
        assertFalse(Files.exists(Pulls.blobFile(storage, digest)));
    }

    private void assertCommitted() throws Exception {
        Path committed = Pulls.blobFile(storage, digest);
        StoredBlobs.await(storage, digest); // the commit follows the client's last byte
        assertEquals(digest, Pulls.sha256(Files.readAllBytes(committed)));
        assertTrue(Pulls.await(Duration.ofSeconds(5), () -> Pulls.files(storage.resolve("tmp")).isEmpty()),
                "tmp/ still holds " + Pulls.files(storage.resolve("tmp")));
        Pulls.assertNoOpenFilesUnder(ProcessHandle.current().pid(), storage, "after a committed fill");
    }

    private static void sleep(long millis) {
        try {
            Thread.sleep(millis);
        } catch (InterruptedException e) {
            Thread.currentThread().interrupt();
        }
    }

    private static byte[] bytes(int size, long seed) {
        ByteArrayOutputStream out = new ByteArrayOutputStream(size);
        try {
            RandomBytes.write(out, size, seed);
        } catch (IOException e) {
            throw new UncheckedIOException(e);
        }
        return out.toByteArray();
    }
}

package dev.wharf.storage.fill;

import static dev.wharf.storage.fill.FillTesting.WAIT_SECONDS;
import static dev.wharf.storage.fill.FillTesting.randomBytes;
import static dev.wharf.storage.fill.FillTesting.read;
import static dev.wharf.storage.fill.FillTesting.regularFilesUnder;
import static dev.wharf.storage.fill.FillTesting.sha256;
import static dev.wharf.storage.fill.FillTesting.write;
import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertInstanceOf;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import dev.wharf.storage.ContentStore;
import dev.wharf.storage.Digest;
import dev.wharf.storage.DigestMismatchException;
import java.io.IOException;
import java.nio.ByteBuffer;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.List;
import java.util.concurrent.ExecutionException;
import java.util.concurrent.ExecutorService;
import java.util.concurrent.Executors;
import java.util.concurrent.Future;
import java.util.concurrent.RejectedExecutionException;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.atomic.AtomicReference;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.BeforeEach;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.Timeout;
import org.junit.jupiter.api.io.TempDir;

/**
 * {@link BlobFill#verified()}: a client's last byte waits for the digest only, and the fsync and rename come after
 * it; a mismatch still fails it; the hash executor's rejection fails the fill cleanly.
 */
@Timeout(value = 60, unit = TimeUnit.SECONDS)
class FillVerificationTest {
    @TempDir
    Path root;
    ContentStore store;
    ExecutorService io;
    ExecutorService hashing;
    ExecutorService clients;

    @BeforeEach
    void setUp() throws IOException {
        store = new ContentStore(root);
        io = Executors.newFixedThreadPool(2);
        hashing = Executors.newSingleThreadExecutor();
        clients = Executors.newCachedThreadPool();
    }

    @AfterEach
    void tearDown() throws InterruptedException {
        for (ExecutorService e : List.of(clients, io, hashing)) {
            e.shutdownNow();
            assertTrue(e.awaitTermination(WAIT_SECONDS, TimeUnit.SECONDS));
        }
    }

    @Test
    void verifiedCompletesBeforeTheBlobIsCommittedAndResultAfter() throws Exception {
        byte[] content = randomBytes(31, 5 * 1024 * 1024 + 7);
        Digest digest = sha256(content);
        Fills fills = new Fills(store, io, hashing, null);
        BlobFill fill = fills.acquire(digest).fill();
        // What the store looks like at the moment the last byte may go: every byte readable, nothing committed yet.
        AtomicReference<String> seen = new AtomicReference<>();
        fill.verified().whenComplete((size, err) -> seen.set(err != null ? "failed: " + err
                : "size=" + size + " available=" + fill.available() + " committed=" + Files.exists(store.blobPath(digest))
                + " stored=" + store.blobSize(digest).isPresent() + " resultDone=" + fill.result().isDone()));
        Future<byte[]> reader = clients.submit(() -> read(fill, 65536, 0));
        FillTesting.Releases releases = new FillTesting.Releases();
        write(fill, content, content.length, 300_000, 32, releases);

        assertEquals((long) content.length, fill.verified().get(WAIT_SECONDS, TimeUnit.SECONDS));
        assertEquals(store.blobPath(digest), fill.result().get(WAIT_SECONDS, TimeUnit.SECONDS));
        assertEquals("size=" + content.length + " available=" + content.length
                + " committed=false stored=false resultDone=false", seen.get());
        assertArrayEquals(content, reader.get(WAIT_SECONDS, TimeUnit.SECONDS));
        assertEquals(digest, sha256(store.blobPath(digest)));
        assertEquals(List.of(), regularFilesUnder(root.resolve("tmp")));
        releases.assertEachReleasedExactlyOnce();
    }

    @Test
    void aMismatchFailsVerifiedAndCommitsNothing() throws Exception {
        byte[] content = randomBytes(33, 2 * 1024 * 1024);
        Digest digest = sha256(randomBytes(34, content.length)); // asked for; the "upstream" sends content
        Fills fills = new Fills(store, io, hashing, null);
        BlobFill fill = fills.acquire(digest).fill();
        FillTesting.Releases releases = new FillTesting.Releases();
        write(fill, content, content.length, 200_000, 35, releases);

        ExecutionException e = assertThrows(ExecutionException.class,
                () -> fill.verified().get(WAIT_SECONDS, TimeUnit.SECONDS));
        assertInstanceOf(DigestMismatchException.class, e.getCause());
        assertInstanceOf(DigestMismatchException.class,
                assertThrows(ExecutionException.class, () -> fill.result().get(WAIT_SECONDS, TimeUnit.SECONDS))
                        .getCause());
        assertEquals(BlobFill.State.FAILED, fill.state());
        assertEquals(List.of(), regularFilesUnder(root.resolve("blobs")));
        assertEquals(List.of(), regularFilesUnder(root.resolve("tmp")));
        releases.assertEachReleasedExactlyOnce();
    }

    @Test
    void aFillOfAStoredBlobIsVerifiedAtOnce() throws Exception {
        byte[] content = randomBytes(36, 1000);
        Digest digest = sha256(content);
        store.putSmall(digest, content);
        BlobFill committed = new Fills(store, io, hashing, null).acquire(digest).fill();
        assertEquals(BlobFill.State.COMMITTED, committed.state());
        assertEquals(1000L, committed.verified().getNow(-1L));
    }

    @Test
    void aRejectingHashExecutorFailsTheFillWithoutLeaks() throws Exception {
        Fills fills = new Fills(store, io, task -> {
            throw new RejectedExecutionException("shut down");
        }, null);
        byte[] content = randomBytes(37, 10);
        Digest digest = sha256(content);
        BlobFill fill = fills.acquire(digest).fill();
        FillTesting.Releases releases = new FillTesting.Releases();
        fill.begin(10);
        fill.offer(ByteBuffer.wrap(content, 0, 5), releases.track());
        fill.offer(ByteBuffer.wrap(content, 5, 5), releases.track());
        fill.complete();

        assertEquals(BlobFill.State.FAILED, fill.state());
        Throwable cause = assertThrows(ExecutionException.class,
                () -> fill.verified().get(WAIT_SECONDS, TimeUnit.SECONDS)).getCause();
        assertInstanceOf(RejectedExecutionException.class, cause.getCause());
        assertThrows(ExecutionException.class, () -> fill.result().get(WAIT_SECONDS, TimeUnit.SECONDS));
        FillTesting.awaitTrue(() -> releases.released() == 2, "both chunks released");
        releases.assertEachReleasedExactlyOnce();
        FillTesting.awaitTrue(() -> fills.inFlight() == 0, "the fill left Fills");
        assertEquals(List.of(), regularFilesUnder(root.resolve("tmp")));
        assertFalse(store.blobSize(digest).isPresent());
    }
}

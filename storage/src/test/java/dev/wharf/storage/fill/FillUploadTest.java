package dev.wharf.storage.fill;

import static dev.wharf.storage.fill.FillTesting.WAIT_SECONDS;
import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertNull;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import dev.wharf.storage.ContentStore;
import dev.wharf.storage.Digest;
import dev.wharf.storage.DigestMismatchException;
import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.ExecutionException;
import java.util.concurrent.ExecutorService;
import java.util.concurrent.Executors;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.atomic.AtomicBoolean;
import java.util.concurrent.atomic.AtomicLong;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.BeforeEach;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.Timeout;
import org.junit.jupiter.api.io.TempDir;

/**
 * A fill with an upload to the shared store (the S3 tier's seam, {@link BlobUploads}): the upload sees the bytes as
 * they are written, is completed only after the digest matched, the local commit waits for it, a failed upload turns
 * the fill into a pass-through (delivered, not stored), and a mismatch aborts it. The upload here is a recording
 * stand-in: what it records is the fill's side of the contract; the S3 side runs against SeaweedFS in the server's
 * S3StorageTest.
 */
@Timeout(value = 60, unit = TimeUnit.SECONDS)
class FillUploadTest {
    @TempDir
    Path root;
    ContentStore store;
    ExecutorService io;

    /** Records the calls; {@code complete} answers with {@link #answer}. */
    static final class Recording implements BlobUpload {
        final AtomicLong written = new AtomicLong();
        final AtomicBoolean aborted = new AtomicBoolean();
        volatile long completedWith = -1;
        final CompletableFuture<Void> answer = new CompletableFuture<>();

        @Override
        public void written(long bytes) {
            written.set(bytes);
        }

        @Override
        public CompletableFuture<Void> complete(long size) {
            completedWith = size;
            return answer;
        }

        @Override
        public void abort() {
            aborted.set(true);
        }
    }

    @BeforeEach
    void setUp() throws IOException {
        store = new ContentStore(root);
        io = Executors.newFixedThreadPool(2);
    }

    @AfterEach
    void tearDown() {
        io.shutdownNow();
    }

    private BlobFill start(Recording upload, Digest digest) {
        Fills fills = new Fills(store, io, null, (d, temp) -> upload);
        Fills.Acquired acquired = fills.acquire(digest);
        assertTrue(acquired.started());
        return acquired.fill();
    }

    @Test
    void theLocalCommitWaitsForTheUploadToComplete() throws Exception {
        byte[] content = FillTesting.randomBytes(1, 3 << 20);
        Digest digest = FillTesting.sha256(content);
        Recording upload = new Recording();
        BlobFill fill = start(upload, digest);
        FillTesting.write(fill, content, content.length, 64 << 10, 2, new FillTesting.Releases());
        FillTesting.awaitTrue(() -> upload.completedWith == content.length, "complete called with the size");
        assertEquals(content.length, upload.written.get(), "the upload saw every byte written");
        Thread.sleep(200);
        assertFalse(fill.result().isDone(), "committed before the upload completed");
        assertTrue(store.blobSize(digest).isEmpty());
        upload.answer.complete(null);
        assertEquals(store.blobPath(digest), fill.result().get(WAIT_SECONDS, TimeUnit.SECONDS));
        assertArrayEquals(content, Files.readAllBytes(store.blobPath(digest)));
        assertFalse(upload.aborted.get());
    }

    @Test
    void aFailedUploadDeliversTheBlobWithoutStoringIt() throws Exception {
        byte[] content = FillTesting.randomBytes(3, 1 << 20);
        Digest digest = FillTesting.sha256(content);
        Recording upload = new Recording();
        upload.answer.completeExceptionally(new IOException("S3 is down"));
        BlobFill fill = start(upload, digest);
        BlobFill.Reader reader = fill.newReader();
        FillTesting.write(fill, content, content.length, 64 << 10, 4, new FillTesting.Releases());
        assertNull(fill.result().get(WAIT_SECONDS, TimeUnit.SECONDS), "passed through, not stored");
        assertEquals(BlobFill.State.PASSED_THROUGH, fill.state());
        assertArrayEquals(content, FillTesting.read(fill, reader, 8192, 0, new FillTesting.Sources()));
        assertTrue(store.blobSize(digest).isEmpty());
        assertFalse(Files.exists(store.blobPath(digest)));
    }

    @Test
    void aDigestMismatchAbortsTheUploadAndNeverCompletesIt() throws Exception {
        byte[] content = FillTesting.randomBytes(5, 2 << 20);
        Digest claimed = FillTesting.sha256(FillTesting.randomBytes(6, 16));
        Recording upload = new Recording();
        BlobFill fill = start(upload, claimed);
        FillTesting.write(fill, content, content.length, 64 << 10, 7, new FillTesting.Releases());
        ExecutionException e = assertThrows(ExecutionException.class,
                () -> fill.result().get(WAIT_SECONDS, TimeUnit.SECONDS));
        assertTrue(e.getCause() instanceof DigestMismatchException, e.toString());
        FillTesting.awaitTrue(upload.aborted::get, "the upload aborted");
        assertEquals(-1, upload.completedWith, "an unverified blob was completed");
    }
}

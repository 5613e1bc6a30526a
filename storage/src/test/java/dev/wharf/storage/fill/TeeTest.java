package dev.wharf.storage.fill;

import static dev.wharf.storage.fill.FillTesting.WAIT_SECONDS;
import static dev.wharf.storage.fill.FillTesting.awaitTrue;
import static dev.wharf.storage.fill.FillTesting.randomBytes;
import static dev.wharf.storage.fill.FillTesting.sha256;
import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertNotNull;
import static org.junit.jupiter.api.Assertions.assertNull;
import static org.junit.jupiter.api.Assertions.assertTrue;

import dev.wharf.storage.ContentStore;
import dev.wharf.storage.Digest;
import java.io.IOException;
import java.nio.ByteBuffer;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.Arrays;
import java.util.concurrent.ExecutorService;
import java.util.concurrent.Executors;
import java.util.concurrent.TimeUnit;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.BeforeEach;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.Timeout;
import org.junit.jupiter.api.io.TempDir;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.ValueSource;

/**
 * The stream-tee ({@link TeeWindow}): clients are served from memory while the fill writes the same blocks with
 * direct I/O. The temp directory must be on a file system that takes direct I/O (ext4, xfs, btrfs): the first test
 * fails otherwise, since then only the page-cache path would be tested.
 */
@Timeout(value = 120, unit = TimeUnit.SECONDS)
class TeeTest {
    private static final int BLOCK = TeeBlocks.BLOCK;

    @TempDir
    Path root;
    ContentStore store;
    ExecutorService io;
    ExecutorService hashing;

    @BeforeEach
    void setUp() throws IOException {
        store = new ContentStore(root);
        io = Executors.newFixedThreadPool(2);
        hashing = Executors.newFixedThreadPool(2);
    }

    @AfterEach
    void tearDown() throws InterruptedException {
        io.shutdownNow();
        hashing.shutdownNow();
        assertTrue(io.awaitTermination(WAIT_SECONDS, TimeUnit.SECONDS));
        assertTrue(hashing.awaitTermination(WAIT_SECONDS, TimeUnit.SECONDS));
    }

    private BlobFill fill(Digest digest, TeeBlocks blocks) throws IOException {
        return new BlobFill(digest, store, io, hashing, store.newTempFile(), f -> { }, null, blocks);
    }

    private static void offer(BlobFill fill, byte[] content, int from, int to) {
        ByteBuffer chunk = ByteBuffer.allocateDirect(to - from);
        chunk.put(content, from, to - from).flip();
        fill.offer(chunk, () -> { });
    }

    /** Offers {@code content} in 64 KiB chunks, ignoring backpressure (the test's blobs are small). */
    private static void writeAll(BlobFill fill, byte[] content) {
        fill.begin(content.length);
        for (int at = 0; at < content.length; at += 64 << 10) {
            offer(fill, content, at, Math.min(content.length, at + (64 << 10)));
        }
        fill.complete();
    }

    @Test
    void theNewestBytesAreServedFromMemoryBeforeTheyReachTheFile() throws Exception {
        byte[] content = randomBytes(1, 3 * BLOCK + 123);
        Digest digest = sha256(content);
        TeeBlocks blocks = new TeeBlocks(16L * BLOCK);
        BlobFill fill = fill(digest, blocks);
        BlobFill.Reader reader = fill.newReader();
        fill.begin(content.length);
        offer(fill, content, 0, 100_000);
        awaitTrue(() -> fill.available() == 100_000, "the first chunk to be readable");
        // A partial block is written only when it fills or the body ends: these bytes are in memory alone.
        assertEquals(0, reader.fileLimit(), "nothing is in the file yet");
        assertEquals(0, Files.size(fill.temp), "the temp file is still empty");
        BlobFill.Held held = reader.recent(0, 1 << 20);
        assertNotNull(held, "the tee holds the bytes");
        byte[] got = new byte[held.data().remaining()];
        held.data().get(got);
        held.release();
        assertArrayEquals(Arrays.copyOf(content, 100_000), got);

        offer(fill, content, 100_000, content.length);
        fill.complete();
        FillTesting.Sources sources = new FillTesting.Sources();
        assertArrayEquals(content, FillTesting.read(fill, reader, 256 << 10, 0, sources));
        assertEquals(store.blobPath(digest), fill.result().get(WAIT_SECONDS, TimeUnit.SECONDS));
        assertArrayEquals(content, Files.readAllBytes(store.blobPath(digest)));
        assertEquals(content.length, sources.fromMemory, "a reader that kept up never touched the file");
        awaitTrue(() -> blocks.freeBlocks() * (long) BLOCK == blocks.allocated(), "every block back in the pool");
    }

    @ParameterizedTest
    @ValueSource(ints = {1, 511, 4095, 4096, 4097, BLOCK - 1, BLOCK, BLOCK + 1, 2 * BLOCK + 4096 + 7})
    void everySizeIsStoredWholeAroundTheAlignments(int size) throws Exception {
        byte[] content = randomBytes(size, size);
        Digest digest = sha256(content);
        TeeBlocks blocks = new TeeBlocks(16L * BLOCK);
        BlobFill fill = fill(digest, blocks);
        BlobFill.Reader reader = fill.newReader();
        writeAll(fill, content);
        assertArrayEquals(content, FillTesting.read(fill, reader, 8192, 0, new FillTesting.Sources()));
        assertEquals(store.blobPath(digest), fill.result().get(WAIT_SECONDS, TimeUnit.SECONDS));
        assertEquals(size, Files.size(store.blobPath(digest)));
        assertArrayEquals(content, Files.readAllBytes(store.blobPath(digest)));
    }

    @Test
    void aReaderFarBehindNeverHoldsTheUpstreamBackAndReadsTheFile() throws Exception {
        byte[] content = randomBytes(2, 24 * BLOCK + 5);
        Digest digest = sha256(content);
        TeeBlocks blocks = new TeeBlocks(16L * BLOCK);
        BlobFill fill = fill(digest, blocks);
        BlobFill.Reader idle = fill.newReader(); // registered at 0, reads nothing until the fill is committed
        writeAll(fill, content);
        assertEquals(store.blobPath(digest), fill.result().get(WAIT_SECONDS, TimeUnit.SECONDS),
                "the fill committed with a reader still at 0");
        synchronized (fill.lock) {
            assertTrue(fill.tee.sizeLocked() <= TeeWindow.CAP / BLOCK, "the window kept to its cap");
        }
        FillTesting.Sources sources = new FillTesting.Sources();
        assertArrayEquals(content, FillTesting.read(fill, idle, 64 << 10, 0, sources));
        assertTrue(sources.fromFile >= content.length - TeeWindow.CAP,
                "the bytes the window dropped came from the file: " + sources.fromFile);
        awaitTrue(() -> blocks.freeBlocks() * (long) BLOCK == blocks.allocated(), "every block back in the pool");
    }

    @Test
    void bytesLentToAClientAreNeverReusedBeforeItLetsGo() throws Exception {
        TeeBlocks blocks = new TeeBlocks(12L * BLOCK);
        byte[] first = randomBytes(3, 2 * BLOCK);
        BlobFill one = fill(sha256(first), blocks);
        BlobFill.Reader reader = one.newReader();
        one.begin(first.length);
        offer(one, first, 0, first.length);
        awaitTrue(() -> one.available() == first.length, "the first fill's bytes");
        BlobFill.Held held = reader.recent(0, BLOCK);
        assertNotNull(held);
        reader.advance(first.length); // the reader is past it: the window drops block 0, the lent bytes stay
        one.complete();
        one.result().get(WAIT_SECONDS, TimeUnit.SECONDS);
        reader.close();
        // Other fills take every block the pool can give; none of them may be the lent one.
        for (int i = 0; i < 3; i++) {
            byte[] other = randomBytes(10 + i, 4 * BLOCK);
            BlobFill f = fill(sha256(other), blocks);
            writeAll(f, other);
            f.result().get(WAIT_SECONDS, TimeUnit.SECONDS);
        }
        byte[] got = new byte[held.data().remaining()];
        held.data().duplicate().get(got);
        assertArrayEquals(Arrays.copyOf(first, BLOCK), got, "the lent block was overwritten");
        held.release();
        awaitTrue(() -> blocks.freeBlocks() * (long) BLOCK == blocks.allocated(), "every block back in the pool");
    }

    @Test
    void aSpentPoolSendsTheRestThroughThePageCache() throws Exception {
        TeeBlocks blocks = new TeeBlocks(2L * BLOCK);
        byte[] content = randomBytes(4, 6 * BLOCK + 99);
        Digest digest = sha256(content);
        BlobFill fill = fill(digest, blocks);
        BlobFill.Reader idle = fill.newReader(); // holds the window's blocks until the cap: the pool runs out
        writeAll(fill, content);
        assertEquals(store.blobPath(digest), fill.result().get(WAIT_SECONDS, TimeUnit.SECONDS));
        assertTrue(blocks.allocated() <= 2L * BLOCK, "the pool kept to its budget: " + blocks.allocated());
        assertArrayEquals(content, FillTesting.read(fill, idle, 64 << 10, 0, new FillTesting.Sources()));
        assertArrayEquals(content, Files.readAllBytes(store.blobPath(digest)));
    }

    @Test
    void withoutBlocksEveryByteIsInTheFileBeforeItIsReadable() throws Exception {
        byte[] content = randomBytes(5, 3 * BLOCK + 1);
        Digest digest = sha256(content);
        BlobFill fill = fill(digest, null);
        assertNull(fill.tee);
        BlobFill.Reader reader = fill.newReader();
        writeAll(fill, content);
        FillTesting.Sources sources = new FillTesting.Sources();
        assertArrayEquals(content, FillTesting.read(fill, reader, 64 << 10, 0, sources));
        assertEquals(0, sources.fromMemory);
        assertEquals(content.length, sources.fromFile);
    }

}

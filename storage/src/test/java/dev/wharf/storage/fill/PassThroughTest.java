package dev.wharf.storage.fill;

import static dev.wharf.storage.fill.FillTesting.WAIT_SECONDS;
import static dev.wharf.storage.fill.FillTesting.awaitTrue;
import static dev.wharf.storage.fill.FillTesting.randomBytes;
import static dev.wharf.storage.fill.FillTesting.regularFilesUnder;
import static dev.wharf.storage.fill.FillTesting.sha256;
import static dev.wharf.storage.fill.FillTesting.write;
import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertInstanceOf;
import static org.junit.jupiter.api.Assertions.assertNotNull;
import static org.junit.jupiter.api.Assertions.assertNotSame;
import static org.junit.jupiter.api.Assertions.assertNull;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;
import static org.junit.jupiter.api.Assertions.fail;

import dev.wharf.storage.ContentStore;
import dev.wharf.storage.Digest;
import dev.wharf.storage.DigestMismatchException;
import dev.wharf.storage.StorageFullException;
import dev.wharf.storage.StoreListener;
import java.io.ByteArrayOutputStream;
import java.io.IOException;
import java.nio.ByteBuffer;
import java.nio.channels.FileChannel;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;
import java.util.concurrent.CountDownLatch;
import java.util.concurrent.ExecutionException;
import java.util.concurrent.ExecutorService;
import java.util.concurrent.Executors;
import java.util.concurrent.Future;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.locks.LockSupport;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.BeforeEach;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.Timeout;
import org.junit.jupiter.api.io.TempDir;

/**
 * Disk full: a fill whose writes fail for lack of space passes its bytes through memory to every client that was
 * reading it, stores nothing, leaves no temp file, and is counted. The store's hard capacity stands in for ENOSPC
 * here (the server's integration test uses a real tmpfs).
 */
@Timeout(value = 120, unit = TimeUnit.SECONDS)
class PassThroughTest {
    @TempDir
    Path root;
    ContentStore store;
    ExecutorService io;
    ExecutorService clients;
    List<Digest> passed = new ArrayList<>();

    @BeforeEach
    void setUp() throws IOException {
        store = new ContentStore(root);
        store.addListener(new StoreListener() {
            @Override
            public void passedThrough(Digest digest, Throwable cause) {
                synchronized (passed) {
                    passed.add(digest);
                }
            }
        });
        io = Executors.newFixedThreadPool(4);
        clients = Executors.newCachedThreadPool();
    }

    @AfterEach
    void tearDown() throws InterruptedException {
        clients.shutdownNow();
        io.shutdownNow();
        assertTrue(clients.awaitTermination(WAIT_SECONDS, TimeUnit.SECONDS));
        assertTrue(io.awaitTermination(WAIT_SECONDS, TimeUnit.SECONDS));
    }

    /**
     * Reads a fill as FillStream does: the file below the reader's fileLimit, memory above it (available() read
     * before fileLimit()), advancing as it goes, closing the reader at the end. Throws the fill's failure.
     */
    static byte[] readThrough(BlobFill fill, BlobFill.Reader reader, int bufferSize, long pauseNanos)
            throws Exception {
        try (reader) {
            long size = fill.size().get(WAIT_SECONDS, TimeUnit.SECONDS);
            ByteArrayOutputStream out = new ByteArrayOutputStream();
            long deadline = System.nanoTime() + TimeUnit.SECONDS.toNanos(WAIT_SECONDS);
            FileChannel channel = null;
            try {
                long pos = 0;
                while (pos < size) {
                    if (System.nanoTime() > deadline) {
                        fail("reader timed out at " + pos + " of " + size);
                    }
                    long available = fill.available();
                    long fileLimit = reader.fileLimit();
                    if (available > pos) {
                        int n;
                        if (pos < fileLimit) {
                            if (channel == null) {
                                channel = fill.openReader();
                            }
                            ByteBuffer buffer = ByteBuffer.allocate(
                                    (int) Math.min(bufferSize, Math.min(available, fileLimit) - pos));
                            n = channel.read(buffer, pos);
                            if (n <= 0) {
                                fail("read " + n + " at " + pos + " below the file limit " + fileLimit);
                            }
                            out.write(buffer.array(), 0, n);
                        } else {
                            ByteBuffer b = reader.memory(pos, (int) Math.min(bufferSize, available - pos));
                            n = b.remaining();
                            byte[] bytes = new byte[n];
                            b.get(bytes);
                            out.write(bytes);
                        }
                        pos += n;
                        reader.advance(pos);
                        if (pauseNanos > 0) {
                            LockSupport.parkNanos(pauseNanos);
                        }
                    } else {
                        CountDownLatch woken = new CountDownLatch(1);
                        fill.whenAvailable(pos, woken::countDown);
                        assertTrue(woken.await(WAIT_SECONDS, TimeUnit.SECONDS), "whenAvailable never called back");
                        if (fill.available() <= pos) {
                            assertTrue(fill.result().isDone(), "woken with nothing new and not done");
                            fill.result().get();
                            fail("ended with " + fill.available() + " bytes but size was " + size);
                        }
                    }
                }
                fill.result().get(WAIT_SECONDS, TimeUnit.SECONDS);
                return out.toByteArray();
            } finally {
                if (channel != null) {
                    channel.close();
                }
            }
        }
    }

    @Test
    void aFillThatRunsOutOfSpaceMidwayPassesTheRestThroughToEveryReader() throws Exception {
        byte[] content = randomBytes(101, 24 << 20);
        Digest digest = sha256(content);
        store.setCapacityLimit(5 << 20); // the first ~5 MiB fit, the rest does not
        Fills fills = new Fills(store, io);
        Fills.Acquired acquired = fills.acquire(digest);
        assertTrue(acquired.started());
        BlobFill fill = acquired.fill();
        List<Future<byte[]>> readers = new ArrayList<>();
        long[] pauses = {0, 20_000, 200_000};
        for (long pause : pauses) {
            BlobFill.Reader reader = fill.newReader();
            assertNotNull(reader);
            readers.add(clients.submit(() -> readThrough(fill, reader, 64 << 10, pause)));
        }
        FillTesting.Releases releases = new FillTesting.Releases();
        Future<?> writer = clients.submit(() -> {
            write(fill, content, content.length, 256 << 10, 7, releases);
            return null;
        });

        for (Future<byte[]> r : readers) {
            assertArrayEquals(content, r.get(WAIT_SECONDS, TimeUnit.SECONDS), "a reader got different bytes");
        }
        writer.get(WAIT_SECONDS, TimeUnit.SECONDS);
        assertNull(fill.result().get(WAIT_SECONDS, TimeUnit.SECONDS), "passed through: no committed path");
        assertEquals(BlobFill.State.PASSED_THROUGH, fill.state());
        assertTrue(fill.isPassThrough());
        releases.assertEachReleasedExactlyOnce();
        assertEquals(1, store.passThroughCount());
        assertEquals(List.of(digest), passed);
        assertTrue(store.blobSize(digest).isEmpty(), "nothing is stored");
        assertEquals(List.of(), regularFilesUnder(root.resolve("blobs")), "nothing under blobs/");
        awaitTrue(() -> regularFilesUnder0(root.resolve("tmp")).isEmpty(), "temp file removed after the last reader");
        assertEquals(0, store.pendingBytes(), "claimed space returned");
        assertEquals(0, fills.inFlight());
    }

    @Test
    void aFillThatCannotCreateItsTempFileForLackOfSpacePassesThroughForItsStarterAlone() throws Exception {
        byte[] small = randomBytes(102, 1000);
        store.putSmall(sha256(small), small);
        store.setCapacityLimit(1000); // full
        byte[] content = randomBytes(103, 3 << 20);
        Digest digest = sha256(content);
        Fills fills = new Fills(store, io);
        Fills.Acquired acquired = fills.acquire(digest);
        assertTrue(acquired.started(), "the starter drives the upstream");
        BlobFill fill = acquired.fill();
        assertTrue(fill.isPassThrough());
        assertEquals(0, fills.inFlight(), "a pass-through from the start is not joinable");
        BlobFill.Reader reader = fill.newReader();
        assertNotNull(reader);
        assertEquals(0, reader.fileLimit());
        Future<byte[]> read = clients.submit(() -> readThrough(fill, reader, 32 << 10, 0));
        write(fill, content, content.length, 64 << 10, 8, new FillTesting.Releases());
        assertArrayEquals(content, read.get(WAIT_SECONDS, TimeUnit.SECONDS));
        assertEquals(BlobFill.State.PASSED_THROUGH, fill.state());
        assertEquals(1, store.passThroughCount());
        assertEquals(List.of(), regularFilesUnder(root.resolve("tmp")));
        assertTrue(store.blobSize(digest).isEmpty());
    }

    @Test
    void afterTheSwitchNoOneJoinsAndTheNextRequestStartsItsOwnTransfer() throws Exception {
        byte[] content = randomBytes(104, 4 << 20);
        Digest digest = sha256(content);
        store.setCapacityLimit(1 << 20);
        Fills fills = new Fills(store, io);
        BlobFill fill = fills.acquire(digest).fill();
        BlobFill.Reader reader = fill.newReader();
        Future<byte[]> read = clients.submit(() -> readThrough(fill, reader, 64 << 10, 0));
        CountDownLatch writable = new CountDownLatch(1);
        fill.begin(content.length);
        // 2 MiB: past the capacity, so the fill has switched once these are appended.
        fill.offer(ByteBuffer.wrap(content, 0, 2 << 20), () -> { });
        awaitTrue(fill::isPassThrough, "switch to pass-through");
        assertNull(fill.newReader(), "a pass-through that streamed bytes cannot be joined");
        Fills.Acquired next = fills.acquire(digest);
        assertTrue(next.started(), "the next request starts its own transfer");
        assertNotSame(fill, next.fill());
        next.fill().fail(new IOException("test over"));
        fill.offer(ByteBuffer.wrap(content, 2 << 20, content.length - (2 << 20)), writable::countDown);
        fill.complete();
        assertArrayEquals(content, read.get(WAIT_SECONDS, TimeUnit.SECONDS));
        assertTrue(writable.await(WAIT_SECONDS, TimeUnit.SECONDS));
    }

    @Test
    void aDigestMismatchInPassThroughFailsTheReadersAndLeavesNothing() throws Exception {
        byte[] content = randomBytes(105, 3 << 20);
        Digest wrong = sha256(randomBytes(106, 10));
        store.setCapacityLimit(1 << 20);
        Fills fills = new Fills(store, io);
        BlobFill fill = fills.acquire(wrong).fill();
        BlobFill.Reader reader = fill.newReader();
        Future<byte[]> read = clients.submit(() -> readThrough(fill, reader, 64 << 10, 0));
        write(fill, content, content.length, 128 << 10, 9, new FillTesting.Releases());
        assertThrows(ExecutionException.class, () -> read.get(WAIT_SECONDS, TimeUnit.SECONDS),
                "the reader must see the failure");
        assertInstanceOf(DigestMismatchException.class, failure(fill));
        assertEquals(BlobFill.State.FAILED, fill.state());
        awaitTrue(() -> regularFilesUnder0(root.resolve("tmp")).isEmpty(), "temp file removed");
        assertEquals(List.of(), regularFilesUnder(root.resolve("blobs")));
        assertEquals(0, store.pendingBytes());
    }

    @Test
    void inPassThroughTheWriterWaitsForTheSlowestReaderSoMemoryStaysBounded() throws Exception {
        byte[] content = randomBytes(107, 40 << 20);
        Digest digest = sha256(content);
        store.setCapacityLimit(1); // nothing fits: everything goes through memory
        Fills fills = new Fills(store, io);
        BlobFill fill = fills.acquire(digest).fill();
        BlobFill.Reader fast = fill.newReader();
        BlobFill.Reader stuck = fill.newReader();
        CountDownLatch writable = new CountDownLatch(1);
        fill.onWritable(writable::countDown);
        fill.begin(content.length);
        Future<byte[]> fastRead = clients.submit(() -> readThrough(fill, fast, 256 << 10, 0));
        int pos = 0;
        boolean paused = false;
        while (pos < content.length) {
            int n = Math.min(1 << 20, content.length - pos);
            if (!fill.offer(ByteBuffer.wrap(content, pos, n), () -> { })) {
                paused = true;
                pos += n;
                break;
            }
            pos += n;
        }
        assertTrue(paused, "the writer was never paused though one reader reads nothing");
        assertTrue(pos <= BlobFill.HIGH_WATER + (2 << 20), "offered " + pos + " bytes before the pause");
        Thread.sleep(200);
        assertEquals(1, writable.getCount(), "resumed while the stuck reader still holds the window");
        stuck.close(); // the slow client goes away: the window follows the fast one alone
        assertTrue(writable.await(WAIT_SECONDS, TimeUnit.SECONDS), "never resumed after the stuck reader left");
        while (pos < content.length) {
            int n = Math.min(1 << 20, content.length - pos);
            CountDownLatch w = new CountDownLatch(1);
            fill.onWritable(w::countDown);
            boolean more = fill.offer(ByteBuffer.wrap(content, pos, n), () -> { });
            pos += n;
            if (!more) {
                assertTrue(w.await(WAIT_SECONDS, TimeUnit.SECONDS), "never resumed");
            }
        }
        fill.complete();
        assertArrayEquals(content, fastRead.get(WAIT_SECONDS, TimeUnit.SECONDS));
        assertEquals(BlobFill.State.PASSED_THROUGH, fill.state());
    }

    @Test
    void aPassThroughWithNoReaderLeftFails() throws Exception {
        byte[] content = randomBytes(108, 2 << 20);
        Digest digest = sha256(content);
        store.setCapacityLimit(1);
        Fills fills = new Fills(store, io);
        BlobFill fill = fills.acquire(digest).fill();
        BlobFill.Reader reader = fill.newReader();
        reader.close();
        write(fill, content, content.length, 128 << 10, 10, new FillTesting.Releases());
        Throwable cause = failure(fill);
        assertTrue(cause.getMessage().contains("no client is left"), cause.getMessage());
        awaitTrue(() -> regularFilesUnder0(root.resolve("tmp")).isEmpty(), "temp file removed");
    }

    @Test
    void outOfSpaceIsRecognisedFromTheOperatingSystemsMessageAndTheHardCap() {
        assertTrue(ContentStore.isOutOfSpace(new IOException("No space left on device")));
        assertTrue(ContentStore.isOutOfSpace(new IOException("x", new IOException("Disk quota exceeded"))));
        assertTrue(ContentStore.isOutOfSpace(new StorageFullException("cap")));
        assertFalse(ContentStore.isOutOfSpace(new IOException("Permission denied")));
        assertFalse(ContentStore.isOutOfSpace(null));
    }

    private static Throwable failure(BlobFill fill) throws Exception {
        ExecutionException e = assertThrows(ExecutionException.class,
                () -> fill.result().get(WAIT_SECONDS, TimeUnit.SECONDS));
        return e.getCause();
    }

    private static List<Path> regularFilesUnder0(Path dir) {
        try {
            return regularFilesUnder(dir);
        } catch (IOException e) {
            throw new AssertionError(e);
        }
    }
}

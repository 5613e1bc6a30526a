package dev.wharf.storage.fill;

import static dev.wharf.storage.fill.FillTesting.WAIT_SECONDS;
import static dev.wharf.storage.fill.FillTesting.awaitTrue;
import static dev.wharf.storage.fill.FillTesting.randomBytes;
import static dev.wharf.storage.fill.FillTesting.read;
import static dev.wharf.storage.fill.FillTesting.regularFilesUnder;
import static dev.wharf.storage.fill.FillTesting.sha256;
import static dev.wharf.storage.fill.FillTesting.write;
import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertInstanceOf;
import static org.junit.jupiter.api.Assertions.assertSame;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import dev.wharf.storage.ContentStore;
import dev.wharf.storage.Digest;
import dev.wharf.storage.DigestMismatchException;
import java.io.IOException;
import java.nio.ByteBuffer;
import java.nio.channels.FileChannel;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;
import java.util.Random;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.CountDownLatch;
import java.util.concurrent.ExecutionException;
import java.util.concurrent.Executor;
import java.util.concurrent.ExecutorService;
import java.util.concurrent.Executors;
import java.util.concurrent.Future;
import java.util.concurrent.RejectedExecutionException;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.TimeoutException;
import java.util.concurrent.atomic.AtomicInteger;
import java.util.concurrent.atomic.AtomicLong;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.BeforeEach;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.Timeout;
import org.junit.jupiter.api.io.TempDir;

@Timeout(value = 120, unit = TimeUnit.SECONDS)
class BlobFillTest {
    @TempDir
    Path root;
    ContentStore store;
    ExecutorService io;
    ExecutorService clients;
    CountDownLatch gate;

    @BeforeEach
    void setUp() throws IOException {
        store = new ContentStore(root);
        io = Executors.newFixedThreadPool(4);
        clients = Executors.newCachedThreadPool();
        gate = new CountDownLatch(1);
    }

    @AfterEach
    void tearDown() throws InterruptedException {
        gate.countDown();
        clients.shutdownNow();
        io.shutdownNow();
        assertTrue(clients.awaitTermination(WAIT_SECONDS, TimeUnit.SECONDS));
        assertTrue(io.awaitTermination(WAIT_SECONDS, TimeUnit.SECONDS));
    }

    /** An io executor that holds every task until {@link #gate} opens, so the test decides when appends run. */
    Executor gatedIo() {
        return task -> io.execute(() -> {
            try {
                if (!gate.await(WAIT_SECONDS, TimeUnit.SECONDS)) {
                    throw new IllegalStateException("gate never opened");
                }
            } catch (InterruptedException e) {
                Thread.currentThread().interrupt();
                return;
            }
            task.run();
        });
    }

    private Path tmp() {
        return root.resolve("tmp");
    }

    private Throwable failureOf(CompletableFuture<?> future) throws Exception {
        ExecutionException e = assertThrows(ExecutionException.class, () -> future.get(WAIT_SECONDS, TimeUnit.SECONDS));
        return e.getCause();
    }

    @Test
    void manyReadersAtDifferentSpeedsGetIdenticalBytes() throws Exception {
        byte[] content = randomBytes(1, 6 * 1024 * 1024 + 12345);
        Digest digest = sha256(content);
        Fills fills = new Fills(store, io);
        Fills.Acquired starter = fills.acquire(digest);
        assertTrue(starter.started());
        BlobFill fill = starter.fill();
        assertEquals(BlobFill.State.STARTING, fill.state());
        assertEquals(1, fills.inFlight());

        // Readers that joined before the upstream even answered, each at its own pace.
        int[][] speeds = {{4096, 0}, {65536, 0}, {1 << 20, 0}, {16384, 200_000}, {8192, 20_000}, {300_000, 1_000_000}};
        List<Future<byte[]>> readers = new ArrayList<>();
        for (int[] speed : speeds) {
            Fills.Acquired joined = fills.acquire(digest);
            assertFalse(joined.started());
            assertSame(fill, joined.fill());
            readers.add(clients.submit(() -> read(joined.fill(), speed[0], speed[1])));
        }

        FillTesting.Releases releases = new FillTesting.Releases();
        Future<?> writer = clients.submit(() -> {
            write(fill, content, content.length, 256 * 1024, 7, releases);
            return null;
        });

        // A reader that joins mid-fill still gets every byte from offset 0.
        awaitTrue(() -> fill.available() >= content.length / 3 || fill.result().isDone(), "a third written");
        Fills.Acquired midway = fills.acquire(digest);
        Future<byte[]> midReader = clients.submit(() -> read(midway.fill(), 32768, 0));

        writer.get(WAIT_SECONDS, TimeUnit.SECONDS);
        Path committed = fill.result().get(WAIT_SECONDS, TimeUnit.SECONDS);
        assertEquals(store.blobPath(digest), committed);
        assertEquals(digest, sha256(committed));
        assertEquals(BlobFill.State.COMMITTED, fill.state());
        assertEquals(content.length, fill.available());
        for (Future<byte[]> reader : readers) {
            assertArrayEquals(content, reader.get(WAIT_SECONDS, TimeUnit.SECONDS));
        }
        assertArrayEquals(content, midReader.get(WAIT_SECONDS, TimeUnit.SECONDS));

        // Joining after the commit: the same fill object, and a fresh acquire, both read the committed file.
        assertArrayEquals(content, read(fill, 1 << 20, 0));
        Fills.Acquired late = fills.acquire(digest);
        assertFalse(late.started());
        assertEquals(BlobFill.State.COMMITTED, late.fill().state());
        assertEquals(content.length, late.fill().size().get(WAIT_SECONDS, TimeUnit.SECONDS));
        assertArrayEquals(content, read(late.fill(), 1 << 20, 0));

        assertEquals(0, fills.inFlight());
        assertEquals(List.of(), regularFilesUnder(tmp()));
        assertTrue(releases.offered() > 20);
        releases.assertEachReleasedExactlyOnce();
    }

    @Test
    void digestMismatchFailsDeletesTempAndTheNextAcquireStartsAgain() throws Exception {
        byte[] content = randomBytes(2, 3 * 1024 * 1024);
        byte[] other = randomBytes(3, content.length);
        Digest digest = sha256(other); // what we asked for; the "upstream" sends content
        Fills fills = new Fills(store, io);
        BlobFill fill = fills.acquire(digest).fill();
        List<Future<byte[]>> readers = new ArrayList<>();
        for (int i = 0; i < 3; i++) {
            BlobFill joined = fills.acquire(digest).fill();
            readers.add(clients.submit(() -> read(joined, 65536, 10_000)));
        }
        FillTesting.Releases releases = new FillTesting.Releases();
        write(fill, content, content.length, 100_000, 11, releases);

        Throwable cause = failureOf(fill.result());
        DigestMismatchException mismatch = assertInstanceOf(DigestMismatchException.class, cause);
        assertEquals(digest, mismatch.expected());
        assertEquals(sha256(content), mismatch.actual());
        assertTrue(cause.getMessage().contains("expected " + digest), cause.getMessage());
        assertTrue(cause.getMessage().contains(sha256(content).toString()), cause.getMessage());
        assertEquals(BlobFill.State.FAILED, fill.state());

        for (Future<byte[]> reader : readers) {
            ExecutionException e = assertThrows(ExecutionException.class,
                    () -> reader.get(WAIT_SECONDS, TimeUnit.SECONDS));
            assertTrue(FillTesting.causedBy(e, cause), "reader saw " + e);
        }
        IOException open = assertThrows(IOException.class, fill::openReader);
        assertSame(cause, open.getCause());

        assertEquals(List.of(), regularFilesUnder(tmp()), "temp file deleted");
        assertEquals(List.of(), regularFilesUnder(root.resolve("blobs")), "nothing committed");
        assertEquals(0, fills.inFlight());
        releases.assertEachReleasedExactlyOnce();

        Fills.Acquired again = fills.acquire(digest);
        assertTrue(again.started(), "a failed fill must not be joined");
        assertFalse(fill == again.fill());
        again.fill().fail(new IOException("test over"));
    }

    @Test
    void shortBodyFails() throws Exception {
        Fills fills = new Fills(store, io);
        byte[] content = randomBytes(4, 100);
        Digest digest = sha256(content);
        BlobFill fill = fills.acquire(digest).fill();
        FillTesting.Releases releases = new FillTesting.Releases();
        fill.begin(100);
        assertTrue(fill.offer(ByteBuffer.wrap(content, 0, 50), releases.track()));
        fill.complete();
        Throwable cause = failureOf(fill.result());
        assertTrue(cause.getMessage().contains("50 of 100"), cause.getMessage());
        assertEquals(100L, fill.size().get(WAIT_SECONDS, TimeUnit.SECONDS), "size() stays as announced");
        assertEquals(List.of(), regularFilesUnder(tmp()));
        assertEquals(List.of(), regularFilesUnder(root.resolve("blobs")));
        assertEquals(0, fills.inFlight());
        releases.assertEachReleasedExactlyOnce();
    }

    @Test
    void longBodyFailsAtOnce() throws Exception {
        Fills fills = new Fills(store, gatedIo()); // nothing is written: the check is at offer time
        byte[] content = randomBytes(5, 20);
        BlobFill fill = fills.acquire(sha256(content)).fill();
        FillTesting.Releases releases = new FillTesting.Releases();
        fill.begin(10);
        assertTrue(fill.offer(ByteBuffer.wrap(content, 0, 8), releases.track()));
        assertEquals(BlobFill.State.STREAMING, fill.state());
        fill.offer(ByteBuffer.wrap(content, 8, 12), releases.track());
        assertEquals(BlobFill.State.FAILED, fill.state(), "failed before any append ran");
        releases.assertEachReleasedExactlyOnce(); // the queued chunk was dropped, the overflowing one refused
        gate.countDown();
        Throwable cause = failureOf(fill.result());
        assertTrue(cause.getMessage().contains("more than the announced 10 bytes"), cause.getMessage());
        assertEquals(List.of(), regularFilesUnder(tmp()));
        releases.assertEachReleasedExactlyOnce();
    }

    @Test
    void failBeforeBeginFailsSizeForJoinersAndWakesWaitersOnce() throws Exception {
        Fills fills = new Fills(store, io);
        Digest digest = sha256(randomBytes(6, 10));
        Fills.Acquired starter = fills.acquire(digest);
        Fills.Acquired joiner = fills.acquire(digest);
        assertTrue(starter.started());
        assertFalse(joiner.started());
        CompletableFuture<Long> size = joiner.fill().size();
        AtomicInteger woken = new AtomicInteger();
        joiner.fill().whenAvailable(0, woken::incrementAndGet);
        joiner.fill().whenAvailable(1000, woken::incrementAndGet);
        assertFalse(size.isDone());

        IOException upstream = new IOException("upstream answered 404");
        starter.fill().fail(upstream);
        starter.fill().fail(new IOException("second failure is ignored"));
        assertEquals(BlobFill.State.FAILED, joiner.fill().state());
        assertSame(upstream, failureOf(size));
        assertSame(upstream, failureOf(joiner.fill().size()));
        assertSame(upstream, failureOf(joiner.fill().result()));
        awaitTrue(() -> woken.get() == 2, "both waiters woken");
        Thread.sleep(50);
        assertEquals(2, woken.get(), "each waiter exactly once");
        AtomicInteger late = new AtomicInteger();
        joiner.fill().whenAvailable(0, late::incrementAndGet);
        assertEquals(1, late.get(), "a waiter registered after the failure runs at once");

        // Writer calls after a failure are harmless; begin is ignored, chunks are released.
        FillTesting.Releases releases = new FillTesting.Releases();
        starter.fill().begin(10);
        assertTrue(starter.fill().offer(ByteBuffer.allocate(5), releases.track()));
        starter.fill().complete();
        releases.assertEachReleasedExactlyOnce();
        assertEquals(BlobFill.State.FAILED, starter.fill().state());
        assertEquals(List.of(), regularFilesUnder(tmp()));
        assertEquals(0, fills.inFlight());
        assertTrue(fills.acquire(digest).started());
    }

    @Test
    void backpressurePausesAboveHighWaterAndResumesBelowLowWater() throws Exception {
        Fills fills = new Fills(store, gatedIo());
        int mib = 1024 * 1024;
        byte[] block = randomBytes(7, mib);
        int high = (int) (BlobFill.HIGH_WATER / mib); // MiB blocks that fit under the high-water mark
        int low = (int) (BlobFill.LOW_WATER / mib);
        assertTrue(low < high, "low water below high water");
        // One block past high water, then as many as fit above low water without a second pause.
        int blocks = high + 1 + (high - low);
        byte[] content = new byte[blocks * mib];
        for (int i = 0; i < blocks; i++) {
            System.arraycopy(block, 0, content, i * mib, mib);
        }
        Digest digest = sha256(content);
        BlobFill fill = fills.acquire(digest).fill();
        CountDownLatch resumed = new CountDownLatch(1);
        AtomicInteger resumes = new AtomicInteger();
        AtomicLong availableAtResume = new AtomicLong(-1);
        fill.onWritable(() -> {
            availableAtResume.compareAndSet(-1, fill.available());
            resumes.incrementAndGet();
            resumed.countDown();
        });
        fill.begin(content.length);
        FillTesting.Releases releases = new FillTesting.Releases();

        int sent = 0;
        for (; sent < high; sent++) {
            assertTrue(fill.offer(ByteBuffer.wrap(block), releases.track()), "below high water at " + sent);
        }
        assertFalse(fill.offer(ByteBuffer.wrap(block), releases.track()),
                (high + 1) + " MiB queued is above high water");
        sent++;
        assertEquals(0, fill.available());
        assertEquals(0, releases.released());
        Thread.sleep(50);
        assertEquals(0, resumes.get(), "no resume while nothing drains");

        gate.countDown();
        assertTrue(resumed.await(WAIT_SECONDS, TimeUnit.SECONDS), "onWritable called after draining");
        // high + 1 MiB were queued: resumed once at most low MiB were left (low water), and before the queue ran dry.
        long atResume = availableAtResume.get();
        assertTrue(atResume >= (long) (high + 1 - low) * mib && atResume < (long) (high + 1) * mib,
                "available at resume: " + atResume);
        for (; sent < blocks; sent++) {
            fill.offer(ByteBuffer.wrap(block), releases.track());
        }
        fill.complete();
        assertEquals(store.blobPath(digest), fill.result().get(WAIT_SECONDS, TimeUnit.SECONDS));
        assertEquals(digest, sha256(store.blobPath(digest)));
        assertEquals(1, resumes.get());
        releases.assertEachReleasedExactlyOnce();
    }

    @Test
    void failReleasesQueuedChunksExactlyOnce() throws Exception {
        Fills fills = new Fills(store, gatedIo(), gatedIo(), null); // neither the appends nor the hashing run yet
        Digest digest = sha256(randomBytes(8, 10));
        BlobFill fill = fills.acquire(digest).fill();
        FillTesting.Releases releases = new FillTesting.Releases();
        CountDownLatch resumed = new CountDownLatch(1);
        fill.onWritable(resumed::countDown);
        fill.begin(100L << 20);
        boolean paused = false;
        for (int i = 0; i < 20; i++) {
            paused |= !fill.offer(ByteBuffer.allocate(1 << 20), releases.track());
        }
        assertTrue(paused);
        assertEquals(0, releases.released(), "held by the fill while the executors are stuck");

        fill.fail(new IOException("upstream reset"));
        releases.assertEachReleasedExactlyOnce(); // dropped at once by fail, on the caller's thread
        assertTrue(resumed.await(0, TimeUnit.SECONDS), "a paused writer is woken by the failure");
        assertTrue(fill.offer(ByteBuffer.allocate(10), releases.track()), "offers after fail are refused");
        releases.assertEachReleasedExactlyOnce();

        gate.countDown();
        assertEquals("upstream reset", failureOf(fill.result()).getMessage());
        assertEquals(List.of(), regularFilesUnder(tmp()));
        releases.assertEachReleasedExactlyOnce();
        assertEquals(21, releases.offered());
    }

    @Test
    void failAfterCompleteDoesNotAbortAGoodFill() throws Exception {
        Fills fills = new Fills(store, gatedIo());
        byte[] content = randomBytes(9, 100_000);
        Digest digest = sha256(content);
        BlobFill fill = fills.acquire(digest).fill();
        FillTesting.Releases releases = new FillTesting.Releases();
        fill.begin(content.length);
        fill.offer(ByteBuffer.wrap(content), releases.track());
        fill.complete();
        fill.fail(new IOException("upstream closed the connection after the last byte"));
        assertEquals(BlobFill.State.STREAMING, fill.state());
        gate.countDown();
        assertEquals(store.blobPath(digest), fill.result().get(WAIT_SECONDS, TimeUnit.SECONDS));
        assertEquals(BlobFill.State.COMMITTED, fill.state());
        releases.assertEachReleasedExactlyOnce();
    }

    @Test
    void emptyBlobCommits() throws Exception {
        Fills fills = new Fills(store, io);
        Digest digest = sha256(new byte[0]);
        BlobFill fill = fills.acquire(digest).fill();
        Future<byte[]> reader = clients.submit(() -> read(fill, 10, 0));
        fill.begin(0);
        fill.complete();
        assertEquals(store.blobPath(digest), fill.result().get(WAIT_SECONDS, TimeUnit.SECONDS));
        assertEquals(0, reader.get(WAIT_SECONDS, TimeUnit.SECONDS).length);
        assertEquals(Long.valueOf(0), store.blobSize(digest).orElseThrow());
    }

    @Test
    void everyWaiterIsCalledExactlyOnce() throws Exception {
        Fills fills = new Fills(store, io);
        byte[] content = randomBytes(10, 1 << 20);
        Digest digest = sha256(content);
        BlobFill fill = fills.acquire(digest).fill();
        int perThread = 200;
        int threads = 4;
        AtomicInteger[] calls = new AtomicInteger[perThread * threads];
        for (int i = 0; i < calls.length; i++) {
            calls[i] = new AtomicInteger();
        }
        List<Future<?>> registrars = new ArrayList<>();
        for (int t = 0; t < threads; t++) {
            int base = t * perThread;
            registrars.add(clients.submit(() -> {
                Random random = new Random(base);
                for (int i = 0; i < perThread; i++) {
                    AtomicInteger count = calls[base + i];
                    fill.whenAvailable(random.nextInt(content.length + 1000), count::incrementAndGet);
                    if (i % 20 == 0) {
                        Thread.sleep(1);
                    }
                }
                return null;
            }));
        }
        FillTesting.Releases releases = new FillTesting.Releases();
        write(fill, content, content.length, 8192, 12, releases);
        for (Future<?> registrar : registrars) {
            registrar.get(WAIT_SECONDS, TimeUnit.SECONDS);
        }
        fill.result().get(WAIT_SECONDS, TimeUnit.SECONDS);
        awaitTrue(() -> java.util.Arrays.stream(calls).allMatch(c -> c.get() > 0), "every waiter called");
        Thread.sleep(50);
        for (int i = 0; i < calls.length; i++) {
            assertEquals(1, calls[i].get(), "waiter " + i);
        }
        releases.assertEachReleasedExactlyOnce();
    }

    @Test
    void waiterSeesBytesOrTheEnd() throws Exception {
        Fills fills = new Fills(store, gatedIo());
        byte[] content = randomBytes(13, 1000);
        BlobFill fill = fills.acquire(sha256(content)).fill();
        AtomicInteger early = new AtomicInteger();
        fill.whenAvailable(0, early::incrementAndGet);
        fill.begin(content.length);
        fill.offer(ByteBuffer.wrap(content, 0, 100), () -> { });
        Thread.sleep(20);
        assertEquals(0, early.get(), "nothing written yet");
        gate.countDown();
        awaitTrue(() -> early.get() == 1, "waiter at 0 woken by the first append");
        AtomicInteger within = new AtomicInteger();
        fill.whenAvailable(99, within::incrementAndGet);
        assertEquals(1, within.get(), "offset below available runs at once");
        AtomicInteger beyond = new AtomicInteger();
        fill.whenAvailable(100, beyond::incrementAndGet);
        Thread.sleep(20);
        assertEquals(0, beyond.get());
        fill.offer(ByteBuffer.wrap(content, 100, 900), () -> { });
        fill.complete();
        fill.result().get(WAIT_SECONDS, TimeUnit.SECONDS);
        awaitTrue(() -> beyond.get() == 1, "waiter at 100 woken");
    }

    @Test
    void rejectedExecutorFailsTheFillWithoutLeaks() throws Exception {
        Fills fills = new Fills(store, task -> {
            throw new RejectedExecutionException("shut down");
        });
        Digest digest = sha256(randomBytes(14, 10));
        BlobFill fill = fills.acquire(digest).fill();
        FillTesting.Releases releases = new FillTesting.Releases();
        fill.begin(10);
        fill.offer(ByteBuffer.allocate(5), releases.track());
        assertEquals(BlobFill.State.FAILED, fill.state());
        assertInstanceOf(RejectedExecutionException.class, failureOf(fill.result()).getCause());
        releases.assertEachReleasedExactlyOnce();
        assertEquals(List.of(), regularFilesUnder(tmp()));
        assertEquals(0, fills.inFlight());
    }

    @Test
    void executorThatStartsRejectingMidFillFailsItCleanlyWithoutWritingOnTheCallersThread() throws Exception {
        java.util.concurrent.ThreadPoolExecutor single = new java.util.concurrent.ThreadPoolExecutor(1, 1, 0,
                TimeUnit.SECONDS, new java.util.concurrent.LinkedBlockingQueue<>());
        Fills fills = new Fills(store, single);
        byte[] content = randomBytes(16, 10);
        Digest digest = sha256(content);
        BlobFill fill = fills.acquire(digest).fill();
        FillTesting.Releases releases = new FillTesting.Releases();
        fill.begin(10);
        fill.offer(ByteBuffer.wrap(content, 0, 5), releases.track());
        awaitTrue(() -> fill.available() == 5, "first chunk appended on the executor");
        single.shutdown(); // from now on every submission is rejected
        assertTrue(single.awaitTermination(WAIT_SECONDS, TimeUnit.SECONDS));
        CountDownLatch woken = new CountDownLatch(1);
        fill.whenAvailable(5, woken::countDown);

        fill.offer(ByteBuffer.wrap(content, 5, 5), releases.track());
        fill.complete(); // ignored: the fill has failed; it must not commit inline

        assertEquals(BlobFill.State.FAILED, fill.state());
        Throwable cause = failureOf(fill.result());
        assertInstanceOf(IOException.class, cause);
        assertTrue(cause.getMessage().contains("storage executor rejected the fill of " + digest), cause.getMessage());
        assertInstanceOf(RejectedExecutionException.class, cause.getCause());
        assertTrue(woken.await(WAIT_SECONDS, TimeUnit.SECONDS), "a waiting reader is woken, not left hanging");
        assertEquals(5, fill.available(), "the second chunk was never appended on the caller's thread");
        assertEquals(java.util.Optional.empty(), store.blobSize(digest));
        assertEquals(List.of(), regularFilesUnder(tmp()));
        assertEquals(List.of(), regularFilesUnder(root.resolve("blobs")));
        assertEquals(0, fills.inFlight());
        assertEquals(0, store.pendingBytes(), "claimed space returned");
        releases.assertEachReleasedExactlyOnce();
    }

    @Test
    void writeErrorFailsTheFill() throws Exception {
        Fills fills = new Fills(store, io);
        Digest digest = sha256(randomBytes(15, 10));
        BlobFill fill = fills.acquire(digest).fill();
        for (Path temp : regularFilesUnder(tmp())) {
            Files.delete(temp); // the append cannot open its file
        }
        FillTesting.Releases releases = new FillTesting.Releases();
        fill.begin(10);
        fill.offer(ByteBuffer.allocate(10), releases.track());
        fill.complete();
        Throwable cause = failureOf(fill.result());
        assertTrue(cause.getMessage().contains("writing the fill"), cause.getMessage());
        releases.assertEachReleasedExactlyOnce();
        assertThrows(IOException.class, fill::openReader);
    }

    @Test
    void callersCannotCompleteTheFillsFutures() throws Exception {
        Fills fills = new Fills(store, io);
        byte[] content = randomBytes(16, 10);
        BlobFill fill = fills.acquire(sha256(content)).fill();
        // A caller's timeout or cancel acts on its own copy, never on the fill's futures.
        assertInstanceOf(TimeoutException.class, failureOf(fill.result().orTimeout(1, TimeUnit.MILLISECONDS)));
        assertTrue(fill.size().cancel(true));
        assertTrue(fill.result().completeExceptionally(new IOException("not mine to complete")));
        assertFalse(fill.result().isDone());
        assertFalse(fill.size().isDone());
        fill.begin(10);
        assertEquals(10L, fill.size().get(WAIT_SECONDS, TimeUnit.SECONDS));
        fill.offer(ByteBuffer.wrap(content), () -> { });
        fill.complete();
        assertTrue(Files.isRegularFile(fill.result().get(WAIT_SECONDS, TimeUnit.SECONDS)));
    }

    @Test
    void openReaderDuringTheFillStaysValidAfterCommit() throws Exception {
        Fills fills = new Fills(store, io);
        byte[] content = randomBytes(17, 50_000);
        Digest digest = sha256(content);
        BlobFill fill = fills.acquire(digest).fill();
        fill.begin(content.length);
        try (FileChannel early = fill.openReader()) {
            fill.offer(ByteBuffer.wrap(content), () -> { });
            fill.complete();
            fill.result().get(WAIT_SECONDS, TimeUnit.SECONDS);
            ByteBuffer all = ByteBuffer.allocate(content.length);
            while (all.hasRemaining()) {
                assertTrue(early.read(all, all.position()) > 0);
            }
            assertArrayEquals(content, all.array());
        }
    }
}

package dev.wharf.storage.fill;

import static dev.wharf.storage.fill.FillTesting.WAIT_SECONDS;
import static dev.wharf.storage.fill.FillTesting.randomBytes;
import static dev.wharf.storage.fill.FillTesting.read;
import static dev.wharf.storage.fill.FillTesting.sha256;
import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertNotSame;
import static org.junit.jupiter.api.Assertions.assertSame;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import dev.wharf.storage.ContentStore;
import dev.wharf.storage.Digest;
import java.io.IOException;
import java.nio.ByteBuffer;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.HashSet;
import java.util.List;
import java.util.Set;
import java.util.concurrent.CountDownLatch;
import java.util.concurrent.CyclicBarrier;
import java.util.concurrent.ExecutionException;
import java.util.concurrent.ExecutorService;
import java.util.concurrent.Executors;
import java.util.concurrent.Future;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.atomic.AtomicInteger;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.BeforeEach;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.Timeout;
import org.junit.jupiter.api.io.TempDir;

@Timeout(value = 120, unit = TimeUnit.SECONDS)
class FillsTest {
    @TempDir
    Path root;
    ContentStore store;
    ExecutorService io;
    ExecutorService clients;

    @BeforeEach
    void setUp() throws IOException {
        store = new ContentStore(root);
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

    @Test
    void concurrentAcquiresHaveExactlyOneStarter() throws Exception {
        Fills fills = new Fills(store, io);
        int threads = 16;
        CyclicBarrier start = new CyclicBarrier(threads);
        for (int round = 0; round < 100; round++) {
            Digest digest = sha256(randomBytes(round, 8));
            List<Future<Fills.Acquired>> results = new ArrayList<>();
            for (int t = 0; t < threads; t++) {
                results.add(clients.submit(() -> {
                    start.await(WAIT_SECONDS, TimeUnit.SECONDS);
                    return fills.acquire(digest);
                }));
            }
            int started = 0;
            Set<BlobFill> distinct = new HashSet<>();
            for (Future<Fills.Acquired> result : results) {
                Fills.Acquired acquired = result.get(WAIT_SECONDS, TimeUnit.SECONDS);
                started += acquired.started() ? 1 : 0;
                distinct.add(acquired.fill());
            }
            assertEquals(1, started, "round " + round);
            assertEquals(1, distinct.size(), "everyone joined the same fill in round " + round);
            assertEquals(round + 1, fills.inFlight());
        }
        assertEquals(100, FillTesting.regularFilesUnder(root.resolve("tmp")).size(), "one temp file per fill");
    }

    @Test
    void acquiresRacingACommitNeverStartASecondFill() throws Exception {
        for (int round = 0; round < 20; round++) {
            Fills fills = new Fills(store, io);
            byte[] content = randomBytes(1000 + round, 64 * 1024);
            Digest digest = sha256(content);
            Fills.Acquired first = fills.acquire(digest);
            assertTrue(first.started());
            BlobFill fill = first.fill();
            int threads = 8;
            CyclicBarrier start = new CyclicBarrier(threads + 1);
            List<Future<List<Fills.Acquired>>> racers = new ArrayList<>();
            for (int t = 0; t < threads; t++) {
                racers.add(clients.submit(() -> {
                    start.await(WAIT_SECONDS, TimeUnit.SECONDS);
                    List<Fills.Acquired> seen = new ArrayList<>();
                    long deadline = System.nanoTime() + TimeUnit.SECONDS.toNanos(WAIT_SECONDS);
                    do {
                        seen.add(fills.acquire(digest));
                    } while (!fill.result().isDone() && System.nanoTime() < deadline);
                    seen.add(fills.acquire(digest)); // and one after the commit
                    return seen;
                }));
            }
            start.await(WAIT_SECONDS, TimeUnit.SECONDS);
            FillTesting.Releases releases = new FillTesting.Releases();
            FillTesting.write(fill, content, content.length, 4096, round, releases);
            fill.result().get(WAIT_SECONDS, TimeUnit.SECONDS);
            for (Future<List<Fills.Acquired>> racer : racers) {
                for (Fills.Acquired acquired : racer.get(WAIT_SECONDS, TimeUnit.SECONDS)) {
                    assertFalse(acquired.started(), "a second fill started in round " + round);
                    if (acquired.fill() != fill) {
                        assertEquals(BlobFill.State.COMMITTED, acquired.fill().state());
                    }
                }
            }
            assertEquals(0, fills.inFlight());
            releases.assertEachReleasedExactlyOnce();
        }
    }

    @Test
    void theSnapshotShowsEachFillInFlightWithItsOriginBytesAndClients() throws Exception {
        Fills fills = new Fills(store, io);
        byte[] content = FillTesting.randomBytes(41, 5000);
        Digest digest = sha256(content);
        long before = System.nanoTime();
        Fills.Acquired starter = fills.acquire(digest, "hub/library/nginx");
        assertTrue(starter.started());
        Fills.View idle = fills.snapshot().get(0);
        assertEquals(-1, idle.size(), "no size before the upstream's headers");
        assertEquals(1, idle.clients());
        assertFalse(fills.acquire(digest, "other/ignored").started());
        assertFalse(fills.acquire(digest).started());
        BlobFill fill = starter.fill();
        fill.begin(content.length);
        AtomicInteger released = new AtomicInteger();
        fill.offer(ByteBuffer.wrap(content, 0, 1234), released::incrementAndGet);
        FillTesting.awaitTrue(() -> fill.available() == 1234, "the first chunk written");

        List<Fills.View> views = fills.snapshot();
        assertEquals(1, views.size());
        Fills.View v = views.get(0);
        assertEquals(digest, v.digest());
        assertEquals("hub/library/nginx", v.origin(), "the starter's label, not a joiner's");
        assertEquals(BlobFill.State.STREAMING, v.state());
        assertEquals(1234, v.bytes());
        assertEquals(content.length, v.size());
        assertEquals(3, v.clients(), "the starter and two joins");
        assertTrue(v.startedNanos() - before >= 0);

        fill.offer(ByteBuffer.wrap(content, 1234, content.length - 1234), released::incrementAndGet);
        fill.complete();
        fill.result().get(WAIT_SECONDS, TimeUnit.SECONDS);
        assertEquals(List.of(), fills.snapshot(), "a committed fill leaves the snapshot");
    }

    @Test
    void alreadyStoredBlobGivesACommittedFill() throws Exception {
        Fills fills = new Fills(store, io);
        byte[] content = "{\"schemaVersion\":2}".getBytes(java.nio.charset.StandardCharsets.UTF_8);
        Digest digest = sha256(content);
        store.putSmall(digest, content);

        Fills.Acquired acquired = fills.acquire(digest);
        assertFalse(acquired.started());
        BlobFill fill = acquired.fill();
        assertEquals(BlobFill.State.COMMITTED, fill.state());
        assertEquals(digest, fill.digest());
        assertEquals((long) content.length, fill.size().getNow(-1L));
        assertEquals(store.blobPath(digest), fill.result().getNow(null));
        assertEquals(content.length, fill.available());
        AtomicInteger woken = new AtomicInteger();
        fill.whenAvailable(content.length, woken::incrementAndGet);
        assertEquals(1, woken.get());
        assertArrayEquals(content, read(fill, 7, 0));
        assertEquals(0, fills.inFlight(), "nothing registered for a stored blob");
        assertEquals(List.of(), FillTesting.regularFilesUnder(root.resolve("tmp")));
        // Writer calls on it are harmless.
        AtomicInteger released = new AtomicInteger();
        assertTrue(fill.offer(ByteBuffer.allocate(3), released::incrementAndGet));
        assertEquals(1, released.get());
        fill.fail(new IOException("ignored"));
        assertEquals(BlobFill.State.COMMITTED, fill.state());
    }

    @Test
    void fillThatCannotCreateItsTempFileFailsWithoutRegistering() throws Exception {
        Fills fills = new Fills(store, io);
        Digest digest = sha256(randomBytes(1, 8));
        Path tmp = root.resolve("tmp");
        Files.delete(tmp);
        Files.writeString(tmp, "a file where tmp/ should be");

        Fills.Acquired acquired = fills.acquire(digest);
        assertFalse(acquired.started());
        assertEquals(BlobFill.State.FAILED, acquired.fill().state());
        ExecutionException e = assertThrows(ExecutionException.class,
                () -> acquired.fill().size().get(WAIT_SECONDS, TimeUnit.SECONDS));
        assertTrue(e.getCause().getMessage().contains("cannot start a fill"), e.getCause().getMessage());
        assertThrows(IOException.class, () -> acquired.fill().openReader());
        assertEquals(0, fills.inFlight());

        Files.delete(tmp);
        Fills.Acquired retry = fills.acquire(digest);
        assertTrue(retry.started(), "the next request tries again");
        assertNotSame(acquired.fill(), retry.fill());
        retry.fill().fail(new IOException("test over"));
    }

    @Test
    void aFailedFillAwaitingCleanUpIsReplacedNotJoined() throws Exception {
        CountDownLatch gate = new CountDownLatch(1);
        Fills fills = new Fills(store, task -> io.execute(() -> {
            try {
                gate.await(WAIT_SECONDS, TimeUnit.SECONDS);
            } catch (InterruptedException e) {
                Thread.currentThread().interrupt();
            }
            task.run();
        }));
        try {
            Digest digest = sha256(randomBytes(2, 8));
            BlobFill first = fills.acquire(digest).fill();
            first.fail(new IOException("upstream reset"));
            assertEquals(BlobFill.State.FAILED, first.state());
            assertFalse(first.result().isDone(), "clean-up is held by the gate");
            assertEquals(1, fills.inFlight());

            Fills.Acquired next = fills.acquire(digest);
            assertTrue(next.started(), "a failed fill is never joined");
            assertNotSame(first, next.fill());
            gate.countDown();
            assertThrows(ExecutionException.class, () -> first.result().get(WAIT_SECONDS, TimeUnit.SECONDS));
            assertEquals(1, fills.inFlight(), "the old fill's clean-up does not remove its successor");
            assertSame(next.fill(), fills.acquire(digest).fill());
            next.fill().fail(new IOException("test over"));
        } finally {
            gate.countDown();
        }
    }

    @Test
    void failedFillLeavesTheRegistryBeforeItsResultCompletes() throws Exception {
        Fills fills = new Fills(store, io);
        for (int round = 0; round < 50; round++) {
            Digest digest = sha256(randomBytes(round, 8));
            Fills.Acquired first = fills.acquire(digest);
            assertTrue(first.started());
            AtomicInteger startedInCallback = new AtomicInteger(-1);
            AtomicInteger inFlightInCallback = new AtomicInteger(-1);
            first.fill().result().whenComplete((path, failure) -> {
                inFlightInCallback.set(fills.inFlight());
                startedInCallback.set(fills.acquire(digest).started() ? 1 : 0);
            });
            first.fill().fail(new IOException("round " + round));
            assertThrows(ExecutionException.class,
                    () -> first.fill().result().get(WAIT_SECONDS, TimeUnit.SECONDS));
            FillTesting.awaitTrue(() -> startedInCallback.get() >= 0, "callback");
            assertEquals(0, inFlightInCallback.get(), "removed before the result completed");
            assertEquals(1, startedInCallback.get(), "a request that saw the failure starts anew");
            Fills.Acquired joined = fills.acquire(digest);
            assertFalse(joined.started());
            assertSame(BlobFill.State.STARTING, joined.fill().state());
            joined.fill().fail(new IOException("done"));
            // Let its clean-up finish, so inFlight() in the next round counts only that round's fill.
            assertThrows(ExecutionException.class,
                    () -> joined.fill().result().get(WAIT_SECONDS, TimeUnit.SECONDS));
        }
    }
}

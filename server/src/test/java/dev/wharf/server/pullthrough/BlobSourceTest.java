package dev.wharf.server.pullthrough;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertInstanceOf;
import static org.junit.jupiter.api.Assertions.assertNull;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import dev.wharf.server.api.CacheResult;
import dev.wharf.server.api.RegistryException;
import dev.wharf.server.api.RepositoryName;
import dev.wharf.server.config.ProjectConfig;
import dev.wharf.server.metrics.WharfMetrics;
import dev.wharf.server.upstream.Project;
import dev.wharf.server.upstream.UpstreamCall;
import dev.wharf.storage.ContentStore;
import dev.wharf.storage.Digest;
import dev.wharf.storage.fill.Fills;
import java.net.URI;
import java.nio.ByteBuffer;
import java.nio.file.Files;
import java.nio.file.Path;
import java.time.Duration;
import java.util.List;
import java.util.concurrent.ArrayBlockingQueue;
import java.util.concurrent.CompletionException;
import java.util.concurrent.CountDownLatch;
import java.util.concurrent.ExecutorService;
import java.util.concurrent.Executors;
import java.util.concurrent.RejectedExecutionException;
import java.util.concurrent.ThreadPoolExecutor;
import java.util.concurrent.TimeUnit;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.BeforeEach;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/**
 * {@link BlobSource} through its interfaces: a real {@link ContentStore} and real fills on a temp directory, and a
 * scripted upstream ({@link ScriptedUpstream}) that counts what the source asks for.
 */
class BlobSourceTest {
    private static final byte[] BYTES = "a small layer for the blob source".getBytes(java.nio.charset.StandardCharsets.UTF_8);
    private static final Digest DIGEST = Digest.sha256(BYTES);
    private static final RepositoryName NAME = new RepositoryName("library/app");

    @TempDir
    Path dir;
    private ContentStore store;
    private ExecutorService io;
    private final ScriptedUpstream upstream = new ScriptedUpstream().blob(BYTES);
    private BlobSource source;
    private final Project hub = project("hub");
    private final Project other = project("other");

    @BeforeEach
    void setUp() throws Exception {
        store = new ContentStore(dir.resolve("store"));
        io = Executors.newFixedThreadPool(2);
        source = new BlobSource(store, new Fills(store, io), upstream, io, new WharfMetrics());
    }

    @AfterEach
    void tearDown() throws Exception {
        io.shutdownNow();
        assertTrue(io.awaitTermination(10, TimeUnit.SECONDS));
    }

    @Test
    void aColdBlobIsStreamedFromOneFillThenServedFromTheStore() throws Exception {
        BlobSource.Answer cold = source.open(hub, NAME, DIGEST, false).join();
        BlobSource.Streamed streamed = assertInstanceOf(BlobSource.Streamed.class, cold);
        assertEquals(false, streamed.joined());
        streamed.fill().result().get(10, TimeUnit.SECONDS);
        streamed.reader().close();
        awaitLinked(hub);

        BlobSource.Stored warm = assertInstanceOf(BlobSource.Stored.class, source.open(hub, NAME, DIGEST, false).join());
        try (var file = warm.file()) {
            assertEquals(CacheResult.HIT, warm.cache());
            ByteBuffer read = ByteBuffer.allocate(BYTES.length);
            file.read(read, 0);
            assertArrayEquals(BYTES, read.array());
        }
        assertEquals(1, upstream.count(UpstreamCall.BlobGet.class));
    }

    @Test
    void aHeadOfAStoredBlobOpensNoFile() throws Exception {
        fill(hub);
        BlobSource.Stored head = assertInstanceOf(BlobSource.Stored.class, source.open(hub, NAME, DIGEST, true).join());
        assertNull(head.file());
        assertEquals(BYTES.length, head.size());
    }

    @Test
    void aBlobDeletedBehindTheStoresBackIsNoticedOnOpenAndFetchedAgain() throws Exception {
        fill(hub);
        Files.delete(store.blobPath(DIGEST));
        BlobSource.Answer again = source.open(hub, NAME, DIGEST, false).join();
        BlobSource.Streamed streamed = assertInstanceOf(BlobSource.Streamed.class, again);
        streamed.fill().result().get(10, TimeUnit.SECONDS);
        streamed.reader().close();
        assertEquals(2, upstream.count(UpstreamCall.BlobGet.class));
        assertTrue(Files.exists(store.blobPath(DIGEST)));
    }

    @Test
    void aBlobStoredForOneProjectIsServedToAnotherOnlyAfterItsUpstreamConfirms() throws Exception {
        fill(hub);
        upstream.on(UpstreamCall.BlobHead.class, c -> ScriptedUpstream.answer(404, new byte[0]));
        CompletionException denied = assertThrows(CompletionException.class,
                () -> source.open(other, NAME, DIGEST, false).join());
        assertEquals(404, assertInstanceOf(RegistryException.class, denied.getCause()).statusCode());

        upstream.on(UpstreamCall.BlobHead.class, c -> ScriptedUpstream.answer(200, new byte[0],
                "Content-Length", Integer.toString(BYTES.length)));
        BlobSource.Stored confirmed = assertInstanceOf(BlobSource.Stored.class,
                source.open(other, NAME, DIGEST, false).join());
        confirmed.file().close();
        assertEquals(CacheResult.REVALIDATED, confirmed.cache());
        assertEquals(1, upstream.count(UpstreamCall.BlobGet.class), "the bytes came from the upstream once");
    }

    @Test
    void aFullStorageExecutorRefusesInsteadOfRunningOnTheCaller() throws Exception {
        fill(hub);
        CountDownLatch hold = new CountDownLatch(1);
        ThreadPoolExecutor full = new ThreadPoolExecutor(1, 1, 0, TimeUnit.SECONDS, new ArrayBlockingQueue<>(1),
                new ThreadPoolExecutor.AbortPolicy());
        try {
            full.execute(() -> awaitQuietly(hold));
            full.execute(() -> { });
            BlobSource busy = new BlobSource(store, new Fills(store, full), upstream, full, new WharfMetrics());
            assertThrows(RejectedExecutionException.class, () -> busy.open(hub, NAME, DIGEST, false));
        } finally {
            hold.countDown();
            full.shutdown();
        }
    }

    private void fill(Project project) throws Exception {
        BlobSource.Streamed s = (BlobSource.Streamed) source.open(project, NAME, DIGEST, false).join();
        s.fill().result().get(10, TimeUnit.SECONDS);
        s.reader().close();
        awaitLinked(project);
    }

    private void awaitLinked(Project project) throws InterruptedException {
        // The project is linked when the fill's digest matches (before its commit), on the fill's I/O thread.
        long deadline = System.nanoTime() + TimeUnit.SECONDS.toNanos(10);
        while (store.link(project.name(), DIGEST).isEmpty()) {
            if (System.nanoTime() > deadline) {
                throw new AssertionError("the fill committed but project " + project.name() + " was not linked");
            }
            Thread.sleep(5);
        }
    }

    private static void awaitQuietly(CountDownLatch latch) {
        try {
            latch.await(30, TimeUnit.SECONDS);
        } catch (InterruptedException e) {
            Thread.currentThread().interrupt();
        }
    }

    private static Project project(String name) {
        return new Project(new ProjectConfig(name, URI.create("http://127.0.0.1:9"), List.of(), Duration.ofMinutes(5),
                null), null);
    }
}

package dev.wharf.storage.fill;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertNotNull;
import static org.junit.jupiter.api.Assertions.assertTrue;
import static org.junit.jupiter.api.Assertions.fail;

import dev.wharf.storage.Digest;
import java.io.ByteArrayOutputStream;
import java.io.IOException;
import java.nio.ByteBuffer;
import java.nio.channels.FileChannel;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;
import java.util.Random;
import java.util.concurrent.CopyOnWriteArrayList;
import java.util.concurrent.CountDownLatch;
import java.util.concurrent.Semaphore;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.atomic.AtomicInteger;
import java.util.concurrent.locks.LockSupport;
import java.util.function.BooleanSupplier;
import java.util.stream.Collectors;
import java.util.stream.Stream;

/** Shared helpers for the fill tests: a writer that honours backpressure, a reader, release bookkeeping. */
public final class FillTesting {
    public static final long WAIT_SECONDS = 20;

    private FillTesting() {
    }

    public static byte[] randomBytes(long seed, int n) {
        byte[] bytes = new byte[n];
        new Random(seed).nextBytes(bytes);
        return bytes;
    }

    public static Digest sha256(byte[] content) {
        return Digest.sha256(content);
    }

    static Digest sha256(Path file) throws IOException {
        return sha256(Files.readAllBytes(file));
    }

    /** Counts the release callbacks of every chunk handed to a fill, one counter per chunk. */
    static final class Releases {
        private final List<AtomicInteger> counts = new CopyOnWriteArrayList<>();

        Runnable track() {
            AtomicInteger count = new AtomicInteger();
            counts.add(count);
            return count::incrementAndGet;
        }

        int offered() {
            return counts.size();
        }

        int released() {
            return (int) counts.stream().filter(c -> c.get() > 0).count();
        }

        void assertEachReleasedExactlyOnce() {
            List<Integer> wrong = new ArrayList<>();
            for (int i = 0; i < counts.size(); i++) {
                if (counts.get(i).get() != 1) {
                    wrong.add(i);
                }
            }
            assertEquals(List.of(), wrong, "chunks not released exactly once (by index)");
        }
    }

    /**
     * Drives the writer side like an upstream connection would: begin, offers in random-sized chunks (some direct
     * buffers), pausing whenever offer says so until onWritable runs, then complete.
     */
    static void write(BlobFill fill, byte[] content, long announcedSize, int maxChunk, long seed, Releases releases)
            throws InterruptedException {
        Semaphore writable = new Semaphore(0);
        fill.onWritable(writable::release);
        fill.begin(announcedSize);
        Random random = new Random(seed);
        int pos = 0;
        while (pos < content.length) {
            int n = Math.min(1 + random.nextInt(maxChunk), content.length - pos);
            ByteBuffer chunk = random.nextBoolean() ? ByteBuffer.allocateDirect(n) : ByteBuffer.allocate(n);
            chunk.put(content, pos, n).flip();
            pos += n;
            if (!fill.offer(chunk, releases.track())) {
                assertTrue(writable.tryAcquire(WAIT_SECONDS, TimeUnit.SECONDS), "onWritable never ran");
            }
        }
        fill.complete();
    }

    /** Where a {@link #read}'s bytes came from. */
    static final class Sources {
        long fromMemory;
        long fromFile;
    }

    /**
     * Reads a fill the way a client response would ({@code FillStream}): registered as a reader, each step from the
     * stream-tee's memory if it still holds the bytes, else from its own file channel below fileLimit(), else from
     * the pass-through memory, waiting with whenAvailable. {@code pauseNanos} after each read makes a slow client.
     * Throws the fill's failure.
     */
    static byte[] read(BlobFill fill, int bufferSize, long pauseNanos) throws Exception {
        return read(fill, bufferSize, pauseNanos, new Sources());
    }

    static byte[] read(BlobFill fill, int bufferSize, long pauseNanos, Sources sources) throws Exception {
        BlobFill.Reader reader = fill.newReader();
        assertNotNull(reader, "could not join the fill");
        return read(fill, reader, bufferSize, pauseNanos, sources);
    }

    /** As above, as {@code reader} (registered earlier; closed here). */
    static byte[] read(BlobFill fill, BlobFill.Reader reader, int bufferSize, long pauseNanos, Sources sources)
            throws Exception {
        long size = fill.size().get(WAIT_SECONDS, TimeUnit.SECONDS);
        ByteArrayOutputStream out = new ByteArrayOutputStream();
        long deadline = System.nanoTime() + TimeUnit.SECONDS.toNanos(WAIT_SECONDS);
        try (reader; FileChannel channel = fill.openReader()) {
            ByteBuffer buffer = ByteBuffer.allocate(bufferSize);
            long pos = 0;
            while (pos < size) {
                if (System.nanoTime() > deadline) {
                    fail("reader timed out at " + pos + " of " + size);
                }
                long available = fill.available();
                if (available > pos) {
                    int want = (int) Math.min(bufferSize, available - pos);
                    BlobFill.Held held = reader.recent(pos, want);
                    int n;
                    if (held != null) {
                        try {
                            n = held.data().remaining();
                            byte[] bytes = new byte[n];
                            held.data().duplicate().get(bytes);
                            out.write(bytes);
                        } finally {
                            held.release();
                        }
                        sources.fromMemory += n;
                    } else if (pos < reader.fileLimit()) {
                        buffer.clear().limit((int) Math.min(want, reader.fileLimit() - pos));
                        n = channel.read(buffer, pos);
                        if (n <= 0) {
                            fail("read " + n + " at " + pos + " though " + available + " were available");
                        }
                        out.write(buffer.array(), 0, n);
                        sources.fromFile += n;
                    } else {
                        ByteBuffer memory = reader.memory(pos, want);
                        n = memory.remaining();
                        byte[] bytes = new byte[n];
                        memory.get(bytes);
                        out.write(bytes);
                        sources.fromMemory += n;
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
                        // The contract: woken without new bytes means the fill is done.
                        assertTrue(fill.result().isDone(), "woken with nothing new and not done");
                        fill.result().get(); // throws the failure
                        fail("committed with " + fill.available() + " bytes but size was " + size);
                    }
                }
            }
        }
        // Like a client response: do not finish before the digest is verified.
        fill.result().get(WAIT_SECONDS, TimeUnit.SECONDS);
        return out.toByteArray();
    }

    /** True if {@code cause} is {@code t} or anywhere in its cause chain. */
    static boolean causedBy(Throwable t, Throwable cause) {
        for (Throwable c = t; c != null; c = c.getCause()) {
            if (c == cause) {
                return true;
            }
        }
        return false;
    }

    public static void awaitTrue(BooleanSupplier condition, String what) {
        long deadline = System.nanoTime() + TimeUnit.SECONDS.toNanos(WAIT_SECONDS);
        while (!condition.getAsBoolean()) {
            if (System.nanoTime() > deadline) {
                fail("timed out waiting for " + what);
            }
            LockSupport.parkNanos(1_000_000);
        }
    }

    static List<Path> regularFilesUnder(Path dir) throws IOException {
        try (Stream<Path> all = Files.walk(dir)) {
            return all.filter(Files::isRegularFile).collect(Collectors.toList());
        }
    }
}

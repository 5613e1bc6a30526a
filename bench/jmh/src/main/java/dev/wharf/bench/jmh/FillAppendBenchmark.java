package dev.wharf.bench.jmh;

import dev.wharf.storage.ContentStore;
import dev.wharf.storage.Digest;
import dev.wharf.storage.fill.BlobFill;
import dev.wharf.storage.fill.Fills;
import java.io.IOException;
import java.nio.ByteBuffer;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.Comparator;
import java.util.Random;
import java.util.concurrent.ExecutorService;
import java.util.concurrent.Executors;
import java.util.concurrent.Semaphore;
import java.util.concurrent.TimeUnit;
import java.util.stream.Stream;
import org.openjdk.jmh.annotations.Benchmark;
import org.openjdk.jmh.annotations.BenchmarkMode;
import org.openjdk.jmh.annotations.Fork;
import org.openjdk.jmh.annotations.Level;
import org.openjdk.jmh.annotations.Measurement;
import org.openjdk.jmh.annotations.Mode;
import org.openjdk.jmh.annotations.OutputTimeUnit;
import org.openjdk.jmh.annotations.Param;
import org.openjdk.jmh.annotations.Scope;
import org.openjdk.jmh.annotations.Setup;
import org.openjdk.jmh.annotations.State;
import org.openjdk.jmh.annotations.TearDown;
import org.openjdk.jmh.annotations.Warmup;

/**
 * A fill's append-and-hash loop through the storage module's public API ({@link Fills}, {@link BlobFill}), as the
 * upstream connection drives it: begin, offers of {@code chunkKiB} direct buffers honouring backpressure, complete.
 * {@code untilVerified} ends when the digest matched (what a client's last byte waits for); {@code untilCommitted}
 * when the fsync and rename are done too. The store lives under {@code -Dwharf.jmh.dir} (default: the JDK's temp
 * directory): a disk like the one wharf stores on, not tmpfs, or the fsync is free.
 */
@State(Scope.Benchmark)
@BenchmarkMode(Mode.AverageTime)
@OutputTimeUnit(TimeUnit.MILLISECONDS)
@Fork(value = 1, jvmArgsAppend = {"-Xmx512m"})
@Warmup(iterations = 3, time = 2)
@Measurement(iterations = 5, time = 2)
public class FillAppendBenchmark {
    private static final Runnable NO_RELEASE = () -> { };

    /** MiB per operation (one blob). */
    @Param({"1", "8", "64"})
    public int mib;

    /** Size of each offered chunk (the upstream client reads up to 1 MiB at a time). */
    @Param({"256"})
    public int chunkKiB;

    private Path root;
    private ExecutorService io;
    private ContentStore store;
    private Fills fills;
    private ByteBuffer content;
    private Digest digest;
    private BlobFill last;

    @Setup(Level.Trial)
    public void setUp() throws IOException {
        Path base = Path.of(System.getProperty("wharf.jmh.dir", System.getProperty("java.io.tmpdir")));
        root = Files.createTempDirectory(base, "wharf-jmh-fill");
        store = new ContentStore(root);
        io = Executors.newFixedThreadPool(2, r -> {
            Thread t = new Thread(r, "jmh-storage");
            t.setDaemon(true);
            return t;
        });
        fills = new Fills(store, io);
        byte[] bytes = new byte[mib << 20];
        new Random(mib).nextBytes(bytes);
        digest = Digest.sha256(bytes);
        content = ByteBuffer.allocateDirect(bytes.length);
        content.put(bytes).flip();
    }

    @TearDown(Level.Trial)
    public void tearDown() throws IOException, InterruptedException {
        io.shutdown();
        io.awaitTermination(30, TimeUnit.SECONDS);
        try (Stream<Path> all = Files.walk(root)) {
            all.sorted(Comparator.reverseOrder()).forEach(p -> p.toFile().delete());
        }
    }

    /** Not measured: the fill has committed (so the next one starts cold), and its blob is deleted again. */
    @TearDown(Level.Invocation)
    public void forget() throws Exception {
        if (last != null) {
            last.result().get(60, TimeUnit.SECONDS);
            last = null;
        }
        store.delete(digest);
    }

    @Benchmark
    public long untilVerified() throws Exception {
        BlobFill fill = feed();
        return fill.verified().get(60, TimeUnit.SECONDS);
    }

    @Benchmark
    public Path untilCommitted() throws Exception {
        BlobFill fill = feed();
        return fill.result().get(60, TimeUnit.SECONDS);
    }

    private BlobFill feed() throws InterruptedException {
        Fills.Acquired acquired = fills.acquire(digest);
        if (!acquired.started()) {
            throw new IllegalStateException("the blob was not cold: " + acquired.fill());
        }
        BlobFill fill = acquired.fill();
        last = fill;
        Semaphore writable = new Semaphore(0);
        fill.onWritable(writable::release);
        int size = content.capacity();
        fill.begin(size);
        int chunk = chunkKiB << 10;
        for (int pos = 0; pos < size; pos += chunk) {
            ByteBuffer slice = content.duplicate();
            slice.position(pos).limit(Math.min(size, pos + chunk));
            if (!fill.offer(slice.slice(), NO_RELEASE) && !writable.tryAcquire(60, TimeUnit.SECONDS)) {
                throw new IllegalStateException("the fill never resumed its writer");
            }
        }
        fill.complete();
        return fill;
    }
}

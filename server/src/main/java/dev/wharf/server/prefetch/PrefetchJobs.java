package dev.wharf.server.prefetch;

import java.net.URI;
import java.net.http.HttpClient;
import java.security.SecureRandom;
import java.time.Instant;
import java.util.ArrayList;
import java.util.HexFormat;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.Optional;
import java.util.concurrent.ArrayBlockingQueue;
import java.util.concurrent.RejectedExecutionException;
import java.util.concurrent.ThreadPoolExecutor;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.atomic.AtomicInteger;
import java.util.function.Supplier;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

/**
 * The admin API's prefetch jobs: each pulls its images through the server's own registry address (so the cache
 * fills exactly as a client's pull would fill it) and can be polled by id while it runs and after.
 *
 * <p>Bounds: at most {@link #RUNNING} jobs run at once and {@link #QUEUED} wait; beyond that {@link #submit}
 * refuses. The last {@link #KEPT} jobs are remembered (in memory only; a restart forgets them).
 *
 * <p>Threading: {@link #jobs} is guarded by its own monitor; a job's progress is written by its run and read by
 * any thread (see {@link ImageProgress}).
 */
public final class PrefetchJobs implements AutoCloseable {
    private static final Logger LOG = LoggerFactory.getLogger(PrefetchJobs.class);
    static final int RUNNING = 2;
    static final int QUEUED = 50;
    static final int KEPT = 200;

    /** Where a job is. */
    public enum State { QUEUED, RUNNING, SUCCEEDED, FAILED }

    /** One job: its images' progress is live. */
    public static final class Job {
        private final String id;
        private final Instant createdAt;
        private final List<Platform> platforms;
        private final List<ImageProgress> images;
        private volatile State state = State.QUEUED;
        private volatile Instant finishedAt;

        Job(String id, Instant createdAt, List<Platform> platforms, List<ImageProgress> images) {
            this.id = id;
            this.createdAt = createdAt;
            this.platforms = List.copyOf(platforms);
            this.images = List.copyOf(images);
        }

        public String id() {
            return id;
        }

        public Instant createdAt() {
            return createdAt;
        }

        /** When it finished, or null. */
        public Instant finishedAt() {
            return finishedAt;
        }

        /** Empty: every platform. */
        public List<Platform> platforms() {
            return platforms;
        }

        public List<ImageProgress> images() {
            return images;
        }

        public State state() {
            return state;
        }

        boolean finished() {
            return state == State.SUCCEEDED || state == State.FAILED;
        }
    }

    private final Supplier<URI> registry;
    private final HttpClient http;
    private final SecureRandom random = new SecureRandom();
    private final AtomicInteger threads = new AtomicInteger();
    private final ThreadPoolExecutor runner = new ThreadPoolExecutor(RUNNING, RUNNING, 60, TimeUnit.SECONDS,
            new ArrayBlockingQueue<>(QUEUED), r -> {
                Thread t = new Thread(r, "wharf-prefetch-job-" + threads.incrementAndGet());
                t.setDaemon(true);
                return t;
            });
    private final LinkedHashMap<String, Job> jobs = new LinkedHashMap<>();

    /** {@code registry}: the server's own registry URL, asked when a job starts (the port may be chosen late). */
    public PrefetchJobs(Supplier<URI> registry) {
        this(registry, null);
    }

    /** As above; {@code tls} (trusting the server's own certificate) when the registry URL is HTTPS, else null. */
    public PrefetchJobs(Supplier<URI> registry, javax.net.ssl.SSLContext tls) {
        this.registry = registry;
        this.http = PrefetchRun.newHttpClient(tls);
    }

    /**
     * Starts a job for {@code references} and {@code platforms} (empty: all).
     *
     * @throws RejectedExecutionException if too many jobs are waiting already
     */
    public Job submit(List<ImageReference> references, List<Platform> platforms) {
        List<ImageProgress> images = new ArrayList<>();
        references.forEach(r -> images.add(new ImageProgress(r)));
        byte[] idBytes = new byte[8];
        random.nextBytes(idBytes);
        Job job = new Job(HexFormat.of().formatHex(idBytes), Instant.now(), platforms, images);
        synchronized (jobs) {
            jobs.put(job.id(), job);
            forgetOldJobs();
        }
        try {
            runner.execute(() -> run(job));
        } catch (RejectedExecutionException e) {
            synchronized (jobs) {
                jobs.remove(job.id());
            }
            throw e;
        }
        LOG.info("prefetch job {} queued: {} images, platforms {}", job.id(), images.size(),
                platforms.isEmpty() ? "all" : platforms);
        return job;
    }

    /** The job with this id, if it is still remembered. */
    public Optional<Job> get(String id) {
        synchronized (jobs) {
            return Optional.ofNullable(jobs.get(id));
        }
    }

    /** Every remembered job, oldest first. */
    public List<Job> all() {
        synchronized (jobs) {
            return List.copyOf(jobs.values());
        }
    }

    private void run(Job job) {
        job.state = State.RUNNING;
        try {
            new PrefetchRun(http, registry.get(), PrefetchRun.DEFAULT_PARALLEL_IMAGES).run(job.images, job.platforms);
        } catch (InterruptedException e) {
            Thread.currentThread().interrupt();
        } catch (RuntimeException e) {
            LOG.error("prefetch job {} broke", job.id(), e);
            job.images.stream().filter(i -> !i.finished()).forEach(i -> i.failed("internal error: " + e));
        }
        long failed = job.images.stream().filter(i -> i.state() == ImageProgress.State.FAILED).count();
        job.finishedAt = Instant.now();
        job.state = failed == 0 ? State.SUCCEEDED : State.FAILED;
        LOG.info("prefetch job {} {}: {} of {} images pulled", job.id(), failed == 0 ? "succeeded" : "failed",
                job.images.size() - failed, job.images.size());
    }

    /** Drops the oldest finished jobs beyond {@link #KEPT}. Caller holds the monitor of {@link #jobs}. */
    private void forgetOldJobs() {
        int excess = jobs.size() - KEPT;
        for (var it = jobs.entrySet().iterator(); it.hasNext() && excess > 0; ) {
            Map.Entry<String, Job> e = it.next();
            if (e.getValue().finished()) {
                it.remove();
                excess--;
            }
        }
    }

    /** Cancels running jobs (their images end as failed, "cancelled"). */
    @Override
    public void close() {
        runner.shutdownNow();
    }
}

package dev.wharf.server.prefetch;

import java.net.URI;
import java.net.http.HttpClient;
import java.time.Duration;
import java.util.ArrayList;
import java.util.List;
import java.util.concurrent.ExecutionException;
import java.util.concurrent.ExecutorService;
import java.util.concurrent.Executors;
import java.util.concurrent.Future;
import java.util.concurrent.ThreadFactory;
import java.util.concurrent.atomic.AtomicInteger;

/**
 * One prefetch of a list of images through a wharf: a few images at a time, a few blobs of each at a time. The
 * pools live as long as the run. {@code wharf prefetch} runs one against {@code --url}; the admin API runs one per
 * job against the server's own registry address.
 */
public final class PrefetchRun {
    /** Images pulled at the same time unless told otherwise. */
    public static final int DEFAULT_PARALLEL_IMAGES = 3;
    /** Blob downloads per image at the same time. */
    public static final int PARALLEL_BLOBS = 4;
    /** A blob download that receives nothing for this long is abandoned. */
    public static final Duration STALL_TIMEOUT = Duration.ofMinutes(2);

    private final HttpClient http;
    private final URI wharf;
    private final int parallelImages;

    public PrefetchRun(HttpClient http, URI wharf, int parallelImages) {
        if (parallelImages < 1) {
            throw new IllegalArgumentException("parallel images must be at least 1");
        }
        this.http = http;
        this.wharf = wharf;
        this.parallelImages = parallelImages;
    }

    /** An HTTP/1.1 client for talking to wharf (wharf speaks HTTP/1.1; no h2c upgrade attempts). */
    public static HttpClient newHttpClient() {
        return newHttpClient(null);
    }

    /** As {@link #newHttpClient()}, with {@code tls} for HTTPS when it is not null. */
    public static HttpClient newHttpClient(javax.net.ssl.SSLContext tls) {
        HttpClient.Builder b = HttpClient.newBuilder()
                .version(HttpClient.Version.HTTP_1_1)
                .connectTimeout(Duration.ofSeconds(10))
                .followRedirects(HttpClient.Redirect.NORMAL);
        if (tls != null) {
            b.sslContext(tls);
        }
        return b.build();
    }

    /**
     * Pulls every image in {@code images} for {@code platforms} (empty: all), updating each one's progress; returns
     * when all are done or failed.
     *
     * @throws InterruptedException if interrupted; the downloads are cancelled and unfinished images marked failed
     */
    public void run(List<ImageProgress> images, List<Platform> platforms) throws InterruptedException {
        ExecutorService imagePool = Executors.newFixedThreadPool(parallelImages, daemon("wharf-prefetch-image"));
        ExecutorService blobPool = Executors.newFixedThreadPool(parallelImages * PARALLEL_BLOBS,
                daemon("wharf-prefetch-blob"));
        try {
            ImagePuller puller = new ImagePuller(http, wharf, blobPool, STALL_TIMEOUT);
            List<Future<?>> pulls = new ArrayList<>();
            for (ImageProgress image : images) {
                pulls.add(imagePool.submit(() -> {
                    puller.pull(image, List.copyOf(platforms));
                    return null;
                }));
            }
            for (Future<?> pull : pulls) {
                try {
                    pull.get();
                } catch (ExecutionException e) {
                    // pull() records its own failures; anything else is a bug worth seeing in the summary
                    throw new IllegalStateException(e.getCause());
                }
            }
        } finally {
            imagePool.shutdownNow();
            blobPool.shutdownNow();
            for (ImageProgress image : images) {
                if (!image.finished()) {
                    image.failed("cancelled");
                }
            }
        }
    }

    private static ThreadFactory daemon(String prefix) {
        AtomicInteger n = new AtomicInteger();
        return r -> {
            Thread t = new Thread(r, prefix + "-" + n.incrementAndGet());
            t.setDaemon(true);
            return t;
        };
    }
}

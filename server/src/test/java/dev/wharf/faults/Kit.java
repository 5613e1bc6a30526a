package dev.wharf.faults;

import java.io.IOException;
import java.io.InputStream;
import java.io.UncheckedIOException;
import java.net.URI;
import java.net.http.HttpClient;
import java.net.http.HttpHeaders;
import java.net.http.HttpRequest;
import java.net.http.HttpResponse;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.security.MessageDigest;
import java.security.NoSuchAlgorithmException;
import java.time.Duration;
import java.util.HexFormat;
import java.util.List;
import java.util.concurrent.ExecutionException;
import java.util.concurrent.Future;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.TimeoutException;
import java.util.concurrent.atomic.AtomicLong;
import java.util.function.BooleanSupplier;
import java.util.stream.Stream;

/**
 * Shared pieces of the fault tests: a streaming blob client that hashes as it reads (never holding a whole blob),
 * bounded waits, and looks into wharf's storage directory.
 */
final class Kit {
    static final long MiB = 1L << 20;

    /** One client connection pool for all fault tests: HTTP/1.1 as registry clients speak it. */
    static final HttpClient HTTP = HttpClient.newBuilder()
            .version(HttpClient.Version.HTTP_1_1)
            .connectTimeout(Duration.ofSeconds(5))
            .build();

    private Kit() {
    }

    /** Called after each chunk the client read, with the running total; may sleep (a slow client). */
    @FunctionalInterface
    interface Pace {
        void after(long total) throws InterruptedException;
    }

    /**
     * What one streamed GET saw. {@code eof}: the body ended by itself (read returned -1) with no exception.
     * {@code error}: the IOException that cut the body short, or null. Times are System.nanoTime().
     */
    record Fetch(int status, long contentLength, long bytes, String digest, boolean eof, IOException error,
            long startNanos, long firstMiBNanos, long doneNanos, HttpHeaders headers) {
        /** A whole, clean 200 response: EOF reached without error and exactly Content-Length bytes. */
        boolean clean() {
            return status == 200 && eof && error == null && contentLength >= 0 && bytes == contentLength;
        }

        String describe() {
            return "status " + status + ", Content-Length " + contentLength + ", read " + bytes + " bytes, eof "
                    + eof + ", error " + error + ", digest " + digest;
        }
    }

    /** Streams a GET of {@code uri}, hashing with SHA-256 as it goes; the body is never held whole. */
    static Fetch get(URI uri, Pace pace, AtomicLong progress, Duration limit) throws InterruptedException {
        long start = System.nanoTime();
        long deadline = start + limit.toNanos();
        HttpRequest request = HttpRequest.newBuilder(uri).timeout(Duration.ofSeconds(30)).GET().build();
        HttpResponse<InputStream> response;
        try {
            response = HTTP.send(request, HttpResponse.BodyHandlers.ofInputStream());
        } catch (IOException e) {
            return new Fetch(-1, -1, 0, null, false, e, start, 0, System.nanoTime(), null);
        }
        long contentLength = response.headers().firstValueAsLong("content-length").orElse(-1);
        MessageDigest sha = sha256();
        long total = 0;
        long firstMiB = 0;
        boolean eof = false;
        IOException error = null;
        try (InputStream in = response.body()) {
            byte[] buffer = new byte[64 << 10];
            int n;
            while ((n = in.read(buffer)) >= 0) {
                sha.update(buffer, 0, n);
                total += n;
                if (progress != null) {
                    progress.set(total);
                }
                if (firstMiB == 0 && total >= MiB) {
                    firstMiB = System.nanoTime();
                }
                if (pace != null) {
                    pace.after(total);
                }
                if (System.nanoTime() > deadline) {
                    throw new AssertionError("GET " + uri + " still reading after " + limit + " (" + total + " bytes)");
                }
            }
            eof = true;
        } catch (IOException e) {
            error = e;
        }
        long done = System.nanoTime();
        if (total > 0 && total < MiB && firstMiB == 0) {
            firstMiB = done;
        }
        return new Fetch(response.statusCode(), contentLength, total, "sha256:" + HexFormat.of().formatHex(sha.digest()),
                eof, error, start, firstMiB, done, response.headers());
    }

    /** A small GET read whole (manifests, error bodies). */
    static HttpResponse<byte[]> getBytes(URI uri, String... headers) throws IOException, InterruptedException {
        HttpRequest.Builder b = HttpRequest.newBuilder(uri).timeout(Duration.ofSeconds(30)).GET();
        for (int i = 0; i + 1 < headers.length; i += 2) {
            b.header(headers[i], headers[i + 1]);
        }
        return HTTP.send(b.build(), HttpResponse.BodyHandlers.ofByteArray());
    }

    /** A pace that holds the client to about {@code bytesPerSecond}. */
    static Pace rate(long bytesPerSecond) {
        long start = System.nanoTime();
        return total -> {
            long dueNanos = total * 1_000_000_000L / bytesPerSecond;
            long sleepNanos = dueNanos - (System.nanoTime() - start);
            if (sleepNanos > 0) {
                TimeUnit.NANOSECONDS.sleep(sleepNanos);
            }
        };
    }

    /** Waits at most {@code limit} for {@code condition}, polling every 20 ms; returns whether it came true. */
    static boolean await(Duration limit, BooleanSupplier condition) throws InterruptedException {
        long deadline = System.nanoTime() + limit.toNanos();
        while (true) {
            if (condition.getAsBoolean()) {
                return true;
            }
            if (System.nanoTime() > deadline) {
                return false;
            }
            Thread.sleep(20);
        }
    }

    /** The future's value, failing the test if it takes longer than {@code limit}. */
    static <T> T result(Future<T> future, Duration limit) throws InterruptedException {
        try {
            return future.get(limit.toMillis(), TimeUnit.MILLISECONDS);
        } catch (TimeoutException e) {
            future.cancel(true);
            throw new AssertionError("a client did not finish within " + limit, e);
        } catch (ExecutionException e) {
            throw new AssertionError("a client failed", e.getCause());
        }
    }

    /** Where wharf commits {@code digest} ({@code sha256:<hex>}) under its storage root. */
    static Path blobFile(Path storage, String digest) {
        String hex = digest.substring(digest.indexOf(':') + 1);
        return storage.resolve("blobs").resolve("sha256").resolve(hex.substring(0, 2)).resolve(hex);
    }

    /** Regular files below {@code dir} (none if it does not exist). */
    static List<Path> files(Path dir) {
        if (!Files.isDirectory(dir)) {
            return List.of();
        }
        try (Stream<Path> walk = Files.walk(dir)) {
            return walk.filter(Files::isRegularFile).toList();
        } catch (IOException e) {
            // A temp file renamed or deleted while we walk: look again.
            try (Stream<Path> walk = Files.walk(dir)) {
                return walk.filter(Files::isRegularFile).toList();
            } catch (IOException again) {
                throw new UncheckedIOException(again);
            }
        }
    }

    /**
     * The files below {@code root} that process {@code pid} holds open, from /proc/PID/fd (a deleted temp file shows
     * as "PATH (deleted)"). Each test's storage directory is its own, so anything listed belongs to that wharf.
     */
    static List<String> openFilesUnder(long pid, Path root) {
        Path fds = Path.of("/proc/" + pid + "/fd");
        String prefix = root.toAbsolutePath().normalize().toString() + "/";
        List<String> open = new java.util.ArrayList<>();
        try (Stream<Path> list = Files.list(fds)) {
            for (Path fd : list.toList()) {
                try {
                    String target = Files.readSymbolicLink(fd).toString();
                    if (target.startsWith(prefix)) {
                        open.add(target);
                    }
                } catch (IOException e) {
                    // closed while we looked
                }
            }
        } catch (IOException e) {
            throw new UncheckedIOException(e);
        }
        return open;
    }

    /** Fails unless process {@code pid} holds no file below {@code root} open, waiting at most 5 s for closes. */
    static void assertNoOpenFilesUnder(long pid, Path root, String when) throws InterruptedException {
        if (!await(Duration.ofSeconds(5), () -> openFilesUnder(pid, root).isEmpty())) {
            throw new AssertionError(when + ": wharf still holds open " + openFilesUnder(pid, root));
        }
    }

    static long size(Path file) {
        try {
            return Files.size(file);
        } catch (IOException e) {
            return -1;
        }
    }

    static String sha256(byte[] bytes) {
        return "sha256:" + HexFormat.of().formatHex(sha256().digest(bytes));
    }

    static MessageDigest sha256() {
        try {
            return MessageDigest.getInstance("SHA-256");
        } catch (NoSuchAlgorithmException e) {
            throw new IllegalStateException(e);
        }
    }

    static double seconds(long nanos) {
        return nanos / 1e9;
    }

    static String utf8(byte[] bytes) {
        return new String(bytes, StandardCharsets.UTF_8);
    }

    /** The {@code projects:} YAML of one project {@code name} pulling from {@code upstream}. */
    static String project(String name, String upstream, String tagTtl) {
        return "projects:\n  - name: " + name + "\n    upstream: " + upstream + "\n"
                + (tagTtl == null ? "" : "    tagTtl: " + tagTtl + "\n");
    }
}

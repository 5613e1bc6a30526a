package dev.wharf.testing;

import static org.junit.jupiter.api.Assertions.assertEquals;

import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.ObjectMapper;
import java.io.ByteArrayOutputStream;
import java.io.IOException;
import java.io.InputStream;
import java.io.OutputStream;
import java.io.UncheckedIOException;
import java.net.Socket;
import java.net.URI;
import java.net.http.HttpClient;
import java.net.http.HttpRequest;
import java.net.http.HttpResponse;
import java.nio.charset.StandardCharsets;
import java.nio.file.FileVisitResult;
import java.nio.file.Files;
import java.nio.file.Path;
import java.nio.file.SimpleFileVisitor;
import java.nio.file.attribute.BasicFileAttributes;
import java.security.MessageDigest;
import java.security.NoSuchAlgorithmException;
import java.time.Duration;
import java.util.ArrayList;
import java.util.HexFormat;
import java.util.List;
import java.util.Locale;
import java.util.concurrent.ExecutionException;
import java.util.concurrent.Future;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.TimeoutException;
import java.util.concurrent.atomic.AtomicLong;
import java.util.function.BooleanSupplier;
import java.util.stream.Stream;

/**
 * The client side of the pull tests, in one place: streamed blob GETs that hash as they read and never hold a whole
 * blob (over the JDK client, or over a raw socket that shows exactly how the body ended), image pulls, bounded
 * waits, and looks into wharf's storage directory and open files. Every GET returns a {@link Fetch}.
 */
public final class Pulls {
    public static final long MiB = 1L << 20;

    /** One client connection pool for all pull tests: HTTP/1.1 as registry clients speak it. */
    public static final HttpClient HTTP = HttpClient.newBuilder()
            .version(HttpClient.Version.HTTP_1_1)
            .connectTimeout(Duration.ofSeconds(5))
            .build();
    private static final ObjectMapper JSON = new ObjectMapper();

    private Pulls() {
    }

    /** Called after each chunk the client read, with the running total; may sleep (a slow client). */
    @FunctionalInterface
    public interface Pace {
        void after(long total) throws InterruptedException;
    }

    /** Streams a GET of {@code uri}, hashing with SHA-256 as it goes; the body is never held whole. */
    public static Fetch get(URI uri, Pace pace, AtomicLong progress, Duration limit) throws InterruptedException {
        long start = System.nanoTime();
        long deadline = start + limit.toNanos();
        HttpRequest request = HttpRequest.newBuilder(uri).timeout(Duration.ofSeconds(30)).GET().build();
        HttpResponse<InputStream> response;
        try {
            response = HTTP.send(request, HttpResponse.BodyHandlers.ofInputStream());
        } catch (IOException e) {
            return new Fetch(-1, -1, 0, null, false, e.toString(), start, 0, System.nanoTime(), null);
        }
        long contentLength = response.headers().firstValueAsLong("content-length").orElse(-1);
        MessageDigest sha = sha256();
        long total = 0;
        long firstMiB = 0;
        boolean eof = false;
        String error = null;
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
            error = e.toString();
        }
        long done = System.nanoTime();
        if (total > 0 && total < MiB && firstMiB == 0) {
            firstMiB = done;
        }
        return new Fetch(response.statusCode(), contentLength, total, "sha256:" + HexFormat.of().formatHex(sha.digest()),
                eof, error, start, firstMiB, done, response.headers());
    }

    /** A small GET read whole (manifests, error bodies). */
    public static HttpResponse<byte[]> getBytes(URI uri, String... headers) throws IOException, InterruptedException {
        HttpRequest.Builder b = HttpRequest.newBuilder(uri).timeout(Duration.ofSeconds(30)).GET();
        for (int i = 0; i + 1 < headers.length; i += 2) {
            b.header(headers[i], headers[i + 1]);
        }
        return HTTP.send(b.build(), HttpResponse.BodyHandlers.ofByteArray());
    }

    /** A pace that holds the client to about {@code bytesPerSecond}. */
    public static Pace rate(long bytesPerSecond) {
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
    public static boolean await(Duration limit, BooleanSupplier condition) throws InterruptedException {
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
    public static <T> T result(Future<T> future, Duration limit) throws InterruptedException {
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
    public static Path blobFile(Path storage, String digest) {
        String hex = digest.substring(digest.indexOf(':') + 1);
        return storage.resolve("blobs").resolve("sha256").resolve(hex.substring(0, 2)).resolve(hex);
    }

    /**
     * GETs {@code path} from {@code hostPort}, reading at most {@code bytesPerSecond} (0: as fast as possible) and
     * publishing the body bytes read so far in {@code progress} (may be null).
     */
    public static Fetch get(String hostPort, String path, long bytesPerSecond, AtomicLong progress, Duration limit) {
        String[] hp = hostPort.split(":");
        long deadline = System.nanoTime() + limit.toNanos();
        MessageDigest sha = sha256();
        int status = -1;
        long contentLength = -1;
        long read = 0;
        long begin = System.nanoTime();
        try (Socket socket = new Socket(hp[0], Integer.parseInt(hp[1]))) {
            socket.setSoTimeout((int) Math.max(1000, limit.toMillis()));
            socket.setReceiveBufferSize(64 << 10);
            OutputStream out = socket.getOutputStream();
            out.write(("GET " + path + " HTTP/1.1\r\nHost: " + hostPort + "\r\nConnection: close\r\n\r\n")
                    .getBytes(StandardCharsets.ISO_8859_1));
            out.flush();
            InputStream in = socket.getInputStream();
            String head = readHead(in);
            status = Integer.parseInt(head.substring(9, 12));
            for (String line : head.split("\r\n")) {
                if (line.toLowerCase(Locale.ROOT).startsWith("content-length:")) {
                    contentLength = Long.parseLong(line.substring(15).trim());
                }
            }
            byte[] buffer = new byte[32 << 10];
            long start = System.nanoTime();
            int n;
            while ((n = in.read(buffer)) > 0) {
                sha.update(buffer, 0, n);
                read += n;
                if (progress != null) {
                    progress.set(read);
                }
                if (System.nanoTime() > deadline) {
                    return new Fetch(status, contentLength, read, null, false, "timed out", begin, 0, System.nanoTime(), null);
                }
                if (bytesPerSecond > 0) {
                    long due = start + read * 1_000_000_000L / bytesPerSecond;
                    long wait = due - System.nanoTime();
                    if (wait > 0) {
                        TimeUnit.NANOSECONDS.sleep(wait);
                    }
                }
            }
            return new Fetch(status, contentLength, read, "sha256:" + HexFormat.of().formatHex(sha.digest()), true,
                    null, begin, 0, System.nanoTime(), null);
        } catch (IOException e) {
            return new Fetch(status, contentLength, read, null, false, e.toString(), begin, 0, System.nanoTime(), null);
        } catch (InterruptedException e) {
            Thread.currentThread().interrupt();
            return new Fetch(status, contentLength, read, null, false, e.toString(), begin, 0, System.nanoTime(), null);
        }
    }

    private static String readHead(InputStream in) throws IOException {
        ByteArrayOutputStream head = new ByteArrayOutputStream();
        int state = 0;
        int b;
        while (state < 4 && (b = in.read()) >= 0) {
            head.write(b);
            state = (b == '\r' && (state == 0 || state == 2)) || (b == '\n' && (state == 1 || state == 3))
                    ? state + 1 : (b == '\r' ? 1 : 0);
        }
        if (state < 4) {
            throw new IOException("the connection closed inside the response head");
        }
        return head.toString(StandardCharsets.ISO_8859_1);
    }

    /**
     * Pulls {@code image} through wharf the way a client does (manifest by tag, then every blob) and checks every
     * digest; returns the blob digests.
     */
    public static List<String> pullImage(String hostPort, String project, ImageSeeder.Image image) {
        String base = "/v2/" + project + "/" + image.repo();
        Fetch manifest = getWithAccept(hostPort, base + "/manifests/" + image.tag(), image.mediaType());
        assertEquals(image.manifestDigest(), manifest.digest(), "manifest of " + image.reference() + ": "
                + manifest.describe());
        List<String> blobs = new ArrayList<>(image.blobDigests());
        for (String digest : blobs) {
            Fetch blob = get(hostPort, base + "/blobs/" + digest, 0, null, Duration.ofSeconds(60));
            if (!blob.whole() || !digest.equals(blob.digest())) {
                throw new AssertionError("blob " + digest + " of " + image.reference() + ": " + blob.describe());
            }
        }
        return blobs;
    }

    private static Fetch getWithAccept(String hostPort, String path, String accept) {
        String[] hp = hostPort.split(":");
        try (Socket socket = new Socket(hp[0], Integer.parseInt(hp[1]))) {
            socket.setSoTimeout(30_000);
            OutputStream out = socket.getOutputStream();
            out.write(("GET " + path + " HTTP/1.1\r\nHost: " + hostPort + "\r\nAccept: " + accept
                    + "\r\nConnection: close\r\n\r\n").getBytes(StandardCharsets.ISO_8859_1));
            out.flush();
            InputStream in = socket.getInputStream();
            String head = readHead(in);
            byte[] body = in.readAllBytes();
            int status = Integer.parseInt(head.substring(9, 12));
            return new Fetch(status, body.length, body.length, ImageSeeder.sha256(body), true, null, 0, 0, 0, null);
        } catch (IOException e) {
            throw new UncheckedIOException(e);
        }
    }

    /** The manifest's layer digests (to tell a test which blobs an image has). */
    public static List<String> layers(byte[] manifest) {
        try {
            List<String> out = new ArrayList<>();
            for (JsonNode layer : JSON.readTree(manifest).get("layers")) {
                out.add(layer.get("digest").asText());
            }
            return out;
        } catch (IOException e) {
            throw new UncheckedIOException(e);
        }
    }

    /** Total bytes of the regular files under {@code dir} (0 if it does not exist). */
    public static long bytesUnder(Path dir) {
        long[] total = {0};
        walk(dir, (file, attrs) -> total[0] += attrs.size());
        return total[0];
    }

    /** The regular files under {@code dir} (none if it does not exist; files that vanish while we look are left out). */
    public static List<Path> files(Path dir) {
        List<Path> files = new ArrayList<>();
        walk(dir, (file, attrs) -> files.add(file));
        return files;
    }

    private interface Visit {
        void file(Path file, BasicFileAttributes attrs);
    }

    private static void walk(Path dir, Visit visit) {
        if (!Files.isDirectory(dir)) {
            return;
        }
        try {
            Files.walkFileTree(dir, new SimpleFileVisitor<>() {
                @Override
                public FileVisitResult visitFile(Path file, BasicFileAttributes attrs) {
                    if (attrs.isRegularFile()) {
                        visit.file(file, attrs);
                    }
                    return FileVisitResult.CONTINUE;
                }

                @Override
                public FileVisitResult visitFileFailed(Path file, IOException e) {
                    return FileVisitResult.CONTINUE; // renamed or deleted while we walk
                }

                @Override
                public FileVisitResult postVisitDirectory(Path d, IOException e) {
                    return FileVisitResult.CONTINUE;
                }
            });
        } catch (IOException e) {
            throw new UncheckedIOException(e);
        }
    }

    /** Every file under blobs/ hashes to its own name: nothing corrupt or half written under a final name. */
    public static void assertBlobsIntact(Path storage) {
        for (Path file : files(storage.resolve("blobs"))) {
            String name = "sha256:" + file.getFileName();
            String actual;
            try {
                actual = ImageSeeder.sha256(file);
            } catch (UncheckedIOException e) {
                if (e.getCause() instanceof java.nio.file.NoSuchFileException) {
                    continue; // evicted between the listing and the read: gone files cannot be served as whole
                }
                throw e;
            }
            assertEquals(name, actual, "a blob file does not match its name: " + file);
        }
    }

    /**
     * The files below {@code root} that process {@code pid} holds open, from /proc/PID/fd (a deleted temp file shows
     * as "PATH (deleted)"). Each test's storage directory is its own, so anything listed belongs to that wharf. The
     * server's lock file ({@code <root>/.lock}, held open for its life on purpose) is not listed.
     */
    public static List<String> openFilesUnder(long pid, Path root) {
        Path fds = Path.of("/proc/" + pid + "/fd");
        String prefix = root.toAbsolutePath().normalize().toString() + "/";
        String lock = prefix + ".lock";
        List<String> open = new java.util.ArrayList<>();
        try (Stream<Path> list = Files.list(fds)) {
            for (Path fd : list.toList()) {
                try {
                    String target = Files.readSymbolicLink(fd).toString();
                    if (target.startsWith(prefix) && !target.equals(lock)) {
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
    public static void assertNoOpenFilesUnder(long pid, Path root, String when) throws InterruptedException {
        if (!await(Duration.ofSeconds(5), () -> openFilesUnder(pid, root).isEmpty())) {
            throw new AssertionError(when + ": wharf still holds open " + openFilesUnder(pid, root));
        }
    }

    public static long size(Path file) {
        try {
            return Files.size(file);
        } catch (IOException e) {
            return -1;
        }
    }

    public static String sha256(byte[] bytes) {
        return "sha256:" + HexFormat.of().formatHex(sha256().digest(bytes));
    }

    public static MessageDigest sha256() {
        try {
            return MessageDigest.getInstance("SHA-256");
        } catch (NoSuchAlgorithmException e) {
            throw new IllegalStateException(e);
        }
    }

    public static double seconds(long nanos) {
        return nanos / 1e9;
    }

    public static String utf8(byte[] bytes) {
        return new String(bytes, StandardCharsets.UTF_8);
    }

}

package dev.wharf.server.storagebounds;

import static org.junit.jupiter.api.Assertions.assertEquals;

import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.ObjectMapper;
import dev.wharf.testing.ImageSeeder;
import java.io.ByteArrayOutputStream;
import java.io.IOException;
import java.io.InputStream;
import java.io.OutputStream;
import java.io.UncheckedIOException;
import java.net.Socket;
import java.net.URI;
import java.nio.charset.StandardCharsets;
import java.nio.file.FileVisitResult;
import java.nio.file.Files;
import java.nio.file.Path;
import java.nio.file.SimpleFileVisitor;
import java.nio.file.attribute.BasicFileAttributes;
import java.security.MessageDigest;
import java.time.Duration;
import java.util.ArrayList;
import java.util.HexFormat;
import java.util.List;
import java.util.Locale;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.atomic.AtomicLong;
import java.util.function.BooleanSupplier;

/**
 * Client side of the storage-bounds tests: a blob GET over a raw socket that hashes as it reads and can read slowly
 * (so a test sees exactly how the body ended), an image pull (manifest by tag, then its blobs), bounded waits, and
 * looks at what is on disk.
 */
final class Pulls {
    static final long MiB = 1L << 20;
    private static final ObjectMapper JSON = new ObjectMapper();

    private Pulls() {
    }

    /**
     * What one GET saw. {@code whole}: status 200, exactly Content-Length bytes, then the end of the stream (the
     * request asks for {@code Connection: close}), and no error.
     */
    record Fetch(int status, long contentLength, long bytes, String digest, boolean whole, String error) {
        String describe() {
            return "status " + status + ", Content-Length " + contentLength + ", read " + bytes + ", whole " + whole
                    + ", error " + error + ", digest " + digest;
        }
    }

    /**
     * GETs {@code path} from {@code hostPort}, reading at most {@code bytesPerSecond} (0: as fast as possible) and
     * publishing the body bytes read so far in {@code progress} (may be null).
     */
    static Fetch get(String hostPort, String path, long bytesPerSecond, AtomicLong progress, Duration limit) {
        String[] hp = hostPort.split(":");
        long deadline = System.nanoTime() + limit.toNanos();
        MessageDigest sha = sha256();
        int status = -1;
        long contentLength = -1;
        long read = 0;
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
                    return new Fetch(status, contentLength, read, null, false, "timed out");
                }
                if (bytesPerSecond > 0) {
                    long due = start + read * 1_000_000_000L / bytesPerSecond;
                    long wait = due - System.nanoTime();
                    if (wait > 0) {
                        TimeUnit.NANOSECONDS.sleep(wait);
                    }
                }
            }
            boolean whole = status == 200 && contentLength >= 0 && read == contentLength;
            return new Fetch(status, contentLength, read, "sha256:" + HexFormat.of().formatHex(sha.digest()), whole,
                    null);
        } catch (IOException e) {
            return new Fetch(status, contentLength, read, null, false, e.toString());
        } catch (InterruptedException e) {
            Thread.currentThread().interrupt();
            return new Fetch(status, contentLength, read, null, false, e.toString());
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
    static List<String> pullImage(String hostPort, String project, ImageSeeder.Image image) {
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
            return new Fetch(status, body.length, body.length, ImageSeeder.sha256(body), status == 200, null);
        } catch (IOException e) {
            throw new UncheckedIOException(e);
        }
    }

    /** The manifest's layer digests (to tell a test which blobs an image has). */
    static List<String> layers(byte[] manifest) {
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

    static boolean await(Duration limit, BooleanSupplier condition) throws InterruptedException {
        long deadline = System.nanoTime() + limit.toNanos();
        while (System.nanoTime() < deadline) {
            if (condition.getAsBoolean()) {
                return true;
            }
            Thread.sleep(20);
        }
        return condition.getAsBoolean();
    }

    /** The file of a blob in wharf's storage. */
    static Path blobFile(Path storage, String digest) {
        String hex = digest.substring(digest.indexOf(':') + 1);
        return storage.resolve("blobs").resolve("sha256").resolve(hex.substring(0, 2)).resolve(hex);
    }

    /** Total bytes of the regular files under {@code dir} (0 if it does not exist). */
    static long bytesUnder(Path dir) {
        long[] total = {0};
        walk(dir, (file, attrs) -> total[0] += attrs.size());
        return total[0];
    }

    /** The regular files under {@code dir}. */
    static List<Path> filesUnder(Path dir) {
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
                    return FileVisitResult.CONTINUE;
                }
            });
        } catch (IOException e) {
            throw new UncheckedIOException(e);
        }
    }

    /** Every file under blobs/ hashes to its own name: nothing corrupt or half written under a final name. */
    static void assertBlobsIntact(Path storage) {
        for (Path file : filesUnder(storage.resolve("blobs"))) {
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

    private static MessageDigest sha256() {
        try {
            return MessageDigest.getInstance("SHA-256");
        } catch (Exception e) {
            throw new IllegalStateException(e);
        }
    }
}

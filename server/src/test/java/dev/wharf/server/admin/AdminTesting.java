package dev.wharf.server.admin;

import static org.junit.jupiter.api.Assertions.assertEquals;

import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.ObjectMapper;
import dev.wharf.testing.ImageSeeder;
import dev.wharf.testing.ImageSeeder.Image;
import dev.wharf.testing.Pulls;
import dev.wharf.testing.StoredBlobs;
import java.io.IOException;
import java.io.UncheckedIOException;
import java.net.URI;
import java.net.http.HttpClient;
import java.net.http.HttpRequest;
import java.net.http.HttpResponse;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.time.Duration;
import java.util.ArrayList;
import java.util.Collection;
import java.util.HashSet;
import java.util.List;
import java.util.Set;
import java.util.stream.Stream;

/**
 * Shared pieces of the admin and CLI tests: admin API requests with a token, pulls through wharf that check every
 * digest, and what a project links in the store. Generic pull and storage helpers live in {@link Pulls}.
 */
final class AdminTesting {
    static final ObjectMapper JSON = new ObjectMapper();
    static final HttpClient HTTP = Pulls.HTTP;
    static final String ALL_MANIFESTS = "application/vnd.oci.image.index.v1+json, "
            + "application/vnd.docker.distribution.manifest.list.v2+json, application/vnd.oci.image.manifest.v1+json, "
            + "application/vnd.docker.distribution.manifest.v2+json";

    private AdminTesting() {
    }

    /** A request with an optional {@code Authorization} header value and body. */
    static HttpResponse<String> send(URI base, String method, String path, String authorization, String body) {
        HttpRequest.Builder b = HttpRequest.newBuilder(URI.create(base + path)).timeout(Duration.ofSeconds(60))
                .method(method, body == null ? HttpRequest.BodyPublishers.noBody()
                        : HttpRequest.BodyPublishers.ofString(body));
        if (authorization != null) {
            b.header("Authorization", authorization);
        }
        if (body != null) {
            b.header("Content-Type", "application/json");
        }
        try {
            return HTTP.send(b.build(), HttpResponse.BodyHandlers.ofString());
        } catch (IOException e) {
            throw new UncheckedIOException(e);
        } catch (InterruptedException e) {
            Thread.currentThread().interrupt();
            throw new AssertionError(e);
        }
    }

    static JsonNode json(HttpResponse<String> response) {
        try {
            return JSON.readTree(response.body());
        } catch (IOException e) {
            throw new AssertionError("not JSON: " + response.body(), e);
        }
    }

    /** GET through wharf, failing the test unless 200; returns the body. */
    static byte[] get(URI base, String path, String accept) {
        HttpRequest.Builder b = HttpRequest.newBuilder(URI.create(base + path)).timeout(Duration.ofSeconds(60)).GET();
        if (accept != null) {
            b.header("Accept", accept);
        }
        try {
            HttpResponse<byte[]> r = HTTP.send(b.build(), HttpResponse.BodyHandlers.ofByteArray());
            assertEquals(200, r.statusCode(), "GET " + path + ": " + new String(r.body(), StandardCharsets.UTF_8));
            return r.body();
        } catch (IOException e) {
            throw new UncheckedIOException(e);
        } catch (InterruptedException e) {
            Thread.currentThread().interrupt();
            throw new AssertionError(e);
        }
    }

    /** Pulls {@code image} through wharf under {@code prefix} (e.g. {@code /v2/hub/}) by tag: manifest, then blobs. */
    static void pull(URI base, String prefix, Image image) {
        byte[] manifest = get(base, prefix + image.repo() + "/manifests/" + image.tag(), ALL_MANIFESTS);
        assertEquals(image.manifestDigest(), ImageSeeder.sha256(manifest));
        pullBlobs(base, prefix, image);
    }

    /** The config and layers of {@code image} through wharf, each checked against its digest. */
    static void pullBlobs(URI base, String prefix, Image image) {
        for (String blob : image.blobDigests()) {
            assertEquals(blob, ImageSeeder.sha256(get(base, prefix + image.repo() + "/blobs/" + blob, null)));
        }
    }

    /** {@code <storage>/blobs/sha256/xx/<hex>} of a digest. */
    static Path blobFile(Path storage, String digest) {
        return Pulls.blobFile(storage, digest);
    }

    /** Sum of the sizes of the stored blob files among {@code digests}. */
    static long storedBytes(Path storage, Collection<String> digests) {
        long sum = 0;
        for (String d : new HashSet<>(digests)) {
            Path f = blobFile(storage, d);
            if (Files.isRegularFile(f)) {
                sum += size(f);
            }
        }
        return sum;
    }

    /** The digests {@code project} links (projects/P/links/sha256/*), read from disk. */
    static Set<String> linked(Path storage, String project) {
        Set<String> out = new HashSet<>();
        Path dir = storage.resolve("projects").resolve(project).resolve("links/sha256");
        if (!Files.isDirectory(dir)) {
            return out;
        }
        try (Stream<Path> files = Files.list(dir)) {
            files.forEach(f -> out.add("sha256:" + f.getFileName()));
        } catch (IOException e) {
            throw new UncheckedIOException(e);
        }
        return out;
    }

    /**
     * Waits (at most 10 s) until {@code project} links every digest in {@code digests}, then (bounded too) until each
     * is committed under blobs/. A client has the last byte of a blob once its digest matched: wharf links it then,
     * and fsyncs and renames it into place after, so a test that looks at the store right after a pull waits for
     * both first.
     */
    static void awaitLinked(Path storage, String project, Collection<String> digests) {
        awaitLinkOnly(storage, project, digests);
        try {
            StoredBlobs.await(storage, digests);
        } catch (InterruptedException e) {
            Thread.currentThread().interrupt();
            throw new AssertionError(e);
        }
    }

    private static void awaitLinkOnly(Path storage, String project, Collection<String> digests) {
        long deadline = System.nanoTime() + 10_000_000_000L;
        while (!linked(storage, project).containsAll(digests)) {
            if (System.nanoTime() > deadline) {
                Set<String> missing = new HashSet<>(digests);
                missing.removeAll(linked(storage, project));
                throw new AssertionError("project " + project + " never linked " + missing);
            }
            try {
                Thread.sleep(20);
            } catch (InterruptedException e) {
                Thread.currentThread().interrupt();
                throw new AssertionError(e);
            }
        }
    }

    /** The manifest, config and layers of {@code image}. */
    static List<String> digestsOf(Image image) {
        List<String> all = new ArrayList<>();
        all.add(image.manifestDigest());
        all.addAll(image.blobDigests());
        return all;
    }

    /** Bytes of every file under blobs/, and how many, as {@code du} counts the whole store. */
    static long[] allBlobFiles(Path storage) {
        long[] countAndBytes = new long[2];
        try (Stream<Path> files = Files.walk(storage.resolve("blobs"))) {
            files.filter(Files::isRegularFile).forEach(f -> {
                countAndBytes[0]++;
                countAndBytes[1] += size(f);
            });
        } catch (IOException e) {
            throw new UncheckedIOException(e);
        }
        return countAndBytes;
    }

    static long size(Path f) {
        try {
            return Files.size(f);
        } catch (IOException e) {
            throw new UncheckedIOException(e);
        }
    }

    /** Manifest plus config and layers: what one image occupies in the cache. */
    static long imageBytes(Image image) {
        return image.manifestSize() + image.totalBlobBytes();
    }
}

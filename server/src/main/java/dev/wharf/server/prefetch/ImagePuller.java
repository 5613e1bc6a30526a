package dev.wharf.server.prefetch;

import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.ObjectMapper;
import dev.wharf.storage.Digest;
import java.io.IOException;
import java.net.URI;
import java.net.http.HttpClient;
import java.net.http.HttpRequest;
import java.net.http.HttpResponse;
import java.nio.charset.StandardCharsets;
import java.security.MessageDigest;
import java.time.Duration;
import java.util.ArrayList;
import java.util.LinkedHashMap;
import java.util.LinkedHashSet;
import java.util.List;
import java.util.Locale;
import java.util.Map;
import java.util.Set;
import java.util.concurrent.CancellationException;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.ExecutionException;
import java.util.concurrent.ExecutorService;
import java.util.concurrent.Future;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.TimeoutException;
import java.util.concurrent.atomic.AtomicLong;

/**
 * Pulls one image through wharf's {@code /v2} API the way a client does, to warm wharf's cache: the manifest (for
 * an index, the chosen platforms' manifests, or all of them), then every config and layer. Each body is streamed
 * into a digest check and dropped; nothing is written locally. Shared by {@code wharf prefetch} and the admin
 * API's prefetch jobs.
 *
 * <p>Threading: {@link #pull} runs on the caller's thread and fans the blobs out to the run's blob pool; one
 * instance serves any number of concurrent pulls.
 */
public final class ImagePuller {
    /** Every manifest type wharf serves, so the answer to a tag is what any client would get (and is cached so). */
    static final String ACCEPT = String.join(", ",
            "application/vnd.oci.image.index.v1+json",
            "application/vnd.docker.distribution.manifest.list.v2+json",
            "application/vnd.oci.image.manifest.v1+json",
            "application/vnd.docker.distribution.manifest.v2+json");
    private static final ObjectMapper JSON = new ObjectMapper();
    /** Index → index → manifest is as deep as real images go; anything deeper is refused, not followed forever. */
    private static final int MAX_DEPTH = 3;
    private static final Duration MANIFEST_TIMEOUT = Duration.ofMinutes(2);
    /** So wharf's access log tells prefetches from client pulls. */
    static final String USER_AGENT = "wharf-prefetch";

    private final HttpClient http;
    private final String wharf;
    private final ExecutorService blobPool;
    private final Duration stallTimeout;

    /**
     * @param wharf        wharf's base URL ({@code http://host:port}, a path prefix allowed)
     * @param blobPool     where blob downloads run; its tasks never wait on each other
     * @param stallTimeout a blob download that receives nothing for this long is abandoned
     */
    public ImagePuller(HttpClient http, URI wharf, ExecutorService blobPool, Duration stallTimeout) {
        this.http = http;
        String base = wharf.toString();
        this.wharf = base.endsWith("/") ? base.substring(0, base.length() - 1) : base;
        this.blobPool = blobPool;
        this.stallTimeout = stallTimeout;
    }

    /**
     * Pulls {@code progress.reference()} for {@code platforms} (empty: every manifest of an index), updating
     * {@code progress} as it goes; on failure progress says why. Never throws for a failed image.
     *
     * @throws InterruptedException if interrupted (the image is then marked failed)
     */
    public void pull(ImageProgress progress, List<Platform> platforms) throws InterruptedException {
        ImageReference ref = progress.reference();
        progress.resolving();
        try {
            Fetched top = manifest(ref, ref.reference(), ref.digest());
            List<Fetched> images = new ArrayList<>();
            Set<Platform> matched = new LinkedHashSet<>();
            Set<String> offered = new LinkedHashSet<>();
            collect(ref, top, platforms, images, matched, offered, new LinkedHashSet<>(), 0);
            if (images.isEmpty()) {
                throw new Failure("no manifest for " + platforms + " (the index has " + offered + ")");
            }
            if (isIndex(top) && !platforms.isEmpty() && matched.size() < platforms.size()) {
                List<Platform> absent = new ArrayList<>(platforms);
                absent.removeAll(matched);
                progress.note("no " + absent + " in the index");
            }
            Map<Digest, Blob> blobs = new LinkedHashMap<>();
            for (Fetched image : images) {
                addBlob(blobs, image.json().get("config"), false, image);
                for (JsonNode layer : image.json().path("layers")) {
                    addBlob(blobs, layer, true, image);
                }
            }
            long bytes = blobs.values().stream().mapToLong(Blob::size).sum();
            long layers = blobs.values().stream().filter(Blob::layer).count();
            progress.resolved(top.digest().toString(), images.size(), bytes, layers);
            fetchAll(ref, blobs.values(), progress);
            progress.done();
        } catch (Failure e) {
            progress.failed(e.getMessage());
        } catch (InterruptedException e) {
            progress.failed("cancelled");
            throw e;
        } catch (RuntimeException e) {
            progress.failed(e.toString());
        }
    }

    /** A manifest wharf answered, checked against its digest. */
    private record Fetched(Digest digest, String mediaType, JsonNode json) {
    }

    /** A blob to fetch: config or layer. */
    private record Blob(Digest digest, long size, boolean layer) {
    }

    /** Why an image failed; the message is what the summary shows. */
    private static final class Failure extends Exception {
        Failure(String message) {
            super(message, null, false, false);
        }
    }

    // ------------------------------------------------------------------------------------------------ manifests

    private void collect(ImageReference ref, Fetched m, List<Platform> platforms, List<Fetched> images,
                         Set<Platform> matched, Set<String> offered, Set<Digest> seen, int depth)
            throws Failure, InterruptedException {
        if (!isIndex(m)) {
            if (!m.json().has("config") && !m.json().has("layers")) {
                throw new Failure("manifest " + m.digest() + " has an unsupported type " + m.mediaType());
            }
            if (seen.add(m.digest())) {
                images.add(m);
            }
            return;
        }
        if (depth >= MAX_DEPTH) {
            throw new Failure("indexes nested deeper than " + MAX_DEPTH + " at " + m.digest());
        }
        for (JsonNode entry : m.json().path("manifests")) {
            JsonNode platform = entry.get("platform");
            offered.add(Platform.describe(platform));
            if (!platforms.isEmpty()) {
                Platform wanted = platforms.stream().filter(p -> p.matches(platform)).findFirst().orElse(null);
                if (wanted == null) {
                    continue;
                }
                matched.add(wanted);
            }
            Digest child = digest(entry, "manifest entry of index " + m.digest());
            if (seen.contains(child)) {
                continue;
            }
            collect(ref, manifest(ref, child.toString(), child), platforms, images, matched, offered, seen, depth + 1);
        }
    }

    private Fetched manifest(ImageReference ref, String reference, Digest expected)
            throws Failure, InterruptedException {
        String what = "manifest " + reference;
        HttpRequest request = HttpRequest.newBuilder(URI.create(wharf + ref.manifestPath(reference)))
                .header("Accept", ACCEPT).header("User-Agent", USER_AGENT).timeout(MANIFEST_TIMEOUT).GET().build();
        HttpResponse<byte[]> response;
        try {
            response = http.send(request, HttpResponse.BodyHandlers.ofByteArray());
        } catch (IOException e) {
            throw new Failure(what + ": " + describe(e));
        }
        if (response.statusCode() != 200) {
            throw new Failure(what + ": " + errorMessage(response.statusCode(), response.body()));
        }
        byte[] body = response.body();
        Digest actual = Digest.of(expected == null ? "sha256" : expected.algorithm(), body);
        if (expected != null && !expected.equals(actual)) {
            throw new Failure(what + ": wharf sent bytes with digest " + actual);
        }
        String claimed = response.headers().firstValue("Docker-Content-Digest").orElse(null);
        if (claimed != null && claimed.startsWith(actual.algorithm() + ":") && !claimed.equals(actual.toString())) {
            throw new Failure(what + ": Docker-Content-Digest " + claimed + " does not match the bytes (" + actual + ")");
        }
        JsonNode json;
        try {
            json = JSON.readTree(body);
        } catch (IOException e) {
            throw new Failure(what + " is not JSON: " + e.getMessage());
        }
        if (json == null || !json.isObject()) {
            throw new Failure(what + " is not a JSON object");
        }
        String type = response.headers().firstValue("Content-Type").map(t -> t.split(";")[0].trim())
                .orElse(json.path("mediaType").asText(""));
        return new Fetched(actual, type, json);
    }

    private static boolean isIndex(Fetched m) {
        String type = m.mediaType().toLowerCase(Locale.ROOT);
        return type.equals("application/vnd.oci.image.index.v1+json")
                || type.equals("application/vnd.docker.distribution.manifest.list.v2+json")
                || (m.json().path("manifests").isArray() && !m.json().has("layers"));
    }

    private static void addBlob(Map<Digest, Blob> blobs, JsonNode descriptor, boolean layer, Fetched image)
            throws Failure {
        if (descriptor == null || descriptor.isNull()) {
            if (!layer) {
                throw new Failure("manifest " + image.digest() + " has no config");
            }
            return;
        }
        String type = descriptor.path("mediaType").asText("");
        if (type.contains("foreign") || type.contains("nondistributable")) {
            return; // served from its own URLs, never by a registry
        }
        Digest d = digest(descriptor, "blob of manifest " + image.digest());
        long size = descriptor.path("size").asLong(-1);
        if (size < 0) {
            throw new Failure("blob " + d + " of manifest " + image.digest() + " has no size");
        }
        blobs.putIfAbsent(d, new Blob(d, size, layer));
    }

    private static Digest digest(JsonNode descriptor, String what) throws Failure {
        try {
            return Digest.parse(descriptor.path("digest").asText(null));
        } catch (IllegalArgumentException e) {
            throw new Failure(what + ": " + e.getMessage());
        }
    }

    // ------------------------------------------------------------------------------------------------ blobs

    private void fetchAll(ImageReference ref, Iterable<Blob> blobs, ImageProgress progress)
            throws Failure, InterruptedException {
        List<Future<String>> pending = new ArrayList<>();
        for (Blob b : blobs) {
            pending.add(blobPool.submit(() -> fetch(ref, b, progress)));
        }
        List<String> errors = new ArrayList<>();
        try {
            for (Future<String> f : pending) {
                String error;
                try {
                    error = f.get();
                } catch (ExecutionException e) {
                    error = describe(e.getCause());
                } catch (CancellationException e) {
                    error = "cancelled";
                }
                if (error != null) {
                    errors.add(error);
                }
            }
        } finally {
            pending.forEach(f -> f.cancel(true));
        }
        if (!errors.isEmpty()) {
            throw new Failure(errors.get(0) + (errors.size() > 1 ? " (and " + (errors.size() - 1) + " more)" : ""));
        }
    }

    /** Fetches one blob and checks it; returns null when good, else why not. */
    private String fetch(ImageReference ref, Blob blob, ImageProgress progress) throws InterruptedException {
        String what = "blob " + blob.digest();
        MessageDigest md = Digest.newMessageDigest(blob.digest().algorithm());
        AtomicLong received = new AtomicLong();
        AtomicLong lastBytesAt = new AtomicLong(System.nanoTime());
        HttpResponse.BodyHandler<byte[]> handler = info -> {
            if (info.statusCode() != 200) {
                return HttpResponse.BodySubscribers.ofByteArray();
            }
            return HttpResponse.BodySubscribers.mapping(HttpResponse.BodySubscribers.ofByteArrayConsumer(chunk ->
                    chunk.ifPresent(bytes -> {
                        md.update(bytes);
                        received.addAndGet(bytes.length);
                        progress.addBytes(bytes.length);
                        lastBytesAt.set(System.nanoTime());
                    })), ignored -> null);
        };
        HttpRequest request = HttpRequest.newBuilder(URI.create(wharf + ref.blobPath(blob.digest())))
                .header("User-Agent", USER_AGENT).GET().build();
        CompletableFuture<HttpResponse<byte[]>> call = http.sendAsync(request, handler);
        HttpResponse<byte[]> response;
        try {
            while (true) {
                try {
                    response = call.get(1, TimeUnit.SECONDS);
                    break;
                } catch (TimeoutException e) {
                    if (System.nanoTime() - lastBytesAt.get() > stallTimeout.toNanos()) {
                        call.cancel(true);
                        return what + ": nothing received for " + stallTimeout.toSeconds() + " s";
                    }
                }
            }
        } catch (ExecutionException e) {
            return what + ": " + describe(e.getCause());
        } catch (InterruptedException e) {
            call.cancel(true);
            throw e;
        }
        if (response.statusCode() != 200) {
            return what + ": " + errorMessage(response.statusCode(), response.body());
        }
        Digest actual = Digest.of(blob.digest().algorithm(), md);
        if (received.get() != blob.size() || !actual.equals(blob.digest())) {
            return what + ": wharf sent " + received.get() + " bytes with digest " + actual + ", expected "
                    + blob.size() + " bytes";
        }
        if (blob.layer()) {
            progress.layerDone();
        }
        return null;
    }

    // ------------------------------------------------------------------------------------------------ helpers

    /** An error answer as one line: status, and the OCI error's code and message when there is one. */
    static String errorMessage(int status, byte[] body) {
        StringBuilder out = new StringBuilder("HTTP ").append(status);
        try {
            JsonNode first = JSON.readTree(body).path("errors").path(0);
            if (first.hasNonNull("code")) {
                out.append(' ').append(first.get("code").asText());
            }
            if (first.hasNonNull("message")) {
                out.append(": ").append(first.get("message").asText());
            }
        } catch (IOException | RuntimeException e) {
            String text = new String(body == null ? new byte[0] : body, StandardCharsets.UTF_8).strip();
            if (!text.isEmpty()) {
                out.append(": ").append(text.length() > 200 ? text.substring(0, 200) + "..." : text);
            }
        }
        return out.toString();
    }

    private static String describe(Throwable t) {
        String message = t.getMessage();
        if (t instanceof java.net.ConnectException) {
            return "cannot connect to wharf" + (message == null ? "" : " (" + message + ")");
        }
        return message == null || message.isBlank() ? t.getClass().getSimpleName() : message;
    }


}

package dev.wharf.testing;

import com.fasterxml.jackson.databind.ObjectMapper;
import java.io.BufferedOutputStream;
import java.io.IOException;
import java.io.OutputStream;
import java.io.UncheckedIOException;
import java.net.URI;
import java.net.URLEncoder;
import java.net.http.HttpClient;
import java.net.http.HttpRequest;
import java.net.http.HttpResponse;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.security.DigestOutputStream;
import java.security.MessageDigest;
import java.security.NoSuchAlgorithmException;
import java.time.Duration;
import java.util.ArrayList;
import java.util.Base64;
import java.util.HexFormat;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.Objects;
import java.util.zip.Deflater;
import java.util.zip.GZIPOutputStream;

/**
 * Pushes generated, real images to a registry over the OCI distribution push API (POST upload, monolithic
 * PUT, manifest PUT) with the JDK HttpClient.
 *
 * <p>Layers are genuine tar archives (gzip-compressed or not) that containerd unpacks, and configs carry the
 * matching {@code rootfs.diff_ids}. Everything is a pure function of the seed: the same seed, sizes and
 * platform give the same digests on every run. Big content is generated into temp files and streamed from
 * them, never held in memory; each file is deleted once pushed. Every image's first layer holds
 * {@code wharf/image.txt} ({@code seed=..., platform=..., format=...}) so a test can find it after an unpack.
 */
public final class ImageSeeder implements AutoCloseable {
    public static final String OCI_MANIFEST = "application/vnd.oci.image.manifest.v1+json";
    public static final String OCI_INDEX = "application/vnd.oci.image.index.v1+json";
    public static final String OCI_CONFIG = "application/vnd.oci.image.config.v1+json";
    public static final String OCI_LAYER_GZIP = "application/vnd.oci.image.layer.v1.tar+gzip";
    public static final String OCI_LAYER_TAR = "application/vnd.oci.image.layer.v1.tar";
    public static final String DOCKER_MANIFEST = "application/vnd.docker.distribution.manifest.v2+json";
    public static final String DOCKER_MANIFEST_LIST = "application/vnd.docker.distribution.manifest.list.v2+json";
    public static final String DOCKER_CONFIG = "application/vnd.docker.container.image.v1+json";
    public static final String DOCKER_LAYER_GZIP = "application/vnd.docker.image.rootfs.diff.tar.gzip";

    /** Layers whose data part is larger than this are not gzipped under {@link Compression#AUTO}. */
    public static final long AUTO_GZIP_LIMIT = 16L << 20;
    private static final String CREATED = "2024-01-01T00:00:00Z";
    private static final ObjectMapper JSON = new ObjectMapper();

    private final HttpClient http;
    private final String authorization;
    private final Path workDir;

    /** How a generated layer is compressed. */
    public enum Compression {
        /** {@code tar+gzip}. */
        GZIP,
        /** Plain {@code tar}. */
        NONE,
        /** gzip for data up to {@link #AUTO_GZIP_LIMIT}, plain tar above (gzip of random data is wasted time). */
        AUTO
    }

    /** An OS/architecture pair, as in an image index. */
    public record Platform(String os, String architecture, String variant) {
        public static final Platform LINUX_AMD64 = new Platform("linux", "amd64", null);
        public static final Platform LINUX_ARM64 = new Platform("linux", "arm64", "v8");
        public static final Platform LINUX_ARM_V7 = new Platform("linux", "arm", "v7");
        public static final Platform LINUX_S390X = new Platform("linux", "s390x", null);

        public Platform {
            Objects.requireNonNull(os);
            Objects.requireNonNull(architecture);
        }

        /** Parses {@code os/arch[/variant]}. */
        public static Platform parse(String text) {
            String[] parts = text.split("/");
            if (parts.length < 2 || parts.length > 3) {
                throw new IllegalArgumentException("not os/arch[/variant]: " + text);
            }
            return new Platform(parts[0], parts[1], parts.length == 3 ? parts[2] : null);
        }

        @Override
        public String toString() {
            return os + "/" + architecture + (variant == null ? "" : "/" + variant);
        }
    }

    /**
     * A pushed image. {@code blobDigests}/{@code blobSizes}: the config first, then the layers in order.
     * {@code tag} is null for an image pushed by digest only (the children of an index).
     */
    public record Image(String repo, String tag, String manifestDigest, String mediaType, byte[] manifest,
            List<String> blobDigests, List<Long> blobSizes) {
        public Image {
            blobDigests = List.copyOf(blobDigests);
            blobSizes = List.copyOf(blobSizes);
        }

        /** The config blob's digest. */
        public String configDigest() {
            return blobDigests.get(0);
        }

        /** The layer digests, in manifest order. */
        public List<String> layerDigests() {
            return blobDigests.subList(1, blobDigests.size());
        }

        /** The layer sizes, in manifest order. */
        public List<Long> layerSizes() {
            return blobSizes.subList(1, blobSizes.size());
        }

        /** The manifest's size in bytes. */
        public long manifestSize() {
            return manifest.length;
        }

        /** Config plus layer bytes. */
        public long totalBlobBytes() {
            return blobSizes.stream().mapToLong(Long::longValue).sum();
        }

        /** {@code repo:tag}, or {@code repo@digest} without a tag. */
        public String reference() {
            return tag != null ? repo + ":" + tag : repo + "@" + manifestDigest;
        }

        /** {@code host/repo:tag} (or {@code @digest}), e.g. for skopeo, crane or ctr. */
        public String reference(String host) {
            return host + "/" + reference();
        }

        /** The same image under another tag (see {@link ImageSeeder#tag}). */
        public Image withTag(String newTag) {
            return new Image(repo, newTag, manifestDigest, mediaType, manifest, blobDigests, blobSizes);
        }
    }

    /** A pushed image index and its per-platform images, in the order of its {@code manifests}. */
    public record Index(String repo, String tag, String manifestDigest, String mediaType, byte[] manifest,
            List<Platform> platforms, List<Image> images) {
        public Index {
            platforms = List.copyOf(platforms);
            images = List.copyOf(images);
        }

        /** The image for {@code platform}; fails if the index has none. */
        public Image image(Platform platform) {
            int i = platforms.indexOf(platform);
            if (i < 0) {
                throw new IllegalArgumentException("index has no " + platform + ": " + platforms);
            }
            return images.get(i);
        }

        /** {@code repo:tag}. */
        public String reference() {
            return tag != null ? repo + ":" + tag : repo + "@" + manifestDigest;
        }

        /** {@code host/repo:tag}. */
        public String reference(String host) {
            return host + "/" + reference();
        }
    }

    /** A pushed blob. */
    public record Blob(String repo, String digest, long size) {
    }

    /** A seeder for registries without auth; temp files go under java.io.tmpdir. */
    public ImageSeeder() {
        this(null, null);
    }

    /** A seeder that sends HTTP basic credentials with every request (null user for none). */
    public ImageSeeder(String user, String password) {
        this(new Settings(user == null ? null : "Basic " + Base64.getEncoder().encodeToString(
                (user + ":" + password).getBytes(StandardCharsets.UTF_8)), null));
    }

    /**
     * A seeder that sends {@code authorization} as-is with every request, e.g. {@code Bearer <token>} for a
     * registry with {@code auth: token} (see {@link TokenServer#mint}).
     */
    public static ImageSeeder withAuthorization(String authorization) {
        return new ImageSeeder(new Settings(authorization, null));
    }

    /** As {@link #withAuthorization(String)}, trusting {@code tls} for an https registry (a test CA's). */
    public static ImageSeeder withAuthorization(String authorization, javax.net.ssl.SSLContext tls) {
        return new ImageSeeder(new Settings(authorization, tls));
    }

    private record Settings(String authorization, javax.net.ssl.SSLContext tls) {
    }

    private ImageSeeder(Settings settings) {
        HttpClient.Builder b = HttpClient.newBuilder()
                .version(HttpClient.Version.HTTP_1_1)
                .connectTimeout(Duration.ofSeconds(10))
                .followRedirects(HttpClient.Redirect.NORMAL);
        if (settings.tls() != null) {
            b.sslContext(settings.tls());
        }
        this.http = b.build();
        this.authorization = settings.authorization();
        try {
            this.workDir = Files.createTempDirectory("wharf-seed");
        } catch (IOException e) {
            throw new UncheckedIOException(e);
        }
    }

    // ---------------------------------------------------------------------------------------------- images

    /**
     * An OCI image (manifest, config, layers) tagged {@code tag}: a small gzip base layer, plus, when
     * {@code layerBytes > 0}, a data layer holding a file of exactly {@code layerBytes} random bytes (so that
     * layer is a little larger than {@code layerBytes}), gzipped up to 16 MiB and plain tar above.
     */
    public Image pushOciImage(URI registry, String repo, String tag, long layerBytes, long seed) {
        return pushOciImage(registry, repo, tag, layerBytes, seed, Platform.LINUX_AMD64, Compression.AUTO);
    }

    /** As {@link #pushOciImage(URI, String, String, long, long)} with the data layer's compression chosen. */
    public Image pushOciImage(URI registry, String repo, String tag, long layerBytes, long seed,
            Compression compression) {
        return pushOciImage(registry, repo, tag, layerBytes, seed, Platform.LINUX_AMD64, compression);
    }

    /** An OCI image for {@code platform}; a null {@code tag} pushes the manifest by digest only. */
    public Image pushOciImage(URI registry, String repo, String tag, long layerBytes, long seed, Platform platform,
            Compression compression) {
        return pushImage(registry, repo, tag, layerBytes, seed, platform, compression, false);
    }

    /**
     * A Docker schema 2 image ({@value #DOCKER_MANIFEST}, config {@value #DOCKER_CONFIG}, layers
     * {@value #DOCKER_LAYER_GZIP}); layers as in {@link #pushOciImage(URI, String, String, long, long)}, but
     * always gzip (large data layers use stored deflate blocks, which is fast and still valid gzip).
     */
    public Image pushDockerImage(URI registry, String repo, String tag, long layerBytes, long seed) {
        return pushImage(registry, repo, tag, layerBytes, seed, Platform.LINUX_AMD64, Compression.GZIP, true);
    }

    /** A Docker schema 2 image for {@code platform}; a null tag pushes by digest only. */
    public Image pushDockerImage(URI registry, String repo, String tag, long layerBytes, long seed,
            Platform platform) {
        return pushImage(registry, repo, tag, layerBytes, seed, platform, Compression.GZIP, true);
    }

    /**
     * An OCI image index tagged {@code tag}, pointing at one OCI image per platform (each pushed by digest,
     * with a 32 KiB data layer). The images differ per platform ({@code wharf/image.txt} names it).
     */
    public Index pushIndex(URI registry, String repo, String tag, List<Platform> platforms, long seed) {
        return pushIndex(registry, repo, tag, platforms, 32 << 10, seed);
    }

    /** As {@link #pushIndex(URI, String, String, List, long)} with the per-image data layer size chosen. */
    public Index pushIndex(URI registry, String repo, String tag, List<Platform> platforms, long layerBytes,
            long seed) {
        List<Image> images = new ArrayList<>();
        List<Map<String, Object>> manifests = new ArrayList<>();
        for (Platform platform : platforms) {
            Image image = pushImage(registry, repo, null, layerBytes, seed, platform, Compression.AUTO, false);
            images.add(image);
            Map<String, Object> descriptor = descriptor(image.mediaType(), image.manifestDigest(), image.manifestSize());
            descriptor.put("platform", platformJson(platform));
            manifests.add(descriptor);
        }
        Map<String, Object> index = new LinkedHashMap<>();
        index.put("schemaVersion", 2);
        index.put("mediaType", OCI_INDEX);
        index.put("manifests", manifests);
        index.put("annotations", Map.of("dev.wharf.seed", Long.toString(seed)));
        byte[] bytes = json(index);
        String digest = pushManifest(registry, repo, tag, OCI_INDEX, bytes);
        return new Index(repo, tag, digest, OCI_INDEX, bytes, platforms, images);
    }

    /** Puts {@code image}'s manifest again under {@code newTag}; returns the image with that tag. */
    public Image tag(URI registry, Image image, String newTag) {
        pushManifest(registry, image.repo(), newTag, image.mediaType(), image.manifest());
        return image.withTag(newTag);
    }

    private Image pushImage(URI registry, String repo, String tag, long layerBytes, long seed, Platform platform,
            Compression compression, boolean docker) {
        String format = docker ? "docker" : "oci";
        List<Layer> layers = new ArrayList<>();
        try {
            layers.add(baseLayer(seed, platform, format, docker));
            if (layerBytes > 0) {
                boolean gzip = docker || compression == Compression.GZIP
                        || (compression == Compression.AUTO && layerBytes <= AUTO_GZIP_LIMIT);
                layers.add(dataLayer(seed, platform, format, layerBytes, gzip, docker));
            }
            List<String> diffIds = new ArrayList<>();
            List<Map<String, Object>> layerDescriptors = new ArrayList<>();
            List<Map<String, Object>> history = new ArrayList<>();
            for (Layer layer : layers) {
                diffIds.add(layer.diffId);
                layerDescriptors.add(descriptor(layer.mediaType, layer.digest, layer.size));
                history.add(ordered("created", CREATED, "created_by", "wharf ImageSeeder " + layer.name));
            }
            Map<String, Object> config = new LinkedHashMap<>();
            config.put("created", CREATED);
            config.put("architecture", platform.architecture());
            if (platform.variant() != null) {
                config.put("variant", platform.variant());
            }
            config.put("os", platform.os());
            config.put("config", ordered(
                    "Env", List.of("PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin"),
                    "Cmd", List.of("/bin/sh"),
                    "WorkingDir", "/",
                    "Labels", Map.of("dev.wharf.seed", Long.toString(seed))));
            config.put("rootfs", ordered("type", "layers", "diff_ids", diffIds));
            config.put("history", history);
            byte[] configBytes = json(config);
            String configDigest = sha256(configBytes);

            List<String> blobDigests = new ArrayList<>();
            List<Long> blobSizes = new ArrayList<>();
            pushBlob(registry, repo, configBytes);
            blobDigests.add(configDigest);
            blobSizes.add((long) configBytes.length);
            for (Layer layer : layers) {
                pushBlobFile(registry, repo, layer.file, layer.digest, layer.size);
                blobDigests.add(layer.digest);
                blobSizes.add(layer.size);
            }

            Map<String, Object> manifest = new LinkedHashMap<>();
            manifest.put("schemaVersion", 2);
            String mediaType = docker ? DOCKER_MANIFEST : OCI_MANIFEST;
            manifest.put("mediaType", mediaType);
            manifest.put("config", descriptor(docker ? DOCKER_CONFIG : OCI_CONFIG, configDigest, configBytes.length));
            manifest.put("layers", layerDescriptors);
            if (!docker) {
                manifest.put("annotations", Map.of("dev.wharf.seed", Long.toString(seed)));
            }
            byte[] manifestBytes = json(manifest);
            String digest = pushManifest(registry, repo, tag, mediaType, manifestBytes);
            return new Image(repo, tag, digest, mediaType, manifestBytes, blobDigests, blobSizes);
        } finally {
            for (Layer layer : layers) {
                deleteQuietly(layer.file);
            }
        }
    }

    // ---------------------------------------------------------------------------------------------- layers

    private record Layer(String name, Path file, String mediaType, String digest, long size, String diffId) {
    }

    private Layer baseLayer(long seed, Platform platform, String format, boolean docker) {
        String text = "seed=" + seed + "\nplatform=" + platform + "\nformat=" + format + "\n";
        return writeLayer("base", seed, platform, true, docker, false, tar -> {
            tar.directory("etc/", 0755);
            tar.file("etc/wharf-release", 0644, ("wharf test image\n" + text).getBytes(StandardCharsets.UTF_8));
            tar.directory("wharf/", 0755);
            tar.file("wharf/image.txt", 0644, text.getBytes(StandardCharsets.UTF_8));
            tar.file("wharf/base.bin", 0644, 4096, new RandomBytes(mix(seed, platform, 0)));
            tar.symlink("wharf/latest", "image.txt");
        });
    }

    private Layer dataLayer(long seed, Platform platform, String format, long dataBytes, boolean gzip,
            boolean docker) {
        String text = "seed=" + seed + "\nplatform=" + platform + "\nformat=" + format + "\nbytes=" + dataBytes + "\n";
        return writeLayer("data", seed, platform, gzip, docker, dataBytes > AUTO_GZIP_LIMIT, tar -> {
            tar.directory("wharf/", 0755);
            tar.file("wharf/data.txt", 0644, text.getBytes(StandardCharsets.UTF_8));
            tar.file("wharf/data.bin", 0644, dataBytes, new RandomBytes(mix(seed, platform, 1)));
        });
    }

    @FunctionalInterface
    private interface TarContent {
        void write(TarWriter tar) throws IOException;
    }

    private Layer writeLayer(String name, long seed, Platform platform, boolean gzip, boolean docker,
            boolean storeOnly, TarContent content) {
        Path file = workDir.resolve(name + "-" + Long.toHexString(seed) + "-"
                + platform.toString().replace('/', '_') + "-" + System.nanoTime() + (gzip ? ".tar.gz" : ".tar"));
        MessageDigest compressed = sha256Digest();
        MessageDigest uncompressed = sha256Digest();
        try (OutputStream fileOut = Files.newOutputStream(file);
                DigestOutputStream compressedOut = new DigestOutputStream(new BufferedOutputStream(fileOut, 1 << 16),
                        compressed)) {
            OutputStream gzipOut = gzip ? new LeveledGzip(compressedOut, storeOnly ? Deflater.NO_COMPRESSION
                    : Deflater.BEST_SPEED) : null;
            DigestOutputStream tarOut = new DigestOutputStream(gzip ? gzipOut : compressedOut, uncompressed);
            TarWriter tar = new TarWriter(tarOut);
            content.write(tar);
            tar.finish();
            if (gzipOut != null) {
                ((GZIPOutputStream) gzipOut).finish();
            }
            compressedOut.flush();
        } catch (IOException e) {
            deleteQuietly(file);
            throw new UncheckedIOException("could not write layer " + file, e);
        }
        try {
            String diffId = "sha256:" + HexFormat.of().formatHex(uncompressed.digest());
            String digest = "sha256:" + HexFormat.of().formatHex(compressed.digest());
            String mediaType = docker ? DOCKER_LAYER_GZIP : gzip ? OCI_LAYER_GZIP : OCI_LAYER_TAR;
            return new Layer(name, file, mediaType, digest, Files.size(file), diffId);
        } catch (IOException e) {
            throw new UncheckedIOException(e);
        }
    }

    /** gzip with a chosen deflate level; the JDK's header has mtime 0, so output is reproducible. */
    private static final class LeveledGzip extends GZIPOutputStream {
        LeveledGzip(OutputStream out, int level) throws IOException {
            super(out, 1 << 16);
            def.setLevel(level);
        }
    }

    private static long mix(long seed, Platform platform, int layer) {
        long h = seed * 0x9E3779B97F4A7C15L + platform.toString().hashCode() * 0xBF58476D1CE4E5B9L + layer;
        return h ^ (h >>> 31);
    }

    // ---------------------------------------------------------------------------------------------- blobs

    /**
     * A blob of {@code size} pseudo-random bytes determined by {@code seed}, generated to a temp file (digest
     * computed on the way) and streamed from it; 1 GiB takes a few seconds.
     */
    public Blob pushRandomBlob(URI registry, String repo, long size, long seed) {
        Path file = workDir.resolve("blob-" + Long.toHexString(seed) + "-" + System.nanoTime() + ".bin");
        try {
            MessageDigest sha = sha256Digest();
            try (OutputStream out = new DigestOutputStream(Files.newOutputStream(file), sha)) {
                RandomBytes.write(out, size, seed);
            }
            String digest = "sha256:" + HexFormat.of().formatHex(sha.digest());
            pushBlobFile(registry, repo, file, digest, size);
            return new Blob(repo, digest, size);
        } catch (IOException e) {
            throw new UncheckedIOException(e);
        } finally {
            deleteQuietly(file);
        }
    }

    /** The digest of the blob {@link #pushRandomBlob} makes for {@code size} and {@code seed}, without pushing. */
    public static String randomBlobDigest(long size, long seed) {
        MessageDigest sha = sha256Digest();
        try (OutputStream out = new DigestOutputStream(OutputStream.nullOutputStream(), sha)) {
            RandomBytes.write(out, size, seed);
        } catch (IOException e) {
            throw new UncheckedIOException(e);
        }
        return "sha256:" + HexFormat.of().formatHex(sha.digest());
    }

    /** Pushes small content held in memory; returns its blob. */
    public Blob pushBlob(URI registry, String repo, byte[] content) {
        String digest = sha256(content);
        if (!blobExists(registry, repo, digest)) {
            URI location = startUpload(registry, repo);
            HttpRequest put = request(withDigest(location, digest))
                    .timeout(Duration.ofSeconds(60))
                    .header("Content-Type", "application/octet-stream")
                    .PUT(HttpRequest.BodyPublishers.ofByteArray(content))
                    .build();
            expect(put, 201);
        }
        return new Blob(repo, digest, content.length);
    }

    /** Pushes a file, streamed; returns its blob. */
    public Blob pushBlob(URI registry, String repo, Path file) {
        try {
            String digest = sha256(file);
            long size = Files.size(file);
            pushBlobFile(registry, repo, file, digest, size);
            return new Blob(repo, digest, size);
        } catch (IOException e) {
            throw new UncheckedIOException(e);
        }
    }

    private void pushBlobFile(URI registry, String repo, Path file, String digest, long size) {
        if (blobExists(registry, repo, digest)) {
            return;
        }
        URI location = startUpload(registry, repo);
        try {
            HttpRequest put = request(withDigest(location, digest))
                    // Generous but bounded: 60 s plus 10 s per 100 MiB.
                    .timeout(Duration.ofSeconds(60 + size / (10L << 20)))
                    .header("Content-Type", "application/octet-stream")
                    .PUT(HttpRequest.BodyPublishers.ofFile(file))
                    .build();
            expect(put, 201);
        } catch (IOException e) {
            throw new UncheckedIOException(e);
        }
    }

    private boolean blobExists(URI registry, String repo, String digest) {
        HttpRequest head = request(endpoint(registry, repo, "/blobs/" + digest))
                .timeout(Duration.ofSeconds(30))
                .method("HEAD", HttpRequest.BodyPublishers.noBody())
                .build();
        return send(head).statusCode() == 200;
    }

    private URI startUpload(URI registry, String repo) {
        HttpRequest post = request(endpoint(registry, repo, "/blobs/uploads/"))
                .timeout(Duration.ofSeconds(30))
                .POST(HttpRequest.BodyPublishers.noBody())
                .build();
        HttpResponse<String> response = expect(post, 202);
        String location = response.headers().firstValue("Location")
                .orElseThrow(() -> new AssertionError("upload POST " + post.uri() + " answered no Location"));
        return post.uri().resolve(location);
    }

    private static URI withDigest(URI location, String digest) {
        String s = location.toString();
        return URI.create(s + (s.contains("?") ? "&" : "?") + "digest=" + URLEncoder.encode(digest, StandardCharsets.UTF_8));
    }

    // ---------------------------------------------------------------------------------------------- manifests

    /**
     * PUTs a manifest under {@code reference} (a tag; null means by its own digest) with {@code mediaType} as
     * Content-Type. Returns its digest, checked against the registry's {@code Docker-Content-Digest}.
     */
    public String pushManifest(URI registry, String repo, String reference, String mediaType, byte[] manifest) {
        String digest = sha256(manifest);
        HttpRequest put = request(endpoint(registry, repo, "/manifests/" + (reference == null ? digest : reference)))
                .timeout(Duration.ofSeconds(30))
                .header("Content-Type", mediaType)
                .PUT(HttpRequest.BodyPublishers.ofByteArray(manifest))
                .build();
        HttpResponse<String> response = expect(put, 201);
        response.headers().firstValue("Docker-Content-Digest").ifPresent(echoed -> {
            if (!echoed.equals(digest)) {
                throw new AssertionError("registry stored manifest " + put.uri() + " as " + echoed + ", expected " + digest);
            }
        });
        return digest;
    }

    // ---------------------------------------------------------------------------------------------- HTTP

    private static URI endpoint(URI registry, String repo, String rest) {
        String base = registry.toString();
        if (base.endsWith("/")) {
            base = base.substring(0, base.length() - 1);
        }
        return URI.create(base + "/v2/" + repo + rest);
    }

    private HttpRequest.Builder request(URI uri) {
        HttpRequest.Builder builder = HttpRequest.newBuilder(uri);
        if (authorization != null) {
            builder.header("Authorization", authorization);
        }
        return builder;
    }

    private HttpResponse<String> expect(HttpRequest request, int status) {
        HttpResponse<String> response = send(request);
        if (response.statusCode() != status) {
            throw new AssertionError(request.method() + " " + request.uri() + " answered " + response.statusCode()
                    + " (expected " + status + "): " + response.body());
        }
        return response;
    }

    private HttpResponse<String> send(HttpRequest request) {
        try {
            return http.send(request, HttpResponse.BodyHandlers.ofString());
        } catch (IOException e) {
            throw new UncheckedIOException(request.method() + " " + request.uri() + " failed", e);
        } catch (InterruptedException e) {
            Thread.currentThread().interrupt();
            throw new AssertionError("interrupted: " + request.method() + " " + request.uri(), e);
        }
    }

    // ---------------------------------------------------------------------------------------------- helpers

    /** {@code sha256:<hex>} of {@code bytes}. */
    public static String sha256(byte[] bytes) {
        return "sha256:" + HexFormat.of().formatHex(sha256Digest().digest(bytes));
    }

    /** {@code sha256:<hex>} of a file, read in 1 MiB chunks. */
    public static String sha256(Path file) {
        MessageDigest sha = sha256Digest();
        try (var in = Files.newInputStream(file)) {
            byte[] buffer = new byte[1 << 20];
            int n;
            while ((n = in.read(buffer)) > 0) {
                sha.update(buffer, 0, n);
            }
        } catch (IOException e) {
            throw new UncheckedIOException(e);
        }
        return "sha256:" + HexFormat.of().formatHex(sha.digest());
    }

    private static MessageDigest sha256Digest() {
        try {
            return MessageDigest.getInstance("SHA-256");
        } catch (NoSuchAlgorithmException e) {
            throw new IllegalStateException(e);
        }
    }

    private static Map<String, Object> descriptor(String mediaType, String digest, long size) {
        return ordered("mediaType", mediaType, "digest", digest, "size", size);
    }

    private static Map<String, Object> platformJson(Platform platform) {
        Map<String, Object> json = ordered("architecture", platform.architecture(), "os", platform.os());
        if (platform.variant() != null) {
            json.put("variant", platform.variant());
        }
        return json;
    }

    private static Map<String, Object> ordered(Object... keyValues) {
        Map<String, Object> map = new LinkedHashMap<>();
        for (int i = 0; i < keyValues.length; i += 2) {
            map.put((String) keyValues[i], keyValues[i + 1]);
        }
        return map;
    }

    private static byte[] json(Object value) {
        try {
            return JSON.writeValueAsBytes(value);
        } catch (IOException e) {
            throw new UncheckedIOException(e);
        }
    }

    private static void deleteQuietly(Path file) {
        try {
            Files.deleteIfExists(file);
        } catch (IOException ignored) {
            // A leftover temp file is removed with the work dir on close().
        }
    }

    /** Where generated files are written (each deleted once pushed). */
    public Path workDir() {
        return workDir;
    }

    /** Deletes the work directory. */
    @Override
    public void close() {
        ChildProcess.deleteTree(workDir);
    }
}

package dev.wharf.server.app;

import dev.wharf.server.config.ConfigLoader;
import dev.wharf.storage.ContentStore;
import dev.wharf.storage.Digest;
import dev.wharf.storage.TagEntry;
import java.io.IOException;
import java.io.OutputStream;
import java.net.URI;
import java.net.http.HttpClient;
import java.net.http.HttpRequest;
import java.net.http.HttpResponse;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.security.MessageDigest;
import java.time.Duration;
import java.time.Instant;
import java.util.Comparator;
import java.util.HexFormat;
import java.util.Random;
import java.util.stream.Stream;

/**
 * The training run of the class-data-sharing archive ({@code wharf cds-training}, run by the launcher and the image
 * build under {@code -XX:ArchiveClassesAtExit}): loads the classes a first pull needs, so a fresh JVM finds them
 * mapped instead of parsing and verifying them. Everything runs in this process on 127.0.0.1 with temp storage: an
 * "origin" wharf serves a small image from a store seeded here, a second wharf pulls it through (cold: upstream
 * client, fill, hashing, commit; then warm: sendfile, the prepared manifest heads), and a JDK HTTP client asks
 * both. Exit 0 when every answer was as expected, 1 otherwise; nothing is left behind.
 */
final class CdsTraining {
    private static final String OCI_MANIFEST = "application/vnd.oci.image.manifest.v1+json";
    private static final int LAYER_BYTES = 4 << 20;
    /** Any error status: the origin's own upstream is a closed port, so an unknown tag is a 502 there. */
    private static final int ERROR = -1;

    private CdsTraining() {
    }

    static int run() throws Exception {
        Path dir = Files.createTempDirectory("wharf-cds-training");
        try {
            return train(dir);
        } finally {
            try (Stream<Path> all = Files.walk(dir)) {
                all.sorted(Comparator.reverseOrder()).forEach(p -> p.toFile().delete());
            }
        }
    }

    private static int train(Path dir) throws Exception {
        byte[] layer = new byte[LAYER_BYTES];
        new Random(11).nextBytes(layer);
        byte[] config = "{\"architecture\":\"amd64\",\"os\":\"linux\",\"rootfs\":{\"type\":\"layers\",\"diff_ids\":[]}}"
                .getBytes(StandardCharsets.UTF_8);
        byte[] manifest = ("{\"schemaVersion\":2,\"mediaType\":\"" + OCI_MANIFEST + "\",\"config\":{\"mediaType\":"
                + "\"application/vnd.oci.image.config.v1+json\",\"digest\":\"" + sha256(config) + "\",\"size\":"
                + config.length + "},\"layers\":[{\"mediaType\":\"application/vnd.oci.image.layer.v1.tar\","
                + "\"digest\":\"" + sha256(layer) + "\",\"size\":" + layer.length + "}]}")
                .getBytes(StandardCharsets.UTF_8);
        seed(dir.resolve("origin"), layer, config, manifest);
        String originYaml = "listen: 127.0.0.1:0\nstorage:\n  path: " + dir.resolve("origin") + "\naccessLog:\n"
                + "  enabled: false\nprojects:\n  - name: src\n    upstream: http://127.0.0.1:9\n    tagTtl: 1h\n";
        try (WharfServer origin = new WharfServer(ConfigLoader.parse(originYaml, "cds training")).start()) {
            String proxyYaml = "listen: 127.0.0.1:0\nstorage:\n  path: " + dir.resolve("proxy") + "\naccessLog:\n"
                    + "  enabled: false\nprojects:\n  - name: train\n    upstream: " + origin.registryUrl()
                    + "/v2/src\n";
            try (WharfServer proxy = new WharfServer(ConfigLoader.parse(proxyYaml, "cds training")).start()) {
                HttpClient http = HttpClient.newBuilder().connectTimeout(Duration.ofSeconds(10)).build();
                URI base = proxy.registryUrl();
                boolean ok = status(http, base.resolve("/v2/"), "GET", 200)
                        & status(http, base.resolve("/v2/train/lib/app/manifests/v1"), "HEAD", 200)
                        & status(http, base.resolve("/v2/train/lib/app/manifests/v1"), "GET", 200)
                        & status(http, base.resolve("/v2/train/lib/app/manifests/" + sha256(manifest)), "HEAD", 200)
                        & status(http, base.resolve("/v2/train/lib/app/blobs/" + sha256(config)), "GET", 200)
                        & status(http, base.resolve("/v2/train/lib/app/blobs/" + sha256(layer)), "GET", 200)
                        & status(http, base.resolve("/v2/train/lib/app/blobs/" + sha256(layer)), "GET", 200)
                        & status(http, base.resolve("/v2/train/lib/app/manifests/nope"), "GET", ERROR)
                        & status(http, base.resolve("/metrics"), "GET", 200)
                        & status(http, base.resolve("/healthz"), "GET", 200);
                return ok ? 0 : 1;
            }
        }
    }

    /** The origin's store: the image, linked to its project and tagged, as if its upstream had served it. */
    private static void seed(Path root, byte[] layer, byte[] config, byte[] manifest) throws IOException {
        ContentStore store = new ContentStore(root);
        for (byte[] blob : new byte[][] {layer, config}) {
            Path temp = store.newTempFile();
            try (OutputStream out = Files.newOutputStream(temp)) {
                out.write(blob);
            }
            Digest d = Digest.parse(sha256(blob));
            store.commit(temp, d);
            store.link("src", d, null);
        }
        Digest m = Digest.parse(sha256(manifest));
        store.putSmall(m, manifest);
        store.link("src", m, OCI_MANIFEST);
        store.putTag("src", "lib/app", "v1", new TagEntry(m, OCI_MANIFEST, Instant.now()));
    }

    private static boolean status(HttpClient http, URI uri, String method, int expected) throws Exception {
        HttpRequest req = HttpRequest.newBuilder(uri).timeout(Duration.ofSeconds(30))
                .header("Accept", OCI_MANIFEST).method(method, HttpRequest.BodyPublishers.noBody()).build();
        HttpResponse<byte[]> resp = http.send(req, HttpResponse.BodyHandlers.ofByteArray());
        if (expected == ERROR ? resp.statusCode() < 400 : resp.statusCode() != expected) {
            System.err.println("cds-training: " + method + " " + uri + " answered " + resp.statusCode()
                    + ", expected " + expected);
            return false;
        }
        return true;
    }

    private static String sha256(byte[] bytes) {
        try {
            return "sha256:" + HexFormat.of().formatHex(MessageDigest.getInstance("SHA-256").digest(bytes));
        } catch (java.security.NoSuchAlgorithmException e) {
            throw new IllegalStateException(e); // every JDK has SHA-256
        }
    }
}

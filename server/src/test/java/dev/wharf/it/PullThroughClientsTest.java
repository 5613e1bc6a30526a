package dev.wharf.it;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertTrue;

import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.ObjectMapper;
import dev.wharf.testing.Containerd;
import dev.wharf.testing.DistributionRegistry;
import dev.wharf.testing.Exec;
import dev.wharf.testing.ImageSeeder;
import dev.wharf.testing.ImageSeeder.Image;
import dev.wharf.testing.ImageSeeder.Index;
import dev.wharf.testing.ImageSeeder.Platform;
import dev.wharf.testing.InProcessWharf;
import dev.wharf.testing.RealRegistry;
import dev.wharf.testing.RequestLogTap;
import dev.wharf.testing.TcpRelay;
import dev.wharf.testing.WharfYaml;
import java.io.IOException;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.time.Duration;
import java.util.ArrayList;
import java.util.List;
import java.util.concurrent.TimeUnit;
import java.util.stream.Collectors;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.Timeout;
import org.junit.jupiter.api.extension.ExtendWith;
import org.junit.jupiter.api.io.TempDir;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.CsvSource;

/**
 * Real clients pulling through wharf from a real distribution registry: skopeo (exact manifest bytes, every blob
 * digest in the written OCI layout) and containerd with the hosts.toml shapes the README documents (a mirror host
 * reached with {@code ?ns=docker.io}, a host with a path and {@code override_path = true}, and one with a path and
 * {@code override_path = false}, which makes containerd send {@code /v2/hub/v2/<name>/...}).
 *
 * <p>containerd is given {@code server = "https://registry-1.docker.io"} as its fallback. The machine reaches
 * 127.0.0.0/8 only, so a fallback could never succeed, and each test also checks on the wire (a {@link RequestLogTap}
 * in front of wharf) that containerd fetched every manifest and blob from wharf, and in the upstream's access log
 * that wharf fetched them from the upstream.
 */
@Timeout(value = 5, unit = TimeUnit.MINUTES)
@ExtendWith(RealRegistry.class)
class PullThroughClientsTest {
    private static final Duration TOOL_TIMEOUT = Duration.ofMinutes(2);
    private static final Duration PULL_TIMEOUT = Duration.ofSeconds(45);
    private static final ObjectMapper JSON = new ObjectMapper();

    private static DistributionRegistry upstream;
    private static ImageSeeder seeder;
    private static Image oci;
    private static Image docker;
    private static Index multi;
    private static Image big;

    @BeforeAll
    static void seed(DistributionRegistry r, ImageSeeder s) {
        upstream = r;
        seeder = s;
        oci = seeder.pushOciImage(upstream.url(), "library/wharf-oci", "v1", 1 << 20, 101);
        docker = seeder.pushDockerImage(upstream.url(), "library/wharf-docker", "v1", 512 << 10, 102);
        multi = seeder.pushIndex(upstream.url(), "library/wharf-multi", "v1",
                List.of(Platform.LINUX_AMD64, Platform.LINUX_ARM64), 103);
        big = seeder.pushOciImage(upstream.url(), "library/wharf-big", "v1", 256L << 20, 104);
    }

    private static InProcessWharf startWharf(Path storage) throws Exception {
        return InProcessWharf.start(storage,
                WharfYaml.config().project(WharfYaml.project("hub", upstream.url()).aliases("docker.io")));
    }

    // ------------------------------------------------------------------------------------------------ skopeo

    @Test
    void skopeoCopiesEveryImageWithTheUpstreamsDigests(@TempDir Path tmp) throws Exception {
        try (InProcessWharf wharf = startWharf(tmp.resolve("storage"))) {
            String base = "docker://" + wharf.hostPort() + "/hub/";
            String bigLayer = "/v2/library/wharf-big/blobs/" + big.layerDigests().get(1);
            long bigLayerGets = upstream.countRequests("GET", bigLayer);

            for (Image image : List.of(oci, docker, big)) {
                Path layout = tmp.resolve("layout-" + image.repo().replace('/', '-'));
                Exec.Result copied = Exec.run(TOOL_TIMEOUT, "skopeo", "copy", "--src-tls-verify=false",
                        "--preserve-digests", base + image.reference(), "oci:" + layout + ":x");
                assertTrue(copied.ok(), copied.describe());
                JsonNode manifest = layoutManifest(layout, "x", image.manifestDigest());
                assertEquals(image.blobDigests(), manifestBlobDigests(manifest),
                        "config and layer digests in the OCI layout of " + image.reference());
                assertLayoutBlobsIntact(layout, image.blobDigests());
            }

            Path layout = tmp.resolve("layout-multi");
            Exec.Result copied = Exec.run(TOOL_TIMEOUT, "skopeo", "copy", "--all", "--src-tls-verify=false",
                    "--preserve-digests", base + multi.reference(), "oci:" + layout + ":x");
            assertTrue(copied.ok(), copied.describe());
            JsonNode index = layoutManifest(layout, "x", multi.manifestDigest());
            List<String> children = new ArrayList<>();
            index.get("manifests").forEach(m -> children.add(m.get("digest").asText()));
            assertEquals(multi.images().stream().map(Image::manifestDigest).collect(Collectors.toList()), children,
                    "the copied index lists the upstream's per-platform manifests");
            for (Image child : multi.images()) {
                JsonNode childManifest = JSON.readTree(readBlob(layout, child.manifestDigest()));
                assertEquals(child.blobDigests(), manifestBlobDigests(childManifest), "blobs of " + child.reference());
                assertLayoutBlobsIntact(layout, child.blobDigests());
            }

            for (Object item : List.of(oci, docker, multi, big)) {
                String ref = item instanceof Image i ? i.reference() : ((Index) item).reference();
                String digest = item instanceof Image i ? i.manifestDigest() : ((Index) item).manifestDigest();
                Exec.Result raw = Exec.run(TOOL_TIMEOUT, "skopeo", "inspect", "--raw", "--tls-verify=false",
                        base + ref);
                assertTrue(raw.ok(), raw.describe());
                assertEquals(digest, ImageSeeder.sha256(raw.output().getBytes(StandardCharsets.UTF_8)),
                        "skopeo inspect --raw through wharf returns the upstream's exact manifest bytes for " + ref
                                + ":\n" + raw.output());
            }

            assertEquals(bigLayerGets + 1, upstream.countRequests("GET", bigLayer),
                    "wharf fetched the 256 MiB layer from the upstream once");
        }
    }

    /** The manifest (or index) the layout's index.json names {@code ref}; checks its digest. */
    private static JsonNode layoutManifest(Path layout, String ref, String expectedDigest) throws IOException {
        JsonNode index = JSON.readTree(Files.readAllBytes(layout.resolve("index.json")));
        String digest = null;
        for (JsonNode m : index.get("manifests")) {
            JsonNode name = m.path("annotations").path("org.opencontainers.image.ref.name");
            if (name.asText().equals(ref)) {
                digest = m.get("digest").asText();
            }
        }
        assertEquals(expectedDigest, digest, "manifest digest in " + layout + "/index.json: " + index);
        byte[] bytes = readBlob(layout, digest);
        assertEquals(expectedDigest, ImageSeeder.sha256(bytes), "bytes of the manifest blob in " + layout);
        return JSON.readTree(bytes);
    }

    private static List<String> manifestBlobDigests(JsonNode manifest) {
        List<String> digests = new ArrayList<>();
        digests.add(manifest.get("config").get("digest").asText());
        manifest.get("layers").forEach(l -> digests.add(l.get("digest").asText()));
        return digests;
    }

    private static void assertLayoutBlobsIntact(Path layout, List<String> digests) {
        for (String digest : digests) {
            Path file = blobPath(layout, digest);
            assertTrue(Files.isRegularFile(file), "blob " + digest + " in " + layout);
            assertEquals(digest, ImageSeeder.sha256(file), "content of blob " + digest + " in " + layout);
        }
    }

    private static byte[] readBlob(Path layout, String digest) throws IOException {
        return Files.readAllBytes(blobPath(layout, digest));
    }

    private static Path blobPath(Path layout, String digest) {
        String[] parts = digest.split(":", 2);
        return layout.resolve("blobs").resolve(parts[0]).resolve(parts[1]);
    }

    // ------------------------------------------------------------------------------------------------ containerd

    @Test
    void containerdPullsThroughAMirrorHostWithNs(@TempDir Path tmp) throws Exception {
        try (InProcessWharf wharf = startWharf(tmp.resolve("storage"));
                TcpRelay relay = TcpRelay.toLocalPort(wharf.url().getPort(), new RequestLogTap());
                Containerd containerd = Containerd.builder().pullTimeout(PULL_TIMEOUT).start()) {
            RequestLogTap hop = relay.tap(RequestLogTap.class);
            Path hosts = tmp.resolve("hosts");
            Containerd.writeHostsToml(hosts, "docker.io", "server = \"https://registry-1.docker.io\"\n\n"
                    + "[host.\"" + relay.url() + "\"]\n"
                    + "  capabilities = [\"pull\", \"resolve\"]\n");

            pullAndCheck(containerd, hosts, hop, oci, "docker.io/library/wharf-oci:v1", "/v2/library/wharf-oci/");
            assertUnpacked(containerd, "seed=101\nplatform=linux/amd64\nformat=oci\n");

            pullAndCheck(containerd, hosts, hop, docker, "docker.io/library/wharf-docker:v1",
                    "/v2/library/wharf-docker/");
            assertUnpacked(containerd, "seed=102\nplatform=linux/amd64\nformat=docker\n");

            Image amd64 = multi.image(Platform.LINUX_AMD64);
            Exec.Result pulled = containerd.pull("docker.io/library/wharf-multi:v1", hosts, "--platform", "linux/amd64");
            assertTrue(pulled.ok(), pulled.describe() + "\n--- requests through wharf ---\n" + hop.requests());
            assertEquals(1, hop.count("GET", "/v2/library/wharf-multi/manifests/" + multi.manifestDigest() + "?ns=docker.io"),
                    "the index came from wharf: " + hop.requests());
            assertServedByWharf(hop, amd64, "/v2/library/wharf-multi/");
            assertUnpacked(containerd, "seed=103\nplatform=linux/amd64\nformat=oci\n");
            Image arm64 = multi.image(Platform.LINUX_ARM64);
            assertFalse(containerd.contentDigests().contains(arm64.manifestDigest()), "only the amd64 image is fetched");
            assertEquals(0, hop.count(null, arm64.manifestDigest()), "no request for the arm64 manifest");

            for (RequestLogTap.Request r : hop.requests()) {
                assertTrue(r.path().startsWith("/v2/library/") && r.query().contains("ns=docker.io"),
                        "containerd sends ?ns=docker.io on every request to a mirror host: " + r);
            }
        }
    }

    /**
     * A hosts.toml host with a path: with {@code override_path = true} containerd sends the host's path as the
     * whole prefix (/v2/hub/...); without it (the default, false) it appends /v2 to the path (/v2/hub/v2/...),
     * which wharf must accept too.
     */
    @ParameterizedTest(name = "override_path = {0}")
    @CsvSource({"true, /v2/hub/", "false, /v2/hub/v2/"})
    void containerdPullsThroughAHostWithAPath(boolean overridePath, String prefix, @TempDir Path tmp) throws Exception {
        try (InProcessWharf wharf = startWharf(tmp.resolve("storage"));
                TcpRelay relay = TcpRelay.toLocalPort(wharf.url().getPort(), new RequestLogTap());
                Containerd containerd = Containerd.builder().pullTimeout(PULL_TIMEOUT).start()) {
            RequestLogTap hop = relay.tap(RequestLogTap.class);
            Path hosts = tmp.resolve("hosts");
            Containerd.writeHostsToml(hosts, "docker.io", "server = \"https://registry-1.docker.io\"\n\n"
                    + "[host.\"" + relay.url() + "/v2/hub\"]\n"
                    + "  capabilities = [\"pull\", \"resolve\"]\n"
                    + (overridePath ? "  override_path = true\n" : ""));

            pullAndCheck(containerd, hosts, hop, oci, "docker.io/library/wharf-oci:v1", prefix + "library/wharf-oci/");
            assertUnpacked(containerd, "seed=101\nplatform=linux/amd64\nformat=oci\n");
            pullAndCheck(containerd, hosts, hop, docker, "docker.io/library/wharf-docker:v1",
                    prefix + "library/wharf-docker/");
            assertUnpacked(containerd, "seed=102\nplatform=linux/amd64\nformat=docker\n");
            for (RequestLogTap.Request r : hop.requests()) {
                assertTrue(r.path().startsWith(prefix + "library/"), "override_path = " + overridePath
                        + " sends paths under " + prefix + ": " + r);
            }
        }
    }

    @Test
    void aWarmRePullMakesNoUpstreamBlobRequest(@TempDir Path tmp) throws Exception {
        try (InProcessWharf wharf = startWharf(tmp.resolve("storage"));
                TcpRelay relay = TcpRelay.toLocalPort(wharf.url().getPort(), new RequestLogTap());
                Containerd containerd = Containerd.builder().pullTimeout(PULL_TIMEOUT).start()) {
            RequestLogTap hop = relay.tap(RequestLogTap.class);
            Path hosts = tmp.resolve("hosts");
            Containerd.writeHostsToml(hosts, "docker.io", "server = \"https://registry-1.docker.io\"\n\n"
                    + "[host.\"" + relay.url() + "\"]\n"
                    + "  capabilities = [\"pull\", \"resolve\"]\n");
            List<Image> images = List.of(oci, big);
            for (Image image : images) {
                pullAndCheck(containerd, hosts, hop, image, "docker.io/" + image.reference(),
                        "/v2/" + image.repo() + "/");
            }
            List<Path> data = containerd.findUnpackedFiles("wharf/data.bin");
            assertTrue(data.stream().anyMatch(p -> size(p) == 256L << 20), "the 256 MiB file is unpacked: " + data);

            for (Image image : images) {
                Exec.Result removed = containerd.removeImage("docker.io/" + image.reference());
                assertTrue(removed.ok(), removed.describe());
                for (String blob : image.blobDigests()) {
                    assertFalse(containerd.contentDigests().contains(blob), "containerd dropped " + blob);
                }
            }
            long upstreamBlobGets = upstream.countRequests("GET", "/blobs/");
            long upstreamManifestGets = upstream.countRequests("GET", "/manifests/");
            long upstreamForImages = images.stream().mapToLong(i -> upstream.countRequests("*", "/v2/" + i.repo() + "/")).sum();
            hop.clear();

            for (Image image : images) {
                Exec.Result pulled = containerd.pull("docker.io/" + image.reference(), hosts);
                assertTrue(pulled.ok(), pulled.describe() + "\n--- requests through wharf ---\n" + hop.requests());
                assertServedByWharf(hop, image, "/v2/" + image.repo() + "/");
            }
            assertEquals(upstreamBlobGets, upstream.countRequests("GET", "/blobs/"),
                    "a warm re-pull makes no upstream blob GET: " + upstream.requests());
            assertEquals(upstreamManifestGets, upstream.countRequests("GET", "/manifests/"),
                    "a warm re-pull makes no upstream manifest GET");
            assertEquals(upstreamForImages,
                    images.stream().mapToLong(i -> upstream.countRequests("*", "/v2/" + i.repo() + "/")).sum(),
                    "within the tag TTL a warm re-pull makes no upstream request at all");
            assertTrue(containerd.findUnpackedFiles("wharf/data.bin").stream().anyMatch(p -> size(p) == 256L << 20),
                    "the 256 MiB file is unpacked again");
        }
    }

    /**
     * Pulls {@code ref} and checks that containerd took the manifest and every blob from wharf (under
     * {@code pathPrefix}) and that wharf fetched each blob from the upstream.
     */
    private static void pullAndCheck(Containerd containerd, Path hosts, RequestLogTap hop, Image image, String ref,
            String pathPrefix) {
        List<DistributionRegistry.Request> before = upstream.requests();
        Exec.Result pulled = containerd.pull(ref, hosts);
        assertTrue(pulled.ok(), pulled.describe() + "\n--- requests through wharf ---\n" + hop.requests());
        assertTrue(hop.count("HEAD", pathPrefix + "manifests/" + image.tag()) >= 1,
                "containerd resolved the tag at wharf under " + pathPrefix + ": " + hop.requests());
        assertServedByWharf(hop, image, pathPrefix);
        // wharf's storage is fresh for each test: it fetched every blob from the upstream during this pull, once.
        List<DistributionRegistry.Request> after = upstream.requests();
        List<DistributionRegistry.Request> during = after.subList(before.size(), after.size());
        for (String blob : image.blobDigests()) {
            long gets = during.stream().filter(r -> r.method().equals("GET"))
                    .filter(r -> r.path().equals("/v2/" + image.repo() + "/blobs/" + blob)).count();
            assertEquals(1, gets, "wharf fetched " + blob + " from the upstream once during the pull: " + during);
        }
    }

    private static void assertServedByWharf(RequestLogTap hop, Image image, String pathPrefix) {
        assertTrue(hop.count("GET", pathPrefix + "manifests/" + image.manifestDigest()) >= 1,
                "containerd fetched manifest " + image.manifestDigest() + " from wharf under " + pathPrefix + ": "
                        + hop.requests());
        for (String blob : image.blobDigests()) {
            assertTrue(hop.count("GET", pathPrefix + "blobs/" + blob) >= 1,
                    "containerd fetched blob " + blob + " from wharf under " + pathPrefix + ": " + hop.requests());
        }
    }

    private static void assertUnpacked(Containerd containerd, String expected) {
        List<Path> files = containerd.findUnpackedFiles("wharf/image.txt");
        assertTrue(files.stream().anyMatch(p -> read(p).equals(expected)),
                "an unpacked wharf/image.txt holds " + expected.replace("\n", "\\n") + " among " + files);
    }

    private static String read(Path p) {
        try {
            return Files.readString(p, StandardCharsets.UTF_8);
        } catch (IOException e) {
            return "";
        }
    }

    private static long size(Path p) {
        try {
            return Files.size(p);
        } catch (IOException e) {
            return -1;
        }
    }
}

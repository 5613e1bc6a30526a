package dev.wharf.server.admin;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertTrue;

import dev.wharf.testing.Containerd;
import dev.wharf.testing.DistributionRegistry;
import dev.wharf.testing.Exec;
import dev.wharf.testing.ImageSeeder;
import dev.wharf.testing.ImageSeeder.Image;
import dev.wharf.testing.ImageSeeder.Index;
import dev.wharf.testing.ImageSeeder.Platform;
import dev.wharf.testing.Ports;
import dev.wharf.testing.RealRegistry;
import dev.wharf.testing.WharfCli;
import dev.wharf.testing.WharfProcess;
import java.nio.file.Files;
import java.nio.file.Path;
import java.time.Duration;
import java.util.ArrayList;
import java.util.List;
import java.util.concurrent.TimeUnit;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.Timeout;
import org.junit.jupiter.api.extension.ExtendWith;
import org.junit.jupiter.api.io.TempDir;

/**
 * Acceptance, prefetch: {@code wharf prefetch} (a child JVM, as users run it) warms a running wharf (another child
 * JVM) with a multi-arch image and a single one; then the upstream is stopped, and containerd pulls both, every
 * platform, through wharf. Also: chosen platforms only, a failed image (exit 1, named in the summary), usage errors
 * (exit 2) and an unreachable wharf.
 */
@Timeout(value = 6, unit = TimeUnit.MINUTES)
@ExtendWith(RealRegistry.class)
class PrefetchCliTest {
    private static final Duration CLI_TIMEOUT = Duration.ofMinutes(3);

    private static DistributionRegistry upstream;
    private static ImageSeeder seeder;
    private static Index multi;
    private static Image single;
    private static Index chosen;

    @BeforeAll
    static void seed(DistributionRegistry r, ImageSeeder s) {
        upstream = r;
        seeder = s;
        multi = seeder.pushIndex(upstream.url(), "library/cli-multi", "v1",
                List.of(Platform.LINUX_AMD64, Platform.LINUX_ARM64), 2L << 20, 301);
        single = seeder.pushDockerImage(upstream.url(), "library/cli-single", "v1", 1L << 20, 302);
        chosen = seeder.pushIndex(upstream.url(), "library/cli-chosen", "v1",
                List.of(Platform.LINUX_AMD64, Platform.LINUX_ARM64), 303);
    }

    private static WharfProcess startWharf() {
        return WharfProcess.builder()
                .project(WharfProcess.Project.of("hub", upstream.url()).withAliases("docker.io"))
                .start();
    }

    @Test
    void afterAPrefetchContainerdPullsEveryPlatformWithTheUpstreamStopped(@TempDir Path tmp) throws Exception {
        try (WharfProcess wharf = startWharf();
                Containerd containerd = Containerd.builder().pullTimeout(Duration.ofSeconds(90)).start()) {
            Path list = tmp.resolve("images.txt");
            Files.writeString(list, "# images to warm\n"
                    + "docker.io/library/cli-multi:v1\n"
                    + "\n"
                    + "hub/library/cli-single:v1   # a wharf project path\n");
            Exec.Result prefetch = WharfCli.run(CLI_TIMEOUT, "prefetch", "-f", list.toString(),
                    "--url", wharf.url().toString());
            assertTrue(prefetch.ok(), prefetch.describe());
            String out = prefetch.output();
            assertTrue(out.contains("pulling docker.io/library/cli-multi:v1: 2 manifests, 4 layers"), out);
            assertTrue(out.contains("ok      docker.io/library/cli-multi:v1"), out);
            assertTrue(out.contains("summary: 2 images, 2 ok, 0 failed"), out);

            List<String> blobs = new ArrayList<>();
            for (Image image : multi.images()) {
                blobs.addAll(image.blobDigests());
            }
            for (String blob : blobs) {
                assertEquals(1, upstream.countRequests("GET", "/v2/library/cli-multi/blobs/" + blob),
                        "wharf fetched " + blob + " from the upstream once");
            }
            for (String blob : single.blobDigests()) {
                assertEquals(1, upstream.countRequests("GET", "/v2/library/cli-single/blobs/" + blob));
            }

            List<String> all = new ArrayList<>(List.of(multi.manifestDigest()));
            multi.images().forEach(i -> all.addAll(AdminTesting.digestsOf(i)));
            all.addAll(AdminTesting.digestsOf(single));
            AdminTesting.awaitLinked(wharf.storage(), "hub", all);
            upstream.stop();
            try {
                Path hosts = tmp.resolve("hosts");
                Containerd.writeHostsToml(hosts, "docker.io", "server = \"https://registry-1.docker.io\"\n\n"
                        + "[host.\"" + wharf.url() + "\"]\n"
                        + "  capabilities = [\"pull\", \"resolve\"]\n");
                Exec.Result pulled = containerd.pull("docker.io/library/cli-multi:v1", hosts, "--all-platforms");
                assertTrue(pulled.ok(), pulled.describe() + "\n--- wharf ---\n" + wharf.log());
                List<String> content = containerd.contentDigests();
                assertTrue(content.contains(multi.manifestDigest()), "the index came from wharf's cache");
                for (Image image : multi.images()) {
                    assertTrue(content.contains(image.manifestDigest()), "manifest of " + image.reference());
                    for (String blob : image.blobDigests()) {
                        assertTrue(content.contains(blob), "blob " + blob + " came from wharf's cache");
                    }
                }
                Exec.Result pulledSingle = containerd.pull("docker.io/library/cli-single:v1", hosts);
                assertTrue(pulledSingle.ok(), pulledSingle.describe() + "\n--- wharf ---\n" + wharf.log());
                assertTrue(containerd.contentDigests().containsAll(single.blobDigests()));
            } finally {
                upstream.restart();
            }
        }
    }

    @Test
    void chosenPlatformsOnlyAndAFailedImageIsNamedAndExitsOne(@TempDir Path tmp) throws Exception {
        try (WharfProcess wharf = startWharf()) {
            Path list = tmp.resolve("images.txt");
            Files.writeString(list, "docker.io/library/cli-chosen:v1\ndocker.io/library/cli-absent:v1\n");
            Exec.Result r = WharfCli.run(CLI_TIMEOUT, "prefetch", "-f", list.toString(), "--platform", "linux/arm64",
                    "--url", wharf.url().toString());
            assertEquals(1, r.exitCode(), r.describe());
            String out = r.output();
            assertTrue(out.contains("summary: 2 images, 1 ok, 1 failed"), out);
            assertTrue(out.contains("FAILED  docker.io/library/cli-absent:v1: manifest v1: HTTP 404 MANIFEST_UNKNOWN"),
                    out);
            for (String blob : chosen.image(Platform.LINUX_ARM64).blobDigests()) {
                assertEquals(1, upstream.countRequests("GET", "/v2/library/cli-chosen/blobs/" + blob), blob);
            }
            Image amd64 = chosen.image(Platform.LINUX_AMD64);
            assertEquals(0, upstream.countRequests("GET", amd64.manifestDigest()), "no amd64 manifest");
            for (String blob : amd64.blobDigests()) {
                assertEquals(0, upstream.countRequests("GET", blob), "no amd64 blob " + blob);
            }
        }
    }

    @Test
    void usageErrorsExitTwoAndAnUnreachableWharfExitsOne(@TempDir Path tmp) throws Exception {
        Path list = tmp.resolve("images.txt");
        Files.writeString(list, "docker.io/library/a:1\ndocker.io/library/UPPER:1\n");
        Exec.Result noFile = WharfCli.run(CLI_TIMEOUT, "prefetch");
        assertEquals(2, noFile.exitCode(), noFile.describe());
        assertTrue(noFile.output().contains("-f FILE is required"), noFile.output());
        Exec.Result badLine = WharfCli.run(CLI_TIMEOUT, "prefetch", "-f", list.toString());
        assertEquals(2, badLine.exitCode(), badLine.describe());
        assertTrue(badLine.output().contains(list + ":2:"), badLine.output());
        Files.writeString(list, "docker.io/library/a:1\n");
        Exec.Result badPlatform = WharfCli.run(CLI_TIMEOUT, "prefetch", "-f", list.toString(), "--platform", "linux");
        assertEquals(2, badPlatform.exitCode(), badPlatform.describe());
        Exec.Result unknown = WharfCli.run(CLI_TIMEOUT, "frobnicate");
        assertEquals(2, unknown.exitCode(), unknown.describe());
        Exec.Result down = WharfCli.run(CLI_TIMEOUT, "prefetch", "-f", list.toString(),
                "--url", "http://127.0.0.1:" + Ports.free());
        assertEquals(1, down.exitCode(), down.describe());
        assertTrue(down.output().contains("cannot reach wharf"), down.output());
    }
}

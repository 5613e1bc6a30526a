package dev.wharf.server.ecr;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertTrue;

import dev.wharf.testing.DistributionRegistry;
import dev.wharf.testing.ImageSeeder;
import dev.wharf.testing.Ports;
import dev.wharf.testing.RealRegistry;
import dev.wharf.testing.WharfProcess;
import java.net.URI;
import java.net.http.HttpClient;
import java.net.http.HttpRequest;
import java.net.http.HttpResponse;
import java.nio.file.Files;
import java.nio.file.Path;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.extension.ExtendWith;
import org.junit.jupiter.api.io.TempDir;

/**
 * The AWS SDK is loaded only when a project pulls from ECR. Each wharf here is a child JVM run with
 * {@code -Xlog:class+load}, which prints every class the JVM loads: the probe. A config without ECR (a plain registry,
 * and public.ecr.aws, pulled anonymously by default) serves a pull without a single {@code software.amazon} class; a
 * config with an ECR host (its region taken from the host) and public.ecr.aws with an {@code ecr:} block loads the
 * SDK at start-up, which is the positive control that the probe sees SDK classes at all.
 */
@ExtendWith(RealRegistry.class)
class EcrSdkLoadingTest {
    @TempDir
    Path dir;

    @Test
    void withoutEcrNoSdkClassIsLoaded(DistributionRegistry registry, ImageSeeder seeder) throws Exception {
        ImageSeeder.Image image = seeder.pushOciImage(registry.url(), "team/app", "v1", 1024, 401);
        int port = Ports.free();
        Path config = dir.resolve("plain.yaml");
        Files.writeString(config, "listen: 127.0.0.1:" + port + "\n"
                + "storage:\n  path: " + dir.resolve("store-plain") + "\n"
                + "projects:\n"
                + "  - name: local\n    upstream: " + registry.url() + "\n"
                + "  - name: public.ecr.aws\n    upstream: https://public.ecr.aws\n");
        try (WharfProcess wharf = WharfProcess.builder().configFile(config).port(port)
                .jvmArgs("-Xlog:class+load=info").start()) {
            HttpResponse<byte[]> r = HttpClient.newHttpClient().send(HttpRequest.newBuilder(
                    URI.create(wharf.url() + "/v2/local/team/app/manifests/v1"))
                    .header("Accept", ImageSeeder.OCI_MANIFEST).build(), HttpResponse.BodyHandlers.ofByteArray());
            assertEquals(200, r.statusCode());
            assertEquals(image.manifestDigest(), ImageSeeder.sha256(r.body()));
            String log = wharf.log();
            assertTrue(log.contains("dev.wharf.server.upstream.Upstreams"), "the probe logs class loading");
            assertFalse(log.contains("software.amazon."), "an AWS SDK class was loaded without an ECR project");
            assertFalse(log.contains("dev.wharf.auth.upstream.AwsEcrTokens"), "the SDK-backed fetcher was loaded");
            assertFalse(log.contains("ECR tokens through"), "an ECR credential source was built");
        }
    }

    @Test
    void anEcrProjectLoadsTheSdkWithTheRegionFromItsHost() throws Exception {
        int port = Ports.free();
        Path config = dir.resolve("ecr.yaml");
        Files.writeString(config, "listen: 127.0.0.1:" + port + "\n"
                + "storage:\n  path: " + dir.resolve("store-ecr") + "\n"
                + "projects:\n"
                + "  - name: private\n    upstream: https://123456789012.dkr.ecr.eu-west-1.amazonaws.com\n"
                + "    visibility: public\n"
                + "  - name: public\n    upstream: https://public.ecr.aws\n    ecr: {}\n    visibility: public\n");
        // Nothing is pulled, so no AWS endpoint is ever called: building the sources is enough.
        try (WharfProcess wharf = WharfProcess.builder().configFile(config).port(port)
                .jvmArgs("-Xlog:class+load=info").start()) {
            String log = wharf.log();
            assertTrue(log.contains("software.amazon.awssdk.services.ecr.EcrClient"), "the probe sees the SDK");
            assertTrue(log.contains("software.amazon.awssdk.services.ecrpublic.EcrPublicClient"));
            assertTrue(log.contains("upstream https://123456789012.dkr.ecr.eu-west-1.amazonaws.com of project private:"
                    + " ECR tokens through EcrAccess[ecr, region=eu-west-1, endpoint=null, credentials=default chain]"),
                    "an ECR host implies ECR with the default chain and its own region");
            assertTrue(log.contains("upstream https://public.ecr.aws of project public: ECR tokens through "
                    + "EcrAccess[ecr-public, region=us-east-1"), "public.ecr.aws with ecr: uses ecr-public in us-east-1");
        }
    }
}

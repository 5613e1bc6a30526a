package dev.wharf.server.ecr;

import dev.wharf.auth.upstream.FakeEcrApi;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

import dev.wharf.testing.DistributionRegistry;
import dev.wharf.testing.Exec;
import dev.wharf.testing.ImageSeeder;
import dev.wharf.testing.ImageSeeder.Image;
import dev.wharf.testing.InProcessWharf;
import dev.wharf.testing.Tools;
import java.net.URI;
import java.net.http.HttpClient;
import java.net.http.HttpRequest;
import java.net.http.HttpResponse;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.time.Duration;
import java.time.Instant;
import java.util.ArrayList;
import java.util.List;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.TimeUnit;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/**
 * Pulling from an ECR project end to end. The ECR API is {@link FakeEcrApi} on 127.0.0.1, reached through the AWS
 * SDK's endpoint override: a fake, because no real ECR is reachable from the tests. It checks the SigV4
 * Authorization header (key, date, region, {@code ecr/aws4_request}) and the X-Amz-Target the SDK sends, and hands
 * out tokens {@code AWS:<password>}. The registry is a real distribution registry whose htpasswd user {@code AWS}
 * has the password of the current token; {@link EcrLikeHop} in front of it answers a stale token with ECR's 403 and
 * plain-text body.
 */
class EcrPullTest {
    private static final String KEY = "AKIDWHARFECRTEST0001";
    private static final String SECRET = "wharf/ecr/test/secret/0123456789abcdefghij";
    private static final String REGION = "eu-west-1";
    private static final Duration TOOL_TIMEOUT = Duration.ofSeconds(120);

    @TempDir
    Path tmp;

    @Test
    void pullsWithAnEcrTokenAndRefreshesAnExpiredOneWithoutAFailedRequest() throws Exception {
        Tools.require("skopeo");
        try (FakeEcrApi api = new FakeEcrApi(false, KEY, REGION, "ecr-token-pw");
             DistributionRegistry registry = DistributionRegistry.builder()
                     .htpasswdUser("AWS", api.password(1)).start();
             EcrLikeHop hop = new EcrLikeHop(registry.url())) {
            Image first;
            Image second;
            try (ImageSeeder seeder = new ImageSeeder("AWS", api.password(1))) {
                first = seeder.pushOciImage(registry.url(), "team/app", "v1", 96 << 10, 301);
                second = seeder.pushOciImage(registry.url(), "team/app", "v2", 96 << 10, 302);
            }
            try (InProcessWharf wharf = InProcessWharf.start(tmp.resolve("store"), """
                    projects:
                      - name: ecr
                        upstream: %s
                        visibility: public
                        ecr:
                          region: %s
                          endpoint: %s
                          accessKeyId: %s
                          secretAccessKey: %s
                    """.formatted(hop.url(), REGION, api.endpoint(), KEY, SECRET))) {
                assertEquals(0, api.count(), "no token is fetched before a pull needs one");

                copy(wharf, "ecr/team/app:v1", first, "first");
                assertEquals(1, api.count(), "one GetAuthorizationToken for the whole pull");
                FakeEcrApi.Call call = api.calls.get(0);
                assertEquals("", call.problem(), "what the SDK sent: " + call);
                assertTrue(call.authorization().matches("AWS4-HMAC-SHA256 Credential=" + KEY
                        + "/\\d{8}/" + REGION + "/ecr/aws4_request, ?SignedHeaders=[a-z0-9;-]+, ?Signature=[0-9a-f]{64}"),
                        call.authorization());
                assertEquals("AmazonEC2ContainerRegistry_V20150921.GetAuthorizationToken", call.target());
                assertTrue(hop.authorized.get() > 0, "the registry accepted the token's password for user AWS");
                assertEquals(0, hop.expiredAnswers.get());

                // The token expires (12 h are up, in ECR's view): the registry now takes the next token's password
                // only, and the hop answers the old one with ECR's 403. wharf still holds the old token, valid by
                // its expiresAt; it is old enough (EcrCredentials.MIN_AGE_TO_DROP) for a rejection to mean expiry.
                sleepUntil(call.at().plusSeconds(6));
                registry.changeHtpasswdPassword("AWS", api.password(2));

                // Every blob of the second image at once, all cold: each request meets the 403, one refresh serves
                // them all, and every client request succeeds.
                HttpClient http = HttpClient.newHttpClient();
                List<String> digests = new ArrayList<>(second.blobDigests());
                digests.add(second.manifestDigest());
                List<CompletableFuture<HttpResponse<byte[]>>> inFlight = new ArrayList<>();
                for (String digest : digests) {
                    String kind = digest.equals(second.manifestDigest()) ? "manifests" : "blobs";
                    inFlight.add(http.sendAsync(HttpRequest.newBuilder(
                            URI.create(wharf.url() + "/v2/ecr/team/app/" + kind + "/" + digest))
                            .header("Accept", ImageSeeder.OCI_MANIFEST).timeout(Duration.ofSeconds(60)).build(),
                            HttpResponse.BodyHandlers.ofByteArray()));
                }
                for (int i = 0; i < digests.size(); i++) {
                    HttpResponse<byte[]> r = inFlight.get(i).get(90, TimeUnit.SECONDS);
                    assertEquals(200, r.statusCode(), digests.get(i) + ": " + new String(r.body(),
                            StandardCharsets.UTF_8));
                    assertEquals(digests.get(i), ImageSeeder.sha256(r.body()));
                }
                assertTrue(hop.expiredAnswers.get() >= 1, "the stale token met ECR's 403");
                assertEquals(2, api.count(), "one refresh for all the rejected requests");
                assertEquals("", api.calls.get(1).problem(), api.calls.get(1).toString());

                // And a whole pull by tag afterwards, with the fresh token.
                copy(wharf, "ecr/team/app:v2", second, "second");
                assertEquals(2, api.count());
            }
        }
    }

    @Test
    void anEcrBlockWithoutKeysUsesTheSdkDefaultCredentialChain() throws Exception {
        // ecr: with a region and an endpoint but no keys: credentials come from the SDK's default chain (on EKS the
        // web identity token of IRSA, or Pod Identity). Its first link, the aws.* system properties, stands in here.
        try (FakeEcrApi api = new FakeEcrApi(false, KEY, "us-west-2", "pw");
             DistributionRegistry registry = DistributionRegistry.builder()
                     .htpasswdUser("AWS", api.password(1)).start()) {
            Image image;
            try (ImageSeeder seeder = new ImageSeeder("AWS", api.password(1))) {
                image = seeder.pushOciImage(registry.url(), "lib/tool", "1.0", 8 << 10, 303);
            }
            try (InProcessWharf wharf = InProcessWharf.start(tmp.resolve("store"), """
                    projects:
                      - name: mirror
                        upstream: %s
                        ecr: {region: us-west-2, endpoint: '%s'}
                        visibility: public
                    """.formatted(registry.url(), api.endpoint()))) {
                // No static keys: the SDK's default chain, whose first link is these system properties.
                System.setProperty("aws.accessKeyId", KEY);
                System.setProperty("aws.secretAccessKey", SECRET);
                try {
                    HttpResponse<byte[]> r = wharf.get("/v2/mirror/lib/tool/manifests/1.0",
                            "Accept", ImageSeeder.OCI_MANIFEST);
                    assertEquals(200, r.statusCode(), new String(r.body(), StandardCharsets.UTF_8));
                    assertEquals(image.manifestDigest(), ImageSeeder.sha256(r.body()));
                } finally {
                    System.clearProperty("aws.accessKeyId");
                    System.clearProperty("aws.secretAccessKey");
                }
                assertEquals(1, api.count());
                assertEquals("", api.calls.get(0).problem(), api.calls.get(0).toString());
            }
        }
    }

    private void copy(InProcessWharf wharf, String reference, Image image, String name) throws Exception {
        Path layout = tmp.resolve("layout-" + name);
        Exec.Result copied = Exec.run(TOOL_TIMEOUT, "skopeo", "copy", "--src-tls-verify=false",
                "--preserve-digests", "docker://" + wharf.hostPort() + "/" + reference, "oci:" + layout + ":x");
        assertTrue(copied.ok(), copied.describe());
        for (String digest : image.blobDigests()) {
            byte[] blob = Files.readAllBytes(layout.resolve("blobs/sha256/" + digest.substring(7)));
            assertEquals(digest, ImageSeeder.sha256(blob), "blob in the copied layout");
        }
        byte[] manifest = Files.readAllBytes(layout.resolve("blobs/sha256/" + image.manifestDigest().substring(7)));
        assertEquals(image.manifestDigest(), ImageSeeder.sha256(manifest));
    }

    private static void sleepUntil(Instant when) throws InterruptedException {
        long millis = Duration.between(Instant.now(), when).toMillis();
        if (millis > 0) {
            Thread.sleep(millis);
        }
    }
}

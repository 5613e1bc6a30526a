package dev.wharf.faults;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertTrue;

import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.ObjectMapper;
import dev.wharf.testing.DistributionRegistry;
import dev.wharf.testing.Fetch;
import dev.wharf.testing.ImageSeeder;
import dev.wharf.testing.ImageSeeder.Image;
import dev.wharf.testing.InProcessWharf;
import dev.wharf.testing.Pulls;
import dev.wharf.testing.RealRegistry;
import dev.wharf.testing.WharfYaml;
import java.net.URI;
import java.net.http.HttpResponse;
import java.nio.file.Path;
import java.time.Duration;
import java.util.concurrent.TimeUnit;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.Timeout;
import org.junit.jupiter.api.extension.ExtendWith;
import org.junit.jupiter.api.io.TempDir;

/**
 * The upstream registry goes down: what is cached is still served (a tag past its TTL as stale, with a Warning),
 * what is not gets a 502/503 OCI error naming the project and the upstream; once it is back the tag is revalidated
 * normally.
 */
@Timeout(value = 2, unit = TimeUnit.MINUTES)
@ExtendWith(RealRegistry.class)
class UpstreamDownTest {
    private static final ObjectMapper JSON = new ObjectMapper();
    private static final String REPO = "faults/down";
    /**
     * What containerd sends (shared/DESIGN.md). It has to include index types: wharf only records a tag from an
     * answer any client would get, not from one negotiated down to a single manifest type.
     */
    private static final String ACCEPT = "application/vnd.docker.distribution.manifest.v2+json, "
            + "application/vnd.docker.distribution.manifest.list.v2+json, application/vnd.oci.image.manifest.v1+json, "
            + "application/vnd.oci.image.index.v1+json, */*";

    @TempDir
    Path tmp;

    @Test
    void cachedContentOutlivesTheUpstreamAndUncachedContentFailsClearly(DistributionRegistry registry, ImageSeeder seeder) throws Exception {
        Image cachedImage = seeder.pushOciImage(registry.url(), REPO, "v1", 256 << 10, 8004);
        Image uncachedImage = seeder.pushOciImage(registry.url(), REPO, "v2", 128 << 10, 8005);
        String upstream = registry.url().toString();
        try (InProcessWharf wharf = InProcessWharf.start(tmp.resolve("store"),
                WharfYaml.config().project(WharfYaml.project("up", upstream).tagTtl("1s")))) {
            URI tag = wharf.url().resolve("/v2/up/" + REPO + "/manifests/v1");
            URI byDigest = wharf.url().resolve("/v2/up/" + REPO + "/manifests/" + cachedImage.manifestDigest());
            URI config = blob(wharf, cachedImage.configDigest());
            URI layer = blob(wharf, cachedImage.layerDigests().get(1));

            // Warm the cache while the upstream is up.
            HttpResponse<byte[]> fresh = Pulls.getBytes(tag, "Accept", ACCEPT);
            assertEquals(200, fresh.statusCode(), Pulls.utf8(fresh.body()));
            assertArrayEquals(cachedImage.manifest(), fresh.body());
            assertTrue(fresh.headers().firstValue("Warning").isEmpty(), "fresh manifest with a Warning");
            long fetchedAt = System.nanoTime();
            assertBlob(config, cachedImage.configDigest(), cachedImage.blobSizes().get(0));
            assertBlob(layer, cachedImage.layerDigests().get(1), cachedImage.layerSizes().get(1));

            registry.stop();
            long ttlOver = fetchedAt + TimeUnit.MILLISECONDS.toNanos(1500);
            long wait = ttlOver - System.nanoTime();
            if (wait > 0) {
                TimeUnit.NANOSECONDS.sleep(wait);
            }

            HttpResponse<byte[]> stale = Pulls.getBytes(tag, "Accept", ACCEPT);
            assertEquals(200, stale.statusCode(), "tag past its TTL, upstream down: " + Pulls.utf8(stale.body()));
            assertArrayEquals(cachedImage.manifest(), stale.body());
            String warning = stale.headers().firstValue("Warning").orElse("");
            assertTrue(warning.startsWith("110 "), "a stale manifest needs a 110 Warning, got '" + warning + "'");
            assertEquals(cachedImage.manifestDigest(), stale.headers().firstValue("Docker-Content-Digest").orElse(""));

            HttpResponse<byte[]> pinned = Pulls.getBytes(byDigest, "Accept", ACCEPT);
            assertEquals(200, pinned.statusCode(), Pulls.utf8(pinned.body()));
            assertArrayEquals(cachedImage.manifest(), pinned.body());

            assertBlob(config, cachedImage.configDigest(), cachedImage.blobSizes().get(0));
            assertBlob(layer, cachedImage.layerDigests().get(1), cachedImage.layerSizes().get(1));

            HttpResponse<byte[]> noTag = Pulls.getBytes(wharf.url().resolve("/v2/up/" + REPO + "/manifests/v2"),
                    "Accept", ACCEPT);
            assertUnavailable(noTag, "uncached tag", upstream);
            HttpResponse<byte[]> noBlob = Pulls.getBytes(blob(wharf, uncachedImage.layerDigests().get(1)));
            assertUnavailable(noBlob, "uncached blob", upstream);
            HttpResponse<byte[]> noManifest = Pulls.getBytes(
                    wharf.url().resolve("/v2/up/" + REPO + "/manifests/" + uncachedImage.manifestDigest()),
                    "Accept", ACCEPT);
            assertUnavailable(noManifest, "uncached manifest by digest", upstream);

            registry.restart();
            long headsBefore = registry.countRequests("HEAD", "/manifests/v1");
            long getsBefore = registry.countRequests("GET", "/manifests/v1");
            HttpResponse<byte[]> back = Pulls.getBytes(tag, "Accept", ACCEPT);
            assertEquals(200, back.statusCode(), Pulls.utf8(back.body()));
            assertArrayEquals(cachedImage.manifest(), back.body());
            assertFalse(back.headers().firstValue("Warning").isPresent(),
                    "upstream is back: the tag must be revalidated, not served stale: " + back.headers().map());
            assertEquals(headsBefore + 1, registry.countRequests("HEAD", "/manifests/v1"),
                    "the tag is revalidated with one HEAD: " + registry.requests());
            assertEquals(getsBefore, registry.countRequests("GET", "/manifests/v1"),
                    "an unchanged tag is not fetched again");
            HttpResponse<byte[]> nowFresh = Pulls.getBytes(tag, "Accept", ACCEPT);
            assertEquals(200, nowFresh.statusCode());
            assertFalse(nowFresh.headers().firstValue("Warning").isPresent());
            assertEquals(headsBefore + 1, registry.countRequests("HEAD", "/manifests/v1"),
                    "within the renewed TTL the tag is served from cache");
        }
    }

    private static URI blob(InProcessWharf wharf, String digest) {
        return wharf.url().resolve("/v2/up/" + REPO + "/blobs/" + digest);
    }

    private static void assertBlob(URI uri, String digest, long size) throws Exception {
        Fetch f = Pulls.get(uri, null, null, Duration.ofSeconds(30));
        assertTrue(f.clean(), uri + ": " + f.describe());
        assertEquals(size, f.bytes(), uri.toString());
        assertEquals(digest, f.digest(), uri.toString());
    }

    private static void assertUnavailable(HttpResponse<byte[]> r, String what, String upstream) throws Exception {
        String body = Pulls.utf8(r.body());
        assertTrue(r.statusCode() == 502 || r.statusCode() == 503, what + ": expected 502/503, got " + r.statusCode()
                + ": " + body);
        assertTrue(r.headers().firstValue("Content-Type").orElse("").startsWith("application/json"),
                what + " Content-Type " + r.headers().firstValue("Content-Type"));
        JsonNode error = JSON.readTree(r.body()).path("errors").path(0);
        assertFalse(error.path("code").asText().isEmpty(), what + ": no OCI error code in " + body);
        String message = error.path("message").asText();
        assertTrue(message.contains("project up"), what + ": the message should name the project: " + message);
        assertTrue(message.contains(upstream), what + ": the message should name the upstream " + upstream + ": "
                + message);
    }
}

package dev.wharf.server.prefetch;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertNull;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import com.fasterxml.jackson.databind.ObjectMapper;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.ValueSource;

class ImageReferenceTest {
    private static final String DIGEST = "sha256:" + "ab".repeat(32);

    @Test
    void aRegistryHostIsAskedForWithNs() {
        ImageReference r = ImageReference.parse("docker.io/library/nginx:1.27");
        assertEquals("docker.io", r.host());
        assertEquals("library/nginx", r.repository());
        assertEquals("1.27", r.tag());
        assertEquals("/v2/library/nginx/manifests/1.27?ns=docker.io", r.manifestPath(r.reference()));
        assertEquals("/v2/library/nginx/blobs/" + DIGEST + "?ns=docker.io",
                r.blobPath(dev.wharf.storage.Digest.parse(DIGEST)));
    }

    @Test
    void aHostWithAPortOrLocalhostIsAHost() {
        assertEquals("127.0.0.1:5000", ImageReference.parse("127.0.0.1:5000/org/img:v1").host());
        assertEquals("/v2/org/img/manifests/v1?ns=127.0.0.1%3A5000",
                ImageReference.parse("127.0.0.1:5000/org/img:v1").manifestPath("v1"));
        assertEquals("localhost", ImageReference.parse("localhost/img").host());
    }

    @Test
    void aDigestWinsOverATagAndNoTagMeansLatest() {
        ImageReference byDigest = ImageReference.parse("quay.io/org/img:1@" + DIGEST);
        assertNull(byDigest.tag());
        assertEquals(DIGEST, byDigest.reference());
        assertEquals("latest", ImageReference.parse("quay.io/org/img").tag());
    }

    @Test
    void aPathWithoutAHostIsAWharfPath() {
        ImageReference r = ImageReference.parse("hub/library/x:tag");
        assertNull(r.host());
        assertEquals("hub/library/x", r.repository());
        assertEquals("/v2/hub/library/x/manifests/tag", r.manifestPath("tag"));
        assertEquals("/v2/nginx/manifests/1.27", ImageReference.parse("nginx:1.27").manifestPath("1.27"));
    }

    @ParameterizedTest
    @ValueSource(strings = {"", "  ", "docker.io/Library/nginx:1", "docker.io/library/nginx:-bad", "img@sha256:xyz",
            "docker.io/", "a//b:1"})
    void rejectsWhatIsNotAReference(String text) {
        assertThrows(IllegalArgumentException.class, () -> ImageReference.parse(text));
    }

    @Test
    void platformsMatchOsArchitectureAndVariant() throws Exception {
        ObjectMapper json = new ObjectMapper();
        var amd64 = json.readTree("{\"os\":\"linux\",\"architecture\":\"amd64\"}");
        var arm64 = json.readTree("{\"os\":\"linux\",\"architecture\":\"arm64\"}");
        var armv7 = json.readTree("{\"os\":\"linux\",\"architecture\":\"arm\",\"variant\":\"v7\"}");
        assertTrue(Platform.parse("linux/amd64").matches(amd64));
        assertFalse(Platform.parse("linux/amd64").matches(arm64));
        assertTrue(Platform.parse("linux/arm64/v8").matches(arm64), "arm64 without a variant is v8");
        assertTrue(Platform.parse("linux/arm").matches(armv7));
        assertFalse(Platform.parse("linux/arm/v6").matches(armv7));
        assertEquals("linux/arm/v7", Platform.describe(armv7));
        assertThrows(IllegalArgumentException.class, () -> Platform.parse("linux"));
        assertThrows(IllegalArgumentException.class, () -> Platform.parse("linux/amd64/v1/x"));
    }
}

package dev.wharf.s3;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

import dev.wharf.testing.DistributionRegistry;
import dev.wharf.testing.Fetch;
import dev.wharf.testing.ImageSeeder;
import dev.wharf.testing.Pulls;
import dev.wharf.testing.RealRegistry;
import dev.wharf.testing.SeaweedS3;
import dev.wharf.testing.WharfProcess;
import java.net.URI;
import java.nio.file.Path;
import java.time.Duration;
import java.util.concurrent.TimeUnit;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.Timeout;
import org.junit.jupiter.api.extension.ExtendWith;
import org.junit.jupiter.api.extension.RegisterExtension;
import org.junit.jupiter.api.io.TempDir;

/**
 * A 256 MiB blob through the S3 tier with a 128 MiB heap: uploaded by multipart from the fill's temp file on the
 * cold pull, then streamed back from S3 by a second wharf with an empty hot tier. Either one buffering the blob (or
 * its parts without bound) would die of OutOfMemoryError and fail the transfer.
 */
@Timeout(value = 5, unit = TimeUnit.MINUTES)
@ExtendWith(RealRegistry.class)
class S3MemoryTest {
    private static final long SIZE = 256 * Pulls.MiB;

    @RegisterExtension
    static final SeaweedS3 s3 = new SeaweedS3();

    @TempDir
    Path tmp;

    @Test
    void aLargeBlobGoesThroughS3WithA128MiBHeap(DistributionRegistry registry, ImageSeeder seeder) throws Exception {
        ImageSeeder.Blob blob = seeder.pushRandomBlob(registry.url(), "s3/huge", SIZE, 9101);
        String path = "/v2/up/s3/huge/blobs/" + blob.digest();
        for (String hot : new String[] {"a", "b"}) {
            try (WharfProcess wharf = WharfProcess.builder().project("up", registry.url()).storage(tmp.resolve(hot))
                    .s3(s3.storageYaml("huge/", false)).jvmArgs("-Xmx128m").start()) {
                URI uri = wharf.url().resolve(path);
                Fetch fetch = Pulls.get(uri, null, null, Duration.ofMinutes(2));
                assertTrue(fetch.clean(), hot + ": " + fetch.describe() + "\n" + wharf.log());
                assertEquals(SIZE, fetch.bytes());
                assertEquals(blob.digest(), fetch.digest());
                assertTrue(Pulls.await(Duration.ofSeconds(60), () -> s3.keys("huge/blobs/").size() == 1),
                        "the blob in the bucket: " + s3.keys("huge/"));
                assertTrue(wharf.isAlive(), "wharf died:\n" + wharf.log());
            }
        }
        assertEquals(1, registry.countRequests("GET", "/blobs/" + blob.digest()),
                "the second wharf streamed from S3, not the upstream");
        assertEquals(SIZE, s3.keys("huge/blobs/").values().iterator().next());
    }
}

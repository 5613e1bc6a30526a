package dev.wharf.testing;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.nio.charset.StandardCharsets;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.extension.RegisterExtension;
import software.amazon.awssdk.core.sync.RequestBody;

/** The fixture itself: SeaweedFS starts, holds an object, and keeps it across a stop and start on the same port. */
class SeaweedS3Test {
    @RegisterExtension
    static final SeaweedS3 s3 = new SeaweedS3();

    @Test
    void keepsObjectsAcrossARestart() {
        byte[] body = "hello".getBytes(StandardCharsets.UTF_8);
        s3.client().putObject(b -> b.bucket(s3.bucket()).key("t/a"), RequestBody.fromBytes(body));
        assertEquals(java.util.Map.of("t/a", 5L), s3.keys("t/"));
        int port = s3.endpoint().getPort();
        s3.stop();
        assertFalse(s3.running());
        assertFalse(Ports.accepting(port), "S3 still answers after stop");
        s3.start();
        assertTrue(s3.running());
        assertEquals(port, s3.endpoint().getPort());
        assertArrayEquals(body, s3.get("t/a"));
        assertEquals(0, s3.incompleteUploads("t/").size());
    }
}

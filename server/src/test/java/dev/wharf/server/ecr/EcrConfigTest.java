package dev.wharf.server.ecr;

import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import dev.wharf.server.app.WharfServer;
import dev.wharf.server.config.ConfigException;
import dev.wharf.server.config.ConfigLoader;
import java.nio.file.Path;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/** ECR settings that cannot work stop start-up with a message naming the project and the key. */
class EcrConfigTest {
    @TempDir
    Path dir;

    @Test
    void anEcrBlockOnAHostThatNamesNoRegionNeedsOne() {
        assertStartFails("""
                projects:
                  - name: private-ecr
                    upstream: https://ecr.internal.example.com
                    ecr: {accessKeyId: AKIDX, secretAccessKey: s}
                    visibility: public
                """, "project private-ecr: ecr.region is required");
    }

    @Test
    void usernameAndEcrDoNotGoTogether() {
        assertStartFails("""
                projects:
                  - name: both
                    upstream: https://123456789012.dkr.ecr.eu-west-1.amazonaws.com
                    username: AWS
                    password: x
                    ecr: {}
                    visibility: public
                """, "project both: username/password and ecr cannot be used together");
    }

    private void assertStartFails(String projects, String message) {
        String yaml = "listen: 127.0.0.1:0\nstorage:\n  path: " + dir.resolve("store") + "\n" + projects;
        WharfServer server = new WharfServer(ConfigLoader.parse(yaml, "t.yaml"));
        try {
            ConfigException e = assertThrows(ConfigException.class, server::start);
            assertTrue(e.getMessage().contains(message), e.getMessage());
        } finally {
            server.close();
        }
    }
}

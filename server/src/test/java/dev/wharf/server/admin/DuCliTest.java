package dev.wharf.server.admin;

import static dev.wharf.server.admin.AdminTesting.imageBytes;
import static dev.wharf.server.admin.AdminTesting.linked;
import static dev.wharf.server.admin.AdminTesting.storedBytes;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

import com.fasterxml.jackson.databind.JsonNode;
import dev.wharf.testing.DistributionRegistry;
import dev.wharf.testing.Exec;
import dev.wharf.testing.ImageSeeder;
import dev.wharf.testing.ImageSeeder.Image;
import dev.wharf.testing.RealRegistry;
import dev.wharf.testing.WharfCli;
import dev.wharf.testing.WharfProcess;
import java.nio.file.Path;
import java.time.Duration;
import java.util.HashMap;
import java.util.Map;
import java.util.concurrent.TimeUnit;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.Timeout;
import org.junit.jupiter.api.extension.ExtendWith;

/**
 * {@code wharf du}, run as users run it while wharf runs: per project, the bytes of the blob files it links, equal
 * to what was pulled through it and to the bytes on disk; a blob two projects share counts in both and once in all.
 */
@Timeout(value = 4, unit = TimeUnit.MINUTES)
@ExtendWith(RealRegistry.class)
class DuCliTest {
    private static final Duration CLI_TIMEOUT = Duration.ofMinutes(2);

    @Test
    void usagePerProjectEqualsTheBytesOnDisk(DistributionRegistry upstream, ImageSeeder seeder) throws Exception {
        Image shared = seeder.pushOciImage(upstream.url(), "library/du-shared", "v1", 300 << 10, 601);
        Image own = seeder.pushDockerImage(upstream.url(), "library/du-own", "v1", 700 << 10, 602);
        try (WharfProcess wharf = WharfProcess.builder()
                .project(WharfProcess.Project.of("hub", upstream.url()))
                .project(WharfProcess.Project.of("mirror", upstream.url()))
                .project(WharfProcess.Project.of("idle", upstream.url()))
                .start()) {
            AdminTesting.pull(wharf.url(), "/v2/hub/", shared);
            AdminTesting.pull(wharf.url(), "/v2/mirror/", shared);
            AdminTesting.pull(wharf.url(), "/v2/mirror/", own);
            Path storage = wharf.storage();
            AdminTesting.awaitLinked(storage, "hub", AdminTesting.digestsOf(shared));
            AdminTesting.awaitLinked(storage, "mirror", AdminTesting.digestsOf(shared));
            AdminTesting.awaitLinked(storage, "mirror", AdminTesting.digestsOf(own));

            Exec.Result r = WharfCli.run(CLI_TIMEOUT, "du", "--storage", storage.toString(), "--json");
            assertTrue(r.ok(), r.describe());
            JsonNode du = AdminTesting.JSON.readTree(r.output().substring(r.output().indexOf('{')));
            Map<String, JsonNode> projects = new HashMap<>();
            du.path("projects").forEach(p -> projects.put(p.path("name").asText(), p));
            assertEquals(imageBytes(shared), projects.get("hub").path("bytes").asLong(), du.toString());
            assertEquals(imageBytes(shared) + imageBytes(own), projects.get("mirror").path("bytes").asLong());
            for (String p : new String[] {"hub", "mirror"}) {
                assertEquals(storedBytes(storage, linked(storage, p)), projects.get(p).path("bytes").asLong(),
                        "the bytes on disk of what " + p + " links");
                assertEquals(linked(storage, p).size(), projects.get(p).path("blobs").asInt());
            }
            long[] all = AdminTesting.allBlobFiles(storage);
            assertEquals(all[0], du.path("total").path("blobs").asLong());
            assertEquals(all[1], du.path("total").path("bytes").asLong());
            assertEquals(imageBytes(shared) + imageBytes(own), all[1], "shared blobs once in the total");

            Exec.Result text = WharfCli.run(CLI_TIMEOUT, "du", "--config", wharf.configFile().toString());
            assertTrue(text.ok(), text.describe());
            String hubLine = text.output().lines().filter(l -> l.startsWith("hub ")).findFirst().orElseThrow();
            assertTrue(hubLine.contains(" " + imageBytes(shared) + " "), hubLine);
            assertTrue(text.output().lines().anyMatch(l -> l.matches("idle\\s+0\\s+0 B\\s+0\\s+0")),
                    "a configured project that cached nothing shows 0:\n" + text.output());
            assertTrue(text.output().lines().anyMatch(l -> l.startsWith("all (unique)") && l.contains(" " + all[1]
                    + " ")), text.output());
        }
    }
}

package dev.wharf.it;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.ObjectMapper;
import dev.wharf.testing.DistributionRegistry;
import dev.wharf.testing.ImageSeeder;
import dev.wharf.testing.ImageSeeder.Image;
import dev.wharf.testing.InProcessWharf;
import dev.wharf.testing.RealRegistry;
import dev.wharf.testing.WharfYaml;
import java.net.http.HttpResponse;
import java.nio.charset.StandardCharsets;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;
import java.util.TreeSet;
import java.util.concurrent.TimeUnit;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.Timeout;
import org.junit.jupiter.api.extension.ExtendWith;
import org.junit.jupiter.api.io.TempDir;

/**
 * A 250-tag list through a real {@code docker-registry}: wharf returns every tag, sorted. The registry installed here
 * (distribution 2.8) ignores {@code n} on tag lists and sends no {@code Link}, so it answers in one page; the walk of
 * {@code Link} headers across pages is covered only by TagListsTest's scripted upstream until a registry that pages
 * (distribution 3) is available to the tests. The last assertion pins that, so a registry that starts paging shows here.
 */
@Timeout(value = 3, unit = TimeUnit.MINUTES)
@ExtendWith(RealRegistry.class)
class UpstreamTagPagingTest {
    private static final ObjectMapper JSON = new ObjectMapper();

    @Test
    void aLongUpstreamTagListComesBackWholeAndSorted(DistributionRegistry upstream, ImageSeeder seeder,
                                                     @TempDir Path tmp) throws Exception {
        String repo = "paging/many";
        Image image = seeder.pushOciImage(upstream.url(), repo, "t000", 0, 901);
        TreeSet<String> expected = new TreeSet<>();
        expected.add("t000");
        for (int i = 1; i < 250; i++) {
            String tag = String.format("t%03d", i);
            seeder.tag(upstream.url(), image, tag);
            expected.add(tag);
        }
        long before = upstream.countRequests("GET", "/v2/" + repo + "/tags/list");

        try (InProcessWharf wharf = InProcessWharf.start(tmp,
                WharfYaml.config().project(WharfYaml.project("hub", upstream.url())))) {
            HttpResponse<byte[]> all = wharf.get("/v2/hub/" + repo + "/tags/list");
            assertEquals(200, all.statusCode(), new String(all.body(), StandardCharsets.UTF_8));
            JsonNode body = JSON.readTree(all.body());
            List<String> tags = new ArrayList<>();
            body.get("tags").forEach(t -> tags.add(t.asText()));
            assertEquals(250, tags.size());
            assertEquals(new ArrayList<>(expected), tags, "all 250 tags, sorted");
        }
        long pages = upstream.countRequests("GET", "/v2/" + repo + "/tags/list") - before;
        assertTrue(pages >= 1, "wharf asked the upstream: " + pages + " tag-list requests");
        assertEquals(1, pages, "distribution 2.8 sends the whole list in one page; if it now pages, assert the walk here");
    }
}

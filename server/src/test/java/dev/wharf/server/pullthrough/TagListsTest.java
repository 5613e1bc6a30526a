package dev.wharf.server.pullthrough;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import dev.wharf.server.api.Failures;
import dev.wharf.server.api.RegistryException;
import dev.wharf.server.api.RepositoryName;
import dev.wharf.server.config.ProjectConfig;
import dev.wharf.server.config.UpstreamLimits;
import dev.wharf.server.upstream.Project;
import dev.wharf.server.upstream.UpstreamCall;
import dev.wharf.server.upstream.UpstreamResponse;
import java.net.URI;
import java.nio.charset.StandardCharsets;
import java.time.Duration;
import java.util.ArrayList;
import java.util.List;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.ExecutionException;
import java.util.concurrent.TimeUnit;
import org.junit.jupiter.api.Test;

/**
 * {@link TagLists} through a scripted upstream (issue 8, item 7): concurrent requests share one upstream walk, a
 * list longer than {@code limits.tags} is refused with a 502 naming the limit, and the cache is bounded by bytes.
 */
class TagListsTest {
    private static final RepositoryName NAME = new RepositoryName("library/x");
    private final Project project = new Project(new ProjectConfig("p", URI.create("http://127.0.0.1:9"), List.of(),
            Duration.ofMinutes(5), null), null);

    private static CompletableFuture<UpstreamResponse> page(int from, int count) {
        StringBuilder b = new StringBuilder("{\"name\":\"library/x\",\"tags\":[");
        for (int i = 0; i < count; i++) {
            b.append(i == 0 ? "" : ",").append("\"t").append(from + i).append('"');
        }
        return ScriptedUpstream.answer(200, b.append("]}").toString().getBytes(StandardCharsets.UTF_8));
    }

    @Test
    void fiveConcurrentRequestsShareOneUpstreamWalk() throws Exception {
        CompletableFuture<UpstreamResponse> held = new CompletableFuture<>();
        ScriptedUpstream upstream = new ScriptedUpstream().on(UpstreamCall.TagListPage.class, c -> held);
        TagLists lists = new TagLists(upstream);
        List<CompletableFuture<List<String>>> waiting = new ArrayList<>();
        for (int i = 0; i < 5; i++) { // five clients asking ?n=1 at once: each needs the whole sorted list
            waiting.add(lists.tags(project, NAME).tags());
        }
        held.complete(page(0, 3).join());
        for (CompletableFuture<List<String>> w : waiting) {
            assertEquals(List.of("t0", "t1", "t2"), w.get(10, TimeUnit.SECONDS));
        }
        assertEquals(1, upstream.count(UpstreamCall.TagListPage.class));
        lists.tags(project, NAME).tags().get(10, TimeUnit.SECONDS); // cached now
        assertEquals(1, upstream.count(UpstreamCall.TagListPage.class));
    }

    @Test
    void aListLongerThanTheLimitIsA502NamingIt() {
        UpstreamLimits d = UpstreamLimits.DEFAULTS;
        ScriptedUpstream upstream = new ScriptedUpstream()
                .limits(new UpstreamLimits(d.manifestSize(), 3, d.manifestDeadline(), d.minUpstreamRate(),
                        d.minUpstreamRateWindow(), d.upstreamIdle()))
                .on(UpstreamCall.TagListPage.class, c -> page(0, 5));
        ExecutionException e = assertThrows(ExecutionException.class,
                () -> new TagLists(upstream).tags(project, NAME).tags().get(10, TimeUnit.SECONDS));
        RegistryException re = (RegistryException) Failures.unwrap(e);
        assertEquals(502, re.statusCode());
        assertTrue(re.getMessage().contains("more than 3 tags (limits.tags)"), re.getMessage());
    }

    @Test
    void theCacheIsBoundedByTheBytesItHolds() throws Exception {
        ScriptedUpstream upstream = new ScriptedUpstream().on(UpstreamCall.TagListPage.class, c -> page(0, 500));
        // 500 tags weigh more than 10 KB: such a list is not kept, however few lists there are.
        TagLists lists = new TagLists(upstream, 10_000);
        lists.tags(project, NAME).tags().get(10, TimeUnit.SECONDS);
        long deadline = System.nanoTime() + TimeUnit.SECONDS.toNanos(5);
        while (upstream.count(UpstreamCall.TagListPage.class) < 2 && System.nanoTime() < deadline) {
            Thread.sleep(20); // eviction runs on Caffeine's executor: ask again until the list is gone
            lists.tags(project, NAME).tags().get(10, TimeUnit.SECONDS);
        }
        assertTrue(upstream.count(UpstreamCall.TagListPage.class) >= 2, "a list over the byte bound stayed cached");
        assertTrue(TagLists.weight("p/x", List.of("a", "bb")) > TagLists.weight("p/x", List.of("a")));
    }
}

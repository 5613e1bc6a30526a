package dev.wharf.server.pullthrough;

import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.ObjectMapper;
import com.github.benmanes.caffeine.cache.AsyncCache;
import com.github.benmanes.caffeine.cache.Caffeine;
import dev.wharf.server.api.ErrorCode;
import dev.wharf.server.api.RepositoryName;
import dev.wharf.server.upstream.Project;
import dev.wharf.server.upstream.UpstreamCall;
import dev.wharf.server.upstream.UpstreamException;
import dev.wharf.server.upstream.UpstreamRegistry;
import dev.wharf.server.upstream.Upstreams;
import java.io.IOException;
import java.net.URI;
import java.time.Duration;
import java.util.ArrayList;
import java.util.List;
import java.util.TreeSet;
import java.util.concurrent.CompletableFuture;
import java.util.regex.Matcher;
import java.util.regex.Pattern;

/**
 * A repository's whole upstream tag list, sorted lexically: the upstream's pages are followed through their
 * {@code Link} headers to the end, because some upstreams (distribution 2.8) ignore {@code n} and {@code last}, so
 * wharf pages itself. Full lists are cached for a short while, and concurrent requests for one list share one
 * upstream walk (Caffeine's AsyncCache runs one loader per key), so {@code ?n=1} from many clients costs one walk.
 * A walk stops at {@code limits.tags} tags or {@link #MAX_PAGES} pages with a 502 naming the limit. The cache is
 * bounded by the bytes of the tags it holds ({@link #MAX_CACHED_BYTES}), not by its number of lists.
 */
public final class TagLists {
    private static final ObjectMapper JSON = new ObjectMapper();
    static final int MAX_PAGES = 1000;
    /** The tag-list cache holds lists of at most this many bytes of tag names in all (Caffeine's weigher). */
    static final long MAX_CACHED_BYTES = 64L << 20;
    private static final Pattern LINK = Pattern.compile("<([^>]+)>\\s*;\\s*rel=\"?next\"?");

    /** A tag list and whether this request had to wait for the upstream (a miss) or found it cached (a hit). */
    public record Listing(CompletableFuture<List<String>> tags, boolean fetched) {
    }

    private final UpstreamRegistry upstreams;
    private final int maxTags;
    private final AsyncCache<String, List<String>> lists;

    public TagLists(UpstreamRegistry upstreams) {
        this(upstreams, MAX_CACHED_BYTES);
    }

    TagLists(UpstreamRegistry upstreams, long maxCachedBytes) {
        this.upstreams = upstreams;
        this.maxTags = upstreams.limits().tags();
        this.lists = Caffeine.newBuilder()
                .expireAfterWrite(Duration.ofSeconds(30))
                .maximumWeight(maxCachedBytes)
                .<String, List<String>>weigher((key, tags) -> weight(key, tags))
                .buildAsync();
    }

    /** About the bytes a cached list holds: its key, and each tag's characters with a list slot's overhead. */
    static int weight(String key, List<String> tags) {
        long w = key.length() + 64L;
        for (String t : tags) {
            w += t.length() + 48L;
        }
        return (int) Math.min(Integer.MAX_VALUE, w);
    }

    /** The whole list of {@code name} in {@code project}: cached, being fetched for another request, or fetched now. */
    public Listing tags(Project project, RepositoryName name) {
        boolean[] fetched = {false};
        CompletableFuture<List<String>> list = lists.get(project.name() + "/" + name, (k, executor) -> {
            fetched[0] = true;
            return fetchAll(project, name);
        });
        return new Listing(list, fetched[0] || !list.isDone());
    }

    private CompletableFuture<List<String>> fetchAll(Project project, RepositoryName name) {
        CompletableFuture<List<String>> done = new CompletableFuture<>();
        fetchPage(project, UpstreamCall.TagListPage.first(name), new TreeSet<>(), 0, done);
        return done;
    }

    private void fetchPage(Project project, UpstreamCall.TagListPage call, TreeSet<String> acc, int page,
                           CompletableFuture<List<String>> done) {
        if (page >= MAX_PAGES) {
            done.completeExceptionally(Upstreams.unreachable(project, new UpstreamException(
                    "upstream tag list of " + call.name() + " has more than " + MAX_PAGES + " pages")));
            return;
        }
        upstreams.fetch(project, call).whenComplete((resp, err) -> {
            if (err != null) {
                done.completeExceptionally(err);
                return;
            }
            if (resp.status() != 200) {
                done.completeExceptionally(Upstreams.error(project, resp, ErrorCode.NAME_UNKNOWN,
                        "repository " + call.name()));
                return;
            }
            try {
                Page parsed = page(resp.body(), resp.header("Link"));
                int before = acc.size();
                acc.addAll(parsed.tags());
                if (acc.size() > maxTags) {
                    done.completeExceptionally(Upstreams.unreachable(project, new UpstreamException(
                            "upstream tag list of " + call.name() + " has more than " + maxTags
                                    + " tags (limits.tags)")));
                    return;
                }
                if (parsed.next() != null && acc.size() > before) {
                    String target = parsed.next();
                    int qm = target.indexOf('?');
                    String nextPath = unprefix(project, qm >= 0 ? target.substring(0, qm) : target);
                    String nextQuery = qm >= 0 ? target.substring(qm + 1) : null;
                    fetchPage(project, new UpstreamCall.TagListPage(call.name(), nextPath, nextQuery), acc, page + 1,
                            done);
                } else {
                    done.complete(List.copyOf(new ArrayList<>(acc)));
                }
            } catch (IOException | RuntimeException e) {
                done.completeExceptionally(Upstreams.unreachable(project,
                        new UpstreamException("upstream sent a malformed tag list: " + e.getMessage())));
            }
        });
    }

    /** One page of an upstream's tag list: its tags, and the target of its {@code rel="next"} Link, or null. */
    record Page(List<String> tags, String next) {
    }

    /**
     * Parses one page: the {@code tags} array of the JSON body (absent or not an array: no tags) and the next-page
     * target from the {@code Link} header (null if none).
     *
     * @throws IOException if the body is not JSON
     */
    static Page page(byte[] body, String link) throws IOException {
        JsonNode tags = JSON.readTree(body).get("tags");
        List<String> found = new ArrayList<>();
        if (tags != null && tags.isArray()) {
            tags.forEach(t -> found.add(t.asText()));
        }
        Matcher m = link == null ? null : LINK.matcher(link);
        return new Page(found, m != null && m.find() ? m.group(1) : null);
    }

    /**
     * A Link from an upstream that sits under a path (a Harbor project) carries that path; the upstream client adds
     * it again, so take it off here.
     */
    private static String unprefix(Project project, String path) {
        if (path.startsWith("http://") || path.startsWith("https://")) {
            path = URI.create(path).getRawPath();
        }
        // With failover upstreams the page may come from any of them, each under its own path.
        for (URI upstream : project.config().upstreams()) {
            String base = upstream.getRawPath();
            if (base == null || base.isEmpty() || base.equals("/")) {
                continue;
            }
            base = base.endsWith("/") ? base.substring(0, base.length() - 1) : base;
            if (base.startsWith("/v2") && path.startsWith(base + "/")) {
                return "/v2" + path.substring(base.length());
            }
            if (path.startsWith(base + "/")) {
                return path.substring(base.length());
            }
        }
        return path;
    }
}

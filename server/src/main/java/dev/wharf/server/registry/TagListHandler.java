package dev.wharf.server.registry;

import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.ObjectMapper;
import com.fasterxml.jackson.databind.node.ObjectNode;
import com.github.benmanes.caffeine.cache.AsyncCache;
import com.github.benmanes.caffeine.cache.Caffeine;
import dev.wharf.server.api.CacheResult;
import dev.wharf.server.http.Exchange;
import dev.wharf.server.http.Route;
import dev.wharf.server.upstream.Project;
import dev.wharf.server.upstream.Upstreams;
import dev.wharf.server.upstream.UpstreamException;
import io.netty.handler.codec.http.DefaultHttpHeaders;
import io.netty.handler.codec.http.HttpHeaderNames;
import io.netty.handler.codec.http.HttpHeaders;
import io.netty.handler.codec.http.HttpMethod;
import io.netty.handler.codec.http.HttpResponseStatus;
import io.netty.handler.codec.http.QueryStringDecoder;
import io.netty.handler.codec.http.QueryStringEncoder;
import java.io.IOException;
import java.time.Duration;
import java.util.ArrayList;
import java.util.List;
import java.util.TreeSet;
import java.util.concurrent.CompletableFuture;
import java.util.regex.Matcher;
import java.util.regex.Pattern;
import dev.wharf.server.api.ErrorCode;
import dev.wharf.server.api.RegistryException;

/**
 * {@code GET /v2/<name>/tags/list}: the upstream's whole list (following its {@code Link} pages to the end), sorted
 * lexically, then paged here with {@code n} and {@code last} and a {@code Link} to wharf's own path. Paging is done
 * locally because some upstreams (distribution 2.8) ignore {@code n} and {@code last}. Full lists are cached for a
 * short while, and concurrent requests for one list share one upstream walk (Caffeine's AsyncCache).
 */
public final class TagListHandler {
    private static final ObjectMapper JSON = new ObjectMapper();
    private static final int MAX_PAGES = 1000;
    private static final Pattern LINK = Pattern.compile("<([^>]+)>\\s*;\\s*rel=\"?next\"?");

    private final Upstreams upstreams;
    private final AsyncCache<String, List<String>> lists = Caffeine.newBuilder()
            .expireAfterWrite(Duration.ofSeconds(30)).maximumSize(10_000).buildAsync();

    public TagListHandler(Upstreams upstreams) {
        this.upstreams = upstreams;
    }

    public void handle(Exchange ex, Route route) {
        QueryStringDecoder q = new QueryStringDecoder(ex.request().uri());
        Integer n = null;
        String nText = first(q, "n");
        if (nText != null) {
            try {
                n = Integer.parseInt(nText);
                if (n < 0) {
                    throw new NumberFormatException();
                }
            } catch (NumberFormatException e) {
                throw RegistryException.badRequest(ErrorCode.PAGINATION_NUMBER_INVALID,
                        "n must be a non-negative integer, got '" + abbreviate(nText) + "'");
            }
        }
        String last = first(q, "last");
        Integer limit = n;
        Project project = route.project();
        // A list this request fetched, or one still being fetched for another request, is a miss; a cached one a hit.
        boolean[] fetched = {false};
        CompletableFuture<List<String>> list = lists.get(project.name() + "/" + route.name(), (k, executor) -> {
            fetched[0] = true;
            return fetchAll(project, route);
        });
        CacheResult result = fetched[0] || !list.isDone() ? CacheResult.MISS : CacheResult.HIT;
        list.whenComplete((all, err) -> {
            if (err != null) {
                ex.fail(err);
                return;
            }
            ex.cacheResult(result);
            page(ex, route, all, limit, last);
        });
    }

    private void page(Exchange ex, Route route, List<String> all, Integer n, String last) {
        int from = 0;
        if (last != null) {
            // First tag strictly after `last` in lexical order.
            int lo = 0;
            int hi = all.size();
            while (lo < hi) {
                int mid = (lo + hi) >>> 1;
                if (all.get(mid).compareTo(last) <= 0) {
                    lo = mid + 1;
                } else {
                    hi = mid;
                }
            }
            from = lo;
        }
        int to = n == null ? all.size() : (int) Math.min(all.size(), (long) from + n);
        List<String> page = all.subList(from, to);
        ObjectNode body = JSON.createObjectNode();
        body.put("name", route.clientName());
        var arr = body.putArray("tags");
        page.forEach(arr::add);
        HttpHeaders h = new DefaultHttpHeaders().set(HttpHeaderNames.CONTENT_TYPE, "application/json");
        if (n != null && to < all.size() && !page.isEmpty()) {
            QueryStringEncoder next = new QueryStringEncoder("/v2/" + route.clientName() + "/tags/list");
            next.addParam("n", Integer.toString(n));
            next.addParam("last", page.get(page.size() - 1));
            if (route.ns() != null) {
                next.addParam("ns", route.ns());
            }
            h.set("Link", "<" + next + ">; rel=\"next\"");
        }
        try {
            ex.bytes(HttpResponseStatus.OK, h, JSON.writeValueAsBytes(body));
        } catch (IOException e) {
            ex.fail(e);
        }
    }

    private CompletableFuture<List<String>> fetchAll(Project project, Route route) {
        CompletableFuture<List<String>> done = new CompletableFuture<>();
        fetchPage(project, route, "/v2/" + route.name() + "/tags/list", null, new TreeSet<>(), 0, done);
        return done;
    }

    private void fetchPage(Project project, Route route, String path, String query, TreeSet<String> acc, int page,
                           CompletableFuture<List<String>> done) {
        if (page >= MAX_PAGES) {
            done.completeExceptionally(Upstreams.unreachable(project, new UpstreamException(
                    "upstream tag list of " + route.name() + " has more than " + MAX_PAGES + " pages")));
            return;
        }
        upstreams.fetch(project, HttpMethod.GET, path, query, "application/json", route.name().value(), 64 << 20)
                .whenComplete((resp, err) -> {
                    if (err != null) {
                        done.completeExceptionally(err);
                        return;
                    }
                    if (resp.status() != 200) {
                        done.completeExceptionally(Upstreams.error(project, resp.status(), resp.headers(),
                                ErrorCode.NAME_UNKNOWN, "repository " + route.name()));
                        return;
                    }
                    try {
                        JsonNode tags = JSON.readTree(resp.body()).get("tags");
                        int before = acc.size();
                        if (tags != null && tags.isArray()) {
                            tags.forEach(t -> acc.add(t.asText()));
                        }
                        String link = resp.headers().get("Link");
                        Matcher m = link == null ? null : LINK.matcher(link);
                        if (m != null && m.find() && acc.size() > before) {
                            String target = m.group(1);
                            int qm = target.indexOf('?');
                            String nextPath = qm >= 0 ? target.substring(0, qm) : target;
                            String nextQuery = qm >= 0 ? target.substring(qm + 1) : null;
                            nextPath = unprefix(project, nextPath);
                            fetchPage(project, route, nextPath, nextQuery, acc, page + 1, done);
                        } else {
                            done.complete(List.copyOf(new ArrayList<>(acc)));
                        }
                    } catch (IOException | RuntimeException e) {
                        done.completeExceptionally(Upstreams.unreachable(project,
                                new UpstreamException("upstream sent a malformed tag list: " + e.getMessage())));
                    }
                });
    }

    /**
     * A Link from an upstream that sits under a path (a Harbor project) carries that path; the upstream client adds
     * it again, so take it off here.
     */
    private static String unprefix(Project project, String path) {
        if (path.startsWith("http://") || path.startsWith("https://")) {
            path = java.net.URI.create(path).getRawPath();
        }
        // With failover upstreams the page may come from any of them, each under its own path.
        for (java.net.URI upstream : project.config().upstreams()) {
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

    private static String first(QueryStringDecoder q, String key) {
        List<String> v = q.parameters().get(key);
        return v == null || v.isEmpty() ? null : v.get(0);
    }

    private static String abbreviate(String s) {
        return s.length() > 40 ? s.substring(0, 40) + "..." : s;
    }
}

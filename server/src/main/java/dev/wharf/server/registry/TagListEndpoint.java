package dev.wharf.server.registry;

import dev.wharf.server.api.Excerpt;
import com.fasterxml.jackson.databind.ObjectMapper;
import com.fasterxml.jackson.databind.node.ObjectNode;
import dev.wharf.server.api.CacheResult;
import dev.wharf.server.api.ErrorCode;
import dev.wharf.server.api.RegistryException;
import dev.wharf.server.http.Exchange;
import dev.wharf.server.http.Route;
import dev.wharf.server.pullthrough.TagLists;
import io.netty.handler.codec.http.DefaultHttpHeaders;
import io.netty.handler.codec.http.HttpHeaderNames;
import io.netty.handler.codec.http.HttpHeaders;
import io.netty.handler.codec.http.HttpResponseStatus;
import java.io.IOException;
import io.netty.handler.codec.http.QueryStringDecoder;
import io.netty.handler.codec.http.QueryStringEncoder;
import java.util.List;

/**
 * {@code GET /v2/<name>/tags/list}: the whole upstream list from {@link TagLists}, paged here with {@code n} and
 * {@code last} and a {@code Link} to wharf's own path (some upstreams ignore {@code n} and {@code last}).
 */
public final class TagListEndpoint {
    private static final ObjectMapper JSON = new ObjectMapper();

    private final TagLists lists;

    public TagListEndpoint(TagLists lists) {
        this.lists = lists;
    }

    public void handle(Exchange ex, Route.Tags route) {
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
                        "n must be a non-negative integer, got '" + Excerpt.of(nText, 40) + "'");
            }
        }
        String last = first(q, "last");
        Integer limit = n;
        // A list this request fetched, or one still being fetched for another request, is a miss; a cached one a hit.
        TagLists.Listing listing = lists.tags(route.project(), route.name());
        CacheResult result = listing.fetched() ? CacheResult.MISS : CacheResult.HIT;
        ex.answer(listing.tags(), all -> {
            ex.cacheResult(result);
            page(ex, route, all, limit, last);
        });
    }

    private void page(Exchange ex, Route.Tags route, List<String> all, Integer n, String last) {
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

    private static String first(QueryStringDecoder q, String key) {
        List<String> v = q.parameters().get(key);
        return v == null || v.isEmpty() ? null : v.get(0);
    }

}

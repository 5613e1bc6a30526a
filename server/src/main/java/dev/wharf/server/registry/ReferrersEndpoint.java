package dev.wharf.server.registry;

import dev.wharf.server.http.Exchange;
import dev.wharf.server.http.Route;
import dev.wharf.server.pullthrough.ReferrerSource;
import dev.wharf.server.upstream.UpstreamCall;
import io.netty.handler.codec.http.DefaultHttpHeaders;
import io.netty.handler.codec.http.HttpHeaderNames;
import io.netty.handler.codec.http.HttpHeaders;
import io.netty.handler.codec.http.HttpResponseStatus;
import io.netty.handler.codec.http.QueryStringDecoder;
import io.netty.handler.codec.http.QueryStringEncoder;
import java.util.List;

/** {@code GET /v2/<name>/referrers/<digest>[?artifactType=…]}: the referrers index from {@link ReferrerSource}. */
public final class ReferrersEndpoint {
    private final ReferrerSource referrers;

    public ReferrersEndpoint(ReferrerSource referrers) {
        this.referrers = referrers;
    }

    public void handle(Exchange ex, Route.Referrers route) {
        QueryStringDecoder q = new QueryStringDecoder(ex.request().uri());
        List<String> types = q.parameters().get("artifactType");
        String query = null;
        if (types != null && !types.isEmpty()) {
            QueryStringEncoder enc = new QueryStringEncoder("");
            types.forEach(t -> enc.addParam("artifactType", t));
            query = enc.toString().substring(1);
        }
        ex.answer(referrers.referrers(route.project(), route.name(), route.digest(), query), found -> {
            HttpHeaders h = new DefaultHttpHeaders().set(HttpHeaderNames.CONTENT_TYPE, UpstreamCall.IMAGE_INDEX);
            if (found.filtersApplied() != null) {
                h.set("OCI-Filters-Applied", found.filtersApplied());
            }
            ex.bytes(HttpResponseStatus.OK, h, found.index());
        });
    }
}

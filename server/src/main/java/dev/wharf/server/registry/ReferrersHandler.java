package dev.wharf.server.registry;

import dev.wharf.server.http.Exchange;
import dev.wharf.server.http.Route;
import dev.wharf.server.upstream.Project;
import dev.wharf.server.upstream.Upstreams;
import io.netty.handler.codec.http.DefaultHttpHeaders;
import io.netty.handler.codec.http.HttpHeaderNames;
import io.netty.handler.codec.http.HttpHeaders;
import io.netty.handler.codec.http.HttpMethod;
import io.netty.handler.codec.http.HttpResponseStatus;
import io.netty.handler.codec.http.QueryStringDecoder;
import io.netty.handler.codec.http.QueryStringEncoder;
import java.nio.charset.StandardCharsets;
import java.util.List;
import dev.wharf.server.api.ErrorCode;

/**
 * {@code GET /v2/<name>/referrers/<digest>}: passed through to the upstream. An upstream without the referrers
 * API (404) gets the answer the spec asks of a registry that has no referrers: an empty image index.
 */
public final class ReferrersHandler {
    private static final String INDEX = "application/vnd.oci.image.index.v1+json";
    private static final byte[] EMPTY = ("{\"schemaVersion\":2,\"mediaType\":\"" + INDEX + "\",\"manifests\":[]}")
            .getBytes(StandardCharsets.UTF_8);

    private final Upstreams upstreams;

    public ReferrersHandler(Upstreams upstreams) {
        this.upstreams = upstreams;
    }

    public void handle(Exchange ex, Route route) {
        Project project = route.project();
        QueryStringDecoder q = new QueryStringDecoder(ex.request().uri());
        List<String> types = q.parameters().get("artifactType");
        String query = null;
        if (types != null && !types.isEmpty()) {
            QueryStringEncoder enc = new QueryStringEncoder("");
            types.forEach(t -> enc.addParam("artifactType", t));
            query = enc.toString().substring(1);
        }
        String path = "/v2/" + route.name() + "/referrers/" + route.digest();
        upstreams.fetch(project, HttpMethod.GET, path, query, INDEX, route.name().value(), Upstreams.MAX_MANIFEST)
                .whenComplete((resp, err) -> {
                    if (err != null) {
                        ex.fail(err);
                        return;
                    }
                    HttpHeaders h = new DefaultHttpHeaders().set(HttpHeaderNames.CONTENT_TYPE, INDEX);
                    if (resp.status() == 404) {
                        ex.bytes(HttpResponseStatus.OK, h, EMPTY);
                        return;
                    }
                    if (resp.status() != 200) {
                        ex.error(Upstreams.error(project, resp.status(), resp.headers(), ErrorCode.MANIFEST_UNKNOWN,
                                "referrers of " + route.digest()));
                        return;
                    }
                    String filters = resp.headers().get("OCI-Filters-Applied");
                    if (filters != null) {
                        h.set("OCI-Filters-Applied", filters);
                    }
                    ex.bytes(HttpResponseStatus.OK, h, resp.body());
                });
    }
}

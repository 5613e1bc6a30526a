package dev.wharf.server.upstream;

import dev.wharf.auth.upstream.Credentials;
import io.netty.buffer.Unpooled;
import io.netty.handler.codec.http.DefaultFullHttpRequest;
import io.netty.handler.codec.http.FullHttpRequest;
import io.netty.handler.codec.http.HttpHeaderNames;
import io.netty.handler.codec.http.HttpHeaders;
import io.netty.handler.codec.http.HttpMethod;
import io.netty.handler.codec.http.HttpVersion;
import java.net.URI;
import java.nio.charset.StandardCharsets;
import java.util.Base64;
import java.util.Locale;
import java.util.Set;

/**
 * Builds the HTTP/1.1 request of one attempt. What goes out is decided here and only here: the headers of
 * {@link UpstreamRequest#headers()} minus credentials and framing, then Host, User-Agent and an Authorization this
 * client made itself. A client's own credentials are never forwarded. No Accept-Encoding: bodies must arrive
 * byte-exact, since blobs are verified against their digest.
 */
final class RequestBuilder {
    static final String USER_AGENT = "wharf/0.1";

    /** Request headers never taken from {@link UpstreamRequest#headers()}: credentials, framing, our own. */
    private static final Set<String> NOT_FORWARDED = Set.of("authorization", "proxy-authorization", "cookie",
            "accept-encoding", "host", "user-agent", "connection", "keep-alive", "proxy-connection", "te", "trailer",
            "transfer-encoding", "upgrade", "content-length", "expect");

    private RequestBuilder() {
    }

    /** The request for {@code uri}; {@code authorization} is the Authorization header value, or null. */
    static FullHttpRequest build(URI uri, UpstreamRequest request, String authorization) {
        String target = uri.getRawPath() == null || uri.getRawPath().isEmpty() ? "/" : uri.getRawPath();
        if (uri.getRawQuery() != null) {
            target += "?" + uri.getRawQuery();
        }
        FullHttpRequest req = new DefaultFullHttpRequest(HttpVersion.HTTP_1_1, request.method(), target,
                Unpooled.EMPTY_BUFFER);
        HttpHeaders h = req.headers();
        if (request.headers() != null) {
            request.headers().forEach(e -> {
                if (!NOT_FORWARDED.contains(e.getKey().toLowerCase(Locale.ROOT))) {
                    h.add(e.getKey(), e.getValue());
                }
            });
        }
        int port = uri.getPort();
        boolean defaultPort = port == -1 || port == ("https".equalsIgnoreCase(uri.getScheme()) ? 443 : 80);
        h.set(HttpHeaderNames.HOST, defaultPort ? uri.getHost() : uri.getHost() + ":" + port);
        h.set(HttpHeaderNames.USER_AGENT, USER_AGENT);
        if (authorization != null) {
            h.set(HttpHeaderNames.AUTHORIZATION, authorization);
        }
        return req;
    }

    /** The Authorization value for Basic with {@code c}; a missing user name or password is sent empty. */
    static String basic(Credentials c) {
        String user = c.username() == null ? "" : c.username();
        String pass = c.password() == null ? "" : c.password();
        return "Basic " + Base64.getEncoder().encodeToString((user + ":" + pass).getBytes(StandardCharsets.UTF_8));
    }

    static boolean isHead(UpstreamRequest request) {
        return HttpMethod.HEAD.equals(request.method());
    }
}

package dev.wharf.server.upstream;

import java.net.URI;
import java.util.List;
import java.util.Locale;

/**
 * The URL arithmetic of an exchange: the first URL (endpoint path joined with the request path), where a redirect
 * leads, origins (to decide whether credentials may follow), the redacted form for messages and logs, and the
 * repository named in a {@code /v2/} path. Pure functions, no state. Messages and logs only ever show a URL
 * through {@link #redact}: signed redirect URLs carry keys in their query.
 */
final class UpstreamUrls {
    private UpstreamUrls() {
    }

    /** The first URL of an exchange: the endpoint's origin, its path joined with the request path, the query. */
    static URI firstUri(UpstreamEndpoint endpoint, UpstreamRequest request) {
        URI base = endpoint.base();
        if (base == null || base.getScheme() == null || base.getHost() == null) {
            throw new IllegalArgumentException(UpstreamFailures.noSchemeOrHost(base));
        }
        String scheme = base.getScheme().toLowerCase(Locale.ROOT);
        if (!scheme.equals("http") && !scheme.equals("https")) {
            throw new IllegalArgumentException(UpstreamFailures.notHttpScheme(base));
        }
        StringBuilder s = new StringBuilder(scheme).append("://").append(base.getHost());
        if (base.getPort() != -1) {
            s.append(':').append(base.getPort());
        }
        s.append(upstreamPath(base.getRawPath(), request.path()));
        if (request.query() != null && !request.query().isEmpty()) {
            s.append('?').append(request.query());
        }
        return URI.create(s.toString());
    }

    /**
     * Joins an endpoint path and a request path: {@code /v2/dockerhub} + {@code /v2/library/nginx/manifests/x} is
     * {@code /v2/dockerhub/library/nginx/manifests/x}; a base not starting with {@code /v2} is a plain prefix; an
     * empty or {@code /} base changes nothing.
     */
    static String upstreamPath(String basePath, String requestPath) {
        String path = requestPath == null || requestPath.isEmpty() ? "/v2/" : requestPath;
        if (basePath == null) {
            return path;
        }
        String b = basePath;
        while (b.endsWith("/")) {
            b = b.substring(0, b.length() - 1);
        }
        if (b.isEmpty()) {
            return path;
        }
        boolean baseIsV2 = b.equals("/v2") || b.startsWith("/v2/");
        if (baseIsV2 && (path.equals("/v2") || path.startsWith("/v2/"))) {
            return b + path.substring(3);
        }
        return b + (path.startsWith("/") ? path : "/" + path);
    }

    /**
     * Where a redirect's {@code Location} leads from {@code uri}: relative or absolute, http(s) only.
     *
     * @throws IllegalArgumentException when it is not a usable http(s) URL
     */
    static URI redirectTarget(URI uri, String location) {
        URI next = uri.resolve(location.trim());
        String scheme = next.getScheme() == null ? "" : next.getScheme().toLowerCase(Locale.ROOT);
        if (!scheme.equals("http") && !scheme.equals("https") || next.getHost() == null) {
            throw new IllegalArgumentException(UpstreamFailures.NOT_HTTP_URL);
        }
        return next;
    }

    /** {@code scheme://host:port}, lower-case, with the default port made explicit. */
    static String origin(URI uri) {
        return uri.getScheme().toLowerCase(Locale.ROOT) + "://" + hostOf(uri) + ":" + portOf(uri);
    }

    /** Whether {@code uri} is on the endpoint's own origin, the only one its credentials ever go to. */
    static boolean isEndpointOrigin(URI uri, UpstreamEndpoint endpoint) {
        return origin(uri).equals(origin(endpoint.base()));
    }

    static String hostOf(URI uri) {
        String h = uri.getHost().toLowerCase(Locale.ROOT);
        if (h.startsWith("[") && h.endsWith("]")) {
            h = h.substring(1, h.length() - 1);
        }
        return h;
    }

    static int portOf(URI uri) {
        if (uri.getPort() != -1) {
            return uri.getPort();
        }
        return "https".equalsIgnoreCase(uri.getScheme()) ? 443 : 80;
    }

    /** The URL as it may appear in messages and logs: no user info, no query (signed redirect URLs carry keys). */
    static String redact(URI uri) {
        StringBuilder s = new StringBuilder(uri.getScheme()).append("://").append(uri.getHost());
        if (uri.getPort() != -1) {
            s.append(':').append(uri.getPort());
        }
        if (uri.getRawPath() != null) {
            s.append(uri.getRawPath());
        }
        return s.toString();
    }

    /**
     * The repository of a {@code /v2/<name>/(manifests|blobs|tags|referrers)/...} path (a redirect target may keep
     * the image under another name, {@code /v2/k8s-artifacts-prod/images/pause/...}), or null.
     */
    static String repositoryInPath(String path) {
        if (path == null || !path.startsWith("/v2/")) {
            return null;
        }
        String rest = path.substring(4);
        int best = -1;
        for (String kind : List.of("/manifests/", "/blobs/", "/tags/", "/referrers/")) {
            best = Math.max(best, rest.lastIndexOf(kind));
        }
        return best > 0 ? rest.substring(0, best) : null;
    }
}

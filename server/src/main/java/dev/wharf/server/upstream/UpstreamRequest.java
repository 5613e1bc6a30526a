package dev.wharf.server.upstream;

import io.netty.handler.codec.http.HttpHeaders;
import io.netty.handler.codec.http.HttpMethod;

/**
 * A read request to an upstream registry.
 *
 * @param method     GET or HEAD
 * @param path       the registry path as wharf would send it to a bare registry, always starting {@code /v2/}
 *                   (e.g. {@code /v2/library/nginx/manifests/latest}); the endpoint's own path is added by the client
 * @param query      raw query string without '?', or null
 * @param headers    extra request headers (Accept); never the client's Authorization
 * @param repository the repository name, for the token scope {@code repository:<name>:pull} when the challenge
 *                   does not give one; null for requests outside a repository ({@code /v2/})
 */
public record UpstreamRequest(HttpMethod method, String path, String query, HttpHeaders headers, String repository) {
}

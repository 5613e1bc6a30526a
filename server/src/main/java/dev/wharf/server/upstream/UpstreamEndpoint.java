package dev.wharf.server.upstream;

import dev.wharf.auth.upstream.CredentialSource;
import io.netty.handler.ssl.SslContext;
import java.net.URI;

/**
 * One upstream registry endpoint: {@code scheme://host[:port][/path]}. A path (e.g. {@code /v2/dockerhub} for a
 * Harbor proxy project) is inserted after {@code /v2}: request {@code /v2/<name>/...} goes to
 * {@code <path>/<name>/...}; a path not starting with {@code /v2} is simply prefixed.
 *
 * @param base        the configured URL
 * @param sslContext  client TLS context (JDK trust store plus the project's CA file); null for http
 * @param credentials where the upstream credentials come from: fixed ones ({@code Credentials}), ECR tokens, or
 *                    null for anonymous; asked on every exchange that needs them
 * @param project     the wharf project name, used in error messages and logs only
 * @param allowPrivateRedirects redirects may lead to loopback and private addresses whatever this endpoint's own
 *                    range ({@link RedirectGuard})
 */
public record UpstreamEndpoint(URI base, SslContext sslContext, CredentialSource credentials, String project,
                               boolean allowPrivateRedirects) {
    /** An endpoint whose redirects stay out of private ranges unless it is in one itself. */
    public UpstreamEndpoint(URI base, SslContext sslContext, CredentialSource credentials, String project) {
        this(base, sslContext, credentials, project, false);
    }
}

package dev.wharf.server;

import dev.wharf.server.config.ProjectConfig;
import io.netty.handler.ssl.SslContext;

/** Builds a project's upstream TLS context: the JDK trust store plus the project's CA file. */
final class UpstreamSsl {
    private UpstreamSsl() {
    }

    static SslContext forProject(ProjectConfig pc) {
        if (!"https".equalsIgnoreCase(pc.upstream().getScheme())) {
            return null;
        }
        // TODO(lead): the upstream client builds the default context when this is null; the CA file goes here.
        return null;
    }
}

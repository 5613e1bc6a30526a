package dev.wharf.server;

import dev.wharf.server.config.ConfigException;
import dev.wharf.server.config.ProjectConfig;
import dev.wharf.server.upstream.UpstreamClient;
import io.netty.handler.ssl.SslContext;
import java.io.IOException;

/** Builds a project's upstream TLS context: the JDK trust store plus the project's CA file. */
final class UpstreamSsl {
    private UpstreamSsl() {
    }

    /** Null when the project needs nothing beyond the JDK trust store, so such projects share one pool. */
    static SslContext forProject(ProjectConfig pc) {
        if (!"https".equalsIgnoreCase(pc.upstream().getScheme()) || pc.caFile() == null) {
            return null;
        }
        try {
            return UpstreamClient.clientSslContext(pc.caFile());
        } catch (IOException e) {
            throw new ConfigException("project " + pc.name() + ": caFile " + pc.caFile() + ": " + e.getMessage());
        }
    }
}

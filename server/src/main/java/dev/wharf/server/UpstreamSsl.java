package dev.wharf.server;

import dev.wharf.server.config.ConfigException;
import dev.wharf.server.config.ProjectConfig;
import dev.wharf.server.upstream.UpstreamClient;
import io.netty.handler.ssl.SslContext;
import io.netty.handler.ssl.SslContextBuilder;
import io.netty.handler.ssl.util.InsecureTrustManagerFactory;
import java.io.IOException;
import javax.net.ssl.SSLException;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

/** Builds a project's upstream TLS context: the JDK trust store plus the project's CA file, or no checks at all. */
public final class UpstreamSsl {
    private static final Logger LOG = LoggerFactory.getLogger(UpstreamSsl.class);

    private UpstreamSsl() {
    }

    /**
     * Null when the project needs nothing beyond the JDK trust store, so such projects share one pool. The context
     * also serves the project's token server (see {@code UpstreamExchange}), which usually has the same certificate.
     */
    public static SslContext forProject(ProjectConfig pc) {
        if (pc.insecureSkipVerify()) {
            // Said at start-up, every start, at WARN: this must never go unnoticed in a log review.
            LOG.warn("INSECURE: project {} has insecureSkipVerify: true. wharf does NOT verify the TLS certificate "
                    + "of {} (nor of its token server or redirect targets): anyone on the network path can "
                    + "impersonate it and serve any content under its tags. Use caFile for a private CA instead.",
                    pc.name(), pc.upstreams().size() == 1 ? pc.upstream() : pc.upstreams());
            if (pc.caFile() != null) {
                LOG.warn("project {}: caFile {} is ignored because insecureSkipVerify is true", pc.name(), pc.caFile());
            }
            try {
                return SslContextBuilder.forClient().trustManager(InsecureTrustManagerFactory.INSTANCE).build();
            } catch (SSLException e) {
                throw new ConfigException("project " + pc.name() + ": cannot set up TLS: " + e.getMessage());
            }
        }
        if (pc.upstreams().stream().noneMatch(u -> "https".equalsIgnoreCase(u.getScheme())) || pc.caFile() == null) {
            return null;
        }
        try {
            return UpstreamClient.clientSslContext(pc.caFile());
        } catch (IOException e) {
            throw new ConfigException("project " + pc.name() + ": caFile " + pc.caFile() + ": " + e.getMessage());
        }
    }
}

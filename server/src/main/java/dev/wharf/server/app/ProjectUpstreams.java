package dev.wharf.server.app;

import dev.wharf.auth.upstream.CredentialSource;
import dev.wharf.auth.upstream.Credentials;
import dev.wharf.auth.upstream.EcrAccess;
import dev.wharf.auth.upstream.EcrCredentials;
import dev.wharf.auth.upstream.EcrRegistryHost;
import dev.wharf.server.config.ConfigException;
import dev.wharf.server.config.EcrConfig;
import dev.wharf.server.config.ProjectConfig;
import dev.wharf.server.upstream.Project;
import dev.wharf.server.upstream.UpstreamEndpoint;
import dev.wharf.server.upstream.UpstreamTls;
import io.netty.handler.ssl.SslContext;
import java.net.ProxySelector;
import java.net.URI;
import java.util.ArrayList;
import java.util.List;
import java.util.Optional;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

/**
 * Builds a project's upstream endpoints, one per URL of {@code upstreams:} in failover order, each with its TLS
 * context and its {@link CredentialSource}:
 * <ul>
 *   <li>an {@code ecr:} block makes every upstream of the project an ECR registry: tokens from GetAuthorizationToken
 *       (ecr-public for {@code public.ecr.aws}), region from the block, else from the host;</li>
 *   <li>without it, a private ECR host ({@code <account>.dkr.ecr.<region>.amazonaws.com}) with no
 *       {@code username} implies ECR with the SDK's default credential chain;</li>
 *   <li>otherwise {@code username}/{@code password} when set (sent to every upstream of the list), else anonymous.
 *       {@code public.ecr.aws} without an {@code ecr:} block is pulled anonymously.</li>
 * </ul>
 * Only the ECR branch touches {@link EcrCredentials#create}, so a config without ECR never loads the AWS SDK.
 */
final class ProjectUpstreams {
    private static final Logger LOG = LoggerFactory.getLogger(ProjectUpstreams.class);

    private ProjectUpstreams() {
    }

    /** The project with all its endpoints; {@code egress} is the outbound proxy for ECR API calls, or null. */
    static Project build(ProjectConfig pc, ProxySelector egress) {
        SslContext ssl = UpstreamTls.forProject(pc);
        List<UpstreamEndpoint> endpoints = new ArrayList<>();
        try {
            for (URI upstream : pc.upstreams()) {
                endpoints.add(new UpstreamEndpoint(upstream, ssl, credentials(pc, upstream, egress), pc.name(),
                        pc.allowPrivateRedirects()));
            }
        } catch (RuntimeException e) {
            closeEndpoints(endpoints);
            throw e;
        }
        return Project.withEndpoints(pc, endpoints);
    }

    /** Stops the background work of the projects' credential sources (ECR token refresh). */
    static void close(List<Project> projects) {
        for (Project p : projects) {
            closeEndpoints(p.endpoints());
        }
    }

    private static void closeEndpoints(List<UpstreamEndpoint> endpoints) {
        for (UpstreamEndpoint e : endpoints) {
            if (e.credentials() != null) {
                try {
                    e.credentials().close();
                } catch (RuntimeException ex) {
                    LOG.warn("closing the credentials of upstream {} of project {} failed: {}", e.base(), e.project(),
                            ex.toString());
                }
            }
        }
    }

    /** Who signs in at {@code upstream}: see the class comment. Null for anonymous. */
    static CredentialSource credentials(ProjectConfig pc, URI upstream, ProxySelector egress) {
        Optional<EcrRegistryHost> host = EcrRegistryHost.parse(upstream.getHost());
        EcrConfig ecr = pc.ecr();
        String description = "upstream " + upstream + " of project " + pc.name();
        if (ecr != null) {
            if (pc.username() != null) {
                throw new ConfigException("project " + pc.name() + ": username/password and ecr cannot be used "
                        + "together (ECR tokens are the credentials)");
            }
            boolean isPublic = host.map(EcrRegistryHost::isPublic).orElse(false);
            String region = ecr.region() != null ? ecr.region() : host.map(EcrRegistryHost::region).orElse(null);
            if (region == null) {
                throw new ConfigException("project " + pc.name() + ": ecr.region is required, because upstream "
                        + upstream.getHost() + " is not an ECR registry host (<account>.dkr.ecr.<region>"
                        + ".amazonaws.com) that names its region");
            }
            return ecr(new EcrAccess(isPublic, region, ecr.endpoint(), ecr.accessKeyId(), ecr.secretAccessKey(),
                    egress), description);
        }
        if (host.isPresent() && !host.get().isPublic() && pc.username() == null) {
            return ecr(new EcrAccess(false, host.get().region(), null, null, null, egress), description);
        }
        if (pc.username() != null) {
            return new Credentials(pc.username(), pc.password());
        }
        return null;
    }

    private static CredentialSource ecr(EcrAccess access, String description) {
        LOG.info("{}: ECR tokens through {}", description, access);
        return EcrCredentials.create(access, description);
    }
}

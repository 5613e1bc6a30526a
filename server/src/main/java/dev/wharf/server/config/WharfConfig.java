package dev.wharf.server.config;

import dev.wharf.storage.s3.S3Settings;
import java.nio.file.Path;
import java.util.List;

/**
 * The whole configuration, immutable after start-up. No code reads the YAML tree after {@link ConfigLoader}.
 *
 * @param listen         the registry listen address
 * @param storagePath    the storage root
 * @param defaultProject project for requests with no project prefix and no {@code ns}, or null
 * @param projects       the projects, in file order
 * @param source         where this config came from (a file path, or "embedded defaults"), for messages
 * @param operations     storage bounds, retention, admin endpoint, access log, egress proxy
 * @param rewrite        the admission webhook's image-rewrite rules ({@code rewrite:})
 * @param limits         timeouts and the connection cap for clients ({@code limits:})
 * @param tls            the certificate and key {@code listen} serves HTTPS with, or null for plain HTTP
 * @param auth           client auth ({@code auth:}), or null when anyone who reaches wharf may pull
 * @param transport      the socket transport ({@code transport:}): {@code auto} (the default: native epoll where it
 *                       loads, else the JDK's NIO), {@code epoll} or {@code nio}
 * @param s3             the bucket behind the local hot tier ({@code storage.s3}), or null
 * @param cluster        the replicas this one shares its fills with ({@code cluster:}), or null: on its own
 */
public record WharfConfig(HostPort listen, Path storagePath, String defaultProject, List<ProjectConfig> projects,
                          String source, OperationsConfig operations, RewriteConfig rewrite, LimitsConfig limits,
                          TlsConfig tls, AuthConfig auth, String transport, S3Settings s3,
                          ClusterConfig cluster) {
    public WharfConfig {
        transport = transport == null ? "auto" : transport;
        projects = List.copyOf(projects);
        operations = operations == null ? OperationsConfig.DEFAULTS : operations;
        rewrite = rewrite == null ? RewriteConfig.NONE : rewrite;
        limits = limits == null ? LimitsConfig.DEFAULTS : limits;
    }

    public WharfConfig(HostPort listen, Path storagePath, String defaultProject, List<ProjectConfig> projects,
                       String source, OperationsConfig operations, RewriteConfig rewrite, LimitsConfig limits,
                       TlsConfig tls, AuthConfig auth) {
        this(listen, storagePath, defaultProject, projects, source, operations, rewrite, limits, tls, auth, null, null, null);
    }

    public WharfConfig(HostPort listen, Path storagePath, String defaultProject, List<ProjectConfig> projects,
                       String source, OperationsConfig operations, RewriteConfig rewrite, LimitsConfig limits,
                       TlsConfig tls) {
        this(listen, storagePath, defaultProject, projects, source, operations, rewrite, limits, tls, null);
    }

    public WharfConfig(HostPort listen, Path storagePath, String defaultProject, List<ProjectConfig> projects,
                       String source, OperationsConfig operations) {
        this(listen, storagePath, defaultProject, projects, source, operations, RewriteConfig.NONE,
                LimitsConfig.DEFAULTS, null);
    }

    public WharfConfig(HostPort listen, Path storagePath, String defaultProject, List<ProjectConfig> projects,
                       String source) {
        this(listen, storagePath, defaultProject, projects, source, OperationsConfig.DEFAULTS);
    }

    /** The same config with {@code cluster:} set to {@code newCluster} (tests). */
    public WharfConfig withCluster(ClusterConfig newCluster) {
        return new WharfConfig(listen, storagePath, defaultProject, projects, source, operations, rewrite, limits, tls,
                auth, transport, s3, newCluster);
    }

    /** What wharf tolerates from upstreams: the upstream half of {@code limits:}. */
    public UpstreamLimits upstreamLimits() {
        return limits.upstream();
    }

    public WharfConfig withListen(HostPort newListen) {
        return new WharfConfig(newListen, storagePath, defaultProject, projects, source, operations, rewrite, limits,
                tls, auth, transport, s3, cluster);
    }

    public WharfConfig withStoragePath(Path newPath) {
        return new WharfConfig(listen, newPath, defaultProject, projects, source, operations, rewrite, limits, tls,
                auth, transport, s3, cluster);
    }

    public WharfConfig withTransport(String newTransport) {
        return new WharfConfig(listen, storagePath, defaultProject, projects, source, operations, rewrite, limits, tls,
                auth, newTransport, s3, cluster);
    }
}

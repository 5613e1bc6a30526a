package dev.wharf.server.config;

import java.net.URI;
import java.nio.file.Path;
import java.time.Duration;
import java.util.List;

/**
 * One project: a path prefix routed to one upstream registry.
 *
 * @param name     first path segment, {@code /v2/<name>/...}
 * @param upstream the upstream registry URL, possibly with a path ({@code https://harbor.example.com/v2/dockerhub})
 * @param aliases  extra {@code ?ns=} values routed here
 * @param tagTtl   how long a tag is trusted without revalidation
 * @param caFile   extra PEM CA bundle trusted for this upstream, or null
 * @param username upstream user name, or null for anonymous pulls
 * @param password upstream password or token (already read from {@code passwordFile} or the environment); never
 *                 printed: {@link #toString()} masks it
 * @param upstreams all upstream endpoints in failover order; the first is {@code upstream}
 *                 ({@code upstreams:} in the file, or just {@code upstream:})
 * @param insecureSkipVerify skip TLS certificate verification for this upstream (logged loudly at start-up)
 * @param ecr      AWS ECR token settings, or null
 * @param dockerHub {@code dockerHub: true}: the project stands for Docker Hub whatever its upstream (a Harbor proxy
 *                 project or a mirror in front of Docker Hub), see {@link #isDockerHub()}
 * @param allowPrivateRedirects let upstream redirects lead to loopback and private addresses even when no upstream
 *                 of the project is in that range ({@code allowPrivateRedirects}, false); link-local and cloud
 *                 metadata addresses stay refused
 * @param visibility who may pull ({@code visibility}): public, or private (only {@code pull}); private by default
 *                 when the project carries upstream credentials ({@code username} or {@code ecr})
 * @param pull     the users and groups that may pull a private project ({@code pull})
 */
public record ProjectConfig(String name, URI upstream, List<String> aliases, Duration tagTtl, Path caFile,
                            String username, String password, List<URI> upstreams, boolean insecureSkipVerify,
                            EcrConfig ecr, boolean dockerHub, boolean allowPrivateRedirects, Visibility visibility,
                            List<String> pull) {
    /** {@code projects[].visibility}. */
    public enum Visibility {
        PUBLIC, PRIVATE
    }

    public ProjectConfig {
        aliases = List.copyOf(aliases);
        upstreams = upstreams == null || upstreams.isEmpty() ? List.of(upstream) : List.copyOf(upstreams);
        visibility = visibility == null ? Visibility.PUBLIC : visibility;
        pull = pull == null ? List.of() : List.copyOf(pull);
    }

    public ProjectConfig(String name, URI upstream, List<String> aliases, Duration tagTtl, Path caFile,
                         String username, String password, List<URI> upstreams, boolean insecureSkipVerify,
                         EcrConfig ecr, boolean dockerHub, boolean allowPrivateRedirects) {
        this(name, upstream, aliases, tagTtl, caFile, username, password, upstreams, insecureSkipVerify, ecr,
                dockerHub, allowPrivateRedirects, Visibility.PUBLIC, List.of());
    }

    /** True if only the users and groups of {@code pull} may pull. */
    public boolean isPrivate() {
        return visibility == Visibility.PRIVATE;
    }

    public ProjectConfig(String name, URI upstream, List<String> aliases, Duration tagTtl, Path caFile,
                         String username, String password, List<URI> upstreams, boolean insecureSkipVerify,
                         EcrConfig ecr, boolean dockerHub) {
        this(name, upstream, aliases, tagTtl, caFile, username, password, upstreams, insecureSkipVerify, ecr,
                dockerHub, false);
    }

    public ProjectConfig(String name, URI upstream, List<String> aliases, Duration tagTtl, Path caFile,
                         String username, String password, List<URI> upstreams, boolean insecureSkipVerify,
                         EcrConfig ecr) {
        this(name, upstream, aliases, tagTtl, caFile, username, password, upstreams, insecureSkipVerify, ecr, false);
    }

    public ProjectConfig(String name, URI upstream, List<String> aliases, Duration tagTtl, Path caFile) {
        this(name, upstream, aliases, tagTtl, caFile, null, null, null, false, null);
    }

    public ProjectConfig(String name, URI upstream, List<String> aliases, Duration tagTtl, Path caFile,
                         String username, String password) {
        this(name, upstream, aliases, tagTtl, caFile, username, password, null, false, null);
    }

    @Override
    public String toString() {
        return "ProjectConfig[name=" + name + ", upstream=" + upstream + ", aliases=" + aliases + ", tagTtl=" + tagTtl
                + ", caFile=" + caFile + ", username=" + username + ", password=" + (password == null ? "none" : "***")
                + ", upstreams=" + upstreams + ", insecureSkipVerify=" + insecureSkipVerify + ", ecr=" + ecr
                + ", dockerHub=" + dockerHub + ", allowPrivateRedirects=" + allowPrivateRedirects + ", visibility="
                + visibility + ", pull=" + pull + "]";
    }

    /**
     * True when the project stands for Docker Hub, which adds {@code library/} to one-segment names: an upstream is
     * Docker Hub, its name or an alias is one of Docker Hub's names ({@code docker.io}), or it sets
     * {@code dockerHub: true}. A mirror ({@code mirror.gcr.io}) or a Harbor proxy project in front of Docker Hub
     * serves the same names.
     */
    public boolean isDockerHub() {
        // Loops, not streams: the router asks this on every request.
        if (dockerHub || DockerHub.isDockerHubHost(name)) {
            return true;
        }
        for (String alias : aliases) {
            if (DockerHub.isDockerHubHost(alias)) {
                return true;
            }
        }
        for (URI u : upstreams) {
            if (DockerHub.isDockerHubHost(u.getHost())) {
                return true;
            }
        }
        return false;
    }
}

package dev.wharf.server.config;

import java.util.Locale;
import java.util.Set;

/** Docker Hub answers to several names; they are one registry. */
public final class DockerHub {
    /** Host names that all mean Docker Hub. */
    public static final Set<String> HOSTS = Set.of("docker.io", "index.docker.io", "registry-1.docker.io");

    private DockerHub() {
    }

    public static boolean isDockerHubHost(String host) {
        return host != null && HOSTS.contains(host.toLowerCase(Locale.ROOT));
    }
}

package dev.wharf.server.upstream;

import dev.wharf.server.config.DockerHub;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Locale;
import java.util.Map;
import java.util.Optional;

/** The projects, looked up by name, by {@code ?ns=} value, and the default. Immutable. */
public final class Projects {
    private final Map<String, Project> byName = new LinkedHashMap<>();
    private final Map<String, Project> byNs = new LinkedHashMap<>();
    private final Project defaultProject;

    public Projects(List<Project> projects, String defaultProjectName) {
        for (Project p : projects) {
            byName.put(p.name(), p);
        }
        // ns lookup: name, then aliases, then upstream host; earlier entries win, so an explicit alias beats a host.
        for (Project p : projects) {
            byNs.putIfAbsent(p.name().toLowerCase(Locale.ROOT), p);
        }
        for (Project p : projects) {
            p.config().aliases().forEach(a -> byNs.putIfAbsent(a, p));
        }
        // Primary upstreams first, then the failover ones: a project's own primary host beats another's fallback.
        for (boolean primary : new boolean[] {true, false}) {
            for (Project p : projects) {
                List<java.net.URI> hosts = p.config().upstreams();
                for (java.net.URI upstream : primary ? hosts.subList(0, 1) : hosts.subList(1, hosts.size())) {
                    String host = upstream.getHost().toLowerCase(Locale.ROOT);
                    byNs.putIfAbsent(host, p);
                    int port = upstream.getPort();
                    if (port > 0) {
                        byNs.putIfAbsent(host + ":" + port, p);
                    }
                }
            }
        }
        this.defaultProject = defaultProjectName == null ? null : byName.get(defaultProjectName);
    }

    public Optional<Project> byName(String name) {
        return Optional.ofNullable(byName.get(name));
    }

    /** The project a containerd {@code ns} value names; docker.io, index.docker.io and registry-1.docker.io are one. */
    public Optional<Project> byNamespace(String ns) {
        String key = ns.toLowerCase(Locale.ROOT);
        Project p = byNs.get(key);
        if (p == null && DockerHub.isDockerHubHost(key)) {
            for (String alias : DockerHub.HOSTS) {
                p = byNs.get(alias);
                if (p != null) {
                    break;
                }
            }
            if (p == null) {
                p = byName.values().stream().filter(x -> x.config().isDockerHub()).findFirst().orElse(null);
            }
        }
        return Optional.ofNullable(p);
    }

    public Optional<Project> defaultProject() {
        return Optional.ofNullable(defaultProject);
    }

    public List<Project> all() {
        return List.copyOf(byName.values());
    }
}

package dev.wharf.server.proxy;

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
        for (Project p : projects) {
            String host = p.config().upstream().getHost().toLowerCase(Locale.ROOT);
            byNs.putIfAbsent(host, p);
            int port = p.config().upstream().getPort();
            if (port > 0) {
                byNs.putIfAbsent(host + ":" + port, p);
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

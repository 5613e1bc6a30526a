package dev.wharf.server.cli;

import dev.wharf.server.config.DockerHub;
import dev.wharf.server.config.ProjectConfig;
import dev.wharf.server.config.WharfConfig;
import java.net.URI;
import java.util.ArrayList;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Locale;
import java.util.Map;

/**
 * The containerd hosts directory that sends a node's pulls through wharf: a {@code <registry host>/hosts.toml} for
 * every registry host a project stands for, and {@code _default/hosts.toml} for the rest.
 *
 * <p>A project's registry hosts are its name when the name is a host name (it has a dot), else its upstream's host
 * (with its port), plus its aliases; Docker Hub's three names stand for one another. Each file routes by project
 * path ({@code [host."<url>/v2/<project>"]} with {@code override_path = true}) and keeps the registry itself as
 * {@code server}, which containerd tries after wharf: a node still pulls while wharf is down. {@code _default} routes
 * by {@code ?ns=}: its host has no path, so containerd sends {@code /v2/<name>/...?ns=<registry>} and wharf finds the
 * project by name, alias or upstream host; with no {@code server}, containerd falls back to the registry itself.
 * When two projects claim a host, the one wharf's {@code ?ns=} routing picks wins: a name before an alias before an
 * upstream host, earlier projects first.
 */
final class ContainerdHosts {
    static final String DEFAULT_NAMESPACE = "_default";
    private static final String DOCKER_HUB_SERVER = "https://registry-1.docker.io";

    /** One hosts.toml: its namespace directory (a registry host, or {@code _default}) and its text. */
    record HostsFile(String namespace, String toml) {
    }

    /** A host that a later project also claimed, and lost. */
    record Conflict(String host, String winner, String loser) {
    }

    /** The files, in project order with {@code _default} last, and the hosts claimed twice. */
    record Tree(List<HostsFile> files, List<Conflict> conflicts) {
    }

    private ContainerdHosts() {
    }

    /**
     * The tree for {@code config}, with wharf at {@code wharfUrl} ({@code scheme://host[:port]}, no trailing slash)
     * and, when not null, {@code caFile} as the CA containerd trusts for it.
     */
    static Tree generate(WharfConfig config, String wharfUrl, String caFile) {
        Map<String, ProjectConfig> owners = new LinkedHashMap<>();
        List<Conflict> conflicts = new ArrayList<>();
        // The order of wharf's ns lookup (upstream.Projects): names, then aliases, then upstream hosts.
        for (int pass = 0; pass < 3; pass++) {
            for (ProjectConfig p : config.projects()) {
                List<String> claimed = switch (pass) {
                    case 0 -> isHostName(p.name()) ? List.of(p.name().toLowerCase(Locale.ROOT)) : List.of();
                    case 1 -> p.aliases().stream().map(a -> a.toLowerCase(Locale.ROOT)).toList();
                    default -> isHostName(p.name()) ? List.of() : List.of(authority(p.upstream()));
                };
                for (String host : claimed) {
                    if (!isSafeDirectory(host)) {
                        continue;
                    }
                    for (String h : DockerHub.isDockerHubHost(host) ? dockerHubFirst(host) : List.of(host)) {
                        ProjectConfig owner = owners.putIfAbsent(h, p);
                        if (owner != null && owner != p && h.equals(host)) {
                            conflicts.add(new Conflict(h, owner.name(), p.name()));
                        }
                    }
                }
            }
        }
        // Files in project order; within a project, in claim order.
        List<HostsFile> files = new ArrayList<>();
        for (ProjectConfig p : config.projects()) {
            owners.forEach((host, owner) -> {
                if (owner == p) {
                    files.add(new HostsFile(host, projectToml(host, p, wharfUrl, caFile)));
                }
            });
        }
        files.add(new HostsFile(DEFAULT_NAMESPACE, defaultToml(wharfUrl, caFile)));
        return new Tree(files, conflicts);
    }

    private static String projectToml(String host, ProjectConfig p, String wharfUrl, String caFile) {
        StringBuilder s = new StringBuilder();
        s.append("# ").append(host).append(" through wharf project '").append(p.name())
                .append("'; written by wharf containerd-config\n");
        s.append("# server: the registry itself, tried when wharf does not answer\n");
        s.append("server = ").append(quote(server(host, p))).append("\n\n");
        s.append("[host.").append(quote(wharfUrl + "/v2/" + p.name())).append("]\n");
        s.append("  capabilities = [\"pull\", \"resolve\"]\n");
        s.append("  override_path = true\n");
        if (caFile != null) {
            s.append("  ca = ").append(quote(caFile)).append('\n');
        }
        return s.toString();
    }

    private static String defaultToml(String wharfUrl, String caFile) {
        StringBuilder s = new StringBuilder();
        s.append("# Registries without a project directory: containerd adds ?ns=<registry> and wharf routes by it\n");
        s.append("# (a project's name, alias or upstream host); without a server line containerd falls back to\n");
        s.append("# the registry itself. Written by wharf containerd-config.\n\n");
        s.append("[host.").append(quote(wharfUrl)).append("]\n");
        s.append("  capabilities = [\"pull\", \"resolve\"]\n");
        if (caFile != null) {
            s.append("  ca = ").append(quote(caFile)).append('\n');
        }
        return s.toString();
    }

    /**
     * The original registry for {@code host}: Docker Hub's API host for its names; the project's upstream (scheme
     * and authority) when the host is the upstream's, which keeps a plain-HTTP upstream plain; else HTTPS.
     */
    static String server(String host, ProjectConfig p) {
        if (DockerHub.isDockerHubHost(host)) {
            return DOCKER_HUB_SERVER;
        }
        for (URI u : p.upstreams()) {
            if (authority(u).equals(host)) {
                return u.getScheme().toLowerCase(Locale.ROOT) + "://" + host;
            }
        }
        return "https://" + host;
    }

    /** {@code host[:port]} of a URL, lower case; IPv6 literals keep their brackets. */
    static String authority(URI u) {
        String host = u.getHost().toLowerCase(Locale.ROOT);
        return u.getPort() > 0 ? host + ":" + u.getPort() : host;
    }

    /** A project name is a registry host name when it has a dot ({@code docker.io}, {@code registry.k8s.io}). */
    static boolean isHostName(String name) {
        return name.indexOf('.') > 0;
    }

    /** {@code docker.io} first (what image references name), then its other names, the claimed one included. */
    private static List<String> dockerHubFirst(String claimed) {
        List<String> all = new ArrayList<>(List.of("docker.io", "index.docker.io", "registry-1.docker.io"));
        all.remove(claimed);
        all.add(0, claimed);
        return all;
    }

    /** A name usable as one directory: no separator, not {@code .} or {@code ..}, not {@code _default}. */
    private static boolean isSafeDirectory(String host) {
        return !host.isEmpty() && !host.contains("/") && !host.contains("\\") && !host.equals(".")
                && !host.equals("..") && !host.equals(DEFAULT_NAMESPACE) && host.chars().noneMatch(c -> c < 0x21);
    }

    /** A TOML basic string. */
    static String quote(String s) {
        StringBuilder b = new StringBuilder("\"");
        for (char c : s.toCharArray()) {
            switch (c) {
                case '"' -> b.append("\\\"");
                case '\\' -> b.append("\\\\");
                default -> {
                    if (c < 0x20 || c == 0x7f) {
                        b.append(String.format(Locale.ROOT, "\\u%04X", (int) c));
                    } else {
                        b.append(c);
                    }
                }
            }
        }
        return b.append('"').toString();
    }
}

package dev.wharf.server.config;

import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.node.ObjectNode;
import java.net.URI;
import java.nio.file.Path;
import java.time.Duration;
import java.util.ArrayList;
import java.util.HashSet;
import java.util.List;
import java.util.Locale;
import java.util.Set;
import java.util.regex.Pattern;

/**
 * Reads the {@code projects} list: for each project its name, upstream or failover upstreams, aliases, tag TTL,
 * CA file, credentials, TLS verification switch, {@code ecr} block and {@code dockerHub} switch, then checks that no two projects share a
 * name or an alias.
 *
 * <p>Keys are named by their place in the list, such as {@code projects[2].tagTtl}. Values are read through
 * {@link ConfigReader}, which names the key and the file in every error.
 */
final class ProjectsReader {
    private static final Duration DEFAULT_TAG_TTL = Duration.ofMinutes(5);
    private static final Pattern PROJECT_NAME = Pattern.compile("[a-z0-9]+([._-][a-z0-9]+)*");
    private static final Set<String> PROJECT_KEYS = Set.of("name", "upstream", "aliases", "tagTtl", "caFile",
            "username", "password", "passwordFile", "upstreams", "insecureSkipVerify", "ecr", "dockerHub",
            "allowPrivateRedirects", "visibility", "pull");
    private static final Set<String> ECR_KEYS = Set.of("region", "endpoint", "accessKeyId", "secretAccessKey");

    private final ConfigReader values;

    ProjectsReader(ConfigReader values) {
        this.values = values;
    }

    /** The {@code projects} list of the top-level mapping; empty when it is absent. */
    List<ProjectConfig> projects(ObjectNode top) {
        List<ProjectConfig> projects = new ArrayList<>();
        if (top.has("projects")) {
            JsonNode list = top.get("projects");
            if (!list.isArray()) {
                throw values.fail("projects", "must be a list");
            }
            for (int i = 0; i < list.size(); i++) {
                projects.add(project(list.get(i), "projects[" + i + "]"));
            }
        }
        checkUnique(projects);
        return projects;
    }

    private ProjectConfig project(JsonNode node, String path) {
        ObjectNode p = values.mapping(node, path, PROJECT_KEYS);
        if (!p.has("name")) {
            throw values.fail(path + ".name", "is required");
        }
        String name = values.string(p.get("name"), path + ".name");
        if (name.length() > 64 || !PROJECT_NAME.matcher(name).matches()) {
            throw values.fail(path + ".name", "'" + name + "' must be lower-case letters, digits and . _ - (at most 64)");
        }
        List<URI> upstreams = new ArrayList<>();
        if (p.has("upstream") && p.has("upstreams")) {
            throw values.fail(path + ".upstreams", "cannot be used together with upstream");
        }
        if (p.has("upstreams")) {
            List<String> list = values.stringList(p.get("upstreams"), path + ".upstreams");
            if (list.isEmpty()) {
                throw values.fail(path + ".upstreams", "must list at least one URL");
            }
            for (int i = 0; i < list.size(); i++) {
                upstreams.add(values.url(list.get(i), path + ".upstreams[" + i + "]"));
            }
        } else if (p.has("upstream")) {
            upstreams.add(values.url(values.string(p.get("upstream"), path + ".upstream"), path + ".upstream"));
        } else {
            throw values.fail(path + ".upstream", "is required");
        }
        URI upstream = upstreams.get(0);
        List<String> aliases = new ArrayList<>();
        if (p.has("aliases")) {
            JsonNode a = p.get("aliases");
            if (!a.isArray()) {
                throw values.fail(path + ".aliases", "must be a list of strings");
            }
            for (int i = 0; i < a.size(); i++) {
                String alias = values.string(a.get(i), path + ".aliases[" + i + "]");
                if (alias.isBlank()) {
                    throw values.fail(path + ".aliases[" + i + "]", "must not be empty");
                }
                aliases.add(alias.toLowerCase(Locale.ROOT));
            }
        }
        Duration ttl = p.has("tagTtl") ? values.duration(p.get("tagTtl"), path + ".tagTtl") : DEFAULT_TAG_TTL;
        Path ca = p.has("caFile") ? values.readableFile(p.get("caFile"), path + ".caFile") : null;
        String username = p.has("username") ? values.expanded(p.get("username"), path + ".username") : null;
        // A mounted Kubernetes secret often ends with a newline that is not part of the secret: secret() strips it.
        String password = values.secret(p, "password", "passwordFile", path);
        if (password != null && username == null) {
            throw values.fail(path + ".username", "is required when a password is set");
        }
        if (username != null && password == null) {
            throw values.fail(path + ".password", "is required when a username is set (or use passwordFile)");
        }
        boolean insecure = p.has("insecureSkipVerify")
                && values.bool(p.get("insecureSkipVerify"), path + ".insecureSkipVerify");
        EcrConfig ecr = p.has("ecr") ? ecr(p.get("ecr"), path + ".ecr") : null;
        boolean dockerHub = p.has("dockerHub") && values.bool(p.get("dockerHub"), path + ".dockerHub");
        boolean allowPrivate = p.has("allowPrivateRedirects")
                && values.bool(p.get("allowPrivateRedirects"), path + ".allowPrivateRedirects");
        ProjectConfig.Visibility visibility;
        if (p.has("visibility")) {
            String v = values.string(p.get("visibility"), path + ".visibility");
            visibility = switch (v) {
                case "public" -> ProjectConfig.Visibility.PUBLIC;
                case "private" -> ProjectConfig.Visibility.PRIVATE;
                default -> throw values.fail(path + ".visibility", "must be public or private, got '" + v + "'");
            };
        } else {
            // Upstream credentials carry their owner's reach and quota: not for everyone who can reach wharf.
            visibility = username != null || ecr != null || EcrConfig.impliedBy(upstreams)
                    ? ProjectConfig.Visibility.PRIVATE : ProjectConfig.Visibility.PUBLIC;
        }
        List<String> pull = p.has("pull") ? values.stringList(p.get("pull"), path + ".pull") : List.of();
        if (!pull.isEmpty() && visibility == ProjectConfig.Visibility.PUBLIC) {
            throw values.fail(path + ".pull", "has no effect on a public project: set visibility: private, or drop "
                    + "pull");
        }
        return new ProjectConfig(name, upstream, aliases, ttl, ca, username, password, upstreams, insecure, ecr,
                dockerHub, allowPrivate, visibility, pull);
    }

    private EcrConfig ecr(JsonNode node, String path) {
        ObjectNode e = values.mapping(node, path, ECR_KEYS);
        String region = e.has("region") ? values.string(e.get("region"), path + ".region") : null;
        URI endpoint = e.has("endpoint")
                ? values.url(values.string(e.get("endpoint"), path + ".endpoint"), path + ".endpoint") : null;
        String keyId = e.has("accessKeyId") ? values.expanded(e.get("accessKeyId"), path + ".accessKeyId") : null;
        String secret = e.has("secretAccessKey")
                ? values.expanded(e.get("secretAccessKey"), path + ".secretAccessKey") : null;
        if ((keyId == null) != (secret == null)) {
            throw values.fail(path, "accessKeyId and secretAccessKey go together");
        }
        return new EcrConfig(region, endpoint, keyId, secret);
    }

    private void checkUnique(List<ProjectConfig> projects) {
        Set<String> names = new HashSet<>();
        Set<String> aliases = new HashSet<>();
        for (int i = 0; i < projects.size(); i++) {
            ProjectConfig p = projects.get(i);
            if (!names.add(p.name())) {
                throw values.fail("projects[" + i + "].name", "'" + p.name() + "' is used by two projects");
            }
            for (String a : p.aliases()) {
                if (!aliases.add(a)) {
                    throw values.fail("projects[" + i + "].aliases", "'" + a + "' is an alias of two projects");
                }
            }
        }
    }
}

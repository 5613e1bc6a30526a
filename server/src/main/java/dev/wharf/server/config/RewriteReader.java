package dev.wharf.server.config;

import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.node.ObjectNode;
import java.util.ArrayList;
import java.util.List;
import java.util.Set;
import java.util.regex.Pattern;
import java.util.regex.PatternSyntaxException;

/**
 * Reads the {@code rewrite:} section: {@code rules}, each with {@code name}, {@code matches}, {@code excludes},
 * {@code replace} and {@code checkUpstream} as harbor-container-webhook writes them. Regexes are compiled here, so
 * a bad one stops start-up naming its key, never a request.
 */
final class RewriteReader {
    private static final Set<String> REWRITE_KEYS = Set.of("rules");
    private static final Set<String> RULE_KEYS = Set.of("name", "matches", "excludes", "replace", "checkUpstream");
    /** A registry host: has a dot or a port, or is localhost (as Docker tells a host from a path component). */
    private static final Pattern HOST = Pattern.compile("[A-Za-z0-9.-]+\\.[A-Za-z0-9.-]+(:[0-9]+)?"
            + "|[A-Za-z0-9.-]+:[0-9]+|localhost");
    private static final Pattern PATH_COMPONENT = Pattern.compile("[a-z0-9]+(?:(?:[._]|__|-+)[a-z0-9]+)*");

    private final ConfigReader values;

    RewriteReader(ConfigReader values) {
        this.values = values;
    }

    /** The {@code rewrite} section of the top-level mapping, or {@link RewriteConfig#NONE} when it is absent. */
    RewriteConfig rewrite(ObjectNode top) {
        if (!top.has("rewrite") || top.get("rewrite").isNull()) {
            return RewriteConfig.NONE;
        }
        ObjectNode section = values.mapping(top.get("rewrite"), "rewrite", REWRITE_KEYS);
        if (!section.has("rules")) {
            return RewriteConfig.NONE;
        }
        JsonNode list = section.get("rules");
        if (!list.isArray()) {
            throw values.fail("rewrite.rules", "must be a list of rules");
        }
        List<RewriteConfig.Rule> rules = new ArrayList<>();
        for (int i = 0; i < list.size(); i++) {
            rules.add(rule(list.get(i), "rewrite.rules[" + i + "]"));
        }
        return new RewriteConfig(rules);
    }

    private RewriteConfig.Rule rule(JsonNode node, String key) {
        ObjectNode r = values.mapping(node, key, RULE_KEYS);
        String name = r.has("name") ? values.string(r.get("name"), key + ".name") : key;
        if (!r.has("matches")) {
            throw values.fail(key + ".matches", "is required: the regexes an image must match");
        }
        List<Pattern> matches = patterns(r.get("matches"), key + ".matches");
        if (matches.isEmpty()) {
            throw values.fail(key + ".matches", "must hold at least one regex");
        }
        List<Pattern> excludes = r.has("excludes") && !r.get("excludes").isNull()
                ? patterns(r.get("excludes"), key + ".excludes") : List.of();
        if (!r.has("replace")) {
            throw values.fail(key + ".replace", "is required: the registry (and path) that takes the image's "
                    + "registry's place, such as wharf.example.com/docker.io");
        }
        String replace = replace(values.string(r.get("replace"), key + ".replace"), key + ".replace");
        boolean checkUpstream = r.has("checkUpstream") && values.bool(r.get("checkUpstream"), key + ".checkUpstream");
        return new RewriteConfig.Rule(name, matches, excludes, replace, checkUpstream);
    }

    private List<Pattern> patterns(JsonNode node, String key) {
        List<String> texts = values.stringList(node, key);
        List<Pattern> out = new ArrayList<>(texts.size());
        for (int i = 0; i < texts.size(); i++) {
            try {
                out.add(Pattern.compile(texts.get(i)));
            } catch (PatternSyntaxException e) {
                throw values.fail(key + "[" + i + "]", "is not a valid regex: " + e.getDescription()
                        + " near index " + e.getIndex() + " of '" + texts.get(i) + "'");
            }
        }
        return out;
    }

    /** {@code host[:port][/path...]}, a trailing slash dropped; the host must read as a registry host. */
    private String replace(String text, String key) {
        String s = text.strip();
        while (s.endsWith("/")) {
            s = s.substring(0, s.length() - 1);
        }
        String[] parts = s.split("/", -1);
        if (s.isEmpty() || !HOST.matcher(parts[0]).matches()) {
            throw values.fail(key, "'" + text + "' must start with a registry host (with a dot or a port, or "
                    + "localhost), such as wharf.example.com/docker.io");
        }
        for (int i = 1; i < parts.length; i++) {
            if (!PATH_COMPONENT.matcher(parts[i]).matches()) {
                throw values.fail(key, "'" + text + "' has an invalid path component '" + parts[i] + "'");
            }
        }
        return s;
    }
}

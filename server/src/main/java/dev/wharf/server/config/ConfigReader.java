package dev.wharf.server.config;

import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.ObjectMapper;
import com.fasterxml.jackson.databind.node.ObjectNode;
import com.fasterxml.jackson.dataformat.yaml.YAMLFactory;
import java.io.IOException;
import java.io.InputStream;
import java.net.URI;
import java.net.URISyntaxException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.time.Duration;
import java.util.ArrayList;
import java.util.Iterator;
import java.util.List;
import java.util.Locale;
import java.util.Map;
import java.util.Set;
import java.util.function.Function;
import java.util.regex.Matcher;
import java.util.regex.Pattern;

/**
 * Reads typed values out of one config file's YAML tree: strings, lists, booleans, sizes, durations, fractions,
 * URLs, listen addresses, files and secrets, with {@code ${VAR}} resolved from the environment.
 *
 * <p>Every value is read under its key path (such as {@code projects[2].tagTtl}); a bad value or an unknown key
 * becomes a {@link ConfigException} naming that key and the file, made by {@link #fail}. Relative file names are
 * resolved against the config file's folder. The section readers ({@link OperationsReader},
 * {@link ProjectsReader}) say which keys a section has; this class says what a well-formed value is.
 */
final class ConfigReader {
    private static final Pattern DURATION = Pattern.compile("(\\d+)(ms|s|m|h|d)");
    private static final Pattern SIZE = Pattern.compile("(\\d+)\\s*(B|KiB|MiB|GiB|TiB|KB|MB|GB|TB)?");
    private static final Pattern ENV_REF = Pattern.compile("\\$\\{([A-Za-z_][A-Za-z0-9_]*)}");

    private final String source;
    private final Function<String, String> env;
    private final Path baseDir;

    /**
     * @param source the file's name as messages give it
     * @param env looks up {@code ${VAR}} references
     * @param baseDir the folder relative file names are resolved against
     */
    ConfigReader(String source, Function<String, String> env, Path baseDir) {
        this.source = source;
        this.env = env;
        this.baseDir = baseDir;
    }

    /** The file's name as messages give it. */
    String source() {
        return source;
    }

    /** Reads the whole YAML document, which must be a mapping. */
    ObjectNode document(InputStream in) {
        JsonNode root;
        try {
            root = new ObjectMapper(new YAMLFactory()).readTree(in);
        } catch (IOException e) {
            throw fail("", "is not valid YAML: " + firstLine(e.getMessage()));
        }
        if (root == null || root.isMissingNode() || root.isNull()) {
            throw fail("", "is empty");
        }
        return object(root, "");
    }

    /** A secret given inline (with ${VAR}) or as a file (trailing newline dropped); null if neither. */
    String secret(ObjectNode node, String key, String fileKey, String path) {
        if (node.has(key) && node.has(fileKey)) {
            throw fail(path + "." + fileKey, "cannot be used together with " + key);
        }
        if (node.has(key)) {
            return expanded(node.get(key), path + "." + key);
        }
        if (node.has(fileKey)) {
            Path file = baseDir.resolve(string(node.get(fileKey), path + "." + fileKey));
            try {
                return Files.readString(file).strip();
            } catch (IOException e) {
                throw fail(path + "." + fileKey, "file " + file + " cannot be read: " + e.getClass().getSimpleName());
            }
        }
        return null;
    }

    /** A file name, resolved against the config file's folder; read (and checked) at start-up, not here. */
    Path file(JsonNode node, String key) {
        String name = string(node, key);
        if (name.isBlank()) {
            throw fail(key, "must name a file");
        }
        return baseDir.resolve(name);
    }

    /** A file name, resolved against the config file's folder; the file must be readable. */
    Path readableFile(JsonNode node, String key) {
        Path file = baseDir.resolve(string(node, key));
        if (!Files.isReadable(file)) {
            throw fail(key, "file " + file + " is not readable");
        }
        return file;
    }

    List<String> stringList(JsonNode node, String key) {
        if (node == null || !node.isArray()) {
            throw fail(key, "must be a list of strings");
        }
        List<String> out = new ArrayList<>();
        for (int i = 0; i < node.size(); i++) {
            out.add(string(node.get(i), key + "[" + i + "]"));
        }
        return out;
    }

    double fraction(JsonNode node, String key) {
        if (node == null || !node.isNumber() || node.asDouble() <= 0 || node.asDouble() > 1) {
            throw fail(key, "must be a number above 0 and at most 1");
        }
        return node.asDouble();
    }

    boolean bool(JsonNode node, String key) {
        if (!node.isBoolean()) {
            throw fail(key, "must be true or false");
        }
        return node.asBoolean();
    }

    /** A size larger than 0; see {@link #parseSize}. */
    long size(JsonNode node, String key) {
        String text = string(node, key);
        try {
            long v = parseSize(text);
            if (v <= 0) {
                throw new IllegalArgumentException("must be larger than 0");
            }
            return v;
        } catch (IllegalArgumentException | ArithmeticException e) {
            throw fail(key, e.getMessage());
        }
    }

    /** See {@link ConfigLoader#parseSize}. */
    static long parseSize(String text) {
        Matcher m = SIZE.matcher(text.trim());
        if (!m.matches()) {
            throw new IllegalArgumentException("'" + text + "' is not a size such as 512MiB, 100GiB or 1TiB");
        }
        long n = Long.parseLong(m.group(1));
        String unit = m.group(2) == null ? "B" : m.group(2);
        long mult = switch (unit) {
            case "KiB" -> 1L << 10;
            case "MiB" -> 1L << 20;
            case "GiB" -> 1L << 30;
            case "TiB" -> 1L << 40;
            case "KB" -> 1_000L;
            case "MB" -> 1_000_000L;
            case "GB" -> 1_000_000_000L;
            case "TB" -> 1_000_000_000_000L;
            default -> 1L;
        };
        return Math.multiplyExact(n, mult);
    }

    /** A string with {@code ${VAR}} replaced by the environment's value; an unset variable stops start-up. */
    String expanded(JsonNode node, String key) {
        String value = string(node, key);
        Matcher m = ENV_REF.matcher(value);
        StringBuilder out = new StringBuilder();
        while (m.find()) {
            String v = env.apply(m.group(1));
            if (v == null) {
                throw fail(key, "refers to environment variable " + m.group(1) + ", which is not set");
            }
            m.appendReplacement(out, Matcher.quoteReplacement(v));
        }
        m.appendTail(out);
        return out.toString();
    }

    /** An http or https URL with a host, and no query, fragment or credentials. */
    URI url(String text, String key) {
        URI uri;
        try {
            uri = new URI(text);
        } catch (URISyntaxException e) {
            throw fail(key, "'" + text + "' is not a URL: " + e.getMessage());
        }
        String scheme = uri.getScheme() == null ? "" : uri.getScheme().toLowerCase(Locale.ROOT);
        if (!scheme.equals("http") && !scheme.equals("https")) {
            throw fail(key, "'" + text + "' must start with http:// or https://");
        }
        if (uri.getHost() == null || uri.getHost().isEmpty()) {
            throw fail(key, "'" + text + "' has no host");
        }
        if (uri.getRawQuery() != null || uri.getRawFragment() != null) {
            throw fail(key, "'" + text + "' must not have a query or fragment");
        }
        if (uri.getRawUserInfo() != null) {
            throw fail(key, "must not carry credentials in the URL");
        }
        return uri;
    }

    /** A listen address; see {@link HostPort#parse}. */
    HostPort hostPort(JsonNode node, String key) {
        String text = string(node, key);
        try {
            return HostPort.parse(text);
        } catch (IllegalArgumentException e) {
            throw fail(key, e.getMessage());
        }
    }

    /** See {@link ConfigLoader#parseDuration}. */
    static Duration parseDuration(String text) {
        if (text == null || text.isEmpty()) {
            throw new IllegalArgumentException("empty duration");
        }
        Matcher m = DURATION.matcher(text);
        Duration total = Duration.ZERO;
        int pos = 0;
        while (pos < text.length()) {
            if (!m.find(pos) || m.start() != pos) {
                throw new IllegalArgumentException("'" + text + "' is not a duration such as 30s, 5m, 1h or 7d");
            }
            long n = Long.parseLong(m.group(1));
            total = total.plus(switch (m.group(2)) {
                case "ms" -> Duration.ofMillis(n);
                case "s" -> Duration.ofSeconds(n);
                case "m" -> Duration.ofMinutes(n);
                case "h" -> Duration.ofHours(n);
                default -> Duration.ofDays(n);
            });
            pos = m.end();
        }
        return total;
    }

    Duration duration(JsonNode node, String key) {
        String text = string(node, key);
        try {
            return parseDuration(text);
        } catch (IllegalArgumentException | ArithmeticException e) {
            throw fail(key, e.getMessage());
        }
    }

    /** The mapping at {@code key}, every key in it one of {@code known}. */
    ObjectNode mapping(JsonNode node, String key, Set<String> known) {
        ObjectNode mapping = object(node, key);
        checkKeys(mapping, key, known);
        return mapping;
    }

    ObjectNode object(JsonNode node, String key) {
        if (node == null || !node.isObject()) {
            throw fail(key, "must be a mapping");
        }
        return (ObjectNode) node;
    }

    String string(JsonNode node, String key) {
        if (node == null || node.isNull() || node.isContainerNode()) {
            throw fail(key, "must be a string");
        }
        return node.asText();
    }

    /** Stops on the first key of {@code node} that is not in {@code allowed}; {@code path} is the node's own key. */
    void checkKeys(ObjectNode node, String path, Set<String> allowed) {
        Iterator<Map.Entry<String, JsonNode>> it = node.fields();
        while (it.hasNext()) {
            String k = it.next().getKey();
            if (!allowed.contains(k)) {
                String where = path.isEmpty() ? k : path + "." + k;
                throw fail(where, "is not a known key (known here: " + String.join(", ", allowed.stream().sorted().toList()) + ")");
            }
        }
    }

    /** The error for a bad value at {@code key} ("" for the whole file). */
    ConfigException fail(String key, String message) {
        String where = key.isEmpty() ? "" : " key '" + key + "'";
        return new ConfigException("config " + source + ":" + where + " " + message);
    }

    private static String firstLine(String s) {
        if (s == null) {
            return "";
        }
        int nl = s.indexOf('\n');
        return nl < 0 ? s : s.substring(0, nl);
    }
}

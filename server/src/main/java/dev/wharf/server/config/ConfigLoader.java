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
import java.util.HashSet;
import java.util.Iterator;
import java.util.List;
import java.util.Locale;
import java.util.Map;
import java.util.Set;
import java.util.regex.Matcher;
import java.util.regex.Pattern;

/**
 * Reads the YAML config into immutable records. Every unknown key and every bad value stops start-up with a
 * message naming the key (as a path such as {@code projects[2].tagTtl}) and the file.
 */
public final class ConfigLoader {
    /** Resource holding the embedded defaults used when no config file is given. */
    public static final String DEFAULTS_RESOURCE = "/wharf-defaults.yaml";

    private static final Duration DEFAULT_TAG_TTL = Duration.ofMinutes(5);
    private static final Pattern DURATION = Pattern.compile("(\\d+)(ms|s|m|h|d)");
    private static final Pattern PROJECT_NAME = Pattern.compile("[a-z0-9]+([._-][a-z0-9]+)*");
    private static final Set<String> TOP_KEYS = Set.of("listen", "storage", "defaultProject", "projects",
            "retention", "admin", "accessLog", "egress");
    private static final Set<String> STORAGE_KEYS = Set.of("path", "maxSize", "highWatermark", "lowWatermark");
    private static final Set<String> RETENTION_KEYS = Set.of("unusedFor");
    private static final Set<String> ADMIN_KEYS = Set.of("listen", "token", "tokenFile");
    private static final Set<String> ACCESS_LOG_KEYS = Set.of("enabled", "path", "level");
    private static final Set<String> EGRESS_KEYS = Set.of("proxy", "noProxy");
    private static final Set<String> ECR_KEYS = Set.of("region", "endpoint", "accessKeyId", "secretAccessKey");
    private static final Pattern SIZE = Pattern.compile("(\\d+)\\s*(B|KiB|MiB|GiB|TiB|KB|MB|GB|TB)?");
    private static final Set<String> PROJECT_KEYS = Set.of("name", "upstream", "aliases", "tagTtl", "caFile",
            "username", "password", "passwordFile", "upstreams", "insecureSkipVerify", "ecr");
    private static final Pattern ENV_REF = Pattern.compile("\\$\\{([A-Za-z_][A-Za-z0-9_]*)}");

    private final String source;
    private final java.util.function.Function<String, String> env;

    private ConfigLoader(String source) {
        this(source, System::getenv);
    }

    private ConfigLoader(String source, java.util.function.Function<String, String> env) {
        this.source = source;
        this.env = env;
    }

    /** Loads a config file. */
    public static WharfConfig load(Path file) {
        String source = file.toString();
        if (!Files.isRegularFile(file)) {
            throw new ConfigException("config file " + source + " does not exist or is not a file");
        }
        try (InputStream in = Files.newInputStream(file)) {
            return new ConfigLoader(source).parse(in, file.toAbsolutePath().getParent());
        } catch (IOException e) {
            throw new ConfigException("cannot read config file " + source + ": " + e.getMessage());
        }
    }

    /** Loads the embedded defaults. */
    public static WharfConfig defaults() {
        try (InputStream in = ConfigLoader.class.getResourceAsStream(DEFAULTS_RESOURCE)) {
            if (in == null) {
                throw new IllegalStateException("embedded defaults " + DEFAULTS_RESOURCE + " missing from the jar");
            }
            return new ConfigLoader("embedded defaults").parse(in, Path.of("."));
        } catch (IOException e) {
            throw new IllegalStateException("cannot read embedded defaults", e);
        }
    }

    /** Parses YAML text; for tests. */
    public static WharfConfig parse(String yaml, String source) {
        return parse(yaml, source, System::getenv);
    }

    /** Parses YAML text with {@code ${VAR}} references resolved through {@code env}; for tests. */
    public static WharfConfig parse(String yaml, String source, java.util.function.Function<String, String> env) {
        try {
            return new ConfigLoader(source, env).parse(new java.io.ByteArrayInputStream(
                    yaml.getBytes(java.nio.charset.StandardCharsets.UTF_8)), Path.of("."));
        } catch (IOException e) {
            throw new ConfigException(source + ": " + e.getMessage());
        }
    }

    private WharfConfig parse(InputStream in, Path baseDir) throws IOException {
        JsonNode root;
        try {
            root = new ObjectMapper(new YAMLFactory()).readTree(in);
        } catch (IOException e) {
            throw fail("", "is not valid YAML: " + firstLine(e.getMessage()));
        }
        if (root == null || root.isMissingNode() || root.isNull()) {
            throw fail("", "is empty");
        }
        ObjectNode top = object(root, "");
        checkKeys(top, "", TOP_KEYS);

        HostPort listen = new HostPort("0.0.0.0", 5000);
        if (top.has("listen")) {
            String text = string(top.get("listen"), "listen");
            try {
                listen = HostPort.parse(text);
            } catch (IllegalArgumentException e) {
                throw fail("listen", e.getMessage());
            }
        }

        Path storage = Path.of("./data");
        long maxSize = 0;
        double high = OperationsConfig.DEFAULTS.highWatermark();
        double low = OperationsConfig.DEFAULTS.lowWatermark();
        if (top.has("storage")) {
            ObjectNode s = object(top.get("storage"), "storage");
            checkKeys(s, "storage", STORAGE_KEYS);
            if (s.has("path")) {
                String p = string(s.get("path"), "storage.path");
                if (p.isBlank()) {
                    throw fail("storage.path", "must not be empty");
                }
                storage = Path.of(p);
            }
            if (s.has("maxSize")) {
                maxSize = size(string(s.get("maxSize"), "storage.maxSize"), "storage.maxSize");
            }
            if (s.has("highWatermark")) {
                high = fraction(s.get("highWatermark"), "storage.highWatermark");
            }
            if (s.has("lowWatermark")) {
                low = fraction(s.get("lowWatermark"), "storage.lowWatermark");
            }
            if (low >= high) {
                throw fail("storage.lowWatermark", "must be below storage.highWatermark (" + high + ")");
            }
        }
        Duration unusedFor = null;
        if (top.has("retention")) {
            ObjectNode r = object(top.get("retention"), "retention");
            checkKeys(r, "retention", RETENTION_KEYS);
            if (r.has("unusedFor")) {
                unusedFor = duration(string(r.get("unusedFor"), "retention.unusedFor"), "retention.unusedFor");
                if (unusedFor.isZero()) {
                    throw fail("retention.unusedFor", "must be longer than 0");
                }
            }
        }
        HostPort adminListen = null;
        String adminToken = null;
        if (top.has("admin")) {
            ObjectNode a = object(top.get("admin"), "admin");
            checkKeys(a, "admin", ADMIN_KEYS);
            if (a.has("listen")) {
                try {
                    adminListen = HostPort.parse(string(a.get("listen"), "admin.listen"));
                } catch (IllegalArgumentException e) {
                    throw fail("admin.listen", e.getMessage());
                }
            }
            adminToken = secret(a, "token", "tokenFile", "admin", baseDir);
            if (adminToken != null && adminToken.length() < 16) {
                throw fail("admin.token", "must be at least 16 characters");
            }
        }
        boolean accessLog = true;
        String accessLogPath = "stdout";
        String accessLogLevel = "info";
        if (top.has("accessLog")) {
            ObjectNode l = object(top.get("accessLog"), "accessLog");
            checkKeys(l, "accessLog", ACCESS_LOG_KEYS);
            if (l.has("enabled")) {
                if (!l.get("enabled").isBoolean()) {
                    throw fail("accessLog.enabled", "must be true or false");
                }
                accessLog = l.get("enabled").asBoolean();
            }
            if (l.has("path")) {
                accessLogPath = string(l.get("path"), "accessLog.path");
                if (accessLogPath.isBlank()) {
                    throw fail("accessLog.path", "must be stdout, stderr or a file path");
                }
            }
            if (l.has("level")) {
                accessLogLevel = string(l.get("level"), "accessLog.level");
                if (!Set.of("info", "warn", "error").contains(accessLogLevel)) {
                    throw fail("accessLog.level", "must be info, warn or error, got '" + accessLogLevel + "'");
                }
            }
        }
        String egressProxy = null;
        List<String> noProxy = null;
        if (top.has("egress")) {
            ObjectNode e = object(top.get("egress"), "egress");
            checkKeys(e, "egress", EGRESS_KEYS);
            if (e.has("proxy")) {
                egressProxy = upstream(expand(string(e.get("proxy"), "egress.proxy"), "egress.proxy"), "egress.proxy")
                        .toString();
            }
            if (e.has("noProxy")) {
                noProxy = stringList(e.get("noProxy"), "egress.noProxy");
            }
        }
        OperationsConfig operations = new OperationsConfig(maxSize, high, low, unusedFor, adminListen, adminToken,
                accessLog, accessLogPath, accessLogLevel, egressProxy, noProxy);

        List<ProjectConfig> projects = new ArrayList<>();
        if (top.has("projects")) {
            JsonNode list = top.get("projects");
            if (!list.isArray()) {
                throw fail("projects", "must be a list");
            }
            for (int i = 0; i < list.size(); i++) {
                projects.add(project(list.get(i), "projects[" + i + "]", baseDir));
            }
        }
        checkUnique(projects);

        String defaultProject = null;
        if (top.has("defaultProject") && !top.get("defaultProject").isNull()) {
            defaultProject = string(top.get("defaultProject"), "defaultProject");
            String wanted = defaultProject;
            if (projects.stream().noneMatch(p -> p.name().equals(wanted))) {
                throw fail("defaultProject", "names '" + wanted + "', which is not a configured project");
            }
        }
        return new WharfConfig(listen, storage, defaultProject, projects, source, operations);
    }

    private ProjectConfig project(JsonNode node, String path, Path baseDir) {
        ObjectNode p = object(node, path);
        checkKeys(p, path, PROJECT_KEYS);
        if (!p.has("name")) {
            throw fail(path + ".name", "is required");
        }
        String name = string(p.get("name"), path + ".name");
        if (name.length() > 64 || !PROJECT_NAME.matcher(name).matches()) {
            throw fail(path + ".name", "'" + name + "' must be lower-case letters, digits and . _ - (at most 64)");
        }
        List<URI> upstreams = new ArrayList<>();
        if (p.has("upstream") && p.has("upstreams")) {
            throw fail(path + ".upstreams", "cannot be used together with upstream");
        }
        if (p.has("upstreams")) {
            List<String> list = stringList(p.get("upstreams"), path + ".upstreams");
            if (list.isEmpty()) {
                throw fail(path + ".upstreams", "must list at least one URL");
            }
            for (int i = 0; i < list.size(); i++) {
                upstreams.add(upstream(list.get(i), path + ".upstreams[" + i + "]"));
            }
        } else if (p.has("upstream")) {
            upstreams.add(upstream(string(p.get("upstream"), path + ".upstream"), path + ".upstream"));
        } else {
            throw fail(path + ".upstream", "is required");
        }
        URI upstream = upstreams.get(0);
        List<String> aliases = new ArrayList<>();
        if (p.has("aliases")) {
            JsonNode a = p.get("aliases");
            if (!a.isArray()) {
                throw fail(path + ".aliases", "must be a list of strings");
            }
            for (int i = 0; i < a.size(); i++) {
                String alias = string(a.get(i), path + ".aliases[" + i + "]");
                if (alias.isBlank()) {
                    throw fail(path + ".aliases[" + i + "]", "must not be empty");
                }
                aliases.add(alias.toLowerCase(Locale.ROOT));
            }
        }
        Duration ttl = DEFAULT_TAG_TTL;
        if (p.has("tagTtl")) {
            ttl = duration(string(p.get("tagTtl"), path + ".tagTtl"), path + ".tagTtl");
        }
        Path ca = null;
        if (p.has("caFile")) {
            ca = baseDir.resolve(string(p.get("caFile"), path + ".caFile"));
            if (!Files.isReadable(ca)) {
                throw fail(path + ".caFile", "file " + ca + " is not readable");
            }
        }
        String username = p.has("username") ? expand(string(p.get("username"), path + ".username"), path + ".username") : null;
        // A mounted Kubernetes secret often ends with a newline that is not part of the secret: secret() strips it.
        String password = secret(p, "password", "passwordFile", path, baseDir);
        if (password != null && username == null) {
            throw fail(path + ".username", "is required when a password is set");
        }
        if (username != null && password == null) {
            throw fail(path + ".password", "is required when a username is set (or use passwordFile)");
        }
        boolean insecure = false;
        if (p.has("insecureSkipVerify")) {
            if (!p.get("insecureSkipVerify").isBoolean()) {
                throw fail(path + ".insecureSkipVerify", "must be true or false");
            }
            insecure = p.get("insecureSkipVerify").asBoolean();
        }
        EcrConfig ecr = null;
        if (p.has("ecr")) {
            ObjectNode e = object(p.get("ecr"), path + ".ecr");
            checkKeys(e, path + ".ecr", ECR_KEYS);
            String region = e.has("region") ? string(e.get("region"), path + ".ecr.region") : null;
            URI endpoint = e.has("endpoint")
                    ? upstream(string(e.get("endpoint"), path + ".ecr.endpoint"), path + ".ecr.endpoint") : null;
            String keyId = e.has("accessKeyId")
                    ? expand(string(e.get("accessKeyId"), path + ".ecr.accessKeyId"), path + ".ecr.accessKeyId") : null;
            String secret = e.has("secretAccessKey")
                    ? expand(string(e.get("secretAccessKey"), path + ".ecr.secretAccessKey"), path + ".ecr.secretAccessKey")
                    : null;
            if ((keyId == null) != (secret == null)) {
                throw fail(path + ".ecr", "accessKeyId and secretAccessKey go together");
            }
            ecr = new EcrConfig(region, endpoint, keyId, secret);
        }
        return new ProjectConfig(name, upstream, aliases, ttl, ca, username, password, upstreams, insecure, ecr);
    }

    /** A secret given inline (with ${VAR}) or as a file (trailing newline dropped); null if neither. */
    private String secret(ObjectNode node, String key, String fileKey, String path, Path baseDir) {
        if (node.has(key) && node.has(fileKey)) {
            throw fail(path + "." + fileKey, "cannot be used together with " + key);
        }
        if (node.has(key)) {
            return expand(string(node.get(key), path + "." + key), path + "." + key);
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

    private List<String> stringList(JsonNode node, String key) {
        if (node == null || !node.isArray()) {
            throw fail(key, "must be a list of strings");
        }
        List<String> out = new ArrayList<>();
        for (int i = 0; i < node.size(); i++) {
            out.add(string(node.get(i), key + "[" + i + "]"));
        }
        return out;
    }

    private double fraction(JsonNode node, String key) {
        if (node == null || !node.isNumber() || node.asDouble() <= 0 || node.asDouble() > 1) {
            throw fail(key, "must be a number above 0 and at most 1");
        }
        return node.asDouble();
    }

    /** Parses {@code 512MiB}, {@code 100GiB}, {@code 1TiB}, {@code 10GB} or a plain number of bytes. */
    public static long parseSize(String text) {
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

    private long size(String text, String key) {
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

    /** Replaces {@code ${VAR}} with the environment's value; an unset variable stops start-up. */
    private String expand(String value, String key) {
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

    private URI upstream(String text, String key) {
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

    /** Parses {@code 500ms}, {@code 30s}, {@code 5m}, {@code 1h}, {@code 7d}, or a combination like {@code 1h30m}. */
    public static Duration parseDuration(String text) {
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

    private Duration duration(String text, String key) {
        try {
            return parseDuration(text);
        } catch (IllegalArgumentException | ArithmeticException e) {
            throw fail(key, e.getMessage());
        }
    }

    private void checkUnique(List<ProjectConfig> projects) {
        Set<String> names = new HashSet<>();
        Set<String> aliases = new HashSet<>();
        for (int i = 0; i < projects.size(); i++) {
            ProjectConfig p = projects.get(i);
            if (!names.add(p.name())) {
                throw fail("projects[" + i + "].name", "'" + p.name() + "' is used by two projects");
            }
            for (String a : p.aliases()) {
                if (!aliases.add(a)) {
                    throw fail("projects[" + i + "].aliases", "'" + a + "' is an alias of two projects");
                }
            }
        }
    }

    private ObjectNode object(JsonNode node, String key) {
        if (node == null || !node.isObject()) {
            throw fail(key, "must be a mapping");
        }
        return (ObjectNode) node;
    }

    private String string(JsonNode node, String key) {
        if (node == null || node.isNull() || node.isContainerNode()) {
            throw fail(key, "must be a string");
        }
        return node.asText();
    }

    private void checkKeys(ObjectNode node, String path, Set<String> allowed) {
        Iterator<Map.Entry<String, JsonNode>> it = node.fields();
        while (it.hasNext()) {
            String k = it.next().getKey();
            if (!allowed.contains(k)) {
                String where = path.isEmpty() ? k : path + "." + k;
                throw fail(where, "is not a known key (known here: " + String.join(", ", allowed.stream().sorted().toList()) + ")");
            }
        }
    }

    private ConfigException fail(String key, String message) {
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

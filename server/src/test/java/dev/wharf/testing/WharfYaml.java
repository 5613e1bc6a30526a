package dev.wharf.testing;

import java.net.URI;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;

/**
 * Builds wharf's YAML config for tests, key by key as {@code ConfigLoader} reads them, so no test writes YAML by
 * hand: {@code WharfYaml.config().accessLog(file).project(WharfYaml.project("hub", registry.url()).tagTtl("1h"))}.
 * {@link #toString()} is the whole file; {@link InProcessWharf} and {@link WharfProcess} add {@code listen} and
 * {@code storage.path} themselves when they are not set here. Values are written as YAML double-quoted strings.
 */
public final class WharfYaml {
    private String s3;
    private String listen;
    private Path storage;
    private String maxSize;
    private Double highWatermark;
    private Double lowWatermark;
    private String unusedFor;
    private String defaultProject;
    private String adminListen;
    private String adminToken;
    private Boolean accessLogEnabled;
    private Path accessLogPath;
    private String accessLogLevel;
    private String egressProxy;
    private List<String> noProxy = List.of();
    private final java.util.Map<String, String> limits = new java.util.LinkedHashMap<>();
    private final List<Project> projects = new ArrayList<>();
    private final StringBuilder extra = new StringBuilder();

    private WharfYaml() {
    }

    /** An empty config. */
    public static WharfYaml config() {
        return new WharfYaml();
    }

    /** A config with one project {@code name} pulling from {@code upstream}. */
    public static WharfYaml oneProject(String name, Object upstream) {
        return config().project(project(name, upstream));
    }

    /** One {@code projects:} entry pulling from {@code upstream} (a URI or its text). */
    public static Project project(String name, Object upstream) {
        return new Project(name).upstream(upstream);
    }

    /** One {@code projects:} entry with several {@code upstreams:}, tried in order. */
    public static Project failover(String name, Object... upstreams) {
        Project p = new Project(name);
        for (Object u : upstreams) {
            p.upstreams.add(u.toString());
        }
        return p;
    }

    /** {@code listen:}, e.g. {@code 127.0.0.1:0}. */
    public WharfYaml listen(String hostPort) {
        this.listen = hostPort;
        return this;
    }

    /** {@code storage.path}. */
    public WharfYaml storage(Path path) {
        this.storage = path;
        return this;
    }

    /** {@code storage.s3}: the block {@link SeaweedS3#storageYaml} gives (indented for under {@code storage:}). */
    public WharfYaml s3(String storageS3Block) {
        this.s3 = storageS3Block;
        return this;
    }

    /** {@code storage.maxSize}, {@code storage.highWatermark} and {@code storage.lowWatermark}. */
    public WharfYaml storageBounds(String maxSize, double high, double low) {
        this.maxSize = maxSize;
        this.highWatermark = high;
        this.lowWatermark = low;
        return this;
    }

    /** {@code retention.unusedFor}, e.g. {@code 30d}. */
    public WharfYaml retention(String unusedFor) {
        this.unusedFor = unusedFor;
        return this;
    }

    public WharfYaml defaultProject(String name) {
        this.defaultProject = name;
        return this;
    }

    /** {@code admin.listen}: the admin endpoints on their own address. */
    public WharfYaml adminListen(String hostPort) {
        this.adminListen = hostPort;
        return this;
    }

    /** {@code admin.token}. */
    public WharfYaml adminToken(String token) {
        this.adminToken = token;
        return this;
    }

    /** {@code accessLog.path}. */
    public WharfYaml accessLog(Path path) {
        this.accessLogPath = path;
        return this;
    }

    /** {@code accessLog.level}: info, warn or error. */
    public WharfYaml accessLogLevel(String level) {
        this.accessLogLevel = level;
        return this;
    }

    /** {@code accessLog.enabled}. */
    public WharfYaml accessLogEnabled(boolean enabled) {
        this.accessLogEnabled = enabled;
        return this;
    }

    /** {@code egress.proxy} and {@code egress.noProxy}. */
    public WharfYaml egress(String proxy, String... noProxy) {
        this.egressProxy = proxy;
        this.noProxy = List.of(noProxy);
        return this;
    }

    /** One {@code limits.<key>}, written plain as the docs write it: {@code limit("headerTimeout", "1s")}. */
    public WharfYaml limit(String key, Object value) {
        limits.put(key, value.toString());
        return this;
    }

    public WharfYaml project(Project project) {
        projects.add(project);
        return this;
    }

    /** YAML appended as it is, for what this builder does not cover. */
    public WharfYaml raw(String yaml) {
        extra.append(yaml.endsWith("\n") || yaml.isEmpty() ? yaml : yaml + "\n");
        return this;
    }

    public boolean hasListen() {
        return listen != null;
    }

    public boolean hasStorage() {
        return storage != null;
    }

    /** The YAML file. */
    @Override
    public String toString() {
        StringBuilder y = new StringBuilder();
        if (listen != null) {
            y.append("listen: ").append(listen).append('\n'); // host:port, plain as wharf's docs write it
        }
        if (storage != null || maxSize != null || s3 != null) {
            y.append("storage:\n");
            line(y, "  path", storage);
            plain(y, "  maxSize", maxSize);
            line(y, "  highWatermark", highWatermark);
            line(y, "  lowWatermark", lowWatermark);
            if (s3 != null) {
                y.append(s3);
            }
        }
        if (unusedFor != null) {
            y.append("retention:\n");
            plain(y, "  unusedFor", unusedFor);
        }
        if (adminListen != null || adminToken != null) {
            y.append("admin:\n");
            line(y, "  listen", adminListen);
            line(y, "  token", adminToken);
        }
        if (accessLogEnabled != null || accessLogPath != null || accessLogLevel != null) {
            y.append("accessLog:\n");
            line(y, "  enabled", accessLogEnabled);
            line(y, "  path", accessLogPath);
            line(y, "  level", accessLogLevel);
        }
        if (egressProxy != null) {
            y.append("egress:\n");
            line(y, "  proxy", egressProxy);
            if (!noProxy.isEmpty()) {
                y.append("  noProxy: ").append(list(noProxy)).append('\n');
            }
        }
        if (!limits.isEmpty()) {
            y.append("limits:\n");
            limits.forEach((k, v) -> plain(y, "  " + k, v));
        }
        line(y, "defaultProject", defaultProject);
        if (!projects.isEmpty()) {
            y.append("projects:\n");
            projects.forEach(p -> p.appendTo(y));
        }
        return y.append(extra).toString();
    }

    /** One {@code projects:} entry; a fluent builder. */
    public static final class Project {
        private final String name;
        private String upstream;
        private final List<String> upstreams = new ArrayList<>();
        private List<String> aliases = List.of();
        private String tagTtl;
        private String username;
        private String password;
        private Path passwordFile;
        private Path caFile;
        private Boolean insecureSkipVerify;
        private final List<String> ecr = new ArrayList<>();
        private String visibility;

        private Project(String name) {
            this.name = name;
        }

        private Project upstream(Object url) {
            this.upstream = url instanceof URI u ? u.toString() : url.toString();
            return this;
        }

        public Project aliases(String... names) {
            this.aliases = List.of(names);
            return this;
        }

        /** {@code tagTtl}, as the config writes it: {@code 1h}, {@code 30s}, {@code 1ms}. */
        public Project tagTtl(String ttl) {
            this.tagTtl = ttl;
            return this;
        }

        /** {@code username} and {@code password} for the upstream. */
        public Project credentials(String user, String secret) {
            this.username = user;
            this.password = secret;
            return this;
        }

        /** {@code username} and {@code passwordFile}. */
        public Project credentials(String user, Path secretFile) {
            this.username = user;
            this.passwordFile = secretFile;
            return this;
        }

        /** {@code visibility}: public or private; a project with credentials is written public unless this says. */
        public Project visibility(String v) {
            this.visibility = v;
            return this;
        }

        public Project caFile(Path pem) {
            this.caFile = pem;
            return this;
        }

        public Project insecureSkipVerify(boolean skip) {
            this.insecureSkipVerify = skip;
            return this;
        }

        /** The {@code ecr:} block; null values are left out (an empty block when all are null). */
        public Project ecr(String region, Object endpoint, String accessKeyId, String secretAccessKey) {
            ecr.clear();
            ecr.add(region == null ? null : "region: " + quote(region));
            ecr.add(endpoint == null ? null : "endpoint: " + quote(endpoint.toString()));
            ecr.add(accessKeyId == null ? null : "accessKeyId: " + quote(accessKeyId));
            ecr.add(secretAccessKey == null ? null : "secretAccessKey: " + quote(secretAccessKey));
            ecr.removeIf(java.util.Objects::isNull);
            ecr.add(0, "");
            return this;
        }

        private void appendTo(StringBuilder y) {
            y.append("  - name: ").append(quote(name)).append('\n');
            line(y, "    upstream", upstream);
            if (!upstreams.isEmpty()) {
                y.append("    upstreams: ").append(list(upstreams)).append('\n');
            }
            if (!aliases.isEmpty()) {
                y.append("    aliases: ").append(list(aliases)).append('\n');
            }
            plain(y, "    tagTtl", tagTtl);
            line(y, "    username", username);
            line(y, "    password", password);
            line(y, "    passwordFile", passwordFile);
            line(y, "    caFile", caFile);
            line(y, "    insecureSkipVerify", insecureSkipVerify);
            // Tests of upstream credentials run without client auth: such a project is private by default, and
            // start-up would stop without auth.
            line(y, "    visibility", visibility != null ? visibility
                    : username != null || !ecr.isEmpty() ? "public" : null);
            if (!ecr.isEmpty()) {
                y.append("    ecr: {").append(String.join(", ", ecr.subList(1, ecr.size()))).append("}\n");
            }
        }
    }

    private static void line(StringBuilder y, String key, Object value) {
        if (value == null) {
            return;
        }
        y.append(key).append(": ");
        y.append(value instanceof Boolean || value instanceof Number ? value.toString() : quote(value.toString()));
        y.append('\n');
    }

    /** A size or duration ({@code 8MiB}, {@code 5m}) as a plain scalar, the way the config docs write them. */
    private static void plain(StringBuilder y, String key, String value) {
        if (value != null) {
            y.append(key).append(": ").append(value).append('\n');
        }
    }

    private static String list(List<String> values) {
        return "[" + String.join(", ", values.stream().map(WharfYaml::quote).toList()) + "]";
    }

    /** A YAML double-quoted string. */
    static String quote(String value) {
        return '"' + value.replace("\\", "\\\\").replace("\"", "\\\"") + '"';
    }
}

package dev.wharf.server.config;

import com.fasterxml.jackson.databind.node.ObjectNode;
import java.io.ByteArrayInputStream;
import java.io.IOException;
import java.io.InputStream;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.time.Duration;
import java.util.List;
import java.util.Set;
import dev.wharf.server.net.Transport;
import java.util.function.Function;

/**
 * Reads the YAML config into immutable records: the entry point for a config file, the embedded defaults or
 * YAML text in tests. Every unknown key and every bad value stops start-up with a message naming the key (as a
 * path such as {@code projects[2].tagTtl}) and the file.
 *
 * <p>This class reads the top level ({@code listen}, {@code defaultProject}) and hands each section to its
 * reader: {@link OperationsReader} for storage, retention, admin, access log and egress, {@link ProjectsReader}
 * for the projects, {@link RewriteReader} for the admission webhook's rules, {@link LimitsReader} for
 * {@code limits}, {@link TlsReader} for {@code tls} and {@link AuthReader} for {@code auth}.
 * {@link ConfigReader} reads the typed values beneath them all. A new top-level section adds its key to
 * {@code TOP_KEYS} and a reader of its own.
 */
public final class ConfigLoader {
    /** Resource holding the embedded defaults used when no config file is given. */
    public static final String DEFAULTS_RESOURCE = "/wharf-defaults.yaml";

    private static final Set<String> TOP_KEYS = Set.of("listen", "storage", "defaultProject", "projects",
            "retention", "admin", "accessLog", "egress", "rewrite", "limits", "tls", "auth", "transport",
            "cluster");

    private final String source;
    private final Function<String, String> env;

    private ConfigLoader(String source) {
        this(source, System::getenv);
    }

    private ConfigLoader(String source, Function<String, String> env) {
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
    public static WharfConfig parse(String yaml, String source, Function<String, String> env) {
        try {
            return new ConfigLoader(source, env).parse(new ByteArrayInputStream(
                    yaml.getBytes(StandardCharsets.UTF_8)), Path.of("."));
        } catch (IOException e) {
            throw new ConfigException(source + ": " + e.getMessage());
        }
    }

    /** Parses {@code 512MiB}, {@code 100GiB}, {@code 1TiB}, {@code 10GB} or a plain number of bytes. */
    public static long parseSize(String text) {
        return ConfigReader.parseSize(text);
    }

    /** Parses {@code 500ms}, {@code 30s}, {@code 5m}, {@code 1h}, {@code 7d}, or a combination like {@code 1h30m}. */
    public static Duration parseDuration(String text) {
        return ConfigReader.parseDuration(text);
    }

    private WharfConfig parse(InputStream in, Path baseDir) throws IOException {
        ConfigReader values = new ConfigReader(source, env, baseDir);
        ObjectNode top = values.document(in);
        values.checkKeys(top, "", TOP_KEYS);

        HostPort listen = top.has("listen")
                ? values.hostPort(top.get("listen"), "listen") : new HostPort("0.0.0.0", 5000);
        OperationsReader operationsReader = new OperationsReader(values);
        OperationsReader.Storage storage = operationsReader.storage(top);
        OperationsConfig operations = operationsReader.operations(top, storage);
        List<ProjectConfig> projects = new ProjectsReader(values).projects(top);
        LimitsConfig limits = new LimitsReader(values).limits(top);
        RewriteConfig rewrite = new RewriteReader(values).rewrite(top);

        String defaultProject = null;
        if (top.has("defaultProject") && !top.get("defaultProject").isNull()) {
            defaultProject = values.string(top.get("defaultProject"), "defaultProject");
            String wanted = defaultProject;
            if (projects.stream().noneMatch(p -> p.name().equals(wanted))) {
                throw values.fail("defaultProject", "names '" + wanted + "', which is not a configured project");
            }
        }
        TlsConfig tls = new TlsReader(values).tls(top);
        AuthReader authReader = new AuthReader(values);
        AuthConfig auth = authReader.auth(top);
        authReader.checkPrivateProjects(projects, auth);
        boolean adminListenGiven = top.has("admin") && top.get("admin").has("listen");
        if (auth != null && !adminListenGiven) {
            // With auth on, /metrics and /api/v1 leave the public port unless admin.listen says where they go.
            operations = operations.withAdminListen(OperationsConfig.DEFAULT_ADMIN_LISTEN);
        }
        String transport = "auto";
        if (top.has("transport")) {
            transport = values.string(top.get("transport"), "transport");
            if (!Transport.CHOICES.contains(transport)) {
                throw values.fail("transport", "must be one of auto, epoll, nio");
            }
        }
        ClusterConfig cluster = new ClusterReader(values).cluster(top);
        return new WharfConfig(listen, storage.path(), defaultProject, projects, source, operations, rewrite,
                limits, tls, auth, transport, storage.s3(), cluster);
    }
}

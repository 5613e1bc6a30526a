package dev.wharf.testing;

import java.io.IOException;
import java.io.UncheckedIOException;
import java.net.URI;
import java.net.http.HttpClient;
import java.net.http.HttpRequest;
import java.net.http.HttpResponse;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.time.Duration;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.Objects;

/**
 * wharf itself as a child JVM, started the way users start it ({@code serve --config FILE}) with a config
 * generated from a small builder, on a free 127.0.0.1 port and a temp storage directory.
 *
 * <p>By default it runs {@code java -cp <this JVM's class path> dev.wharf.server.app.Main}: in {@code mvn test}
 * the test class path already holds the server classes, while the shaded jar only exists after
 * {@code package}. {@link Launch#JAR} runs {@code server/target/wharf.jar} (built with
 * {@code mvn -q -DskipTests package} if missing) and {@link Launch#LAUNCHER} the repository's {@code ./wharf}
 * script (JVM args through {@code JAVA_OPTS}; the script execs the JVM, so the PID is the server's).
 */
public final class WharfProcess implements AutoCloseable {
    private static final String MAIN_CLASS = "dev.wharf.server.app.Main";

    private final Builder settings;
    private final Path dir;
    private final Path storage;
    private final boolean ownsStorage;
    private final Path configFile;
    private final Path logFile;
    private final int port;
    private final HttpClient http = HttpClient.newBuilder()
            .version(HttpClient.Version.HTTP_1_1)
            .connectTimeout(Duration.ofSeconds(1))
            .build();
    private ChildProcess process;

    /** How the JVM is started. */
    public enum Launch {
        /** {@code java -cp <test class path> dev.wharf.server.app.Main}: works during {@code mvn test}. */
        CLASSPATH,
        /** {@code java -jar server/target/wharf.jar}, building it first if missing. */
        JAR,
        /** The repository root's {@code ./wharf} launcher. */
        LAUNCHER
    }

    /** One {@code projects:} entry of the config. */
    public record Project(String name, String upstream, List<String> aliases, Duration tagTtl) {
        public Project {
            Objects.requireNonNull(name);
            Objects.requireNonNull(upstream);
            aliases = List.copyOf(aliases);
        }

        /** A project with no aliases and the server's default tag TTL. */
        public static Project of(String name, String upstream) {
            return new Project(name, upstream, List.of(), null);
        }

        /** A project with no aliases and the server's default tag TTL. */
        public static Project of(String name, URI upstream) {
            return of(name, upstream.toString());
        }

        /** This project with these {@code aliases} (extra {@code ?ns=} values). */
        public Project withAliases(String... names) {
            return new Project(name, upstream, List.of(names), tagTtl);
        }

        /** This project with a {@code tagTtl}. */
        public Project withTagTtl(Duration ttl) {
            return new Project(name, upstream, aliases, ttl);
        }
    }

    /** Settings for a wharf to start. */
    public static Builder builder() {
        return new Builder();
    }

    /** Options for {@link WharfProcess}; call {@link #start()} last. The builder can start several servers. */
    public static final class Builder {
        private final List<Project> projects = new ArrayList<>();
        private final List<String> jvmArgs = new ArrayList<>();
        private final List<String> serveArgs = new ArrayList<>();
        private final Map<String, String> env = new LinkedHashMap<>();
        private String defaultProject;
        private Path storage;
        private int port;
        private String s3;
        private String extraYaml = "";
        private Path configFile;
        private Launch launch = Launch.CLASSPATH;
        private Duration readyTimeout = Duration.ofSeconds(60);
        private Duration stopTimeout = Duration.ofSeconds(15);

        private Builder() {
        }

        /** Adds a project. */
        public Builder project(Project project) {
            projects.add(project);
            return this;
        }

        /** Adds a project with no aliases and the default tag TTL. */
        public Builder project(String name, URI upstream) {
            return project(Project.of(name, upstream));
        }

        /** {@code defaultProject:}. */
        public Builder defaultProject(String name) {
            this.defaultProject = name;
            return this;
        }

        /** {@code storage.path:}; default a fresh temp directory deleted on close. A given one is kept. */
        public Builder storage(Path path) {
            this.storage = path;
            return this;
        }

        /** The port in {@code listen: 127.0.0.1:<port>}; default a free one. */
        public Builder port(int port) {
            this.port = port;
            return this;
        }

        /** JVM options, e.g. {@code -Xmx128m}. */
        public Builder jvmArgs(String... args) {
            jvmArgs.addAll(Arrays.asList(args));
            return this;
        }

        /** Extra arguments after {@code serve --config FILE}. */
        public Builder serveArgs(String... args) {
            serveArgs.addAll(Arrays.asList(args));
            return this;
        }

        /** An environment variable for the server process. */
        public Builder env(String name, String value) {
            env.put(name, value);
            return this;
        }

        /** {@code storage.s3}: the block {@link SeaweedS3#storageYaml} gives. */
        public Builder s3(String storageS3Block) {
            this.s3 = storageS3Block;
            return this;
        }

        /** Top-level YAML appended verbatim to the generated config (for keys this builder lacks). */
        public Builder extraYaml(String yaml) {
            this.extraYaml = yaml.endsWith("\n") || yaml.isEmpty() ? yaml : yaml + "\n";
            return this;
        }

        /**
         * Everything but {@code listen} and {@code storage}, from the YAML builder (appended like {@link
         * #extraYaml(String)}, so it must not set those two).
         */
        public Builder config(WharfYaml yaml) {
            return extraYaml(yaml.toString());
        }

        /**
         * Uses this config file as it is instead of generating one. The server must still listen on
         * 127.0.0.1 at {@link #port(int)}, which then has to be set.
         */
        public Builder configFile(Path file) {
            this.configFile = file;
            return this;
        }

        /** How to start the JVM (default {@link Launch#CLASSPATH}). */
        public Builder launch(Launch how) {
            this.launch = how;
            return this;
        }

        /** How long to wait for {@code GET /v2/} to answer 200 (default 60 s). */
        public Builder readyTimeout(Duration timeout) {
            this.readyTimeout = timeout;
            return this;
        }

        /** How long {@link WharfProcess#close()} waits after SIGTERM before SIGKILL (default 15 s). */
        public Builder stopTimeout(Duration timeout) {
            this.stopTimeout = timeout;
            return this;
        }

        /** The YAML config this builder generates for {@code port} and {@code storagePath}. */
        public String configYaml(int listenPort, Path storagePath) {
            WharfYaml yaml = WharfYaml.config().listen("127.0.0.1:" + listenPort).storage(storagePath)
                    .defaultProject(defaultProject).s3(s3);
            for (Project p : projects) {
                yaml.project(WharfYaml.project(p.name(), p.upstream()).aliases(p.aliases().toArray(String[]::new))
                        .tagTtl(p.tagTtl() == null ? null : duration(p.tagTtl())));
            }
            return yaml.raw(extraYaml).toString();
        }

        /** Starts wharf and waits until {@code GET /v2/} answers 200. */
        public WharfProcess start() {
            try {
                return new WharfProcess(this);
            } catch (IOException e) {
                throw new UncheckedIOException(e);
            }
        }

        /**
         * Runs {@code serve} with this configuration expecting it to exit by itself (a bad config, say) within
         * {@code timeout}; returns its exit code and output. Fails if it is still running then (it is killed).
         */
        public Exec.Result runExpectingExit(Duration timeout) {
            try {
                Path tmp = Files.createTempDirectory("wharf-run");
                try {
                    int listenPort = port != 0 ? port : Ports.free();
                    Path config = configFile != null ? configFile : tmp.resolve("wharf.yaml");
                    if (configFile == null) {
                        Path store = storage != null ? storage : Files.createDirectories(tmp.resolve("storage"));
                        Files.writeString(config, configYaml(listenPort, store), StandardCharsets.UTF_8);
                    }
                    List<String> command = command(config);
                    Path log = tmp.resolve("wharf.log");
                    ChildProcess child = ChildProcess.start(command, log, launchEnv(), repoRoot());
                    boolean exited = child.awaitExit(timeout);
                    if (!exited) {
                        child.kill();
                    }
                    String output = Files.readString(log, StandardCharsets.UTF_8);
                    return new Exec.Result(command, exited ? child.exitCode() : -1, output, !exited);
                } finally {
                    ChildProcess.deleteTree(tmp);
                }
            } catch (IOException e) {
                throw new UncheckedIOException(e);
            }
        }

        private List<String> command(Path config) {
            List<String> command = new ArrayList<>();
            switch (launch) {
                case CLASSPATH:
                    command.add(javaBinary());
                    command.addAll(jvmArgs);
                    command.add("-cp");
                    command.add(testClassPath());
                    command.add(MAIN_CLASS);
                    break;
                case JAR:
                    command.add(javaBinary());
                    command.addAll(jvmArgs);
                    command.add("-jar");
                    command.add(shadedJar().toString());
                    break;
                case LAUNCHER:
                    Path launcher = repoRoot().resolve("wharf");
                    if (!Files.isExecutable(launcher)) {
                        throw new AssertionError("the ./wharf launcher is missing or not executable: " + launcher);
                    }
                    command.add(launcher.toString());
                    break;
                default:
                    throw new IllegalStateException(launch.toString());
            }
            command.add("serve");
            command.add("--config");
            command.add(config.toString());
            command.addAll(serveArgs);
            return command;
        }

        private Map<String, String> launchEnv() {
            Map<String, String> all = new LinkedHashMap<>(env);
            if (launch == Launch.LAUNCHER && !jvmArgs.isEmpty()) {
                all.put("JAVA_OPTS", String.join(" ", jvmArgs));
            }
            return all;
        }
    }

    private WharfProcess(Builder settings) throws IOException {
        this.settings = settings;
        this.dir = Files.createTempDirectory("wharf-server");
        this.ownsStorage = settings.storage == null;
        this.storage = ownsStorage ? Files.createDirectories(dir.resolve("storage")) : settings.storage;
        this.logFile = dir.resolve("wharf.log");
        if (settings.configFile != null) {
            if (settings.port == 0) {
                throw new IllegalArgumentException("configFile(...) needs port(...) too, to know where wharf listens");
            }
            this.port = settings.port;
            this.configFile = settings.configFile;
        } else {
            this.port = settings.port != 0 ? settings.port : Ports.free();
            this.configFile = dir.resolve("wharf.yaml");
            Files.writeString(configFile, settings.configYaml(port, storage), StandardCharsets.UTF_8);
        }
        try {
            launch();
        } catch (RuntimeException | Error e) {
            close();
            throw e;
        }
    }

    private void launch() {
        List<String> command = settings.command(configFile);
        process = ChildProcess.start(command, logFile, settings.launchEnv(), repoRoot());
        URI ping = URI.create(url() + "/v2/");
        process.awaitReady("wharf on port " + port, settings.readyTimeout, () -> answers200(ping));
    }

    private boolean answers200(URI uri) {
        try {
            HttpResponse<Void> response = http.send(
                    HttpRequest.newBuilder(uri).timeout(Duration.ofSeconds(2)).GET().build(),
                    HttpResponse.BodyHandlers.discarding());
            return response.statusCode() == 200;
        } catch (IOException e) {
            return false;
        } catch (InterruptedException e) {
            Thread.currentThread().interrupt();
            return false;
        }
    }

    /** {@code http://127.0.0.1:PORT}, without a trailing slash. */
    public URI url() {
        return URI.create("http://" + hostPort());
    }

    /** {@code 127.0.0.1:PORT}. */
    public String hostPort() {
        return "127.0.0.1:" + port;
    }

    /** The port wharf listens on. */
    public int port() {
        return port;
    }

    /** The server JVM's PID. */
    public long pid() {
        return process.pid();
    }

    /** Whether the server process is running. */
    public boolean isAlive() {
        return process != null && process.isAlive();
    }

    /** The storage directory in the config. */
    public Path storage() {
        return storage;
    }

    /** The config file the server was started with. */
    public Path configFile() {
        return configFile;
    }

    /** The server's stdout and stderr. */
    public Path logFile() {
        return logFile;
    }

    /** The server's output so far. */
    public String log() {
        try {
            return Files.readString(logFile, StandardCharsets.UTF_8);
        } catch (IOException e) {
            throw new UncheckedIOException(e);
        }
    }

    /** SIGKILL (destroyForcibly) and wait until the process is gone; storage and config stay. */
    public void kill9() {
        if (process != null && process.isAlive()) {
            process.kill();
        }
    }

    /** SIGTERM, SIGKILL after the stop timeout; returns the exit code. Storage and config stay. */
    public int stop() {
        return process.stop(settings.stopTimeout);
    }

    /** Starts the server again (after {@link #stop()} or {@link #kill9()}) with the same config, port and storage. */
    public void restart() {
        if (process != null && process.isAlive()) {
            stop();
        }
        launch();
    }

    /** Stops the server (SIGTERM, then SIGKILL after the stop timeout) and deletes its temp files. */
    @Override
    public void close() {
        try {
            if (process != null && process.isAlive()) {
                process.stop(settings.stopTimeout);
            }
        } finally {
            ChildProcess.deleteTree(dir);
        }
    }

    @Override
    public String toString() {
        return "WharfProcess[" + url() + ", pid " + (process == null ? "-" : process.pid()) + "]";
    }

    // ---------------------------------------------------------------------------------------------- helpers

    private static String javaBinary() {
        return Path.of(System.getProperty("java.home"), "bin", "java").toString();
    }

    /**
     * The class path of this test JVM. Surefire may run tests from a manifest-only booter jar; it then puts the
     * real class path in {@code surefire.test.class.path} (and usually back into {@code java.class.path}).
     */
    static String testClassPath() {
        String surefire = System.getProperty("surefire.test.class.path");
        if (surefire != null && !surefire.isBlank()) {
            return surefire;
        }
        return System.getProperty("java.class.path");
    }

    /** The repository root: the nearest directory up from the working directory holding server/pom.xml. */
    public static Path repoRoot() {
        Path at = Path.of(System.getProperty("user.dir")).toAbsolutePath();
        for (Path p = at; p != null; p = p.getParent()) {
            if (Files.isRegularFile(p.resolve("server/pom.xml")) && Files.isRegularFile(p.resolve("pom.xml"))) {
                return p;
            }
        }
        throw new AssertionError("cannot find the wharf repository root above " + at);
    }

    /** server/target/wharf.jar, built with {@code mvn -q -B -DskipTests package} (at most 10 min) if missing. */
    public static Path shadedJar() {
        Path root = repoRoot();
        Path jar = root.resolve("server/target/wharf.jar");
        if (!Files.isRegularFile(jar)) {
            Exec.run(Duration.ofMinutes(10), Map.of(), root, List.of("mvn", "-q", "-B", "-DskipTests", "package"))
                    .orFail();
            if (!Files.isRegularFile(jar)) {
                throw new AssertionError("mvn package did not produce " + jar);
            }
        }
        return jar;
    }


    /** A duration as the config writes it: {@code 2h}, {@code 5m}, {@code 30s}, {@code 1500ms}. */
    static String duration(Duration d) {
        long ms = d.toMillis();
        if (ms % 3_600_000 == 0 && ms != 0) {
            return ms / 3_600_000 + "h";
        }
        if (ms % 60_000 == 0 && ms != 0) {
            return ms / 60_000 + "m";
        }
        if (ms % 1000 == 0) {
            return ms / 1000 + "s";
        }
        return ms + "ms";
    }
}

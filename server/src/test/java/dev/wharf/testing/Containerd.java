package dev.wharf.testing;

import java.io.IOException;
import java.io.UncheckedIOException;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.time.Duration;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.List;
import java.util.Map;
import java.util.stream.Collectors;
import java.util.stream.Stream;

/**
 * A private containerd daemon for one test: its own root, state, socket and config under a temp directory,
 * with the CRI plugin (and the snapshotters that need special filesystems) disabled, so it touches nothing
 * of the machine's own containerd. {@code ctr} talks to it through {@code --address}.
 *
 * <p>Snapshotter: {@code overlayfs} when the daemon reports that plugin as loaded ({@code ctr plugins ls}
 * says {@code ok}), else {@code native}, which needs no overlay mounts; {@link Builder#snapshotter} forces
 * one. Pulls are plain {@code ctr images pull}, which fetches and then unpacks for the host platform.
 */
public final class Containerd implements AutoCloseable {
    private static final Duration START_TIMEOUT = Duration.ofSeconds(30);

    private final Path dir;
    private final Path root;
    private final Path socket;
    private final Path config;
    private final String namespace;
    private final Duration pullTimeout;
    private final ChildProcess process;
    private final String snapshotter;

    private Containerd(Builder settings) throws IOException {
        Tools.require("containerd");
        Tools.require("ctr");
        // A unix socket path must stay under 108 bytes: keep the directory short and under /tmp.
        this.dir = Files.createTempDirectory(Path.of("/tmp"), "wharf-ctd");
        this.root = dir.resolve("root");
        this.socket = dir.resolve("containerd.sock");
        this.config = dir.resolve("config.toml");
        this.namespace = settings.namespace;
        this.pullTimeout = settings.pullTimeout;
        Files.writeString(config, configToml(), StandardCharsets.UTF_8);
        this.process = ChildProcess.start(
                List.of(Tools.require("containerd").toString(), "--config", config.toString(), "--log-level", "info"),
                dir.resolve("containerd.log"), Map.of(), dir);
        try {
            process.awaitReady("containerd", START_TIMEOUT,
                    () -> Files.exists(socket) && ctr(Duration.ofSeconds(5), "version").ok());
            this.snapshotter = settings.snapshotter != null ? settings.snapshotter : pickSnapshotter();
        } catch (RuntimeException | Error e) {
            close();
            throw e;
        }
    }

    /** Starts a private containerd with the default settings. */
    public static Containerd start() {
        return builder().start();
    }

    /** Settings for a containerd to start. */
    public static Builder builder() {
        return new Builder();
    }

    /** Options for {@link Containerd}; call {@link #start()} last. */
    public static final class Builder {
        private String snapshotter;
        private String namespace = "wharf-test";
        private Duration pullTimeout = Duration.ofMinutes(5);

        private Builder() {
        }

        /** Forces a snapshotter ({@code overlayfs} or {@code native}) instead of probing. */
        public Builder snapshotter(String name) {
            this.snapshotter = name;
            return this;
        }

        /** The containerd namespace ctr works in (default {@code wharf-test}). */
        public Builder namespace(String name) {
            this.namespace = name;
            return this;
        }

        /** How long one {@link #pull} may take before it is stopped (default 5 minutes). */
        public Builder pullTimeout(Duration timeout) {
            this.pullTimeout = timeout;
            return this;
        }

        /** Starts the daemon and waits (at most 30 s) until {@code ctr version} answers. */
        public Containerd start() {
            try {
                return new Containerd(this);
            } catch (IOException e) {
                throw new UncheckedIOException(e);
            }
        }
    }

    private String configToml() {
        return "version = 2\n"
                + "root = \"" + root + "\"\n"
                + "state = \"" + dir.resolve("state") + "\"\n"
                + "disabled_plugins = [\"io.containerd.grpc.v1.cri\", \"io.containerd.snapshotter.v1.aufs\","
                + " \"io.containerd.snapshotter.v1.btrfs\", \"io.containerd.snapshotter.v1.devmapper\","
                + " \"io.containerd.snapshotter.v1.zfs\"]\n"
                + "\n[grpc]\n  address = \"" + socket + "\"\n"
                + "\n[ttrpc]\n  address = \"" + socket + ".ttrpc\"\n"
                + "\n[debug]\n  address = \"\"\n"
                + "\n[metrics]\n  address = \"\"\n"
                + "\n[plugins]\n"
                + "  [plugins.\"io.containerd.internal.v1.opt\"]\n    path = \"" + dir.resolve("opt") + "\"\n";
    }

    private String pickSnapshotter() {
        Exec.Result plugins = ctr(Duration.ofSeconds(10), "plugins", "ls").orFail();
        boolean overlay = plugins.output().lines()
                .anyMatch(line -> line.contains("io.containerd.snapshotter.v1") && line.contains(" overlayfs ")
                        && line.trim().endsWith("ok"));
        return overlay ? "overlayfs" : "native";
    }

    /**
     * Runs {@code ctr --address SOCK --namespace NS images pull --snapshotter S [--hosts-dir DIR] EXTRA... REF}
     * (bounded by the pull timeout). Extra flags go before the reference, where ctr reads them.
     *
     * @param hostsDir a containerd hosts directory ({@code <dir>/<host[:port]>/hosts.toml}), or null for none
     */
    public Exec.Result pull(String ref, Path hostsDir, String... extraArgs) {
        List<String> args = new ArrayList<>(List.of("images", "pull", "--snapshotter", snapshotter));
        if (hostsDir != null) {
            args.add("--hosts-dir");
            args.add(hostsDir.toString());
        }
        args.addAll(Arrays.asList(extraArgs));
        args.add(ref);
        return ctr(pullTimeout, args.toArray(String[]::new));
    }

    /** Runs any {@code ctr} subcommand against this daemon and namespace. */
    public Exec.Result ctr(Duration timeout, String... args) {
        List<String> command = new ArrayList<>(List.of(Tools.require("ctr").toString(),
                "--address", socket.toString(), "--namespace", namespace));
        command.addAll(Arrays.asList(args));
        return Exec.run(timeout, Map.of(), null, command);
    }

    /**
     * Removes an image and, synchronously, the content and snapshots no longer referenced, so the next pull
     * of it fetches everything again.
     */
    public Exec.Result removeImage(String ref) {
        return ctr(Duration.ofSeconds(60), "images", "rm", "--sync", ref);
    }

    /** The image references this namespace holds. */
    public List<String> images() {
        return ctr(Duration.ofSeconds(30), "images", "ls", "-q").orFail().output().lines()
                .map(String::trim).filter(s -> !s.isEmpty()).collect(Collectors.toList());
    }

    /** The digests of the content blobs this daemon holds. */
    public List<String> contentDigests() {
        return ctr(Duration.ofSeconds(30), "content", "ls", "-q").orFail().output().lines()
                .map(String::trim).filter(s -> !s.isEmpty()).collect(Collectors.toList());
    }

    /**
     * Files named {@code relativePath} (e.g. {@code wharf/image.txt}) inside any unpacked snapshot: proof
     * that a layer was really unpacked.
     */
    public List<Path> findUnpackedFiles(String relativePath) {
        Path snapshots = root.resolve("io.containerd.snapshotter.v1." + snapshotter).resolve("snapshots");
        if (!Files.isDirectory(snapshots)) {
            return List.of();
        }
        try (Stream<Path> paths = Files.walk(snapshots)) {
            return paths.filter(p -> p.toString().endsWith("/" + relativePath) && Files.isRegularFile(p))
                    .sorted().collect(Collectors.toList());
        } catch (IOException e) {
            throw new UncheckedIOException(e);
        }
    }

    /**
     * Writes {@code <hostsDir>/<hostNamespace>/hosts.toml} with {@code content}; {@code hostNamespace} is the
     * registry host the image references name ({@code docker.io}, {@code 127.0.0.1:5000}, {@code _default}).
     */
    public static Path writeHostsToml(Path hostsDir, String hostNamespace, String content) {
        try {
            Path file = Files.createDirectories(hostsDir.resolve(hostNamespace)).resolve("hosts.toml");
            Files.writeString(file, content, StandardCharsets.UTF_8);
            return file;
        } catch (IOException e) {
            throw new UncheckedIOException(e);
        }
    }

    /**
     * A hosts.toml that sends everything for a namespace to one plain-HTTP host, with pull and resolve:
     * {@code server = "<url>"} and {@code [host."<url>"] capabilities = ["pull", "resolve"]}.
     */
    public static String plainHttpHostsToml(String url) {
        return "server = \"" + url + "\"\n\n[host.\"" + url + "\"]\n  capabilities = [\"pull\", \"resolve\"]\n";
    }

    /** The snapshotter in use: {@code overlayfs} or {@code native}. */
    public String snapshotter() {
        return snapshotter;
    }

    /** The daemon's gRPC socket. */
    public Path socket() {
        return socket;
    }

    /** The daemon's root directory (content store, snapshots, metadata). */
    public Path root() {
        return root;
    }

    /** The namespace ctr commands use. */
    public String namespace() {
        return namespace;
    }

    /** The daemon's PID. */
    public long pid() {
        return process.pid();
    }

    /** The daemon's log. */
    public Path logFile() {
        return process.logFile();
    }

    /** Stops the daemon by PID (SIGTERM, SIGKILL after 15 s) and deletes its temp directory. */
    @Override
    public void close() {
        try {
            if (process != null && process.isAlive()) {
                process.stop(Duration.ofSeconds(15));
            }
        } finally {
            ChildProcess.deleteTree(dir);
        }
    }
}

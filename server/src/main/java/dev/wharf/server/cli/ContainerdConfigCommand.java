package dev.wharf.server.cli;

import dev.wharf.server.config.ConfigException;
import dev.wharf.server.config.ConfigLoader;
import dev.wharf.server.config.WharfConfig;
import java.io.IOException;
import java.io.PrintStream;
import java.net.URI;
import java.net.URISyntaxException;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.nio.file.StandardCopyOption;
import java.util.concurrent.Callable;
import picocli.CommandLine.Command;
import picocli.CommandLine.Option;

/**
 * {@code wharf containerd-config --url URL [--ca FILE] [--config FILE] --out DIR [--dry-run]}: writes the containerd
 * hosts directory ({@code config_path}, e.g. /etc/containerd/certs.d) that sends a node's pulls through wharf (see
 * {@link ContainerdHosts} for what each file says). Each file is written to a temp file and renamed into place:
 * containerd reads hosts.toml on every pull, without a restart, and must never see half a file.
 */
@Command(name = "containerd-config", mixinStandardHelpOptions = true, versionProvider = WharfVersion.class,
        synopsisHeading = "usage: ", customSynopsis = ContainerdConfigCommand.USAGE,
        description = {"Write containerd's hosts directory (hosts.toml files) for wharf.",
                "DIR/<registry host>/hosts.toml for every "
                + "registry host a project stands for (routed by project path, with the registry itself as the "
                + "fallback server), and DIR/_default/hosts.toml for the others (routed by ?ns=).",
                "Point containerd at DIR: config_path = \"DIR\" under [plugins.\"io.containerd.grpc.v1.cri\"."
                        + "registry] (containerd 1.x), or ctr images pull --hosts-dir DIR."})
public final class ContainerdConfigCommand implements Callable<Integer> {
    public static final String USAGE =
            "wharf containerd-config --url URL [--ca FILE] [--config FILE] --out DIR [--dry-run]";

    private final Streams io;

    @Option(names = "--url", paramLabel = "URL", required = true,
            description = "wharf as the nodes reach it: http(s)://HOST[:PORT]")
    private String url;

    @Option(names = "--ca", paramLabel = "FILE", description = "the CA that signed wharf's certificate, as the "
            + "nodes see its path (wharf tls init writes ca.crt)")
    private String ca;

    @Option(names = "--config", paramLabel = "FILE", description = "wharf's config (default: the embedded defaults)")
    private Path config;

    @Option(names = "--out", paramLabel = "DIR", required = true, description = "the hosts directory to write")
    private Path out;

    @Option(names = "--dry-run", description = "print the files and their paths; write nothing")
    private boolean dryRun;

    ContainerdConfigCommand(Streams io) {
        this.io = io;
    }

    @Override
    public Integer call() throws Exception {
        String wharfUrl = parseUrl(url);
        if (ca != null && ca.isBlank()) {
            throw new UsageError("--ca needs a file name");
        }
        WharfConfig wharf;
        try {
            wharf = config == null ? ConfigLoader.defaults() : ConfigLoader.load(config);
        } catch (ConfigException e) {
            throw new UsageError(e.getMessage());
        }
        if (ca != null && !dryRun && !Files.isRegularFile(Path.of(ca))) {
            // Only a warning: the path is the nodes' view, which may not be this machine's.
            io.err().println("wharf containerd-config: warning: --ca " + ca + " is not a file on this machine");
        }
        ContainerdHosts.Tree tree = ContainerdHosts.generate(wharf, wharfUrl, ca);
        for (ContainerdHosts.Conflict c : tree.conflicts()) {
            io.err().println("wharf containerd-config: " + c.host() + " is claimed by projects '" + c.winner()
                    + "' and '" + c.loser() + "'; it goes to '" + c.winner() + "', as wharf's ?ns= routing does");
        }
        PrintStream o = io.out();
        Path base = out.toAbsolutePath().normalize();
        for (ContainerdHosts.HostsFile f : tree.files()) {
            Path file = base.resolve(f.namespace()).resolve("hosts.toml");
            if (dryRun) {
                o.println("==> " + file + " <==");
                o.println(f.toml());
            } else {
                write(file, f.toml());
                o.println("wrote " + file);
            }
        }
        if (!dryRun) {
            o.println("containerd uses them with config_path = \"" + base + "\" (CRI), or ctr images pull "
                    + "--hosts-dir " + base);
        }
        return 0;
    }

    /** {@code scheme://host[:port]}; a path (other than "/"), query or user info is an error. */
    static String parseUrl(String text) throws UsageError {
        URI u;
        try {
            u = new URI(text);
        } catch (URISyntaxException e) {
            throw new UsageError("--url: " + e.getMessage());
        }
        String scheme = u.getScheme() == null ? "" : u.getScheme().toLowerCase(java.util.Locale.ROOT);
        if (!(scheme.equals("http") || scheme.equals("https")) || u.getHost() == null) {
            throw new UsageError("--url needs http://HOST[:PORT] or https://HOST[:PORT], not '" + text + "'");
        }
        if ((u.getRawPath() != null && !u.getRawPath().isEmpty() && !u.getRawPath().equals("/"))
                || u.getRawQuery() != null || u.getRawUserInfo() != null || u.getRawFragment() != null) {
            throw new UsageError("--url takes wharf's address only (scheme, host, port), not '" + text + "'");
        }
        return scheme + "://" + ContainerdHosts.authority(u);
    }

    private static void write(Path file, String content) throws IOException {
        Files.createDirectories(file.getParent());
        Path tmp = Files.createTempFile(file.getParent(), ".hosts.toml.", ".tmp");
        try {
            Files.writeString(tmp, content, StandardCharsets.UTF_8);
            Files.setPosixFilePermissions(tmp, java.nio.file.attribute.PosixFilePermissions.fromString("rw-r--r--"));
            Files.move(tmp, file, StandardCopyOption.REPLACE_EXISTING, StandardCopyOption.ATOMIC_MOVE);
        } finally {
            Files.deleteIfExists(tmp);
        }
    }
}

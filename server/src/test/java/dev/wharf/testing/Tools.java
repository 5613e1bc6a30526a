package dev.wharf.testing;

import java.io.File;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.LinkedHashSet;
import java.util.List;
import java.util.Set;

/**
 * Finds the external programs the integration tests drive (docker-registry, skopeo, ctr, crane...).
 *
 * <p>A missing tool is a failure, never a skip: CI installs every one of them through {@code .ci/run}, so
 * a test that silently skipped would hide a broken CI machine.
 */
public final class Tools {
    private Tools() {
    }

    /**
     * Returns the absolute path of {@code tool}, looked up on {@code PATH}, then in /usr/local/sbin,
     * /usr/sbin, /sbin and the Go binary directories ({@code $GOBIN}, {@code $GOPATH/bin}, {@code ~/go/bin}).
     *
     * @throws AssertionError naming the tool and how to install it, when it is not found
     */
    public static Path require(String tool) {
        for (Path dir : searchPath()) {
            Path candidate = dir.resolve(tool);
            if (Files.isRegularFile(candidate) && Files.isExecutable(candidate)) {
                return candidate.toAbsolutePath();
            }
        }
        throw new AssertionError("required tool '" + tool + "' is not installed: run .ci/run or "
                + installHint(tool));
    }

    /**
     * A tool this repository builds from a pinned Go module with a script of its own, into the tools cache
     * ({@code $WHARF_TOOLS_CACHE}, else {@code $XDG_CACHE_HOME/wharf-tools}, else {@code ~/.cache/wharf-tools}) at
     * {@code <name>-<version>/<name>}; the environment variable {@code override}, when set, names the binary instead.
     *
     * @param buildScript the script that builds it (named in the failure), relative to the repository root
     * @throws AssertionError naming the tool, the version, where it was looked for and how to build it
     */
    public static Path built(String name, String version, String override, String buildScript) {
        String env = System.getenv(override);
        if (env != null && !env.isBlank()) {
            return Path.of(env);
        }
        String cache = System.getenv("WHARF_TOOLS_CACHE");
        if (cache == null || cache.isBlank()) {
            String xdg = System.getenv("XDG_CACHE_HOME");
            cache = (xdg == null || xdg.isBlank() ? System.getProperty("user.home") + "/.cache" : xdg) + "/wharf-tools";
        }
        Path binary = Path.of(cache, name + "-" + version, name);
        if (Files.isExecutable(binary)) {
            return binary;
        }
        throw new AssertionError("required tool '" + name + "' (" + version + ") is not built at " + binary
                + ": run .ci/run or bash " + buildScript);
    }

    /** The directories {@link #require} searches, in order. */
    public static List<Path> searchPath() {
        Set<Path> dirs = new LinkedHashSet<>();
        String path = System.getenv("PATH");
        if (path != null) {
            for (String entry : path.split(File.pathSeparator)) {
                if (!entry.isBlank()) {
                    dirs.add(Path.of(entry));
                }
            }
        }
        for (String extra : List.of("/usr/local/sbin", "/usr/local/bin", "/usr/sbin", "/usr/bin", "/sbin", "/bin")) {
            dirs.add(Path.of(extra));
        }
        String gobin = System.getenv("GOBIN");
        if (gobin != null && !gobin.isBlank()) {
            dirs.add(Path.of(gobin));
        }
        String gopath = System.getenv("GOPATH");
        if (gopath != null && !gopath.isBlank()) {
            for (String entry : gopath.split(File.pathSeparator)) {
                dirs.add(Path.of(entry, "bin"));
            }
        }
        dirs.add(Path.of(System.getProperty("user.home"), "go", "bin"));
        dirs.add(Path.of("/root/go/bin"));
        return new ArrayList<>(dirs);
    }

    private static String installHint(String tool) {
        switch (tool) {
            case "crane":
                return "go install github.com/google/go-containerregistry/cmd/crane@v0.20.2";
            case "ctr":
            case "containerd":
                return "apt-get install containerd";
            case "nginx":
                return "apt-get install nginx-light";
            default:
                return "apt-get install " + tool;
        }
    }
}

package dev.wharf.testing;

import java.nio.file.Path;
import java.time.Duration;
import java.util.ArrayList;
import java.util.List;
import java.util.Map;

/**
 * wharf's command line as a user runs it, in a child JVM: {@code java -cp <this JVM's class path>
 * dev.wharf.server.app.Main ARGS...} (the class path holds the server classes during {@code mvn test}; the launcher
 * script would run the same Main from the shaded jar). Output is stdout and stderr together; stdin is /dev/null,
 * so the CLI sees no terminal and prints plain progress lines.
 */
public final class WharfCli {
    private WharfCli() {
    }

    /** Runs {@code wharf ARGS...} and waits for it, at most {@code timeout}. */
    public static Exec.Result run(Duration timeout, String... args) {
        List<String> command = new ArrayList<>(List.of(
                Path.of(System.getProperty("java.home"), "bin", "java").toString(),
                "-cp", WharfProcess.testClassPath(), "dev.wharf.server.app.Main"));
        command.addAll(List.of(args));
        return Exec.run(timeout, Map.of(), WharfProcess.repoRoot(), command);
    }
}

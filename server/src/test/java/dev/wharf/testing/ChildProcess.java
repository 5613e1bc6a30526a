package dev.wharf.testing;

import java.io.File;
import java.io.IOException;
import java.io.UncheckedIOException;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.time.Duration;
import java.util.List;
import java.util.Map;
import java.util.concurrent.TimeUnit;
import java.util.function.BooleanSupplier;

/**
 * A long-running server process a fixture started: its output goes to a log file, every wait on it is
 * bounded, and it is stopped by its own PID only (SIGTERM, then SIGKILL after a grace period). A JVM
 * shutdown hook kills it too, so a test JVM that dies does not leave servers behind.
 */
public final class ChildProcess {
    private final List<String> command;
    private final Path logFile;
    private final Process process;
    private final Thread shutdownHook;

    private ChildProcess(List<String> command, Path logFile, Process process) {
        this.command = command;
        this.logFile = logFile;
        this.process = process;
        this.shutdownHook = new Thread(process::destroyForcibly, "kill " + process.pid());
        Runtime.getRuntime().addShutdownHook(shutdownHook);
    }

    /**
     * Starts {@code command} with stdout and stderr appended to {@code logFile}, stdin from /dev/null.
     *
     * @param env extra environment variables
     * @param workDir working directory, or null for the current one
     */
    public static ChildProcess start(List<String> command, Path logFile, Map<String, String> env, Path workDir) {
        try {
            Files.createDirectories(logFile.toAbsolutePath().getParent());
            ProcessBuilder builder = new ProcessBuilder(command)
                    .redirectErrorStream(true)
                    .redirectOutput(ProcessBuilder.Redirect.appendTo(logFile.toFile()))
                    .redirectInput(ProcessBuilder.Redirect.from(new File("/dev/null")));
            builder.environment().putAll(env);
            if (workDir != null) {
                builder.directory(workDir.toFile());
            }
            return new ChildProcess(List.copyOf(command), logFile, builder.start());
        } catch (IOException e) {
            throw new UncheckedIOException("could not start " + command, e);
        }
    }

    /** The operating system's id of the process. */
    public long pid() {
        return process.pid();
    }

    /** Whether the process is still running. */
    public boolean isAlive() {
        return process.isAlive();
    }

    /** The file holding the process's stdout and stderr. */
    public Path logFile() {
        return logFile;
    }

    /** The last {@code lines} lines of the log, for failure messages. */
    public String logTail(int lines) {
        try {
            if (!Files.exists(logFile)) {
                return "(no log file " + logFile + ")";
            }
            List<String> all = Files.readAllLines(logFile, StandardCharsets.UTF_8);
            return String.join("\n", all.subList(Math.max(0, all.size() - lines), all.size()));
        } catch (IOException | UncheckedIOException e) {
            return "(could not read " + logFile + ": " + e + ")";
        }
    }

    /**
     * Polls {@code ready} every 50 ms until it answers true. Fails when the process exits first or when
     * {@code timeout} passes, with the log's tail in the message.
     */
    public void awaitReady(String what, Duration timeout, BooleanSupplier ready) {
        long deadline = System.nanoTime() + timeout.toNanos();
        while (true) {
            if (!process.isAlive()) {
                throw new AssertionError(what + " exited with code " + process.exitValue() + " before it was ready: "
                        + String.join(" ", command) + "\n--- " + logFile + " ---\n" + logTail(60));
            }
            if (ready.getAsBoolean()) {
                return;
            }
            if (System.nanoTime() > deadline) {
                throw new AssertionError(what + " was not ready after " + timeout + ": " + String.join(" ", command)
                        + "\n--- " + logFile + " ---\n" + logTail(60));
            }
            sleep(50);
        }
    }

    /** Whether the process ends by itself within {@code timeout}. */
    public boolean awaitExit(Duration timeout) {
        try {
            return process.waitFor(timeout.toMillis(), TimeUnit.MILLISECONDS);
        } catch (InterruptedException e) {
            Thread.currentThread().interrupt();
            return false;
        }
    }

    /** The exit code; fails if the process is still running. */
    public int exitCode() {
        return process.exitValue();
    }

    /**
     * Sends SIGTERM and waits up to {@code grace}; then SIGKILL and waits up to 10 s more. Returns the exit
     * code, or fails if even SIGKILL did not end the process.
     */
    public int stop(Duration grace) {
        if (process.isAlive()) {
            process.destroy();
            if (!awaitExit(grace)) {
                process.destroyForcibly();
                if (!awaitExit(Duration.ofSeconds(10))) {
                    throw new AssertionError("process " + pid() + " survived SIGKILL: " + String.join(" ", command));
                }
            }
        }
        removeHook();
        return process.exitValue();
    }

    /** Sends SIGKILL and waits (at most 10 s) until the process is gone. */
    public int kill() {
        process.destroyForcibly();
        if (!awaitExit(Duration.ofSeconds(10))) {
            throw new AssertionError("process " + pid() + " survived SIGKILL: " + String.join(" ", command));
        }
        removeHook();
        return process.exitValue();
    }

    private void removeHook() {
        try {
            Runtime.getRuntime().removeShutdownHook(shutdownHook);
        } catch (IllegalStateException ignored) {
            // The JVM is already shutting down; the hook runs and finds the process gone.
        }
    }

    static void sleep(long millis) {
        try {
            Thread.sleep(millis);
        } catch (InterruptedException e) {
            Thread.currentThread().interrupt();
            throw new AssertionError("interrupted", e);
        }
    }

    /** Deletes {@code dir} and everything below it; quietly ignores what cannot be deleted. */
    static void deleteTree(Path dir) {
        if (dir == null || !Files.exists(dir)) {
            return;
        }
        try (var paths = Files.walk(dir)) {
            paths.sorted(java.util.Comparator.reverseOrder()).forEach(p -> {
                try {
                    Files.deleteIfExists(p);
                } catch (IOException ignored) {
                    // Best effort: a leftover temp file must not fail a test that passed.
                }
            });
        } catch (IOException | UncheckedIOException ignored) {
            // Same as above.
        }
    }
}

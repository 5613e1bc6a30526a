package dev.wharf.testing;

import java.io.IOException;
import java.io.UncheckedIOException;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.time.Duration;
import java.util.ArrayList;
import java.util.List;
import java.util.Map;
import java.util.concurrent.TimeUnit;

/** Runs a short-lived external command with a time limit and captures its combined output. */
public final class Exec {
    private Exec() {
    }

    /** What a finished (or timed-out) command left behind. */
    public record Result(List<String> command, int exitCode, String output, boolean timedOut) {
        /** Exit code 0 and no timeout. */
        public boolean ok() {
            return exitCode == 0 && !timedOut;
        }

        /** The command, how it ended and its output: for assertion messages. */
        public String describe() {
            return String.join(" ", command) + (timedOut ? " TIMED OUT" : " exited " + exitCode)
                    + "\n--- output ---\n" + output;
        }

        /** Returns this result, or fails the test with {@link #describe()} when it is not {@link #ok()}. */
        public Result orFail() {
            if (!ok()) {
                throw new AssertionError(describe());
            }
            return this;
        }
    }

    /** Runs {@code command} with the given time limit, the first element resolved with {@link Tools#require}. */
    public static Result run(Duration timeout, String... command) {
        return run(timeout, Map.of(), null, List.of(command));
    }

    /**
     * Runs {@code command} in {@code workDir} (or the current directory when null) with extra environment
     * variables, stdout and stderr merged. A command still running at {@code timeout} gets SIGTERM, then
     * SIGKILL five seconds later; its result says {@code timedOut}.
     */
    public static Result run(Duration timeout, Map<String, String> env, Path workDir, List<String> command) {
        List<String> resolved = new ArrayList<>(command);
        if (!resolved.get(0).contains("/")) {
            resolved.set(0, Tools.require(resolved.get(0)).toString());
        }
        Path out = null;
        try {
            out = Files.createTempFile("wharf-exec", ".out");
            ProcessBuilder builder = new ProcessBuilder(resolved)
                    .redirectErrorStream(true)
                    .redirectOutput(out.toFile())
                    .redirectInput(ProcessBuilder.Redirect.from(new java.io.File("/dev/null")));
            if (workDir != null) {
                builder.directory(workDir.toFile());
            }
            builder.environment().putAll(env);
            Process process = builder.start();
            boolean finished = process.waitFor(timeout.toMillis(), TimeUnit.MILLISECONDS);
            if (!finished) {
                process.destroy();
                if (!process.waitFor(5, TimeUnit.SECONDS)) {
                    process.destroyForcibly();
                    process.waitFor(10, TimeUnit.SECONDS);
                }
            }
            String output = Files.readString(out, StandardCharsets.UTF_8);
            return new Result(List.copyOf(resolved), finished ? process.exitValue() : -1, output, !finished);
        } catch (IOException e) {
            throw new UncheckedIOException("could not run " + resolved, e);
        } catch (InterruptedException e) {
            Thread.currentThread().interrupt();
            throw new AssertionError("interrupted while running " + resolved, e);
        } finally {
            if (out != null) {
                try {
                    Files.deleteIfExists(out);
                } catch (IOException ignored) {
                    // A leftover temp file is harmless.
                }
            }
        }
    }
}

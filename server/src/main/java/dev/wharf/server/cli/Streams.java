package dev.wharf.server.cli;

import java.io.InputStream;
import java.io.PrintStream;

/**
 * Where a command reads and writes, and whether its output is a terminal (then progress is redrawn in place).
 *
 * @param in  standard input ({@code prefetch -f -})
 * @param out reports and help
 * @param err errors
 * @param tty whether {@code out} is a terminal
 */
public record Streams(InputStream in, PrintStream out, PrintStream err, boolean tty) {
    /** The process's own streams. */
    public static Streams system() {
        return new Streams(System.in, System.out, System.err, ProgressDisplay.isTerminal());
    }
}

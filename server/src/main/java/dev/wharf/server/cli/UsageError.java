package dev.wharf.server.cli;

/**
 * A wrong command line found after parsing (a missing file, a bad value): {@link WharfCommand} prints it with the
 * command's synopsis and exits 2, as picocli does for the errors it finds itself.
 */
public final class UsageError extends Exception {
    public UsageError(String message) {
        super(message, null, false, false);
    }
}

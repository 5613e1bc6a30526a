package dev.wharf.server.cli;

/** Checks of option values that picocli's types do not express, worded as the commands always worded them. */
final class Options {
    private Options() {
    }

    /** {@code value} as a positive integer, or {@code fallback} when the option was not given. */
    static int positiveInt(String option, String value, int fallback) throws UsageError {
        if (value == null) {
            return fallback;
        }
        try {
            int n = Integer.parseInt(value);
            if (n < 1) {
                throw new NumberFormatException();
            }
            return n;
        } catch (NumberFormatException e) {
            throw new UsageError(option + " needs a positive number, not '" + value + "'");
        }
    }
}

package dev.wharf.server.cli;

import java.util.ArrayList;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.Set;

/**
 * A subcommand's options: {@code --name value}, {@code --name=value}, and flags. No positional arguments: anything
 * unexpected is a usage error naming it.
 */
final class Args {
    private final Map<String, List<String>> values = new LinkedHashMap<>();

    private Args() {
    }

    /**
     * Parses {@code argv}. {@code valued} options take a value; {@code flags} do not; {@code aliases} maps a short
     * name ({@code -f}) to its long one.
     */
    static Args parse(String[] argv, Set<String> valued, Set<String> flags, Map<String, String> aliases)
            throws UsageError {
        Args args = new Args();
        for (int i = 0; i < argv.length; i++) {
            String a = argv[i];
            String value = null;
            int eq = a.indexOf('=');
            if (a.startsWith("--") && eq > 0) {
                value = a.substring(eq + 1);
                a = a.substring(0, eq);
            }
            a = aliases.getOrDefault(a, a);
            if (flags.contains(a)) {
                if (value != null) {
                    throw new UsageError(a + " takes no value");
                }
                args.values.computeIfAbsent(a, k -> new ArrayList<>()).add("true");
            } else if (valued.contains(a)) {
                if (value == null) {
                    if (i + 1 >= argv.length) {
                        throw new UsageError(a + " needs a value");
                    }
                    value = argv[++i];
                }
                args.values.computeIfAbsent(a, k -> new ArrayList<>()).add(value);
            } else {
                throw new UsageError("unknown option '" + argv[i] + "'");
            }
        }
        return args;
    }

    /** The last value given for {@code name}, or null. */
    String value(String name) {
        List<String> v = values.get(name);
        return v == null ? null : v.get(v.size() - 1);
    }

    /** Every value given for {@code name}, in order. */
    List<String> values(String name) {
        return values.getOrDefault(name, List.of());
    }

    boolean flag(String name) {
        return values.containsKey(name);
    }

    /** A positive integer option, or {@code fallback} when absent. */
    int positiveInt(String name, int fallback) throws UsageError {
        String v = value(name);
        if (v == null) {
            return fallback;
        }
        try {
            int n = Integer.parseInt(v);
            if (n < 1) {
                throw new NumberFormatException();
            }
            return n;
        } catch (NumberFormatException e) {
            throw new UsageError(name + " needs a positive number, not '" + v + "'");
        }
    }

    /** A wrong command line: the CLI prints it with the usage text and exits 2. */
    static final class UsageError extends Exception {
        UsageError(String message) {
            super(message, null, false, false);
        }
    }
}

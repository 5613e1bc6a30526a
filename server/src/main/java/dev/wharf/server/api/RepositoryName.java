package dev.wharf.server.api;

import java.util.regex.Pattern;

/** A repository name as the OCI spec defines it, validated on construction. */
public record RepositoryName(String value) {
    /** The spec's {@code <name>} grammar. */
    private static final Pattern NAME = Pattern.compile(
            "[a-z0-9]+(?:(?:\\.|_|__|-+)[a-z0-9]+)*(?:/[a-z0-9]+(?:(?:\\.|_|__|-+)[a-z0-9]+)*)*");
    /** Clients limit host + '/' + name to 255; a name alone of more than 255 can never be pulled. */
    public static final int MAX_LENGTH = 255;

    public RepositoryName {
        if (value == null || value.isEmpty()) {
            throw invalid("repository name is empty");
        }
        if (value.length() > MAX_LENGTH) {
            throw invalid("repository name is longer than " + MAX_LENGTH + " characters");
        }
        if (!matchesGrammar(value)) {
            throw invalid("invalid repository name '" + Excerpt.of(value) + "': lower-case letters, digits and "
                    + "separators (. _ __ -) in path components separated by /");
        }
    }

    /**
     * Whether {@code s} matches {@link #NAME}, checked by hand: every request is routed through here, and a regex
     * matcher allocates per call. {@code RepositoryNameTest} holds the two to the same answers.
     */
    static boolean matchesGrammar(String s) {
        int n = s.length();
        int i = 0;
        while (true) {
            // One path component: alnum+ ((. | _ | __ | -+) alnum+)*
            if (i >= n || !alnum(s.charAt(i))) {
                return false;
            }
            while (i < n && alnum(s.charAt(i))) {
                i++;
            }
            while (i < n && s.charAt(i) != '/') {
                char c = s.charAt(i);
                if (c == '.') {
                    i++;
                } else if (c == '_') {
                    i++;
                    if (i < n && s.charAt(i) == '_') {
                        i++;
                    }
                } else if (c == '-') {
                    while (i < n && s.charAt(i) == '-') {
                        i++;
                    }
                } else {
                    return false;
                }
                if (i >= n || !alnum(s.charAt(i))) {
                    return false;
                }
                while (i < n && alnum(s.charAt(i))) {
                    i++;
                }
            }
            if (i == n) {
                return true;
            }
            i++; // the '/' before the next component
        }
    }

    private static boolean alnum(char c) {
        return (c >= 'a' && c <= 'z') || (c >= '0' && c <= '9');
    }

    /** The spec's grammar as a regex: the reference {@link #matchesGrammar} is tested against. */
    static boolean matchesRegex(String s) {
        return NAME.matcher(s).matches();
    }

    private static RegistryException invalid(String message) {
        return RegistryException.badRequest(ErrorCode.NAME_INVALID, message);
    }


    /** Number of path components. */
    public int components() {
        return (int) value.chars().filter(c -> c == '/').count() + 1;
    }

    @Override
    public String toString() {
        return value;
    }
}

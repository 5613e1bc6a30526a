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
        if (!NAME.matcher(value).matches()) {
            throw invalid("invalid repository name '" + Excerpt.of(value) + "': lower-case letters, digits and "
                    + "separators (. _ __ -) in path components separated by /");
        }
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

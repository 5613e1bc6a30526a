package dev.wharf.auth.upstream;

/**
 * Whom a token is fetched for: the project (tokens are never shared between projects) and the host of its own
 * upstream (the one host an {@code http://} realm may be on and still get the project's Basic credentials).
 *
 * @param project      the project's name
 * @param upstreamHost the host of the project's upstream endpoint, lower-case
 */
public record TokenOwner(String project, String upstreamHost) {
    public TokenOwner {
        if (project == null || upstreamHost == null) {
            throw new NullPointerException("project and upstreamHost are required");
        }
    }
}

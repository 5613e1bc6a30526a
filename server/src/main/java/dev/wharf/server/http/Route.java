package dev.wharf.server.http;

import dev.wharf.server.upstream.Project;
import dev.wharf.server.api.Reference;
import dev.wharf.server.api.RepositoryName;
import dev.wharf.storage.Digest;

/**
 * A parsed {@code /v2} request.
 *
 * @param kind       which endpoint
 * @param project    the project it routes to (null for BASE)
 * @param name       the repository name at the upstream (with {@code library/} added for Docker Hub)
 * @param clientName the repository name as the client addressed it (for tag list names and Link headers)
 * @param reference  the manifest reference (MANIFEST only)
 * @param digest     the blob or subject digest (BLOB, REFERRERS)
 * @param ns         the {@code ns} query value, or null
 */
public record Route(Kind kind, Project project, RepositoryName name, String clientName, Reference reference,
                    Digest digest, String ns) {

    /** The /v2 endpoints. */
    public enum Kind { BASE, MANIFEST, BLOB, TAGS, REFERRERS, UPLOAD }

    /** The metrics label for this kind. */
    public String kindLabel() {
        return switch (kind) {
            case MANIFEST -> "manifest";
            case BLOB -> "blob";
            case TAGS -> "tags";
            case REFERRERS -> "referrers";
            default -> "other";
        };
    }
}

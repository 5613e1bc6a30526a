package dev.wharf.server.http;

import dev.wharf.server.api.Reference;
import dev.wharf.server.api.RepositoryName;
import dev.wharf.server.upstream.Project;
import dev.wharf.storage.Digest;

/**
 * A parsed {@code /v2} request, one record per endpoint, so an endpoint gets exactly the parts its path has: a
 * manifest route has a reference, a blob route a digest. Every route but the {@link Unscoped} ones (/v2/, /token)
 * names its project, the repository name at the upstream ({@code name}, with {@code library/} added for Docker
 * Hub), the name as the client addressed it ({@code clientName}, for tag-list names and Link headers) and the
 * {@code ns} query value.
 */
public sealed interface Route {
    /** The /v2 endpoints. */
    enum Kind { BASE, MANIFEST, BLOB, TAGS, REFERRERS, UPLOAD, TOKEN }

    Kind kind();

    /** The project it routes to; null for an {@link Unscoped} route. */
    Project project();

    RepositoryName name();

    String clientName();

    String ns();

    /** The metrics label for this kind. */
    default String kindLabel() {
        return switch (kind()) {
            case MANIFEST -> "manifest";
            case BLOB -> "blob";
            case TAGS -> "tags";
            case REFERRERS -> "referrers";
            case TOKEN -> "token";
            default -> "other";
        };
    }

    /** A route that names no repository ({@link Base}, {@link Token}): no project, name or {@code ns}. */
    sealed interface Unscoped extends Route {
        default Project project() {
            return null;
        }

        default RepositoryName name() {
            return null;
        }

        default String clientName() {
            return null;
        }

        default String ns() {
            return null;
        }
    }

    /** {@code /v2/}: the API version check. */
    record Base() implements Unscoped {
        public Kind kind() {
            return Kind.BASE;
        }
    }

    /**
     * {@code /token}: the Docker token endpoint. {@code scopes} are the raw {@code scope} query values (each may hold
     * several, separated by spaces), {@code service} and {@code account} as the client sent them, or null.
     */
    record Token(java.util.List<String> scopes, String service, String account) implements Unscoped {
        /** The token endpoint's path, which the 401 challenge's realm names. */
        public static final String PATH = "/token";

        public Token {
            scopes = java.util.List.copyOf(scopes);
        }

        public Kind kind() {
            return Kind.TOKEN;
        }
    }

    /** {@code /v2/<name>/manifests/<reference>}. */
    record Manifest(Project project, RepositoryName name, String clientName, String ns, Reference reference)
            implements Route {
        public Kind kind() {
            return Kind.MANIFEST;
        }
    }

    /** {@code /v2/<name>/blobs/<digest>}. */
    record Blob(Project project, RepositoryName name, String clientName, String ns, Digest digest) implements Route {
        public Kind kind() {
            return Kind.BLOB;
        }
    }

    /** {@code /v2/<name>/tags/list}. */
    record Tags(Project project, RepositoryName name, String clientName, String ns) implements Route {
        public Kind kind() {
            return Kind.TAGS;
        }
    }

    /** {@code /v2/<name>/referrers/<digest>}. */
    record Referrers(Project project, RepositoryName name, String clientName, String ns, Digest digest)
            implements Route {
        public Kind kind() {
            return Kind.REFERRERS;
        }
    }

    /** {@code /v2/<name>/blobs/uploads/...}: a push, which a read-only cache refuses. */
    record Upload(Project project, RepositoryName name, String clientName, String ns) implements Route {
        public Kind kind() {
            return Kind.UPLOAD;
        }
    }
}

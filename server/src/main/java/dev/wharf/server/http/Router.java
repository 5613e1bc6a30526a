package dev.wharf.server.http;

import dev.wharf.server.api.Excerpt;
import dev.wharf.server.upstream.Project;
import dev.wharf.server.upstream.Projects;
import dev.wharf.server.api.ErrorCode;
import dev.wharf.server.api.Reference;
import dev.wharf.server.api.RegistryException;
import dev.wharf.server.api.RepositoryName;
import io.netty.handler.codec.http.HttpResponseStatus;
import io.netty.handler.codec.http.QueryStringDecoder;
import java.util.Arrays;
import java.util.List;
import java.util.Optional;
import java.util.concurrent.atomic.AtomicBoolean;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

/**
 * Maps a request path to a {@link Route}, following the routing contract in shared/DESIGN.md: project prefix,
 * then {@code ?ns=}, then the default project, else 404 NAME_UNKNOWN. The path is not percent-decoded: no valid
 * repository name, tag or digest holds '%', so an encoded path can only fail validation, never escape it.
 */
public final class Router {
    private static final Logger LOG = LoggerFactory.getLogger(Router.class);
    private static final int MAX_PATH = 2048;

    private final Projects projects;
    private final AtomicBoolean v2HintLogged = new AtomicBoolean();

    public Router(Projects projects) {
        this.projects = projects;
    }

    /** Parses a request URI (path and query). Throws {@link RegistryException} for anything malformed or unknown. */
    public Route route(String uri) {
        if (uri.length() > MAX_PATH) {
            throw RegistryException.badRequest(ErrorCode.NAME_INVALID, "request path is longer than " + MAX_PATH);
        }
        QueryStringDecoder query = new QueryStringDecoder(uri);
        String path = query.rawPath();
        if (path.equals("/v2") || path.equals("/v2/")) {
            return new Route.Base();
        }
        if (path.equals(Route.Token.PATH)) {
            List<String> scopes = query.parameters().getOrDefault("scope", List.of());
            return new Route.Token(scopes, first(query, "service"), first(query, "account"));
        }
        if (!path.startsWith("/v2/")) {
            throw new RegistryException(ErrorCode.UNSUPPORTED, HttpResponseStatus.NOT_FOUND, "unknown endpoint " + Excerpt.of(path));
        }
        String[] segs = path.substring(4).split("/", -1);
        int n = segs.length;
        String ns = first(query, "ns");

        Route.Kind kind;
        int nameEnd;
        if (isUpload(segs)) {
            kind = Route.Kind.UPLOAD;
            nameEnd = indexOfUploads(segs);
        } else if (n >= 3 && segs[n - 2].equals("tags") && segs[n - 1].equals("list")) {
            kind = Route.Kind.TAGS;
            nameEnd = n - 2;
        } else if (n >= 3 && segs[n - 2].equals("manifests")) {
            kind = Route.Kind.MANIFEST;
            nameEnd = n - 2;
        } else if (n >= 3 && segs[n - 2].equals("blobs")) {
            kind = Route.Kind.BLOB;
            nameEnd = n - 2;
        } else if (n >= 3 && segs[n - 2].equals("referrers")) {
            kind = Route.Kind.REFERRERS;
            nameEnd = n - 2;
        } else {
            throw new RegistryException(ErrorCode.UNSUPPORTED, HttpResponseStatus.NOT_FOUND, "unknown endpoint " + Excerpt.of(path));
        }
        List<String> nameSegs = Arrays.asList(segs).subList(0, nameEnd);
        String clientName = String.join("/", nameSegs);

        Project project;
        List<String> rest;
        Optional<Project> prefixed = nameSegs.size() >= 2 ? projects.byName(nameSegs.get(0)) : Optional.empty();
        if (prefixed.isPresent()) {
            project = prefixed.get();
            rest = nameSegs.subList(1, nameSegs.size());
            if (rest.size() >= 2 && rest.get(0).equals("v2")) {
                // containerd builds /v2/<project>/v2/<name> for a hosts.toml host with a path and override_path=false.
                rest = rest.subList(1, rest.size());
                if (v2HintLogged.compareAndSet(false, true)) {
                    LOG.info("request path {} repeats /v2 after project '{}': a containerd hosts.toml host with a path "
                            + "and override_path = false sends this; wharf accepts it, but setting override_path = true "
                            + "in hosts.toml gives cleaner paths", Excerpt.of(path), project.name());
                }
            }
        } else if (ns != null) {
            project = projects.byNamespace(ns).orElseThrow(() -> RegistryException.notFound(ErrorCode.NAME_UNKNOWN,
                    "no project serves ns=" + Excerpt.of(ns)));
            rest = nameSegs;
        } else {
            project = projects.defaultProject().orElseThrow(() -> RegistryException.notFound(ErrorCode.NAME_UNKNOWN,
                    "no project named '" + Excerpt.of(nameSegs.isEmpty() ? "" : nameSegs.get(0))
                            + "' and no default project is configured"));
            rest = nameSegs;
        }
        RepositoryName name = new RepositoryName(String.join("/", rest));
        if (project.config().isDockerHub() && name.components() == 1) {
            name = new RepositoryName("library/" + name.value());
        }

        String last = segs[n - 1];
        return switch (kind) {
            case MANIFEST -> new Route.Manifest(project, name, clientName, ns, Reference.parse(last));
            case BLOB -> new Route.Blob(project, name, clientName, ns, Reference.digest(last));
            case REFERRERS -> new Route.Referrers(project, name, clientName, ns, Reference.digest(last));
            case TAGS -> new Route.Tags(project, name, clientName, ns);
            default -> new Route.Upload(project, name, clientName, ns);
        };
    }

    private static boolean isUpload(String[] segs) {
        return indexOfUploads(segs) >= 0;
    }

    /** Index of "blobs" in a trailing {@code blobs/uploads[/<id>]} or -1. */
    private static int indexOfUploads(String[] segs) {
        int n = segs.length;
        for (int i = Math.max(0, n - 3); i < n - 1; i++) {
            if (segs[i].equals("blobs") && segs[i + 1].equals("uploads") && i + 2 >= n - 1) {
                return i;
            }
        }
        return -1;
    }

    private static String first(QueryStringDecoder q, String key) {
        List<String> v = q.parameters().get(key);
        return v == null || v.isEmpty() ? null : v.get(0);
    }

}

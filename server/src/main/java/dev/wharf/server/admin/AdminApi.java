package dev.wharf.server.admin;

import dev.wharf.server.api.Excerpt;
import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.ObjectMapper;
import com.fasterxml.jackson.databind.node.ArrayNode;
import com.fasterxml.jackson.databind.node.ObjectNode;
import dev.wharf.server.http.Exchange;
import dev.wharf.server.prefetch.PrefetchJobs;
import dev.wharf.server.upstream.Project;
import dev.wharf.server.upstream.Projects;
import dev.wharf.server.api.ErrorCode;
import dev.wharf.server.http.AdminEndpoint;
import dev.wharf.server.pullthrough.TagCache;
import dev.wharf.server.api.Reference;
import dev.wharf.server.api.RegistryException;
import dev.wharf.server.api.RepositoryName;
import dev.wharf.storage.ContentStore;
import dev.wharf.storage.StorageUsage;
import io.netty.handler.codec.http.DefaultHttpHeaders;
import io.netty.handler.codec.http.HttpHeaderNames;
import io.netty.handler.codec.http.HttpHeaders;
import io.netty.handler.codec.http.HttpMethod;
import io.netty.handler.codec.http.HttpResponseStatus;
import java.io.IOException;
import java.net.URI;
import java.nio.charset.StandardCharsets;
import java.security.MessageDigest;
import java.security.NoSuchAlgorithmException;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.List;
import java.util.Map;
import java.util.TreeMap;
import java.util.concurrent.ArrayBlockingQueue;
import java.util.concurrent.RejectedExecutionException;
import java.util.concurrent.ThreadPoolExecutor;
import java.util.concurrent.TimeUnit;
import java.util.function.Supplier;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

/**
 * The admin API under {@code /api/v1}, JSON, guarded by the configured admin token ({@code admin.token}):
 * every request must carry {@code Authorization: Bearer <token>}, or it gets 401 before anything else is looked at.
 * With no token configured, everyone gets 401. The token is compared in constant time (as SHA-256 digests, so not
 * even its length leaks) and never logged; only its digest is kept here.
 *
 * <p>The endpoints: {@code /api/v1/projects[/{project}[/repositories[/{name}[/-/tags/{tag}]]]]} (GET; DELETE on
 * a repository or a tag) and {@code /api/v1/prefetch[/{id}]} (POST starts a job, GET reports); the README's
 * "Admin API" section lists them with their answers. Repository names hold {@code /}, so {@code /-/} separates a
 * name from what follows. Deleting drops the tag entries, on disk and in the tag cache; content stays, shared by
 * digest, until eviction reclaims what nothing uses.
 *
 * <p>Independent of which listener serves it: the handler that owns the connection hands over each request with
 * its (bounded) body. Work that touches the disk runs on a small executor of its own, never on an event loop.
 */
public final class AdminApi implements AdminEndpoint, AutoCloseable {
    private static final Logger LOG = LoggerFactory.getLogger(AdminApi.class);
    private static final ObjectMapper JSON = new ObjectMapper();
    static final String PREFIX = "/api/v1";

    private final byte[] tokenDigest;
    /** Authorization header to "names an admin user" ({@code auth.admins}, Basic or a wharf token), or null. */
    private final java.util.function.BiPredicate<String, io.netty.channel.Channel> adminUsers;
    private final ContentStore store;
    private final Projects projects;
    private final TagCache tagCache;
    private final PrefetchResource prefetch;
    private final ThreadPoolExecutor executor = new ThreadPoolExecutor(2, 2, 60, TimeUnit.SECONDS,
            new ArrayBlockingQueue<>(256), r -> {
                Thread t = new Thread(r, "wharf-admin");
                t.setDaemon(true);
                return t;
            });

    /**
     * @param adminToken  the configured token, or null (then every request gets 401)
     * @param registryUrl the server's own registry address, for prefetch jobs (asked when a job starts)
     */
    public AdminApi(String adminToken, ContentStore store, Projects projects, TagCache tagCache,
                    Supplier<URI> registryUrl) {
        this(adminToken, store, projects, tagCache, registryUrl, null);
    }

    /** As above; {@code loopbackTls} trusts the server's own certificate when its registry address is HTTPS. */
    public AdminApi(String adminToken, ContentStore store, Projects projects, TagCache tagCache,
                    Supplier<URI> registryUrl, javax.net.ssl.SSLContext loopbackTls) {
        this(adminToken, store, projects, tagCache, registryUrl, loopbackTls, null);
    }

    /** As above; {@code adminUsers} also lets in the admins of client auth ({@code auth.admins}), or is null. */
    public AdminApi(String adminToken, ContentStore store, Projects projects, TagCache tagCache,
                    Supplier<URI> registryUrl, javax.net.ssl.SSLContext loopbackTls,
                    java.util.function.BiPredicate<String, io.netty.channel.Channel> adminUsers) {
        this.adminUsers = adminUsers;
        this.tokenDigest = adminToken == null ? null : sha256(adminToken);
        this.store = store;
        this.projects = projects;
        this.tagCache = tagCache;
        this.prefetch = new PrefetchResource(new PrefetchJobs(registryUrl, loopbackTls));
    }

    /** Handles one request without a body whose path starts with {@code /api/v1}. */
    public void handle(Exchange ex) {
        handle(ex, new byte[0]);
    }

    /** Handles one request whose path starts with {@code /api/v1}; {@code body} is its whole body. */
    @Override
    public void handle(Exchange ex, byte[] body) {
        RegistryException refused = refuse(ex);
        if (refused != null) {
            ex.error(refused);
            return;
        }
        try {
            executor.execute(() -> {
                try {
                    String authorization = ex.request().headers().get(HttpHeaderNames.AUTHORIZATION);
                    if (checkedLater(authorization) && !adminUsers.test(authorization, ex.ctx().channel())) {
                        ex.error(unauthorized(ex, authorization));
                        return;
                    }
                    route(ex, body);
                } catch (RegistryException e) {
                    ex.error(e);
                } catch (Exception e) {
                    ex.fail(e);
                }
            });
        } catch (RejectedExecutionException e) {
            ex.error(new RegistryException(ErrorCode.TOOMANYREQUESTS, HttpResponseStatus.TOO_MANY_REQUESTS,
                    "the admin API is busy; try again"));
        }
    }

    /**
     * Checks the token; the request handler asks this before it reads a body, on the event loop. An admin user's
     * Basic credentials are the exception: checking them runs bcrypt or asks the OIDC provider (a network call), so
     * they pass here and {@link #handle(Exchange, byte[])} checks them on the admin executor before anything else
     * (such a request's body, bounded like any, is read first).
     */
    @Override
    public RegistryException refuse(Exchange ex) {
        String authorization = ex.request().headers().get(HttpHeaderNames.AUTHORIZATION);
        if (checkedLater(authorization)) {
            return null;
        }
        // The one place the admin API decides who is in: the admin token, or an admin user of client auth.
        if (authorizes(authorization, ex.ctx().channel())) {
            return null;
        }
        return unauthorized(ex, authorization);
    }

    /** True for Basic credentials while admin users exist: checked on the executor, never on an event loop. */
    private boolean checkedLater(String authorization) {
        return adminUsers != null && authorization != null && authorization.strip().regionMatches(true, 0, "Basic ",
                0, 6);
    }

    private RegistryException unauthorized(Exchange ex, String authorization) {
        if (authorization != null) {
            LOG.warn("admin request {} {} from {} refused: wrong token", ex.request().method(), path(ex),
                    ex.ctx().channel().remoteAddress());
        }
        HttpHeaders h = new DefaultHttpHeaders().set(HttpHeaderNames.WWW_AUTHENTICATE, "Bearer realm=\"wharf-admin\"");
        return new RegistryException(ErrorCode.UNAUTHORIZED, HttpResponseStatus.UNAUTHORIZED,
                tokenDigest == null && adminUsers == null
                        ? "the admin API is disabled: no admin.token is configured (and no auth.admins)"
                        : "the admin API needs Authorization: Bearer <admin token>, or an admin's credentials", h);
    }

    /**
     * The one admin authorization check, for the web console's login too: true if an {@code Authorization} header
     * with this value would be let in to {@code /api/v1}.
     */
    public boolean authorizes(String authorizationHeader, io.netty.channel.Channel channel) {
        return authorized(authorizationHeader)
                || adminUsers != null && authorizationHeader != null && adminUsers.test(authorizationHeader, channel);
    }

    /** The prefetch jobs {@code /api/v1/prefetch} runs, shared with the web console. */
    public PrefetchJobs prefetchJobs() {
        return prefetch.jobs();
    }

    private boolean authorized(String header) {
        if (tokenDigest == null || header == null) {
            return false;
        }
        String h = header.trim();
        if (h.length() <= 7 || !h.regionMatches(true, 0, "Bearer ", 0, 7)) {
            return false;
        }
        return MessageDigest.isEqual(sha256(h.substring(7).trim()), tokenDigest);
    }

    // ------------------------------------------------------------------------------------------------ routing

    private void route(Exchange ex, byte[] body) throws IOException {
        String path = path(ex);
        String rest = path.length() <= PREFIX.length() ? "" : path.substring(PREFIX.length() + 1);
        List<String> segs = rest.isEmpty() ? List.of() : Arrays.asList(rest.split("/", -1));
        HttpMethod m = ex.request().method();
        if (segs.isEmpty()) {
            only(m, HttpMethod.GET);
            ObjectNode root = JSON.createObjectNode();
            root.putArray("endpoints").add(PREFIX + "/projects").add(PREFIX + "/prefetch");
            json(ex, HttpResponseStatus.OK, root);
            return;
        }
        switch (segs.get(0)) {
            case "projects" -> projectsRoute(ex, m, segs.subList(1, segs.size()));
            case "prefetch" -> prefetch.route(ex, m, segs.subList(1, segs.size()), body);
            default -> throw notFound(path);
        }
    }

    private void projectsRoute(Exchange ex, HttpMethod m, List<String> segs) throws IOException {
        if (segs.isEmpty()) {
            only(m, HttpMethod.GET);
            json(ex, HttpResponseStatus.OK, listProjects());
            return;
        }
        String project = knownProject(segs.get(0));
        if (segs.size() == 1) {
            only(m, HttpMethod.GET);
            json(ex, HttpResponseStatus.OK, projectJson(project, StorageUsage.measure(store, project)));
            return;
        }
        if (!segs.get(1).equals("repositories")) {
            throw notFound(path(ex));
        }
        if (segs.size() == 2) {
            only(m, HttpMethod.GET);
            json(ex, HttpResponseStatus.OK, listRepositories(project));
            return;
        }
        List<String> after = segs.subList(2, segs.size());
        int dash = after.indexOf("-");
        String repository = repositoryName(String.join("/", dash < 0 ? after : after.subList(0, dash)));
        if (dash < 0) {
            if (m.equals(HttpMethod.DELETE)) {
                deleteRepository(ex, project, repository);
            } else {
                only(m, HttpMethod.GET, HttpMethod.DELETE);
                json(ex, HttpResponseStatus.OK, repositoryJson(project, repository));
            }
            return;
        }
        List<String> tail = after.subList(dash + 1, after.size());
        if (tail.size() != 2 || !tail.get(0).equals("tags")) {
            throw notFound(path(ex));
        }
        String tag = tagName(tail.get(1));
        if (m.equals(HttpMethod.DELETE)) {
            deleteTag(ex, project, repository, tag);
        } else {
            only(m, HttpMethod.GET, HttpMethod.DELETE);
            CacheCatalog.TagInfo info = new CacheCatalog(store).tag(project, repository, tag)
                    .orElseThrow(() -> RegistryException.notFound(ErrorCode.MANIFEST_UNKNOWN,
                            "no cached tag " + repository + ":" + tag + " in project " + project));
            ObjectNode out = JSON.createObjectNode().put("project", project).put("repository", repository);
            out.setAll(tagJson(info));
            json(ex, HttpResponseStatus.OK, out);
        }
    }

    // ------------------------------------------------------------------------------------------------ projects

    private ObjectNode listProjects() throws IOException {
        StorageUsage usage = StorageUsage.measure(store);
        Map<String, StorageUsage.ProjectUsage> byName = new TreeMap<>();
        usage.projects().forEach(p -> byName.put(p.project(), p));
        ObjectNode root = JSON.createObjectNode();
        ArrayNode list = root.putArray("projects");
        List<String> names = new ArrayList<>();
        projects.all().forEach(p -> names.add(p.name()));
        byName.keySet().stream().filter(n -> !names.contains(n)).forEach(names::add);
        for (String name : names) {
            StorageUsage.ProjectUsage u = byName.getOrDefault(name, new StorageUsage.ProjectUsage(name, 0, 0, 0));
            list.add(projectJson(name, u));
        }
        root.putObject("storage")
                .put("blobs", usage.blobs())
                .put("bytes", usage.bytes())
                .put("quarantinedFiles", usage.quarantinedFiles())
                .put("quarantinedBytes", usage.quarantinedBytes());
        return root;
    }

    private ObjectNode projectJson(String name, StorageUsage.ProjectUsage usage) throws IOException {
        ObjectNode p = JSON.createObjectNode().put("name", name);
        Project configured = projects.byName(name).orElse(null);
        p.put("configured", configured != null);
        if (configured != null) {
            p.put("upstream", configured.config().upstream().toString());
        }
        List<String> repos = store.repositories(name);
        long tags = 0;
        for (String r : repos) {
            tags += store.tags(name, r).size();
        }
        p.put("repositories", repos.size())
                .put("tags", tags)
                .put("blobs", usage.blobs())
                .put("bytes", usage.bytes())
                .put("missingBlobs", usage.missing());
        return p;
    }

    private ObjectNode listRepositories(String project) throws IOException {
        CacheCatalog catalog = new CacheCatalog(store);
        ObjectNode root = JSON.createObjectNode().put("project", project);
        ArrayNode list = root.putArray("repositories");
        for (String name : store.repositories(project)) {
            CacheCatalog.RepositoryInfo r = catalog.repository(project, name);
            list.addObject()
                    .put("name", name)
                    .put("tags", r.tags().size())
                    .put("blobs", r.blobs())
                    .put("bytes", r.bytes())
                    .put("complete", r.complete());
        }
        return root;
    }

    private ObjectNode repositoryJson(String project, String repository) throws IOException {
        CacheCatalog.RepositoryInfo r = new CacheCatalog(store).repository(project, repository);
        if (r.tags().isEmpty()) {
            throw RegistryException.notFound(ErrorCode.NAME_UNKNOWN,
                    "no cached tags for repository " + repository + " in project " + project);
        }
        ObjectNode root = JSON.createObjectNode()
                .put("project", project)
                .put("name", repository)
                .put("blobs", r.blobs())
                .put("bytes", r.bytes())
                .put("complete", r.complete());
        ArrayNode tags = root.putArray("tags");
        r.tags().forEach(t -> tags.add(tagJson(t)));
        return root;
    }

    private static ObjectNode tagJson(CacheCatalog.TagInfo t) {
        return JSON.createObjectNode()
                .put("name", t.name())
                .put("digest", t.entry().digest().toString())
                .put("mediaType", t.entry().mediaType())
                .put("fetchedAt", t.entry().fetchedAt().toString())
                .put("blobs", t.stored().size())
                .put("bytes", t.bytes())
                .put("complete", t.complete());
    }

    private void deleteTag(Exchange ex, String project, String repository, String tag) throws IOException {
        boolean deleted = store.deleteTag(project, repository, tag);
        tagCache.forgetTags(project, repository, tag);
        if (!deleted) {
            throw RegistryException.notFound(ErrorCode.MANIFEST_UNKNOWN,
                    "no cached tag " + repository + ":" + tag + " in project " + project);
        }
        LOG.info("admin: deleted tag {}:{} of project {} from the cache", repository, tag, project);
        json(ex, HttpResponseStatus.OK, JSON.createObjectNode().put("project", project).put("repository", repository)
                .put("tag", tag).put("deleted", true));
    }

    private void deleteRepository(Exchange ex, String project, String repository) throws IOException {
        int deleted = store.deleteRepository(project, repository);
        tagCache.forgetTags(project, repository, null);
        if (deleted == 0) {
            throw RegistryException.notFound(ErrorCode.NAME_UNKNOWN,
                    "no cached tags for repository " + repository + " in project " + project);
        }
        LOG.info("admin: deleted repository {} of project {} from the cache ({} tags)", repository, project, deleted);
        json(ex, HttpResponseStatus.OK, JSON.createObjectNode().put("project", project).put("repository", repository)
                .put("deletedTags", deleted));
    }

    // ------------------------------------------------------------------------------------------------ helpers

    private String knownProject(String name) throws IOException {
        try {
            ContentStore.checkSegment(name);
        } catch (IllegalArgumentException e) {
            throw RegistryException.badRequest(ErrorCode.NAME_INVALID, "invalid project name: " + e.getMessage());
        }
        if (projects.byName(name).isEmpty() && !store.projectNames().contains(name)) {
            throw RegistryException.notFound(ErrorCode.NAME_UNKNOWN, "no project " + Excerpt.of(name));
        }
        return name;
    }

    private static String repositoryName(String name) {
        RepositoryName valid = new RepositoryName(name); // 400 NAME_INVALID if not a repository name
        return valid.value();
    }

    private static String tagName(String tag) {
        Reference ref = Reference.parse(tag); // 404 MANIFEST_UNKNOWN if not a tag, as on /v2
        if (ref.isDigest()) {
            throw RegistryException.badRequest(ErrorCode.UNSUPPORTED, "a tag, not a digest, is expected here");
        }
        return ref.tag();
    }

    static void only(HttpMethod m, HttpMethod... allowed) {
        for (HttpMethod a : allowed) {
            if (a.equals(m)) {
                return;
            }
        }
        StringBuilder allow = new StringBuilder();
        for (HttpMethod a : allowed) {
            allow.append(allow.length() == 0 ? "" : ", ").append(a.name());
        }
        throw new RegistryException(ErrorCode.UNSUPPORTED, HttpResponseStatus.METHOD_NOT_ALLOWED,
                m + " is not supported here", new DefaultHttpHeaders().set(HttpHeaderNames.ALLOW, allow.toString()));
    }

    static RegistryException notFound(String path) {
        return new RegistryException(ErrorCode.UNSUPPORTED, HttpResponseStatus.NOT_FOUND,
                "unknown admin endpoint " + Excerpt.of(path));
    }

    static String path(Exchange ex) {
        String uri = ex.request().uri();
        int q = uri.indexOf('?');
        String p = q >= 0 ? uri.substring(0, q) : uri;
        return p.endsWith("/") && p.length() > 1 ? p.substring(0, p.length() - 1) : p;
    }

    static void json(Exchange ex, HttpResponseStatus status, JsonNode body) {
        json(ex, status, new DefaultHttpHeaders(), body);
    }

    static void json(Exchange ex, HttpResponseStatus status, HttpHeaders headers, JsonNode body) {
        byte[] bytes;
        try {
            bytes = JSON.writerWithDefaultPrettyPrinter().writeValueAsBytes(body);
        } catch (IOException e) {
            throw new IllegalStateException(e);
        }
        headers.set(HttpHeaderNames.CONTENT_TYPE, "application/json; charset=utf-8");
        byte[] withNewline = Arrays.copyOf(bytes, bytes.length + 1);
        withNewline[bytes.length] = '\n';
        ex.bytes(status, headers, withNewline);
    }

    private static byte[] sha256(String s) {
        try {
            return MessageDigest.getInstance("SHA-256").digest(s.getBytes(StandardCharsets.UTF_8));
        } catch (NoSuchAlgorithmException e) {
            throw new IllegalStateException(e);
        }
    }


    /** Stops the executor and cancels prefetch jobs. */
    @Override
    public void close() {
        executor.shutdownNow();
        prefetch.close();
    }
}

package dev.wharf.server.console;

import static dev.wharf.server.console.Html.bytes;
import static dev.wharf.server.console.Html.esc;
import static dev.wharf.server.console.Html.percent;
import static dev.wharf.server.console.Html.q;
import static dev.wharf.server.console.Html.raw;

import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.ObjectMapper;
import com.fasterxml.jackson.databind.node.ArrayNode;
import com.fasterxml.jackson.databind.node.ObjectNode;
import dev.wharf.server.admin.CacheCatalog;
import dev.wharf.server.api.ErrorCode;
import dev.wharf.server.api.Excerpt;
import dev.wharf.server.api.Reference;
import dev.wharf.server.api.RegistryException;
import dev.wharf.server.api.RepositoryName;
import dev.wharf.server.config.UpstreamLimits;
import dev.wharf.server.metrics.WharfMetrics;
import dev.wharf.server.prefetch.ImageProgress;
import dev.wharf.server.prefetch.ImageReference;
import dev.wharf.server.prefetch.Platform;
import dev.wharf.server.prefetch.PrefetchJobs;
import dev.wharf.server.upstream.CircuitBreaker;
import dev.wharf.server.upstream.Project;
import dev.wharf.storage.BlobInfo;
import dev.wharf.storage.ContentStore;
import dev.wharf.storage.Digest;
import dev.wharf.storage.fill.Fills;
import java.io.IOException;
import java.net.URI;
import java.util.ArrayList;
import java.util.Comparator;
import java.util.List;
import java.util.Locale;
import java.util.Optional;
import java.util.TreeSet;
import java.util.concurrent.RejectedExecutionException;

/** The console's pages and feeds, rendered from {@link ConsoleData}. Runs on the console's executor. */
final class Pages {
    private static final ObjectMapper JSON = new ObjectMapper();
    private static final int MAX_IMAGES = 1000;

    /** The outcome of a form: where to go next, or what was wrong. */
    record Result(String redirect, String message) {
    }

    private final ConsoleData data;

    Pages(ConsoleData data) {
        this.data = data;
    }

    // ------------------------------------------------------------------------------------------------ login

    String login(String problem) {
        StringBuilder b = new StringBuilder();
        if (problem != null) {
            b.append("<p class=\"error\" role=\"alert\">").append(esc(problem)).append("</p>");
        }
        b.append("<form class=\"card login\" method=\"post\" action=\"/ui/login\">")
                .append("<p>Log in with the admin token (<code>admin.token</code>), or as an admin user.</p>")
                .append("<label for=\"username\">User name <span class=\"hint\">(empty for the admin token)</span>")
                .append("</label><input id=\"username\" name=\"username\" autocomplete=\"username\">")
                .append("<label for=\"secret\">Admin token or password</label>")
                .append("<input id=\"secret\" name=\"secret\" type=\"password\" required ")
                .append("autocomplete=\"current-password\" autofocus>")
                .append("<button type=\"submit\" id=\"login\">Log in</button></form>");
        return Html.page("Log in", "login", null, b.toString());
    }

    // ------------------------------------------------------------------------------------------------ overview

    String overview(String csrf) {
        data.sample(); // a new minute's sample if the timer has not taken it yet
        WharfMetrics.Totals now = data.metrics.totals();
        MinuteRing.Window hour = data.ring.window(ConsoleData.minute(), now);
        StringBuilder b = new StringBuilder();
        b.append("<section aria-labelledby=\"traffic\"><h2 id=\"traffic\">Cache traffic</h2>")
                .append("<div class=\"scroll\"><table id=\"traffic-table\"><thead><tr><th scope=\"col\">Window</th>")
                .append("<th scope=\"col\">Hit ratio</th><th scope=\"col\">Cache answers (hits / misses)</th>")
                .append("<th scope=\"col\">Served from cache</th><th scope=\"col\">Served while fetching</th>")
                .append("<th scope=\"col\">Fetched upstream</th></tr></thead><tbody>");
        if (hour != null) {
            trafficRow(b, "hour", hour.minutes() >= MinuteRing.MINUTES ? "Last hour" : "Last hour (samples for "
                    + (hour.minutes() < 1 ? "under a minute" : hour.minutes() + " min") + ")", hour.totals());
        }
        trafficRow(b, "total", "Since start", now);
        b.append("</tbody></table></div>")
                .append("<p class=\"hint\">A hit is a 2xx answer from the cache (hit, revalidated or stale); ")
                .append("\"served while fetching\" is content streamed to clients as it came from the upstream. ")
                .append("The numbers are those of <code>/metrics</code>.</p></section>");

        long used = data.store.storedBytes();
        b.append("<section aria-labelledby=\"storage\"><h2 id=\"storage\">Storage</h2><dl class=\"facts\">")
                .append(fact("storage-bytes", "Used", used, bytes(used)))
                .append(fact("storage-blobs", "Blobs", data.store.blobCount(), Long.toString(data.store.blobCount())))
                .append(fact("storage-max", "Limit (storage.maxSize)", data.maxSize,
                        data.maxSize <= 0 ? "unbounded" : bytes(data.maxSize) + " (" + percent(
                                (double) used / data.maxSize) + " used)"))
                .append(fact("evictions", "Evictions", now.evictions(), raw(now.evictions())))
                .append(fact("evicted-bytes", "Evicted", now.evictedBytes(), bytes(now.evictedBytes())))
                .append(fact("fills-inflight", "Fills in flight", data.fills.inFlight(),
                        Integer.toString(data.fills.inFlight())))
                .append("</dl>");
        if (data.maxSize > 0) {
            b.append("<meter id=\"storage-meter\" aria-label=\"storage used\" min=\"0\" max=\"")
                    .append(data.maxSize).append("\" value=\"").append(Math.min(used, data.maxSize)).append("\">")
                    .append(percent((double) used / data.maxSize)).append("</meter>");
        }
        b.append("</section>");

        b.append("<section aria-labelledby=\"upstreams\"><h2 id=\"upstreams\">Upstreams</h2>")
                .append("<div class=\"scroll\"><table id=\"projects-table\"><thead><tr>")
                .append("<th scope=\"col\">Project</th><th scope=\"col\">Upstream</th>")
                .append("<th scope=\"col\">Circuit</th><th scope=\"col\">Last error</th>")
                .append("<th scope=\"col\">Rate limit left</th></tr></thead><tbody>");
        for (Project p : data.projects.all()) {
            Optional<dev.wharf.server.upstream.RateLimits.Snapshot> limit = data.rateLimits == null
                    ? Optional.empty() : data.rateLimits.last(p.name());
            for (int i = 0; i < p.endpoints().size(); i++) {
                CircuitBreaker breaker = p.breaker(i);
                String err = breaker.lastError();
                b.append("<tr data-project=\"").append(esc(p.name())).append("\"><td>");
                if (i == 0) {
                    b.append("<a href=\"/ui/repositories?project=").append(q(p.name())).append("\">")
                            .append(esc(p.name())).append("</a>");
                }
                b.append("</td><td>").append(esc(safeUrl(p.endpoints().get(i).base()))).append("</td>")
                        .append("<td class=\"circuit-").append(breaker.state().name().toLowerCase(Locale.ROOT))
                        .append("\">").append(breaker.state().name().toLowerCase(Locale.ROOT).replace('_', '-'))
                        .append("</td><td>").append(err == null ? "none" : esc(Excerpt.of(err)) + " <span "
                                + "class=\"hint\">(" + esc(breaker.lastErrorAt()) + ")</span>")
                        .append("</td><td>");
                if (i == 0 && limit.isPresent()) {
                    b.append("<span class=\"ratelimit\" data-value=\"").append(limit.get().remaining()).append("\">")
                            .append(limit.get().remaining()).append(" of ").append(limit.get().limit())
                            .append("</span>").append(limit.get().low() ? " <strong>low</strong>" : "");
                } else {
                    b.append(i == 0 ? "not reported" : "");
                }
                b.append("</td></tr>");
            }
        }
        b.append("</tbody></table></div></section>");
        return Html.page("Overview", "overview", csrf, b.toString());
    }

    private static void trafficRow(StringBuilder b, String id, String label, WharfMetrics.Totals t) {
        b.append("<tr id=\"traffic-").append(id).append("\"><th scope=\"row\">").append(esc(label)).append("</th>")
                .append(cell(id + "-ratio", t.hitRatio(), percent(t.hitRatio())))
                .append("<td><span id=\"").append(id).append("-hits\" data-value=\"").append(raw(t.hits()))
                .append("\">").append(raw(t.hits())).append("</span> / <span id=\"").append(id)
                .append("-misses\" data-value=\"").append(raw(t.misses())).append("\">").append(raw(t.misses()))
                .append("</span></td>")
                .append(cell(id + "-served-cache", t.servedCache(), bytes(t.servedCache())))
                .append(cell(id + "-served-upstream", t.servedUpstream(), bytes(t.servedUpstream())))
                .append(cell(id + "-upstream-bytes", t.upstreamBytes(), bytes(t.upstreamBytes())))
                .append("</tr>");
    }

    private static String cell(String id, double value, String shown) {
        return "<td id=\"" + id + "\" data-value=\"" + raw(value) + "\">" + esc(shown) + "</td>";
    }

    private static String fact(String id, String label, double value, String shown) {
        return "<div><dt>" + esc(label) + "</dt><dd id=\"" + id + "\" data-value=\"" + raw(value) + "\">"
                + esc(shown) + "</dd></div>";
    }

    /** An upstream URL without user info, query or fragment (nothing secret on a page). */
    private static String safeUrl(URI u) {
        return u.getScheme() + "://" + u.getHost() + (u.getPort() >= 0 ? ":" + u.getPort() : "")
                + (u.getRawPath() == null ? "" : u.getRawPath());
    }

    // ------------------------------------------------------------------------------------------------ fills

    String fills(String csrf) {
        StringBuilder b = new StringBuilder();
        b.append("<p>Blobs being fetched from the upstreams now. This page updates itself every second.</p>")
                .append("<p class=\"hint\" aria-live=\"polite\">Updated <span id=\"fills-updated\">never</span>; ")
                .append("<span id=\"fills-count\">0</span> in flight.</p>")
                .append("<div class=\"scroll\"><table id=\"fills-table\"><thead><tr>")
                .append("<th scope=\"col\">Digest</th><th scope=\"col\">Repository</th>")
                .append("<th scope=\"col\">Progress</th><th scope=\"col\">Bytes</th>")
                .append("<th scope=\"col\">Clients</th><th scope=\"col\">Upstream rate</th>")
                .append("</tr></thead><tbody id=\"fills-body\">")
                .append("<tr class=\"empty\"><td colspan=\"6\">Loading…</td></tr></tbody></table></div>")
                .append("<p class=\"hint\">Clients: the request that started the fill and those that joined it. ")
                .append("Rate: the average since the fill started.</p>");
        return Html.page("Fills in flight", "fills", csrf, b.toString());
    }

    String fillsJson() {
        ObjectNode root = JSON.createObjectNode();
        ArrayNode list = root.putArray("fills");
        long now = System.nanoTime();
        List<Fills.View> views = new ArrayList<>(data.fills.snapshot());
        views.sort(Comparator.comparingLong(Fills.View::startedNanos));
        for (Fills.View v : views) {
            double seconds = Math.max(1e-3, (now - v.startedNanos()) / 1e9);
            list.addObject()
                    .put("digest", v.digest().toString())
                    .put("repository", v.origin())
                    .put("state", v.state().name().toLowerCase(Locale.ROOT))
                    .put("bytes", v.bytes())
                    .put("size", v.size())
                    .put("clients", v.clients())
                    .put("bytesPerSecond", Math.round(v.bytes() / seconds));
        }
        return root.toString();
    }

    // ------------------------------------------------------------------------------------------------ browse

    String projects(String csrf) throws IOException {
        List<String> names = new ArrayList<>();
        data.projects.all().forEach(p -> names.add(p.name()));
        for (String n : data.store.projectNames()) {
            if (!names.contains(n)) {
                names.add(n);
            }
        }
        StringBuilder b = new StringBuilder("<div class=\"scroll\"><table id=\"browse-projects\"><thead><tr>"
                + "<th scope=\"col\">Project</th><th scope=\"col\">Upstream</th><th scope=\"col\">Repositories</th>"
                + "</tr></thead><tbody>");
        for (String n : names) {
            Optional<Project> p = data.projects.byName(n);
            b.append("<tr><td><a href=\"/ui/repositories?project=").append(q(n)).append("\">").append(esc(n))
                    .append("</a></td><td>").append(p.map(x -> esc(safeUrl(x.endpoint().base()))).orElse("(not configured)"))
                    .append("</td><td>").append(data.store.repositories(n).size()).append("</td></tr>");
        }
        b.append("</tbody></table></div>");
        return Html.page("Projects", "projects", csrf, b.toString());
    }

    String repositories(String csrf, String project) throws IOException {
        String p = project(project);
        CacheCatalog catalog = new CacheCatalog(data.store);
        StringBuilder b = new StringBuilder(crumbs(p, null, null));
        b.append("<div class=\"scroll\"><table id=\"browse-repositories\"><thead><tr><th scope=\"col\">Repository</th>")
                .append("<th scope=\"col\">Tags</th><th scope=\"col\">Size</th><th scope=\"col\">Complete</th>")
                .append("</tr></thead><tbody>");
        List<String> repos = data.store.repositories(p);
        for (String r : repos) {
            CacheCatalog.RepositoryInfo info = catalog.repository(p, r);
            b.append("<tr><td><a href=\"/ui/tags?project=").append(q(p)).append("&amp;repository=").append(q(r))
                    .append("\">").append(esc(r)).append("</a></td><td>").append(info.tags().size())
                    .append("</td><td>").append(bytes(info.bytes())).append("</td><td>")
                    .append(info.complete() ? "yes" : "no").append("</td></tr>");
        }
        if (repos.isEmpty()) {
            b.append("<tr><td colspan=\"4\">Nothing cached yet.</td></tr>");
        }
        b.append("</tbody></table></div>");
        return Html.page("Repositories of " + p, "projects", csrf, b.toString());
    }

    String tags(String csrf, String project, String repository, String deleted) throws IOException {
        String p = project(project);
        String r = repository(repository);
        CacheCatalog.RepositoryInfo info = new CacheCatalog(data.store).repository(p, r);
        StringBuilder b = new StringBuilder(crumbs(p, r, null));
        if (!deleted.isEmpty()) {
            b.append("<p class=\"notice\" role=\"status\" id=\"deleted-notice\">Deleted the cached tag ")
                    .append(esc(deleted)).append(".</p>");
        }
        b.append("<div class=\"scroll\"><table id=\"browse-tags\"><thead><tr><th scope=\"col\">Tag</th>")
                .append("<th scope=\"col\">Digest</th><th scope=\"col\">Media type</th><th scope=\"col\">Size</th>")
                .append("<th scope=\"col\">Last pull</th></tr></thead><tbody>");
        for (CacheCatalog.TagInfo t : info.tags()) {
            b.append("<tr data-tag=\"").append(esc(t.name())).append("\"><td><a href=\"")
                    .append(tagHref(p, r, t.name())).append("\">").append(esc(t.name())).append("</a></td>")
                    .append("<td><code class=\"digest\">").append(esc(t.entry().digest())).append("</code></td><td>")
                    .append(esc(t.entry().mediaType())).append("</td><td>").append(bytes(t.bytes())).append("</td><td>")
                    .append(esc(lastPull(t.entry().digest()))).append("</td></tr>");
        }
        if (info.tags().isEmpty()) {
            b.append("<tr><td colspan=\"5\">No cached tags.</td></tr>");
        }
        b.append("</tbody></table></div>");
        return Html.page(r, "projects", csrf, b.toString());
    }

    String tag(String csrf, String project, String repository, String tag) {
        String p = project(project);
        String r = repository(repository);
        String t = tag(tag);
        CacheCatalog.TagInfo info = new CacheCatalog(data.store).tag(p, r, t).orElseThrow(() ->
                RegistryException.notFound(ErrorCode.MANIFEST_UNKNOWN, "no cached tag " + r + ":" + t));
        StringBuilder b = new StringBuilder(crumbs(p, r, t));
        b.append("<dl class=\"facts\" id=\"tag-facts\">")
                .append("<div><dt>Digest</dt><dd><code id=\"tag-digest\" class=\"digest\">")
                .append(esc(info.entry().digest())).append("</code></dd></div>")
                .append("<div><dt>Media type</dt><dd id=\"tag-media-type\">").append(esc(info.entry().mediaType()))
                .append("</dd></div><div><dt>Size</dt><dd id=\"tag-size\" data-value=\"").append(info.bytes())
                .append("\">").append(bytes(info.bytes())).append(" in ").append(info.stored().size())
                .append(info.stored().size() == 1 ? " blob" : " blobs").append(info.complete() ? "" : " (incomplete: a pull still needs the upstream)")
                .append("</dd></div><div><dt>Last pull</dt><dd>").append(esc(lastPull(info.entry().digest())))
                .append("</dd></div><div><dt>Tag checked upstream</dt><dd>").append(esc(info.entry().fetchedAt()))
                .append("</dd></div></dl>");
        List<String[]> platforms = platforms(info.entry().digest());
        if (!platforms.isEmpty()) {
            b.append("<h2>Platforms</h2><div class=\"scroll\"><table id=\"tag-platforms\"><thead><tr>")
                    .append("<th scope=\"col\">Platform</th><th scope=\"col\">Digest</th><th scope=\"col\">Cached</th>")
                    .append("</tr></thead><tbody>");
            for (String[] pl : platforms) {
                b.append("<tr><td>").append(esc(pl[0])).append("</td><td><code class=\"digest\">").append(esc(pl[1]))
                        .append("</code></td><td>").append(pl[2]).append("</td></tr>");
            }
            b.append("</tbody></table></div>");
        }
        b.append("<p><a class=\"button danger\" id=\"delete-tag\" href=\"/ui/tag/delete?project=").append(q(p))
                .append("&amp;repository=").append(q(r)).append("&amp;tag=").append(q(t))
                .append("\">Delete this cached tag…</a></p>");
        return Html.page(r + ":" + t, "projects", csrf, b.toString());
    }

    String confirmDelete(String csrf, String project, String repository, String tag) {
        String p = project(project);
        String r = repository(repository);
        String t = tag(tag);
        if (data.store.tag(p, r, t).isEmpty()) {
            throw RegistryException.notFound(ErrorCode.MANIFEST_UNKNOWN, "no cached tag " + r + ":" + t);
        }
        StringBuilder b = new StringBuilder(crumbs(p, r, t));
        b.append("<form class=\"card\" method=\"post\" action=\"/ui/tag/delete\">").append(Html.csrfField(csrf))
                .append("<input type=\"hidden\" name=\"project\" value=\"").append(esc(p)).append("\">")
                .append("<input type=\"hidden\" name=\"repository\" value=\"").append(esc(r)).append("\">")
                .append("<input type=\"hidden\" name=\"tag\" value=\"").append(esc(t)).append("\">")
                .append("<p>Delete the cached tag <strong>").append(esc(r + ":" + t)).append("</strong> of project ")
                .append(esc(p)).append("? The next pull of it asks the upstream again; its content stays until ")
                .append("eviction reclaims what nothing uses.</p>")
                .append("<button type=\"submit\" class=\"danger\" id=\"confirm-delete\">Delete</button> ")
                .append("<a class=\"button\" href=\"").append(tagHref(p, r, t)).append("\">Cancel</a></form>");
        return Html.page("Delete " + r + ":" + t + "?", "projects", csrf, b.toString());
    }

    /** Deletes a cached tag; returns where to go next. */
    String deleteTag(String project, String repository, String tag) throws IOException {
        String p = project(project);
        String r = repository(repository);
        String t = tag(tag);
        boolean deleted = data.store.deleteTag(p, r, t);
        data.tagCache.forgetTags(p, r, t);
        if (!deleted) {
            throw RegistryException.notFound(ErrorCode.MANIFEST_UNKNOWN, "no cached tag " + r + ":" + t);
        }
        org.slf4j.LoggerFactory.getLogger(Console.class).info("console: deleted tag {}:{} of project {} from the cache",
                r, t, p);
        return "/ui/tags?project=" + q(p) + "&repository=" + q(r) + "&deleted=" + q(t);
    }

    private String crumbs(String project, String repository, String tag) {
        StringBuilder b = new StringBuilder("<nav aria-label=\"Breadcrumb\" class=\"crumbs\"><ol>")
                .append("<li><a href=\"/ui/projects\">Projects</a></li><li><a href=\"/ui/repositories?project=")
                .append(q(project)).append("\">").append(esc(project)).append("</a></li>");
        if (repository != null) {
            b.append("<li><a href=\"/ui/tags?project=").append(q(project)).append("&amp;repository=")
                    .append(q(repository)).append("\">").append(esc(repository)).append("</a></li>");
        }
        if (tag != null) {
            b.append("<li><a href=\"").append(tagHref(project, repository, tag)).append("\">").append(esc(tag))
                    .append("</a></li>");
        }
        return b.append("</ol></nav>").toString();
    }

    private static String tagHref(String p, String r, String t) {
        return "/ui/tag?project=" + q(p) + "&amp;repository=" + q(r) + "&amp;tag=" + q(t);
    }

    private String lastPull(Digest manifest) {
        return data.store.blobInfo(manifest).map(BlobInfo::lastAccess).map(Object::toString).orElse("unknown");
    }

    /** For an index: each platform, its manifest digest and whether that manifest is cached. */
    private List<String[]> platforms(Digest index) {
        List<String[]> out = new ArrayList<>();
        try {
            Optional<byte[]> body = data.store.readSmall(index, UpstreamLimits.MANIFEST_SIZE_CEILING);
            if (body.isEmpty()) {
                return out;
            }
            JsonNode json = JSON.readTree(body.get());
            for (JsonNode m : json.path("manifests")) {
                JsonNode pl = m.path("platform");
                String name = pl.isMissingNode() ? "(none)" : pl.path("os").asText("?") + "/"
                        + pl.path("architecture").asText("?")
                        + (pl.hasNonNull("variant") ? "/" + pl.get("variant").asText() : "");
                String digest = m.path("digest").asText("");
                boolean cached;
                try {
                    cached = data.store.blobSize(Digest.parse(digest)).isPresent();
                } catch (IllegalArgumentException e) {
                    cached = false;
                }
                out.add(new String[] {name, digest, cached ? "yes" : "no"});
            }
        } catch (IOException e) {
            return out;
        }
        return out;
    }

    private String project(String name) {
        try {
            ContentStore.checkSegment(name);
        } catch (IllegalArgumentException e) {
            throw RegistryException.badRequest(ErrorCode.NAME_INVALID, "invalid project name: " + e.getMessage());
        }
        try {
            if (data.projects.byName(name).isEmpty() && !data.store.projectNames().contains(name)) {
                throw RegistryException.notFound(ErrorCode.NAME_UNKNOWN, "no project " + Excerpt.of(name));
            }
        } catch (IOException e) {
            throw new java.io.UncheckedIOException(e);
        }
        return name;
    }

    private static String repository(String name) {
        return new RepositoryName(name).value(); // 400 NAME_INVALID if not a repository name
    }

    private static String tag(String tag) {
        Reference ref = Reference.parse(tag);
        if (ref.isDigest()) {
            throw RegistryException.badRequest(ErrorCode.UNSUPPORTED, "a tag, not a digest, is expected here");
        }
        return ref.tag();
    }

    // ------------------------------------------------------------------------------------------------ prefetch

    String prefetch(String csrf, String problem, String images, String platforms) {
        StringBuilder b = new StringBuilder();
        if (problem != null) {
            b.append("<p class=\"error\" role=\"alert\" id=\"prefetch-error\">").append(esc(problem)).append("</p>");
        }
        b.append("<form class=\"card\" method=\"post\" action=\"/ui/prefetch\" id=\"prefetch-form\">")
                .append(Html.csrfField(csrf))
                .append("<label for=\"images\">Images, one per line</label>")
                .append("<textarea id=\"images\" name=\"images\" rows=\"6\" required ")
                .append("placeholder=\"docker.io/library/nginx:1.27\">").append(esc(images)).append("</textarea>")
                .append("<label for=\"platforms\">Platforms <span class=\"hint\">(optional, comma-separated, e.g. ")
                .append("linux/amd64,linux/arm64; empty for every platform)</span></label>")
                .append("<input id=\"platforms\" name=\"platforms\" value=\"").append(esc(platforms)).append("\">")
                .append("<button type=\"submit\" id=\"start-prefetch\">Start prefetch</button></form>");
        b.append("<h2>Recent jobs</h2><div class=\"scroll\"><table id=\"prefetch-jobs\"><thead><tr>")
                .append("<th scope=\"col\">Job</th><th scope=\"col\">State</th><th scope=\"col\">Images</th>")
                .append("<th scope=\"col\">Created</th></tr></thead><tbody>");
        List<PrefetchJobs.Job> jobs = new ArrayList<>(data.jobs.all());
        jobs.sort(Comparator.comparing(PrefetchJobs.Job::createdAt).reversed());
        for (PrefetchJobs.Job j : jobs.subList(0, Math.min(20, jobs.size()))) {
            b.append("<tr><td><a href=\"/ui/prefetch/job?id=").append(q(j.id())).append("\">").append(esc(j.id()))
                    .append("</a></td><td>").append(state(j.state())).append("</td><td>").append(j.images().size())
                    .append("</td><td>").append(esc(j.createdAt())).append("</td></tr>");
        }
        if (jobs.isEmpty()) {
            b.append("<tr><td colspan=\"4\">None yet.</td></tr>");
        }
        b.append("</tbody></table></div>");
        return Html.page("Prefetch", "prefetch", csrf, b.toString());
    }

    Result startPrefetch(String images, String platforms) {
        List<ImageReference> refs = new ArrayList<>();
        for (String line : images.split("\\R")) {
            String s = line.trim();
            if (s.isEmpty() || s.startsWith("#")) {
                continue;
            }
            try {
                refs.add(ImageReference.parse(s));
            } catch (IllegalArgumentException e) {
                return new Result(null, e.getMessage());
            }
        }
        if (refs.isEmpty()) {
            return new Result(null, "Name at least one image.");
        }
        if (refs.size() > MAX_IMAGES) {
            return new Result(null, "At most " + MAX_IMAGES + " images per job from this form.");
        }
        List<Platform> wanted = new ArrayList<>();
        for (String p : new TreeSet<>(List.of(platforms.split("[,\\s]+")))) {
            if (p.isBlank()) {
                continue;
            }
            try {
                wanted.add(Platform.parse(p.trim()));
            } catch (IllegalArgumentException e) {
                return new Result(null, e.getMessage());
            }
        }
        try {
            PrefetchJobs.Job job = data.jobs.submit(refs, wanted);
            return new Result("/ui/prefetch/job?id=" + q(job.id()), null);
        } catch (RejectedExecutionException e) {
            return new Result(null, "Too many prefetch jobs are waiting; try again later.");
        }
    }

    String job(String csrf, String id) {
        PrefetchJobs.Job job = job(id);
        StringBuilder b = new StringBuilder();
        b.append("<p>State: <strong id=\"job-state\" data-id=\"").append(esc(job.id())).append("\">")
                .append(state(job.state())).append("</strong>")
                .append(" <span class=\"hint\">(updates itself every second)</span></p>")
                .append("<div class=\"scroll\"><table id=\"job-images\"><thead><tr><th scope=\"col\">Image</th>")
                .append("<th scope=\"col\">State</th><th scope=\"col\">Progress</th><th scope=\"col\">Digest</th>")
                .append("<th scope=\"col\">Note</th></tr></thead><tbody id=\"job-body\">");
        for (ImageProgress i : job.images()) {
            b.append("<tr><td>").append(esc(i.reference().text())).append("</td><td>")
                    .append(esc(i.state().name().toLowerCase(Locale.ROOT))).append("</td><td>")
                    .append(bytes(i.bytesDone())).append(" / ").append(bytes(i.bytesTotal())).append("</td><td>")
                    .append(i.digest() == null ? "" : "<code class=\"digest\">" + esc(i.digest()) + "</code>")
                    .append("</td><td>").append(esc(i.error() != null ? i.error() : i.note())).append("</td></tr>");
        }
        b.append("</tbody></table></div><p><a href=\"/ui/prefetch\">Back to prefetch</a></p>");
        return Html.page("Prefetch job " + job.id(), "prefetch", csrf, b.toString());
    }

    String jobJson(String id) {
        PrefetchJobs.Job job = job(id);
        ObjectNode out = JSON.createObjectNode().put("id", job.id()).put("state", state(job.state()));
        ArrayNode images = out.putArray("images");
        for (ImageProgress i : job.images()) {
            images.addObject()
                    .put("reference", i.reference().text())
                    .put("state", i.state().name().toLowerCase(Locale.ROOT))
                    .put("digest", i.digest())
                    .put("bytesDone", i.bytesDone())
                    .put("bytesTotal", i.bytesTotal())
                    .put("layersDone", i.layersDone())
                    .put("layersTotal", i.layersTotal())
                    .put("note", i.error() != null ? i.error() : i.note());
        }
        return out.toString();
    }

    private PrefetchJobs.Job job(String id) {
        return data.jobs.get(id).orElseThrow(() -> RegistryException.notFound(ErrorCode.NAME_UNKNOWN,
                "no prefetch job " + Excerpt.of(id)));
    }

    private static String state(PrefetchJobs.State s) {
        return s.name().toLowerCase(Locale.ROOT);
    }
}

package dev.wharf.server.console;

import dev.wharf.server.api.ErrorCode;
import dev.wharf.server.api.RegistryException;
import dev.wharf.server.http.AdminEndpoint;
import dev.wharf.server.http.Exchange;
import io.netty.channel.Channel;
import io.netty.handler.codec.http.DefaultHttpHeaders;
import io.netty.handler.codec.http.HttpHeaderNames;
import io.netty.handler.codec.http.HttpHeaders;
import io.netty.handler.codec.http.HttpMethod;
import io.netty.handler.codec.http.HttpResponseStatus;
import io.netty.handler.codec.http.QueryStringDecoder;
import io.netty.handler.codec.http.cookie.Cookie;
import io.netty.handler.codec.http.cookie.ServerCookieDecoder;
import io.netty.handler.ssl.SslHandler;
import java.io.IOException;
import java.io.InputStream;
import java.nio.charset.StandardCharsets;
import java.util.Base64;
import java.util.List;
import java.util.Map;
import java.util.Set;
import java.util.concurrent.ArrayBlockingQueue;
import java.util.concurrent.Executors;
import java.util.concurrent.RejectedExecutionException;
import java.util.concurrent.ScheduledExecutorService;
import java.util.concurrent.ThreadPoolExecutor;
import java.util.concurrent.TimeUnit;
import java.util.function.BiPredicate;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

/**
 * The web console under {@code /ui}: server-rendered pages and two small JSON feeds for its script, served wherever
 * {@code /api/v1} is (the admin listener, or the registry address without {@code admin.listen}).
 *
 * <p>Security. Logging in posts the admin credentials once; they are checked by the admin API's own check
 * ({@code BiPredicate} given at construction, {@code AdminApi::authorizes}), never here. A login creates a
 * {@link Sessions session}: a random id in a cookie that is {@code HttpOnly}, {@code SameSite=Strict},
 * {@code Path=/ui}, {@code Secure} over TLS, with a bounded lifetime. Every page and feed but the login page and the
 * static files needs a live session: a page without one redirects to the login page, anything else gets 401. Every
 * POST (bar the login itself) needs the session's CSRF token in its form and an {@code Origin} naming this very
 * host; the login POST needs that Origin too. Every answer carries a Content-Security-Policy with no inline script
 * or style, {@code frame-ancestors 'none'}, {@code X-Frame-Options: DENY}, {@code nosniff}, {@code Referrer-Policy: same-origin}
 * and {@code no-store}. Pages hold no secret but the session's CSRF token.
 *
 * <p>Disk reads run on a small executor of its own, never on an event loop.
 */
public final class Console implements AdminEndpoint, AutoCloseable {
    private static final Logger LOG = LoggerFactory.getLogger(Console.class);
    /** The path prefix of every console page. */
    public static final String PREFIX = "/ui";
    static final String COOKIE = "wharf_console";
    static final String CSP = "default-src 'self'; script-src 'self'; style-src 'self'; img-src 'self'; "
            + "connect-src 'self'; form-action 'self'; frame-ancestors 'none'; base-uri 'none'; object-src 'none'";
    private static final Map<String, String> STATIC = Map.of(
            "console.css", "text/css; charset=utf-8",
            "console.js", "text/javascript; charset=utf-8");
    /** POSTs that need a session (and its CSRF token). */
    private static final Set<String> SESSION_POSTS = Set.of("/ui/logout", "/ui/prefetch", "/ui/tag/delete");

    private final BiPredicate<String, io.netty.channel.Channel> authorizes;
    private final Pages pages;
    private final Sessions sessions = new Sessions(System::nanoTime);
    private final ThreadPoolExecutor executor = new ThreadPoolExecutor(2, 2, 60, TimeUnit.SECONDS,
            new ArrayBlockingQueue<>(128), r -> {
                Thread t = new Thread(r, "wharf-console");
                t.setDaemon(true);
                return t;
            });
    private final ScheduledExecutorService timer = Executors.newSingleThreadScheduledExecutor(r -> {
        Thread t = new Thread(r, "wharf-console-samples");
        t.setDaemon(true);
        return t;
    });

    /**
     * @param authorizes the admin API's check: true if an {@code Authorization} header of this value may use the
     *                   admin API
     */
    public Console(BiPredicate<String, io.netty.channel.Channel> authorizes, ConsoleData data) {
        this.authorizes = authorizes;
        this.pages = new Pages(data);
        data.sample();
        timer.scheduleAtFixedRate(data::sample, 60 - (System.currentTimeMillis() / 1000) % 60, 60, TimeUnit.SECONDS);
    }

    /** True if {@code path} (no query) is the console's. */
    public static boolean owns(String path) {
        return path.equals(PREFIX) || path.startsWith(PREFIX + "/");
    }

    /**
     * Asked before a request's body is read: a POST that needs a session is refused here without one, so nobody
     * unauthenticated can make wharf read a body (bar the small login form).
     */
    @Override
    public RegistryException refuse(Exchange ex) {
        String path = path(ex);
        if (ex.request().method().equals(HttpMethod.POST) && !path.equals("/ui/login") && session(ex) == null) {
            return new RegistryException(ErrorCode.UNAUTHORIZED, HttpResponseStatus.UNAUTHORIZED,
                    "log in to the console first (" + PREFIX + "/login)", securityHeaders(new DefaultHttpHeaders()));
        }
        return null;
    }

    @Override
    public void handle(Exchange ex, byte[] body) {
        try {
            executor.execute(() -> {
                try {
                    route(ex, body);
                } catch (RegistryException e) {
                    ex.error(withSecurityHeaders(e));
                } catch (Exception e) {
                    ex.fail(e);
                }
            });
        } catch (RejectedExecutionException e) {
            ex.error(new RegistryException(ErrorCode.TOOMANYREQUESTS, HttpResponseStatus.TOO_MANY_REQUESTS,
                    "the console is busy; try again", securityHeaders(new DefaultHttpHeaders())));
        }
    }

    private void route(Exchange ex, byte[] body) throws IOException {
        String path = path(ex);
        HttpMethod m = ex.request().method();
        QueryStringDecoder query = new QueryStringDecoder(ex.request().uri());
        if (path.startsWith("/ui/static/")) {
            only(m, HttpMethod.GET);
            staticFile(ex, path.substring("/ui/static/".length()));
            return;
        }
        if (path.equals("/ui/login")) {
            if (m.equals(HttpMethod.POST)) {
                login(ex, body);
            } else {
                only(m, HttpMethod.GET, HttpMethod.POST);
                html(ex, HttpResponseStatus.OK, pages.login(null), null);
            }
            return;
        }
        Sessions.Session session = session(ex);
        if (session == null) {
            if (m.equals(HttpMethod.GET) && !path.endsWith(".json")) {
                redirect(ex, "/ui/login", null);
            } else {
                text(ex, HttpResponseStatus.UNAUTHORIZED, "log in to the console first (" + PREFIX + "/login)\n");
            }
            return;
        }
        if (m.equals(HttpMethod.POST)) {
            Map<String, List<String>> form = new QueryStringDecoder(new String(body, StandardCharsets.UTF_8), false)
                    .parameters();
            String refused = forged(ex, session, form);
            if (refused != null) {
                LOG.warn("console: refused a POST to {} from {}: {}", path, ex.ctx().channel().remoteAddress(),
                        refused);
                text(ex, HttpResponseStatus.FORBIDDEN, "refused: " + refused + "\n");
                return;
            }
            switch (path) {
                case "/ui/logout" -> {
                    sessions.remove(cookie(ex));
                    redirect(ex, "/ui/login", expiredCookie(ex));
                }
                case "/ui/prefetch" -> {
                    Pages.Result r = pages.startPrefetch(first(form, "images"), first(form, "platforms"));
                    if (r.redirect() != null) {
                        redirect(ex, r.redirect(), null);
                    } else {
                        html(ex, HttpResponseStatus.BAD_REQUEST, pages.prefetch(session.csrf(), r.message(),
                                first(form, "images"), first(form, "platforms")), null);
                    }
                }
                case "/ui/tag/delete" -> redirect(ex, pages.deleteTag(first(form, "project"),
                        first(form, "repository"), first(form, "tag")), null);
                default -> text(ex, HttpResponseStatus.NOT_FOUND, "not found\n");
            }
            return;
        }
        only(m, HttpMethod.GET, HttpMethod.POST);
        String csrf = session.csrf();
        switch (path) {
            case "/ui" -> redirect(ex, "/ui/overview", null);
            case "/ui/overview" -> html(ex, HttpResponseStatus.OK, pages.overview(csrf), null);
            case "/ui/fills" -> html(ex, HttpResponseStatus.OK, pages.fills(csrf), null);
            case "/ui/fills.json" -> json(ex, pages.fillsJson());
            case "/ui/projects" -> html(ex, HttpResponseStatus.OK, pages.projects(csrf), null);
            case "/ui/repositories" -> html(ex, HttpResponseStatus.OK, pages.repositories(csrf,
                    param(query, "project")), null);
            case "/ui/tags" -> html(ex, HttpResponseStatus.OK, pages.tags(csrf, param(query, "project"),
                    param(query, "repository"), param(query, "deleted")), null);
            case "/ui/tag" -> html(ex, HttpResponseStatus.OK, pages.tag(csrf, param(query, "project"),
                    param(query, "repository"), param(query, "tag")), null);
            case "/ui/tag/delete" -> html(ex, HttpResponseStatus.OK, pages.confirmDelete(csrf,
                    param(query, "project"), param(query, "repository"), param(query, "tag")), null);
            case "/ui/prefetch" -> html(ex, HttpResponseStatus.OK, pages.prefetch(csrf, null, "", ""), null);
            case "/ui/prefetch/job" -> html(ex, HttpResponseStatus.OK, pages.job(csrf, param(query, "id")), null);
            case "/ui/prefetch/job.json" -> json(ex, pages.jobJson(param(query, "id")));
            default -> text(ex, HttpResponseStatus.NOT_FOUND, "not found: " + path + "\n");
        }
    }

    // ------------------------------------------------------------------------------------------------ login

    private void login(Exchange ex, byte[] body) {
        Map<String, List<String>> form = new QueryStringDecoder(new String(body, StandardCharsets.UTF_8), false)
                .parameters();
        String origin = wrongOrigin(ex);
        if (origin != null) {
            LOG.warn("console: refused a login from {}: {}", ex.ctx().channel().remoteAddress(), origin);
            text(ex, HttpResponseStatus.FORBIDDEN, "refused: " + origin + "\n");
            return;
        }
        String user = first(form, "username");
        String secret = first(form, "secret");
        // The credentials become an Authorization header and go to the admin API's own check: a user name means
        // Basic (admin users), none means the admin token (Bearer).
        String header = user.isEmpty() ? "Bearer " + secret
                : "Basic " + Base64.getEncoder().encodeToString((user + ":" + secret).getBytes(StandardCharsets.UTF_8));
        if (secret.isEmpty() || !authorizes.test(header, ex.ctx().channel())) {
            LOG.warn("console: login from {} refused: wrong credentials", ex.ctx().channel().remoteAddress());
            html(ex, HttpResponseStatus.UNAUTHORIZED, pages.login("Wrong credentials."), null);
            return;
        }
        Sessions.Session s = sessions.create();
        LOG.info("console: login from {}", ex.ctx().channel().remoteAddress());
        String cookie = COOKIE + "=" + s.id() + "; Path=" + PREFIX + "; HttpOnly; SameSite=Strict; Max-Age="
                + Sessions.LIFETIME.toSeconds() + (overTls(ex) ? "; Secure" : "");
        redirect(ex, "/ui/overview", cookie);
    }

    /** Why a session's POST looks forged (no or wrong CSRF token, foreign or missing Origin), or null if it does not. */
    private String forged(Exchange ex, Sessions.Session session, Map<String, List<String>> form) {
        String origin = wrongOrigin(ex);
        if (origin != null) {
            return origin;
        }
        if (!Sessions.csrfMatches(session, first(form, "csrf"))) {
            return "missing or wrong CSRF token";
        }
        return null;
    }

    /** Null if the request's Origin is this server (same scheme and Host), else why not. */
    private static String wrongOrigin(Exchange ex) {
        HttpHeaders h = ex.request().headers();
        String origin = h.get(HttpHeaderNames.ORIGIN);
        String host = h.get(HttpHeaderNames.HOST);
        if (origin == null || host == null) {
            return "a form POST must carry Origin and Host headers";
        }
        String expected = (overTls(ex) ? "https://" : "http://") + host;
        if (!origin.equalsIgnoreCase(expected)) {
            return "cross-origin POST (Origin " + dev.wharf.server.api.Excerpt.of(origin) + ")";
        }
        return null;
    }

    private Sessions.Session session(Exchange ex) {
        return sessions.find(cookie(ex));
    }

    private static String cookie(Exchange ex) {
        String header = ex.request().headers().get(HttpHeaderNames.COOKIE);
        if (header == null) {
            return null;
        }
        for (Cookie c : ServerCookieDecoder.STRICT.decode(header)) {
            if (c.name().equals(COOKIE)) {
                return c.value();
            }
        }
        return null;
    }

    private static String expiredCookie(Exchange ex) {
        return COOKIE + "=; Path=" + PREFIX + "; HttpOnly; SameSite=Strict; Max-Age=0" + (overTls(ex) ? "; Secure" : "");
    }

    /**
     * True if the browser reached this page over HTTPS: wharf's own TLS, or a TLS-terminating proxy that says so in
     * {@code X-Forwarded-Proto}. Trusting that header is safe here: it only picks the scheme the Origin must carry
     * and whether the cookie is {@code Secure}; a cross-site page cannot set it on a victim's request.
     */
    private static boolean overTls(Exchange ex) {
        if ("https".equalsIgnoreCase(ex.request().headers().get("X-Forwarded-Proto"))) {
            return true;
        }
        Channel ch = ex.ctx().channel();
        return ch.pipeline().get(SslHandler.class) != null
                || (ch.parent() != null && ch.parent().pipeline().get(SslHandler.class) != null);
    }

    // ------------------------------------------------------------------------------------------------ answers

    static HttpHeaders securityHeaders(HttpHeaders h) {
        return h.set("Content-Security-Policy", CSP)
                .set("X-Frame-Options", "DENY")
                .set("X-Content-Type-Options", "nosniff")
                .set("Referrer-Policy", "same-origin") // no-referrer would make Chrome send "Origin: null" on our own POSTs
                .set(HttpHeaderNames.CACHE_CONTROL, "no-store");
    }

    private static RegistryException withSecurityHeaders(RegistryException e) {
        HttpHeaders h = new DefaultHttpHeaders();
        if (e.headers() != null) {
            h.set(e.headers());
        }
        return new RegistryException(e.code(), e.status(), e.getMessage(), securityHeaders(h));
    }

    private static void html(Exchange ex, HttpResponseStatus status, String page, String setCookie) {
        HttpHeaders h = securityHeaders(new DefaultHttpHeaders())
                .set(HttpHeaderNames.CONTENT_TYPE, "text/html; charset=utf-8");
        if (setCookie != null) {
            h.set(HttpHeaderNames.SET_COOKIE, setCookie);
        }
        ex.bytes(status, h, page.getBytes(StandardCharsets.UTF_8));
    }

    private static void json(Exchange ex, String body) {
        ex.bytes(HttpResponseStatus.OK, securityHeaders(new DefaultHttpHeaders())
                .set(HttpHeaderNames.CONTENT_TYPE, "application/json; charset=utf-8"),
                body.getBytes(StandardCharsets.UTF_8));
    }

    private static void text(Exchange ex, HttpResponseStatus status, String body) {
        ex.bytes(status, securityHeaders(new DefaultHttpHeaders())
                .set(HttpHeaderNames.CONTENT_TYPE, "text/plain; charset=utf-8"), body.getBytes(StandardCharsets.UTF_8));
    }

    private static void redirect(Exchange ex, String location, String setCookie) {
        HttpHeaders h = securityHeaders(new DefaultHttpHeaders()).set(HttpHeaderNames.LOCATION, location)
                .set(HttpHeaderNames.CONTENT_TYPE, "text/plain; charset=utf-8");
        if (setCookie != null) {
            h.set(HttpHeaderNames.SET_COOKIE, setCookie);
        }
        ex.bytes(HttpResponseStatus.SEE_OTHER, h, ("see " + location + "\n").getBytes(StandardCharsets.UTF_8));
    }

    private static void staticFile(Exchange ex, String name) throws IOException {
        String type = STATIC.get(name);
        if (type == null) {
            text(ex, HttpResponseStatus.NOT_FOUND, "not found\n");
            return;
        }
        try (InputStream in = Console.class.getResourceAsStream(name)) {
            if (in == null) {
                throw new IOException("resource " + name + " is missing from the jar");
            }
            ex.bytes(HttpResponseStatus.OK, securityHeaders(new DefaultHttpHeaders())
                    .set(HttpHeaderNames.CONTENT_TYPE, type), in.readAllBytes());
        }
    }

    private static void only(HttpMethod m, HttpMethod... allowed) {
        for (HttpMethod a : allowed) {
            if (a.equals(m)) {
                return;
            }
        }
        throw new RegistryException(ErrorCode.UNSUPPORTED, HttpResponseStatus.METHOD_NOT_ALLOWED,
                m + " is not supported here");
    }

    private static String path(Exchange ex) {
        String uri = ex.request().uri();
        int q = uri.indexOf('?');
        String p = q >= 0 ? uri.substring(0, q) : uri;
        return p.endsWith("/") && p.length() > 1 ? p.substring(0, p.length() - 1) : p;
    }

    private static String param(QueryStringDecoder q, String name) {
        return first(q.parameters(), name);
    }

    private static String first(Map<String, List<String>> params, String name) {
        List<String> v = params.get(name);
        return v == null || v.isEmpty() ? "" : v.get(0);
    }

    int sessionCount() {
        return sessions.size();
    }

    @Override
    public void close() {
        timer.shutdownNow();
        executor.shutdownNow();
    }
}

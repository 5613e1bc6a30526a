package dev.wharf.server.access;

import com.fasterxml.jackson.databind.ObjectMapper;
import com.fasterxml.jackson.databind.node.ObjectNode;
import com.github.benmanes.caffeine.cache.Cache;
import com.github.benmanes.caffeine.cache.Caffeine;
import dev.wharf.auth.access.AccessRules;
import dev.wharf.auth.access.AccessTokens;
import dev.wharf.auth.access.BasicCredentials;
import dev.wharf.auth.access.Logins;
import dev.wharf.auth.access.Principal;
import dev.wharf.auth.access.Scope;
import dev.wharf.server.api.ErrorCode;
import dev.wharf.server.api.RegistryException;
import dev.wharf.server.http.Exchange;
import dev.wharf.server.http.RegistryAccess;
import dev.wharf.server.http.Route;
import io.netty.channel.Channel;
import io.netty.handler.codec.http.DefaultHttpHeaders;
import io.netty.handler.codec.http.HttpHeaderNames;
import io.netty.handler.codec.http.HttpHeaders;
import io.netty.handler.codec.http.HttpResponseStatus;
import io.netty.handler.ssl.SslHandler;
import java.net.InetSocketAddress;
import java.net.SocketAddress;
import java.nio.charset.StandardCharsets;
import java.time.Duration;
import java.util.ArrayList;
import java.util.List;
import java.util.Optional;
import java.util.concurrent.ArrayBlockingQueue;
import java.util.concurrent.RejectedExecutionException;
import java.util.concurrent.ThreadPoolExecutor;
import java.util.concurrent.TimeUnit;
import java.util.function.Consumer;

/**
 * Who may pull (client auth): the Docker token flow over wharf's own token endpoint, Basic directly on
 * {@code /v2}, and the admin API's user check. A {@code /v2} request for a private project goes on only with a
 * token that grants pull on exactly its repository ({@code <project>/<name>}) to a principal the rules let pull
 * that project, or with Basic credentials of such a principal. So a token for project A never reads project B,
 * whatever blobs the two share: the check is on the route's project, before any cache is asked.
 *
 * <p>Answers: no or a bad credential, or a token without this scope, get 401 with the Bearer challenge (realm: this
 * wharf's {@code /token}); a known principal without the right gets 403 {@code DENIED}; too many failed logins get
 * 429 with {@code Retry-After}. Error bodies never quote a credential.
 *
 * <p>Threads: token checks run on the event loop (ES256 verification, remembered in a bounded cache); password
 * checks (bcrypt, OIDC) run on a small executor of their own, and the request goes on back on its event loop.
 */
public final class ClientAccess implements RegistryAccess, AutoCloseable {
    /** The service name in challenges and tokens. */
    public static final String SERVICE = "wharf";
    private static final ObjectMapper JSON = new ObjectMapper();

    private final AccessRules rules;
    private final AccessTokens tokens;
    private final Logins logins;
    private final AuditLog audit;
    private final Cache<String, AccessTokens.Verified> verified = Caffeine.newBuilder().maximumSize(10_000)
            .expireAfterWrite(Duration.ofMinutes(5)).build();
    private final ThreadPoolExecutor executor = new ThreadPoolExecutor(2, 2, 60, TimeUnit.SECONDS,
            new ArrayBlockingQueue<>(1024), r -> {
                Thread t = new Thread(r, "wharf-login");
                t.setDaemon(true);
                return t;
            });

    private final List<AutoCloseable> resources = new java.util.concurrent.CopyOnWriteArrayList<>();

    /** Closes {@code r} with this (the htpasswd watcher, the audit log). */
    public ClientAccess closing(AutoCloseable r) {
        resources.add(r);
        return this;
    }

    public ClientAccess(AccessRules rules, AccessTokens tokens, Logins logins, AuditLog audit) {
        this.rules = rules;
        this.tokens = tokens;
        this.logins = logins;
        this.audit = audit;
    }

    @Override
    public void authorize(Exchange ex, Route route, Runnable proceed) {
        String header = ex.request().headers().get(HttpHeaderNames.AUTHORIZATION);
        String project = route.project() == null ? null : route.project().name();
        String repository = project == null ? null : project + "/" + route.name().value();
        boolean open = project == null ? !rules.anyPrivate() : rules.isPublic(project);
        if (route instanceof Route.Upload) {
            proceed.run(); // refused by the handler as a write, whoever asks
            return;
        }
        if (header == null || header.isBlank()) {
            if (open) {
                proceed.run();
            } else {
                ex.error(challenge(ex, repository, null, "authentication required"));
            }
            return;
        }
        if (isScheme(header, "Bearer ")) {
            AccessTokens.Verified v = verify(header.strip().substring(7).strip());
            if (v == null) {
                ex.error(challenge(ex, repository, "invalid_token", "the token is not valid (expired, or not "
                        + "issued by this wharf)"));
                return;
            }
            Principal who = v.principal();
            if (repository == null || v.grants(repository, "pull") && rules.mayPull(who, project)) {
                ex.principal(who == null ? null : who.name());
                proceed.run();
            } else if (open) {
                proceed.run();
            } else if (who != null && !rules.mayPull(who, project)) {
                ex.error(denied(who, project));
            } else {
                ex.error(challenge(ex, repository, "insufficient_scope", "the token does not grant pull on "
                        + repository));
            }
            return;
        }
        Optional<BasicCredentials> basic = BasicCredentials.parse(header);
        if (basic.isEmpty()) {
            ex.error(challenge(ex, repository, null, "unsupported or malformed Authorization header"));
            return;
        }
        login(ex, basic.get(), who -> {
            if (project == null || rules.mayPull(who, project) || open) {
                ex.principal(who.name());
                proceed.run();
            } else {
                ex.error(denied(who, project));
            }
        }, repository);
    }

    @Override
    public void token(Exchange ex, Route.Token route) {
        if (route.service() != null && !route.service().equals(SERVICE)) {
            ex.error(RegistryException.badRequest(ErrorCode.UNSUPPORTED, "unknown service; this wharf is service="
                    + SERVICE));
            return;
        }
        List<Scope> asked;
        try {
            asked = Scope.parseAll(route.scopes());
        } catch (IllegalArgumentException e) {
            ex.error(RegistryException.badRequest(ErrorCode.UNSUPPORTED, "bad scope: " + e.getMessage()));
            return;
        }
        String header = ex.request().headers().get(HttpHeaderNames.AUTHORIZATION);
        if (header == null || header.isBlank()) {
            issue(ex, null, asked); // anonymous: public scopes only
            return;
        }
        Optional<BasicCredentials> basic = BasicCredentials.parse(header);
        if (basic.isEmpty()) {
            HttpHeaders h = new DefaultHttpHeaders().set(HttpHeaderNames.WWW_AUTHENTICATE,
                    "Basic realm=\"" + SERVICE + "\"");
            ex.error(new RegistryException(ErrorCode.UNAUTHORIZED, HttpResponseStatus.UNAUTHORIZED,
                    "the token endpoint takes Basic credentials, or none", h));
            return;
        }
        login(ex, basic.get(), who -> issue(ex, who, asked), null);
    }

    /** Grants of {@code asked} what {@code who} holds (pull only) and answers with a signed token. */
    private void issue(Exchange ex, Principal who, List<Scope> asked) {
        List<Scope> granted = new ArrayList<>();
        for (Scope s : asked) {
            int slash = s.name().indexOf('/');
            String project = slash < 0 ? s.name() : s.name().substring(0, slash);
            if (slash > 0 && (s.actions().contains("pull") || s.actions().contains("*"))
                    && rules.mayPull(who, project)) {
                granted.add(Scope.pull(s.name()));
            }
        }
        AccessTokens.Issued t = tokens.issue(who, granted);
        ObjectNode body = JSON.createObjectNode();
        body.put("token", t.token());
        body.put("access_token", t.token());
        body.put("expires_in", t.expiresIn().toSeconds());
        body.put("issued_at", t.issuedAt().toString());
        ex.principal(who == null ? null : who.name());
        ex.bytes(HttpResponseStatus.OK, new DefaultHttpHeaders()
                        .set(HttpHeaderNames.CONTENT_TYPE, "application/json")
                        .set(HttpHeaderNames.CACHE_CONTROL, "no-store"),
                body.toString().getBytes(StandardCharsets.UTF_8));
    }

    /**
     * Checks Basic credentials (from memory on the event loop when checked right lately, else bcrypt or OIDC on the
     * executor) and runs {@code then} with the principal on the exchange's event loop; a failure is answered here.
     */
    private void login(Exchange ex, BasicCredentials c, Consumer<Principal> then, String repository) {
        Optional<Principal> known = logins.remembered(c);
        if (known.isPresent()) {
            then.accept(known.get());
            return;
        }
        String remote = remote(ex.ctx().channel());
        try {
            executor.execute(() -> {
                Logins.Outcome outcome = logins.login(remote, c);
                ex.ctx().executor().execute(() -> {
                    try {
                        answerLogin(ex, c, outcome, then, repository, remote);
                    } catch (RegistryException e) {
                        ex.error(e);
                    } catch (RuntimeException e) {
                        ex.fail(e);
                    }
                });
            });
        } catch (RejectedExecutionException e) {
            ex.error(slowDown(Duration.ofSeconds(1), "too many logins in progress; try again"));
        }
    }

    private void answerLogin(Exchange ex, BasicCredentials c, Logins.Outcome outcome, Consumer<Principal> then,
                             String repository, String remote) {
        if (outcome instanceof Logins.Accepted a) {
            then.accept(a.principal());
        } else if (outcome instanceof Logins.Slowed s) {
            audit.loginFailed(c.user(), remote, "throttled: too many failed logins");
            ex.error(slowDown(s.retryAfter(), "too many failed logins from this address or for this user"));
        } else if (outcome instanceof Logins.Unavailable u) {
            ex.error(new RegistryException(ErrorCode.UNAVAILABLE, HttpResponseStatus.SERVICE_UNAVAILABLE,
                    "the OIDC provider cannot be asked now; try again"));
        } else if (outcome instanceof Logins.Refused r) {
            audit.loginFailed(c.user(), remote, r.reason());
            ex.error(challenge(ex, repository, null, "wrong user name or password"));
        }
    }

    /**
     * True if the {@code Authorization} header names an admin ({@code auth.admins}): a wharf token whose subject
     * is one, or Basic credentials of one. Runs on the caller's thread, bcrypt and the OIDC provider included, so
     * callers ask it off the event loops (the admin API and the console on their executors); failed logins are
     * throttled and audited as anywhere.
     */
    public boolean isAdmin(String header, Channel channel) {
        if (header == null) {
            return false;
        }
        if (isScheme(header, "Bearer ")) {
            AccessTokens.Verified v = verify(header.strip().substring(7).strip());
            return v != null && rules.isAdmin(v.principal());
        }
        Optional<BasicCredentials> basic = BasicCredentials.parse(header);
        if (basic.isEmpty()) {
            return false;
        }
        String remote = remote(channel);
        Logins.Outcome o = logins.login(remote, basic.get());
        if (o instanceof Logins.Refused r) {
            audit.loginFailed(basic.get().user(), remote, r.reason());
        }
        return o instanceof Logins.Accepted a && rules.isAdmin(a.principal());
    }

    private AccessTokens.Verified verify(String token) {
        AccessTokens.Verified v = verified.getIfPresent(token);
        if (v == null) {
            try {
                v = tokens.verify(token);
            } catch (AccessTokens.Refused e) {
                return null;
            }
            verified.put(token, v);
        }
        // A remembered token is still judged by its own expiry.
        return v.expires().isBefore(java.time.Instant.now().minusSeconds(30)) ? null : v;
    }

    @Override
    public void finished(Exchange ex, Route route, String remote) {
        if (route instanceof Route.Manifest m && ex.status() >= 200 && ex.status() < 300
                && ex.request().method().name().equals("GET") && !rules.isPublic(m.project().name())) {
            audit.pull(ex.principal(), remote, m.project().name(), m.project().name() + "/" + m.name().value(),
                    m.reference().toString());
        }
    }

    private RegistryException challenge(Exchange ex, String repository, String error, String message) {
        StringBuilder v = new StringBuilder("Bearer realm=\"").append(realm(ex)).append("\",service=\"")
                .append(SERVICE).append('"');
        if (repository != null) {
            v.append(",scope=\"repository:").append(repository).append(":pull\"");
        }
        if (error != null) {
            v.append(",error=\"").append(error).append('"');
        }
        HttpHeaders h = new DefaultHttpHeaders().set(HttpHeaderNames.WWW_AUTHENTICATE, v.toString());
        return new RegistryException(ErrorCode.UNAUTHORIZED, HttpResponseStatus.UNAUTHORIZED, message, h);
    }

    private static RegistryException denied(Principal who, String project) {
        return new RegistryException(ErrorCode.DENIED, HttpResponseStatus.FORBIDDEN,
                who.name() + " may not pull from project " + project);
    }

    private static RegistryException slowDown(Duration wait, String message) {
        long seconds = Math.max(1, (wait.toMillis() + 999) / 1000);
        HttpHeaders h = new DefaultHttpHeaders().set(HttpHeaderNames.RETRY_AFTER, Long.toString(seconds));
        return new RegistryException(ErrorCode.TOOMANYREQUESTS, HttpResponseStatus.TOO_MANY_REQUESTS, message, h);
    }

    /** This wharf's token URL as the client reached it: its scheme and Host header, and {@link Route.Token#PATH}. */
    private static String realm(Exchange ex) {
        Channel ch = ex.ctx().channel();
        boolean tls = ch.pipeline().get(SslHandler.class) != null
                || ch.parent() != null && ch.parent().pipeline().get(SslHandler.class) != null;
        String host = ex.request().headers().get(HttpHeaderNames.HOST);
        if (host == null || host.isBlank() || !host.matches("[A-Za-z0-9.:\\[\\]_-]{1,260}")) {
            SocketAddress local = ch.localAddress() != null ? ch.localAddress()
                    : ch.parent() == null ? null : ch.parent().localAddress();
            host = local instanceof InetSocketAddress inet
                    ? inet.getHostString() + ":" + inet.getPort() : "localhost";
        }
        return (tls ? "https://" : "http://") + host + Route.Token.PATH;
    }

    private static boolean isScheme(String header, String scheme) {
        String h = header.strip();
        return h.length() > scheme.length() && h.regionMatches(true, 0, scheme, 0, scheme.length());
    }

    private static String remote(Channel ch) {
        SocketAddress a = ch.remoteAddress();
        if (a == null && ch.parent() != null) {
            a = ch.parent().remoteAddress();
        }
        if (a instanceof InetSocketAddress inet) {
            return inet.getAddress() == null ? inet.getHostString() : inet.getAddress().getHostAddress();
        }
        return a == null ? null : a.toString();
    }

    @Override
    public void close() {
        executor.shutdownNow();
        for (AutoCloseable r : resources) {
            try {
                r.close();
            } catch (Exception e) {
                // closing at shutdown: nothing left to tell
            }
        }
    }
}

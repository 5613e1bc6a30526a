package dev.wharf.server.upstream;

import dev.wharf.auth.BearerTokens;
import dev.wharf.auth.Challenge;
import dev.wharf.auth.CredentialSource;
import dev.wharf.auth.Credentials;
import dev.wharf.auth.TokenRequestException;
import io.netty.buffer.ByteBuf;
import io.netty.buffer.Unpooled;
import io.netty.channel.Channel;
import io.netty.channel.ChannelHandlerContext;
import io.netty.channel.ChannelInboundHandlerAdapter;
import io.netty.channel.ConnectTimeoutException;
import io.netty.channel.pool.FixedChannelPool;
import io.netty.handler.codec.http.DefaultFullHttpRequest;
import io.netty.handler.codec.http.FullHttpRequest;
import io.netty.handler.codec.http.HttpContent;
import io.netty.handler.codec.http.HttpHeaderNames;
import io.netty.handler.codec.http.HttpHeaders;
import io.netty.handler.codec.http.HttpObject;
import io.netty.handler.codec.http.HttpResponse;
import io.netty.handler.codec.http.HttpUtil;
import io.netty.handler.codec.http.HttpVersion;
import io.netty.handler.codec.http.LastHttpContent;
import io.netty.handler.proxy.ProxyConnectException;
import io.netty.handler.ssl.SslHandler;
import io.netty.util.AttributeKey;
import io.netty.util.ReferenceCountUtil;
import io.netty.util.concurrent.EventExecutor;
import io.netty.util.concurrent.Future;
import io.netty.util.concurrent.ScheduledFuture;
import java.net.ConnectException;
import java.net.URI;
import java.net.UnknownHostException;
import java.nio.charset.StandardCharsets;
import java.util.Base64;
import java.util.List;
import java.util.Locale;
import java.util.Set;
import java.util.concurrent.CompletionException;
import java.util.concurrent.RejectedExecutionException;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.TimeoutException;
import java.util.function.Consumer;
import javax.net.ssl.SSLException;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

/**
 * One logical request across its hops: auth retries, redirects, and retries of a reused connection that turned
 * out to be dead. Each hop runs on one pooled connection through a {@link Hop} handler.
 *
 * <p>Credentials come from the endpoint's {@link CredentialSource}, asked once per exchange when a challenge needs
 * them. When the upstream rejects them in a way that may mean they expired (ECR: 403 with a plain-text body, ECR
 * Public: 400, or 401; or the token endpoint refuses them) and the source says fresh ones may differ, the exchange
 * starts over once with fresh ones, so an expired ECR token never fails a client request. Fixed credentials are
 * never retried.
 *
 * <p>Threading: the fields of this class are written by one step at a time. A step runs on a channel's event loop
 * (hop events), on the pool's executor (acquire completion) or on a token future's thread, and it starts the next
 * step only as its last action, through a Netty future, an event-loop task or a CompletableFuture (a token's or a
 * credential source's), each of which
 * orders the writes before the next step's reads. Listener callbacks happen on an event loop: the connection's
 * for anything about a response, {@link #loop} for failures that have no connection.
 */
final class UpstreamExchange {

    private static final Logger log = LoggerFactory.getLogger(UpstreamExchange.class);

    static final int MAX_REDIRECTS = 5;
    /** Bearer retries after a 401: the first token, then one refreshed token if that was rejected too. */
    static final int MAX_BEARER_RETRIES = 2;
    /** Retries of a request whose reused keep-alive connection died before any response byte. */
    static final int MAX_STALE_RETRIES = 2;
    /** An intermediate (401, 3xx) body larger than this closes the connection instead of being drained. */
    static final long MAX_DRAIN_BYTES = 64 * 1024;

    /** Request headers never taken from {@link UpstreamRequest#headers()}: credentials, framing, our own. */
    private static final Set<String> NOT_FORWARDED = Set.of("authorization", "proxy-authorization", "cookie",
            "accept-encoding", "host", "user-agent", "connection", "keep-alive", "proxy-connection", "te", "trailer",
            "transfer-encoding", "upgrade", "content-length", "expect");

    static final AttributeKey<Boolean> REUSED = AttributeKey.valueOf("wharf.upstream.reused");
    /** The connection's TLS handler, to tell a failed handshake from a plain close. */
    static final AttributeKey<SslHandler> TLS = AttributeKey.valueOf("wharf.upstream.tls");

    private final UpstreamClient client;
    private final UpstreamEndpoint endpoint;
    private final UpstreamRequest request;
    private final ResponseListener listener;
    private final EventExecutor loop;

    private URI uri;
    /** The Authorization header for the current hop, or null. Only this class ever makes one. */
    private String authorization;
    /** What the Bearer token in {@link #authorization} was fetched for (to invalidate it on rejection). */
    private Challenge tokenChallenge;
    private String tokenScope;
    /** Whose token it is: the endpoint's credentials, or null for an anonymous one (a redirect target's). */
    private Credentials tokenCredentials;
    /** The endpoint's credentials for this exchange, once asked from its source; null before, or anonymous. */
    private Credentials creds;
    /** Set once the exchange started over with fresh credentials: that happens at most once. */
    private boolean credentialsRefreshed;
    private boolean sentBasic;
    private int redirects;
    private int bearerRetries;
    private int staleRetries;
    /** Set once the listener has had its terminal callback, or the transfer was aborted. */
    private volatile boolean finished;

    UpstreamExchange(UpstreamClient client, UpstreamEndpoint endpoint, UpstreamRequest request,
            ResponseListener listener, EventExecutor loop) {
        this.client = client;
        this.endpoint = endpoint;
        this.request = request;
        this.listener = listener;
        this.loop = loop;
    }

    // ---- steps ----

    void start() {
        try {
            uri = UpstreamClient.firstUri(endpoint, request);
        } catch (IllegalArgumentException e) {
            fail("bad request URL: " + e.getMessage(), e);
            return;
        }
        Challenge known = client.knownChallenge(endpoint, request.repository());
        if (known != null && (known.scheme().equals("bearer") && known.realm() != null
                || known.scheme().equals("basic") && endpoint.credentials() != null)) {
            withCredentials(c -> startWith(known, c));
            return;
        }
        send();
    }

    /** Sends the first request with what the remembered challenge asks for: a token, or Basic. */
    private void startWith(Challenge known, Credentials credentials) {
        if (known.scheme().equals("bearer")) {
            // Pre-emptive token: saves the 401 round trip. A token failure here is not final; the 401 path retries.
            String scope = scopeFor(known);
            BearerTokens tokens = client.tokens();
            tokens.token(known, scope, credentials, UpstreamTls.forTokens(endpoint)).whenComplete((token, err) -> {
                if (err == null) {
                    useToken(known, scope, credentials, token);
                } else {
                    log.debug("{}: pre-emptive token failed: {}", UpstreamClient.describe(endpoint), rootMessage(err));
                }
                send();
            });
            return;
        }
        if (credentials != null) {
            authorization = basic(credentials);
            sentBasic = true;
        }
        send();
    }

    private void send() {
        if (finished) {
            return;
        }
        if (client.isClosed()) {
            fail("client closed", null);
            return;
        }
        FixedChannelPool pool;
        try {
            pool = client.pool(uri, endpoint);
        } catch (SSLException | RuntimeException e) {
            fail("cannot set up a connection: " + e.getMessage(), e);
            return;
        }
        pool.acquire().addListener((Future<Channel> f) -> {
            if (!f.isSuccess()) {
                Throwable c = f.cause();
                fail(connectFailure(c), c);
                return;
            }
            Channel ch = f.getNow();
            Hop hop = new Hop(pool, ch, Boolean.TRUE.equals(ch.attr(REUSED).get()));
            if (ch.eventLoop().inEventLoop()) {
                hop.start();
            } else {
                ch.eventLoop().execute(hop::start);
            }
        });
    }

    /**
     * Decides what a response means: null when it is final (for the listener), else the step to run once its body
     * has been drained (a retry with credentials, a redirect, or a failure).
     */
    private Runnable afterResponse(HttpResponse r) {
        int status = r.status().code();
        if (status == 301 || status == 302 || status == 303 || status == 307 || status == 308) {
            String location = r.headers().get(HttpHeaderNames.LOCATION);
            if (location != null && !location.isBlank()) {
                if (redirects >= MAX_REDIRECTS) {
                    return () -> fail("too many redirects (more than " + MAX_REDIRECTS + ")", null);
                }
                URI next;
                try {
                    next = uri.resolve(location.trim());
                    String scheme = next.getScheme() == null ? "" : next.getScheme().toLowerCase(Locale.ROOT);
                    if (!scheme.equals("http") && !scheme.equals("https") || next.getHost() == null) {
                        throw new IllegalArgumentException("not an http(s) URL");
                    }
                } catch (IllegalArgumentException e) {
                    return () -> fail("bad redirect Location (" + e.getMessage() + ")", e);
                }
                return () -> redirect(next);
            }
            return null;
        }
        if (status == 401) {
            // Credentials only ever go to the configured upstream's own origin. A redirect target on another host
            // (registry.k8s.io sends manifests to Artifact Registry) may ask for a Bearer token of its own: that
            // one is fetched anonymously, and its challenge is not remembered for the upstream.
            boolean foreign = !UpstreamClient.origin(uri).equals(UpstreamClient.origin(endpoint.base()));
            List<Challenge> challenges = Challenge.parseAll(r.headers().getAll(HttpHeaderNames.WWW_AUTHENTICATE));
            Challenge bearer = null;
            Challenge basicChallenge = null;
            for (Challenge c : challenges) {
                if (bearer == null && c.scheme().equals("bearer") && c.realm() != null) {
                    bearer = c;
                } else if (basicChallenge == null && c.scheme().equals("basic")) {
                    basicChallenge = c;
                }
            }
            boolean ours = !foreign && endpoint.credentials() != null;
            if (bearer != null) {
                if (!foreign) {
                    client.rememberChallenge(endpoint, request.repository(), bearer);
                }
                if (tokenChallenge != null) {
                    client.tokens().invalidate(tokenChallenge, tokenScope, tokenCredentials);
                    if ("insufficient_scope".equals(bearer.error())) {
                        // The token was fine but has no rights here (e.g. a repository that does not exist for
                        // us); a fresh one would be no different, so the 401 is the answer.
                        return null;
                    }
                }
                if (bearerRetries < MAX_BEARER_RETRIES) {
                    bearerRetries++;
                    Challenge c = bearer;
                    return ours ? () -> withCredentials(cr -> authenticate(c, cr, false))
                            : () -> authenticate(c, null, foreign);
                }
                return null;
            }
            if (foreign) {
                return null;
            }
            if (basicChallenge != null && ours && !sentBasic) {
                client.rememberChallenge(endpoint, request.repository(), basicChallenge);
                return () -> withCredentials(cr -> {
                    authorization = basic(cr);
                    sentBasic = true;
                    send();
                });
            }
        }
        return null;
    }

    private void authenticate(Challenge challenge, Credentials credentials, boolean foreign) {
        String scope = scopeFor(challenge, foreign);
        client.tokens().token(challenge, scope, credentials, UpstreamTls.forTokens(endpoint)).whenComplete((token, err) -> {
            if (err != null) {
                Throwable cause = err instanceof CompletionException && err.getCause() != null ? err.getCause() : err;
                if (!foreign && cause instanceof TokenRequestException t && mayRefresh(t.status(), credentials)) {
                    restartWithFreshCredentials("the token endpoint answered HTTP " + t.status());
                    return;
                }
                fail("token request failed: " + rootMessage(cause), cause);
                return;
            }
            useToken(challenge, scope, credentials, token);
            send();
        });
    }

    /**
     * Runs {@code next} with the endpoint's credentials: at once when this exchange has them or the source has them
     * at hand, else when the source's fetch (an ECR token) ends. A source that cannot deliver fails the exchange.
     */
    private void withCredentials(Consumer<Credentials> next) {
        CredentialSource source = endpoint.credentials();
        if (source == null || creds != null) {
            next.accept(creds);
            return;
        }
        source.get().whenComplete((c, err) -> {
            if (err != null || c == null) {
                Throwable cause = err instanceof CompletionException && err.getCause() != null ? err.getCause() : err;
                fail("no upstream credentials: " + (cause == null ? "none given" : rootMessage(cause)), cause);
                return;
            }
            creds = c;
            next.accept(c);
        });
    }

    /**
     * For a final answer: the step that starts over with fresh credentials, when the answer may mean the ones this
     * exchange sent to the endpoint's own origin expired; else null (the answer stands).
     */
    private Runnable refreshIfRejected(int status) {
        boolean sentOurs = sentBasic || tokenCredentials != null && tokenCredentials == creds;
        if (!sentOurs || !UpstreamClient.origin(uri).equals(UpstreamClient.origin(endpoint.base()))
                || !mayRefresh(status, creds)) {
            return null;
        }
        return () -> restartWithFreshCredentials("HTTP " + status);
    }

    /**
     * Whether to start over once: {@code used} are this exchange's credentials, the source says {@code status} may
     * mean they expired, and it dropped them.
     */
    private boolean mayRefresh(int status, Credentials used) {
        CredentialSource source = endpoint.credentials();
        return source != null && used != null && used == creds && !credentialsRefreshed
                && source.mayMeanExpired(status) && source.invalidate(used);
    }

    private void restartWithFreshCredentials(String why) {
        credentialsRefreshed = true;
        log.info("{}: credentials rejected ({}); retrying once with fresh ones", UpstreamClient.describe(endpoint),
                why);
        if (tokenChallenge != null) {
            client.tokens().invalidate(tokenChallenge, tokenScope, tokenCredentials);
        }
        creds = null;
        authorization = null;
        tokenChallenge = null;
        tokenScope = null;
        tokenCredentials = null;
        sentBasic = false;
        start();
    }

    private void useToken(Challenge challenge, String scope, Credentials credentials, String token) {
        authorization = "Bearer " + token;
        tokenChallenge = challenge;
        tokenScope = scope;
        tokenCredentials = credentials;
        sentBasic = false;
    }

    private void redirect(URI next) {
        redirects++;
        if (!UpstreamClient.origin(uri).equals(UpstreamClient.origin(next))) {
            // Never carry credentials to another host (e.g. a CDN); signed URLs carry their own.
            authorization = null;
            tokenChallenge = null;
            tokenScope = null;
            tokenCredentials = null;
            sentBasic = false;
        }
        log.debug("{} {} redirected to {}", request.method(), UpstreamClient.redact(uri), UpstreamClient.redact(next));
        uri = next;
        send();
    }

    private void retryStale(Throwable cause) {
        staleRetries++;
        log.debug("reused connection to {} failed before a response ({}); retrying", UpstreamClient.redact(uri),
                cause.toString());
        send();
    }

    private String scopeFor(Challenge challenge) {
        return scopeFor(challenge, false);
    }

    /** The challenge's scope; else pull on the repository: the one in the URL for a redirect target. */
    private String scopeFor(Challenge challenge, boolean foreign) {
        if (challenge.scope() != null && !challenge.scope().isEmpty()) {
            return challenge.scope();
        }
        String repository = foreign ? repositoryInPath(uri.getRawPath()) : request.repository();
        return repository == null ? null : "repository:" + repository + ":pull";
    }

    /**
     * The repository of a {@code /v2/<name>/(manifests|blobs|tags|referrers)/...} path (a redirect target may keep
     * the image under another name, {@code /v2/k8s-artifacts-prod/images/pause/...}), or null.
     */
    static String repositoryInPath(String path) {
        if (path == null || !path.startsWith("/v2/")) {
            return null;
        }
        String rest = path.substring(4);
        int best = -1;
        for (String kind : List.of("/manifests/", "/blobs/", "/tags/", "/referrers/")) {
            best = Math.max(best, rest.lastIndexOf(kind));
        }
        return best > 0 ? rest.substring(0, best) : null;
    }

    private FullHttpRequest buildRequest() {
        String target = uri.getRawPath() == null || uri.getRawPath().isEmpty() ? "/" : uri.getRawPath();
        if (uri.getRawQuery() != null) {
            target += "?" + uri.getRawQuery();
        }
        FullHttpRequest req = new DefaultFullHttpRequest(HttpVersion.HTTP_1_1, request.method(), target,
                Unpooled.EMPTY_BUFFER);
        HttpHeaders h = req.headers();
        if (request.headers() != null) {
            request.headers().forEach(e -> {
                if (!NOT_FORWARDED.contains(e.getKey().toLowerCase(Locale.ROOT))) {
                    h.add(e.getKey(), e.getValue());
                }
            });
        }
        int port = uri.getPort();
        boolean defaultPort = port == -1 || port == ("https".equalsIgnoreCase(uri.getScheme()) ? 443 : 80);
        h.set(HttpHeaderNames.HOST, defaultPort ? uri.getHost() : uri.getHost() + ":" + port);
        h.set(HttpHeaderNames.USER_AGENT, UpstreamClient.USER_AGENT);
        if (authorization != null) {
            h.set(HttpHeaderNames.AUTHORIZATION, authorization);
        }
        // No Accept-Encoding: bodies must arrive byte-exact, blobs are verified against their digest.
        return req;
    }

    // ---- terminal callbacks ----

    /** Fails the exchange with a message naming the project and the upstream URL. */
    void fail(String what, Throwable cause) {
        String where = uri == null ? "" : " (" + request.method() + " " + UpstreamClient.redact(uri) + ")";
        UpstreamException e = new UpstreamException(UpstreamClient.describe(endpoint) + ": " + what + where, cause);
        if (loop.inEventLoop()) {
            deliverError(e);
        } else {
            try {
                loop.execute(() -> deliverError(e));
            } catch (RejectedExecutionException shutDown) {
                deliverError(e); // the event loops are gone; the caller's thread is the only one left
            }
        }
    }

    private void deliverError(Throwable e) {
        if (finished) {
            return;
        }
        finished = true;
        log.debug("{}", e.getMessage());
        try {
            listener.onError(e);
        } catch (RuntimeException t) {
            log.warn("response listener threw in onError", t);
        }
    }

    private String connectFailure(Throwable c) {
        String target = UpstreamClient.hostOf(uri) + ":" + UpstreamClient.portOf(uri);
        if (c instanceof ConnectTimeoutException) {
            return "connect to " + target + " timed out";
        }
        if (c instanceof ConnectException) {
            return "connection refused by " + target + " (" + c.getMessage() + ")";
        }
        if (c instanceof UnknownHostException) {
            return "unknown host " + UpstreamClient.hostOf(uri);
        }
        if (c instanceof TimeoutException) {
            return "no free connection to " + target + " within " + UpstreamClient.ACQUIRE_TIMEOUT_MILLIS + " ms";
        }
        if (c instanceof ProxyConnectException) {
            return "proxy CONNECT to " + target + " failed (" + c.getMessage() + ")";
        }
        return "cannot connect to " + target + " (" + c + ")";
    }

    private static String hopFailure(Throwable c) {
        if (c instanceof SSLException) {
            return "TLS failed: " + rootMessage(c);
        }
        if (c instanceof ProxyConnectException) {
            return "proxy CONNECT failed: " + c.getMessage();
        }
        if (c instanceof UpstreamException || c instanceof ReadTimeout) {
            return c.getMessage();
        }
        return rootMessage(c);
    }

    static String basic(Credentials c) {
        String user = c.username() == null ? "" : c.username();
        String pass = c.password() == null ? "" : c.password();
        return "Basic " + Base64.getEncoder().encodeToString((user + ":" + pass).getBytes(StandardCharsets.UTF_8));
    }

    private static String rootMessage(Throwable t) {
        Throwable c = t;
        while (c.getCause() != null && c.getCause() != c && (c instanceof CompletionException
                || c.getMessage() == null)) {
            c = c.getCause();
        }
        return c.getMessage() != null ? c.getMessage() : c.getClass().getSimpleName();
    }

    /**
     * One hop: owns one pooled connection from acquire to release. Installed in the pipeline after the codec, it
     * writes the request, reads the response, and either hands it to the listener (final) or drains it and starts
     * the exchange's next step. It is also the listener's {@link ResponseListener.Transfer}. Everything runs on
     * the connection's event loop; the transfer methods hop onto it.
     */
    private final class Hop extends ChannelInboundHandlerAdapter implements ResponseListener.Transfer {
        private static final String NAME = "exchange";

        private final FixedChannelPool pool;
        private final Channel ch;
        private final boolean reused;
        private boolean done;
        private boolean released;
        private HttpResponse response;
        private boolean finalResponse;
        private boolean skippingInformational;
        private Runnable next;
        private boolean keepAlive;
        private long expectedLength = -1;
        private long received;
        private boolean paused;
        private long lastReadNanos;
        private ScheduledFuture<?> timer;

        Hop(FixedChannelPool pool, Channel ch, boolean reused) {
            this.pool = pool;
            this.ch = ch;
            this.reused = reused;
        }

        void start() {
            if (finished) {
                done = true;
                release(true); // nothing was written: still clean
                return;
            }
            if (!ch.isActive()) {
                failHop(closedCause("connection closed before the request was sent"));
                return;
            }
            if (ch.pipeline().get(NAME) != null) {
                ch.pipeline().remove(NAME); // cannot happen; a stale handler would steal this hop's reads
            }
            ch.pipeline().addBefore(UpstreamClient.IdleGuard.NAME, NAME, this);
            ch.config().setAutoRead(true);
            lastReadNanos = System.nanoTime();
            scheduleTimer(client.readIdleTimeoutNanos());
            FullHttpRequest req = buildRequest();
            log.debug("{} {}{}", request.method(), UpstreamClient.redact(uri), reused ? " (reused connection)" : "");
            ch.writeAndFlush(req).addListener(f -> {
                if (!f.isSuccess()) {
                    failHop(f.cause());
                }
            });
        }

        @Override
        public void channelRead(ChannelHandlerContext ctx, Object msg) {
            if (done || finished) { // finished without done: aborted from another thread, release is queued
                ReferenceCountUtil.release(msg);
                return;
            }
            lastReadNanos = System.nanoTime();
            if (msg instanceof HttpObject o && o.decoderResult().isFailure()) {
                ReferenceCountUtil.release(msg);
                failHop(new UpstreamException("malformed response: " + rootMessage(o.decoderResult().cause()),
                        o.decoderResult().cause()));
                return;
            }
            if (msg instanceof HttpResponse r) {
                onResponse(r);
            }
            if (msg instanceof HttpContent c) {
                if (done) {
                    c.release();
                } else {
                    onContent(c);
                }
            } else if (!(msg instanceof HttpResponse)) {
                ReferenceCountUtil.release(msg);
            }
        }

        private void onResponse(HttpResponse r) {
            int code = r.status().code();
            if (code >= 100 && code < 200) {
                skippingInformational = true; // e.g. 100 Continue: the real response follows
                return;
            }
            response = r;
            keepAlive = HttpUtil.isKeepAlive(r);
            next = afterResponse(r);
            if (next == null) {
                next = refreshIfRejected(code);
            }
            log.debug("{} {} -> {}", request.method(), UpstreamClient.redact(uri), code);
            if (next != null) {
                if (UpstreamClient.contentLength(r.headers()) > MAX_DRAIN_BYTES) {
                    done = true;
                    release(false);
                    next.run();
                }
                return;
            }
            finalResponse = true;
            boolean chunked = HttpUtil.isTransferEncodingChunked(r);
            if (!UpstreamClient.isHead(request) && !chunked && code != 204 && code != 304) {
                expectedLength = UpstreamClient.contentLength(r.headers());
            }
            try {
                listener.onHeaders(code, r.headers(), this);
            } catch (RuntimeException e) {
                listenerFailed("onHeaders", e);
            }
        }

        private void onContent(HttpContent c) {
            boolean last = c instanceof LastHttpContent;
            if (skippingInformational) {
                c.release();
                skippingInformational = !last;
                return;
            }
            if (response == null) {
                c.release();
                failHop(new UpstreamException("body without a response"));
                return;
            }
            if (!finalResponse) {
                c.release(); // draining an intermediate response
                if (last) {
                    done = true;
                    release(keepAlive);
                    next.run();
                }
                return;
            }
            ByteBuf buf = c.content();
            int n = buf.readableBytes();
            received += n;
            if (n > 0) {
                try {
                    listener.onContent(buf); // ownership passes to the listener
                } catch (RuntimeException e) {
                    listenerFailed("onContent", e);
                    return;
                }
            } else {
                c.release();
            }
            if (!last || done) {
                return;
            }
            if (expectedLength >= 0 && received != expectedLength) {
                failHop(new UpstreamException("body ended after " + received + " of " + expectedLength + " bytes"));
                return;
            }
            done = true;
            release(keepAlive);
            finished = true;
            try {
                listener.onComplete();
            } catch (RuntimeException e) {
                log.warn("response listener threw in onComplete", e);
            }
        }

        @Override
        public void channelInactive(ChannelHandlerContext ctx) {
            if (!done) {
                if (response == null) {
                    failHop(closedCause("connection closed before a response"));
                } else if (finalResponse) {
                    failHop(new UpstreamException("connection closed after " + received
                            + (expectedLength >= 0 ? " of " + expectedLength : "") + " body bytes"));
                } else {
                    failHop(new UpstreamException("connection closed while reading a "
                            + response.status().code() + " response"));
                }
            }
            ctx.fireChannelInactive();
        }

        @Override
        public void exceptionCaught(ChannelHandlerContext ctx, Throwable cause) {
            if (!done) {
                failHop(cause);
            } else {
                ctx.fireExceptionCaught(cause);
            }
        }

        /** Why a connection closed early: its failed TLS handshake if that is the reason, else {@code what}. */
        private Throwable closedCause(String what) {
            SslHandler tls = ch.attr(TLS).get();
            if (tls != null && tls.handshakeFuture().isDone() && !tls.handshakeFuture().isSuccess()) {
                return tls.handshakeFuture().cause();
            }
            return new UpstreamException(what);
        }

        private void listenerFailed(String callback, RuntimeException e) {
            log.warn("response listener threw in {}; aborting the upstream transfer", callback, e);
            failHop(e);
        }

        private void failHop(Throwable cause) {
            if (done) {
                return;
            }
            done = true;
            release(false);
            if (response == null && reused && staleRetries < MAX_STALE_RETRIES && !(cause instanceof ReadTimeout)
                    && !finished) {
                // A keep-alive connection the server had already closed: the request never got anywhere.
                retryStale(cause);
                return;
            }
            fail(hopFailure(cause), cause);
        }

        /** Hands the connection back: to the pool when {@code reuse} and still open, else closed. Once. */
        private void release(boolean reuse) {
            if (released) {
                return;
            }
            released = true;
            if (timer != null) {
                timer.cancel(false);
            }
            if (ch.pipeline().context(this) != null) {
                ch.pipeline().remove(this);
            }
            ch.config().setAutoRead(true); // a pooled connection must read, or it never sees the server close it
            if (reuse && ch.isActive()) {
                ch.attr(REUSED).set(Boolean.TRUE);
                pool.release(ch);
            } else {
                ch.close().addListener(f -> pool.release(ch));
            }
        }

        private void scheduleTimer(long delayNanos) {
            timer = ch.eventLoop().schedule(this::checkIdle, delayNanos, TimeUnit.NANOSECONDS);
        }

        /** Idle-read timeout that counts only time spent reading: a paused transfer is never idle. */
        private void checkIdle() {
            if (done) {
                return;
            }
            long timeout = client.readIdleTimeoutNanos();
            if (paused) {
                scheduleTimer(timeout);
                return;
            }
            long idle = System.nanoTime() - lastReadNanos;
            if (idle >= timeout) {
                failHop(new ReadTimeout("no data from upstream for " + TimeUnit.NANOSECONDS.toMillis(idle) + " ms"));
            } else {
                scheduleTimer(timeout - idle);
            }
        }

        @Override
        public void pause() {
            onLoop(() -> {
                if (!done && !paused) {
                    paused = true;
                    ch.config().setAutoRead(false);
                }
            });
        }

        @Override
        public void resume() {
            onLoop(() -> {
                if (!done && paused) {
                    paused = false;
                    lastReadNanos = System.nanoTime();
                    ch.config().setAutoRead(true);
                }
            });
        }

        @Override
        public void abort() {
            finished = true; // at once, from any thread: the listener gave up, no more callbacks
            onLoop(() -> {
                if (!done) {
                    done = true;
                    release(false);
                }
            });
        }

        private void onLoop(Runnable r) {
            if (ch.eventLoop().inEventLoop()) {
                r.run();
            } else {
                ch.eventLoop().execute(r);
            }
        }
    }

    /** The idle-read timer fired. Not retried on another connection: the upstream is slow, not gone. */
    private static final class ReadTimeout extends java.io.IOException {
        ReadTimeout(String message) {
            super(message);
        }
    }
}

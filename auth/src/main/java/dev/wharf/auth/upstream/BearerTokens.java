package dev.wharf.auth.upstream;

import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.ObjectMapper;
import com.github.benmanes.caffeine.cache.AsyncCache;
import com.github.benmanes.caffeine.cache.Caffeine;
import com.github.benmanes.caffeine.cache.Expiry;
import dev.wharf.auth.http.BoundedBody;
import java.io.IOException;
import java.net.ProxySelector;
import java.net.URI;
import java.net.URLEncoder;
import java.net.http.HttpClient;
import java.net.http.HttpRequest;
import java.net.http.HttpResponse;
import java.nio.charset.StandardCharsets;
import java.time.Clock;
import java.time.Duration;
import java.time.Instant;
import java.time.OffsetDateTime;
import java.time.format.DateTimeParseException;
import java.util.Base64;
import java.util.Locale;
import java.util.Map;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.CompletionException;
import java.util.concurrent.ConcurrentHashMap;
import java.util.concurrent.TimeUnit;
import javax.net.ssl.SSLContext;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

/**
 * Token exchange for registry Bearer challenges (the distribution token spec), with a cache.
 *
 * <p>GET {@code realm?service=...&scope=...}, with HTTP Basic when credentials are given, anonymous otherwise.
 * Accepts {@code token} or {@code access_token}, {@code expires_in} (default 60 s) and {@code issued_at}. Tokens are
 * cached by (project, realm, service, scope, credential fingerprint) until shortly before they expire, and one
 * in-flight fetch serves every concurrent caller of the same key. A realm on plain {@code http://} gets no Basic
 * credentials unless it is on the project's own upstream host. A fetch has an overall deadline and its response
 * body a size limit. Uses the JDK HttpClient; never logs a token or a password.
 *
 * <p>Concurrency: the tokens live in the Caffeine {@link AsyncCache}. {@code get} installs one future per key
 * atomically, so concurrent callers of a key join the same fetch; a failed future is removed by the cache, so the
 * next caller starts a new fetch. An entry expires (through the {@link Clock}-driven ticker) a little before its
 * token does, so a returned token is always valid for a while. {@link #invalidate} may race with a fetch in
 * flight: the fetch's callers still get its token, later callers start afresh, which is the wanted outcome. The
 * per-TLS-context clients live in a {@link ConcurrentHashMap}; two threads racing to build the first client for a
 * context get the same one ({@code computeIfAbsent}).
 */
public final class BearerTokens {

    private static final Logger log = LoggerFactory.getLogger(BearerTokens.class);
    private static final ObjectMapper JSON = new ObjectMapper();

    /** The token spec's minimum lifetime: shorter {@code expires_in} values are raised to this. */
    static final Duration MIN_LIFETIME = Duration.ofSeconds(60);
    /** Refresh this much before expiry at most; otherwise 10% of the lifetime. */
    static final Duration MAX_REFRESH_MARGIN = Duration.ofSeconds(30);
    /** The deadline of a token fetch unless one is given ({@code limits.manifestDeadline}). */
    static final Duration DEFAULT_DEADLINE = Duration.ofSeconds(60);
    /** Token responses larger than this are refused: a JWT is a few KiB. */
    static final int MAX_RESPONSE = 1 << 20;
    private static final long MAX_ENTRIES = 10_000;
    /** Salts credential fingerprints, so a cache key says nothing about a password outside this process. */
    private static final byte[] SALT = new java.security.SecureRandom().generateSeed(16);

    private final HttpClient http;
    private final Clock clock;
    private final AsyncCache<Key, Token> cache;
    /** Proxy for the clients made per TLS context; null: the JDK default selector. */
    private final ProxySelector proxy;
    /** One client per project TLS context (a private CA, or insecureSkipVerify); a few entries, never evicted. */
    private final Map<SSLContext, HttpClient> tlsClients = new ConcurrentHashMap<>();
    private volatile Duration deadline = DEFAULT_DEADLINE;

    /** Uses a fresh JDK HttpClient (no redirects followed, 10 s connect timeout) and the system clock. */
    public BearerTokens() {
        this(newClient(null, null), Clock.systemUTC());
    }

    /**
     * As {@link #BearerTokens()}, with token requests sent through {@code proxy} (the same outbound proxy, and the
     * same exceptions, as the registry traffic; {@link ProxySelector#of} or {@code HttpClient.Builder.NO_PROXY}).
     */
    public BearerTokens(ProxySelector proxy) {
        this(newClient(proxy, null), Clock.systemUTC(), proxy);
    }

    /** Uses {@code http} for token requests and {@code clock} for expiry (tests pass a fake clock). */
    public BearerTokens(HttpClient http, Clock clock) {
        this(http, clock, null);
    }

    private BearerTokens(HttpClient http, Clock clock, ProxySelector proxy) {
        if (http == null || clock == null) {
            throw new NullPointerException("http and clock are required");
        }
        this.http = http;
        this.clock = clock;
        this.proxy = proxy;
        this.cache = Caffeine.newBuilder()
                .maximumSize(MAX_ENTRIES)
                .ticker(() -> TimeUnit.MILLISECONDS.toNanos(clock.millis()))
                .expireAfter(new Expiry<Key, Token>() {
                    @Override
                    public long expireAfterCreate(Key key, Token token, long currentTime) {
                        if (token.error != null) {
                            return 0; // failures are not cached: gone as soon as their waiters have them
                        }
                        return Math.max(0, TimeUnit.MILLISECONDS.toNanos(token.refreshAtMillis) - currentTime);
                    }

                    @Override
                    public long expireAfterUpdate(Key key, Token token, long currentTime, long currentDuration) {
                        return expireAfterCreate(key, token, currentTime);
                    }

                    @Override
                    public long expireAfterRead(Key key, Token token, long currentTime, long currentDuration) {
                        return currentDuration;
                    }
                })
                .buildAsync();
    }

    /** Sets the overall deadline of each token fetch (connect, headers and body); call at start-up. */
    public BearerTokens deadline(Duration d) {
        if (d == null || d.isNegative() || d.isZero()) {
            throw new IllegalArgumentException("deadline must be positive");
        }
        this.deadline = d;
        return this;
    }

    /** Returns a token for the challenge and scope, from cache or a fresh exchange. credentials may be null. */
    public CompletableFuture<String> token(Challenge challenge, String scope, Credentials credentials) {
        return token(challenge, scope, credentials, null);
    }

    /** As {@link #token(Challenge, String, Credentials, SSLContext)} without an owner (no project, any realm). */
    public CompletableFuture<String> token(Challenge challenge, String scope, Credentials credentials,
            SSLContext tls) {
        return token(challenge, scope, credentials, tls, null);
    }

    /**
     * As {@link #token(Challenge, String, Credentials)}, trusting {@code tls} (the upstream project's TLS context:
     * its CA file, or no verification at all) for an https realm; null for the JDK's trust store. A token server
     * usually shares the registry's host and certificate (Harbor, quay, GitLab), so it needs the same trust.
     * {@code owner} (null: none) keeps the project's tokens its own, and keeps its credentials off a plain-http realm
     * on another host: such a realm is asked anonymously.
     */
    public CompletableFuture<String> token(Challenge challenge, String scope, Credentials credentials,
            SSLContext tls, TokenOwner owner) {
        final Key key;
        final Credentials sent;
        try {
            sent = mayCarry(challenge, owner) ? credentials : null;
            key = Key.of(challenge, scope, sent, owner);
        } catch (IllegalArgumentException e) {
            return CompletableFuture.failedFuture(e);
        }
        if (sent != credentials) {
            log.debug("token realm {} is plain http on another host than project {}'s upstream: asking anonymously",
                    challenge.realm(), owner.project());
        }
        HttpClient client = tls == null ? http : tlsClients.computeIfAbsent(tls, t -> newClient(proxy, t));
        return cache.get(key, (k, executor) -> fetch(k, sent, client)).thenApply(Token::valueOrThrow);
    }

    /** Credentials go to an https realm, or to an http realm on the owner's own upstream host. */
    private static boolean mayCarry(Challenge challenge, TokenOwner owner) {
        if (owner == null || challenge == null || challenge.realm() == null) {
            return true;
        }
        URI realm;
        try {
            realm = URI.create(challenge.realm().trim());
        } catch (IllegalArgumentException e) {
            return true; // refused as a bad realm later
        }
        if ("https".equalsIgnoreCase(realm.getScheme())) {
            return true;
        }
        String host = realm.getHost() == null ? "" : realm.getHost().toLowerCase(Locale.ROOT);
        if (host.startsWith("[") && host.endsWith("]")) {
            host = host.substring(1, host.length() - 1);
        }
        return host.equals(owner.upstreamHost().toLowerCase(Locale.ROOT));
    }

    private static HttpClient newClient(ProxySelector proxy, SSLContext tls) {
        HttpClient.Builder b = HttpClient.newBuilder()
                .connectTimeout(Duration.ofSeconds(10))
                // Redirects are not followed: the JDK client would carry our Basic header to wherever it points.
                .followRedirects(HttpClient.Redirect.NEVER);
        if (proxy != null) {
            b.proxy(proxy);
        }
        if (tls != null) {
            b.sslContext(tls);
        }
        return b.build();
    }

    /** Drops a cached token (after the upstream rejected it) so the next call fetches a new one. */
    public void invalidate(Challenge challenge, String scope, Credentials credentials) {
        invalidate(challenge, scope, credentials, null);
    }

    /** As {@link #invalidate(Challenge, String, Credentials)}, for the token of {@code owner}. */
    public void invalidate(Challenge challenge, String scope, Credentials credentials, TokenOwner owner) {
        try {
            Credentials sent = mayCarry(challenge, owner) ? credentials : null;
            cache.synchronous().invalidate(Key.of(challenge, scope, sent, owner));
        } catch (IllegalArgumentException e) {
            // no realm: nothing was ever cached for it
        }
    }

    private CompletableFuture<Token> fetch(Key key, Credentials credentials, HttpClient http) {
        URI uri;
        try {
            uri = tokenUri(key);
        } catch (IllegalArgumentException e) {
            return CompletableFuture.failedFuture(
                    new IOException("bad token realm " + key.realm + ": " + e.getMessage(), e));
        }
        Duration limit = deadline;
        HttpRequest.Builder b = HttpRequest.newBuilder(uri)
                .timeout(limit)
                .header("Accept", "application/json")
                .header("User-Agent", "wharf/0.1")
                .GET();
        if (credentials != null) {
            b.header("Authorization", basic(credentials));
        }
        log.debug("token request to {} service={} scope={} as {}", key.realm, key.service, key.scope, key.identity);
        // The cached future always completes normally; a failure is a Token that expires at once. Caffeine would
        // otherwise log every failed load with a stack trace, and the callers get the failure either way.
        CompletableFuture<HttpResponse<byte[]>> sent = http.sendAsync(b.build(), BoundedBody.handler(MAX_RESPONSE));
        // The request timeout covers the headers only: the deadline also covers a body that trickles in.
        CompletableFuture.delayedExecutor(limit.toMillis(), TimeUnit.MILLISECONDS).execute(() -> sent.cancel(true));
        return sent
                .handle((resp, err) -> {
                    if (err != null) {
                        Throwable cause = err instanceof CompletionException && err.getCause() != null
                                ? err.getCause() : err;
                        if (cause instanceof java.util.concurrent.CancellationException) {
                            return Token.failed(new IOException("token request to " + key.realm
                                    + " failed: no complete answer within " + limit.toMillis() + " ms"));
                        }
                        return Token.failed(new IOException("token request to " + key.realm
                                + " failed: " + describe(cause), cause));
                    }
                    try {
                        return parse(key, resp);
                    } catch (IOException e) {
                        return Token.failed(e);
                    }
                });
    }

    private Token parse(Key key, HttpResponse<byte[]> resp) throws IOException {
        int status = resp.statusCode();
        if (status < 200 || status > 299) {
            // Neither the body (may echo input) nor any header goes into the message: only realm and status.
            throw new TokenRequestException("token request to " + key.realm + " as " + key.identity
                    + " failed: HTTP " + status, status);
        }
        JsonNode body;
        try {
            body = JSON.readTree(resp.body());
        } catch (IOException e) {
            throw new IOException("token response from " + key.realm + " is not JSON (HTTP " + status + ")");
        }
        if (body == null || !body.isObject()) {
            throw new IOException("token response from " + key.realm + " is not a JSON object");
        }
        String token = text(body, "token");
        if (token == null) {
            token = text(body, "access_token");
        }
        if (token == null) {
            throw new IOException("token response from " + key.realm + " has neither token nor access_token");
        }
        long lifetimeSeconds = MIN_LIFETIME.toSeconds();
        JsonNode expires = body.get("expires_in");
        if (expires != null && expires.canConvertToLong()) {
            lifetimeSeconds = Math.max(lifetimeSeconds, expires.asLong());
        }
        long now = clock.millis();
        long issued = now;
        String issuedAt = text(body, "issued_at");
        if (issuedAt != null) {
            try {
                // Never later than now: a server clock ahead of ours must not stretch the lifetime.
                issued = Math.min(now, OffsetDateTime.parse(issuedAt).toInstant().toEpochMilli());
            } catch (DateTimeParseException e) {
                log.debug("ignoring unparsable issued_at from {}", key.realm);
            }
        }
        long lifetimeMillis = lifetimeSeconds * 1000;
        long margin = Math.min(lifetimeMillis / 10, MAX_REFRESH_MARGIN.toMillis());
        long refreshAt = issued + lifetimeMillis - margin;
        if (refreshAt <= now) {
            // issued_at far in the past means the clocks disagree: the token was minted just now, so count its
            // lifetime from our receipt rather than never caching it.
            refreshAt = now + lifetimeMillis - margin;
        }
        log.debug("token from {} for scope {} valid {} s, cached until {}", key.realm, key.scope, lifetimeSeconds,
                Instant.ofEpochMilli(refreshAt));
        return new Token(token, refreshAt, null);
    }

    private static String text(JsonNode body, String field) {
        JsonNode n = body.get(field);
        if (n == null || !n.isTextual() || n.asText().isEmpty()) {
            return null;
        }
        return n.asText();
    }

    static URI tokenUri(Key key) {
        StringBuilder q = new StringBuilder();
        if (key.service != null) {
            q.append("service=").append(URLEncoder.encode(key.service, StandardCharsets.UTF_8));
        }
        if (key.scope != null) {
            if (q.length() > 0) {
                q.append('&');
            }
            q.append("scope=").append(URLEncoder.encode(key.scope, StandardCharsets.UTF_8));
        }
        URI realm = URI.create(key.realm);
        String scheme = realm.getScheme() == null ? "" : realm.getScheme().toLowerCase(Locale.ROOT);
        if (!scheme.equals("https") && !scheme.equals("http") || realm.getHost() == null) {
            throw new IllegalArgumentException("realm must be an http(s) URL");
        }
        if (q.length() == 0) {
            return realm;
        }
        String sep = realm.getRawQuery() == null ? "?" : "&";
        String s = key.realm;
        int hash = s.indexOf('#');
        if (hash >= 0) {
            s = s.substring(0, hash);
        }
        return URI.create(s + sep + q);
    }

    static String basic(Credentials c) {
        String user = c.username() == null ? "" : c.username();
        String pass = c.password() == null ? "" : c.password();
        return "Basic " + Base64.getEncoder().encodeToString((user + ":" + pass).getBytes(StandardCharsets.UTF_8));
    }

    private static String describe(Throwable t) {
        String m = t.getMessage();
        return t.getClass().getSimpleName() + (m == null ? "" : ": " + m);
    }

    /**
     * Cache key: the project (tokens are never shared between projects), the challenge, and whose credentials:
     * {@code identity} is the username or "anonymous" (for messages), {@code fingerprint} a salted hash of user and
     * password, so two sets of credentials with one username (ECR's "AWS") never share a token. Holds no secret.
     */
    record Key(String project, String realm, String service, String scope, String identity, String fingerprint) {
        static Key of(Challenge challenge, String scope, Credentials credentials) {
            return of(challenge, scope, credentials, null);
        }

        static Key of(Challenge challenge, String scope, Credentials credentials, TokenOwner owner) {
            if (challenge == null || challenge.realm() == null || challenge.realm().isBlank()) {
                throw new IllegalArgumentException("Bearer challenge without realm");
            }
            String identity = credentials == null || credentials.username() == null
                    ? "anonymous" : "user " + credentials.username();
            return new Key(owner == null ? "" : owner.project(), challenge.realm(), challenge.service(), scope,
                    identity, fingerprint(credentials));
        }

        private static String fingerprint(Credentials c) {
            if (c == null) {
                return "";
            }
            try {
                java.security.MessageDigest sha = java.security.MessageDigest.getInstance("SHA-256");
                sha.update(SALT);
                sha.update(basic(c).getBytes(StandardCharsets.UTF_8));
                return java.util.HexFormat.of().formatHex(sha.digest(), 0, 16);
            } catch (java.security.NoSuchAlgorithmException e) {
                throw new IllegalStateException(e);
            }
        }
    }

    /** A token and when to stop handing it out, or the failure of its fetch. {@link #toString()} hides the value. */
    private record Token(String value, long refreshAtMillis, IOException error) {
        static Token failed(IOException error) {
            return new Token(null, Long.MIN_VALUE, error);
        }

        String valueOrThrow() {
            if (error != null) {
                throw new CompletionException(error);
            }
            return value;
        }

        @Override
        public String toString() {
            return error != null ? "Token[failed: " + error.getMessage() + "]"
                    : "Token[***, refreshAt=" + refreshAtMillis + "]";
        }
    }
}

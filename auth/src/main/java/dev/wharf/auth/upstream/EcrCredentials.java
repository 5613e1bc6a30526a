package dev.wharf.auth.upstream;

import java.io.IOException;
import java.time.Clock;
import java.time.Duration;
import java.time.Instant;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.Executors;
import java.util.concurrent.RejectedExecutionException;
import java.util.concurrent.ScheduledExecutorService;
import java.util.concurrent.ScheduledFuture;
import java.util.concurrent.TimeUnit;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

/**
 * ECR registry credentials: user {@code AWS} and the password from GetAuthorizationToken, cached until the token's
 * {@code expiresAt} minus a margin and refreshed in the background before that, so a pull never waits for a token
 * once the first one is in. A token the registry rejects (ECR: 403 with a plain-text body) is dropped and fetched
 * again, unless it was minted moments ago.
 *
 * <p>This class never touches the AWS SDK. {@link #create} builds the SDK-backed fetcher ({@code AwsEcrTokens}),
 * so the JVM loads {@code software.amazon.*} classes only when a project pulls from ECR.
 *
 * <p>Concurrency: the state ({@link #token}, {@link #inFlight}, {@link #scheduled}, {@link #closed}) is guarded by
 * {@code this}; each critical section is a few field reads and writes and never blocks. Fetches run one at a time on
 * the single-threaded {@link #executor}, outside the lock, and publish their result under it before completing the
 * future, so a caller that sees the future complete also sees the new token. Callers that arrive during a fetch join
 * its future ({@link #inFlight}): one GetAuthorizationToken per expiry, however many pulls are waiting. A background
 * refresh leaves the current token in place until the new one is in, so callers keep using it meanwhile.
 * {@link #invalidate} may race with a fetch: it only drops the token it was shown, so a newer token is never lost.
 */
public final class EcrCredentials implements CredentialSource {

    private static final Logger log = LoggerFactory.getLogger(EcrCredentials.class);

    /** A token is handed out until {@code expiresAt} minus this (ECR tokens live 12 h), or a tenth of its life. */
    static final Duration MAX_MARGIN = Duration.ofMinutes(5);
    /** A token younger than this is not dropped on rejection: it cannot have expired, so the rejection is denial. */
    static final Duration MIN_AGE_TO_DROP = Duration.ofSeconds(5);
    /** After a failed background refresh, try again this much later (while the current token is still usable). */
    static final Duration RETRY_AFTER_FAILURE = Duration.ofSeconds(30);
    /** When a token is already (nearly) expired by our clock, use it for this long: the clocks disagree. */
    static final Duration SKEWED_LIFETIME = Duration.ofSeconds(30);

    /** Fetches one token, blocking. {@code AwsEcrTokens} calls the SDK; tests pass their own. */
    interface TokenFetcher extends AutoCloseable {
        Token fetch() throws IOException;

        @Override
        default void close() {
        }
    }

    /** A token as the API returned it: the registry credentials and when they expire. */
    record Token(Credentials credentials, Instant expiresAt) {
        @Override
        public String toString() {
            return "Token[" + credentials + ", expiresAt=" + expiresAt + "]";
        }
    }

    /** A token in use: handed out until {@code useUntil}; a background refresh starts at {@code refreshAt}. */
    private record Held(Credentials credentials, Instant fetchedAt, Instant expiresAt, Instant useUntil,
                        Instant refreshAt) {
    }

    private final TokenFetcher fetcher;
    private final String description;
    private final Clock clock;
    private final ScheduledExecutorService executor;
    /** ECR Public answers expired credentials with 400; private ECR never needs that guess. */
    private final boolean isPublic;

    private Held token;
    private CompletableFuture<Held> inFlight;
    private ScheduledFuture<?> scheduled;
    private boolean closed;

    EcrCredentials(TokenFetcher fetcher, String description, Clock clock, ScheduledExecutorService executor,
                   boolean isPublic) {
        if (fetcher == null || description == null || clock == null || executor == null) {
            throw new NullPointerException("fetcher, description, clock and executor are required");
        }
        this.fetcher = fetcher;
        this.description = description;
        this.clock = clock;
        this.executor = executor;
        this.isPublic = isPublic;
    }

    /**
     * ECR credentials through the AWS SDK for {@code access}; {@code description} names the registry and project in
     * logs. The first token is fetched when first asked for. This is the only place that loads SDK classes.
     */
    public static EcrCredentials create(EcrAccess access, String description) {
        ScheduledExecutorService executor = Executors.newSingleThreadScheduledExecutor(r -> {
            Thread t = new Thread(r, "wharf-ecr-token");
            t.setDaemon(true);
            return t;
        });
        try {
            return new EcrCredentials(new AwsEcrTokens(access), description, Clock.systemUTC(), executor,
                    access.isPublic());
        } catch (RuntimeException | Error e) {
            executor.shutdownNow();
            throw e;
        }
    }

    @Override
    public CompletableFuture<Credentials> get() {
        synchronized (this) {
            if (closed) {
                return CompletableFuture.failedFuture(new IOException("ECR credentials for " + description
                        + " are closed"));
            }
            if (token != null && clock.instant().isBefore(token.useUntil)) {
                return CompletableFuture.completedFuture(token.credentials);
            }
            return fetchLocked().thenApply(Held::credentials);
        }
    }

    /** ECR answers an expired token with 403; ECR Public answers 400 instead of 401. */
    @Override
    public boolean mayMeanExpired(int status) {
        return status == 401 || status == 403 || isPublic && status == 400;
    }

    @Override
    public boolean invalidate(Credentials rejected) {
        synchronized (this) {
            if (closed) {
                return false;
            }
            if (token == null || !token.credentials.equals(rejected)) {
                return true; // dropped already, or a newer token is in (or on its way): a retry uses that
            }
            Duration age = Duration.between(token.fetchedAt, clock.instant());
            if (age.compareTo(MIN_AGE_TO_DROP) < 0) {
                // DEBUG: a denied repository meets this on every request, and the 403 reaches the client anyway.
                log.debug("{}: the registry rejected an ECR token fetched {} ms ago; keeping it (access denied, "
                        + "not expiry)", description, age.toMillis());
                return false;
            }
            log.info("{}: the upstream rejected the ECR token (valid until {} by its expiresAt); fetching a new one",
                    description, token.expiresAt);
            token = null;
            fetchLocked();
            return true;
        }
    }

    @Override
    public void close() {
        synchronized (this) {
            closed = true;
            if (scheduled != null) {
                scheduled.cancel(false);
            }
        }
        executor.shutdownNow();
        fetcher.close();
    }

    /** The fetch in flight, or a new one. Caller holds the lock. */
    private CompletableFuture<Held> fetchLocked() {
        if (inFlight != null) {
            return inFlight;
        }
        CompletableFuture<Held> f = new CompletableFuture<>();
        inFlight = f;
        try {
            executor.execute(() -> fetch(f));
        } catch (RejectedExecutionException e) {
            inFlight = null;
            f.completeExceptionally(new IOException("ECR credentials for " + description + " are closed", e));
        }
        return f;
    }

    /** Runs on the executor. */
    private void fetch(CompletableFuture<Held> f) {
        Instant started = clock.instant();
        Token fetched;
        try {
            fetched = fetcher.fetch();
            if (fetched == null || fetched.credentials() == null || fetched.expiresAt() == null) {
                throw new IOException("GetAuthorizationToken returned no authorization data");
            }
        } catch (IOException | RuntimeException e) {
            IOException failure = e instanceof IOException io ? io
                    : new IOException("GetAuthorizationToken failed: " + e, e);
            synchronized (this) {
                inFlight = null;
                Instant now = clock.instant();
                if (!closed && token != null && now.plus(RETRY_AFTER_FAILURE).isBefore(token.useUntil)) {
                    schedule(RETRY_AFTER_FAILURE);
                }
            }
            log.warn("{}: cannot get an ECR token: {}", description, failure.getMessage());
            f.completeExceptionally(new IOException("cannot get an ECR token for " + description + ": "
                    + failure.getMessage(), failure));
            return;
        }
        Held held = hold(fetched, started);
        synchronized (this) {
            inFlight = null;
            if (!closed) {
                token = held;
                schedule(Duration.between(clock.instant(), held.refreshAt));
            }
        }
        log.info("{}: ECR token fetched, expires {}, used until {}, refreshed from {}", description,
                held.expiresAt, held.useUntil, held.refreshAt);
        f.complete(held);
    }

    /** Hand out until expiresAt minus the margin; refresh one margin before that. */
    private Held hold(Token t, Instant fetchedAt) {
        Duration life = Duration.between(fetchedAt, t.expiresAt());
        Duration margin = life.dividedBy(10);
        if (margin.compareTo(MAX_MARGIN) > 0) {
            margin = MAX_MARGIN;
        }
        Instant useUntil = t.expiresAt().minus(margin);
        Instant refreshAt = useUntil.minus(margin);
        if (!useUntil.isAfter(fetchedAt) || margin.isNegative()) {
            log.warn("{}: the ECR token expires at {}, which is not after now ({}) by this host's clock; using it "
                    + "for {} s", description, t.expiresAt(), fetchedAt, SKEWED_LIFETIME.toSeconds());
            useUntil = fetchedAt.plus(SKEWED_LIFETIME);
            refreshAt = fetchedAt.plus(SKEWED_LIFETIME.dividedBy(2));
        }
        return new Held(t.credentials(), fetchedAt, t.expiresAt(), useUntil, refreshAt);
    }

    /** (Re)schedules the background refresh. Caller holds the lock. */
    private void schedule(Duration delay) {
        if (scheduled != null) {
            scheduled.cancel(false);
        }
        long millis = Math.max(0, delay.toMillis());
        try {
            scheduled = executor.schedule(this::refreshInBackground, millis, TimeUnit.MILLISECONDS);
        } catch (RejectedExecutionException e) {
            scheduled = null; // closed
        }
    }

    private void refreshInBackground() {
        synchronized (this) {
            if (!closed && inFlight == null) {
                log.debug("{}: refreshing the ECR token before it expires", description);
                fetchLocked();
            }
        }
    }

    @Override
    public String toString() {
        return "EcrCredentials[" + description + "]";
    }
}

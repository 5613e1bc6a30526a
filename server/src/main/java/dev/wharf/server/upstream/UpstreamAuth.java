package dev.wharf.server.upstream;

import dev.wharf.server.api.Failures;
import dev.wharf.auth.upstream.BearerTokens;
import dev.wharf.auth.upstream.Challenge;
import dev.wharf.auth.upstream.CredentialSource;
import dev.wharf.auth.upstream.Credentials;
import dev.wharf.auth.upstream.TokenOwner;
import dev.wharf.auth.upstream.TokenRequestException;
import io.netty.handler.codec.http.HttpHeaderNames;
import io.netty.handler.codec.http.HttpResponse;
import java.util.List;
import java.util.function.Consumer;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

/**
 * The authentication of one exchange: answers a challenge with a Bearer token or Basic, sends a token up front when
 * a challenge is remembered, and holds the Authorization header of the next attempt (only this class makes one).
 * Credentials come from the endpoint's {@link CredentialSource}, asked once per exchange when needed. When the
 * upstream rejects them in a way that may mean they expired, and the source says fresh ones may differ, the
 * exchange starts over once with fresh ones; fixed credentials are never retried. Credentials only ever go to the
 * endpoint's own origin. Its state is the exchange's: touched by one step at a time (see {@link UpstreamExchange}).
 */
final class UpstreamAuth {
    private static final Logger log = LoggerFactory.getLogger(UpstreamAuth.class);

    /** Bearer retries after a 401: the first token, then one refreshed token if that was rejected too. */
    static final int MAX_BEARER_RETRIES = 2;

    private final UpstreamExchange exchange;
    private final UpstreamEndpoint endpoint;
    private final UpstreamRequest request;
    private final KnownChallenges known;
    private final BearerTokens tokens;
    /** Whose tokens these are: this project's own, and its upstream host (a plain-http realm elsewhere gets no Basic). */
    private final TokenOwner owner;

    /** The Authorization header for the current attempt, or null. */
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
    private int bearerRetries;

    UpstreamAuth(UpstreamExchange exchange, UpstreamEndpoint endpoint, UpstreamRequest request, KnownChallenges known,
            BearerTokens tokens) {
        this.exchange = exchange;
        this.endpoint = endpoint;
        this.request = request;
        this.known = known;
        this.tokens = tokens;
        this.owner = new TokenOwner(endpoint.project() == null ? "" : endpoint.project(),
                endpoint.base() == null || endpoint.base().getHost() == null ? "" : UpstreamUrls.hostOf(endpoint.base()));
    }

    /** The Authorization header value for the next attempt, or null. */
    String authorization() {
        return authorization;
    }

    /** Sends the first request: with what the remembered challenge asks for (a token, or Basic), if any. */
    void sendFirst() {
        Challenge remembered = known.get(endpoint, request.repository());
        if (remembered != null && (remembered.scheme().equals("bearer") && remembered.realm() != null
                || remembered.scheme().equals("basic") && endpoint.credentials() != null)) {
            withCredentials(c -> sendFirstWith(remembered, c));
            return;
        }
        exchange.send();
    }

    private void sendFirstWith(Challenge remembered, Credentials credentials) {
        if (remembered.scheme().equals("bearer")) {
            // Pre-emptive token: saves the 401 round trip. A token failure here is not final; the 401 path retries.
            String scope = scopeFor(remembered, false);
            tokens.token(remembered, scope, credentials, UpstreamTls.forTokens(endpoint), owner).whenComplete((token, err) -> {
                if (err == null) {
                    useToken(remembered, scope, credentials, token);
                } else {
                    log.debug("{}: pre-emptive token failed: {}", UpstreamFailures.describe(endpoint),
                            UpstreamFailures.rootMessage(err));
                }
                exchange.send();
            });
            return;
        }
        if (credentials != null) {
            authorization = RequestBuilder.basic(credentials);
            sentBasic = true;
        }
        exchange.send();
    }

    /**
     * What a 401 on the current URL means: the step that retries with a token or Basic, or null when the 401 is
     * the answer.
     */
    Runnable onUnauthorized(HttpResponse r) {
        // Credentials only ever go to the configured upstream's own origin. A redirect target on another host
        // (registry.k8s.io sends manifests to Artifact Registry) may ask for a Bearer token of its own: that
        // one is fetched anonymously, and its challenge is not remembered for the upstream.
        boolean foreign = !UpstreamUrls.isEndpointOrigin(exchange.uri(), endpoint);
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
                known.remember(endpoint, request.repository(), bearer);
            }
            if (tokenChallenge != null) {
                tokens.invalidate(tokenChallenge, tokenScope, tokenCredentials, owner);
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
            known.remember(endpoint, request.repository(), basicChallenge);
            return () -> withCredentials(cr -> {
                authorization = RequestBuilder.basic(cr);
                sentBasic = true;
                exchange.send();
            });
        }
        return null;
    }

    /**
     * For a final answer: the step that starts over with fresh credentials, when the answer may mean the ones this
     * exchange sent to the endpoint's own origin expired; else null (the answer stands).
     */
    Runnable refreshIfRejected(int status) {
        boolean sentOurs = sentBasic || tokenCredentials != null && tokenCredentials == creds;
        if (!sentOurs || !UpstreamUrls.isEndpointOrigin(exchange.uri(), endpoint) || !mayRefresh(status, creds)) {
            return null;
        }
        return () -> restartWithFreshCredentials("HTTP " + status);
    }

    /** Before a redirect to another origin: never carry credentials to another host; signed URLs carry their own. */
    void dropCredentials() {
        authorization = null;
        tokenChallenge = null;
        tokenScope = null;
        tokenCredentials = null;
        sentBasic = false;
    }

    private void authenticate(Challenge challenge, Credentials credentials, boolean foreign) {
        String scope = scopeFor(challenge, foreign);
        tokens.token(challenge, scope, credentials, UpstreamTls.forTokens(endpoint), owner).whenComplete((token, err) -> {
            if (err != null) {
                Throwable cause = Failures.unwrap(err);
                if (!foreign && cause instanceof TokenRequestException t && mayRefresh(t.status(), credentials)) {
                    restartWithFreshCredentials("the token endpoint answered HTTP " + t.status());
                    return;
                }
                exchange.fail(UpstreamFailures.tokenFailed(cause), cause);
                return;
            }
            useToken(challenge, scope, credentials, token);
            exchange.send();
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
                Throwable cause = Failures.unwrap(err);
                exchange.fail(UpstreamFailures.noCredentials(cause), cause);
                return;
            }
            creds = c;
            next.accept(c);
        });
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
        log.info("{}: credentials rejected ({}); retrying once with fresh ones", UpstreamFailures.describe(endpoint),
                why);
        if (tokenChallenge != null) {
            tokens.invalidate(tokenChallenge, tokenScope, tokenCredentials, owner);
        }
        creds = null;
        dropCredentials();
        exchange.startOver();
    }

    private void useToken(Challenge challenge, String scope, Credentials credentials, String token) {
        authorization = "Bearer " + token;
        tokenChallenge = challenge;
        tokenScope = scope;
        tokenCredentials = credentials;
        sentBasic = false;
    }

    /** The challenge's scope; else pull on the repository: the one in the URL for a redirect target. */
    private String scopeFor(Challenge challenge, boolean foreign) {
        if (challenge.scope() != null && !challenge.scope().isEmpty()) {
            return challenge.scope();
        }
        String repository = foreign ? UpstreamUrls.repositoryInPath(exchange.uri().getRawPath())
                : request.repository();
        return repository == null ? null : "repository:" + repository + ":pull";
    }
}

package dev.wharf.auth;

import java.util.concurrent.CompletableFuture;

/**
 * Token exchange for registry Bearer challenges (the distribution token spec), with a cache.
 *
 * <p>GET {@code realm?service=...&scope=...}, with HTTP Basic when credentials are given, anonymous otherwise.
 * Accepts {@code token} or {@code access_token}, {@code expires_in} (default 60 s) and {@code issued_at}. Tokens are
 * cached by (realm, service, scope, identity) until shortly before they expire, and one in-flight fetch serves every
 * concurrent caller of the same key. Uses the JDK HttpClient; never logs a token or a password.
 */
public final class BearerTokens {

    /** Returns a token for the challenge and scope, from cache or a fresh exchange. credentials may be null. */
    public CompletableFuture<String> token(Challenge challenge, String scope, Credentials credentials) {
        throw new UnsupportedOperationException("TODO");
    }

    /** Drops a cached token (after the upstream rejected it) so the next call fetches a new one. */
    public void invalidate(Challenge challenge, String scope, Credentials credentials) {
        throw new UnsupportedOperationException("TODO");
    }
}

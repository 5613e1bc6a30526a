package dev.wharf.auth.upstream;

import java.util.concurrent.CompletableFuture;

/**
 * Where an upstream's credentials come from: fixed ones from the config ({@link Credentials} is its own source), or
 * tokens that expire and are fetched again ({@link EcrCredentials}).
 *
 * <p>The upstream client asks for credentials on every exchange that needs them, and calls {@link #invalidate} when
 * the upstream rejects the ones it sent; when that returns true it asks again and retries once.
 */
public interface CredentialSource extends AutoCloseable {

    /** The credentials to use now. Completes at once when they are at hand, else when a fetch ends. Never null. */
    CompletableFuture<Credentials> get();

    /**
     * The upstream rejected {@code rejected}, which this source handed out. Returns true when asking again may give
     * other credentials, so one retry is worth it; false when nothing would change (fixed credentials, or a token
     * minted a moment ago, whose rejection is about rights rather than expiry).
     */
    boolean invalidate(Credentials rejected);

    /**
     * Whether an answer with this HTTP status, to a request that carried this source's credentials, may mean they
     * expired: 401 and 403 (ECR answers an expired token with 403); ECR Public adds 400.
     */
    default boolean mayMeanExpired(int status) {
        return status == 401 || status == 403;
    }

    /** Stops background work (token refresh); fixed credentials have none. */
    @Override
    default void close() {
    }
}

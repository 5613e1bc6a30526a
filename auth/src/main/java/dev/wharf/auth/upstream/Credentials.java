package dev.wharf.auth.upstream;

import java.util.concurrent.CompletableFuture;

/**
 * A username and password (or token) for an upstream. Fixed credentials are their own {@link CredentialSource}:
 * always at hand, never refreshed. {@link #toString()} never shows the secret.
 */
public record Credentials(String username, String password) implements CredentialSource {

    @Override
    public CompletableFuture<Credentials> get() {
        return CompletableFuture.completedFuture(this);
    }

    /** Fixed credentials cannot change: a retry would be rejected the same way. */
    @Override
    public boolean invalidate(Credentials rejected) {
        return false;
    }

    @Override
    public String toString() {
        return "Credentials[username=" + username + ", password=***]";
    }
}

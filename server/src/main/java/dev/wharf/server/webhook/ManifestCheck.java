package dev.wharf.server.webhook;

import java.util.concurrent.CompletableFuture;

/** Asks whether wharf can serve a manifest: the {@code checkUpstream} test of a rewrite rule. */
public interface ManifestCheck {
    /**
     * Completes with true if {@code /v2/<path>/manifests/<reference>} resolves, with false if it does not, cannot
     * be asked or takes too long; never exceptionally, and never blocks the caller.
     */
    CompletableFuture<Boolean> resolves(String path, String reference);
}

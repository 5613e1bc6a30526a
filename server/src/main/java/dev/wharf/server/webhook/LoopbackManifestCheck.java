package dev.wharf.server.webhook;

import java.net.URI;
import java.net.http.HttpClient;
import java.net.http.HttpRequest;
import java.net.http.HttpResponse;
import java.time.Duration;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.TimeUnit;
import java.util.function.Supplier;
import javax.net.ssl.SSLContext;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

/**
 * {@link ManifestCheck} by an HTTP HEAD against wharf's own registry address, so the answer goes through wharf's
 * routing, its projects and its cache exactly as the kubelet's pull of the rewritten image will. Asynchronous (the
 * JDK client's own threads), bounded by {@code deadline}; any failure reads as "does not resolve".
 */
public final class LoopbackManifestCheck implements ManifestCheck {
    private static final Logger LOG = LoggerFactory.getLogger(LoopbackManifestCheck.class);
    /** Every manifest type, so no registry refuses an index for want of an Accept header. */
    private static final String ACCEPT = String.join(", ",
            "application/vnd.oci.image.index.v1+json",
            "application/vnd.oci.image.manifest.v1+json",
            "application/vnd.docker.distribution.manifest.list.v2+json",
            "application/vnd.docker.distribution.manifest.v2+json");

    private final Supplier<URI> registry;
    private final Duration deadline;
    private final HttpClient http;

    /** {@code registry} gives wharf's own base URL (known only once it is bound). */
    public LoopbackManifestCheck(Supplier<URI> registry, Duration deadline) {
        this(registry, deadline, null);
    }

    /** As above, over HTTPS with {@code tls} (trusting wharf's own certificate), or plain when it is null. */
    public LoopbackManifestCheck(Supplier<URI> registry, Duration deadline, SSLContext tls) {
        this.registry = registry;
        this.deadline = deadline;
        HttpClient.Builder b = HttpClient.newBuilder().connectTimeout(deadline).proxy(HttpClient.Builder.NO_PROXY);
        if (tls != null) {
            b.sslContext(tls);
        }
        this.http = b.build();
    }

    @Override
    public CompletableFuture<Boolean> resolves(String path, String reference) {
        URI uri;
        try {
            uri = registry.get().resolve("/v2/" + path + "/manifests/" + reference);
        } catch (RuntimeException e) {
            LOG.debug("checkUpstream: no URL for {} {}: {}", path, reference, e.toString());
            return CompletableFuture.completedFuture(false);
        }
        HttpRequest request = HttpRequest.newBuilder(uri).timeout(deadline)
                .method("HEAD", HttpRequest.BodyPublishers.noBody())
                .header("Accept", ACCEPT)
                .header("User-Agent", "wharf-admission-webhook")
                .build();
        return http.sendAsync(request, HttpResponse.BodyHandlers.discarding())
                .thenApply(response -> response.statusCode() == 200)
                .completeOnTimeout(false, deadline.toMillis(), TimeUnit.MILLISECONDS)
                .exceptionally(failure -> {
                    LOG.debug("checkUpstream: HEAD {} failed: {}", uri, failure.toString());
                    return false;
                });
    }
}

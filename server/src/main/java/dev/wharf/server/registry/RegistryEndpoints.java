package dev.wharf.server.registry;

import dev.wharf.server.http.Endpoints;
import dev.wharf.server.http.Exchange;
import dev.wharf.server.http.Route;

/** Wires the endpoint handlers to the router. */
public final class RegistryEndpoints implements Endpoints {
    private final ManifestEndpoint manifests;
    private final BlobEndpoint blobs;
    private final TagListEndpoint tags;
    private final ReferrersEndpoint referrers;

    public RegistryEndpoints(ManifestEndpoint manifests, BlobEndpoint blobs, TagListEndpoint tags,
                             ReferrersEndpoint referrers) {
        this.manifests = manifests;
        this.blobs = blobs;
        this.tags = tags;
        this.referrers = referrers;
    }

    @Override
    public void manifest(Exchange exchange, Route.Manifest route) {
        manifests.handle(exchange, route);
    }

    @Override
    public void blob(Exchange exchange, Route.Blob route) {
        blobs.handle(exchange, route);
    }

    @Override
    public void tags(Exchange exchange, Route.Tags route) {
        tags.handle(exchange, route);
    }

    @Override
    public void referrers(Exchange exchange, Route.Referrers route) {
        referrers.handle(exchange, route);
    }
}

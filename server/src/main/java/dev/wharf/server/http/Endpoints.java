package dev.wharf.server.http;

/** The /v2 endpoint handlers, one method per endpoint; implemented by the registry layer. */
public interface Endpoints {
    void manifest(Exchange exchange, Route.Manifest route);

    void blob(Exchange exchange, Route.Blob route);

    void tags(Exchange exchange, Route.Tags route);

    void referrers(Exchange exchange, Route.Referrers route);
}

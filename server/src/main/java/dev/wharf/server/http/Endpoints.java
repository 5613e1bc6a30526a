package dev.wharf.server.http;

/** The /v2 endpoint handlers, one method per endpoint; implemented by the registry layer. */
public interface Endpoints {
    void manifest(Exchange exchange, Route route);

    void blob(Exchange exchange, Route route);

    void tags(Exchange exchange, Route route);

    void referrers(Exchange exchange, Route route);
}

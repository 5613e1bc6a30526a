package dev.wharf.server.http;

/**
 * Who may pull, as the request handler sees it: each {@code /v2} request is authorised before its endpoint runs,
 * the token endpoint is answered here, and every finished request is shown once more (for the audit log).
 * Implemented by the access package, so {@code http} imports no endpoint; {@link #OPEN} when no auth is configured.
 */
public interface RegistryAccess {
    /** No auth: every request goes on, the token endpoint does not exist. */
    RegistryAccess OPEN = new RegistryAccess() {
        @Override
        public void authorize(Exchange exchange, Route route, Runnable proceed) {
            proceed.run();
        }

        @Override
        public void token(Exchange exchange, Route.Token route) {
            exchange.error(new dev.wharf.server.api.RegistryException(dev.wharf.server.api.ErrorCode.UNSUPPORTED,
                    io.netty.handler.codec.http.HttpResponseStatus.NOT_FOUND,
                    "no token endpoint: wharf has no auth configured"));
        }
    };

    /**
     * Either runs {@code proceed} (on the exchange's event loop, maybe later) or answers the exchange itself with
     * 401, 403 or 429. Never blocks the caller.
     */
    void authorize(Exchange exchange, Route route, Runnable proceed);

    /** Answers a request to the token endpoint. */
    void token(Exchange exchange, Route.Token route);

    /** Called once when a routed request's response has ended; {@code remote} is the client's address. */
    default void finished(Exchange exchange, Route route, String remote) {
    }
}

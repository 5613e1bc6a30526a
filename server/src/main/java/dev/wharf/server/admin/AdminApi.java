package dev.wharf.server.admin;

import dev.wharf.server.http.Exchange;
import dev.wharf.server.registry.ErrorCode;
import dev.wharf.server.registry.RegistryException;
import io.netty.handler.codec.http.HttpResponseStatus;

/** The admin API under {@code /api/v1}, guarded by the configured admin token. */
public final class AdminApi {
    /** Handles one request whose path starts with {@code /api/v1}. */
    public void handle(Exchange ex) {
        ex.error(new RegistryException(ErrorCode.UNSUPPORTED, HttpResponseStatus.NOT_FOUND, "admin API not available"));
    }
}

package dev.wharf.server.upstream;

import java.io.IOException;

/** The upstream could not be reached or broke the protocol. The message names the project and the upstream. */
public final class UpstreamException extends IOException {
    public UpstreamException(String message, Throwable cause) {
        super(message, cause);
    }

    public UpstreamException(String message) {
        super(message);
    }
}

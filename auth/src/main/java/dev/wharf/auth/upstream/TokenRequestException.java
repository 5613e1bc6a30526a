package dev.wharf.auth.upstream;

import java.io.IOException;

/** A token endpoint answered with an error status; {@link #status()} lets the caller tell a rejection apart. */
public final class TokenRequestException extends IOException {
    private final int status;

    public TokenRequestException(String message, int status) {
        super(message);
        this.status = status;
    }

    /** The token endpoint's HTTP status. */
    public int status() {
        return status;
    }
}

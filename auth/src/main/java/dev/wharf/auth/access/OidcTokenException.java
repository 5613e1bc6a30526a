package dev.wharf.auth.access;

/**
 * An ID token wharf does not accept, or a provider it cannot ask. The message says why in words an operator can act
 * on; it never holds the token or any part of it, so it may go into a log line or an error body.
 */
public final class OidcTokenException extends Exception {
    /** Whose fault it is: the token's (answer 401), or the provider's (wharf cannot decide now). */
    public enum Kind {
        /** The token is malformed, unsigned, badly signed, for another audience or issuer, or out of date. */
        REFUSED,
        /** The discovery document or the JWKS could not be fetched or read: nothing is known about the token. */
        PROVIDER_UNAVAILABLE
    }

    private final Kind kind;

    OidcTokenException(Kind kind, String message) {
        super(message, null, false, false);
        this.kind = kind;
    }

    OidcTokenException(Kind kind, String message, Throwable cause) {
        super(message, cause, false, false);
        this.kind = kind;
    }

    static OidcTokenException refused(String message) {
        return new OidcTokenException(Kind.REFUSED, message);
    }

    /** Whether the token was refused or the provider could not be asked. */
    public Kind kind() {
        return kind;
    }
}

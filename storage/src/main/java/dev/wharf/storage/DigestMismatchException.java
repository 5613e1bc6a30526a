package dev.wharf.storage;

import java.io.IOException;

/** The bytes of a fill did not hash to the digest they were fetched for; the server counts these in a metric. */
public final class DigestMismatchException extends IOException {
    private static final long serialVersionUID = 1L;

    private final Digest expected;
    private final Digest actual;

    public DigestMismatchException(Digest expected, Digest actual) {
        super("digest mismatch: expected " + expected + ", got " + actual);
        this.expected = expected;
        this.actual = actual;
    }

    /** The digest that was asked for. */
    public Digest expected() {
        return expected;
    }

    /** The digest of the bytes that arrived. */
    public Digest actual() {
        return actual;
    }
}

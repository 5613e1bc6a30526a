package dev.wharf.server.api;

import dev.wharf.storage.Digest;
import java.util.regex.Pattern;

/** A manifest reference: a tag or a digest, validated on construction. Exactly one of tag and digest is set. */
public record Reference(String tag, Digest digest) {
    private static final Pattern TAG = Pattern.compile("[a-zA-Z0-9_][a-zA-Z0-9._-]{0,127}");

    /** Parses a path's reference segment: a digest if it holds ':', else a tag. */
    public static Reference parse(String text) {
        if (Digest.looksLikeDigest(text)) {
            return new Reference(null, digest(text));
        }
        if (!TAG.matcher(text).matches()) {
            // 404, not 400: no manifest can exist under a name that is not a tag, and the OCI conformance suite
            // asks for 404 on GET/HEAD manifests/.INVALID_MANIFEST_NAME (CNCF distribution answers the same).
            throw RegistryException.notFound(ErrorCode.MANIFEST_UNKNOWN, "'" + Excerpt.of(text)
                    + "' is not a valid tag (at most 128 of [A-Za-z0-9._-], not starting with . or -)");
        }
        return new Reference(text, null);
    }

    /** Parses a digest, turning a malformed one into 400 DIGEST_INVALID. */
    public static Digest digest(String text) {
        try {
            return Digest.parse(text);
        } catch (IllegalArgumentException e) {
            throw RegistryException.badRequest(ErrorCode.DIGEST_INVALID, e.getMessage());
        }
    }

    public boolean isDigest() {
        return digest != null;
    }

    @Override
    public String toString() {
        return isDigest() ? digest.toString() : tag;
    }
}

package dev.wharf.storage;

import java.util.Locale;
import java.util.regex.Pattern;

/**
 * A content digest, {@code algorithm:encoded}, validated on construction so an invalid one cannot exist.
 *
 * <p>Only the algorithms wharf can verify are accepted: sha256 (64 lower-case hex) and sha512 (128 lower-case hex).
 * The encoded part is what ends up in file names, so the strict pattern is also the path-safety check.
 */
public record Digest(String algorithm, String hex) {
    private static final Pattern SHA256 = Pattern.compile("[a-f0-9]{64}");
    private static final Pattern SHA512 = Pattern.compile("[a-f0-9]{128}");

    public Digest {
        if (algorithm == null || hex == null) {
            throw new IllegalArgumentException("digest is missing");
        }
        switch (algorithm) {
            case "sha256" -> require(SHA256.matcher(hex).matches(), algorithm, hex);
            case "sha512" -> require(SHA512.matcher(hex).matches(), algorithm, hex);
            default -> throw new IllegalArgumentException("unsupported digest algorithm: " + algorithm);
        }
    }

    private static void require(boolean ok, String algorithm, String hex) {
        if (!ok) {
            throw new IllegalArgumentException("invalid " + algorithm + " digest: " + abbreviate(hex));
        }
    }

    private static String abbreviate(String s) {
        return s.length() > 80 ? s.substring(0, 80) + "..." : s;
    }

    /** Parses {@code sha256:<hex>}; throws {@link IllegalArgumentException} with a readable message otherwise. */
    public static Digest parse(String text) {
        if (text == null) {
            throw new IllegalArgumentException("digest is missing");
        }
        int colon = text.indexOf(':');
        if (colon <= 0 || colon == text.length() - 1) {
            throw new IllegalArgumentException("invalid digest: " + abbreviate(text));
        }
        return new Digest(text.substring(0, colon), text.substring(colon + 1));
    }

    /** True if the text looks like a digest reference ({@code alg:...}) rather than a tag; tags cannot hold ':'. */
    public static boolean looksLikeDigest(String reference) {
        return reference.indexOf(':') >= 0;
    }

    /** The JCA name of this digest's algorithm. */
    public String jcaAlgorithm() {
        return algorithm.toUpperCase(Locale.ROOT).replace("SHA", "SHA-");
    }

    @Override
    public String toString() {
        return algorithm + ":" + hex;
    }
}

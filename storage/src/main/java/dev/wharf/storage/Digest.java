package dev.wharf.storage;

import java.security.MessageDigest;
import java.security.NoSuchAlgorithmException;
import java.util.HexFormat;
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

    /**
     * The digest of {@code bytes} under {@code algorithm} ({@code sha256} or {@code sha512}); the one place wharf
     * hashes a byte array. Only for small content (manifests): blobs are hashed as they stream, with
     * {@link #newMessageDigest(String)} and {@link #of(String, MessageDigest)}.
     *
     * @throws IllegalArgumentException if the algorithm is not one wharf can verify
     */
    public static Digest of(String algorithm, byte[] bytes) {
        return named(algorithm, newMessageDigest(algorithm).digest(bytes));
    }

    /** The sha256 digest of {@code bytes}. */
    public static Digest sha256(byte[] bytes) {
        return of("sha256", bytes);
    }

    /**
     * Finishes a running hash made by {@link #newMessageDigest(String)} (streamed content) and names it; the
     * {@code running} hash is reset, as {@link MessageDigest#digest()} does.
     */
    public static Digest of(String algorithm, MessageDigest running) {
        return named(algorithm, running.digest());
    }

    private static Digest named(String algorithm, byte[] hash) {
        return new Digest(algorithm, HexFormat.of().formatHex(hash));
    }

    /**
     * A new running hash for {@code algorithm}, for content too large to hold in memory: update it chunk by chunk,
     * then name the result with {@link #of(String, MessageDigest)}.
     *
     * @throws IllegalArgumentException if the algorithm is not one wharf can verify
     */
    public static MessageDigest newMessageDigest(String algorithm) {
        String jca = switch (algorithm == null ? "" : algorithm) {
            case "sha256" -> "SHA-256";
            case "sha512" -> "SHA-512";
            default -> throw new IllegalArgumentException("unsupported digest algorithm: " + algorithm);
        };
        try {
            return MessageDigest.getInstance(jca);
        } catch (NoSuchAlgorithmException e) {
            throw new IllegalStateException("the JDK lacks " + jca, e);
        }
    }

    /** A new running hash of this digest's algorithm, to check streamed content against it. */
    public MessageDigest newMessageDigest() {
        return newMessageDigest(algorithm);
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

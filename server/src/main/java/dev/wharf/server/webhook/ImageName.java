package dev.wharf.server.webhook;

import dev.wharf.server.api.RegistryException;
import dev.wharf.server.api.RepositoryName;
import dev.wharf.storage.Digest;
import java.util.Locale;
import java.util.regex.Pattern;

/**
 * A container image reference from a Pod spec, normalised as Docker (and so harbor-container-webhook) reads it:
 * {@code nginx} is {@code docker.io/library/nginx:latest}, {@code user/app} is {@code docker.io/user/app:latest},
 * {@code quay.io/x/y} is {@code quay.io/x/y:latest}. A digest is kept and gets no {@code latest}; a reference with
 * both a tag and a digest keeps both, as written. Validated on construction: one that fails to parse is left
 * alone by the webhook.
 *
 * <p>The first path component is the registry when it has a {@code .} or a {@code :}, is {@code localhost} or
 * holds an upper-case letter (Docker's rule); else the registry is {@code docker.io}. {@code index.docker.io} is
 * {@code docker.io}.
 *
 * @param registry   the registry host (and port)
 * @param repository the repository below the registry
 * @param tag        the tag, or null when only a digest was given
 * @param digest     the manifest digest, or null
 */
public record ImageName(String registry, String repository, String tag, String digest) {
    private static final String DOCKER_HUB = "docker.io";
    private static final Pattern TAG = Pattern.compile("[\\w][\\w.-]{0,127}");
    private static final Pattern HEX = Pattern.compile("[a-f0-9]{32,}");

    public ImageName {
        if (registry == null || registry.isEmpty() || repository == null || (tag == null && digest == null)) {
            throw new IllegalArgumentException("an image name needs a registry, a repository and a tag or digest");
        }
    }

    /** Parses and normalises {@code text}; throws {@link IllegalArgumentException} saying what is wrong. */
    public static ImageName parse(String text) {
        if (text == null || text.isEmpty() || !text.equals(text.strip())) {
            throw new IllegalArgumentException("empty image reference or one with surrounding blanks");
        }
        String s = text;
        String digest = null;
        int at = s.indexOf('@');
        if (at >= 0) {
            digest = s.substring(at + 1);
            s = s.substring(0, at);
            try {
                Digest d = Digest.parse(digest);
                if (!HEX.matcher(d.hex()).matches()) {
                    throw new IllegalArgumentException("digest '" + digest + "' is not lower-case hex");
                }
            } catch (RuntimeException e) {
                throw new IllegalArgumentException("'" + text + "': " + e.getMessage());
            }
        }
        String tag = null;
        int colon = s.lastIndexOf(':');
        if (colon > s.lastIndexOf('/')) {
            tag = s.substring(colon + 1);
            s = s.substring(0, colon);
            if (!TAG.matcher(tag).matches()) {
                throw new IllegalArgumentException("'" + text + "': invalid tag '" + tag + "'");
            }
        }
        if (tag == null && digest == null) {
            tag = "latest";
        }
        String registry = DOCKER_HUB;
        int slash = s.indexOf('/');
        if (slash > 0) {
            String first = s.substring(0, slash);
            if (first.contains(".") || first.contains(":") || first.equals("localhost")
                    || !first.equals(first.toLowerCase(Locale.ROOT))) {
                registry = first.equals("index.docker.io") ? DOCKER_HUB : first;
                s = s.substring(slash + 1);
            }
        }
        if (registry.equals(DOCKER_HUB) && s.indexOf('/') < 0) {
            s = "library/" + s;
        }
        try {
            new RepositoryName(s);
        } catch (RegistryException e) {
            throw new IllegalArgumentException("'" + text + "': " + e.getMessage());
        }
        return new ImageName(registry, s, tag, digest);
    }

    /** What a manifest request names: the digest when there is one (it wins over the tag), else the tag. */
    public String manifestReference() {
        return digest != null ? digest : tag;
    }

    /** This image with {@code replace} (a host and an optional path) in its registry's place. */
    public String withRegistry(String replace) {
        return replace + "/" + repository + suffix();
    }

    private String suffix() {
        return (tag == null ? "" : ":" + tag) + (digest == null ? "" : "@" + digest);
    }

    /** The normalised reference, {@code registry/repository[:tag][@digest]}: what rules match against. */
    @Override
    public String toString() {
        return withRegistry(registry);
    }
}

package dev.wharf.server.prefetch;

import dev.wharf.server.api.Reference;
import dev.wharf.server.api.RegistryException;
import dev.wharf.server.api.RepositoryName;
import dev.wharf.storage.Digest;
import java.net.URLEncoder;
import java.nio.charset.StandardCharsets;

/**
 * An image reference as {@code wharf prefetch} and {@code POST /api/v1/prefetch} take it, and where it lives in
 * wharf's {@code /v2} API. Validated on construction.
 *
 * <p>Two forms, told apart the way Docker tells a registry host from a path component (the first component holds a
 * {@code .} or a {@code :}, or is {@code localhost}):
 * <ul>
 * <li>{@code docker.io/library/nginx:1.27}, {@code quay.io/org/img@sha256:...}: a registry host and a repository.
 *     wharf is asked {@code /v2/<repository>/...?ns=<host>}, exactly what containerd sends to a mirror, so the
 *     image lands in the project that containerd's pulls will use: the project named {@code <host>}, else the one
 *     whose upstream host or alias it is ({@code docker.io}, {@code index.docker.io} and
 *     {@code registry-1.docker.io} are one). A one-component Docker Hub name gets {@code library/}.</li>
 * <li>{@code hub/library/x:tag}: a wharf path, asked as {@code /v2/hub/library/x/...}: the first component names
 *     the project; if no project has that name, the default project serves the whole path (so {@code nginx:1.27}
 *     is Docker Hub's nginx with the embedded defaults).</li>
 * </ul>
 * Without a tag or digest the tag is {@code latest}. With both, the digest is pulled (as Docker does).
 *
 * @param text       the reference as written
 * @param host       the registry host, or null for a wharf path
 * @param repository the repository: below the host, or the whole wharf path
 * @param tag        the tag, or null when pulled by digest
 * @param digest     the manifest digest, or null
 */
public record ImageReference(String text, String host, String repository, String tag, Digest digest) {
    public ImageReference {
        if ((tag == null) == (digest == null)) {
            throw new IllegalArgumentException("exactly one of tag and digest");
        }
    }

    /** Parses one reference; throws {@link IllegalArgumentException} saying what is wrong. */
    public static ImageReference parse(String text) {
        String s = text == null ? "" : text.strip();
        if (s.isEmpty()) {
            throw new IllegalArgumentException("empty image reference");
        }
        Digest digest = null;
        int at = s.indexOf('@');
        if (at >= 0) {
            try {
                digest = Digest.parse(s.substring(at + 1));
            } catch (IllegalArgumentException e) {
                throw new IllegalArgumentException("'" + s + "': " + e.getMessage());
            }
            s = s.substring(0, at);
        }
        String tag = null;
        int colon = s.lastIndexOf(':');
        if (colon > s.lastIndexOf('/')) {
            tag = s.substring(colon + 1);
            s = s.substring(0, colon);
            try {
                Reference.parse(tag);
            } catch (RegistryException e) {
                throw new IllegalArgumentException("'" + text.strip() + "': " + e.getMessage());
            }
        }
        if (digest != null) {
            tag = null;
        } else if (tag == null) {
            tag = "latest";
        }
        String host = null;
        int slash = s.indexOf('/');
        if (slash > 0) {
            String first = s.substring(0, slash);
            if (first.contains(".") || first.contains(":") || first.equals("localhost")) {
                host = first;
                s = s.substring(slash + 1);
            }
        }
        try {
            new RepositoryName(s);
        } catch (RegistryException e) {
            throw new IllegalArgumentException("'" + text.strip() + "': " + e.getMessage());
        }
        return new ImageReference(text.strip(), host, s, tag, digest);
    }

    /** The tag or digest, as the manifest path's last segment. */
    public String reference() {
        return digest != null ? digest.toString() : tag;
    }

    /** {@code /v2/<name>/manifests/<ref>} (with {@code ?ns=} for a registry host) on wharf. */
    public String manifestPath(String ref) {
        return "/v2/" + repository + "/manifests/" + ref + query();
    }

    /** {@code /v2/<name>/blobs/<digest>} (with {@code ?ns=} for a registry host) on wharf. */
    public String blobPath(Digest blob) {
        return "/v2/" + repository + "/blobs/" + blob + query();
    }

    private String query() {
        return host == null ? "" : "?ns=" + URLEncoder.encode(host, StandardCharsets.UTF_8);
    }

    @Override
    public String toString() {
        return text;
    }
}

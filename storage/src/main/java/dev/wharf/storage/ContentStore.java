package dev.wharf.storage;

import java.io.IOException;
import java.nio.file.Path;
import java.util.Optional;

/**
 * Content-addressed storage on disk: immutable blobs by digest, per-project links, per-repository tags.
 *
 * <p>Layout under the root (see shared/DESIGN.md):
 * <pre>
 * blobs/sha256/&lt;2 hex&gt;/&lt;64 hex&gt;                    immutable content (layers, configs, manifests)
 * tmp/&lt;id&gt;                                         fills in progress; deleted at start-up
 * projects/&lt;project&gt;/links/sha256/&lt;hex&gt;          this project's upstream served or confirmed this digest;
 *                                                  the file holds the media type for manifests, empty for blobs
 * projects/&lt;project&gt;/repos/&lt;name&gt;/tags/&lt;tag&gt;   digest, media type, fetched-at
 * </pre>
 * Every write goes to a temp file and is renamed into place; nothing is overwritten in place, so a crash at any
 * moment leaves either the old state or the new one, never a half-written file under a final name.
 *
 * <p>Project names, repository names and tags are validated by the caller's value types, and validated again here
 * ({@link #checkSegment}) before they touch the filesystem: no segment may be empty, {@code .}, {@code ..}, or hold
 * anything outside {@code [A-Za-z0-9._-]} (repository names may hold {@code /} between such segments).
 *
 * <p>Thread-safety: all methods may be called from any thread. Concurrent writers of the same final name race
 * benignly: both renames carry identical content (blobs, links) or the last one wins (tags).
 */
public final class ContentStore {
    public ContentStore(Path root) throws IOException {
        throw new UnsupportedOperationException("TODO");
    }

    /** Root directory. */
    public Path root() {
        throw new UnsupportedOperationException("TODO");
    }

    /** Deletes everything under tmp/ (fills that a crash or restart interrupted). Called once at start-up. */
    public void cleanTemp() throws IOException {
        throw new UnsupportedOperationException("TODO");
    }

    /** Final path of a blob (may not exist). */
    public Path blobPath(Digest digest) {
        throw new UnsupportedOperationException("TODO");
    }

    /** Size of a committed blob, or empty if it is not stored. */
    public Optional<Long> blobSize(Digest digest) {
        throw new UnsupportedOperationException("TODO");
    }

    /** Creates a new empty temp file under tmp/ for a fill or a small write. */
    public Path newTempFile() throws IOException {
        throw new UnsupportedOperationException("TODO");
    }

    /**
     * Atomically renames a fully written and verified temp file to the blob's final path.
     * The caller has already compared the digest and fsynced the file.
     */
    public void commit(Path temp, Digest digest) throws IOException {
        throw new UnsupportedOperationException("TODO");
    }

    /**
     * Stores small content (a manifest) whose digest the caller has verified: temp file, fsync, rename.
     * Returns at once if the blob is already stored.
     */
    public void putSmall(Digest digest, byte[] content) throws IOException {
        throw new UnsupportedOperationException("TODO");
    }

    /** Reads small content (a manifest) fully; empty if not stored. Callers use this only for manifests. */
    public Optional<byte[]> readSmall(Digest digest, int maxBytes) throws IOException {
        throw new UnsupportedOperationException("TODO");
    }

    /** Records that {@code project}'s upstream served or confirmed {@code digest}; mediaType may be null (blobs). */
    public void link(String project, Digest digest, String mediaType) throws IOException {
        throw new UnsupportedOperationException("TODO");
    }

    /** The link of {@code digest} in {@code project}, if its upstream served or confirmed it. */
    public Optional<Link> link(String project, Digest digest) {
        throw new UnsupportedOperationException("TODO");
    }

    /** The cached tag entry, if any. */
    public Optional<TagEntry> tag(String project, String repository, String tag) {
        throw new UnsupportedOperationException("TODO");
    }

    /** Writes (replaces) a tag entry. */
    public void putTag(String project, String repository, String tag, TagEntry entry) throws IOException {
        throw new UnsupportedOperationException("TODO");
    }

    /**
     * Throws {@link IllegalArgumentException} unless {@code segment} is a safe single path segment:
     * non-empty, at most 255 chars, not {@code .} or {@code ..}, only {@code [A-Za-z0-9._-]}.
     */
    public static String checkSegment(String segment) {
        throw new UnsupportedOperationException("TODO");
    }

    /** A project's link to a digest: proof that its upstream served or confirmed it. */
    public record Link(Digest digest, String mediaType) {
    }
}

package dev.wharf.storage;

import java.io.IOException;
import java.nio.file.Path;
import java.util.Optional;
import java.util.function.Consumer;

/**
 * Where blob and manifest bytes live, by digest: the raw content, with no index, leases or listeners (the
 * {@link ContentStore} facade keeps those). The local filesystem ({@link FileBlobStore}) is the first
 * implementation and stays the hot tier the server serves files from; an object store behind it would implement
 * this too. Implementations are thread-safe; the facade serialises the writers of one digest.
 */
public interface BlobStore {
    /** Told about each stored blob by {@link #scan}. */
    @FunctionalInterface
    interface Found {
        void blob(Digest digest, long size, long lastUsedMillis);
    }

    /** True if {@code digest} is stored now (one stat or request: not for the serving path). */
    boolean exists(Digest digest);

    /** Stores a fully written, fsynced and verified local file as {@code digest}; the file is moved, not copied. */
    void commit(Path verified, Digest digest) throws IOException;

    /** Reads small content (a manifest) whole; empty if not stored; fails unread if larger than {@code maxBytes}. */
    Optional<byte[]> readSmall(Digest digest, int maxBytes) throws IOException;

    /** Removes the blob; false if it was not stored. */
    boolean delete(Digest digest) throws IOException;

    /** Records when the blob was last used (it survives restarts); false if the blob is gone. */
    boolean setLastUsed(Digest digest, long epochMillis) throws IOException;

    /** Calls {@code action} with every stored blob. A blob stored or removed during the walk may or may not be seen. */
    void forEach(Consumer<Digest> action) throws IOException;

    /** Like {@link #forEach}, with each blob's size and last use: what the index is rebuilt from. */
    void scan(Found found) throws IOException;
}

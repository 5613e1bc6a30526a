package dev.wharf.storage;

import java.io.IOException;
import java.util.Optional;
import java.util.function.Consumer;

/**
 * The links: which project's upstream served or confirmed which digest, with the media type for manifests. The local
 * filesystem ({@link FileLinkStore}) is the first implementation. Implementations are thread-safe; two writers of
 * one link race benignly (identical content, or the media type wins over none).
 */
public interface LinkStore {
    /** The link of {@code digest} in {@code project}; an unreadable one reads as empty. */
    Optional<ContentStore.Link> read(String project, Digest digest);

    /** See {@link ContentStore#link(String, Digest, String)}. */
    void write(String project, Digest digest, String mediaType) throws IOException;

    /** Calls {@code action} with every digest {@code project} links. */
    void forEach(String project, Consumer<Digest> action) throws IOException;

    /** Removes every project's link to {@code digest} (its blob is being evicted); failures are logged, not thrown. */
    void deleteAll(Digest digest);
}

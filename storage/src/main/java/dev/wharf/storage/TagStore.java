package dev.wharf.storage;

import java.io.IOException;
import java.util.List;
import java.util.Optional;
import java.util.function.BiConsumer;

/**
 * The cached tags, one entry (digest, media type, fetched-at) per {@link TagRef}, with no in-memory index (the
 * {@link ContentStore} facade keeps that and serialises the writers of one tag). The local filesystem
 * ({@link FileTagStore}) is the first implementation. Implementations are thread-safe.
 */
public interface TagStore {
    /** The entry of {@code ref}; a missing, unreadable or corrupt one reads as empty. */
    Optional<TagEntry> read(TagRef ref);

    /** Writes (replaces) the entry of {@code ref}, atomically. */
    void write(TagRef ref, TagEntry entry) throws IOException;

    /** Deletes the entry of {@code ref}; false if there was none. */
    boolean delete(TagRef ref) throws IOException;

    /** The tags of {@code repository} in {@code project}, sorted; empty if none. */
    List<String> tags(String project, String repository) throws IOException;

    /** The repositories of {@code project} that hold at least one tag, sorted. */
    List<String> repositories(String project) throws IOException;

    /** Calls {@code action} with every readable entry of every project: what the tag index is rebuilt from. */
    void forEach(BiConsumer<TagRef, TagEntry> action) throws IOException;
}

package dev.wharf.storage.s3;

import static java.nio.charset.StandardCharsets.UTF_8;

import dev.wharf.storage.ContentStore;
import dev.wharf.storage.TagEntry;
import dev.wharf.storage.TagRef;
import dev.wharf.storage.TagStore;
import java.io.IOException;
import java.io.UncheckedIOException;
import java.util.ArrayList;
import java.util.List;
import java.util.Optional;
import java.util.TreeSet;
import java.util.function.BiConsumer;

/**
 * Tags as small objects, {@code <prefix>projects/<project>/repos/<name>/_tags/<tag>}, in the tag files' format
 * ({@link TagEntry#encode}); a PUT replaces one whole. A read that fails (the bucket down) throws; a corrupt object
 * reads as absent.
 */
final class BucketTagStore implements TagStore {
    private static final int MAX = 16 * 1024;
    private final S3Bucket bucket;
    private final ObjectKeys keys;

    BucketTagStore(S3Bucket bucket, ObjectKeys keys) {
        this.bucket = bucket;
        this.keys = keys;
    }

    @Override
    public Optional<TagEntry> read(TagRef ref) {
        try {
            return bucket.readSmall(keys.tag(ref), MAX).flatMap(bytes -> TagEntry.decode(new String(bytes, UTF_8)));
        } catch (IOException e) {
            throw new UncheckedIOException(e);
        }
    }

    @Override
    public void write(TagRef ref, TagEntry entry) throws IOException {
        bucket.put(keys.tag(ref), entry.encode().getBytes(UTF_8));
    }

    @Override
    public boolean delete(TagRef ref) throws IOException {
        return bucket.delete(keys.tag(ref));
    }

    @Override
    public List<String> tags(String project, String repository) throws IOException {
        String prefix = keys.tags(project, repository);
        TreeSet<String> names = new TreeSet<>();
        bucket.list(prefix, o -> {
            String name = o.key().substring(prefix.length());
            if (isSegment(name)) {
                names.add(name);
            }
        });
        return new ArrayList<>(names);
    }

    @Override
    public List<String> repositories(String project) throws IOException {
        String prefix = keys.repos(project);
        TreeSet<String> names = new TreeSet<>();
        bucket.list(prefix, o -> {
            String rest = o.key().substring(prefix.length());
            int at = rest.lastIndexOf("/" + ObjectKeys.TAGS + "/");
            if (at > 0) {
                names.add(rest.substring(0, at));
            }
        });
        return new ArrayList<>(names);
    }

    @Override
    public void forEach(BiConsumer<TagRef, TagEntry> action) throws IOException {
        for (String project : bucket.children(keys.projects())) {
            if (!isSegment(project)) {
                continue;
            }
            for (String repository : repositories(project)) {
                for (String tag : tags(project, repository)) {
                    TagRef ref = new TagRef(project, repository, tag);
                    read(ref).ifPresent(entry -> action.accept(ref, entry));
                }
            }
        }
    }

    private static boolean isSegment(String name) {
        try {
            ContentStore.checkSegment(name);
            return true;
        } catch (IllegalArgumentException e) {
            return false;
        }
    }
}

package dev.wharf.storage.s3;

import static java.nio.charset.StandardCharsets.UTF_8;

import dev.wharf.storage.ContentStore;
import dev.wharf.storage.Digest;
import dev.wharf.storage.LinkStore;
import java.io.IOException;
import java.io.UncheckedIOException;
import java.util.Optional;
import java.util.function.Consumer;

/**
 * Links as small objects, {@code <prefix>projects/<project>/links/<alg>/<hex>}, holding the media type (manifests)
 * or nothing (blobs), as the link files do. A read that fails (the bucket down) throws, so the tiered store can tell
 * "absent" from "unknown"; an object that is not a plausible media type reads as absent.
 */
final class BucketLinkStore implements LinkStore {
    private static final int MAX = 16 * 1024;
    private final S3Bucket bucket;
    private final ObjectKeys keys;

    BucketLinkStore(S3Bucket bucket, ObjectKeys keys) {
        this.bucket = bucket;
        this.keys = keys;
    }

    @Override
    public Optional<ContentStore.Link> read(String project, Digest digest) {
        try {
            return bucket.readSmall(keys.link(project, digest), MAX).flatMap(bytes -> {
                String mediaType = new String(bytes, UTF_8);
                if (!mediaType.chars().allMatch(c -> c >= 0x20 && c <= 0x7e)) {
                    return Optional.empty();
                }
                return Optional.of(new ContentStore.Link(digest, mediaType.isEmpty() ? null : mediaType));
            });
        } catch (IOException e) {
            throw new UncheckedIOException(e);
        }
    }

    @Override
    public void write(String project, Digest digest, String mediaType) throws IOException {
        if (mediaType == null) {
            Optional<ContentStore.Link> existing = read(project, digest);
            if (existing.isPresent()) {
                return; // a null media type never erases one already recorded
            }
        }
        bucket.put(keys.link(project, digest), mediaType == null ? new byte[0] : mediaType.getBytes(UTF_8));
    }

    @Override
    public void forEach(String project, Consumer<Digest> action) throws IOException {
        String prefix = keys.links(project);
        bucket.list(prefix, o -> {
            String[] parts = o.key().substring(prefix.length()).split("/", -1);
            if (parts.length == 2) {
                try {
                    action.accept(new Digest(parts[0], parts[1]));
                } catch (IllegalArgumentException e) {
                    // not ours
                }
            }
        });
    }

    @Override
    public void deleteAll(Digest digest) {
        try {
            for (String project : bucket.children(keys.projects())) {
                try {
                    bucket.delete(keys.link(project, digest));
                } catch (IllegalArgumentException e) {
                    // a name that is not a safe segment: not ours
                }
            }
        } catch (IOException e) {
            throw new UncheckedIOException(e);
        }
    }
}

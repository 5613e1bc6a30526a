package dev.wharf.storage.s3;

import dev.wharf.storage.ContentStore;
import dev.wharf.storage.Digest;
import dev.wharf.storage.TagRef;

/**
 * The bucket's key layout, the disk's under {@code prefix}: {@code blobs/<alg>/<2 hex>/<hex>},
 * {@code projects/<project>/links/<alg>/<hex>} and {@code projects/<project>/repos/<name>/_tags/<tag>}. Every
 * segment is checked as the disk's are (ContentStore.checkSegment, checkRepository; Digest validates itself), so a
 * key never holds {@code ..}, a control character or an unexpected '/'. Pure: no I/O.
 */
final class ObjectKeys {
    static final String TAGS = "_tags";

    private final String prefix;

    ObjectKeys(String prefix) {
        this.prefix = S3Settings.checkPrefix(prefix);
    }

    String prefix() {
        return prefix;
    }

    String blobs() {
        return prefix + "blobs/";
    }

    String blob(Digest digest) {
        return blobs() + digest.algorithm() + "/" + digest.hex().substring(0, 2) + "/" + digest.hex();
    }

    String projects() {
        return prefix + "projects/";
    }

    String links(String project) {
        return projects() + ContentStore.checkSegment(project) + "/links/";
    }

    String link(String project, Digest digest) {
        return links(project) + digest.algorithm() + "/" + digest.hex();
    }

    String repos(String project) {
        return projects() + ContentStore.checkSegment(project) + "/repos/";
    }

    String tags(String project, String repository) {
        return repos(project) + ContentStore.checkRepository(repository) + "/" + TAGS + "/";
    }

    String tag(TagRef ref) {
        return tags(ref.project(), ref.repository()) + ContentStore.checkSegment(ref.tag());
    }

    /** The digest a blob key names, or null if it is not one of ours. */
    Digest blobDigest(String key) {
        if (!key.startsWith(blobs())) {
            return null;
        }
        String[] parts = key.substring(blobs().length()).split("/", -1);
        if (parts.length != 3 || !parts[2].startsWith(parts[1])) {
            return null;
        }
        try {
            return new Digest(parts[0], parts[2]);
        } catch (IllegalArgumentException e) {
            return null;
        }
    }
}

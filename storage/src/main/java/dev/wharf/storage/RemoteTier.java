package dev.wharf.storage;

import java.util.Objects;

/**
 * A shared store behind the local one (an S3 bucket: dev.wharf.storage.s3): the same three rooms, blobs, links and
 * tags, under the same layout. With one, the local store is a bounded hot tier in front of it: links, tags and small
 * content (manifests) are written to both and read from the remote when missing locally; eviction removes only local
 * copies. Large blobs reach the remote through the fills (see {@code fill.BlobUploads}), not through this record.
 */
public record RemoteTier(BlobStore blobs, LinkStore links, TagStore tags) {
    public RemoteTier {
        Objects.requireNonNull(blobs, "blobs");
        Objects.requireNonNull(links, "links");
        Objects.requireNonNull(tags, "tags");
    }
}

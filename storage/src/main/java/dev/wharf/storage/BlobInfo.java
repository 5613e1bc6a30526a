package dev.wharf.storage;

import java.time.Instant;

/**
 * A committed blob as the store's index sees it.
 *
 * @param digest     the blob
 * @param size       bytes
 * @param lastAccess last commit or serve
 * @param pinned     true while a lease holds it (it cannot be evicted or deleted now)
 */
public record BlobInfo(Digest digest, long size, Instant lastAccess, boolean pinned) {
}

package dev.wharf.server.pullthrough;

import dev.wharf.storage.Digest;
import dev.wharf.storage.TagEntry;
import java.time.Duration;
import java.time.Instant;
import java.util.Optional;
import java.util.concurrent.CompletableFuture;

/**
 * Tag revalidations shared by the replicas of a cluster: what one replica's upstream said about a tag (digest, media
 * type, when) is used by the others within the tag's TTL, so the cluster sends one upstream HEAD per tag per TTL.
 * Keys are {@link TagCache#tagKey} (project, repository, tag): one project's answer never serves another.
 */
public interface SharedTags {
    /** A replica on its own: nothing is shared. */
    SharedTags NONE = new SharedTags() {
        @Override
        public CompletableFuture<Optional<Shared>> find(String tagKey) {
            return CompletableFuture.completedFuture(Optional.empty());
        }

        @Override
        public void publish(String tagKey, TagEntry entry, long size, boolean holdsBody, Duration ttl) {
        }

        @Override
        public CompletableFuture<byte[]> body(Shared shared) {
            return CompletableFuture.failedFuture(new IllegalStateException("no cluster"));
        }
    };

    /**
     * The answer another replica published for {@code tagKey} that is still within its TTL; empty when there is none
     * (then this replica asks its upstream and publishes). While another replica is revalidating the tag, waits a
     * little for its answer. Never fails: trouble reaching the cluster is an empty answer.
     */
    CompletableFuture<Optional<Shared>> find(String tagKey);

    /**
     * Publishes what this replica's upstream just said about a tag (the manifest's {@code size} in bytes), for
     * {@code ttl} from its {@code fetchedAt}; {@code holdsBody}: this replica has the manifest's bytes for the others
     * to fetch (false after a HEAD upstream, which brings none).
     */
    void publish(String tagKey, TagEntry entry, long size, boolean holdsBody, Duration ttl);

    /**
     * The manifest bytes of {@code shared} from the replica that published it (failed when it holds none); the caller
     * checks the digest.
     */
    CompletableFuture<byte[]> body(Shared shared);

    /**
     * One published revalidation: {@code publisher} is the internal address of the replica that holds the body, or
     * null when the publisher learnt the tag from a HEAD and holds no body (a HEAD is still answered from it).
     */
    record Shared(Digest digest, String mediaType, Instant fetchedAt, long size, String publisher) {
    }
}

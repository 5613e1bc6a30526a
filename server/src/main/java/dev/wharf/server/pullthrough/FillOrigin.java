package dev.wharf.server.pullthrough;

import dev.wharf.storage.fill.BlobFill;
import java.util.concurrent.CompletableFuture;

/**
 * Where the bytes of a fill this replica started come from: its project's upstream, or (in a cluster) the same
 * blob's fill running on another replica. {@link BlobSource} asks once per fill it starts; the answer drives the
 * fill's writer side.
 */
public interface FillOrigin {
    /** A replica on its own: always its upstream. */
    FillOrigin ALONE = (fill, project, fetch) -> fetch.upstream();

    /**
     * Feeds {@code fill} (just started for {@code project}): calls {@link Fetch#upstream} once, or streams the blob
     * from a peer into the fill, or fails the fill. Never blocks the caller.
     */
    void feed(BlobFill fill, String project, Fetch fetch);

    /** What only the blob source can do for a fill: ask its project's upstream. */
    interface Fetch {
        /** Streams the blob from the project's upstream into the fill; call at most once. */
        void upstream();

        /**
         * Asks the project's upstream (HEAD) whether it has the blob, and links it to the project if so; fails with
         * the client's error (404) if not. For a peer fill that another project started: isolation.
         */
        CompletableFuture<Void> confirm();
    }
}

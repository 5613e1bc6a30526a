package dev.wharf.storage.fill;

import dev.wharf.storage.Digest;
import java.nio.file.Path;

/** Starts a {@link BlobUpload} for each fill that should reach the shared store. */
@FunctionalInterface
public interface BlobUploads {
    /**
     * An upload of {@code digest} fed from {@code temp} (the fill's temp file, just created). Never null: when the
     * shared store is down it returns an upload whose {@link BlobUpload#complete} fails, so the fill passes through.
     */
    BlobUpload start(Digest digest, Path temp);
}

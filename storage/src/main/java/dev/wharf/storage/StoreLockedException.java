package dev.wharf.storage;

import java.io.IOException;

/** Another server holds the storage directory's {@link StoreLock}. */
public final class StoreLockedException extends IOException {
    public StoreLockedException(String message) {
        super(message);
    }
}

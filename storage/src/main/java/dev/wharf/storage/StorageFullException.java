package dev.wharf.storage;

import java.io.IOException;

/**
 * A write was refused because the store is full: its configured hard capacity ({@link ContentStore#setCapacityLimit})
 * would be exceeded. It stands for the operating system's ENOSPC, and {@link ContentStore#isOutOfSpace} treats both
 * alike, so a size-limited store exercises the same code as a full disk.
 */
public final class StorageFullException extends IOException {
    public StorageFullException(String message) {
        super(message);
    }
}

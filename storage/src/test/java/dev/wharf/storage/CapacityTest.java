package dev.wharf.storage;

import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.io.IOException;
import java.io.UncheckedIOException;
import java.nio.file.AccessDeniedException;
import java.util.concurrent.atomic.AtomicLong;
import org.junit.jupiter.api.Test;

/**
 * Telling a full disk from other write failures without reading the error's text: the JDK gives the C library's
 * {@code strerror} in the process's locale, so under {@code LANG=de_DE.UTF-8} ENOSPC reads "Auf dem Gerät ist kein
 * Speicherplatz mehr verfügbar". (This machine has no German locale installed, so a child JVM on a full tmpfs would
 * still see the English text: the failure is produced here instead.)
 */
class CapacityTest {
    private static final String GERMAN_ENOSPC = "Auf dem Gerät ist kein Speicherplatz mehr verfügbar";

    private final AtomicLong usable = new AtomicLong();
    private final Capacity capacity = new Capacity(() -> 0, new Listeners(), usable::get);

    @Test
    void aWriteThatFailsInGermanOnAFullFilesystemIsOutOfSpace() {
        usable.set(0);
        assertTrue(capacity.outOfSpace(new IOException(GERMAN_ENOSPC)));
        assertTrue(capacity.outOfSpace(new UncheckedIOException(new IOException(GERMAN_ENOSPC))));
        usable.set(Capacity.LOW_SPACE - 1);
        assertTrue(capacity.outOfSpace(new IOException(GERMAN_ENOSPC)), "less than a chunk left is full");
    }

    @Test
    void aWriteThatFailsWithRoomLeftIsNotOutOfSpace() {
        usable.set(10L << 30);
        assertFalse(capacity.outOfSpace(new IOException(GERMAN_ENOSPC)), "some other failure, in German");
        assertFalse(capacity.outOfSpace(new AccessDeniedException("/store/tmp/x")));
        usable.set(-1); // the free space cannot be told: only the error itself decides
        assertFalse(capacity.outOfSpace(new IOException(GERMAN_ENOSPC)));
        assertTrue(capacity.outOfSpace(new IOException("No space left on device")));
    }

    @Test
    void theHardCapAndNonIoFailuresAreDecidedByTheirType() {
        usable.set(0);
        assertTrue(capacity.outOfSpace(new StorageFullException("cap")));
        assertFalse(capacity.outOfSpace(new IllegalStateException("not a write")), "only an I/O error can be ENOSPC");
        assertFalse(capacity.outOfSpace(null));
    }

    @Test
    void aStoreAsksItsOwnFilesystem(@org.junit.jupiter.api.io.TempDir java.nio.file.Path dir) throws IOException {
        ContentStore store = new ContentStore(dir);
        // The temp directory has room: a German I/O error there is not a full disk.
        assertFalse(store.outOfSpace(new IOException(GERMAN_ENOSPC)));
        assertTrue(Capacity.usableSpace(dir) > 0);
    }
}

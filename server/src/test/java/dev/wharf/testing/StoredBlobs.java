package dev.wharf.testing;

import static org.junit.jupiter.api.Assertions.fail;

import dev.wharf.storage.ContentStore;
import dev.wharf.storage.Digest;
import java.nio.file.Files;
import java.nio.file.Path;
import java.time.Duration;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.Collection;
import java.util.List;

/**
 * Waits, with a deadline, for blobs a pull has just fetched to be committed. A client gets its last byte once the
 * digest matched; the fsync and rename into blobs/ follow it (BlobFill.verified), so a test that inspects the store,
 * its metrics or the admin API right after a pull first waits here. The wait is bounded and fails the test naming
 * what never appeared; it never replaces an assertion.
 */
public final class StoredBlobs {
    /** Long enough for an fsync of a few hundred MiB on a loaded machine. */
    public static final Duration DEADLINE = Duration.ofSeconds(30);

    private StoredBlobs() {
    }

    /** Waits until every digest ({@code sha256:<hex>}) is a regular file under {@code storage}'s blobs/. */
    public static void await(Path storage, Collection<String> digests) throws InterruptedException {
        List<String> missing = new ArrayList<>(digests);
        Pulls.await(DEADLINE, () -> {
            missing.removeIf(d -> Files.isRegularFile(Pulls.blobFile(storage, d)));
            return missing.isEmpty();
        });
        if (!missing.isEmpty()) {
            fail("not committed under " + storage + " within " + DEADLINE + ": " + missing);
        }
    }

    /** As {@link #await(Path, Collection)}. */
    public static void await(Path storage, String... digests) throws InterruptedException {
        await(storage, Arrays.asList(digests));
    }

    /**
     * Waits until every digest is committed in {@code store}: in its index (which the commit updates after the
     * rename), so the store's counters already include it.
     */
    public static void await(ContentStore store, Collection<String> digests) throws InterruptedException {
        List<String> missing = new ArrayList<>(digests);
        Pulls.await(DEADLINE, () -> {
            missing.removeIf(d -> store.blobSize(Digest.parse(d)).isPresent());
            return missing.isEmpty();
        });
        if (!missing.isEmpty()) {
            fail("not committed in the store within " + DEADLINE + ": " + missing);
        }
    }

    /** As {@link #await(ContentStore, Collection)}. */
    public static void await(ContentStore store, String... digests) throws InterruptedException {
        await(store, Arrays.asList(digests));
    }
}
